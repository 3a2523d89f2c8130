//! The other members of a fake cluster, as a member's SSH server reaches them.

use std::collections::HashMap;
use std::sync::Arc;

use russh::ChannelOpenFailure;

use super::{AuthConfig, ServerConfig};
use crate::host::Host;

/// The members of a cluster as SSH servers, by address: what a `direct-tcpip`
/// channel to `ip:22` reaches, served in process (docs/cluster.md §6).
pub struct Peers {
    pub(super) by_ip: HashMap<String, Peer>,
}

pub(super) struct Peer {
    pub(super) host: Host,
    pub(super) config: Arc<russh::server::Config>,
    pub(super) auth: Arc<AuthConfig>,
}

impl Peers {
    /// Each member's address, state and server settings.
    pub fn new<'a>(members: impl IntoIterator<Item = (String, Host, &'a ServerConfig)>) -> Self {
        let by_ip = members
            .into_iter()
            .map(|(ip, host, config)| {
                let banner = host.state().pve.ssh_banner();
                let peer = Peer {
                    host,
                    config: Arc::new(config.russh_config(banner)),
                    auth: Arc::new(config.auth.clone()),
                };
                (ip, peer)
            })
            .collect();
        Peers { by_ip }
    }
}

/// Whether `host` is a cluster member taken offline (it answers nobody).
pub(super) fn is_offline(host: &Host) -> bool {
    host.cluster()
        .zip(Some(host.node()))
        .and_then(|(link, node)| link.member(&node).map(|m| !m.online()))
        .unwrap_or(false)
}

/// sshd's OPEN_FAILURE for a forward it could not connect (code 2, the error text).
pub(super) fn connect_failed(why: &str) -> ChannelOpenFailure {
    ChannelOpenFailure::Other {
        code: 2,
        reason: why.into(),
    }
}
