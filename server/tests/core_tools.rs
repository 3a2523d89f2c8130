//! The ssh_* tools through a real MCP client against an in-process fake-pve.

use serde_json::json;
use sha2::Digest;
use testkit::component::{Options, start, start_with};
use testkit::mcp::serve_in_process;
use testkit::{
    assert_exited, assert_ok, eventually, failed, failed_containing, is_error, json_text,
    structured, text,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_reports_streams_and_exit_code_in_text_and_json() {
    let env = start().await;
    let r = env.exec("echo hi; echo oops >&2; exit 3").await;
    let s = assert_exited(&r, 3, "hi\n", "oops\n");
    assert_eq!(s["success"], false);

    let r = env
        .call(
            "ssh_exec_command",
            json!({"command": "hostname", "response_format": "json"}),
        )
        .await;
    assert!(!is_error(&r));
    let parsed = json_text(&r);
    assert_eq!(parsed["stdout"], "pve\n");
    assert_eq!(parsed["exit_code"], 0);
    assert_eq!(parsed["success"], true);
    assert_eq!(parsed["command"], "hostname");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_ends_the_remote_command() {
    let env = start().await;
    let r = env.exec_within("echo started; sleep 60", 1).await;
    let s = failed(&r);
    assert_eq!(s["timeout_reached"], true, "{s}");
    assert_eq!(s["stdout"], "started\n", "partial output is returned");
    assert_eq!(s["exit_code"], json!(null));
    assert!(text(&r).contains("=== TIMEOUT:"), "{}", text(&r));
    env.until_gone("the remote sleep ended", "sleep 60").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_output_is_cut_but_keeps_both_ends_and_the_exit_code() {
    let env = start_with(with_vars(&[("CHARACTER_LIMIT", "1000")])).await;
    let r = env
        .call(
            "ssh_exec_command",
            json!({"command": "seq 1 20000; exit 4", "response_format": "json"}),
        )
        .await;
    let s = structured(&r);
    assert_eq!(s["exit_code"], 4);
    assert_eq!(s["stdout_truncated"], true);
    let total: usize = (1..=20000).map(|n: u32| n.to_string().len() + 1).sum();
    assert_eq!(s["stdout_original_length"], total as u64);
    let out = s["stdout"].as_str().unwrap();
    assert!(out.starts_with("1\n2\n3\n"), "{out}");
    assert!(out.ends_with("19999\n20000\n"), "{out}");
    assert!(out.contains("characters omitted"), "{out}");
    let t = env.exec("seq 1 20000; exit 4").await;
    assert!(text(&t).ends_with("=== EXIT CODE: 4 ===\n"), "{}", text(&t));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_that_are_not_utf8_are_flagged() {
    let env = start().await;
    let r = env.exec(r"printf 'ok \377\376\n'").await;
    assert!(!is_error(&r));
    let s = structured(&r);
    assert_eq!(s["stdout"], "ok \u{FFFD}\u{FFFD}\n");
    assert_eq!(s["stdout_lossy"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_are_tool_errors_that_name_the_parameter() {
    let env = start().await;
    for (args, param) in [
        (json!({"command": "ls", "timeout": 2.5}), "timeout"),
        (json!({"command": "ls", "timeout": 0}), "timeout"),
        (json!({"command": ""}), "command"),
        (json!({"timeout": 5}), "command"),
        (json!({"command": "ls", "timeout": "soon"}), "timeout"),
        (
            json!({"command": "ls", "response_format": "xml"}),
            "response_format",
        ),
        (json!({"command": "ls", "timout": 5}), "timout"),
        (json!({"command": "x".repeat(10_001)}), "command"),
    ] {
        let r = env.call("ssh_exec_command", args.clone()).await;
        assert!(is_error(&r), "{args}");
        let s = structured(&r);
        let error = s["error"].as_str().unwrap();
        assert!(error.contains(&format!("`{param}`")), "{args}: {error}");
        assert!(
            s["suggestion"].as_str().is_some_and(|x| !x.is_empty()),
            "{args}"
        );
    }
    // Nothing reached the host.
    assert!(env.host().running().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_run_concurrently_on_one_connection() {
    let env = std::sync::Arc::new(start().await);
    let slow = {
        let env = env.clone();
        tokio::spawn(async move { env.exec("sleep 2; echo slow").await })
    };
    // The slow call is running on the host before the quick one is made.
    eventually("sleep runs", || {
        env.host().running().iter().any(|p| p.args == "sleep 2")
    })
    .await;
    let quick = env.exec("echo quick").await;
    assert_eq!(structured(&quick)["stdout"], "quick\n");
    assert!(
        env.host().running().iter().any(|p| p.args == "sleep 2"),
        "the quick call did not wait for the slow one"
    );
    let slow = slow.await.unwrap();
    assert_eq!(structured(&slow)["stdout"], "slow\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_call_reconnects_after_the_connection_dropped() {
    let env = start().await;
    let r = env.exec("echo one").await;
    assert_eq!(structured(&r)["stdout"], "one\n");
    env.host().drop_connections();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let r = env.exec("echo two").await;
    assert_ok(&r);
    assert_eq!(structured(&r)["stdout"], "two\n");
}

/// The default server, with `vars` set.
fn with_vars(vars: &[(&'static str, &str)]) -> Options {
    let vars = vars.iter().map(|&(k, v)| (k, v.to_string())).collect();
    Options {
        vars,
        ..Options::default()
    }
}

/// A server whose known_hosts lacks the fake's key, with `vars`.
fn unknown_host_key(vars: &[(&'static str, &str)]) -> Options {
    Options {
        known: false,
        ..with_vars(vars)
    }
}

/// A server that logs in with the password, not the key, with `vars`.
fn password_login(vars: &[(&'static str, &str)]) -> Options {
    Options {
        use_key: false,
        ..with_vars(vars)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_keys_are_checked() {
    // Unknown key, strict: refused with the fingerprint and what to do.
    let env = start_with(unknown_host_key(&[])).await;
    let r = env.exec("true").await;
    let s = failed(&r);
    let err = s["error"].as_str().unwrap();
    assert!(
        err.contains("is not in") && err.contains("SHA256:"),
        "{err}"
    );
    assert!(s["suggestion"].as_str().unwrap().contains("accept-new"));

    // Changed key: names the file and the line.
    let other = fake_pve::ssh::generate_host_key();
    let line = format!(
        "# first line\n[127.0.0.1]:{} {}\n",
        env.fake.addr().port(),
        other.public_key().to_openssh().unwrap()
    );
    std::fs::write(&env.known_hosts, line).unwrap();
    let r = env.exec("true").await;
    let err = structured(&r)["error"].as_str().unwrap().to_string();
    assert!(err.contains("CHANGED") && err.contains("line 2"), "{err}");
    assert!(
        err.contains(&env.known_hosts.display().to_string()),
        "{err}"
    );

    // accept-new learns an unknown key, then uses it.
    let env = start_with(unknown_host_key(&[(
        "SSH_STRICT_HOST_KEY_CHECKING",
        "accept-new",
    )]))
    .await;
    let r = env.exec("echo ok").await;
    assert_ok(&r);
    let learned = std::fs::read_to_string(&env.known_hosts).unwrap();
    assert!(learned.contains(&format!(
        "[127.0.0.1]:{} ssh-ed25519 ",
        env.fake.addr().port()
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_login_and_a_wrong_password() {
    let env = start_with(password_login(&[])).await;
    let r = env.exec("whoami").await;
    assert_eq!(structured(&r)["stdout"], "root\n");

    let bad = start_with(password_login(&[("SSH_PASSWORD", "wrong")])).await;
    let r = bad
        .call("ssh_exec_command", json!({"command": "whoami"}))
        .await;
    assert!(is_error(&r));
    let err = structured(&r)["error"].as_str().unwrap().to_string();
    assert!(
        err.contains("authentication as root failed (tried: password)"),
        "{err}"
    );
    assert!(!text(&r).contains("wrong"), "the password never appears");
}

fn random_bytes(n: usize) -> Vec<u8> {
    (0..n).map(|_| rand::random::<u8>()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_and_download_round_trip_a_binary_file() {
    let env = start().await;
    let data = random_bytes(5 * 1024 * 1024 + 123);
    let local = env.local_file("data with spaces 'q' é.bin", &data);
    let remote = "/tmp/up load 'q' é.bin";
    let r = env
        .upload(&local, remote, json!({"permissions": "750"}))
        .await;
    assert_ok(&r);
    let s = structured(&r);
    assert_eq!(s["bytes_transferred"], data.len() as u64);
    assert_eq!(s["permissions"], "750");
    assert_eq!(env.host().host_file(remote).unwrap(), data);
    let mode = env.host().state().fs.stat(remote).unwrap().mode;
    assert_eq!(mode, 0o750);

    let back = env.dir.path().join("back.bin");
    let r = env.download(remote, &back, json!({})).await;
    assert_ok(&r);
    assert_eq!(
        sha2::Sha256::digest(std::fs::read(&back).unwrap()),
        sha2::Sha256::digest(&data)
    );
    // No temporary file is left on either side.
    assert!(
        env.host()
            .host_files()
            .iter()
            .all(|f| !f.contains(".mcp-upload")),
        "{:?}",
        env.host().host_files()
    );
    let leftovers: Vec<_> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("mcp-download"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overwrite_is_refused_unless_asked_and_the_original_survives() {
    let env = start().await;
    let local = env.local_file("new.txt", b"new");
    env.host()
        .state()
        .fs
        .write_file("/root/app.conf", b"old", 0o600)
        .unwrap();
    let r = env.upload(&local, "/root/app.conf", json!({})).await;
    let s = failed_containing(&r, "already exists: /root/app.conf");
    assert!(s["suggestion"].as_str().unwrap().contains("overwrite=true"));
    assert_eq!(env.host().host_file("/root/app.conf").unwrap(), b"old");

    let r = env
        .upload(&local, "/root/app.conf", json!({"overwrite": true}))
        .await;
    assert_ok(&r);
    assert_eq!(env.host().host_file("/root/app.conf").unwrap(), b"new");
    assert_eq!(
        env.host().state().fs.stat("/root/app.conf").unwrap().mode,
        0o600,
        "mode kept"
    );

    // Download onto an existing local file.
    let r = env.download("/etc/hostname", &local, json!({})).await;
    assert!(is_error(&r));
    assert_eq!(std::fs::read(&local).unwrap(), b"new");
    let r = env
        .download("/etc/hostname", &local, json!({"overwrite": true}))
        .await;
    assert!(!is_error(&r));
    assert_eq!(std::fs::read(&local).unwrap(), b"pve\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn size_limits_and_bad_paths_fail_before_anything_is_written() {
    let env = start_with(with_vars(&[("MAX_FILE_SIZE", "1000")])).await;
    let big = env.local_file("big.bin", random_bytes(1001));
    let small = env.local_file("small.bin", b"small");
    let before = env.host().host_files();
    let r = env.upload(&big, "/tmp/big.bin", json!({})).await;
    failed_containing(&r, "more than MAX_FILE_SIZE (1000 bytes)");
    assert_eq!(env.host().host_files(), before);

    env.host()
        .state()
        .fs
        .write_file("/tmp/remote-big", &[0u8; 1001], 0o644)
        .unwrap();
    let r = env
        .download("/tmp/remote-big", env.dir.path().join("x"), json!({}))
        .await;
    assert!(is_error(&r));
    assert!(!env.dir.path().join("x").exists());

    for (tool, args, needle) in [
        (
            "ssh_upload_file",
            json!({"local_path": "/nonexistent/f", "remote_path": "/tmp/f"}),
            "No such file",
        ),
        (
            "ssh_upload_file",
            json!({"local_path": small, "remote_path": "/no/dir/f"}),
            "No such file",
        ),
        (
            "ssh_upload_file",
            json!({"local_path": big, "remote_path": "/tmp/f", "permissions": "999"}),
            "`permissions`",
        ),
        (
            "ssh_download_file",
            json!({"remote_path": "/nope", "local_path": env.dir.path().join("y")}),
            "No such file",
        ),
        (
            "ssh_download_file",
            json!({"remote_path": "/etc/hostname", "local_path": "/nonexistent/dir/y"}),
            "directory /nonexistent/dir",
        ),
        (
            "ssh_download_file",
            json!({"remote_path": "/tmp", "local_path": env.dir.path().join("z")}),
            "is a directory",
        ),
    ] {
        let r = env.call(tool, args.clone()).await;
        assert!(is_error(&r), "{args}");
        let err = structured(&r)["error"].as_str().unwrap().to_string();
        assert!(err.contains(needle), "{args}: {err}");
    }
    assert!(
        env.host()
            .host_files()
            .iter()
            .all(|f| !f.contains(".mcp-upload"))
    );
}

/// (progress, total) pairs as they arrived.
type ProgressLog = std::sync::Arc<std::sync::Mutex<Vec<(f64, Option<f64>)>>>;

/// A client that records progress notifications.
#[derive(Clone, Default)]
struct ProgressClient(ProgressLog);

impl rmcp::ClientHandler for ProgressClient {
    async fn on_progress(
        &self,
        params: rmcp::model::ProgressNotificationParam,
        _context: rmcp::service::NotificationContext<rmcp::RoleClient>,
    ) {
        self.0.lock().unwrap().push((params.progress, params.total));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_report_progress_when_asked() {
    let env = start().await;
    // A second client of our own, on its own server instance, that listens for progress.
    let raw = mcp_remote_exec::config::RawConfig::from_pairs([
        ("I_ACCEPT_RISKS", "true"),
        ("HOST", "127.0.0.1"),
        ("SSH_PORT", &env.fake.addr().port().to_string()),
        ("SSH_KNOWN_HOSTS", &env.known_hosts.display().to_string()),
        ("SSH_KEY", &env.key_path.display().to_string()),
    ]);
    let server = mcp_remote_exec::tools::RemoteExec::new(raw.validate().unwrap());
    let seen = ProgressClient::default();
    let (client, _serving) = serve_in_process(server, seen.clone()).await;
    let local = env.local_file("progress.bin", random_bytes(3 * 1024 * 1024));
    let mut meta = rmcp::model::RequestMetaObject::new();
    meta.set_progress_token(rmcp::model::ProgressToken(
        rmcp::model::NumberOrString::Number(7),
    ));
    let mut params = rmcp::model::CallToolRequestParams::new("ssh_upload_file").with_arguments(
        json!({"local_path": local, "remote_path": "/tmp/progress.bin"})
            .as_object()
            .cloned()
            .unwrap(),
    );
    params.meta = Some(meta);
    let r = client.call_tool(params).await.unwrap();
    assert_ok(&r);
    // The client runs each notification's handler in a task of its own, so they may be
    // recorded out of order even though the server sends them in order: wait for the
    // final one to be among them, and check the set, not the sequence.
    let total = (3 * 1024 * 1024) as f64;
    eventually("the final progress notification", || {
        seen.0.lock().unwrap().iter().any(|(p, _)| *p == total)
    })
    .await;
    let mut events = seen.0.lock().unwrap().clone();
    events.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(events.len() >= 2, "{events:?}");
    assert!(
        events.windows(2).all(|w| w[0].0 < w[1].0),
        "each notification reports new progress: {events:?}"
    );
    assert!(events.iter().all(|(_, t)| *t == Some(total)), "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_or_a_refused_write_keeps_the_original_and_leaves_no_temp() {
    use fake_pve::host::{Faults, SftpFault, SftpFaultKind};
    let env = start().await;
    env.host()
        .state()
        .fs
        .write_file("/tmp/keep.txt", b"original\n", 0o644)
        .unwrap();
    let src = env.local_file("new.txt", vec![b'n'; 300_000]);
    for kind in [SftpFaultKind::NoSpace, SftpFaultKind::PermissionDenied] {
        env.host().set_faults(Faults {
            sftp: Some(SftpFault {
                kind,
                path_prefix: "/tmp".into(),
            }),
            ..Default::default()
        });
        let r = env
            .upload(&src, "/tmp/keep.txt", json!({"overwrite": true}))
            .await;
        assert!(is_error(&r), "{kind:?}: {}", text(&r));
        let error = structured(&r)["error"].as_str().unwrap().to_string();
        assert!(error.contains("/tmp/keep.txt"), "{kind:?}: {error}");
        env.host().set_faults(Default::default());
        assert_eq!(
            env.host().host_file("/tmp/keep.txt").unwrap(),
            b"original\n"
        );
        let temps = env.host_files_with("mcp-upload");
        assert!(temps.is_empty(), "{kind:?}: temps left: {temps:?}");
    }
    // The next transfer works.
    let r = env
        .upload(&src, "/tmp/keep.txt", json!({"overwrite": true}))
        .await;
    assert_ok(&r);
}
