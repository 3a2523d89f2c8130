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
use russh_sftp::client::RawSftpSession;
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::{FileAttributes, OpenFlags, StatusCode};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::{SshClient, SshError};

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
    #[error(transparent)]
    Ssh(#[from] SshError),
}

impl TransferError {
    pub fn suggestion(&self) -> &'static str {
        match self {
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
            TransferError::Ssh(e) => e.suggestion(),
        }
    }
}

/// What a finished transfer moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transferred {
    pub bytes: u64,
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

/// The connection's SFTP session and the answer to a first `stat` of `path`. A
/// connection that dropped since the last call (seen when the SFTP channel is opened,
/// or by that first request on an SFTP session started earlier) is replaced once, as
/// `run_command` does for commands, so the next call after a drop works.
async fn sftp_and_stat(
    client: &SshClient,
    path: &str,
) -> Result<
    (
        Arc<RawSftpSession>,
        Result<russh_sftp::protocol::Attrs, SftpError>,
    ),
    SshError,
> {
    let mut retried = false;
    loop {
        let conn = client.connection().await?;
        let sftp = match conn.sftp().await {
            Ok(sftp) => sftp,
            Err(SshError::Lost { .. }) if !retried => {
                retried = true;
                client.forget(&conn).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        let first = sftp.stat(path).await;
        // A status is the host's answer; a time-out is not worth a second wait.
        // Anything else means the session is gone.
        if let Err(e) = &first
            && !retried
            && !matches!(e, SftpError::Status(_) | SftpError::Timeout)
        {
            tracing::info!(
                "SFTP session to {} failed ({e}); reconnecting",
                conn.target()
            );
            retried = true;
            client.forget(&conn).await;
            continue;
        }
        return Ok((sftp, first));
    }
}

/// Removes a remote temp file when dropped unless disarmed (covers errors and
/// cancellation alike).
struct RemoteTemp {
    sftp: Arc<RawSftpSession>,
    path: Option<String>,
}

impl Drop for RemoteTemp {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let sftp = self.sftp.clone();
            tokio::spawn(async move {
                if let Err(e) = sftp.remove(path.as_str()).await {
                    tracing::warn!("could not remove temp file {path}: {e}");
                }
            });
        }
    }
}

/// Uploads `local` to `remote`. `permissions` (e.g. 0o644) is applied before the
/// rename; without it an overwritten file keeps its mode and a new one gets 0644.
pub async fn upload(
    client: &SshClient,
    local: &Path,
    remote: &str,
    permissions: Option<u32>,
    overwrite: bool,
    max_size: u64,
    progress: Progress<'_>,
) -> Result<Transferred, TransferError> {
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
    let (dir, name) = split_remote(remote)?;
    let (sftp, first) = sftp_and_stat(client, remote).await?;

    // Early, friendly answers; the rename below is what really guarantees them.
    let existing = match first {
        Ok(attrs) => Some(attrs.attrs),
        Err(e) if is_status(&e, StatusCode::NoSuchFile) => None,
        Err(e) => return Err(remote_err(remote, e)),
    };
    if let Some(attrs) = &existing {
        if attrs.is_dir() {
            return Err(TransferError::Remote {
                path: remote.into(),
                reason: "is a directory; give the full path of the file to create".into(),
            });
        }
        if !overwrite {
            return Err(TransferError::Exists {
                what: "Remote file",
                path: remote.into(),
            });
        }
    }
    let mode = permissions
        .or_else(|| {
            existing
                .as_ref()
                .and_then(|a| a.permissions)
                .map(|p| p & 0o7777)
        })
        .unwrap_or(0o644);

    let temp_path = format!(
        "{}/.{name}.{}.mcp-upload.tmp",
        dir.trim_end_matches('/'),
        temp_suffix()
    );
    let mut attrs = FileAttributes::empty();
    attrs.permissions = Some(0o600);
    let handle = sftp
        .open(
            temp_path.as_str(),
            OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::EXCLUDE | OpenFlags::TRUNCATE,
            attrs,
        )
        .await
        .map_err(|e| remote_err(remote, e))?
        .handle;
    let mut temp = RemoteTemp {
        sftp: sftp.clone(),
        path: Some(temp_path.clone()),
    };

    let result = write_all(&sftp, &handle, local, meta.len(), max_size, progress).await;
    let closed = sftp.close(handle.as_str()).await;
    let bytes = result?;
    closed.map_err(|e| remote_err(remote, e))?;

    let written = sftp
        .stat(temp_path.as_str())
        .await
        .map_err(|e| remote_err(remote, e))?
        .attrs
        .size
        .unwrap_or(0);
    if written != bytes {
        return Err(TransferError::Remote {
            path: remote.into(),
            reason: format!("the host stored {written} of {bytes} bytes"),
        });
    }
    let mut set = FileAttributes::empty();
    set.permissions = Some(mode);
    sftp.setstat(temp_path.as_str(), set)
        .await
        .map_err(|e| remote_err(remote, e))?;

    if overwrite {
        let mut data = Vec::new();
        ssh_string(&mut data, &temp_path);
        ssh_string(&mut data, remote);
        sftp.extended("posix-rename@openssh.com", data)
            .await
            .map_err(|e| remote_err(remote, e))?;
    } else {
        // Plain SFTP rename never replaces an existing file.
        if let Err(e) = sftp.rename(temp_path.as_str(), remote).await {
            let exists = sftp.stat(remote).await.is_ok();
            return Err(if exists {
                TransferError::Exists {
                    what: "Remote file",
                    path: remote.into(),
                }
            } else {
                remote_err(remote, e)
            });
        }
    }
    temp.path = None;
    Ok(Transferred { bytes })
}

/// Streams the local file into the open remote handle, several writes in flight.
async fn write_all(
    sftp: &Arc<RawSftpSession>,
    handle: &str,
    local: &Path,
    expected: u64,
    max_size: u64,
    progress: Progress<'_>,
) -> Result<u64, TransferError> {
    let local_err = |e: std::io::Error| TransferError::Local {
        path: local.to_path_buf(),
        reason: e.to_string(),
    };
    let mut file = tokio::fs::File::open(local).await.map_err(local_err)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<(u64, Vec<u8>)>(IN_FLIGHT);
    let reader = async {
        // Owning the sender here ends the writer's stream when reading ends.
        let tx = tx;
        let mut offset = 0u64;
        loop {
            let mut buf = vec![0u8; CHUNK];
            let mut filled = 0;
            while filled < CHUNK {
                let n = file.read(&mut buf[filled..]).await.map_err(local_err)?;
                if n == 0 {
                    break;
                }
                filled += n;
            }
            if filled == 0 {
                return Ok(offset);
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
            if tx.send((offset, buf)).await.is_err() {
                return Ok(offset);
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
                        .map_err(|e| remote_err("(upload)", e))
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
    let read = read?;
    let written = written?;
    debug_assert_eq!(read, written);
    Ok(written)
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

/// Downloads `remote` to `local` (a file path in an existing directory).
pub async fn download(
    client: &SshClient,
    remote: &str,
    local: &Path,
    overwrite: bool,
    max_size: u64,
    progress: Progress<'_>,
) -> Result<Transferred, TransferError> {
    let local_err = |reason: String| TransferError::Local {
        path: local.to_path_buf(),
        reason,
    };
    let (dir, name) = check_local_target(local, overwrite).await?;

    let (sftp, first) = sftp_and_stat(client, remote).await?;
    let attrs = first.map_err(|e| remote_err(remote, e))?.attrs;
    if attrs.is_dir() {
        return Err(TransferError::Remote {
            path: remote.into(),
            reason: "is a directory, not a file".into(),
        });
    }
    let size = attrs.size.unwrap_or(0);
    if size > max_size {
        return Err(TransferError::TooLarge {
            what: format!("remote file {remote}"),
            size,
            limit: max_size,
        });
    }
    let handle = sftp
        .open(remote, OpenFlags::READ, FileAttributes::empty())
        .await
        .map_err(|e| remote_err(remote, e))?
        .handle;

    let temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".mcp-download.tmp")
        .tempfile_in(&dir)
        .map_err(|e| {
            local_err(format!(
                "cannot create a temporary file in {}: {e}",
                dir.display()
            ))
        })?;
    let result = read_all(
        &sftp,
        &handle,
        remote,
        temp.path(),
        size,
        max_size,
        progress,
    )
    .await;
    let _ = sftp.close(handle.as_str()).await;
    let bytes = result?;

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = attrs.permissions.map(|p| p & 0o777).unwrap_or(0o644);
        let _ = std::fs::set_permissions(temp.path(), std::fs::Permissions::from_mode(mode));
    }
    let persisted = if overwrite {
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
    Ok(Transferred { bytes })
}

/// Reads the remote handle into the local temp file, several reads in flight.
async fn read_all(
    sftp: &Arc<RawSftpSession>,
    handle: &str,
    remote: &str,
    local: &Path,
    size: u64,
    max_size: u64,
    progress: Progress<'_>,
) -> Result<u64, TransferError> {
    let local_err = |e: std::io::Error| TransferError::Local {
        path: local.to_path_buf(),
        reason: e.to_string(),
    };
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .open(local)
        .await
        .map_err(local_err)?;
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
                    Err(e) => return Err(remote_err(remote, e)),
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
        file.write_all(&data).await.map_err(local_err)?;
        progress(done, size);
    }
    // The file may have grown since it was measured: read on to its real end.
    loop {
        let data = match sftp.read(handle, done, CHUNK as u32).await {
            Ok(d) => d.data,
            Err(e) if is_status(&e, StatusCode::Eof) => break,
            Err(e) => return Err(remote_err(remote, e)),
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
        file.write_all(&data).await.map_err(local_err)?;
    }
    file.flush().await.map_err(local_err)?;
    file.sync_all().await.map_err(local_err)?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_paths_split_into_dir_and_name() {
        assert_eq!(split_remote("/tmp/a.txt").unwrap(), ("/tmp", "a.txt"));
        assert_eq!(split_remote("/a.txt").unwrap(), ("/", "a.txt"));
        assert_eq!(split_remote("a.txt").unwrap(), (".", "a.txt"));
        assert!(split_remote("/tmp/").is_err());
        assert!(split_remote("/tmp/..").is_err());
    }
}
