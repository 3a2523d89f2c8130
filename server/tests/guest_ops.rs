//! Shutdown, reboot and snapshots of containers through a real MCP client against an
//! in-process fake-pve (docs/guest-operations.md).

use fake_pve::host::Status;
use serde_json::{Value, json};
use testkit::component::{Env, FIXTURE, start_proxmox};
use testkit::{assert_ok, failed_containing, is_error, structured, text};

async fn env() -> Env {
    start_proxmox(FIXTURE, &[]).await
}

fn status_of(env: &Env, id: u32) -> Status {
    env.host().state().containers[&id].status
}

async fn snapshots(env: &Env, vmid: u32) -> Vec<Value> {
    let r = env
        .call(
            "proxmox_snapshot_list",
            json!({"vmid": vmid, "response_format": "json"}),
        )
        .await;
    assert_ok(&r);
    structured(&r)["snapshots"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_change_and_roll_back_removes_the_change() {
    let env = env().await;
    let r = env
        .call(
            "proxmox_snapshot_create",
            json!({"vmid": 100, "name": "before-change", "description": "before the test's change"}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(
        structured(&r)["message"],
        "Snapshot 'before-change' of container 100 taken"
    );
    let r = env
        .call(
            "proxmox_container_exec_command",
            json!({"ctid": 100, "command": "echo changed > /root/after.txt && rm /etc/app/app.conf"}),
        )
        .await;
    assert_ok(&r);
    assert!(env.host().container_file(100, "/root/after.txt").is_some());

    // Running: refused, nothing done, and the way out is named.
    let rollback = |extra: Value| {
        let mut args = json!({"vmid": 100, "name": "before-change"});
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            args[k] = v;
        }
        env.call("proxmox_snapshot_rollback", args)
    };
    let r = rollback(json!({})).await;
    failed_containing(&r, "Container 100 is running");
    assert!(
        structured(&r)["suggestion"]
            .as_str()
            .unwrap()
            .contains("stop_running=true")
    );
    assert!(env.host().container_file(100, "/root/after.txt").is_some());
    assert_eq!(status_of(&env, 100), Status::Running);

    let r = rollback(json!({"stop_running": true, "start": true})).await;
    assert_ok(&r);
    let s = structured(&r);
    assert_eq!(s["status"], "running");
    assert_eq!(
        s["message"],
        "Container 100 rolled back to snapshot 'before-change'; it is running"
    );
    assert!(env.host().container_file(100, "/root/after.txt").is_none());
    assert_eq!(
        env.host().container_file(100, "/etc/app/app.conf").unwrap(),
        b"port=8080\n"
    );

    // The tree: the snapshot, and the present state under it.
    let tree = snapshots(&env, 100).await;
    assert_eq!(tree.len(), 2, "{tree:?}");
    assert_eq!(tree[0]["name"], "before-change");
    assert_eq!(tree[0]["description"], "before the test's change");
    assert!(tree[0]["time"].as_str().unwrap().len() == 19);
    assert_eq!(tree[1]["current"], true);
    assert_eq!(tree[1]["parent"], "before-change");
    let r = env
        .call("proxmox_snapshot_list", json!({"vmid": "100"}))
        .await;
    assert_ok(&r);
    assert!(text(&r).starts_with("Container 100 has 1 snapshot (times"));
    assert!(text(&r).contains("\n- before-change  "));
    assert!(text(&r).ends_with("\n  * current state\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_names_and_arguments_are_checked_before_anything_runs() {
    let env = env().await;
    for (name, says) in [
        ("a", "not a valid snapshot name"),
        ("1st", "not a valid snapshot name"),
        ("has space", "not a valid snapshot name"),
        ("x;reboot", "not a valid snapshot name"),
        ("current", "reserved name"),
        ("vzdump", "reserved name"),
        ("Pending", "reserved name"),
    ] {
        let r = env
            .call(
                "proxmox_snapshot_create",
                json!({"vmid": 100, "name": name}),
            )
            .await;
        failed_containing(&r, says);
        assert!(text(&r).contains("name"), "{name}: {}", text(&r));
    }
    let long = "a".repeat(41);
    let r = env
        .call(
            "proxmox_snapshot_create",
            json!({"vmid": 100, "name": long}),
        )
        .await;
    assert!(is_error(&r));
    let r = env
        .call(
            "proxmox_snapshot_create",
            json!({"vmid": 100, "name": "s1", "description": "two\nlines"}),
        )
        .await;
    failed_containing(&r, "line break");
    let r = env
        .call(
            "proxmox_snapshot_create",
            json!({"vmid": 100, "name": "s1", "vmstate": true}),
        )
        .await;
    failed_containing(&r, "no RAM state");
    for vmid in [json!(99), json!("abc"), json!(1_000_000_000u64)] {
        let r = env
            .call("proxmox_snapshot_list", json!({"vmid": vmid}))
            .await;
        failed_containing(&r, "vmid");
    }
    // None of it reached the node.
    assert!(env.host().state().containers[&100].snapshots.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_missing_and_deleted_snapshots_say_so() {
    let env = env().await;
    let create = |name: &'static str| {
        env.call(
            "proxmox_snapshot_create",
            json!({"vmid": 101, "name": name}),
        )
    };
    assert_ok(&create("s1").await);
    assert_ok(&create("s2").await);
    let r = create("s1").await;
    failed_containing(&r, "Container 101 already has a snapshot named 's1'");
    assert_eq!(structured(&r)["detail"], "snapshot name 's1' already used");

    let tree = snapshots(&env, 101).await;
    let names: Vec<&str> = tree.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["s1", "s2", "current"]);
    assert_eq!(tree[1]["parent"], "s1");

    let delete = |name: &'static str| {
        env.call(
            "proxmox_snapshot_delete",
            json!({"vmid": 101, "name": name}),
        )
    };
    let r = delete("s1").await;
    assert_ok(&r);
    assert_eq!(
        structured(&r)["message"],
        "Snapshot 's1' of container 101 deleted"
    );
    let r = delete("s1").await;
    failed_containing(&r, "Container 101 has no snapshot named 's1'");
    let r = env
        .call(
            "proxmox_snapshot_rollback",
            json!({"vmid": 101, "name": "gone"}),
        )
        .await;
    failed_containing(&r, "has no snapshot named 'gone'");
    // s2 now hangs at the root.
    let tree = snapshots(&env, 101).await;
    assert_eq!(tree[0]["name"], "s2");
    assert!(tree[0].get("parent").is_none());

    // Unknown and locked guests: pct's message.
    let r = env
        .call("proxmox_snapshot_list", json!({"vmid": 999}))
        .await;
    failed_containing(&r, "Guest 999 not found on this node");
    let r = env
        .call(
            "proxmox_snapshot_create",
            json!({"vmid": 104, "name": "s1"}),
        )
        .await;
    failed_containing(&r, "Container 104 is locked (backup)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_reports_what_really_happened() {
    let env = env().await;
    let r = env
        .call("proxmox_shutdown_container", json!({"ctid": 102}))
        .await;
    assert_ok(&r);
    let s = structured(&r);
    assert_eq!(s["message"], "Container 102 shut down cleanly");
    assert_eq!(s["status"], "stopped");
    assert_eq!(s["forced"], false);
    assert_eq!(status_of(&env, 102), Status::Stopped);

    // Stopped and absent containers are told apart.
    let r = env
        .call("proxmox_shutdown_container", json!({"ctid": 102}))
        .await;
    failed_containing(&r, "Container 102 is not running");
    let r = env
        .call("proxmox_shutdown_container", json!({"ctid": 999}))
        .await;
    failed_containing(&r, "Container 999 not found");

    // One that ignores the request: a time-out, still running; force_stop stops it.
    env.host().set_ignores_shutdown(100, true);
    let r = env
        .call(
            "proxmox_shutdown_container",
            json!({"ctid": 100, "timeout": 1}),
        )
        .await;
    failed_containing(
        &r,
        "Container 100 did not shut down within 1 s and is still running",
    );
    let s = structured(&r);
    assert!(
        s["detail"]
            .as_str()
            .unwrap()
            .contains("container did not stop")
    );
    assert!(
        s["suggestion"]
            .as_str()
            .unwrap()
            .contains("force_stop=true")
    );
    assert_eq!(status_of(&env, 100), Status::Running);

    let r = env
        .call(
            "proxmox_shutdown_container",
            json!({"ctid": 100, "timeout": 1, "force_stop": true}),
        )
        .await;
    assert_ok(&r);
    let s = structured(&r);
    assert_eq!(
        s["message"],
        "Container 100 did not shut down within 1 s and was stopped hard"
    );
    assert_eq!(s["forced"], true);
    assert_eq!(s["status"], "stopped");
    assert_eq!(status_of(&env, 100), Status::Stopped);

    for (timeout, says) in [(json!(0), "wait without a limit"), (json!(301), "maximum")] {
        let r = env
            .call(
                "proxmox_shutdown_container",
                json!({"ctid": 103, "timeout": timeout}),
            )
            .await;
        failed_containing(&r, says);
        assert!(text(&r).contains("timeout"));
    }
    assert_eq!(status_of(&env, 103), Status::Running);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reboot_starts_the_container_again() {
    let env = env().await;
    env.host().set_ignores_shutdown(103, true);
    let r = env
        .call(
            "proxmox_reboot_container",
            json!({"ctid": 103, "timeout": 1}),
        )
        .await;
    assert_ok(&r);
    let s = structured(&r);
    assert_eq!(s["message"], "Container 103 rebooted; it is running");
    assert_eq!(s["status"], "running");
    assert_eq!(status_of(&env, 103), Status::Running);

    let r = env
        .call("proxmox_reboot_container", json!({"ctid": 101}))
        .await;
    failed_containing(&r, "Container 101 is not running");
    let r = env
        .call("proxmox_reboot_container", json!({"ctid": 999}))
        .await;
    failed_containing(&r, "Container 999 not found");
}
