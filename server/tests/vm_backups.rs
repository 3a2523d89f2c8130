//! Backups of VMs through the backup tools: vzdump of a VM, the list, and qmrestore
//! to a new id and over the VM itself (docs/backups.md, docs/vms.md).

use serde_json::json;
use testkit::component::{VM_FIXTURE, start_proxmox};
use testkit::{assert_ok, failed_containing, structured};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vm_is_backed_up_listed_and_restored() {
    let env = start_proxmox(VM_FIXTURE, &[]).await;
    let r = env
        .call(
            "proxmox_backup_create",
            json!({"vmid": 200, "compress": "0"}),
        )
        .await;
    assert_ok(&r);
    let s = structured(&r);
    let volid = s["volid"].as_str().unwrap().to_string();
    assert!(volid.starts_with("local:backup/vzdump-qemu-200-"), "{s}");
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .starts_with("VM 200 backed up to"),
        "{s}"
    );

    let r = env
        .call(
            "proxmox_backup_list",
            json!({"vmid": 200, "response_format": "json"}),
        )
        .await;
    assert_ok(&r);
    assert!(
        structured(&r)["backups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["volid"] == volid.as_str()),
        "{}",
        structured(&r)
    );

    // To a new id: a stopped VM with the same files.
    let args = json!({"archive": volid, "vmid": 300, "storage": "local-lvm"});
    let s = env.ok("proxmox_backup_restore", args).await;
    assert_eq!(s["status"], "stopped", "{s}");
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .starts_with("VM 300 restored from"),
        "{s}"
    );
    env.call("proxmox_start_vm", json!({"vmid": 300})).await;
    assert_eq!(
        env.vm_stdout(300, "cat /etc/app/app.conf").await,
        "port=8080\n"
    );

    // Over the VM itself: refused without force, then with force (stopped first).
    let r = env
        .call(
            "proxmox_backup_restore",
            json!({"archive": volid, "vmid": 200, "storage": "local-lvm"}),
        )
        .await;
    failed_containing(&r, "qmrestore");
    assert_eq!(
        env.vm_stdout(200, "echo v2 > /etc/app/app.conf; cat /etc/app/app.conf")
            .await,
        "v2\n"
    );
    assert_ok(&env.call("proxmox_stop_vm", json!({"vmid": 200})).await);
    let r = env
        .call(
            "proxmox_backup_restore",
            json!({"archive": volid, "vmid": 200, "storage": "local-lvm", "force": true}),
        )
        .await;
    assert_ok(&r);
    env.call("proxmox_start_vm", json!({"vmid": 200})).await;
    assert_eq!(
        env.vm_stdout(200, "cat /etc/app/app.conf").await,
        "port=8080\n"
    );
}
