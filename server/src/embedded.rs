//! An embedded fake-pve for `demo` and `--fake-pve`: a fake Proxmox VE node (or a
//! whole cluster, from a fixture with `[[nodes]]`) on 127.0.0.1 with fresh host keys
//! and a random password, and the configuration that reaches it (the first node of a
//! cluster: the others are reached through it) with strict host-key checking.
//! Nothing real is touched.

use std::path::Path;
use std::time::Duration;

use fake_pve::cluster::TestCluster;
use fake_pve::fixture::{Fixture, Scenario};
use fake_pve::node::TestNode;
use fake_pve::ssh::FakePve;

use crate::config::{AuthMethod, Config, HostKeyPolicy, Secret, SshTarget};
use crate::policy::Policy;

/// What the tools call the embedded fake host (their `host` parameter).
pub const HOST_NAME: &str = "fake-pve";

/// A running embedded fake and the configuration pointing at it.
pub struct EmbeddedFake {
    /// The node the configuration points at (a cluster's first node).
    pub server: FakePve,
    /// A cluster's other nodes.
    others: Vec<FakePve>,
    /// A cluster's name and node count, for messages, and the cluster itself (its
    /// nodes' servers are `server` and `others`).
    cluster: Option<(String, usize, TestCluster)>,
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
    let scenario = match fixture {
        Some(path) => Scenario::load(path).map_err(|e| EmbeddedError(e.to_string()))?,
        None => Scenario::Node(Box::new(Fixture::default_fixture())),
    };
    let dir = tempfile::tempdir().map_err(|e| EmbeddedError(e.to_string()))?;
    let known_hosts = dir.path().join("known_hosts");
    let refusal = Duration::from_millis(100);
    let (server, others, cluster, user, password) = match scenario {
        Scenario::Node(fixture) => {
            let node = TestNode::builder(*fixture)
                .without_client_key()
                .auth_rejection_time(refusal)
                .start()
                .await
                .map_err(|e| EmbeddedError(e.to_string()))?;
            node.write_known_hosts(&known_hosts)
                .map_err(|e| EmbeddedError(e.to_string()))?;
            (node.server, Vec::new(), None, node.user, node.password)
        }
        Scenario::Cluster(fixture) => {
            let name = fixture.cluster.clone();
            let mut cluster = TestCluster::start_with(fixture, false, refusal)
                .await
                .map_err(|e| EmbeddedError(e.to_string()))?;
            std::fs::write(
                &known_hosts,
                format!("{}\n", cluster.entry().known_hosts_line()),
            )
            .map_err(|e| EmbeddedError(e.to_string()))?;
            let (user, password) = (cluster.user.clone(), cluster.password.clone());
            let count = cluster.nodes.len();
            let mut servers = std::mem::take(&mut cluster.nodes)
                .into_iter()
                .map(|n| n.server);
            let entry = servers.next().expect("a cluster has a node");
            let others = servers.collect();
            (entry, others, Some((name, count, cluster)), user, password)
        }
    };
    let target = SshTarget {
        host: "127.0.0.1".into(),
        port: server.addr().port(),
        user,
        auth: vec![AuthMethod::Password(Secret::new(password))],
        known_hosts,
        host_key_policy: HostKeyPolicy::Strict,
        connect_timeout: Duration::from_secs(10),
        keepalive: Duration::from_secs(15),
        jumps: Vec::new(),
        host_key_alias: None,
    };
    let config = Config::single(HOST_NAME, target, true, policy);
    Ok(EmbeddedFake {
        server,
        others,
        cluster,
        config,
        fixture: fixture_name,
        _dir: dir,
    })
}

impl EmbeddedFake {
    /// `an embedded fake-pve on ADDR (fixture: …); nothing real is touched`.
    pub fn description(&self) -> String {
        match &self.cluster {
            None => format!(
                "an embedded fake-pve on {} (fixture: {}); nothing real is touched",
                self.server.addr(),
                self.fixture
            ),
            Some((name, nodes, _)) => format!(
                "an embedded fake-pve cluster '{name}' of {nodes} nodes, entered on {} (fixture: {}); nothing real is touched",
                self.server.addr(),
                self.fixture
            ),
        }
    }

    /// Stops every node it serves.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
        for s in self.others {
            s.shutdown().await;
        }
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
