//! The server beside the floor of SSH itself, on a stock OpenSSH host in a container
//! (test-hosts, Debian's sshd_config: 10 sessions per connection) and on fake-pve.
//! The server is the built binary, driven over stdio by the rmcp client, as an MCP
//! client runs it.
//!
//! (a) latency of a warm `ssh_exec_command("true")` ([`LATENCY_CALLS`] calls) beside
//!     the floor, `true` on a bare russh channel of an established connection, and
//!     beside multiplexed OpenSSH `ssh host true`; what one call costs the host
//!     (processes started, CPU) and this machine; the same for
//!     `proxmox_list_containers` beside `pct list` (the host's stand-in);
//! (b) upload/download of a 256 MiB file beside `sftp -b` put/get over an established
//!     ControlMaster, and beside the raw channel (`cat > /dev/null` and `cat FILE` on a
//!     bare russh channel: the cipher's limit on this machine);
//! (c) concurrency: `true` and `sleep 0.1` 1, 8 and 64 wide (calls per second, wall
//!     time, how many succeeded);
//! (d) `yes` with `timeout=3` beside another call: when it returns, and whether the
//!     other call survived;
//! (e) (a) and (c) again on fake-pve (an in-process node, so its work shares this
//!     process's cores).
//!
//! Plain Rust printing figures; no timed assertions. Run with
//! `cargo bench -p mcp-remote-exec --bench ssh_vs_openssh` (or `bash ci/bench.sh`).
//! Needs the container engine and the test-host image (`bash ci/container-engine.sh &&
//! bash ci/build-test-image.sh`) and OpenSSH's `ssh` and `sftp`.

use std::future::Future;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;
use testkit::bench::{median, ms, percentile};
use testkit::openssh::{HostEnv, Login};
use testkit::{Mcp, is_error, text};

const LATENCY_CALLS: usize = 1000;
const WARM_CALLS: usize = 20;
const PCT_CALLS: usize = 100;
const COST_CALLS: usize = 200;
const FILE_SIZE: usize = 256 * 1024 * 1024;
const TRANSFER_RUNS: usize = 3;
const WIDTHS: [usize; 3] = [1, 8, 64];
const TRUE_CALLS: usize = 256;
const SLEEP_RUNS: usize = 3;

fn main() {
    testkit::bench::main(run);
}

fn mb_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / d.as_secs_f64()
}

/// `n` timed runs of `one` after [`WARM_CALLS`] untimed ones, sorted.
async fn sample<F, Fut>(n: usize, mut one: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Duration>,
{
    for _ in 0..WARM_CALLS {
        one().await;
    }
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(one().await);
    }
    v.sort();
    v
}

/// Starts a latency table under `title`.
fn latency_table(title: &str) {
    println!();
    println!("{title}");
    println!();
    println!("| measure | mcp-remote-exec (MCP over stdio) | reference | ours / reference |");
    println!("|---|---|---|---|");
}

/// One table row: median / p90 of `ours` beside `reference`, and the ratios.
fn latency_row(measure: &str, ours: &[Duration], reference: &[Duration], what: &str) {
    let (om, op) = (ms(percentile(ours, 0.5)), ms(percentile(ours, 0.9)));
    let (rm, rp) = (
        ms(percentile(reference, 0.5)),
        ms(percentile(reference, 0.9)),
    );
    println!(
        "| {measure} | {om:.2} / {op:.2} ms | {rm:.2} / {rp:.2} ms ({what}) | {:.2} / {:.2} |",
        om / rm,
        op / rp
    );
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

/// `line` on a fresh channel of `ssh`, which must exit 0; how long it took.
async fn bare<H: russh::client::Handler>(ssh: &russh::client::Handle<H>, line: &str) -> Duration {
    let started = Instant::now();
    let done = testkit::ssh::exec(ssh, line).await;
    let took = started.elapsed();
    assert_eq!(done.exit_status, Some(0), "bare `{line}` failed");
    took
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

async fn exec_true(mcp: &Mcp) -> Duration {
    mcp_ok(mcp, "ssh_exec_command", json!({"command": "true"})).await
}

/// CPU time (user + system) of process `pid` so far, from /proc (clock ticks of
/// 10 ms).
fn process_cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15; `rest` starts at field 3.
    Duration::from_millis((f.get(11).unwrap_or(&0) + f.get(12).unwrap_or(&0)) * 10)
}

/// Busy CPU time of this whole machine so far (all cores, from /proc/stat).
fn machine_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let f: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal: everything but idle and iowait.
    let busy: u64 = f.iter().take(8).sum::<u64>() - f.get(3).unwrap_or(&0) - f.get(4).unwrap_or(&0);
    Duration::from_millis(busy * 10)
}

/// The test host's counters read out of band: the last pid given in its pid namespace
/// and its cgroup's CPU time (ns).
async fn host_counters(env: &HostEnv) -> (u64, u64) {
    let (_, out, _) = env
        .oob("cat /proc/sys/kernel/ns_last_pid /sys/fs/cgroup/cpuacct/cpuacct.usage")
        .await;
    let mut v = out
        .split_whitespace()
        .map(|x| x.parse::<u64>().unwrap_or(0));
    (v.next().unwrap_or(0), v.next().unwrap_or(0))
}

/// What one run of `work` (`calls` calls) costs: processes the host started, the
/// host's CPU, the server's CPU and this machine's, each per call.
struct Cost {
    processes: f64,
    host_cpu: f64,
    server_cpu: f64,
    machine_cpu: f64,
}

async fn cost<Fut: Future<Output = ()>>(
    env: &HostEnv,
    server: Option<u32>,
    calls: usize,
    work: Fut,
) -> Cost {
    // Reading the counters starts a process and uses CPU of its own: measured once
    // with nothing between two reads, and taken off.
    let (p0, c0) = host_counters(env).await;
    let (p1, c1) = host_counters(env).await;
    let s0 = server.map(process_cpu);
    let m0 = machine_cpu();
    work.await;
    let m1 = machine_cpu();
    let s1 = server.map(process_cpu);
    let (p2, c2) = host_counters(env).await;
    let n = calls as f64;
    Cost {
        processes: (p2 - p1) as f64 / n - (p1 - p0) as f64 / n,
        host_cpu: ((c2 - c1) as f64 - (c1 - c0) as f64) / 1e6 / n,
        server_cpu: match (s0, s1) {
            (Some(a), Some(b)) => ms(b - a) / n,
            _ => 0.0,
        },
        machine_cpu: ms(m1 - m0) / n,
    }
}

/// `calls` calls of `true`, `width` at a time: calls per second and how many succeeded.
async fn true_wide(mcp: &Mcp, width: usize, calls: usize) -> (f64, usize) {
    let started = Instant::now();
    let results: Vec<_> = futures::stream::iter(0..calls)
        .map(|_| mcp.call("ssh_exec_command", json!({"command": "true"})))
        .buffer_unordered(width)
        .collect()
        .await;
    let per_s = calls as f64 / started.elapsed().as_secs_f64();
    (per_s, results.iter().filter(|r| !is_error(r)).count())
}

/// `width` calls of `sleep 0.1` at once, [`SLEEP_RUNS`] times: the median wall time
/// and how many succeeded in all.
async fn sleep_wide(mcp: &Mcp, width: usize) -> (Duration, usize) {
    let mut walls = Vec::new();
    let mut ok = 0;
    for _ in 0..SLEEP_RUNS {
        let started = Instant::now();
        let calls =
            (0..width).map(|_| mcp.call("ssh_exec_command", json!({"command": "sleep 0.1"})));
        let results = futures::future::join_all(calls).await;
        walls.push(started.elapsed());
        ok += results.iter().filter(|r| !is_error(r)).count();
    }
    (median(walls), ok)
}

/// The concurrency table of one host.
async fn concurrency(mcp: &Mcp, host: &str) {
    // The pool opens its connections as the load asks; open them first.
    true_wide(mcp, 64, 64).await;
    println!();
    println!("{host}: concurrency");
    println!();
    println!(
        "| width | `true`: {TRUE_CALLS} calls, calls/s (× one at a time) | `sleep 0.1` at once: wall, median of {SLEEP_RUNS} | succeeded |"
    );
    println!("|---|---|---|---|");
    let mut one = 0.0;
    for w in WIDTHS {
        let (per_s, ok_true) = true_wide(mcp, w, TRUE_CALLS).await;
        if w == 1 {
            one = per_s;
        }
        let (wall, ok_sleep) = sleep_wide(mcp, w).await;
        println!(
            "| {w} | {per_s:.0} ({:.2}×) | {:.3} s | {ok_true}/{TRUE_CALLS} `true`, {ok_sleep}/{} `sleep 0.1` |",
            per_s / one,
            wall.as_secs_f64(),
            w * SLEEP_RUNS
        );
    }
}

async fn run() {
    let binary = Path::new(env!("CARGO_BIN_EXE_mcp-remote-exec"));
    println!("starting a test host…");
    let env = HostEnv::start().await;
    let port = env.host.port();
    let most = (FILE_SIZE + (1 << 20)).to_string();
    let (mcp, server_pid) = Mcp::spawn(
        binary,
        &env.vars(port, &Login::Key, &[("MAX_FILE_SIZE", most)]),
    )
    .await;
    let control = env.dir.path().join("cm");
    let opts = ssh_opts(&env, &control);
    let ssh = testkit::hosts::connect(&env.host, testkit::hosts::Auth::Key).await;

    // (a) latency of one small command on a warm connection, and what it costs.
    let ours = sample(LATENCY_CALLS, || exec_true(&mcp)).await;
    let floor = sample(LATENCY_CALLS, || bare(&ssh, "true")).await;
    let theirs = sample(LATENCY_CALLS, || {
        openssh("ssh", &opts, port, &["root@127.0.0.1", "true"])
    })
    .await;
    let ours_cost = cost(&env, Some(server_pid), COST_CALLS, async {
        for _ in 0..COST_CALLS {
            exec_true(&mcp).await;
        }
    })
    .await;
    let floor_cost = cost(&env, None, COST_CALLS, async {
        for _ in 0..COST_CALLS {
            bare(&ssh, "true").await;
        }
    })
    .await;
    // The same for `pct list` (the test host's stand-in).
    let (pve, _) = Mcp::spawn(
        binary,
        &env.vars(port, &Login::Key, &[("ENABLE_PROXMOX", "true".into())]),
    )
    .await;
    let lists = sample(PCT_CALLS, || {
        mcp_ok(&pve, "proxmox_list_containers", json!({}))
    })
    .await;
    let pct_floor = sample(PCT_CALLS, || bare(&ssh, "pct list")).await;
    let pct_ssh = sample(PCT_CALLS, || {
        openssh("ssh", &opts, port, &["root@127.0.0.1", "pct list"])
    })
    .await;
    drop(pve);

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
    let mut raw_up = Vec::new();
    let mut raw_down = Vec::new();
    for _ in 0..TRANSFER_RUNS {
        raw_up.push(raw_upload(&ssh, &data).await);
        raw_down.push(raw_download(&ssh, "/root/bench.bin", FILE_SIZE).await);
    }
    drop(ssh);
    drop(data);
    let (raw_up, raw_down) = (median(raw_up), median(raw_down));

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

    latency_table("stock OpenSSH host (a container; Debian's sshd_config, MaxSessions 10)");
    let n = LATENCY_CALLS;
    latency_row(
        &format!("exec `true`, warm, median / p90 of {n}"),
        &ours,
        &floor,
        "the floor: `true` on a bare russh channel",
    );
    latency_row(
        "the same beside OpenSSH",
        &ours,
        &theirs,
        "`ssh` on an established ControlMaster",
    );
    latency_row(
        &format!("`proxmox_list_containers` (the host's `pct`), of {PCT_CALLS}"),
        &lists,
        &pct_floor,
        "`pct list` on a bare russh channel",
    );
    latency_row(
        "the same beside OpenSSH",
        &lists,
        &pct_ssh,
        "`ssh … pct list`, ControlMaster",
    );
    let mb = FILE_SIZE / (1024 * 1024);
    println!(
        "| upload / download {mb} MiB, median of {TRANSFER_RUNS} | {:.0} / {:.0} MB/s | {:.0} / {:.0} MB/s (`sftp -b` put / get, ControlMaster) | {:.2} / {:.2} |",
        mb_per_s(FILE_SIZE, up),
        mb_per_s(FILE_SIZE, down),
        mb_per_s(FILE_SIZE, sftp_up),
        mb_per_s(FILE_SIZE, sftp_down),
        sftp_up.as_secs_f64() / up.as_secs_f64(),
        sftp_down.as_secs_f64() / down.as_secs_f64()
    );
    println!(
        "| the same beside the raw channel | {:.0} / {:.0} MB/s | {:.0} / {:.0} MB/s (`cat > /dev/null` / `cat FILE`, bare russh channel) | {:.2} / {:.2} |",
        mb_per_s(FILE_SIZE, up),
        mb_per_s(FILE_SIZE, down),
        mb_per_s(FILE_SIZE, raw_up),
        mb_per_s(FILE_SIZE, raw_down),
        raw_up.as_secs_f64() / up.as_secs_f64(),
        raw_down.as_secs_f64() / down.as_secs_f64()
    );
    println!(
        "| `yes`, `timeout=3`, beside `sleep 4; echo survived` | returned after {:.2} s (\"{flood_error}\"); the other call {} | — | — |",
        flood_took.as_secs_f64(),
        if survived { "succeeded" } else { "FAILED" }
    );
    println!();
    println!("What one exec `true` costs, per call (mean of {COST_CALLS}):");
    println!();
    println!(
        "| | processes the host starts | host CPU | server CPU | this machine's CPU, all of it |"
    );
    println!("|---|---|---|---|---|");
    for (name, c) in [
        ("mcp-remote-exec", &ours_cost),
        ("bare russh channel", &floor_cost),
    ] {
        println!(
            "| {name} | {:.1} | {:.2} ms | {:.2} ms | {:.2} ms |",
            c.processes, c.host_cpu, c.server_cpu, c.machine_cpu
        );
    }
    concurrency(&mcp, "stock OpenSSH host").await;
    drop(mcp);

    // (e) the same on fake-pve.
    println!();
    println!("starting a fake-pve node…");
    let fake = testkit::fake::Fake::start().await;
    let vars: Vec<(String, String)> = [
        ("I_ACCEPT_RISKS", "true".to_string()),
        ("HOST", "127.0.0.1".into()),
        ("SSH_PORT", fake.port().to_string()),
        ("SSH_KEY", fake.key_path.display().to_string()),
        ("SSH_KNOWN_HOSTS", fake.known_hosts.display().to_string()),
        ("SSH_CONFIG", "none".into()),
        ("HOME", fake.dir.path().display().to_string()),
        ("ENABLE_PROXMOX", "true".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let (mcp, _) = Mcp::spawn(binary, &vars).await;
    let ssh = fake.russh("root", true).await;
    let ours = sample(LATENCY_CALLS, || exec_true(&mcp)).await;
    let floor = sample(LATENCY_CALLS, || bare(&ssh, "true")).await;
    let lists = sample(PCT_CALLS, || {
        mcp_ok(&mcp, "proxmox_list_containers", json!({}))
    })
    .await;
    let pct_floor = sample(PCT_CALLS, || bare(&ssh, "pct list")).await;
    latency_table("fake-pve (in this process)");
    latency_row(
        &format!("exec `true`, warm, median / p90 of {n}"),
        &ours,
        &floor,
        "the floor: `true` on a bare russh channel",
    );
    latency_row(
        &format!("`proxmox_list_containers`, of {PCT_CALLS}"),
        &lists,
        &pct_floor,
        "`pct list` on a bare russh channel",
    );
    concurrency(&mcp, "fake-pve").await;
    println!();
    println!(
        "(latency ratio: > 1 means slower than the reference; throughput ratio: < 1 means slower)"
    );
}
