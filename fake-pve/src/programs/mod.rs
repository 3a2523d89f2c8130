//! The programs the fake shell can run (`cat`, `ls`, `sleep`, `ps`, `pct`, …), each
//! over the in-memory filesystem of its context, plus fixture-scripted commands and
//! the `hang` fault. Every program returns its exit status; a write to a closed pipe
//! ends it with 141, as SIGPIPE would.
//!
//! [`PROGRAMS`] is the one registry: [`exists`] and [`run`] both look a name up there.
//! The programs live by family: `files`, `text`, `procs`, `system`, `test_expr`,
//! `bash` (the shell as a program) and `scripted` (fixture scripts and faults); `pct`
//! is the emulator in `crate::pct`, `qm` the one in `crate::qm`.

/// `known_flags!(ctx, io, prog, args, allowed)`: the (flags, operands) of
/// [`known_flags`], or returns from the program refusing the option it does not emulate.
macro_rules! known_flags {
    ($ctx:expr, $io:expr, $prog:expr, $args:expr, $allowed:expr) => {
        match $crate::programs::known_flags($args, $allowed) {
            Ok(v) => v,
            Err(o) => return $crate::programs::refuse_option($ctx, $io, $prog, &o).await,
        }
    };
}

mod archive;
mod awk;
mod bash;
mod date;
mod files;
mod findutils;
mod flock;
mod grep;
mod ls;
mod paths;
mod procs;
mod remote;
mod scripted;
mod system;
mod test_expr;
mod text;
mod textproc;

use crate::fs::{FsError, Meta};
use crate::host::Host;
use crate::io::{BrokenPipe, Io};
use crate::proc::{BoxFut, Ctx, Launch};
use crate::unix::SIGPIPE_STATUS;

/// The process layer's hooks, wired here once: names resolve in [`PROGRAMS`], and a
/// session's command line goes to the shell.
pub const LAUNCH: Launch = Launch {
    exists,
    run: |ctx, argv, io| Box::pin(async move { run(&ctx, argv, io).await }),
    shell: |ctx, line, io| {
        Box::pin(async move {
            crate::shell::run_script(
                &ctx,
                crate::shell::Dialect::Bash,
                &line,
                vec!["bash".into()],
                &io,
            )
            .await
        })
    },
};

/// A `Ctx` for a login of `user` on the host, with these programs (used by the SSH
/// front end and tests).
pub fn login_ctx(host: &Host, user: &str) -> Ctx {
    crate::proc::login_ctx(host, user, LAUNCH)
}

/// A program's entry point: (context, its name as called (base name), its arguments,
/// its streams) → its exit status, or `Err` when it met a closed pipe.
pub type Main = for<'a> fn(&'a Ctx, &'a str, &'a [String], &'a Io) -> BoxFut<'a, Status>;

/// One program of the registry.
pub struct Program {
    pub name: &'static str,
    pub main: Main,
    /// Whether it can be run in this context (e.g. `pct` only on the host).
    pub available: fn(&Ctx) -> bool,
}

fn everywhere(_: &Ctx) -> bool {
    true
}

/// `bash` and `sh` only where the filesystem has them.
fn has_shell(ctx: &Ctx, base: &str) -> bool {
    ctx.with_fs(|fs| {
        Ok(fs.exists(&format!("/bin/{base}")) || fs.exists(&format!("/usr/bin/{base}")))
    })
    .unwrap_or(false)
}

/// `bash` or `sh`: the shell, where `available` finds it.
const fn shell(name: &'static str, available: fn(&Ctx) -> bool) -> Program {
    Program {
        name,
        main: |c, n, a, io| Box::pin(async move { Ok(bash::shell(c, n, a, io).await) }),
        available,
    }
}

const fn program(name: &'static str, main: Main) -> Program {
    Program {
        name,
        main,
        available: everywhere,
    }
}

/// Every program, by name. The one list both [`exists`] and [`run`] use.
pub static PROGRAMS: &[Program] = &[
    program("awk", |c, _, a, io| Box::pin(awk::awk(c, a, io))),
    program("base64", |c, _, a, io| Box::pin(text::base64_cmd(c, a, io))),
    program("basename", |_, _, a, io| Box::pin(files::basename(a, io))),
    shell("bash", |c| has_shell(c, "bash")),
    program("cat", |c, _, a, io| Box::pin(files::cat(c, a, io))),
    program("chmod", |c, _, a, io| Box::pin(files::chmod(c, a, io))),
    program("chown", |c, _, a, io| Box::pin(files::chown(c, a, io))),
    program("command", |c, n, a, io| {
        Box::pin(system::command_v(c, n, a, io))
    }),
    program("cp", |c, _, a, io| Box::pin(files::cp(c, a, io))),
    program("cut", |c, _, a, io| Box::pin(textproc::cut(c, a, io))),
    program("date", |c, _, a, io| Box::pin(date::date(c, a, io))),
    program("df", |c, _, a, io| Box::pin(system::df(c, a, io))),
    program("dirname", |_, _, a, io| Box::pin(files::dirname(a, io))),
    program("du", |c, _, a, io| Box::pin(paths::du(c, a, io))),
    program("echo", |_, _, a, io| Box::pin(text::echo(a, io))),
    program("env", |c, _, a, io| Box::pin(system::env(c, a, io))),
    program("false", |_, _, _, _| Box::pin(async { Ok(1) })),
    program("find", |c, _, a, io| Box::pin(findutils::find(c, a, io))),
    program("flock", |c, _, a, io| Box::pin(flock::flock(c, a, io))),
    program("free", |c, _, a, io| Box::pin(system::free(c, a, io))),
    program("grep", |c, _, a, io| Box::pin(grep::grep(c, a, io))),
    program("gunzip", |c, n, a, io| Box::pin(archive::gzip(c, n, a, io))),
    program("gzip", |c, n, a, io| Box::pin(archive::gzip(c, n, a, io))),
    program("head", |c, _, a, io| Box::pin(text::head(c, a, io))),
    program("hostname", |c, _, a, io| {
        Box::pin(system::hostname(c, a, io))
    }),
    program("id", |c, _, a, io| Box::pin(system::id(c, a, io))),
    program("kill", |c, _, a, io| Box::pin(procs::kill(c, a, io))),
    program("ln", |c, _, a, io| Box::pin(files::ln(c, a, io))),
    program("ls", |c, _, a, io| Box::pin(ls::ls(c, a, io))),
    program("mawk", |c, _, a, io| Box::pin(awk::awk(c, a, io))),
    program("md5sum", |c, n, a, io| {
        Box::pin(text::sha256sum(c, n, a, io))
    }),
    program("mkdir", |c, _, a, io| Box::pin(files::mkdir(c, a, io))),
    program("mktemp", |c, _, a, io| Box::pin(files::mktemp(c, a, io))),
    program("mv", |c, _, a, io| Box::pin(files::mv(c, a, io))),
    program("nohup", |c, _, a, io| Box::pin(procs::nohup(c, a, io))),
    program("nproc", |_, _, _, io| Box::pin(out(io, "2\n"))),
    Program {
        name: "pct",
        main: |c, _, a, io| Box::pin(async move { Ok(crate::pct::run(c, a, io).await) }),
        available: |c| c.container.is_none(),
    },
    Program {
        name: "pvesm",
        main: |c, _, a, io| Box::pin(async move { Ok(crate::pvesm::run(c, a, io).await) }),
        available: |c| c.container.is_none(),
    },
    Program {
        name: "qm",
        main: |c, _, a, io| Box::pin(async move { Ok(crate::qm::run(c, a, io).await) }),
        available: |c| c.container.is_none(),
    },
    Program {
        name: "qmrestore",
        main: |c, _, a, io| Box::pin(async move { Ok(crate::qm::qmrestore(c, a, io).await) }),
        available: |c| c.container.is_none(),
    },
    program("pgrep", |c, n, a, io| Box::pin(procs::pgrep(c, n, a, io))),
    program("pkill", |c, n, a, io| Box::pin(procs::pgrep(c, n, a, io))),
    program("printf", |c, _, a, io| Box::pin(text::printf(c, a, io))),
    program("ps", |c, _, a, io| Box::pin(procs::ps(c, a, io))),
    Program {
        name: "pvecm",
        main: |c, _, a, io| Box::pin(async move { Ok(crate::pvecm::run(c, a, io).await) }),
        available: |c| c.container.is_none(),
    },
    Program {
        name: "pvesh",
        main: |c, _, a, io| Box::pin(async move { Ok(crate::pvesh::run(c, a, io).await) }),
        available: |c| c.container.is_none(),
    },
    program("pwd", |c, _, _, io| {
        Box::pin(async move { out(io, &format!("{}\n", c.cwd)).await })
    }),
    program("readlink", |c, _, a, io| {
        Box::pin(paths::readlink(c, a, io))
    }),
    program("realpath", |c, _, a, io| {
        Box::pin(paths::realpath(c, a, io))
    }),
    program("rm", |c, _, a, io| Box::pin(files::rm(c, a, io))),
    program("rmdir", |c, _, a, io| Box::pin(files::rmdir(c, a, io))),
    program("sed", |c, _, a, io| Box::pin(textproc::sed(c, a, io))),
    program("seq", |c, _, a, io| Box::pin(text::seq(c, a, io))),
    shell("sh", |c| has_shell(c, "sh")),
    Program {
        name: "ssh",
        main: |c, _, a, io| Box::pin(remote::ssh(c, a, io)),
        available: |c| c.container.is_none(),
    },
    program("setsid", |c, _, a, io| Box::pin(procs::setsid(c, a, io))),
    program("sha1sum", |c, n, a, io| {
        Box::pin(text::sha256sum(c, n, a, io))
    }),
    program("sha256sum", |c, n, a, io| {
        Box::pin(text::sha256sum(c, n, a, io))
    }),
    program("sort", |c, _, a, io| Box::pin(textproc::sort(c, a, io))),
    program("sleep", |_, _, a, io| Box::pin(procs::sleep(a, io))),
    program("stat", |c, _, a, io| Box::pin(files::stat(c, a, io))),
    program("sync", |_, _, _, _| Box::pin(async { Ok(0) })),
    program("tail", |c, _, a, io| Box::pin(text::tail(c, a, io))),
    program("tar", |c, _, a, io| Box::pin(archive::tar(c, a, io))),
    program("tee", |c, _, a, io| Box::pin(text::tee(c, a, io))),
    program("test", |c, _, a, io| {
        Box::pin(test_expr::test(c, a, io, false))
    }),
    program("[", |c, _, a, io| Box::pin(test_expr::test(c, a, io, true))),
    program("timeout", |c, _, a, io| Box::pin(procs::timeout(c, a, io))),
    program("touch", |c, _, a, io| Box::pin(files::touch(c, a, io))),
    program("tr", |c, _, a, io| Box::pin(textproc::tr(c, a, io))),
    program("true", |_, _, _, _| Box::pin(async { Ok(0) })),
    program("truncate", |c, _, a, io| {
        Box::pin(paths::truncate(c, a, io))
    }),
    program("uname", |c, _, a, io| Box::pin(system::uname(c, a, io))),
    program("uptime", |_, _, _, io| {
        Box::pin(out(
            io,
            " 12:00:00 up 3 days,  4:05,  0 users,  load average: 0.08, 0.03, 0.01\n",
        ))
    }),
    program("uniq", |c, _, a, io| Box::pin(textproc::uniq(c, a, io))),
    Program {
        name: "pveversion",
        main: |c, _, a, io| Box::pin(system::pveversion(c, a, io)),
        available: |c| c.container.is_none(),
    },
    Program {
        name: "vzdump",
        main: |c, _, a, io| Box::pin(async move { Ok(crate::vzdump::run(c, a, io).await) }),
        available: |c| c.container.is_none(),
    },
    program("wc", |c, _, a, io| Box::pin(text::wc(c, a, io))),
    program("which", |c, n, a, io| {
        Box::pin(system::command_v(c, n, a, io))
    }),
    program("whoami", |c, _, _, io| {
        Box::pin(async move { out(io, &format!("{}\n", c.user)).await })
    }),
    program("xargs", |c, _, a, io| Box::pin(findutils::xargs(c, a, io))),
    program("yes", |_, _, a, io| Box::pin(text::yes(a, io))),
    program("zcat", |c, n, a, io| Box::pin(archive::gzip(c, n, a, io))),
];

/// Programs a real node has that the fake does not emulate: found (so `command -v`
/// finds them, as on a node), and refused loudly when run.
pub static NOT_EMULATED: &[&str] = &[
    "apt",
    "apt-get",
    "bzip2",
    "chattr",
    "cmp",
    "crontab",
    "curl",
    "dd",
    "diff",
    "dpkg",
    "file",
    "gawk",
    "getent",
    "hexdump",
    "install",
    "ip",
    "journalctl",
    "less",
    "logger",
    "lsattr",
    "lsblk",
    "lsof",
    "more",
    "mount",
    "nano",
    "nc",
    "od",
    "openssl",
    "perl",
    "pidof",
    "python3",
    "rsync",
    "scp",
    "shred",
    "ss",
    "ssh",
    "stdbuf",
    "su",
    "sudo",
    "systemctl",
    "tac",
    "top",
    "umount",
    "unzip",
    "vi",
    "vim",
    "watch",
    "wget",
    "xxd",
    "xz",
    "zip",
];

fn lookup(base: &str) -> Option<&'static Program> {
    PROGRAMS.iter().find(|p| p.name == base)
}

/// `/usr/bin/cat` → `cat`.
fn base_name(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// Whether `name` can be run in `ctx`: a program of [`PROGRAMS`] available there (bash
/// only where the filesystem has it, pct only on the host) or a fixture-scripted command.
pub fn exists(ctx: &Ctx, name: &str) -> bool {
    let base = base_name(name);
    scripted::exists(ctx, base)
        || lookup(base).is_some_and(|p| (p.available)(ctx))
        || NOT_EMULATED.contains(&base)
}

/// For a program that runs a command (`env`, `timeout`, `nohup`, `setsid`, `command`):
/// `Err` with its status once it said, in its words, that `command` does not exist.
pub(super) async fn runnable(ctx: &Ctx, io: &Io, prog: &str, command: &str) -> Result<(), Status> {
    if exists(ctx, command) {
        return Ok(());
    }
    let (msg, status) = match prog {
        "timeout" | "nohup" => (
            format!("failed to run command '{command}': No such file or directory"),
            127,
        ),
        "setsid" => (
            format!("failed to execute {command}: No such file or directory"),
            1,
        ),
        "env" => (format!("'{command}': No such file or directory"), 127),
        // `command`: bash itself finds nothing.
        _ => (format!("{command}: command not found"), 127),
    };
    let who = if prog == "command" {
        "bash: line 1"
    } else {
        prog
    };
    Err(fail(io, who, &msg, status).await)
}

/// Runs one program. `argv[0]` is its name.
pub async fn run(ctx: &Ctx, argv: Vec<String>, io: Io) -> i32 {
    let line = argv.join(" ");
    if let Some(status) = scripted::intercept(ctx, &line, &io).await {
        return status;
    }
    let name = base_name(&argv[0]).to_string();
    let args: Vec<String> = argv[1..].to_vec();
    // A shell's `$0` (and the name its messages start with) is argv[0] as called.
    let called = match name.as_str() {
        "bash" | "sh" => argv[0].clone(),
        _ => name.clone(),
    };
    let result = match lookup(&name) {
        Some(p) => (p.main)(ctx, &called, &args, &io).await,
        None if NOT_EMULATED.contains(&name.as_str()) => Ok(ctx.refuse(&io, &name, 127).await),
        None => {
            complain(&io, &format!("bash: line 1: {name}: command not found\n")).await;
            Ok(127)
        }
    };
    result.unwrap_or(SIGPIPE_STATUS)
}

type Status = Result<i32, BrokenPipe>;

pub(super) async fn out(io: &Io, s: &str) -> Status {
    io.stdout.write_str(s).await?;
    Ok(0)
}

/// Writes `msg` on stderr; a closed stderr is no error.
pub(super) async fn complain(io: &Io, msg: &str) {
    let _ = io.stderr.write_str(msg).await;
}

/// Prints `prog: msg` on stderr and returns `status`.
pub(super) async fn fail(io: &Io, prog: &str, msg: &str, status: i32) -> Status {
    complain(io, &format!("{prog}: {msg}\n")).await;
    Ok(status)
}

/// Splits `-abc` style flags from operands; `--` ends flags. Returns (flags, operands).
pub(super) fn split_flags(args: &[String]) -> (String, Vec<String>) {
    let mut flags = String::new();
    let mut operands = Vec::new();
    let mut done = false;
    for a in args {
        if done || a == "-" || !a.starts_with('-') {
            operands.push(a.clone());
        } else if a == "--" {
            done = true;
        } else {
            flags.push_str(&a[1..]);
        }
    }
    (flags, operands)
}

/// Prints `prog: msg` and coreutils' hint on stderr and returns `status`.
pub(super) async fn usage(io: &Io, prog: &str, msg: &str, status: i32) -> Status {
    complain(
        io,
        &format!("{prog}: {msg}\nTry '{prog} --help' for more information.\n"),
    )
    .await;
    Ok(status)
}

/// Refuses an option the program does not emulate: the session ends with status 2.
pub(super) async fn refuse_option(ctx: &Ctx, io: &Io, prog: &str, opt: &str) -> Status {
    Ok(ctx.refuse(io, &format!("{prog} {opt}"), 2).await)
}

/// A program's arguments, read one at a time by an option loop; [`ArgCursor::value`]
/// takes the argument after an option as its value.
pub(super) struct ArgCursor<'a> {
    args: &'a [String],
    next: usize,
}

impl<'a> ArgCursor<'a> {
    pub(super) fn new(args: &'a [String]) -> Self {
        Self { args, next: 0 }
    }

    /// The value of the option just read: the next argument, consumed; `None` at the end.
    pub(super) fn value(&mut self) -> Option<&'a String> {
        let value = self.args.get(self.next)?;
        self.next += 1;
        Some(value)
    }

    /// The arguments not read yet.
    pub(super) fn rest(&self) -> &'a [String] {
        &self.args[self.next..]
    }
}

impl<'a> Iterator for ArgCursor<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        self.value().map(String::as_str)
    }
}

/// Splits short flags (`-abc`, each letter one of `allowed`) from operands; `--` ends
/// them. A flag not in `allowed`, or a long option, is returned as `Err(option)`.
pub(super) fn known_flags(args: &[String], allowed: &str) -> Result<(String, Vec<String>), String> {
    let (flags, operands) = split_flags(args);
    if let Some(a) = args
        .iter()
        .take_while(|a| *a != "--")
        .find(|a| a.starts_with("--"))
    {
        return Err(a.clone());
    }
    match flags.chars().find(|c| !allowed.contains(*c)) {
        Some(c) => Err(format!("-{c}")),
        None => Ok((flags, operands)),
    }
}

pub(super) fn read_file(ctx: &Ctx, path: &str) -> Result<Vec<u8>, FsError> {
    if path == "/dev/null" {
        return Ok(Vec::new());
    }
    let abs = ctx.resolve(path);
    ctx.with_fs(|fs| fs.read(&abs).map(<[u8]>::to_vec))
        .map_err(|e| not_emulated(&abs, e))
}

pub(super) fn stat_path(ctx: &Ctx, path: &str) -> Result<Meta, FsError> {
    let abs = ctx.resolve(path);
    ctx.with_fs(|fs| fs.stat(&abs))
        .map_err(|e| not_emulated(&abs, e))
}

/// A missing path under /proc or /dev is not "No such file" on a real host: say that
/// the fake has none, rather than answer plausibly and wrongly.
fn not_emulated(abs: &str, e: FsError) -> FsError {
    let special = abs.starts_with("/proc/") || (abs.starts_with("/dev/") && abs != "/dev/null");
    if e == FsError::NotFound && special {
        FsError::NotEmulated
    } else {
        e
    }
}

/// Reads the named files (or stdin for none / `-`), reporting errors like coreutils.
/// Returns the contents read and whether any failed.
pub(super) async fn inputs(
    ctx: &Ctx,
    prog: &str,
    files: &[String],
    io: &Io,
) -> (Vec<(String, Vec<u8>)>, bool) {
    let mut outv = Vec::new();
    let mut failed = false;
    if files.is_empty() {
        outv.push(("-".to_string(), io.stdin.read_all().await));
        return (outv, false);
    }
    for f in files {
        if f == "-" {
            outv.push((f.clone(), io.stdin.read_all().await));
            continue;
        }
        match read_file(ctx, f) {
            Ok(data) => outv.push((f.clone(), data)),
            Err(e) => {
                failed = true;
                let msg = match prog {
                    "head" | "tail" => format!("{prog}: cannot open '{f}' for reading: {e}\n"),
                    _ => format!("{prog}: {}: {e}\n", crate::unix::quote_name(f)),
                };
                complain(io, &msg).await;
            }
        }
    }
    (outv, failed)
}

pub(super) fn user_name(ctx: &Ctx, uid: u32, file: &str) -> String {
    let data = ctx
        .with_fs(|fs| fs.read(file).map(<[u8]>::to_vec))
        .unwrap_or_default();
    String::from_utf8_lossy(&data)
        .lines()
        .find_map(|l| {
            let mut p = l.split(':');
            let name = p.next()?;
            p.next()?;
            (p.next()?.parse::<u32>().ok()? == uid).then(|| name.to_string())
        })
        .unwrap_or_else(|| uid.to_string())
}
