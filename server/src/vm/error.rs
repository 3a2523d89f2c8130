//! [`VmError`]: everything a VM operation can meet, with qm's own message where it
//! gave one, and what to do about each.

use crate::pct::Ctid;
use crate::ssh::SshError;
use crate::ssh::exec::Unanswered;
use crate::ssh::transfer::TransferError;

/// Everything that can go wrong with a VM, with qm's own message where it gave one.
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    #[error("VM {vmid} not found on this node")]
    NotFound { vmid: Ctid, detail: String },
    #[error("VM {vmid} is not running")]
    NotRunning { vmid: Ctid, detail: String },
    #[error("VM {vmid} is already running")]
    AlreadyRunning { vmid: Ctid, detail: String },
    #[error("VM {vmid} is locked ({lock})")]
    Locked {
        vmid: Ctid,
        lock: String,
        detail: String,
    },
    #[error("VM {vmid} is a template and cannot be started")]
    Template { vmid: Ctid, detail: String },
    #[error("VM {vmid} is paused, and a paused VM cannot be shut down cleanly")]
    Paused { vmid: Ctid, detail: String },
    #[error("VM {vmid} has no QEMU guest agent configured")]
    NoAgent { vmid: Ctid, detail: String },
    #[error("the QEMU guest agent of VM {vmid} is not running (it did not answer)")]
    AgentNotRunning { vmid: Ctid, detail: String },
    #[error("the QEMU guest agent of VM {vmid} refused: {desc}")]
    Agent { vmid: Ctid, desc: String },
    #[error("VM {vmid} did not shut down within {secs} s and is still running")]
    ShutdownTimedOut {
        vmid: Ctid,
        secs: u64,
        detail: String,
    },
    #[error("{what} failed: {detail}")]
    Failed { what: String, detail: String },
    #[error("{0}")]
    Parse(#[from] crate::qm::ParseError),
    #[error(transparent)]
    Unanswered(#[from] Unanswered),
    #[error("File not found in VM {vmid}: {path}")]
    FileMissing { vmid: Ctid, path: String },
    #[error("{path} is a directory in VM {vmid}")]
    IsDirectory { vmid: Ctid, path: String },
    #[error("{path} in VM {vmid} is not a regular file")]
    NotRegular { vmid: Ctid, path: String },
    #[error("Directory does not exist in VM {vmid}: {dir}")]
    DirMissing { vmid: Ctid, dir: String },
    #[error("File already exists in VM {vmid}: {path}")]
    Exists { vmid: Ctid, path: String },
    #[error("{what} is {size} bytes, more than MAX_FILE_SIZE ({limit} bytes)")]
    TooLarge { what: String, size: u64, limit: u64 },
    #[error("the copy could not be verified: {0}")]
    Verify(String),
    #[error(transparent)]
    Transfer(#[from] TransferError),
    #[error(transparent)]
    Ssh(#[from] SshError),
    #[error("{0}")]
    Input(String),
    #[error("VM {vmid} already has a snapshot named '{name}'")]
    SnapshotExists {
        vmid: Ctid,
        name: String,
        detail: String,
    },
    #[error("VM {vmid} has no snapshot named '{name}'")]
    SnapshotMissing {
        vmid: Ctid,
        name: String,
        detail: String,
    },
    #[error("The storage of a disk of VM {vmid} cannot take snapshots")]
    SnapshotUnsupported { vmid: Ctid, detail: String },
    #[error(
        "VM {vmid} is running, and a rollback would stop it at once (qm kills it, without a clean shutdown); nothing was done"
    )]
    RunningRollback { vmid: Ctid },
}

impl From<crate::quote::Unquotable> for VmError {
    fn from(e: crate::quote::Unquotable) -> Self {
        VmError::Input(e.to_string())
    }
}

impl From<crate::pct::ParseError> for VmError {
    fn from(e: crate::pct::ParseError) -> Self {
        VmError::Verify(e.to_string())
    }
}

impl VmError {
    /// What to do about it.
    pub fn suggestion(&self) -> String {
        match self {
            VmError::NotFound { .. } => "Use proxmox_list_guests to see the VMs and containers and their nodes: qm answers the same for an absent VM, a container's id and a VM on another node.".into(),
            VmError::NotRunning { vmid, .. } => format!(
                "Start it with proxmox_start_vm (vmid {vmid}); proxmox_vm_status shows its state."
            ),
            VmError::AlreadyRunning { .. } => {
                "Nothing to do: it is running. proxmox_vm_status shows its state.".into()
            }
            VmError::Locked { vmid, lock, .. } => format!(
                "A '{lock}' operation holds the lock: wait for it to finish and try again. If nothing is running any more, an administrator can clear it with `qm unlock {vmid}` on the node."
            ),
            VmError::Template { .. } => {
                "Templates cannot run: clone it into a new VM (`qm clone`) and start that.".into()
            }
            VmError::Paused { vmid, .. } => format!(
                "Resume it first (`qm resume {vmid}` on the node), or call again with force_stop=true to stop it hard."
            ),
            VmError::NoAgent { vmid, .. } => format!(
                "Commands and files in a VM go through the QEMU guest agent: enable it (`qm set {vmid} --agent 1`, then restart the VM) and install qemu-guest-agent in the guest."
            ),
            VmError::AgentNotRunning { .. } => "Check that qemu-guest-agent is installed and running in the guest (and that the VM's agent option is enabled), then retry; the VM may also still be booting.".into(),
            VmError::Agent { .. } => "Read the agent's message: a program that does not exist in the guest, a path it cannot open, or a guest that is not Linux (these tools run sh in the guest).".into(),
            VmError::ShutdownTimedOut { vmid, .. } => format!(
                "The guest did not power off in time. Call proxmox_shutdown_vm again with force_stop=true or a longer timeout, or stop it at once with proxmox_stop_vm (vmid {vmid})."
            ),
            VmError::Failed { .. } => {
                "Read qm's message above; proxmox_list_vms and proxmox_vm_status show the VMs' state.".into()
            }
            VmError::Parse(_) => {
                "qm answered in an unexpected format; run the qm command with ssh_exec_command to see its output.".into()
            }
            VmError::Unanswered(Unanswered::Timeout { .. }) => {
                "The node or the guest may be busy: check with ssh_exec_command (e.g. `uptime`) and retry.".into()
            }
            VmError::Unanswered(Unanswered::Cancelled) => "Run it again when ready.".into(),
            VmError::FileMissing { .. } | VmError::NotRegular { .. } => {
                "Check the path, e.g. with proxmox_vm_exec_command and `ls -la <directory>`.".into()
            }
            VmError::IsDirectory { .. } => "Give the full path of a file, not of a directory.".into(),
            VmError::DirMissing { dir, .. } => format!(
                "Create the directory first, e.g. with proxmox_vm_exec_command and `mkdir -p '{dir}'`."
            ),
            VmError::Exists { .. } => "Set overwrite=true to replace existing file".into(),
            VmError::TooLarge { .. } => {
                "Transfer a smaller file, compress or split it first, or raise MAX_FILE_SIZE.".into()
            }
            VmError::Verify(_) => {
                "Nothing was changed; retry the call (the file may have been changing).".into()
            }
            VmError::Transfer(e) => e.suggestion().into(),
            VmError::Ssh(e) => e.suggestion().into(),
            VmError::Input(_) => "Remove NUL bytes from the input.".into(),
            VmError::SnapshotExists { .. } => "Choose another name, or delete the old one with proxmox_snapshot_delete first; proxmox_snapshot_list shows the snapshots.".into(),
            VmError::SnapshotMissing { .. } => {
                "proxmox_snapshot_list shows the VM's snapshots and their names.".into()
            }
            VmError::SnapshotUnsupported { .. } => "A disk of the VM is on a storage without snapshots (e.g. raw files on a directory storage); move it to one with snapshots (qcow2, LVM-thin, ZFS, Ceph).".into(),
            VmError::RunningRollback { vmid } => format!(
                "Shut it down first with proxmox_shutdown_vm (vmid {vmid}), or call again with stop_running=true to let the rollback stop it (and start=true to start it afterwards)."
            ),
        }
    }

    /// qm's own message, when the error came from it.
    pub fn detail(&self) -> Option<String> {
        match self {
            VmError::NotFound { detail, .. }
            | VmError::NotRunning { detail, .. }
            | VmError::AlreadyRunning { detail, .. }
            | VmError::Locked { detail, .. }
            | VmError::Template { detail, .. }
            | VmError::Paused { detail, .. }
            | VmError::NoAgent { detail, .. }
            | VmError::AgentNotRunning { detail, .. }
            | VmError::ShutdownTimedOut { detail, .. }
            | VmError::SnapshotExists { detail, .. }
            | VmError::SnapshotMissing { detail, .. }
            | VmError::SnapshotUnsupported { detail, .. }
                if !detail.is_empty() =>
            {
                Some(detail.clone())
            }
            VmError::Failed { detail, .. } => Some(detail.clone()),
            _ => None,
        }
    }
}
