//! Bad input, one row per case: every bad argument of every tool is refused before any
//! I/O with a tool error naming the parameter; boundary values just inside the limits
//! pass validation. And every path and command carrying shell syntax is passed
//! literally (or refused), never interpreted by a shell it was not meant for: marker
//! files that an interpretation would create are never found.
//!
//! "Before any I/O": the refusals run against a fake host that refuses every login, so
//! a call that got past validation would end in an authentication error, not in the
//! validation error that names the parameter.

use fake_pve::host::Faults;
use rstest::rstest;
use serde_json::{Value, json};
use testkit::component::{Env, FIXTURE, start_proxmox};
use testkit::{assert_ok, is_error, structured, text};

async fn env() -> Env {
    start_proxmox(FIXTURE, &[]).await
}

/// A server whose host refuses every login: only validation can answer.
async fn unreachable_env() -> Env {
    let env = env().await;
    env.host().set_faults(Faults {
        refuse_auth: true,
        ..Faults::default()
    });
    env
}

/// The `error` of a result, which every tool's structured content carries on failure.
fn error_of(r: &rmcp::model::CallToolResult) -> String {
    structured(r)["error"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Arguments for `tool` that are valid except for what `change` replaces or adds; a
/// `"-"` in `change` removes that key.
fn args(tool: &str, change: Value) -> Value {
    let mut base = match tool {
        "ssh_exec_command" => json!({"command": "true", "timeout": 30, "response_format": "text"}),
        "ssh_upload_file" => {
            json!({"local_path": "/nonexistent/in", "remote_path": "/tmp/out", "permissions": "644", "overwrite": false})
        }
        "ssh_download_file" => {
            json!({"remote_path": "/etc/hostname", "local_path": "/nonexistent/out", "overwrite": false})
        }
        "proxmox_container_exec_command" => {
            json!({"ctid": 100, "command": "true", "timeout": 30, "response_format": "text"})
        }
        "proxmox_list_containers" => json!({"response_format": "text"}),
        "proxmox_container_status" => json!({"ctid": 100, "response_format": "text"}),
        "proxmox_start_container" | "proxmox_stop_container" => json!({"ctid": 100}),
        "proxmox_download_file_from_container" => {
            json!({"ctid": 100, "container_path": "/etc/hostname", "local_path": "/nonexistent/out", "overwrite": false})
        }
        "proxmox_upload_file_to_container" => {
            json!({"ctid": 100, "local_path": "/nonexistent/in", "container_path": "/tmp/out", "permissions": "644", "overwrite": false})
        }
        other => panic!("no such tool: {other}"),
    };
    let obj = base.as_object_mut().unwrap();
    for (k, v) in change.as_object().unwrap() {
        if v == "-" {
            obj.remove(k);
        } else {
            obj.insert(k.clone(), v.clone());
        }
    }
    base
}

/// The only key of `change`.
fn single_key(change: &Value) -> &str {
    let obj = change.as_object().unwrap();
    assert_eq!(obj.len(), 1, "a case changes one parameter: {change}");
    obj.keys().next().unwrap()
}

/// A bad value of a parameter (the only key of the change) is refused with an error
/// naming that parameter.
#[rstest]
// ctid: below, above, negative, not digits, not an integer, other types, missing.
#[case::ctid_99("proxmox_container_status", json!({"ctid": 99}))]
#[case::ctid_1000000000("proxmox_container_status", json!({"ctid": 1_000_000_000}))]
#[case::ctid_negative("proxmox_container_status", json!({"ctid": -1}))]
#[case::ctid_abc("proxmox_container_status", json!({"ctid": "abc"}))]
#[case::ctid_fraction("proxmox_container_status", json!({"ctid": 1.5}))]
#[case::ctid_float_form("proxmox_container_status", json!({"ctid": 100.0}))]
#[case::ctid_leading_zero("proxmox_container_status", json!({"ctid": "0100"}))]
#[case::ctid_string_99("proxmox_container_status", json!({"ctid": "99"}))]
#[case::ctid_spaces("proxmox_container_status", json!({"ctid": " 100"}))]
#[case::ctid_shell("proxmox_container_status", json!({"ctid": "100; touch /MARK"}))]
#[case::ctid_empty("proxmox_container_status", json!({"ctid": ""}))]
#[case::ctid_null("proxmox_container_status", json!({"ctid": null}))]
#[case::ctid_bool("proxmox_container_status", json!({"ctid": true}))]
#[case::ctid_array("proxmox_container_status", json!({"ctid": [100]}))]
#[case::ctid_missing("proxmox_container_status", json!({"ctid": "-"}))]
#[case::ctid_exec("proxmox_container_exec_command", json!({"ctid": 99}))]
#[case::ctid_start("proxmox_start_container", json!({"ctid": "abc"}))]
#[case::ctid_stop("proxmox_stop_container", json!({"ctid": -1}))]
#[case::ctid_download("proxmox_download_file_from_container", json!({"ctid": 1.5}))]
#[case::ctid_upload("proxmox_upload_file_to_container", json!({"ctid": 1_000_000_000}))]
// timeout: whole seconds from 1 (above 300 clamped: see `accepted_by_validation`).
#[case::timeout_0("ssh_exec_command", json!({"timeout": 0}))]
#[case::timeout_negative("ssh_exec_command", json!({"timeout": -1}))]
#[case::timeout_fraction("ssh_exec_command", json!({"timeout": 1.5}))]
#[case::timeout_fraction_string("ssh_exec_command", json!({"timeout": "1.5"}))]
#[case::timeout_word("ssh_exec_command", json!({"timeout": "soon"}))]
#[case::timeout_null("ssh_exec_command", json!({"timeout": null}))]
#[case::timeout_bool("ssh_exec_command", json!({"timeout": true}))]
#[case::ct_timeout_0("proxmox_container_exec_command", json!({"timeout": 0}))]
#[case::ct_timeout_string_0("proxmox_container_exec_command", json!({"timeout": "0"}))]
// command: empty, blank, too long, NUL, a leading '-', wrong type, missing.
#[case::command_empty("ssh_exec_command", json!({"command": ""}))]
#[case::command_blank("ssh_exec_command", json!({"command": " \t\n "}))]
#[case::command_10001("ssh_exec_command", json!({"command": "x".repeat(10_001)}))]
#[case::command_100000("ssh_exec_command", json!({"command": "x".repeat(100_000)}))]
#[case::command_nul("ssh_exec_command", json!({"command": "echo a\u{0}b"}))]
#[case::command_dash("ssh_exec_command", json!({"command": "-c touch /MARK"}))]
#[case::command_number("ssh_exec_command", json!({"command": 5}))]
#[case::command_array("ssh_exec_command", json!({"command": ["ls", "-l"]}))]
#[case::command_missing("ssh_exec_command", json!({"command": "-"}))]
#[case::ct_command_empty("proxmox_container_exec_command", json!({"command": ""}))]
#[case::ct_command_blank("proxmox_container_exec_command", json!({"command": "\n"}))]
#[case::ct_command_100000("proxmox_container_exec_command", json!({"command": "é".repeat(100_000)}))]
#[case::ct_command_nul("proxmox_container_exec_command", json!({"command": "\u{0}"}))]
#[case::ct_command_dash("proxmox_container_exec_command", json!({"command": "-x"}))]
// permissions: 3 or 4 octal digits, as a string or a number.
#[case::perm_8("ssh_upload_file", json!({"permissions": "8"}))]
#[case::perm_888("ssh_upload_file", json!({"permissions": "888"}))]
#[case::perm_rwx("ssh_upload_file", json!({"permissions": "rwx"}))]
#[case::perm_77777("ssh_upload_file", json!({"permissions": "77777"}))]
#[case::perm_64("ssh_upload_file", json!({"permissions": "64"}))]
#[case::perm_empty("ssh_upload_file", json!({"permissions": ""}))]
#[case::perm_signed("ssh_upload_file", json!({"permissions": "-644"}))]
#[case::perm_hex("ssh_upload_file", json!({"permissions": "0x1ff"}))]
#[case::perm_symbolic("ssh_upload_file", json!({"permissions": "u+x"}))]
#[case::perm_number_888("ssh_upload_file", json!({"permissions": 888}))]
#[case::perm_number_negative("ssh_upload_file", json!({"permissions": -644}))]
#[case::perm_bool("ssh_upload_file", json!({"permissions": true}))]
#[case::ct_perm_8("proxmox_upload_file_to_container", json!({"permissions": "8"}))]
#[case::ct_perm_888("proxmox_upload_file_to_container", json!({"permissions": 888}))]
#[case::ct_perm_rwx("proxmox_upload_file_to_container", json!({"permissions": "rwx"}))]
// paths: empty, blank, NUL, too long, wrong type; container paths absolute, no `..`.
#[case::remote_empty("ssh_upload_file", json!({"remote_path": ""}))]
#[case::remote_blank("ssh_download_file", json!({"remote_path": "  "}))]
#[case::remote_nul("ssh_upload_file", json!({"remote_path": "/tmp/a\u{0}b"}))]
#[case::remote_long("ssh_download_file", json!({"remote_path": "a".repeat(4097)}))]
#[case::remote_number("ssh_download_file", json!({"remote_path": 5}))]
#[case::local_empty("ssh_upload_file", json!({"local_path": ""}))]
#[case::local_nul("ssh_download_file", json!({"local_path": "/tmp/a\u{0}b"}))]
#[case::local_array("ssh_download_file", json!({"local_path": ["/tmp/a"]}))]
#[case::ct_path_relative("proxmox_download_file_from_container", json!({"container_path": "etc/hostname"}))]
#[case::ct_path_dash("proxmox_upload_file_to_container", json!({"container_path": "-rf"}))]
#[case::ct_path_dotdot("proxmox_upload_file_to_container", json!({"container_path": "/tmp/../etc/shadow"}))]
#[case::ct_path_dir("proxmox_download_file_from_container", json!({"container_path": "/etc/"}))]
#[case::ct_path_nul("proxmox_download_file_from_container", json!({"container_path": "/etc/a\u{0}b"}))]
#[case::ct_path_null("proxmox_upload_file_to_container", json!({"container_path": null}))]
#[case::ct_local_empty("proxmox_upload_file_to_container", json!({"local_path": ""}))]
#[case::ct_local_nul("proxmox_download_file_from_container", json!({"local_path": "a\u{0}"}))]
// overwrite: a boolean.
#[case::overwrite_string("ssh_upload_file", json!({"overwrite": "yes"}))]
#[case::overwrite_number("proxmox_upload_file_to_container", json!({"overwrite": 1}))]
// response_format: "text" or "json".
#[case::format_xml("ssh_exec_command", json!({"response_format": "xml"}))]
#[case::format_upper("ssh_exec_command", json!({"response_format": "JSON"}))]
#[case::format_number("ssh_exec_command", json!({"response_format": 1}))]
#[case::ct_format_xml("proxmox_container_exec_command", json!({"response_format": "yaml"}))]
#[case::list_format("proxmox_list_containers", json!({"response_format": "xml"}))]
#[case::status_format("proxmox_container_status", json!({"response_format": "table"}))]
// Unknown parameters, one per tool.
#[case::unknown_exec("ssh_exec_command", json!({"timout": 5}))]
#[case::unknown_upload("ssh_upload_file", json!({"mode": "644"}))]
#[case::unknown_download("ssh_download_file", json!({"recursive": true}))]
#[case::unknown_ct_exec("proxmox_container_exec_command", json!({"vmid": 100}))]
#[case::unknown_list("proxmox_list_containers", json!({"all": true}))]
#[case::unknown_status("proxmox_container_status", json!({"name": "web"}))]
#[case::unknown_start("proxmox_start_container", json!({"force": true}))]
#[case::unknown_stop("proxmox_stop_container", json!({"timeout": 5}))]
#[case::unknown_ct_download("proxmox_download_file_from_container", json!({"remote_path": "/x"}))]
#[case::unknown_ct_upload("proxmox_upload_file_to_container", json!({"user": "root"}))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_before_any_io(#[case] tool: &str, #[case] change: Value) {
    // The one parameter the case changes is the one the error must name.
    let param = single_key(&change);
    let env = unreachable_env().await;
    let r = env.call(tool, args(tool, change.clone())).await;
    assert!(is_error(&r), "{tool} {change}: {}", text(&r));
    let error = error_of(&r);
    assert!(
        error.starts_with(&format!("invalid `{param}`")),
        "{tool} {change}: the error names another parameter or is not a validation error: {error}"
    );
    let s = structured(&r);
    assert!(
        s["suggestion"].as_str().is_some_and(|x| !x.is_empty()),
        "{tool} {change}: no suggestion: {s}"
    );
    assert!(env.host().running().is_empty());
}

/// Values just inside the limits pass validation (the call then fails only because
/// the host refuses the login).
#[rstest]
#[case::ctid_100("proxmox_container_status", json!({"ctid": 100}))]
#[case::ctid_100_string("proxmox_container_status", json!({"ctid": "100"}))]
#[case::ctid_999999999("proxmox_container_status", json!({"ctid": 999_999_999}))]
#[case::ctid_999999999_string("proxmox_start_container", json!({"ctid": "999999999"}))]
#[case::timeout_1("ssh_exec_command", json!({"timeout": 1}))]
#[case::timeout_300("ssh_exec_command", json!({"timeout": 300}))]
#[case::ct_timeout_300("proxmox_container_exec_command", json!({"timeout": 300}))]
#[case::timeout_float("ssh_exec_command", json!({"timeout": 30.0}))]
#[case::timeout_string("ssh_exec_command", json!({"timeout": "30"}))]
#[case::timeout_301_clamped("ssh_exec_command", json!({"timeout": 301}))]
#[case::timeout_huge_clamped("ssh_exec_command", json!({"timeout": u64::MAX}))]
#[case::ct_timeout_301_clamped("proxmox_container_exec_command", json!({"timeout": 301}))]
#[case::ct_timeout_string("proxmox_container_exec_command", json!({"timeout": "60"}))]
#[case::command_10000("ssh_exec_command", json!({"command": "x".repeat(10_000)}))]
#[case::command_10000_chars("proxmox_container_exec_command", json!({"command": "é".repeat(10_000)}))]
#[case::command_space_dash("ssh_exec_command", json!({"command": " -x"}))]
#[case::perm_644("ssh_upload_file", json!({"permissions": "644"}))]
#[case::perm_0600("ssh_upload_file", json!({"permissions": "0600"}))]
#[case::perm_4755_number("ssh_upload_file", json!({"permissions": 4755}))]
#[case::perm_7777("ssh_upload_file", json!({"permissions": "7777"}))]
#[case::perm_000("proxmox_upload_file_to_container", json!({"permissions": "000"}))]
#[case::perm_absent("proxmox_upload_file_to_container", json!({"permissions": "-"}))]
#[case::format_json("ssh_exec_command", json!({"response_format": "json"}))]
#[case::defaults_only("ssh_exec_command", json!({"timeout": "-", "response_format": "-"}))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_by_validation(#[case] tool: &str, #[case] change: Value) {
    let env = unreachable_env().await;
    let mut a = args(tool, change.clone());
    if a["local_path"] == "/nonexistent/in" {
        let local = env.local_file("in", b"data");
        a["local_path"] = json!(local);
    }
    let r = env.call(tool, a).await;
    let error = error_of(&r);
    assert!(
        error.contains("authentication"),
        "{tool} {change}: refused before the login was tried: {error}"
    );
}

/// Every tool's whole argument object can be missing or empty without a protocol
/// error: the tool answers, naming what is missing (or, for the list, runs).
#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_arguments_are_tool_errors(
    #[values(
        "ssh_exec_command",
        "ssh_upload_file",
        "ssh_download_file",
        "proxmox_container_exec_command",
        "proxmox_container_status",
        "proxmox_start_container",
        "proxmox_stop_container",
        "proxmox_download_file_from_container",
        "proxmox_upload_file_to_container"
    )]
    tool: &str,
) {
    let env = unreachable_env().await;
    let r = env.call(tool, json!({})).await;
    assert!(is_error(&r), "{tool}");
    assert!(
        error_of(&r).starts_with("invalid `"),
        "{tool}: {}",
        error_of(&r)
    );
}

/// Names and commands full of shell syntax. If any were interpreted by a shell it was
/// not meant for, a file named `MARK` would appear (in the current directory of that
/// shell: the home on the host, `/` or the home in a container, ours locally).
const PAYLOADS: [&str; 13] = [
    "q'uote\"d",
    "sub$(touch MARK)",
    "tick`touch MARK`",
    "semi; touch MARK",
    "and && touch MARK",
    "pipe | touch MARK",
    "new\ntouch MARK",
    "redir > MARK",
    "-n",
    "--help",
    "uni é 😀 日本",
    "glob*?[a]{b,c}~",
    "var $HOME ${IFS}",
];

/// Payload `which`, and a fresh server to send it to.
async fn payload_env(which: usize) -> (&'static str, Env) {
    (PAYLOADS[which], env().await)
}

fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

/// Every file named `MARK`: on the host, in the containers, in our directories.
fn markers(env: &Env, ctids: &[u32]) -> Vec<String> {
    let mut found: Vec<String> = env
        .host()
        .host_files()
        .into_iter()
        .filter(|p| basename(p) == "MARK")
        .map(|p| format!("host:{p}"))
        .collect();
    for &ct in ctids {
        found.extend(
            env.host()
                .container_files(ct)
                .into_iter()
                .filter(|p| basename(p) == "MARK")
                .map(|p| format!("CT {ct}:{p}")),
        );
    }
    for local in [
        env.dir.path().join("MARK"),
        std::path::PathBuf::from("MARK"),
    ] {
        if local.exists() {
            found.push(format!("local:{}", local.display()));
        }
    }
    found
}

fn assert_no_marker(env: &Env, ctids: &[u32], what: &str) {
    let found = markers(env, ctids);
    assert!(
        found.is_empty(),
        "{what:?}: a shell ran the payload: {found:?}"
    );
}

fn quoted(s: &str) -> String {
    mcp_remote_exec::quote::quote(s, "a test word").unwrap()
}

/// Every path parameter of the four file tools carries the payload as a file name:
/// each file lands under exactly that name, with its content, and nothing runs.
#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_are_passed_literally(
    #[values(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)] which: usize,
) {
    let (payload, env) = payload_env(which).await;
    let content = format!("content of {payload:?}\n").into_bytes();
    let local = env.dir.path().join(format!("in-{payload}"));
    std::fs::write(&local, &content).unwrap();

    // ssh_upload_file to a relative remote path (the home): a leading '-' stays a name.
    let r = env
        .upload(&local, payload, json!({"permissions": "640"}))
        .await;
    assert!(!is_error(&r), "upload {payload:?}: {}", text(&r));
    let landed: Vec<String> = env
        .host()
        .host_files()
        .into_iter()
        .filter(|p| basename(p) == payload)
        .collect();
    assert_eq!(landed.len(), 1, "upload {payload:?}: {landed:?}");
    assert_eq!(env.host().host_file(&landed[0]).unwrap(), content);

    // ssh_download_file of that name, to a local name carrying the payload too.
    let back = env.dir.path().join(format!("out-{payload}"));
    let r = env.download(payload, &back, json!({})).await;
    assert!(!is_error(&r), "download {payload:?}: {}", text(&r));
    assert_eq!(std::fs::read(&back).unwrap(), content);

    // The container tools, in a container with bash and in one with only sh.
    for ct in [100u32, 103] {
        let container_path = format!("/tmp/{payload}");
        let up = json!({"ctid": ct, "local_path": local, "container_path": container_path});
        let r = env.call("proxmox_upload_file_to_container", up).await;
        assert!(!is_error(&r), "CT {ct} upload {payload:?}: {}", text(&r));
        assert_eq!(
            env.host().container_file(ct, &container_path).unwrap(),
            content,
            "CT {ct} {payload:?}"
        );
        let back = env.dir.path().join(format!("ct{ct}-{payload}"));
        let down = json!({"ctid": ct, "container_path": container_path, "local_path": back});
        let r = env.call("proxmox_download_file_from_container", down).await;
        assert!(!is_error(&r), "CT {ct} download {payload:?}: {}", text(&r));
        assert_eq!(std::fs::read(&back).unwrap(), content);
    }
    assert_no_marker(&env, &[100, 103], payload);
}

/// A command is interpreted once, by the shell meant for it: a payload quoted for that
/// shell comes back unchanged, so no outer shell took the quotes off first.
#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_are_interpreted_once(
    #[values(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)] which: usize,
) {
    let (payload, env) = payload_env(which).await;
    let command = format!("printf '%s' {}", quoted(payload));
    let r = env
        .call("ssh_exec_command", json!({"command": command}))
        .await;
    assert!(!is_error(&r), "{command:?}: {}", text(&r));
    assert_eq!(structured(&r)["stdout"], payload, "{command:?}");
    for ct in [100u32, 103] {
        let r = env
            .call(
                "proxmox_container_exec_command",
                json!({"ctid": ct, "command": command}),
            )
            .await;
        assert!(!is_error(&r), "CT {ct} {command:?}: {}", text(&r));
        assert_eq!(structured(&r)["stdout"], payload, "CT {ct} {command:?}");
    }
    assert_no_marker(&env, &[100, 103], payload);
}

/// The command's own shell syntax does work, once: substitutions, lists, pipes,
/// newlines and quotes mean what they mean to that shell.
#[rstest]
#[case::substitution("echo $(echo inner)", "inner\n")]
#[case::backticks("echo `echo tick`", "tick\n")]
#[case::list("echo a; echo b && echo c", "a\nb\nc\n")]
#[case::pipe("printf 'x;y\\nz\\n' | grep ';'", "x;y\n")]
#[case::newline("echo one\necho two", "one\ntwo\n")]
#[case::quotes(r#"echo "it's" 'a "b"'"#, "it's a \"b\"\n")]
#[case::unicode("echo 'é 😀'", "é 😀\n")]
#[case::leading_space(" echo -n spaced", "spaced")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_is_the_shell_s_to_interpret(#[case] command: &str, #[case] stdout: &str) {
    let env = env().await;
    let r = env
        .call("ssh_exec_command", json!({"command": command}))
        .await;
    assert!(!is_error(&r), "{command:?}: {}", text(&r));
    assert_eq!(structured(&r)["stdout"], stdout, "{command:?}");
    let r = env
        .call(
            "proxmox_container_exec_command",
            json!({"ctid": 100, "command": command}),
        )
        .await;
    assert!(!is_error(&r), "CT 100 {command:?}: {}", text(&r));
    assert_eq!(structured(&r)["stdout"], stdout, "CT 100 {command:?}");
}

/// The marker check itself: a shell that does run `touch MARK` is seen, on the host
/// and in both containers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_marker_check_sees_a_marker() {
    let env = env().await;
    let r = env.exec("touch MARK").await;
    assert_ok(&r);
    assert_eq!(
        markers(&env, &[]).len(),
        1,
        "a marker on the host was not seen"
    );
    for ct in [100u32, 103] {
        let r = env
            .call(
                "proxmox_container_exec_command",
                json!({"ctid": ct, "command": "touch MARK"}),
            )
            .await;
        assert_ok(&r);
        assert_eq!(
            markers(&env, &[ct]).len(),
            2,
            "CT {ct}: a marker was not seen: {:?}",
            env.host().container_files(ct)
        );
    }
}
