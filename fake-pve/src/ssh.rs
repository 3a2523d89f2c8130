//! The SSH front end (russh server API): authentication, session channels, `exec`
//! requests handed to the shell, the `sftp` subsystem, the `signal` request, and
//! connection-level faults.
//!
//! Commands behave as under OpenSSH's sshd: each exec starts a new session whose
//! leader is `bash -c LINE`; closing the channel or dropping the connection does not
//! end it (it only loses its output, and dies of EPIPE on its next write).
//!
//! Each connection holds at most `MaxSessions` session channels (`SessionSlot`); a
//! session's slot is freed as sshd frees it: once its channel is closed and its
//! command (or sftp server) has ended.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use russh::keys::PrivateKey;
use russh::keys::ssh_key::{self, PublicKey};
use russh::server::{Auth, ChannelOpenHandle, Msg, Session};
use russh::{Channel, ChannelId, ChannelMsg, ChannelOpenFailure, Sig};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{Mutex as AsyncMutex, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use crate::host::{Host, SignalPolicy};

mod cut;
mod peers;
use crate::io::{Input, Io, Output};
use crate::proc::{SessionEnd, start_session};
use crate::process::parse_signal;
use crate::programs::login_ctx;
use cut::CuttableStream;
pub use peers::Peers;
use peers::{Peer, connect_failed, is_offline};

/// Most connections served at once; more wait in the accept queue.
const MAX_CONNECTIONS: usize = 1024;

/// Who may log in.
#[derive(Clone)]
pub struct AuthConfig {
    /// The one accepted user name (`root` by default).
    pub user: String,
    pub password: Option<String>,
    pub authorized_keys: Vec<PublicKey>,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("authorized_keys", &self.authorized_keys.len())
            .finish()
    }
}

/// Server settings.
pub struct ServerConfig {
    pub auth: AuthConfig,
    pub host_key: PrivateKey,
    /// Delay before refusing a login (OpenSSH waits; tests want it near zero).
    pub auth_rejection_time: Duration,
    /// The other members of this node's cluster, reachable through `direct-tcpip`
    /// channels to their address, port 22 (`None`: forwarding refused, as before).
    pub peers: Option<Arc<Peers>>,
}

impl ServerConfig {
    /// russh's settings; `banner` is the identification string sshd sends.
    fn russh_config(&self, banner: &'static str) -> russh::server::Config {
        russh::server::Config {
            keys: vec![self.host_key.clone()],
            auth_rejection_time: self.auth_rejection_time,
            auth_rejection_time_initial: Some(Duration::ZERO),
            inactivity_timeout: None,
            nodelay: true,
            window_size: 8 * 1024 * 1024,
            maximum_packet_size: 65535,
            channel_buffer_size: 256,
            server_id: russh::SshId::Standard(banner.into()),
            ..Default::default()
        }
    }
}

/// Generates a fresh ed25519 host key.
pub fn generate_host_key() -> PrivateKey {
    PrivateKey::random(&mut rand::rng(), ssh_key::Algorithm::Ed25519)
        .expect("ed25519 key generation does not fail")
}

/// A running fake-pve server.
pub struct FakePve {
    addr: SocketAddr,
    host: Host,
    public_key: PublicKey,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl FakePve {
    /// Serves `host` on `listener` until [`FakePve::shutdown`] (tests bind `127.0.0.1:0`).
    pub fn start(listener: TcpListener, host: Host, config: ServerConfig) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let public_key = config.host_key.public_key().clone();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(listener, host.clone(), config, shutdown.clone()));
        Ok(FakePve {
            addr,
            host,
            public_key,
            shutdown,
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The state behind the server: containers, files, processes, faults.
    pub fn host(&self) -> &Host {
        &self.host
    }

    pub fn host_public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// A `known_hosts` line for this server (`[127.0.0.1]:PORT ssh-ed25519 AAAA…`).
    pub fn known_hosts_line(&self) -> String {
        let host = match self.addr.port() {
            22 => self.addr.ip().to_string(),
            port => format!("[{}]:{port}", self.addr.ip()),
        };
        format!(
            "{host} {}",
            self.public_key.to_openssh().unwrap_or_default()
        )
    }

    /// Stops accepting, drops every connection and waits for the accept loop to end.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }
}

/// The accept loop: one task per connection, all cut when `shutdown` is cancelled.
pub async fn run(
    listener: TcpListener,
    host: Host,
    config: ServerConfig,
    shutdown: CancellationToken,
) {
    let banner = host.state().pve.ssh_banner();
    let russh_config = Arc::new(config.russh_config(banner));
    let auth = Arc::new(config.auth);
    let peers = config.peers.clone();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut drops = host.disconnect_signal();
    // Every connection's token is a child of this one; `drop_connections` replaces it.
    let mut generation = shutdown.child_token();
    loop {
        let permit = tokio::select! {
            _ = shutdown.cancelled() => break,
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            Ok(()) = drops.changed() => {
                generation.cancel();
                generation = shutdown.child_token();
                continue;
            }
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    continue;
                }
            },
        };
        if is_offline(&host) {
            // An offline node answers nobody.
            continue;
        }
        let _ = stream.set_nodelay(true);
        let cut = generation.child_token();
        let handler = Connection::new(host.clone(), auth.clone(), cut.clone(), peers.clone());
        let russh_config = russh_config.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let stream = CuttableStream::new(stream, cut.clone());
            match russh::server::run_stream(russh_config, stream, handler).await {
                Ok(session) => {
                    if let Err(e) = session.await {
                        tracing::debug!("connection from {peer} ended: {e}");
                    }
                }
                Err(e) => tracing::debug!("handshake with {peer} failed: {e}"),
            }
        });
    }
    generation.cancel();
}

/// One client connection.
struct Connection {
    host: Host,
    auth: Arc<AuthConfig>,
    user: Option<String>,
    /// Session channels opened but not yet given a command.
    pending: HashMap<ChannelId, Larval>,
    /// Session slots in use on this connection (see [`SessionSlot`]).
    open_sessions: Arc<AtomicUsize>,
    /// Session id of the command running on each channel (for `signal`).
    sessions: Arc<AsyncMutex<HashMap<ChannelId, u32>>>,
    cut: CancellationToken,
    bytes_out: Arc<AtomicU64>,
    peers: Option<Arc<Peers>>,
}

/// A session channel with no command yet (sshd's "larval" session): it holds a slot.
struct Larval {
    channel: Channel<Msg>,
    slot: SessionSlot,
}

/// One of a connection's `MaxSessions` slots. As in sshd (`session_close_by_channel`
/// keeps a session whose child still runs), a session is freed only once its channel
/// is closed *and* its command has ended, so the slot travels with the channel into
/// the exec or sftp task and is dropped when that ends.
struct SessionSlot(Arc<AtomicUsize>);

impl SessionSlot {
    /// Takes a slot, unless `max` are in use.
    fn take(in_use: &Arc<AtomicUsize>, max: u32) -> Option<SessionSlot> {
        in_use
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max as usize).then_some(n + 1)
            })
            .ok()?;
        Some(SessionSlot(in_use.clone()))
    }
}

impl Drop for SessionSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What sshd answers to a session open beyond `MaxSessions`: `session_new()` fails
/// ("no more sessions" in its log) and `server_input_channel_open()` sends
/// OPEN_FAILURE with its default reason, 2 (connect failed, since OpenSSH 7.5), and
/// "open failed". `ssh` prints `channel N: open failed: connect failed: open failed`.
/// russh's `reject` sends the code and description given (`ConnectFailed` would say
/// "Connect failed", hence `Other`), and always the language tag "en" (sshd's is "").
fn no_more_sessions() -> ChannelOpenFailure {
    ChannelOpenFailure::Other {
        code: 2,
        reason: "open failed".into(),
    }
}

#[derive(Debug, thiserror::Error)]
enum ConnectionError {
    #[error(transparent)]
    Ssh(#[from] russh::Error),
}

fn sig_name(sig: &Sig) -> String {
    match sig {
        Sig::ABRT => "ABRT".into(),
        Sig::ALRM => "ALRM".into(),
        Sig::FPE => "FPE".into(),
        Sig::HUP => "HUP".into(),
        Sig::ILL => "ILL".into(),
        Sig::INT => "INT".into(),
        Sig::KILL => "KILL".into(),
        Sig::PIPE => "PIPE".into(),
        Sig::QUIT => "QUIT".into(),
        Sig::SEGV => "SEGV".into(),
        Sig::TERM => "TERM".into(),
        Sig::USR1 => "USR1".into(),
        Sig::Custom(c) => c.clone(),
    }
}

fn sig_from_number(n: i32) -> Sig {
    match n {
        1 => Sig::HUP,
        2 => Sig::INT,
        3 => Sig::QUIT,
        9 => Sig::KILL,
        10 => Sig::USR1,
        13 => Sig::PIPE,
        14 => Sig::ALRM,
        15 => Sig::TERM,
        other => Sig::Custom(crate::process::signal_name(other).to_string()),
    }
}

impl russh::server::Handler for Connection {
    type Error = ConnectionError;

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        let ok = !self.host.faults().refuse_auth
            && user == self.auth.user
            && self.auth.password.as_deref() == Some(password);
        Ok(self.log_in(ok, user))
    }

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: russh::server::PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(accept_if(self.key_allowed(user, offer.public_key)))
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: russh::server::VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        let ok = self.key_allowed(user, key.public_key) && !self.host.faults().refuse_auth;
        Ok(self.log_in(ok, user))
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Some(slot) = SessionSlot::take(&self.open_sessions, self.host.max_sessions()) else {
            reply.reject(no_more_sessions()).await;
            return Ok(());
        };
        self.pending.insert(channel.id(), Larval { channel, slot });
        reply.accept().await;
        Ok(())
    }

    /// A cluster member forwards to the other members' SSH port (sshd's
    /// `AllowTcpForwarding yes`, Debian's default); a standalone node refuses.
    async fn channel_open_direct_tcpip(
        &mut self,
        channel: Channel<Msg>,
        host_to_connect: &str,
        port_to_connect: u32,
        _originator_address: &str,
        _originator_port: u32,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Some(peers) = self.peers.clone() else {
            reply
                .reject(ChannelOpenFailure::AdministrativelyProhibited)
                .await;
            return Ok(());
        };
        match peers.by_ip.get(host_to_connect) {
            Some(peer) if port_to_connect == 22 && !is_offline(&peer.host) => {
                reply.accept().await;
                self.tunnel(peer, channel);
            }
            Some(_) if port_to_connect != 22 => {
                reply.reject(connect_failed("Connection refused")).await;
            }
            _ => reply.reject(connect_failed("No route to host")).await,
        }
        Ok(())
    }

    async fn channel_close(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        // A session closed before any command is freed at once.
        self.pending.remove(&channel);
        Ok(())
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        _name: &str,
        _value: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        // sshd's default AcceptEnv on Debian takes LANG and LC_*; we take none.
        session.channel_failure(channel)?;
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Some(larval) = Self::claim(self.pending.remove(&channel), channel, session)? else {
            return Ok(());
        };
        let line = String::from_utf8_lossy(data).into_owned();
        self.spawn_exec(larval, line, session);
        Ok(())
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        // Interactive shells are not emulated: read a script from stdin like `bash -s`.
        let Some(larval) = Self::claim(self.pending.remove(&channel), channel, session)? else {
            return Ok(());
        };
        self.spawn_exec(larval, "bash -s".into(), session);
        Ok(())
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        // An unknown subsystem is refused and the channel stays a larval session.
        let larval = match name {
            "sftp" => self.pending.remove(&channel),
            _ => None,
        };
        let Some(Larval {
            channel: chan,
            slot,
        }) = Self::claim(larval, channel, session)?
        else {
            return Ok(());
        };
        let user = self.user.clone().unwrap_or_else(|| "root".into());
        let home = login_ctx(&self.host, &user).cwd;
        let handler = crate::sftp::SftpHandler::new(self.host.clone(), user, home);
        // The sftp server runs on its own task until the channel reaches EOF; the
        // stream it owns holds the slot until then.
        let id = chan.id();
        let handle = session.handle();
        let stream = SlotStream {
            inner: chan.into_stream(),
            _slot: slot,
            exit: Some(Box::pin(async move {
                let _ = handle.exit_status_request(id, 0).await;
            })),
        };
        russh_sftp::server::run(stream, handler).await;
        Ok(())
    }

    async fn signal(
        &mut self,
        channel: ChannelId,
        signal: Sig,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let user = self.user.clone().unwrap_or_default();
        let refuse = user == "root" && self.host.state().signal_policy == SignalPolicy::RefuseRoot;
        let sid = self.sessions.lock().await.get(&channel).copied();
        match (refuse, sid, parse_signal(&sig_name(&signal))) {
            (false, Some(sid), Some(sig)) if self.host.processes().signal_session(sid, sig) > 0 => {
                session.channel_success(channel)?;
            }
            _ => {
                // As OpenSSH < 9.8 for root: "session signalling requires privilege separation".
                session.channel_failure(channel)?;
            }
        }
        Ok(())
    }
}

/// A key offer's answer: accepted (for now) or rejected.
fn accept_if(ok: bool) -> Auth {
    if ok { Auth::Accept } else { Auth::reject() }
}

impl Connection {
    fn new(
        host: Host,
        auth: Arc<AuthConfig>,
        cut: CancellationToken,
        peers: Option<Arc<Peers>>,
    ) -> Self {
        Connection {
            host,
            auth,
            user: None,
            pending: HashMap::new(),
            open_sessions: Arc::new(AtomicUsize::new(0)),
            sessions: Arc::new(AsyncMutex::new(HashMap::new())),
            cut,
            bytes_out: Arc::new(AtomicU64::new(0)),
            peers,
        }
    }

    /// Serves an SSH connection to cluster member `peer` over a `direct-tcpip`
    /// channel of this connection. It ends with this connection, or when the member
    /// drops its connections (taken offline).
    fn tunnel(&self, peer: &Peer, channel: Channel<Msg>) {
        let cut = self.cut.child_token();
        let handler = Connection::new(
            peer.host.clone(),
            peer.auth.clone(),
            cut.clone(),
            self.peers.clone(),
        );
        let mut drops = peer.host.disconnect_signal();
        let watch = cut.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = watch.cancelled() => {}
                Ok(()) = drops.changed() => watch.cancel(),
            }
        });
        let config = peer.config.clone();
        tokio::spawn(async move {
            let stream = CuttableStream::new(channel.into_stream(), cut.clone());
            match russh::server::run_stream(config, stream, handler).await {
                Ok(session) => {
                    if let Err(e) = session.await {
                        tracing::debug!("tunnelled connection ended: {e}");
                    }
                }
                Err(e) => tracing::debug!("tunnelled handshake failed: {e}"),
            }
            cut.cancel();
        });
    }

    /// The end of an authentication: `user` is logged in when `ok`.
    fn log_in(&mut self, ok: bool, user: &str) -> Auth {
        if ok {
            self.user = Some(user.to_string());
        }
        accept_if(ok)
    }

    /// Answers a request for a channel's larval session: success and the session
    /// when there is one, failure (and `None`) when there is not.
    fn claim(
        larval: Option<Larval>,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<Option<Larval>, ConnectionError> {
        match larval {
            Some(larval) => {
                session.channel_success(channel)?;
                Ok(Some(larval))
            }
            None => {
                session.channel_failure(channel)?;
                Ok(None)
            }
        }
    }

    /// Runs a command line on a claimed session, on its own task.
    fn spawn_exec(&self, larval: Larval, line: String, session: &Session) {
        let user = self.user.clone().unwrap_or_else(|| "root".into());
        tokio::spawn(serve_exec(ExecJob {
            host: self.host.clone(),
            user,
            line,
            channel: larval.channel,
            slot: larval.slot,
            handle: session.handle(),
            sessions: self.sessions.clone(),
            cut: self.cut.clone(),
            bytes_out: self.bytes_out.clone(),
        }));
    }

    fn key_allowed(&self, user: &str, key: &PublicKey) -> bool {
        user == self.auth.user
            && self
                .auth
                .authorized_keys
                .iter()
                .any(|k| k.key_data() == key.key_data())
    }
}

struct ExecJob {
    host: Host,
    user: String,
    line: String,
    channel: Channel<Msg>,
    slot: SessionSlot,
    handle: russh::server::Handle,
    sessions: Arc<AsyncMutex<HashMap<ChannelId, u32>>>,
    cut: CancellationToken,
    bytes_out: Arc<AtomicU64>,
}

/// Runs one exec request: starts the session, pumps stdin in and output out, then
/// reports the exit status (or signal) and closes the channel.
async fn serve_exec(job: ExecJob) {
    let ExecJob {
        host,
        user,
        line,
        channel,
        slot,
        handle,
        sessions,
        cut,
        bytes_out,
    } = job;
    let faults = host.faults();
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    let id = channel.id();
    let (mut reader, writer) = channel.split();
    let (stdin_tx, stdin_rx) = mpsc::unbounded_channel::<Bytes>();
    let (out_tx, mut out_rx) = mpsc::channel::<Bytes>(16);
    let (err_tx, mut err_rx) = mpsc::channel::<Bytes>(16);
    let io = Io {
        stdin: Input::unbounded(stdin_rx),
        stdout: Output::Pipe(out_tx),
        stderr: Output::Pipe(err_tx),
    };
    let ctx = login_ctx(&host, &user);
    let (sid, mut exit) = start_session(ctx, line.clone(), io);
    sessions.lock().await.insert(id, sid);
    host.link_session(sid, cut.clone());

    if let Some(pattern) = &faults.drop_on_command
        && crate::unix::glob_match(pattern, &line)
    {
        // Let the command start, then cut the connection under it.
        let cut = cut.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            cut.cancel();
        });
    }

    // The reading side runs on its own so that a client closing the channel is
    // noticed even while output waits for window space.
    let gone = CancellationToken::new();
    let reader_task = {
        let gone = gone.clone();
        tokio::spawn(async move {
            let mut stdin_tx = Some(stdin_tx);
            loop {
                match reader.wait().await {
                    Some(ChannelMsg::Data { data }) => {
                        if let Some(tx) = &stdin_tx {
                            let _ = tx.send(data);
                        }
                    }
                    Some(ChannelMsg::Eof) => stdin_tx = None,
                    Some(ChannelMsg::Close) | None => break,
                    Some(_) => {}
                }
            }
            gone.cancel();
        })
    };

    let fwd = Forwarder {
        host: host.clone(),
        cut: cut.clone(),
        bytes_out,
        gone: gone.clone(),
    };
    let (mut out_open, mut err_open) = (true, true);
    let status = loop {
        tokio::select! {
            chunk = out_rx.recv(), if out_open => match chunk {
                Some(data) => {
                    if !fwd.forward(&writer, None, data).await {
                        break_outputs(&mut out_rx, &mut err_rx, &mut out_open, &mut err_open);
                    }
                }
                None => out_open = false,
            },
            chunk = err_rx.recv(), if err_open => match chunk {
                Some(data) => {
                    if !fwd.forward(&writer, Some(1), data).await {
                        break_outputs(&mut out_rx, &mut err_rx, &mut out_open, &mut err_open);
                    }
                }
                None => err_open = false,
            },
            // The client is gone: output now goes nowhere (EPIPE), but the command
            // itself keeps running, as under sshd.
            _ = gone.cancelled(), if out_open || err_open => {
                break_outputs(&mut out_rx, &mut err_rx, &mut out_open, &mut err_open);
            }
            status = &mut exit, if !out_open && !err_open => break status,
        }
    };
    sessions.lock().await.remove(&id);
    host.unlink_session(sid);
    if gone.is_cancelled() {
        // Closed by the client and the command is over: the session is free.
        return;
    }
    match status.unwrap_or(SessionEnd::Exited(1)) {
        SessionEnd::Exited(code) => {
            let _ = writer.exit_status(code as u32).await;
        }
        SessionEnd::Signalled(sig) => {
            let _ = handle
                .exit_signal_request(
                    id,
                    sig_from_number(sig),
                    false,
                    String::new(),
                    String::new(),
                )
                .await;
        }
    }
    let _ = writer.eof().await;
    // Freed before the close goes out, so that a client that waits for the close
    // before opening its next channel always finds the slot free.
    drop(slot);
    let _ = writer.close().await;
    drop(reader_task);
}

/// A subsystem channel's stream: it holds the session's slot for as long as it
/// exists, and at the client's EOF it sends exit-status 0 before it reports the end
/// (so before the channel closes), as OpenSSH's sshd does when sftp-server exits.
struct SlotStream<S> {
    inner: S,
    _slot: SessionSlot,
    exit: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl<S: AsyncRead + Unpin> AsyncRead for SlotStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) if buf.filled().len() == before && buf.remaining() > 0 => {
                if let Some(exit) = self.exit.as_mut() {
                    if exit.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    self.exit = None;
                }
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for SlotStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Stops reading both outputs: the process's next write fails with EPIPE.
fn break_outputs(
    out_rx: &mut mpsc::Receiver<Bytes>,
    err_rx: &mut mpsc::Receiver<Bytes>,
    out_open: &mut bool,
    err_open: &mut bool,
) {
    out_rx.close();
    err_rx.close();
    while out_rx.try_recv().is_ok() {}
    while err_rx.try_recv().is_ok() {}
    *out_open = false;
    *err_open = false;
}

struct Forwarder {
    host: Host,
    cut: CancellationToken,
    bytes_out: Arc<AtomicU64>,
    /// Cancelled when the client closed the channel or the connection ended.
    gone: CancellationToken,
}

impl Forwarder {
    /// Sends one chunk of output; false when the channel or connection is gone.
    async fn forward(
        &self,
        writer: &russh::ChannelWriteHalf<Msg>,
        ext: Option<u32>,
        data: Bytes,
    ) -> bool {
        let len = data.len() as u64;
        let send = async {
            match ext {
                None => writer.data_bytes(data).await,
                Some(n) => writer.extended_data_bytes(n, data).await,
            }
        };
        let sent = tokio::select! {
            sent = send => sent,
            _ = self.gone.cancelled() => return false,
        };
        let total = self.bytes_out.fetch_add(len, Ordering::Relaxed) + len;
        if let Some(limit) = self.host.faults().drop_after_bytes
            && total >= limit
        {
            self.cut.cancel();
            return false;
        }
        sent.is_ok()
    }
}

/// Reads an OpenSSH `authorized_keys` file (options before the key are not supported).
pub fn read_authorized_keys(path: &std::path::Path) -> Result<Vec<PublicKey>, AuthKeysError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| AuthKeysError(format!("{}: {e}", path.display())))?;
    let mut keys = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key = PublicKey::from_openssh(line)
            .map_err(|e| AuthKeysError(format!("{}:{}: {e}", path.display(), n + 1)))?;
        keys.push(key);
    }
    Ok(keys)
}

/// An unreadable or malformed authorized_keys file.
#[derive(Debug, thiserror::Error)]
#[error("invalid authorized keys: {0}")]
pub struct AuthKeysError(String);

/// A random 20-character password.
pub fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..20)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}
