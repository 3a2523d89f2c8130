//! An embedded fake-pve for `demo` and `--fake-pve`: a fake Proxmox VE node on
//! 127.0.0.1 with a fresh host key and a random password, and the configuration that
//! reaches it with strict host-key checking. Nothing real is touched.

use std::path::Path;
use std::time::Duration;

use fake_pve::fixture::Fixture;
use fake_pve::node::TestNode;
use fake_pve::ssh::FakePve;

use crate::config::{AuthMethod, Config, HostKeyPolicy, Secret, SshTarget};
use crate::policy::Policy;

/// A running embedded fake and the configuration pointing at it.
pub struct EmbeddedFake {
    pub server: FakePve,
    pub config: Config,
    /// The fixture it was started from, for messages: a path or "bundled default".
    pub fixture: String,
    /// Holds the known_hosts file for as long as the fake runs.
    _dir: tempfile::TempDir,
}

#[derive(Debug, thiserror::Error)]
#[error("embedded fake-pve: {0}")]
pub struct EmbeddedError(String);

/// Starts a fake node from `fixture` (the bundled default when `None`), without limits
/// (the demo's).
pub async fn start(fixture: Option<&Path>) -> Result<EmbeddedFake, EmbeddedError> {
    start_with_policy(fixture, Policy::default()).await
}

/// Starts a fake node from `fixture`, served under the owner's `policy` (READ_ONLY
/// etc. apply to the fake as to a real host, so they can be tried out safely).
pub async fn start_with_policy(
    fixture: Option<&Path>,
    policy: Policy,
) -> Result<EmbeddedFake, EmbeddedError> {
    let fixture_name = fixture
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "bundled default".into());
    let fixture = match fixture {
        Some(path) => Fixture::load(path).map_err(|e| EmbeddedError(e.to_string()))?,
        None => Fixture::default_fixture(),
    };
    let node = TestNode::builder(fixture)
        .without_client_key()
        .auth_rejection_time(Duration::from_millis(100))
        .start()
        .await
        .map_err(|e| EmbeddedError(e.to_string()))?;
    let dir = tempfile::tempdir().map_err(|e| EmbeddedError(e.to_string()))?;
    let known_hosts = dir.path().join("known_hosts");
    node.write_known_hosts(&known_hosts)
        .map_err(|e| EmbeddedError(e.to_string()))?;
    let config = Config {
        target: SshTarget {
            host: "127.0.0.1".into(),
            port: node.port(),
            user: node.user.clone(),
            auth: vec![AuthMethod::Password(Secret::new(node.password.clone()))],
            known_hosts,
            host_key_policy: HostKeyPolicy::Strict,
            connect_timeout: Duration::from_secs(10),
            keepalive: Duration::from_secs(15),
            jumps: Vec::new(),
        },
        character_limit: 25_000,
        max_file_size: 10 * 1024 * 1024,
        enable_proxmox: true,
        proxmox_vms: true,
        policy,
    };
    Ok(EmbeddedFake {
        server: node.server,
        config,
        fixture: fixture_name,
        _dir: dir,
    })
}

impl EmbeddedFake {
    /// `an embedded fake-pve on ADDR (fixture: …); nothing real is touched`.
    pub fn description(&self) -> String {
        format!(
            "an embedded fake-pve on {} (fixture: {}); nothing real is touched",
            self.server.addr(),
            self.fixture
        )
    }

    /// The banner on stderr when serving against it, shown whatever RUST_LOG says.
    pub fn banner(&self) -> String {
        format!("SERVING AGAINST A FAKE HOST: {}", self.description())
    }

    /// The note for the MCP `instructions`, so that the model knows too.
    pub fn instructions_note(&self) -> String {
        format!(
            "THIS IS A FAKE HOST, not a real machine: {}.",
            self.description()
        )
    }
}
