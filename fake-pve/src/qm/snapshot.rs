//! VM snapshots (qm-fidelity.md §12): `qm snapshot`, `listsnapshot`, `rollback`,
//! `delsnapshot`, and the snapshot sections `qm config --snapshot` prints (§7).
//!
//! A snapshot keeps a copy of the VM's config and of its filesystem; one taken with
//! `--vmstate 1` of a running VM also records that the RAM was saved, so that a
//! rollback to it ends with the VM running. Only `qm snapshot` waits (the agent's ping
//! of the freeze step, the RAM save): it takes the `snapshot` lock under one short
//! state lock, waits with the state unlocked, and finishes under another.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{agent, die, no_config_text};
use crate::backup;
use crate::fs::now_secs;
use crate::guest::Snapshot;
use crate::host::State;
use crate::io::Io;
use crate::proc::Ctx;
use crate::reply::Reply;
use crate::unix::SIGPIPE_STATUS;
use crate::vm::{RamState, Vm, VmSnapshot};

/// How long the fake's RAM save takes (the `completed saving` line says it).
const VMSTATE_SAVE: Duration = Duration::from_secs(1);

/// The CPU a running fake VM reports (`runningcpu:` of a RAM snapshot): qemu-server's
/// default CPU model with the flags it adds for KVM.
const RUNNING_CPU: &str = "x86-64-v2-AES,enforce,+kvm_pv_eoi,+kvm_pv_unhalt";

fn locked(lock: &str) -> Reply {
    die(format!("VM is locked ({lock})"))
}

fn find<'a>(vm: &'a Vm, name: &str) -> Option<&'a VmSnapshot> {
    vm.snapshots.iter().find(|s| s.snap.name == name)
}

fn no_snapshot(name: &str) -> Reply {
    die(format!("snapshot '{name}' does not exist"))
}

/// pve-common's `render_bytes` (precision 2): `256.00 MiB`, `1.51 GiB`.
fn render_bytes(value: u64) -> String {
    const UNITS: &[&str] = &["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = value as f64;
    let mut unit = 0;
    while v > 1023.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.2} {}", UNITS[unit])
}

/// The storage of a volume id (`local-lvm:vm-200-disk-0` → `local-lvm`).
fn storage_of(volid: &str) -> Option<&str> {
    volid.split_once(':').map(|(s, _)| s)
}

/// The volume id of a drive value (`local-lvm:vm-200-disk-0,iothread=1,size=32G`).
fn volid_of(drive: &str) -> &str {
    drive.split(',').next().unwrap_or("")
}

/// `has_feature('snapshot')` over the VM's disks: LVM-thin volumes and qcow2 files on
/// a directory storage have snapshots; raw or vmdk files and passed-through devices do
/// not.
fn snapshot_feature(vm: &Vm) -> Result<(), String> {
    for (_, drive) in vm.drives_in_order() {
        let volid = volid_of(drive);
        let Some((sid, volname)) = volid.split_once(':') else {
            return Err("snapshot feature is not available".into());
        };
        let Some(st) = backup::storage(sid) else {
            return Err(format!("storage '{sid}' does not exist"));
        };
        let ok = match st.kind {
            "lvmthin" => true,
            "dir" => volname.ends_with(".qcow2"),
            _ => false,
        };
        if !ok {
            return Err("snapshot feature is not available".into());
        }
    }
    Ok(())
}

/// `find_vmstate_storage`: `vmstatestorage`, else a storage the VM's disks are on
/// (a file-based one preferred), else `local`.
fn vmstate_storage(vm: &Vm) -> String {
    if let Some(s) = vm.config.get("vmstatestorage") {
        return s.clone();
    }
    let mut target: Option<&str> = None;
    for (_, drive) in vm.drives_in_order() {
        let Some(sid) = storage_of(volid_of(drive)) else {
            continue;
        };
        let file_based = backup::storage(sid).is_some_and(|st| st.kind == "dir");
        if target.is_none() || file_based {
            target = Some(sid);
        }
    }
    target.unwrap_or("local").to_string()
}

/// The state volume a RAM save allocates on `storage`.
fn vmstate_volid(storage: &str, vmid: u32, snapname: &str) -> String {
    match backup::storage(storage).map(|st| st.kind) {
        Some("dir") => format!("{storage}:{vmid}/vm-{vmid}-state-{snapname}.raw"),
        _ => format!("{storage}:vm-{vmid}-state-{snapname}"),
    }
}

/// Config keys `__snapshot_copy_config` leaves out of a snapshot: the description
/// (the snapshot has its own) and the unused disks.
fn kept_out_of_snapshots(key: &str) -> bool {
    key == "description"
        || key
            .strip_prefix("unused")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Devices that cannot be migrated, which a RAM save refuses.
fn non_migratable(vm: &Vm) -> bool {
    vm.config
        .iter()
        .any(|(k, v)| k.starts_with("hostpci") || (k.starts_with("usb") && v.contains("host=")))
}

/// What `qm snapshot` found before it waits.
struct Plan {
    /// The storage of the RAM save, when the RAM is saved.
    vmstate: Option<String>,
    /// The freeze step: `Some(true)` asks the agent, `Some(false)` skips it as
    /// disabled, `None` has no freeze step (stopped, or a RAM save).
    freeze: Option<bool>,
    snaptime: u64,
    config: BTreeMap<String, String>,
    used_mem: u64,
}

fn snapshot_prepare(
    state: &mut State,
    vmid: u32,
    name: &str,
    vmstate: bool,
) -> Result<Plan, Reply> {
    let node = state.node.clone();
    let Some(vm) = state.vms.get_mut(&vmid) else {
        return Err(die(no_config_text(&node, vmid)));
    };
    let running = vm.status.has_process();
    let save_ram = vmstate && running;
    if vmstate && non_migratable(vm) {
        return Err(die(
            "fake-pve: qm snapshot --vmstate of a VM with devices that cannot be migrated is not emulated",
        ));
    }
    if save_ram && !vm.procs.list().is_empty() {
        return Err(die(
            "fake-pve: qm snapshot --vmstate of a VM with processes running in its guest is not emulated",
        ));
    }
    // The task (class D): template, lock, name, storage (AbstractConfig snapshot_prepare).
    if vm.template {
        return Err(die("you can't take a snapshot if it's a template"));
    }
    if let Some(lock) = &vm.lock {
        return Err(locked(lock));
    }
    if find(vm, name).is_some() {
        return Err(die(format!("snapshot name '{name}' already used")));
    }
    snapshot_feature(vm).map_err(die)?;
    vm.lock = Some("snapshot".into());
    let config = vm
        .config
        .iter()
        .filter(|(k, _)| !kept_out_of_snapshots(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let freeze = (running && !save_ram).then(|| vm.agent_enabled());
    Ok(Plan {
        vmstate: save_ram.then(|| vmstate_storage(vm)),
        freeze,
        snaptime: now_secs(),
        config,
        used_mem: vm.metrics.mem.unwrap_or(vm.memory_bytes() / 8),
    })
}

async fn say(io: &Io, line: &str) -> Result<(), Reply> {
    io.stdout
        .write_str(line)
        .await
        .map_err(|_| Reply::err("", SIGPIPE_STATUS))
}

/// `qm snapshot <vmid> <snapname> [--vmstate 0|1] [--description S]` (§12).
pub(super) async fn snapshot(
    ctx: &Ctx,
    vmid: u32,
    name: &str,
    vmstate: bool,
    description: Option<String>,
    io: &Io,
) -> Reply {
    // Before the task (class C): the reserved names, the config.
    if name == "current" || name.eq_ignore_ascii_case("pending") {
        return die(format!(
            "unable to use snapshot name '{name}' (reserved name)"
        ));
    }
    let plan = match snapshot_prepare(&mut ctx.host.state(), vmid, name, vmstate) {
        Ok(plan) => plan,
        Err(reply) => return reply,
    };
    let waited = snapshot_wait(ctx, vmid, &plan, io).await;
    let mut state = ctx.host.state();
    let Some(vm) = state.vms.get_mut(&vmid) else {
        return Reply::default();
    };
    vm.lock = None;
    if let Err(reply) = waited {
        return reply;
    }
    let mut lines = String::new();
    for (key, drive) in vm.drives_in_order() {
        lines.push_str(&format!(
            "snapshotting 'drive-{key}' ({})\n",
            volid_of(drive)
        ));
    }
    let ram = plan.vmstate.as_ref().map(|storage| RamState {
        volid: vmstate_volid(storage, vmid, name),
        running_machine: super::RUNNING_MACHINE.into(),
        running_cpu: RUNNING_CPU.into(),
        execs: vm.execs.clone(),
    });
    vm.snapshots.push(VmSnapshot {
        snap: Snapshot {
            name: name.to_string(),
            parent: vm.parent_snapshot.clone(),
            description: description.unwrap_or_default(),
            snaptime: plan.snaptime,
            config: plan.config,
            fs: vm.fs.clone(),
        },
        ram,
    });
    vm.parent_snapshot = Some(name.to_string());
    Reply::out(lines)
}

/// The waits of a snapshot, with the `snapshot` lock held: the agent's ping of the
/// freeze step, or the RAM save.
async fn snapshot_wait(ctx: &Ctx, vmid: u32, plan: &Plan, io: &Io) -> Result<(), Reply> {
    match plan.freeze {
        Some(false) => {
            say(
                io,
                "skipping guest filesystem freeze - disabled in VM options\n",
            )
            .await?
        }
        Some(true) if !agent::answers_ping(&ctx.host, vmid).await => {
            say(
                io,
                "skipping guest filesystem freeze - agent configured but not running?\n",
            )
            .await?
        }
        // The agent answers: the filesystems are frozen and thawed, silently.
        _ => {}
    }
    if let Some(storage) = &plan.vmstate {
        say(
            io,
            &format!("saving VM state and RAM using storage '{storage}'\n"),
        )
        .await?;
        tokio::time::sleep(VMSTATE_SAVE).await;
        say(
            io,
            &format!(
                "completed saving the VM state in {}s, saved {}\n",
                VMSTATE_SAVE.as_secs(),
                render_bytes(plan.used_mem)
            ),
        )
        .await?;
    }
    Ok(())
}

/// `qm listsnapshot <vmid>` (§12): pct's tree.
pub(super) fn listsnapshot(state: &State, vmid: u32) -> Reply {
    let Some(vm) = state.vms.get(&vmid) else {
        return die(no_config_text(&state.node, vmid));
    };
    Reply::out(crate::guest::snapshot_tree(
        vm.snapshots.iter().map(|s| &s.snap),
        vm.parent_snapshot.as_deref(),
    ))
}

/// `qm rollback <vmid> <snapname> [--start 0|1]` (§12).
pub(super) fn rollback(state: &mut State, vmid: u32, name: &str, start: bool) -> Reply {
    let node = state.node.clone();
    let Some(vm) = state.vms.get_mut(&vmid) else {
        return die(no_config_text(&node, vmid));
    };
    let Some(snap) = find(vm, name).cloned() else {
        return no_snapshot(name);
    };
    if vm.template {
        return die("you can't rollback if vm is a template");
    }
    if let Some(lock) = &vm.lock {
        return locked(lock);
    }
    // A running VM is killed (QMP quit), never shut down cleanly.
    if vm.status.has_process() {
        vm.set_stopped();
    }
    // The description and the unused disks stay as they are.
    let mut config = snap.snap.config;
    for (k, v) in &vm.config {
        if kept_out_of_snapshots(k) {
            config.insert(k.clone(), v.clone());
        }
    }
    vm.config = config;
    vm.fs = snap.snap.fs;
    vm.parent_snapshot = Some(snap.snap.name);
    match snap.ram {
        Some(ram) => {
            vm.set_running();
            vm.execs = ram.execs;
        }
        None if start => vm.set_running(),
        None => {}
    }
    Reply::default()
}

/// `qm delsnapshot <vmid> <snapname> [--force]` (§12). `--force` changes nothing here:
/// the fake has no replication lock to skip and no storage error to ignore.
pub(super) fn delsnapshot(state: &mut State, vmid: u32, name: &str, _force: bool) -> Reply {
    let node = state.node.clone();
    let Some(vm) = state.vms.get_mut(&vmid) else {
        return die(no_config_text(&node, vmid));
    };
    let Some(pos) = vm.snapshots.iter().position(|s| s.snap.name == name) else {
        return no_snapshot(name);
    };
    if let Some(lock) = &vm.lock {
        return locked(lock);
    }
    if vm.template {
        return die("you can't delete a snapshot if vm is a template");
    }
    let removed = vm.snapshots.remove(pos);
    for s in &mut vm.snapshots {
        if s.snap.parent.as_deref() == Some(name) {
            s.snap.parent = removed.snap.parent.clone();
        }
    }
    if vm.parent_snapshot.as_deref() == Some(name) {
        vm.parent_snapshot = removed.snap.parent;
    }
    Reply::default()
}

/// The keys of snapshot `name`'s section (`qm config --snapshot`, §7), or its
/// not-found error.
pub(super) fn section(vm: &Vm, name: &str) -> Result<BTreeMap<String, String>, Reply> {
    let Some(s) = find(vm, name) else {
        return Err(no_snapshot(name));
    };
    let mut keys = s.snap.config.clone();
    keys.insert("snaptime".into(), s.snap.snaptime.to_string());
    if let Some(parent) = &s.snap.parent {
        keys.insert("parent".into(), parent.clone());
    }
    if !s.snap.description.is_empty() {
        keys.insert("description".into(), s.snap.description.clone());
    }
    if let Some(ram) = &s.ram {
        keys.insert("vmstate".into(), ram.volid.clone());
        keys.insert("runningmachine".into(), ram.running_machine.clone());
        keys.insert("runningcpu".into(), ram.running_cpu.clone());
    }
    Ok(keys)
}
