//! The server against a stock OpenSSH sshd (Debian 12's sshd_config unchanged, as on
//! every Proxmox VE node: `MaxSessions 10`), logged in as root, driven by a real MCP
//! client: parallel calls beyond the channel budget, chatty and interactive commands,
//! background children, file ownership, special files, and faults of the real host.
//! Processes are looked at out of band (`docker exec`), never through the server.

use std::time::{Duration, Instant};

use serde_json::json;
use testkit::mcp::serve_in_process;
use testkit::openssh::{HostEnv, Login};
use testkit::{assert_ok, failed, is_error, structured, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twelve_parallel_commands_after_a_transfer_all_succeed() {
    let (env, mcp) = HostEnv::start_serving().await;
    // The SFTP session holds a channel from now on.
    let src = env.local_file("a.txt", "a\n");
    let r = mcp.upload(&src, "/tmp/a.txt", json!({})).await;
    assert_ok(&r);
    let commands: Vec<String> = (0..12).map(|i| format!("sleep 1; echo {i}")).collect();
    let calls = commands.iter().map(|c| mcp.exec(c));
    let results = futures::future::join_all(calls).await;
    for (i, r) in results.iter().enumerate() {
        assert!(!is_error(r), "call {i}: {}", text(r));
        assert_eq!(structured(r)["stdout"], format!("{i}\n"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_parallel_mixed_calls_all_succeed() {
    let (env, mcp) = HostEnv::start_serving().await;
    let payload = vec![b'z'; 200_000];
    let src = env.local_file("up.bin", &payload);
    let (code, _, _) = env.oob("head -c 100000 /dev/zero > /tmp/down.bin").await;
    assert_eq!(code, 0);
    let started = Instant::now();
    let calls = (0..64).map(|i| {
        let mcp = &mcp;
        let src = src.clone();
        let dir = env.dir.path().to_path_buf();
        async move {
            let r = match i % 4 {
                0 => mcp.exec("sleep 0.1").await,
                1 => mcp.exec("true").await,
                2 => {
                    mcp.upload(&src, &format!("/tmp/up-{i}.bin"), json!({}))
                        .await
                }
                _ => {
                    mcp.download(
                        "/tmp/down.bin",
                        dir.join(format!("down-{i}.bin")),
                        json!({}),
                    )
                    .await
                }
            };
            (i, r)
        }
    });
    let results = futures::future::join_all(calls).await;
    println!("64 mixed calls took {:?}", started.elapsed());
    let failed: Vec<String> = results
        .iter()
        .filter(|(_, r)| is_error(r))
        .map(|(i, r)| format!("{i}: {}", text(r)))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of 64 failed: {failed:?}",
        failed.len()
    );
    let (_, sums, _) = env.oob("cat /tmp/up-*.bin | wc -c").await;
    assert_eq!(sums.trim(), (16 * payload.len()).to_string());
    // Never more connections than the pool allows.
    let (_, n, _) = env.oob("pgrep -c -f '^sshd: root@notty' || true").await;
    let n: usize = n.trim().parse().unwrap();
    let most = mcp_remote_exec::ssh::pool::MAX_CONNECTIONS;
    assert!((1..=most).contains(&n), "{n} connections");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_command_is_ended_at_its_timeout_and_other_calls_survive() {
    let (env, mcp) = HostEnv::start_serving().await;
    let started = Instant::now();
    let (flood, other) = tokio::join!(
        mcp.call("ssh_exec_command", json!({"command": "yes", "timeout": 3})),
        mcp.exec("sleep 5; echo survived")
    );
    let took = started.elapsed();
    println!("`yes` with timeout=3 returned after {took:?}");
    let s = structured(&flood);
    assert_eq!(s["timeout_reached"], true, "{s}");
    let error = s["error"].as_str().unwrap();
    assert!(error.ends_with("and was ended"), "{error}");
    assert!(s["stdout"].as_str().unwrap().starts_with("y\ny\n"));
    assert!(!is_error(&other), "{}", text(&other));
    assert_eq!(structured(&other)["stdout"], "survived\n");
    env.gone_within("yes", Duration::from_secs(5))
        .await
        .expect("`yes` ended on the host");
    // The shared connection still works.
    let r = mcp.exec("echo still").await;
    assert_eq!(structured(&r)["stdout"], "still\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_input_is_closed() {
    let (_env, mcp) = HostEnv::start_serving().await;
    let r = mcp.exec_within("cat; echo after-cat", 20).await;
    assert_ok(&r);
    assert_eq!(structured(&r)["stdout"], "after-cat\n");
    let r = mcp.exec_within("read x; echo \"read=$?\"", 20).await;
    assert_eq!(structured(&r)["stdout"], "read=1\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_background_child_holding_stdout_does_not_hold_the_call() {
    let (env, mcp) = HostEnv::start_serving().await;
    let r = mcp.exec_within("sleep 37 & echo started; exit 4", 30).await;
    let s = structured(&r);
    assert_eq!(s["exit_code"], 4, "{s}");
    assert_eq!(s["timeout_reached"], false, "{s}");
    assert_eq!(s["stdout"], "started\n");
    assert!(s["note"].as_str().unwrap().contains("background"), "{s}");
    assert!(text(&r).contains("=== EXIT CODE: 4 ==="), "{}", text(&r));
    // What was started in the background runs on.
    assert!(!env.processes("sleep 37").await.trim().is_empty());
    env.oob("pkill -f '^sleep 37$'").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_a_file_keeps_its_owner_group_and_mode() {
    let (env, mcp) = HostEnv::start_serving().await;
    let (code, _, err) = env
        .oob("useradd -r app && mkdir -p /etc/app && echo old > /etc/app/app.conf && chown app:app /etc/app/app.conf && chmod 640 /etc/app/app.conf")
        .await;
    assert_eq!(code, 0, "{err}");
    let src = env.local_file("app.conf", "new\n");
    let r = mcp
        .upload(&src, "/etc/app/app.conf", json!({"overwrite": true}))
        .await;
    assert_ok(&r);
    let (_, stat, _) = env
        .oob("stat -c '%U:%G %a' /etc/app/app.conf; cat /etc/app/app.conf; ls -a /etc/app")
        .await;
    assert_eq!(stat, "app:app 640\nnew\n.\n..\napp.conf\n");
    // Asked-for permissions win over the old mode; the owner stays.
    let r = mcp
        .upload(
            &src,
            "/etc/app/app.conf",
            json!({"overwrite": true, "permissions": "600"}),
        )
        .await;
    assert_ok(&r);
    let (_, stat, _) = env.oob("stat -c '%U:%G %a' /etc/app/app.conf").await;
    assert_eq!(stat, "app:app 600\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn special_files_and_links_are_refused_before_anything_is_opened() {
    let (env, mcp) = HostEnv::start_serving().await;
    let (code, _, _) = env
        .oob("mkfifo /tmp/fifo && echo real > /tmp/real && ln -s /tmp/real /tmp/link")
        .await;
    assert_eq!(code, 0);
    let local = env.dir.path().join("fifo-copy");
    let r = mcp.download("/tmp/fifo", &local, json!({})).await;
    assert!(is_error(&r));
    assert!(text(&r).contains("not a regular file"), "{}", text(&r));
    assert!(!local.exists());
    // The SFTP server is not wedged: the next transfer works; a link is read through.
    let r = mcp
        .download("/tmp/link", env.dir.path().join("via-link"), json!({}))
        .await;
    assert_ok(&r);
    assert_eq!(
        std::fs::read(env.dir.path().join("via-link")).unwrap(),
        b"real\n"
    );
    // Replacing a link would turn it into a plain file: refused, link and target kept.
    let src = env.local_file("new", "new\n");
    let r = mcp
        .upload(&src, "/tmp/link", json!({"overwrite": true}))
        .await;
    assert!(is_error(&r));
    assert!(text(&r).contains("symbolic link"), "{}", text(&r));
    let (_, out, _) = env
        .oob("readlink /tmp/link; cat /tmp/real; ls -a /tmp | grep -c mcp-upload || true")
        .await;
    assert_eq!(out, "/tmp/real\nreal\n0\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_session_during_an_upload_keeps_the_original_and_leaves_no_temp() {
    let (env, mcp) = HostEnv::start_serving().await;
    let (code, _, _) = env.oob("echo original > /root/big.bin").await;
    assert_eq!(code, 0);
    let src = env.local_file("big.bin", vec![7u8; 120 << 20]);
    let upload = mcp.call(
        "ssh_upload_file",
        json!({"local_path": src, "remote_path": "/root/big.bin", "overwrite": true}),
    );
    let kill = async {
        // Kill the session's sshd once the temp file is growing.
        for _ in 0..200 {
            let (_, n, _) = env
                .oob("find /root -maxdepth 1 -name '.big.bin.*' -size +1M | wc -l")
                .await;
            if n.trim() != "0" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        env.oob("pkill -KILL -f '^sshd: root@notty'").await
    };
    let (r, _) = tokio::join!(upload, kill);
    assert!(is_error(&r), "{}", text(&r));
    let error = structured(&r)["error"].as_str().unwrap().to_string();
    assert!(error.contains("connection"), "{error}");
    // Atomic either way: the original, or (when the connection died after the rename
    // but before its answer came back) the whole new file; never a part of it.
    let (_, content, _) = env
        .oob("if [ \"$(head -c 20 /root/big.bin)\" = original ]; then echo original; else stat -c %s /root/big.bin; tr -d '\\007' < /root/big.bin | wc -c; fi")
        .await;
    assert!(
        content == "original\n" || content == format!("{}\n0\n", 120 << 20),
        "neither the original nor the whole new file: {content:?}"
    );
    // The next call reconnects and removes the temp the lost connection left.
    let r = mcp.exec("echo back").await;
    assert_ok(&r);
    let (_, left, _) = env.oob("ls -a /root | grep -c mcp-upload || true").await;
    assert_eq!(left.trim(), "0", "temp files left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_session_fails_within_the_call_timeout_and_the_next_call_works() {
    let (env, mcp) = HostEnv::start_serving().await;
    let r = mcp.exec("true").await;
    assert!(!is_error(&r));
    // Stop the connection's sshd process: the connection hangs, the host does not.
    let (code, _, _) = env.oob("pkill -STOP -f '^sshd: root@notty'").await;
    assert_eq!(code, 0);
    let started = Instant::now();
    let r = mcp.exec_within("echo hi", 5).await;
    println!(
        "the call on a hung connection returned after {:?}",
        started.elapsed()
    );
    assert!(is_error(&r));
    let error = structured(&r)["error"].as_str().unwrap().to_string();
    assert!(error.contains("did not answer"), "{error}");
    // A new connection serves the next call.
    let r = mcp.exec("echo again").await;
    assert_ok(&r);
    assert_eq!(structured(&r)["stdout"], "again\n");
    env.oob("pkill -CONT -f '^sshd: root@notty'").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_cut_off_by_a_lost_connection_is_ended_on_reconnection() {
    let (env, mcp) = HostEnv::start_serving().await;
    let call = mcp.call(
        "ssh_exec_command",
        json!({"command": "sleep 47; echo late", "timeout": 60}),
    );
    let cut = async {
        for _ in 0..100 {
            if !env.processes("sleep 47").await.trim().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        env.oob("pkill -KILL -f '^sshd: root@notty'").await
    };
    let (r, _) = tokio::join!(call, cut);
    let s = failed(&r);
    assert!(
        s["error"].as_str().unwrap().contains("connection was lost"),
        "{s}"
    );
    // sshd's death does not end the command (no pty): it lives on, under pid 1.
    assert!(!env.processes("sleep 47").await.trim().is_empty());
    let r = mcp.exec("echo next").await;
    assert_ok(&r);
    env.gone_within("sleep 47", Duration::from_secs(5))
        .await
        .expect("the orphaned command was ended over the new connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_still_running_when_the_server_stops_are_ended() {
    let env = HostEnv::start().await;
    let raw = mcp_remote_exec::config::RawConfig::from_pairs(
        env.vars(env.host.port(), &Login::Key, &[])
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    let server = mcp_remote_exec::tools::RemoteExec::new(raw.validate().unwrap());
    let (client, serving) = serve_in_process(server.clone(), ()).await;
    let call = {
        let peer = client.peer().clone();
        tokio::spawn(async move {
            let params = rmcp::model::CallToolRequestParams::new("ssh_exec_command")
                .with_arguments(
                    json!({"command": "sleep 53", "timeout": 120})
                        .as_object()
                        .cloned()
                        .unwrap(),
                );
            peer.call_tool(params).await
        })
    };
    for _ in 0..100 {
        if !env.processes("sleep 53").await.trim().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!env.processes("sleep 53").await.trim().is_empty());
    // The client goes away; the server winds down and ends what still runs.
    drop(client.cancel().await);
    let _ = tokio::time::timeout(Duration::from_secs(10), serving).await;
    call.abort();
    tokio::time::timeout(Duration::from_secs(15), server.end_running())
        .await
        .expect("ending the running commands finished");
    env.gone_within("sleep 53", Duration::from_secs(5))
        .await
        .expect("the command was ended when the server stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wrapper_needs_nothing_of_the_login_shell_and_carries_the_command_once() {
    let env = HostEnv::start().await;
    // A login shell that is not POSIX sh (as fish is not): it records each -c
    // argument and refuses POSIX compound commands, then runs the rest with dash.
    let (code, _, err) = env
        .oob(
            "printf '%s\\n' '#!/bin/sh' 'printf \"%s\\n---\\n\" \"$2\" >> /tmp/oddsh.log' \
             'case \"$2\" in *\"if \"*|*\"; fi\"*) echo \"oddsh: unknown syntax\" >&2; exit 127;; esac' \
             'exec /bin/sh \"$@\"' > /usr/local/bin/oddsh && chmod 755 /usr/local/bin/oddsh \
             && usermod -s /usr/local/bin/oddsh root",
        )
        .await;
    assert_eq!(code, 0, "{err}");
    let mcp = env.server().await;
    let r = mcp.exec("echo 'one of a kind'").await;
    assert_ok(&r);
    assert_eq!(structured(&r)["stdout"], "one of a kind\n");
    // The login shell saw the wrapper's `exec /bin/sh` and then the command, once.
    let (_, log, _) = env.oob("cat /tmp/oddsh.log").await;
    assert_eq!(log, "exec /bin/sh\n---\necho 'one of a kind'\n---\n");
    // A time-out still ends the command: the end script needs no login-shell syntax.
    let r = mcp.exec_within("sleep 71", 1).await;
    let s = structured(&r);
    assert!(
        s["error"].as_str().unwrap().ends_with("and was ended"),
        "{s}"
    );
    env.gone_within("sleep 71", Duration::from_secs(5))
        .await
        .expect("the command ended");
}
