//! The MCP server in process against the fake cluster of `fixtures/cluster.toml`,
//! configured with its first node only (the entry), as a user would configure a real
//! cluster: one address, one key, one known_hosts line.

use std::path::PathBuf;

use fake_pve::cluster::TestCluster;
use fake_pve::fixture::{ClusterFixture, Scenario};
use mcp_remote_exec::config::RawConfig;
use russh::keys::ssh_key::LineEnding;

use crate::mcp::Mcp;

/// The cluster fixture that ships with the project.
pub fn fixture() -> ClusterFixture {
    let path = crate::child::workspace_root().join("fixtures/cluster.toml");
    match Scenario::load(&path).expect("fixtures/cluster.toml loads") {
        Scenario::Cluster(c) => c,
        Scenario::Node(_) => panic!("fixtures/cluster.toml describes a cluster"),
    }
}

/// A fake cluster and the server in process against its entry node. It derefs to
/// its [`Mcp`].
pub struct ClusterEnv {
    pub cluster: TestCluster,
    pub dir: tempfile::TempDir,
    pub mcp: Mcp,
    pub key_path: PathBuf,
    pub known_hosts: PathBuf,
}

/// The cluster of `fixture`, the proxmox tools enabled, and `vars` set.
pub async fn start(fixture: ClusterFixture, vars: &[(&str, &str)]) -> ClusterEnv {
    let cluster = TestCluster::start(fixture)
        .await
        .expect("the cluster starts");
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("id_ed25519");
    let key = cluster.client_key.as_ref().expect("a client key");
    std::fs::write(
        &key_path,
        key.to_openssh(LineEnding::LF).unwrap().as_bytes(),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let known_hosts = dir.path().join("known_hosts");
    std::fs::write(
        &known_hosts,
        format!("{}\n", cluster.entry().known_hosts_line()),
    )
    .unwrap();
    let port = cluster.entry().port().to_string();
    let (kh, kp) = (
        known_hosts.display().to_string(),
        key_path.display().to_string(),
    );
    let mut pairs: Vec<(&str, &str)> = vec![
        ("I_ACCEPT_RISKS", "true"),
        ("HOST", "127.0.0.1"),
        ("SSH_PORT", &port),
        ("SSH_KNOWN_HOSTS", &kh),
        ("SSH_KEY", &kp),
        ("TIMEOUT", "10"),
        ("ENABLE_PROXMOX", "true"),
    ];
    for (k, v) in vars {
        pairs.retain(|(name, _)| name != k);
        pairs.push((k, v));
    }
    let config = RawConfig::from_pairs(pairs.iter().copied())
        .validate()
        .expect("a valid configuration");
    let mcp = Mcp::in_process(config).await;
    ClusterEnv {
        cluster,
        dir,
        mcp,
        key_path,
        known_hosts,
    }
}

impl ClusterEnv {
    /// [`crate::local_file`] in this test's directory.
    pub fn local_file(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        crate::local_file(&self.dir, name, contents)
    }

    /// Runs `line` in node `node`'s shell, as root on that node would.
    pub async fn on(&self, node: &str, line: &str) -> (String, String, i32) {
        crate::fake::shell(self.cluster.node(node).host(), line).await
    }
}

impl std::ops::Deref for ClusterEnv {
    type Target = Mcp;

    fn deref(&self) -> &Mcp {
        &self.mcp
    }
}
