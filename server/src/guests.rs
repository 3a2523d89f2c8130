//! Graceful power, snapshots and backups of containers over SSH
//! (docs/guest-operations.md, docs/backups.md), built from the pure command lines of
//! [`crate::snapshot`] and [`crate::backup`]. Plain Rust types, no MCP.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::backup::{self, Compress, Mode, Summary, Volume};
use crate::pct::{self, Ctid};
use crate::proxmox::{
    COPY_TIMEOUT, POWER_TIMEOUT, PctError, QUICK_TIMEOUT, pct_ok, power_failure, run, status, text,
};
use crate::snapshot::{self, SnapName, TreeEntry};
use crate::ssh::SshClient;

/// Longest shutdown timeout the tools accept, in seconds.
pub const MAX_SHUTDOWN_SECS: u64 = 300;
/// Time pct itself may take beyond the container's own (task start, status checks).
const PCT_MARGIN: Duration = Duration::from_secs(30);

/// What a finished shutdown did.
#[derive(Debug, Clone, PartialEq)]
pub struct Shutdown {
    /// The container was stopped hard after the timeout (`force_stop`).
    pub forced: bool,
    /// What pct printed (an HA request), if anything.
    pub said: String,
    /// The container's state afterwards, from `pct status`.
    pub status: String,
}

/// `pct shutdown`: asks the container to shut down cleanly and waits up to
/// `timeout_secs`; with `force_stop` it is then stopped hard. Without it, a container
/// that is still running is [`PctError::ShutdownTimedOut`]. lxc-stop exits silently
/// either way, so "forced" is read from the time it took (it kills only after the
/// timeout).
pub async fn shutdown(
    client: &SshClient,
    ctid: Ctid,
    timeout_secs: u64,
    force_stop: bool,
    cancel: &CancellationToken,
) -> Result<Shutdown, PctError> {
    let line = snapshot::shutdown(ctid, timeout_secs, force_stop);
    // Without --forceStop, pct polls the container for another N + 5 s after
    // lxc-stop gave up (pve-container's vm_stop).
    let waits = if force_stop {
        timeout_secs
    } else {
        2 * timeout_secs + 5
    };
    let bound = Duration::from_secs(waits) + PCT_MARGIN;
    let began = Instant::now();
    let out = run(client, "pct shutdown", &line, bound, cancel).await?;
    let took = began.elapsed();
    if out.exit_code != Some(0) {
        let stderr = text(&out.stderr);
        if !force_stop && pct::classify(&stderr) == pct::Failure::DidNotStop {
            return Err(PctError::ShutdownTimedOut {
                ctid,
                secs: timeout_secs,
                detail: pct::message(&format!("{}\n{stderr}", text(&out.stdout))),
            });
        }
        return Err(power_failure(client, ctid, "pct shutdown", &out, cancel).await);
    }
    Ok(Shutdown {
        forced: force_stop && took >= Duration::from_secs(timeout_secs),
        said: pct::message(&text(&out.stdout)),
        status: status(client, ctid, cancel).await?,
    })
}

/// `pct reboot`: a clean shutdown (stopped hard after `timeout_secs`), then a start.
/// Returns what pct printed and the state afterwards.
pub async fn reboot(
    client: &SshClient,
    ctid: Ctid,
    timeout_secs: u64,
    cancel: &CancellationToken,
) -> Result<(String, String), PctError> {
    let line = snapshot::reboot(ctid, timeout_secs);
    let bound = Duration::from_secs(timeout_secs) + POWER_TIMEOUT;
    let out = run(client, "pct reboot", &line, bound, cancel).await?;
    if out.exit_code != Some(0) {
        return Err(power_failure(client, ctid, "pct reboot", &out, cancel).await);
    }
    let said = pct::message(&text(&out.stdout));
    Ok((said, status(client, ctid, cancel).await?))
}

/// `pct snapshot`.
pub async fn create(
    client: &SshClient,
    ctid: Ctid,
    name: &SnapName,
    description: &str,
    cancel: &CancellationToken,
) -> Result<(), PctError> {
    let line = snapshot::create(ctid, name, description)?;
    pct_ok(client, ctid, "pct snapshot", &line, COPY_TIMEOUT, cancel).await?;
    Ok(())
}

/// `pct listsnapshot`, parsed.
pub async fn list(
    client: &SshClient,
    ctid: Ctid,
    cancel: &CancellationToken,
) -> Result<Vec<TreeEntry>, PctError> {
    let line = snapshot::list(ctid);
    let out = pct_ok(
        client,
        ctid,
        "pct listsnapshot",
        &line,
        QUICK_TIMEOUT,
        cancel,
    )
    .await?;
    Ok(snapshot::parse_tree(&text(&out.stdout))?)
}

/// Checks, before anyone is asked to approve it, that snapshot `name` exists and
/// (unless `stop_running`) that the container is not running: a rollback kills a
/// running container without a clean shutdown.
pub async fn check_rollback(
    client: &SshClient,
    ctid: Ctid,
    name: &SnapName,
    stop_running: bool,
    cancel: &CancellationToken,
) -> Result<(), PctError> {
    check_exists(client, ctid, name, cancel).await?;
    if !stop_running && status(client, ctid, cancel).await? == "running" {
        return Err(PctError::RunningRollback { ctid });
    }
    Ok(())
}

/// Fails with [`PctError::SnapshotMissing`] unless the container has snapshot `name`.
pub async fn check_exists(
    client: &SshClient,
    ctid: Ctid,
    name: &SnapName,
    cancel: &CancellationToken,
) -> Result<(), PctError> {
    let tree = list(client, ctid, cancel).await?;
    if tree.iter().any(|e| !e.current && e.name == name.as_str()) {
        return Ok(());
    }
    Err(PctError::SnapshotMissing {
        ctid,
        name: name.to_string(),
        detail: String::new(),
    })
}

/// `pct rollback`; returns the container's state afterwards.
pub async fn rollback(
    client: &SshClient,
    ctid: Ctid,
    name: &SnapName,
    start: bool,
    cancel: &CancellationToken,
) -> Result<String, PctError> {
    let line = snapshot::rollback(ctid, name, start);
    pct_ok(client, ctid, "pct rollback", &line, COPY_TIMEOUT, cancel).await?;
    status(client, ctid, cancel).await
}

/// `pct delsnapshot`.
pub async fn delete(
    client: &SshClient,
    ctid: Ctid,
    name: &SnapName,
    cancel: &CancellationToken,
) -> Result<(), PctError> {
    let line = snapshot::delete(ctid, name);
    pct_ok(client, ctid, "pct delsnapshot", &line, COPY_TIMEOUT, cancel).await?;
    Ok(())
}

/// Time limit of a backup or a restore: large guests take a while. When it runs out
/// the command is ended with SIGTERM first, on which vzdump and pct clean up (remove
/// their temp files and the guest's lock).
pub const BACKUP_TIMEOUT: Duration = Duration::from_secs(3 * 3600);
/// Lines of the task log a result keeps (the last ones).
pub const LOG_LINES: usize = 40;

/// The last [`LOG_LINES`] lines of a task log.
fn log_tail(stdout: &str) -> Vec<String> {
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    let from = lines.len().saturating_sub(LOG_LINES);
    lines[from..].iter().map(|l| l.to_string()).collect()
}

/// A finished backup.
#[derive(Debug, Clone, PartialEq)]
pub struct Backup {
    pub summary: Summary,
    /// `STORAGE:backup/NAME`, the id restore and `pvesm list` use.
    pub volid: Option<String>,
    /// The end of vzdump's task log.
    pub log: Vec<String>,
}

/// `vzdump` of one container to `storage`.
pub async fn backup(
    client: &SshClient,
    vmid: Ctid,
    storage: &str,
    mode: Mode,
    compress: Compress,
    cancel: &CancellationToken,
) -> Result<Backup, PctError> {
    let line = backup::create(vmid, storage, mode, compress);
    let out = run(client, "vzdump", &line, BACKUP_TIMEOUT, cancel).await?;
    let stdout = text(&out.stdout);
    let summary = backup::parse_log(&stdout);
    if out.exit_code != Some(0) || !summary.errors.is_empty() {
        let stderr = pct::message(&text(&out.stderr));
        let said = if summary.errors.is_empty() {
            stderr
        } else {
            summary.errors.join("\n")
        };
        return Err(match pct::classify(&said) {
            pct::Failure::Locked(lock) => PctError::Locked {
                ctid: vmid,
                lock,
                detail: said,
            },
            _ if said.contains("unable to find VM") => PctError::NotFound {
                ctid: vmid,
                detail: said,
            },
            _ => PctError::Failed {
                what: "vzdump".into(),
                detail: if said.is_empty() {
                    format!("exit status {:?}", out.exit_code)
                } else {
                    said
                },
            },
        });
    }
    let volid = summary
        .archive
        .as_deref()
        .map(|a| backup::volid(storage, a));
    Ok(Backup {
        summary,
        volid,
        log: log_tail(&stdout),
    })
}

/// `pvesm list STORAGE --content backup [--vmid ID]`.
pub async fn backups(
    client: &SshClient,
    storage: &str,
    vmid: Option<Ctid>,
    cancel: &CancellationToken,
) -> Result<Vec<Volume>, PctError> {
    let out = run(
        client,
        "pvesm list",
        &backup::list(storage, vmid),
        QUICK_TIMEOUT,
        cancel,
    )
    .await?;
    if out.exit_code != Some(0) {
        return Err(PctError::Failed {
            what: "pvesm list".into(),
            detail: pct::message(&text(&out.stderr)),
        });
    }
    Ok(backup::parse_list(&text(&out.stdout))?)
}

/// `qmrestore`: the VM from its archive; returns its state afterwards and the end
/// of qmrestore's log.
pub async fn restore_vm(
    client: &SshClient,
    restore: &backup::Restore<'_>,
    cancel: &CancellationToken,
) -> Result<(String, Vec<String>), crate::vm::VmError> {
    let vmid = restore.vmid;
    let line = restore.qmrestore()?;
    let out = crate::vm::run(client, "qmrestore", &line, BACKUP_TIMEOUT, cancel).await?;
    if out.exit_code != Some(0) {
        return Err(crate::vm::failure(vmid, "qmrestore", &out));
    }
    let log = log_tail(&text(&out.stdout));
    Ok((crate::vm::status(client, vmid, cancel).await?.status, log))
}

/// `pct restore`: the container from its archive; returns its state afterwards and
/// the end of pct's log.
pub async fn restore(
    client: &SshClient,
    restore: &backup::Restore<'_>,
    cancel: &CancellationToken,
) -> Result<(String, Vec<String>), PctError> {
    let vmid = restore.vmid;
    let line = restore.pct()?;
    let out = pct_ok(client, vmid, "pct restore", &line, BACKUP_TIMEOUT, cancel).await?;
    let log = log_tail(&text(&out.stdout));
    Ok((status(client, vmid, cancel).await?, log))
}
