//! A fake Proxmox VE cluster in process: every node of a [`ClusterFixture`] served on
//! its own 127.0.0.1 port with its own host key, all sharing one login (a password and
//! a client key, as `/etc/pve/priv/authorized_keys` is shared by a real cluster), one
//! vmid space and one `/etc/pve` view (`host::cluster`). A `direct-tcpip` channel
//! from any member to another member's `ip:22` reaches that member's SSH server in
//! process, so a client can hop from the entry node to the others as it would on a
//! real cluster network (docs/cluster.md §6).

use std::time::Duration;

use russh::keys::PrivateKey;

use crate::fixture::ClusterFixture;
use crate::host::Host;
use crate::host::cluster::{ClusterLink, MemberSpec};
use crate::node::NodeError;
use crate::ssh::{AuthConfig, FakePve, Peers, ServerConfig, generate_host_key, random_password};

/// One running member.
pub struct ClusterNode {
    pub name: String,
    /// Its address inside the cluster (`.members`), reachable only through a member.
    pub ip: String,
    pub server: FakePve,
}

impl ClusterNode {
    pub fn host(&self) -> &Host {
        self.server.host()
    }

    pub fn port(&self) -> u16 {
        self.server.addr().port()
    }

    /// Its `known_hosts` line for 127.0.0.1:PORT.
    pub fn known_hosts_line(&self) -> String {
        self.server.known_hosts_line()
    }
}

/// A running fake cluster and the one login all its nodes accept.
pub struct TestCluster {
    pub nodes: Vec<ClusterNode>,
    pub user: String,
    pub password: String,
    pub client_key: Option<PrivateKey>,
    link: ClusterLink,
}

impl TestCluster {
    /// Starts every node of `fixture` (user root, a random password, a client key).
    pub async fn start(fixture: ClusterFixture) -> Result<TestCluster, NodeError> {
        Self::start_with(fixture, true, Duration::from_millis(10)).await
    }

    /// As [`TestCluster::start`]; `client_key: false` leaves only the password.
    pub async fn start_with(
        fixture: ClusterFixture,
        client_key: bool,
        auth_rejection_time: Duration,
    ) -> Result<TestCluster, NodeError> {
        let password = random_password();
        let client_key = client_key.then(generate_host_key);
        let auth = AuthConfig {
            user: "root".into(),
            password: Some(password.clone()),
            authorized_keys: client_key.iter().map(|k| k.public_key().clone()).collect(),
        };
        let mut members = Vec::new();
        for node in fixture.nodes {
            let ip = node.ip.clone().unwrap_or_default();
            let online = node.online.unwrap_or(true);
            let host = Host::new(node.into_state()?);
            let config = ServerConfig {
                auth: auth.clone(),
                host_key: generate_host_key(),
                auth_rejection_time,
                peers: None,
            };
            members.push((ip, online, host, config));
        }
        let link = ClusterLink::new(
            &fixture.cluster,
            members
                .iter()
                .map(|(ip, online, host, config)| MemberSpec {
                    host: host.clone(),
                    ip: ip.clone(),
                    host_key: config
                        .host_key
                        .public_key()
                        .to_openssh()
                        .unwrap_or_default(),
                    online: *online,
                })
                .collect(),
        );
        let peers = std::sync::Arc::new(Peers::new(
            members
                .iter()
                .map(|(ip, _, host, config)| (ip.clone(), host.clone(), config)),
        ));
        let mut nodes = Vec::new();
        for (ip, _, host, mut config) in members {
            config.peers = Some(peers.clone());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(NodeError::Listen)?;
            let name = host.node();
            let server = FakePve::start(listener, host, config).map_err(NodeError::Listen)?;
            nodes.push(ClusterNode { name, ip, server });
        }
        Ok(TestCluster {
            nodes,
            user: "root".into(),
            password,
            client_key,
            link,
        })
    }

    /// The first node: the one a client is configured with.
    pub fn entry(&self) -> &ClusterNode {
        &self.nodes[0]
    }

    /// Member `name`; panics when there is none (a test's mistake).
    pub fn node(&self, name: &str) -> &ClusterNode {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .unwrap_or_else(|| panic!("no node {name:?} in this cluster"))
    }

    pub fn link(&self) -> &ClusterLink {
        &self.link
    }

    /// Takes node `name` offline, as a pulled cable does: its connections drop, it
    /// answers nobody, and the others see it offline (`.members`, `pvecm`, pvesh).
    /// `true` brings it back.
    pub fn set_online(&self, name: &str, online: bool) {
        self.link.set_online(name, online);
        if !online {
            self.node(name).host().drop_connections();
        }
    }

    pub async fn shutdown(mut self) {
        for n in std::mem::take(&mut self.nodes) {
            n.server.shutdown().await;
        }
    }
}

/// The link holds the members' hosts (for `ssh` between them): let go of them, so a
/// cluster that stops, or a test that fails, frees its nodes.
impl Drop for TestCluster {
    fn drop(&mut self) {
        self.link.release();
    }
}
