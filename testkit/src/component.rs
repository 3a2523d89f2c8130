//! The MCP server in process against a fake node on 127.0.0.1:0, driven by a real rmcp
//! client over an in-memory duplex pipe.

use fake_pve::fixture::Fixture;
use fake_pve::host::Host;
use fake_pve::node::TestNode;
use mcp_remote_exec::config::{Config, RawConfig};

use crate::mcp::Mcp;
use crate::{PASSWORD, start_node};

/// The server tests' Proxmox node: running 100 (with files), 102 and 103 (Alpine),
/// stopped 101 and 104 (locked by a backup), and a scripted `apt update`.
pub const FIXTURE: &str = include_str!("../fixtures/server.toml");

/// The VM tests' node: container 100; VMs 200 (running, agent, a file), 201
/// (stopped), and one per fault: 202 without an agent, 203 whose agent hangs, 204
/// ignoring shutdown, 205 paused.
pub const VM_FIXTURE: &str = include_str!("../fixtures/vms.toml");

/// A fake node and the server in process against it. It derefs to its [`Mcp`], so the
/// client (`env.client`) and the call helpers (`env.call`, `env.exec`, …) are those.
pub struct Env {
    pub fake: TestNode,
    pub dir: tempfile::TempDir,
    pub mcp: Mcp,
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

/// The server with the proxmox tools enabled and `vars` set, against a fake node built
/// from the fixture text `fixture`.
pub async fn start_proxmox(fixture: &str, vars: &[(&'static str, &str)]) -> Env {
    let mut all = vec![("ENABLE_PROXMOX", "true".to_string())];
    all.extend(vars.iter().map(|(k, v)| (*k, v.to_string())));
    start_with(Options {
        fixture: Fixture::parse(fixture).unwrap(),
        vars: all,
        ..Options::default()
    })
    .await
}

pub async fn start_with(opts: Options) -> Env {
    let (prepared, config) = prepare(opts).await;
    let mcp = Mcp::in_process(config).await;
    Env {
        fake: prepared.fake,
        dir: prepared.dir,
        mcp,
        key_path: prepared.key_path,
        known_hosts: prepared.known_hosts,
    }
}

/// A fake node and the files that reach it, before a server is started.
pub struct Prepared {
    pub fake: TestNode,
    pub dir: tempfile::TempDir,
    pub key_path: std::path::PathBuf,
    pub known_hosts: std::path::PathBuf,
}

/// A fake node per `opts` and the validated configuration that reaches it, for a test
/// that starts the server itself (e.g. with a client handler of its own).
pub async fn prepare(opts: Options) -> (Prepared, Config) {
    let dir = tempfile::tempdir().unwrap();
    let (fake, key_path, known_hosts) =
        start_node(TestNode::builder(opts.fixture), dir.path(), opts.known).await;
    let mut pairs: Vec<(&str, String)> = vec![
        ("I_ACCEPT_RISKS", "true".into()),
        ("HOST", "127.0.0.1".into()),
        ("SSH_PORT", fake.port().to_string()),
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
    (
        Prepared {
            fake,
            dir,
            key_path,
            known_hosts,
        },
        config,
    )
}

impl Env {
    /// [`crate::local_file`] in this test's directory.
    pub fn local_file(&self, name: &str, contents: impl AsRef<[u8]>) -> std::path::PathBuf {
        crate::local_file(&self.dir, name, contents)
    }

    pub fn host(&self) -> &Host {
        self.fake.host()
    }

    /// The host's files whose path contains `needle`.
    pub fn host_files_with(&self, needle: &str) -> Vec<String> {
        let files = self.host().host_files();
        files.into_iter().filter(|p| p.contains(needle)).collect()
    }

    /// Container `ctid`'s files whose path contains `needle`.
    pub fn container_files_with(&self, ctid: u32, needle: &str) -> Vec<String> {
        let files = self.host().container_files(ctid);
        files.into_iter().filter(|p| p.contains(needle)).collect()
    }

    /// Waits (bounded) until no process on the host runs a command containing `args`.
    pub async fn until_gone(&self, what: &str, args: &str) {
        crate::eventually(what, || {
            !self.host().running().iter().any(|p| p.args.contains(args))
        })
        .await;
    }
}

impl std::ops::Deref for Env {
    type Target = Mcp;

    fn deref(&self) -> &Mcp {
        &self.mcp
    }
}
