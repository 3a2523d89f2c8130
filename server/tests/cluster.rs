//! Cluster-aware routing against the fake cluster of `fixtures/cluster.toml`, with the
//! server configured for the entry node (pve1) only: the tool suite on guests of the
//! other nodes, the whole-cluster list, a node going offline mid-call, a migration
//! between two calls, and the host-key checks of the hop to a node.

use std::time::Duration;

use serde_json::json;
use sha2::Digest as _;
use testkit::{assert_ok, failed_containing, structured, text};

/// Asserts a successful command that printed `stdout` and nothing on stderr.
#[track_caller]
fn printed(r: &rmcp::model::CallToolResult, stdout: &str) {
    assert_ok(r);
    let s = structured(r);
    assert_eq!(
        (
            s["exit_code"].as_i64(),
            s["stdout"].as_str(),
            s["stderr"].as_str()
        ),
        (Some(0), Some(stdout), Some(""))
    );
}

#[tokio::test]
async fn the_list_covers_every_node_and_each_container_names_its_node() {
    let env = testkit::cluster::start(testkit::cluster::fixture(), &[]).await;
    let json = json!({"response_format": "json"});
    let list = env.ok("proxmox_list_containers", json).await;
    let rows = list["containers"].as_array().unwrap().clone();
    let got: Vec<(u64, &str, &str)> = rows
        .iter()
        .map(|c| {
            (
                c["ctid"].as_u64().unwrap(),
                c["node"].as_str().unwrap(),
                c["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (100, "pve1", "running"),
            (101, "pve1", "stopped"),
            (110, "pve2", "running"),
            (111, "pve2", "stopped"),
            (120, "pve3", "running"),
            (121, "pve3", "stopped"),
        ]
    );
    let table = text(&env.call("proxmox_list_containers", json!({})).await);
    assert!(
        table.starts_with("CTID | Status  | Node | Name\n"),
        "{table}"
    );
    assert!(table.contains(" 120 | running | pve3 | cache\n"), "{table}");
    env.cluster.shutdown().await;
}

#[tokio::test]
async fn the_tool_suite_runs_on_a_container_of_the_third_node() {
    let env = testkit::cluster::start(testkit::cluster::fixture(), &[]).await;
    let exec = |command: &str| {
        env.call(
            "proxmox_container_exec_command",
            json!({"ctid": 120, "command": command, "response_format": "json"}),
        )
    };
    printed(&exec("echo $((6*7))").await, "42\n");
    // The container itself answered (120 exists on pve3 only).
    printed(&exec("cat /etc/hostname").await, "cache\n");

    let r = env
        .call(
            "proxmox_container_status",
            json!({"ctid": 120, "response_format": "json"}),
        )
        .await;
    assert_eq!(structured(&r)["status"], "running");

    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let want = format!("{:x}", sha2::Sha256::digest(&data));
    let src = env.local_file("up.bin", &data);
    let r = env
        .call(
            "proxmox_upload_file_to_container",
            json!({"ctid": 120, "local_path": src, "container_path": "/root/up.bin"}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(structured(&r)["sha256"], want.as_str());
    let pve3 = env.cluster.node("pve3").host();
    assert_eq!(pve3.container_file(120, "/root/up.bin"), Some(data.clone()));
    let back = env.dir.path().join("back.bin");
    let r = env
        .call(
            "proxmox_download_file_from_container",
            json!({"ctid": 120, "container_path": "/root/up.bin", "local_path": back}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(std::fs::read(&back).unwrap(), data);
    // No temp file left on the node that did the copying, nor on the entry.
    for node in ["pve1", "pve3"] {
        let host = env.cluster.node(node).host();
        let temps: Vec<String> = host
            .host_files()
            .into_iter()
            .filter(|p| p.contains(".mcp-"))
            .collect();
        assert!(temps.is_empty(), "{node}: {temps:?}");
    }

    let r = env
        .call(
            "proxmox_snapshot_create",
            json!({"vmid": 120, "name": "before"}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(pve3.state().containers[&120].snapshots.len(), 1);
    let r = env
        .call(
            "proxmox_guest_metrics",
            json!({"vmid": 120, "response_format": "json"}),
        )
        .await;
    assert_ok(&r);
    let r = env
        .call(
            "proxmox_shutdown_container",
            json!({"ctid": 120, "timeout": 10}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(
        pve3.state().containers[&120].status,
        fake_pve::host::Status::Stopped
    );
    let r = env
        .call("proxmox_start_container", json!({"ctid": 111}))
        .await;
    assert_ok(&r);
    assert_eq!(
        env.cluster.node("pve2").host().state().containers[&111].status,
        fake_pve::host::Status::Running
    );
    // A timeout on the owning node ends the command there, as on one host.
    let r = env
        .call(
            "proxmox_container_exec_command",
            json!({"ctid": 110, "command": "sleep 300", "timeout": 1, "response_format": "json"}),
        )
        .await;
    assert_eq!(structured(&r)["timeout_reached"], true);
    let pve2 = env.cluster.node("pve2").host();
    testkit::eventually("the timed-out sleep ended on pve2", || {
        !pve2.running().iter().any(|p| p.args.contains("sleep 300"))
    })
    .await;
    env.cluster.shutdown().await;
}

#[tokio::test]
async fn a_node_going_offline_fails_the_call_on_it_and_the_next_names_the_node() {
    let env = testkit::cluster::start(testkit::cluster::fixture(), &[]).await;
    let long = env.call(
        "proxmox_container_exec_command",
        json!({"ctid": 120, "command": "sleep 30; echo late", "timeout": 60, "response_format": "json"}),
    );
    let pve3 = env.cluster.node("pve3").host().clone();
    let cut = async {
        testkit::eventually("the sleep runs on pve3", || {
            pve3.running().iter().any(|p| p.args.contains("sleep 30"))
        })
        .await;
        env.cluster.set_online("pve3", false);
    };
    let (r, ()) = tokio::time::timeout(Duration::from_secs(30), async { tokio::join!(long, cut) })
        .await
        .expect("the call ends when its node goes away");
    assert!(testkit::is_error(&r), "{}", text(&r));
    assert_ne!(structured(&r)["stdout"], "late\n");

    let r = env
        .call("proxmox_container_status", json!({"ctid": 120}))
        .await;
    failed_containing(&r, "Container 120 is on node 'pve3', which is offline");
    // The other nodes are untouched, and the list still shows pve3's guests.
    let r = env
        .call(
            "proxmox_container_status",
            json!({"ctid": 110, "response_format": "json"}),
        )
        .await;
    assert_eq!(structured(&r)["status"], "running");
    let r = env
        .call(
            "proxmox_list_containers",
            json!({"response_format": "json"}),
        )
        .await;
    let rows = structured(&r)["containers"].clone();
    let c120 = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["ctid"] == 120)
        .unwrap();
    assert_eq!(c120["status"], "unknown");

    // Back online: the next call reconnects.
    env.cluster.set_online("pve3", true);
    let r = env
        .call(
            "proxmox_container_exec_command",
            json!({"ctid": 120, "command": "echo back", "response_format": "json"}),
        )
        .await;
    printed(&r, "back\n");
    env.cluster.shutdown().await;
}

#[tokio::test]
async fn the_next_call_after_a_migration_finds_the_guest_on_its_new_node() {
    let env = testkit::cluster::start(testkit::cluster::fixture(), &[]).await;
    let r = env
        .call(
            "proxmox_container_status",
            json!({"ctid": 121, "response_format": "json"}),
        )
        .await;
    assert_eq!(structured(&r)["status"], "stopped");
    // Migrated behind the server's back, on the node that has it.
    let (out, err, code) = env.on("pve3", "pct migrate 121 pve2").await;
    assert_eq!(code, 0, "{out}{err}");
    let r = env
        .call("proxmox_start_container", json!({"ctid": 121}))
        .await;
    assert_ok(&r);
    let pve2 = env.cluster.node("pve2").host();
    assert_eq!(
        pve2.state().containers[&121].status,
        fake_pve::host::Status::Running
    );
    let r = env
        .call(
            "proxmox_container_exec_command",
            json!({"ctid": 121, "command": "cat /etc/spare.conf", "response_format": "json"}),
        )
        .await;
    printed(&r, "role=spare\n");
    // And the migration through the tools: on the entry's own stopped container.
    let r = env.exec("pct migrate 101 pve3").await;
    assert_ok(&r);
    assert!(
        text(&r).contains("migration finished successfully"),
        "{}",
        text(&r)
    );
    let r = env
        .call(
            "proxmox_container_status",
            json!({"ctid": 101, "response_format": "json"}),
        )
        .await;
    assert_eq!(structured(&r)["status"], "stopped");
    env.cluster.shutdown().await;
}

#[tokio::test]
async fn a_node_is_reached_only_with_the_host_key_the_cluster_lists_for_it() {
    // No key recorded for pve2 in the cluster: refused, nothing run there.
    let env = testkit::cluster::start(testkit::cluster::fixture(), &[]).await;
    let (_, err, code) = env
        .on("pve1", "rm /etc/pve/nodes/pve2/ssh_known_hosts")
        .await;
    assert_eq!(code, 0, "{err}");
    let r = env
        .call("proxmox_container_status", json!({"ctid": 110}))
        .await;
    failed_containing(&r, "cannot verify node 'pve2'");
    env.cluster.shutdown().await;

    // A key that is not the node's: the connection is refused as a changed key.
    let env = testkit::cluster::start(testkit::cluster::fixture(), &[]).await;
    let other = fake_pve::ssh::generate_host_key();
    let line = format!("pve2 {}", other.public_key().to_openssh().unwrap());
    let pve1 = env.cluster.node("pve1").host();
    pve1.state()
        .fs
        .write_file(
            "/etc/pve/nodes/pve2/ssh_known_hosts",
            line.as_bytes(),
            0o640,
        )
        .unwrap();
    let r = env
        .call("proxmox_container_status", json!({"ctid": 110}))
        .await;
    failed_containing(&r, "pve2");
    assert!(text(&r).to_lowercase().contains("host key"), "{}", text(&r));
    env.cluster.shutdown().await;
}

#[tokio::test]
async fn a_slow_node_slows_only_its_own_guests_calls() {
    let env = testkit::cluster::start(testkit::cluster::fixture(), &[]).await;
    let pve2 = env.cluster.node("pve2").host();
    let mut faults = pve2.faults();
    faults.latency = Duration::from_millis(300);
    pve2.set_faults(faults);
    let exec = |ctid: u32| {
        env.call(
            "proxmox_container_exec_command",
            json!({"ctid": ctid, "command": "echo ok", "response_format": "json"}),
        )
    };
    let (slow, fast) = tokio::join!(exec(110), exec(120));
    printed(&slow, "ok\n");
    printed(&fast, "ok\n");
    env.cluster.shutdown().await;
}

#[tokio::test]
async fn a_backup_runs_on_the_guests_node_and_a_restore_over_another_nodes_guest_names_it() {
    let env = testkit::cluster::start(testkit::cluster::fixture(), &[]).await;
    // Backed up on pve1 (its own container), restored there to a new id.
    let r = env
        .call(
            "proxmox_backup_create",
            json!({"vmid": 101, "storage": "local", "compress": "0"}),
        )
        .await;
    assert_ok(&r);
    let volid = structured(&r)["volid"].as_str().unwrap().to_string();
    // Over pve2's 110: one vmid space; the entry's pct names the node that has it.
    let r = env
        .call(
            "proxmox_backup_restore",
            json!({"archive": volid, "vmid": 110, "storage": "local-lvm", "force": true}),
        )
        .await;
    let s = failed_containing(&r, "Guest id 110 is already in use");
    assert_eq!(s["detail"], "CT 110 already exists on node 'pve2'");
    assert!(
        s["suggestion"].as_str().unwrap().contains("another node"),
        "{s}"
    );
    let r = env
        .call(
            "proxmox_backup_restore",
            json!({"archive": volid, "vmid": 130, "storage": "local-lvm"}),
        )
        .await;
    assert_ok(&r);
    let vmlist = env.on("pve3", "cat /etc/pve/.vmlist").await.0;
    let vmlist: serde_json::Value = serde_json::from_str(&vmlist).unwrap();
    assert_eq!(vmlist["ids"]["130"]["node"], "pve1");
    // A backup of pve2's container runs on pve2 (vzdump skips other nodes' guests).
    let r = env
        .call(
            "proxmox_backup_create",
            json!({"vmid": 111, "storage": "local", "compress": "0"}),
        )
        .await;
    assert_ok(&r);
    let pve2_dumps = env.on("pve2", "ls /var/lib/vz/dump").await.0;
    assert!(pve2_dumps.contains("vzdump-lxc-111-"), "{pve2_dumps}");
    env.cluster.shutdown().await;
}
