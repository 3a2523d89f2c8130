//! Virtual-machine operations on a Proxmox VE node, over the shared SSH connection:
//! list, status, power, commands through the QEMU guest agent, and verified file
//! transfers ([`files`]). Built from the pure command lines and parsers of
//! [`crate::qm`]; plain Rust types, no MCP.
//!
//! # Commands in a guest
//! `qm guest exec` runs no shell and, when its `--timeout` expires, only stops
//! waiting: the process goes on in the guest (qm-fidelity.md §9). So the user's
//! command runs as `timeout -k 5 T sh -c CMD` in the guest, and qm waits a little
//! longer than T: the guest's own `timeout` ends the command (and its process group)
//! there. Should qm still return a pid, the result says the process may be running.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::pct::Ctid;
use crate::qm::{self, ExecResult, Failure, Script};
use crate::ssh::exec::{Unanswered, run_answered, said_or_status};
use crate::ssh::{ExecOutcome, SshClient};

mod error;
pub mod files;
pub mod snapshots;
pub use error::VmError;

/// Time limit for list, status and config.
pub const QUICK_TIMEOUT: Duration = Duration::from_secs(60);
/// Time limit for `qm start` / `qm stop` (QMP quit, 60 s, SIGTERM, 10 s, SIGKILL).
pub const POWER_TIMEOUT: Duration = Duration::from_secs(180);
/// Bytes kept per stream of qm's output (head and tail each): a download's chunk
/// arrives as base64 in one JSON answer.
const KEEP: usize = 4 << 20;

pub(crate) use crate::ssh::exec::text;

/// Runs one node command line; a time-out or cancellation is an error.
pub(crate) async fn run(
    client: &SshClient,
    what: &str,
    line: &str,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<ExecOutcome, VmError> {
    run_answered(client, what, line, timeout, KEEP, cancel).await
}

/// Turns a failed qm command's stderr into an error.
pub fn failure(vmid: Ctid, what: &str, out: &ExecOutcome) -> VmError {
    let stderr = text(&out.stderr);
    let detail = qm::message(&stderr);
    match qm::classify(&stderr) {
        Failure::NotFound => VmError::NotFound { vmid, detail },
        Failure::NotRunning => VmError::NotRunning { vmid, detail },
        Failure::AlreadyRunning => VmError::AlreadyRunning { vmid, detail },
        Failure::Locked(lock) => VmError::Locked { vmid, lock, detail },
        Failure::Template => VmError::Template { vmid, detail },
        Failure::Paused => VmError::Paused { vmid, detail },
        Failure::NoAgent => VmError::NoAgent { vmid, detail },
        Failure::AgentNotRunning | Failure::AgentTimeout => {
            VmError::AgentNotRunning { vmid, detail }
        }
        Failure::AgentError(desc) => VmError::Agent { vmid, desc },
        Failure::ShutdownTimeout => VmError::Failed {
            what: what.to_string(),
            detail,
        },
        Failure::SnapshotExists(name) => VmError::SnapshotExists { vmid, name, detail },
        Failure::SnapshotMissing(name) => VmError::SnapshotMissing { vmid, name, detail },
        Failure::SnapshotUnsupported => VmError::SnapshotUnsupported { vmid, detail },
        Failure::InputTooLarge | Failure::Other => VmError::Failed {
            what: what.to_string(),
            detail: said_or_status(detail, out),
        },
    }
}

/// Runs a qm command about VM `vmid`; a non-zero exit is qm's error.
pub(crate) async fn qm_ok(
    client: &SshClient,
    vmid: Ctid,
    what: &str,
    line: &str,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<ExecOutcome, VmError> {
    let out = run(client, what, line, timeout, cancel).await?;
    if out.exit_code != Some(0) {
        return Err(failure(vmid, what, &out));
    }
    Ok(out)
}

/// `qm list --full`: the VMs of this node.
pub async fn list(
    client: &SshClient,
    cancel: &CancellationToken,
) -> Result<Vec<qm::VmRow>, VmError> {
    let out = run(client, "qm list", &qm::list(), QUICK_TIMEOUT, cancel).await?;
    if out.exit_code != Some(0) {
        return Err(VmError::Failed {
            what: "qm list".into(),
            detail: qm::message(&text(&out.stderr)),
        });
    }
    Ok(qm::parse_list(&text(&out.stdout))?)
}

/// `qm status VMID --verbose`.
pub async fn status(
    client: &SshClient,
    vmid: Ctid,
    cancel: &CancellationToken,
) -> Result<qm::VmStatus, VmError> {
    let out = qm_ok(
        client,
        vmid,
        "qm status",
        &qm::status(vmid),
        QUICK_TIMEOUT,
        cancel,
    )
    .await?;
    Ok(qm::parse_status(&text(&out.stdout))?)
}

/// Whether the VM's config enables the guest agent (`None`: no `agent:` key).
pub async fn agent_configured(
    client: &SshClient,
    vmid: Ctid,
    cancel: &CancellationToken,
) -> Result<Option<bool>, VmError> {
    let out = qm_ok(
        client,
        vmid,
        "qm config",
        &qm::config(vmid),
        QUICK_TIMEOUT,
        cancel,
    )
    .await?;
    Ok(qm::agent_enabled(&qm::parse_config(&text(&out.stdout))))
}

/// `qm start VMID`; returns what qm printed (e.g. `Resuming suspended VM`, or an HA
/// request).
pub async fn start(
    client: &SshClient,
    vmid: Ctid,
    cancel: &CancellationToken,
) -> Result<String, VmError> {
    let out = qm_ok(
        client,
        vmid,
        "qm start",
        &qm::start(vmid),
        POWER_TIMEOUT,
        cancel,
    )
    .await?;
    Ok(qm::message(&text(&out.stdout)))
}

/// `qm status`: a stopped VM is [`VmError::NotRunning`] (qm's stop and shutdown
/// succeed silently on one).
async fn not_stopped(
    client: &SshClient,
    vmid: Ctid,
    cancel: &CancellationToken,
) -> Result<(), VmError> {
    let before = status(client, vmid, cancel).await?;
    if before.status == "stopped" {
        return Err(VmError::NotRunning {
            vmid,
            detail: format!("qm status: {}", before.status),
        });
    }
    Ok(())
}

/// `qm stop VMID`, after `qm status`: qm itself stops a stopped VM silently, so a
/// stopped VM is reported from the status, as pct reports a stopped container.
pub async fn stop(
    client: &SshClient,
    vmid: Ctid,
    cancel: &CancellationToken,
) -> Result<String, VmError> {
    not_stopped(client, vmid, cancel).await?;
    let out = qm_ok(
        client,
        vmid,
        "qm stop",
        &qm::stop(vmid),
        POWER_TIMEOUT,
        cancel,
    )
    .await?;
    Ok(qm::message(&text(&out.stdout)))
}

/// What a shutdown or reboot did.
#[derive(Debug, Clone, PartialEq)]
pub struct PowerDone {
    /// The state afterwards (`qm status`).
    pub status: String,
    /// Shutdown with force_stop: whether it was stopped hard.
    pub forced: bool,
    /// Something worth knowing, e.g. that the agent did not answer and ACPI was used.
    pub note: Option<String>,
    pub message: String,
}

/// The SSH limit for a shutdown of `secs`: the agent's 3 s ping, T, the 10 s between
/// SIGTERM and SIGKILL, and room for qm itself.
fn shutdown_limit(secs: u64) -> Duration {
    Duration::from_secs(secs + 3 + 10 + 30)
}

/// Runs a shutdown or reboot of `secs`; qm's timeout is [`VmError::ShutdownTimedOut`].
async fn going_down(
    client: &SshClient,
    vmid: Ctid,
    what: &str,
    line: &str,
    secs: u64,
    cancel: &CancellationToken,
) -> Result<ExecOutcome, VmError> {
    let out = run(client, what, line, shutdown_limit(secs), cancel).await?;
    if out.exit_code == Some(0) {
        return Ok(out);
    }
    let stderr = text(&out.stderr);
    if qm::classify(&stderr) == Failure::ShutdownTimeout {
        return Err(VmError::ShutdownTimedOut {
            vmid,
            secs,
            detail: qm::message(&stderr),
        });
    }
    Err(failure(vmid, what, &out))
}

/// `qm shutdown VMID --timeout T [--forceStop 1]`, with `qm status` before (a stopped
/// VM makes qm exit 0) and after.
pub async fn shutdown(
    client: &SshClient,
    vmid: Ctid,
    secs: u64,
    force_stop: bool,
    cancel: &CancellationToken,
) -> Result<PowerDone, VmError> {
    not_stopped(client, vmid, cancel).await?;
    let line = qm::shutdown(vmid, secs, force_stop);
    let out = going_down(client, vmid, "qm shutdown", &line, secs, cancel).await?;
    let stdout = text(&out.stdout);
    let after = status(client, vmid, cancel).await?;
    let forced = force_stop && qm::was_forced(&format!("{stdout}\n{}", text(&out.stderr)));
    let message = if forced {
        format!("VM {vmid} did not shut down cleanly within {secs} s and was stopped hard")
    } else {
        format!("VM {vmid} was shut down cleanly")
    };
    Ok(PowerDone {
        status: after.status,
        forced,
        note: qm::agent_fallback(&stdout).map(|l| {
            format!("the guest agent did not answer, so the guest was asked through ACPI ({l})")
        }),
        message,
    })
}

/// `qm reboot VMID --timeout T`, then `qm status` (what a timed-out reboot leaves is
/// not known, qm-fidelity.md §15).
pub async fn reboot(
    client: &SshClient,
    vmid: Ctid,
    secs: u64,
    cancel: &CancellationToken,
) -> Result<PowerDone, VmError> {
    let line = qm::reboot(vmid, secs);
    let out = going_down(client, vmid, "qm reboot", &line, secs, cancel).await?;
    let after = status(client, vmid, cancel).await?;
    Ok(PowerDone {
        message: format!("VM {vmid} was rebooted"),
        status: after.status,
        forced: false,
        note: qm::agent_fallback(&text(&out.stdout)).map(|l| {
            format!("the guest agent did not answer, so the guest was asked through ACPI ({l})")
        }),
    })
}

/// A command run in a guest through the agent.
#[derive(Debug, Clone)]
pub struct GuestRun {
    pub result: ExecResult,
    pub duration: Duration,
}

/// Runs `line` (a `qm guest exec`) and reads its JSON; qm's refusals (absent VM,
/// agent checks) are errors.
async fn guest(
    client: &SshClient,
    vmid: Ctid,
    what: &str,
    line: &str,
    limit: Duration,
    cancel: &CancellationToken,
) -> Result<GuestRun, VmError> {
    let started = Instant::now();
    let out = run(client, what, line, limit, cancel).await?;
    if out.exit_code != Some(0) {
        return Err(failure(vmid, what, &out));
    }
    Ok(GuestRun {
        result: qm::parse_exec(&text(&out.stdout))?,
        duration: started.elapsed(),
    })
}

/// The user's `command` in the guest with `sh -c`, ended there after `secs`.
pub async fn exec(
    client: &SshClient,
    vmid: Ctid,
    command: &str,
    secs: u64,
    cancel: &CancellationToken,
) -> Result<GuestRun, VmError> {
    let line = qm::exec(vmid, command, secs)?;
    // qm's own wait, plus the agent's ping, its poll and the connection.
    let limit = Duration::from_secs(secs + qm::EXEC_SLACK_SECS + 20);
    guest(client, vmid, "qm guest exec", &line, limit, cancel).await
}

/// What one of our scripts printed in the guest.
#[derive(Debug, Clone)]
pub(crate) struct Scripted {
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Scripted {
    fn ok(self, what: &str) -> Result<Scripted, VmError> {
        if self.exit_code == Some(0) {
            return Ok(self);
        }
        Err(VmError::Failed {
            what: what.into(),
            detail: match self.stderr.trim() {
                "" => format!("exit status {:?}", self.exit_code),
                e => e.to_string(),
            },
        })
    }
}

fn scripted(vmid: Ctid, what: &str, run: GuestRun, secs: u64) -> Result<Scripted, VmError> {
    match run.result {
        ExecResult::Exited {
            exit_code,
            stdout,
            stderr,
            ..
        } => Ok(Scripted {
            exit_code,
            stdout,
            stderr,
        }),
        ExecResult::StillRunning { pid } => Err(Unanswered::Timeout {
            what: format!("{what} (guest pid {pid} in VM {vmid})"),
            secs,
        }
        .into()),
    }
}

/// Seconds qm waits for one of our scripts.
pub(crate) const SCRIPT_SECS: u64 = 120;

/// Runs one of our `sh` scripts in the guest.
pub(crate) async fn script(
    client: &SshClient,
    vmid: Ctid,
    what: &str,
    script: Script<'_>,
    cancel: &CancellationToken,
) -> Result<Scripted, VmError> {
    let line = qm::exec_script(vmid, &script, SCRIPT_SECS)?;
    let limit = Duration::from_secs(SCRIPT_SECS + 20);
    let run = guest(client, vmid, what, &line, limit, cancel).await?;
    scripted(vmid, what, run, SCRIPT_SECS)
}

/// Removes a temporary file in the guest; true when it is gone (or the VM is).
pub(crate) async fn remove_temp(client: &SshClient, vmid: Ctid, path: &str) -> bool {
    let never = CancellationToken::new();
    let args = [path];
    let rm = Script::new(crate::pct::REMOVE_SCRIPT, &args);
    match script(client, vmid, "rm", rm, &never).await {
        Ok(s) => s.exit_code == Some(0),
        Err(VmError::NotFound { .. }) => true,
        Err(_) => false,
    }
}
