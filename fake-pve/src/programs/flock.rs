//! `flock`, as util-linux 2.38's: `flock [options] FILE|DIR COMMAND [ARG…]` and
//! `flock [options] FILE|DIR -c COMMAND`, with the lock kept in the host's
//! [`FileLocks`](crate::locks::FileLocks). The lock is held while the command runs; the
//! forked command holds it too (unless `-o`), so killing flock alone does not free it.
//!
//! Not emulated, refused loudly: the descriptor form (`flock [options] N`), as a
//! program here cannot see the descriptors its shell opened.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::fs::{FsError, WriteMode};
use crate::io::Io;
use crate::proc::{Ctx, exec_target, spawn_child, wait};

use super::{Status, complain, out};

/// sysexits(3) codes flock exits with.
const EX_USAGE: i32 = 64;
const EX_NOINPUT: i32 = 66;
const EX_UNAVAILABLE: i32 = 69;
const EX_OSERR: i32 = 71;

const HELP: &str = "
Usage:
 flock [options] <file>|<directory> <command> [<argument>...]
 flock [options] <file>|<directory> -c <command>
 flock [options] <file descriptor number>

Manage file locks from shell scripts.

Options:
 -s, --shared             get a shared lock
 -x, --exclusive          get an exclusive lock (default)
 -u, --unlock             remove a lock
 -n, --nonblock           fail rather than wait
 -w, --timeout <secs>     wait for a limited amount of time
 -E, --conflict-exit-code <number>  exit code after conflict or timeout
 -o, --close              close file descriptor before running command
 -c, --command <command>  run a single command string through the shell
 -F, --no-fork            execute command without forking
     --verbose            increase verbosity

 -h, --help               display this help
 -V, --version            display version

For more details see flock(1).
";

/// The long options, in util-linux's order (getopt names them so when ambiguous), with
/// the short option each stands for (`v` for `--verbose`, which has none).
const LONG: &[(&str, char)] = &[
    ("shared", 's'),
    ("exclusive", 'x'),
    ("unlock", 'u'),
    ("nonblocking", 'n'),
    ("nonblock", 'n'),
    ("nb", 'n'),
    ("timeout", 'w'),
    ("wait", 'w'),
    ("conflict-exit-code", 'E'),
    ("close", 'o'),
    ("no-fork", 'F'),
    ("verbose", 'v'),
    ("help", 'h'),
    ("version", 'V'),
];

/// What the options asked for.
struct Options {
    /// `None` for `-u`: no lock at all.
    shared: Option<bool>,
    nonblock: bool,
    timeout: Option<Duration>,
    conflict: i32,
    close: bool,
    no_fork: bool,
    verbose: bool,
}

/// What a bad command line makes flock say, and its status.
enum Stop {
    Said(String, i32),
    /// The same, followed by getopt's "Try 'flock --help'" line.
    Usage(String),
    /// Something printed on stdout, then exit 0 (`--help`, `--version`).
    Print(&'static str),
    /// Not emulated: refused loudly.
    Refuse(String),
}

fn usage(msg: impl Into<String>) -> Stop {
    Stop::Usage(msg.into())
}

/// Parses the options as getopt_long("+sexnoFuw:E:hV?") does: they stop at the first
/// operand. Returns the options and the operands.
fn parse(args: &[String]) -> Result<(Options, &[String]), Stop> {
    let mut o = Options {
        shared: Some(false),
        nonblock: false,
        timeout: None,
        conflict: 1,
        close: false,
        no_fork: false,
        verbose: false,
    };
    let mut i = 0;
    while let Some(a) = args.get(i) {
        i += 1;
        if a == "--" {
            break;
        }
        if a == "-" || !a.starts_with('-') {
            i -= 1;
            break;
        }
        // (option, its value if attached, how to name it in a message)
        let mut opts: Vec<(char, Option<String>, String)> = Vec::new();
        if let Some(long) = a.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let c = long_option(name)?;
            if value.is_some() && !matches!(c, 'w' | 'E') {
                let full = LONG
                    .iter()
                    .find(|(n, _)| n.starts_with(name))
                    .map_or(name, |l| l.0);
                return Err(usage(format!(
                    "option '--{full}' doesn't allow an argument"
                )));
            }
            opts.push((c, value, format!("--{name}")));
        } else {
            let letters: Vec<char> = a[1..].chars().collect();
            let mut k = 0;
            while k < letters.len() {
                let c = letters[k];
                k += 1;
                if !"sexnoFuwEhV".contains(c) {
                    return Err(usage(format!("invalid option -- '{c}'")));
                }
                if matches!(c, 'w' | 'E') && k < letters.len() {
                    opts.push((c, Some(letters[k..].iter().collect()), format!("-{c}")));
                    break;
                }
                opts.push((c, None, format!("-{c}")));
            }
        }
        for (c, value, named) in opts {
            let value = if matches!(c, 'w' | 'E') {
                match value {
                    Some(v) => v,
                    None => match args.get(i) {
                        Some(v) => {
                            i += 1;
                            v.clone()
                        }
                        None if named.starts_with("--") => {
                            return Err(usage(format!("option '{named}' requires an argument")));
                        }
                        None => {
                            return Err(usage(format!("option requires an argument -- '{c}'")));
                        }
                    },
                }
            } else {
                String::new()
            };
            match c {
                's' => o.shared = Some(true),
                'x' | 'e' => o.shared = Some(false),
                'u' => o.shared = None,
                'n' => o.nonblock = true,
                'o' => o.close = true,
                'F' => o.no_fork = true,
                'v' => o.verbose = true,
                'h' => return Err(Stop::Print(HELP)),
                'V' => return Err(Stop::Print("flock from util-linux 2.38.1\n")),
                // `-w 0` does not wait at all, as `-n`.
                'w' => match parse_timeout(&value)? {
                    Some(d) => o.timeout = Some(d),
                    None => o.nonblock = true,
                },
                'E' => o.conflict = parse_exit_code(&value)?,
                _ => unreachable!("every letter above is matched"),
            }
        }
    }
    Ok((o, &args[i..]))
}

/// A long option by its name or an unambiguous prefix, as glibc's getopt finds it.
fn long_option(name: &str) -> Result<char, Stop> {
    if let Some((_, c)) = LONG.iter().find(|(n, _)| *n == name) {
        return Ok(*c);
    }
    let mut found: Vec<(&str, char)> = Vec::new();
    for (n, c) in LONG {
        if n.starts_with(name) && !found.iter().any(|(_, f)| f == c) {
            found.push((n, *c));
        }
    }
    match found.as_slice() {
        [] => Err(usage(format!("unrecognized option '--{name}'"))),
        [(_, c)] => Ok(*c),
        many => {
            let names: Vec<String> = many.iter().map(|(n, _)| format!("'--{n}'")).collect();
            Err(usage(format!(
                "option '--{name}' is ambiguous; possibilities: {}",
                names.join(" ")
            )))
        }
    }
}

/// `-w SECS` as strtod reads it; 0 (to the microsecond) means do not wait at all.
fn parse_timeout(v: &str) -> Result<Option<Duration>, Stop> {
    let invalid = || Stop::Said(format!("flock: invalid timeout value: '{v}'\n"), EX_USAGE);
    let secs: f64 = if let Some(hex) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        match u64::from_str_radix(hex, 16) {
            Ok(n) => n as f64,
            Err(_) => return Err(Stop::Refuse(format!("flock -w {v}"))),
        }
    } else {
        let plain = !v.is_empty()
            && v.chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
        let lower = v.to_ascii_lowercase();
        match v.parse::<f64>() {
            Ok(n) if plain => n,
            Ok(_)
                if matches!(
                    lower.trim_start_matches(['+', '-']),
                    "inf" | "infinity" | "nan"
                ) =>
            {
                f64::INFINITY
            }
            _ => return Err(invalid()),
        }
    };
    if !(0.0..=1e12).contains(&secs) {
        return Err(Stop::Said(
            "flock: cannot set up timer: Invalid argument\n".into(),
            EX_OSERR,
        ));
    }
    // setitimer gets whole seconds and microseconds, truncated.
    let micros = (secs * 1e6).trunc() as u64;
    Ok((micros > 0).then(|| Duration::from_micros(micros)))
}

fn parse_exit_code(v: &str) -> Result<i32, Stop> {
    let digits = v.strip_prefix('+').unwrap_or(v);
    if let Some(neg) = digits.strip_prefix('-')
        && !neg.is_empty()
        && neg.chars().all(|c| c.is_ascii_digit())
    {
        return Err(Stop::Said(
            "flock: exit code out of range (expected 0 to 255)\n".into(),
            EX_USAGE,
        ));
    }
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(Stop::Said(
            format!("flock: invalid exit code: '{v}'\n"),
            EX_USAGE,
        ));
    }
    match digits.parse::<u32>() {
        Ok(n) if n <= 255 => Ok(n as i32),
        _ => Err(Stop::Said(
            "flock: exit code out of range (expected 0 to 255)\n".into(),
            EX_USAGE,
        )),
    }
}

pub(super) async fn flock(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (o, operands) = match parse(args) {
        Ok(v) => v,
        Err(stop) => return stopped(ctx, io, stop).await,
    };
    let (file, command) = match operands {
        [] => return stopped(ctx, io, usage("not enough arguments")).await,
        [n] if n.parse::<i32>().is_ok() => {
            return stopped(ctx, io, Stop::Refuse("flock on a file descriptor".into())).await;
        }
        [f] => {
            let msg = format!("flock: bad file descriptor: '{f}'\n");
            return stopped(ctx, io, Stop::Said(msg, EX_USAGE)).await;
        }
        [file, c, rest @ ..] if c == "-c" || c == "--command" => {
            let [command] = rest else {
                let msg = "flock: -c requires exactly one command argument\n".to_string();
                return stopped(ctx, io, Stop::Said(msg, EX_USAGE)).await;
            };
            let shell = ctx.env.get("SHELL").cloned().unwrap_or("/bin/sh".into());
            (file, vec![shell, "-c".into(), command.clone()])
        }
        [file, command @ ..] => (file, command.to_vec()),
    };

    let path = ctx.resolve(file);
    // open(O_RDONLY|O_CREAT), or a directory as it is.
    let is_dir = ctx
        .with_fs(|fs| Ok(fs.stat(&path).is_ok_and(|m| m.is_dir())))
        .unwrap_or(false);
    if !is_dir && let Err(e) = ctx.file(file).open(WriteMode::Keep) {
        let special = path.starts_with("/proc/") || path.starts_with("/dev/");
        if special && e == FsError::NotFound {
            return Ok(ctx.refuse(io, &format!("flock on {path}"), 2).await);
        }
        complain(io, &format!("flock: cannot open lock file {file}: {e}\n")).await;
        return Ok(EX_NOINPUT);
    }

    let started = Instant::now();
    let key = (ctx.container, path);
    let locks = ctx.host.file_locks();
    let table = ctx.processes();
    let alive = |pid: u32| table.is_alive(pid);
    let guard = match o.shared {
        None => None,
        Some(shared) => {
            let got = if o.nonblock {
                locks.try_lock(&key, shared, ctx.pid, &alive)
            } else if let Some(limit) = o.timeout {
                tokio::time::timeout(limit, locks.lock(&key, shared, ctx.pid, &alive))
                    .await
                    .ok()
            } else {
                Some(locks.lock(&key, shared, ctx.pid, &alive).await)
            };
            match got {
                Some(g) => Some(Arc::new(g)),
                None => {
                    if o.verbose {
                        let why = if o.nonblock {
                            "failed to get lock"
                        } else {
                            "timeout while waiting to get lock"
                        };
                        complain(io, &format!("flock: {why}\n")).await;
                    }
                    return Ok(o.conflict);
                }
            }
        }
    };
    // stdout is no terminal here: flock's own lines wait in its stdio buffer until it
    // exits, after the command's output (and are lost when -F execs the command).
    let took = started.elapsed();
    let verbose = o.verbose.then(|| {
        format!(
            "flock: getting lock took {}.{:06} seconds\nflock: executing {}\n",
            took.as_secs(),
            took.subsec_micros(),
            command[0]
        )
    });

    let status = match exec_target(ctx, command.clone()) {
        Err((why, _)) => {
            complain(
                io,
                &format!("flock: failed to execute {}: {why}\n", command[0]),
            )
            .await;
            EX_UNAVAILABLE
        }
        Ok(argv) if o.no_fork => {
            ctx.processes().set_args(ctx.pid, command.join(" "));
            let status = ctx.exec(argv, io.clone()).await;
            drop(guard);
            return Ok(status);
        }
        Ok(argv) => {
            let child = spawn_child(ctx, argv, io.clone());
            let inherited = if o.close { None } else { guard.clone() };
            // The child holds the descriptor, so the lock, as long as it runs.
            if let Some(g) = &inherited
                && let Some(pid) = table
                    .list()
                    .into_iter()
                    .filter(|p| p.ppid == ctx.pid)
                    .map(|p| p.pid)
                    .max()
            {
                g.add_holder(pid);
            }
            let (tx, rx) = tokio::sync::oneshot::channel();
            tokio::spawn(async move {
                let status = wait(child).await;
                drop(inherited);
                let _ = tx.send(status);
            });
            rx.await.unwrap_or(1)
        }
    };
    drop(guard);
    if let Some(lines) = verbose {
        out(io, &lines).await?;
    }
    Ok(status)
}

async fn stopped(ctx: &Ctx, io: &Io, stop: Stop) -> Status {
    match stop {
        Stop::Said(msg, status) => {
            complain(io, &msg).await;
            Ok(status)
        }
        Stop::Usage(msg) => {
            complain(
                io,
                &format!("flock: {msg}\nTry 'flock --help' for more information.\n"),
            )
            .await;
            Ok(EX_USAGE)
        }
        Stop::Print(text) => out(io, text).await,
        Stop::Refuse(what) => Ok(ctx.refuse(io, &what, 2).await),
    }
}
