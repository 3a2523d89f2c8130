//! The execute step: a parsed [`Request`]'s result over the node's state, as the JSON
//! value the API method returns (rendered by `format`), or the error it dies with.
//!
//! Figures: a stopped container reports 0 for every live value; a running one reports
//! its fixture's `[containers.metrics]`, else what its config gives (memory in use an
//! eighth of its memory, disk the bytes of its filesystem, the rest 0). The node's own
//! figures are the ones `nproc`, `free`, `df` and `uptime` print on the fake.

use serde_json::{Map, Value, json};

use super::Reply;
use super::cli::{DIE, Endpoint, Kind, Request, Timeframe};
use crate::host::{Container, State, Status};
use crate::vm::{Vm, kvm_pid};

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;
/// The node's figures, as `nproc`, `free`, `df` and `uptime` show them.
const NODE_CPUS: u64 = 2;
const NODE_MEM: u64 = 16 * GIB;
const NODE_SWAP: u64 = 8 * GIB;
const NODE_DISK: u64 = 100 * GIB;
const NODE_UPTIME: u64 = 3 * 86400 + 4 * 3600 + 5 * 60;
/// The node's CPU use with no guest running.
const NODE_IDLE_CPU: f64 = 0.01;

/// A float as Perl's JSON prints it: integral values without a fraction.
pub fn num(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        Value::from(x as i64)
    } else {
        Value::from(x)
    }
}

fn round(x: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (x * m).round() / m
}

fn no_config(state: &State, vmid: u32) -> Reply {
    Reply::err(
        format!(
            "Configuration file 'nodes/{}/lxc/{vmid}.conf' does not exist\n",
            state.node
        ),
        DIE,
    )
}

/// The node a `{node}` part names, or pvesh's error for a node it cannot reach.
pub(crate) fn local_node(state: &State, node: &str) -> Result<(), Reply> {
    if node == "localhost" || node == state.node {
        return Ok(());
    }
    Err(Reply::err(
        format!(
            "hostname lookup '{node}' failed - failed to get address info for: {node}: Name or service not known\n"
        ),
        DIE,
    ))
}

/// One guest's figures now (a container's, or a VM's for its rrddata).
pub struct Figures {
    pub running: bool,
    pub cpus: u64,
    pub cpu: f64,
    pub mem: u64,
    pub maxmem: u64,
    pub swap: u64,
    pub maxswap: u64,
    pub disk: u64,
    pub maxdisk: u64,
    pub netin: u64,
    pub netout: u64,
    pub diskread: u64,
    pub diskwrite: u64,
    pub uptime: u64,
}

/// `cpus`: the cores, else the CPU limit, else the node's CPUs (LXC.pm:294-295).
fn cpus(ct: &Container) -> u64 {
    let get = |k: &str| {
        ct.config
            .get(k)
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| *v > 0.0)
    };
    get("cores")
        .or_else(|| get("cpulimit"))
        .map(|v| v.ceil() as u64)
        .unwrap_or(NODE_CPUS)
}

pub fn figures(ct: &Container, now: u64) -> Figures {
    let running = ct.status == Status::Running;
    let maxmem = ct.memory_mib() * MIB;
    let maxswap = ct
        .config
        .get("swap")
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0)
        * MIB;
    let m = &ct.metrics;
    let live = |v: Option<u64>, default: u64| if running { v.unwrap_or(default) } else { 0 };
    Figures {
        running,
        cpus: cpus(ct),
        cpu: if running { m.cpu.unwrap_or(0.0) } else { 0.0 },
        mem: live(m.mem, maxmem / 8),
        maxmem,
        swap: live(m.swap, 0),
        maxswap,
        disk: live(m.disk, ct.fs.used_bytes()),
        maxdisk: ct.rootfs_bytes(),
        netin: live(m.netin, 0),
        netout: live(m.netout, 0),
        diskread: live(m.diskread, 0),
        diskwrite: live(m.diskwrite, 0),
        uptime: if running {
            ct.started_at.map(|t| now.saturating_sub(t)).unwrap_or(0)
        } else {
            0
        },
    }
}

/// The container's name: hostname without whitespace, or `CT<vmid>`.
fn name(ct: &Container) -> String {
    match ct.hostname() {
        Some(h) if !h.is_empty() => h.chars().filter(|c| !c.is_whitespace()).collect(),
        _ => format!("CT{}", ct.vmid),
    }
}

/// `PVE::LXC::vmstatus` for one container (LXC.pm:261-415).
fn vmstatus(ct: &Container, now: u64) -> Map<String, Value> {
    let f = figures(ct, now);
    let mut d = Map::new();
    d.insert("cpu".into(), num(round(f.cpu, 4)));
    d.insert("cpus".into(), f.cpus.into());
    d.insert("disk".into(), f.disk.into());
    d.insert("diskread".into(), f.diskread.into());
    d.insert("diskwrite".into(), f.diskwrite.into());
    d.insert("maxdisk".into(), f.maxdisk.into());
    d.insert("maxmem".into(), f.maxmem.into());
    d.insert("maxswap".into(), f.maxswap.into());
    d.insert("mem".into(), f.mem.into());
    d.insert("name".into(), name(ct).into());
    d.insert("netin".into(), f.netin.into());
    d.insert("netout".into(), f.netout.into());
    d.insert("status".into(), ct.status.as_str().into());
    d.insert("swap".into(), f.swap.into());
    d.insert("type".into(), "lxc".into());
    d.insert("uptime".into(), f.uptime.into());
    d.insert("vmid".into(), ct.vmid.into());
    if f.running {
        d.insert("pid".into(), crate::host::init_pid(ct.vmid).into());
        for p in crate::host::PRESSURE_KEYS {
            d.insert((*p).into(), 0.into());
        }
    }
    if let Some(tags) = &ct.tags {
        d.insert("tags".into(), tags.clone().into());
    }
    if ct.template {
        d.insert("template".into(), 1.into());
    }
    if let Some(lock) = &ct.lock {
        d.insert("lock".into(), lock.clone().into());
    }
    d
}

fn container(state: &State, vmid: u32) -> Result<&Container, Reply> {
    state
        .containers
        .get(&vmid)
        .ok_or_else(|| no_config(state, vmid))
}

fn node_mem() -> u64 {
    NODE_MEM / 5
}

fn node_disk(state: &State) -> u64 {
    state.fs.used_bytes() + 5 * GIB
}

/// The node's CPU use: idle, plus what its running guests use.
fn node_cpu(state: &State, now: u64) -> f64 {
    let guests: f64 = state
        .containers
        .values()
        .map(|ct| {
            let f = figures(ct, now);
            f.cpu * f.cpus as f64
        })
        .sum::<f64>()
        + state
            .vms
            .values()
            .filter(|vm| vm.status.has_process())
            .map(|vm| vm.metrics.cpu.unwrap_or(0.0) * vm.cpus() as f64)
            .sum::<f64>();
    round((NODE_IDLE_CPU + guests / NODE_CPUS as f64).min(1.0), 4)
}

/// A stable stand-in for the node's certificate fingerprint (SHA-256, colon-separated).
fn fingerprint(node: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("fake-pve node certificate {node}").as_bytes());
    digest
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A `/nodes` row (Nodes.pm:2908-2998).
pub(super) fn node_row(state: &State, now: u64) -> Value {
    json!({
        "cpu": num(node_cpu(state, now)),
        "disk": node_disk(state),
        "id": format!("node/{}", state.node),
        "level": "",
        "maxcpu": NODE_CPUS,
        "maxdisk": NODE_DISK,
        "maxmem": NODE_MEM,
        "mem": node_mem(),
        "node": state.node,
        "ssl_fingerprint": fingerprint(&state.node),
        "status": "online",
        "type": "node",
        "uptime": NODE_UPTIME,
    })
}

/// `/nodes/{node}/status`. The spec does not give this shape: these are the keys of
/// the API schema fake-pve knows (see docs/pvesh-fidelity.md).
fn node_status(state: &State, now: u64) -> Value {
    let used = node_mem();
    let disk = node_disk(state);
    let ((version, _, repoid), (kernel, _)) = (state.pve.manager(), state.pve.kernel());
    json!({
        "cpu": num(node_cpu(state, now)),
        "cpuinfo": {"cores": NODE_CPUS, "cpus": NODE_CPUS, "model": "fake-pve virtual CPU", "sockets": 1},
        "idle": 0,
        "kversion": format!("Linux {kernel}"),
        "loadavg": ["0.08", "0.03", "0.01"],
        "memory": {"free": NODE_MEM - used, "total": NODE_MEM, "used": used},
        "pveversion": format!("pve-manager/{version}/{repoid}"),
        "rootfs": {"avail": NODE_DISK - disk, "free": NODE_DISK - disk, "total": NODE_DISK, "used": disk},
        "swap": {"free": NODE_SWAP, "total": NODE_SWAP, "used": 0},
        "uptime": NODE_UPTIME,
        "wait": 0,
    })
}

/// A guest row of `/cluster/resources` (Cluster.pm, API2Tools.pm:22-145).
fn guest_resource(state: &State, ct: &Container, now: u64) -> Value {
    let f = figures(ct, now);
    let mut row = json!({
        "cpu": num(round(f.cpu, 4)),
        "disk": f.disk,
        "diskread": f.diskread,
        "diskwrite": f.diskwrite,
        "id": format!("lxc/{}", ct.vmid),
        "maxcpu": f.cpus,
        "maxdisk": f.maxdisk,
        "maxmem": f.maxmem,
        "mem": f.mem,
        "memhost": 0,
        "name": name(ct),
        "netin": f.netin,
        "netout": f.netout,
        "node": state.node,
        "status": ct.status.as_str(),
        "template": u8::from(ct.template),
        "type": "lxc",
        "uptime": f.uptime,
        "vmid": ct.vmid,
    });
    let obj = row.as_object_mut().expect("an object");
    if let Some(lock) = &ct.lock {
        obj.insert("lock".into(), lock.clone().into());
    }
    if let Some(tags) = &ct.tags {
        obj.insert("tags".into(), tags.clone().into());
    }
    if ct.ha_managed {
        let hastate = if f.running { "started" } else { "stopped" };
        obj.insert("hastate".into(), hastate.into());
    }
    row
}

/// The node in `/cluster/resources`: its `/nodes` row without the fingerprint, with
/// the cgroup mode.
fn node_resource(state: &State, now: u64) -> Value {
    let mut row = node_row(state, now);
    if let Some(map) = row.as_object_mut() {
        map.remove("ssl_fingerprint");
        map.insert("cgroup-mode".into(), 2.into());
    }
    row
}

/// The node's storages (`crate::backup::STORAGES`: `local`, a directory on the root
/// filesystem, and `local-lvm`, the thin pool the containers' root disks are on).
fn storage_resources(state: &State) -> Vec<Value> {
    let node = &state.node;
    let thin_used: u64 = state
        .containers
        .values()
        .map(|c| c.fs.used_bytes())
        .sum::<u64>()
        + state.vms.values().map(|v| v.fs.used_bytes()).sum::<u64>();
    crate::backup::STORAGES
        .iter()
        .map(|s| {
            let (disk, maxdisk) = match s.kind {
                "dir" => (node_disk(state), NODE_DISK),
                _ => (thin_used, 4 * NODE_DISK),
            };
            json!({
                "content": s.content.join(","), "disk": disk,
                "id": format!("storage/{node}/{}", s.name), "maxdisk": maxdisk, "node": node,
                "plugintype": s.kind, "shared": 0, "status": "available", "storage": s.name,
                "type": "storage",
            })
        })
        .collect()
}

/// A VM's live figures now: the fixture's `[vms.metrics]` while it runs (memory in
/// use an eighth of its memory by default), 0 when stopped.
struct VmFigures {
    running: bool,
    cpu: f64,
    mem: u64,
    netin: u64,
    netout: u64,
    diskread: u64,
    diskwrite: u64,
}

fn vm_figures(vm: &Vm) -> VmFigures {
    let running = vm.status.has_process();
    let m = &vm.metrics;
    let live = |v: Option<u64>, default: u64| if running { v.unwrap_or(default) } else { 0 };
    VmFigures {
        running,
        cpu: if running { m.cpu.unwrap_or(0.0) } else { 0.0 },
        mem: live(m.mem, vm.memory_bytes() / 8),
        netin: live(m.netin, 0),
        netout: live(m.netout, 0),
        diskread: live(m.diskread, 0),
        diskwrite: live(m.diskwrite, 0),
    }
}

/// `PVE::QemuServer::vmstatus` of one VM (QemuServer.pm:2535-2783); `full` adds
/// what only a QMP query gives (`qmpstatus`, the running machine and QEMU).
fn qemu_vmstatus(vm: &Vm, full: bool, now: u64) -> Map<String, Value> {
    let f = vm_figures(vm);
    let mut d = Map::new();
    d.insert("cpu".into(), num(round(f.cpu, 4)));
    d.insert("cpus".into(), vm.cpus().into());
    d.insert("disk".into(), 0.into());
    d.insert("diskread".into(), f.diskread.into());
    d.insert("diskwrite".into(), f.diskwrite.into());
    d.insert("maxdisk".into(), vm.bootdisk_bytes().into());
    d.insert("maxmem".into(), vm.memory_bytes().into());
    d.insert("mem".into(), f.mem.into());
    d.insert("memhost".into(), f.mem.into());
    d.insert("name".into(), vm.name().into());
    d.insert("netin".into(), f.netin.into());
    d.insert("netout".into(), f.netout.into());
    d.insert("status".into(), vm.status.coarse().into());
    d.insert("uptime".into(), vm.uptime_at(now).into());
    d.insert("vmid".into(), vm.vmid.into());
    if f.running {
        d.insert("pid".into(), kvm_pid(vm.vmid).into());
        for p in crate::host::PRESSURE_KEYS {
            d.insert((*p).into(), 0.into());
        }
    }
    if full {
        d.insert("qmpstatus".into(), vm.status.qmp().into());
        if f.running {
            d.insert("running-machine".into(), crate::qm::RUNNING_MACHINE.into());
            d.insert("running-qemu".into(), crate::qm::RUNNING_QEMU.into());
        }
    }
    if let Some(tags) = vm.config.get("tags") {
        d.insert("tags".into(), tags.clone().into());
    }
    if vm.template {
        d.insert("template".into(), 1.into());
    }
    if let Some(lock) = &vm.lock {
        d.insert("lock".into(), lock.clone().into());
    }
    d
}

/// A `qemu/<vmid>` row of `/cluster/resources`; a VM's `disk` is always 0.
fn vm_resource(state: &State, vm: &Vm, now: u64) -> Value {
    let f = vm_figures(vm);
    let mut row = json!({
        "cpu": num(round(f.cpu, 4)),
        "disk": 0,
        "diskread": f.diskread,
        "diskwrite": f.diskwrite,
        "id": format!("qemu/{}", vm.vmid),
        "maxcpu": vm.cpus(),
        "maxdisk": vm.bootdisk_bytes(),
        "maxmem": vm.memory_bytes(),
        "mem": f.mem,
        "memhost": f.mem,
        "name": vm.name(),
        "netin": f.netin,
        "netout": f.netout,
        "node": state.node,
        "status": vm.status.coarse(),
        "template": u8::from(vm.template),
        "type": "qemu",
        "uptime": vm.uptime_at(now),
        "vmid": vm.vmid,
    });
    let obj = row.as_object_mut().expect("an object");
    if let Some(lock) = &vm.lock {
        obj.insert("lock".into(), lock.clone().into());
    }
    if let Some(tags) = vm.config.get("tags") {
        obj.insert("tags".into(), tags.clone().into());
    }
    if vm.ha_managed {
        let hastate = if f.running { "started" } else { "stopped" };
        obj.insert("hastate".into(), hastate.into());
    }
    row
}

pub(super) fn cluster_resources(state: &State, kind: Option<Kind>, now: u64) -> Value {
    let mut rows = Vec::new();
    if matches!(kind, None | Some(Kind::Vm)) {
        // vmids sorted as strings: 1000 before 200; containers and VMs together.
        let mut guests: Vec<(String, Value)> = state
            .containers
            .values()
            .map(|c| (c.vmid.to_string(), guest_resource(state, c, now)))
            .chain(
                state
                    .vms
                    .values()
                    .map(|v| (v.vmid.to_string(), vm_resource(state, v, now))),
            )
            .collect();
        guests.sort_by(|a, b| a.0.cmp(&b.0));
        rows.extend(guests.into_iter().map(|(_, row)| row));
    }
    if matches!(kind, None | Some(Kind::Node)) {
        rows.push(node_resource(state, now));
    }
    if matches!(kind, None | Some(Kind::Storage)) {
        rows.extend(storage_resources(state));
    }
    if kind.is_none() {
        rows.push(json!({
            "id": format!("network/{}/zone/localnetwork", state.node),
            "network": "localnetwork", "network-type": "zone", "node": state.node,
            "status": "ok", "type": "network",
        }));
    }
    Value::Array(rows)
}

/// A deterministic wobble in 0.8..=1.2 for row `i`.
fn wobble(i: u64) -> f64 {
    0.8 + 0.04 * ((i * 7 + 3) % 11) as f64
}

/// A VM's figures as pvestatd records them (`disk` 0, `maxdisk` the boot disk).
fn vm_rrd_figures(vm: &Vm, now: u64) -> Figures {
    let v = vm_figures(vm);
    Figures {
        running: v.running,
        cpus: vm.cpus(),
        cpu: v.cpu,
        mem: v.mem,
        maxmem: vm.memory_bytes(),
        swap: 0,
        maxswap: 0,
        disk: 0,
        maxdisk: vm.bootdisk_bytes(),
        netin: v.netin,
        netout: v.netout,
        diskread: v.diskread,
        diskwrite: v.diskwrite,
        uptime: vm.uptime_at(now),
    }
}

/// `rrddata`: one row per step, oldest first, the last step before `now`. Rows
/// before the guest's start (all of them when it is stopped) have only what
/// pvestatd records for a stopped guest. `memhost`: a VM's host memory is its
/// `mem`; a container's is 0.
fn rrddata(f: &Figures, memhost: bool, timeframe: Timeframe, max: bool, now: u64) -> Value {
    let (step, count) = timeframe.step_and_rows();
    let end = now / step * step;
    let started = if f.running {
        now.saturating_sub(f.uptime)
    } else {
        u64::MAX
    };
    let rate = |total: u64| total as f64 / f.uptime.max(1) as f64;
    let peak = if max && timeframe != Timeframe::Hour {
        1.25
    } else {
        1.0
    };
    let rows = (0..count)
        .map(|i| {
            let time = end - step * (count - i);
            let mut row = Map::new();
            row.insert("time".into(), time.into());
            row.insert("maxcpu".into(), f.cpus.into());
            row.insert("maxmem".into(), f.maxmem.into());
            row.insert("maxdisk".into(), f.maxdisk.into());
            if time < started {
                row.insert("disk".into(), 0.into());
                return Value::Object(row);
            }
            let w = wobble(i) * peak;
            let cpu = (f.cpu * w).min(1.0);
            let mem = (f.mem as f64 * w).min(f.maxmem as f64);
            row.insert("cpu".into(), num(round(cpu, 6)));
            row.insert("mem".into(), num(round(mem, 2)));
            let host = if memhost {
                num(round(mem, 2))
            } else {
                0.into()
            };
            row.insert("memhost".into(), host);
            row.insert("disk".into(), f.disk.into());
            for (k, total) in [
                ("netin", f.netin),
                ("netout", f.netout),
                ("diskread", f.diskread),
                ("diskwrite", f.diskwrite),
            ] {
                row.insert(k.into(), num(round(rate(total) * w, 2)));
            }
            for p in crate::host::PRESSURE_KEYS {
                row.insert((*p).into(), 0.into());
            }
            Value::Object(row)
        })
        .collect();
    Value::Array(rows)
}

/// A guest's `ha` member of `status/current`: HA's requested state when it is managed.
fn ha_status(managed: bool, running: bool) -> Value {
    if !managed {
        return json!({"managed": 0});
    }
    let state = if running { "started" } else { "stopped" };
    json!({"managed": 1, "state": state})
}

/// What the method returns for `req`, or the error pvesh prints. `now`: seconds
/// since the epoch.
pub fn execute(req: &Request, state: &State, now: u64) -> Result<Value, Reply> {
    Ok(match &req.endpoint {
        Endpoint::Version => {
            let (version, release, repoid) = state.pve.manager();
            json!({"release": release, "repoid": repoid, "version": version})
        }
        Endpoint::Nodes => Value::Array(vec![node_row(state, now)]),
        Endpoint::ClusterStatus => {
            return Err(super::cli::not_emulated(
                "/cluster/status of a standalone node",
            ));
        }
        Endpoint::ClusterResources { kind } => cluster_resources(state, *kind, now),
        Endpoint::NodeStatus { node } => {
            local_node(state, node)?;
            node_status(state, now)
        }
        Endpoint::NodeLxc { node } => {
            local_node(state, node)?;
            let rows = state.containers.values().map(|ct| vmstatus(ct, now));
            Value::Array(rows.map(Value::Object).collect())
        }
        Endpoint::LxcCurrent { node, vmid } => {
            local_node(state, node)?;
            let ct = container(state, *vmid)?;
            let mut d = vmstatus(ct, now);
            d.insert(
                "ha".into(),
                ha_status(ct.ha_managed, ct.status == Status::Running),
            );
            Value::Object(d)
        }
        Endpoint::NodeQemu { node } => {
            local_node(state, node)?;
            let rows = state.vms.values().map(|vm| qemu_vmstatus(vm, false, now));
            Value::Array(rows.map(Value::Object).collect())
        }
        Endpoint::QemuCurrent { node, vmid } => {
            local_node(state, node)?;
            let Some(vm) = state.vms.get(vmid) else {
                return Err(Reply::err(
                    format!("{}\n", crate::qm::no_config_text(&state.node, *vmid)),
                    DIE,
                ));
            };
            let mut d = qemu_vmstatus(vm, true, now);
            if vm.agent_enabled() {
                d.insert("agent".into(), 1.into());
            }
            d.insert(
                "ha".into(),
                ha_status(vm.ha_managed, vm.status.has_process()),
            );
            Value::Object(d)
        }
        Endpoint::AgentFileRead { .. } | Endpoint::AgentFileWrite { .. } => {
            return Err(super::cli::not_emulated(
                "the agent's file endpoints outside a running pvesh",
            ));
        }
        // Not proxied to `{node}` (the method has no `proxyto`): read from the local
        // RRD cache whatever node the path names. The cache has one RRD per vmid
        // (`pve2-vm/<vmid>`) and the method loads no config, so `lxc/` and `qemu/`
        // both serve whichever guest has the id.
        Endpoint::Rrd {
            vmid,
            timeframe,
            max,
            ..
        } => match (state.containers.get(vmid), state.vms.get(vmid)) {
            (Some(ct), _) => rrddata(&figures(ct, now), false, *timeframe, *max, now),
            (None, Some(vm)) => rrddata(&vm_rrd_figures(vm, now), true, *timeframe, *max, now),
            (None, None) => {
                return Err(super::cli::not_emulated(&format!(
                    "rrddata of a guest that does not exist ({vmid})"
                )));
            }
        },
    })
}
