//! Backups of VMs through the backup tools: vzdump of a VM, the list, and qmrestore
//! to a new id and over the VM itself (docs/backups.md, docs/vms.md).

use serde_json::json;
use testkit::component::{Env, start_proxmox};
use testkit::{assert_ok, failed_containing, structured};

const VMS: &str = r#"
node = "pve"

[[vms]]
vmid = 200
name = "vm1"
status = "running"
agent = true

  [[vms.files]]
  path = "/etc/app.conf"
  content = "v1\n"
"#;

async fn vm_exec(env: &Env, vmid: u32, command: &str) -> String {
    let r = env
        .call(
            "proxmox_vm_exec_command",
            json!({"vmid": vmid, "command": command, "response_format": "json"}),
        )
        .await;
    structured(&r)["stdout"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vm_is_backed_up_listed_and_restored() {
    let env = start_proxmox(VMS, &[]).await;
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
    let r = env
        .call(
            "proxmox_backup_restore",
            json!({"archive": volid, "vmid": 300, "storage": "local-lvm"}),
        )
        .await;
    assert_ok(&r);
    let s = structured(&r);
    assert_eq!(s["status"], "stopped", "{s}");
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .starts_with("VM 300 restored from"),
        "{s}"
    );
    env.call("proxmox_start_vm", json!({"vmid": 300})).await;
    assert_eq!(vm_exec(&env, 300, "cat /etc/app.conf").await, "v1\n");

    // Over the VM itself: refused without force, then with force (stopped first).
    let r = env
        .call(
            "proxmox_backup_restore",
            json!({"archive": volid, "vmid": 200, "storage": "local-lvm"}),
        )
        .await;
    failed_containing(&r, "qmrestore");
    assert_eq!(
        vm_exec(&env, 200, "echo v2 > /etc/app.conf; cat /etc/app.conf").await,
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
    assert_eq!(vm_exec(&env, 200, "cat /etc/app.conf").await, "v1\n");
}
