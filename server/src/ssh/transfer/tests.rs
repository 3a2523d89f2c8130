use super::*;

#[test]
fn temp_names_stay_within_name_max() {
    let long = "é".repeat(200);
    let t = temp_name(&long, "mcp-upload");
    assert!(t.len() <= 255, "{}", t.len());
    assert!(t.starts_with(".é"));
    assert!(t.ends_with(".mcp-upload.tmp"));
    assert!(temp_name("a.txt", "mcp-download").starts_with(".a.txt."));
}

#[test]
fn remote_paths_split_into_dir_and_name() {
    assert_eq!(split_remote("/tmp/a.txt").unwrap(), ("/tmp", "a.txt"));
    assert_eq!(split_remote("/a.txt").unwrap(), ("/", "a.txt"));
    assert_eq!(split_remote("a.txt").unwrap(), (".", "a.txt"));
    assert!(split_remote("/tmp/").is_err());
    assert!(split_remote("/tmp/..").is_err());
}
