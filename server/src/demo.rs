//! `mcp-remote-exec demo`: the Proxmox plugin's five common use cases, then a
//! snapshot rolled back, a backup restored, and the use cases on a virtual machine,
//! run through the MCP protocol against an embedded fake-pve, printed call by call.

use std::io::Write as _;

use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

use crate::tools::RemoteExec;

type Client = RunningService<RoleClient, ()>;

struct Demo {
    client: Client,
    failures: Vec<String>,
    out: std::io::Stdout,
}

impl Demo {
    /// Calls a tool, prints the call and its text result, and checks `expect_ok`.
    async fn call(&mut self, tool: &str, args: Value, expect_ok: bool) -> Option<CallToolResult> {
        let shown = if args.as_object().is_some_and(|o| o.is_empty()) {
            String::new()
        } else {
            args.to_string()
        };
        let mut out = self.out.lock();
        let _ = writeln!(out, "\n→ {tool} {shown}");
        drop(out);
        let params = CallToolRequestParams::new(tool.to_string())
            .with_arguments(args.as_object().cloned().unwrap_or_default());
        match self.client.call_tool(params).await {
            Ok(result) => {
                let text: String = result
                    .content
                    .iter()
                    .filter_map(|c| c.as_text().map(|t| t.text.clone()))
                    .collect();
                let mut out = self.out.lock();
                for line in text.trim_end().lines() {
                    let _ = writeln!(out, "  {line}");
                }
                let ok = result.is_error != Some(true);
                if ok != expect_ok {
                    self.failures.push(format!(
                        "{tool}: expected {}, got {}",
                        if expect_ok { "success" } else { "an error" },
                        if ok { "success" } else { "an error" }
                    ));
                    let _ = writeln!(out, "  !! unexpected result");
                }
                Some(result)
            }
            Err(e) => {
                self.failures.push(format!("{tool}: protocol error {e}"));
                println!("  !! protocol error: {e}");
                None
            }
        }
    }

    /// Runs `command` in container `ctid`, expected to succeed.
    async fn exec_in(&mut self, ctid: u64, command: &str) {
        let args = json!({"ctid": ctid, "command": command});
        self.call("proxmox_container_exec_command", args, true)
            .await;
    }

    fn heading(&self, title: &str) {
        println!("\n=== {title} ===");
    }
}

/// Running containers, from `proxmox_list_containers`' structured content.
fn running(result: &Option<CallToolResult>) -> Vec<u64> {
    result
        .as_ref()
        .and_then(|r| r.structured_content.clone())
        .and_then(|v| v.get("containers").cloned())
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter(|c| c["status"] == "running")
        .filter_map(|c| c["ctid"].as_u64())
        .collect()
}

/// Runs the demo; returns the list of things that did not go as expected.
pub async fn run() -> Result<Vec<String>, String> {
    let fake = crate::embedded::start(None)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "fake-pve (embedded, NOT a real host) listening on {}",
        fake.server.addr()
    );
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    let server = RemoteExec::new(fake.config.clone()).with_notice(fake.instructions_note());
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let client = ().serve(client_io).await.map_err(|e| e.to_string())?;
    let tools = client.list_all_tools().await.map_err(|e| e.to_string())?;
    println!(
        "MCP server ready with {} tools: {}",
        tools.len(),
        tools
            .iter()
            .map(|t| t.name.as_ref())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut demo = Demo {
        client,
        failures: Vec::new(),
        out: std::io::stdout(),
    };
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;

    demo.heading("1. Health check: what runs, and how are the running containers doing");
    let list = demo.call("proxmox_list_containers", json!({}), true).await;
    for ctid in running(&list) {
        demo.exec_in(ctid, "df -h / && free -m && uptime").await;
    }

    demo.heading("2. Deploy a configuration file to container 100");
    let conf = work.path().join("app.conf");
    std::fs::write(&conf, "listen 8080;\nworkers 4;\n").map_err(|e| e.to_string())?;
    demo.exec_in(100, "mkdir -p /etc/app").await;
    demo.call(
        "proxmox_upload_file_to_container",
        json!({"ctid": 100, "local_path": conf, "container_path": "/etc/app/app.conf", "permissions": "640"}),
        true,
    )
    .await;
    demo.exec_in(
        100,
        "stat -c '%a %s' /etc/app/app.conf && cat /etc/app/app.conf",
    )
    .await;
    demo.call(
        "proxmox_upload_file_to_container",
        json!({"ctid": 100, "local_path": conf, "container_path": "/etc/app/app.conf"}),
        false,
    )
    .await;

    demo.heading("3. Back up the web server's logs from container 100");
    let backup = work.path().join("access.log");
    demo.call(
        "proxmox_download_file_from_container",
        json!({"ctid": 100, "container_path": "/var/log/nginx/access.log", "local_path": backup}),
        true,
    )
    .await;
    if let Ok(text) = std::fs::read_to_string(&backup) {
        println!("  (local copy: {} lines)", text.lines().count());
    }

    demo.heading("4. Update every running container");
    for ctid in running(&list) {
        demo.call(
            "proxmox_container_exec_command",
            json!({"ctid": ctid, "command": "apt update", "timeout": 120}),
            true,
        )
        .await;
    }

    demo.heading("5. Lifecycle of container 102");
    demo.call("proxmox_stop_container", json!({"ctid": 102}), true)
        .await;
    demo.call("proxmox_container_status", json!({"ctid": 102}), true)
        .await;
    demo.call("proxmox_stop_container", json!({"ctid": 102}), false)
        .await;
    demo.call("proxmox_start_container", json!({"ctid": 102}), true)
        .await;
    demo.call(
        "proxmox_container_status",
        json!({"ctid": 102, "response_format": "json"}),
        true,
    )
    .await;
    demo.call("proxmox_container_status", json!({"ctid": 999}), false)
        .await;

    demo.heading("6. Snapshot container 100, change it, roll the change back");
    demo.call(
        "proxmox_snapshot_create",
        json!({"vmid": 100, "name": "before-change", "description": "before the demo's change"}),
        true,
    )
    .await;
    demo.exec_in(100, "rm /etc/app/app.conf && echo broken > /etc/app/state")
        .await;
    demo.call(
        "proxmox_snapshot_rollback",
        json!({"vmid": 100, "name": "before-change"}),
        false,
    )
    .await;
    demo.call(
        "proxmox_snapshot_rollback",
        json!({"vmid": 100, "name": "before-change", "stop_running": true, "start": true}),
        true,
    )
    .await;
    demo.exec_in(100, "cat /etc/app/app.conf; ls /etc/app")
        .await;
    demo.call("proxmox_snapshot_list", json!({"vmid": 100}), true)
        .await;

    demo.heading("7. Back up container 100 and restore it as a new container 300");
    let made = demo
        .call(
            "proxmox_backup_create",
            json!({"vmid": 100, "compress": "0"}),
            true,
        )
        .await;
    let volid = made
        .and_then(|r| r.structured_content)
        .and_then(|s| s["volid"].as_str().map(str::to_string))
        .unwrap_or_default();
    demo.call("proxmox_backup_list", json!({"vmid": 100}), true)
        .await;
    demo.call(
        "proxmox_backup_restore",
        json!({"archive": volid, "vmid": 300, "storage": "local-lvm"}),
        true,
    )
    .await;
    demo.call("proxmox_start_container", json!({"ctid": 300}), true)
        .await;
    demo.exec_in(300, "cat /etc/app/app.conf").await;
    demo.call(
        "proxmox_shutdown_container",
        json!({"ctid": 300, "timeout": 10}),
        true,
    )
    .await;

    demo.heading("8. The same on a virtual machine, through its guest agent");
    demo.call("proxmox_list_guests", json!({}), true).await;
    demo.call("proxmox_vm_status", json!({"vmid": 200}), true)
        .await;
    let vm_exec = |command: &str| json!({"vmid": 200, "command": command});
    demo.call(
        "proxmox_vm_exec_command",
        vm_exec("df -h / && free -m && uptime"),
        true,
    )
    .await;
    demo.call(
        "proxmox_upload_file_to_vm",
        json!({"vmid": 200, "local_path": conf, "vm_path": "/root/app.conf", "permissions": "640"}),
        true,
    )
    .await;
    let vm_copy = work.path().join("vm-app.conf");
    demo.call(
        "proxmox_download_file_from_vm",
        json!({"vmid": 200, "vm_path": "/root/app.conf", "local_path": vm_copy}),
        true,
    )
    .await;
    demo.call(
        "proxmox_shutdown_vm",
        json!({"vmid": 200, "timeout": 30}),
        true,
    )
    .await;
    demo.call("proxmox_vm_exec_command", vm_exec("uptime"), false)
        .await;
    demo.call("proxmox_start_vm", json!({"vmid": 200}), true)
        .await;

    let _ = demo.client.cancel().await;
    fake.shutdown().await;
    Ok(demo.failures)
}
