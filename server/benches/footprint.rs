//! The server's footprint, measured on the real binary driven over stdio with raw
//! JSON-RPC lines, against a fake-pve node running in this process (so the host's own
//! work is not counted in the server's memory):
//!
//! (a) cold start to the tools/list answer: spawn, initialize, tools/list (median and
//!     p90 of [`STARTS`] starts; no host is contacted before the first tool call);
//! (b) idle resident memory after tools/list;
//! (c) resident memory while a command prints [`PRINTED`] bytes (sampled during the
//!     call, and the peak) and how fast the output went through;
//! (d) resident memory during a [`TRANSFER_MIB`] MiB upload and download (peak), and
//!     their throughput.
//!
//! Plain Rust printing figures; no timed assertions. Run with
//! `cargo bench -p mcp-remote-exec --bench footprint` (`--profile dev` builds faster
//! and measures a debug build). FOOTPRINT_TRANSFER_MIB changes the transfer size.

use std::process::Stdio;
use std::time::{Duration, Instant};

use fake_pve::fixture::Fixture;
use fake_pve::node::TestNode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

const STARTS: usize = 20;
const PRINTED: u64 = 200_000_000;
const TRANSFER_MIB: u64 = 256;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(run());
}

/// The server binary on stdio, and the lines it answers with.
struct Server {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    next_id: u64,
}

impl Server {
    async fn spawn(env: &[(String, String)]) -> Server {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcp-remote-exec"))
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the server starts");
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Server {
            child,
            stdin,
            lines,
            next_id: 1,
        }
    }

    async fn send(&mut self, message: Value) {
        let mut line = message.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    /// Sends a request and waits for its answer (skipping notifications).
    async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        loop {
            let line = tokio::time::timeout(Duration::from_secs(600), self.lines.next_line())
                .await
                .expect("an answer within 10 minutes")
                .unwrap()
                .expect("the server still answers");
            let v: Value = serde_json::from_str(&line).expect("a JSON-RPC line");
            if v["id"] == json!(id) {
                return v;
            }
        }
    }

    async fn initialize(&mut self) {
        self.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "footprint", "version": "0"}}),
        )
        .await;
        self.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
    }

    async fn call(&mut self, tool: &str, arguments: Value) -> Value {
        let r = self
            .request("tools/call", json!({"name": tool, "arguments": arguments}))
            .await;
        assert_ne!(r["result"]["isError"], json!(true), "{tool}: {r}");
        r
    }

    fn pid(&self) -> u32 {
        self.child.id().expect("still running")
    }

    async fn stop(mut self) {
        drop(self.stdin);
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }
}

/// A field of /proc/PID/status in MiB (VmRSS now, VmHWM the peak).
fn mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kib| kib / 1024.0)
        .unwrap_or(f64::NAN)
}

/// The largest VmRSS seen, sampled every 20 ms until `done`.
async fn sampled<T>(pid: u32, work: impl std::future::Future<Output = T>) -> (T, f64) {
    let stop = tokio_util::sync::CancellationToken::new();
    let watcher = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut most: f64 = 0.0;
            while !stop.is_cancelled() {
                most = most.max(mib(pid, "VmRSS:"));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            most
        })
    };
    let out = work.await;
    stop.cancel();
    (out, watcher.await.unwrap())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn run() {
    let dir = tempfile::tempdir().unwrap();
    let (node, key, known_hosts) = testkit::start_node(
        TestNode::builder(Fixture::default_fixture()),
        dir.path(),
        true,
    )
    .await;
    let transfer_mib: u64 = std::env::var("FOOTPRINT_TRANSFER_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(TRANSFER_MIB);
    let env: Vec<(String, String)> = [
        ("I_ACCEPT_RISKS", "true".to_string()),
        ("HOST", "127.0.0.1".into()),
        ("SSH_PORT", node.port().to_string()),
        ("SSH_KEY", key.display().to_string()),
        ("SSH_KNOWN_HOSTS", known_hosts.display().to_string()),
        ("SSH_CONFIG", "none".into()),
        ("HOME", dir.path().display().to_string()),
        ("MAX_FILE_SIZE", ((transfer_mib + 1) << 20).to_string()),
        ("RUST_LOG", "warn".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();

    // (a) cold start to tools/list, and (b) idle memory after it.
    let mut starts = Vec::new();
    let mut idle = 0.0;
    let mut tools = 0;
    for _ in 0..STARTS {
        let started = Instant::now();
        let mut server = Server::spawn(&env).await;
        server.initialize().await;
        let listed = server.request("tools/list", json!({})).await;
        starts.push(started.elapsed());
        tools = listed["result"]["tools"].as_array().map_or(0, Vec::len);
        tokio::time::sleep(Duration::from_millis(200)).await;
        idle = mib(server.pid(), "VmRSS:");
        server.stop().await;
    }
    starts.sort();

    // (c) a command that prints PRINTED bytes.
    let mut server = Server::spawn(&env).await;
    server.initialize().await;
    server
        .call("ssh_exec_command", json!({"command": "true"}))
        .await;
    let before = mib(server.pid(), "VmRSS:");
    let pid = server.pid();
    let started = Instant::now();
    let (_, printing) = sampled(
        pid,
        server.call(
            "ssh_exec_command",
            json!({"command": format!("yes | head -c {PRINTED}"), "timeout": 300}),
        ),
    )
    .await;
    let printed_in = started.elapsed();

    // (d) an upload and a download of transfer_mib MiB.
    let local = dir.path().join("big.bin");
    {
        let chunk: Vec<u8> = (0..(1u32 << 20)).map(|i| (i % 251) as u8).collect();
        let mut f = std::fs::File::create(&local).unwrap();
        for _ in 0..transfer_mib {
            std::io::Write::write_all(&mut f, &chunk).unwrap();
        }
    }
    let started = Instant::now();
    let (_, up_rss) = sampled(
        pid,
        server.call(
            "ssh_upload_file",
            json!({"local_path": local, "remote_path": "/tmp/big.bin", "overwrite": true}),
        ),
    )
    .await;
    let up = started.elapsed();
    let back = dir.path().join("back.bin");
    let started = Instant::now();
    let (_, down_rss) = sampled(
        pid,
        server.call(
            "ssh_download_file",
            json!({"remote_path": "/tmp/big.bin", "local_path": back, "overwrite": true}),
        ),
    )
    .await;
    let down = started.elapsed();
    let same = std::fs::metadata(&back).map(|m| m.len()).ok() == Some(transfer_mib << 20);
    let peak = mib(pid, "VmHWM:");
    server.stop().await;

    println!();
    println!("| measure | mcp-remote-exec | target |");
    println!("|---|---|---|");
    println!(
        "| cold start to the tools/list answer ({tools} tools), median / p90 of {STARTS} | {:.1} / {:.1} ms | < 15 ms |",
        ms(percentile(&starts, 0.5)),
        ms(percentile(&starts, 0.9))
    );
    println!("| resident memory, idle after tools/list | {idle:.1} MiB | < 15 MiB |");
    println!(
        "| resident memory while a command prints {} MB (before / most seen) | {before:.1} / {printing:.1} MiB; {:.0} MB/s through | < 64 MiB |",
        PRINTED / 1_000_000,
        PRINTED as f64 / 1e6 / printed_in.as_secs_f64()
    );
    println!(
        "| resident memory during a {transfer_mib} MiB upload / download (most seen) | {up_rss:.1} / {down_rss:.1} MiB; {:.0} / {:.0} MiB/s{} | < 64 MiB |",
        transfer_mib as f64 / up.as_secs_f64(),
        transfer_mib as f64 / down.as_secs_f64(),
        if same {
            ""
        } else {
            " (the download's size differs!)"
        }
    );
    println!("| peak resident memory of the whole run (VmHWM) | {peak:.1} MiB | — |");
    println!();
    println!(
        "(the host is fake-pve in the benchmark's own process; the server is the {} build of the binary)",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    node.server.shutdown().await;
}
