//! `pct` command lines and output parsers: pure (strings in, typed values out, no I/O).
//!
//! Written from the fidelity notes on the real `pct` alone (pct-fidelity.md), never from
//! fake-pve's emulator, so that the fake can catch a mistake here. Every value that
//! reaches the host's shell goes through [`crate::quote::quote`]; `pct exec` always
//! gets `--`, so words of the command are never read as pct's own options.

use std::fmt;

use crate::quote::{Unquotable, quote};

/// A container id as pct accepts it: 100 to 999999999. A `Ctid` cannot hold anything
/// else, so an id that reaches a command line is always valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ctid(u32);

/// Why a value is not a container id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadCtid(pub String);

impl Ctid {
    pub const MIN: u64 = 100;
    pub const MAX: u64 = 999_999_999;

    pub fn new(n: u64) -> Result<Self, BadCtid> {
        if (Self::MIN..=Self::MAX).contains(&n) {
            Ok(Ctid(n as u32))
        } else {
            Err(BadCtid(format!("{n} is outside 100-999999999")))
        }
    }

    /// Digits only, no sign, no leading zero (as pct's `^[1-9][0-9]{2,8}$`).
    pub fn parse(s: &str) -> Result<Self, BadCtid> {
        let ok = !s.is_empty()
            && s.len() <= 9
            && s.bytes().all(|b| b.is_ascii_digit())
            && !s.starts_with('0');
        match s.parse::<u64>() {
            Ok(n) if ok => Self::new(n),
            _ => Err(BadCtid(format!(
                "{s:?} is not a container id (digits 100-999999999)"
            ))),
        }
    }

    /// A JSON argument: an integer or a string of digits.
    pub fn from_json(v: &serde_json::Value) -> Result<Self, BadCtid> {
        match v {
            serde_json::Value::Number(n) => match n.as_u64() {
                Some(n) => Self::new(n),
                None => Err(BadCtid(format!(
                    "{n} is not a container id (100-999999999)"
                ))),
            },
            serde_json::Value::String(s) => Self::parse(s),
            other => Err(BadCtid(format!(
                "{other} is not a container id (an integer 100-999999999)"
            ))),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Ctid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A container path that may be used: absolute, naming a file, no `..` component.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadPath {
    #[error("Path cannot contain '..' (path traversal not allowed)")]
    Traversal,
    #[error("container paths must be absolute (start with '/'): {0}")]
    Relative(String),
    #[error("the path must name a file, not a directory: {0}")]
    NotAFile(String),
}

/// Checks a container path and splits it into (directory, file name).
pub fn split_container_path(path: &str) -> Result<(&str, &str), BadPath> {
    if path.split('/').any(|c| c == "..") {
        return Err(BadPath::Traversal);
    }
    if !path.starts_with('/') {
        return Err(BadPath::Relative(path.to_string()));
    }
    let i = path.rfind('/').unwrap_or(0);
    let (dir, name) = (&path[..i], &path[i + 1..]);
    if name.is_empty() || name == "." {
        return Err(BadPath::NotAFile(path.to_string()));
    }
    Ok((if dir.is_empty() { "/" } else { dir }, name))
}

/// The name of a hidden temporary file beside `name` in `dir` (inside a container).
pub fn container_temp_path(dir: &str, name: &str, random: &str) -> String {
    // Keep the name short enough for NAME_MAX (255 bytes) whatever `name` is.
    let mut short: String = String::new();
    for c in name.chars() {
        if short.len() + c.len_utf8() > 100 {
            break;
        }
        short.push(c);
    }
    format!("{}/.{short}.mcp-{random}.tmp", dir.trim_end_matches('/'))
}

/// Prefix of the host-side temporary files (and, for pulls, private 0700
/// directories) the file tools use.
pub const HOST_TEMP_PREFIX: &str = "/tmp/.mcp-pct-";

pub fn host_temp_path(random: &str) -> String {
    format!("{HOST_TEMP_PREFIX}{random}")
}

/// `pct list`.
pub fn list() -> String {
    "pct list".to_string()
}

/// `pct status CTID`.
pub fn status(ctid: Ctid) -> String {
    format!("pct status {ctid}")
}

/// `pct start CTID`.
pub fn start(ctid: Ctid) -> String {
    format!("pct start {ctid}")
}

/// `pct stop CTID` (immediate stop, as the reference does; not `pct shutdown`).
pub fn stop(ctid: Ctid) -> String {
    format!("pct stop {ctid}")
}

/// The script that runs the user's command inside the container: with bash when the
/// container has it, else with sh (Alpine); under `timeout` when the container's
/// `timeout` understands `-k` (a safety net that needs no connection: the host side
/// ends the command on time anyway). `$1` = net seconds, `$2` = the command.
const EXEC_SCRIPT: &str = "if command -v bash >/dev/null 2>&1; then s=bash; else s=sh; fi; \
if command -v timeout >/dev/null 2>&1 && timeout -k 1 5 true >/dev/null 2>&1; \
then exec timeout -k 5 \"$1\" \"$s\" -c \"$2\"; else exec \"$s\" -c \"$2\"; fi";

/// `pct exec CTID -- sh -c SCRIPT sh ARGS…`: runs `script` with `sh` in the container,
/// the arguments as `$1`, `$2`, …, every word quoted for the host's shell.
pub fn exec_script(ctid: Ctid, script: &str, args: &[&str]) -> Result<String, Unquotable> {
    let mut line = format!(
        "pct exec {ctid} -- sh -c {} sh",
        quote(script, "the script")?
    );
    for a in args {
        line.push(' ');
        line.push_str(&quote(a, "an argument")?);
    }
    Ok(line)
}

/// The line that runs `command` in container `ctid` (see [`EXEC_SCRIPT`]).
pub fn exec(ctid: Ctid, command: &str, net_secs: u64) -> Result<String, Unquotable> {
    quote(command, "the command")?;
    exec_script(ctid, EXEC_SCRIPT, &[&net_secs.to_string(), command])
}

/// `pct push CTID SRC DST --perms MODE` (paths absolute, so never read as options).
pub fn push(ctid: Ctid, host_src: &str, ct_dst: &str, mode: u32) -> Result<String, Unquotable> {
    Ok(format!(
        "pct push {ctid} {} {} --perms {:o}",
        quote(host_src, "the host path")?,
        quote(ct_dst, "the container path")?,
        mode & 0o7777
    ))
}

/// `mkdir -m 700 DIR`: the private host directory a pulled file lands in, so the
/// container's file is never readable by other users of the node during the copy.
pub fn private_dir(dir: &str) -> Result<String, Unquotable> {
    Ok(format!("mkdir -m 700 -- {}", quote(dir, "the host path")?))
}

/// `pct pull CTID SRC DST`.
pub fn pull(ctid: Ctid, ct_src: &str, host_dst: &str) -> Result<String, Unquotable> {
    Ok(format!(
        "pct pull {ctid} {} {}",
        quote(ct_src, "the container path")?,
        quote(host_dst, "the host path")?
    ))
}

/// Inspects `$1` in a container: its kind, and for a regular file its size and
/// SHA-256 (a `-` when the container has no sha256sum).
pub const PROBE_SCRIPT: &str = "if [ -d \"$1\" ]; then echo directory; \
elif [ ! -e \"$1\" ]; then echo missing; \
elif [ ! -f \"$1\" ]; then echo special; \
else echo file; wc -c < \"$1\" || exit 1; \
if command -v sha256sum >/dev/null 2>&1; then sha256sum < \"$1\" || exit 1; else echo -; fi; fi";

/// Before an upload: is `$1` (the directory) there, and is `$2` (the file) taken?
pub const TARGET_SCRIPT: &str = "if [ ! -d \"$1\" ]; then echo nodir; \
elif [ -d \"$2\" ]; then echo directory; \
elif [ -e \"$2\" ]; then echo exists; \
else echo absent; fi";

/// Moves `$1` to `$2`, replacing it (rename(2): atomic). A file that is replaced
/// passes its owner and group on to the new content, and its mode too when `$3` is
/// `keep` (no permissions were asked for); chown before chmod, which may clear
/// set-id bits.
pub const REPLACE_SCRIPT: &str = "if [ -e \"$2\" ]; then \
o=$(stat -c %u:%g \"$2\") && chown \"$o\" \"$1\" || exit 1; \
if [ \"$3\" = keep ]; then m=$(stat -c %a \"$2\") && chmod \"$m\" \"$1\" || exit 1; fi; fi; \
mv -f \"$1\" \"$2\"";

/// Links `$1` as `$2` unless `$2` exists (link(2) never replaces: atomic, no race),
/// then drops the temporary name.
pub const NO_CLOBBER_SCRIPT: &str = "ln \"$1\" \"$2\" && rm -f \"$1\"";

/// Removes a temporary file.
pub const REMOVE_SCRIPT: &str = "rm -f \"$1\"";

/// What [`PROBE_SCRIPT`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Directory,
    Missing,
    /// A device, socket or pipe.
    Special,
    File {
        size: u64,
        sha256: Option<String>,
    },
}

/// What [`TARGET_SCRIPT`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    NoDirectory,
    Directory,
    Exists,
    Absent,
}

/// Output that does not look like what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected output from {what}: {output:?}")]
pub struct ParseError {
    pub what: &'static str,
    pub output: String,
}

pub(crate) fn parse_err(what: &'static str, output: &str) -> ParseError {
    let output: String = output.chars().take(300).collect();
    ParseError { what, output }
}

/// A SHA-256 as `sha256sum` prints it (`HEX  -` or `HEX  name`), lower-cased.
pub fn parse_sha256(line: &str) -> Option<String> {
    let hex = line.split_whitespace().next()?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| hex.to_lowercase())
}

pub fn parse_probe(stdout: &str) -> Result<Probe, ParseError> {
    let err = || parse_err("the file check", stdout);
    let mut lines = stdout.lines();
    match lines.next().map(str::trim) {
        Some("directory") => Ok(Probe::Directory),
        Some("missing") => Ok(Probe::Missing),
        Some("special") => Ok(Probe::Special),
        Some("file") => {
            let size = lines
                .next()
                .and_then(|l| l.trim().parse().ok())
                .ok_or_else(err)?;
            let sha = lines.next().ok_or_else(err)?;
            let sha256 = if sha.trim() == "-" {
                None
            } else {
                Some(parse_sha256(sha).ok_or_else(err)?)
            };
            Ok(Probe::File { size, sha256 })
        }
        _ => Err(err()),
    }
}

pub fn parse_target(stdout: &str) -> Result<Target, ParseError> {
    match stdout.trim() {
        "nodir" => Ok(Target::NoDirectory),
        "directory" => Ok(Target::Directory),
        "exists" => Ok(Target::Exists),
        "absent" => Ok(Target::Absent),
        _ => Err(parse_err("the target check", stdout)),
    }
}

/// One row of `pct list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    pub ctid: u32,
    pub status: String,
    pub lock: Option<String>,
    pub name: String,
}

/// Field widths of `pct list`: `printf "%-10s %-10s %-12s %-20s\n"`.
const LIST_WIDTHS: [usize; 4] = [10, 10, 12, 20];

/// Reads a `pct list` line by its columns. Each field is left-aligned in its width and
/// followed by one space; a value longer than its width (a 15-character lock like
/// `snapshot-delete`) pushes the following fields right by the excess, as printf does.
/// No value holds whitespace (names have it removed), so a field is the run of
/// non-blank characters at its column, and an all-blank column is an empty field.
fn columns(line: &str) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let mut at = 0;
    let mut fields = Vec::new();
    for (i, width) in LIST_WIDTHS.iter().enumerate() {
        let start = at.min(chars.len());
        let value: String = chars[start..]
            .iter()
            .take_while(|c| !c.is_whitespace())
            .collect();
        let len = value.chars().count();
        fields.push(value);
        if i + 1 < LIST_WIDTHS.len() {
            at = start + (*width).max(len) + 1;
        }
    }
    fields
}

/// Parses `pct list` (stdout). No output means no containers.
pub fn parse_list(stdout: &str) -> Result<Vec<ListEntry>, ParseError> {
    let mut rows = Vec::new();
    for (i, line) in stdout.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f = columns(line);
        if i == 0 && f[0] == "VMID" {
            if f[1] != "Status" || f[2] != "Lock" || f[3] != "Name" {
                return Err(parse_err("pct list (header)", line));
            }
            continue;
        }
        let ctid = Ctid::parse(&f[0]).map_err(|_| parse_err("pct list", line))?;
        if f[1].is_empty() {
            return Err(parse_err("pct list", line));
        }
        rows.push(ListEntry {
            ctid: ctid.get(),
            status: f[1].clone(),
            lock: (!f[2].is_empty()).then(|| f[2].clone()),
            name: f[3].clone(),
        });
    }
    Ok(rows)
}

/// Parses `pct status CTID`: `status: running`.
pub fn parse_status(stdout: &str) -> Result<String, ParseError> {
    stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("status:"))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && !s.contains(char::is_whitespace))
        .ok_or_else(|| parse_err("pct status", stdout))
}

/// What a failed pct command said, classified from its own message (stderr).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// `Configuration file 'nodes/N/lxc/ID.conf' does not exist`.
    NotFound,
    /// `container '101' not running!`, `CT 101 not running`, push/pull to a stopped CT.
    NotRunning,
    /// `CT 100 already running`.
    AlreadyRunning,
    /// `CT is locked (backup)`.
    Locked(String),
    /// `you can't start a CT if it's a template`.
    Template,
    /// `snapshot name 's1' already used` (the name).
    SnapshotExists(String),
    /// `snapshot 's1' does not exist` (the name).
    SnapshotMissing(String),
    /// `snapshot feature is not available` (a disk's storage has no snapshots).
    SnapshotUnsupported,
    /// `container did not stop` (a shutdown that timed out, or a stuck container).
    DidNotStop,
    /// `CT 200 already exists on node 'pve'` (or `VM …`): restore onto a used id.
    Exists,
    /// Anything else.
    Other,
}

/// Classifies pct's error message (its stderr).
pub fn classify(stderr: &str) -> Failure {
    for line in stderr.lines().map(str::trim) {
        if line.starts_with("Configuration file 'nodes/") && line.ends_with(".conf' does not exist")
        {
            return Failure::NotFound;
        }
        if let Some(rest) = line.strip_prefix("CT is locked (")
            && let Some(lock) = rest.strip_suffix(')')
        {
            return Failure::Locked(lock.to_string());
        }
        if (line.starts_with("container '") && line.ends_with("' not running!"))
            || (line.starts_with("CT ") && line.ends_with(" not running"))
            || (line.starts_with("VM ") && line.ends_with(" not running"))
            || line == "can only push files to a running CT"
            || line.starts_with("can only pull files from a running VM")
        {
            return Failure::NotRunning;
        }
        if line.starts_with("CT ") && line.ends_with(" already running") {
            return Failure::AlreadyRunning;
        }
        if line == "you can't start a CT if it's a template" {
            return Failure::Template;
        }
        if let Some(name) = line
            .strip_prefix("snapshot name '")
            .and_then(|r| r.strip_suffix("' already used"))
        {
            return Failure::SnapshotExists(name.to_string());
        }
        if let Some(name) = line
            .strip_prefix("snapshot '")
            .and_then(|r| r.strip_suffix("' does not exist"))
        {
            return Failure::SnapshotMissing(name.to_string());
        }
        if line == "snapshot feature is not available" {
            return Failure::SnapshotUnsupported;
        }
        if line == "container did not stop" {
            return Failure::DidNotStop;
        }
        if (line.starts_with("CT ") || line.starts_with("VM "))
            && line.contains(" already exists on node '")
        {
            return Failure::Exists;
        }
    }
    Failure::Other
}

/// pct's own message, for showing: stderr without blank lines, trimmed.
pub fn message(stderr: &str) -> String {
    stderr
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `pct push`/`pct pull` exit 0 even when the copy failed; what they print on stderr
/// is the only sign. Returns the failure message, if any.
pub fn transfer_failure(exit_code: Option<i32>, stderr: &str) -> Option<String> {
    let msg = message(stderr);
    match (exit_code, msg.is_empty()) {
        (Some(0), true) => None,
        (_, false) => Some(msg),
        (Some(code), true) => Some(format!("pct exited with status {code}")),
        (None, true) => Some("pct did not report an exit status".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ctids_follow_pct_rules() {
        assert_eq!(Ctid::new(100).unwrap().get(), 100);
        assert_eq!(Ctid::new(999_999_999).unwrap().get(), 999_999_999);
        assert!(Ctid::new(99).is_err());
        assert!(Ctid::new(1_000_000_000).is_err());
        assert_eq!(Ctid::parse("101").unwrap().get(), 101);
        for bad in [
            "99",
            "0100",
            "+100",
            "-5",
            "1.5",
            "abc",
            "",
            " 100",
            "1000000000",
        ] {
            assert!(Ctid::parse(bad).is_err(), "{bad}");
        }
        use serde_json::json;
        assert_eq!(Ctid::from_json(&json!(102)).unwrap().get(), 102);
        assert_eq!(Ctid::from_json(&json!("102")).unwrap().get(), 102);
        for bad in [
            json!(-1),
            json!(1.5),
            json!(null),
            json!(true),
            json!([100]),
        ] {
            assert!(Ctid::from_json(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn container_paths_are_absolute_files_without_dot_dot() {
        assert_eq!(
            split_container_path("/etc/app/app.conf").unwrap(),
            ("/etc/app", "app.conf")
        );
        assert_eq!(split_container_path("/f").unwrap(), ("/", "f"));
        assert_eq!(
            split_container_path("/a/../etc/passwd"),
            Err(BadPath::Traversal)
        );
        assert_eq!(split_container_path("..").unwrap_err(), BadPath::Traversal);
        assert_eq!(
            split_container_path("/etc/..").unwrap_err().to_string(),
            "Path cannot contain '..' (path traversal not allowed)"
        );
        // `..` inside a name is just a name.
        assert_eq!(split_container_path("/a..b").unwrap(), ("/", "a..b"));
        assert!(matches!(
            split_container_path("etc/x"),
            Err(BadPath::Relative(_))
        ));
        assert!(matches!(
            split_container_path("/etc/"),
            Err(BadPath::NotAFile(_))
        ));
        assert!(matches!(
            split_container_path("/etc/."),
            Err(BadPath::NotAFile(_))
        ));
    }

    #[test]
    fn temp_names() {
        assert_eq!(
            container_temp_path("/etc/app", "app.conf", "ab12"),
            "/etc/app/.app.conf.mcp-ab12.tmp"
        );
        assert_eq!(container_temp_path("/", "f", "1"), "/.f.mcp-1.tmp");
        let long = "é".repeat(200);
        assert!(container_temp_path("/d", &long, "1").len() < 130);
        assert_eq!(host_temp_path("x"), "/tmp/.mcp-pct-x");
    }

    #[test]
    fn command_lines() {
        let id = Ctid::new(100).unwrap();
        assert_eq!(list(), "pct list");
        assert_eq!(status(id), "pct status 100");
        assert_eq!(start(id), "pct start 100");
        assert_eq!(stop(id), "pct stop 100");
        assert_eq!(
            push(id, "/tmp/.mcp-pct-1", "/etc/my app.conf", 0o644).unwrap(),
            "pct push 100 /tmp/.mcp-pct-1 '/etc/my app.conf' --perms 644"
        );
        assert_eq!(
            pull(id, "/root/$(x)", "/tmp/.mcp-pct-1").unwrap(),
            "pct pull 100 '/root/$(x)' /tmp/.mcp-pct-1"
        );
        let line = exec(id, "ls -la", 40).unwrap();
        assert!(line.starts_with("pct exec 100 -- sh -c '"), "{line}");
        assert!(line.ends_with("' sh 40 'ls -la'"), "{line}");
        assert!(exec(id, "a\0b", 40).is_err());
    }

    /// The exec line, read back by a POSIX word splitter, is exactly the argv pct
    /// should see: `exec 100 -- sh -c SCRIPT sh NET COMMAND`.
    #[test]
    fn exec_words_round_trip() {
        let id = Ctid::new(123).unwrap();
        for cmd in ["echo 'hi'", "$(rm -rf /)", "a\nb", "-la", "--", "é \"q\""] {
            let words = shlex::split(&exec(id, cmd, 9).unwrap()).unwrap();
            assert_eq!(
                words,
                [
                    "pct",
                    "exec",
                    "123",
                    "--",
                    "sh",
                    "-c",
                    EXEC_SCRIPT,
                    "sh",
                    "9",
                    cmd
                ]
            );
        }
    }

    proptest! {
        #[test]
        fn push_words_round_trip(src in "/[^\0]{1,30}", dst in "/[^\0]{1,30}") {
            let id = Ctid::new(100).unwrap();
            let words = shlex::split(&push(id, &src, &dst, 0o4755).unwrap()).unwrap();
            prop_assert_eq!(words, vec!["pct".to_string(), "push".into(), "100".into(), src, dst, "--perms".into(), "4755".into()]);
        }

        #[test]
        fn script_args_round_trip(args in proptest::collection::vec("[^\0]{0,20}", 0..4)) {
            let id = Ctid::new(100).unwrap();
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let words = shlex::split(&exec_script(id, PROBE_SCRIPT, &refs).unwrap()).unwrap();
            prop_assert_eq!(&words[..8], &["pct", "exec", "100", "--", "sh", "-c", PROBE_SCRIPT, "sh"]);
            prop_assert_eq!(&words[8..], &args[..]);
        }

        /// Any row printf would print parses back to its values.
        #[test]
        fn list_rows_round_trip(
            ctid in 100u32..=999_999_999,
            running in any::<bool>(),
            lock in proptest::option::of(prop::sample::select(vec!["backup", "create", "destroyed", "disk", "fstrim", "migrate", "mounted", "rollback", "snapshot", "snapshot-delete"])),
            name in "[A-Za-z0-9.-]{1,40}",
        ) {
            let status = if running { "running" } else { "stopped" };
            let out = format!(
                "{:<10} {:<10} {:<12} {:<20}\n{:<10} {:<10} {:<12} {:<20}\n",
                "VMID", "Status", "Lock", "Name", ctid, status, lock.unwrap_or(""), name
            );
            let rows = parse_list(&out).unwrap();
            prop_assert_eq!(rows, vec![ListEntry { ctid, status: status.into(), lock: lock.map(str::to_string), name }]);
        }
    }

    #[test]
    fn list_is_read_by_columns() {
        let out = "VMID       Status     Lock         Name                \n\
                   100        running                 web01               \n\
                   101        stopped    backup       db01                \n\
                   102        stopped    snapshot-delete a-very-long-hostname-that-goes-on\n";
        let rows = parse_list(out).unwrap();
        assert_eq!(
            rows,
            [
                ListEntry {
                    ctid: 100,
                    status: "running".into(),
                    lock: None,
                    name: "web01".into()
                },
                ListEntry {
                    ctid: 101,
                    status: "stopped".into(),
                    lock: Some("backup".into()),
                    name: "db01".into()
                },
                ListEntry {
                    ctid: 102,
                    status: "stopped".into(),
                    lock: Some("snapshot-delete".into()),
                    name: "a-very-long-hostname-that-goes-on".into()
                },
            ]
        );
        assert_eq!(parse_list("").unwrap(), []);
        // Trailing padding stripped by something on the way: still fine.
        assert_eq!(
            parse_list("VMID       Status     Lock         Name\n100        running\n").unwrap()[0]
                .name,
            ""
        );
        assert!(parse_list("garbage line here\n").is_err());
        assert!(parse_list("VMID Status Name\n").is_err());
    }

    #[test]
    fn status_and_probes() {
        assert_eq!(parse_status("status: running\n").unwrap(), "running");
        assert_eq!(parse_status("status: stopped\n").unwrap(), "stopped");
        assert!(parse_status("").is_err());
        let sha = "f23204174c70ff03a9efcd6c2dfd6d2b8ebdd8bb66936043341e728438a1f0ea";
        assert_eq!(
            parse_probe(&format!("file\n10\n{sha}  -\n")).unwrap(),
            Probe::File {
                size: 10,
                sha256: Some(sha.into())
            }
        );
        assert_eq!(
            parse_probe("file\n 7\n-\n").unwrap(),
            Probe::File {
                size: 7,
                sha256: None
            }
        );
        assert_eq!(parse_probe("missing\n").unwrap(), Probe::Missing);
        assert_eq!(parse_probe("directory\n").unwrap(), Probe::Directory);
        assert!(parse_probe("file\nx\n").is_err());
        assert!(parse_probe("file\n1\nnot-a-hash\n").is_err());
        assert_eq!(parse_target("exists\n").unwrap(), Target::Exists);
        assert_eq!(parse_target("nodir\n").unwrap(), Target::NoDirectory);
        assert!(parse_target("").is_err());
    }

    #[test]
    fn failures_are_read_from_pcts_own_messages() {
        assert_eq!(
            classify("Configuration file 'nodes/pve/lxc/999.conf' does not exist\n"),
            Failure::NotFound
        );
        assert_eq!(
            classify("container '101' not running!\n"),
            Failure::NotRunning
        );
        assert_eq!(classify("CT 101 not running\n"), Failure::NotRunning);
        assert_eq!(
            classify("can only push files to a running CT\n"),
            Failure::NotRunning
        );
        assert_eq!(
            classify(
                "can only pull files from a running VM at /usr/share/perl5/PVE/CLI/pct.pm line 664.\n"
            ),
            Failure::NotRunning
        );
        assert_eq!(
            classify("CT 100 already running\n"),
            Failure::AlreadyRunning
        );
        assert_eq!(
            classify("CT is locked (backup)\n"),
            Failure::Locked("backup".into())
        );
        assert_eq!(
            classify("you can't start a CT if it's a template\n"),
            Failure::Template
        );
        assert_eq!(classify("something else\n"), Failure::Other);
        assert_eq!(classify(""), Failure::Other);
    }

    #[test]
    fn push_and_pull_failures_are_seen_despite_exit_0() {
        assert_eq!(transfer_failure(Some(0), ""), None);
        assert_eq!(
            transfer_failure(
                Some(0),
                "failed to create file: /no/dir/f: No such file or directory\n"
            )
            .unwrap(),
            "failed to create file: /no/dir/f: No such file or directory"
        );
        assert!(transfer_failure(Some(255), "").is_some());
        assert!(transfer_failure(None, "").is_some());
    }
}
