//! The end-to-end suite: the built `mcp-remote-exec` binary over stdio, driven by a
//! real MCP client, through every tool.
//!
//! Target:
//! - default: a fake-pve started here on 127.0.0.1:0 (all cases run);
//! - `E2E_TARGET=real`: the host named by `HOST`, `SSH_PORT`, `SSH_USERNAME`, `SSH_KEY`
//!   or `SSH_PASSWORD`, `SSH_KNOWN_HOSTS`, and a disposable running container
//!   `E2E_CTID`. Only that container and scratch directories made (and removed) by
//!   the suite are touched; the container is left running. Cases that need fake-only
//!   powers are skipped with a printed reason.
//!
//! `real_mode_against_a_container_host` runs this same suite in real mode against a
//! container test host (real OpenSSH sshd + a `pct` stand-in), configured exactly as a
//! user would configure a real node; `real_mode_against_an_lxc_host` against the LXC
//! test host, whose container 100 is a real LXC container.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use fake_pve::fixture::Fixture;
use fake_pve::node::TestNode;
use rmcp::ServiceExt;
use rmcp::model::CallToolResult;
use rmcp::transport::TokioChildProcess;
use serde_json::{Value, json};
use sha2::Digest;
use test_hosts::SshHost;
use testkit::mcp::Client;
use testkit::openssh::HostEnv;
use testkit::{is_error, structured};

/// Where the suite runs.
enum Target {
    Fake {
        node: Box<TestNode>,
        _dir: tempfile::TempDir,
    },
    Real,
}

struct Suite {
    target: Target,
    client: Client,
    ctid: u64,
    /// Scratch directory on the host and in the container, removed at the end.
    host_scratch: String,
    ct_scratch: String,
    local: tempfile::TempDir,
    ran: Vec<&'static str>,
    skipped: Vec<(&'static str, &'static str)>,
}

fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("MCP_REMOTE_EXEC_BIN") {
        return PathBuf::from(p);
    }
    // target/<profile>/deps/e2e-… → target/<profile>/mcp-remote-exec
    let exe = std::env::current_exe().expect("test binary path");
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join("mcp-remote-exec"))
        .expect("target directory");
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build -p mcp-remote-exec` (or set MCP_REMOTE_EXEC_BIN)",
        bin.display()
    );
    bin
}

fn required(name: &str, what: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v,
        _ => panic!("E2E_TARGET=real needs {name}: {what}"),
    }
}

async fn start_client(env: HashMap<String, String>) -> Client {
    let mut cmd = tokio::process::Command::new(binary());
    cmd.env_clear();
    for keep in ["PATH", "HOME", "RUST_LOG"] {
        if let Ok(v) = std::env::var(keep) {
            cmd.env(keep, v);
        }
    }
    cmd.envs(env);
    let transport = TokioChildProcess::new(cmd).expect("the server starts");
    ().serve(transport).await.expect("MCP handshake")
}

impl Suite {
    async fn new() -> Suite {
        let mode = std::env::var("E2E_TARGET").unwrap_or_default();
        let (target, env, ctid) = match mode.as_str() {
            "" | "fake" => {
                let dir = tempfile::tempdir().unwrap();
                let mut fixture = Fixture::default_fixture();
                fixture.containers.push(
                    Fixture::parse(
                        "[[containers]]\nvmid = 103\nhostname = \"backup-target\"\nstatus = \"running\"\nlock = \"backup\"\n",
                    )
                    .unwrap()
                    .containers
                    .remove(0),
                );
                let node = TestNode::builder(fixture)
                    .without_client_key()
                    .start()
                    .await
                    .unwrap();
                let known = dir.path().join("known_hosts");
                node.write_known_hosts(&known).unwrap();
                let env = HashMap::from([
                    ("HOST".to_string(), "127.0.0.1".to_string()),
                    ("SSH_PORT".into(), node.port().to_string()),
                    ("SSH_PASSWORD".into(), node.password.clone()),
                    ("SSH_KNOWN_HOSTS".into(), known.display().to_string()),
                ]);
                (
                    Target::Fake {
                        node: Box::new(node),
                        _dir: dir,
                    },
                    env,
                    100,
                )
            }
            "real" => {
                let mut env = HashMap::new();
                env.insert(
                    "HOST".to_string(),
                    required("HOST", "the Proxmox VE host's name or address"),
                );
                for name in [
                    "SSH_PORT",
                    "SSH_USERNAME",
                    "SSH_KEY",
                    "SSH_KEY_PASSPHRASE",
                    "SSH_PASSWORD",
                    "SSH_KNOWN_HOSTS",
                    "SSH_AUTH_SOCK",
                ] {
                    if let Ok(v) = std::env::var(name) {
                        env.insert(name.to_string(), v);
                    }
                }
                if !["SSH_KEY", "SSH_PASSWORD", "SSH_AUTH_SOCK"]
                    .iter()
                    .any(|k| env.contains_key(*k))
                {
                    panic!(
                        "E2E_TARGET=real needs SSH_KEY or SSH_PASSWORD (or a running ssh-agent) to log in"
                    );
                }
                let ctid: u64 = required(
                    "E2E_CTID",
                    "the id of a disposable, running container, e.g. 900",
                )
                .parse()
                .unwrap_or_else(|_| panic!("E2E_CTID must be a container id such as 900"));
                (Target::Real, env, ctid)
            }
            other => panic!("E2E_TARGET={other:?}: use `fake` (default) or `real`"),
        };
        let mut env = env;
        env.insert("I_ACCEPT_RISKS".into(), "true".into());
        env.insert("ENABLE_PROXMOX".into(), "true".into());
        let client = start_client(env).await;
        let mut suite = Suite {
            target,
            client,
            ctid,
            host_scratch: String::new(),
            ct_scratch: String::new(),
            local: tempfile::tempdir().unwrap(),
            ran: Vec::new(),
            skipped: Vec::new(),
        };
        let r = suite
            .ok(
                "ssh_exec_command",
                json!({"command": "mktemp -d /tmp/mcp-e2e.XXXXXXXX"}),
            )
            .await;
        suite.host_scratch = r["stdout"].as_str().unwrap().trim().to_string();
        let r = suite
            .ok(
                "proxmox_container_exec_command",
                json!({"ctid": ctid, "command": "mktemp -d /tmp/mcp-e2e.XXXXXXXX"}),
            )
            .await;
        suite.ct_scratch = r["stdout"].as_str().unwrap().trim().to_string();
        suite
    }

    fn is_fake(&self) -> bool {
        matches!(self.target, Target::Fake { .. })
    }

    async fn call(&self, tool: &str, args: Value) -> CallToolResult {
        testkit::mcp::call(&self.client, tool, args).await
    }

    /// Calls a tool that must succeed; returns its structured content.
    async fn ok(&self, tool: &str, args: Value) -> Value {
        let r = self.call(tool, args.clone()).await;
        let s = structured(&r);
        assert!(!is_error(&r), "{tool} {args} failed: {s}");
        s
    }

    /// Calls a tool that must fail; returns its structured content.
    async fn err(&self, tool: &str, args: Value) -> Value {
        let r = self.call(tool, args.clone()).await;
        let s = structured(&r);
        assert!(is_error(&r), "{tool} {args} should fail: {s}");
        assert!(s["error"].as_str().is_some_and(|e| !e.is_empty()), "{s}");
        s
    }

    /// The rows of proxmox_list_containers (in JSON).
    async fn containers(&self) -> Vec<Value> {
        let v = self
            .ok(
                "proxmox_list_containers",
                json!({"response_format": "json"}),
            )
            .await;
        v["containers"]
            .as_array()
            .unwrap_or_else(|| panic!("containers array: {v}"))
            .clone()
    }

    async fn finish(self) {
        let _ = self
            .call(
                "ssh_exec_command",
                json!({"command": format!("rm -rf '{}'", self.host_scratch)}),
            )
            .await;
        let _ = self
            .call(
                "proxmox_container_exec_command",
                json!({"ctid": self.ctid, "command": format!("rm -rf '{}'", self.ct_scratch)}),
            )
            .await;
        // Leave the container running, as it was.
        let status = self
            .call("proxmox_container_status", json!({"ctid": self.ctid}))
            .await;
        if status
            .structured_content
            .as_ref()
            .map(|s| s["status"] != "running")
            == Some(true)
        {
            let _ = self
                .call("proxmox_start_container", json!({"ctid": self.ctid}))
                .await;
        }
        println!(
            "e2e: ran {} cases, skipped {}{}",
            self.ran.len(),
            self.skipped.len(),
            self.skipped
                .iter()
                .map(|(n, why)| format!("\n  skipped {n}: {why}"))
                .collect::<String>()
        );
        let _ = self.client.cancel().await;
        if let Target::Fake { node, .. } = self.target {
            node.shutdown().await;
        }
    }
}

fn sha(data: &[u8]) -> String {
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn exec_cases(s: &mut Suite) {
    let r = s
        .call(
            "ssh_exec_command",
            json!({"command": "echo hi; echo oops >&2; exit 3"}),
        )
        .await;
    assert!(is_error(&r));
    let v = structured(&r);
    assert_eq!(
        (
            v["stdout"].as_str(),
            v["stderr"].as_str(),
            v["exit_code"].as_i64()
        ),
        (Some("hi\n"), Some("oops\n"), Some(3))
    );
    s.ran.push("exec: streams and exit code");

    let r = s
        .call(
            "ssh_exec_command",
            json!({"command": "echo '{\"a\": 1}'", "response_format": "json"}),
        )
        .await;
    let text = r.content[0].as_text().unwrap().text.clone();
    let parsed: Value = serde_json::from_str(&text).expect("valid JSON text");
    assert_eq!(parsed["stdout"], "{\"a\": 1}\n");
    s.ran.push("exec: JSON format is valid JSON");

    let v = s
        .err(
            "ssh_exec_command",
            json!({"command": "echo started; sleep 37", "timeout": 2}),
        )
        .await;
    assert_eq!(v["timeout_reached"], true);
    assert_eq!(v["stdout"], "started\n");
    let mut gone = false;
    for _ in 0..20 {
        let check = s
            .call(
                "ssh_exec_command",
                json!({"command": "pgrep -f 'sleep 3[7]'"}),
            )
            .await;
        if structured(&check)["exit_code"] == 1 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(gone, "the timed-out command was ended on the host");
    s.ran.push("exec: a timeout ends the remote command");

    let v = s
        .err("ssh_exec_command", json!({"command": "true", "timeout": 0}))
        .await;
    assert!(v["error"].as_str().unwrap().contains("`timeout`"));
    s.ran.push("exec: bad arguments are tool errors");
}

async fn transfer_cases(s: &mut Suite) {
    let data: Vec<u8> = (0..1_500_000).map(|_| rand::random::<u8>()).collect();
    let local = s.local.path().join("up load.bin");
    std::fs::write(&local, &data).unwrap();
    let remote = format!("{}/file with 'quotes' é.bin", s.host_scratch);
    let v = s
        .ok(
            "ssh_upload_file",
            json!({"local_path": local, "remote_path": remote, "permissions": "640"}),
        )
        .await;
    assert_eq!(v["bytes_transferred"], data.len() as u64);
    let quoted = format!("'{}'", remote.replace('\'', "'\\''"));
    let v = s
        .ok(
            "ssh_exec_command",
            json!({"command": format!("sha256sum {quoted} && stat -c %a {quoted}")}),
        )
        .await;
    let out = v["stdout"].as_str().unwrap().to_string();
    assert!(out.starts_with(&sha(&data)), "{out}");
    assert!(out.ends_with("640\n"), "{out}");
    let v = s
        .err(
            "ssh_upload_file",
            json!({"local_path": local, "remote_path": remote}),
        )
        .await;
    assert!(v["suggestion"].as_str().unwrap().contains("overwrite=true"));
    let back = s.local.path().join("back.bin");
    s.ok(
        "ssh_download_file",
        json!({"remote_path": remote, "local_path": back}),
    )
    .await;
    assert_eq!(sha(&std::fs::read(&back).unwrap()), sha(&data));
    let v = s
        .ok(
            "ssh_exec_command",
            json!({"command": format!("ls -A '{}'", s.host_scratch)}),
        )
        .await;
    assert_eq!(
        v["stdout"].as_str().unwrap().lines().count(),
        1,
        "no temporary file left: {v}"
    );
    s.ran
        .push("files: upload, overwrite refusal, download, no temp file left");
}

async fn proxmox_cases(s: &mut Suite) {
    let ctid = s.ctid;
    let rows = s.containers().await;
    assert!(
        rows.iter()
            .any(|r| r["ctid"] == ctid && r["status"] == "running"),
        "{rows:?}"
    );
    s.ran.push("proxmox: list");

    let v = s
        .ok("proxmox_container_status", json!({"ctid": ctid}))
        .await;
    assert_eq!(v["status"], "running");
    let v = s
        .err("proxmox_container_status", json!({"ctid": 999_999_998}))
        .await;
    assert!(v["error"].as_str().unwrap().contains("not found"), "{v}");
    s.err("proxmox_container_status", json!({"ctid": 99})).await;
    s.ran.push("proxmox: status, absent and invalid ids");

    let r = s
        .call(
            "proxmox_container_exec_command",
            json!({"ctid": ctid, "command": "echo in-ct; exit 3"}),
        )
        .await;
    let v = structured(&r);
    assert_eq!(
        (v["stdout"].as_str(), v["exit_code"].as_i64()),
        (Some("in-ct\n"), Some(3))
    );
    s.ran.push("proxmox: exec");

    let data: Vec<u8> = (0..700_000).map(|_| rand::random::<u8>()).collect();
    let local = s.local.path().join("ct.bin");
    std::fs::write(&local, &data).unwrap();
    let path = format!("{}/a b $(x).bin", s.ct_scratch);
    s.ok(
        "proxmox_upload_file_to_container",
        json!({"ctid": ctid, "local_path": local, "container_path": path, "permissions": "600"}),
    )
    .await;
    s.err(
        "proxmox_upload_file_to_container",
        json!({"ctid": ctid, "local_path": local, "container_path": path}),
    )
    .await;
    let back = s.local.path().join("ct-back.bin");
    s.ok(
        "proxmox_download_file_from_container",
        json!({"ctid": ctid, "container_path": path, "local_path": back}),
    )
    .await;
    assert_eq!(sha(&std::fs::read(&back).unwrap()), sha(&data));
    let v = s
        .err(
            "proxmox_upload_file_to_container",
            json!({"ctid": ctid, "local_path": local, "container_path": "/tmp/../etc/x"}),
        )
        .await;
    assert!(v["error"].as_str().unwrap().contains(".."), "{v}");
    s.ran.push("proxmox: files in and out of the container");

    s.ok("proxmox_stop_container", json!({"ctid": ctid})).await;
    let v = s
        .ok("proxmox_container_status", json!({"ctid": ctid}))
        .await;
    assert_eq!(v["status"], "stopped");
    s.err("proxmox_stop_container", json!({"ctid": ctid})).await;
    s.err(
        "proxmox_container_exec_command",
        json!({"ctid": ctid, "command": "true"}),
    )
    .await;
    s.ok("proxmox_start_container", json!({"ctid": ctid})).await;
    let v = s
        .ok("proxmox_container_status", json!({"ctid": ctid}))
        .await;
    assert_eq!(v["status"], "running");
    s.err("proxmox_start_container", json!({"ctid": ctid}))
        .await;
    s.ran.push("proxmox: lifecycle");
}

/// Shutdown, snapshots and backups. On a real target only with `E2E_GUEST_OPS=1` (a
/// Proxmox VE node: the test hosts' pct stand-in has no snapshots or vzdump), or
/// `E2E_GUEST_OPS=shutdown` for the shutdown case alone (the LXC test host); the
/// restore runs on fake-pve only, since no tool removes the container it makes.
async fn guest_cases(s: &mut Suite) {
    let names = [
        "proxmox: shutdown and start again",
        "proxmox: snapshot, change, roll back",
        "proxmox: back up and list",
        "proxmox: restore to a new id",
    ];
    let ops = std::env::var("E2E_GUEST_OPS").unwrap_or_default();
    if !s.is_fake() && ops != "1" && ops != "shutdown" {
        for n in names {
            s.skipped
                .push((n, "set E2E_GUEST_OPS=1 against a Proxmox VE node"));
        }
        return;
    }
    let ctid = s.ctid;
    let v = s
        .ok(
            "proxmox_shutdown_container",
            json!({"ctid": ctid, "timeout": 30}),
        )
        .await;
    assert_eq!(v["status"], "stopped", "{v}");
    s.ok("proxmox_start_container", json!({"ctid": ctid})).await;
    s.ran.push(names[0]);
    if !s.is_fake() && ops == "shutdown" {
        for n in &names[1..] {
            s.skipped
                .push((n, "set E2E_GUEST_OPS=1 against a Proxmox VE node"));
        }
        return;
    }

    let snap = format!("e2e-{}", rand::random::<u32>());
    s.ok(
        "proxmox_snapshot_create",
        json!({"vmid": ctid, "name": snap, "description": "e2e"}),
    )
    .await;
    let marker = format!("{}/after-snapshot", s.ct_scratch);
    s.ok(
        "proxmox_container_exec_command",
        json!({"ctid": ctid, "command": format!("echo x > '{marker}'")}),
    )
    .await;
    s.err(
        "proxmox_snapshot_rollback",
        json!({"vmid": ctid, "name": snap}),
    )
    .await;
    let v = s
        .ok(
            "proxmox_snapshot_rollback",
            json!({"vmid": ctid, "name": snap, "stop_running": true, "start": true}),
        )
        .await;
    assert_eq!(v["status"], "running", "{v}");
    let r = s
        .call(
            "proxmox_container_exec_command",
            json!({"ctid": ctid, "command": format!("test -e '{marker}'")}),
        )
        .await;
    assert_eq!(
        structured(&r)["exit_code"],
        1,
        "the change survived the rollback"
    );
    s.ok(
        "proxmox_snapshot_delete",
        json!({"vmid": ctid, "name": snap}),
    )
    .await;
    s.ran.push(names[1]);

    let compress = if s.is_fake() { "0" } else { "zstd" };
    let v = s
        .ok(
            "proxmox_backup_create",
            json!({"vmid": ctid, "compress": compress}),
        )
        .await;
    let volid = v["volid"].as_str().unwrap().to_string();
    let v = s
        .ok(
            "proxmox_backup_list",
            json!({"vmid": ctid, "response_format": "json"}),
        )
        .await;
    assert!(
        v["backups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["volid"] == volid.as_str()),
        "{v}"
    );
    s.ran.push(names[2]);

    if !s.is_fake() {
        s.skipped
            .push((names[3], "would leave a container on the node"));
        return;
    }
    let v = s
        .ok(
            "proxmox_backup_restore",
            json!({"archive": volid, "vmid": 990, "storage": "local-lvm"}),
        )
        .await;
    assert_eq!(v["status"], "stopped", "{v}");
    assert!(s.containers().await.iter().any(|r| r["ctid"] == 990));
    s.ran.push(names[3]);
}

/// VMs through the guest agent. On a real target only with `E2E_VMID` (a disposable
/// running VM with qemu-guest-agent, left running); on fake-pve VM 200 of the bundled
/// fixture.
async fn vm_cases(s: &mut Suite) {
    let names = [
        "vms: list guests and status",
        "vms: exec through the agent",
        "vms: upload and download, verified",
        "vms: shutdown and start again",
    ];
    let vmid: u64 = if s.is_fake() {
        200
    } else {
        match std::env::var("E2E_VMID") {
            Ok(v) => v
                .parse()
                .unwrap_or_else(|_| panic!("E2E_VMID must be a VM id such as 900")),
            Err(_) => {
                for n in names {
                    s.skipped.push((
                        n,
                        "set E2E_VMID to a running VM with its guest agent on a Proxmox VE node",
                    ));
                }
                return;
            }
        }
    };
    let v = s
        .ok("proxmox_list_guests", json!({"response_format": "json"}))
        .await;
    assert!(
        v["guests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["vmid"] == vmid && g["type"] == "qemu"),
        "{v}"
    );
    let v = s
        .ok(
            "proxmox_vm_status",
            json!({"vmid": vmid, "response_format": "json"}),
        )
        .await;
    assert_eq!(
        (v["status"].as_str(), v["agent"].as_str()),
        (Some("running"), Some("enabled")),
        "{v}"
    );
    s.ran.push(names[0]);

    let v = s
        .ok(
            "proxmox_vm_exec_command",
            json!({"vmid": vmid, "command": "echo $((6*7))", "response_format": "json"}),
        )
        .await;
    assert_eq!(v["stdout"], "42\n", "{v}");
    let v = s
        .err(
            "proxmox_vm_exec_command",
            json!({"vmid": vmid, "command": "sleep 30", "timeout": 1, "response_format": "json"}),
        )
        .await;
    assert_eq!(v["timeout_reached"], true, "{v}");
    s.ran.push(names[1]);

    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let src = s.local.path().join("vm-up.bin");
    std::fs::write(&src, &data).unwrap();
    let remote = format!("/tmp/mcp-e2e-vm-{}.bin", rand::random::<u32>());
    let v = s
        .ok(
            "proxmox_upload_file_to_vm",
            json!({"vmid": vmid, "local_path": src, "vm_path": remote}),
        )
        .await;
    let want: String = sha2::Sha256::digest(&data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(v["sha256"], want.as_str(), "{v}");
    let back = s.local.path().join("vm-back.bin");
    s.ok(
        "proxmox_download_file_from_vm",
        json!({"vmid": vmid, "vm_path": remote, "local_path": back}),
    )
    .await;
    assert_eq!(std::fs::read(&back).unwrap(), data);
    s.ok(
        "proxmox_vm_exec_command",
        json!({"vmid": vmid, "command": format!("rm -f '{remote}'")}),
    )
    .await;
    s.ran.push(names[2]);

    let v = s
        .ok("proxmox_shutdown_vm", json!({"vmid": vmid, "timeout": 120}))
        .await;
    assert_eq!(v["status"], "stopped", "{v}");
    s.ok("proxmox_start_vm", json!({"vmid": vmid})).await;
    s.ran.push(names[3]);
}

async fn fake_only_cases(s: &mut Suite) {
    let Target::Fake { node, .. } = &s.target else {
        s.skipped.push((
            "faults: reconnect after a dropped connection",
            "needs fake-pve's fault injection",
        ));
        s.skipped.push((
            "proxmox: a locked container",
            "needs a seeded locked container",
        ));
        return;
    };
    let host = node.host().clone();
    host.drop_connections();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let v = s
        .ok("ssh_exec_command", json!({"command": "echo again"}))
        .await;
    assert_eq!(v["stdout"], "again\n");
    s.ran.push("faults: reconnect after a dropped connection");

    let row = s
        .containers()
        .await
        .into_iter()
        .find(|r| r["ctid"] == 103)
        .unwrap();
    assert_eq!(
        (row["name"].as_str(), row["lock"].as_str()),
        (Some("backup-target"), Some("backup"))
    );
    let v = s.err("proxmox_stop_container", json!({"ctid": 103})).await;
    assert!(v["error"].as_str().unwrap().contains("locked"), "{v}");
    s.ran.push("proxmox: a locked container");
}

/// The suite against the configured target (fake-pve unless E2E_TARGET=real).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suite_against_configured_target() {
    let mut s = Suite::new().await;
    println!(
        "e2e target: {}",
        if s.is_fake() {
            "fake-pve (in-process)"
        } else {
            "real host from the environment"
        }
    );
    exec_cases(&mut s).await;
    transfer_cases(&mut s).await;
    proxmox_cases(&mut s).await;
    guest_cases(&mut s).await;
    vm_cases(&mut s).await;
    fake_only_cases(&mut s).await;
    s.finish().await;
}

/// Real mode, proved without hardware: a container test host (OpenSSH sshd + the pct
/// stand-in), handed to the suite through the same variables a user would set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_mode_against_a_container_host() {
    if std::env::var("E2E_TARGET").is_ok() {
        // Already inside a configured run: nothing to nest.
        return;
    }
    real_mode_against(HostEnv::start().await, &[]).await;
}

/// Real mode against real LXC containers: the LXC test host (a stock sshd on
/// loopback, the pct stand-in's LXC backend, `lxc-attach` into container 100).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_mode_against_an_lxc_host() {
    if std::env::var("E2E_TARGET").is_ok() {
        return;
    }
    real_mode_against(HostEnv::lxc().await, &[("E2E_GUEST_OPS", "shutdown")]).await;
}

/// Re-runs this binary's suite in real mode against `env`'s host, configured only
/// through the environment (`extra` added to it).
async fn real_mode_against<H: SshHost>(env: HostEnv<H>, extra: &[(&str, &str)]) {
    let HostEnv {
        host,
        key_path: key,
        known_hosts: known,
        dir: _dir,
    } = env;
    let out = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "suite_against_configured_target", "--nocapture"])
        .env("E2E_TARGET", "real")
        .env("HOST", host.host())
        .env("SSH_PORT", host.port().to_string())
        .env("SSH_USERNAME", host.user())
        .env("SSH_KEY", &key)
        .env("SSH_KNOWN_HOSTS", &known)
        .env("E2E_CTID", "100")
        .env("MCP_REMOTE_EXEC_BIN", binary())
        .envs(extra.iter().copied())
        .output()
        .await
        .unwrap();
    let stdout = testkit::succeeded("real-mode suite", &out);
    assert!(stdout.contains("e2e target: real host"), "{stdout}");
    assert!(stdout.contains("e2e: ran "), "{stdout}");
    println!("{stdout}");
}

/// The README's first command: the demo runs the five use cases and exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_demo_runs() {
    if std::env::var("E2E_TARGET").is_ok() {
        return;
    }
    let out = tokio::process::Command::new(binary())
        .arg("demo")
        .output()
        .await
        .unwrap();
    let stdout = testkit::succeeded("demo", &out);
    assert!(
        stdout.contains("demo finished: every call went as expected"),
        "{stdout}"
    );
    for heading in [
        "1. Health check",
        "2. Deploy",
        "3. Back up",
        "4. Update",
        "5. Lifecycle",
    ] {
        assert!(stdout.contains(heading), "{heading} missing:\n{stdout}");
    }
}
