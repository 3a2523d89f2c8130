//! Component-test support: an in-process fake-pve on 127.0.0.1:0 and the MCP server
//! wired to it, driven by a real rmcp client over an in-memory duplex pipe.
#![allow(dead_code)]

use std::time::Duration;

use fake_pve::fixture::Fixture;
use fake_pve::host::Host;
use fake_pve::ssh::{AuthConfig, FakePve, ServerConfig, generate_host_key};
use mcp_remote_exec::config::RawConfig;
use mcp_remote_exec::tools::RemoteExec;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServiceExt};
use russh::keys::ssh_key::LineEnding;
use serde_json::Value;

pub const PASSWORD: &str = "component-test-pw";

pub struct Env {
    pub fake: FakePve,
    pub dir: tempfile::TempDir,
    pub client: RunningService<RoleClient, ()>,
    pub key_path: std::path::PathBuf,
    pub known_hosts: std::path::PathBuf,
}

/// Settings a test may change before the server starts.
pub struct Options {
    pub fixture: Fixture,
    /// Extra or replaced variables (e.g. CHARACTER_LIMIT).
    pub vars: Vec<(&'static str, String)>,
    /// Write the fake's key into known_hosts.
    pub known: bool,
    /// Log in with the key (else the password).
    pub use_key: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            fixture: Fixture::default_fixture(),
            vars: Vec::new(),
            known: true,
            use_key: true,
        }
    }
}

pub async fn start() -> Env {
    start_with(Options::default()).await
}

pub async fn start_with(opts: Options) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let client_key = generate_host_key();
    let key_path = dir.path().join("id_ed25519");
    std::fs::write(
        &key_path,
        client_key.to_openssh(LineEnding::LF).unwrap().as_bytes(),
    )
    .unwrap();
    let host = Host::new(opts.fixture.into_state().unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let fake = FakePve::start(
        listener,
        host,
        ServerConfig {
            auth: AuthConfig {
                user: "root".into(),
                password: Some(PASSWORD.into()),
                authorized_keys: vec![client_key.public_key().clone()],
            },
            host_key: generate_host_key(),
            auth_rejection_time: Duration::from_millis(10),
        },
    )
    .unwrap();
    let known_hosts = dir.path().join("known_hosts");
    if opts.known {
        std::fs::write(&known_hosts, format!("{}\n", fake.known_hosts_line())).unwrap();
    }
    let port = fake.addr().port().to_string();
    let mut pairs: Vec<(&str, String)> = vec![
        ("I_ACCEPT_RISKS", "true".into()),
        ("HOST", "127.0.0.1".into()),
        ("SSH_PORT", port),
        ("SSH_KNOWN_HOSTS", known_hosts.display().to_string()),
        ("TIMEOUT", "10".into()),
    ];
    if opts.use_key {
        pairs.push(("SSH_KEY", key_path.display().to_string()));
    } else {
        pairs.push(("SSH_PASSWORD", PASSWORD.into()));
    }
    for (k, v) in opts.vars {
        pairs.retain(|(name, _)| *name != k);
        pairs.push((k, v));
    }
    let raw = RawConfig::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));
    let config = raw.validate().unwrap();
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    let server = RemoteExec::new(config);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let client = ().serve(client_io).await.unwrap();
    Env {
        fake,
        dir,
        client,
        key_path,
        known_hosts,
    }
}

impl Env {
    pub fn host(&self) -> &Host {
        self.fake.host()
    }

    pub async fn call(&self, tool: &str, args: Value) -> CallToolResult {
        let params = CallToolRequestParams::new(tool.to_string())
            .with_arguments(args.as_object().cloned().unwrap_or_default());
        self.client.call_tool(params).await.unwrap()
    }
}

/// The text content of a result.
pub fn text(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("")
}

/// The structured content of a result.
pub fn structured(r: &CallToolResult) -> Value {
    r.structured_content
        .clone()
        .expect("every result has structured content")
}

pub fn is_error(r: &CallToolResult) -> bool {
    r.is_error == Some(true)
}

/// Waits (bounded) until `pred` holds.
pub async fn eventually(what: &str, mut pred: impl FnMut() -> bool) {
    for _ in 0..400 {
        if pred() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for: {what}");
}
