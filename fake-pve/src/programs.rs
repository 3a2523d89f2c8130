//! The programs the fake shell can run (`cat`, `ls`, `sleep`, `ps`, `pct`, …), each
//! over the in-memory filesystem of its context, plus fixture-scripted commands and
//! the `hang` fault. Every program returns its exit status; a write to a closed pipe
//! ends it with 141, as SIGPIPE would.

use std::fmt::Write as _;
use std::time::Duration;

use base64::Engine as _;
use sha2::Digest as _;

use crate::fs::{FsError, Kind, Meta, WriteMode};
use crate::io::{BrokenPipe, Io};
use crate::process::{ProcessInfo, parse_signal};
use crate::shell::{Ctx, glob_match, run_script, spawn_child};

const SIGPIPE_STATUS: i32 = 128 + 13;

/// Programs implemented here, by name.
const BUILTIN: &[&str] = &[
    "base64",
    "basename",
    "bash",
    "cat",
    "chmod",
    "chown",
    "command",
    "cp",
    "date",
    "df",
    "dirname",
    "echo",
    "env",
    "false",
    "free",
    "grep",
    "head",
    "hostname",
    "id",
    "kill",
    "ln",
    "ls",
    "mkdir",
    "mktemp",
    "mv",
    "nproc",
    "pct",
    "pgrep",
    "pkill",
    "printf",
    "ps",
    "pwd",
    "rm",
    "rmdir",
    "seq",
    "sh",
    "sha256sum",
    "sleep",
    "stat",
    "sync",
    "tail",
    "tee",
    "test",
    "[",
    "timeout",
    "touch",
    "true",
    "uname",
    "uptime",
    "wc",
    "which",
    "whoami",
    "yes",
];

/// `/usr/bin/cat` → `cat`.
fn base_name(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// Whether `name` can be run in `ctx`: a builtin program (bash only where the
/// filesystem has it, pct only on the host) or a fixture-scripted command.
pub fn exists(ctx: &Ctx, name: &str) -> bool {
    let base = base_name(name);
    let scripted = {
        let state = ctx.host.state();
        state
            .scripts
            .iter()
            .filter(|s| applies(s.on.as_deref(), ctx.container))
            .any(|s| glob_match(s.pattern.split(' ').next().unwrap_or(""), base))
    };
    if scripted {
        return true;
    }
    match base {
        "bash" | "sh" => ctx
            .with_fs(|fs| {
                Ok(fs.exists(&format!("/bin/{base}")) || fs.exists(&format!("/usr/bin/{base}")))
            })
            .unwrap_or(false),
        "pct" => ctx.container.is_none(),
        other => BUILTIN.contains(&other),
    }
}

fn applies(on: Option<&str>, container: Option<u32>) -> bool {
    match (on, container) {
        (None, _) => true,
        (Some("host"), None) => true,
        (Some("containers"), Some(_)) => true,
        (Some(id), Some(ct)) => id.parse::<u32>() == Ok(ct),
        _ => false,
    }
}

/// Runs one program. `argv[0]` is its name.
pub async fn run(ctx: &Ctx, argv: Vec<String>, io: Io) -> i32 {
    let line = argv.join(" ");
    let (hang, drop, script) = {
        let state = ctx.host.state();
        let hang = state.faults.hang.iter().any(|p| glob_match(p, &line));
        let drop = state
            .faults
            .drop_on_command
            .as_ref()
            .is_some_and(|p| glob_match(p, &line));
        let script = state
            .scripts
            .iter()
            .find(|s| applies(s.on.as_deref(), ctx.container) && glob_match(&s.pattern, &line))
            .cloned();
        (hang, drop, script)
    };
    if drop {
        ctx.host.cut_connection_of(ctx.sid);
    }
    if hang {
        // Fault: never finishes; only a signal ends it.
        std::future::pending::<()>().await;
    }
    if let Some(s) = script {
        tokio::time::sleep(Duration::from_millis(s.delay_ms)).await;
        if io.stdout.write_str(&s.stdout).await.is_err() {
            return SIGPIPE_STATUS;
        }
        let _ = io.stderr.write_str(&s.stderr).await;
        return s.exit;
    }
    let name = base_name(&argv[0]).to_string();
    let args: Vec<String> = argv[1..].to_vec();
    let result = match name.as_str() {
        "bash" | "sh" => Ok(shell(ctx, &name, &args, &io).await),
        "base64" => base64_cmd(ctx, &args, &io).await,
        "basename" => basename(&args, &io).await,
        "cat" => cat(ctx, &args, &io).await,
        "chmod" => chmod(ctx, &args, &io).await,
        "chown" => chown(ctx, &args, &io).await,
        "command" | "which" => command_v(ctx, &name, &args, &io).await,
        "cp" => cp(ctx, &args, &io).await,
        "date" => date(&io).await,
        "df" => df(ctx, &args, &io).await,
        "dirname" => dirname(&args, &io).await,
        "echo" => echo(&args, &io).await,
        "env" => env(ctx, &args, &io).await,
        "false" => Ok(1),
        "free" => free(ctx, &args, &io).await,
        "grep" => grep(ctx, &args, &io).await,
        "head" => head(ctx, &args, &io).await,
        "hostname" => hostname(ctx, &io).await,
        "id" => id(ctx, &args, &io).await,
        "kill" => kill(ctx, &args, &io).await,
        "ln" => ln(ctx, &args, &io).await,
        "ls" => ls(ctx, &args, &io).await,
        "mkdir" => mkdir(ctx, &args, &io).await,
        "mktemp" => mktemp(ctx, &args, &io).await,
        "mv" => mv(ctx, &args, &io).await,
        "nproc" => out(&io, "2\n").await,
        "pct" => Ok(crate::pct::run(ctx, &args, &io).await),
        "pgrep" | "pkill" => pgrep(ctx, &name, &args, &io).await,
        "printf" => printf(&args, &io).await,
        "ps" => ps(ctx, &args, &io).await,
        "pwd" => out(&io, &format!("{}\n", ctx.cwd)).await,
        "rm" => rm(ctx, &args, &io).await,
        "rmdir" => rmdir(ctx, &args, &io).await,
        "seq" => seq(&args, &io).await,
        "sha256sum" => sha256sum(ctx, &args, &io).await,
        "sleep" => sleep(&args, &io).await,
        "stat" => stat(ctx, &args, &io).await,
        "sync" | "true" => Ok(0),
        "tail" => tail(ctx, &args, &io).await,
        "tee" => tee(ctx, &args, &io).await,
        "test" => test(ctx, &args, &io, false).await,
        "[" => test(ctx, &args, &io, true).await,
        "timeout" => timeout(ctx, &args, &io).await,
        "touch" => touch(ctx, &args, &io).await,
        "uname" => uname(&args, &io).await,
        "uptime" => {
            out(
                &io,
                " 12:00:00 up 3 days,  4:05,  0 users,  load average: 0.08, 0.03, 0.01\n",
            )
            .await
        }
        "wc" => wc(ctx, &args, &io).await,
        "whoami" => out(&io, &format!("{}\n", ctx.user)).await,
        "yes" => yes(&args, &io).await,
        _ => {
            let _ = io
                .stderr
                .write_str(&format!("bash: line 1: {name}: command not found\n"))
                .await;
            Ok(127)
        }
    };
    result.unwrap_or(SIGPIPE_STATUS)
}

type Status = Result<i32, BrokenPipe>;

async fn out(io: &Io, s: &str) -> Status {
    io.stdout.write_str(s).await?;
    Ok(0)
}

/// Prints `prog: msg` on stderr and returns `status`.
async fn fail(io: &Io, prog: &str, msg: &str, status: i32) -> Status {
    let _ = io.stderr.write_str(&format!("{prog}: {msg}\n")).await;
    Ok(status)
}

/// Splits `-abc` style flags from operands; `--` ends flags. Returns (flags, operands).
fn split_flags(args: &[String]) -> (String, Vec<String>) {
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

fn read_file(ctx: &Ctx, path: &str) -> Result<Vec<u8>, FsError> {
    let abs = ctx.resolve(path);
    ctx.with_fs(|fs| fs.read(&abs).map(<[u8]>::to_vec))
}

fn stat_path(ctx: &Ctx, path: &str) -> Result<Meta, FsError> {
    let abs = ctx.resolve(path);
    ctx.with_fs(|fs| fs.stat(&abs))
}

/// Reads the named files (or stdin for none / `-`), reporting errors like coreutils.
/// Returns the contents read and whether any failed.
async fn inputs(
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
                let _ = io.stderr.write_str(&format!("{prog}: {f}: {e}\n")).await;
            }
        }
    }
    (outv, failed)
}

async fn shell(ctx: &Ctx, name: &str, args: &[String], io: &Io) -> i32 {
    let mut i = 0;
    while i < args.len() && args[i].starts_with('-') && args[i] != "-c" {
        i += 1; // -e, -x, -l, --login… are accepted and ignored
    }
    if args.get(i).map(String::as_str) == Some("-c") {
        let Some(script) = args.get(i + 1) else {
            let _ = io
                .stderr
                .write_str(&format!("{name}: -c: option requires an argument\n"))
                .await;
            return 2;
        };
        let mut positional: Vec<String> = args[i + 2..].to_vec();
        if positional.is_empty() {
            positional.push(name.to_string());
        }
        return run_script(ctx, script, positional, io).await;
    }
    let script = match args.get(i) {
        Some(file) => match read_file(ctx, file) {
            Ok(d) => String::from_utf8_lossy(&d).into_owned(),
            Err(e) => {
                let _ = io.stderr.write_str(&format!("{name}: {file}: {e}\n")).await;
                return 127;
            }
        },
        None => String::from_utf8_lossy(&io.stdin.read_all().await).into_owned(),
    };
    let mut positional = vec![name.to_string()];
    positional.extend(args.iter().skip(i + 1).cloned());
    run_script(ctx, &script, positional, io).await
}

async fn echo(args: &[String], io: &Io) -> Status {
    let mut newline = true;
    let mut escapes = false;
    let mut i = 0;
    while let Some(a) = args.get(i) {
        if a.len() > 1 && a.starts_with('-') && a[1..].chars().all(|c| matches!(c, 'n' | 'e' | 'E'))
        {
            newline &= !a.contains('n');
            escapes = a.contains('e');
            i += 1;
        } else {
            break;
        }
    }
    let joined = args[i..].join(" ");
    let mut bytes = if escapes {
        unescape(&joined, true)
    } else {
        joined.into_bytes()
    };
    if newline {
        bytes.push(b'\n');
    }
    io.stdout.write(&bytes).await?;
    Ok(0)
}

/// Backslash escapes as `printf` (and `echo -e`) read them, into raw bytes: `\n`, `\t`,
/// `\\`, octal `\NNN` (`\0NNN` for echo), `\xHH`.
fn unescape(s: &str, echo_style: bool) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 >= b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let c = b[i + 1];
        i += 2;
        match c {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'v' => out.push(11),
            b'e' => out.push(27),
            b'\\' => out.push(b'\\'),
            b'"' => out.push(b'"'),
            b'\'' => out.push(b'\''),
            b'x' => {
                let mut v = 0u32;
                let mut n = 0;
                while n < 2 && i < b.len() && (b[i] as char).is_ascii_hexdigit() {
                    v = v * 16 + (b[i] as char).to_digit(16).unwrap_or(0);
                    i += 1;
                    n += 1;
                }
                if n == 0 {
                    out.extend_from_slice(b"\\x");
                } else {
                    out.push(v as u8);
                }
            }
            b'0'..=b'7' => {
                // printf: \NNN (1-3 digits); echo -e: \0NNN.
                let (mut v, max) = if echo_style && c == b'0' {
                    (0u32, 3)
                } else {
                    ((c - b'0') as u32, 2)
                };
                let mut n = 0;
                while n < max && i < b.len() && (b'0'..=b'7').contains(&b[i]) {
                    v = v * 8 + (b[i] - b'0') as u32;
                    i += 1;
                    n += 1;
                }
                out.push(v as u8);
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    out
}

async fn printf(args: &[String], io: &Io) -> Status {
    let Some(format) = args.first() else {
        return fail(io, "printf", "usage: printf format [arguments]", 2).await;
    };
    let format = unescape(format, false);
    let mut rest = args[1..].iter();
    let mut outs: Vec<u8> = Vec::new();
    loop {
        let mut consumed = false;
        let mut i = 0;
        while i < format.len() {
            let c = format[i];
            i += 1;
            if c != b'%' {
                outs.push(c);
                continue;
            }
            let mut spec = String::new();
            while i < format.len()
                && (format[i].is_ascii_digit() || format[i] == b'-' || format[i] == b'.')
            {
                spec.push(format[i] as char);
                i += 1;
            }
            let Some(&conv) = format.get(i) else { break };
            i += 1;
            if conv == b'%' {
                outs.push(b'%');
                continue;
            }
            let arg = rest.next();
            consumed |= arg.is_some();
            let arg = arg.map(String::as_str).unwrap_or("");
            let left = spec.starts_with('-');
            let zero = spec.trim_start_matches('-').starts_with('0');
            let width: usize = spec
                .trim_start_matches('-')
                .split('.')
                .next()
                .unwrap_or("")
                .parse()
                .unwrap_or(0);
            let text: Vec<u8> = match conv {
                b'd' | b'i' | b'u' => arg
                    .trim()
                    .parse::<i64>()
                    .unwrap_or(0)
                    .to_string()
                    .into_bytes(),
                b'x' => format!("{:x}", arg.trim().parse::<i64>().unwrap_or(0)).into_bytes(),
                b'X' => format!("{:X}", arg.trim().parse::<i64>().unwrap_or(0)).into_bytes(),
                b'o' => format!("{:o}", arg.trim().parse::<i64>().unwrap_or(0)).into_bytes(),
                b'c' => arg
                    .chars()
                    .next()
                    .map(String::from)
                    .unwrap_or_default()
                    .into_bytes(),
                b'b' => unescape(arg, true),
                b'f' => format!("{:.6}", arg.trim().parse::<f64>().unwrap_or(0.0)).into_bytes(),
                _ => arg.as_bytes().to_vec(),
            };
            let pad = width.saturating_sub(String::from_utf8_lossy(&text).chars().count());
            if left {
                outs.extend_from_slice(&text);
                outs.extend(std::iter::repeat_n(b' ', pad));
            } else if zero && conv != b's' {
                outs.extend(std::iter::repeat_n(b'0', pad));
                outs.extend_from_slice(&text);
            } else {
                outs.extend(std::iter::repeat_n(b' ', pad));
                outs.extend_from_slice(&text);
            }
        }
        if !consumed || rest.len() == 0 {
            break;
        }
    }
    io.stdout.write(&outs).await?;
    Ok(0)
}

async fn cat(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (_, files) = split_flags(args);
    if files.is_empty() || files == ["-"] {
        while let Some(chunk) = io.stdin.read_chunk().await {
            io.stdout.write(&chunk).await?;
        }
        return Ok(0);
    }
    let mut status = 0;
    for f in &files {
        if f == "-" {
            while let Some(chunk) = io.stdin.read_chunk().await {
                io.stdout.write(&chunk).await?;
            }
            continue;
        }
        match read_file(ctx, f) {
            Ok(data) => {
                for chunk in data.chunks(32 * 1024) {
                    io.stdout.write(chunk).await?;
                }
            }
            Err(e) => {
                status = 1;
                let _ = io.stderr.write_str(&format!("cat: {f}: {e}\n")).await;
            }
        }
    }
    Ok(status)
}

fn mode_string(meta: &Meta) -> String {
    let mut s = String::with_capacity(10);
    s.push(if meta.is_dir() { 'd' } else { '-' });
    for shift in [6, 3, 0] {
        let bits = (meta.mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        let special = match shift {
            6 => meta.mode & 0o4000 != 0,
            3 => meta.mode & 0o2000 != 0,
            _ => meta.mode & 0o1000 != 0,
        };
        s.push(match (bits & 1 != 0, special, shift) {
            (true, true, 0) => 't',
            (false, true, 0) => 'T',
            (true, true, _) => 's',
            (false, true, _) => 'S',
            (true, false, _) => 'x',
            (false, false, _) => '-',
        });
    }
    s
}

fn user_name(ctx: &Ctx, uid: u32, file: &str) -> String {
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

/// `Jan  1 00:00` from seconds since the epoch (UTC).
fn ls_time(secs: u64) -> String {
    let (y, m, d, hh, mm, _) = civil(secs);
    let _ = y;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!("{} {:>2} {:02}:{:02}", MONTHS[(m - 1) as usize], d, hh, mm)
}

/// (year, month, day, hour, minute, second) in UTC.
pub fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = if m <= 2 { y + 1 } else { y };
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        ((rem % 3600) / 60) as u32,
        (rem % 60) as u32,
    )
}

fn human(n: u64) -> String {
    const UNITS: [&str; 5] = ["", "K", "M", "G", "T"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        n.to_string()
    } else if v < 10.0 {
        format!("{:.1}{}", v, UNITS[u])
    } else {
        format!("{:.0}{}", v, UNITS[u])
    }
}

async fn ls(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (flags, mut paths) = split_flags(args);
    let long = flags.contains('l');
    let all = flags.contains('a');
    let dir_only = flags.contains('d');
    let hum = flags.contains('h');
    if paths.is_empty() {
        paths.push(".".into());
    }
    let mut status = 0;
    let mut text = String::new();
    let line = |name: &str, meta: &Meta| -> String {
        if long {
            let size = if hum {
                human(meta.size)
            } else {
                meta.size.to_string()
            };
            format!(
                "{} {} {} {} {:>5} {} {}\n",
                mode_string(meta),
                if meta.is_dir() { 2 } else { 1 },
                user_name(ctx, meta.uid, "/etc/passwd"),
                user_name(ctx, meta.gid, "/etc/group"),
                size,
                ls_time(meta.mtime),
                name
            )
        } else {
            format!("{name}\n")
        }
    };
    let multiple = paths.len() > 1;
    for (n, p) in paths.iter().enumerate() {
        let abs = ctx.resolve(p);
        let meta = match ctx.with_fs(|fs| fs.stat(&abs)) {
            Ok(m) => m,
            Err(e) => {
                status = 2;
                let _ = io
                    .stderr
                    .write_str(&format!("ls: cannot access '{p}': {e}\n"))
                    .await;
                continue;
            }
        };
        if !meta.is_dir() || dir_only {
            text.push_str(&line(p, &meta));
            continue;
        }
        if multiple {
            if n > 0 {
                text.push('\n');
            }
            let _ = writeln!(text, "{p}:");
        }
        let mut entries = ctx.with_fs(|fs| fs.list_dir(&abs)).unwrap_or_default();
        if all {
            let parent = ctx
                .with_fs(|fs| fs.stat(crate::fs::parent(&abs)))
                .unwrap_or_else(|_| meta.clone());
            entries.insert(0, ("..".into(), parent));
            entries.insert(0, (".".into(), meta.clone()));
        } else {
            entries.retain(|(name, _)| !name.starts_with('.'));
        }
        if long {
            let blocks: u64 = entries.iter().map(|(_, m)| m.size.div_ceil(4096) * 4).sum();
            let _ = writeln!(text, "total {blocks}");
        }
        for (name, m) in &entries {
            text.push_str(&line(name, m));
        }
    }
    io.stdout.write_str(&text).await?;
    Ok(status)
}

async fn test(ctx: &Ctx, args: &[String], io: &Io, bracket: bool) -> Status {
    let args = if bracket {
        match args.split_last() {
            Some((last, rest)) if last == "]" => rest,
            _ => return fail(io, "bash: line 1: [", "missing `]'", 2).await,
        }
    } else {
        args
    };
    match brush_parser::test_command::parse(args) {
        Ok(expr) => Ok(if eval_test(ctx, &expr) { 0 } else { 1 }),
        Err(_) => fail(io, "bash: line 1: test", "syntax error", 2).await,
    }
}

fn eval_test(ctx: &Ctx, expr: &brush_parser::ast::TestExpr) -> bool {
    use brush_parser::ast::{BinaryPredicate as B, TestExpr as T, UnaryPredicate as U};
    match expr {
        T::False => false,
        T::Literal(s) => !s.is_empty(),
        T::And(a, b) => eval_test(ctx, a) && eval_test(ctx, b),
        T::Or(a, b) => eval_test(ctx, a) || eval_test(ctx, b),
        T::Not(a) => !eval_test(ctx, a),
        T::Parenthesized(a) => eval_test(ctx, a),
        T::UnaryTest(op, s) => {
            let meta = stat_path(ctx, s);
            match op {
                U::StringHasZeroLength => s.is_empty(),
                U::StringHasNonZeroLength => !s.is_empty(),
                U::FileExists => meta.is_ok(),
                U::FileExistsAndIsDir => meta.is_ok_and(|m| m.is_dir()),
                U::FileExistsAndIsRegularFile => meta.is_ok_and(|m| m.kind == Kind::File),
                U::FileExistsAndIsNotZeroLength => meta.is_ok_and(|m| m.size > 0),
                U::FileExistsAndIsReadable | U::FileExistsAndIsWritable => meta.is_ok(),
                U::FileExistsAndIsExecutable => meta.is_ok_and(|m| m.mode & 0o111 != 0),
                U::FileExistsAndIsSetuid => meta.is_ok_and(|m| m.mode & 0o4000 != 0),
                U::FileExistsAndIsSetgid => meta.is_ok_and(|m| m.mode & 0o2000 != 0),
                U::FileExistsAndHasStickyBit => meta.is_ok_and(|m| m.mode & 0o1000 != 0),
                U::FileExistsAndOwnedByEffectiveUserId => meta.is_ok_and(|m| m.uid == ctx.uid),
                _ => false,
            }
        }
        T::BinaryTest(op, a, b) => {
            let num = |s: &str| s.trim().parse::<i64>().unwrap_or(0);
            match op {
                B::StringExactlyMatchesString | B::StringExactlyMatchesPattern => a == b,
                B::StringDoesNotExactlyMatchString | B::StringDoesNotExactlyMatchPattern => a != b,
                B::LeftSortsBeforeRight => a < b,
                B::LeftSortsAfterRight => a > b,
                B::ArithmeticEqualTo => num(a) == num(b),
                B::ArithmeticNotEqualTo => num(a) != num(b),
                B::ArithmeticLessThan => num(a) < num(b),
                B::ArithmeticLessThanOrEqualTo => num(a) <= num(b),
                B::ArithmeticGreaterThan => num(a) > num(b),
                B::ArithmeticGreaterThanOrEqualTo => num(a) >= num(b),
                _ => false,
            }
        }
    }
}

async fn stat(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let mut format: Option<String> = None;
    let mut files = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "-c" || a == "--format" || a == "--printf" {
            format = args.get(i + 1).cloned();
            i += 2;
            continue;
        }
        if let Some(f) = a
            .strip_prefix("--format=")
            .or_else(|| a.strip_prefix("-c"))
            .filter(|f| !f.is_empty())
        {
            format = Some(f.to_string());
        } else if a.starts_with('-') && a.len() > 1 {
            // -L and friends: no symlinks here, nothing to do.
        } else {
            files.push(a.clone());
        }
        i += 1;
    }
    if files.is_empty() {
        return fail(
            io,
            "stat",
            "missing operand\nTry 'stat --help' for more information.",
            1,
        )
        .await;
    }
    let mut status = 0;
    for f in &files {
        let meta = match stat_path(ctx, f) {
            Ok(m) => m,
            Err(e) => {
                status = 1;
                let _ = io
                    .stderr
                    .write_str(&format!("stat: cannot statx '{f}': {e}\n"))
                    .await;
                continue;
            }
        };
        let text = match &format {
            Some(fmt) => {
                let mut s = String::new();
                let mut chars = fmt.chars();
                while let Some(c) = chars.next() {
                    if c != '%' {
                        s.push(c);
                        continue;
                    }
                    match chars.next() {
                        Some('s') => s.push_str(&meta.size.to_string()),
                        Some('a') => s.push_str(&format!("{:o}", meta.mode)),
                        Some('A') => s.push_str(&mode_string(&meta)),
                        Some('f') => s.push_str(&format!("{:x}", meta.st_mode())),
                        Some('u') => s.push_str(&meta.uid.to_string()),
                        Some('g') => s.push_str(&meta.gid.to_string()),
                        Some('U') => s.push_str(&user_name(ctx, meta.uid, "/etc/passwd")),
                        Some('G') => s.push_str(&user_name(ctx, meta.gid, "/etc/group")),
                        Some('n') => s.push_str(f),
                        Some('Y') => s.push_str(&meta.mtime.to_string()),
                        Some('F') => s.push_str(if meta.is_dir() {
                            "directory"
                        } else if meta.size == 0 {
                            "regular empty file"
                        } else {
                            "regular file"
                        }),
                        Some('%') => s.push('%'),
                        Some(o) => {
                            s.push('?');
                            let _ = o;
                        }
                        None => s.push('%'),
                    }
                }
                s.push('\n');
                s
            }
            None => format!(
                "  File: {f}\n  Size: {:<15} Blocks: {:<10} IO Block: 4096   {}\nAccess: ({:04o}/{})  Uid: ({:>5}/{:>8})   Gid: ({:>5}/{:>8})\n",
                meta.size,
                meta.size.div_ceil(512),
                if meta.is_dir() {
                    "directory"
                } else {
                    "regular file"
                },
                meta.mode,
                mode_string(&meta),
                meta.uid,
                user_name(ctx, meta.uid, "/etc/passwd"),
                meta.gid,
                user_name(ctx, meta.gid, "/etc/group"),
            ),
        };
        io.stdout.write_str(&text).await?;
    }
    Ok(status)
}

async fn mkdir(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let mut parents = false;
    let mut mode = 0o777;
    let mut dirs = Vec::new();
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "-p" | "--parents" => parents = true,
            "-m" => {
                i += 1;
                mode = args
                    .get(i)
                    .and_then(|m| u32::from_str_radix(m, 8).ok())
                    .unwrap_or(0o777);
            }
            "-pv" | "-vp" => parents = true,
            a if a.starts_with('-') && a.len() > 1 => {}
            a => dirs.push(a.to_string()),
        }
        i += 1;
    }
    if dirs.is_empty() {
        return fail(io, "mkdir", "missing operand", 1).await;
    }
    let mut status = 0;
    for d in &dirs {
        let abs = ctx.resolve(d);
        let r = ctx.with_fs(|fs| {
            if parents {
                fs.mkdir_all(&abs, mode)
            } else {
                fs.mkdir(&abs, mode)
            }
        });
        if let Err(e) = r {
            status = 1;
            let _ = io
                .stderr
                .write_str(&format!("mkdir: cannot create directory '{d}': {e}\n"))
                .await;
        }
    }
    Ok(status)
}

async fn rmdir(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (_, dirs) = split_flags(args);
    let mut status = 0;
    for d in &dirs {
        let abs = ctx.resolve(d);
        if let Err(e) = ctx.with_fs(|fs| fs.rmdir(&abs)) {
            status = 1;
            let _ = io
                .stderr
                .write_str(&format!("rmdir: failed to remove '{d}': {e}\n"))
                .await;
        }
    }
    Ok(status)
}

async fn rm(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (flags, paths) = split_flags(args);
    let recursive = flags.contains('r') || flags.contains('R');
    let force = flags.contains('f');
    if paths.is_empty() && !force {
        return fail(io, "rm", "missing operand", 1).await;
    }
    let mut status = 0;
    for p in &paths {
        let abs = ctx.resolve(p);
        let r = ctx.with_fs(|fs| {
            let meta = fs.stat(&abs)?;
            if meta.is_dir() {
                if recursive {
                    fs.remove_all(&abs)
                } else {
                    Err(FsError::IsADirectory)
                }
            } else {
                fs.remove_file(&abs)
            }
        });
        match r {
            Ok(()) => {}
            Err(FsError::NotFound) if force => {}
            Err(e) => {
                status = 1;
                let _ = io
                    .stderr
                    .write_str(&format!("rm: cannot remove '{p}': {e}\n"))
                    .await;
            }
        }
    }
    Ok(status)
}

/// The destination path for copying or moving `src` to `dst` (into it when a directory).
fn into_target(ctx: &Ctx, src: &str, dst: &str) -> String {
    let abs = ctx.resolve(dst);
    match ctx.with_fs(|fs| fs.stat(&abs)) {
        Ok(m) if m.is_dir() => crate::fs::normalize(&abs, crate::fs::file_name(&ctx.resolve(src))),
        _ => abs,
    }
}

async fn cp(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (flags, paths) = split_flags(args);
    let recursive = flags.contains('r') || flags.contains('R') || flags.contains('a');
    let preserve = flags.contains('p') || flags.contains('a');
    let Some((dst, srcs)) = paths.split_last().filter(|(_, s)| !s.is_empty()) else {
        return fail(io, "cp", "missing file operand", 1).await;
    };
    let mut status = 0;
    for src in srcs {
        let from = ctx.resolve(src);
        let to = into_target(ctx, src, dst);
        let r = ctx.with_fs(|fs| {
            let meta = fs.stat(&from)?;
            if meta.is_dir() {
                if !recursive {
                    return Err(FsError::IsADirectory);
                }
                // Copy a subtree: directories first, then files.
                let mut stack = vec![(from.clone(), to.clone())];
                while let Some((f, t)) = stack.pop() {
                    fs.mkdir_all(&t, 0o777)?;
                    for (name, m) in fs.list_dir(&f)? {
                        let (cf, ct) = (format!("{f}/{name}"), format!("{t}/{name}"));
                        if m.is_dir() {
                            stack.push((cf, ct));
                        } else {
                            let data = fs.read(&cf)?.to_vec();
                            fs.write_file(&ct, &data, m.mode)?;
                        }
                    }
                }
                Ok(())
            } else {
                let data = fs.read(&from)?.to_vec();
                fs.open_for_write(&to, WriteMode::Truncate, meta.mode, (0, 0))?;
                fs.write_at(&to, 0, &data)?;
                if preserve {
                    fs.set_mode(&to, meta.mode)?;
                    fs.set_owner(&to, Some(meta.uid), Some(meta.gid))?;
                    fs.set_mtime(&to, meta.mtime)?;
                }
                Ok(())
            }
        });
        if let Err(e) = r {
            status = 1;
            let msg = match e {
                FsError::IsADirectory => {
                    format!("cp: -r not specified; omitting directory '{src}'\n")
                }
                FsError::NotFound if ctx.with_fs(|fs| fs.stat(&from)).is_err() => {
                    format!("cp: cannot stat '{src}': {e}\n")
                }
                _ => format!("cp: cannot create regular file '{dst}': {e}\n"),
            };
            let _ = io.stderr.write_str(&msg).await;
        }
    }
    Ok(status)
}

/// `ln TARGET LINK_NAME` (hard links only; `-f`, `-s` and directory targets are not
/// emulated). link(2) never replaces an existing name, so `ln` is an atomic
/// no-clobber create, as on a real host.
async fn ln(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (flags, paths) = split_flags(args);
    if !flags.is_empty() {
        return fail(
            io,
            "ln",
            &format!("option -{flags} is not supported here"),
            1,
        )
        .await;
    }
    let [src, dst] = paths.as_slice() else {
        return fail(
            io,
            "ln",
            "expected exactly two operands: TARGET LINK_NAME",
            1,
        )
        .await;
    };
    let (from, to) = (ctx.resolve(src), ctx.resolve(dst));
    match ctx.with_fs(|fs| fs.link(&from, &to)) {
        Ok(()) => Ok(0),
        Err(FsError::PermissionDenied)
            if ctx.with_fs(|fs| fs.stat(&from)).is_ok_and(|m| m.is_dir()) =>
        {
            fail(
                io,
                "ln",
                &format!("{src}: hard link not allowed for directory"),
                1,
            )
            .await
        }
        Err(e) if ctx.with_fs(|fs| fs.stat(&from)).is_err() => {
            fail(io, "ln", &format!("failed to access '{src}': {e}"), 1).await
        }
        Err(e) => {
            fail(
                io,
                "ln",
                &format!("failed to create hard link '{dst}' => '{src}': {e}"),
                1,
            )
            .await
        }
    }
}

async fn mv(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (flags, paths) = split_flags(args);
    let no_clobber = flags.contains('n');
    let Some((dst, srcs)) = paths.split_last().filter(|(_, s)| !s.is_empty()) else {
        return fail(io, "mv", "missing file operand", 1).await;
    };
    let mut status = 0;
    for src in srcs {
        let from = ctx.resolve(src);
        let to = into_target(ctx, src, dst);
        // `-n`: an existing target is left alone, silently, as GNU mv does.
        if no_clobber && ctx.with_fs(|fs| fs.stat(&to)).is_ok() {
            continue;
        }
        if let Err(e) = ctx.with_fs(|fs| fs.rename(&from, &to)) {
            status = 1;
            let msg = if ctx.with_fs(|fs| fs.stat(&from)).is_err() {
                format!("mv: cannot stat '{src}': {e}\n")
            } else {
                format!("mv: cannot move '{src}' to '{dst}': {e}\n")
            };
            let _ = io.stderr.write_str(&msg).await;
        }
    }
    Ok(status)
}

/// Applies an octal (`755`) or symbolic (`u+x,go-w`, `+x`, `a=r`) mode to `old`.
fn apply_mode(spec: &str, old: u32, umask: u32) -> Option<u32> {
    if !spec.is_empty() && spec.chars().all(|c| c.is_digit(8)) {
        return u32::from_str_radix(spec, 8).ok().filter(|m| *m <= 0o7777);
    }
    let mut mode = old;
    for clause in spec.split(',') {
        let op_pos = clause.find(['+', '-', '='])?;
        let (who, rest) = clause.split_at(op_pos);
        let op = rest.chars().next()?;
        let perms = &rest[1..];
        let mut mask = 0;
        let who = if who.is_empty() { "a" } else { who };
        for w in who.chars() {
            mask |= match w {
                'u' => 0o4700,
                'g' => 0o2070,
                'o' => 0o1007,
                'a' => 0o7777,
                _ => return None,
            };
        }
        let mut bits = 0;
        for p in perms.chars() {
            bits |= match p {
                'r' => 0o444,
                'w' => 0o222,
                'x' => 0o111,
                's' => 0o6000,
                't' => 0o1000,
                _ => return None,
            };
        }
        let mut bits = bits & mask;
        if clause.starts_with(['+', '-', '=']) {
            bits &= !umask;
        }
        mode = match op {
            '+' => mode | bits,
            '-' => mode & !bits,
            _ => (mode & !(mask & 0o777)) | bits,
        };
    }
    Some(mode)
}

async fn chmod(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let mut operands: Vec<&String> = args
        .iter()
        .filter(|a| !matches!(a.as_str(), "-R" | "-v" | "-f" | "--"))
        .collect();
    if operands.len() < 2 {
        return fail(io, "chmod", "missing operand", 1).await;
    }
    let spec = operands.remove(0).clone();
    let mut status = 0;
    for f in operands {
        let abs = ctx.resolve(f);
        let r = ctx.with_fs(|fs| {
            let meta = fs.stat(&abs)?;
            let mode = apply_mode(&spec, meta.mode, fs.umask()).ok_or(FsError::InvalidArgument)?;
            fs.set_mode(&abs, mode)
        });
        match r {
            Ok(()) => {}
            Err(FsError::InvalidArgument) => {
                return fail(io, "chmod", &format!("invalid mode: '{spec}'"), 1).await;
            }
            Err(e) => {
                status = 1;
                let _ = io
                    .stderr
                    .write_str(&format!("chmod: cannot access '{f}': {e}\n"))
                    .await;
            }
        }
    }
    Ok(status)
}

async fn chown(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let mut operands: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    if operands.len() < 2 {
        return fail(io, "chown", "missing operand", 1).await;
    }
    let spec = operands.remove(0).clone();
    let (user, group) = match spec.split_once([':', '.']) {
        Some((u, g)) => (u.to_string(), Some(g.to_string())),
        None => (spec.clone(), None),
    };
    let lookup = |file: &str, name: &str| {
        ctx.with_fs(|fs| Ok(crate::host::lookup_id(fs, file, name)))
            .ok()
            .flatten()
    };
    let uid = if user.is_empty() {
        None
    } else {
        match lookup("/etc/passwd", &user) {
            Some(u) => Some(u),
            None => return fail(io, "chown", &format!("invalid user: '{spec}'"), 1).await,
        }
    };
    let gid = match group.as_deref() {
        None | Some("") => None,
        Some(g) => match lookup("/etc/group", g) {
            Some(g) => Some(g),
            None => return fail(io, "chown", &format!("invalid group: '{spec}'"), 1).await,
        },
    };
    let mut status = 0;
    for f in operands {
        let abs = ctx.resolve(f);
        if let Err(e) = ctx.with_fs(|fs| fs.set_owner(&abs, uid, gid)) {
            status = 1;
            let _ = io
                .stderr
                .write_str(&format!("chown: cannot access '{f}': {e}\n"))
                .await;
        }
    }
    Ok(status)
}

async fn touch(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (_, files) = split_flags(args);
    let mut status = 0;
    for f in &files {
        let abs = ctx.resolve(f);
        let owner = (ctx.uid, ctx.uid);
        let r = ctx.with_fs(|fs| {
            fs.open_for_write(&abs, WriteMode::Keep, 0o666, owner)?;
            fs.set_mtime(&abs, crate::fs::now_secs())
        });
        if let Err(e) = r {
            status = 1;
            let _ = io
                .stderr
                .write_str(&format!("touch: cannot touch '{f}': {e}\n"))
                .await;
        }
    }
    Ok(status)
}

/// Parses `-n N`, `-N`, `-nN`, `-c N`; returns (count, bytes?, files).
fn count_args(args: &[String], default: i64) -> (i64, bool, Vec<String>) {
    let mut n = default;
    let mut bytes = false;
    let mut files = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "-n" || a == "-c" {
            bytes = a == "-c";
            n = args
                .get(i + 1)
                .and_then(|v| v.trim_start_matches('+').parse().ok())
                .unwrap_or(default);
            i += 2;
            continue;
        }
        if let Some(v) = a.strip_prefix("-n").or_else(|| a.strip_prefix("--lines=")) {
            n = v.parse().unwrap_or(default);
        } else if let Some(v) = a.strip_prefix("-c").or_else(|| a.strip_prefix("--bytes=")) {
            bytes = true;
            n = v.parse().unwrap_or(default);
        } else if a.len() > 1 && a.starts_with('-') && a[1..].chars().all(|c| c.is_ascii_digit()) {
            n = a[1..].parse().unwrap_or(default);
        } else {
            files.push(a.clone());
        }
        i += 1;
    }
    (n, bytes, files)
}

async fn head(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (n, bytes, files) = count_args(args, 10);
    let n = n.max(0) as usize;
    if files.is_empty() {
        // Stream stdin and stop reading as soon as enough was seen, so that a
        // writer like `yes` gets EPIPE.
        let mut seen = 0usize;
        while seen < n {
            let Some(chunk) = io.stdin.read_chunk().await else {
                break;
            };
            let take = if bytes {
                (n - seen).min(chunk.len())
            } else {
                let mut end = chunk.len();
                for (i, b) in chunk.iter().enumerate() {
                    if *b == b'\n' {
                        seen += 1;
                        if seen == n {
                            end = i + 1;
                            break;
                        }
                    }
                }
                end
            };
            if bytes {
                seen += take;
            }
            io.stdout.write(&chunk[..take]).await?;
        }
        io.stdin.close().await;
        return Ok(0);
    }
    let (ins, failed) = inputs(ctx, "head", &files, io).await;
    for (_, data) in ins {
        let end = if bytes {
            n.min(data.len())
        } else {
            data.iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .nth(n.saturating_sub(1))
                .map(|(i, _)| i + 1)
                .filter(|_| n > 0)
                .unwrap_or(if n == 0 { 0 } else { data.len() })
        };
        io.stdout.write(&data[..end]).await?;
    }
    Ok(i32::from(failed))
}

async fn tail(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (n, bytes, files) = count_args(args, 10);
    let n = n.max(0) as usize;
    let (ins, failed) = inputs(ctx, "tail", &files, io).await;
    for (_, data) in ins {
        let start = if bytes {
            data.len().saturating_sub(n)
        } else {
            let body = data.strip_suffix(b"\n").unwrap_or(&data);
            let newlines: Vec<usize> = body
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| i)
                .collect();
            if n == 0 {
                data.len()
            } else if newlines.len() < n {
                0
            } else {
                newlines[newlines.len() - n] + 1
            }
        };
        io.stdout.write(&data[start..]).await?;
    }
    Ok(i32::from(failed))
}

async fn wc(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (flags, files) = split_flags(args);
    let (mut l, mut w, mut c) = (
        flags.contains('l'),
        flags.contains('w'),
        flags.contains('c'),
    );
    if !(l || w || c) {
        (l, w, c) = (true, true, true);
    }
    let single = [l, w, c].iter().filter(|x| **x).count() == 1;
    let (ins, failed) = inputs(ctx, "wc", &files, io).await;
    let mut text = String::new();
    for (name, data) in &ins {
        let mut cols = Vec::new();
        if l {
            cols.push(data.iter().filter(|b| **b == b'\n').count());
        }
        if w {
            cols.push(String::from_utf8_lossy(data).split_whitespace().count());
        }
        if c {
            cols.push(data.len());
        }
        let width = if single { 0 } else { 7 };
        let nums: Vec<String> = cols.iter().map(|n| format!("{n:>width$}")).collect();
        text.push_str(&nums.join(" "));
        if name != "-" || !files.is_empty() {
            text.push(' ');
            text.push_str(name);
        }
        text.push('\n');
    }
    io.stdout.write_str(&text).await?;
    Ok(i32::from(failed))
}

async fn grep(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let mut flags = String::new();
    let mut operands = Vec::new();
    let mut patterns = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "-e" {
            if let Some(p) = args.get(i + 1) {
                patterns.push(p.clone());
            }
            i += 2;
            continue;
        }
        if a.starts_with('-') && a.len() > 1 && operands.is_empty() {
            flags.push_str(&a[1..]);
        } else {
            operands.push(a.clone());
        }
        i += 1;
    }
    if patterns.is_empty() {
        if operands.is_empty() {
            return fail(io, "Usage", "grep [OPTION]... PATTERNS [FILE]...", 2).await;
        }
        patterns.push(operands.remove(0));
    }
    let fixed = flags.contains('F');
    let ignore = flags.contains('i');
    let source = patterns
        .iter()
        .map(|p| {
            if fixed {
                regex_lite::escape(p)
            } else {
                p.clone()
            }
        })
        .collect::<Vec<_>>()
        .join("|");
    let source = if flags.contains('x') {
        format!("^(?:{source})$")
    } else {
        source
    };
    let source = if flags.contains('w') {
        format!(r"\b(?:{source})\b")
    } else {
        source
    };
    let re = match regex_lite::RegexBuilder::new(&source)
        .case_insensitive(ignore)
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(io, "grep", &format!("invalid pattern: {e}"), 2).await,
    };
    let (ins, failed) = inputs(ctx, "grep", &operands, io).await;
    let show_name = operands.len() > 1 && !flags.contains('h');
    let mut matched = 0usize;
    let mut text = String::new();
    for (name, data) in &ins {
        let mut count = 0;
        for (n, line) in String::from_utf8_lossy(data).lines().enumerate() {
            if re.is_match(line) != flags.contains('v') {
                count += 1;
                matched += 1;
                if flags.contains('q') {
                    return Ok(0);
                }
                if flags.contains('c') || flags.contains('l') {
                    continue;
                }
                if show_name {
                    let _ = write!(text, "{name}:");
                }
                if flags.contains('n') {
                    let _ = write!(text, "{}:", n + 1);
                }
                text.push_str(line);
                text.push('\n');
            }
        }
        if flags.contains('c') {
            if show_name {
                let _ = write!(text, "{name}:");
            }
            let _ = writeln!(text, "{count}");
        } else if flags.contains('l') && count > 0 {
            let _ = writeln!(text, "{name}");
        }
    }
    io.stdout.write_str(&text).await?;
    Ok(if failed {
        2
    } else if matched > 0 {
        0
    } else {
        1
    })
}

async fn sha256sum(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (_, files) = split_flags(args);
    let (ins, failed) = inputs(ctx, "sha256sum", &files, io).await;
    let mut text = String::new();
    for (name, data) in ins {
        let digest = sha2::Sha256::digest(&data);
        for b in digest {
            let _ = write!(text, "{b:02x}");
        }
        let _ = writeln!(text, "  {name}");
    }
    io.stdout.write_str(&text).await?;
    Ok(i32::from(failed))
}

async fn base64_cmd(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (flags, files) = split_flags(args);
    let decode = flags.contains('d') || args.iter().any(|a| a == "--decode");
    let files: Vec<String> = files.into_iter().filter(|f| f != "--decode").collect();
    let (ins, failed) = inputs(ctx, "base64", &files, io).await;
    if failed {
        return Ok(1);
    }
    let data: Vec<u8> = ins.into_iter().flat_map(|(_, d)| d).collect();
    let engine = base64::engine::general_purpose::STANDARD;
    if decode {
        let clean: Vec<u8> = data
            .into_iter()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        match engine.decode(&clean) {
            Ok(bytes) => {
                io.stdout.write(&bytes).await?;
                Ok(0)
            }
            Err(_) => fail(io, "base64", "invalid input", 1).await,
        }
    } else {
        let encoded = engine.encode(&data);
        let mut text = String::new();
        for chunk in encoded.as_bytes().chunks(76) {
            text.push_str(std::str::from_utf8(chunk).unwrap_or(""));
            text.push('\n');
        }
        io.stdout.write_str(&text).await?;
        Ok(0)
    }
}

async fn seq(args: &[String], io: &Io) -> Status {
    let nums: Vec<i64> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let (first, step, last) = match nums.as_slice() {
        [l] => (1, 1, *l),
        [f, l] => (*f, 1, *l),
        [f, s, l] => (*f, *s, *l),
        _ => return fail(io, "seq", "missing operand", 1).await,
    };
    if step == 0 {
        return fail(io, "seq", "invalid Zero increment value: '0'", 1).await;
    }
    let mut text = String::new();
    let mut v = first;
    while (step > 0 && v <= last) || (step < 0 && v >= last) {
        let _ = writeln!(text, "{v}");
        v += step;
        if text.len() > 64 * 1024 {
            io.stdout.write_str(&text).await?;
            text.clear();
        }
    }
    io.stdout.write_str(&text).await?;
    Ok(0)
}

async fn yes(args: &[String], io: &Io) -> Status {
    let word = if args.is_empty() {
        "y".to_string()
    } else {
        args.join(" ")
    };
    let line = format!("{word}\n");
    let block = line.repeat((8192 / line.len()).max(1));
    loop {
        io.stdout.write_str(&block).await?;
    }
}

/// Parses `1`, `0.5`, `2m`, `1h`, `1d` into a duration.
fn parse_duration(s: &str) -> Option<Duration> {
    let (num, mult) = match s.chars().last()? {
        's' => (&s[..s.len() - 1], 1.0),
        'm' => (&s[..s.len() - 1], 60.0),
        'h' => (&s[..s.len() - 1], 3600.0),
        'd' => (&s[..s.len() - 1], 86400.0),
        _ => (s, 1.0),
    };
    let v: f64 = num.parse().ok()?;
    (v >= 0.0 && v.is_finite()).then(|| Duration::from_secs_f64(v * mult))
}

async fn sleep(args: &[String], io: &Io) -> Status {
    if args.is_empty() {
        return fail(io, "sleep", "missing operand", 1).await;
    }
    let mut total = Duration::ZERO;
    for a in args {
        match parse_duration(a) {
            Some(d) => total += d,
            None => return fail(io, "sleep", &format!("invalid time interval '{a}'"), 1).await,
        }
    }
    // A closed channel does not end it: only a signal does, as on a real host.
    tokio::time::sleep(total).await;
    Ok(0)
}

async fn timeout(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let mut signal = 15;
    let mut kill_after: Option<Duration> = None;
    let mut i = 0;
    while i < args.len() && args[i].starts_with('-') {
        let a = &args[i];
        if a == "-s" || a == "--signal" {
            signal = args.get(i + 1).and_then(|s| parse_signal(s)).unwrap_or(15);
            i += 2;
        } else if a == "-k" || a == "--kill-after" {
            kill_after = args.get(i + 1).and_then(|s| parse_duration(s));
            i += 2;
        } else if let Some(v) = a.strip_prefix("--kill-after=") {
            kill_after = parse_duration(v);
            i += 1;
        } else if let Some(v) = a.strip_prefix("--signal=") {
            signal = parse_signal(v).unwrap_or(15);
            i += 1;
        } else {
            i += 1;
        }
    }
    let Some(limit) = args.get(i).and_then(|d| parse_duration(d)) else {
        return fail(io, "timeout", "invalid time interval", 125).await;
    };
    let argv: Vec<String> = args[i + 1..].to_vec();
    if argv.is_empty() {
        return fail(io, "timeout", "missing operand", 125).await;
    }
    if !exists(ctx, &argv[0]) {
        return fail(
            io,
            "timeout",
            &format!(
                "failed to run command '{}': No such file or directory",
                argv[0]
            ),
            127,
        )
        .await;
    }
    let mut child = spawn_child(ctx, argv, io.clone());
    let pid_of_child = {
        // The child was registered just now as the newest process with us as parent.
        ctx.host
            .processes()
            .list()
            .into_iter()
            .filter(|p| p.ppid == ctx.pid)
            .map(|p| p.pid)
            .max()
    };
    tokio::select! {
        status = &mut child => return Ok(status.unwrap_or(1)),
        _ = tokio::time::sleep(limit) => {}
    }
    if let Some(pid) = pid_of_child {
        ctx.host.processes().signal(pid, signal);
        if let Some(grace) = kill_after {
            tokio::select! {
                _ = &mut child => {}
                _ = tokio::time::sleep(grace) => {
                    ctx.host.processes().signal(pid, 9);
                    let _ = child.await;
                    return Ok(128 + 9);
                }
            }
        } else {
            let _ = child.await;
        }
    }
    Ok(124)
}

/// The processes visible from `ctx`: all on the host, only its own in a container.
fn visible(ctx: &Ctx) -> Vec<ProcessInfo> {
    ctx.host
        .processes()
        .list()
        .into_iter()
        .filter(|p| ctx.container.is_none() || p.container == ctx.container)
        .collect()
}

async fn kill(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let mut sig = 15;
    let mut targets = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "-s" || a == "-n" {
            sig = args.get(i + 1).and_then(|s| parse_signal(s)).unwrap_or(15);
            i += 2;
            continue;
        }
        if a == "-l" {
            return out(io, "HUP INT QUIT KILL USR1 USR2 PIPE ALRM TERM\n").await;
        }
        if let Some(s) = a
            .strip_prefix('-')
            .filter(|s| !s.is_empty() && targets.is_empty())
            && let Some(n) = parse_signal(s)
        {
            sig = n;
            i += 1;
            continue;
        }
        targets.push(a.clone());
        i += 1;
    }
    if targets.is_empty() {
        return fail(io, "kill", "usage: kill [-s sigspec | -n signum | -sigspec] pid | jobspec ... or kill -l [sigspec]", 2).await;
    }
    let procs = visible(ctx);
    let mut status = 0;
    for t in &targets {
        let (group, id) = match t.strip_prefix('-') {
            Some(g) => (true, g.parse::<u32>().ok()),
            None => (false, t.parse::<u32>().ok()),
        };
        let Some(id) = id else {
            status = 1;
            let _ = io
                .stderr
                .write_str(&format!(
                    "bash: line 1: kill: {t}: arguments must be process or job IDs\n"
                ))
                .await;
            continue;
        };
        let hits: Vec<&ProcessInfo> = procs
            .iter()
            .filter(|p| if group { p.sid == id } else { p.pid == id })
            .collect();
        if hits.is_empty() {
            status = 1;
            let _ = io
                .stderr
                .write_str(&format!("bash: line 1: kill: ({id}) - No such process\n"))
                .await;
            continue;
        }
        for p in hits {
            if ctx.uid != 0 && p.user != ctx.user {
                status = 1;
                let _ = io
                    .stderr
                    .write_str(&format!(
                        "bash: line 1: kill: ({}) - Operation not permitted\n",
                        p.pid
                    ))
                    .await;
                continue;
            }
            ctx.host.processes().signal(p.pid, sig);
        }
    }
    Ok(status)
}

async fn pgrep(ctx: &Ctx, name: &str, args: &[String], io: &Io) -> Status {
    let is_kill = name == "pkill";
    let mut sig = 15;
    let mut full = false;
    let mut exact = false;
    let mut list_name = false;
    let mut list_full = false;
    let mut sessions: Vec<u32> = Vec::new();
    let mut users: Vec<String> = Vec::new();
    let mut parents: Vec<u32> = Vec::new();
    let mut pattern: Option<String> = None;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        match a {
            "-f" | "--full" => full = true,
            "-x" | "--exact" => exact = true,
            "-l" => list_name = true,
            "-a" => list_full = true,
            "-s" | "--session" | "-u" | "--euid" | "-P" | "--parent" | "--signal" => {
                let v = args.get(i + 1).cloned().unwrap_or_default();
                match a {
                    "-s" | "--session" => {
                        sessions.extend(v.split(',').filter_map(|s| s.parse::<u32>().ok()))
                    }
                    "-u" | "--euid" => users.extend(v.split(',').map(str::to_string)),
                    "-P" | "--parent" => {
                        parents.extend(v.split(',').filter_map(|s| s.parse::<u32>().ok()))
                    }
                    _ => sig = parse_signal(&v).unwrap_or(15),
                }
                i += 2;
                continue;
            }
            _ if a.starts_with('-') && a.len() > 1 => match parse_signal(&a[1..]) {
                Some(n) if is_kill => sig = n,
                _ => {
                    return fail(io, name, &format!("invalid option -- '{}'", &a[1..]), 2).await;
                }
            },
            _ => pattern = Some(a.to_string()),
        }
        i += 1;
    }
    if pattern.is_none() && sessions.is_empty() && users.is_empty() && parents.is_empty() {
        return fail(
            io,
            name,
            "no matching criteria specified\nTry `pgrep --help' for more information.",
            2,
        )
        .await;
    }
    let re = match &pattern {
        Some(p) => match regex_lite::Regex::new(&if exact {
            format!("^(?:{p})$")
        } else {
            p.clone()
        }) {
            Ok(r) => Some(r),
            Err(e) => return fail(io, name, &format!("invalid pattern: {e}"), 2).await,
        },
        None => None,
    };
    let hits: Vec<ProcessInfo> = visible(ctx)
        .into_iter()
        .filter(|p| p.pid != ctx.pid)
        .filter(|p| sessions.is_empty() || sessions.contains(&p.sid))
        .filter(|p| users.is_empty() || users.contains(&p.user))
        .filter(|p| parents.is_empty() || parents.contains(&p.ppid))
        .filter(|p| {
            re.as_ref()
                .is_none_or(|re| re.is_match(if full { &p.args } else { p.comm() }))
        })
        .collect();
    let mut text = String::new();
    for p in &hits {
        if is_kill {
            if ctx.uid == 0 || p.user == ctx.user {
                ctx.host.processes().signal(p.pid, sig);
            }
        } else if list_full {
            let _ = writeln!(text, "{} {}", p.pid, p.args);
        } else if list_name {
            let _ = writeln!(text, "{} {}", p.pid, p.comm());
        } else {
            let _ = writeln!(text, "{}", p.pid);
        }
    }
    io.stdout.write_str(&text).await?;
    Ok(if hits.is_empty() { 1 } else { 0 })
}

async fn ps(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    // `-eo pid,args` is `-e -o pid,args`.
    let args: Vec<String> = args
        .iter()
        .flat_map(|a| {
            let combined = a.len() > 2
                && a.starts_with('-')
                && !a.starts_with("--")
                && !matches!(a.as_str(), "-ef" | "-eF" | "-aux" | "-ax");
            if combined {
                a[1..].chars().map(|c| format!("-{c}")).collect::<Vec<_>>()
            } else {
                vec![a.clone()]
            }
        })
        .collect();
    let args = &args[..];
    let mut all = false;
    let mut fields: Vec<String> = Vec::new();
    let mut headers = true;
    let mut pids: Vec<u32> = Vec::new();
    let mut sids: Vec<u32> = Vec::new();
    let mut bsd_u = false;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        match a {
            "-e" | "-A" | "ax" | "-ax" => all = true,
            "aux" | "-aux" | "auxww" => {
                all = true;
                bsd_u = true;
            }
            "-ef" | "-eF" => {
                all = true;
                fields = ["user", "pid", "ppid", "args"].map(String::from).to_vec();
            }
            "-f" => fields = ["user", "pid", "ppid", "args"].map(String::from).to_vec(),
            "--no-headers" | "h" => headers = false,
            "-o" | "o" | "-p" | "p" | "--pid" | "-s" | "--sid" => {
                let v = args.get(i + 1).cloned().unwrap_or_default();
                match a {
                    "-o" | "o" => {
                        fields.extend(v.split(',').map(|s| s.trim_end_matches('=').to_string()))
                    }
                    "-p" | "p" | "--pid" => {
                        pids.extend(v.split(',').filter_map(|s| s.trim().parse::<u32>().ok()))
                    }
                    _ => sids.extend(v.split(',').filter_map(|s| s.trim().parse::<u32>().ok())),
                }
                if v.split(',').all(|s| s.ends_with('=')) && (a == "-o" || a == "o") {
                    headers = false;
                }
                i += 2;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    if fields.is_empty() {
        fields = if bsd_u {
            ["user", "pid", "stat", "etime", "args"]
                .map(String::from)
                .to_vec()
        } else {
            ["pid", "tty", "time", "comm"].map(String::from).to_vec()
        };
    }
    let procs: Vec<ProcessInfo> = visible(ctx)
        .into_iter()
        .filter(|p| {
            if !pids.is_empty() || !sids.is_empty() {
                pids.contains(&p.pid) || sids.contains(&p.sid)
            } else {
                all || p.sid == ctx.sid
            }
        })
        .collect();
    let header = |f: &str| match f {
        "pid" => "PID",
        "ppid" => "PPID",
        "sid" | "sess" => "SID",
        "pgid" | "pgrp" => "PGID",
        "user" | "euser" | "uname" => "USER",
        "args" | "cmd" | "command" => "COMMAND",
        "comm" | "ucomm" => "CMD",
        "etime" => "ELAPSED",
        "etimes" => "ELAPSED",
        "tty" => "TT",
        "time" => "TIME",
        "stat" => "STAT",
        _ => "?",
    };
    let value = |p: &ProcessInfo, f: &str| -> String {
        match f {
            "pid" => p.pid.to_string(),
            "ppid" => p.ppid.to_string(),
            "sid" | "sess" | "pgid" | "pgrp" => p.sid.to_string(),
            "user" | "euser" | "uname" => p.user.clone(),
            "args" | "cmd" | "command" => p.args.clone(),
            "comm" | "ucomm" => p.comm().to_string(),
            "etimes" => ctx.host.processes().elapsed_secs(p.pid).to_string(),
            "etime" => {
                let s = ctx.host.processes().elapsed_secs(p.pid);
                format!("{:02}:{:02}", s / 60, s % 60)
            }
            "tty" => "?".into(),
            "time" => "00:00:00".into(),
            "stat" => if p.pid == p.sid { "Ss" } else { "S" }.into(),
            _ => "-".into(),
        }
    };
    let numeric = |f: &str| {
        matches!(
            f,
            "pid" | "ppid" | "sid" | "sess" | "pgid" | "pgrp" | "etimes" | "etime"
        )
    };
    let mut text = String::new();
    let mut rows: Vec<Vec<String>> = Vec::new();
    if headers {
        rows.push(fields.iter().map(|f| header(f).to_string()).collect());
    }
    for p in &procs {
        rows.push(fields.iter().map(|f| value(p, f)).collect());
    }
    for row in rows {
        let mut line = String::new();
        for (n, (f, v)) in fields.iter().zip(row).enumerate() {
            if n > 0 {
                line.push(' ');
            }
            if n + 1 == fields.len() && !numeric(f) {
                line.push_str(&v);
            } else if numeric(f) {
                let _ = write!(line, "{v:>7}");
            } else {
                let _ = write!(line, "{v:<8}");
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    io.stdout.write_str(&text).await?;
    Ok(
        if procs.is_empty() && (!pids.is_empty() || !sids.is_empty()) {
            1
        } else {
            0
        },
    )
}

async fn hostname(ctx: &Ctx, io: &Io) -> Status {
    let name = {
        let state = ctx.host.state();
        match ctx.container {
            None => state.node.clone(),
            Some(id) => state
                .containers
                .get(&id)
                .and_then(|c| c.hostname().map(str::to_string))
                .unwrap_or_else(|| format!("CT{id}")),
        }
    };
    out(io, &format!("{name}\n")).await
}

async fn uname(args: &[String], io: &Io) -> Status {
    let (flags, _) = split_flags(args);
    let text = if flags.contains('a') {
        "Linux pve 6.8.12-4-pve #1 SMP PREEMPT_DYNAMIC PMX 6.8.12-4 (2024-11-06T15:04Z) x86_64 GNU/Linux".to_string()
    } else {
        let mut parts = Vec::new();
        if flags.contains('s') || flags.is_empty() {
            parts.push("Linux");
        }
        if flags.contains('n') {
            parts.push("pve");
        }
        if flags.contains('r') {
            parts.push("6.8.12-4-pve");
        }
        if flags.contains('m') || flags.contains('p') {
            parts.push("x86_64");
        }
        if flags.contains('o') {
            parts.push("GNU/Linux");
        }
        parts.join(" ")
    };
    out(io, &format!("{text}\n")).await
}

async fn id(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (flags, _) = split_flags(args);
    let gid = ctx.uid;
    let group = user_name(ctx, gid, "/etc/group");
    let text = if flags.contains('u') {
        if flags.contains('n') {
            ctx.user.clone()
        } else {
            ctx.uid.to_string()
        }
    } else if flags.contains('g') {
        if flags.contains('n') {
            group
        } else {
            gid.to_string()
        }
    } else {
        format!(
            "uid={}({}) gid={gid}({group}) groups={gid}({group})",
            ctx.uid, ctx.user
        )
    };
    out(io, &format!("{text}\n")).await
}

async fn env(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let mut child = ctx.clone();
    let mut i = 0;
    while let Some(a) = args.get(i) {
        match a.split_once('=') {
            Some((k, v)) if !a.starts_with('-') => {
                child.env.insert(k.into(), v.into());
                i += 1;
            }
            _ if a == "-i" => {
                child.env.clear();
                i += 1;
            }
            _ => break,
        }
    }
    if i < args.len() {
        let argv = args[i..].to_vec();
        if !exists(&child, &argv[0]) {
            return fail(
                io,
                "env",
                &format!("'{}': No such file or directory", argv[0]),
                127,
            )
            .await;
        }
        return Ok(spawn_child(&child, argv, io.clone()).await.unwrap_or(1));
    }
    let mut text = String::new();
    for (k, v) in &child.env {
        let _ = writeln!(text, "{k}={v}");
    }
    out(io, &text).await
}

async fn df(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (flags, _) = split_flags(args);
    let hum = flags.contains('h');
    let (size, used) = {
        let state = ctx.host.state();
        match ctx.container {
            Some(id) => state
                .containers
                .get(&id)
                .map(|c| (c.rootfs_bytes(), c.fs.used_bytes() + 600 * 1024 * 1024))
                .unwrap_or((0, 0)),
            None => (100 * (1 << 30), state.fs.used_bytes() + 5 * (1 << 30)),
        }
    };
    let avail = size.saturating_sub(used);
    let pct = if size == 0 {
        0
    } else {
        (used * 100).div_ceil(size)
    };
    let dev = match ctx.container {
        Some(id) => format!("/dev/mapper/pve-vm--{id}--disk--0"),
        None => "/dev/mapper/pve-root".into(),
    };
    let text = if hum {
        format!(
            "Filesystem                     Size  Used Avail Use% Mounted on\n{dev:<30} {:>4} {:>5} {:>5} {:>3}% /\ntmpfs                          {:>4} {:>5} {:>5} {:>3}% /dev/shm\n",
            human(size),
            human(used),
            human(avail),
            pct,
            "1.0G",
            "0",
            "1.0G",
            0
        )
    } else {
        format!(
            "Filesystem                     1K-blocks     Used Available Use% Mounted on\n{dev:<30} {:>9} {:>8} {:>9} {:>3}% /\n",
            size / 1024,
            used / 1024,
            avail / 1024,
            pct
        )
    };
    out(io, &text).await
}

async fn free(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (flags, _) = split_flags(args);
    let (total, swap) = {
        let state = ctx.host.state();
        match ctx.container.and_then(|id| state.containers.get(&id)) {
            Some(c) => (c.memory_mib() << 20, c.swap_mib() << 20),
            None => (16u64 << 30, 8u64 << 30),
        }
    };
    let used = total / 5;
    let free_b = total / 2;
    let cache = total - used - free_b;
    let fmt = |b: u64| {
        if flags.contains('h') {
            let s = human(b);
            if s.chars().last().is_some_and(|c| c.is_ascii_alphabetic()) {
                format!("{s}i")
            } else {
                format!("{s}B")
            }
        } else if flags.contains('m') {
            (b >> 20).to_string()
        } else if flags.contains('g') {
            (b >> 30).to_string()
        } else {
            (b >> 10).to_string()
        }
    };
    let text = format!(
        "{:>15}{:>12}{:>12}{:>12}{:>12}{:>12}\n{:<7}{:>8}{:>12}{:>12}{:>12}{:>12}{:>12}\n{:<7}{:>8}{:>12}{:>12}\n",
        "total",
        "used",
        "free",
        "shared",
        "buff/cache",
        "available",
        "Mem:",
        fmt(total),
        fmt(used),
        fmt(free_b),
        fmt(0),
        fmt(cache),
        fmt(total - used),
        "Swap:",
        fmt(swap),
        fmt(0),
        fmt(swap)
    );
    out(io, &text).await
}

async fn date(io: &Io) -> Status {
    let (y, m, d, hh, mm, ss) = civil(crate::fs::now_secs());
    out(
        io,
        &format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02} UTC\n"),
    )
    .await
}

async fn mktemp(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let mut dir_mode = false;
    let mut tmpdir: Option<String> = None;
    let mut template: Option<String> = None;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        match a {
            "-d" | "--directory" => dir_mode = true,
            "-p" | "--tmpdir" => {
                tmpdir = args.get(i + 1).cloned();
                i += 1;
            }
            "-t" | "-q" | "-u" => {}
            _ if a.starts_with("--tmpdir=") => tmpdir = Some(a["--tmpdir=".len()..].to_string()),
            _ => template = Some(a.to_string()),
        }
        i += 1;
    }
    let template = template.unwrap_or_else(|| "tmp.XXXXXXXXXX".into());
    let xs = template.chars().rev().take_while(|c| *c == 'X').count();
    if xs < 3 {
        return fail(
            io,
            "mktemp",
            &format!("too few X's in template '{template}'"),
            1,
        )
        .await;
    }
    let base = if template.contains('/') && tmpdir.is_none() {
        template.clone()
    } else {
        format!("{}/{}", tmpdir.unwrap_or_else(|| "/tmp".into()), template)
    };
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for _ in 0..100 {
        let suffix: String = (0..xs)
            .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
            .collect();
        let path = format!("{}{suffix}", &base[..base.len() - xs]);
        let abs = ctx.resolve(&path);
        let owner = (ctx.uid, ctx.uid);
        let r = ctx.with_fs(|fs| {
            if dir_mode {
                fs.mkdir(&abs, 0o700)?;
                fs.set_mode(&abs, 0o700)
            } else {
                fs.open_for_write(&abs, WriteMode::Exclusive, 0o600, owner)?;
                fs.set_mode(&abs, 0o600)
            }
        });
        match r {
            Ok(()) => return out(io, &format!("{path}\n")).await,
            Err(FsError::Exists) => continue,
            Err(e) => {
                return fail(
                    io,
                    "mktemp",
                    &format!(
                        "failed to create {} via template '{base}': {e}",
                        if dir_mode { "directory" } else { "file" }
                    ),
                    1,
                )
                .await;
            }
        }
    }
    fail(io, "mktemp", "too many attempts", 1).await
}

async fn basename(args: &[String], io: &Io) -> Status {
    let Some(p) = args.first() else {
        return fail(io, "basename", "missing operand", 1).await;
    };
    let trimmed = p.trim_end_matches('/');
    let mut name = trimmed.rsplit('/').next().unwrap_or("").to_string();
    if name.is_empty() && p.starts_with('/') {
        name = "/".into();
    }
    if let Some(suffix) = args.get(1)
        && name != *suffix
        && let Some(stripped) = name.strip_suffix(suffix.as_str())
    {
        name = stripped.to_string();
    }
    out(io, &format!("{name}\n")).await
}

async fn dirname(args: &[String], io: &Io) -> Status {
    let Some(p) = args.first() else {
        return fail(io, "dirname", "missing operand", 1).await;
    };
    let trimmed = p.trim_end_matches('/');
    let dir = match trimmed.rfind('/') {
        Some(0) => "/".to_string(),
        Some(i) => trimmed[..i].to_string(),
        None if p.starts_with('/') => "/".into(),
        None => ".".into(),
    };
    out(io, &format!("{dir}\n")).await
}

async fn tee(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (flags, files) = split_flags(args);
    let how = if flags.contains('a') {
        WriteMode::Append
    } else {
        WriteMode::Truncate
    };
    let mut targets = Vec::new();
    let mut status = 0;
    for f in &files {
        let t = ctx.file(f);
        match t.open(how) {
            Ok(()) => targets.push(crate::io::Output::File(t)),
            Err(e) => {
                status = 1;
                let _ = io.stderr.write_str(&format!("tee: {f}: {e}\n")).await;
            }
        }
    }
    while let Some(chunk) = io.stdin.read_chunk().await {
        for t in &targets {
            let _ = t.write(&chunk).await;
        }
        io.stdout.write(&chunk).await?;
    }
    Ok(status)
}

async fn command_v(ctx: &Ctx, name: &str, args: &[String], io: &Io) -> Status {
    let (flags, names) = split_flags(args);
    if name == "command" && !flags.contains('v') && !flags.contains('V') {
        // `command prog args…` runs prog.
        let Some(prog) = names.first() else {
            return Ok(0);
        };
        if !exists(ctx, prog) {
            return fail(
                io,
                "bash: line 1",
                &format!("{prog}: command not found"),
                127,
            )
            .await;
        }
        return Ok(spawn_child(ctx, args.to_vec(), io.clone())
            .await
            .unwrap_or(1));
    }
    let mut status = 0;
    let mut text = String::new();
    for n in &names {
        if exists(ctx, n) {
            let dir = if matches!(base_name(n), "pct") {
                "/usr/sbin"
            } else if matches!(base_name(n), "bash" | "sh") {
                "/bin"
            } else {
                "/usr/bin"
            };
            let _ = writeln!(text, "{dir}/{}", base_name(n));
        } else {
            status = 1;
        }
    }
    io.stdout.write_str(&text).await?;
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbolic_and_octal_modes() {
        assert_eq!(apply_mode("755", 0o644, 0o022), Some(0o755));
        assert_eq!(apply_mode("4755", 0o644, 0o022), Some(0o4755));
        assert_eq!(apply_mode("+x", 0o644, 0o022), Some(0o755));
        assert_eq!(apply_mode("u+x", 0o644, 0o022), Some(0o744));
        assert_eq!(apply_mode("go-rwx", 0o755, 0o022), Some(0o700));
        assert_eq!(apply_mode("a=r", 0o755, 0o022), Some(0o444));
        assert_eq!(apply_mode("0abc", 0o644, 0o022), None);
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil(1_736_510_400), (2025, 1, 10, 12, 0, 0));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("x"), None);
    }
}
