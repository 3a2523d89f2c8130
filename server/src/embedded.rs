//! An embedded fake-pve for `demo` and `--fake-pve`: a fake Proxmox VE node on
//! 127.0.0.1 with a fresh host key and a random password, and the configuration that
//! reaches it with strict host-key checking. Nothing real is touched.

use std::path::Path;
use std::time::Duration;

use fake_pve::fixture::Fixture;
use fake_pve::host::Host;
use fake_pve::ssh::{AuthConfig, FakePve, ServerConfig, generate_host_key, random_password};

use crate::config::{AuthMethod, Config, HostKeyPolicy, Secret, SshTarget};

/// A running embedded fake and the configuration pointing at it.
pub struct EmbeddedFake {
    pub server: FakePve,
    pub config: Config,
    /// Holds the known_hosts file for as long as the fake runs.
    _dir: tempfile::TempDir,
}

#[derive(Debug, thiserror::Error)]
#[error("embedded fake-pve: {0}")]
pub struct EmbeddedError(String);

/// Starts a fake node from `fixture` (the bundled default when `None`).
pub async fn start(fixture: Option<&Path>) -> Result<EmbeddedFake, EmbeddedError> {
    let fixture = match fixture {
        Some(path) => Fixture::load(path).map_err(|e| EmbeddedError(e.to_string()))?,
        None => Fixture::default_fixture(),
    };
    let state = fixture
        .into_state()
        .map_err(|e| EmbeddedError(e.to_string()))?;
    let password = random_password();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| EmbeddedError(format!("cannot listen on 127.0.0.1: {e}")))?;
    let server = FakePve::start(
        listener,
        Host::new(state),
        ServerConfig {
            auth: AuthConfig {
                user: "root".into(),
                password: Some(password.clone()),
                authorized_keys: Vec::new(),
            },
            host_key: generate_host_key(),
            auth_rejection_time: Duration::from_millis(100),
        },
    )
    .map_err(|e| EmbeddedError(e.to_string()))?;
    let dir = tempfile::tempdir().map_err(|e| EmbeddedError(e.to_string()))?;
    let known_hosts = dir.path().join("known_hosts");
    std::fs::write(&known_hosts, format!("{}\n", server.known_hosts_line()))
        .map_err(|e| EmbeddedError(e.to_string()))?;
    let config = Config {
        target: SshTarget {
            host: "127.0.0.1".into(),
            port: server.addr().port(),
            user: "root".into(),
            auth: vec![AuthMethod::Password(Secret::new(password))],
            known_hosts,
            host_key_policy: HostKeyPolicy::Strict,
            connect_timeout: Duration::from_secs(10),
            keepalive: Duration::from_secs(15),
        },
        character_limit: 25_000,
        max_file_size: 10 * 1024 * 1024,
        enable_proxmox: true,
    };
    Ok(EmbeddedFake {
        server,
        config,
        _dir: dir,
    })
}
