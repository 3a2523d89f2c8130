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
//!     their throughput;
//! (e) Proxmox paths on a fake node of [`CONTAINERS`] containers: `proxmox_list_containers`
//!     per call (median and p90 of [`LIST_CALLS`]) beside `pct list` on a bare russh
//!     channel of the same node, and a [`PUSH_MIB`] MiB push into / pull out of a
//!     container beside the same file moved to and from the host.
//!
//! Plain Rust printing figures; no timed assertions. Run with
//! `cargo bench -p mcp-remote-exec --bench footprint` (`--profile dev` builds faster
//! and measures a debug build). FOOTPRINT_TRANSFER_MIB changes the transfer size.

use std::process::Stdio;
use std::time::{Duration, Instant};

use fake_pve::fixture::Fixture;
use fake_pve::node::TestNode;
use serde_json::{Value, json};
use testkit::bench::{mib, most_rss, ms, patterned_file, percentile};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

const STARTS: usize = 20;
const PRINTED: u64 = 200_000_000;
const TRANSFER_MIB: u64 = 256;
const CONTAINERS: u32 = 1000;
const LIST_CALLS: usize = 50;
const PUSH_MIB: u64 = 64;

fn main() {
    testkit::bench::main(run);
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
        (
            "MAX_FILE_SIZE",
            ((transfer_mib.max(PUSH_MIB) + 1) << 20).to_string(),
        ),
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
    let (_, printing) = most_rss(
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
    patterned_file(&local, transfer_mib, 251);
    let started = Instant::now();
    let (_, up_rss) = most_rss(
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
    let (_, down_rss) = most_rss(
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

    // (e) Proxmox paths on a node of CONTAINERS containers.
    let many = {
        let mut text = String::from("node = \"pve\"\n");
        for i in 0..CONTAINERS {
            text.push_str(&format!(
                "[[containers]]\nvmid = {}\nhostname = \"ct{i}\"\nstatus = \"{}\"\n",
                100 + i,
                if i % 3 == 0 { "stopped" } else { "running" }
            ));
        }
        Fixture::parse(&text).expect("the generated fixture")
    };
    let big_dir = tempfile::tempdir().unwrap();
    let (big, big_key, big_known) =
        testkit::start_node(TestNode::builder(many), big_dir.path(), true).await;
    let mut pve_env = env.clone();
    for (k, v) in pve_env.iter_mut() {
        match k.as_str() {
            "SSH_PORT" => *v = big.port().to_string(),
            "SSH_KEY" => *v = big_key.display().to_string(),
            "SSH_KNOWN_HOSTS" => *v = big_known.display().to_string(),
            _ => {}
        }
    }
    pve_env.push(("ENABLE_PROXMOX".into(), "true".into()));
    let mut server = Server::spawn(&pve_env).await;
    server.initialize().await;
    let mut listed = 0;
    for _ in 0..5 {
        let r = server
            .call(
                "proxmox_list_containers",
                json!({"response_format": "json"}),
            )
            .await;
        listed = r["result"]["structuredContent"]["containers"]
            .as_array()
            .map_or(0, Vec::len);
    }
    let mut lists = Vec::new();
    for _ in 0..LIST_CALLS {
        let started = Instant::now();
        server
            .call(
                "proxmox_list_containers",
                json!({"response_format": "json"}),
            )
            .await;
        lists.push(started.elapsed());
    }
    lists.sort();
    let bare = {
        let config = std::sync::Arc::new(russh::client::Config::default());
        let key = testkit::ssh::ExpectKey(big.server.host_public_key().clone());
        let mut handle = russh::client::connect(config, big.server.addr(), key)
            .await
            .expect("a bare connection");
        let client_key = big.client_key.clone().expect("a client key");
        let auth = handle
            .authenticate_publickey(
                "root",
                russh::keys::PrivateKeyWithHashAlg::new(std::sync::Arc::new(client_key), None),
            )
            .await
            .unwrap();
        assert!(auth.success(), "the bare client logged in");
        handle
    };
    let mut floor = Vec::new();
    for _ in 0..LIST_CALLS {
        let started = Instant::now();
        let out = testkit::ssh::exec(&bare, "pct list").await;
        floor.push(started.elapsed());
        assert_eq!(out.exit_status, Some(0), "pct list");
    }
    floor.sort();
    let push_file = big_dir.path().join("push.bin");
    patterned_file(&push_file, PUSH_MIB, 253);
    let pulled = big_dir.path().join("pulled.bin");
    let timed = |started: Instant| PUSH_MIB as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    server
        .call(
            "ssh_upload_file",
            json!({"local_path": push_file, "remote_path": "/tmp/push.bin", "overwrite": true}),
        )
        .await;
    let host_up = timed(started);
    let started = Instant::now();
    server
        .call(
            "ssh_download_file",
            json!({"remote_path": "/tmp/push.bin", "local_path": pulled, "overwrite": true}),
        )
        .await;
    let host_down = timed(started);
    let started = Instant::now();
    server
        .call(
            "proxmox_upload_file_to_container",
            json!({"ctid": 101, "local_path": push_file, "container_path": "/root/push.bin", "overwrite": true}),
        )
        .await;
    let ct_up = timed(started);
    let started = Instant::now();
    server
        .call(
            "proxmox_download_file_from_container",
            json!({"ctid": 101, "container_path": "/root/push.bin", "local_path": pulled, "overwrite": true}),
        )
        .await;
    let ct_down = timed(started);
    let pulled_ok = std::fs::read(&pulled).ok() == std::fs::read(&push_file).ok();
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
    println!(
        "| `proxmox_list_containers` of {listed} containers, median / p90 of {LIST_CALLS} | {:.1} / {:.1} ms; `pct list` on a bare channel {:.1} / {:.1} ms ({:.2}×) | < 20 ms |",
        ms(percentile(&lists, 0.5)),
        ms(percentile(&lists, 0.9)),
        ms(percentile(&floor, 0.5)),
        ms(percentile(&floor, 0.9)),
        ms(percentile(&lists, 0.5)) / ms(percentile(&floor, 0.5))
    );
    println!(
        "| {PUSH_MIB} MiB into / out of a container | {ct_up:.0} / {ct_down:.0} MiB/s; to / from the host {host_up:.0} / {host_down:.0} MiB/s ({:.2} / {:.2}×){} | ≥ 0.5× |",
        ct_up / host_up,
        ct_down / host_down,
        if pulled_ok {
            ""
        } else {
            " (THE PULLED FILE DIFFERS)"
        }
    );
    println!();
    big.server.shutdown().await;
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
