//! Streamed, atomic SFTP transfers.
//!
//! Both directions write to a temporary name beside the target and rename it into place
//! only when complete, so a failed or interrupted transfer never leaves a partial file
//! and never destroys the original. `overwrite = false` is enforced by the rename
//! itself (no-clobber), not by an earlier check, so there is no race. Several SFTP
//! requests are kept in flight, and memory stays bounded whatever the file size.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::StreamExt as _;
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::{FileAttributes, OpenFlags, StatusCode};
use sha2::Digest as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::pool::{Orphan, SftpLink};
use super::{SshClient, SshError};

mod guard;
use guard::{RemoteHandle, RemoteTemp};

/// Bytes per SFTP read or write request.
pub const CHUNK: usize = 64 * 1024;
/// Requests kept in flight per transfer.
const IN_FLIGHT: usize = 32;

/// Reports progress: (bytes done, total bytes).
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Send + Sync);

/// Why a transfer failed.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("local file {path}: {reason}")]
    Local { path: PathBuf, reason: String },
    #[error("remote file {path}: {reason}")]
    Remote { path: String, reason: String },
    #[error("{what} is {size} bytes, more than MAX_FILE_SIZE ({limit} bytes)")]
    TooLarge { what: String, size: u64, limit: u64 },
    #[error("{what} already exists: {path}")]
    Exists { what: &'static str, path: String },
    /// The bytes that arrived are not the source's (size or SHA-256); nothing was
    /// put in place.
    #[error("{0}; the target was left as it was")]
    Mismatch(String),
    #[error(transparent)]
    Ssh(#[from] SshError),
    /// A failed SFTP request, before it is told apart (time-out, lost, refused).
    #[error("SFTP: {0}")]
    Sftp(SftpError),
}

impl TransferError {
    pub fn suggestion(&self) -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed(match self {
            TransferError::Local { .. } => {
                "Check the local path: it must name a readable file (upload) or a file in an existing, writable directory (download)."
            }
            TransferError::Remote { .. } => {
                "Check the remote path and its permissions, e.g. with ssh_exec_command and `ls -la`."
            }
            TransferError::TooLarge { .. } => {
                "Transfer a smaller file, compress or split it first, or raise MAX_FILE_SIZE."
            }
            TransferError::Exists { .. } => "Set overwrite=true to replace the existing file.",
            TransferError::Mismatch(_) => {
                "Retry the call; if the source file is being written, wait until it is complete."
            }
            TransferError::Ssh(e) => return e.suggestion(),
            TransferError::Sftp(_) => "Retry the call; check the host if it fails again.",
        })
    }
}

/// What a finished transfer moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transferred {
    pub bytes: u64,
    /// SHA-256 of the bytes moved, as `sha256sum` prints it: taken as they were
    /// read (upload) or written (download), so no second pass over the file.
    pub sha256: String,
}

/// A finished SHA-256 in lower-case hex, as `sha256sum` prints it.
pub(crate) fn sha256_hex(hasher: sha2::Sha256) -> String {
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn remote_err(path: &str, e: SftpError) -> TransferError {
    let reason = match &e {
        SftpError::Status(s) => match s.status_code {
            StatusCode::NoSuchFile => "No such file or directory".to_string(),
            StatusCode::PermissionDenied => "Permission denied".to_string(),
            _ if !s.error_message.is_empty() => s.error_message.clone(),
            code => code.to_string(),
        },
        other => other.to_string(),
    };
    TransferError::Remote {
        path: path.to_string(),
        reason,
    }
}

fn is_status(e: &SftpError, code: StatusCode) -> bool {
    matches!(e, SftpError::Status(s) if s.status_code == code)
}

fn split_remote(path: &str) -> Result<(&str, &str), TransferError> {
    let (dir, name) = match path.rfind('/') {
        Some(i) => (&path[..i.max(1)], &path[i + 1..]),
        None => (".", path),
    };
    if name.is_empty() || name == "." || name == ".." {
        return Err(TransferError::Remote {
            path: path.to_string(),
            reason: "the path must name a file, not a directory".into(),
        });
    }
    Ok((
        if path.starts_with('/') && dir.is_empty() {
            "/"
        } else {
            dir
        },
        name,
    ))
}

fn temp_suffix() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// Encodes an SSH string (u32 length + bytes).
fn ssh_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// The host's SFTP session and the answer to a first `lstat` of `path`. A connection
/// that dropped since the last call (seen when the SFTP channel is opened, or by that
/// first request on an SFTP session started earlier) is replaced once, as commands do,
/// so the next call after a drop works. A session whose request timed out is thrown
/// away (the connection stays) and the error returned.
async fn sftp_and_lstat(
    client: &SshClient,
    path: &str,
) -> Result<
    (
        Arc<SftpLink>,
        Result<russh_sftp::protocol::Attrs, SftpError>,
    ),
    SshError,
> {
    let mut retried = false;
    loop {
        let deadline = SshClient::deadline(client.target().connect_timeout);
        crate::ssh::exec::clean_orphans(client, deadline).await;
        let sftp = match client.sftp(deadline).await {
            Ok(sftp) => sftp,
            Err(SshError::Lost { .. }) if !retried => {
                retried = true;
                continue;
            }
            Err(e) => return Err(e),
        };
        let first = sftp.lstat(path).await;
        match &first {
            Err(SftpError::Timeout) => {
                client.discard_sftp(&sftp).await;
                return Err(SshError::NoAnswer {
                    target: client.target().display(),
                    what: format!("an SFTP request (lstat {path})"),
                });
            }
            // A status is the host's answer; anything else means the session is gone.
            Err(e) if !retried && !matches!(e, SftpError::Status(_)) => {
                tracing::info!(
                    "SFTP session to {} failed ({e}); starting a new one",
                    sftp.conn().target()
                );
                retried = true;
                client.discard_sftp(&sftp).await;
                continue;
            }
            _ => {}
        }
        return Ok((sftp, first));
    }
}

/// A file's type from its mode bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Regular,
    Directory,
    Symlink,
    /// FIFO, socket, device.
    Special,
    Unknown,
}

fn kind(attrs: &FileAttributes) -> Kind {
    match attrs.permissions.map(|p| p & 0o170000) {
        Some(0o100000) => Kind::Regular,
        Some(0o040000) => Kind::Directory,
        Some(0o120000) => Kind::Symlink,
        Some(0) | None => Kind::Unknown,
        Some(_) => Kind::Special,
    }
}

/// A temp name for `name` that stays within NAME_MAX (255 bytes).
pub(crate) fn temp_name(name: &str, kind: &str) -> String {
    let mut base = name;
    let budget = 255 - (1 + 1 + 16 + kind.len() + 5);
    if base.len() > budget {
        let mut cut = budget;
        while !base.is_char_boundary(cut) {
            cut -= 1;
        }
        base = &base[..cut];
    }
    format!(".{base}.{}.{kind}.tmp", temp_suffix())
}

/// Maps an SFTP failure of a transfer; a timed-out session is thrown away.
async fn sftp_failed(
    client: &SshClient,
    sftp: &Arc<SftpLink>,
    path: &str,
    e: SftpError,
) -> TransferError {
    if matches!(e, SftpError::Timeout) {
        client.discard_sftp(sftp).await;
        return TransferError::Ssh(SshError::NoAnswer {
            target: client.target().display(),
            what: format!(
                "an SFTP request for {path} (no answer in {} s)",
                client.sftp_request_secs()
            ),
        });
    }
    if sftp.conn().is_closed() {
        return TransferError::Ssh(SshError::Lost {
            target: client.target().display(),
            reason: format!("during the transfer of {path}: {e}"),
        });
    }
    remote_err(path, e)
}

/// Settings of an upload.
#[derive(Debug, Clone, Copy)]
pub struct UploadOptions {
    /// Mode of the new file (e.g. 0o644); without it a replaced file keeps its mode
    /// and a new one gets 0644.
    pub permissions: Option<u32>,
    pub overwrite: bool,
    pub max_size: u64,
}

/// Checks that `local` is a regular file within `max_size`; returns its size.
pub(crate) async fn check_local_source(local: &Path, max_size: u64) -> Result<u64, TransferError> {
    let local_err = |reason: String| TransferError::Local {
        path: local.to_path_buf(),
        reason,
    };
    let meta = tokio::fs::metadata(local)
        .await
        .map_err(|e| local_err(e.to_string()))?;
    if !meta.is_file() {
        return Err(local_err("not a regular file".into()));
    }
    if meta.len() > max_size {
        return Err(TransferError::TooLarge {
            what: format!("local file {}", local.display()),
            size: meta.len(),
            limit: max_size,
        });
    }
    Ok(meta.len())
}

/// Uploads `local` to `remote`. A replaced file keeps its owner, group and (unless
/// `permissions` is given) mode: they are set on the temp file before the rename.
/// Only a regular file is replaced; a symbolic link, directory, FIFO or device at
/// `remote` is refused before anything is written.
pub async fn upload(
    client: &Arc<SshClient>,
    local: &Path,
    remote: &str,
    opts: UploadOptions,
    progress: Progress<'_>,
) -> Result<Transferred, TransferError> {
    let len = check_local_source(local, opts.max_size).await?;
    let (dir, name) = split_remote(remote)?;
    let (sftp, first) = sftp_and_lstat(client, remote).await?;

    // Early, friendly answers; the rename below is what really guarantees them.
    let existing = match first {
        Ok(attrs) => Some(attrs.attrs),
        Err(e) if is_status(&e, StatusCode::NoSuchFile) => None,
        Err(e) => return Err(sftp_failed(client, &sftp, remote, e).await),
    };
    if let Some(attrs) = &existing {
        let refuse = |reason: &str| TransferError::Remote {
            path: remote.into(),
            reason: reason.into(),
        };
        match kind(attrs) {
            Kind::Regular | Kind::Unknown => {}
            Kind::Directory => {
                return Err(refuse(
                    "is a directory; give the full path of the file to create",
                ));
            }
            Kind::Symlink => {
                return Err(refuse(
                    "is a symbolic link; give the path of the file it points to (replacing the link would turn it into a plain file)",
                ));
            }
            Kind::Special => {
                return Err(refuse(
                    "is not a regular file (a FIFO, socket or device); only regular files are replaced",
                ));
            }
        }
        if !opts.overwrite {
            return Err(TransferError::Exists {
                what: "Remote file",
                path: remote.into(),
            });
        }
    }
    let mode = opts
        .permissions
        .or_else(|| {
            existing
                .as_ref()
                .and_then(|a| a.permissions)
                .map(|p| p & 0o7777)
        })
        .unwrap_or(0o644);

    let temp_path = format!(
        "{}/{}",
        dir.trim_end_matches('/'),
        temp_name(name, "mcp-upload")
    );
    let mut attrs = FileAttributes::empty();
    attrs.permissions = Some(0o600);
    let handle = match sftp
        .open(
            temp_path.as_str(),
            OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::EXCLUDE | OpenFlags::TRUNCATE,
            attrs,
        )
        .await
    {
        Ok(h) => h.handle,
        Err(e) => return Err(sftp_failed(client, &sftp, remote, e).await),
    };
    let mut temp = RemoteTemp {
        client: client.clone(),
        sftp: sftp.clone(),
        path: Some(temp_path.clone()),
    };
    let result = async {
        let handle = RemoteHandle {
            sftp: sftp.clone(),
            handle: Some(handle),
        };
        let h = handle.handle.clone().unwrap_or_default();
        let result = write_all(&sftp, &h, local, len, opts.max_size, progress).await;
        let closed = handle.close().await;
        let (bytes, sha256) = match result {
            Ok(b) => b,
            Err(TransferError::Sftp(e)) => return Err(sftp_failed(client, &sftp, remote, e).await),
            Err(e) => return Err(e),
        };
        if let Err(e) = closed {
            return Err(sftp_failed(client, &sftp, remote, e).await);
        }
        let stored = match sftp.stat(temp_path.as_str()).await {
            Ok(a) => a.attrs,
            Err(e) => return Err(sftp_failed(client, &sftp, remote, e).await),
        };
        let written = stored.size.unwrap_or(0);
        if written != bytes {
            return Err(TransferError::Remote {
                path: remote.into(),
                reason: format!("the host stored {written} of {bytes} bytes"),
            });
        }
        // Owner and group of the file being replaced, then the mode (after chown,
        // which may clear set-id bits).
        if let Some(old) = &existing {
            let (uid, gid) = (old.uid, old.gid);
            if (uid.is_some() && uid != stored.uid) || (gid.is_some() && gid != stored.gid) {
                let mut set = FileAttributes::empty();
                set.uid = uid.or(stored.uid);
                set.gid = gid.or(stored.gid);
                if let Err(e) = sftp.setstat(temp_path.as_str(), set).await {
                    return Err(TransferError::Remote {
                        path: remote.into(),
                        reason: format!(
                            "cannot keep its owner and group ({}:{}) for the new content: {}; nothing was changed",
                            uid.map_or("?".into(), |u| u.to_string()),
                            gid.map_or("?".into(), |g| g.to_string()),
                            remote_err(remote, e)
                        ),
                    });
                }
            }
        }
        let mut set = FileAttributes::empty();
        set.permissions = Some(mode);
        if let Err(e) = sftp.setstat(temp_path.as_str(), set).await {
            return Err(sftp_failed(client, &sftp, remote, e).await);
        }

        if opts.overwrite {
            let mut data = Vec::new();
            ssh_string(&mut data, &temp_path);
            ssh_string(&mut data, remote);
            if let Err(e) = sftp.extended("posix-rename@openssh.com", data).await {
                return Err(sftp_failed(client, &sftp, remote, e).await);
            }
        } else {
            // Plain SFTP rename never replaces an existing file.
            if let Err(e) = sftp.rename(temp_path.as_str(), remote).await {
                let exists = sftp.lstat(remote).await.is_ok();
                return Err(if exists {
                    TransferError::Exists {
                        what: "Remote file",
                        path: remote.into(),
                    }
                } else {
                    sftp_failed(client, &sftp, remote, e).await
                });
            }
        }
        Ok((bytes, sha256))
    }
    .await;
    match result {
        Ok((bytes, sha256)) => {
            temp.path = None;
            Ok(Transferred { bytes, sha256 })
        }
        Err(e) => {
            if sftp.conn().is_closed() {
                // Record it for the next connection; nothing can be done now.
                if let Some(path) = temp.path.take() {
                    client.add_orphan(Orphan::File(path));
                }
            } else {
                temp.remove().await;
            }
            Err(e)
        }
    }
}

/// Maps an I/O error on local file `path`.
fn local_io(path: &Path) -> impl Fn(std::io::Error) -> TransferError + '_ {
    move |e| TransferError::Local {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Streams the local file into the open remote handle, several writes in flight;
/// answers the bytes sent and their SHA-256.
async fn write_all(
    sftp: &Arc<SftpLink>,
    handle: &str,
    local: &Path,
    expected: u64,
    max_size: u64,
    progress: Progress<'_>,
) -> Result<(u64, String), TransferError> {
    let local_err = local_io(local);
    let mut file = tokio::fs::File::open(local).await.map_err(&local_err)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<(u64, Vec<u8>)>(IN_FLIGHT);
    let reader = async {
        // Owning the sender here ends the writer's stream when reading ends.
        let tx = tx;
        let mut offset = 0u64;
        let mut hasher = sha2::Sha256::new();
        loop {
            let mut buf = vec![0u8; CHUNK];
            let mut filled = 0;
            while filled < CHUNK {
                let n = file.read(&mut buf[filled..]).await.map_err(&local_err)?;
                if n == 0 {
                    break;
                }
                filled += n;
            }
            if filled == 0 {
                return Ok((offset, sha256_hex(hasher)));
            }
            buf.truncate(filled);
            if offset + filled as u64 > max_size {
                return Err(TransferError::TooLarge {
                    what: format!("local file {} (it grew during the upload)", local.display()),
                    size: offset + filled as u64,
                    limit: max_size,
                });
            }
            let len = filled as u64;
            hasher.update(&buf);
            if tx.send((offset, buf)).await.is_err() {
                // The writer stopped on an error, which it reports.
                return Ok((offset, String::new()));
            }
            offset += len;
        }
    };
    let writer = async {
        let mut done = 0u64;
        let mut writes = tokio_stream_from(rx)
            .map(|(offset, data)| {
                let len = data.len() as u64;
                async move {
                    sftp.write(handle, offset, data)
                        .await
                        .map(|_| len)
                        .map_err(TransferError::Sftp)
                }
            })
            .buffer_unordered(IN_FLIGHT);
        while let Some(r) = writes.next().await {
            done += r?;
            progress(done, expected);
        }
        Ok::<u64, TransferError>(done)
    };
    let (read, written) = tokio::join!(reader, writer);
    let (read, sha256) = read?;
    let written = written?;
    debug_assert_eq!(read, written);
    Ok((written, sha256))
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Checks that `local` can receive a download: its directory exists, it is not a
/// directory, and it does not exist unless `overwrite`. Returns (directory, file name).
pub(crate) async fn check_local_target(
    local: &Path,
    overwrite: bool,
) -> Result<(PathBuf, String), TransferError> {
    let local_err = |reason: String| TransferError::Local {
        path: local.to_path_buf(),
        reason,
    };
    let name = local
        .file_name()
        .ok_or_else(|| local_err("the path must name a file".into()))?
        .to_string_lossy()
        .into_owned();
    let dir = match local.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    match tokio::fs::metadata(&dir).await {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(local_err(format!("{} is not a directory", dir.display()))),
        Err(e) => return Err(local_err(format!("directory {}: {e}", dir.display()))),
    }
    if let Ok(m) = tokio::fs::metadata(local).await {
        if m.is_dir() {
            return Err(local_err(
                "is a directory; give the full path of the file to create".into(),
            ));
        }
        if !overwrite {
            return Err(TransferError::Exists {
                what: "Local file",
                path: local.display().to_string(),
            });
        }
    }
    Ok((dir, name))
}

/// Settings of a download.
#[derive(Debug, Clone, Copy)]
pub struct DownloadOptions<'a> {
    pub overwrite: bool,
    pub max_size: u64,
    /// What the bytes must be, when the caller knows it (a container file measured
    /// where it lies): checked before the file is put in place.
    pub expect: Option<Expected<'a>>,
}

/// The size and, when known, SHA-256 a download must arrive with.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub size: u64,
    pub sha256: Option<&'a str>,
}

/// The process umask (Linux: from /proc, without changing it); 022 elsewhere.
pub(crate) fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

/// Downloads `remote` (a regular file) to `local` (a file path in an existing
/// directory). The local file gets the remote mode masked by the local umask.
pub async fn download(
    client: &Arc<SshClient>,
    remote: &str,
    local: &Path,
    opts: DownloadOptions<'_>,
    progress: Progress<'_>,
) -> Result<Transferred, TransferError> {
    let local_err = |reason: String| TransferError::Local {
        path: local.to_path_buf(),
        reason,
    };
    let (dir, name) = check_local_target(local, opts.overwrite).await?;

    let (sftp, first) = sftp_and_lstat(client, remote).await?;
    let mut attrs = match first {
        Ok(a) => a.attrs,
        Err(e) => return Err(sftp_failed(client, &sftp, remote, e).await),
    };
    if kind(&attrs) == Kind::Symlink {
        // A link is read through: what it points to must be a regular file.
        attrs = match sftp.stat(remote).await {
            Ok(a) => a.attrs,
            Err(e) => return Err(sftp_failed(client, &sftp, remote, e).await),
        };
    }
    match kind(&attrs) {
        Kind::Regular | Kind::Unknown => {}
        Kind::Directory => {
            return Err(TransferError::Remote {
                path: remote.into(),
                reason: "is a directory, not a file".into(),
            });
        }
        Kind::Special | Kind::Symlink => {
            // Opening a FIFO would block the host's SFTP server for every transfer.
            return Err(TransferError::Remote {
                path: remote.into(),
                reason: "is not a regular file (a FIFO, socket or device); only regular files are downloaded".into(),
            });
        }
    }
    let size = attrs.size.unwrap_or(0);
    if size > opts.max_size {
        return Err(TransferError::TooLarge {
            what: format!("remote file {remote}"),
            size,
            limit: opts.max_size,
        });
    }
    let handle = match sftp
        .open(remote, OpenFlags::READ, FileAttributes::empty())
        .await
    {
        Ok(h) => h.handle,
        Err(e) => return Err(sftp_failed(client, &sftp, remote, e).await),
    };
    let handle = RemoteHandle {
        sftp: sftp.clone(),
        handle: Some(handle),
    };

    let temp = tempfile::Builder::new()
        .prefix(&temp_name(&name, "mcp-download"))
        .suffix("")
        .rand_bytes(0)
        .tempfile_in(&dir)
        .map_err(|e| {
            local_err(format!(
                "cannot create a temporary file in {}: {e}",
                dir.display()
            ))
        })?;
    let h = handle.handle.clone().unwrap_or_default();
    let result = read_all(
        &sftp,
        &h,
        remote,
        temp.path(),
        size,
        opts.max_size,
        progress,
    )
    .await;
    let _ = handle.close().await;
    let (bytes, sha256) = match result {
        Ok(b) => b,
        Err(TransferError::Sftp(e)) => return Err(sftp_failed(client, &sftp, remote, e).await),
        Err(e) => return Err(e),
    };
    if let Some(want) = opts.expect {
        if bytes != want.size {
            return Err(TransferError::Mismatch(format!(
                "{bytes} bytes arrived, the source has {}",
                want.size
            )));
        }
        if want
            .sha256
            .is_some_and(|w| !w.eq_ignore_ascii_case(&sha256))
        {
            return Err(TransferError::Mismatch(
                "the SHA-256 of the bytes that arrived differs from the source's (was it changing?)"
                    .into(),
            ));
        }
    }

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = attrs.permissions.map(|p| p & 0o777).unwrap_or(0o644) & !umask();
        let _ = std::fs::set_permissions(temp.path(), std::fs::Permissions::from_mode(mode));
    }
    let persisted = if opts.overwrite {
        temp.persist(local).map(|_| ())
    } else {
        temp.persist_noclobber(local).map(|_| ())
    };
    if let Err(e) = persisted {
        return Err(if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            TransferError::Exists {
                what: "Local file",
                path: local.display().to_string(),
            }
        } else {
            local_err(e.error.to_string())
        });
    }
    Ok(Transferred { bytes, sha256 })
}

/// Reads the remote handle into the local temp file, several reads in flight;
/// answers the bytes written and their SHA-256.
async fn read_all(
    sftp: &Arc<SftpLink>,
    handle: &str,
    remote: &str,
    local: &Path,
    size: u64,
    max_size: u64,
    progress: Progress<'_>,
) -> Result<(u64, String), TransferError> {
    let local_err = local_io(local);
    let mut hasher = sha2::Sha256::new();
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .open(local)
        .await
        .map_err(&local_err)?;
    let chunks = size.div_ceil(CHUNK as u64);
    let mut reads = futures::stream::iter(0..chunks)
        .map(|i| async move {
            // A server may answer with fewer bytes than asked: ask again for the rest,
            // so that a short chunk means the end of the file.
            let offset = i * CHUNK as u64;
            let mut buf = Vec::with_capacity(CHUNK);
            while buf.len() < CHUNK {
                let want = (CHUNK - buf.len()) as u32;
                match sftp.read(handle, offset + buf.len() as u64, want).await {
                    Ok(data) if data.data.is_empty() => break,
                    Ok(data) => buf.extend_from_slice(&data.data),
                    Err(e) if is_status(&e, StatusCode::Eof) => break,
                    Err(e) => return Err(TransferError::Sftp(e)),
                }
            }
            Ok(buf)
        })
        .buffered(IN_FLIGHT);
    let mut done = 0u64;
    let mut short = false;
    while let Some(r) = reads.next().await {
        let data = r?;
        if short && !data.is_empty() {
            return Err(TransferError::Remote {
                path: remote.into(),
                reason: "the file changed during the download".into(),
            });
        }
        short |= data.len() < CHUNK;
        done += data.len() as u64;
        hasher.update(&data);
        file.write_all(&data).await.map_err(&local_err)?;
        progress(done, size);
    }
    // The file may have grown since it was measured: read on to its real end.
    loop {
        let data = match sftp.read(handle, done, CHUNK as u32).await {
            Ok(d) => d.data,
            Err(e) if is_status(&e, StatusCode::Eof) => break,
            Err(e) => return Err(TransferError::Sftp(e)),
        };
        if data.is_empty() {
            break;
        }
        done += data.len() as u64;
        if done > max_size {
            return Err(TransferError::TooLarge {
                what: format!("remote file {remote} (it grew during the download)"),
                size: done,
                limit: max_size,
            });
        }
        hasher.update(&data);
        file.write_all(&data).await.map_err(&local_err)?;
    }
    file.flush().await.map_err(&local_err)?;
    file.sync_all().await.map_err(&local_err)?;
    Ok((done, sha256_hex(hasher)))
}

#[cfg(test)]
mod tests;
