//! The test-host image's tag: a content hash of `test-hosts/image/`.
//!
//! `ci/build-test-image.sh` tags the image `IMAGE_REPOSITORY:HASH` where HASH is the
//! first 16 hex digits of
//! `cd test-hosts/image && find . -type f | LC_ALL=C sort | xargs sha256sum | sha256sum`.
//! This module computes the same value, so the tests use exactly the image built from
//! the current inputs, and fail (naming the build command) when it is missing.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub const IMAGE_REPOSITORY: &str = "mcp-remote-exec-test-host";

/// The tag of the image built from the current `test-hosts/image/`.
pub fn image_tag() -> std::io::Result<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("image");
    let mut files = Vec::new();
    collect(&dir, &dir, &mut files)?;
    files.sort();
    // What `xargs sha256sum` prints: "<hex>  ./<path>\n" per file.
    let mut listing = String::new();
    for rel in &files {
        let data = std::fs::read(dir.join(rel))?;
        listing.push_str(&format!("{}  ./{rel}\n", hex(&Sha256::digest(&data))));
    }
    Ok(hex(&Sha256::digest(listing.as_bytes()))[..16].to_string())
}

/// Relative paths (with `/`) of the regular files under `dir`, recursively.
fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path: PathBuf = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            collect(root, &path, out)?;
        } else if kind.is_file() {
            let rel = path.strip_prefix(root).expect("under the root");
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
