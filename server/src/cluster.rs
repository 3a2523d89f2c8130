//! Cluster-aware routing: a guest operation runs on the node that owns the guest,
//! over a connection opened through the configured (entry) node (docs/cluster.md).
//!
//! The cluster is read from the entry node before each guest operation, from the two
//! files pmxcfs generates for every node (`/etc/pve/.members`: the nodes, their
//! addresses and online state; `/etc/pve/.vmlist`: the node of every guest) — the
//! data `pvesh get /cluster/status` and `/cluster/resources` are built from, in one
//! `cat` instead of two Perl start-ups. Reading them each time is what lets the next
//! call find a migrated guest on its new node.
//!
//! A node other than the entry is reached as `ssh -J entry root@<node ip>` would reach
//! it: a `direct-tcpip` channel of the entry connection to the node's cluster address,
//! port 22, the same user and credentials (a cluster shares root's
//! `authorized_keys` through `/etc/pve/priv/authorized_keys`). Its host key is checked
//! strictly against the cluster's own record of it, read over the verified entry
//! connection — `/etc/pve/nodes/<node>/ssh_known_hosts`, else the older shared
//! `/etc/pve/priv/known_hosts` — under the node's name, as Proxmox itself does
//! (`HostKeyAlias=<node>`); no key there means no connection.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Mutex as StdMutex;
use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::config::{HostKeyPolicy, SshTarget};
use crate::output::Failure;
use crate::ssh::exec::text;
use crate::ssh::{SshClient, run_command};

const READ_TIMEOUT: Duration = Duration::from_secs(30);
const KEEP: usize = 4 << 20;

/// One member node, as `.members` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub ip: String,
    pub online: bool,
}

/// What the entry node knows of its cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    /// The entry node's own name (`nodename`).
    pub local: String,
    /// The cluster's name; `None` for a standalone node (a cluster of one).
    pub cluster: Option<String>,
    pub nodes: BTreeMap<String, Node>,
    /// vmid → (node, `lxc` or `qemu`).
    pub guests: BTreeMap<u32, (String, String)>,
}

/// The command line that reads both files (either may be missing on a host that is
/// not a Proxmox VE node: then it is no cluster).
pub fn read_line() -> &'static str {
    "cat /etc/pve/.members /etc/pve/.vmlist"
}

/// Parses the two JSON documents `read_line` prints, one after the other.
pub fn parse(text: &str) -> Result<Layout, String> {
    let mut docs = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let members = docs
        .next()
        .ok_or("/etc/pve/.members is empty")?
        .map_err(|e| format!("/etc/pve/.members is not JSON: {e}"))?;
    let vmlist = match docs.next() {
        Some(v) => v.map_err(|e| format!("/etc/pve/.vmlist is not JSON: {e}"))?,
        None => return Err("/etc/pve/.vmlist is missing".into()),
    };
    let local = members["nodename"]
        .as_str()
        .ok_or("/etc/pve/.members has no nodename")?
        .to_string();
    let cluster = members["cluster"]["name"].as_str().map(str::to_string);
    let mut nodes = BTreeMap::new();
    if let Some(list) = members["nodelist"].as_object() {
        for (name, n) in list {
            if !valid_node_name(name) {
                return Err(format!(
                    "/etc/pve/.members names a node {name:?}, which is no node name"
                ));
            }
            let online = n["online"].as_u64().unwrap_or(0) == 1;
            let ip = n["ip"].as_str().unwrap_or_default().to_string();
            nodes.insert(
                name.clone(),
                Node {
                    name: name.clone(),
                    ip,
                    online,
                },
            );
        }
    }
    let mut guests = BTreeMap::new();
    if let Some(ids) = vmlist["ids"].as_object() {
        for (id, g) in ids {
            let (Ok(id), Some(node)) = (id.parse::<u32>(), g["node"].as_str()) else {
                continue;
            };
            let kind = g["type"].as_str().unwrap_or_default().to_string();
            guests.insert(id, (node.to_string(), kind));
        }
    }
    Ok(Layout {
        local,
        cluster,
        nodes,
        guests,
    })
}

/// One line on the cluster for `check`: `cluster 'lab' (quorate): nodes pve1 (this
/// node), pve2, pve3 (offline); guest operations go to each guest's node`.
pub fn summary(layout: &Layout) -> String {
    let Some(name) = &layout.cluster else {
        return format!("a standalone node ({}): a cluster of one", layout.local);
    };
    let nodes: Vec<String> = layout
        .nodes
        .values()
        .map(|n| match (n.name == layout.local, n.online) {
            (true, _) => format!("{} (this node)", n.name),
            (false, true) => n.name.clone(),
            (false, false) => format!("{} (offline)", n.name),
        })
        .collect();
    format!(
        "cluster '{name}': nodes {}; guest operations go to each guest's node through this one",
        nodes.join(", ")
    )
}

/// A Proxmox VE node name: letters, digits and `-`, at most 63 (a DNS label), so that
/// it is safe in a path and a command line.
fn valid_node_name(name: &str) -> bool {
    (1..=63).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Where a guest's operations go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// The entry node itself (its guest, a standalone node, an unknown id — whose
    /// error then comes from pct or qm as on one host).
    Entry,
    /// Another member, online.
    Node(Node),
}

impl Layout {
    /// Where guest `vmid`'s operations go, or why they cannot.
    pub fn route(&self, vmid: u32) -> Result<Route, Failure> {
        let Some((owner, kind)) = self.guests.get(&vmid) else {
            return Ok(Route::Entry);
        };
        if *owner == self.local {
            return Ok(Route::Entry);
        }
        let what = if kind == "qemu" { "VM" } else { "Container" };
        let Some(node) = self.nodes.get(owner) else {
            return Err(Failure::new(
                format!(
                    "{what} {vmid} is on node '{owner}', which the cluster's member list (/etc/pve/.members on '{}') does not name",
                    self.local
                ),
                "Check the cluster with `pvecm status` (ssh_exec_command) on the entry node.",
            ));
        };
        if node.ip.is_empty() {
            return Err(Failure::new(
                format!(
                    "{what} {vmid} is on node '{owner}', for which the cluster's member list gives no address"
                ),
                "Check the cluster with `pvecm status` (ssh_exec_command) on the entry node.",
            ));
        }
        if !node.online {
            return Err(Failure::new(
                format!("{what} {vmid} is on node '{owner}', which is offline"),
                format!(
                    "Nothing was done. Wait for '{owner}' to come back (`pvecm status` shows the members), or ask an administrator; proxmox_list_guests shows where each guest is."
                ),
            ));
        }
        Ok(Route::Node(node.clone()))
    }
}

/// The routing state of one server: the cluster's host keys, written where the SSH
/// layer reads known_hosts files, one file per node.
pub struct Router {
    dir: Option<tempfile::TempDir>,
    keys: StdMutex<HashMap<String, PathBuf>>,
}

impl Default for Router {
    fn default() -> Self {
        Router {
            dir: tempfile::Builder::new()
                .prefix("mcp-remote-exec-cluster-")
                .tempdir()
                .ok(),
            keys: StdMutex::new(HashMap::new()),
        }
    }
}

/// Runs a read of the cluster's files on the entry node; a cancelled call is a failure.
async fn read(
    entry: &SshClient,
    line: &str,
    cancel: &CancellationToken,
) -> Result<crate::ssh::ExecOutcome, Failure> {
    let out = run_command(entry, line, READ_TIMEOUT, KEEP, cancel)
        .await
        .map_err(|e| Failure::from(&e))?;
    if out.cancelled {
        return Err(Failure::new(
            "the call was cancelled",
            "Run it again when ready.",
        ));
    }
    Ok(out)
}

impl Router {
    /// Reads the entry node's view of the cluster; `None` when it has none (not a
    /// Proxmox VE node, or pmxcfs not running).
    pub async fn layout(
        &self,
        entry: &SshClient,
        cancel: &CancellationToken,
    ) -> Result<Option<Layout>, Failure> {
        let out = read(entry, read_line(), cancel).await?;
        if out.timed_out || out.exit_code.is_none() {
            return Err(Failure::new(
                format!(
                    "reading the cluster's member and guest lists on the entry node did not finish ({})",
                    if out.timed_out {
                        "timed out"
                    } else {
                        "no exit status"
                    }
                ),
                "Check the entry node (e.g. `uptime`, `systemctl status pve-cluster`) with ssh_exec_command, then call again.",
            ));
        }
        if out.exit_code != Some(0) {
            // No /etc/pve files: not a Proxmox VE node, or pmxcfs not mounted.
            return Ok(None);
        }
        parse(&text(&out.stdout)).map(Some).map_err(|e| {
            Failure::new(
                format!("cannot read the cluster from the entry node: {e}"),
                "Check pmxcfs on the node (`systemctl status pve-cluster`) with ssh_exec_command.",
            )
        })
    }

    /// The client for guest `vmid`: `entry`'s own, or one for the owning node.
    pub async fn client_for(
        &self,
        hosts: &crate::ssh::Hosts,
        entry_target: &SshTarget,
        vmid: u32,
        cancel: &CancellationToken,
    ) -> Result<std::sync::Arc<SshClient>, Failure> {
        let entry = hosts.client(entry_target);
        let Some(layout) = self.layout(&entry, cancel).await? else {
            return Ok(entry);
        };
        match layout.route(vmid)? {
            Route::Entry => Ok(entry),
            Route::Node(node) => {
                let known_hosts = self.host_keys(&entry, &node.name, cancel).await?;
                Ok(hosts.client(&node_target(entry_target, &node, known_hosts)))
            }
        }
    }

    /// The known_hosts file holding `node`'s key, read from the cluster over the
    /// entry connection the first time it is needed.
    async fn host_keys(
        &self,
        entry: &SshClient,
        node: &str,
        cancel: &CancellationToken,
    ) -> Result<PathBuf, Failure> {
        if let Some(p) = self
            .keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(node)
        {
            return Ok(p.clone());
        }
        let quoted = crate::quote::quote(&format!("/etc/pve/nodes/{node}/ssh_known_hosts"), "node")
            .map_err(|e| Failure::new(e.to_string(), "Check the node name."))?;
        let line = format!("cat {quoted} 2>/dev/null || cat /etc/pve/priv/known_hosts");
        let out = read(entry, &line, cancel).await?;
        if out.timed_out {
            return Err(Failure::new(
                format!(
                    "reading node '{node}''s host key from the cluster timed out; nothing was done"
                ),
                "Check the entry node with ssh_exec_command, then call again.",
            ));
        }
        let keys = text(&out.stdout);
        let listed = keys.lines().any(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|hosts| hosts.split(',').any(|h| h == node))
        });
        if out.exit_code != Some(0) || !listed {
            return Err(Failure::new(
                format!(
                    "cannot verify node '{node}': the cluster lists no host key for it (/etc/pve/nodes/{node}/ssh_known_hosts, /etc/pve/priv/known_hosts); nothing was done"
                ),
                "On the node, `pvecm updatecerts` writes its key into the cluster; then call again.",
            ));
        }
        let Some(dir) = &self.dir else {
            return Err(Failure::new(
                "cannot write the cluster's host keys: no temporary directory",
                "Check that TMPDIR (or /tmp) is writable.",
            ));
        };
        // Written beside and renamed into place: a connect reading it never sees it
        // half written.
        let path = dir.path().join(format!("{node}.known_hosts"));
        let part = dir.path().join(format!(
            "{node}.known_hosts.{}",
            crate::proxmox::random_hex()
        ));
        std::fs::write(&part, keys)
            .and_then(|()| std::fs::rename(&part, &path))
            .map_err(|e| {
                Failure::new(
                    format!("cannot write {}: {e}", path.display()),
                    "Check that TMPDIR (or /tmp) is writable.",
                )
            })?;
        self.keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(node.to_string(), path.clone());
        Ok(path)
    }
}

/// The target for member `node`: reached through the entry (and the entry's own
/// jumps), logged in as on the entry, its key checked strictly under its name.
pub fn node_target(entry: &SshTarget, node: &Node, known_hosts: PathBuf) -> SshTarget {
    let mut jumps = entry.jumps.clone();
    jumps.push(SshTarget {
        jumps: Vec::new(),
        ..entry.clone()
    });
    SshTarget {
        host: node.ip.clone(),
        port: 22,
        user: entry.user.clone(),
        auth: entry.auth.clone(),
        known_hosts,
        host_key_policy: HostKeyPolicy::Strict,
        connect_timeout: entry.connect_timeout,
        keepalive: entry.keepalive,
        jumps,
        host_key_alias: Some(node.name.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMBERS: &str = "{\n\"nodename\": \"pve1\",\n\"version\": 7,\n\"cluster\": { \"name\": \"prod\", \"version\": 3, \"nodes\": 3, \"quorate\": 1 },\n\"nodelist\": {\n  \"pve1\": { \"id\": 1, \"online\": 1, \"ip\": \"192.168.1.11\"},\n  \"pve2\": { \"id\": 2, \"online\": 1, \"ip\": \"192.168.1.12\"},\n  \"pve3\": { \"id\": 3, \"online\": 0, \"ip\": \"192.168.1.13\"}\n  }\n}\n";
    const VMLIST: &str = "{\n\"version\": 5,\n\"ids\": {\n\"100\": { \"node\": \"pve1\", \"type\": \"lxc\", \"version\": 3 },\n\"101\": { \"node\": \"pve2\", \"type\": \"qemu\", \"version\": 4 },\n\"102\": { \"node\": \"pve3\", \"type\": \"lxc\", \"version\": 1 }}\n\n}\n";

    #[test]
    fn routes_by_the_owner_in_vmlist() {
        let layout = parse(&format!("{MEMBERS}{VMLIST}")).unwrap();
        assert_eq!(layout.cluster.as_deref(), Some("prod"));
        assert_eq!(layout.route(100).unwrap(), Route::Entry);
        assert_eq!(layout.route(999).unwrap(), Route::Entry);
        let Route::Node(n) = layout.route(101).unwrap() else {
            panic!("101 is on pve2")
        };
        assert_eq!((n.name.as_str(), n.ip.as_str()), ("pve2", "192.168.1.12"));
        let offline = layout.route(102).unwrap_err();
        assert_eq!(
            offline.error,
            "Container 102 is on node 'pve3', which is offline"
        );
        assert_eq!(
            summary(&layout),
            "cluster 'prod': nodes pve1 (this node), pve2, pve3 (offline); guest operations go to each guest's node through this one"
        );
    }

    #[test]
    fn a_standalone_node_is_a_cluster_of_one() {
        let layout = parse(
            "{\n\"nodename\": \"pve\",\n\"version\": 1\n}\n{\n\"version\": 1,\n\"ids\": {\n\"100\": { \"node\": \"pve\", \"type\": \"lxc\", \"version\": 1 }}\n\n}\n",
        )
        .unwrap();
        assert_eq!(layout.cluster, None);
        assert_eq!(layout.route(100).unwrap(), Route::Entry);
        assert!(parse("{\"nodename\":\"pve\"}").is_err());
        let odd = "{\"nodename\":\"pve\",\"cluster\":{\"name\":\"c\"},\"nodelist\":{\"../x\":{\"id\":2,\"online\":1,\"ip\":\"10.0.0.2\"}}}\n{\"version\":1}";
        assert!(parse(odd).unwrap_err().contains("no node name"));
        assert!(parse("not json").is_err());
    }
}
