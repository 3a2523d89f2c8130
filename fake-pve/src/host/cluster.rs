//! The cluster a node belongs to, as its programs see it: the members (name, id,
//! address, online or not), quorum, which node owns each guest, and the files pmxcfs
//! generates in `/etc/pve` from them (`.members`, `.vmlist`, `corosync.conf`, each
//! node's `ssh_known_hosts`). A standalone node has no [`ClusterLink`] and gets the
//! standalone forms of `.members` and `.vmlist` (docs/cluster.md §3).
//!
//! The link holds the members' states weakly: a node's [`Host`] owns its link, never
//! the other way round. Nothing here locks two states at once; the vmid owners are a
//! copy taken at [`ClusterLink::refresh`], so a node holding its own state lock can ask
//! where a guest lives without touching another node's lock.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::{Host, State};

/// The kind of guest a vmid belongs to (`type` in `.vmlist`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestKind {
    Lxc,
    Qemu,
}

impl GuestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GuestKind::Lxc => "lxc",
            GuestKind::Qemu => "qemu",
        }
    }

    /// `CT` or `VM`, as Proxmox names the kind in messages.
    pub fn label(self) -> &'static str {
        match self {
            GuestKind::Lxc => "CT",
            GuestKind::Qemu => "VM",
        }
    }
}

/// One member node.
#[derive(Debug)]
pub struct Member {
    pub name: String,
    /// corosync's node id (1, 2, …).
    pub nodeid: u32,
    /// The address the other nodes reach it on (`ip` in `.members`).
    pub ip: String,
    /// Its host key as a known_hosts key part (`ssh-ed25519 AAAA…`).
    pub host_key: String,
    online: AtomicBool,
    state: Weak<Mutex<State>>,
}

impl Member {
    pub fn online(&self) -> bool {
        self.online.load(Ordering::SeqCst)
    }
}

/// What [`ClusterLink::new`] needs to know of each node.
pub struct MemberSpec {
    pub host: Host,
    pub ip: String,
    pub host_key: String,
    pub online: bool,
}

struct Shared {
    name: String,
    members: Vec<Member>,
    /// pmxcfs's version counter: goes up with every change of membership or guests.
    version: AtomicU64,
    /// vmid → (owner node, kind), as of the last refresh.
    owners: Mutex<BTreeMap<u32, (String, GuestKind)>>,
    /// The members' hosts, for node-to-node `ssh`: a cycle (each host holds the
    /// link) that [`ClusterLink::release`] breaks when the cluster stops.
    hosts: Mutex<Vec<Host>>,
}

/// A node's handle on its cluster. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct ClusterLink(Arc<Shared>);

impl std::fmt::Debug for ClusterLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterLink")
            .field("name", &self.0.name)
            .field("members", &self.0.members)
            .finish_non_exhaustive()
    }
}

impl ClusterLink {
    /// Joins `members` (in node-id order) into cluster `name`: every host gets the
    /// link, and `/etc/pve` is written on each.
    pub fn new(name: &str, members: Vec<MemberSpec>) -> ClusterLink {
        let hosts: Vec<Host> = members.iter().map(|m| m.host.clone()).collect();
        let members = members
            .into_iter()
            .enumerate()
            .map(|(i, m)| Member {
                name: m.host.node(),
                nodeid: i as u32 + 1,
                ip: m.ip,
                host_key: m.host_key,
                online: AtomicBool::new(m.online),
                state: Arc::downgrade(&m.host.state),
            })
            .collect();
        let link = ClusterLink(Arc::new(Shared {
            name: name.to_string(),
            members,
            version: AtomicU64::new(1),
            owners: Mutex::new(BTreeMap::new()),
            hosts: Mutex::new(hosts.clone()),
        }));
        for host in hosts {
            let _ = host.cluster.set(link.clone());
        }
        link.refresh();
        link
    }

    pub fn name(&self) -> &str {
        &self.0.name
    }

    pub fn members(&self) -> &[Member] {
        &self.0.members
    }

    pub fn member(&self, name: &str) -> Option<&Member> {
        self.0.members.iter().find(|m| m.name == name)
    }

    /// Member `name`'s host (`None` after [`ClusterLink::release`]).
    pub fn host(&self, name: &str) -> Option<Host> {
        // The hosts are in the members' order.
        let i = self.0.members.iter().position(|m| m.name == name)?;
        let hosts = self.0.hosts.lock().unwrap_or_else(|e| e.into_inner());
        hosts.get(i).cloned()
    }

    /// Drops the link's hold on the members' hosts (the cluster has stopped).
    pub fn release(&self) {
        self.0
            .hosts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Quorate: more than half of the votes (one per node) online.
    pub fn quorate(&self) -> bool {
        let online = self.0.members.iter().filter(|m| m.online()).count();
        online * 2 > self.0.members.len()
    }

    /// Takes a node offline (or brings it back) and rewrites `/etc/pve`.
    pub fn set_online(&self, name: &str, online: bool) -> bool {
        let Some(m) = self.member(name) else {
            return false;
        };
        m.online.store(online, Ordering::SeqCst);
        self.refresh();
        true
    }

    /// The node owning `vmid` and the guest's kind, as of the last refresh.
    pub fn owner(&self, vmid: u32) -> Option<(String, GuestKind)> {
        self.0
            .owners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&vmid)
            .cloned()
    }

    /// Runs `f` on member `name`'s state (locked for the call); `None` when there is
    /// no such member. Never call it while holding another state's lock.
    pub fn with_state<R>(&self, name: &str, f: impl FnOnce(&mut State) -> R) -> Option<R> {
        let state = self.member(name)?.state.upgrade()?;
        let mut guard = state.lock().unwrap_or_else(|e| e.into_inner());
        Some(f(&mut guard))
    }

    /// Re-reads every member's guests and rewrites the generated files in every
    /// member's `/etc/pve`. Call with no state lock held.
    pub fn refresh(&self) {
        let mut owners = BTreeMap::new();
        for m in &self.0.members {
            let Some(state) = m.state.upgrade() else {
                continue;
            };
            let state = state.lock().unwrap_or_else(|e| e.into_inner());
            for id in state.containers.keys() {
                owners.insert(*id, (m.name.clone(), GuestKind::Lxc));
            }
            for id in state.vms.keys() {
                owners.insert(*id, (m.name.clone(), GuestKind::Qemu));
            }
        }
        let version = self.0.version.fetch_add(1, Ordering::SeqCst) + 1;
        let vmlist = vmlist_text(version, &owners);
        *self.0.owners.lock().unwrap_or_else(|e| e.into_inner()) = owners;
        let corosync = self.corosync_conf();
        for m in &self.0.members {
            let members = self.members_text(&m.name, version);
            let Some(state) = m.state.upgrade() else {
                continue;
            };
            let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
            let fs = &mut state.fs;
            let mut put = |path: &str, text: &str, mode: u32| {
                let _ = fs.mkdir_all(crate::fs::parent(path), 0o755);
                let _ = fs.write_file(path, text.as_bytes(), mode);
            };
            put("/etc/pve/.members", &members, 0o440);
            put("/etc/pve/.vmlist", &vmlist, 0o440);
            put("/etc/pve/corosync.conf", &corosync, 0o640);
            for other in &self.0.members {
                put(
                    &format!("/etc/pve/nodes/{}/ssh_known_hosts", other.name),
                    &format!("{} {}\n", other.name, other.host_key),
                    0o640,
                );
            }
        }
    }

    /// `/etc/pve/.members` as node `local` sees it (pmxcfs status.c).
    fn members_text(&self, local: &str, version: u64) -> String {
        let online = self.0.members.iter().filter(|m| m.online()).count();
        let mut s = format!(
            "{{\n\"nodename\": \"{local}\",\n\"version\": {version},\n\"cluster\": {{ \"name\": \"{}\", \"version\": {}, \"nodes\": {}, \"quorate\": {} }},\n\"nodelist\": {{\n",
            self.0.name,
            self.0.members.len(),
            self.0.members.len(),
            u8::from(online * 2 > self.0.members.len())
        );
        let rows: Vec<String> = self
            .0
            .members
            .iter()
            .map(|m| {
                format!(
                    "  \"{}\": {{ \"id\": {}, \"online\": {}, \"ip\": \"{}\"}}",
                    m.name,
                    m.nodeid,
                    u8::from(m.online()),
                    m.ip
                )
            })
            .collect();
        s.push_str(&rows.join(",\n"));
        s.push_str("\n  }\n}\n");
        s
    }

    /// A `corosync.conf` naming the members (what `pvecm` checks for).
    fn corosync_conf(&self) -> String {
        let mut s = String::from("logging {\n  debug: off\n  to_syslog: yes\n}\n\nnodelist {\n");
        for m in &self.0.members {
            let _ = write!(
                s,
                "  node {{\n    name: {}\n    nodeid: {}\n    quorum_votes: 1\n    ring0_addr: {}\n  }}\n",
                m.name, m.nodeid, m.ip
            );
        }
        let _ = write!(
            s,
            "}}\n\nquorum {{\n  provider: corosync_votequorum\n}}\n\ntotem {{\n  cluster_name: {}\n  config_version: {}\n  interface {{\n    linknumber: 0\n  }}\n  ip_version: ipv4-6\n  link_mode: passive\n  secauth: on\n  version: 2\n}}\n",
            self.0.name,
            self.0.members.len()
        );
        s
    }
}

/// `/etc/pve/.vmlist` (pmxcfs status.c): every guest of the cluster with its node.
fn vmlist_text(version: u64, owners: &BTreeMap<u32, (String, GuestKind)>) -> String {
    if owners.is_empty() {
        return format!("{{\n\"version\": {version}\n\n}}\n");
    }
    let rows: Vec<String> = owners
        .iter()
        .map(|(id, (node, kind))| {
            format!(
                "\"{id}\": {{ \"node\": \"{node}\", \"type\": \"{}\", \"version\": 1 }}",
                kind.as_str()
            )
        })
        .collect();
    format!(
        "{{\n\"version\": {version},\n\"ids\": {{\n{}}}\n\n}}\n",
        rows.join(",\n")
    )
}

/// Writes the standalone forms of `.members` and `.vmlist` into a node's `/etc/pve`.
pub(crate) fn write_standalone(state: &mut State) {
    let mut owners = BTreeMap::new();
    for id in state.containers.keys() {
        owners.insert(*id, (state.node.clone(), GuestKind::Lxc));
    }
    for id in state.vms.keys() {
        owners.insert(*id, (state.node.clone(), GuestKind::Qemu));
    }
    let members = format!(
        "{{\n\"nodename\": \"{}\",\n\"version\": 1\n}}\n",
        state.node
    );
    let vmlist = vmlist_text(1, &owners);
    let _ = state.fs.mkdir_all("/etc/pve", 0o755);
    let _ = state
        .fs
        .write_file("/etc/pve/.members", members.as_bytes(), 0o440);
    let _ = state
        .fs
        .write_file("/etc/pve/.vmlist", vmlist.as_bytes(), 0o440);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vmlist_has_pmxcfs_shape() {
        let mut owners = BTreeMap::new();
        owners.insert(100, ("pve1".to_string(), GuestKind::Lxc));
        owners.insert(101, ("pve2".to_string(), GuestKind::Qemu));
        assert_eq!(
            vmlist_text(5, &owners),
            "{\n\"version\": 5,\n\"ids\": {\n\"100\": { \"node\": \"pve1\", \"type\": \"lxc\", \"version\": 1 },\n\"101\": { \"node\": \"pve2\", \"type\": \"qemu\", \"version\": 1 }}\n\n}\n"
        );
        assert_eq!(vmlist_text(3, &BTreeMap::new()), "{\n\"version\": 3\n\n}\n");
        let v: serde_json::Value = serde_json::from_str(&vmlist_text(5, &owners)).unwrap();
        assert_eq!(v["ids"]["101"]["node"], "pve2");
    }
}
