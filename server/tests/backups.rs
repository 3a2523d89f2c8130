//! Backups and restore of containers through a real MCP client against an in-process
//! fake-pve (docs/backups.md).

use fake_pve::host::Status;
use serde_json::{Value, json};
use testkit::component::{Env, FIXTURE, start_proxmox};
use testkit::{assert_ok, failed_containing, structured, text};

async fn env() -> Env {
    start_proxmox(FIXTURE, &[]).await
}

/// Backs up container `vmid` (uncompressed: the fake writes plain tar) and returns the
/// result's structured content.
async fn back_up(env: &Env, vmid: u32) -> Value {
    let r = env
        .call(
            "proxmox_backup_create",
            json!({"vmid": vmid, "compress": "0"}),
        )
        .await;
    assert_ok(&r);
    structured(&r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_up_restore_to_a_new_id_and_find_the_originals_files() {
    let env = env().await;
    let s = back_up(&env, 100).await;
    let volid = s["volid"].as_str().unwrap().to_string();
    assert!(
        volid.starts_with("local:backup/vzdump-lxc-100-") && volid.ends_with(".tar"),
        "{s}"
    );
    assert_eq!(s["message"], format!("Container 100 backed up to {volid}"));
    assert_eq!(s["duration"], "00:00:00");
    assert!(s["size"].as_str().unwrap().ends_with("KB"));
    let log: Vec<&str> = s["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(log.last(), Some(&"INFO: Backup job finished successfully"));
    // The lock is gone once it is done.
    assert_eq!(env.host().state().containers[&100].lock, None);

    // Listed, for this guest and for all.
    let r = env
        .call(
            "proxmox_backup_list",
            json!({"vmid": 100, "response_format": "json"}),
        )
        .await;
    assert_ok(&r);
    let backups = structured(&r)["backups"].as_array().unwrap().clone();
    assert_eq!(backups.len(), 1);
    assert_eq!(backups[0]["volid"], volid.as_str());
    assert_eq!(backups[0]["format"], "tar");
    assert_eq!(backups[0]["vmid"], 100);
    let r = env.call("proxmox_backup_list", json!({})).await;
    assert_ok(&r);
    assert!(text(&r).starts_with("Backups on storage local:\n"));
    assert!(text(&r).contains(&format!("{volid}  (guest 100, ")));
    let r = env.call("proxmox_backup_list", json!({"vmid": 101})).await;
    assert_eq!(text(&r), "No backups on storage local\n");

    // Restore to a new id: the original's files.
    let args = json!({"archive": volid, "vmid": 300, "storage": "local-lvm"});
    let s = env.ok("proxmox_backup_restore", args).await;
    assert_eq!(
        s["message"],
        format!("Container 300 restored from {volid}; it is stopped")
    );
    assert_eq!(s["status"], "stopped");
    let host = env.host();
    for path in ["/var/log/nginx/access.log", "/etc/app/app.conf"] {
        assert_eq!(
            host.container_file(300, path),
            host.container_file(100, path),
            "{path}"
        );
    }
    assert_eq!(host.state().containers[&300].status, Status::Stopped);
    let ids = env.container_ids().await;
    assert!(ids.contains(&300), "{ids:?}");

    // Onto a used id: refused, unless force (then replaced).
    let r = env
        .call(
            "proxmox_backup_restore",
            json!({"archive": volid, "vmid": 101, "storage": "local-lvm"}),
        )
        .await;
    let s = failed_containing(&r, "Guest id 101 is already in use");
    assert_eq!(s["detail"], "CT 101 already exists on node 'pve'");
    assert!(s["suggestion"].as_str().unwrap().contains("force=true"));
    assert_eq!(
        host.container_file(101, "/etc/app/app.conf"),
        None,
        "101 unchanged"
    );
    let r = env
        .call(
            "proxmox_backup_restore",
            json!({"archive": volid, "vmid": 101, "storage": "local-lvm", "force": true}),
        )
        .await;
    assert_ok(&r);
    assert!(host.container_file(101, "/etc/app/app.conf").is_some());
    // A running one is not overwritten even so.
    let r = env
        .call(
            "proxmox_backup_restore",
            json!({"archive": volid, "vmid": 102, "storage": "local-lvm", "force": true}),
        )
        .await;
    failed_containing(&r, "pct restore failed: can't overwrite running container");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_backup_arguments_and_failures_say_what_to_do() {
    let env = env().await;
    for (args, says) in [
        (
            json!({"vmid": 100, "storage": "no such"}),
            "not a storage name",
        ),
        (json!({"vmid": 100, "mode": "fast"}), "mode"),
        (json!({"vmid": 100, "compress": "bzip2"}), "compress"),
        (json!({"vmid": 99}), "vmid"),
    ] {
        let r = env.call("proxmox_backup_create", args.clone()).await;
        failed_containing(&r, says);
    }
    // What the node says: an unknown storage, a locked guest, an unknown guest.
    let r = env
        .call(
            "proxmox_backup_create",
            json!({"vmid": 100, "storage": "nfs1", "compress": "0"}),
        )
        .await;
    let s = failed_containing(&r, "vzdump failed");
    assert!(
        s["detail"]
            .as_str()
            .unwrap()
            .contains("storage 'nfs1' does not exist")
    );
    let r = env
        .call(
            "proxmox_backup_create",
            json!({"vmid": 104, "compress": "0"}),
        )
        .await;
    failed_containing(&r, "Container 104 is locked (backup)");
    let r = env
        .call(
            "proxmox_backup_create",
            json!({"vmid": 999, "compress": "0"}),
        )
        .await;
    failed_containing(&r, "Guest 999 not found on this node");

    for (archive, says) in [
        ("vzdump-lxc-100.tar", "not a backup volume id"),
        (
            "local:backup/../../etc/shadow",
            "does not name a vzdump archive",
        ),
        (
            "local:backup/vzdump-openvz-200-2025_01_10-12_00_00.tar",
            "neither a container's",
        ),
    ] {
        let r = env
            .call(
                "proxmox_backup_restore",
                json!({"archive": archive, "vmid": 300, "storage": "local-lvm"}),
            )
            .await;
        failed_containing(&r, says);
        assert!(text(&r).contains("archive"), "{}", text(&r));
    }
    let r = env
        .call(
            "proxmox_backup_restore",
            json!({"archive": "local:backup/vzdump-lxc-100-2025_01_10-12_00_00.tar", "vmid": 300, "storage": "local-lvm"}),
        )
        .await;
    failed_containing(&r, "does not exist");
    assert!(!env.host().state().containers.contains_key(&300));
    let r = env
        .call("proxmox_backup_list", json!({"storage": "nfs1"}))
        .await;
    failed_containing(&r, "pvesm list failed: storage 'nfs1' does not exist");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guests_outside_proxmox_guest_allow_are_neither_backed_up_nor_restored_from() {
    let env = start_proxmox(FIXTURE, &[("PROXMOX_GUEST_ALLOW", "101,300")]).await;
    let r = env
        .call(
            "proxmox_backup_create",
            json!({"vmid": 100, "compress": "0"}),
        )
        .await;
    failed_containing(&r, "PROXMOX_GUEST_ALLOW");
    // A backup of 100 made by someone else is not restored into an allowed id.
    let r = env
        .call(
            "proxmox_backup_restore",
            json!({"archive": "local:backup/vzdump-lxc-100-2025_01_10-12_00_00.tar", "vmid": 300, "storage": "local-lvm"}),
        )
        .await;
    failed_containing(&r, "PROXMOX_GUEST_ALLOW");
    let s = back_up(&env, 101).await;
    let r = env
        .call("proxmox_backup_list", json!({"response_format": "json"}))
        .await;
    let listed = structured(&r)["backups"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["volid"], s["volid"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_in_progress_shows_as_the_backup_lock() {
    let fixture = format!("{FIXTURE}\n[faults]\nbackup_ms = 1500\n");
    let env = start_proxmox(&fixture, &[]).await;
    let backing_up = env.call(
        "proxmox_backup_create",
        json!({"vmid": 100, "compress": "0"}),
    );
    let meanwhile = async {
        let mut locked = None;
        for _ in 0..50 {
            let r = env
                .call(
                    "proxmox_list_containers",
                    json!({"response_format": "json"}),
                )
                .await;
            if structured(&r)["containers"][0]["lock"] == "backup" {
                locked = Some(r);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let text_list = env.call("proxmox_list_containers", json!({})).await;
        let snap = env
            .call(
                "proxmox_snapshot_create",
                json!({"vmid": 100, "name": "s1"}),
            )
            .await;
        (locked, text_list, snap)
    };
    let (done, (locked, text_list, snap)) = tokio::join!(backing_up, meanwhile);
    assert!(locked.is_some(), "the lock was never seen");
    assert!(text(&text_list).contains(" 100 | running | webserver (locked: backup)"));
    failed_containing(&snap, "Container 100 is locked (backup)");
    assert_ok(&done);
    assert_eq!(env.host().state().containers[&100].lock, None);
}
