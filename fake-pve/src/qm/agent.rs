//! The QEMU guest agent of a fake VM (qm-fidelity.md §8, §9, §11): the four checks
//! every agent command makes, `qm guest cmd`, `qm guest exec` / `exec-status`, and
//! the checks and helpers of the `file-read` / `file-write` endpoints pvesh reaches
//! (crate::pvesh::agent).
//!
//! `guest-exec` starts its command with no shell, as a process of the VM's own pid
//! space, through the process layer (the program table, `#!` scripts and all) against
//! the VM's filesystem. Its output is captured and its end recorded; nothing ties it
//! to the SSH channel qm ran on.

use std::time::Duration;

use tokio::time::Instant;

use serde_json::{Map, Value, json};

use super::{die, no_config_text};
use crate::host::Host;
use crate::io::{Input, Io, Output};
use crate::perl_json::json_pretty;
use crate::proc::Ctx;
use crate::reply::Reply;
use crate::vm::{ExecEnd, ExecRecord, GUEST_KERNEL_RELEASE, GUEST_KERNEL_VERSION, Vm};

/// How long qm waits for the agent's `guest-ping` (QemuServer/Agent.pm).
pub const PING_TIMEOUT: Duration = Duration::from_secs(3);
/// qm's limit on `--pass-stdin` input.
pub const STDIN_LIMIT: usize = 1024 * 1024;
/// What the agent captures of a stream at most (qga's GUEST_EXEC_MAX_OUTPUT).
pub const OUTPUT_LIMIT: usize = 16 * 1024 * 1024;
/// The qemu-guest-agent version a fake guest runs (Debian 12's).
pub const AGENT_VERSION: &str = "7.2.15";

/// Whether the agent answers a `guest-ping` within 3 s. An agent that is disabled has
/// no socket and fails at once; one that hangs, or a paused VM's, is waited for.
pub async fn answers_ping(host: &Host, vmid: u32) -> bool {
    let (enabled, hangs) = {
        let state = host.state();
        match state.vms.get(&vmid) {
            Some(vm) if vm.status.has_process() => (
                vm.agent_enabled(),
                vm.agent_hangs || vm.status == crate::vm::VmStatus::Paused,
            ),
            _ => return false,
        }
    };
    if !enabled {
        return false;
    }
    if hangs {
        tokio::time::sleep(PING_TIMEOUT).await;
        return false;
    }
    true
}

/// The agent checks of §8, in order; `Err` with the message qm dies with (class C).
pub async fn ready(host: &Host, vmid: u32) -> Result<(), String> {
    {
        let state = host.state();
        let Some(vm) = state.vms.get(&vmid) else {
            return Err(no_config_text(&state.node, vmid));
        };
        if !vm.agent_configured() {
            return Err("No QEMU guest agent configured".into());
        }
        if !vm.status.has_process() {
            return Err(format!("VM {vmid} is not running"));
        }
    }
    if !answers_ping(host, vmid).await {
        return Err("QEMU guest agent is not running".into());
    }
    Ok(())
}

/// Bytes as Perl holds a decoded byte string: one character per byte, which its JSON
/// encoder then writes as UTF-8.
pub fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| b as char).collect()
}

/// `/etc/os-release` of the guest as the agent's `get-osinfo` reports it.
fn osinfo(vm: &Vm) -> Value {
    let text = vm
        .fs
        .read("/etc/os-release")
        .map(|d| String::from_utf8_lossy(d).into_owned())
        .unwrap_or_default();
    let mut m = Map::new();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let key = match k {
            "ID" => "id",
            "NAME" => "name",
            "PRETTY_NAME" => "pretty-name",
            "VERSION" => "version",
            "VERSION_ID" => "version-id",
            "VARIANT" => "variant",
            "VARIANT_ID" => "variant-id",
            _ => continue,
        };
        m.insert(key.into(), v.trim_matches('"').into());
    }
    m.insert("kernel-release".into(), GUEST_KERNEL_RELEASE.into());
    m.insert("kernel-version".into(), GUEST_KERNEL_VERSION.into());
    m.insert("machine".into(), "x86_64".into());
    Value::Object(m)
}

/// The commands qemu-guest-agent 7.2 supports (`guest-info`).
const QGA_COMMANDS: &[&str] = &[
    "guest-exec",
    "guest-exec-status",
    "guest-file-close",
    "guest-file-flush",
    "guest-file-open",
    "guest-file-read",
    "guest-file-seek",
    "guest-file-write",
    "guest-fsfreeze-freeze",
    "guest-fsfreeze-freeze-list",
    "guest-fsfreeze-status",
    "guest-fsfreeze-thaw",
    "guest-fstrim",
    "guest-get-devices",
    "guest-get-disks",
    "guest-get-fsinfo",
    "guest-get-host-name",
    "guest-get-memory-block-info",
    "guest-get-memory-blocks",
    "guest-get-osinfo",
    "guest-get-time",
    "guest-get-timezone",
    "guest-get-users",
    "guest-get-vcpus",
    "guest-info",
    "guest-network-get-interfaces",
    "guest-ping",
    "guest-set-memory-blocks",
    "guest-set-time",
    "guest-set-user-password",
    "guest-set-vcpus",
    "guest-shutdown",
    "guest-ssh-add-authorized-keys",
    "guest-ssh-get-authorized-keys",
    "guest-ssh-remove-authorized-keys",
    "guest-suspend-disk",
    "guest-suspend-hybrid",
    "guest-suspend-ram",
    "guest-sync",
    "guest-sync-delimited",
];

fn info() -> Value {
    let cmds: Vec<Value> = QGA_COMMANDS
        .iter()
        .map(|c| {
            let no_response = matches!(
                *c,
                "guest-shutdown"
                    | "guest-suspend-disk"
                    | "guest-suspend-hybrid"
                    | "guest-suspend-ram"
            );
            json!({"enabled": true, "name": c, "success-response": !no_response})
        })
        .collect();
    json!({"supported_commands": cmds, "version": AGENT_VERSION})
}

/// The guest's interfaces: `lo`, then one `ens18`, `ens19`, … per `net<i>` with the
/// config's MAC address and (when the config has `ipconfig<i>: ip=…`) its address,
/// else a stable made-up one in 192.168.100.0/24; IPv6 link-local from the MAC.
fn interfaces(vm: &Vm) -> Value {
    let stats = json!({
        "rx-bytes": 0, "rx-dropped": 0, "rx-errs": 0, "rx-packets": 0,
        "tx-bytes": 0, "tx-dropped": 0, "tx-errs": 0, "tx-packets": 0,
    });
    let mut list = vec![json!({
        "hardware-address": "00:00:00:00:00:00",
        "ip-addresses": [
            {"ip-address": "127.0.0.1", "ip-address-type": "ipv4", "prefix": 8},
            {"ip-address": "::1", "ip-address-type": "ipv6", "prefix": 128},
        ],
        "name": "lo",
        "statistics": stats,
    })];
    for net in vm.nets() {
        let i: u32 = net.trim_start_matches("net").parse().unwrap_or(0);
        let Some(mac) = vm.mac(net) else { continue };
        let mac = mac.to_ascii_lowercase();
        let (addr, prefix) = vm
            .config
            .get(&format!("ipconfig{i}"))
            .and_then(|c| c.split(',').find_map(|p| p.strip_prefix("ip=")))
            .and_then(|ip| ip.split_once('/'))
            .and_then(|(a, p)| Some((a.to_string(), p.parse::<u32>().ok()?)))
            .unwrap_or_else(|| (format!("192.168.100.{}", (vm.vmid + i) % 250 + 2), 24));
        let b: Vec<u8> = mac
            .split(':')
            .filter_map(|x| u8::from_str_radix(x, 16).ok())
            .collect();
        let mut addrs =
            vec![json!({"ip-address": addr, "ip-address-type": "ipv4", "prefix": prefix})];
        if b.len() == 6 {
            let ll = format!(
                "fe80::{:x}:{:x}:{:x}:{:x}",
                (u16::from(b[0] ^ 2) << 8) | u16::from(b[1]),
                (u16::from(b[2]) << 8) | 0xff,
                0xfe00 | u16::from(b[3]),
                (u16::from(b[4]) << 8) | u16::from(b[5])
            );
            addrs.push(json!({"ip-address": ll, "ip-address-type": "ipv6", "prefix": 64}));
        }
        list.push(json!({
            "hardware-address": mac,
            "ip-addresses": addrs,
            "name": format!("ens{}", 18 + i),
            "statistics": stats,
        }));
    }
    Value::Array(list)
}

/// `qm guest cmd <vmid> <command>` (§8).
pub async fn guest_cmd(ctx: &Ctx, vmid: u32, command: &str, io: &Io) -> i32 {
    if let Err(msg) = ready(&ctx.host, vmid).await {
        return die(msg).write(io).await;
    }
    let result: Result<Option<Value>, Option<String>> = {
        let state = ctx.host.state();
        match state.vms.get(&vmid) {
            None => Err(Some(no_config_text(&state.node, vmid))),
            Some(vm) => match command {
                "ping" => Ok(None),
                "get-host-name" => Ok(Some(json!({"host-name": vm.hostname()}))),
                "get-osinfo" => Ok(Some(osinfo(vm))),
                "fsfreeze-status" => Ok(Some(Value::String("thawed".into()))),
                "info" => Ok(Some(info())),
                "network-get-interfaces" => Ok(Some(interfaces(vm))),
                _ => Err(None),
            },
        }
    };
    let result = match result {
        Ok(r) => r,
        Err(Some(msg)) => return die(msg).write(io).await,
        Err(None) => {
            return ctx
                .refuse(io, &format!("qm guest cmd {command}"), 255)
                .await;
        }
    };
    let text = match result {
        None => String::new(),
        Some(Value::String(s)) => format!("{s}\n"),
        Some(v) => json_pretty(&v),
    };
    Reply::out(text).write(io).await
}

/// One `qm guest exec` call.
pub struct ExecRequest {
    pub vmid: u32,
    pub synchronous: bool,
    /// Seconds; 0 waits without a limit.
    pub timeout: u64,
    pub pass_stdin: bool,
    pub argv: Vec<String>,
}

/// Reads qm's stdin to its end, or `None` once it passed the limit.
async fn read_stdin(io: &Io) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    while let Some(chunk) = io.stdin.read_chunk().await {
        data.extend_from_slice(&chunk);
        if data.len() > STDIN_LIMIT {
            return None;
        }
    }
    Some(data)
}

/// The agent's `guest-exec`: starts `argv` (no shell) in VM `vmid` with `input` on
/// its stdin; its guest pid, or the agent's error description.
pub fn start_process(
    ctx: &Ctx,
    vmid: u32,
    argv: Vec<String>,
    input: Option<Vec<u8>>,
) -> Result<u32, String> {
    let guest = ctx.in_vm(vmid);
    let name = argv.first().cloned().unwrap_or_default();
    let argv = crate::proc::exec_target(&guest, argv).map_err(|(why, _)| {
        format!(
            "Guest agent command failed, error was 'Failed to execute child process \u{201c}{name}\u{201d} ({why})'"
        )
    })?;
    let table = guest.processes();
    let mut guard = table.spawn(1, None, "root", argv.join(" "), Some(vmid));
    let pid = guard.pid;
    let (stdout, out) = Output::capture();
    let (stderr, err) = Output::capture();
    let record = ExecRecord {
        end: None,
        out,
        err,
    };
    if !ctx.host.change_vm(vmid, |vm| {
        vm.execs.insert(pid, record);
    }) {
        return Err(format!("VM {vmid} not running"));
    }
    let child = Ctx {
        pid,
        sid: pid,
        ..guest
    };
    let io = Io {
        stdin: input.map(Input::bytes).unwrap_or_else(Input::empty),
        stdout,
        stderr,
    };
    let host = ctx.host.clone();
    tokio::spawn(async move {
        let end = tokio::select! {
            biased;
            sig = guard.signalled() => ExecEnd::Signalled(sig),
            status = (child.launch.run)(child.clone(), argv, io) => ExecEnd::Exited(status),
        };
        drop(guard);
        host.change_vm(vmid, |vm| {
            if let Some(r) = vm.execs.get_mut(&pid) {
                r.end = Some(end);
            }
        });
    });
    Ok(pid)
}

/// The agent's `guest-exec-status` as qm prints it (§9): `out-data`/`err-data`
/// decoded, booleans 1/0. Once an ended process is reported the agent forgets it.
/// `Err`: what qm dies with.
pub fn exec_status(host: &Host, vmid: u32, pid: u64) -> Result<(bool, Value), String> {
    let mut state = host.state();
    let Some(vm) = state
        .vms
        .get_mut(&vmid)
        .filter(|vm| vm.status.has_process())
    else {
        return Err(format!("VM {vmid} not running"));
    };
    let key = u32::try_from(pid).ok().filter(|p| vm.execs.contains_key(p));
    let Some(key) = key else {
        return Err("Agent error: Invalid parameter 'pid'".into());
    };
    let Some(end) = vm.execs[&key].end else {
        return Ok((false, json!({"exited": 0})));
    };
    let record = vm.execs.remove(&key).expect("present");
    let mut m = Map::new();
    m.insert("exited".into(), 1.into());
    match end {
        ExecEnd::Exited(code) => m.insert("exitcode".into(), code.into()),
        ExecEnd::Signalled(sig) => m.insert("signal".into(), sig.into()),
    };
    for (key, buf) in [("out", &record.out), ("err", &record.err)] {
        let data = buf.lock().unwrap_or_else(|e| e.into_inner());
        if data.is_empty() {
            continue;
        }
        let shown = &data[..data.len().min(OUTPUT_LIMIT)];
        m.insert(format!("{key}-data"), latin1(shown).into());
        if data.len() > OUTPUT_LIMIT {
            m.insert(format!("{key}-truncated"), 1.into());
        }
    }
    Ok((true, Value::Object(m)))
}

/// `qm guest exec …` (§9).
pub async fn exec(ctx: &Ctx, req: ExecRequest, io: &Io) -> i32 {
    let input = if req.pass_stdin {
        match read_stdin(io).await {
            Some(data) => Some(data),
            None => {
                return die("'input-data' (STDIN) is limited to 1 MiB, aborting")
                    .write(io)
                    .await;
            }
        }
    } else {
        None
    };
    let vmid = req.vmid;
    let missing = {
        let state = ctx.host.state();
        (!state.vms.contains_key(&vmid)).then(|| no_config_text(&state.node, vmid))
    };
    if let Some(msg) = missing {
        return die(msg).write(io).await;
    }
    if req.argv.is_empty() {
        if input.is_none() {
            return die("command or input-data (or both) required")
                .write(io)
                .await;
        }
        return ctx
            .refuse(io, "qm guest exec with input data and no command", 255)
            .await;
    }
    if let Err(msg) = ready(&ctx.host, vmid).await {
        return die(msg).write(io).await;
    }
    let pid = match start_process(ctx, vmid, req.argv, input) {
        Ok(pid) => pid,
        Err(desc) if desc.starts_with("VM ") => return die(desc).write(io).await,
        Err(desc) => return die(format!("Agent error: {desc}")).write(io).await,
    };
    let pid_json = json_pretty(&json!({"pid": pid}));
    if !req.synchronous {
        return Reply::out(pid_json).write(io).await;
    }
    let started = Instant::now();
    loop {
        if req.timeout > 0 && started.elapsed() >= Duration::from_secs(req.timeout) {
            let _ = io
                .stderr
                .write_str("timeout reached, returning pid\n")
                .await;
            return Reply::out(pid_json).write(io).await;
        }
        match exec_status(&ctx.host, vmid, u64::from(pid)) {
            Ok((true, status)) => return Reply::out(json_pretty(&status)).write(io).await,
            Ok((false, _)) => {}
            Err(msg) => return die(msg).write(io).await,
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// `qm guest exec-status <vmid> <pid>`.
pub async fn exec_status_cmd(ctx: &Ctx, vmid: u32, pid: u64, io: &Io) -> i32 {
    if let Err(msg) = ready(&ctx.host, vmid).await {
        return die(msg).write(io).await;
    }
    match exec_status(&ctx.host, vmid, pid) {
        Ok((_, status)) => Reply::out(json_pretty(&status)).write(io).await,
        Err(msg) => die(msg).write(io).await,
    }
}
