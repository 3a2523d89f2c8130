//! Verified file transfers between this machine and a VM, through the node and the
//! QEMU guest agent. The agent has no file copy of its own that can append (its
//! file-write truncates, 60 KiB a call, qm-fidelity.md §11), so the bytes travel as
//! standard input of `qm guest exec --pass-stdin` (at most 1 MiB a call, §9) and, on
//! the way back, as base64 in a command's captured output.
//!
//! Every agent call costs about a second (qm polls the agent once a second), so each
//! direction makes as few as it can: an upload of N pieces makes N + 1 calls, a
//! download of N pieces N.
//!
//! - Upload: the local file goes by SFTP to a private node temp `/tmp/.mcp-pct-<random>`;
//!   the first call checks the target in the guest (directory exists; an existing file
//!   refused unless `overwrite`) and writes the first piece (`tail -c +N | head -c M |
//!   qm guest exec … --pass-stdin 1 -- sh -c …`) to a hidden temp beside the target,
//!   created mode 600; the next calls append; the last call checks size and SHA-256 in
//!   the guest, sets the mode and moves the file into place (`mv -f`, atomic, to
//!   overwrite; `ln` + `rm` otherwise, which never replaces a file created meanwhile).
//! - Download: the first call takes the guest file's kind, size, SHA-256 and mode and
//!   the first piece (`tail -c +N | head -c M | base64 -w 0`); the pieces go into a
//!   temp beside the local target, hashed as they arrive, compared, given the guest
//!   file's mode (masked by the umask) and renamed into place.
//!
//! Temps are registered before they can exist and removed on every path, as for the
//! container transfers ([`crate::proxmox`]).

use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use sha2::Digest as _;
use tokio::io::AsyncWriteExt as _;
use tokio_util::sync::CancellationToken;

use super::{VmError, script};
use crate::pct::{self, Ctid, Probe};
use crate::proxmox::{Copied, CopyOptions, Leftovers, Temp, Temps, random_hex};
use crate::qm::{self, Piece, Script};
use crate::ssh::SshClient;
use crate::ssh::transfer::{self, TransferError};

/// Checks the target (`$1` the directory, `$2` the file; `$4` = 1 lets an existing
/// file be replaced) and, when it may be written, writes standard input to `$3`
/// (mode 600). Says `nodir`, `directory`, `exists`, or `written new|old`.
const BEGIN_SCRIPT: &str = "if [ ! -d \"$1\" ]; then echo nodir; \
elif [ -d \"$2\" ]; then echo directory; \
elif [ -e \"$2\" ] && [ \"$4\" != 1 ]; then echo exists; \
else if [ -e \"$2\" ]; then w=old; else w=new; fi; \
umask 077 && cat > \"$3\" && echo \"written $w\"; fi";

/// Checks `$1` against size `$6` and SHA-256 `$7`, gives it mode `$3`, and moves it
/// to `$2`: replacing (`$5` = 1; the old file's owner and group, and with `$4` =
/// `keep` its mode, pass to the new one) or never replacing (link). Says `size N`,
/// `sha H` on a mismatch, else `placed H` (`-` when the guest has no sha256sum).
const FINISH_SCRIPT: &str = "s=$(wc -c < \"$1\") || exit 1; \
[ \"$s\" -eq \"$6\" ] || { echo \"size $s\"; exit 0; }; \
if command -v sha256sum >/dev/null 2>&1; then h=$(sha256sum < \"$1\") || exit 1; h=${h%% *}; \
[ \"$h\" = \"$7\" ] || { echo \"sha $h\"; exit 0; }; else h=-; fi; \
chmod \"$3\" \"$1\" || exit 1; \
if [ \"$5\" = 1 ]; then \
if [ -e \"$2\" ]; then o=$(stat -c %u:%g \"$2\") && chown \"$o\" \"$1\" || exit 1; \
if [ \"$4\" = keep ]; then m=$(stat -c %a \"$2\") && chmod \"$m\" \"$1\" || exit 1; fi; fi; \
mv -f \"$1\" \"$2\" || exit 1; \
else ln \"$1\" \"$2\" || exit 1; rm -f \"$1\"; fi; \
echo \"placed $h\"";

/// [`pct::PROBE_SCRIPT`] on `$1`, then for a file its mode and its bytes `$2`.. (at
/// most `$3`) in base64 on one line.
fn probe_and_read_script() -> String {
    format!(
        "{}; if [ -f \"$1\" ]; then stat -c %a \"$1\" && {}; fi",
        pct::PROBE_SCRIPT,
        qm::READ_SCRIPT
    )
}

fn path_error(e: pct::BadPath) -> VmError {
    VmError::Input(e.to_string())
}

/// A local file being written: its temp beside the target, hashed as it grows.
struct LocalTemp<'a> {
    local: &'a Path,
    temp: tempfile::NamedTempFile,
    file: tokio::fs::File,
    hasher: sha2::Sha256,
    written: u64,
}

impl<'a> LocalTemp<'a> {
    fn err(&self, reason: String) -> VmError {
        VmError::Transfer(TransferError::Local {
            path: self.local.to_path_buf(),
            reason,
        })
    }

    async fn new(local: &'a Path, dir: &Path, name: &str) -> Result<LocalTemp<'a>, VmError> {
        let local_err = |reason: String| {
            VmError::Transfer(TransferError::Local {
                path: local.to_path_buf(),
                reason,
            })
        };
        let temp = tempfile::Builder::new()
            .prefix(&transfer::temp_name(name, "mcp-download"))
            .tempfile_in(dir)
            .map_err(|e| {
                local_err(format!(
                    "cannot create a temporary file in {}: {e}",
                    dir.display()
                ))
            })?;
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .open(temp.path())
            .await
            .map_err(|e| local_err(e.to_string()))?;
        Ok(LocalTemp {
            local,
            temp,
            file,
            hasher: sha2::Sha256::new(),
            written: 0,
        })
    }

    /// Appends one piece that arrived in base64; it must hold `want` bytes.
    async fn piece(&mut self, b64: &str, want: u64) -> Result<(), VmError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| {
                VmError::Verify(format!("the guest sent bytes that are not base64: {e}"))
            })?;
        if bytes.len() as u64 != want {
            return Err(VmError::Verify(format!(
                "{} bytes arrived from offset {}, {want} were expected (was the file changing?)",
                bytes.len(),
                self.written
            )));
        }
        self.hasher.update(&bytes);
        self.file
            .write_all(&bytes)
            .await
            .map_err(|e| self.err(e.to_string()))?;
        self.written += want;
        Ok(())
    }

    /// Checks the hash, sets `mode` and renames the file into place.
    async fn finish(
        mut self,
        sha256: Option<&str>,
        mode: u32,
        overwrite: bool,
    ) -> Result<Option<String>, VmError> {
        self.file
            .flush()
            .await
            .map_err(|e| self.err(e.to_string()))?;
        self.file
            .sync_all()
            .await
            .map_err(|e| self.err(e.to_string()))?;
        let got: String = self
            .hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if let Some(want) = sha256
            && want != got
        {
            return Err(VmError::Verify(
                "the SHA-256 of what arrived differs from the guest file's (was it changing?)"
                    .into(),
            ));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let m = mode & 0o777 & !transfer::umask();
            let _ = std::fs::set_permissions(self.temp.path(), std::fs::Permissions::from_mode(m));
        }
        let local = self.local;
        let persisted = if overwrite {
            self.temp.persist(local).map(|_| ())
        } else {
            self.temp.persist_noclobber(local).map(|_| ())
        };
        if let Err(e) = persisted {
            return Err(if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                VmError::Transfer(TransferError::Exists {
                    what: "Local file",
                    path: local.display().to_string(),
                })
            } else {
                VmError::Transfer(TransferError::Local {
                    path: local.to_path_buf(),
                    reason: e.error.to_string(),
                })
            });
        }
        Ok(sha256.map(|_| got))
    }
}

/// Copies guest file `vm_path` of `vmid` to `local` (see the module docs).
pub async fn download(
    client: &Arc<SshClient>,
    leftovers: &Arc<Leftovers>,
    vmid: Ctid,
    vm_path: &str,
    local: &Path,
    opts: CopyOptions<'_>,
) -> Result<Copied, VmError> {
    pct::split_container_path(vm_path).map_err(path_error)?;
    let (dir, name) = transfer::check_local_target(local, opts.overwrite).await?;
    leftovers.retry(client).await;
    let cancel = opts.cancel;
    let what = "reading the file in the VM";
    let first = qm::READ_CHUNK.to_string();
    let probe = probe_and_read_script();
    let args = [vm_path, "1", &first];
    let out = script(client, vmid, what, Script::new(&probe, &args), cancel)
        .await?
        .ok(what)?;
    let (size, sha256) = match pct::parse_probe(&out.stdout)? {
        Probe::Missing => {
            return Err(VmError::FileMissing {
                vmid,
                path: vm_path.into(),
            });
        }
        Probe::Directory => {
            return Err(VmError::IsDirectory {
                vmid,
                path: vm_path.into(),
            });
        }
        Probe::Special => {
            return Err(VmError::NotRegular {
                vmid,
                path: vm_path.into(),
            });
        }
        Probe::File { size, sha256 } => (size, sha256),
    };
    if size > opts.max_size {
        return Err(VmError::TooLarge {
            what: format!("{vm_path} in VM {vmid}"),
            size,
            limit: opts.max_size,
        });
    }
    let mut lines = out.stdout.lines().skip(3);
    let mode = lines
        .next()
        .and_then(|m| u32::from_str_radix(m.trim(), 8).ok())
        .unwrap_or(0o600);
    let mut temp = LocalTemp::new(local, &dir, &name).await?;
    temp.piece(lines.next().unwrap_or(""), qm::READ_CHUNK.min(size))
        .await?;
    (opts.progress)(temp.written, size);
    while temp.written < size {
        let want = qm::READ_CHUNK.min(size - temp.written);
        let from = (temp.written + 1).to_string();
        let count = want.to_string();
        let args = [vm_path, &from, &count];
        let out = script(
            client,
            vmid,
            what,
            Script::new(qm::READ_SCRIPT, &args),
            cancel,
        )
        .await?
        .ok(what)?;
        temp.piece(&out.stdout, want).await?;
        (opts.progress)(temp.written, size);
    }
    let sha256 = temp.finish(sha256.as_deref(), mode, opts.overwrite).await?;
    Ok(Copied {
        bytes: size,
        sha256,
        mode: None,
    })
}

/// Copies local file `local` to `vm_path` in VM `vmid` (see the module docs). The
/// new file gets `mode`; without one, a replaced file keeps its mode and a new one
/// gets 0644. A replaced file keeps its owner and group.
pub async fn upload(
    client: &Arc<SshClient>,
    leftovers: &Arc<Leftovers>,
    vmid: Ctid,
    local: &Path,
    vm_path: &str,
    mode: Option<u32>,
    opts: CopyOptions<'_>,
) -> Result<Copied, VmError> {
    let (dir, name) = pct::split_container_path(vm_path).map_err(path_error)?;
    transfer::check_local_source(local, opts.max_size).await?;
    leftovers.retry(client).await;
    let mut temps = Temps::new(client, leftovers);
    let host_tmp = pct::host_temp_path(&random_hex());
    let vm_tmp = pct::container_temp_path(dir, name, &random_hex()[..16]);
    temps.add(Temp::Host(host_tmp.clone()));
    temps.add(Temp::Vm(vmid, vm_tmp.clone()));
    let target = Target {
        vmid,
        dir,
        path: vm_path,
        tmp: &vm_tmp,
    };
    let result = send(client, &target, local, &host_tmp, mode, &opts).await;
    if result.is_ok() {
        temps.forget(&Temp::Vm(vmid, vm_tmp.clone()));
    }
    temps.cleanup().await;
    result
}

/// Where an upload goes in the guest.
struct Target<'a> {
    vmid: Ctid,
    dir: &'a str,
    path: &'a str,
    tmp: &'a str,
}

async fn send(
    client: &Arc<SshClient>,
    to: &Target<'_>,
    local: &Path,
    host_tmp: &str,
    mode: Option<u32>,
    opts: &CopyOptions<'_>,
) -> Result<Copied, VmError> {
    let cancel: &CancellationToken = opts.cancel;
    let vmid = to.vmid;
    let quiet = |_: u64, _: u64| {};
    let up = transfer::UploadOptions {
        permissions: Some(0o600),
        overwrite: false,
        max_size: opts.max_size,
    };
    let sent = tokio::select! {
        r = transfer::upload(client, local, host_tmp, up, &quiet) => r?,
        _ = cancel.cancelled() => return Err(crate::ssh::exec::Unanswered::Cancelled.into()),
    };
    // What was sent (measured as it was read) is what must arrive.
    let (size, sha) = (sent.bytes, sent.sha256.as_str());
    let what = "writing into the VM";
    let overwrite = if opts.overwrite { "1" } else { "0" };
    let mut done = qm::STDIN_CHUNK.min(size);
    let piece = Piece {
        file: host_tmp,
        offset: 0,
        len: done,
    };
    let args = [to.dir, to.path, to.tmp, overwrite];
    let begin = Script::new(BEGIN_SCRIPT, &args).reading(piece);
    let out = script(client, vmid, what, begin, cancel).await?.ok(what)?;
    let replaced = match out.stdout.trim() {
        "nodir" => {
            return Err(VmError::DirMissing {
                vmid,
                dir: to.dir.into(),
            });
        }
        "directory" => {
            return Err(VmError::IsDirectory {
                vmid,
                path: to.path.into(),
            });
        }
        "exists" => {
            return Err(VmError::Exists {
                vmid,
                path: to.path.into(),
            });
        }
        "written new" => false,
        "written old" => true,
        other => {
            return Err(VmError::Verify(format!(
                "unexpected answer from the guest: {other:?}"
            )));
        }
    };
    (opts.progress)(done, size);
    while done < size {
        let len = qm::STDIN_CHUNK.min(size - done);
        let piece = Piece {
            file: host_tmp,
            offset: done,
            len,
        };
        let tmp = [to.tmp];
        let append = Script::new(qm::APPEND_SCRIPT, &tmp).reading(piece);
        script(client, vmid, what, append, cancel).await?.ok(what)?;
        done += len;
        (opts.progress)(done, size);
    }
    let keep = if mode.is_none() { "keep" } else { "set" };
    let octal = format!("{:o}", mode.unwrap_or(0o644));
    let bytes = size.to_string();
    let what = "checking the file and moving it into place";
    let args = [to.tmp, to.path, &octal, keep, overwrite, &bytes, sha];
    let out = script(
        client,
        vmid,
        what,
        Script::new(FINISH_SCRIPT, &args),
        cancel,
    )
    .await?;
    if out.exit_code != Some(0) && !opts.overwrite && out.stderr.contains("File exists") {
        return Err(VmError::Exists {
            vmid,
            path: to.path.into(),
        });
    }
    let out = out.ok(what)?;
    let said = out.stdout.trim();
    let checked = if let Some(h) = said.strip_prefix("placed ") {
        (h != "-").then(|| h.to_string())
    } else if let Some(got) = said.strip_prefix("size ") {
        return Err(VmError::Verify(format!(
            "{got} of {size} bytes arrived in the VM"
        )));
    } else if said.starts_with("sha ") {
        return Err(VmError::Verify(
            "the SHA-256 in the VM differs from the local file's".into(),
        ));
    } else {
        return Err(VmError::Verify(format!(
            "unexpected answer from the guest: {said:?}"
        )));
    };
    Ok(Copied {
        bytes: size,
        sha256: checked,
        mode: (!(mode.is_none() && replaced)).then_some(mode.unwrap_or(0o644)),
    })
}
