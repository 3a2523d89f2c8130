//! `qm` command lines and output parsers: pure (strings in, typed values out, no I/O).
//!
//! Written from the project's qm spec (docs/qm-fidelity.md) alone, never from
//! fake-pve's emulator, so that the fake can catch a mistake here. Every value that
//! reaches the node's shell goes through [`crate::quote::quote`]; `qm guest exec`
//! always gets `--`, so a word of the command is never read as one of qm's options
//! (qm-fidelity.md §9).
//!
//! A VM id follows the same rules as a container id (one id space, §14), so it is a
//! [`Ctid`] here too.

use std::collections::BTreeMap;

use crate::pct::Ctid;
use crate::quote::{Unquotable, quote};
use crate::snapshot::SnapName;

/// Seconds `qm guest exec` is given beyond the guest-side `timeout`: the inner
/// `timeout -k` grace, the agent's ping and one of qm's one-second polls.
pub const EXEC_SLACK_SECS: u64 = 10;
/// The grace the guest-side `timeout` gives a command after TERM before KILL.
pub const KILL_AFTER_SECS: u64 = 5;
/// The most bytes one `qm guest exec --pass-stdin` call may carry is 1 MiB (§9); an
/// upload sends pieces well below it.
pub const STDIN_CHUNK: u64 = 768 * 1024;
/// Bytes a download reads per call: base64 in the agent's captured output (which the
/// agent caps far higher), so that each answer stays near 1 MB.
pub const READ_CHUNK: u64 = 768 * 1024;

/// `qm list --full`: `--full` so that a paused VM is not shown as running (§4).
pub fn list() -> String {
    "qm list --full".into()
}

/// `qm status VMID --verbose` (§5).
pub fn status(vmid: Ctid) -> String {
    format!("qm status {vmid} --verbose")
}

/// `qm config VMID` (§7).
pub fn config(vmid: Ctid) -> String {
    format!("qm config {vmid}")
}

/// `qm start VMID`.
pub fn start(vmid: Ctid) -> String {
    format!("qm start {vmid}")
}

/// `qm stop VMID` (QMP quit, then signals; never a clean shutdown).
pub fn stop(vmid: Ctid) -> String {
    format!("qm stop {vmid}")
}

/// `qm shutdown VMID --timeout T [--forceStop 1]`. The timeout is always given: the
/// default may come from the VM's `startup: down=` (§6).
pub fn shutdown(vmid: Ctid, secs: u64, force_stop: bool) -> String {
    let force = if force_stop { " --forceStop 1" } else { "" };
    format!("qm shutdown {vmid} --timeout {secs}{force}")
}

/// `qm reboot VMID --timeout T`.
pub fn reboot(vmid: Ctid, secs: u64) -> String {
    format!("qm reboot {vmid} --timeout {secs}")
}

/// `qm snapshot VMID NAME [--vmstate 1] [--description TEXT]` (§12).
pub fn snapshot(
    vmid: Ctid,
    name: &SnapName,
    description: &str,
    vmstate: bool,
) -> Result<String, Unquotable> {
    let mut line = format!("qm snapshot {vmid} {name}");
    if vmstate {
        line.push_str(" --vmstate 1");
    }
    if !description.is_empty() {
        line.push_str(" --description ");
        line.push_str(&quote(description, "the description")?);
    }
    Ok(line)
}

/// `qm listsnapshot VMID`: the tree pct prints too (§12).
pub fn listsnapshot(vmid: Ctid) -> String {
    format!("qm listsnapshot {vmid}")
}

/// `qm rollback VMID NAME [--start 1]`.
pub fn rollback(vmid: Ctid, name: &SnapName, start: bool) -> String {
    let start = if start { " --start 1" } else { "" };
    format!("qm rollback {vmid} {name}{start}")
}

/// `qm delsnapshot VMID NAME`.
pub fn delsnapshot(vmid: Ctid, name: &SnapName) -> String {
    format!("qm delsnapshot {vmid} {name}")
}

/// `qm guest exec VMID --timeout Q -- argv…`, optionally with `--pass-stdin 1`.
fn guest_exec(vmid: Ctid, qm_secs: u64, stdin: bool, argv: &[&str]) -> Result<String, Unquotable> {
    let words: Result<Vec<String>, Unquotable> =
        argv.iter().map(|w| quote(w, "a command word")).collect();
    let pass = if stdin { " --pass-stdin 1" } else { "" };
    Ok(format!(
        "qm guest exec {vmid} --timeout {qm_secs}{pass} -- {}",
        words?.join(" ")
    ))
}

/// The user's `command`, run with `sh -c` in the guest under a guest-side
/// `timeout -k 5 T`, so that it really ends there when its time is up (qm itself only
/// stops waiting, §9). qm waits [`EXEC_SLACK_SECS`] longer than the inner limit.
pub fn exec(vmid: Ctid, command: &str, secs: u64) -> Result<String, Unquotable> {
    let t = secs.to_string();
    let k = KILL_AFTER_SECS.to_string();
    guest_exec(
        vmid,
        secs + EXEC_SLACK_SECS,
        false,
        &["timeout", "-k", &k, &t, "sh", "-c", command],
    )
}

/// Bytes `offset..offset + len` of a file on the node.
#[derive(Debug, Clone, Copy)]
pub struct Piece<'a> {
    pub file: &'a str,
    pub offset: u64,
    pub len: u64,
}

/// One of our small `sh` scripts for the guest, with its arguments as `$1`…, and
/// optionally a piece of a node file to feed it on its standard input.
#[derive(Debug, Clone, Copy)]
pub struct Script<'a> {
    pub text: &'a str,
    pub args: &'a [&'a str],
    pub input: Option<Piece<'a>>,
}

impl<'a> Script<'a> {
    pub fn new(text: &'a str, args: &'a [&'a str]) -> Self {
        Script {
            text,
            args,
            input: None,
        }
    }

    /// The same script reading `piece` on its standard input (`--pass-stdin 1`).
    pub fn reading(self, piece: Piece<'a>) -> Self {
        Script {
            input: Some(piece),
            ..self
        }
    }
}

/// The node's command line that runs `script` in the guest, qm waiting `qm_secs`.
pub fn exec_script(vmid: Ctid, script: &Script<'_>, qm_secs: u64) -> Result<String, Unquotable> {
    let mut argv = vec!["sh", "-c", script.text, "sh"];
    argv.extend_from_slice(script.args);
    let Some(piece) = script.input else {
        return guest_exec(vmid, qm_secs, false, &argv);
    };
    let src = quote(piece.file, "the node's temporary file")?;
    Ok(format!(
        "tail -c +{} {src} | head -c {} | {}",
        piece.offset + 1,
        piece.len,
        guest_exec(vmid, qm_secs, true, &argv)?
    ))
}

/// Creates (mode 600) or extends `$1` with standard input.
pub const WRITE_SCRIPT: &str = "umask 077 && cat > \"$1\"";
pub const APPEND_SCRIPT: &str = "cat >> \"$1\"";
/// Prints bytes `$2`.. (1-based), at most `$3` of them, of file `$1`, in base64 on
/// one line.
pub const READ_SCRIPT: &str = "tail -c +\"$2\" \"$1\" | head -c \"$3\" | base64 -w 0";

/// Why qm's output could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected output from {what}: {reason}")]
pub struct ParseError {
    pub what: &'static str,
    pub reason: String,
}

fn parse_error(what: &'static str, reason: impl Into<String>) -> ParseError {
    ParseError {
        what,
        reason: reason.into(),
    }
}

/// One row of `qm list --full`.
#[derive(Debug, Clone, PartialEq)]
pub struct VmRow {
    pub vmid: u32,
    pub name: String,
    /// The QMP state: `running`, `paused`, `stopped`, …
    pub status: String,
    /// Memory in MiB (qm prints it with `%s`: a fraction is possible).
    pub memory_mb: f64,
    pub bootdisk_gb: f64,
    /// 0 for a stopped VM.
    pub pid: u32,
}

/// `qm list [--full]`: the header, then one row per VM; empty output is no VMs. Rows
/// are read from both ends: the vmid is the first word, STATUS, MEM(MB), BOOTDISK(GB)
/// and PID the last four; the name (which may hold spaces, e.g. `VM 101`) is between.
pub fn parse_list(stdout: &str) -> Result<Vec<VmRow>, ParseError> {
    let mut lines = stdout.lines().filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else {
        return Ok(Vec::new());
    };
    let head: Vec<&str> = header.split_whitespace().collect();
    if head.first() != Some(&"VMID") || head.last() != Some(&"PID") {
        return Err(parse_error("qm list", format!("header {header:?}")));
    }
    let mut rows = Vec::new();
    for line in lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        let bad = || parse_error("qm list", format!("row {line:?}"));
        if words.len() < 5 {
            return Err(bad());
        }
        let n = words.len();
        let vmid = words[0].parse().map_err(|_| bad())?;
        let pid = words[n - 1].parse().map_err(|_| bad())?;
        let bootdisk_gb = words[n - 2].parse().map_err(|_| bad())?;
        let memory_mb = words[n - 3].parse().map_err(|_| bad())?;
        let status = words[n - 4].to_string();
        // The name is the text between the vmid and the status, kept as printed.
        let after_id = line.trim_start()[words[0].len()..].trim_start();
        let name_end = after_id.rfind(&format!(" {status} ")).ok_or_else(bad)?;
        let name = after_id[..name_end].trim_end().to_string();
        rows.push(VmRow {
            vmid,
            name,
            status,
            memory_mb,
            bootdisk_gb,
            pid,
        });
    }
    Ok(rows)
}

/// What `qm status --verbose` says about a VM (§5).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VmStatus {
    /// The QMP state (`qmpstatus`): `running`, `paused`, `stopped`, …
    pub status: String,
    pub name: Option<String>,
    pub lock: Option<String>,
    pub pid: Option<u32>,
    pub uptime: Option<u64>,
    pub cpus: Option<f64>,
    pub mem: Option<u64>,
    pub maxmem: Option<u64>,
    pub maxdisk: Option<u64>,
    pub template: bool,
    pub running_qemu: Option<String>,
}

/// The top-level `key: value` lines of `qm status --verbose` (nested blocks, indented
/// by TABs, are skipped); the state is `qmpstatus`, else `status`.
pub fn parse_status(stdout: &str) -> Result<VmStatus, ParseError> {
    let mut keys = BTreeMap::new();
    for line in stdout.lines() {
        if line.starts_with('\t') || line.trim().is_empty() {
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            keys.insert(k.trim().to_string(), v.trim().to_string());
        }
    }
    let status = keys
        .get("qmpstatus")
        .or_else(|| keys.get("status"))
        .filter(|s| !s.is_empty())
        .ok_or_else(|| parse_error("qm status", format!("no status in {stdout:?}")))?
        .clone();
    let num = |k: &str| keys.get(k).and_then(|v| v.parse::<u64>().ok());
    Ok(VmStatus {
        status,
        name: keys.get("name").cloned(),
        lock: keys.get("lock").cloned(),
        pid: num("pid").map(|p| p as u32),
        uptime: num("uptime"),
        cpus: keys.get("cpus").and_then(|v| v.parse().ok()),
        mem: num("mem"),
        maxmem: num("maxmem"),
        maxdisk: num("maxdisk"),
        template: keys.get("template").is_some_and(|v| v == "1"),
        running_qemu: keys.get("running-qemu").cloned(),
    })
}

/// `qm config`: its `key: value` lines.
pub fn parse_config(stdout: &str) -> BTreeMap<String, String> {
    stdout
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// Whether the guest agent is enabled in a config: `None` without an `agent:` key
/// (qm then says `No QEMU guest agent configured`), else the `[enabled=]1|0` part.
pub fn agent_enabled(config: &BTreeMap<String, String>) -> Option<bool> {
    let v = config.get("agent")?;
    let enabled = v
        .split(',')
        .find_map(|part| match part.split_once('=') {
            Some(("enabled", e)) => Some(e),
            Some(_) => None,
            None => Some(part),
        })
        .unwrap_or("0");
    Some(matches!(enabled, "1" | "yes" | "on" | "true"))
}

/// What `qm guest exec` printed (§9).
#[derive(Debug, Clone, PartialEq)]
pub enum ExecResult {
    /// The process ended.
    Exited {
        exit_code: Option<i32>,
        signal: Option<i32>,
        stdout: String,
        stderr: String,
        out_truncated: bool,
        err_truncated: bool,
    },
    /// qm stopped waiting (`timeout reached, returning pid`): the process may still
    /// run in the guest.
    StillRunning { pid: u64 },
}

fn flag(v: &serde_json::Value, key: &str) -> bool {
    match v.get(key) {
        Some(serde_json::Value::Bool(b)) => *b,
        Some(serde_json::Value::Number(n)) => n.as_u64() == Some(1),
        Some(serde_json::Value::String(s)) => s == "1",
        _ => false,
    }
}

fn int(v: &serde_json::Value, key: &str) -> Option<i64> {
    match v.get(key)? {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// The JSON object `qm guest exec` prints: the status of an ended process (out-data
/// and err-data already decoded, booleans as 1/0), or `{"pid": N}`.
pub fn parse_exec(stdout: &str) -> Result<ExecResult, ParseError> {
    let v: serde_json::Value = serde_json::from_str(stdout.trim())
        .map_err(|e| parse_error("qm guest exec", format!("{e} in {:?}", short(stdout))))?;
    if !v.is_object() {
        return Err(parse_error("qm guest exec", "not a JSON object"));
    }
    if v.get("exited").is_none() {
        return match int(&v, "pid") {
            Some(pid) if pid >= 0 => Ok(ExecResult::StillRunning { pid: pid as u64 }),
            _ => Err(parse_error("qm guest exec", "neither `exited` nor `pid`")),
        };
    }
    if !flag(&v, "exited") {
        let pid = int(&v, "pid").unwrap_or(0).max(0) as u64;
        return Ok(ExecResult::StillRunning { pid });
    }
    let text = |k: &str| {
        v.get(k)
            .and_then(|s| s.as_str())
            .unwrap_or_default()
            .to_string()
    };
    Ok(ExecResult::Exited {
        exit_code: int(&v, "exitcode").map(|c| c as i32),
        signal: int(&v, "signal").map(|c| c as i32),
        stdout: text("out-data"),
        stderr: text("err-data"),
        out_truncated: flag(&v, "out-truncated"),
        err_truncated: flag(&v, "err-truncated"),
    })
}

fn short(s: &str) -> String {
    s.chars().take(200).collect()
}

/// What a failed qm command's stderr says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// `Configuration file 'nodes/N/qemu-server/ID.conf' does not exist`, or `unable to
    /// find configuration file for VM ID on node 'N'`: no VM of that id on this node
    /// (absent, a container's id, or a VM on another node).
    NotFound,
    /// `VM ID not running` / `VM ID is not running`.
    NotRunning,
    /// `VM ID already running`.
    AlreadyRunning,
    /// `VM is locked (<lock>)`.
    Locked(String),
    /// `you can't start a vm if it's a template`.
    Template,
    /// `VM is paused - cannot shutdown`.
    Paused,
    /// `No QEMU guest agent configured`.
    NoAgent,
    /// `QEMU guest agent is not running`.
    AgentNotRunning,
    /// `VM ID qga command '…' failed - got timeout`: the agent did not answer in time.
    AgentTimeout,
    /// `Agent error: <desc>`: the agent refused (e.g. a program that does not exist).
    AgentError(String),
    /// `VM quit/powerdown failed - got timeout`.
    ShutdownTimeout,
    /// `'input-data' (STDIN) is limited to 1 MiB, aborting`.
    InputTooLarge,
    /// `snapshot name 'NAME' already used`.
    SnapshotExists(String),
    /// `snapshot 'NAME' does not exist`.
    SnapshotMissing(String),
    /// `snapshot feature is not available`: a disk's storage has no snapshots.
    SnapshotUnsupported,
    Other,
}

/// Classifies qm's error output (the texts of qm-fidelity.md §3, §6, §8, §9).
pub fn classify(stderr: &str) -> Failure {
    for line in stderr.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.starts_with("Configuration file 'nodes/") && line.ends_with("' does not exist")
            || line.starts_with("unable to find configuration file for VM")
        {
            return Failure::NotFound;
        }
        if let Some(rest) = line.strip_prefix("VM is locked (") {
            return Failure::Locked(rest.trim_end_matches(')').to_string());
        }
        if line.starts_with("you can't start a vm if it's a template") {
            return Failure::Template;
        }
        if line.starts_with("VM is paused - cannot shutdown") {
            return Failure::Paused;
        }
        if line == "No QEMU guest agent configured" {
            return Failure::NoAgent;
        }
        if line == "QEMU guest agent is not running" {
            return Failure::AgentNotRunning;
        }
        if let Some(desc) = line.strip_prefix("Agent error: ") {
            return Failure::AgentError(desc.to_string());
        }
        if line.starts_with("VM quit/powerdown failed - got timeout") {
            return Failure::ShutdownTimeout;
        }
        if line.starts_with("'input-data' (STDIN) is limited to") {
            return Failure::InputTooLarge;
        }
        if let Some(rest) = line.strip_prefix("snapshot name '")
            && let Some(name) = rest.strip_suffix("' already used")
        {
            return Failure::SnapshotExists(name.to_string());
        }
        if let Some(rest) = line.strip_prefix("snapshot '")
            && let Some(name) = rest.strip_suffix("' does not exist")
        {
            return Failure::SnapshotMissing(name.to_string());
        }
        if line.contains("snapshot feature is not available") {
            return Failure::SnapshotUnsupported;
        }
        if line.starts_with("you can't take a snapshot if it's a template")
            || line.starts_with("you can't rollback if vm is a template")
            || line.starts_with("you can't delete a snapshot if vm is a template")
        {
            return Failure::Template;
        }
        if line.starts_with("VM ") {
            if line.contains(" qga command '") && line.ends_with("failed - got timeout") {
                return Failure::AgentTimeout;
            }
            if line.ends_with(" already running") {
                return Failure::AlreadyRunning;
            }
            if line.ends_with(" not running") {
                return Failure::NotRunning;
            }
        }
    }
    Failure::Other
}

/// qm's message: its non-empty lines, each once, joined with `; ` (a shutdown of an
/// absent VM prints the same line twice, §6).
pub fn message(stderr: &str) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for l in stderr.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !seen.contains(&l) {
            seen.push(l);
        }
    }
    seen.join("; ")
}

/// Whether `qm shutdown --forceStop` had to stop the VM hard (its stdout, §6).
pub fn was_forced(stdout: &str) -> bool {
    stdout.contains("terminating now with SIGTERM") || stdout.contains("stop instead of shutdown")
}

/// The agent-not-answering line a shutdown prints before it falls back to ACPI (§6).
pub fn agent_fallback(stdout: &str) -> Option<String> {
    stdout
        .lines()
        .find(|l| l.starts_with("QEMU Guest Agent is not running"))
        .map(|l| l.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> Ctid {
        Ctid::new(n).unwrap()
    }

    #[test]
    fn list_rows_are_read_from_both_ends() {
        // qm-fidelity.md §4: padding kept at line ends, the default name has a space.
        let out = "      VMID NAME                 STATUS     MEM(MB)    BOOTDISK(GB) PID       \n       100 vm1                  running    2048              32.00 1234      \n       101 VM 101               stopped    512                0.00 0         \n";
        let rows = parse_list(out).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].vmid, 100);
        assert_eq!(rows[0].name, "vm1");
        assert_eq!(rows[0].status, "running");
        assert_eq!(rows[0].memory_mb, 2048.0);
        assert_eq!(rows[0].bootdisk_gb, 32.0);
        assert_eq!(rows[0].pid, 1234);
        assert_eq!(rows[1].name, "VM 101");
        assert_eq!(rows[1].pid, 0);
        assert_eq!(parse_list("").unwrap(), vec![]);
        // A name longer than its column pushes the others right.
        let long = "      VMID NAME                 STATUS     MEM(MB)    BOOTDISK(GB) PID       \n       102 a-very-long-virtual-machine-name paused     1.5               8.00 77        \n";
        let rows = parse_list(long).unwrap();
        assert_eq!(rows[0].name, "a-very-long-virtual-machine-name");
        assert_eq!(rows[0].status, "paused");
        assert_eq!(rows[0].memory_mb, 1.5);
        assert!(parse_list("garbage\n").is_err());
    }

    #[test]
    fn status_reads_the_top_level_keys() {
        let out = "cpus: 1\ndisk: 0\nmaxdisk: 34359738368\nmaxmem: 2147483648\nmem: 0\nmemhost: 0\nname: vm1\nnetin: 0\nnetout: 0\nqmpstatus: stopped\nstatus: stopped\nuptime: 0\nvmid: 100\n";
        let s = parse_status(out).unwrap();
        assert_eq!(s.status, "stopped");
        assert_eq!(s.name.as_deref(), Some("vm1"));
        assert_eq!(s.maxmem, Some(2147483648));
        let running = "nics:\n\ttap100i0:\n\t\tnetin: 5\npid: 4242\nqmpstatus: paused\nstatus: running\nuptime: 77\n";
        let s = parse_status(running).unwrap();
        assert_eq!(s.status, "paused", "qmpstatus wins over status");
        assert_eq!(s.pid, Some(4242));
        assert!(parse_status("").is_err());
    }

    #[test]
    fn the_agent_key_has_three_meanings() {
        let cfg = |v: Option<&str>| {
            let mut m = BTreeMap::new();
            if let Some(v) = v {
                m.insert("agent".to_string(), v.to_string());
            }
            m
        };
        assert_eq!(agent_enabled(&cfg(None)), None);
        assert_eq!(agent_enabled(&cfg(Some("1"))), Some(true));
        assert_eq!(agent_enabled(&cfg(Some("0"))), Some(false));
        assert_eq!(
            agent_enabled(&cfg(Some("enabled=1,fstrim_cloned_disks=1"))),
            Some(true)
        );
        assert_eq!(agent_enabled(&cfg(Some("1,type=virtio"))), Some(true));
        assert_eq!(agent_enabled(&cfg(Some("type=isa"))), Some(false));
        let parsed =
            parse_config("agent: 1\nname: vm1\nnet0: virtio=BC:24:11:2A:3B:4C,bridge=vmbr0\n");
        assert_eq!(parsed["net0"], "virtio=BC:24:11:2A:3B:4C,bridge=vmbr0");
    }

    #[test]
    fn exec_output_in_both_shapes() {
        let done = "{\n   \"exitcode\" : 3,\n   \"exited\" : 1,\n   \"out-data\" : \"hi\\n\"\n}\n";
        assert_eq!(
            parse_exec(done).unwrap(),
            ExecResult::Exited {
                exit_code: Some(3),
                signal: None,
                stdout: "hi\n".into(),
                stderr: String::new(),
                out_truncated: false,
                err_truncated: false,
            }
        );
        let pid = "{\n   \"pid\" : 1234\n}\n";
        assert_eq!(
            parse_exec(pid).unwrap(),
            ExecResult::StillRunning { pid: 1234 }
        );
        let killed = "{\"exited\":1,\"signal\":9}";
        assert!(matches!(
            parse_exec(killed).unwrap(),
            ExecResult::Exited {
                signal: Some(9),
                exit_code: None,
                ..
            }
        ));
        assert!(parse_exec("").is_err());
        assert!(parse_exec("[1]").is_err());
    }

    #[test]
    fn command_lines_quote_every_word_and_end_qms_options() {
        assert_eq!(list(), "qm list --full");
        assert_eq!(
            shutdown(id(200), 60, true),
            "qm shutdown 200 --timeout 60 --forceStop 1"
        );
        assert_eq!(
            exec(id(200), "echo $((6*7))", 30).unwrap(),
            "qm guest exec 200 --timeout 40 -- timeout -k 5 30 sh -c 'echo $((6*7))'"
        );
        assert_eq!(
            exec_script(
                id(200),
                &Script::new(READ_SCRIPT, &["/root/a b", "1", "10"]),
                60
            )
            .unwrap(),
            "qm guest exec 200 --timeout 60 -- sh -c 'tail -c +\"$2\" \"$1\" | head -c \"$3\" | base64 -w 0' sh '/root/a b' 1 10"
        );
        assert_eq!(
            exec_script(
                id(200),
                &Script::new(APPEND_SCRIPT, &["/x"]).reading(Piece {
                    file: "/tmp/.mcp-pct-ab",
                    offset: 768,
                    len: 10
                }),
                60
            )
            .unwrap(),
            "tail -c +769 /tmp/.mcp-pct-ab | head -c 10 | qm guest exec 200 --timeout 60 --pass-stdin 1 -- sh -c 'cat >> \"$1\"' sh /x"
        );
        assert!(exec(id(200), "a\0b", 30).is_err());
    }

    #[test]
    fn failures_are_told_apart_by_their_text() {
        let cases = [
            (
                "Configuration file 'nodes/pve/qemu-server/999.conf' does not exist\n",
                Failure::NotFound,
            ),
            (
                "unable to find configuration file for VM 999 on node 'pve'\n\nunable to find configuration file for VM 999 on node 'pve'\n",
                Failure::NotFound,
            ),
            ("VM 200 not running\n\n", Failure::NotRunning),
            ("VM 200 is not running\n", Failure::NotRunning),
            ("VM 200 already running\n", Failure::AlreadyRunning),
            ("VM is locked (backup)\n", Failure::Locked("backup".into())),
            (
                "you can't start a vm if it's a template\n",
                Failure::Template,
            ),
            ("VM is paused - cannot shutdown\n", Failure::Paused),
            ("No QEMU guest agent configured\n", Failure::NoAgent),
            (
                "QEMU guest agent is not running\n",
                Failure::AgentNotRunning,
            ),
            (
                "VM 200 qga command 'guest-ping' failed - got timeout\n",
                Failure::AgentTimeout,
            ),
            (
                "Agent error: Failed to execute child process\n",
                Failure::AgentError("Failed to execute child process".into()),
            ),
            (
                "VM quit/powerdown failed - got timeout\n",
                Failure::ShutdownTimeout,
            ),
            (
                "'input-data' (STDIN) is limited to 1 MiB, aborting\n",
                Failure::InputTooLarge,
            ),
            ("something else\n", Failure::Other),
        ];
        for (stderr, want) in cases {
            assert_eq!(classify(stderr), want, "{stderr:?}");
        }
        assert_eq!(
            message("unable to find x\n\nunable to find x\n"),
            "unable to find x"
        );
        assert!(was_forced(
            "VM still running - terminating now with SIGTERM\n"
        ));
        assert!(!was_forced(""));
    }
}
