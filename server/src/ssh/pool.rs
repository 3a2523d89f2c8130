//! Connections to one host: a small pool of russh connections, each carrying at most
//! as many channels as the host allows, with callers queued fairly beyond that.
//!
//! # The channel budget
//! OpenSSH's sshd allows `MaxSessions` (10 on a stock Debian or Proxmox VE node) session
//! channels per connection; an SFTP session holds one for its whole life, and the 11th
//! open is refused ("administratively prohibited") while the connection itself is fine.
//! So per connection:
//! - `cap` channels for calls (commands and the SFTP session), learned from the host:
//!   [`DEFAULT_SESSIONS`] − 1 until a refusal says the host allows fewer;
//! - one more slot kept free for ending a timed-out command, so a kill never waits
//!   behind the calls it has to make room for.
//!
//! Beyond one connection's budget the pool opens more connections to the same host,
//! one at a time (sshd's `MaxStartups` limits unauthenticated connections in flight),
//! up to [`MAX_CONNECTIONS`]; beyond that, callers wait in a FIFO queue (a semaphore
//! with `MAX_CONNECTIONS × cap` permits), each bounded by its own deadline.
//!
//! A refused channel open is not a dead connection: the call waits a moment and tries
//! again (the refusal may only mean that a channel we just closed is not freed on the
//! host yet); a second refusal teaches the pool the host's real limit. Only a transport
//! error, `is_closed()` or a channel open that gets no answer before the deadline (a
//! hung connection) takes a connection out of the pool.
//!
//! # Nothing left behind
//! What could not be cleaned up because its connection was lost — the session of a
//! command that was still running, a transfer's temp file — is recorded in
//! [`SshClient`] and dealt with over the next connection to the host.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use russh::client::Handle;
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::SshError;
use super::exec::LoginShell;
use super::session::{ClientHandler, connect};
use crate::config::SshTarget;

/// Session channels per connection on a stock OpenSSH sshd (`MaxSessions`).
pub const DEFAULT_SESSIONS: usize = 10;
/// Connections the pool opens to one host at most: on a stock host (9 call channels
/// each) 72 calls at once, so that 64 concurrent calls run in one wave rather than
/// two (measured: 64 × `sleep 1` took 2.3 s with 4 connections, 1.4 s with 8).
pub const MAX_CONNECTIONS: usize = 8;
/// How long a refused channel open waits before it is tried again.
const REFUSAL_PAUSE: Duration = Duration::from_millis(20);
/// A refusal this soon after a channel was given back on that connection may only
/// mean the host has not freed it yet: it teaches nothing about the limit.
const RELEASE_WINDOW: Duration = Duration::from_millis(500);

/// The connections of this process, keyed by `user@host:port`.
#[derive(Default)]
pub struct Hosts {
    clients: StdMutex<HashMap<String, Arc<SshClient>>>,
}

impl Hosts {
    pub fn new() -> Self {
        Self::default()
    }

    /// The client for `target`, created on first use.
    pub fn client(&self, target: &SshTarget) -> Arc<SshClient> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        clients
            .entry(target.display())
            .or_insert_with(|| Arc::new(SshClient::new(target.clone())))
            .clone()
    }

    /// Every client made so far.
    pub fn all(&self) -> Vec<Arc<SshClient>> {
        let clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        clients.values().cloned().collect()
    }
}

/// Something a lost connection left on the host, to be dealt with over the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Orphan {
    /// A command's session (its leader's pid) that may still be running, and the
    /// nonce in its environment that proves a session with that id is still ours.
    Session { sid: u32, nonce: String },
    /// A temp file of a transfer.
    File(String),
}

/// One host: its pool of connections, the queue for channels, the SFTP session, and
/// what lost connections left behind.
pub struct SshClient {
    target: SshTarget,
    shared: Arc<Shared>,
    /// One connection attempt at a time; callers that waited for an attempt share its
    /// failure instead of making their own.
    connecting: Mutex<()>,
    attempts: AtomicU64,
    last_failure: StdMutex<Option<(u64, SshError)>>,
    sftp: Mutex<Option<Arc<SftpLink>>>,
    orphans: StdMutex<Vec<Orphan>>,
    running: StdMutex<HashMap<u64, Orphan>>,
    next_call: AtomicU64,
    /// What the login shell is known to be ([`super::exec::LoginShell`] as a number).
    login_shell: AtomicU8,
}

/// Pool state shared with the leases (which give their slot back on drop).
struct Shared {
    permits: Arc<Semaphore>,
    pool: StdMutex<Pool>,
}

struct Pool {
    conns: Vec<Arc<Connection>>,
    /// Channels per connection for calls (the kill slot not included).
    cap: usize,
    /// Permits to retire as they come back, after the cap was lowered.
    debt: usize,
}

/// A live connection.
pub struct Connection {
    pub handle: Handle<ClientHandler>,
    target: String,
    /// Call channels open on it (the SFTP session's included).
    in_use: AtomicUsize,
    /// The slot kept for ending timed-out commands.
    kill_slot: Arc<Semaphore>,
    /// No new channels: it stopped answering.
    retired: AtomicBool,
    /// When a call last gave its channel back (ms since `born`): sshd frees a session
    /// only after our close reached it, so a refusal right after is no evidence.
    released_ms: AtomicU64,
    born: std::time::Instant,
}

impl Connection {
    pub fn target(&self) -> &str {
        &self.target
    }

    pub fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    fn usable(&self) -> bool {
        !self.is_closed() && !self.retired.load(Ordering::Relaxed)
    }

    fn now_ms(&self) -> u64 {
        self.born.elapsed().as_millis() as u64
    }

    /// Whether a channel was given back within `RELEASE_WINDOW`.
    fn released_lately(&self) -> bool {
        self.now_ms()
            .saturating_sub(self.released_ms.load(Ordering::Relaxed))
            < RELEASE_WINDOW.as_millis() as u64
    }
}

/// The right to one channel on one connection; the slot is given back on drop.
pub struct Lease {
    conn: Arc<Connection>,
    shared: Arc<Shared>,
    permit: Option<OwnedSemaphorePermit>,
    kill: Option<OwnedSemaphorePermit>,
}

impl Lease {
    pub fn conn(&self) -> &Arc<Connection> {
        &self.conn
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.kill.take().is_some() {
            return;
        }
        self.conn.in_use.fetch_sub(1, Ordering::Relaxed);
        self.conn
            .released_ms
            .store(self.conn.now_ms(), Ordering::Relaxed);
        if let Some(permit) = self.permit.take() {
            let mut pool = self.shared.pool.lock().unwrap_or_else(|e| e.into_inner());
            if pool.debt > 0 {
                pool.debt -= 1;
                permit.forget();
            }
        }
    }
}

/// A channel with the lease that pays for it.
pub struct Leased {
    pub channel: russh::Channel<russh::client::Msg>,
    pub lease: Lease,
}

/// The host's SFTP session and the channel slot it holds.
pub struct SftpLink {
    pub sftp: russh_sftp::client::RawSftpSession,
    lease: Lease,
}

impl SftpLink {
    pub fn conn(&self) -> &Arc<Connection> {
        self.lease.conn()
    }
}

impl std::ops::Deref for SftpLink {
    type Target = russh_sftp::client::RawSftpSession;
    fn deref(&self) -> &Self::Target {
        &self.sftp
    }
}

fn lost(target: &str, reason: impl std::fmt::Display) -> SshError {
    SshError::Lost {
        target: target.to_string(),
        reason: reason.to_string(),
    }
}

impl SshClient {
    pub fn new(target: SshTarget) -> Self {
        let cap = DEFAULT_SESSIONS - 1;
        SshClient {
            target,
            shared: Arc::new(Shared {
                permits: Arc::new(Semaphore::new(MAX_CONNECTIONS * cap)),
                pool: StdMutex::new(Pool {
                    conns: Vec::new(),
                    cap,
                    debt: 0,
                }),
            }),
            connecting: Mutex::new(()),
            attempts: AtomicU64::new(0),
            last_failure: StdMutex::new(None),
            sftp: Mutex::new(None),
            orphans: StdMutex::new(Vec::new()),
            running: StdMutex::new(HashMap::new()),
            next_call: AtomicU64::new(0),
            login_shell: AtomicU8::new(LoginShell::Unknown as u8),
        }
    }

    pub fn target(&self) -> &SshTarget {
        &self.target
    }

    /// What the host's login shell is known to be (learned by the commands run).
    pub fn login_shell(&self) -> LoginShell {
        LoginShell::from_u8(self.login_shell.load(Ordering::Relaxed))
    }

    pub fn learn_login_shell(&self, shell: LoginShell) {
        self.login_shell.store(shell as u8, Ordering::Relaxed);
    }

    /// The deadline of a call that starts now and may take `budget`.
    pub fn deadline(budget: Duration) -> Instant {
        Instant::now() + budget
    }

    /// Channels per connection the pool uses for calls now (learned from the host).
    pub fn channel_cap(&self) -> usize {
        self.shared
            .pool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .cap
    }

    /// Live connections in the pool.
    pub fn connections(&self) -> usize {
        let pool = self.shared.pool.lock().unwrap_or_else(|e| e.into_inner());
        pool.conns.iter().filter(|c| c.usable()).count()
    }

    /// Makes sure one connection is open (for `check`), within the connect timeout.
    pub async fn connection(&self) -> Result<Arc<Connection>, SshError> {
        let deadline = Self::deadline(self.target.connect_timeout);
        if let Some(c) = self.first_usable() {
            return Ok(c);
        }
        self.connect_shared(deadline).await?;
        self.first_usable()
            .ok_or_else(|| lost(&self.target.display(), "the new connection closed at once"))
    }

    fn first_usable(&self) -> Option<Arc<Connection>> {
        let pool = self.shared.pool.lock().unwrap_or_else(|e| e.into_inner());
        pool.conns.iter().find(|c| c.usable()).cloned()
    }

    /// A session channel for a call, waiting in line for a slot until `deadline`.
    pub async fn channel(&self, deadline: Instant) -> Result<Leased, SshError> {
        let target = self.target.display();
        let mut refusals = 0;
        let mut reconnected = false;
        loop {
            let permit =
                tokio::time::timeout_at(deadline, self.shared.permits.clone().acquire_owned())
                    .await
                    .map_err(|_| SshError::Busy {
                        target: target.clone(),
                        channels: self.channel_cap() + 1,
                        connections: MAX_CONNECTIONS,
                    })?
                    .expect("the semaphore is never closed");
            let lease = self.lease(permit, deadline).await?;
            match tokio::time::timeout_at(deadline, lease.conn.handle.channel_open_session()).await
            {
                Ok(Ok(channel)) => return Ok(Leased { channel, lease }),
                Ok(Err(russh::Error::ChannelOpenFailure(reason))) => {
                    if !lease.conn.released_lately() {
                        refusals += 1;
                    }
                    let open = lease.conn.in_use.load(Ordering::Relaxed) - 1
                        + usize::from(lease.conn.kill_slot.available_permits() == 0);
                    tracing::debug!(
                        "{target} refused channel {} on a connection ({reason:?})",
                        open + 1
                    );
                    drop(lease);
                    if refusals >= 2 {
                        self.learn_limit(open.max(1));
                        refusals = 0;
                    }
                    tokio::time::sleep(REFUSAL_PAUSE).await;
                }
                Ok(Err(e)) => {
                    let conn = lease.conn.clone();
                    drop(lease);
                    if conn.is_closed() && !reconnected {
                        // The connection dropped since the last call: one new attempt.
                        reconnected = true;
                        tracing::info!("connection to {target} was lost ({e}); reconnecting");
                        continue;
                    }
                    return Err(lost(&target, e));
                }
                Err(_) => {
                    // No answer at all: the connection hangs. New calls go elsewhere.
                    lease.conn.retired.store(true, Ordering::Relaxed);
                    tracing::warn!(
                        "a connection to {target} stopped answering; it takes no more calls"
                    );
                    return Err(SshError::NoAnswer {
                        target,
                        what: "opening a channel".into(),
                    });
                }
            }
        }
    }

    /// A channel for ending a timed-out command: the kept slot of `preferred` if it is
    /// usable, else a call slot anywhere in the pool (a new connection if needed).
    pub async fn kill_channel(
        &self,
        preferred: &Arc<Connection>,
        deadline: Instant,
    ) -> Result<Leased, SshError> {
        if preferred.usable()
            && let Ok(kill) = preferred.kill_slot.clone().try_acquire_owned()
        {
            let lease = Lease {
                conn: preferred.clone(),
                shared: self.shared.clone(),
                permit: None,
                kill: Some(kill),
            };
            match tokio::time::timeout_at(deadline, preferred.handle.channel_open_session()).await {
                Ok(Ok(channel)) => return Ok(Leased { channel, lease }),
                Ok(Err(e)) => tracing::debug!("kill channel refused: {e}"),
                Err(_) => {
                    preferred.retired.store(true, Ordering::Relaxed);
                }
            }
        }
        self.channel(deadline).await
    }

    /// Picks a connection with room for the holder of `permit`, opening one if none has.
    async fn lease(
        &self,
        permit: OwnedSemaphorePermit,
        deadline: Instant,
    ) -> Result<Lease, SshError> {
        loop {
            {
                let mut pool = self.shared.pool.lock().unwrap_or_else(|e| e.into_inner());
                pool.conns.retain(|c| !c.is_closed());
                let cap = pool.cap;
                if let Some(conn) = pool
                    .conns
                    .iter()
                    .filter(|c| c.usable() && c.in_use.load(Ordering::Relaxed) < cap)
                    .min_by_key(|c| c.in_use.load(Ordering::Relaxed))
                {
                    conn.in_use.fetch_add(1, Ordering::Relaxed);
                    return Ok(Lease {
                        conn: conn.clone(),
                        shared: self.shared.clone(),
                        permit: Some(permit),
                        kill: None,
                    });
                }
            }
            self.connect_shared(deadline).await?;
        }
    }

    /// Opens one more connection, or shares the outcome of the attempt in progress.
    async fn connect_shared(&self, deadline: Instant) -> Result<(), SshError> {
        let target = self.target.display();
        let seen = self.attempts.load(Ordering::SeqCst);
        let _guard = tokio::time::timeout_at(deadline, self.connecting.lock())
            .await
            .map_err(|_| SshError::ConnectTimeout {
                target: target.clone(),
                secs: self.target.connect_timeout.as_secs(),
            })?;
        let now = self.attempts.load(Ordering::SeqCst);
        if now != seen {
            // An attempt finished while we waited: its failure is ours too; after a
            // success the caller looks for room again.
            let failure = self.last_failure.lock().unwrap_or_else(|e| e.into_inner());
            return match &*failure {
                Some((n, e)) if *n == now => Err(e.clone()),
                _ => Ok(()),
            };
        }
        let limit = (Instant::now() + self.target.connect_timeout).min(deadline);
        let result = connect(&self.target, limit).await;
        let n = self.attempts.fetch_add(1, Ordering::SeqCst) + 1;
        match result {
            Ok(handle) => {
                let conn = Arc::new(Connection {
                    handle,
                    target: target.clone(),
                    in_use: AtomicUsize::new(0),
                    kill_slot: Arc::new(Semaphore::new(1)),
                    retired: AtomicBool::new(false),
                    released_ms: AtomicU64::new(0),
                    born: std::time::Instant::now(),
                });
                let count = {
                    let mut pool = self.shared.pool.lock().unwrap_or_else(|e| e.into_inner());
                    pool.conns.push(conn);
                    pool.conns.len()
                };
                *self.last_failure.lock().unwrap_or_else(|e| e.into_inner()) = None;
                if count > 1 {
                    tracing::info!("{target}: {count} connections in the pool");
                }
                Ok(())
            }
            Err(e) => {
                *self.last_failure.lock().unwrap_or_else(|e| e.into_inner()) = Some((n, e.clone()));
                Err(e)
            }
        }
    }

    /// The host refused a channel with `open` channels open on that connection: that
    /// is its limit. One slot stays kept for kills.
    fn learn_limit(&self, open: usize) {
        let mut pool = self.shared.pool.lock().unwrap_or_else(|e| e.into_inner());
        let cap = open.saturating_sub(1).max(1);
        if cap >= pool.cap {
            return;
        }
        tracing::info!(
            "{} allows {open} sessions per connection; using {cap} per connection for calls",
            self.target.display()
        );
        let excess = (pool.cap - cap) * MAX_CONNECTIONS;
        pool.cap = cap;
        let forgotten = self.shared.permits.forget_permits(excess);
        pool.debt += excess - forgotten;
    }

    /// The host's SFTP session, started on first use (it holds a call slot).
    pub async fn sftp(&self, deadline: Instant) -> Result<Arc<SftpLink>, SshError> {
        let mut current = tokio::time::timeout_at(deadline, self.sftp.lock())
            .await
            .map_err(|_| SshError::NoAnswer {
                target: self.target.display(),
                what: "starting the SFTP session".into(),
            })?;
        if let Some(link) = current.as_ref() {
            if link.conn().usable() {
                return Ok(link.clone());
            }
            current.take();
        }
        let Leased { channel, lease } = self.channel(deadline).await?;
        let start = async {
            channel
                .request_subsystem(true, "sftp")
                .await
                .map_err(|e| SshError::Sftp(format!("cannot start the SFTP subsystem: {e}")))?;
            let mut sftp = russh_sftp::client::RawSftpSession::new(channel.into_stream());
            sftp.set_timeout(self.sftp_request_secs());
            sftp.set_limits(russh_sftp::client::rawsession::Limits {
                read_len: Some(super::transfer::CHUNK as u64),
                write_len: Some(super::transfer::CHUNK as u64),
                open_handles: None,
                packet_len: None,
            });
            sftp.init()
                .await
                .map_err(|e| SshError::Sftp(format!("cannot start the SFTP subsystem: {e}")))?;
            Ok::<_, SshError>(sftp)
        };
        let sftp = tokio::time::timeout_at(deadline, start)
            .await
            .map_err(|_| SshError::NoAnswer {
                target: self.target.display(),
                what: "starting the SFTP session".into(),
            })??;
        let link = Arc::new(SftpLink { sftp, lease });
        *current = Some(link.clone());
        Ok(link)
    }

    /// Seconds one SFTP request may take: the connect timeout (TIMEOUT).
    pub fn sftp_request_secs(&self) -> u64 {
        self.target.connect_timeout.as_secs().max(1)
    }

    /// Throws `link` away (it timed out or failed) so the next transfer starts a new
    /// SFTP session; the connection stays.
    pub async fn discard_sftp(&self, link: &Arc<SftpLink>) {
        let mut current = self.sftp.lock().await;
        if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, link)) {
            current.take();
        }
    }

    /// Records something a lost connection left behind.
    pub fn add_orphan(&self, orphan: Orphan) {
        tracing::warn!(
            "{}: left behind by a lost connection, to be cleaned up over the next one: {orphan:?}",
            self.target.display()
        );
        let mut orphans = self.orphans.lock().unwrap_or_else(|e| e.into_inner());
        if !orphans.contains(&orphan) {
            orphans.push(orphan);
        }
    }

    /// Drops a record that turned out not to be needed.
    pub fn forget_orphan(&self, orphan: &Orphan) {
        let mut orphans = self.orphans.lock().unwrap_or_else(|e| e.into_inner());
        orphans.retain(|o| o != orphan);
    }

    /// Takes what is waiting for clean-up.
    pub fn take_orphans(&self) -> Vec<Orphan> {
        std::mem::take(&mut *self.orphans.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// What is waiting for clean-up (for tests and logs).
    pub fn orphans(&self) -> Vec<Orphan> {
        self.orphans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Registers a running command's session; the returned id unregisters it.
    pub fn register_running(&self, sid: u32, nonce: &str) -> u64 {
        let id = self.next_call.fetch_add(1, Ordering::Relaxed);
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                id,
                Orphan::Session {
                    sid,
                    nonce: nonce.to_string(),
                },
            );
        id
    }

    pub fn unregister_running(&self, id: u64) {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    /// The sessions of commands still running.
    pub fn running(&self) -> Vec<Orphan> {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }
}
