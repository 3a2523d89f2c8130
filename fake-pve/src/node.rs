//! One way to start a fake node in process: bound to 127.0.0.1:0, with a fresh host
//! key, a password, and (unless asked otherwise) a fresh client key it accepts. For
//! tests, benchmarks and the embedded demo; the `fake-pve` binary has its own CLI.

use std::path::Path;
use std::time::Duration;

use russh::keys::PrivateKey;
use russh::keys::ssh_key::LineEnding;

use crate::fixture::{Fixture, FixtureError};
use crate::host::Host;
use crate::ssh::{AuthConfig, FakePve, ServerConfig, generate_host_key, random_password};

/// Why a node did not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Fixture(#[from] FixtureError),
    #[error("cannot listen on 127.0.0.1: {0}")]
    Listen(std::io::Error),
}

/// A running fake node and what a client needs to reach it.
pub struct TestNode {
    pub server: FakePve,
    /// The one user that may log in.
    pub user: String,
    pub password: String,
    /// The client key the node accepts (`None` after [`NodeBuilder::without_client_key`]).
    pub client_key: Option<PrivateKey>,
}

/// Settings for [`TestNode::builder`]; every one has a default.
pub struct NodeBuilder {
    fixture: Fixture,
    user: String,
    password: Option<String>,
    client_key: bool,
    auth_rejection_time: Duration,
}

impl TestNode {
    /// A node serving `fixture`: user root, a random password, a client key, logins
    /// refused after 10 ms.
    pub async fn start(fixture: Fixture) -> Result<TestNode, NodeError> {
        Self::builder(fixture).start().await
    }

    pub fn builder(fixture: Fixture) -> NodeBuilder {
        NodeBuilder {
            fixture,
            user: "root".into(),
            password: None,
            client_key: true,
            auth_rejection_time: Duration::from_millis(10),
        }
    }

    pub fn host(&self) -> &Host {
        self.server.host()
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.addr()
    }

    pub fn port(&self) -> u16 {
        self.server.addr().port()
    }

    /// The node's `known_hosts` line (`[127.0.0.1]:PORT ssh-ed25519 AAAA…`).
    pub fn known_hosts_line(&self) -> String {
        self.server.known_hosts_line()
    }

    /// Writes a `known_hosts` file that lists only this node.
    pub fn write_known_hosts(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, format!("{}\n", self.known_hosts_line()))
    }

    /// Writes the client key as an OpenSSH private key file (mode 0600).
    pub fn write_client_key(&self, path: &Path) -> std::io::Result<()> {
        let key = self
            .client_key
            .as_ref()
            .ok_or_else(|| std::io::Error::other("this node has no client key"))?;
        let text = key
            .to_openssh(LineEnding::LF)
            .map_err(std::io::Error::other)?;
        std::fs::write(path, text.as_bytes())?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(())
    }

    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

impl NodeBuilder {
    /// The user that may log in (root by default).
    pub fn user(mut self, user: &str) -> Self {
        self.user = user.into();
        self
    }

    /// A fixed password (a random one by default).
    pub fn password(mut self, password: &str) -> Self {
        self.password = Some(password.into());
        self
    }

    /// No client key: only the password logs in.
    pub fn without_client_key(mut self) -> Self {
        self.client_key = false;
        self
    }

    /// How long a refused login waits (10 ms by default).
    pub fn auth_rejection_time(mut self, delay: Duration) -> Self {
        self.auth_rejection_time = delay;
        self
    }

    pub async fn start(self) -> Result<TestNode, NodeError> {
        let host = Host::new(self.fixture.into_state()?);
        let password = self.password.unwrap_or_else(random_password);
        let client_key = self.client_key.then(generate_host_key);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(NodeError::Listen)?;
        let server = FakePve::start(
            listener,
            host,
            ServerConfig {
                auth: AuthConfig {
                    user: self.user.clone(),
                    password: Some(password.clone()),
                    authorized_keys: client_key.iter().map(|k| k.public_key().clone()).collect(),
                },
                host_key: generate_host_key(),
                auth_rejection_time: self.auth_rejection_time,
                peers: None,
            },
        )
        .map_err(NodeError::Listen)?;
        Ok(TestNode {
            server,
            user: self.user,
            password,
            client_key,
        })
    }
}
