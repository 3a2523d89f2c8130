//! Connections: one shared russh connection per host, opened lazily, multiplexing
//! every call as its own channel, and re-opened on the next call after it drops.
//!
//! Lazily, because the MCP client expects `initialize` and `tools/list` to answer at
//! once even when the host is down; a connection problem then reaches the model as a
//! tool error with a suggestion, and `mcp-remote-exec check` reports it up front.

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex};

use russh::client::{AuthResult, Handle};
use russh::keys::ssh_key::PublicKey;
use russh::keys::{PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use tokio::sync::{Mutex, OnceCell};

use super::SshError;
use super::known_hosts::{self, Verdict};
use crate::config::{AuthMethod, HostKeyPolicy, SshTarget};

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
}

/// One host's shared connection.
pub struct SshClient {
    target: SshTarget,
    current: Mutex<Option<Arc<Connection>>>,
}

/// A live connection: channels for commands, one SFTP session for files.
pub struct Connection {
    pub handle: Handle<ClientHandler>,
    sftp: OnceCell<Arc<russh_sftp::client::RawSftpSession>>,
    target: String,
}

impl Connection {
    pub fn target(&self) -> &str {
        &self.target
    }

    pub fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    /// Opens a session channel, mapping failure to "connection lost".
    pub async fn open_channel(&self) -> Result<russh::Channel<russh::client::Msg>, SshError> {
        self.handle
            .channel_open_session()
            .await
            .map_err(|e| SshError::Lost {
                target: self.target.clone(),
                reason: e.to_string(),
            })
    }

    /// The connection's SFTP session, started on first use.
    pub async fn sftp(&self) -> Result<Arc<russh_sftp::client::RawSftpSession>, SshError> {
        self.sftp
            .get_or_try_init(|| async {
                let channel = self.open_channel().await?;
                channel
                    .request_subsystem(true, "sftp")
                    .await
                    .map_err(|e| SshError::Sftp(format!("cannot start the SFTP subsystem: {e}")))?;
                let mut sftp = russh_sftp::client::RawSftpSession::new(channel.into_stream());
                sftp.set_timeout(120);
                sftp.set_limits(russh_sftp::client::rawsession::Limits {
                    read_len: Some(super::transfer::CHUNK as u64),
                    write_len: Some(super::transfer::CHUNK as u64),
                    open_handles: None,
                    packet_len: None,
                });
                sftp.init()
                    .await
                    .map_err(|e| SshError::Sftp(format!("cannot start the SFTP subsystem: {e}")))?;
                Ok(Arc::new(sftp))
            })
            .await
            .cloned()
    }
}

impl SshClient {
    pub fn new(target: SshTarget) -> Self {
        SshClient {
            target,
            current: Mutex::new(None),
        }
    }

    pub fn target(&self) -> &SshTarget {
        &self.target
    }

    /// The live connection, connecting (again) when there is none or it dropped.
    /// Concurrent callers wait for one connection attempt instead of racing.
    pub async fn connection(&self) -> Result<Arc<Connection>, SshError> {
        let mut current = self.current.lock().await;
        if let Some(conn) = current.as_ref()
            && !conn.is_closed()
        {
            return Ok(conn.clone());
        }
        if current.take().is_some() {
            tracing::info!(
                "connection to {} was lost; reconnecting",
                self.target.display()
            );
        }
        let conn = Arc::new(connect(&self.target).await?);
        *current = Some(conn.clone());
        Ok(conn)
    }

    /// Forgets `failed` if it is still the current connection; a newer one that
    /// another call made meanwhile is kept.
    pub async fn forget(&self, failed: &Arc<Connection>) {
        let mut current = self.current.lock().await;
        if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, failed)) {
            current.take();
            drop(current);
            let _ = failed
                .handle
                .disconnect(russh::Disconnect::ByApplication, "", "en")
                .await;
        }
    }
}

/// russh client handler: verifies the host key and remembers why it refused one.
pub struct ClientHandler {
    target: SshTarget,
    refusal: Arc<StdMutex<Option<SshError>>>,
}

impl russh::client::Handler for ClientHandler {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let key = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            PublicKeyOrCertificate::Certificate(cert) => PublicKey::from(cert.public_key().clone()),
        };
        match verify_host_key(&self.target, &key) {
            Ok(()) => Ok(true),
            Err(e) => {
                *self.refusal.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
                Ok(false)
            }
        }
    }
}

fn verify_host_key(target: &SshTarget, key: &PublicKey) -> Result<(), SshError> {
    let path = &target.known_hosts;
    let fingerprint = known_hosts::fingerprint(key);
    if target.host_key_policy == HostKeyPolicy::AcceptAny {
        tracing::warn!(
            "host key of {} NOT verified (SSH_STRICT_HOST_KEY_CHECKING=false); fingerprint {fingerprint}",
            target.host
        );
        return Ok(());
    }
    let verdict = known_hosts::check(path, &target.host, target.port, key).map_err(|e| {
        SshError::KnownHosts {
            path: path.clone(),
            reason: e.to_string(),
        }
    })?;
    let host = known_hosts::host_key_name(&target.host, target.port);
    match verdict {
        Verdict::Known => Ok(()),
        Verdict::Changed { line } => Err(SshError::HostKeyChanged {
            host,
            path: path.clone(),
            line,
            fingerprint,
        }),
        Verdict::Revoked { line } => Err(SshError::HostKeyRevoked {
            host,
            path: path.clone(),
            line,
        }),
        Verdict::Unknown if target.host_key_policy == HostKeyPolicy::AcceptNew => {
            known_hosts::learn(path, &target.host, target.port, key).map_err(|e| {
                SshError::KnownHosts {
                    path: path.clone(),
                    reason: e.to_string(),
                }
            })?;
            tracing::warn!(
                "learned the host key of {host} ({fingerprint}) into {}",
                path.display()
            );
            Ok(())
        }
        Verdict::Unknown => Err(SshError::HostKeyUnknown {
            host,
            path: path.clone(),
            fingerprint,
        }),
    }
}

fn client_config(target: &SshTarget) -> russh::client::Config {
    russh::client::Config {
        inactivity_timeout: None,
        keepalive_interval: Some(target.keepalive),
        keepalive_max: 3,
        nodelay: true,
        window_size: 16 * 1024 * 1024,
        maximum_packet_size: 65535,
        channel_buffer_size: 256,
        ..Default::default()
    }
}

/// Opens and authenticates a connection, within the connect timeout.
pub async fn connect(target: &SshTarget) -> Result<Connection, SshError> {
    let refusal = Arc::new(StdMutex::new(None));
    let handler = ClientHandler {
        target: target.clone(),
        refusal: refusal.clone(),
    };
    let target_name = target.display();
    let secs = target.connect_timeout.as_secs();
    let attempt = async {
        let config = Arc::new(client_config(target));
        let mut handle =
            russh::client::connect(config, (target.host.as_str(), target.port), handler)
                .await
                .map_err(|e| {
                    refusal
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .take()
                        .unwrap_or_else(|| SshError::Connect {
                            target: target_name.clone(),
                            reason: e.to_string(),
                        })
                })?;
        authenticate(&mut handle, target).await?;
        Ok::<_, SshError>(handle)
    };
    let handle = tokio::time::timeout(target.connect_timeout, attempt)
        .await
        .map_err(|_| SshError::ConnectTimeout {
            target: target_name.clone(),
            secs,
        })??;
    tracing::info!("connected to {}", target_name);
    Ok(Connection {
        handle,
        sftp: OnceCell::new(),
        target: target_name,
    })
}

async fn authenticate(
    handle: &mut Handle<ClientHandler>,
    target: &SshTarget,
) -> Result<(), SshError> {
    let mut tried = Vec::new();
    let lost = |e: russh::Error| SshError::Connect {
        target: target.display(),
        reason: e.to_string(),
    };
    for method in &target.auth {
        match method {
            AuthMethod::Key { path, passphrase } => {
                tried.push(format!("key {}", path.display()));
                let key =
                    russh::keys::load_secret_key(path, passphrase.as_ref().map(|p| p.expose()))
                        .map_err(|e| SshError::Key {
                            path: path.clone(),
                            reason: match e {
                                russh::keys::Error::KeyIsEncrypted => {
                                    "the key is encrypted; set SSH_KEY_PASSPHRASE".to_string()
                                }
                                // What a wrong passphrase looks like (the key's check
                                // values do not match after decryption).
                                russh::keys::Error::SshKey(russh::keys::ssh_key::Error::Crypto)
                                    if passphrase.is_some() =>
                                {
                                    "cannot decrypt the key: SSH_KEY_PASSPHRASE is wrong"
                                        .to_string()
                                }
                                other => other.to_string(),
                            },
                        })?;
                let hash = handle
                    .best_supported_rsa_hash()
                    .await
                    .map_err(lost)?
                    .flatten();
                let result = handle
                    .authenticate_publickey(
                        &target.user,
                        PrivateKeyWithHashAlg::new(Arc::new(key), hash),
                    )
                    .await
                    .map_err(lost)?;
                if matches!(result, AuthResult::Success) {
                    return Ok(());
                }
            }
            AuthMethod::Password(password) => {
                tried.push("password".to_string());
                let result = handle
                    .authenticate_password(&target.user, password.expose())
                    .await
                    .map_err(lost)?;
                if matches!(result, AuthResult::Success) {
                    return Ok(());
                }
            }
            AuthMethod::Agent(socket) => {
                tried.push(format!("ssh-agent at {}", socket.display()));
                let mut agent = russh::keys::agent::client::AgentClient::connect_uds(socket)
                    .await
                    .map_err(|e| SshError::Key {
                        path: socket.clone(),
                        reason: format!("cannot reach the ssh-agent: {e}"),
                    })?;
                let identities = agent
                    .request_identities()
                    .await
                    .map_err(|e| SshError::Key {
                        path: socket.clone(),
                        reason: format!("the ssh-agent did not list its keys: {e}"),
                    })?;
                for identity in identities {
                    let key = identity.public_key().into_owned();
                    let hash = handle
                        .best_supported_rsa_hash()
                        .await
                        .map_err(lost)?
                        .flatten();
                    match handle
                        .authenticate_publickey_with(&target.user, key, hash, &mut agent)
                        .await
                    {
                        Ok(AuthResult::Success) => return Ok(()),
                        Ok(_) => {}
                        Err(e) => tracing::debug!("agent key refused: {e}"),
                    }
                }
            }
        }
    }
    Err(SshError::Auth {
        user: target.user.clone(),
        methods: tried.join(", "),
    })
}
