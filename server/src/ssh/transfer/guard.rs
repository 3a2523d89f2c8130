//! Guards that leave nothing behind on the host: a transfer's temp file and its open
//! handles are cleaned up on every path out, cancellation included.

use std::sync::Arc;

use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::StatusCode;

use super::super::SshClient;
use super::super::pool::{Orphan, SftpLink};
use super::is_status;

/// Removes a remote temp file: at once on the error paths, by a spawned task when the
/// transfer's future is dropped (cancellation). When the removal fails (the connection
/// was lost), the path is recorded and removed over the next connection.
pub(super) struct RemoteTemp {
    pub(super) client: Arc<SshClient>,
    pub(super) sftp: Arc<SftpLink>,
    pub(super) path: Option<String>,
}

impl RemoteTemp {
    pub(super) async fn remove(&mut self) {
        if let Some(path) = self.path.take() {
            remove_temp(&self.client, &self.sftp, path).await;
        }
    }
}

async fn remove_temp(client: &SshClient, sftp: &SftpLink, path: String) {
    match sftp.remove(path.as_str()).await {
        Ok(_) => {}
        Err(e) if is_status(&e, StatusCode::NoSuchFile) => {}
        Err(e) => {
            tracing::warn!("could not remove temp file {path} now ({e}); will retry");
            client.add_orphan(Orphan::File(path));
        }
    }
}

impl Drop for RemoteTemp {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let client = self.client.clone();
            let sftp = self.sftp.clone();
            // Recorded first, so that even a task that never runs is covered.
            client.add_orphan(Orphan::File(path.clone()));
            tokio::spawn(async move {
                if sftp.remove(path.as_str()).await.is_ok() {
                    client.forget_orphan(&Orphan::File(path));
                }
            });
        }
    }
}

/// Closes a remote handle when dropped (a cancelled transfer leaves none open).
pub(super) struct RemoteHandle {
    pub(super) sftp: Arc<SftpLink>,
    pub(super) handle: Option<String>,
}

impl RemoteHandle {
    pub(super) async fn close(mut self) -> Result<(), SftpError> {
        match self.handle.take() {
            Some(h) => self.sftp.close(h).await.map(|_| ()),
            None => Ok(()),
        }
    }
}

impl Drop for RemoteHandle {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            let sftp = self.sftp.clone();
            tokio::spawn(async move {
                let _ = sftp.close(h).await;
            });
        }
    }
}
