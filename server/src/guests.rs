//! Graceful power and snapshots of containers over SSH (docs/guest-operations.md),
//! built from the pure command lines of [`crate::snapshot`]. Plain Rust types, no MCP.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

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
