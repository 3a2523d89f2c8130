//! Running one command on its own channel of the shared connection, with a
//! wall-clock timeout that really ends the remote command.
//!
//! Closing a channel does not end a remote command that never writes, and OpenSSH
//! before 9.8 refuses the `signal` request for root. So the command first reports its
//! session leader's pid (= its session id); on time-out we send `signal` anyway (it
//! works for other users and newer servers) and end the whole session out of band with
//! `pkill -s SID` on a second channel, TERM then KILL. A remote `timeout -k` wrapper is
//! a further net that needs no connection.

use std::time::{Duration, Instant};

use russh::ChannelMsg;
use tokio_util::sync::CancellationToken;

use super::{Connection, SshClient, SshError};
use crate::quote::quote;

/// Bytes of one output stream: the beginning and the end are kept, the middle is
/// counted, so memory stays bounded whatever the command prints.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    pub head: Vec<u8>,
    pub tail: std::collections::VecDeque<u8>,
    pub total: u64,
    keep: usize,
}

impl Captured {
    pub fn new(keep: usize) -> Self {
        Captured {
            keep,
            ..Default::default()
        }
    }

    pub fn push(&mut self, mut data: &[u8]) {
        self.total += data.len() as u64;
        if self.head.len() < self.keep {
            let n = (self.keep - self.head.len()).min(data.len());
            self.head.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
        self.tail.extend(data);
        while self.tail.len() > self.keep {
            let excess = self.tail.len() - self.keep;
            self.tail.drain(..excess);
        }
    }

    /// Whether bytes between head and tail were dropped.
    pub fn gap(&self) -> bool {
        self.total > (self.head.len() + self.tail.len()) as u64
    }

    /// Head and tail joined (without the dropped middle).
    pub fn kept(&self) -> Vec<u8> {
        let mut v = self.head.clone();
        v.extend(self.tail.iter());
        v
    }
}

/// What happened to a command.
#[derive(Debug, Clone)]
pub struct ExecOutcome {
    pub stdout: Captured,
    pub stderr: Captured,
    /// `None` when the command did not report one (killed, or connection lost):
    /// a missing status is not success.
    pub exit_code: Option<i32>,
    pub exit_signal: Option<String>,
    pub timed_out: bool,
    pub cancelled: bool,
    pub duration: Duration,
    /// Whether the remote session was ended by us after a time-out or cancellation.
    pub ended_remotely: bool,
}

/// The shell line that runs `command` in the login shell, after printing the session
/// leader's pid on the first line of stdout.
fn wrap(command: &str, timeout: Duration) -> Result<String, SshError> {
    let q = quote(command, "the command").map_err(|e| SshError::Input(e.to_string()))?;
    // The remote safety net fires a little after our own deadline.
    let net = timeout.as_secs() + 10;
    Ok(format!(
        "printf '%s\\n' \"$$\"; if command -v timeout >/dev/null 2>&1; then exec timeout -k 5 {net} \"${{SHELL:-/bin/sh}}\" -c {q}; else exec \"${{SHELL:-/bin/sh}}\" -c {q}; fi"
    ))
}

/// Runs `command` with a wall-clock `timeout`. `keep` bounds the bytes kept per stream
/// (head and tail each). Cancelling `cancel` ends the command like a time-out.
pub async fn run_command(
    client: &SshClient,
    command: &str,
    timeout: Duration,
    keep: usize,
    cancel: &CancellationToken,
) -> Result<ExecOutcome, SshError> {
    let started = Instant::now();
    let line = wrap(command, timeout)?;
    let (conn, mut channel) = open_with_retry(client).await?;
    channel
        .exec(true, line.as_bytes())
        .await
        .map_err(|e| SshError::Lost {
            target: conn.target().to_string(),
            reason: e.to_string(),
        })?;

    let mut out = ExecOutcome {
        stdout: Captured::new(keep),
        stderr: Captured::new(keep),
        exit_code: None,
        exit_signal: None,
        timed_out: false,
        cancelled: false,
        duration: Duration::ZERO,
        ended_remotely: false,
    };
    let mut pid_line: Option<Vec<u8>> = Some(Vec::new());
    let mut leader: Option<u32> = None;
    let deadline = tokio::time::Instant::now() + timeout;
    let mut closed = false;

    loop {
        tokio::select! {
            msg = channel.wait() => match msg {
                Some(ChannelMsg::Data { data }) => {
                    let mut data: &[u8] = &data;
                    if let Some(buf) = pid_line.as_mut() {
                        match data.iter().position(|b| *b == b'\n') {
                            Some(i) => {
                                buf.extend_from_slice(&data[..i]);
                                leader = std::str::from_utf8(buf).ok().and_then(|s| s.trim().parse().ok());
                                pid_line = None;
                                data = &data[i + 1..];
                            }
                            None => {
                                buf.extend_from_slice(data);
                                data = &[];
                            }
                        }
                    }
                    out.stdout.push(data);
                }
                Some(ChannelMsg::ExtendedData { data, .. }) => out.stderr.push(&data),
                Some(ChannelMsg::ExitStatus { exit_status }) => out.exit_code = Some(exit_status as i32),
                Some(ChannelMsg::ExitSignal { signal_name, .. }) => {
                    out.exit_signal = Some(format!("{signal_name:?}"));
                }
                Some(_) => {}
                None => {
                    closed = true;
                    break;
                }
            },
            _ = tokio::time::sleep_until(deadline) => {
                out.timed_out = true;
                break;
            }
            _ = cancel.cancelled() => {
                out.cancelled = true;
                break;
            }
        }
    }

    if !closed {
        // Time-out or cancellation: end the remote command for real.
        let _ = channel.signal(russh::Sig::TERM).await;
        if let Some(sid) = leader {
            out.ended_remotely = end_session(&conn, sid).await;
        }
        // Collect what the dying command still sends, briefly.
        let grace = tokio::time::sleep(Duration::from_secs(2));
        tokio::pin!(grace);
        loop {
            tokio::select! {
                msg = channel.wait() => match msg {
                    Some(ChannelMsg::Data { data }) => out.stdout.push(&data),
                    Some(ChannelMsg::ExtendedData { data, .. }) => out.stderr.push(&data),
                    Some(ChannelMsg::ExitSignal { signal_name, .. }) => out.exit_signal = Some(format!("{signal_name:?}")),
                    Some(_) => {}
                    None => break,
                },
                _ = &mut grace => break,
            }
        }
        let _ = channel.close().await;
        // A command killed on our behalf did not exit by itself.
        out.exit_code = None;
    }
    out.duration = started.elapsed();
    Ok(out)
}

/// Opens a channel; if the shared connection turns out dead, reconnects once.
async fn open_with_retry(
    client: &SshClient,
) -> Result<
    (
        std::sync::Arc<Connection>,
        russh::Channel<russh::client::Msg>,
    ),
    SshError,
> {
    let conn = client.connection().await?;
    match conn.open_channel().await {
        Ok(ch) => Ok((conn, ch)),
        Err(_) => {
            client.forget(&conn).await;
            let conn = client.connection().await?;
            let ch = conn.open_channel().await?;
            Ok((conn, ch))
        }
    }
}

/// Ends every process of session `sid` (TERM, a short grace, then KILL) from a second
/// channel. Returns whether the session is gone afterwards.
pub async fn end_session(conn: &Connection, sid: u32) -> bool {
    let script = format!(
        "if pgrep -s {sid} >/dev/null 2>&1; then pkill -TERM -s {sid}; i=0; while pgrep -s {sid} >/dev/null 2>&1 && [ $i -lt 10 ]; do sleep 0.2; i=$((i+1)); done; pkill -KILL -s {sid}; sleep 0.1; fi; if pgrep -s {sid} >/dev/null 2>&1; then exit 1; fi; exit 0"
    );
    let Ok(mut channel) = conn.open_channel().await else {
        return false;
    };
    if channel.exec(true, script.as_bytes()).await.is_err() {
        return false;
    }
    let mut status = None;
    let wait = async {
        while let Some(msg) = channel.wait().await {
            if let ChannelMsg::ExitStatus { exit_status } = msg {
                status = Some(exit_status);
            }
        }
    };
    if tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .is_err()
    {
        tracing::warn!("ending remote session {sid} did not finish in 10 s");
    }
    status == Some(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_keeps_head_and_tail() {
        let mut c = Captured::new(4);
        c.push(b"0123");
        c.push(b"456789");
        assert_eq!(c.head, b"0123");
        assert_eq!(c.tail.iter().copied().collect::<Vec<_>>(), b"6789");
        assert_eq!(c.total, 10);
        assert!(c.gap());
        let mut small = Captured::new(4);
        small.push(b"abc");
        assert!(!small.gap());
        assert_eq!(small.kept(), b"abc");
    }

    #[test]
    fn the_wrapper_quotes_the_command() {
        let line = wrap("echo 'hi'; exit 3", Duration::from_secs(30)).unwrap();
        assert!(line.starts_with("printf '%s\\n' \"$$\"; "), "{line}");
        assert!(line.contains("timeout -k 5 40 "), "{line}");
        assert!(wrap("a\0b", Duration::from_secs(1)).is_err());
    }
}
