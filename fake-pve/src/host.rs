//! The state of one fake Proxmox VE node: its filesystem, its containers, its
//! processes and the faults it should inject. The SSH, SFTP and pct front ends are
//! thin adapters over [`Host`]; tests reach into it through the same API.

pub mod cluster;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use crate::fs::Fs;
pub use crate::guest::{Metrics, Snapshot, parse_size};
use crate::process::{ProcessInfo, ProcessTable};
use crate::vm::{Vm, VmStatus};

/// `running` or `stopped`: the only two states pct reports for a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Running,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Stopped => "stopped",
        }
    }
}

/// The lock names pct knows.
pub const LOCKS: &[&str] = &[
    "backup",
    "create",
    "destroyed",
    "disk",
    "fstrim",
    "migrate",
    "mounted",
    "rollback",
    "snapshot",
    "snapshot-delete",
];

/// One LXC container.
#[derive(Debug, Clone)]
pub struct Container {
    pub vmid: u32,
    pub status: Status,
    pub lock: Option<String>,
    pub template: bool,
    pub tags: Option<String>,
    /// Managed by HA: start/stop print "Requesting HA … for CT N".
    pub ha_managed: bool,
    /// The config file's `key: value` pairs (hostname, cores, memory, rootfs, net0…),
    /// `description` stored decoded.
    pub config: BTreeMap<String, String>,
    /// Raw `lxc.*` lines, in file order.
    pub lxc: Vec<(String, String)>,
    pub snapshots: Vec<Snapshot>,
    /// The snapshot the current state descends from (`parent:` in the config).
    pub parent_snapshot: Option<String>,
    pub fs: Fs,
    /// Fault: `pct stop`/`shutdown` fail and the container keeps running.
    pub refuses_stop: bool,
    /// Fault: its init ignores the clean shutdown request (as a container whose init
    /// ignores SIGPWR does): `pct shutdown` and `pct reboot` wait out their timeout;
    /// a hard stop still works.
    pub ignores_shutdown: bool,
    /// Seconds since the epoch when it was last started.
    pub started_at: Option<u64>,
    /// Live figures set by the fixture (`pvesh` and `pct status --verbose` report
    /// them while it runs).
    pub metrics: Metrics,
}

/// The pressure-stall figures a running container reports (`pct status --verbose`,
/// pvesh's `status/current`), each 0 in the fake.
pub const PRESSURE_KEYS: &[&str] = &[
    "pressurecpufull",
    "pressurecpusome",
    "pressureiofull",
    "pressureiosome",
    "pressurememoryfull",
    "pressurememorysome",
];

/// A stand-in for container `vmid`'s init pid on the host (what `pct status
/// --verbose` and pvesh show as `pid`).
pub fn init_pid(vmid: u32) -> u32 {
    10_000 + vmid % 100_000
}

impl Container {
    /// The container's hostname (its name in `pct list`), if configured.
    pub fn hostname(&self) -> Option<&str> {
        self.config.get("hostname").map(String::as_str)
    }

    /// Memory in MiB (default 512).
    pub fn memory_mib(&self) -> u64 {
        self.config
            .get("memory")
            .and_then(|m| m.parse().ok())
            .unwrap_or(512)
    }

    /// Swap in MiB (default 512).
    pub fn swap_mib(&self) -> u64 {
        self.config
            .get("swap")
            .and_then(|m| m.parse().ok())
            .unwrap_or(512)
    }

    pub fn cores(&self) -> u64 {
        self.config
            .get("cores")
            .and_then(|m| m.parse().ok())
            .unwrap_or(1)
    }

    /// The rootfs size in bytes, from `rootfs: …,size=8G` (default 4 GiB).
    pub fn rootfs_bytes(&self) -> u64 {
        self.config
            .get("rootfs")
            .and_then(|r| r.split(',').find_map(|p| p.strip_prefix("size=")))
            .and_then(parse_size)
            .unwrap_or(4 * 1024 * 1024 * 1024)
    }

    /// Uid/gid of a user or group name in the container's /etc/passwd or /etc/group.
    pub fn lookup_id(&self, file: &str, name: &str) -> Option<u32> {
        lookup_id(&self.fs, file, name)
    }
}

/// Looks a name (or a number) up in a passwd/group style file of `fs`.
pub fn lookup_id(fs: &Fs, file: &str, name: &str) -> Option<u32> {
    if let Ok(n) = name.parse::<u32>() {
        return Some(n);
    }
    let data = fs.read(file).ok()?;
    String::from_utf8_lossy(data).lines().find_map(|line| {
        let mut parts = line.split(':');
        (parts.next()? == name).then_some(())?;
        parts.next()?;
        parts.next()?.parse().ok()
    })
}

/// A scripted response for a command the shell does not implement itself.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedCommand {
    /// Matched against the command's words joined by single spaces; `*` matches any run
    /// of characters. E.g. `apt update`, `systemctl restart *`.
    pub pattern: String,
    #[serde(default)]
    pub stdout: String,
    #[serde(default)]
    pub stderr: String,
    #[serde(default)]
    pub exit: i32,
    /// Milliseconds to wait before answering.
    #[serde(default)]
    pub delay_ms: u64,
    /// Where it applies: `"host"`, `"containers"` or a ctid as a string; all when absent.
    #[serde(default)]
    pub on: Option<String>,
}

/// Which SFTP failure to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SftpFaultKind {
    PermissionDenied,
    NoSpace,
}

/// An SFTP failure for paths under a prefix (every path when empty).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SftpFault {
    pub kind: SftpFaultKind,
    #[serde(default)]
    pub path_prefix: String,
}

/// Faults to inject. Settable from a fixture and at run time ([`Host::set_faults`]).
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Delay before every exec command starts.
    pub latency: Duration,
    /// Drop the connection once this many bytes of command output were sent on it.
    pub drop_after_bytes: Option<u64>,
    /// Drop the connection when a command matching this pattern starts (mid-command).
    pub drop_on_command: Option<String>,
    /// Commands matching any of these patterns hang until killed.
    pub hang: Vec<String>,
    /// Refuse every login, even with the right credentials.
    pub refuse_auth: bool,
    pub sftp: Option<SftpFault>,
    /// How long `vzdump` takes per guest, holding the guest's `backup` lock.
    pub backup_time: Duration,
}

pub use crate::pve::SignalPolicy;

/// sshd's `MaxSessions` default, left as is by Debian's stock sshd_config (every
/// Proxmox VE node).
pub const DEFAULT_MAX_SESSIONS: u32 = 10;

/// The mutable state behind the lock.
#[derive(Debug)]
pub struct State {
    /// The node name (short hostname), `pve` by default.
    pub node: String,
    pub fs: Fs,
    pub containers: BTreeMap<u32, Container>,
    /// The VMs; one vmid space with the containers.
    pub vms: BTreeMap<u32, crate::vm::Vm>,
    pub scripts: Vec<ScriptedCommand>,
    pub faults: Faults,
    /// The Proxmox VE release the node plays.
    pub pve: crate::pve::Pve,
    pub signal_policy: SignalPolicy,
    /// sshd's `MaxSessions`: session channels one connection may hold at once (0
    /// refuses every session, as in sshd). Read at each channel open.
    pub max_sessions: u32,
}

/// A fake Proxmox VE node. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct Host {
    state: Arc<Mutex<State>>,
    procs: ProcessTable,
    disconnect: Arc<tokio::sync::watch::Sender<u64>>,
    /// The connection each exec session came in on, by session id, so that the
    /// `drop_on_command` fault can cut it when a matching program starts.
    links: Arc<Mutex<HashMap<u32, tokio_util::sync::CancellationToken>>>,
    /// The cluster this node is a member of; unset for a standalone node.
    cluster: Arc<OnceLock<cluster::ClusterLink>>,
    /// flock(2) locks on its filesystem and its guests'.
    locks: crate::locks::FileLocks,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host").finish_non_exhaustive()
    }
}

impl Host {
    pub fn new(state: State) -> Self {
        Host {
            state: Arc::new(Mutex::new(state)),
            procs: ProcessTable::new(),
            disconnect: Arc::new(tokio::sync::watch::channel(0).0),
            links: Arc::new(Mutex::new(HashMap::new())),
            cluster: Arc::new(OnceLock::new()),
            locks: crate::locks::FileLocks::default(),
        }
    }

    /// The cluster this node belongs to; `None` for a standalone node.
    pub fn cluster(&self) -> Option<&cluster::ClusterLink> {
        self.cluster.get()
    }

    /// Rewrites the files pmxcfs generates (`/etc/pve/.vmlist`, …) after guests came
    /// or went, on this node or, in a cluster, on every member. Call with no state
    /// lock held.
    pub fn guests_changed(&self) {
        match self.cluster() {
            Some(link) => link.refresh(),
            None => cluster::write_standalone(&mut self.state()),
        }
    }

    /// Records the connection session `sid` came in on (until the session ends).
    pub(crate) fn link_session(&self, sid: u32, cut: tokio_util::sync::CancellationToken) {
        let mut links = self.links.lock().unwrap_or_else(|e| e.into_inner());
        links.retain(|_, c| !c.is_cancelled());
        links.insert(sid, cut);
    }

    pub(crate) fn unlink_session(&self, sid: u32) {
        let mut links = self.links.lock().unwrap_or_else(|e| e.into_inner());
        links.remove(&sid);
    }

    /// Cuts the connection that session `sid` came in on (the fault, mid-command).
    pub(crate) fn cut_connection_of(&self, sid: u32) {
        let links = self.links.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(cut) = links.get(&sid) {
            let cut = cut.clone();
            tokio::spawn(async move {
                // Let the command start, then cut the connection under it.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                cut.cancel();
            });
        }
    }

    /// Locks the state. Never hold the guard across an `.await`.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn processes(&self) -> &ProcessTable {
        &self.procs
    }

    /// The advisory locks `flock` takes on this host and in its guests.
    pub fn file_locks(&self) -> &crate::locks::FileLocks {
        &self.locks
    }

    /// What is running now, including commands whose channel or connection is gone.
    pub fn running(&self) -> Vec<ProcessInfo> {
        self.procs.list()
    }

    pub fn node(&self) -> String {
        self.state().node.clone()
    }

    pub fn faults(&self) -> Faults {
        self.state().faults.clone()
    }

    pub fn set_faults(&self, faults: Faults) {
        self.state().faults = faults;
    }

    pub fn max_sessions(&self) -> u32 {
        self.state().max_sessions
    }

    /// Changes `MaxSessions` for channels opened from now on (open ones keep their slot).
    pub fn set_max_sessions(&self, max: u32) {
        self.state().max_sessions = max;
    }

    /// Changes container `vmid` with `change`; false when there is no such container.
    pub fn change_container(&self, vmid: u32, change: impl FnOnce(&mut Container)) -> bool {
        self.state().containers.get_mut(&vmid).map(change).is_some()
    }

    /// Sets a container's lock (`None` clears it).
    pub fn set_lock(&self, vmid: u32, lock: Option<&str>) -> bool {
        self.change_container(vmid, |ct| ct.lock = lock.map(str::to_string))
    }

    /// Makes a container refuse (or accept again) to stop.
    pub fn set_refuses_stop(&self, vmid: u32, refuses: bool) -> bool {
        self.change_container(vmid, |ct| ct.refuses_stop = refuses)
    }

    /// Makes a container ignore (or honour again) a clean shutdown request.
    pub fn set_ignores_shutdown(&self, vmid: u32, ignores: bool) -> bool {
        self.change_container(vmid, |ct| ct.ignores_shutdown = ignores)
    }

    /// Content of a host file, if it exists.
    pub fn host_file(&self, path: &str) -> Option<Vec<u8>> {
        self.state().fs.read(path).ok().map(<[u8]>::to_vec)
    }

    /// Content of a file in a container, if both exist.
    pub fn container_file(&self, vmid: u32, path: &str) -> Option<Vec<u8>> {
        let state = self.state();
        let ct = state.containers.get(&vmid)?;
        ct.fs.read(path).ok().map(<[u8]>::to_vec)
    }

    /// Every file path on the host (sorted).
    pub fn host_files(&self) -> Vec<String> {
        self.state().fs.file_paths()
    }

    /// Every file path in a container (sorted); empty when it does not exist.
    pub fn container_files(&self, vmid: u32) -> Vec<String> {
        self.state()
            .containers
            .get(&vmid)
            .map(|ct| ct.fs.file_paths())
            .unwrap_or_default()
    }

    /// Drops every open SSH connection at once, without a goodbye (like a network cut).
    pub fn drop_connections(&self) {
        self.disconnect.send_modify(|n| *n += 1);
    }

    /// Resolves when [`Host::drop_connections`] is next called.
    pub(crate) fn disconnect_signal(&self) -> tokio::sync::watch::Receiver<u64> {
        self.disconnect.subscribe()
    }
}

/// The VMs of the node (`crate::vm`), as tests and the emulators reach them.
impl Host {
    /// Changes VM `vmid` with `change`; false when there is no such VM.
    pub fn change_vm(&self, vmid: u32, change: impl FnOnce(&mut Vm)) -> bool {
        self.state().vms.get_mut(&vmid).map(change).is_some()
    }

    /// A copy of VM `vmid` as it is now.
    pub fn vm(&self, vmid: u32) -> Option<Vm> {
        self.state().vms.get(&vmid).cloned()
    }

    /// VM `vmid`'s state.
    pub fn vm_status(&self, vmid: u32) -> Option<VmStatus> {
        self.state().vms.get(&vmid).map(|vm| vm.status)
    }

    /// Sets VM `vmid`'s state: to running or paused from stopped it starts; to
    /// stopped its processes end.
    pub fn set_vm_status(&self, vmid: u32, status: VmStatus) -> bool {
        self.change_vm(vmid, |vm| match status {
            VmStatus::Stopped => vm.set_stopped(),
            VmStatus::Running => vm.set_running(),
            VmStatus::Paused => {
                vm.set_running();
                vm.status = VmStatus::Paused;
            }
        })
    }

    /// Sets a VM's lock (`None` clears it).
    pub fn set_vm_lock(&self, vmid: u32, lock: Option<&str>) -> bool {
        self.change_vm(vmid, |vm| vm.lock = lock.map(str::to_string))
    }

    /// Sets (`Some`) or removes (`None`) one key of a VM's config.
    pub fn set_vm_config(&self, vmid: u32, key: &str, value: Option<&str>) -> bool {
        self.change_vm(vmid, |vm| match value {
            Some(v) => {
                vm.config.insert(key.to_string(), v.to_string());
            }
            None => {
                vm.config.remove(key);
            }
        })
    }

    /// Makes a VM's agent hang (or answer again).
    pub fn set_agent_hangs(&self, vmid: u32, hangs: bool) -> bool {
        self.change_vm(vmid, |vm| vm.agent_hangs = hangs)
    }

    /// Makes a VM's guest ignore (or honour again) shutdown requests.
    pub fn set_vm_ignores_shutdown(&self, vmid: u32, ignores: bool) -> bool {
        self.change_vm(vmid, |vm| vm.ignores_shutdown = ignores)
    }

    /// Content of a file in a VM, if both exist.
    pub fn vm_file(&self, vmid: u32, path: &str) -> Option<Vec<u8>> {
        let state = self.state();
        state.vms.get(&vmid)?.fs.read(path).ok().map(<[u8]>::to_vec)
    }

    /// Every file path in a VM (sorted); empty when it does not exist.
    pub fn vm_files(&self, vmid: u32) -> Vec<String> {
        self.state()
            .vms
            .get(&vmid)
            .map(|vm| vm.fs.file_paths())
            .unwrap_or_default()
    }

    /// What runs inside VM `vmid` now (its own pid space); empty when it does not exist.
    pub fn vm_processes(&self, vmid: u32) -> Vec<crate::process::ProcessInfo> {
        self.state()
            .vms
            .get(&vmid)
            .map(|vm| vm.procs.list())
            .unwrap_or_default()
    }

    /// The process table of the kernel a guest id runs on: the VM's own for a VM,
    /// the node's for a container or the node itself.
    pub fn process_table(&self, guest: Option<u32>) -> ProcessTable {
        if let Some(id) = guest
            && let Some(vm) = self.state().vms.get(&id)
        {
            return vm.procs.clone();
        }
        self.processes().clone()
    }

    /// Whether `id` is a VM's.
    pub fn is_vm(&self, id: u32) -> bool {
        self.state().vms.contains_key(&id)
    }
}
