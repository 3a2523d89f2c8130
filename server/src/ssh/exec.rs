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

use super::pool::{Leased, Orphan};
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
    /// What ending it met, when that was not a plain success (e.g. no `pkill`).
    pub end_note: Option<String>,
    /// The command exited, but something it started in the background kept its
    /// output open; that process runs on and its later output is not collected.
    pub output_left_open: bool,
    /// The connection dropped while the command ran.
    pub connection_lost: bool,
}

impl ExecOutcome {
    /// No output yet (each stream keeps up to `keep` bytes), no status, no time.
    pub(crate) fn new(keep: usize) -> Self {
        ExecOutcome {
            stdout: Captured::new(keep),
            stderr: Captured::new(keep),
            exit_code: None,
            exit_signal: None,
            timed_out: false,
            cancelled: false,
            duration: Duration::ZERO,
            ended_remotely: false,
            end_note: None,
            output_left_open: false,
            connection_lost: false,
        }
    }
}

/// After the exit status arrived, how long to wait for the end of the output.
const EXIT_GRACE: Duration = Duration::from_millis(500);
/// What ending a timed-out command may take (kill channel, TERM, KILL).
const KILL_BUDGET: Duration = Duration::from_secs(4);
/// After the kill, how long to collect what the dying command still sends.
const DRAIN_GRACE: Duration = Duration::from_secs(1);
/// Bytes of start-up noise searched for the session marker.
const MARKER_SEARCH: usize = 64 * 1024;

/// The environment variable that marks every process of a call's session.
pub const CALL_VAR: &str = "MCP_REMOTE_EXEC_CALL";

fn nonce() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// The exec request: whatever the login shell (bash, dash, fish, csh…), it replaces
/// itself with `/bin/sh`, which reads [`script`] from the channel.
const EXEC_LINE: &str = "exec /bin/sh";

/// The longest [`script`] sent as the exec request itself (a POSIX login shell): well
/// inside one SSH packet and Linux's limit on one argument (128 KiB).
const SCRIPT_LINE_MAX: usize = 16 * 1024;

/// What a host's login shell is known to be, for the exec request. The marker line of
/// every command reports `$SHELL`; from then on a POSIX login shell is sent [`script`]
/// as its exec request, which saves the host starting `/bin/sh` on every call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum LoginShell {
    /// Not known yet: [`EXEC_LINE`], which any shell runs.
    Unknown = 0,
    /// sh, bash, dash, ash, ksh, mksh, zsh…: the script is the exec request.
    Posix = 1,
    /// fish, csh, tcsh, or anything else: [`EXEC_LINE`] always.
    Other = 2,
}

impl LoginShell {
    pub(crate) fn from_u8(v: u8) -> LoginShell {
        match v {
            1 => LoginShell::Posix,
            2 => LoginShell::Other,
            _ => LoginShell::Unknown,
        }
    }

    /// What a login shell's path (`$SHELL`) says.
    fn of(path: &str) -> LoginShell {
        match path.rsplit('/').next().unwrap_or_default() {
            "sh" | "bash" | "dash" | "ash" | "ksh" | "ksh93" | "mksh" | "zsh" | "yash" | "posh" => {
                LoginShell::Posix
            }
            _ => LoginShell::Other,
        }
    }
}

/// The wrapper, run by `/bin/sh` from the channel or by a POSIX login shell as its
/// exec request: it prints the marker line with the session leader's pid (= the session
/// id) and the login shell, marks the session's environment with the nonce, then
/// replaces itself with the login shell running `command` (under a remote `timeout -k`
/// net when available) with stdin at EOF. The command appears once.
fn script(command: &str, timeout: Duration, nonce: &str) -> Result<String, SshError> {
    let q = quote(command, "the command").map_err(|e| SshError::Input(e.to_string()))?;
    // The remote safety net fires a little after our own deadline.
    let net = timeout.as_secs() + 10;
    Ok(format!(
        "printf 'MCP-{nonce} %s %s\\n' \"$$\" \"${{SHELL:-}}\"\n\
         {CALL_VAR}={nonce}; export {CALL_VAR}\n\
         c={q}\n\
         if command -v timeout >/dev/null 2>&1; then exec timeout -k 5 {net} \"${{SHELL:-/bin/sh}}\" -c \"$c\" </dev/null; fi\n\
         exec \"${{SHELL:-/bin/sh}}\" -c \"$c\" </dev/null\n"
    ))
}

/// Finds the marker line in the first bytes of stdout.
struct Marker {
    line: Vec<u8>,
    pending: Vec<u8>,
    done: bool,
}

impl Marker {
    fn new(nonce: &str) -> Self {
        Marker {
            line: format!("MCP-{nonce} ").into_bytes(),
            pending: Vec::new(),
            done: false,
        }
    }

    /// Feeds stdout bytes; returns the bytes that are output and, once, the pid and the
    /// login shell the line names.
    fn feed(&mut self, data: &[u8]) -> (Vec<u8>, Option<(u32, String)>) {
        if self.done {
            return (data.to_vec(), None);
        }
        self.pending.extend_from_slice(data);
        if let Some(at) = find(&self.pending, &self.line)
            && let Some(nl) = self.pending[at..].iter().position(|b| *b == b'\n')
        {
            let said = String::from_utf8_lossy(&self.pending[at + self.line.len()..at + nl]);
            let said = said.trim();
            let (pid, shell) = said.split_once(' ').unwrap_or((said, ""));
            let pid = pid.parse().ok().map(|p| (p, shell.trim().to_string()));
            let mut out = self.pending[..at].to_vec();
            out.extend_from_slice(&self.pending[at + nl + 1..]);
            self.pending.clear();
            self.done = true;
            return (out, pid);
        }
        if self.pending.len() > MARKER_SEARCH {
            self.done = true;
            return (std::mem::take(&mut self.pending), None);
        }
        (Vec::new(), None)
    }

    fn flush(&mut self) -> Vec<u8> {
        self.done = true;
        std::mem::take(&mut self.pending)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Keeps a call's session registered while it runs; if the call's future is dropped
/// before the end, the session becomes an orphan that is ended over the next
/// connection (or when the server stops).
struct Running<'a> {
    client: &'a SshClient,
    id: Option<u64>,
    session: Option<(u32, String)>,
}

impl Running<'_> {
    fn set(&mut self, sid: u32, nonce: &str) {
        self.id = Some(self.client.register_running(sid, nonce));
        self.session = Some((sid, nonce.to_string()));
    }

    /// The call is over: nothing to end later.
    fn finish(&mut self) {
        if let Some(id) = self.id.take() {
            self.client.unregister_running(id);
        }
        self.session = None;
    }

    /// The session may live on: end it over the next connection.
    fn orphan(&mut self) {
        if let Some(id) = self.id.take() {
            self.client.unregister_running(id);
        }
        if let Some((sid, nonce)) = self.session.take() {
            self.client.add_orphan(Orphan::Session { sid, nonce });
        }
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.orphan();
    }
}

/// Why a command run by [`run_answered`] has no answer to read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unanswered {
    #[error("the call was cancelled; temporary files are being removed")]
    Cancelled,
    #[error("{what} did not finish within {secs} s and was ended")]
    Timeout { what: String, secs: u64 },
}

/// [`run_command`] for the callers that need its answer: a time-out or a cancellation
/// is an error (`what` names the command in it), as is a failed SSH session.
pub async fn run_answered<E: From<SshError> + From<Unanswered>>(
    client: &SshClient,
    what: &str,
    line: &str,
    timeout: Duration,
    keep: usize,
    cancel: &CancellationToken,
) -> Result<ExecOutcome, E> {
    let out = run_command(client, line, timeout, keep, cancel).await?;
    if out.cancelled {
        return Err(Unanswered::Cancelled.into());
    }
    if out.timed_out {
        let secs = timeout.as_secs();
        return Err(Unanswered::Timeout {
            what: what.into(),
            secs,
        }
        .into());
    }
    Ok(out)
}

/// The text of a captured stream (lossy UTF-8).
pub fn text(c: &Captured) -> String {
    String::from_utf8_lossy(&c.kept()).into_owned()
}

/// `said`, or the exit status when a failed command said nothing.
pub fn said_or_status(said: String, out: &ExecOutcome) -> String {
    if !said.is_empty() {
        return said;
    }
    match out.exit_code {
        Some(c) => format!("exit status {c}"),
        None => "no exit status".into(),
    }
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
    let deadline = tokio::time::Instant::now() + timeout;
    clean_orphans(client, deadline).await;
    let as_line = client.login_shell() == LoginShell::Posix;
    let (mut out, marked) = run_once(client, command, timeout, keep, cancel, as_line).await?;
    if as_line && !marked && out.exit_code.is_some() && !out.cancelled && !out.timed_out {
        // The login shell did not run the wrapper (it is not the POSIX shell `$SHELL`
        // named), so neither did it run the command: again, through `/bin/sh`.
        client.learn_login_shell(LoginShell::Other);
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        (out, _) = run_once(client, command, left, keep, cancel, false).await?;
    }
    out.duration = started.elapsed();
    Ok(out)
}

/// One attempt of [`run_command`]: the wrapper as the exec request (`as_line`) or on
/// stdin. With whether its marker line came.
async fn run_once(
    client: &SshClient,
    command: &str,
    timeout: Duration,
    keep: usize,
    cancel: &CancellationToken,
    as_line: bool,
) -> Result<(ExecOutcome, bool), SshError> {
    let started = Instant::now();
    let nonce = nonce();
    let script = script(command, timeout, &nonce)?;
    let as_line = as_line && script.len() <= SCRIPT_LINE_MAX;
    let deadline = tokio::time::Instant::now() + timeout;
    let Leased { mut channel, lease } = tokio::select! {
        r = client.channel(deadline) => r?,
        _ = cancel.cancelled() => {
            let mut out = ExecOutcome::new(keep);
            out.cancelled = true;
            out.duration = started.elapsed();
            return Ok((out, false));
        }
    };
    let conn = lease.conn().clone();
    let lost = |e: &dyn std::fmt::Display| SshError::Lost {
        target: conn.target().to_string(),
        reason: e.to_string(),
    };
    let start = async {
        if as_line {
            channel.exec(true, script.as_bytes()).await?;
        } else {
            channel.exec(true, EXEC_LINE.as_bytes()).await?;
            channel.data(script.as_bytes()).await?;
        }
        channel.eof().await
    };
    match tokio::time::timeout_at(deadline, start).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(lost(&e)),
        Err(_) => {
            return Err(SshError::NoAnswer {
                target: conn.target().to_string(),
                what: "starting the command".into(),
            });
        }
    }

    let mut out = ExecOutcome::new(keep);
    let mut marker = Marker::new(&nonce);
    let mut running = Running {
        client,
        id: None,
        session: None,
    };
    let mut leader: Option<u32> = None;
    let mut closed = false;
    let mut grace_until: Option<tokio::time::Instant> = None;

    loop {
        let wake = grace_until.map_or(deadline, |g| g.min(deadline));
        tokio::select! {
            msg = channel.wait() => match msg {
                Some(ChannelMsg::Data { data }) => {
                    let (bytes, marked) = marker.feed(&data);
                    if let Some((pid, shell)) = marked {
                        leader = Some(pid);
                        running.set(pid, &nonce);
                        client.learn_login_shell(LoginShell::of(&shell));
                    }
                    out.stdout.push(&bytes);
                }
                Some(ChannelMsg::ExtendedData { data, .. }) => out.stderr.push(&data),
                Some(ChannelMsg::ExitStatus { exit_status }) => {
                    out.exit_code = Some(exit_status as i32);
                    grace_until.get_or_insert_with(|| tokio::time::Instant::now() + EXIT_GRACE);
                }
                Some(ChannelMsg::ExitSignal { signal_name, .. }) => {
                    out.exit_signal = Some(format!("{signal_name:?}"));
                    grace_until.get_or_insert_with(|| tokio::time::Instant::now() + EXIT_GRACE);
                }
                Some(_) => {}
                None => {
                    closed = true;
                    break;
                }
            },
            _ = tokio::time::sleep_until(wake) => {
                if grace_until.is_some_and(|g| g <= tokio::time::Instant::now()) {
                    out.output_left_open = true;
                } else {
                    out.timed_out = true;
                }
                break;
            }
            _ = cancel.cancelled() => {
                out.cancelled = true;
                break;
            }
        }
    }
    out.stdout.push(&marker.flush());

    if closed || out.output_left_open {
        if closed && out.exit_code.is_none() && out.exit_signal.is_none() && conn.is_closed() {
            out.connection_lost = true;
            // It may run on: end it over the next connection.
            running.orphan();
        } else {
            running.finish();
        }
        if out.output_left_open {
            let _ = tokio::time::timeout(Duration::from_secs(1), channel.close()).await;
        }
    } else {
        // Time-out or cancellation: end the remote command for real, reading the
        // channel all along so the connection never stalls on its queue.
        let _ =
            tokio::time::timeout(Duration::from_secs(1), channel.signal(russh::Sig::TERM)).await;
        let kill_deadline = tokio::time::Instant::now() + KILL_BUDGET;
        let end = async {
            match leader {
                Some(sid) => end_session(client, &conn, sid, &nonce, kill_deadline).await,
                None => Ended::Unknown("the command had not reported its session id".into()),
            }
        };
        tokio::pin!(end);
        let mut ended: Option<Ended> = None;
        let mut drain_until: Option<tokio::time::Instant> = None;
        loop {
            let wake = drain_until.unwrap_or(kill_deadline + DRAIN_GRACE);
            tokio::select! {
                msg = channel.wait() => match msg {
                    Some(ChannelMsg::Data { data }) => out.stdout.push(&data),
                    Some(ChannelMsg::ExtendedData { data, .. }) => out.stderr.push(&data),
                    Some(ChannelMsg::ExitSignal { signal_name, .. }) => out.exit_signal = Some(format!("{signal_name:?}")),
                    Some(_) => {}
                    None => {
                        closed = true;
                        if ended.is_some() {
                            break;
                        }
                    }
                },
                e = &mut end, if ended.is_none() => {
                    ended = Some(e);
                    if closed {
                        break;
                    }
                    drain_until = Some(tokio::time::Instant::now() + DRAIN_GRACE);
                }
                _ = tokio::time::sleep_until(wake) => break,
            }
            if closed && ended.is_none() {
                // Only the kill is still to finish; nothing more to read.
                ended = Some((&mut end).await);
                break;
            }
        }
        match ended.unwrap_or(Ended::Unknown("ending it did not finish in time".into())) {
            Ended::Yes => {
                out.ended_remotely = true;
                running.finish();
            }
            Ended::Gone => {
                out.ended_remotely = true;
                out.end_note = Some("its session had already ended".into());
                running.finish();
            }
            Ended::Unknown(why) => {
                out.end_note = Some(why);
                running.orphan();
            }
        }
        if !closed {
            let _ = tokio::time::timeout(Duration::from_secs(1), channel.close()).await;
        }
        // A command killed on our behalf did not exit by itself.
        out.exit_code = None;
    }
    drop(lease);
    out.duration = started.elapsed();
    Ok((out, leader.is_some()))
}

/// How ending a session went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// Its processes were ended (or none was left).
    Yes,
    /// No process of that session is ours any more.
    Gone,
    /// Not confirmed, and why.
    Unknown(String),
}

/// The script that ends session `sid` if it is still ours (a process of it carries
/// the call's nonce; where `/proc` cannot tell, any process of the session counts):
/// TERM, a short grace, then KILL. Exit 0 ended, 1 still alive, 3 no pkill/pgrep,
/// 4 not ours any more.
fn end_script(sid: u32, nonce: &str) -> String {
    format!(
        "s={sid}\n\
         if ! command -v pkill >/dev/null 2>&1 || ! command -v pgrep >/dev/null 2>&1; then exit 3; fi\n\
         pids=$(pgrep -s $s)\n\
         if [ -z \"$pids\" ]; then exit 0; fi\n\
         ours=; checked=\n\
         for p in $pids; do\n\
           if [ -r /proc/$p/environ ]; then checked=1; if grep -qa '{CALL_VAR}={nonce}' /proc/$p/environ 2>/dev/null; then ours=1; break; fi; fi\n\
         done\n\
         if [ -z \"$checked\" ]; then ours=1; fi\n\
         if [ -z \"$ours\" ]; then exit 4; fi\n\
         pkill -TERM -s $s\n\
         i=0; while pgrep -s $s >/dev/null 2>&1 && [ $i -lt 10 ]; do sleep 0.2; i=$((i+1)); done\n\
         pkill -KILL -s $s 2>/dev/null\n\
         i=0; while pgrep -s $s >/dev/null 2>&1 && [ $i -lt 5 ]; do sleep 0.1; i=$((i+1)); done\n\
         if pgrep -s $s >/dev/null 2>&1; then exit 1; fi\n\
         exit 0\n"
    )
}

/// Runs a small script of ours with `/bin/sh` on `channel` (the script on stdin, as for
/// commands); its exit status, when it reported one.
async fn run_script(
    channel: &mut russh::Channel<russh::client::Msg>,
    script: &str,
) -> Result<Option<u32>, russh::Error> {
    channel.exec(true, EXEC_LINE.as_bytes()).await?;
    channel.data(script.as_bytes()).await?;
    channel.eof().await?;
    let mut status = None;
    while let Some(msg) = channel.wait().await {
        if let ChannelMsg::ExitStatus { exit_status } = msg {
            status = Some(exit_status);
        }
    }
    Ok(status)
}

/// Ends every process of session `sid` (TERM, a short grace, then KILL) from another
/// channel: the connection's kept slot, or any connection to the host.
pub async fn end_session(
    client: &SshClient,
    preferred: &std::sync::Arc<Connection>,
    sid: u32,
    nonce: &str,
    deadline: tokio::time::Instant,
) -> Ended {
    // A hung connection must leave time for a new one.
    let first_try = (tokio::time::Instant::now() + Duration::from_secs(1)).min(deadline);
    let leased = match client.kill_channel(preferred, first_try).await {
        Ok(l) => Ok(l),
        Err(_) => client.channel(deadline).await,
    };
    let Leased { mut channel, lease } = match leased {
        Ok(l) => l,
        Err(e) => return Ended::Unknown(format!("no channel to end it: {e}")),
    };
    let script = end_script(sid, nonce);
    let status = tokio::time::timeout_at(deadline, run_script(&mut channel, &script)).await;
    drop(lease);
    match status {
        Ok(Ok(Some(0))) => Ended::Yes,
        Ok(Ok(Some(4))) => Ended::Gone,
        Ok(Ok(Some(3))) => Ended::Unknown(format!(
            "pkill/pgrep are not installed on the host, so session {sid} could not be ended; it may still be running"
        )),
        Ok(Ok(Some(1))) => Ended::Unknown(format!(
            "processes of session {sid} were still there after SIGKILL"
        )),
        Ok(Ok(other)) => Ended::Unknown(format!(
            "ending session {sid} failed (exit status {other:?})"
        )),
        Ok(Err(e)) => Ended::Unknown(format!("ending session {sid} failed: {e}")),
        Err(_) => Ended::Unknown(format!(
            "ending session {sid} did not finish in time; it may still be running"
        )),
    }
}

/// Deals with what lost connections left on the host: sessions still running are
/// ended, temp files removed. What fails stays recorded for the next time.
pub async fn clean_orphans(client: &SshClient, deadline: tokio::time::Instant) {
    let orphans = client.take_orphans();
    if orphans.is_empty() {
        return;
    }
    let limit = (tokio::time::Instant::now() + KILL_BUDGET).min(deadline);
    let mut files = Vec::new();
    for o in orphans {
        match o {
            Orphan::Session { sid, ref nonce } => {
                let Ok(Leased { lease, channel }) = client.channel(limit).await else {
                    client.add_orphan(o);
                    continue;
                };
                let conn = lease.conn().clone();
                drop(channel);
                drop(lease);
                match end_session(client, &conn, sid, nonce, limit).await {
                    Ended::Yes | Ended::Gone => {
                        tracing::info!("ended session {sid} left by a lost connection")
                    }
                    Ended::Unknown(why) => {
                        tracing::warn!("could not end session {sid}: {why}");
                        client.add_orphan(o);
                    }
                }
            }
            Orphan::File(path) => files.push(path),
        }
    }
    if files.is_empty() {
        return;
    }
    let words: Vec<String> = files
        .iter()
        .filter_map(|p| quote(p, "a path").ok())
        .collect();
    let script = format!("rm -f -- {}\n", words.join(" "));
    let removed = match client.channel(limit).await {
        Ok(Leased { mut channel, lease }) => {
            let r = tokio::time::timeout_at(limit, run_script(&mut channel, &script)).await;
            drop(lease);
            matches!(r, Ok(Ok(Some(0))))
        }
        Err(_) => false,
    };
    if removed {
        tracing::info!("removed temp files left by a lost connection: {files:?}");
    } else {
        for f in files {
            client.add_orphan(Orphan::File(f));
        }
    }
}

/// Ends every command still running on the client's host (the server is stopping).
pub async fn end_all(client: &SshClient, budget: Duration) {
    for o in client.running() {
        client.add_orphan(o);
    }
    clean_orphans(client, tokio::time::Instant::now() + budget).await;
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
    fn the_script_carries_the_command_once() {
        let s = script("echo 'hi'; exit 3", Duration::from_secs(30), "abc").unwrap();
        assert!(
            s.starts_with("printf 'MCP-abc %s %s\\n' \"$$\" \"${SHELL:-}\"\n"),
            "{s}"
        );
        assert!(s.contains("timeout -k 5 40 "), "{s}");
        assert_eq!(s.matches("hi").count(), 1, "{s}");
        assert!(script("a\0b", Duration::from_secs(1), "n").is_err());
    }

    #[test]
    fn the_marker_is_found_after_noise_and_removed() {
        let mut m = Marker::new("n1");
        let (out, pid) = m.feed(b"motd line\nMCP-n");
        assert_eq!((out.as_slice(), pid), (&b""[..], None));
        let (out, pid) = m.feed(b"1 4242 /bin/bash\nhello\n");
        assert_eq!(pid, Some((4242, "/bin/bash".to_string())));
        assert_eq!(out, b"motd line\nhello\n");
        let (out, pid) = m.feed(b"MCP-n1 1\n");
        assert_eq!((out.as_slice(), pid), (&b"MCP-n1 1\n"[..], None));
        // A forged marker with another nonce is output, not a pid.
        let mut m = Marker::new("n2");
        let (_, pid) = m.feed(b"MCP-n1 99\n");
        assert_eq!(pid, None);
        // An empty `$SHELL`.
        let (_, pid) = Marker::new("n3").feed(b"MCP-n3 7 \n");
        assert_eq!(pid, Some((7, String::new())));
    }

    #[test]
    fn posix_login_shells_are_told_apart_from_the_others() {
        for posix in [
            "/bin/bash",
            "/usr/bin/zsh",
            "/bin/sh",
            "/bin/dash",
            "/bin/ash",
        ] {
            assert_eq!(LoginShell::of(posix), LoginShell::Posix, "{posix}");
        }
        for other in [
            "/usr/bin/fish",
            "/bin/tcsh",
            "/bin/csh",
            "/bin/rbash",
            "",
            "nu",
        ] {
            assert_eq!(LoginShell::of(other), LoginShell::Other, "{other}");
        }
    }
}
