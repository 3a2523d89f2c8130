//! The VM tools through a real MCP client against an in-process fake-pve: list,
//! status, power, commands through the guest agent, verified file transfers, and each
//! agent fault (docs/vms.md).

use std::time::Instant;

use serde_json::json;
use sha2::Digest as _;
use testkit::component::{Env, VM_FIXTURE, start_proxmox};
use testkit::{assert_ok, failed_containing, is_error, structured, text};

async fn env() -> Env {
    start_proxmox(VM_FIXTURE, &[]).await
}

async fn status(env: &Env, vmid: u32) -> String {
    let r = env
        .call(
            "proxmox_vm_status",
            json!({"vmid": vmid, "response_format": "json"}),
        )
        .await;
    assert_ok(&r);
    structured(&r)["status"].as_str().unwrap().to_string()
}

async fn exec(env: &Env, vmid: u32, command: &str, timeout: u64) -> rmcp::model::CallToolResult {
    env.call(
        "proxmox_vm_exec_command",
        json!({"vmid": vmid, "command": command, "timeout": timeout, "response_format": "json"}),
    )
    .await
}

fn sha256_hex(data: &[u8]) -> String {
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_show_vms_and_all_guests() {
    let env = env().await;
    let r = env
        .call("proxmox_list_vms", json!({"response_format": "json"}))
        .await;
    assert_ok(&r);
    let vms = structured(&r)["vms"].as_array().unwrap().clone();
    let ids: Vec<u64> = vms.iter().map(|v| v["vmid"].as_u64().unwrap()).collect();
    assert_eq!(ids, [200, 201, 202, 203, 204, 205]);
    assert_eq!(vms[0]["name"], "vm1");
    assert_eq!(vms[0]["status"], "running");
    assert_eq!(vms[0]["memory_mb"], 2048.0);
    assert_eq!(vms[1]["status"], "stopped");
    assert_eq!(
        vms[5]["status"], "paused",
        "qm list --full shows a paused VM as paused"
    );
    let table = text(&env.call("proxmox_list_vms", json!({})).await);
    assert!(table.contains("  200 | running  |"), "{table}");

    let r = env
        .call("proxmox_list_guests", json!({"response_format": "json"}))
        .await;
    assert_ok(&r);
    let guests = structured(&r)["guests"].as_array().unwrap().clone();
    let kinds: Vec<(u64, &str)> = guests
        .iter()
        .map(|g| (g["vmid"].as_u64().unwrap(), g["type"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds[0], (100, "lxc"));
    assert_eq!(kinds[1], (200, "qemu"));
    assert_eq!(guests.len(), 7, "{guests:?}");
    assert!(guests.iter().all(|g| g["node"] == "pve"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_says_what_each_guest_is() {
    let env = env().await;
    let r = env
        .call(
            "proxmox_vm_status",
            json!({"vmid": 200, "response_format": "json"}),
        )
        .await;
    assert_ok(&r);
    let s = structured(&r);
    assert_eq!(s["status"], "running");
    assert_eq!(s["name"], "vm1");
    assert_eq!(s["agent"], "enabled");
    let r = env
        .call(
            "proxmox_vm_status",
            json!({"vmid": 202, "response_format": "json"}),
        )
        .await;
    assert_eq!(structured(&r)["agent"], "not configured");
    assert_eq!(status(&env, 201).await, "stopped");
    let t = text(&env.call("proxmox_vm_status", json!({"vmid": 200})).await);
    assert!(t.starts_with("VM 200 (vm1) is running"), "{t}");

    // Absent, and a container's id: the same not-found, with the way to tell.
    for id in [999, 100] {
        let r = env.call("proxmox_vm_status", json!({"vmid": id})).await;
        let s = failed_containing(&r, &format!("VM {id} not found on this node"));
        assert!(
            s["suggestion"]
                .as_str()
                .unwrap()
                .contains("proxmox_list_guests")
        );
        assert!(s["detail"].as_str().unwrap().contains("qemu-server"), "{s}");
        assert!(text(&r).contains("\nqm: "), "{}", text(&r));
    }
    let r = env.call("proxmox_vm_status", json!({"vmid": "abc"})).await;
    failed_containing(&r, "not a VM id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_runs_through_the_agent_with_exit_codes_and_errors() {
    let env = env().await;
    let r = exec(&env, 200, "echo $((6*7))", 30).await;
    assert_ok(&r);
    let s = structured(&r);
    assert_eq!(s["stdout"], "42\n");
    assert_eq!(s["exit_code"], 0);
    assert_eq!(s["timeout_reached"], false);

    let r = exec(&env, 200, "echo out; echo err >&2; exit 3", 30).await;
    assert!(is_error(&r));
    let s = structured(&r);
    assert_eq!(
        (
            s["exit_code"].as_i64(),
            s["stdout"].as_str(),
            s["stderr"].as_str()
        ),
        (Some(3), Some("out\n"), Some("err\n"))
    );

    // The guest's own files, not the node's.
    let r = exec(&env, 200, "cat /etc/app/app.conf; hostname", 30).await;
    assert_ok(&r);
    assert_eq!(structured(&r)["stdout"], "port=8080\nvm1\n");

    let text_form = env
        .call(
            "proxmox_vm_exec_command",
            json!({"vmid": 200, "command": "echo hi"}),
        )
        .await;
    assert!(
        text(&text_form).contains("=== STDOUT ===\nhi\n"),
        "{}",
        text(&text_form)
    );

    let cases = [
        (201, "VM 201 is not running", "proxmox_start_vm"),
        (202, "has no QEMU guest agent configured", "--agent 1"),
        (999, "VM 999 not found", "proxmox_list_guests"),
    ];
    for (vmid, error, hint) in cases {
        let r = exec(&env, vmid, "true", 30).await;
        let s = failed_containing(&r, error);
        assert!(s["suggestion"].as_str().unwrap().contains(hint), "{s}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_does_not_answer_is_its_own_error() {
    let env = env().await;
    let started = Instant::now();
    let r = exec(&env, 203, "true", 30).await;
    let s = failed_containing(&r, "the QEMU guest agent of VM 203 is not running");
    assert!(
        s["suggestion"]
            .as_str()
            .unwrap()
            .contains("qemu-guest-agent")
    );
    // qm waited out its 3 s ping first.
    assert!(
        started.elapsed().as_secs_f64() >= 2.9,
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_command_is_ended_in_the_guest() {
    let env = env().await;
    let r = exec(&env, 200, "echo started; sleep 60; echo late", 2).await;
    assert!(is_error(&r));
    let s = structured(&r);
    assert_eq!(s["timeout_reached"], true, "{s}");
    assert!(
        s["error"]
            .as_str()
            .unwrap()
            .contains("by the guest-side `timeout`"),
        "{s}"
    );
    assert_eq!(s["stdout"], "started\n");
    // Nothing of it runs on in the guest.
    let r = exec(&env, 200, "ps -eo args | grep -c 'sleep 6[0]' || true", 30).await;
    assert_eq!(structured(&r)["stdout"], "0\n", "{}", text(&r));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_goes_into_the_vm_and_back_verified_and_leaves_no_temp() {
    let env = env().await;
    let data: Vec<u8> = (0..(1u32 << 20) + 12345)
        .map(|i| (i * 7 + i / 251) as u8)
        .collect();
    let src = env.local_file("up.bin", &data);
    let r = env
        .call(
            "proxmox_upload_file_to_vm",
            json!({"vmid": 200, "local_path": src, "vm_path": "/root/data.bin", "permissions": "600"}),
        )
        .await;
    assert_ok(&r);
    let s = structured(&r);
    assert_eq!(s["sha256"], sha256_hex(&data));
    assert_eq!(s["bytes_transferred"], data.len() as u64);
    assert_eq!(s["permissions"], "600");
    let r = exec(&env, 200, "stat -c '%a %s' /root/data.bin; ls -a /root", 30).await;
    let out = structured(&r)["stdout"].as_str().unwrap().to_string();
    assert!(out.starts_with(&format!("600 {}\n", data.len())), "{out}");
    assert!(!out.contains(".mcp"), "a temp is left in the guest: {out}");
    assert!(
        env.host_files_with(".mcp-pct-").is_empty(),
        "{:?}",
        env.host_files_with(".mcp")
    );

    // Back, to a new local file, with the guest's SHA-256.
    let back = env.dir.path().join("back.bin");
    let r = env
        .call(
            "proxmox_download_file_from_vm",
            json!({"vmid": 200, "vm_path": "/root/data.bin", "local_path": back}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(structured(&r)["sha256"], sha256_hex(&data));
    assert_eq!(std::fs::read(&back).unwrap(), data);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&back).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode & 0o077,
            0,
            "a 600 file never becomes readable by others: {mode:o}"
        );
    }

    // The overwrite rules, both ways.
    let r = env
        .call(
            "proxmox_upload_file_to_vm",
            json!({"vmid": 200, "local_path": src, "vm_path": "/root/data.bin"}),
        )
        .await;
    failed_containing(&r, "File already exists in VM 200: /root/data.bin");
    let r = env
        .call(
            "proxmox_download_file_from_vm",
            json!({"vmid": 200, "vm_path": "/root/data.bin", "local_path": back}),
        )
        .await;
    failed_containing(&r, "exists");
    let small = env.local_file("small.txt", "new\n");
    let r = env
        .call(
            "proxmox_upload_file_to_vm",
            json!({"vmid": 200, "local_path": small, "vm_path": "/root/data.bin", "overwrite": true}),
        )
        .await;
    assert_ok(&r);
    let r = exec(
        &env,
        200,
        "cat /root/data.bin; stat -c %a /root/data.bin",
        30,
    )
    .await;
    assert_eq!(
        structured(&r)["stdout"],
        "new\n600\n",
        "a replaced file keeps its mode"
    );

    // Bad targets lose nothing.
    let cases = [
        (
            json!({"vm_path": "/nonexistent/x"}),
            "Directory does not exist in VM 200: /nonexistent",
        ),
        (json!({"vm_path": "/root"}), "is a directory"),
        (json!({"vm_path": "relative/x"}), "must be absolute"),
        (json!({"vm_path": "/root/../etc/x"}), "'..'"),
    ];
    for (change, error) in cases {
        let mut args = json!({"vmid": 200, "local_path": small});
        args.as_object_mut()
            .unwrap()
            .extend(change.as_object().unwrap().clone());
        let r = env.call("proxmox_upload_file_to_vm", args).await;
        failed_containing(&r, error);
    }
    let r = env
        .call(
            "proxmox_download_file_from_vm",
            json!({"vmid": 200, "vm_path": "/root/missing", "local_path": env.dir.path().join("m")}),
        )
        .await;
    failed_containing(&r, "File not found in VM 200: /root/missing");
    let r = env
        .call(
            "proxmox_upload_file_to_vm",
            json!({"vmid": 201, "local_path": small, "vm_path": "/root/x"}),
        )
        .await;
    failed_containing(&r, "VM 201 is not running");
    assert!(env.host_files_with(".mcp-pct-").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_start_stop_and_reboot_report_what_happened() {
    let env = env().await;
    let r = env
        .call("proxmox_shutdown_vm", json!({"vmid": 200, "timeout": 30}))
        .await;
    assert_ok(&r);
    let s = structured(&r);
    assert_eq!(
        (s["status"].as_str(), s["forced"].as_bool()),
        (Some("stopped"), Some(false))
    );
    assert_eq!(s["message"], "VM 200 was shut down cleanly");
    let r = env.call("proxmox_shutdown_vm", json!({"vmid": 200})).await;
    failed_containing(&r, "VM 200 is not running");
    let r = env.call("proxmox_stop_vm", json!({"vmid": 200})).await;
    failed_containing(&r, "VM 200 is not running");
    let r = env.call("proxmox_start_vm", json!({"vmid": 200})).await;
    assert_ok(&r);
    assert_eq!(structured(&r)["message"], "VM 200 started successfully");
    let r = env.call("proxmox_start_vm", json!({"vmid": 200})).await;
    failed_containing(&r, "VM 200 is already running");
    let r = env
        .call("proxmox_reboot_vm", json!({"vmid": 200, "timeout": 30}))
        .await;
    assert_ok(&r);
    assert_eq!(structured(&r)["status"], "running");
    let r = env.call("proxmox_stop_vm", json!({"vmid": 200})).await;
    assert_ok(&r);
    assert_eq!(status(&env, 200).await, "stopped");

    let r = env.call("proxmox_shutdown_vm", json!({"vmid": 205})).await;
    let s = failed_containing(&r, "VM 205 is paused");
    assert!(
        s["suggestion"]
            .as_str()
            .unwrap()
            .contains("force_stop=true")
    );
    let r = env
        .call("proxmox_shutdown_vm", json!({"vmid": 200, "timeout": 0}))
        .await;
    failed_containing(&r, "timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_that_ignores_shutdown_times_out_or_is_forced() {
    let env = env().await;
    let started = Instant::now();
    let r = env
        .call("proxmox_shutdown_vm", json!({"vmid": 204, "timeout": 2}))
        .await;
    let s = failed_containing(
        &r,
        "VM 204 did not shut down within 2 s and is still running",
    );
    assert!(started.elapsed().as_secs_f64() >= 2.0);
    assert!(
        s["suggestion"]
            .as_str()
            .unwrap()
            .contains("force_stop=true")
    );
    assert_eq!(status(&env, 204).await, "running");
    let r = env
        .call(
            "proxmox_shutdown_vm",
            json!({"vmid": 204, "timeout": 2, "force_stop": true}),
        )
        .await;
    assert_ok(&r);
    let s = structured(&r);
    assert_eq!(
        (s["status"].as_str(), s["forced"].as_bool()),
        (Some("stopped"), Some(true))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vm_tools_can_be_left_out_and_read_only_keeps_the_readers() {
    let env = start_proxmox(VM_FIXTURE, &[("PROXMOX_VMS", "false")]).await;
    let names = env.tool_names().await;
    assert!(
        !names
            .iter()
            .any(|n| n.ends_with("_vm") || n.contains("_vm_") || n == "proxmox_list_vms"),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n == "proxmox_list_guests"));
    let env = start_proxmox(VM_FIXTURE, &[("READ_ONLY", "true")]).await;
    let names = env.tool_names().await;
    for n in [
        "proxmox_list_vms",
        "proxmox_vm_status",
        "proxmox_download_file_from_vm",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} in {names:?}");
    }
    for n in [
        "proxmox_stop_vm",
        "proxmox_vm_exec_command",
        "proxmox_upload_file_to_vm",
    ] {
        assert!(!names.iter().any(|x| x == n), "{n} in {names:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_of_one_vm() {
    let env = env().await;
    let r = env
        .call(
            "proxmox_guest_metrics",
            json!({"vmid": 200, "response_format": "json"}),
        )
        .await;
    assert_ok(&r);
    let s = structured(&r);
    let g = &s["guests"][0];
    assert_eq!(
        (g["vmid"].as_u64(), g["status"].as_str()),
        (Some(200), Some("running")),
        "{s}"
    );
    assert_eq!(g["type"], "qemu", "{s}");
    let r = env
        .call("proxmox_guest_metrics", json!({"vmid": 999}))
        .await;
    failed_containing(&r, "Guest 999 not found on this node");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_of_a_vm() {
    let env = env().await;
    let r = env
        .call(
            "proxmox_guest_metrics",
            json!({"vmid": 200, "timeframe": "hour", "response_format": "json"}),
        )
        .await;
    assert_ok(&r);
    let s = structured(&r);
    let history = &s["guests"][0]["history"];
    assert!(history.is_object(), "{s}");
    assert_eq!(history["timeframe"], "hour", "{s}");
}
