//! The proxmox_* tools through a real MCP client against an in-process fake-pve.

use rmcp::model::CallToolResult;
use serde_json::{Value, json};
use sha2::Digest;
use testkit::component::{self, Env, FIXTURE, start_proxmox};
use testkit::{assert_ok, failed, failed_containing, failed_with, is_error, structured, text};

async fn env() -> Env {
    start_proxmox(FIXTURE, &[]).await
}

fn sha(data: &[u8]) -> String {
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// No temp file of ours is left on the host or in any container.
fn assert_no_temps(env: &Env) {
    let host = env.host_files_with("mcp");
    assert!(host.is_empty(), "host temps left: {host:?}");
    for id in [100, 101, 102, 103, 104] {
        let ct = env.container_files_with(id, ".mcp-");
        assert!(ct.is_empty(), "temps left in {id}: {ct:?}");
    }
}

/// Uploads `local_path` to container 100's `container_path`, with `extra` arguments.
async fn upload(
    env: &Env,
    local_path: impl serde::Serialize,
    container_path: &str,
    extra: Value,
) -> CallToolResult {
    let mut args = json!({"ctid": 100, "local_path": local_path, "container_path": container_path});
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        args[k] = v;
    }
    env.call("proxmox_upload_file_to_container", args).await
}

/// Downloads container `ctid`'s `container_path` to `local_path`.
async fn download(
    env: &Env,
    ctid: u32,
    container_path: &str,
    local_path: impl serde::Serialize,
) -> CallToolResult {
    env.call(
        "proxmox_download_file_from_container",
        json!({"ctid": ctid, "container_path": container_path, "local_path": local_path}),
    )
    .await
}

/// `tool` called with nothing but `ctid`.
async fn on(env: &Env, tool: &str, ctid: u32) -> CallToolResult {
    env.call(tool, json!({ "ctid": ctid })).await
}

/// What container `id`'s file system says of `path`.
fn stat(env: &Env, id: u32, path: &str) -> fake_pve::fs::Meta {
    env.host().state().containers[&id].fs.stat(path).unwrap()
}

/// Runs `change` on container `id`'s file system.
fn in_container<T>(env: &Env, id: u32, change: impl FnOnce(&mut fake_pve::fs::Fs) -> T) -> T {
    change(&mut env.host().state().containers.get_mut(&id).unwrap().fs)
}

async fn exec(env: &Env, ctid: Value, command: &str) -> CallToolResult {
    env.call(
        "proxmox_container_exec_command",
        json!({"ctid": ctid, "command": command}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_are_listed_only_when_enabled_with_schemas_and_annotations() {
    let off = component::start().await;
    let names = off.tool_names().await;
    assert!(
        names.iter().all(|n| !n.starts_with("proxmox_")),
        "{names:?}"
    );

    let env = env().await;
    let tools = env.client.list_all_tools().await.unwrap();
    let get = |n: &str| tools.iter().find(|t| t.name == n).unwrap().clone();
    for name in [
        "proxmox_container_exec_command",
        "proxmox_list_containers",
        "proxmox_container_status",
        "proxmox_start_container",
        "proxmox_stop_container",
        "proxmox_download_file_from_container",
        "proxmox_upload_file_to_container",
    ] {
        let t = get(name);
        let out = t.output_schema.as_ref().expect("output schema");
        let props = out["properties"].as_object().unwrap();
        assert!(
            props.contains_key("error") && props.contains_key("suggestion"),
            "{name}"
        );
        let a = t.annotations.as_ref().unwrap();
        assert_eq!(a.open_world_hint, Some(true), "{name}");
        assert!(
            t.input_schema["properties"].get("ctid").is_some() || name == "proxmox_list_containers"
        );
    }
    for ro in ["proxmox_list_containers", "proxmox_container_status"] {
        let a = get(ro).annotations.unwrap();
        assert_eq!(
            (a.read_only_hint, a.idempotent_hint),
            (Some(true), Some(true))
        );
    }
    for d in ["proxmox_stop_container", "proxmox_container_exec_command"] {
        assert_eq!(get(d).annotations.unwrap().destructive_hint, Some(true));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_reads_columns_so_a_lock_never_leaks_into_the_name() {
    let env = env().await;
    let r = env
        .call(
            "proxmox_list_containers",
            json!({"response_format": "json"}),
        )
        .await;
    assert_ok(&r);
    let s = structured(&r);
    assert_eq!(serde_json::from_str::<Value>(&text(&r)).unwrap(), s);
    assert_eq!(
        s["containers"][0],
        json!({"ctid":100,"status":"running","name":"webserver"})
    );
    assert_eq!(
        s["containers"][4],
        json!({"ctid":104,"status":"stopped","name":"a-container-with-a-rather-long-hostname","lock":"backup"})
    );
    let t = env.call("proxmox_list_containers", json!({})).await;
    let table = text(&t);
    assert!(
        table.starts_with(&format!("CTID | Status  | Name\n{}\n", "-".repeat(50))),
        "{table}"
    );
    assert!(table.contains("\n 100 | running | webserver\n"), "{table}");
    assert!(
        table.contains(
            "\n 104 | stopped | a-container-with-a-rather-long-hostname (locked: backup)\n"
        ),
        "{table}"
    );

    // The longest lock name is wider than its column and pushes the name right.
    env.host().set_lock(102, Some("snapshot-delete"));
    let s = structured(&env.call("proxmox_list_containers", json!({})).await);
    assert_eq!(
        s["containers"][2],
        json!({"ctid":102,"status":"running","name":"cache","lock":"snapshot-delete"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_of_running_stopped_and_absent_containers() {
    let env = env().await;
    let r = on(&env, "proxmox_container_status", 100).await;
    assert_eq!(text(&r), "Container 100 is running\n");
    assert_eq!(structured(&r)["status"], "running");
    let r = env
        .call(
            "proxmox_container_status",
            json!({"ctid": "101", "response_format": "json"}),
        )
        .await;
    assert_eq!(structured(&r)["status"], "stopped");
    let r = on(&env, "proxmox_container_status", 999).await;
    let s = failed_with(&r, "Container 999 not found");
    assert_eq!(
        s["suggestion"],
        "Use proxmox_list_containers to see available containers"
    );
    assert!(
        s["detail"]
            .as_str()
            .unwrap()
            .contains("lxc/999.conf' does not exist")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ctids_are_refused_before_anything_is_sent() {
    let env = env().await;
    for (tool, extra) in [
        ("proxmox_container_status", json!({})),
        ("proxmox_start_container", json!({})),
        ("proxmox_stop_container", json!({})),
        ("proxmox_container_exec_command", json!({"command": "true"})),
        (
            "proxmox_download_file_from_container",
            json!({"container_path": "/etc/hostname", "local_path": "/tmp/x"}),
        ),
    ] {
        for bad in [
            json!(99),
            json!("0100"),
            json!(-5),
            json!("100; reboot"),
            json!(1.5),
            json!(1_000_000_000u64),
        ] {
            let mut args = extra.clone();
            args["ctid"] = bad.clone();
            let r = env.call(tool, args).await;
            assert!(is_error(&r), "{tool} {bad}");
            let s = structured(&r);
            assert!(
                s["error"].as_str().unwrap().contains("`ctid`"),
                "{tool} {bad}: {s}"
            );
            assert!(!s["suggestion"].as_str().unwrap().is_empty());
        }
    }
    assert!(env.host().running().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_reports_like_ssh_exec_and_handles_hostile_commands() {
    let env = env().await;
    let r = exec(&env, json!(100), "echo hi; echo oops >&2; exit 3").await;
    assert!(is_error(&r));
    assert_eq!(
        text(&r),
        "=== STDOUT ===\nhi\n=== STDERR ===\noops\n=== EXIT CODE: 3 ===\n"
    );
    let r = env
        .call(
            "proxmox_container_exec_command",
            json!({"ctid": "100", "command": "hostname; ls -la / | head -n 1", "response_format": "json"}),
        )
        .await;
    assert_ok(&r);
    let s = structured(&r);
    assert_eq!(serde_json::from_str::<Value>(&text(&r)).unwrap(), s);
    assert!(
        s["stdout"].as_str().unwrap().starts_with("webserver\n"),
        "{s}"
    );
    assert_eq!(s["command"], "hostname; ls -la / | head -n 1");
    // Quotes, $(...), and words that look like pct's own options reach the container as written.
    let r = exec(
        &env,
        json!(100),
        r#"echo "it's" '$(hostname)' -k --verbose"#,
    )
    .await;
    assert_eq!(structured(&r)["stdout"], "it's $(hostname) -k --verbose\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_on_stopped_and_absent_containers_says_what_to_do() {
    let env = env().await;
    let r = exec(&env, json!(101), "true").await;
    let s = failed_with(&r, "Container 101 is not running");
    assert!(
        s["suggestion"]
            .as_str()
            .unwrap()
            .contains("proxmox_start_container")
    );
    assert_eq!(s["stderr"], "container '101' not running!\n");
    let r = exec(&env, json!(999), "true").await;
    let s = structured(&r);
    assert_eq!(s["error"], "Container 999 not found");
    assert!(text(&r).contains("Suggestion: Use proxmox_list_containers"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alpine_without_bash_still_runs_commands() {
    let env = env().await;
    assert!(env.host().container_file(103, "/bin/bash").is_none());
    let r = exec(
        &env,
        json!(103),
        "cat /etc/os-release | head -n 1; echo $((6*7))",
    )
    .await;
    assert_ok(&r);
    let out = structured(&r)["stdout"].as_str().unwrap().to_string();
    assert!(out.contains("Alpine"), "{out}");
    assert!(out.ends_with("42\n"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_exec_ends_the_command_in_the_container() {
    let env = env().await;
    let r = env
        .call(
            "proxmox_container_exec_command",
            json!({"ctid": 100, "command": "echo started; sleep 60", "timeout": 1}),
        )
        .await;
    let s = failed(&r);
    assert_eq!(s["timeout_reached"], true);
    assert_eq!(s["stdout"], "started\n");
    assert_eq!(s["exit_code"], Value::Null);
    env.until_gone("the container's sleep ended", "sleep 60")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_exec_output_is_cut_like_ssh_exec() {
    let env = start_proxmox(FIXTURE, &[("CHARACTER_LIMIT", "1000")]).await;
    let r = exec(&env, json!(100), "seq 1 20000; exit 4").await;
    let s = structured(&r);
    assert_eq!(s["exit_code"], 4);
    assert_eq!(s["stdout_truncated"], true);
    assert!(s["stdout"].as_str().unwrap().ends_with("20000\n"));
    assert!(text(&r).ends_with("=== EXIT CODE: 4 ===\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_and_stop_report_what_really_happened() {
    let env = env().await;
    let r = on(&env, "proxmox_start_container", 101).await;
    assert_ok(&r);
    assert_eq!(
        structured(&r),
        json!({"success": true, "message": "Container 101 started successfully", "ctid": 101})
    );
    // Already running.
    let r = on(&env, "proxmox_start_container", 101).await;
    let s = failed_with(&r, "Container 101 is already running");
    assert_eq!(s["detail"], "CT 101 already running");
    // Stop, then stop again.
    let r = on(&env, "proxmox_stop_container", 101).await;
    assert_eq!(
        structured(&r)["message"],
        "Container 101 stopped successfully"
    );
    let r = on(&env, "proxmox_stop_container", 101).await;
    let s = structured(&r);
    assert_eq!(s["error"], "Container 101 is not running");
    assert_eq!(s["detail"], "CT 101 not running");
    // Absent: pct says "not running" for stop too; we say what it is.
    let r = on(&env, "proxmox_stop_container", 999).await;
    assert_eq!(structured(&r)["error"], "Container 999 not found");
    let r = on(&env, "proxmox_start_container", 999).await;
    assert_eq!(structured(&r)["error"], "Container 999 not found");
    // Locked.
    let r = on(&env, "proxmox_start_container", 104).await;
    let s = structured(&r);
    assert!(is_error(&r));
    assert_eq!(s["error"], "Container 104 is locked (backup)");
    assert_eq!(s["detail"], "CT is locked (backup)");
    assert!(s["suggestion"].as_str().unwrap().contains("pct unlock 104"));
    env.host().set_lock(100, Some("snapshot"));
    let r = on(&env, "proxmox_stop_container", 100).await;
    assert_eq!(
        structured(&r)["error"],
        "Container 100 is locked (snapshot)"
    );
    assert_eq!(
        env.host().state().containers[&100].status,
        fake_pve::host::Status::Running
    );
    // A container that refuses to stop: pct's message, not success.
    env.host().set_lock(100, None);
    env.host().set_refuses_stop(100, true);
    let r = on(&env, "proxmox_stop_container", 100).await;
    assert!(is_error(&r), "{}", text(&r));
    assert!(
        structured(&r)["detail"]
            .as_str()
            .is_some_and(|d| !d.is_empty())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5_mb_binary_round_trip_keeps_every_byte_and_leaves_no_temps() {
    let env = env().await;
    let data: Vec<u8> = (0..5 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let src = env.local_file("blob.bin", &data);
    let r = upload(&env, &src, "/root/blob.bin", json!({})).await;
    assert_ok(&r);
    let s = structured(&r);
    assert_eq!(s["message"], "File uploaded successfully to container 100");
    assert_eq!(s["bytes_transferred"], data.len());
    assert_eq!(s["permissions"], "644");
    assert_eq!(s["sha256"], sha(&data));
    assert_eq!(
        env.host().container_file(100, "/root/blob.bin").unwrap(),
        data
    );
    assert_no_temps(&env);

    // Checked inside the container with its own sha256sum.
    let r = exec(&env, json!(100), "sha256sum /root/blob.bin").await;
    assert_eq!(
        structured(&r)["stdout"],
        format!("{}  /root/blob.bin\n", sha(&data))
    );

    let back = env.dir.path().join("back.bin");
    let r = download(&env, 100, "/root/blob.bin", &back).await;
    assert_ok(&r);
    let s = structured(&r);
    assert_eq!(
        s["message"],
        "File downloaded successfully from container 100"
    );
    assert_eq!(s["bytes_transferred"], data.len());
    assert_eq!(sha(&std::fs::read(&back).unwrap()), sha(&data));
    assert_no_temps(&env);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_refuses_to_overwrite_and_applies_permissions() {
    let env = env().await;
    let src = env.local_file("app.conf", "port=9090\n");
    let r = upload(&env, &src, "/etc/app/app.conf", json!({})).await;
    let s = failed_with(&r, "File already exists in container: /etc/app/app.conf");
    assert_eq!(
        s["suggestion"],
        "Set overwrite=true to replace existing file"
    );
    assert_eq!(
        env.host().container_file(100, "/etc/app/app.conf").unwrap(),
        b"port=8080\n"
    );
    assert_no_temps(&env);

    let r = upload(
        &env,
        &src,
        "/etc/app/app.conf",
        json!({"overwrite": true, "permissions": "600"}),
    )
    .await;
    assert_ok(&r);
    assert_eq!(structured(&r)["permissions"], "600");
    assert_eq!(
        env.host().container_file(100, "/etc/app/app.conf").unwrap(),
        b"port=9090\n"
    );
    let meta = stat(&env, 100, "/etc/app/app.conf");
    assert_eq!(meta.mode, 0o600);

    let r = upload(&env, &src, "/root/tool", json!({"permissions": 755})).await;
    assert_ok(&r);
    let meta = stat(&env, 100, "/root/tool");
    assert_eq!(meta.mode, 0o755);
    assert_no_temps(&env);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pct_failures_that_exit_0_are_caught() {
    let env = env().await;
    let src = env.local_file("f.txt", "x");
    // Missing directory: refused by the check (and pct push would exit 0 here).
    let r = upload(&env, &src, "/no/such/dir/f.txt", json!({})).await;
    let s = failed_with(
        &r,
        "Directory does not exist in container 100: /no/such/dir",
    );
    assert!(s["suggestion"].as_str().unwrap().contains("mkdir -p"));

    // Missing file in the container.
    let dst = env.dir.path().join("missing.txt");
    let r = download(&env, 100, "/etc/nope", &dst).await;
    failed_with(&r, "File not found in container 100: /etc/nope");
    assert!(!dst.exists(), "no local file written");

    // Stopped container.
    let r = download(&env, 101, "/etc/hostname", &dst).await;
    assert_eq!(structured(&r)["error"], "Container 101 is not running");
    assert!(!dst.exists());
    assert_no_temps(&env);
}

/// pct push into a directory that vanished after the check exits 0 with a message on
/// stderr; the tool must see it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_into_a_missing_directory_exits_0_and_is_still_an_error() {
    let env = env().await;
    // pct itself, through ssh_exec_command: exit 0 and a message.
    let r = env
        .exec("echo x > /tmp/src; pct push 100 /tmp/src /no/dir/f; echo rc=$?; rm /tmp/src")
        .await;
    let s = structured(&r);
    assert_eq!(s["stdout"], "rc=0\n");
    assert!(
        s["stderr"]
            .as_str()
            .unwrap()
            .contains("failed to create file")
    );

    // The tool: a slow target check is overtaken by the directory's removal.
    in_container(&env, 100, |fs| fs.mkdir_all("/srv/drop", 0o755)).unwrap();
    let src = env.local_file("f.txt", vec![b'z'; 300_000]);
    // Every command starts late, so the directory is gone before pct push runs.
    env.host().set_faults(fake_pve::host::Faults {
        latency: std::time::Duration::from_millis(150),
        ..Default::default()
    });
    let host = env.host().clone();
    let remover = tokio::spawn(async move {
        // Remove the directory once the upload reached the host's /tmp.
        for _ in 0..2000 {
            if host
                .host_files()
                .iter()
                .any(|p| p.starts_with("/tmp/.mcp-pct-"))
            {
                let _ = host
                    .state()
                    .containers
                    .get_mut(&100)
                    .unwrap()
                    .fs
                    .remove_all("/srv/drop");
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        false
    });
    let r = upload(&env, &src, "/srv/drop/f.txt", json!({})).await;
    if remover.await.unwrap() {
        failed_containing(&r, "failed to create file");
    }
    assert_no_temps(&env);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_with_spaces_quotes_substitutions_and_unicode_are_never_interpreted() {
    let env = env().await;
    let src = env.local_file("weird.txt", "content\n");
    for name in [
        "/root/with space.txt",
        "/root/it's \"quoted\".txt",
        "/root/$(touch pwned).txt",
        "/root/`id`;rm -rf x",
        "/root/ünïcödé ✓.txt",
    ] {
        let r = upload(&env, &src, name, json!({})).await;
        assert!(!is_error(&r), "{name}: {}", text(&r));
        assert_eq!(
            env.host().container_file(100, name).unwrap(),
            b"content\n",
            "{name}"
        );
        let back = env
            .dir
            .path()
            .join(format!("back-{}", sha(name.as_bytes())));
        let r = download(&env, 100, name, &back).await;
        assert!(!is_error(&r), "{name}: {}", text(&r));
        assert_eq!(std::fs::read(&back).unwrap(), b"content\n");
    }
    let files = env.host().container_files(100);
    assert!(!files.iter().any(|f| f.ends_with("/pwned")), "{files:?}");
    assert_no_temps(&env);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dot_dot_and_relative_paths_are_refused() {
    let env = env().await;
    for path in ["/etc/../root/x", "../x", "/a/.."] {
        let r = download(&env, 100, path, "/tmp/x").await;
        failed_containing(&r, "Path cannot contain '..' (path traversal not allowed)");
    }
    let r = upload(&env, "/etc/hostname", "etc/x", json!({})).await;
    failed_containing(&r, "absolute");
    assert!(env.host().running().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_size_limit_is_checked_in_the_container_first() {
    let env = start_proxmox(FIXTURE, &[("MAX_FILE_SIZE", "1000")]).await;
    in_container(&env, 100, |fs| {
        fs.write_file("/root/big", &[7u8; 5000], 0o644)
    })
    .unwrap();
    let dst = env.dir.path().join("big");
    let r = download(&env, 100, "/root/big", &dst).await;
    failed_containing(&r, "5000 bytes, more than MAX_FILE_SIZE");
    assert!(!dst.exists());
    assert_no_temps(&env);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_changes_after_it_was_measured_is_never_put_in_place() {
    let env = env().await;
    in_container(&env, 100, |fs| {
        fs.write_file("/root/log", &[b'a'; 200_000], 0o644)
    })
    .unwrap();
    let dst = env.dir.path().join("log");
    std::fs::write(&dst, "the original\n").unwrap();
    // Every command starts late; once the host's private directory exists (after the
    // container file was measured, before pct pull), the file changes in the container,
    // keeping its size.
    env.host().set_faults(fake_pve::host::Faults {
        latency: std::time::Duration::from_millis(150),
        ..Default::default()
    });
    let host = env.host().clone();
    let writer = tokio::spawn(async move {
        for _ in 0..5000 {
            {
                let mut st = host.state();
                let made = st.fs.list_dir("/tmp").is_ok_and(|entries| {
                    entries
                        .iter()
                        .any(|(name, _)| name.starts_with(".mcp-pct-"))
                });
                if made {
                    let ct = &mut st.containers.get_mut(&100).unwrap().fs;
                    ct.write_file("/root/log", &[b'b'; 200_000], 0o644).unwrap();
                    return true;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        false
    });
    let overwrite = env
        .call(
            "proxmox_download_file_from_container",
            json!({"ctid": 100, "container_path": "/root/log", "local_path": &dst, "overwrite": true}),
        )
        .await;
    assert!(
        writer.await.unwrap(),
        "the file was never changed mid-transfer"
    );
    let s = failed_containing(&overwrite, "SHA-256 of the bytes that arrived differs");
    assert!(
        s["error"].as_str().unwrap().contains("left as it was"),
        "{s}"
    );
    assert_eq!(std::fs::read(&dst).unwrap(), b"the original\n");
    let left: Vec<_> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains("mcp-download"))
        .collect();
    assert!(left.is_empty(), "local temps left: {left:?}");
    assert_no_temps(&env);

    // Unchanged, the same call succeeds and reports the content's hash.
    env.host().set_faults(Default::default());
    let r = env
        .call(
            "proxmox_download_file_from_container",
            json!({"ctid": 100, "container_path": "/root/log", "local_path": &dst, "overwrite": true}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(structured(&r)["sha256"], sha(&[b'b'; 200_000]));
    assert_eq!(std::fs::read(&dst).unwrap(), vec![b'b'; 200_000]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temps_left_by_a_lost_connection_are_removed_on_the_next_transfer() {
    let env = env().await;
    let src = env.local_file("f.txt", "x");
    // Connect first; then pct push hangs, the connection drops under it, and logins
    // are refused, so nothing can be cleaned up for now.
    let r = on(&env, "proxmox_container_status", 100).await;
    assert!(!is_error(&r));
    env.host().set_faults(fake_pve::host::Faults {
        hang: vec!["pct push *".into()],
        drop_on_command: Some("*pct push*".into()),
        refuse_auth: true,
        ..Default::default()
    });
    let r = upload(&env, &src, "/root/f.txt", json!({})).await;
    assert!(is_error(&r), "{}", text(&r));
    assert!(
        env.host()
            .host_files()
            .iter()
            .any(|p| p.starts_with("/tmp/.mcp-pct-")),
        "the host temp is still there while the host is unreachable"
    );
    // The host is back: the next transfer removes what was left.
    env.host().set_faults(Default::default());
    for p in env.host().running() {
        if p.args.starts_with("pct push") {
            env.host().processes().signal(p.pid, 9);
        }
    }
    let r = upload(&env, &src, "/root/g.txt", json!({})).await;
    assert_ok(&r);
    assert_no_temps(&env);
}

// The reference plugin's five common use cases.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn use_case_health_check_across_running_containers() {
    let env = env().await;
    let list = structured(&env.call("proxmox_list_containers", json!({})).await);
    let running: Vec<u64> = list["containers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "running")
        .map(|c| c["ctid"].as_u64().unwrap())
        .collect();
    assert_eq!(running, [100, 102, 103]);
    for id in running {
        let r = exec(&env, json!(id), "df -h && free -h").await;
        assert!(!is_error(&r), "{id}: {}", text(&r));
        let out = structured(&r)["stdout"].as_str().unwrap().to_string();
        assert!(
            out.contains("Filesystem") && out.contains("Mem:"),
            "{id}: {out}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn use_case_deploy_a_config() {
    let env = env().await;
    let src = env.local_file("nginx.conf", "user www-data;\nworker_processes 4;\n");
    let r = upload(
        &env,
        &src,
        "/etc/app/nginx.conf",
        json!({"permissions": "640"}),
    )
    .await;
    assert_ok(&r);
    let r = exec(
        &env,
        json!(100),
        "cat /etc/app/nginx.conf && stat -c %a /etc/app/nginx.conf",
    )
    .await;
    assert_eq!(
        structured(&r)["stdout"],
        "user www-data;\nworker_processes 4;\n640\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn use_case_back_up_logs() {
    let env = env().await;
    let dst = env.dir.path().join("access.log");
    let r = download(&env, 100, "/var/log/nginx/access.log", &dst).await;
    assert_ok(&r);
    assert_eq!(std::fs::read(&dst).unwrap(), b"GET / 200\n");
    // A second backup to the same file is refused unless asked.
    let r = download(&env, 100, "/var/log/nginx/access.log", &dst).await;
    assert!(is_error(&r));
    assert_no_temps(&env);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn use_case_update_running_containers() {
    let env = env().await;
    let list = structured(&env.call("proxmox_list_containers", json!({})).await);
    for c in list["containers"].as_array().unwrap() {
        if c["status"] != "running" {
            continue;
        }
        let r = env
            .call(
                "proxmox_container_exec_command",
                json!({"ctid": c["ctid"], "command": "apt update", "timeout": 120}),
            )
            .await;
        assert!(!is_error(&r), "{c}: {}", text(&r));
        assert!(text(&r).contains("All packages are up to date."));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn use_case_lifecycle() {
    let env = env().await;
    let status = |r: CallToolResult| structured(&r)["status"].clone();
    let r = on(&env, "proxmox_stop_container", 102).await;
    assert_ok(&r);
    assert_eq!(
        status(on(&env, "proxmox_container_status", 102).await),
        "stopped"
    );
    let r = on(&env, "proxmox_start_container", 102).await;
    assert_ok(&r);
    assert_eq!(
        status(on(&env, "proxmox_container_status", 102).await),
        "running"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_a_container_file_keeps_its_owner_group_and_mode() {
    let env = env().await;
    {
        let mut state = env.host().state();
        let fs = &mut state.containers.get_mut(&100).unwrap().fs;
        fs.write_file("/root/app.conf", b"old\n", 0o640).unwrap();
        fs.set_owner("/root/app.conf", Some(33), Some(33)).unwrap();
    }
    let src = env.local_file("app.conf", "new\n");
    let r = upload(&env, &src, "/root/app.conf", json!({"overwrite": true})).await;
    assert_ok(&r);
    assert_eq!(
        structured(&r).get("permissions"),
        None,
        "the old mode was kept"
    );
    let meta = stat(&env, 100, "/root/app.conf");
    assert_eq!((meta.uid, meta.gid, meta.mode & 0o7777), (33, 33, 0o640));
    assert_eq!(
        env.host().container_file(100, "/root/app.conf").unwrap(),
        b"new\n"
    );
    // Asked-for permissions win; the owner stays.
    let r = upload(
        &env,
        &src,
        "/root/app.conf",
        json!({"overwrite": true, "permissions": "600"}),
    )
    .await;
    assert_ok(&r);
    let meta = stat(&env, 100, "/root/app.conf");
    assert_eq!((meta.uid, meta.gid, meta.mode & 0o7777), (33, 33, 0o600));
    assert_no_temps(&env);
}
