//! `qmrestore <archive> <vmid> [--storage S] [--force 0|1] [--unique 0|1] [--start
//! 0|1]` (qm-fidelity.md §13): a VM from an archive `vzdump` wrote
//! ([`crate::backup::write_vm_archive`]; docs/backups.md §4). The archive comes first.

use std::collections::BTreeMap;

use super::die;
use crate::backup::{self, ArchiveKind};
use crate::host::State;
use crate::io::Io;
use crate::pct::cli::{Kind, Val, Vmid, getopt, parse_boolean};
use crate::proc::Ctx;
use crate::reply::Reply;
use crate::vm::{Vm, VmStatus};

const OPTIONS: &[(&str, Kind)] = &[
    ("storage", Kind::Value),
    ("force", Kind::Bool),
    ("unique", Kind::Bool),
    ("start", Kind::Bool),
];

fn refuse(what: impl std::fmt::Display) -> Reply {
    Reply::err(format!("fake-pve: {what} is not emulated\n"), 255)
}

/// What `qmrestore` was asked to do.
struct Request {
    archive: String,
    vmid: u32,
    storage: Option<String>,
    force: bool,
    unique: bool,
    start: bool,
}

fn parse(args: &[String]) -> Result<Request, Reply> {
    let got = getopt(args, OPTIONS);
    if !got.warnings.is_empty() {
        return Err(Reply::err(
            format!(
                "fake-pve: qmrestore: {}(only --storage, --force, --unique and --start are emulated)\n",
                got.warnings.replace('\n', "; ")
            ),
            255,
        ));
    }
    let [archive, vmid] = got.words.as_slice() else {
        return Err(Reply::err(
            "400 wrong number of arguments\nqmrestore <archive> <vmid> [OPTIONS]\n",
            255,
        ));
    };
    let vmid = Vmid::parse(vmid).map_err(|e| {
        Reply::err(
            format!("400 Parameter verification failed.\nvmid: {e}\n\nqmrestore <archive> <vmid> [OPTIONS]\n"),
            255,
        )
    })?;
    let one = |k: &str| match got.values.get(k) {
        Some(Val::One(v)) => Some(v.clone()),
        Some(Val::Many(v)) => v.last().cloned(),
        None => None,
    };
    let mut flags = BTreeMap::new();
    for k in ["force", "unique", "start"] {
        let v = match one(k) {
            None => false,
            Some(v) if v.is_empty() => true,
            Some(v) => parse_boolean(&v).ok_or_else(|| {
                Reply::err(
                    format!("400 Parameter verification failed.\n{k}: type check ('boolean') failed - got '{v}'\n"),
                    255,
                )
            })?,
        };
        flags.insert(k, v);
    }
    Ok(Request {
        archive: archive.clone(),
        vmid: vmid.get(),
        storage: one("storage"),
        force: flags["force"],
        unique: flags["unique"],
        start: flags["start"],
    })
}

/// A fresh MAC address for `--unique`, in Proxmox's `BC:24:11` range.
fn new_mac() -> String {
    let b: [u8; 3] = rand::random();
    format!("BC:24:11:{:02X}:{:02X}:{:02X}", b[0], b[1], b[2])
}

/// `net<n>: <model>=<mac>,…` with a new address.
fn with_new_mac(value: &str) -> String {
    match value.split_once(',') {
        Some((first, rest)) => match first.split_once('=') {
            Some((model, _)) => format!("{model}={},{rest}", new_mac()),
            None => value.to_string(),
        },
        None => match value.split_once('=') {
            Some((model, _)) => format!("{model}={}", new_mac()),
            None => value.to_string(),
        },
    }
}

/// Parses a VM config text of [`backup::vm_config_text`].
fn parse_config(text: &str) -> BTreeMap<String, String> {
    let mut config = BTreeMap::new();
    let mut description = Vec::new();
    for line in text.lines() {
        if let Some(d) = line.strip_prefix('#') {
            description.push(d.to_string());
        } else if let Some((k, v)) = line.split_once(": ") {
            config.insert(k.to_string(), v.to_string());
        }
    }
    if !description.is_empty() {
        config.insert("description".into(), description.join("\n"));
    }
    config
}

/// Runs `qmrestore <args…>`.
pub async fn run(ctx: &Ctx, args: &[String], io: &Io) -> i32 {
    let reply = match parse(args) {
        Ok(req) => {
            let elsewhere = ctx.host.cluster().and_then(|c| c.owner(req.vmid));
            let reply = match elsewhere {
                Some((node, kind)) if node != ctx.host.node() => die(format!(
                    "unable to restore VM {} - {} {} already exists on node '{node}'",
                    req.vmid,
                    kind.label(),
                    req.vmid
                )),
                _ => restore(&mut ctx.host.state(), &req),
            };
            // `.vmlist` shows a restored VM at once (pmxcfs).
            ctx.host.guests_changed();
            reply
        }
        Err(reply) => reply,
    };
    reply.write(io).await
}

fn restore(state: &mut State, r: &Request) -> Reply {
    let id = r.vmid;
    let fail = |msg: String| die(format!("unable to restore VM {id} - {msg}"));
    // Before the task (class C).
    if state.containers.contains_key(&id) {
        // qmrestore never overwrites a container, --force or not.
        return fail(format!("CT {id} already exists on node '{}'", state.node));
    }
    if let Some(vm) = state.vms.get(&id) {
        if !r.force {
            return fail(format!("VM {id} already exists on node '{}'", state.node));
        }
        if let Some(lock) = &vm.lock {
            return fail(format!("VM is locked ({lock})"));
        }
    }
    let Some(path) = backup::archive_path(&r.archive) else {
        return die(format!("unable to parse volume ID '{}'", r.archive));
    };
    let data = match state.fs.read(&path) {
        Ok(d) => d.to_vec(),
        Err(_) => return die(format!("volume '{}' does not exist", r.archive)),
    };
    let name = path.rsplit('/').next().unwrap_or_default();
    if !name.ends_with(".vma") {
        return refuse(format!(
            "qmrestore of '{}' (only the fake's uncompressed vzdump-qemu-….vma archives)",
            r.archive
        ));
    }
    let restored = match backup::read_archive(&data) {
        Ok(x) => x,
        Err(e) => return die(format!("fake-pve: cannot restore '{}': {e}", r.archive)),
    };
    if restored.kind != ArchiveKind::Qemu {
        return refuse(format!(
            "qmrestore of a container's backup ('{}')",
            r.archive
        ));
    }
    let mut config = parse_config(&restored.config);
    // The disks: to --storage, else to the storage each came from; only LVM-thin
    // volumes (local-lvm) are emulated.
    let probe = Vm {
        config: config.clone(),
        ..blank(id)
    };
    let drives: Vec<(String, String)> = probe
        .drives_in_order()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut plan = Vec::new();
    for (n, (key, value)) in drives.iter().enumerate() {
        let (volid, opts) = value.split_once(',').unwrap_or((value, ""));
        let from = volid.split_once(':').map(|(s, _)| s).unwrap_or_default();
        let to = r.storage.clone().unwrap_or_else(|| from.to_string());
        match backup::storage(&to) {
            Some(st) if st.kind == "lvmthin" && st.holds("images") => {}
            Some(_) => {
                return refuse(format!(
                    "qmrestore of a disk to storage '{to}' (only LVM-thin local-lvm)"
                ));
            }
            None => return die(format!("storage '{to}' does not exist")),
        }
        let new = format!("{to}:vm-{id}-disk-{n}");
        let size = opts
            .split(',')
            .find_map(|p| p.strip_prefix("size="))
            .and_then(crate::guest::parse_size)
            .unwrap_or(0);
        let value = if opts.is_empty() {
            new.clone()
        } else {
            format!("{new},{opts}")
        };
        plan.push((key.clone(), new, value, size));
    }
    // In the task.
    if let Some(vm) = state.vms.get(&id) {
        let protected = vm
            .config
            .get("protection")
            .is_some_and(|p| parse_boolean(p) == Some(true));
        if protected {
            return fail("protection mode enabled".into());
        }
        if vm.status.has_process() {
            return Reply {
                stdout: format!(
                    "error before or during data restore, some or all disks were not completely restored. VM {id} state is NOT cleaned up.\n"
                ),
                stderr: format!("unable to restore VM {id} - vm is running\n"),
                code: 255,
            };
        }
    }
    let tmp = format!(
        "/var/tmp/vzdumptmp{}",
        10_000 + rand::random::<u16>() as u32
    );
    let mut out = format!(
        "restore vma archive: vma extract -v -r {tmp}.fifo {path} {tmp}\nCFG: size: {} name: qemu-server.conf\n",
        restored.config.len()
    );
    for (i, (key, _, _, size)) in plan.iter().enumerate() {
        out.push_str(&format!(
            "DEV: dev_id={} size: {size} devname: drive-{key}\n",
            i + 1
        ));
    }
    for (key, new, value, _) in &plan {
        out.push_str(&format!("new volume ID is '{new}'\n"));
        let lv = new.split_once(':').map(|(_, v)| v).unwrap_or_default();
        out.push_str(&format!(
            "map 'drive-{key}' to '/dev/pve/{lv}' (write zeros = 0)\n"
        ));
        config.insert(key.clone(), value.clone());
    }
    let total: u64 = plan.iter().map(|p| p.3).sum();
    out.push_str(&format!(
        "progress 100% (read {total} bytes, duration 0 sec)\nrescan volumes...\n"
    ));
    if r.unique {
        for (k, v) in config.iter_mut() {
            if k.starts_with("net") && k[3..].bytes().all(|b| b.is_ascii_digit()) {
                *v = with_new_mac(v);
            }
        }
    }
    let mut vm = match state.vms.remove(&id) {
        Some(mut old) => {
            old.set_stopped();
            Vm {
                config: BTreeMap::new(),
                snapshots: Vec::new(),
                parent_snapshot: None,
                lock: None,
                template: false,
                ..old
            }
        }
        None => blank(id),
    };
    vm.config = config;
    vm.fs = restored.fs;
    vm.status = VmStatus::Stopped;
    if r.start {
        out.push_str("Execute autostart\n");
        vm.set_running();
    }
    state.vms.insert(id, vm);
    Reply::out(out)
}

/// A stopped VM with nothing in it (the restore fills its config and filesystem).
fn blank(vmid: u32) -> Vm {
    Vm {
        vmid,
        status: VmStatus::Stopped,
        lock: None,
        template: false,
        ha_managed: false,
        config: BTreeMap::new(),
        fs: crate::fs::Fs::new(),
        procs: crate::process::ProcessTable::new(),
        execs: BTreeMap::new(),
        agent_hangs: false,
        ignores_shutdown: false,
        started_at: None,
        metrics: Default::default(),
        snapshots: Vec::new(),
        parent_snapshot: None,
    }
}
