//! A russh test client: run one command and collect what it sent.

use std::time::Duration;

use russh::client::{Handle, Handler};

/// Result of one exec.
#[derive(Debug, Default)]
pub struct Exec {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit_status: Option<u32>,
    pub exit_signal: Option<String>,
}

impl Exec {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Runs `line` on a fresh channel and collects everything until the channel closes.
/// Unbounded: callers that expect a hang wrap it in a timeout.
pub async fn exec_unbounded<H: Handler>(
    handle: &Handle<H>,
    line: &str,
) -> Result<Exec, russh::Error> {
    let mut channel = handle.channel_open_session().await?;
    channel.exec(true, line).await?;
    let mut result = Exec::default();
    // Drain until None: the exit status may come before the last data.
    while let Some(msg) = channel.wait().await {
        match msg {
            russh::ChannelMsg::Data { data } => result.stdout.extend_from_slice(&data),
            russh::ChannelMsg::ExtendedData { data, .. } => result.stderr.extend_from_slice(&data),
            russh::ChannelMsg::ExitStatus { exit_status } => result.exit_status = Some(exit_status),
            russh::ChannelMsg::ExitSignal { signal_name, .. } => {
                result.exit_signal = Some(format!("{signal_name:?}"))
            }
            _ => {}
        }
    }
    Ok(result)
}

/// `exec_unbounded` within 60 s.
pub async fn exec<H: Handler>(handle: &Handle<H>, line: &str) -> Exec {
    tokio::time::timeout(Duration::from_secs(60), exec_unbounded(handle, line))
        .await
        .unwrap_or_else(|_| panic!("`{line}` finished within 60 s"))
        .unwrap_or_else(|e| panic!("`{line}`: {e}"))
}

/// A client handler that accepts only the one host key it is given.
pub struct ExpectKey(pub russh::keys::ssh_key::PublicKey);

impl Handler for ExpectKey {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(match key {
            russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } => {
                key.key_data() == self.0.key_data()
            }
            russh::keys::PublicKeyOrCertificate::Certificate(_) => false,
        })
    }
}
