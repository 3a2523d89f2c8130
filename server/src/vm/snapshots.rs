//! Snapshots of VMs (`qm snapshot`, `listsnapshot`, `rollback`, `delsnapshot`,
//! qm-fidelity.md §12): the container snapshot operations of [`crate::guests`] for a
//! VM, with the RAM state as an option.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{VmError, qm_ok, status, text};
use crate::pct::Ctid;
use crate::qm;
use crate::snapshot::{self, SnapName, TreeEntry};
use crate::ssh::SshClient;

/// A snapshot with RAM state, or a rollback, of a large VM takes a while.
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(600);

/// `qm snapshot`.
pub async fn create(
    client: &SshClient,
    vmid: Ctid,
    name: &SnapName,
    description: &str,
    vmstate: bool,
    cancel: &CancellationToken,
) -> Result<(), VmError> {
    let line = qm::snapshot(vmid, name, description, vmstate)?;
    qm_ok(client, vmid, "qm snapshot", &line, SNAPSHOT_TIMEOUT, cancel).await?;
    Ok(())
}

/// `qm listsnapshot`, parsed (the same tree as pct's).
pub async fn list(
    client: &SshClient,
    vmid: Ctid,
    cancel: &CancellationToken,
) -> Result<Vec<TreeEntry>, VmError> {
    let line = qm::listsnapshot(vmid);
    let out = qm_ok(
        client,
        vmid,
        "qm listsnapshot",
        &line,
        super::QUICK_TIMEOUT,
        cancel,
    )
    .await?;
    snapshot::parse_tree(&text(&out.stdout)).map_err(|e| VmError::Failed {
        what: "qm listsnapshot".into(),
        detail: e.to_string(),
    })
}

/// Fails with [`VmError::SnapshotMissing`] unless the VM has snapshot `name`.
pub async fn check_exists(
    client: &SshClient,
    vmid: Ctid,
    name: &SnapName,
    cancel: &CancellationToken,
) -> Result<(), VmError> {
    let tree = list(client, vmid, cancel).await?;
    if tree.iter().any(|e| !e.current && e.name == name.as_str()) {
        return Ok(());
    }
    Err(VmError::SnapshotMissing {
        vmid,
        name: name.to_string(),
        detail: String::new(),
    })
}

/// Before an approval: the snapshot exists and (unless `stop_running`) the VM is
/// stopped: qm kills a running VM for a rollback.
pub async fn check_rollback(
    client: &SshClient,
    vmid: Ctid,
    name: &SnapName,
    stop_running: bool,
    cancel: &CancellationToken,
) -> Result<(), VmError> {
    check_exists(client, vmid, name, cancel).await?;
    if !stop_running && status(client, vmid, cancel).await?.status != "stopped" {
        return Err(VmError::RunningRollback { vmid });
    }
    Ok(())
}

/// `qm rollback`; returns the VM's state afterwards (running when the snapshot held
/// the RAM state, or with `start`).
pub async fn rollback(
    client: &SshClient,
    vmid: Ctid,
    name: &SnapName,
    start: bool,
    cancel: &CancellationToken,
) -> Result<String, VmError> {
    let line = qm::rollback(vmid, name, start);
    qm_ok(client, vmid, "qm rollback", &line, SNAPSHOT_TIMEOUT, cancel).await?;
    Ok(status(client, vmid, cancel).await?.status)
}

/// `qm delsnapshot`.
pub async fn delete(
    client: &SshClient,
    vmid: Ctid,
    name: &SnapName,
    cancel: &CancellationToken,
) -> Result<(), VmError> {
    let line = qm::delsnapshot(vmid, name);
    qm_ok(
        client,
        vmid,
        "qm delsnapshot",
        &line,
        SNAPSHOT_TIMEOUT,
        cancel,
    )
    .await?;
    Ok(())
}
