//! Fixtures: the TOML scenario files that declare a node, its containers, files,
//! scripted command responses and faults (format documented in fixtures/README.md),
//! and the plausible Debian layout every host and container starts from.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::fs::Fs;
use crate::host::{
    Container, DEFAULT_MAX_SESSIONS, Faults, LOCKS, ScriptedCommand, SftpFault, SignalPolicy,
    State, Status,
};
use crate::pve::Pve;
use crate::vm::{VM_LOCKS, Vm, VmStatus};

/// The fixture that ships with fake-pve: the plugin's three example containers.
pub const DEFAULT_FIXTURE: &str = include_str!("../../fixtures/default.toml");

#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("cannot read fixture {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid fixture: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("invalid fixture: {0}")]
    Invalid(String),
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Fixture {
    #[serde(default = "default_node")]
    pub node: String,
    /// The Proxmox VE release the node plays: 8 or 9 (the default); see [`Pve`].
    pub pve: Option<u64>,
    /// `refuse-root` (OpenSSH < 9.8: PVE 8's default) or `honour` (PVE 9's default).
    pub signal_policy: Option<String>,
    /// sshd's `MaxSessions` (≥ 1): session channels per connection; 10 when absent.
    pub max_sessions: Option<u32>,
    pub containers: Vec<ContainerSpec>,
    /// QEMU virtual machines (`[[vms]]`); one vmid space with the containers.
    pub vms: Vec<VmSpec>,
    pub host_files: Vec<FileSpec>,
    pub scripts: Vec<ScriptedCommand>,
    pub faults: FaultSpec,
    /// A cluster member's address, as the other nodes reach it (cluster fixtures only).
    pub ip: Option<String>,
    /// A cluster member that starts offline (cluster fixtures only; default true).
    pub online: Option<bool>,
}

/// A cluster fixture: a `cluster` name and its `[[nodes]]`, each a node fixture
/// with an `ip` (fixtures/README.md, "Clusters").
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterFixture {
    pub cluster: String,
    pub nodes: Vec<Fixture>,
}

/// What a fixture file describes: one node, or a cluster of them.
#[derive(Debug)]
pub enum Scenario {
    Node(Box<Fixture>),
    Cluster(ClusterFixture),
}

impl Scenario {
    /// A cluster when the text has `[[nodes]]`, else one node.
    pub fn parse(text: &str) -> Result<Self, FixtureError> {
        let table: toml::Table = toml::from_str(text)?;
        if table.contains_key("nodes") || table.contains_key("cluster") {
            let c: ClusterFixture = toml::from_str(text)?;
            c.check()?;
            Ok(Scenario::Cluster(c))
        } else {
            let f = Fixture::parse(text)?;
            if f.ip.is_some() || f.online.is_some() {
                return Err(FixtureError::Invalid(
                    "ip and online belong to the [[nodes]] of a cluster fixture".into(),
                ));
            }
            Ok(Scenario::Node(Box::new(f)))
        }
    }

    pub fn load(path: &Path) -> Result<Self, FixtureError> {
        Self::parse(&read(path)?)
    }
}

impl ClusterFixture {
    /// Names, addresses and vmids unique; every node with an address.
    fn check(&self) -> Result<(), FixtureError> {
        let invalid = |m: String| Err(FixtureError::Invalid(m));
        if self.nodes.is_empty() {
            return invalid("a cluster needs at least one [[nodes]] entry".into());
        }
        let mut names = std::collections::BTreeSet::new();
        let mut ips = std::collections::BTreeSet::new();
        let mut vmids = std::collections::BTreeMap::new();
        for n in &self.nodes {
            let Some(ip) = &n.ip else {
                return invalid(format!(
                    "node {:?} has no ip: give each node the address the others reach it on (ip = \"10.0.0.11\")",
                    n.node
                ));
            };
            if ip.parse::<std::net::IpAddr>().is_err() {
                return invalid(format!("node {:?}: ip {ip:?} is not an IP address", n.node));
            }
            if !names.insert(n.node.clone()) {
                return invalid(format!("two nodes are named {:?}", n.node));
            }
            if !ips.insert(ip.clone()) {
                return invalid(format!("two nodes have the address {ip}"));
            }
            let ids = n
                .containers
                .iter()
                .map(|c| c.vmid)
                .chain(n.vms.iter().map(|v| v.vmid));
            for id in ids {
                if let Some(other) = vmids.insert(id, n.node.clone()) {
                    return invalid(format!(
                        "vmid {id} is on {other:?} and on {:?}: a cluster has one vmid space",
                        n.node
                    ));
                }
            }
        }
        Ok(())
    }
}

fn read(path: &Path) -> Result<String, FixtureError> {
    std::fs::read_to_string(path).map_err(|source| FixtureError::Read {
        path: path.display().to_string(),
        source,
    })
}

fn default_node() -> String {
    "pve".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerSpec {
    pub vmid: u32,
    pub hostname: Option<String>,
    #[serde(default = "default_status")]
    pub status: Status,
    pub lock: Option<String>,
    #[serde(default)]
    pub template: bool,
    #[serde(default)]
    pub ha: bool,
    pub tags: Option<String>,
    /// `debian` (default) or `alpine` (no bash).
    #[serde(default = "default_ostype")]
    pub ostype: String,
    pub cores: Option<u32>,
    pub memory: Option<u32>,
    pub swap: Option<u32>,
    /// e.g. `8G`.
    pub disk: Option<String>,
    pub description: Option<String>,
    /// Any other config keys, verbatim (`net1 = "…"`, `onboot = "1"`).
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    #[serde(default)]
    pub files: Vec<FileSpec>,
    /// Fault: stop/shutdown fail and it keeps running.
    #[serde(default)]
    pub refuses_stop: bool,
    /// Fault: a clean shutdown is ignored (shutdown/reboot wait out their timeout).
    #[serde(default)]
    pub ignores_shutdown: bool,
    /// Live figures while it runs (`[containers.metrics]`: cpu, mem, netin, …).
    #[serde(default)]
    pub metrics: crate::host::Metrics,
}

/// One `[[vms]]` entry: a QEMU virtual machine on the node.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmSpec {
    pub vmid: u32,
    /// `name:` in the config; `qm list` shows `VM <vmid>` when absent.
    pub name: Option<String>,
    /// `running`, `paused` or `stopped` (default).
    #[serde(default = "default_vm_status")]
    pub status: VmStatus,
    /// MiB, default 512.
    pub memory: Option<u32>,
    /// Default 1.
    pub cores: Option<u32>,
    /// The boot disk's size (`scsi0: …,size=32G`), default `32G`.
    pub disk: Option<String>,
    /// `ostype:`, default `l26`.
    pub ostype: Option<String>,
    /// `true` → `agent: 1`, `false` → `agent: 0`, absent → no `agent:` key.
    pub agent: Option<bool>,
    pub lock: Option<String>,
    #[serde(default)]
    pub template: bool,
    #[serde(default)]
    pub ha: bool,
    pub description: Option<String>,
    pub tags: Option<String>,
    /// Any other config keys, verbatim (`startup = "down=30"`, `net1 = "…"`).
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Files in the guest, on top of a Debian layout.
    #[serde(default)]
    pub files: Vec<FileSpec>,
    /// Fault: the agent is configured but never answers (the 3 s ping times out).
    #[serde(default)]
    pub agent_hangs: bool,
    /// Fault: the guest ignores ACPI and agent shutdown requests.
    #[serde(default)]
    pub ignores_shutdown: bool,
    /// Live figures while it runs (`[vms.metrics]`).
    #[serde(default)]
    pub metrics: crate::host::Metrics,
}

fn default_vm_status() -> VmStatus {
    VmStatus::Stopped
}

fn default_status() -> Status {
    Status::Stopped
}

fn default_ostype() -> String {
    "debian".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    pub path: String,
    #[serde(default)]
    pub content: String,
    /// Octal string, e.g. "644". Directories when `dir = true`.
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub dir: bool,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct FaultSpec {
    pub latency_ms: u64,
    /// How long vzdump takes per guest (holding its `backup` lock).
    pub backup_ms: u64,
    pub drop_after_bytes: Option<u64>,
    pub drop_on_command: Option<String>,
    pub hang: Vec<String>,
    pub refuse_auth: bool,
    pub sftp: Option<SftpFault>,
}

impl Fixture {
    pub fn parse(text: &str) -> Result<Self, FixtureError> {
        Ok(toml::from_str(text)?)
    }

    pub fn load(path: &Path) -> Result<Self, FixtureError> {
        match Scenario::load(path)? {
            Scenario::Node(f) => Ok(*f),
            Scenario::Cluster(_) => Err(FixtureError::Invalid(format!(
                "{} describes a cluster ([[nodes]]): serve it with `mcp-remote-exec --fake-pve={}`, or start it with fake_pve::cluster::TestCluster",
                path.display(),
                path.display()
            ))),
        }
    }

    pub fn default_fixture() -> Self {
        Self::parse(DEFAULT_FIXTURE).expect("the bundled default fixture is valid")
    }

    /// Builds the host state this fixture describes.
    pub fn into_state(self) -> Result<State, FixtureError> {
        let pve = match self.pve {
            None => Pve::default(),
            Some(major) => Pve::from_major(major).ok_or_else(|| {
                FixtureError::Invalid(format!(
                    "pve = {major}: fake-pve plays Proxmox VE 8 or 9; use pve = 8 or pve = 9"
                ))
            })?,
        };
        let signal_policy = match self.signal_policy.as_deref() {
            None => pve.signal_policy(),
            Some("refuse-root") => SignalPolicy::RefuseRoot,
            Some("honour") | Some("honor") => SignalPolicy::Honour,
            Some(other) => {
                return Err(FixtureError::Invalid(format!(
                    "signal_policy = {other:?}: use \"refuse-root\" or \"honour\""
                )));
            }
        };
        let max_sessions = match self.max_sessions {
            None => DEFAULT_MAX_SESSIONS,
            Some(0) => {
                return Err(FixtureError::Invalid(
                    "max_sessions = 0: use at least 1 (sshd's default is 10)".into(),
                ));
            }
            Some(n) => n,
        };
        let mut fs = host_fs(&self.node);
        apply_files(&mut fs, &self.host_files)?;
        let mut containers = BTreeMap::new();
        for spec in self.containers {
            let ct = build_container(spec)?;
            if containers.insert(ct.vmid, ct).is_some() {
                return Err(FixtureError::Invalid("duplicate vmid".into()));
            }
        }
        let mut vms = BTreeMap::new();
        for spec in self.vms {
            let vm = build_vm(spec)?;
            let vmid = vm.vmid;
            if containers.contains_key(&vmid) {
                return Err(FixtureError::Invalid(format!(
                    "vmid {vmid} is given to a container and to a VM: one vmid space holds both kinds of guest"
                )));
            }
            if vms.insert(vmid, vm).is_some() {
                return Err(FixtureError::Invalid(format!("duplicate VM vmid {vmid}")));
            }
        }
        let f = self.faults;
        let mut state = State {
            node: self.node,
            fs,
            containers,
            vms,
            scripts: self.scripts,
            faults: Faults {
                latency: Duration::from_millis(f.latency_ms),
                backup_time: Duration::from_millis(f.backup_ms),
                drop_after_bytes: f.drop_after_bytes,
                drop_on_command: f.drop_on_command,
                hang: f.hang,
                refuse_auth: f.refuse_auth,
                sftp: f.sftp,
            },
            pve,
            signal_policy,
            max_sessions,
        };
        crate::host::cluster::write_standalone(&mut state);
        Ok(state)
    }
}

fn parse_mode(mode: Option<&str>, default: u32) -> Result<u32, FixtureError> {
    match mode {
        None => Ok(default),
        Some(m) => u32::from_str_radix(m, 8)
            .map_err(|_| FixtureError::Invalid(format!("mode {m:?} is not octal"))),
    }
}

fn apply_files(fs: &mut Fs, files: &[FileSpec]) -> Result<(), FixtureError> {
    for f in files {
        let invalid = |e: crate::fs::FsError| FixtureError::Invalid(format!("{}: {e}", f.path));
        if f.dir {
            fs.mkdir_all(&f.path, 0o755).map_err(invalid)?;
            fs.set_mode(&f.path, parse_mode(f.mode.as_deref(), 0o755)?)
                .map_err(invalid)?;
        } else {
            fs.mkdir_all(
                crate::fs::parent(&crate::fs::normalize("/", &f.path)),
                0o755,
            )
            .map_err(invalid)?;
            fs.write_file(&f.path, f.content.as_bytes(), 0o644)
                .map_err(invalid)?;
            fs.set_mode(&f.path, parse_mode(f.mode.as_deref(), 0o644)?)
                .map_err(invalid)?;
        }
    }
    Ok(())
}

/// A guest's vmid within Proxmox's range and its lock, if any, one of `known`; `what`
/// names the kind of guest in the error.
fn check_guest(
    what: &str,
    vmid: u32,
    lock: Option<&str>,
    known: &[&str],
) -> Result<(), FixtureError> {
    if !(100..=999_999_999).contains(&vmid) {
        return Err(FixtureError::Invalid(format!(
            "vmid {vmid} is outside 100..=999999999"
        )));
    }
    if let Some(lock) = lock
        && !known.contains(&lock)
    {
        return Err(FixtureError::Invalid(format!(
            "{what} {vmid}: unknown lock {lock:?} (known: {})",
            known.join(", ")
        )));
    }
    Ok(())
}

/// When a guest started that runs: `uptime` seconds ago (now when unset).
fn started_at(running: bool, metrics: &crate::host::Metrics) -> Option<u64> {
    running.then(|| crate::fs::now_secs().saturating_sub(metrics.uptime.unwrap_or(0)))
}

fn build_container(spec: ContainerSpec) -> Result<Container, FixtureError> {
    let vmid = spec.vmid;
    check_guest("container", vmid, spec.lock.as_deref(), LOCKS)?;
    let alpine = spec.ostype == "alpine";
    let hostname = spec.hostname.clone();
    let mut config = BTreeMap::new();
    config.insert("arch".into(), "amd64".into());
    config.insert("cores".into(), spec.cores.unwrap_or(1).to_string());
    if let Some(h) = &hostname {
        config.insert("hostname".into(), h.clone());
    }
    config.insert("memory".into(), spec.memory.unwrap_or(512).to_string());
    config.insert(
        "net0".into(),
        format!(
            "name=eth0,bridge=vmbr0,hwaddr={},ip=dhcp,type=veth",
            mac_of(vmid)
        ),
    );
    config.insert("ostype".into(), spec.ostype.clone());
    config.insert(
        "rootfs".into(),
        format!(
            "local-lvm:vm-{vmid}-disk-0,size={}",
            spec.disk.as_deref().unwrap_or("8G")
        ),
    );
    config.insert("swap".into(), spec.swap.unwrap_or(512).to_string());
    config.insert("unprivileged".into(), "1".into());
    if let Some(d) = &spec.description {
        config.insert("description".into(), d.clone());
    }
    if let Some(t) = &spec.tags {
        config.insert("tags".into(), t.clone());
    }
    if spec.template {
        config.insert("template".into(), "1".into());
    }
    config.extend(spec.config);

    let mut fs = if alpine {
        alpine_fs(hostname.as_deref().unwrap_or("localhost"))
    } else {
        debian_fs(hostname.as_deref().unwrap_or("localhost"))
    };
    apply_files(&mut fs, &spec.files)?;
    let started_at = started_at(spec.status == Status::Running, &spec.metrics);
    Ok(Container {
        vmid,
        status: spec.status,
        lock: spec.lock,
        template: spec.template,
        tags: spec.tags,
        ha_managed: spec.ha,
        config,
        lxc: Vec::new(),
        snapshots: Vec::new(),
        parent_snapshot: None,
        fs,
        refuses_stop: spec.refuses_stop,
        ignores_shutdown: spec.ignores_shutdown,
        started_at,
        metrics: spec.metrics,
    })
}

/// A Proxmox-style MAC address for guest `vmid`'s first NIC.
fn mac_of(vmid: u32) -> String {
    format!(
        "BC:24:11:{:02X}:{:02X}:{:02X}",
        (vmid >> 16) & 0xff,
        (vmid >> 8) & 0xff,
        vmid & 0xff
    )
}

/// A stable SMBIOS UUID for VM `vmid` (`smbios1: uuid=…`).
fn smbios_uuid(vmid: u32) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(format!("fake-pve vm {vmid}").as_bytes());
    let h: String = d.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

fn build_vm(spec: VmSpec) -> Result<Vm, FixtureError> {
    let vmid = spec.vmid;
    check_guest("VM", vmid, spec.lock.as_deref(), VM_LOCKS)?;
    if spec.template && spec.status != VmStatus::Stopped {
        return Err(FixtureError::Invalid(format!(
            "VM {vmid}: a template cannot be {}",
            spec.status.qmp()
        )));
    }
    let disk = spec.disk.as_deref().unwrap_or("32G");
    if crate::host::parse_size(disk).is_none() {
        return Err(FixtureError::Invalid(format!(
            "VM {vmid}: disk {disk:?} is not a size such as \"32G\""
        )));
    }
    let mut config = BTreeMap::new();
    let mut set = |k: &str, v: String| {
        config.insert(k.to_string(), v);
    };
    if let Some(agent) = spec.agent {
        set("agent", if agent { "1" } else { "0" }.into());
    }
    set("boot", "order=scsi0;ide2;net0".into());
    set("cores", spec.cores.unwrap_or(1).to_string());
    set("ide2", "none,media=cdrom".into());
    set("memory", spec.memory.unwrap_or(512).to_string());
    if let Some(name) = &spec.name {
        set("name", name.clone());
    }
    set(
        "net0",
        format!("virtio={},bridge=vmbr0,firewall=1", mac_of(vmid)),
    );
    set(
        "ostype",
        spec.ostype.clone().unwrap_or_else(|| "l26".into()),
    );
    set(
        "scsi0",
        format!("local-lvm:vm-{vmid}-disk-0,iothread=1,size={disk}"),
    );
    set("scsihw", "virtio-scsi-single".into());
    set("smbios1", format!("uuid={}", smbios_uuid(vmid)));
    if let Some(d) = &spec.description {
        set("description", d.clone());
    }
    if let Some(t) = &spec.tags {
        set("tags", t.clone());
    }
    config.extend(spec.config);
    for reserved in ["lock", "template", "digest"] {
        if config.contains_key(reserved) {
            return Err(FixtureError::Invalid(format!(
                "VM {vmid}: set {reserved} with its own key, not in config"
            )));
        }
    }
    let hostname = spec.name.clone().unwrap_or_else(|| "localhost".into());
    let mut fs = debian_fs(&hostname);
    apply_files(&mut fs, &spec.files)?;
    let started_at = started_at(spec.status.has_process(), &spec.metrics);
    Ok(Vm {
        vmid,
        status: spec.status,
        lock: spec.lock,
        template: spec.template,
        ha_managed: spec.ha,
        config,
        fs,
        procs: crate::process::ProcessTable::new(),
        execs: BTreeMap::new(),
        agent_hangs: spec.agent_hangs,
        ignores_shutdown: spec.ignores_shutdown,
        started_at,
        metrics: spec.metrics,
        snapshots: Vec::new(),
        parent_snapshot: None,
    })
}

fn put(fs: &mut Fs, path: &str, content: &str, mode: u32) {
    let _ = fs.mkdir_all(crate::fs::parent(path), 0o755);
    let _ = fs.write_file(path, content.as_bytes(), mode);
    let _ = fs.set_mode(path, mode);
}

fn dirs(fs: &mut Fs, list: &[&str]) {
    for d in list {
        let _ = fs.mkdir_all(d, 0o755);
    }
    let _ = fs.set_mode("/tmp", 0o1777);
    let _ = fs.set_mode("/root", 0o700);
}

const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
const GROUP: &str = "root:x:0:\ndaemon:x:1:\nwww-data:x:33:\nusers:x:100:\nnogroup:x:65534:\n";

/// The Debian 12 layout the node and its Debian guests share: the directories every
/// one has and `extra`, `/etc/hostname`, the release files, the users and groups,
/// bash and sh.
fn debian_layout(hostname: &str, extra: &[&str]) -> Fs {
    let mut fs = Fs::new();
    let mut all = vec![
        "/root",
        "/tmp",
        "/home",
        "/var/log",
        "/usr/bin",
        "/usr/sbin",
        "/bin",
    ];
    all.extend(extra);
    dirs(&mut fs, &all);
    put(&mut fs, "/etc/hostname", &format!("{hostname}\n"), 0o644);
    put(
        &mut fs,
        "/etc/os-release",
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\nHOME_URL=\"https://www.debian.org/\"\n",
        0o644,
    );
    put(&mut fs, "/etc/debian_version", "12.8\n", 0o644);
    put(&mut fs, "/etc/passwd", PASSWD, 0o644);
    put(&mut fs, "/etc/group", GROUP, 0o644);
    put(&mut fs, "/bin/bash", "", 0o755);
    put(&mut fs, "/bin/sh", "", 0o755);
    fs
}

/// The node's own filesystem: the SFTP root.
pub fn host_fs(node: &str) -> Fs {
    let mut fs = debian_layout(
        node,
        &[
            "/etc/pve/lxc",
            "/etc/pve/qemu-server",
            "/var/lib/vz/dump",
            "/var/lib/vz/template/cache",
        ],
    );
    put(&mut fs, "/usr/sbin/pct", "", 0o755);
    put(&mut fs, "/usr/sbin/qm", "", 0o755);
    put(&mut fs, "/var/log/syslog", "", 0o640);
    fs
}

/// A Debian 12 container's filesystem.
pub fn debian_fs(hostname: &str) -> Fs {
    let mut fs = debian_layout(hostname, &["/etc/apt", "/var/www", "/opt", "/srv"]);
    put(
        &mut fs,
        "/etc/hosts",
        &format!("127.0.0.1\tlocalhost\n127.0.1.1\t{hostname}\n"),
        0o644,
    );
    put(&mut fs, "/root/.bashrc", "# ~/.bashrc\n", 0o644);
    put(
        &mut fs,
        "/var/log/syslog",
        "Jan 10 12:00:00 localhost systemd[1]: Started Journal Service.\n",
        0o640,
    );
    fs
}

/// An Alpine container: `sh` only, no bash.
pub fn alpine_fs(hostname: &str) -> Fs {
    let mut fs = Fs::new();
    dirs(
        &mut fs,
        &[
            "/root", "/tmp", "/home", "/var/log", "/usr/bin", "/bin", "/etc/apk",
        ],
    );
    put(&mut fs, "/etc/hostname", &format!("{hostname}\n"), 0o644);
    put(
        &mut fs,
        "/etc/os-release",
        "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\n",
        0o644,
    );
    put(&mut fs, "/etc/alpine-release", "3.20.3\n", 0o644);
    put(
        &mut fs,
        "/etc/passwd",
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n",
        0o644,
    );
    put(
        &mut fs,
        "/etc/group",
        "root:x:0:root\nnogroup:x:65533:\n",
        0o644,
    );
    put(&mut fs, "/bin/sh", "", 0o755);
    put(&mut fs, "/bin/busybox", "", 0o755);
    fs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_fixture_has_the_plugin_examples() {
        let state = Fixture::default_fixture().into_state().unwrap();
        assert_eq!(state.node, "pve");
        let summary: Vec<(u32, &str, Status)> = state
            .containers
            .values()
            .map(|c| (c.vmid, c.hostname().unwrap(), c.status))
            .collect();
        assert_eq!(
            summary,
            [
                (100, "webserver", Status::Running),
                (101, "database", Status::Stopped),
                (102, "cache", Status::Running)
            ]
        );
        assert!(state.containers[&100].fs.exists("/etc/os-release"));
        let vms: Vec<(u32, String, VmStatus, Option<&str>)> = state
            .vms
            .values()
            .map(|v| {
                (
                    v.vmid,
                    v.name(),
                    v.status,
                    v.config.get("agent").map(String::as_str),
                )
            })
            .collect();
        assert_eq!(
            vms,
            [
                (200, "vm1".into(), VmStatus::Running, Some("1")),
                (201, "vm2".into(), VmStatus::Stopped, Some("1"))
            ]
        );
        assert!(state.vms[&200].fs.exists("/etc/os-release"));
        assert!(!state.vms[&200].agent_hangs);
    }

    #[test]
    fn the_example_in_the_fixture_readme_loads() {
        let readme = include_str!("../../fixtures/README.md");
        let start = readme.find("```toml\n").expect("a toml block") + 8;
        let len = readme[start..].find("```").expect("its end");
        let state = Fixture::parse(&readme[start..start + len])
            .unwrap()
            .into_state()
            .unwrap();
        let vm = &state.vms[&200];
        assert_eq!(vm.config.get("agent").map(String::as_str), Some("1"));
        assert_eq!(
            vm.config.get("startup").map(String::as_str),
            Some("down=30")
        );
        assert!(vm.fs.exists("/etc/app.conf"));
    }

    #[test]
    fn one_vmid_space_holds_containers_and_vms() {
        let err = Fixture::parse("[[containers]]\nvmid = 100\n\n[[vms]]\nvmid = 100\n")
            .unwrap()
            .into_state()
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("vmid 100 is given to a container and to a VM"),
            "{err}"
        );
        let err = Fixture::parse("[[vms]]\nvmid = 200\nlock = \"mounted\"\n")
            .unwrap()
            .into_state()
            .unwrap_err();
        assert!(err.to_string().contains("unknown lock"), "{err}");
        assert!(Fixture::parse("[[vms]]\nvmid = 200\nbogus = 1\n").is_err());
    }

    #[test]
    fn bad_fixtures_say_what_is_wrong() {
        let err = Fixture::parse("[[containers]]\nvmid = 99\n")
            .unwrap()
            .into_state()
            .unwrap_err();
        assert!(err.to_string().contains("vmid 99"), "{err}");
        let err = Fixture::parse("[[containers]]\nvmid = 100\nlock = \"nope\"\n")
            .unwrap()
            .into_state()
            .unwrap_err();
        assert!(err.to_string().contains("unknown lock"), "{err}");
        assert!(Fixture::parse("bogus = 1\n").is_err());
    }

    #[test]
    fn max_sessions_defaults_to_sshds_ten_and_must_be_positive() {
        let state = Fixture::default_fixture().into_state().unwrap();
        assert_eq!(state.max_sessions, 10);
        let state = Fixture::parse("max_sessions = 3\n")
            .unwrap()
            .into_state()
            .unwrap();
        assert_eq!(state.max_sessions, 3);
        let err = Fixture::parse("max_sessions = 0\n")
            .unwrap()
            .into_state()
            .unwrap_err();
        assert!(err.to_string().contains("max_sessions = 0"), "{err}");
        assert!(Fixture::parse("max_sessions = -1\n").is_err());
        assert!(Fixture::parse("max_sessions = \"10\"\n").is_err());
    }
}
