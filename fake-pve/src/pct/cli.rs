//! The pure half of the emulator: argv → a typed [`Command`], or the exact bytes pct
//! prints when it refuses the line (usage aborts, HTTP-400 parameter errors).
//!
//! It follows pve-common's CLIHandler (subcommand lookup by unique prefix), Getopt::Long
//! as JSONSchema::get_options configures it (`--opt`/`-opt`, permuted options, unique
//! abbreviations, case-insensitive names, booleans with an optional value) and the
//! schema checks that run before a method's code.

use std::collections::BTreeMap;

use super::Reply;

/// The API class a command belongs to. The usage listing groups commands by class, in
/// this order, and separates the groups with a blank line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Group {
    Lxc,
    Config,
    Snapshot,
    Status,
    Cli,
    Handler,
}

/// One entry of pct's command table.
struct CommandDef {
    name: &'static str,
    group: Group,
    /// The positional part of the short usage line (after `pct <name> `).
    args: &'static str,
    /// Whether the short usage line ends in ` [OPTIONS]`.
    options: bool,
}

const fn def(name: &'static str, group: Group, args: &'static str, options: bool) -> CommandDef {
    CommandDef {
        name,
        group,
        args,
        options,
    }
}

/// Every command of pve-container's `pct`, sorted as the usage listing shows them.
const COMMANDS: &[CommandDef] = &[
    def("clone", Group::Lxc, "<vmid> <newid>", true),
    def("create", Group::Lxc, "<vmid> <ostemplate>", true),
    def("destroy", Group::Lxc, "<vmid>", true),
    def("list", Group::Lxc, "", false),
    def("migrate", Group::Lxc, "<vmid> <target>", true),
    def(
        "move-volume",
        Group::Lxc,
        "<vmid> <volume> [<storage>] [<target-vmid>] [<target-volume>]",
        true,
    ),
    def("pending", Group::Lxc, "<vmid>", false),
    def("resize", Group::Lxc, "<vmid> <disk> <size>", true),
    def("restore", Group::Lxc, "<vmid> <ostemplate>", true),
    def("template", Group::Lxc, "<vmid>", false),
    def("config", Group::Config, "<vmid>", true),
    def("set", Group::Config, "<vmid>", true),
    def("delsnapshot", Group::Snapshot, "<vmid> <snapname>", true),
    def("listsnapshot", Group::Snapshot, "<vmid>", false),
    def("rollback", Group::Snapshot, "<vmid> <snapname>", true),
    def("snapshot", Group::Snapshot, "<vmid> <snapname>", true),
    def("reboot", Group::Status, "<vmid>", true),
    def("resume", Group::Status, "<vmid>", false),
    def("shutdown", Group::Status, "<vmid>", true),
    def("start", Group::Status, "<vmid>", true),
    def("stop", Group::Status, "<vmid>", true),
    def("suspend", Group::Status, "<vmid>", false),
    def("console", Group::Cli, "<vmid>", true),
    def("cpusets", Group::Cli, "", false),
    def("df", Group::Cli, "<vmid>", false),
    def("enter", Group::Cli, "<vmid>", true),
    def("exec", Group::Cli, "<vmid> [<extra-args>]", true),
    def("fsck", Group::Cli, "<vmid>", true),
    def("fstrim", Group::Cli, "<vmid>", true),
    def("mount", Group::Cli, "<vmid>", false),
    def("pull", Group::Cli, "<vmid> <path> <destination>", true),
    def("push", Group::Cli, "<vmid> <file> <destination>", true),
    def(
        "remote-migrate",
        Group::Cli,
        "<vmid> [<target-vmid>] <target-endpoint> --target-bridge <string> --target-storage <string>",
        true,
    ),
    def("rescan", Group::Cli, "", true),
    def("status", Group::Cli, "<vmid>", true),
    def("unlock", Group::Cli, "<vmid>", false),
    def("unmount", Group::Cli, "<vmid>", false),
    def("help", Group::Handler, "[<extra-args>]", true),
];

/// Aliases: an exact match resolves to the target; prefixes never match an alias.
const ALIASES: &[(&str, &str)] = &[("move_volume", "move-volume")];

fn find_def(name: &str) -> Option<&'static CommandDef> {
    COMMANDS.iter().find(|d| d.name == name)
}

fn short_usage(prefix: &str, d: &CommandDef) -> String {
    let opts = if d.options { " [OPTIONS]" } else { "" };
    format!("{prefix} {}{opts}\n", d.args)
}

/// The usage line of one command, as printed under a parameter error.
pub fn usage_line(name: &str) -> String {
    find_def(name)
        .map(|d| short_usage(&format!("pct {}", d.name), d))
        .unwrap_or_default()
}

/// One usage line per command, indented 7 spaces, each prefixed with `prefix` (`pct`,
/// or `pct st` after an incomplete command); `blank_lines` separates the groups.
fn listing(prefix: &str, blank_lines: bool) -> String {
    let mut out = String::new();
    let mut previous: Option<Group> = None;
    for d in COMMANDS {
        if blank_lines && previous.is_some_and(|g| g != d.group) {
            out.push('\n');
        }
        out.push_str("       ");
        out.push_str(&short_usage(&format!("{prefix} {}", d.name), d));
        previous = Some(d.group);
    }
    out
}

/// `pct help`: the listing on stdout.
pub fn help_text() -> String {
    format!(
        "USAGE: pct <COMMAND> [ARGS] [OPTIONS]\n\n{}",
        listing("pct", true)
    )
}

/// A usage abort (class A): stderr, exit 255.
fn abort(reason: &str, prefix: &str, blank_lines: bool) -> Reply {
    Reply::err(
        format!(
            "ERROR: {reason}\nUSAGE: pct <COMMAND> [ARGS] [OPTIONS]\n\n{}",
            listing(prefix, blank_lines)
        ),
        255,
    )
}

/// A container id that passed pct's checks: `^[1-9][0-9]{2,8}$`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Vmid(u32);

impl Vmid {
    /// Checks a vmid as the schema does: the integer type first, then the format.
    pub fn parse(s: &str) -> Result<Vmid, String> {
        if !is_integer(s) {
            return Err(format!("type check ('integer') failed - got '{s}'"));
        }
        let b = s.as_bytes();
        let well_formed = (3..=9).contains(&b.len())
            && (b'1'..=b'9').contains(&b[0])
            && b.iter().all(u8::is_ascii_digit);
        match s.parse() {
            Ok(n) if well_formed => Ok(Vmid(n)),
            _ => Err("invalid format - value does not look like a valid VM ID\n".into()),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl std::fmt::Display for Vmid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Perl's `is_integer`: `^[+-]?\d+$`.
fn is_integer(s: &str) -> bool {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// A snapshot name (`pve-configid`, at most 40 characters).
pub(crate) fn check_snapname(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let valid = b.len() >= 2
        && b[0].is_ascii_alphabetic()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-');
    if !valid {
        return Err(format!("invalid format - invalid configuration ID '{s}'\n"));
    }
    if s.chars().count() > 40 {
        return Err("value may only be 40 characters long".into());
    }
    Ok(s.to_string())
}

/// A non-negative integer parameter such as `--timeout` (or qm's pid).
pub(crate) fn check_uint(s: &str) -> Result<u64, String> {
    if !is_integer(s) {
        return Err(format!("type check ('integer') failed - got '{s}'"));
    }
    if s.starts_with('-') && s[1..].bytes().any(|b| b != b'0') {
        return Err("value must have a minimum value of 0".into());
    }
    Ok(s.trim_start_matches(['+', '-']).parse().unwrap_or(u64::MAX))
}

/// The options and positional arguments of one implemented command.
struct Schema {
    /// Positional parameters in order; `extra-args` takes the rest.
    positional: &'static [&'static str],
    /// Every property Getopt knows (positional ones included), canonical spelling.
    options: &'static [(&'static str, Kind)],
}

const VMID_ONLY: Schema = Schema {
    positional: &["vmid"],
    options: &[("vmid", Kind::Value)],
};

fn schema(name: &str) -> Option<Schema> {
    use Kind::*;
    let s = match name {
        "list" => Schema {
            positional: &[],
            options: &[],
        },
        "status" => Schema {
            positional: &["vmid"],
            options: &[("vmid", Value), ("verbose", Bool)],
        },
        "start" => Schema {
            positional: &["vmid"],
            options: &[("vmid", Value), ("skiplock", Bool), ("debug", Bool)],
        },
        "stop" => Schema {
            positional: &["vmid"],
            options: &[
                ("vmid", Value),
                ("skiplock", Bool),
                ("overrule-shutdown", Bool),
            ],
        },
        "shutdown" => Schema {
            positional: &["vmid"],
            options: &[("vmid", Value), ("timeout", Value), ("forceStop", Bool)],
        },
        "reboot" => Schema {
            positional: &["vmid"],
            options: &[("vmid", Value), ("timeout", Value)],
        },
        "config" => Schema {
            positional: &["vmid"],
            options: &[("vmid", Value), ("current", Bool), ("snapshot", Value)],
        },
        "exec" => Schema {
            positional: &["vmid", "extra-args"],
            options: &[("vmid", Value), ("keep-env", Bool), ("extra-args", List)],
        },
        "enter" => Schema {
            positional: &["vmid"],
            options: &[("vmid", Value), ("keep-env", Bool)],
        },
        "push" => Schema {
            positional: &["vmid", "file", "destination"],
            options: &[
                ("vmid", Value),
                ("file", Value),
                ("destination", Value),
                ("user", Value),
                ("group", Value),
                ("perms", Value),
            ],
        },
        "pull" => Schema {
            positional: &["vmid", "path", "destination"],
            options: &[
                ("vmid", Value),
                ("path", Value),
                ("destination", Value),
                ("user", Value),
                ("group", Value),
                ("perms", Value),
            ],
        },
        "snapshot" => Schema {
            positional: &["vmid", "snapname"],
            options: &[("vmid", Value), ("snapname", Value), ("description", Value)],
        },
        "delsnapshot" => Schema {
            positional: &["vmid", "snapname"],
            options: &[("vmid", Value), ("snapname", Value), ("force", Bool)],
        },
        "rollback" => Schema {
            positional: &["vmid", "snapname"],
            options: &[("vmid", Value), ("snapname", Value), ("start", Bool)],
        },
        "restore" => Schema {
            positional: &["vmid", "ostemplate"],
            options: &[
                ("vmid", Value),
                ("ostemplate", Value),
                ("storage", Value),
                ("force", Bool),
                ("unique", Bool),
                ("start", Bool),
            ],
        },
        "migrate" => Schema {
            positional: &["vmid", "target"],
            options: &[
                ("vmid", Value),
                ("target", Value),
                ("online", Bool),
                ("restart", Bool),
                ("timeout", Value),
                ("target-storage", Value),
                ("bwlimit", Value),
            ],
        },
        "listsnapshot" | "unlock" | "mount" | "unmount" => VMID_ONLY,
        "help" => Schema {
            positional: &["extra-args"],
            options: &[("extra-args", List), ("verbose", Bool)],
        },
        _ => return None,
    };
    Some(s)
}

pub(crate) use super::getopt::{Kind, Val, getopt};
pub(crate) use crate::guest::parse_boolean;

/// A container command as pct understood it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `pct help [cmd]`: the text is ready to print on stdout.
    Help(String),
    /// `verifyapi`, `bashcomplete`: nothing to do.
    Nothing,
    List,
    Status {
        vmid: Vmid,
        verbose: bool,
    },
    Start(Guarded),
    Stop(Stop),
    Shutdown {
        vmid: Vmid,
        timeout: u64,
        force_stop: bool,
    },
    Reboot {
        vmid: Vmid,
        /// None: lxc-stop's own default (60 s).
        timeout: Option<u64>,
    },
    Exec {
        vmid: Vmid,
        keep_env: bool,
        argv: Vec<String>,
    },
    Enter {
        vmid: Vmid,
        keep_env: bool,
    },
    Push(Transfer),
    Pull(Transfer),
    Config {
        vmid: Vmid,
        snapshot: Option<String>,
    },
    Snapshot {
        vmid: Vmid,
        name: String,
        description: Option<String>,
    },
    ListSnapshot {
        vmid: Vmid,
    },
    DelSnapshot {
        vmid: Vmid,
        name: String,
        force: bool,
    },
    Rollback {
        vmid: Vmid,
        name: String,
        start: bool,
    },
    /// `pct restore VMID ARCHIVE`: a container from a vzdump archive.
    Restore {
        vmid: Vmid,
        archive: String,
        storage: Option<String>,
        force: bool,
        unique: bool,
        start: bool,
    },
    /// `pct migrate VMID TARGET`: to another node of the cluster.
    Migrate(Migration),
    Unlock {
        vmid: Vmid,
    },
    Mount {
        vmid: Vmid,
    },
    Unmount {
        vmid: Vmid,
    },
    /// A real pct command the fake does not emulate.
    Unsupported(&'static str),
}

/// A command on one guest that checks its lock unless `--skiplock` (root only): pct's
/// and qm's `start`, qm's `suspend`, `resume` and `reset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guarded {
    pub vmid: Vmid,
    pub skiplock: bool,
}

impl Guarded {
    pub(crate) fn new(vmid: Vmid, flag: impl Fn(&'static str) -> bool) -> Self {
        Guarded {
            vmid,
            skiplock: flag("skiplock"),
        }
    }
}

/// `pct stop` and `qm stop`: the same options in both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stop {
    pub vmid: Vmid,
    pub skiplock: bool,
    pub overrule_shutdown: bool,
}

impl Stop {
    pub(crate) fn new(vmid: Vmid, flag: impl Fn(&'static str) -> bool) -> Self {
        Stop {
            vmid,
            skiplock: flag("skiplock"),
            overrule_shutdown: flag("overrule-shutdown"),
        }
    }
}

/// What `pct migrate` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub vmid: Vmid,
    pub target: String,
    pub online: bool,
    pub restart: bool,
    /// Options given that fake-pve does not emulate (`--target-storage`, …).
    pub unemulated: Vec<&'static str>,
}

/// `pct push` / `pct pull`: the container path and the host path, raw as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub vmid: Vmid,
    /// push: the host file; pull: the container path.
    pub source: String,
    /// push: the container path; pull: the host file.
    pub destination: String,
    /// Already prefixed with `0` unless it started with one, as pct does.
    pub perms: Option<String>,
    pub user: Option<String>,
    pub group: Option<String>,
}

/// How the first word resolved.
enum Resolved {
    Found(&'static str),
    Special,
    Incomplete,
    Unknown,
}

fn resolve(word: &str) -> Resolved {
    if let Some((_, target)) = ALIASES.iter().find(|(alias, _)| *alias == word) {
        return Resolved::Found(target);
    }
    if let Some(d) = find_def(word) {
        return Resolved::Found(d.name);
    }
    let hits: Vec<&CommandDef> = COMMANDS
        .iter()
        .filter(|d| d.name.starts_with(word))
        .collect();
    match hits.len() {
        1 => Resolved::Found(hits[0].name),
        0 if word == "verifyapi" || word == "bashcomplete" => Resolved::Special,
        0 => Resolved::Unknown,
        _ => Resolved::Incomplete,
    }
}

/// A parameter error (class B): `400 <msg>`, then the command's usage line.
fn param_error(warnings: &str, msg: &str, name: &str) -> Reply {
    Reply::err(format!("{warnings}400 {msg}\n{}", usage_line(name)), 255)
}

/// Parses `pct <args…>`. `is_root` matters because pct checks the caller after the
/// "no command" abort but before every other complaint.
pub fn parse(args: &[String], is_root: bool) -> Result<Command, Reply> {
    let Some(first) = args.first() else {
        return Err(abort("no command specified", "pct", true));
    };
    if !is_root {
        return Err(Reply::err("please run as root\n", 255));
    }
    let name = match resolve(first) {
        Resolved::Found(name) => name,
        Resolved::Special => return Ok(Command::Nothing),
        Resolved::Incomplete => {
            let prefix = format!("pct {first}");
            return Err(abort(
                &format!("incomplete command '{prefix}'"),
                &prefix,
                false,
            ));
        }
        Resolved::Unknown => {
            return Err(abort(
                &format!("unknown command 'pct {first}'"),
                "pct",
                true,
            ));
        }
    };
    let Some(schema) = schema(name) else {
        return Ok(Command::Unsupported(name));
    };
    let rest = &args[1..];
    let mut got = getopt(rest, schema.options);
    if !got.warnings.is_empty() {
        return Err(param_error(&got.warnings, "unable to parse option", name));
    }
    got.bind_positional(schema.positional)
        .map_err(|msg| param_error("", msg, name))?;
    let mut bools: BTreeMap<&str, bool> = BTreeMap::new();
    for (opt, kind) in schema.options {
        if *kind != Kind::Bool {
            continue;
        }
        if let Some(Val::One(v)) = got.values.get(opt) {
            let b = if v.is_empty() {
                Some(true)
            } else {
                parse_boolean(v)
            };
            match b {
                Some(b) => {
                    bools.insert(opt, b);
                }
                None => return Err(param_error("", "unable to parse boolean option", name)),
            }
        }
    }
    Checked {
        name,
        values: got.values,
        bools,
        errors: BTreeMap::new(),
    }
    .build()
}

/// The schema checks, then the typed command.
struct Checked {
    name: &'static str,
    values: BTreeMap<&'static str, Val>,
    bools: BTreeMap<&'static str, bool>,
    errors: BTreeMap<&'static str, String>,
}

impl Checked {
    fn string(&self, key: &str) -> Option<String> {
        match self.values.get(key) {
            Some(Val::One(s)) => Some(s.clone()),
            Some(Val::Many(list)) => list.last().cloned(),
            None => None,
        }
    }

    fn list(&self, key: &str) -> Vec<String> {
        match self.values.get(key) {
            Some(Val::Many(list)) => list.clone(),
            Some(Val::One(s)) => vec![s.clone()],
            None => Vec::new(),
        }
    }

    fn flag(&self, key: &str) -> Option<bool> {
        self.bools.get(key).copied()
    }

    fn check<T>(&mut self, key: &'static str, f: impl Fn(&str) -> Result<T, String>) -> Option<T> {
        let value = self.string(key)?;
        match f(&value) {
            Ok(v) => Some(v),
            Err(e) => {
                self.errors.insert(key, e);
                None
            }
        }
    }

    fn build(mut self) -> Result<Command, Reply> {
        let vmid = self.check("vmid", Vmid::parse);
        let snapname = self.check("snapname", check_snapname);
        let snapshot = self.check("snapshot", check_snapname);
        let timeout = self.check("timeout", check_uint);
        if !self.errors.is_empty() {
            let mut msg = String::from("400 Parameter verification failed.\n");
            for (k, e) in &self.errors {
                msg.push_str(&format!("{k}: {e}\n"));
            }
            msg.push_str(&usage_line(self.name));
            return Err(Reply::err(msg, 255));
        }
        // Every command with a `vmid` positional has it by now.
        let v = || vmid.expect("vmid is a checked positional parameter");
        let flag = |k| self.flag(k).unwrap_or(false);
        let cmd = match self.name {
            "help" => return Ok(Command::Help(help_for(&self.list("extra-args"))?)),
            "list" => Command::List,
            "status" => Command::Status {
                vmid: v(),
                verbose: flag("verbose"),
            },
            "start" => Command::Start(Guarded::new(v(), flag)),
            "stop" => Command::Stop(Stop::new(v(), flag)),
            "shutdown" => Command::Shutdown {
                vmid: v(),
                timeout: timeout.unwrap_or(60),
                force_stop: flag("forceStop"),
            },
            "reboot" => Command::Reboot { vmid: v(), timeout },
            "exec" => Command::Exec {
                vmid: v(),
                keep_env: self.flag("keep-env").unwrap_or(true),
                argv: self.list("extra-args"),
            },
            "enter" => Command::Enter {
                vmid: v(),
                keep_env: self.flag("keep-env").unwrap_or(true),
            },
            "push" | "pull" => {
                let source = if self.name == "push" { "file" } else { "path" };
                let t = Transfer {
                    vmid: v(),
                    source: self.string(source).unwrap_or_default(),
                    destination: self.string("destination").unwrap_or_default(),
                    perms: self.string("perms").map(|p| {
                        if p.starts_with('0') {
                            p
                        } else {
                            format!("0{p}")
                        }
                    }),
                    user: self.string("user"),
                    group: self.string("group"),
                };
                if self.name == "push" {
                    Command::Push(t)
                } else {
                    Command::Pull(t)
                }
            }
            "config" => {
                if snapshot.as_deref().is_some_and(|s| !s.is_empty()) && flag("current") {
                    let msg = "cannot use 'snapshot' parameter with 'current'";
                    return Err(Reply::err(
                        format!(
                            "400 Parameter verification failed.\ncurrent: {msg}\nsnapshot: {msg}\n{}",
                            usage_line("config")
                        ),
                        255,
                    ));
                }
                Command::Config {
                    vmid: v(),
                    snapshot,
                }
            }
            "snapshot" => Command::Snapshot {
                vmid: v(),
                name: snapname.unwrap_or_default(),
                description: self.string("description"),
            },
            "delsnapshot" => Command::DelSnapshot {
                vmid: v(),
                name: snapname.unwrap_or_default(),
                force: flag("force"),
            },
            "rollback" => Command::Rollback {
                vmid: v(),
                name: snapname.unwrap_or_default(),
                start: flag("start"),
            },
            "restore" => Command::Restore {
                vmid: v(),
                archive: self.string("ostemplate").unwrap_or_default(),
                storage: self.string("storage"),
                force: flag("force"),
                unique: flag("unique"),
                start: flag("start"),
            },
            "migrate" => Command::Migrate(Migration {
                vmid: v(),
                target: self.string("target").unwrap_or_default(),
                online: flag("online"),
                restart: flag("restart"),
                unemulated: ["target-storage", "timeout"]
                    .into_iter()
                    .filter(|k| self.values.contains_key(k))
                    .collect(),
            }),
            "listsnapshot" => Command::ListSnapshot { vmid: v() },
            "unlock" => Command::Unlock { vmid: v() },
            "mount" => Command::Mount { vmid: v() },
            "unmount" => Command::Unmount { vmid: v() },
            other => Command::Unsupported(find_def(other).map_or("help", |d| d.name)),
        };
        Ok(cmd)
    }
}

/// `pct help [cmd…]` (the verbose form prints the same short text).
fn help_for(words: &[String]) -> Result<String, Reply> {
    let Some(first) = words.first() else {
        return Ok(help_text());
    };
    match resolve(first) {
        Resolved::Found(name) => {
            let d = find_def(name).expect("resolved names are in the table");
            Ok(format!(
                "USAGE: {}\n",
                short_usage(&format!("pct {}", d.name), d)
            ))
        }
        Resolved::Incomplete => {
            let listed = listing(&format!("pct {first}"), false);
            Ok(format!("USAGE: {}\n", listed.trim_start()))
        }
        Resolved::Special | Resolved::Unknown => {
            Err(abort(&format!("unknown command '{first}'"), "pct", true))
        }
    }
}
