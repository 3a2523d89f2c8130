//! The pure half of the emulator: argv → a typed [`Command`], or the exact bytes qm
//! prints when it refuses the line. qm is built on the same pve-common CLIHandler as
//! pct (docs/qm-fidelity.md §1), so the Getopt::Long of [`crate::pct::cli::getopt`]
//! reads its options; its subcommands nest one level (`qm guest exec`).

use std::collections::BTreeMap;

use crate::pct::cli::{
    Guarded, Kind, Stop, Val, Vmid, check_snapname, check_uint, getopt, parse_boolean,
};
use crate::reply::Reply;

/// One entry of qm's command table: its words, the positional part of its short
/// usage line, and whether that line ends in ` [OPTIONS]`.
struct CommandDef {
    path: &'static [&'static str],
    args: &'static str,
    options: bool,
}

const fn def(path: &'static [&'static str], args: &'static str, options: bool) -> CommandDef {
    CommandDef {
        path,
        args,
        options,
    }
}

/// Every command of qemu-server's `qm`, sorted by name. qm's own usage lines were not
/// read (qm-fidelity.md §1): these follow the shape of pct's.
const COMMANDS: &[CommandDef] = &[
    def(
        &["cleanup"],
        "<vmid> <clean-shutdown> <guest-requested>",
        false,
    ),
    def(&["clone"], "<vmid> <newid>", true),
    def(&["cloudinit", "dump"], "<vmid> <type>", false),
    def(&["cloudinit", "pending"], "<vmid>", false),
    def(&["cloudinit", "update"], "<vmid>", false),
    def(&["config"], "<vmid>", true),
    def(&["create"], "<vmid>", true),
    def(&["delsnapshot"], "<vmid> <snapname>", true),
    def(&["destroy"], "<vmid>", true),
    def(&["disk", "import"], "<vmid> <source> <storage>", true),
    def(&["disk", "move"], "<vmid> <disk> [<storage>]", true),
    def(&["disk", "rescan"], "", true),
    def(&["disk", "resize"], "<vmid> <disk> <size>", true),
    def(&["disk", "unlink"], "<vmid> --idlist <string>", true),
    def(&["guest", "cmd"], "<vmid> <command>", false),
    def(&["guest", "exec"], "<vmid> [<extra-args>]", true),
    def(&["guest", "exec-status"], "<vmid> <pid>", false),
    def(&["guest", "passwd"], "<vmid> <username>", true),
    def(&["help"], "[<extra-args>]", true),
    def(&["import"], "<vmid> <source> --storage <string>", true),
    def(&["importovf"], "<vmid> <manifest> <storage>", true),
    def(&["list"], "", true),
    def(&["listsnapshot"], "<vmid>", false),
    def(&["migrate"], "<vmid> <target>", true),
    def(&["monitor"], "<vmid>", false),
    def(&["mtunnel"], "", true),
    def(&["nbdstop"], "<vmid>", false),
    def(&["pending"], "<vmid>", false),
    def(&["reboot"], "<vmid>", true),
    def(
        &["remote-migrate"],
        "<vmid> [<target-vmid>] <target-endpoint> --target-bridge <string> --target-storage <string>",
        true,
    ),
    def(&["reset"], "<vmid>", true),
    def(&["resume"], "<vmid>", true),
    def(&["rollback"], "<vmid> <snapname>", true),
    def(&["sendkey"], "<vmid> <key>", true),
    def(&["set"], "<vmid>", true),
    def(&["showcmd"], "<vmid>", true),
    def(&["shutdown"], "<vmid>", true),
    def(&["snapshot"], "<vmid> <snapname>", true),
    def(&["start"], "<vmid>", true),
    def(&["status"], "<vmid>", true),
    def(&["stop"], "<vmid>", true),
    def(&["suspend"], "<vmid>", true),
    def(&["template"], "<vmid>", true),
    def(&["terminal"], "<vmid>", true),
    def(&["unlock"], "<vmid>", false),
    def(&["vncproxy"], "<vmid>", false),
    def(&["wait"], "<vmid>", true),
];

/// Aliases: an exact word resolves to the target; prefixes never match an alias.
const ALIASES: &[(&str, &[&str])] = &[
    ("agent", &["guest", "cmd"]),
    ("importdisk", &["disk", "import"]),
    ("move-disk", &["disk", "move"]),
    ("move_disk", &["disk", "move"]),
    ("rescan", &["disk", "rescan"]),
    ("resize", &["disk", "resize"]),
    ("unlink", &["disk", "unlink"]),
];

/// The commands of the agent (`qm guest cmd`, qm-fidelity.md §8).
pub const AGENT_COMMANDS: &[&str] = &[
    "fsfreeze-freeze",
    "fsfreeze-status",
    "fsfreeze-thaw",
    "fstrim",
    "get-fsinfo",
    "get-host-name",
    "get-memory-block-info",
    "get-memory-blocks",
    "get-osinfo",
    "get-time",
    "get-timezone",
    "get-users",
    "get-vcpus",
    "info",
    "network-get-interfaces",
    "ping",
    "shutdown",
    "suspend-disk",
    "suspend-hybrid",
    "suspend-ram",
];

fn name_of(d: &CommandDef) -> String {
    d.path.join(" ")
}

fn find_def(name: &str) -> Option<&'static CommandDef> {
    COMMANDS.iter().find(|d| name_of(d) == name)
}

fn short_usage(prefix: &str, d: &CommandDef) -> String {
    let opts = if d.options { " [OPTIONS]" } else { "" };
    format!("{prefix} {}{opts}\n", d.args)
}

/// The short usage line of one command (`qm status <vmid> [OPTIONS]`).
pub fn usage_line(name: &str) -> String {
    find_def(name)
        .map(|d| short_usage(&format!("qm {}", name_of(d)), d))
        .unwrap_or_default()
}

/// One usage line per command of `defs`, indented 7 spaces, each prefixed with
/// `prefix`.
fn listing<'a>(prefix: &str, defs: impl Iterator<Item = &'a CommandDef>) -> String {
    defs.map(|d| {
        format!(
            "       {}",
            short_usage(&format!("{prefix} {}", name_of(d)), d)
        )
    })
    .collect()
}

const USAGE_HEAD: &str = "USAGE: qm <COMMAND> [ARGS] [OPTIONS]\n\n";

/// `qm help`: the listing on stdout.
pub fn help_text() -> String {
    format!("{USAGE_HEAD}{}", listing("qm", COMMANDS.iter()))
}

/// A usage abort (class A): stderr, exit 255.
fn abort(reason: &str, listed: String) -> Reply {
    Reply::err(format!("ERROR: {reason}\n{USAGE_HEAD}{listed}"), 255)
}

/// How the command words resolved.
enum Resolved {
    /// The command's full name and how many words it took.
    Found(String, usize),
    /// `qm st`, `qm guest`, `qm guest ex`: the words typed.
    Incomplete(String),
    Unknown(String),
}

fn resolve(words: &[String]) -> Resolved {
    let first = &words[0];
    if let Some((_, target)) = ALIASES.iter().find(|(a, _)| a == first) {
        return Resolved::Found(target.join(" "), 1);
    }
    let mut path: Vec<&str> = Vec::new();
    let mut typed = String::from("qm");
    for (level, word) in words.iter().enumerate() {
        let under: Vec<&CommandDef> = COMMANDS
            .iter()
            .filter(|d| d.path.len() > level && d.path[..level] == path[..])
            .collect();
        let mut names: Vec<&str> = under.iter().map(|d| d.path[level]).collect();
        names.dedup();
        typed.push(' ');
        let hit = if names.contains(&word.as_str()) {
            Some(word.as_str())
        } else {
            let hits: Vec<&str> = names
                .iter()
                .copied()
                .filter(|n| n.starts_with(word.as_str()))
                .collect();
            match hits.len() {
                1 => Some(hits[0]),
                0 => {
                    typed.push_str(word);
                    return Resolved::Unknown(typed);
                }
                _ => {
                    typed.push_str(word);
                    return Resolved::Incomplete(typed);
                }
            }
        };
        let hit = hit.expect("a match");
        typed.push_str(hit);
        path.push(hit);
        if under.iter().any(|d| d.path == &path[..]) {
            return Resolved::Found(path.join(" "), level + 1);
        }
    }
    Resolved::Incomplete(typed)
}

/// A parsed qm command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help(String),
    List {
        full: bool,
    },
    Status {
        vmid: Vmid,
        verbose: bool,
    },
    Config {
        vmid: Vmid,
        snapshot: Option<String>,
    },
    Start(Guarded),
    Stop(Stop),
    Shutdown {
        vmid: Vmid,
        timeout: Option<u64>,
        force_stop: bool,
        skiplock: bool,
    },
    Reboot {
        vmid: Vmid,
        timeout: Option<u64>,
    },
    Suspend(Guarded),
    Resume(Guarded),
    Reset(Guarded),
    GuestCmd {
        vmid: Vmid,
        command: String,
    },
    GuestExec {
        vmid: Vmid,
        synchronous: bool,
        /// Seconds; 0 waits without a limit.
        timeout: u64,
        pass_stdin: bool,
        argv: Vec<String>,
    },
    GuestExecStatus {
        vmid: Vmid,
        pid: u64,
    },
    Snapshot {
        vmid: Vmid,
        name: String,
        vmstate: bool,
        description: Option<String>,
    },
    ListSnapshot {
        vmid: Vmid,
    },
    Rollback {
        vmid: Vmid,
        name: String,
        start: bool,
    },
    DelSnapshot {
        vmid: Vmid,
        name: String,
        force: bool,
    },
    /// Real qm does it; fake-pve does not: `fake-pve: <what> is not emulated`.
    NotEmulated(String),
}

/// The options and positional parameters of one emulated command. Options listed
/// in `refused` are qm's, known to Getopt, and refused when given.
struct Schema {
    positional: &'static [&'static str],
    options: &'static [(&'static str, Kind)],
    refused: &'static [&'static str],
}

fn schema(name: &str) -> Option<Schema> {
    use Kind::*;
    let s = |positional, options, refused| {
        Some(Schema {
            positional,
            options,
            refused,
        })
    };
    match name {
        "list" => s(&[], &[("full", Bool)], &[]),
        "status" => s(&["vmid"], &[("vmid", Value), ("verbose", Bool)], &[]),
        "config" => s(
            &["vmid"],
            &[("vmid", Value), ("current", Bool), ("snapshot", Value)],
            &[],
        ),
        "start" => s(
            &["vmid"],
            &[
                ("vmid", Value),
                ("skiplock", Bool),
                ("timeout", Value),
                ("machine", Value),
                ("migratedfrom", Value),
                ("migration_network", Value),
                ("migration_type", Value),
                ("stateuri", Value),
                ("targetstorage", List),
                ("force-cpu", Value),
                ("nets-host-mtu", Value),
                ("with-conntrack-state", Bool),
            ],
            &[
                "machine",
                "migratedfrom",
                "migration_network",
                "migration_type",
                "stateuri",
                "targetstorage",
                "force-cpu",
                "nets-host-mtu",
                "with-conntrack-state",
            ],
        ),
        "stop" => s(
            &["vmid"],
            &[
                ("vmid", Value),
                ("skiplock", Bool),
                ("timeout", Value),
                ("keepActive", Bool),
                ("overrule-shutdown", Bool),
                ("migratedfrom", Value),
            ],
            &["migratedfrom"],
        ),
        "shutdown" => s(
            &["vmid"],
            &[
                ("vmid", Value),
                ("timeout", Value),
                ("forceStop", Bool),
                ("skiplock", Bool),
                ("keepActive", Bool),
            ],
            &[],
        ),
        "reboot" => s(&["vmid"], &[("vmid", Value), ("timeout", Value)], &[]),
        "suspend" => s(
            &["vmid"],
            &[
                ("vmid", Value),
                ("skiplock", Bool),
                ("todisk", Bool),
                ("statestorage", Value),
            ],
            &["todisk", "statestorage"],
        ),
        "resume" => s(
            &["vmid"],
            &[("vmid", Value), ("skiplock", Bool), ("nocheck", Bool)],
            &[],
        ),
        "reset" => s(&["vmid"], &[("vmid", Value), ("skiplock", Bool)], &[]),
        "guest cmd" => s(
            &["vmid", "command"],
            &[("vmid", Value), ("command", Value)],
            &[],
        ),
        "guest exec" => s(
            &["vmid", "extra-args"],
            &[
                ("vmid", Value),
                ("synchronous", Bool),
                ("timeout", Value),
                ("pass-stdin", Bool),
                ("extra-args", List),
            ],
            &[],
        ),
        "guest exec-status" => s(&["vmid", "pid"], &[("vmid", Value), ("pid", Value)], &[]),
        "snapshot" => s(
            &["vmid", "snapname"],
            &[
                ("vmid", Value),
                ("snapname", Value),
                ("vmstate", Bool),
                ("description", Value),
            ],
            &[],
        ),
        "listsnapshot" => s(&["vmid"], &[("vmid", Value)], &[]),
        "rollback" => s(
            &["vmid", "snapname"],
            &[("vmid", Value), ("snapname", Value), ("start", Bool)],
            &[],
        ),
        "delsnapshot" => s(
            &["vmid", "snapname"],
            &[("vmid", Value), ("snapname", Value), ("force", Bool)],
            &[],
        ),
        "help" => s(
            &["extra-args"],
            &[("extra-args", List), ("verbose", Bool)],
            &[],
        ),
        _ => None,
    }
}

/// A parameter error (class B): the lines, then the command's usage line; exit 255.
fn param_error(text: &str, name: &str) -> Reply {
    Reply::err(format!("{text}{}", usage_line(name)), 255)
}

fn verification_failed(errors: &BTreeMap<&str, String>, name: &str) -> Reply {
    let mut msg = String::from("400 Parameter verification failed.\n");
    for (k, e) in errors {
        msg.push_str(&format!("{k}: {e}\n"));
    }
    param_error(&msg, name)
}

/// Parses `qm <args…>`. `is_root`: qm checks the caller after the "no command" abort.
pub fn parse(args: &[String], is_root: bool) -> Result<Command, Reply> {
    if args.is_empty() {
        return Err(abort(
            "no command specified",
            listing("qm", COMMANDS.iter()),
        ));
    }
    if !is_root {
        return Err(Reply::err("please run as root\n", 255));
    }
    let (name, taken) = match resolve(args) {
        Resolved::Found(name, taken) => (name, taken),
        Resolved::Incomplete(typed) => {
            let group: Vec<&CommandDef> = COMMANDS
                .iter()
                .filter(|d| format!("qm {}", name_of(d)).starts_with(&typed))
                .collect();
            let listed = if group.is_empty() {
                listing(&typed, COMMANDS.iter())
            } else {
                listing("qm", group.into_iter())
            };
            return Err(abort(&format!("incomplete command '{typed}'"), listed));
        }
        Resolved::Unknown(typed) => {
            return Err(abort(
                &format!("unknown command '{typed}'"),
                listing("qm", COMMANDS.iter()),
            ));
        }
    };
    let Some(schema) = schema(&name) else {
        return Ok(Command::NotEmulated(format!("qm {name}")));
    };
    let rest = &args[taken..];
    let mut got = getopt(rest, schema.options);
    if !got.warnings.is_empty() {
        return Err(param_error(
            &format!("{}400 unable to parse option\n", got.warnings),
            &name,
        ));
    }
    if let Some(opt) = schema.refused.iter().find(|o| got.values.contains_key(*o)) {
        return Ok(Command::NotEmulated(format!("qm {name} --{opt}")));
    }
    got.bind_positional(schema.positional)
        .map_err(|msg| param_error(&format!("400 {msg}\n"), &name))?;
    let one = |k: &str| match got.values.get(k) {
        Some(Val::One(s)) => Some(s.clone()),
        Some(Val::Many(l)) => l.last().cloned(),
        None => None,
    };
    let mut bools: BTreeMap<&str, bool> = BTreeMap::new();
    for (opt, kind) in schema.options {
        if *kind != Kind::Bool {
            continue;
        }
        if let Some(v) = one(opt) {
            match if v.is_empty() {
                Some(true)
            } else {
                parse_boolean(&v)
            } {
                Some(b) => {
                    bools.insert(opt, b);
                }
                None => {
                    return Err(param_error("400 unable to parse boolean option\n", &name));
                }
            }
        }
    }
    let flag = |k: &str| bools.get(k).copied().unwrap_or(false);
    let mut errors: BTreeMap<&str, String> = BTreeMap::new();
    let vmid = match one("vmid").map(|v| Vmid::parse(&v)) {
        Some(Ok(v)) => Some(v),
        Some(Err(e)) => {
            errors.insert("vmid", e);
            None
        }
        None => None,
    };
    let mut uint = |k: &'static str| match one(k).map(|v| check_uint(&v)) {
        Some(Ok(n)) => Some(n),
        Some(Err(e)) => {
            errors.insert(k, e);
            None
        }
        None => None,
    };
    let timeout = uint("timeout");
    let pid = uint("pid");
    let mut snapname = |k: &'static str| match one(k) {
        Some(v) if k == "snapname" || !v.is_empty() => match check_snapname(&v) {
            Ok(v) => Some(v),
            Err(e) => {
                errors.insert(k, e);
                None
            }
        },
        _ => None,
    };
    let name_arg = snapname("snapname");
    let snapshot = snapname("snapshot");
    if name == "guest cmd"
        && let Some(c) = one("command")
        && !AGENT_COMMANDS.contains(&c.as_str())
    {
        errors.insert(
            "command",
            format!(
                "value '{c}' does not have a value in the enumeration '{}'",
                AGENT_COMMANDS.join(", ")
            ),
        );
    }
    if name == "guest exec" && timeout.is_some() && bools.get("synchronous") == Some(&false) {
        errors.insert("synchronous", "needs to be set for 'timeout'".into());
    }
    if name == "config" && flag("current") && snapshot.as_deref().is_some_and(|s| !s.is_empty()) {
        let msg = "cannot use 'snapshot' parameter with 'current'";
        errors.insert("current", msg.into());
        errors.insert("snapshot", msg.into());
    }
    if !errors.is_empty() {
        return Err(verification_failed(&errors, &name));
    }
    let v = || vmid.expect("vmid is a checked positional parameter");
    Ok(match name.as_str() {
        "help" => {
            let words = match got.values.get("extra-args") {
                Some(Val::Many(l)) => l.clone(),
                _ => Vec::new(),
            };
            Command::Help(help_for(&words)?)
        }
        "list" => Command::List { full: flag("full") },
        "status" => Command::Status {
            vmid: v(),
            verbose: flag("verbose"),
        },
        "config" => Command::Config {
            vmid: v(),
            snapshot: snapshot.filter(|s| !s.is_empty()),
        },
        "start" => Command::Start(Guarded::new(v(), flag)),
        "stop" => Command::Stop(Stop::new(v(), flag)),
        "shutdown" => Command::Shutdown {
            vmid: v(),
            timeout,
            force_stop: flag("forceStop"),
            skiplock: flag("skiplock"),
        },
        "reboot" => Command::Reboot { vmid: v(), timeout },
        "suspend" => Command::Suspend(Guarded::new(v(), flag)),
        "resume" => Command::Resume(Guarded::new(v(), flag)),
        "reset" => Command::Reset(Guarded::new(v(), flag)),
        "guest cmd" => Command::GuestCmd {
            vmid: v(),
            command: one("command").unwrap_or_default(),
        },
        "guest exec" => Command::GuestExec {
            vmid: v(),
            synchronous: bools.get("synchronous").copied().unwrap_or(true),
            timeout: timeout.unwrap_or(30),
            pass_stdin: flag("pass-stdin"),
            argv: match got.values.get("extra-args") {
                Some(Val::Many(l)) => l.clone(),
                _ => Vec::new(),
            },
        },
        "guest exec-status" => Command::GuestExecStatus {
            vmid: v(),
            pid: pid.unwrap_or(0),
        },
        "snapshot" => Command::Snapshot {
            vmid: v(),
            name: name_arg.unwrap_or_default(),
            vmstate: flag("vmstate"),
            description: one("description"),
        },
        "listsnapshot" => Command::ListSnapshot { vmid: v() },
        "rollback" => Command::Rollback {
            vmid: v(),
            name: name_arg.unwrap_or_default(),
            start: flag("start"),
        },
        "delsnapshot" => Command::DelSnapshot {
            vmid: v(),
            name: name_arg.unwrap_or_default(),
            force: flag("force"),
        },
        other => Command::NotEmulated(format!("qm {other}")),
    })
}

/// `qm help [cmd…]`.
fn help_for(words: &[String]) -> Result<String, Reply> {
    if words.is_empty() {
        return Ok(help_text());
    }
    match resolve(words) {
        Resolved::Found(name, _) => {
            let d = find_def(&name).expect("resolved names are in the table");
            Ok(format!(
                "USAGE: {}\n",
                short_usage(&format!("qm {}", name_of(d)), d)
            ))
        }
        Resolved::Incomplete(typed) => {
            let group: Vec<&CommandDef> = COMMANDS
                .iter()
                .filter(|d| format!("qm {}", name_of(d)).starts_with(&typed))
                .collect();
            let listed = listing("qm", group.into_iter());
            Ok(format!("USAGE: {}\n", listed.trim_start()))
        }
        Resolved::Unknown(typed) => Err(abort(
            &format!("unknown command '{}'", typed.trim_start_matches("qm ")),
            listing("qm", COMMANDS.iter()),
        )),
    }
}
