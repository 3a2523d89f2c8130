//! A first benchmark against one real OpenSSH host in a container (test-hosts): the
//! server through MCP beside OpenSSH's own clients on the same host.
//!
//! (a) latency of a warm `ssh_exec_command("true")` vs a multiplexed `ssh host true`,
//!     and vs the floor: `true` on a bare russh channel of an established connection;
//!     the same for `proxmox_list_containers` vs `pct list` (the host's stand-in);
//! (b) upload/download throughput of a 256 MiB file vs `sftp -b` put/get, and vs the raw
//!     channel (`cat > /dev/null` and `cat FILE` on a bare russh channel: the cipher's
//!     limit on this machine);
//! (c) 64 concurrent `ssh_exec_command("sleep 1")` and `("sleep 0.1")` on a stock host
//!     (MaxSessions 10): wall time and how many succeeded;
//! (d) `yes` with `timeout=3` beside another call: when it returns, and whether the
//!     other call survived.
//!
//! Plain Rust printing figures; no timed assertions. Run with
//! `cargo bench -p mcp-remote-exec --bench ssh_vs_openssh` (or `bash ci/bench.sh`).
//! Needs the container engine and the test-host image (`bash ci/container-engine.sh &&
//! bash ci/build-test-image.sh`) and OpenSSH's `ssh` and `sftp`.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;
use testkit::bench::{median, ms, percentile};
use testkit::openssh::HostEnv;
use testkit::{Mcp, is_error, text};

const LATENCY_CALLS: usize = 50;
const FILE_SIZE: usize = 256 * 1024 * 1024;
const TRANSFER_RUNS: usize = 3;
const CONCURRENT: usize = 64;

fn main() {
    testkit::bench::main(run);
}

fn mb_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / d.as_secs_f64()
}

/// The OpenSSH client options for this host, multiplexed over `control`.
fn ssh_opts(env: &HostEnv, control: &Path) -> Vec<String> {
    vec![
        "-o".into(),
        "BatchMode=yes".into(),
        "-o".into(),
        "StrictHostKeyChecking=yes".into(),
        "-o".into(),
        format!("UserKnownHostsFile={}", env.known_hosts.display()),
        "-o".into(),
        "IdentitiesOnly=yes".into(),
        "-i".into(),
        env.key_path.display().to_string(),
        "-o".into(),
        "ControlMaster=auto".into(),
        "-o".into(),
        format!("ControlPath={}", control.display()),
        "-o".into(),
        "ControlPersist=60".into(),
        "-P_PORT_".into(),
    ]
}

/// Runs an OpenSSH client (`ssh` or `sftp`), output discarded (a backgrounded
/// ControlPersist master would otherwise hold a captured pipe open), bounded.
async fn openssh(program: &str, opts: &[String], port: u16, args: &[&str]) -> Duration {
    let port_flag = if program == "sftp" { "-P" } else { "-p" };
    let mut cmd = tokio::process::Command::new(program);
    for o in opts {
        if o == "-P_PORT_" {
            cmd.arg(port_flag).arg(port.to_string());
        } else {
            cmd.arg(o);
        }
    }
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let started = Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(120), cmd.status())
        .await
        .unwrap_or_else(|_| panic!("{program} {args:?} finished within 120 s"))
        .expect("the OpenSSH client runs");
    assert!(status.success(), "{program} {args:?}: {status}");
    started.elapsed()
}

/// `data` into `cat > /dev/null` on a fresh channel, to its exit.
async fn raw_upload<H: russh::client::Handler>(
    ssh: &russh::client::Handle<H>,
    data: &[u8],
) -> Duration {
    let started = Instant::now();
    let mut channel = ssh.channel_open_session().await.expect("a channel");
    channel.exec(true, "cat > /dev/null").await.unwrap();
    channel.data(data).await.unwrap();
    channel.eof().await.unwrap();
    let mut status = None;
    while let Some(msg) = channel.wait().await {
        if let russh::ChannelMsg::ExitStatus { exit_status } = msg {
            status = Some(exit_status);
        }
    }
    assert_eq!(status, Some(0), "cat > /dev/null failed");
    started.elapsed()
}

/// `cat path` on a fresh channel, read to its end (`size` bytes expected).
async fn raw_download<H: russh::client::Handler>(
    ssh: &russh::client::Handle<H>,
    path: &str,
    size: usize,
) -> Duration {
    let started = Instant::now();
    let mut channel = ssh.channel_open_session().await.expect("a channel");
    channel.exec(true, format!("cat {path}")).await.unwrap();
    let mut got = 0;
    while let Some(msg) = channel.wait().await {
        if let russh::ChannelMsg::Data { data } = msg {
            got += data.len();
        }
    }
    assert_eq!(got, size, "cat {path} sent every byte");
    started.elapsed()
}

async fn mcp_ok(mcp: &Mcp, tool: &str, args: serde_json::Value) -> Duration {
    let started = Instant::now();
    let r = mcp.call(tool, args).await;
    let took = started.elapsed();
    assert!(!is_error(&r), "{tool}: {}", text(&r));
    took
}

async fn run() {
    println!("starting a test host…");
    let env = HostEnv::start().await;
    let most = (FILE_SIZE + (1 << 20)).to_string();
    let mcp = env
        .server_with(&testkit::openssh::Login::Key, &[("MAX_FILE_SIZE", most)])
        .await;
    let port = env.host.port();
    let control = env.dir.path().join("cm");
    let opts = ssh_opts(&env, &control);

    // (a) latency of one small command on a warm connection.
    for _ in 0..5 {
        mcp_ok(&mcp, "ssh_exec_command", json!({"command": "true"})).await;
    }
    let mut ours = Vec::new();
    for _ in 0..LATENCY_CALLS {
        ours.push(mcp_ok(&mcp, "ssh_exec_command", json!({"command": "true"})).await);
    }
    ours.sort();
    for _ in 0..5 {
        openssh("ssh", &opts, port, &["root@127.0.0.1", "true"]).await;
    }
    let mut theirs = Vec::new();
    for _ in 0..LATENCY_CALLS {
        theirs.push(openssh("ssh", &opts, port, &["root@127.0.0.1", "true"]).await);
    }
    theirs.sort();
    // The floor: what one exec costs on SSH itself, without MCP, the pool or the
    // wrapper that makes timeouts real.
    let bare = testkit::hosts::connect(&env.host, testkit::hosts::Auth::Key).await;
    for _ in 0..5 {
        testkit::ssh::exec(&bare, "true").await;
    }
    let mut floor = Vec::new();
    for _ in 0..LATENCY_CALLS {
        let started = Instant::now();
        let done = testkit::ssh::exec(&bare, "true").await;
        floor.push(started.elapsed());
        assert_eq!(done.exit_status, Some(0), "bare `true` failed");
    }
    floor.sort();
    // The same for `pct list` (the test host's stand-in): the proxmox tool beside the
    // bare channel and beside multiplexed `ssh`.
    let pve = env
        .server_with(
            &testkit::openssh::Login::Key,
            &[("ENABLE_PROXMOX", "true".to_string())],
        )
        .await;
    let list = || mcp_ok(&pve, "proxmox_list_containers", json!({}));
    for _ in 0..5 {
        list().await;
    }
    let mut lists = Vec::new();
    for _ in 0..LATENCY_CALLS {
        lists.push(list().await);
    }
    lists.sort();
    let mut pct_floor = Vec::new();
    let mut pct_ssh = Vec::new();
    for _ in 0..LATENCY_CALLS {
        let started = Instant::now();
        let done = testkit::ssh::exec(&bare, "pct list").await;
        pct_floor.push(started.elapsed());
        assert_eq!(done.exit_status, Some(0), "bare `pct list` failed");
        pct_ssh.push(openssh("ssh", &opts, port, &["root@127.0.0.1", "pct list"]).await);
    }
    pct_floor.sort();
    pct_ssh.sort();
    drop(bare);

    // (b) throughput of a 256 MiB file, each direction, median of a few runs.
    let data: Vec<u8> = {
        let mut v = vec![0u8; FILE_SIZE];
        rand::fill(&mut v[..]);
        v
    };
    let local = env.dir.path().join("bench.bin");
    std::fs::write(&local, &data).unwrap();
    let back = env.dir.path().join("bench.back");
    let mut up = Vec::new();
    let mut down = Vec::new();
    for _ in 0..TRANSFER_RUNS {
        up.push(
            mcp_ok(
                &mcp,
                "ssh_upload_file",
                json!({"local_path": local, "remote_path": "/root/bench.bin", "overwrite": true}),
            )
            .await,
        );
        down.push(
            mcp_ok(
                &mcp,
                "ssh_download_file",
                json!({"remote_path": "/root/bench.bin", "local_path": back, "overwrite": true}),
            )
            .await,
        );
    }
    assert_eq!(
        std::fs::read(&back).unwrap(),
        data,
        "the download is intact"
    );
    let batch_put = env.dir.path().join("put.batch");
    let batch_get = env.dir.path().join("get.batch");
    std::fs::write(
        &batch_put,
        format!("put {} /root/bench-sftp.bin\n", local.display()),
    )
    .unwrap();
    std::fs::write(
        &batch_get,
        format!("get /root/bench-sftp.bin {}\n", back.display()),
    )
    .unwrap();
    let mut sftp_up = Vec::new();
    let mut sftp_down = Vec::new();
    for _ in 0..TRANSFER_RUNS {
        let put = ["-b", batch_put.to_str().unwrap(), "root@127.0.0.1"];
        sftp_up.push(openssh("sftp", &opts, port, &put).await);
        let get = ["-b", batch_get.to_str().unwrap(), "root@127.0.0.1"];
        sftp_down.push(openssh("sftp", &opts, port, &get).await);
    }
    let (up, down) = (median(up), median(down));
    let (sftp_up, sftp_down) = (median(sftp_up), median(sftp_down));
    // The raw channel: the same bytes through one channel, no SFTP, no files written.
    let bare = testkit::hosts::connect(&env.host, testkit::hosts::Auth::Key).await;
    let mut raw_up = Vec::new();
    let mut raw_down = Vec::new();
    for _ in 0..TRANSFER_RUNS {
        raw_up.push(raw_upload(&bare, &data).await);
        raw_down.push(raw_download(&bare, "/root/bench.bin", FILE_SIZE).await);
    }
    drop(bare);
    let (raw_up, raw_down) = (median(raw_up), median(raw_down));

    // (c) many slow commands at once: beyond one connection's 10 sessions (stock
    // MaxSessions), so the pool opens more connections and queues the rest.
    let started = Instant::now();
    let calls =
        (0..CONCURRENT).map(|_| mcp_ok(&mcp, "ssh_exec_command", json!({"command": "sleep 1"})));
    futures::future::join_all(calls).await;
    let concurrent = started.elapsed();
    let mut short = Vec::new();
    let mut short_ok = 0;
    for _ in 0..3 {
        let started = Instant::now();
        let calls =
            (0..CONCURRENT).map(|_| mcp.call("ssh_exec_command", json!({"command": "sleep 0.1"})));
        let results = futures::future::join_all(calls).await;
        short.push(started.elapsed());
        short_ok = results.iter().filter(|r| !is_error(r)).count();
    }
    let short = median(short);

    // (d) a command that floods stdout, ended by its timeout, beside another call.
    let started = Instant::now();
    let flood = async {
        let r = mcp
            .call("ssh_exec_command", json!({"command": "yes", "timeout": 3}))
            .await;
        (started.elapsed(), r)
    };
    let (flood, other) = tokio::join!(
        flood,
        mcp.call(
            "ssh_exec_command",
            json!({"command": "sleep 4; echo survived"})
        )
    );
    let (flood_took, flood) = flood;
    let flood_error = flood
        .structured_content
        .as_ref()
        .and_then(|s| s["error"].as_str().map(str::to_string))
        .unwrap_or_default();
    let survived = !is_error(&other) && text(&other).contains("survived");

    let _ = tokio::process::Command::new("ssh")
        .args(["-o", &format!("ControlPath={}", control.display())])
        .args(["-O", "exit", "root@127.0.0.1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;

    let (om, op90) = (percentile(&ours, 0.5), percentile(&ours, 0.9));
    let (tm, tp90) = (percentile(&theirs, 0.5), percentile(&theirs, 0.9));
    let (fm, fp90) = (percentile(&floor, 0.5), percentile(&floor, 0.9));
    println!();
    println!("| measure | mcp-remote-exec (MCP) | OpenSSH | ratio (ours / OpenSSH) |");
    println!("|---|---|---|---|");
    println!(
        "| exec `true`, warm, median of {LATENCY_CALLS} | {:.1} ms | {:.1} ms (ssh, ControlMaster) | {:.2} |",
        ms(om),
        ms(tm),
        ms(om) / ms(tm)
    );
    println!(
        "| exec `true`, warm, p90 | {:.1} ms | {:.1} ms | {:.2} |",
        ms(op90),
        ms(tp90),
        ms(op90) / ms(tp90)
    );
    println!(
        "| exec `true`, warm, median / p90, beside the floor | {:.1} / {:.1} ms | {:.1} / {:.1} ms (bare russh channel) | {:.2} / {:.2} |",
        ms(om),
        ms(op90),
        ms(fm),
        ms(fp90),
        ms(om) / ms(fm),
        ms(op90) / ms(fp90)
    );
    println!(
        "| `proxmox_list_containers` (the host's `pct` stand-in), median / p90 | {:.1} / {:.1} ms | {:.1} / {:.1} ms (`pct list`, bare russh channel); {:.1} ms (ssh, ControlMaster) | {:.2} / {:.2} |",
        ms(percentile(&lists, 0.5)),
        ms(percentile(&lists, 0.9)),
        ms(percentile(&pct_floor, 0.5)),
        ms(percentile(&pct_floor, 0.9)),
        ms(percentile(&pct_ssh, 0.5)),
        ms(percentile(&lists, 0.5)) / ms(percentile(&pct_floor, 0.5)),
        ms(percentile(&lists, 0.9)) / ms(percentile(&pct_floor, 0.9))
    );
    let mb = FILE_SIZE / (1024 * 1024);
    println!(
        "| upload {mb} MB, median of {TRANSFER_RUNS} | {:.0} MB/s ({:.2} s) | {:.0} MB/s ({:.2} s, sftp -b put) | {:.2} |",
        mb_per_s(FILE_SIZE, up),
        up.as_secs_f64(),
        mb_per_s(FILE_SIZE, sftp_up),
        sftp_up.as_secs_f64(),
        mb_per_s(FILE_SIZE, up) / mb_per_s(FILE_SIZE, sftp_up)
    );
    println!(
        "| download {mb} MB, median of {TRANSFER_RUNS} | {:.0} MB/s ({:.2} s) | {:.0} MB/s ({:.2} s, sftp -b get) | {:.2} |",
        mb_per_s(FILE_SIZE, down),
        down.as_secs_f64(),
        mb_per_s(FILE_SIZE, sftp_down),
        sftp_down.as_secs_f64(),
        mb_per_s(FILE_SIZE, down) / mb_per_s(FILE_SIZE, sftp_down)
    );
    println!(
        "| upload / download {mb} MB beside the raw channel | {:.0} / {:.0} MB/s | {:.0} / {:.0} MB/s (`cat > /dev/null` / `cat FILE`, bare russh channel) | {:.2} / {:.2} |",
        mb_per_s(FILE_SIZE, up),
        mb_per_s(FILE_SIZE, down),
        mb_per_s(FILE_SIZE, raw_up),
        mb_per_s(FILE_SIZE, raw_down),
        mb_per_s(FILE_SIZE, up) / mb_per_s(FILE_SIZE, raw_up),
        mb_per_s(FILE_SIZE, down) / mb_per_s(FILE_SIZE, raw_down)
    );
    println!(
        "| {CONCURRENT} concurrent `sleep 1` | {:.2} s wall | — | {:.2} × one call |",
        concurrent.as_secs_f64(),
        concurrent.as_secs_f64()
    );
    println!(
        "| {CONCURRENT} concurrent `sleep 0.1`, median of 3 | {:.2} s wall, {short_ok}/{CONCURRENT} succeeded (last run) | — | — |",
        short.as_secs_f64()
    );
    println!(
        "| `yes` with timeout=3 beside `sleep 4; echo survived` | returned after {:.2} s (\"{flood_error}\"); the other call {} | — | — |",
        flood_took.as_secs_f64(),
        if survived { "succeeded" } else { "FAILED" }
    );
    println!();
    println!("(latency ratio: >1 means slower than OpenSSH; throughput ratio: <1 means slower)");
}
