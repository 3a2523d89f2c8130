//! The SSH side: one shared, multiplexed connection per host (with reconnection),
//! host-key verification, command execution with a real wall-clock timeout, and
//! streamed, atomic SFTP transfers. Plain Rust types in and out; no MCP here.

pub mod exec;
pub mod known_hosts;
pub mod pool;
pub mod session;
pub mod transfer;

pub use exec::{ExecOutcome, run_command};
pub use pool::{Connection, Hosts, Orphan, SshClient};

use std::borrow::Cow;
use std::path::PathBuf;

/// Everything that can go wrong on the SSH side, with what the user can do about it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SshError {
    #[error("cannot connect to {target}: {reason}")]
    Connect { target: String, reason: String },
    #[error("connecting to {target} timed out after {secs} s")]
    ConnectTimeout { target: String, secs: u64 },
    #[error(
        "the host key of {host} is not in {path} (SSH_STRICT_HOST_KEY_CHECKING=true); its fingerprint is {fingerprint}"
    )]
    HostKeyUnknown {
        host: String,
        /// The configured host and port, for the `ssh-keyscan` line.
        hostname: String,
        port: u16,
        path: PathBuf,
        fingerprint: String,
    },
    #[error(
        "the host key of {host} has CHANGED: it does not match {path} line {line}; its fingerprint is now {fingerprint}. This can be a man-in-the-middle attack"
    )]
    HostKeyChanged {
        host: String,
        path: PathBuf,
        line: usize,
        fingerprint: String,
    },
    #[error("the host key of {host} is revoked in {path} line {line}")]
    HostKeyRevoked {
        host: String,
        path: PathBuf,
        line: usize,
    },
    #[error(
        "the host certificate of {host} is not acceptable: {reason} (authority: {path} line {line})"
    )]
    HostCertificateRejected {
        host: String,
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("cannot read known_hosts file {path}: {reason}")]
    KnownHosts { path: PathBuf, reason: String },
    #[error("cannot load SSH key {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("authentication as {user} failed (tried: {methods})")]
    Auth { user: String, methods: String },
    #[error("the connection to {target} was lost: {reason}")]
    Lost { target: String, reason: String },
    #[error(
        "all {channels} channels of {connections} connections to {target} stayed busy until the call's time ran out"
    )]
    Busy {
        target: String,
        channels: usize,
        connections: usize,
    },
    #[error(
        "{target} did not answer ({what}) before the call's time ran out; the connection is not used again"
    )]
    NoAnswer { target: String, what: String },
    #[error("SFTP: {0}")]
    Sftp(String),
    #[error("{0}")]
    Input(String),
}

impl SshError {
    /// What to do about it, in words a model can act on.
    pub fn suggestion(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            SshError::Connect { .. } => {
                "Check that HOST and SSH_PORT are right and that the SSH server is running and reachable."
            }
            SshError::ConnectTimeout { .. } => {
                "The host did not answer in time: check HOST, SSH_PORT and the network, or raise TIMEOUT."
            }
            SshError::HostKeyUnknown {
                hostname,
                port,
                path,
                ..
            } => {
                let word = |w: &str| crate::quote::quote(w, "a word").unwrap_or_else(|_| w.into());
                let port = if *port == 22 {
                    String::new()
                } else {
                    format!("-p {port} ")
                };
                return format!(
                    "Add the host key to known_hosts after checking its fingerprint, e.g. `ssh-keyscan {port}{} >> {}`, or set SSH_STRICT_HOST_KEY_CHECKING=accept-new to learn it on first use.",
                    word(hostname),
                    word(&path.display().to_string())
                )
                .into();
            }
            SshError::HostKeyChanged { .. } | SshError::HostKeyRevoked { .. } => {
                "Do not connect until you have confirmed the new key with the host's administrator; then remove the old line from known_hosts."
            }
            SshError::HostCertificateRejected { .. } => {
                "Have the host's certificate renewed or reissued for this host name, or add the host's plain key to known_hosts after checking its fingerprint."
            }
            SshError::KnownHosts { .. } => {
                "Fix the file's permissions or set SSH_KNOWN_HOSTS to another file."
            }
            SshError::Key { .. } => {
                "Check SSH_KEY (path to an OpenSSH private key) and SSH_KEY_PASSPHRASE for an encrypted key."
            }
            SshError::Auth { .. } => {
                "Check SSH_USERNAME and the credentials (SSH_KEY, SSH_PASSWORD, or the ssh-agent's keys)."
            }
            SshError::Lost { .. } => {
                "The connection was lost; the next call reconnects. Retry the call (check first whether it took effect)."
            }
            SshError::Busy { .. } => {
                "Too many calls run at once on this host: wait for some to finish, or give this call a longer timeout."
            }
            SshError::NoAnswer { .. } => {
                "The host may be hung or overloaded: retry the call (it uses a new connection); check the host if it fails again."
            }
            SshError::Sftp(_) => "Check the path and permissions on the host.",
            SshError::Input(_) => "Remove NUL bytes from the input.",
        })
    }
}
