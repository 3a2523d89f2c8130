//! Container operations on a Proxmox VE host, over the shared SSH connection: list,
//! status, start, stop, and file transfers that are verified end to end. Built from
//! the pure command lines and parsers of [`crate::pct`]; plain Rust types, no MCP.
//!
//! # File transfers
//! pct copies between the host and a container, SFTP between here and the host, so a
//! file passes through a host temp file `/tmp/.mcp-pct-<128 random bits>`. `pct push`
//! and `pct pull` exit 0 even when the copy failed: their stderr is checked, and the
//! result is verified end to end by size and SHA-256: the SFTP leg hashes the bytes as
//! it moves them, the container side runs `wc -c` and `sha256sum`.
//!
//! - Download: the container file is checked first (kind, size against MAX_FILE_SIZE,
//!   SHA-256), pulled to the host temp, then fetched with the atomic SFTP download of
//!   [`crate::ssh::transfer`], which puts it in place only when the bytes that arrived
//!   have the container file's size and SHA-256.
//! - Upload: the target is checked (directory exists; existing file refused unless
//!   `overwrite`), the file sent to the host temp (hashed as it is read), pushed with `--perms` to a hidden temp name beside the target in the container,
//!   verified there, then moved into place: `mv -f` (rename: atomic) to overwrite, or
//!   `ln` + `rm` otherwise (link(2) never replaces a file, so a file created meanwhile
//!   is never clobbered, with no window between a check and the move).
//!
//! # Temp files
//! Every temp (host or container) is registered before it can exist and removed on
//! every path: success and failure explicitly before the call returns; cancellation
//! (the call's future dropped) by a spawned clean-up. What cannot be removed (the
//! connection dropped, the container stopped) is remembered per host in [`Leftovers`]
//! and removed at the start of the next file transfer to that host.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::pct::{self, Ctid, Failure, Probe, Target};
use crate::ssh::exec::{Unanswered, run_answered, said_or_status};
use crate::ssh::transfer::{self, Progress};
use crate::ssh::{ExecOutcome, SshClient};

mod error;
pub use error::PctError;

/// Time limit for list, status and the small helper commands.
pub const QUICK_TIMEOUT: Duration = Duration::from_secs(60);
/// Time limit for `pct start` / `pct stop` (a container may take a while).
pub const POWER_TIMEOUT: Duration = Duration::from_secs(180);
/// Time limit for `pct push` / `pct pull` and the SHA-256 of a large file.
pub const COPY_TIMEOUT: Duration = Duration::from_secs(300);
/// Bytes kept per stream of pct's output (head and tail each).
const KEEP: usize = 1 << 20;

pub use crate::ssh::exec::text;

/// Runs one host command line; a time-out or cancellation is an error.
pub(crate) async fn run(
    client: &SshClient,
    what: &str,
    line: &str,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<ExecOutcome, PctError> {
    run_answered(client, what, line, timeout, KEEP, cancel).await
}

/// Turns a failed pct command's stderr into an error.
pub fn failure(ctid: Ctid, what: &str, out: &ExecOutcome) -> PctError {
    let stderr = text(&out.stderr);
    let detail = pct::message(&stderr);
    match pct::classify(&stderr) {
        Failure::NotFound => PctError::NotFound { ctid, detail },
        Failure::NotRunning => PctError::NotRunning { ctid, detail },
        Failure::AlreadyRunning => PctError::AlreadyRunning { ctid, detail },
        Failure::Locked(lock) => PctError::Locked { ctid, lock, detail },
        Failure::Template => PctError::Template { ctid, detail },
        Failure::SnapshotExists(name) => PctError::SnapshotExists { ctid, name, detail },
        Failure::SnapshotMissing(name) => PctError::SnapshotMissing { ctid, name, detail },
        Failure::SnapshotUnsupported => PctError::SnapshotUnsupported { ctid, detail },
        Failure::Exists => PctError::IdInUse { ctid, detail },
        Failure::DidNotStop | Failure::Other => PctError::Failed {
            what: what.to_string(),
            detail: said_or_status(detail, out),
        },
    }
}

/// `pct list`.
pub async fn list(
    client: &SshClient,
    cancel: &CancellationToken,
) -> Result<Vec<pct::ListEntry>, PctError> {
    let out = run(client, "pct list", &pct::list(), QUICK_TIMEOUT, cancel).await?;
    if out.exit_code != Some(0) {
        let stderr = text(&out.stderr);
        return Err(PctError::Failed {
            what: "pct list".into(),
            detail: pct::message(&stderr),
        });
    }
    Ok(pct::parse_list(&text(&out.stdout))?)
}

/// Runs a pct command about container `ctid`; a non-zero exit is pct's error.
pub(crate) async fn pct_ok(
    client: &SshClient,
    ctid: Ctid,
    what: &str,
    line: &str,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<ExecOutcome, PctError> {
    let out = run(client, what, line, timeout, cancel).await?;
    if out.exit_code != Some(0) {
        return Err(failure(ctid, what, &out));
    }
    Ok(out)
}

/// `pct status CTID` → `running` / `stopped`.
pub async fn status(
    client: &SshClient,
    ctid: Ctid,
    cancel: &CancellationToken,
) -> Result<String, PctError> {
    let line = pct::status(ctid);
    let out = pct_ok(client, ctid, "pct status", &line, QUICK_TIMEOUT, cancel).await?;
    Ok(pct::parse_status(&text(&out.stdout))?)
}

/// `pct start CTID`; returns what pct printed on stdout (e.g. an HA request).
pub async fn start(
    client: &SshClient,
    ctid: Ctid,
    cancel: &CancellationToken,
) -> Result<String, PctError> {
    let line = pct::start(ctid);
    let out = pct_ok(client, ctid, "pct start", &line, POWER_TIMEOUT, cancel).await?;
    Ok(pct::message(&text(&out.stdout)))
}

/// `pct stop CTID` (immediate).
pub async fn stop(
    client: &SshClient,
    ctid: Ctid,
    cancel: &CancellationToken,
) -> Result<String, PctError> {
    let out = run(client, "pct stop", &pct::stop(ctid), POWER_TIMEOUT, cancel).await?;
    if out.exit_code == Some(0) {
        return Ok(pct::message(&text(&out.stdout)));
    }
    Err(power_failure(client, ctid, "pct stop", &out, cancel).await)
}

/// The error of a failed power command. pct says `CT N not running` (reboot: `VM N
/// not running`) for a stopped and for an absent container alike; `pct status`
/// tells them apart.
pub(crate) async fn power_failure(
    client: &SshClient,
    ctid: Ctid,
    what: &str,
    out: &ExecOutcome,
    cancel: &CancellationToken,
) -> PctError {
    match failure(ctid, what, out) {
        PctError::NotRunning { detail, .. } => match status(client, ctid, cancel).await {
            Err(PctError::NotFound { .. }) => PctError::NotFound { ctid, detail },
            _ => PctError::NotRunning { ctid, detail },
        },
        e => e,
    }
}

/// Runs `script` with `sh` in the container; pct's "not running" and "not found" are
/// errors, any other outcome is returned.
async fn in_container(
    client: &SshClient,
    ctid: Ctid,
    what: &str,
    script: &str,
    args: &[&str],
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<ExecOutcome, PctError> {
    let line = pct::exec_script(ctid, script, args)?;
    let out = run(client, what, &line, timeout, cancel).await?;
    if out.exit_code != Some(0) {
        let e = failure(ctid, what, &out);
        if matches!(e, PctError::NotFound { .. } | PctError::NotRunning { .. }) {
            return Err(e);
        }
    }
    Ok(out)
}

fn expect_ok(what: &str, out: &ExecOutcome) -> Result<(), PctError> {
    if out.exit_code == Some(0) {
        return Ok(());
    }
    let detail = pct::message(&text(&out.stderr));
    Err(PctError::Failed {
        what: what.to_string(),
        detail: if detail.is_empty() {
            format!("exit status {:?}", out.exit_code)
        } else {
            detail
        },
    })
}

/// Kind, size and SHA-256 of a container path.
async fn probe(
    client: &SshClient,
    ctid: Ctid,
    path: &str,
    cancel: &CancellationToken,
) -> Result<Probe, PctError> {
    let out = in_container(
        client,
        ctid,
        "checking the file in the container",
        pct::PROBE_SCRIPT,
        &[path],
        COPY_TIMEOUT,
        cancel,
    )
    .await?;
    expect_ok("checking the file in the container", &out)?;
    Ok(pct::parse_probe(&text(&out.stdout))?)
}

/// A temporary file this module created (or may have).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Temp {
    Host(String),
    Container(Ctid, String),
    /// A file in a VM, removed through its guest agent.
    Vm(Ctid, String),
}

/// Temp files that could not be removed yet, per host (`user@host:port`).
#[derive(Default)]
pub struct Leftovers {
    pending: StdMutex<HashMap<String, Vec<Temp>>>,
}

impl Leftovers {
    pub fn new() -> Self {
        Self::default()
    }

    fn add(&self, target: &str, temps: Vec<Temp>) {
        if temps.is_empty() {
            return;
        }
        tracing::warn!("temp files left on {target} for later removal: {temps:?}");
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        p.entry(target.to_string()).or_default().extend(temps);
    }

    /// What is still waiting for removal on `target`.
    pub fn pending(&self, target: &str) -> Vec<Temp> {
        let p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        p.get(target).cloned().unwrap_or_default()
    }

    /// Tries again to remove what is left on the client's host.
    pub async fn retry(&self, client: &SshClient) {
        let target = client.target().display();
        let temps = {
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            p.remove(&target).unwrap_or_default()
        };
        if temps.is_empty() {
            return;
        }
        let failed = remove_all(client, temps).await;
        self.add(&target, failed);
    }
}

/// Removes temp files; returns those that could not be removed (and may still exist).
async fn remove_all(client: &SshClient, temps: Vec<Temp>) -> Vec<Temp> {
    let never = CancellationToken::new();
    let mut failed = Vec::new();
    let host: Vec<&str> = temps
        .iter()
        .filter_map(|t| match t {
            Temp::Host(p) => Some(p.as_str()),
            _ => None,
        })
        .collect();
    if !host.is_empty() {
        let words: Result<Vec<String>, _> = host
            .iter()
            .map(|p| crate::quote::quote(p, "a path"))
            .collect();
        debug_assert!(host.iter().all(|p| p.starts_with(pct::HOST_TEMP_PREFIX)));
        let ok = match words {
            Ok(words) => {
                // Host temps are our own random names: files, or a pull's directory.
                let line = format!("rm -rf -- {}", words.join(" "));
                matches!(run(client, "rm", &line, Duration::from_secs(20), &never).await, Ok(o) if o.exit_code == Some(0))
            }
            Err(_) => true,
        };
        if !ok {
            failed.extend(host.iter().map(|p| Temp::Host(p.to_string())));
        }
    }
    for t in temps {
        let (ctid, path) = match &t {
            Temp::Container(ctid, path) => (ctid, path),
            Temp::Vm(vmid, path) => {
                if !crate::vm::remove_temp(client, *vmid, path).await {
                    failed.push(t.clone());
                }
                continue;
            }
            Temp::Host(_) => continue,
        };
        match in_container(
            client,
            *ctid,
            "rm",
            pct::REMOVE_SCRIPT,
            &[path],
            Duration::from_secs(30),
            &never,
        )
        .await
        {
            Ok(o) if o.exit_code == Some(0) => {}
            // The container is gone, and its temp with it.
            Err(PctError::NotFound { .. }) => {}
            _ => failed.push(t.clone()),
        }
    }
    failed
}

/// The temp files of one call: removed by [`Temps::cleanup`], or, if the call's
/// future is dropped first (cancellation), by a task spawned on drop.
pub(crate) struct Temps {
    client: Arc<SshClient>,
    leftovers: Arc<Leftovers>,
    list: Vec<Temp>,
}

impl Temps {
    pub(crate) fn new(client: &Arc<SshClient>, leftovers: &Arc<Leftovers>) -> Self {
        Temps {
            client: client.clone(),
            leftovers: leftovers.clone(),
            list: Vec::new(),
        }
    }

    pub(crate) fn add(&mut self, t: Temp) {
        self.list.push(t);
    }

    /// `t` is gone (moved into place): nothing to remove.
    pub(crate) fn forget(&mut self, t: &Temp) {
        self.list.retain(|x| x != t);
    }

    pub(crate) async fn cleanup(mut self) {
        let list = std::mem::take(&mut self.list);
        let failed = remove_all(&self.client, list).await;
        self.leftovers.add(&self.client.target().display(), failed);
    }
}

impl Drop for Temps {
    fn drop(&mut self) {
        let list = std::mem::take(&mut self.list);
        if list.is_empty() {
            return;
        }
        let client = self.client.clone();
        let leftovers = self.leftovers.clone();
        tokio::spawn(async move {
            let failed = remove_all(&client, list).await;
            leftovers.add(&client.target().display(), failed);
        });
    }
}

pub(crate) fn random_hex() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// What a finished container transfer moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub bytes: u64,
    /// SHA-256 of the content, when it could be checked on both sides.
    pub sha256: Option<String>,
    /// The mode the file was given; `None` when a replaced file kept its own.
    pub mode: Option<u32>,
}

/// Settings of one transfer.
pub struct CopyOptions<'a> {
    pub overwrite: bool,
    pub max_size: u64,
    pub progress: Progress<'a>,
    pub cancel: &'a CancellationToken,
}

/// Copies container file `ct_path` of `ctid` to `local` (see the module docs).
pub async fn download(
    client: &Arc<SshClient>,
    leftovers: &Arc<Leftovers>,
    ctid: Ctid,
    ct_path: &str,
    local: &Path,
    opts: CopyOptions<'_>,
) -> Result<Copied, PctError> {
    pct::split_container_path(ct_path).map_err(|e| PctError::Input(e.to_string()))?;
    transfer::check_local_target(local, opts.overwrite).await?;
    leftovers.retry(client).await;
    let cancel = opts.cancel;

    let (size, sha256) = match probe(client, ctid, ct_path, cancel).await? {
        Probe::Missing => {
            return Err(PctError::FileMissing {
                ctid,
                path: ct_path.into(),
            });
        }
        Probe::Directory => {
            return Err(PctError::IsDirectory {
                ctid,
                path: ct_path.into(),
            });
        }
        Probe::Special => {
            return Err(PctError::NotRegular {
                ctid,
                path: ct_path.into(),
            });
        }
        Probe::File { size, sha256 } => (size, sha256),
    };
    if size > opts.max_size {
        return Err(PctError::TooLarge {
            what: format!("{ct_path} in container {ctid}"),
            size,
            limit: opts.max_size,
        });
    }

    let mut temps = Temps::new(client, leftovers);
    let host_dir = pct::host_temp_path(&random_hex());
    let host_tmp = format!("{host_dir}/file");
    temps.add(Temp::Host(host_dir.clone()));
    let result = async {
        let out = run(client, "making a private directory on the host", &pct::private_dir(&host_dir)?, QUICK_TIMEOUT, cancel).await?;
        expect_ok("making a private directory on the host", &out)?;
        let line = pct::pull(ctid, ct_path, &host_tmp)?;
        let out = run(client, "pct pull", &line, COPY_TIMEOUT, cancel).await?;
        if let Some(msg) = pct::transfer_failure(out.exit_code, &text(&out.stderr)) {
            return Err(match failure(ctid, "pct pull", &out) {
                e @ (PctError::NotFound { .. } | PctError::NotRunning { .. }) => e,
                _ => PctError::Failed {
                    what: "pct pull".into(),
                    detail: msg,
                },
            });
        }
        // The download hashes the bytes as they arrive and puts the file in place only
        // when they are what was measured in the container: end to end, host leg
        // included, with no extra pass over the host copy.
        let expect = transfer::Expected {
            size,
            sha256: sha256.as_deref(),
        };
        let done = tokio::select! {
            r = transfer::download(client, &host_tmp, local, transfer::DownloadOptions { overwrite: opts.overwrite, max_size: opts.max_size, expect: Some(expect) }, opts.progress) => r?,
            _ = cancel.cancelled() => return Err(Unanswered::Cancelled.into()),
        };
        let checked = sha256.is_some().then(|| done.sha256.clone());
        Ok(Copied {
            bytes: done.bytes,
            sha256: checked,
            mode: None,
        })
    }
    .await;
    temps.cleanup().await;
    result
}

/// Copies local file `local` to `ct_path` in container `ctid` (see the module docs).
/// The new file gets `mode`; without one, a replaced file keeps its mode and a new
/// one gets 0644. A replaced file always keeps its owner and group.
pub async fn upload(
    client: &Arc<SshClient>,
    leftovers: &Arc<Leftovers>,
    ctid: Ctid,
    local: &Path,
    ct_path: &str,
    mode: Option<u32>,
    opts: CopyOptions<'_>,
) -> Result<Copied, PctError> {
    let keep_mode = mode.is_none();
    let mode = mode.unwrap_or(0o644);
    let (dir, name) =
        pct::split_container_path(ct_path).map_err(|e| PctError::Input(e.to_string()))?;
    transfer::check_local_source(local, opts.max_size).await?;
    leftovers.retry(client).await;
    let cancel = opts.cancel;

    let out = in_container(
        client,
        ctid,
        "checking the target in the container",
        pct::TARGET_SCRIPT,
        &[dir, ct_path],
        QUICK_TIMEOUT,
        cancel,
    )
    .await?;
    expect_ok("checking the target in the container", &out)?;
    let target = pct::parse_target(&text(&out.stdout))?;
    match target {
        Target::NoDirectory => {
            return Err(PctError::DirMissing {
                ctid,
                dir: dir.into(),
            });
        }
        Target::Directory => {
            return Err(PctError::IsDirectory {
                ctid,
                path: ct_path.into(),
            });
        }
        Target::Exists if !opts.overwrite => {
            return Err(PctError::Exists {
                path: ct_path.into(),
            });
        }
        Target::Exists | Target::Absent => {}
    }

    let mut temps = Temps::new(client, leftovers);
    let host_tmp = pct::host_temp_path(&random_hex());
    let ct_tmp = pct::container_temp_path(dir, name, &random_hex()[..16]);
    temps.add(Temp::Host(host_tmp.clone()));
    temps.add(Temp::Container(ctid, ct_tmp.clone()));
    let result = async {
        let sent = tokio::select! {
            r = transfer::upload(client, local, &host_tmp, transfer::UploadOptions { permissions: Some(0o600), overwrite: false, max_size: opts.max_size }, opts.progress) => r?,
            _ = cancel.cancelled() => return Err(Unanswered::Cancelled.into()),
        };
        // What was sent (measured as it was read) is what must arrive.
        let (size, sha) = (sent.bytes, sent.sha256);
        let line = pct::push(ctid, &host_tmp, &ct_tmp, mode)?;
        let out = run(client, "pct push", &line, COPY_TIMEOUT, cancel).await?;
        if let Some(msg) = pct::transfer_failure(out.exit_code, &text(&out.stderr)) {
            return Err(match failure(ctid, "pct push", &out) {
                e @ (PctError::NotFound { .. } | PctError::NotRunning { .. }) => e,
                _ => PctError::Failed {
                    what: "pct push".into(),
                    detail: msg,
                },
            });
        }
        let checked = match probe(client, ctid, &ct_tmp, cancel).await? {
            Probe::File { size: got, .. } if got != size => {
                return Err(PctError::Verify(format!(
                    "{got} of {size} bytes arrived in the container"
                )));
            }
            Probe::File {
                sha256: Some(got), ..
            } if got != sha => {
                return Err(PctError::Verify(
                    "the SHA-256 in the container differs from the local file's".into(),
                ));
            }
            Probe::File { sha256, .. } => sha256,
            other => {
                return Err(PctError::Verify(format!(
                    "the pushed file is not there ({other:?})"
                )));
            }
        };
        let (script, what) = if opts.overwrite {
            (pct::REPLACE_SCRIPT, "moving the file into place")
        } else {
            (pct::NO_CLOBBER_SCRIPT, "linking the file into place")
        };
        let out = in_container(
            client,
            ctid,
            what,
            script,
            &[&ct_tmp, ct_path, if keep_mode { "keep" } else { "set" }],
            QUICK_TIMEOUT,
            cancel,
        )
        .await?;
        if out.exit_code != Some(0) {
            if !opts.overwrite && text(&out.stderr).contains("File exists") {
                return Err(PctError::Exists {
                    path: ct_path.into(),
                });
            }
            expect_ok(what, &out)?;
        }
        Ok(Copied {
            bytes: size,
            sha256: checked,
            mode: (!(keep_mode && target == Target::Exists)).then_some(mode),
        })
    }
    .await;
    temps.cleanup().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_pcts_message_and_a_suggestion() {
        let ctid = Ctid::new(999).unwrap();
        let e = PctError::NotFound {
            ctid,
            detail: "Configuration file 'nodes/pve/lxc/999.conf' does not exist".into(),
        };
        assert_eq!(e.to_string(), "Container 999 not found");
        assert_eq!(
            e.suggestion(),
            "Use proxmox_list_containers to see available containers"
        );
        assert!(e.detail().unwrap().contains("999.conf"));
        let e = PctError::Exists {
            path: "/etc/app/app.conf".into(),
        };
        assert_eq!(
            e.to_string(),
            "File already exists in container: /etc/app/app.conf"
        );
        assert_eq!(
            e.suggestion(),
            "Set overwrite=true to replace existing file"
        );
    }
}
