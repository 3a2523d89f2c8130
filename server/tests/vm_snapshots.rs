//! Snapshots of VMs through the snapshot tools (the same tools as for containers; the
//! guest's type is found first), against fake-pve's `qm` (docs/vms.md).

use serde_json::json;
use testkit::component::{Env, VM_FIXTURE, start_proxmox};
use testkit::{assert_ok, failed_containing, structured, text};

async fn env() -> Env {
    start_proxmox(VM_FIXTURE, &[]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vm_snapshot_rolls_a_change_back() {
    let env = env().await;
    let r = env
        .call(
            "proxmox_snapshot_create",
            json!({"vmid": 200, "name": "before", "description": "before the change"}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(
        structured(&r)["message"],
        "Snapshot 'before' of VM 200 taken"
    );
    assert_eq!(
        env.vm_stdout(200, "echo changed > /root/after.txt && echo ok")
            .await,
        "ok\n"
    );

    let r = env
        .call(
            "proxmox_snapshot_list",
            json!({"vmid": 200, "response_format": "json"}),
        )
        .await;
    assert_ok(&r);
    let s = structured(&r);
    assert_eq!(s["type"], "qemu");
    let names: Vec<&str> = s["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["before", "current"]);
    let t = text(
        &env.call("proxmox_snapshot_list", json!({"vmid": 200}))
            .await,
    );
    assert!(t.starts_with("VM 200 has 1 snapshot"), "{t}");

    // Running: refused first, the way out named; then with stop_running and start.
    let r = env
        .call(
            "proxmox_snapshot_rollback",
            json!({"vmid": 200, "name": "before"}),
        )
        .await;
    let s = failed_containing(&r, "VM 200 is running");
    assert!(
        s["suggestion"]
            .as_str()
            .unwrap()
            .contains("proxmox_shutdown_vm")
    );
    let r = env
        .call(
            "proxmox_snapshot_rollback",
            json!({"vmid": 200, "name": "before", "stop_running": true, "start": true}),
        )
        .await;
    assert_ok(&r);
    let s = structured(&r);
    assert_eq!(s["status"], "running", "{s}");
    assert_eq!(
        env.vm_stdout(200, "test -e /root/after.txt && echo kept || echo gone")
            .await,
        "gone\n"
    );

    let r = env
        .call(
            "proxmox_snapshot_create",
            json!({"vmid": 200, "name": "before"}),
        )
        .await;
    failed_containing(&r, "VM 200 already has a snapshot named 'before'");
    let r = env
        .call(
            "proxmox_snapshot_delete",
            json!({"vmid": 200, "name": "before"}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(
        structured(&r)["message"],
        "Snapshot 'before' of VM 200 deleted"
    );
    let r = env
        .call(
            "proxmox_snapshot_delete",
            json!({"vmid": 200, "name": "before"}),
        )
        .await;
    failed_containing(&r, "VM 200 has no snapshot named 'before'");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ram_state_is_for_vms_and_unknown_guests_name_both_kinds() {
    let env = env().await;
    let r = env
        .call(
            "proxmox_snapshot_create",
            json!({"vmid": 200, "name": "live", "vmstate": true}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(
        structured(&r)["message"],
        "Snapshot 'live' of VM 200 taken, with its RAM state"
    );
    let r = env
        .call(
            "proxmox_snapshot_create",
            json!({"vmid": 100, "name": "live", "vmstate": true}),
        )
        .await;
    failed_containing(&r, "a container has no RAM state");
    let r = env
        .call("proxmox_snapshot_list", json!({"vmid": 999}))
        .await;
    let s = failed_containing(
        &r,
        "Guest 999 not found on this node (neither a container nor a VM)",
    );
    assert!(
        s["suggestion"]
            .as_str()
            .unwrap()
            .contains("proxmox_list_guests")
    );
    // A stopped VM rolls back without stop_running and stays stopped.
    let r = env
        .call(
            "proxmox_snapshot_create",
            json!({"vmid": 201, "name": "cold"}),
        )
        .await;
    assert_ok(&r);
    let r = env
        .call(
            "proxmox_snapshot_rollback",
            json!({"vmid": 201, "name": "cold"}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(structured(&r)["status"], "stopped");
}
