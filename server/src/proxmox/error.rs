//! [`PctError`]: everything a container operation can meet, with pct's own message
//! where it gave one, and what to do about each.

use crate::pct::{Ctid, ParseError};
use crate::ssh::SshError;
use crate::ssh::exec::Unanswered;
use crate::ssh::transfer::TransferError;

/// Everything that can go wrong, with pct's own message where it gave one.
#[derive(Debug, thiserror::Error)]
pub enum PctError {
    #[error("Container {ctid} not found")]
    NotFound { ctid: Ctid, detail: String },
    #[error("Container {ctid} is not running")]
    NotRunning { ctid: Ctid, detail: String },
    #[error("Container {ctid} is already running")]
    AlreadyRunning { ctid: Ctid, detail: String },
    #[error("Container {ctid} is locked ({lock})")]
    Locked {
        ctid: Ctid,
        lock: String,
        detail: String,
    },
    #[error("Container {ctid} is a template and cannot be started")]
    Template { ctid: Ctid, detail: String },
    #[error("{what} failed: {detail}")]
    Failed { what: String, detail: String },
    #[error("{0}")]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Unanswered(#[from] Unanswered),
    #[error("File not found in container {ctid}: {path}")]
    FileMissing { ctid: Ctid, path: String },
    #[error("{path} is a directory in container {ctid}")]
    IsDirectory { ctid: Ctid, path: String },
    #[error("{path} in container {ctid} is not a regular file")]
    NotRegular { ctid: Ctid, path: String },
    #[error("Directory does not exist in container {ctid}: {dir}")]
    DirMissing { ctid: Ctid, dir: String },
    #[error("File already exists in container: {path}")]
    Exists { path: String },
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
    #[error("Container {ctid} did not shut down within {secs} s and is still running")]
    ShutdownTimedOut {
        ctid: Ctid,
        secs: u64,
        detail: String,
    },
    #[error("Container {ctid} already has a snapshot named '{name}'")]
    SnapshotExists {
        ctid: Ctid,
        name: String,
        detail: String,
    },
    #[error("Container {ctid} has no snapshot named '{name}'")]
    SnapshotMissing {
        ctid: Ctid,
        name: String,
        detail: String,
    },
    #[error("Guest id {ctid} is already in use")]
    IdInUse { ctid: Ctid, detail: String },
    #[error("The storage of container {ctid} cannot take snapshots")]
    SnapshotUnsupported { ctid: Ctid, detail: String },
    #[error(
        "Container {ctid} is running, and a rollback would stop it at once (pct kills it, without a clean shutdown); nothing was done"
    )]
    RunningRollback { ctid: Ctid },
}

impl From<crate::quote::Unquotable> for PctError {
    fn from(e: crate::quote::Unquotable) -> Self {
        PctError::Input(e.to_string())
    }
}

impl PctError {
    /// What to do about it.
    pub fn suggestion(&self) -> String {
        match self {
            PctError::NotFound { .. } => {
                "Use proxmox_list_containers to see available containers".into()
            }
            PctError::NotRunning { ctid, .. } => format!(
                "Start it with proxmox_start_container (ctid {ctid}), or use proxmox_list_containers to see which containers are running."
            ),
            PctError::AlreadyRunning { .. } => {
                "Nothing to do: it is running. proxmox_container_status shows its state.".into()
            }
            PctError::Locked { ctid, lock, .. } => format!(
                "A '{lock}' operation holds the lock: wait for it to finish and try again. If nothing is running any more, an administrator can clear it with `pct unlock {ctid}` on the host."
            ),
            PctError::Template { .. } => {
                "Templates cannot run: clone it into a new container (`pct clone`) and start that.".into()
            }
            PctError::Failed { .. } => {
                "Read pct's message above; proxmox_list_containers and proxmox_container_status show the containers' state.".into()
            }
            PctError::Parse(_) => {
                "pct answered in an unexpected format; run the pct command with ssh_exec_command to see its output.".into()
            }
            PctError::Unanswered(Unanswered::Timeout { .. }) => {
                "The host may be busy: check it with ssh_exec_command (e.g. `uptime`) and retry.".into()
            }
            PctError::Unanswered(Unanswered::Cancelled) => "Run it again when ready.".into(),
            PctError::FileMissing { .. } | PctError::NotRegular { .. } => {
                "Check the path, e.g. with proxmox_container_exec_command and `ls -la <directory>`.".into()
            }
            PctError::IsDirectory { .. } => "Give the full path of a file, not of a directory.".into(),
            PctError::DirMissing { dir, .. } => format!(
                "Create the directory first, e.g. with proxmox_container_exec_command and `mkdir -p '{dir}'`."
            ),
            PctError::Exists { .. } => "Set overwrite=true to replace existing file".into(),
            PctError::TooLarge { .. } => {
                "Transfer a smaller file, compress or split it first, or raise MAX_FILE_SIZE.".into()
            }
            PctError::Verify(_) => {
                "Nothing was changed; retry the call (the file may have been changing).".into()
            }
            PctError::Transfer(e) => e.suggestion().into(),
            PctError::Ssh(e) => e.suggestion().into(),
            PctError::Input(_) => "Remove NUL bytes from the input.".into(),
            PctError::ShutdownTimedOut { ctid, .. } => format!(
                "Its services did not stop in time. Call proxmox_shutdown_container again with force_stop=true (it is stopped hard after the timeout) or a longer timeout, or stop it at once with proxmox_stop_container (ctid {ctid})."
            ),
            PctError::SnapshotExists { .. } => {
                "Choose another name, or delete the old one with proxmox_snapshot_delete first; proxmox_snapshot_list shows the snapshots.".into()
            }
            PctError::SnapshotMissing { .. } => {
                "proxmox_snapshot_list shows the container's snapshots and their names.".into()
            }
            PctError::IdInUse { .. } => {
                "Restore to a free id (proxmox_list_containers shows the used ones), or set force=true to replace the existing guest (everything in it is lost).".into()
            }
            PctError::SnapshotUnsupported { .. } => {
                "A disk of the container is on a storage without snapshots (e.g. a directory storage); move it to one with snapshots (LVM-thin, ZFS, Ceph), or keep a copy another way.".into()
            }
            PctError::RunningRollback { ctid } => format!(
                "Shut it down first with proxmox_shutdown_container (ctid {ctid}), or call again with stop_running=true to let the rollback stop it (and start=true to start it afterwards)."
            ),
        }
    }

    /// pct's own message, when the error came from it.
    pub fn detail(&self) -> Option<String> {
        match self {
            PctError::NotFound { detail, .. }
            | PctError::NotRunning { detail, .. }
            | PctError::AlreadyRunning { detail, .. }
            | PctError::Locked { detail, .. }
            | PctError::Template { detail, .. }
            | PctError::ShutdownTimedOut { detail, .. }
            | PctError::SnapshotExists { detail, .. }
            | PctError::SnapshotMissing { detail, .. }
            | PctError::SnapshotUnsupported { detail, .. }
            | PctError::IdInUse { detail, .. }
                if !detail.is_empty() =>
            {
                Some(detail.clone())
            }
            PctError::Failed { detail, .. } => Some(detail.clone()),
            _ => None,
        }
    }
}
