//! The execute step: each [`Command`] against the host state, producing what pct
//! prints. The state lock is taken and released here, never across an `.await`.
//!
//! Error classes (pct-fidelity.md §1): a plain `die` before any task is class C, a
//! failing task (start, stop, shutdown, reboot, snapshot…) class D — both print one
//! line on stderr and exit 255. push/pull failures inside the copy are class E and
//! exit 0.

use std::collections::BTreeMap;

use super::Reply;
use super::cli::{Command, Guarded, Stop, Transfer, Vmid, usage_line};
use crate::fs::{Fs, FsError, WriteMode, now_secs};
use crate::guest::encode_text;
use crate::host::{Container, Snapshot, State, Status};
use crate::proc::Ctx;

/// What `run` does next.
pub(super) enum Step {
    Done(Reply),
    /// Run `argv` inside the container (`lxc-attach -n vmid -- argv…`).
    Attach {
        vmid: u32,
        argv: Vec<String>,
        keep_env: bool,
    },
    /// The container ignores the clean shutdown: wait it out (see [`ignored_shutdown`]).
    WaitOut(Ignored),
    /// Move it to another node: two nodes' states, taken one after the other.
    Migrate(super::cli::Migration),
}

/// A clean shutdown request that the container ignores, as pct's `vm_stop` meets it
/// (pve-container src/PVE/LXC.pm `vm_stop`, lxc's `lxc_stop.c`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Ignored {
    vmid: u32,
    /// Seconds lxc-stop waits for the container to go down.
    timeout: u64,
    /// After the timeout: kill it (`--forceStop`, and always for reboot), or give up.
    kill: bool,
    /// Start it again once stopped (reboot).
    restart: bool,
}

/// A message that ends pct with exit 255 (classes C and D look alike to a caller).
pub(super) fn die(msg: impl Into<String>) -> Reply {
    let mut msg = msg.into();
    if !msg.ends_with('\n') {
        msg.push('\n');
    }
    Reply::err(msg, 255)
}

fn no_config(state: &State, vmid: Vmid) -> Reply {
    die(format!(
        "Configuration file 'nodes/{}/lxc/{vmid}.conf' does not exist",
        state.node
    ))
}

fn locked(lock: &str) -> Reply {
    die(format!("CT is locked ({lock})"))
}

pub(super) fn execute(cmd: Command, ctx: &Ctx) -> Step {
    let mut state = ctx.host.state();
    let reply = match cmd {
        Command::Help(text) => Reply::out(text),
        Command::Nothing => Reply::default(),
        Command::Unsupported(name) => die(format!("pct {name}: not implemented by fake-pve")),
        Command::List => list(&state),
        Command::Status { vmid, verbose } => status(&state, vmid, verbose),
        Command::Start(Guarded { vmid, skiplock }) => start(&mut state, vmid, skiplock),
        Command::Stop(s) => stop(&mut state, ctx, s),
        Command::Shutdown {
            vmid,
            timeout,
            force_stop,
        } => match shutdown(&mut state, ctx, vmid) {
            Ok(reply) => reply,
            Err(()) => {
                return Step::WaitOut(Ignored {
                    vmid: vmid.get(),
                    timeout,
                    kill: force_stop,
                    restart: false,
                });
            }
        },
        Command::Reboot { vmid, timeout } => match reboot(&mut state, ctx, vmid) {
            Ok(reply) => reply,
            Err(()) => {
                return Step::WaitOut(Ignored {
                    vmid: vmid.get(),
                    timeout: timeout.unwrap_or(60),
                    kill: true,
                    restart: true,
                });
            }
        },
        Command::Exec {
            vmid,
            keep_env,
            argv,
        } => match attach_check(&state, vmid) {
            Err(reply) => reply,
            Ok(()) if argv.is_empty() => die(format!(
                "missing command at /usr/share/perl5/PVE/CLI/pct.pm line {}.",
                state.pve.pct_lines().0
            )),
            Ok(()) => {
                return Step::Attach {
                    vmid: vmid.get(),
                    argv,
                    keep_env,
                };
            }
        },
        Command::Enter { vmid, keep_env } => match attach_check(&state, vmid) {
            Err(reply) => reply,
            Ok(()) => {
                return Step::Attach {
                    vmid: vmid.get(),
                    argv: vec!["/bin/bash".into()],
                    keep_env,
                };
            }
        },
        Command::Push(t) => push(&mut state, ctx, &t),
        Command::Pull(t) => pull(&mut state, ctx, &t),
        Command::Config { vmid, snapshot } => config(&state, vmid, snapshot.as_deref()),
        Command::Snapshot {
            vmid,
            name,
            description,
        } => snapshot(&mut state, vmid, &name, description),
        Command::ListSnapshot { vmid } => match state.containers.get(&vmid.get()) {
            None => no_config(&state, vmid),
            Some(ct) => Reply::out(crate::guest::snapshot_tree(
                ct.snapshots.iter(),
                ct.parent_snapshot.as_deref(),
            )),
        },
        Command::DelSnapshot { vmid, name, force } => delsnapshot(&mut state, vmid, &name, force),
        Command::Rollback { vmid, name, start } => rollback(&mut state, ctx, vmid, &name, start),
        Command::Restore {
            vmid,
            archive,
            storage,
            force,
            unique,
            start,
        } => {
            let elsewhere = ctx
                .host
                .cluster()
                .and_then(|c| c.owner(vmid.get()))
                .filter(|(node, _)| *node != state.node);
            super::restore::restore(
                &mut state,
                super::restore::Restore {
                    elsewhere,
                    vmid,
                    archive: &archive,
                    storage: storage.as_deref(),
                    force,
                    unique,
                    start,
                },
            )
        }
        Command::Migrate(m) => return Step::Migrate(m),
        Command::Unlock { vmid } => match state.containers.get_mut(&vmid.get()) {
            None => no_config(&state, vmid),
            Some(ct) => {
                ct.lock = None;
                Reply::default()
            }
        },
        Command::Mount { vmid } => match state.containers.get_mut(&vmid.get()) {
            None => no_config(&state, vmid),
            Some(Container {
                lock: Some(lock), ..
            }) => locked(lock),
            Some(ct) => {
                ct.lock = Some("mounted".into());
                Reply::out(format!(
                    "mounted CT {vmid} in '/var/lib/lxc/{vmid}/rootfs'\n"
                ))
            }
        },
        Command::Unmount { vmid } => match state.containers.get_mut(&vmid.get()) {
            None => no_config(&state, vmid),
            Some(ct) => {
                if ct.lock.as_deref() == Some("mounted") {
                    ct.lock = None;
                }
                Reply::default()
            }
        },
    };
    Step::Done(reply)
}

/// The name `pct list` and `status` show: the hostname without whitespace, or `CT<vmid>`.
fn display_name(ct: &Container) -> String {
    match ct.hostname() {
        Some(h) if !h.is_empty() && h != "0" => h.chars().filter(|c| !c.is_whitespace()).collect(),
        _ => format!("CT{}", ct.vmid),
    }
}

fn list(state: &State) -> Reply {
    if state.containers.is_empty() {
        return Reply::default();
    }
    let row = |a: &str, b: &str, c: &str, d: &str| format!("{a:<10} {b:<10} {c:<12} {d:<20}\n");
    let mut out = row("VMID", "Status", "Lock", "Name");
    for ct in state.containers.values() {
        out.push_str(&row(
            &ct.vmid.to_string(),
            ct.status.as_str(),
            ct.lock.as_deref().unwrap_or(""),
            &display_name(ct),
        ));
    }
    Reply::out(out)
}

fn status(state: &State, vmid: Vmid, verbose: bool) -> Reply {
    let Some(ct) = state.containers.get(&vmid.get()) else {
        return no_config(state, vmid);
    };
    if !verbose {
        return Reply::out(format!("status: {}\n", ct.status.as_str()));
    }
    const MIB: u64 = 1024 * 1024;
    let running = ct.status == Status::Running;
    let maxmem = ct.memory_mib() * MIB;
    let cpus = match ct
        .config
        .get("cores")
        .filter(|c| !c.is_empty() && *c != "0")
    {
        Some(c) => c.clone(),
        None => ct
            .config
            .get("cpulimit")
            .filter(|c| !c.is_empty() && *c != "0")
            .cloned()
            .unwrap_or_else(|| "1".into()),
    };
    let swap_mib: u64 = ct
        .config
        .get("swap")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut keys: BTreeMap<&str, String> = BTreeMap::new();
    keys.insert("cpus", cpus);
    keys.insert("maxdisk", ct.rootfs_bytes().to_string());
    keys.insert("maxmem", maxmem.to_string());
    keys.insert("maxswap", (swap_mib * MIB).to_string());
    keys.insert("name", display_name(ct));
    keys.insert("status", ct.status.as_str().into());
    keys.insert("type", "lxc".into());
    keys.insert("vmid", vmid.to_string());
    for k in [
        "disk",
        "diskread",
        "diskwrite",
        "mem",
        "netin",
        "netout",
        "swap",
        "uptime",
    ] {
        keys.insert(k, "0".into());
    }
    if let Some(tags) = &ct.tags {
        keys.insert("tags", tags.clone());
    }
    if ct.template {
        keys.insert("template", "1".into());
    }
    if let Some(lock) = &ct.lock {
        keys.insert("lock", lock.clone());
    }
    if running {
        let uptime = ct
            .started_at
            .map(|t| now_secs().saturating_sub(t))
            .unwrap_or(0);
        keys.insert("pid", crate::host::init_pid(vmid.get()).to_string());
        keys.insert("uptime", uptime.to_string());
        // The fixture's figures where it sets them (the ones pvesh reports too).
        let m = &ct.metrics;
        keys.insert("disk", m.disk.unwrap_or(ct.fs.used_bytes()).to_string());
        keys.insert("mem", m.mem.unwrap_or(maxmem / 8).to_string());
        for (k, v) in [
            ("swap", m.swap),
            ("netin", m.netin),
            ("netout", m.netout),
            ("diskread", m.diskread),
            ("diskwrite", m.diskwrite),
        ] {
            keys.insert(k, v.unwrap_or(0).to_string());
        }
        for k in crate::host::PRESSURE_KEYS {
            keys.insert(k, "0.00".into());
        }
    }
    let out: String = keys.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
    Reply::out(out)
}

/// A lock that blocks start and stop: any but `mounted`, unless `--skiplock`.
fn power_lock(ct: &Container, skiplock: bool) -> Option<&str> {
    match ct.lock.as_deref() {
        Some("mounted") | None => None,
        Some(_) if skiplock => None,
        other => other,
    }
}

/// The running container `vmid`, or the error pct dies with (`CT`/`VM <vmid> not
/// running`, as `kind` says) when it is not running.
fn running_ct<'a>(
    state: &'a mut State,
    vmid: Vmid,
    kind: &str,
) -> Result<&'a mut Container, Reply> {
    if !is_running(state, vmid) {
        return Err(die(format!("{kind} {vmid} not running")));
    }
    Ok(state.containers.get_mut(&vmid.get()).expect("running"))
}

/// A stop or shutdown of an HA resource: the HA manager stops it (unless it
/// refuses) outside this command.
fn ha_stop(ct: &mut Container, ctx: &Ctx, vmid: Vmid) -> Reply {
    if !ct.refuses_stop {
        set_stopped(ct, ctx);
    }
    Reply::out(format!("Requesting HA stop for CT {vmid}\n"))
}

/// Stops the container, unless it refuses to stop.
fn stop_now(ct: &mut Container, ctx: &Ctx) -> Reply {
    if ct.refuses_stop {
        return die("container did not stop");
    }
    set_stopped(ct, ctx);
    Reply::default()
}

pub(super) fn set_running(ct: &mut Container) {
    ct.status = Status::Running;
    ct.started_at = Some(now_secs());
}

/// Stops a container and kills everything running inside it.
fn set_stopped(ct: &mut Container, ctx: &Ctx) {
    ct.status = Status::Stopped;
    ct.started_at = None;
    kill_processes(ctx, ct.vmid);
}

fn kill_processes(ctx: &Ctx, vmid: u32) {
    let procs = ctx.host.processes();
    for p in procs.list() {
        if p.container == Some(vmid) {
            procs.signal(p.pid, 9);
        }
    }
}

fn is_running(state: &State, vmid: Vmid) -> bool {
    state
        .containers
        .get(&vmid.get())
        .is_some_and(|ct| ct.status == Status::Running)
}

fn start(state: &mut State, vmid: Vmid, skiplock: bool) -> Reply {
    if is_running(state, vmid) {
        return die(format!("CT {vmid} already running"));
    }
    let node = state.node.clone();
    let Some(ct) = state.containers.get_mut(&vmid.get()) else {
        return die(format!(
            "Configuration file 'nodes/{node}/lxc/{vmid}.conf' does not exist"
        ));
    };
    let startable = if ct.template {
        Err(die("you can't start a CT if it's a template"))
    } else if let Some(lock) = power_lock(ct, skiplock) {
        Err(locked(lock))
    } else {
        Ok(())
    };
    if ct.ha_managed {
        // The HA manager starts it (or fails to) outside this command.
        if startable.is_ok() {
            set_running(ct);
        }
        return Reply::out(format!("Requesting HA start for CT {vmid}\n"));
    }
    match startable {
        Err(reply) => reply,
        Ok(()) => {
            set_running(ct);
            Reply::default()
        }
    }
}

fn stop(state: &mut State, ctx: &Ctx, s: Stop) -> Reply {
    let Stop {
        vmid,
        skiplock,
        overrule_shutdown: overrule,
    } = s;
    let ct = match running_ct(state, vmid, "CT") {
        Ok(ct) => ct,
        Err(reply) => return reply,
    };
    if ct.ha_managed {
        if overrule {
            return Reply::err(
                format!(
                    "400 Parameter verification failed.\noverrule-shutdown: Not applicable for HA resources.\n{}",
                    usage_line("stop")
                ),
                255,
            );
        }
        return ha_stop(ct, ctx, vmid);
    }
    if let Some(lock) = power_lock(ct, skiplock) {
        return locked(lock);
    }
    stop_now(ct, ctx)
}

/// `Err(())`: the container ignores the request, to be waited out.
fn shutdown(state: &mut State, ctx: &Ctx, vmid: Vmid) -> Result<Reply, ()> {
    let ct = match running_ct(state, vmid, "CT") {
        Ok(ct) => ct,
        Err(reply) => return Ok(reply),
    };
    if ct.ha_managed {
        return Ok(ha_stop(ct, ctx, vmid));
    }
    if let Some(lock) = &ct.lock {
        return Ok(locked(lock));
    }
    if ct.ignores_shutdown && !ct.refuses_stop {
        return Err(());
    }
    // A container that refuses to stop: with --forceStop the kill fails too.
    Ok(stop_now(ct, ctx))
}

/// `Err(())`: the container ignores the request, to be waited out.
fn reboot(state: &mut State, ctx: &Ctx, vmid: Vmid) -> Result<Reply, ()> {
    let ct = match running_ct(state, vmid, "VM") {
        Ok(ct) => ct,
        Err(reply) => return Ok(reply),
    };
    if ct.refuses_stop {
        return Ok(die("container did not stop"));
    }
    if ct.ignores_shutdown {
        return Err(());
    }
    kill_processes(ctx, ct.vmid);
    set_running(ct);
    Ok(Reply::default())
}

/// What pct does about a container that ignores the clean shutdown. lxc-stop waits
/// `timeout` seconds (`--timeout N`); with `--nokill` (shutdown without `--forceStop`)
/// it then exits 1 without a message, pct warns with run_command's error (task
/// output: stdout), polls the container's command socket for another N + 5 seconds and
/// dies `container did not stop`. Without `--nokill` lxc-stop kills the container and
/// pct succeeds. With `--timeout 0` lxc-stop only sends the request and exits 0, and
/// pct then reads the socket with no time limit: it never returns while the container
/// runs, with or without `--forceStop`.
pub(super) async fn ignored_shutdown(w: Ignored, ctx: &Ctx, io: &crate::io::Io) -> Reply {
    use std::time::Duration;
    if w.timeout == 0 {
        std::future::pending::<()>().await;
    }
    tokio::time::sleep(Duration::from_secs(w.timeout)).await;
    if !w.kill {
        let warning = format!(
            "command 'lxc-stop -n {} --nokill --timeout {}' failed: exit code 1\n",
            w.vmid, w.timeout
        );
        if io.stdout.write_str(&warning).await.is_err() {
            return Reply::err("", crate::unix::SIGPIPE_STATUS);
        }
        tokio::time::sleep(Duration::from_secs(w.timeout + 5)).await;
        return die("container did not stop");
    }
    let mut state = ctx.host.state();
    if let Some(ct) = state.containers.get_mut(&w.vmid)
        && ct.status == Status::Running
    {
        set_stopped(ct, ctx);
        if w.restart {
            set_running(ct);
        }
    }
    Reply::default()
}

/// exec/enter: the container exists and runs.
fn attach_check(state: &State, vmid: Vmid) -> Result<(), Reply> {
    match state.containers.get(&vmid.get()) {
        None => Err(no_config(state, vmid)),
        Some(ct) if ct.status != Status::Running => {
            Err(die(format!("container '{vmid}' not running!")))
        }
        Some(_) => Ok(()),
    }
}

/// C's `strtoul(s, &end, 0)` as Perl's POSIX::strtoul reports it: the value, or None
/// when characters are left over or it overflows.
fn strtoul(s: &str) -> Option<u64> {
    let trimmed = s.trim_start();
    let unsigned = trimmed.strip_prefix('+').unwrap_or(trimmed);
    let (digits, radix) = match unsigned
        .strip_prefix("0x")
        .or_else(|| unsigned.strip_prefix("0X"))
    {
        Some(hex) if hex.starts_with(|c: char| c.is_ascii_hexdigit()) => (hex, 16),
        _ if unsigned.starts_with('0') => (unsigned, 8),
        _ => (unsigned, 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// A `--user`/`--group` value: digits are an id, anything else a name in `file`.
fn owner_id(fs: &Fs, file: &str, name: &str) -> Option<u32> {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
        return name.parse().ok();
    }
    crate::host::lookup_id(fs, file, name).filter(|_| name.parse::<u32>().is_err())
}

/// The primary group of a user in a passwd file (0 when unknown).
fn primary_gid(fs: &Fs, user: &str) -> u32 {
    let Ok(data) = fs.read("/etc/passwd") else {
        return 0;
    };
    String::from_utf8_lossy(data)
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&user))
                .then(|| fields.get(3)?.parse().ok())
                .flatten()
        })
        .unwrap_or(0)
}

/// pct's `create_file`: resolve owner and mode, then open the destination (creating it
/// with `0666 & ~umask`, or truncating it in place) and apply them.
fn create_file(
    fs: &mut Fs,
    path: &str,
    shown: &str,
    t: &Transfer,
    new_owner: (u32, u32),
) -> Result<(), String> {
    let uid = match &t.user {
        Some(u) => Some(
            owner_id(fs, "/etc/passwd", u).ok_or_else(|| format!("failed to get uid for: {u}"))?,
        ),
        None => None,
    };
    let gid = match &t.group {
        Some(g) => Some(
            owner_id(fs, "/etc/group", g).ok_or_else(|| format!("failed to get gid for: {g}"))?,
        ),
        None => None,
    };
    let mode = match &t.perms {
        Some(p) => Some(strtoul(p).ok_or_else(|| format!("invalid mode: '{p}'"))?),
        None => None,
    };
    if fs
        .open_for_write(path, WriteMode::Exclusive, 0o666, new_owner)
        .is_err()
    {
        fs.open_for_write(path, WriteMode::Truncate, 0o666, new_owner)
            .map_err(|e| format!("failed to create file: {shown}: {e}"))?;
    }
    if let Some(mode) = mode {
        let _ = fs.set_mode(path, (mode & 0o7777) as u32);
    }
    if uid.is_some() || gid.is_some() {
        fs.set_owner(path, uid, gid)
            .map_err(|e| format!("failed to change file owner: {e}"))?;
    }
    Ok(())
}

/// The bytes a copy reads from `path`: a directory reads as nothing.
fn source_bytes(fs: &Fs, path: &str) -> Result<Vec<u8>, FsError> {
    match fs.read(path) {
        Ok(data) => Ok(data.to_vec()),
        Err(FsError::IsADirectory) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// A path inside a container (pct resolves it from `/`); the empty path names
/// nothing there either.
fn in_container(path: &str) -> String {
    crate::proc::Ctx::resolve_in("/", path)
}

/// A failure inside the copy task: printed, yet pct exits 0.
fn task_warning(msg: String) -> Reply {
    Reply::err(format!("{msg}\n"), 0)
}

fn push(state: &mut State, ctx: &Ctx, t: &Transfer) -> Reply {
    if !is_running(state, t.vmid) {
        return die("can only push files to a running CT");
    }
    let host_path = ctx.resolve(&t.source);
    let data = match source_bytes(&state.fs, &host_path) {
        Ok(data) => data,
        Err(_) => return task_warning(format!("failed to open {} for reading", t.source)),
    };
    let ct = state.containers.get_mut(&t.vmid.get()).expect("running");
    let dest = in_container(&t.destination);
    if let Err(msg) = create_file(&mut ct.fs, &dest, &t.destination, t, (0, 0)) {
        return task_warning(msg);
    }
    // File::Copy's result goes unchecked: a full disk ends the copy silently.
    let _ = ct.fs.write_at(&dest, 0, &data);
    Reply::default()
}

fn pull(state: &mut State, ctx: &Ctx, t: &Transfer) -> Reply {
    if !is_running(state, t.vmid) {
        return die(format!(
            "can only pull files from a running VM at /usr/share/perl5/PVE/CLI/pct.pm line {}.",
            state.pve.pct_lines().1
        ));
    }
    let host_path = ctx.resolve(&t.destination);
    let owner = (ctx.uid, primary_gid(&state.fs, &ctx.user));
    if let Err(msg) = create_file(&mut state.fs, &host_path, &t.destination, t, owner) {
        return task_warning(msg);
    }
    let ct = state.containers.get(&t.vmid.get()).expect("running");
    let data = match source_bytes(&ct.fs, &in_container(&t.source)) {
        Ok(data) => data,
        Err(e) => return task_warning(format!("failed to open {}: {e}", t.source)),
    };
    let _ = state.fs.write_at(&host_path, 0, &data);
    Reply::default()
}

fn config(state: &State, vmid: Vmid, snapshot: Option<&str>) -> Reply {
    let Some(ct) = state.containers.get(&vmid.get()) else {
        return no_config(state, vmid);
    };
    let mut keys: BTreeMap<String, String> = BTreeMap::new();
    let mut lxc: &[(String, String)] = &[];
    match snapshot {
        Some(name) => {
            let Some(snap) = ct.snapshots.iter().find(|s| s.name == name) else {
                return die(format!("snapshot '{name}' does not exist"));
            };
            keys.extend(snap.config.clone());
            keys.insert("snaptime".into(), snap.snaptime.to_string());
            if let Some(parent) = &snap.parent {
                keys.insert("parent".into(), parent.clone());
            }
            if !snap.description.is_empty() {
                keys.insert("description".into(), snap.description.clone());
            }
        }
        None => {
            keys.extend(ct.config.clone());
            if let Some(lock) = &ct.lock {
                keys.insert("lock".into(), lock.clone());
            }
            if ct.template {
                keys.insert("template".into(), "1".into());
            }
            if let Some(tags) = &ct.tags {
                keys.insert("tags".into(), tags.clone());
            }
            if let Some(parent) = &ct.parent_snapshot {
                keys.insert("parent".into(), parent.clone());
            }
            lxc = &ct.lxc;
        }
    }
    let mut out = String::new();
    for (k, v) in &keys {
        if k == "digest" {
            continue;
        }
        let v = if k == "description" {
            encode_text(v)
        } else {
            v.clone()
        };
        out.push_str(&format!("{k}: {v}\n"));
    }
    for (k, v) in lxc {
        out.push_str(&format!("{k}: {v}\n"));
    }
    Reply::out(out)
}

fn snapshot(state: &mut State, vmid: Vmid, name: &str, description: Option<String>) -> Reply {
    if name == "current" || name == "vzdump" {
        return die(format!(
            "unable to use snapshot name '{name}' (reserved name)"
        ));
    }
    let node = state.node.clone();
    let Some(ct) = state.containers.get_mut(&vmid.get()) else {
        return die(format!(
            "Configuration file 'nodes/{node}/lxc/{vmid}.conf' does not exist"
        ));
    };
    if ct.template {
        return die("you can't take a snapshot if it's a template");
    }
    if let Some(lock) = &ct.lock {
        return locked(lock);
    }
    if ct.snapshots.iter().any(|s| s.name == name) {
        return die(format!("snapshot name '{name}' already used"));
    }
    let snap = Snapshot {
        name: name.to_string(),
        parent: ct.parent_snapshot.clone(),
        description: description.unwrap_or_default(),
        snaptime: now_secs(),
        config: ct.config.clone(),
        fs: ct.fs.clone(),
    };
    ct.snapshots.push(snap);
    ct.parent_snapshot = Some(name.to_string());
    Reply::default()
}

fn delsnapshot(state: &mut State, vmid: Vmid, name: &str, force: bool) -> Reply {
    let node = state.node.clone();
    let Some(ct) = state.containers.get_mut(&vmid.get()) else {
        return die(format!(
            "Configuration file 'nodes/{node}/lxc/{vmid}.conf' does not exist"
        ));
    };
    if !force && let Some(lock) = &ct.lock {
        return locked(lock);
    }
    let Some(pos) = ct.snapshots.iter().position(|s| s.name == name) else {
        return die(format!("snapshot '{name}' does not exist"));
    };
    let removed = ct.snapshots.remove(pos);
    for s in &mut ct.snapshots {
        if s.parent.as_deref() == Some(name) {
            s.parent = removed.parent.clone();
        }
    }
    if ct.parent_snapshot.as_deref() == Some(name) {
        ct.parent_snapshot = removed.parent;
    }
    Reply::default()
}

fn rollback(state: &mut State, ctx: &Ctx, vmid: Vmid, name: &str, start: bool) -> Reply {
    let node = state.node.clone();
    let Some(ct) = state.containers.get_mut(&vmid.get()) else {
        return die(format!(
            "Configuration file 'nodes/{node}/lxc/{vmid}.conf' does not exist"
        ));
    };
    let Some(snap) = ct.snapshots.iter().find(|s| s.name == name).cloned() else {
        return die(format!("snapshot '{name}' does not exist"));
    };
    if let Some(lock) = &ct.lock {
        return locked(lock);
    }
    if ct.status == Status::Running {
        if ct.refuses_stop {
            return die("container did not stop");
        }
        set_stopped(ct, ctx);
    }
    ct.config = snap.config;
    ct.fs = snap.fs;
    ct.parent_snapshot = Some(snap.name);
    if start && !ct.template {
        set_running(ct);
    }
    Reply::default()
}
