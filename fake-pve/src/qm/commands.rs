//! `qm list`, `qm status`, `qm config` and the power commands (qm-fidelity.md §4–§7)
//! over the host state. The state lock is never held across an `.await`: the waits
//! (the agent's ping, a shutdown the guest ignores) happen between short locks.

use std::collections::BTreeMap;
use std::time::Duration;

use super::cli::Command;
use super::{agent, die, no_config_text, not_found_text, snapshot};
use crate::guest::encode_text;
use crate::host::State;
use crate::io::Io;
use crate::pct::cli::{Stop, Vmid};
use crate::proc::Ctx;
use crate::reply::Reply;
use crate::unix::SIGPIPE_STATUS;
use crate::vm::{Vm, VmStatus, kvm_pid};

const MIB: u64 = 1024 * 1024;

pub(super) async fn execute(cmd: Command, ctx: &Ctx, io: &Io) -> i32 {
    let reply = match cmd {
        Command::Help(text) => Reply::out(text),
        Command::List { full } => list(&ctx.host.state(), full),
        Command::Status { vmid, verbose } => status(&ctx.host.state(), vmid, verbose),
        Command::Config { vmid, snapshot } => config(&ctx.host.state(), vmid, snapshot),
        Command::Start(g) => start(&mut ctx.host.state(), g.vmid, g.skiplock),
        Command::Stop(s) => stop(&mut ctx.host.state(), s),
        Command::Suspend(g) => suspend(&mut ctx.host.state(), g.vmid, g.skiplock),
        Command::Resume(g) => resume(&mut ctx.host.state(), g.vmid, g.skiplock),
        Command::Reset(g) => reset(&mut ctx.host.state(), g.vmid, g.skiplock),
        Command::Shutdown {
            vmid,
            timeout,
            force_stop,
            skiplock,
        } => {
            let plan = Shutdown {
                vmid: vmid.get(),
                timeout,
                force_stop,
                skiplock,
                reboot: false,
            };
            shutdown(ctx, plan, io).await
        }
        Command::Reboot { vmid, timeout } => {
            let plan = Shutdown {
                vmid: vmid.get(),
                timeout,
                force_stop: false,
                skiplock: false,
                reboot: true,
            };
            shutdown(ctx, plan, io).await
        }
        Command::ListSnapshot { vmid } => snapshot::listsnapshot(&ctx.host.state(), vmid.get()),
        Command::Rollback { vmid, name, start } => {
            snapshot::rollback(&mut ctx.host.state(), vmid.get(), &name, start)
        }
        Command::DelSnapshot { vmid, name, force } => {
            snapshot::delsnapshot(&mut ctx.host.state(), vmid.get(), &name, force)
        }
        Command::NotEmulated(what) => return ctx.refuse(io, &what, 255).await,
        Command::GuestCmd { .. }
        | Command::GuestExec { .. }
        | Command::GuestExecStatus { .. }
        | Command::Snapshot { .. } => {
            unreachable!("the agent commands and snapshot are run by qm::run")
        }
    };
    reply.write(io).await
}

fn no_config(state: &State, vmid: Vmid) -> Reply {
    die(no_config_text(&state.node, vmid.get()))
}

fn locked(lock: &str) -> Reply {
    die(format!("VM is locked ({lock})"))
}

/// `qm list [--full]` (§4).
fn list(state: &State, full: bool) -> Reply {
    if state.vms.is_empty() {
        return Reply::default();
    }
    let mut out = format!(
        "{:>10} {:<20} {:<10} {:<10} {:>12} {:<10}\n",
        "VMID", "NAME", "STATUS", "MEM(MB)", "BOOTDISK(GB)", "PID"
    );
    for vm in state.vms.values() {
        let status = if full {
            vm.status.qmp()
        } else {
            vm.status.coarse()
        };
        let pid = if vm.status.has_process() {
            kvm_pid(vm.vmid)
        } else {
            0
        };
        let gib = vm.bootdisk_bytes() as f64 / (1024.0 * MIB as f64);
        out.push_str(&format!(
            "{:>10} {:<20} {:<10} {:<10} {:>12.2} {:<10}\n",
            vm.vmid,
            vm.name(),
            status,
            vm.memory_text(),
            gib,
            pid
        ));
    }
    Reply::out(out)
}

/// A value of `qm status --verbose`: a plain one or a nested hash.
enum Item {
    Plain(String),
    Hash(BTreeMap<String, Item>),
}

/// `print_recursive_hash` (qm.pm:104-128): sorted keys, nested hashes indented by TAB.
fn print_hash(items: &BTreeMap<String, Item>, depth: usize, out: &mut String) {
    let indent = "\t".repeat(depth);
    for (k, v) in items {
        match v {
            Item::Plain(s) => out.push_str(&format!("{indent}{k}: {s}\n")),
            Item::Hash(h) => {
                out.push_str(&format!("{indent}{k}:\n"));
                print_hash(h, depth + 1, out);
            }
        }
    }
}

/// The QEMU blockstats keys of one drive (all 0 on the fake: no real I/O happens).
const BLOCKSTAT_KEYS: &[&str] = &[
    "account_failed",
    "account_invalid",
    "failed_flush_operations",
    "failed_rd_operations",
    "failed_unmap_operations",
    "failed_wr_operations",
    "failed_zone_append_operations",
    "flush_operations",
    "flush_total_time_ns",
    "idle_time_ns",
    "invalid_flush_operations",
    "invalid_rd_operations",
    "invalid_unmap_operations",
    "invalid_wr_operations",
    "invalid_zone_append_operations",
    "rd_bytes",
    "rd_merged",
    "rd_operations",
    "rd_total_time_ns",
    "unmap_bytes",
    "unmap_merged",
    "unmap_operations",
    "unmap_total_time_ns",
    "wr_bytes",
    "wr_highest_offset",
    "wr_merged",
    "wr_operations",
    "wr_total_time_ns",
    "zone_append_bytes",
    "zone_append_merged",
    "zone_append_operations",
    "zone_append_total_time_ns",
];

/// The QEMU version and machine a running fake VM reports.
pub(crate) const RUNNING_QEMU: &str = "9.2.0";
pub(crate) const RUNNING_MACHINE: &str = "pc-i440fx-9.2+pve1";

/// `vmstatus($vmid, 1)` of one VM (QemuServer.pm:2535-2783), as `qm status --verbose`
/// prints it (without `cpu` and `relcpu`).
fn verbose_status(vm: &Vm) -> BTreeMap<String, Item> {
    let mut d: BTreeMap<String, Item> = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        d.insert(k.to_string(), Item::Plain(v));
    };
    let running = vm.status.has_process();
    let maxmem = vm.memory_bytes();
    put("cpus", vm.cpus().to_string());
    put("disk", "0".into());
    put("maxdisk", vm.bootdisk_bytes().to_string());
    put("maxmem", maxmem.to_string());
    put("name", vm.name());
    put("qmpstatus", vm.status.qmp().into());
    put("status", vm.status.coarse().into());
    put("vmid", vm.vmid.to_string());
    let m = &vm.metrics;
    let live = |v: Option<u64>, default: u64| if running { v.unwrap_or(default) } else { 0 };
    put("mem", live(m.mem, maxmem / 8).to_string());
    put("memhost", live(m.mem, maxmem / 8).to_string());
    put("netin", live(m.netin, 0).to_string());
    put("netout", live(m.netout, 0).to_string());
    put("uptime", vm.uptime().to_string());
    if let Some(lock) = &vm.lock {
        put("lock", lock.clone());
    }
    if let Some(tags) = vm.config.get("tags") {
        put("tags", tags.clone());
    }
    if vm.template {
        put("template", "1".into());
    }
    if vm.config.keys().any(|k| k.starts_with("serial")) {
        put("serial", "1".into());
    }
    if let Some(b) = vm.config.get("balloon") {
        put(
            "balloon_min",
            (b.parse::<u64>().unwrap_or(0) * MIB).to_string(),
        );
        put(
            "shares",
            vm.config
                .get("shares")
                .cloned()
                .unwrap_or_else(|| "1000".into()),
        );
    }
    if running {
        put("pid", kvm_pid(vm.vmid).to_string());
        put("diskread", live(m.diskread, 0).to_string());
        put("diskwrite", live(m.diskwrite, 0).to_string());
        for p in crate::host::PRESSURE_KEYS {
            put(p, "0".into());
        }
        put("running-machine", RUNNING_MACHINE.into());
        put("running-qemu", RUNNING_QEMU.into());
        let nics: BTreeMap<String, Item> = vm
            .nets()
            .iter()
            .map(|net| {
                let i = net.trim_start_matches("net");
                let counters = [("netin", m.netin), ("netout", m.netout)]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), Item::Plain(v.unwrap_or(0).to_string())))
                    .collect();
                (format!("tap{}i{i}", vm.vmid), Item::Hash(counters))
            })
            .collect();
        d.insert("nics".into(), Item::Hash(nics));
        let blockstat: BTreeMap<String, Item> = vm
            .drives()
            .iter()
            .map(|(k, _)| {
                let stats = BLOCKSTAT_KEYS
                    .iter()
                    .map(|s| (s.to_string(), Item::Plain("0".into())))
                    .collect();
                (k.to_string(), Item::Hash(stats))
            })
            .collect();
        d.insert("blockstat".into(), Item::Hash(blockstat));
    }
    d
}

/// `qm status <vmid> [--verbose]` (§5).
fn status(state: &State, vmid: Vmid, verbose: bool) -> Reply {
    let Some(vm) = state.vms.get(&vmid.get()) else {
        return no_config(state, vmid);
    };
    if !verbose {
        return Reply::out(format!("status: {}\n", vm.status.qmp()));
    }
    let mut out = String::new();
    print_hash(&verbose_status(vm), 0, &mut out);
    Reply::out(out)
}

/// The config keys of a VM as `qm config` sees them: the file's, with `lock`,
/// `template` and `parent`.
pub(crate) fn config_keys(vm: &Vm) -> BTreeMap<String, String> {
    let mut keys = vm.config.clone();
    if let Some(parent) = &vm.parent_snapshot {
        keys.insert("parent".into(), parent.clone());
    }
    if let Some(lock) = &vm.lock {
        keys.insert("lock".into(), lock.clone());
    }
    if vm.template {
        keys.insert("template".into(), "1".into());
    }
    keys
}

/// `qm config <vmid> [--current] [--snapshot NAME]` (§7). Fake VMs have no pending
/// changes, so `--current` prints the same.
fn config(state: &State, vmid: Vmid, name: Option<String>) -> Reply {
    let Some(vm) = state.vms.get(&vmid.get()) else {
        return no_config(state, vmid);
    };
    let keys = match name {
        Some(name) => match snapshot::section(vm, &name) {
            Ok(keys) => keys,
            Err(reply) => return reply,
        },
        None => config_keys(vm),
    };
    let mut out = String::new();
    for (k, v) in keys {
        if k == "digest" {
            continue;
        }
        let v = match k.as_str() {
            "description" => encode_text(&v),
            "cipassword" => "**********".into(),
            _ => v,
        };
        out.push_str(&format!("{k}: {v}\n"));
    }
    Reply::out(out)
}

fn start(state: &mut State, vmid: Vmid, skiplock: bool) -> Reply {
    let node = state.node.clone();
    let Some(vm) = state.vms.get_mut(&vmid.get()) else {
        return die(no_config_text(&node, vmid.get()));
    };
    // vm_start: template, then lock, then running (QemuServer.pm:5504-5545).
    let outcome: Result<Reply, Reply> = if vm.template {
        Err(die("you can't start a vm if it's a template"))
    } else {
        match vm.lock.as_deref() {
            Some("suspended") => Ok(Reply::out("Resuming suspended VM\n")),
            Some("backup") if vm.status.has_process() && !skiplock => Ok(Reply::default()),
            Some(lock) if !skiplock => Err(locked(lock)),
            _ if vm.status.has_process() => Err(die(format!("VM {vmid} already running"))),
            _ => Ok(Reply::default()),
        }
    };
    let apply = |vm: &mut Vm| {
        if vm.lock.as_deref() == Some("suspended") {
            vm.lock = None;
        }
        vm.set_running();
    };
    if vm.ha_managed {
        // The HA manager starts it (or fails to) outside this command.
        if outcome.is_ok() {
            apply(vm);
        }
        return Reply::out(format!("Requesting HA start for VM {vmid}\n"));
    }
    match outcome {
        Ok(reply) => {
            apply(vm);
            reply
        }
        Err(reply) => reply,
    }
}

fn stop(state: &mut State, s: Stop) -> Reply {
    let Stop {
        vmid,
        skiplock,
        overrule_shutdown: overrule,
    } = s;
    let node = state.node.clone();
    let Some(vm) = state.vms.get_mut(&vmid.get()) else {
        return die(not_found_text(&node, vmid.get()));
    };
    if vm.ha_managed {
        if overrule {
            return Reply::err(
                format!(
                    "400 Parameter verification failed.\noverrule-shutdown: Not applicable for HA resources.\n{}",
                    super::cli::usage_line("stop")
                ),
                255,
            );
        }
        vm.set_stopped();
        return Reply::out(format!("Requesting HA stop for VM {vmid}\n"));
    }
    // Running is checked before the lock: a stopped VM stops silently.
    if !vm.status.has_process() {
        return Reply::default();
    }
    if let Some(lock) = vm.lock.as_deref().filter(|_| !skiplock) {
        return locked(lock);
    }
    vm.set_stopped();
    Reply::default()
}

/// The VM for suspend, resume and reset, which die before the task (class C) when it
/// is absent or not running.
fn running_vm(state: &mut State, vmid: Vmid) -> Result<&mut Vm, Reply> {
    let node = state.node.clone();
    match state.vms.get_mut(&vmid.get()) {
        None => Err(die(not_found_text(&node, vmid.get()))),
        Some(vm) if !vm.status.has_process() && vm.lock.as_deref() != Some("suspended") => {
            Err(die(format!("VM {vmid} not running")))
        }
        Some(vm) => Ok(vm),
    }
}

/// The VM for suspend and reset: running with its process (a suspended one is not),
/// and not locked unless `skiplock`.
fn live_unlocked_vm(state: &mut State, vmid: Vmid, skiplock: bool) -> Result<&mut Vm, Reply> {
    let vm = match running_vm(state, vmid) {
        Ok(vm) if vm.status.has_process() => vm,
        Ok(_) => return Err(die(format!("VM {vmid} not running"))),
        Err(reply) => return Err(reply),
    };
    if let Some(lock) = vm.lock.as_deref().filter(|_| !skiplock) {
        return Err(locked(lock));
    }
    Ok(vm)
}

fn suspend(state: &mut State, vmid: Vmid, skiplock: bool) -> Reply {
    let vm = match live_unlocked_vm(state, vmid, skiplock) {
        Ok(vm) => vm,
        Err(reply) => return reply,
    };
    vm.status = VmStatus::Paused;
    Reply::default()
}

fn resume(state: &mut State, vmid: Vmid, skiplock: bool) -> Reply {
    let vm = match running_vm(state, vmid) {
        Ok(vm) => vm,
        Err(reply) => return reply,
    };
    if vm.lock.as_deref() == Some("suspended") {
        vm.lock = None;
        vm.set_running();
        return Reply::out("Resuming suspended VM\n");
    }
    if let Some(lock) = vm.lock.as_deref().filter(|l| !skiplock && *l != "backup") {
        return locked(lock);
    }
    vm.status = VmStatus::Running;
    Reply::default()
}

fn reset(state: &mut State, vmid: Vmid, skiplock: bool) -> Reply {
    let vm = match live_unlocked_vm(state, vmid, skiplock) {
        Ok(vm) => vm,
        Err(reply) => return reply,
    };
    // A hard reset: the guest boots again, what ran in it is gone.
    vm.kill_processes();
    vm.execs.clear();
    vm.started_at = Some(crate::fs::now_secs());
    Reply::default()
}

/// A clean shutdown or a reboot, as qm asks the guest for it.
struct Shutdown {
    vmid: u32,
    timeout: Option<u64>,
    force_stop: bool,
    skiplock: bool,
    reboot: bool,
}

/// What the first, locked look at the VM decided.
enum Next {
    Done(Reply),
    /// Ask the guest: through the agent when it is enabled (`ping` whether it
    /// answers), else ACPI.
    Ask {
        agent_enabled: bool,
        ignores: bool,
        timeout: u64,
    },
}

fn shutdown_check(state: &mut State, p: &Shutdown) -> Next {
    let node = state.node.clone();
    let vmid = p.vmid;
    let Some(vm) = state.vms.get_mut(&vmid) else {
        // vm_is_paused warns (with an empty line) before the command dies.
        let text = not_found_text(&node, vmid);
        return Next::Done(Reply::err(format!("{text}\n\n{text}\n"), 255));
    };
    if !vm.status.has_process() {
        let warning = format!("VM {vmid} not running\n\n");
        if p.reboot {
            return Next::Done(Reply::err(format!("{warning}VM {vmid} not running\n"), 255));
        }
        let mut reply = Reply::err(warning, 0);
        if vm.ha_managed {
            reply.stdout = format!("Requesting HA stop for VM {vmid}\n");
        }
        return Next::Done(reply);
    }
    if vm.status == VmStatus::Paused {
        if !p.force_stop {
            return Next::Done(die("VM is paused - cannot shutdown"));
        }
        if let Some(lock) = vm.lock.as_deref().filter(|_| !p.skiplock) {
            let mut reply = locked(lock);
            reply.stderr = format!("VM is paused - stop instead of shutdown\n{}", reply.stderr);
            return Next::Done(reply);
        }
        vm.set_stopped();
        return Next::Done(Reply::err("VM is paused - stop instead of shutdown\n", 0));
    }
    if vm.ha_managed && !p.reboot {
        if !vm.ignores_shutdown {
            vm.set_stopped();
        }
        return Next::Done(Reply::out(format!("Requesting HA stop for VM {vmid}\n")));
    }
    if let Some(lock) = vm.lock.as_deref().filter(|_| !p.skiplock) {
        return Next::Done(locked(lock));
    }
    let timeout = p.timeout.or(vm.startup_down()).unwrap_or(60);
    if timeout == 0 {
        let what = if p.reboot { "reboot" } else { "shutdown" };
        return Next::Done(die(format!(
            "fake-pve: qm {what} --timeout 0 is not emulated (its meaning is not known)"
        )));
    }
    Next::Ask {
        agent_enabled: vm.agent_enabled(),
        ignores: vm.ignores_shutdown,
        timeout,
    }
}

/// `qm shutdown` and `qm reboot` (§6): the guest asked through the agent or ACPI; a
/// guest that ignores it is waited for `timeout` seconds.
async fn shutdown(ctx: &Ctx, p: Shutdown, io: &Io) -> Reply {
    let next = shutdown_check(&mut ctx.host.state(), &p);
    let (agent_enabled, ignores, timeout) = match next {
        Next::Done(reply) => return reply,
        Next::Ask {
            agent_enabled,
            ignores,
            timeout,
        } => (agent_enabled, ignores, timeout),
    };
    if agent_enabled && !agent::answers_ping(&ctx.host, p.vmid).await {
        let line = format!(
            "QEMU Guest Agent is not running - VM {} qga command 'guest-ping' failed - got timeout\n",
            p.vmid
        );
        if io.stdout.write_str(&line).await.is_err() {
            return Reply::err("", SIGPIPE_STATUS);
        }
    }
    if ignores {
        tokio::time::sleep(Duration::from_secs(timeout)).await;
    }
    let mut state = ctx.host.state();
    let Some(vm) = state.vms.get_mut(&p.vmid) else {
        return Reply::default();
    };
    // What the wait saw: still running (the guest ignored it, and nobody stopped it
    // meanwhile) or not.
    let still_running = vm.status.has_process() && vm.ignores_shutdown && ignores;
    if still_running {
        if p.force_stop {
            vm.set_stopped();
            return Reply::out("VM still running - terminating now with SIGTERM\n");
        }
        return die("VM quit/powerdown failed - got timeout");
    }
    if p.reboot {
        vm.set_stopped();
        vm.set_running();
    } else {
        vm.set_stopped();
    }
    Reply::default()
}
