//! The pure half of the emulator: argv → a typed [`Request`], or the exact bytes pvesh
//! prints when it refuses the line (no handler for the path, parameter errors), or a
//! loud refusal of what fake-pve does not emulate.
//!
//! Paths are matched component-wise (empty parts ignored) as pve-common's RESTHandler
//! does; options go through the Getopt::Long that pct's parser shares with every
//! emulated Proxmox CLI (`crate::pct::cli::getopt`): `--opt` or `-opt`, `--opt=value`,
//! anywhere after the path, a unique prefix of a name, names case-insensitive,
//! booleans with an optional value, `--` ends them.

use super::Reply;
use crate::pct::cli::{Kind as Arg, Val, getopt, parse_boolean};

/// Where pvesh's class-C errors (a plain `die`) leave the exit status.
pub const DIE: i32 = 255;
/// fake-pve's own exit status for what it refuses to emulate.
pub const NOT_EMULATED: i32 = 2;

/// pvesh's output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    JsonPretty,
}

/// The part of the API a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Version,
    ClusterResources {
        kind: Option<Kind>,
    },
    Nodes,
    /// `/cluster/status`: the cluster and its members (a cluster member only).
    ClusterStatus,
    NodeStatus {
        node: String,
    },
    NodeLxc {
        node: String,
    },
    LxcCurrent {
        node: String,
        vmid: u32,
    },
    /// `rrddata` under `lxc/` or `qemu/`: one RRD per vmid, whatever the guest's type.
    Rrd {
        node: String,
        vmid: u32,
        timeframe: Timeframe,
        max: bool,
    },
    NodeQemu {
        node: String,
    },
    QemuCurrent {
        node: String,
        vmid: u32,
    },
    /// `get …/qemu/{vmid}/agent/file-read` (qm-fidelity.md §11).
    AgentFileRead {
        node: String,
        vmid: u32,
        file: String,
        /// `None`: the default, 16 MiB, which also warns on a truncation.
        count: Option<u64>,
        offset: u64,
        decode: bool,
    },
    /// `create …/qemu/{vmid}/agent/file-write`.
    AgentFileWrite {
        node: String,
        vmid: u32,
        file: String,
        content: String,
        encode: bool,
    },
}

/// file-read's largest `--count` and its default (`$MAX_READ_SIZE`).
pub const MAX_READ_SIZE: u64 = 16 * 1024 * 1024;
/// file-write's longest `--content`.
pub const MAX_WRITE_CONTENT: usize = 61440;

/// `/cluster/resources --type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Vm,
    Node,
    Storage,
}

/// `rrddata --timeframe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeframe {
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl Timeframe {
    /// The step between rows and how many rows (pve-guests-fidelity §4.2).
    pub fn step_and_rows(self) -> (u64, u64) {
        match self {
            Timeframe::Hour => (60, 60),
            Timeframe::Day => (60, 1440),
            Timeframe::Week => (1800, 336),
            Timeframe::Month => (1800, 1440),
            Timeframe::Year => (21600, 1440),
        }
    }
}

impl Endpoint {
    /// The node a `/nodes/{node}/…` path names.
    pub fn node(&self) -> Option<&str> {
        match self {
            Endpoint::Version
            | Endpoint::ClusterResources { .. }
            | Endpoint::Nodes
            | Endpoint::ClusterStatus => None,
            Endpoint::NodeStatus { node }
            | Endpoint::NodeLxc { node }
            | Endpoint::LxcCurrent { node, .. }
            | Endpoint::Rrd { node, .. }
            | Endpoint::NodeQemu { node }
            | Endpoint::QemuCurrent { node, .. }
            | Endpoint::AgentFileRead { node, .. }
            | Endpoint::AgentFileWrite { node, .. } => Some(node),
        }
    }
}

/// One `pvesh get` call, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub endpoint: Endpoint,
    pub format: Format,
    pub noborder: bool,
    pub noheader: bool,
    pub quiet: bool,
}

/// The API's top-level directories: a path under any other has no handler at all.
const TOP_LEVEL: &[&str] = &["access", "cluster", "nodes", "pools", "storage", "version"];

/// A refusal of something real pvesh does that fake-pve does not emulate.
pub fn not_emulated(what: &str) -> Reply {
    Reply::err(
        format!("fake-pve: pvesh: {what} is not emulated\n"),
        NOT_EMULATED,
    )
}

fn no_handler(verb: &str, path: &str) -> Reply {
    Reply::err(format!("No '{verb}' handler defined for '{path}'\n"), 1)
}

/// A 400 error: the message, then `param: msg` lines; pvesh then prints its usage,
/// whose exact text the spec does not give, so fake-pve says so instead.
fn bad_request(msg: &str, params: &[(String, String)]) -> Reply {
    let mut s = format!("400 {msg}\n");
    for (p, m) in params {
        s.push_str(&format!("{p}: {m}\n"));
    }
    s.push_str("\nfake-pve: pvesh's usage text after a 400 error is not emulated\n");
    Reply::err(s, DIE)
}

fn verification_failed(param: &str, msg: String) -> Reply {
    bad_request(
        "Parameter verification failed.",
        &[(param.to_string(), msg)],
    )
}

fn enumeration(param: &str, value: &str, values: &[&str]) -> Reply {
    verification_failed(
        param,
        format!(
            "value '{value}' does not have a value in the enumeration '{}'",
            values.join(", ")
        ),
    )
}

/// pvesh's own options, which every path takes.
const GLOBAL: &[(&str, Arg)] = &[
    ("human-readable", Arg::Bool),
    ("noborder", Arg::Bool),
    ("noheader", Arg::Bool),
    ("output-format", Arg::Value),
    ("quiet", Arg::Bool),
];

/// What a path names before its options are read.
enum Route {
    Version,
    Resources,
    ClusterStatus,
    Nodes,
    NodeStatus(String),
    NodeLxc(String),
    Current(String, String),
    Rrd(String, String),
    NodeQemu(String),
    QemuCurrent(String, String),
    FileRead(String, String),
    FileWrite(String, String),
}

impl Route {
    /// The method's own parameters (besides those in the path).
    fn params(&self) -> &'static [(&'static str, Arg)] {
        match self {
            Route::Resources => &[("type", Arg::Value)],
            Route::Rrd(..) => &[("cf", Arg::Value), ("timeframe", Arg::Value)],
            Route::FileRead(..) => &[
                ("file", Arg::Value),
                ("count", Arg::Value),
                ("offset", Arg::Value),
                ("decode", Arg::Bool),
            ],
            Route::FileWrite(..) => &[
                ("file", Arg::Value),
                ("content", Arg::Value),
                ("encode", Arg::Bool),
            ],
            _ => &[],
        }
    }
}

fn route(verb: &str, raw: &str) -> Result<Route, Reply> {
    let parts: Vec<&str> = raw.split('/').filter(|p| !p.is_empty()).collect();
    let top = parts.first().copied().unwrap_or("");
    if !parts.is_empty() && !TOP_LEVEL.contains(&top) || (top == "version" && parts.len() > 1) {
        return Err(no_handler(verb, raw));
    }
    let s = |i: usize| parts[i].to_string();
    if verb == "create"
        && let ["nodes", _, "qemu", _, "agent", "file-write"] = parts.as_slice()
    {
        return Ok(Route::FileWrite(s(1), s(3)));
    }
    if verb != "get" {
        return Err(not_emulated(&format!("pvesh {verb}")));
    }
    Ok(match parts.as_slice() {
        ["version"] => Route::Version,
        ["cluster", "resources"] => Route::Resources,
        ["cluster", "status"] => Route::ClusterStatus,
        ["nodes"] => Route::Nodes,
        ["nodes", _, "status"] => Route::NodeStatus(s(1)),
        ["nodes", _, "lxc"] => Route::NodeLxc(s(1)),
        ["nodes", _, "lxc", _, "status", "current"] => Route::Current(s(1), s(3)),
        ["nodes", _, "lxc", _, "rrddata"] => Route::Rrd(s(1), s(3)),
        ["nodes", _, "qemu"] => Route::NodeQemu(s(1)),
        ["nodes", _, "qemu", _, "status", "current"] => Route::QemuCurrent(s(1), s(3)),
        ["nodes", _, "qemu", _, "rrddata"] => Route::Rrd(s(1), s(3)),
        ["nodes", _, "qemu", _, "agent", "file-read"] => Route::FileRead(s(1), s(3)),
        _ => return Err(not_emulated(&format!("pvesh get {raw}"))),
    })
}

/// The options of one line, by full name (a later one wins).
type Options = std::collections::BTreeMap<&'static str, Val>;

/// A boolean option's value: bare is true, else Perl's `parse_boolean` (a bare boolean
/// takes the next word that is not an option, as pct's do).
fn parse_bool(v: &str) -> Result<bool, Reply> {
    if v.is_empty() {
        return Ok(true);
    }
    parse_boolean(v).ok_or_else(|| bad_request("unable to parse boolean option", &[]))
}

/// Getopt::Long over `args` with these option names (pve-common's, shared with pct).
fn options(
    args: &[String],
    known: &[(&'static str, Arg)],
) -> Result<(Options, Vec<String>), Reply> {
    let got = getopt(args, known);
    if !got.warnings.is_empty() {
        let mut r = bad_request("unable to parse option", &[]);
        r.stderr = got.warnings + &r.stderr;
        return Err(r);
    }
    Ok((got.values, got.words))
}

/// An option's value as given (the last one when repeated); `None` when absent.
fn last<'a>(opts: &'a Options, name: &str) -> Option<&'a str> {
    match opts.get(name)? {
        Val::One(v) => Some(v.as_str()),
        Val::Many(v) => v.last().map(String::as_str),
    }
}

fn vmid(s: &str) -> Result<u32, Reply> {
    if s.parse::<i64>().is_err() {
        return Err(verification_failed(
            "vmid",
            format!("type check ('integer') failed - got '{s}'"),
        ));
    }
    let ok = s.len() >= 3
        && s.len() <= 9
        && s.bytes().all(|b| b.is_ascii_digit())
        && !s.starts_with('0');
    if !ok {
        return Err(verification_failed(
            "vmid",
            "invalid format - value does not look like a valid VM ID".into(),
        ));
    }
    Ok(s.parse().expect("checked digits"))
}

/// A parameter the method requires.
fn required(opts: &Options, name: &str) -> Result<String, Reply> {
    last(opts, name).map(str::to_string).ok_or_else(|| {
        verification_failed(name, "property is missing and it is not optional".into())
    })
}

/// An integer parameter within `min..=max`.
fn ranged(name: &str, v: &str, min: u64, max: u64) -> Result<u64, Reply> {
    let n: i128 = v.parse().map_err(|_| {
        verification_failed(name, format!("type check ('integer') failed - got '{v}'"))
    })?;
    if n < i128::from(min) {
        return Err(verification_failed(
            name,
            format!("value must have a minimum value of {min}"),
        ));
    }
    if n > i128::from(max) {
        return Err(verification_failed(
            name,
            format!("value must have a maximum value of {max}"),
        ));
    }
    Ok(n as u64)
}

/// Parses `pvesh <args…>` (args exclude the word "pvesh").
pub fn parse(args: &[String]) -> Result<Request, Reply> {
    let Some(verb) = args.first() else {
        return Err(not_emulated("pvesh without a command"));
    };
    if !matches!(verb.as_str(), "get" | "set" | "create" | "delete") {
        return Err(not_emulated(&format!("pvesh {verb}")));
    }
    let Some(path) = args.get(1) else {
        return Err(not_emulated(&format!("pvesh {verb} without a path")));
    };
    let route = route(verb, path)?;
    let known: Vec<(&'static str, Arg)> = GLOBAL.iter().chain(route.params()).copied().collect();
    let (opts, rest) = options(&args[2..], &known)?;
    if !rest.is_empty() {
        return Err(not_emulated(&format!(
            "pvesh {verb} with arguments after the path"
        )));
    }
    let format = match last(&opts, "output-format") {
        None => Format::Text,
        Some(v) => match v {
            "text" => Format::Text,
            "json" => Format::Json,
            "json-pretty" => Format::JsonPretty,
            "yaml" => return Err(not_emulated("--output-format yaml")),
            other => {
                return Err(enumeration(
                    "output-format",
                    other,
                    &["text", "json", "json-pretty", "yaml"],
                ));
            }
        },
    };
    let flag = |name: &str| -> Result<bool, Reply> {
        match last(&opts, name) {
            None => Ok(false),
            Some(v) => parse_bool(v),
        }
    };
    let (noborder, noheader, quiet) = (flag("noborder")?, flag("noheader")?, flag("quiet")?);
    if last(&opts, "human-readable").is_some() {
        return Err(not_emulated("--human-readable"));
    }
    let endpoint = match route {
        Route::Version => Endpoint::Version,
        Route::Nodes => Endpoint::Nodes,
        Route::ClusterStatus => Endpoint::ClusterStatus,
        Route::NodeStatus(node) => Endpoint::NodeStatus { node },
        Route::NodeLxc(node) => Endpoint::NodeLxc { node },
        Route::Current(node, id) => Endpoint::LxcCurrent {
            node,
            vmid: vmid(&id)?,
        },
        Route::NodeQemu(node) => Endpoint::NodeQemu { node },
        Route::QemuCurrent(node, id) => Endpoint::QemuCurrent {
            node,
            vmid: vmid(&id)?,
        },
        Route::FileRead(node, id) => {
            let vmid = vmid(&id)?;
            let file = required(&opts, "file")?;
            let count = match last(&opts, "count") {
                None => None,
                Some(c) => Some(ranged("count", c, 1, MAX_READ_SIZE)?),
            };
            let offset = match last(&opts, "offset") {
                None => 0,
                Some(o) => ranged("offset", o, 0, u64::MAX)?,
            };
            let decode = match last(&opts, "decode") {
                None => true,
                Some(v) => parse_bool(v)?,
            };
            Endpoint::AgentFileRead {
                node,
                vmid,
                file,
                count,
                offset,
                decode,
            }
        }
        Route::FileWrite(node, id) => {
            let vmid = vmid(&id)?;
            let file = required(&opts, "file")?;
            let content = required(&opts, "content")?;
            if content.len() > MAX_WRITE_CONTENT {
                return Err(verification_failed(
                    "content",
                    format!("value may only be {MAX_WRITE_CONTENT} characters long"),
                ));
            }
            let encode = match last(&opts, "encode") {
                None => true,
                Some(v) => parse_bool(v)?,
            };
            Endpoint::AgentFileWrite {
                node,
                vmid,
                file,
                content,
                encode,
            }
        }
        Route::Resources => {
            let kind = match last(&opts, "type") {
                None => None,
                Some("vm") => Some(Kind::Vm),
                Some("node") => Some(Kind::Node),
                Some("storage") => Some(Kind::Storage),
                Some("sdn") => return Err(not_emulated("/cluster/resources --type sdn")),
                Some(other) => {
                    return Err(enumeration(
                        "type",
                        other,
                        &["vm", "storage", "node", "sdn"],
                    ));
                }
            };
            Endpoint::ClusterResources { kind }
        }
        Route::Rrd(node, id) => {
            let vmid = vmid(&id)?;
            let timeframe = match last(&opts, "timeframe") {
                None => {
                    return Err(verification_failed(
                        "timeframe",
                        "property is missing and it is not optional".into(),
                    ));
                }
                Some("hour") => Timeframe::Hour,
                Some("day") => Timeframe::Day,
                Some("week") => Timeframe::Week,
                Some("month") => Timeframe::Month,
                Some("year") => Timeframe::Year,
                Some(other) => {
                    return Err(enumeration(
                        "timeframe",
                        other,
                        &["hour", "day", "week", "month", "year"],
                    ));
                }
            };
            let max = match last(&opts, "cf") {
                None | Some("AVERAGE") => false,
                Some("MAX") => true,
                Some(other) => return Err(enumeration("cf", other, &["AVERAGE", "MAX"])),
            };
            Endpoint::Rrd {
                node,
                vmid,
                timeframe,
                max,
            }
        }
    };
    Ok(Request {
        endpoint,
        format,
        noborder,
        noheader,
        quiet,
    })
}
