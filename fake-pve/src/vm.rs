//! Virtual machines: their config, their state (`running`, `paused`, `stopped`), their
//! own in-memory filesystem and process table (a VM is its own kernel: its processes
//! are invisible to the node's `ps` and `kill`), the QEMU guest agent's record of the
//! commands it runs (`guest-exec`), and the per-VM faults. `qm` (crate::qm) and
//! `pvesh` read and change them; tests reach them through [`Host`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::fs::{Fs, now_secs};
use crate::guest::{Metrics, Snapshot, parse_size};
use crate::process::ProcessTable;

/// The QMP states fake-pve emulates (docs/qm-fidelity.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VmStatus {
    Running,
    Paused,
    Stopped,
}

impl VmStatus {
    /// The QMP status (`qm status`, `qm list --full`, `qmpstatus`).
    pub fn qmp(self) -> &'static str {
        match self {
            VmStatus::Running => "running",
            VmStatus::Paused => "paused",
            VmStatus::Stopped => "stopped",
        }
    }

    /// Whether a QEMU process exists (paused counts as running).
    pub fn has_process(self) -> bool {
        self != VmStatus::Stopped
    }

    /// `running` or `stopped`: the coarse status (`qm list`, vmstatus's `status`).
    pub fn coarse(self) -> &'static str {
        if self.has_process() {
            "running"
        } else {
            "stopped"
        }
    }
}

/// The lock names qemu-server knows.
pub const VM_LOCKS: &[&str] = &[
    "backup",
    "clone",
    "create",
    "migrate",
    "rollback",
    "snapshot",
    "snapshot-delete",
    "suspending",
    "suspended",
];

/// How a process the agent started ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecEnd {
    Exited(i32),
    Signalled(i32),
}

/// One process started through the agent's `guest-exec`, as `guest-exec-status`
/// reports it.
#[derive(Debug, Clone, Default)]
pub struct ExecRecord {
    /// Set once the process ended.
    pub end: Option<ExecEnd>,
    pub out: Arc<Mutex<Vec<u8>>>,
    pub err: Arc<Mutex<Vec<u8>>>,
}

/// One QEMU virtual machine.
#[derive(Debug, Clone)]
pub struct Vm {
    pub vmid: u32,
    pub status: VmStatus,
    pub lock: Option<String>,
    pub template: bool,
    /// Managed by HA: start/stop/shutdown print "Requesting HA … for VM N".
    pub ha_managed: bool,
    /// The config's `key: value` pairs (name, memory, cores, scsi0, agent, …), the
    /// description stored decoded. `lock` and `template` are the fields above.
    pub config: BTreeMap<String, String>,
    /// The guest's own filesystem.
    pub fs: Fs,
    /// The guest's own processes (its kernel's pid space).
    pub procs: ProcessTable,
    /// The agent's `guest-exec` processes by guest pid, until their end is reported.
    pub execs: BTreeMap<u32, ExecRecord>,
    /// Fault: the agent is configured but never answers (the 3 s ping times out).
    pub agent_hangs: bool,
    /// Fault: the guest ignores ACPI and agent shutdown requests.
    pub ignores_shutdown: bool,
    /// Seconds since the epoch when it was last started.
    pub started_at: Option<u64>,
    /// Live figures while it runs (`[vms.metrics]`).
    pub metrics: Metrics,
    /// Its snapshots, oldest first.
    pub snapshots: Vec<VmSnapshot>,
    /// The snapshot the current state descends from (`parent:` in the config).
    pub parent_snapshot: Option<String>,
}

/// What a snapshot taken with `--vmstate 1` of a running VM saved besides the disks.
#[derive(Debug, Clone)]
pub struct RamState {
    /// The state volume (`vmstate:`), e.g. `local-lvm:vm-200-state-s1`.
    pub volid: String,
    /// `runningmachine:` and `runningcpu:` of the snapshot's section.
    pub running_machine: String,
    pub running_cpu: String,
    /// What the agent remembered of the processes it ran (all ended: a RAM state is
    /// only taken of a guest with no process running).
    pub execs: BTreeMap<u32, ExecRecord>,
}

/// One snapshot of a VM: its config and filesystem, and the RAM when it was saved.
#[derive(Debug, Clone)]
pub struct VmSnapshot {
    pub snap: Snapshot,
    pub ram: Option<RamState>,
}

/// A stand-in for VM `vmid`'s QEMU (kvm) pid on the node (`qm list`, `qm status
/// --verbose`, pvesh): stable, made up.
pub fn kvm_pid(vmid: u32) -> u32 {
    20_000 + vmid % 100_000
}

/// The drives of a VM config, in the order QEMU's buses are named.
const DISK_PREFIXES: &[&str] = &["ide", "sata", "scsi", "virtio", "efidisk", "tpmstate"];

impl Vm {
    /// `name`, or `VM <vmid>` (with a space) when there is none.
    pub fn name(&self) -> String {
        match self.config.get("name") {
            Some(n) if !n.is_empty() => n.clone(),
            _ => format!("VM {}", self.vmid),
        }
    }

    /// `memory` in MiB as given (`2048`, or `current=2048`); 512 by default.
    pub fn memory_text(&self) -> String {
        let Some(m) = self.config.get("memory") else {
            return "512".into();
        };
        m.split(',')
            .find_map(|p| match p.split_once('=') {
                Some(("current", v)) => Some(v.to_string()),
                Some(_) => None,
                None => Some(p.to_string()),
            })
            .unwrap_or_else(|| "512".into())
    }

    pub fn memory_bytes(&self) -> u64 {
        (self.memory_text().parse::<f64>().unwrap_or(512.0) * 1024.0 * 1024.0) as u64
    }

    /// CPUs: sockets × cores (each 1 by default); `vcpus` when set.
    pub fn cpus(&self) -> u64 {
        let get = |k: &str| self.config.get(k).and_then(|v| v.parse::<u64>().ok());
        get("vcpus")
            .filter(|v| *v > 0)
            .unwrap_or_else(|| get("sockets").unwrap_or(1) * get("cores").unwrap_or(1))
    }

    /// Whether a config key names a disk drive (`scsi0`, `virtio1`, …).
    fn is_drive(key: &str) -> bool {
        DISK_PREFIXES.iter().any(|p| {
            key.strip_prefix(p)
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
    }

    /// The disk drives (CD-ROMs excluded) in qemu-server's volume order
    /// (`ide0…`, `sata0…`, `scsi0…`, `virtio0…`, `efidisk0`, `tpmstate0`).
    pub fn drives_in_order(&self) -> Vec<(&str, &str)> {
        let mut drives = self.drives();
        drives.sort_by_key(|(k, _)| {
            let at = DISK_PREFIXES
                .iter()
                .position(|p| {
                    k.strip_prefix(p)
                        .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
                })
                .unwrap_or(usize::MAX);
            let n: u32 = k
                .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                .parse()
                .unwrap_or(0);
            (at, n)
        });
        drives
    }

    /// The disk drives of the config (CD-ROMs excluded), sorted by key.
    pub fn drives(&self) -> Vec<(&str, &str)> {
        self.config
            .iter()
            .filter(|(k, v)| Self::is_drive(k) && !v.contains("media=cdrom"))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// The boot disk: the first disk of `boot: order=…`, else `bootdisk`.
    pub fn bootdisk(&self) -> Option<&str> {
        let drives = self.drives();
        let find = |name: &str| drives.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        if let Some(order) = self
            .config
            .get("boot")
            .and_then(|b| b.split(',').find_map(|p| p.strip_prefix("order=")))
        {
            return order.split(';').find_map(find);
        }
        self.config.get("bootdisk").and_then(|b| find(b))
    }

    /// The boot disk's size in bytes (0 when there is none).
    pub fn bootdisk_bytes(&self) -> u64 {
        self.bootdisk()
            .and_then(|d| d.split(',').find_map(|p| p.strip_prefix("size=")))
            .and_then(parse_size)
            .unwrap_or(0)
    }

    /// Whether the config has an `agent:` key at all (qm's "configured" check).
    pub fn agent_configured(&self) -> bool {
        self.config.contains_key("agent")
    }

    /// Whether the agent is enabled (`agent: 1` or `agent: enabled=1,…`).
    pub fn agent_enabled(&self) -> bool {
        self.config.get("agent").is_some_and(|a| {
            a.split(',').any(|p| match p.split_once('=') {
                Some(("enabled", v)) => crate::guest::parse_boolean(v) == Some(true),
                Some(_) => false,
                None => crate::guest::parse_boolean(p) == Some(true),
            })
        })
    }

    /// The shutdown timeout from `startup: …,down=N`, if set.
    pub fn startup_down(&self) -> Option<u64> {
        self.config
            .get("startup")?
            .split(',')
            .find_map(|p| p.strip_prefix("down="))?
            .parse()
            .ok()
    }

    /// The MAC address of `net<i>` (`virtio=BC:24:11:…,bridge=…`).
    pub fn mac(&self, net: &str) -> Option<String> {
        let v = self.config.get(net)?;
        let first = v.split(',').next()?;
        let (_, mac) = first.split_once('=')?;
        Some(mac.to_string())
    }

    /// The network devices of the config (`net0`, `net1`, …), sorted.
    pub fn nets(&self) -> Vec<&str> {
        self.config
            .keys()
            .filter(|k| {
                k.strip_prefix("net")
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            })
            .map(String::as_str)
            .collect()
    }

    /// Seconds since its start (0 when stopped).
    pub fn uptime(&self) -> u64 {
        self.uptime_at(now_secs())
    }

    /// Seconds from its start to `now` (seconds since the epoch; 0 when stopped).
    pub fn uptime_at(&self, now: u64) -> u64 {
        match (self.status.has_process(), self.started_at) {
            (true, Some(t)) => now.saturating_sub(t),
            _ => 0,
        }
    }

    /// Starts it: running, its uptime from now.
    pub fn set_running(&mut self) {
        if !self.status.has_process() {
            self.started_at = Some(now_secs());
        }
        self.status = VmStatus::Running;
    }

    /// Stops it at once (QMP `quit`): every guest process ends, the agent forgets
    /// what it ran.
    pub fn set_stopped(&mut self) {
        self.status = VmStatus::Stopped;
        self.started_at = None;
        self.kill_processes();
        self.execs.clear();
    }

    /// Kills every process in the guest (a stop or a reset).
    pub fn kill_processes(&self) {
        for p in self.procs.list() {
            self.procs.signal(p.pid, 9);
        }
    }

    /// The guest's hostname: its /etc/hostname, else its name.
    pub fn hostname(&self) -> String {
        self.fs
            .read("/etc/hostname")
            .ok()
            .and_then(|d| {
                String::from_utf8_lossy(d)
                    .lines()
                    .next()
                    .map(|l| l.trim().to_string())
            })
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| self.name())
    }
}

/// The guest kernel fake-pve's Debian VMs run (`uname`, the agent's `get-osinfo`).
pub const GUEST_KERNEL_RELEASE: &str = "6.1.0-28-amd64";
pub const GUEST_KERNEL_VERSION: &str = "#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)";
