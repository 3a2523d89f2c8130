//! Opening one connection: TCP within the deadline, host-key verification against
//! known_hosts, and login with only the configured methods. The pool ([`super::pool`])
//! decides when a connection is needed.
//!
//! Behind jump hosts (`ProxyJump`), each hop is a full SSH connection of its own (its
//! host key verified, its login done) and the next hop runs over a `direct-tcpip`
//! channel of it, as `ssh -J` does. Each connection's handler owns the one before it,
//! so the chain lives exactly as long as the final connection.
//!
//! Connections are opened lazily, because the MCP client expects `initialize` and
//! `tools/list` to answer at once even when the host is down; a connection problem then
//! reaches the model as a tool error with a suggestion, and `mcp-remote-exec check`
//! reports it up front.

use std::sync::{Arc, Mutex as StdMutex};

use russh::client::{AuthResult, Handle};
use russh::keys::ssh_key::PublicKey;
use russh::keys::{PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use tokio::time::Instant;

use super::SshError;
use super::known_hosts::{self, HostKeyVerdict};
use crate::config::{AuthMethod, HostKeyPolicy, SshTarget};

/// russh client handler: verifies the host key and remembers why it refused one.
pub struct ClientHandler {
    target: SshTarget,
    refusal: Arc<StdMutex<Option<SshError>>>,
    /// The jump connection this one runs through, kept open while this one is.
    _via: Option<Handle<ClientHandler>>,
}

impl russh::client::Handler for ClientHandler {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        match verify_host_key(&self.target, key) {
            Ok(()) => Ok(true),
            Err(e) => {
                *self.refusal.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
                Ok(false)
            }
        }
    }
}

fn verify_host_key(target: &SshTarget, presented: &PublicKeyOrCertificate) -> Result<(), SshError> {
    let path = &target.known_hosts;
    // The key itself, or the one inside the certificate.
    let key: PublicKey = presented.public_key();
    let key = &key;
    let fingerprint = known_hosts::fingerprint(key);
    if target.host_key_policy == HostKeyPolicy::AcceptAny {
        tracing::warn!(
            "host key of {} NOT verified (SSH_STRICT_HOST_KEY_CHECKING=false); fingerprint {fingerprint}",
            target.host
        );
        return Ok(());
    }
    let (name, port) = target.known_hosts_name();
    let verdict = known_hosts::check_server_key(path, name, port, presented).map_err(|e| {
        SshError::KnownHosts {
            path: path.clone(),
            reason: e.to_string(),
        }
    })?;
    let host = known_hosts::host_key_name(name, port);
    match verdict {
        HostKeyVerdict::Known => Ok(()),
        HostKeyVerdict::CertificateRejected { line, reason } => {
            Err(SshError::HostCertificateRejected {
                host,
                path: path.clone(),
                line,
                reason,
            })
        }
        HostKeyVerdict::Changed { line } => Err(SshError::HostKeyChanged {
            host,
            path: path.clone(),
            line,
            fingerprint,
        }),
        HostKeyVerdict::Revoked { line } => Err(SshError::HostKeyRevoked {
            host,
            path: path.clone(),
            line,
        }),
        HostKeyVerdict::Unknown if target.host_key_policy == HostKeyPolicy::AcceptNew => {
            known_hosts::learn(path, name, port, key).map_err(|e| SshError::KnownHosts {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            tracing::warn!(
                "learned the host key of {host} ({fingerprint}) into {}",
                path.display()
            );
            Ok(())
        }
        HostKeyVerdict::Unknown => Err(SshError::HostKeyUnknown {
            host,
            hostname: name.to_string(),
            port,
            path: path.clone(),
            fingerprint,
        }),
    }
}

/// Client settings. The host-key algorithms put the types known_hosts already has for
/// this host first (as OpenSSH does), so a host known only by its RSA or ECDSA key is
/// asked for that key; host certificates are asked for only when an authority is
/// listed for the host.
fn client_config(target: &SshTarget) -> russh::client::Config {
    let kh = &target.known_hosts;
    let (host, port) = target.known_hosts_name();
    let known = known_hosts::known_algorithms(kh, host, port);
    russh::client::Config {
        preferred: russh::Preferred {
            key: known_hosts::preferred_keys(&known).into(),
            host_key_certificates: known_hosts::certificate_algorithms(kh, host, port).into(),
            ..russh::Preferred::DEFAULT
        },
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

/// Opens and authenticates a connection before `deadline`, through its jump hosts if
/// it has any.
pub async fn connect(
    target: &SshTarget,
    deadline: Instant,
) -> Result<Handle<ClientHandler>, SshError> {
    let target_name = target.display();
    let secs = target.connect_timeout.as_secs();
    let attempt = async {
        let mut via = None;
        for jump in &target.jumps {
            via = Some(open_hop(jump, via, target).await?);
        }
        open_hop(target, via, target).await
    };
    let handle = tokio::time::timeout_at(deadline, attempt)
        .await
        .map_err(|_| SshError::ConnectTimeout {
            target: target_name.clone(),
            secs,
        })??;
    tracing::info!("connected to {}", target_name);
    Ok(handle)
}

/// One hop: over TCP when `via` is `None`, else over a `direct-tcpip` channel of `via`.
async fn open_hop(
    hop: &SshTarget,
    via: Option<Handle<ClientHandler>>,
    whole: &SshTarget,
) -> Result<Handle<ClientHandler>, SshError> {
    let refusal = Arc::new(StdMutex::new(None));
    let config = Arc::new(client_config(hop));
    let failed = |e: russh::Error| {
        refusal
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_else(|| SshError::Connect {
                target: whole.display(),
                reason: match whole.jumps.is_empty() {
                    true => e.to_string(),
                    false => format!("at {}: {e}", hop.endpoint()),
                },
            })
    };
    let mut handle = match via {
        None => {
            let handler = ClientHandler {
                target: hop.clone(),
                refusal: refusal.clone(),
                _via: None,
            };
            russh::client::connect(config, (hop.host.as_str(), hop.port), handler)
                .await
                .map_err(failed)?
        }
        Some(jump) => {
            let channel = jump
                .channel_open_direct_tcpip(hop.host.as_str(), u32::from(hop.port), "127.0.0.1", 0)
                .await
                .map_err(|e| SshError::Connect {
                    target: whole.display(),
                    reason: format!(
                        "the jump host did not open a channel to {}:{} ({e}); check that it reaches that address and allows TCP forwarding (AllowTcpForwarding)",
                        hop.host, hop.port
                    ),
                })?;
            let handler = ClientHandler {
                target: hop.clone(),
                refusal: refusal.clone(),
                _via: Some(jump),
            };
            russh::client::connect_stream(config, channel.into_stream(), handler)
                .await
                .map_err(failed)?
        }
    };
    authenticate(&mut handle, hop).await?;
    Ok(handle)
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
