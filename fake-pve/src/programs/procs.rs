//! Processes: `sleep`, `timeout`, `kill`, `pgrep`/`pkill`, `ps`.

use std::fmt::Write as _;

use crate::io::Io;
use crate::proc::{Ctx, spawn_child};

use std::time::Duration;

use crate::process::{ProcessInfo, parse_signal};

use super::{ArgCursor, Status, complain, fail, out, refuse_option, runnable, usage};

/// Parses `1`, `0.5`, `2m`, `1h`, `1d` into a duration.
pub(super) fn parse_duration(s: &str) -> Option<Duration> {
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

pub(super) async fn sleep(args: &[String], io: &Io) -> Status {
    if args.is_empty() {
        return usage(io, "sleep", "missing operand", 1).await;
    }
    let mut total = Duration::ZERO;
    for a in args {
        match parse_duration(a) {
            Some(d) => total += d,
            None => return usage(io, "sleep", &format!("invalid time interval '{a}'"), 1).await,
        }
    }
    // A closed channel does not end it: only a signal does, as on a real host.
    tokio::time::sleep(total).await;
    Ok(0)
}

/// `timeout [-s SIG] [-k DUR] [--preserve-status] [--foreground] DUR CMD…`: as
/// coreutils does it, timeout leads a process group of its own (unless
/// `--foreground`); on expiry it signals the command and then the whole group, so
/// what the command started ends too. 124 on expiry, 137 when the signal was KILL,
/// 128+n with `--preserve-status`.
pub(super) async fn timeout(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let mut signal = 15;
    let mut kill_after: Option<Duration> = None;
    let mut preserve = false;
    let mut foreground = false;
    let mut i = 0;
    while i < args.len() && args[i].starts_with('-') && args[i] != "-" {
        let a = args[i].as_str();
        let value = |i: usize| args.get(i + 1).cloned().unwrap_or_default();
        let (name, v) = match a.split_once('=') {
            Some((n, v)) if a.starts_with("--") => (n, Some(v.to_string())),
            _ => (a, None),
        };
        match name {
            "-s" | "--signal" | "-k" | "--kill-after" => {
                let v = match v {
                    Some(v) => v,
                    None => {
                        i += 1;
                        value(i - 1)
                    }
                };
                if name == "-s" || name == "--signal" {
                    match parse_signal(&v) {
                        Some(n) => signal = n,
                        None => {
                            return usage(io, "timeout", &format!("{v}: invalid signal"), 125)
                                .await;
                        }
                    }
                } else {
                    match parse_duration(&v) {
                        Some(d) => kill_after = Some(d),
                        None => {
                            return usage(
                                io,
                                "timeout",
                                &format!("invalid time interval '{v}'"),
                                125,
                            )
                            .await;
                        }
                    }
                }
            }
            "--preserve-status" => preserve = true,
            "--foreground" => foreground = true,
            "--" => {
                i += 1;
                break;
            }
            _ => return refuse_option(ctx, io, "timeout", a).await,
        }
        i += 1;
    }
    let Some(d) = args.get(i) else {
        if args.is_empty() {
            // coreutils says only where to look.
            complain(io, "Try 'timeout --help' for more information.\n").await;
            return Ok(125);
        }
        return usage(io, "timeout", "missing operand", 125).await;
    };
    let Some(limit) = parse_duration(d) else {
        return usage(io, "timeout", &format!("invalid time interval '{d}'"), 125).await;
    };
    let argv: Vec<String> = args[i + 1..].to_vec();
    if argv.is_empty() {
        return usage(io, "timeout", &format!("missing operand after '{d}'"), 125).await;
    }
    if let Err(status) = runnable(ctx, io, "timeout", &argv[0]).await {
        return status;
    }
    let table = ctx.processes();
    if !foreground {
        table.set_pgid(ctx.pid);
    }
    let mut child = spawn_child(ctx, argv, io.clone());
    let pid_of_child = table
        .list()
        .into_iter()
        .filter(|p| p.ppid == ctx.pid)
        .map(|p| p.pid)
        .max();
    tokio::select! {
        status = &mut child => return Ok(status.unwrap_or(1)),
        _ = tokio::time::sleep(limit) => {}
    }
    let send = |sig: i32| {
        if let Some(pid) = pid_of_child {
            table.signal(pid, sig);
        }
        if !foreground {
            table.signal_group(ctx.pid, sig, ctx.pid);
        }
    };
    send(signal);
    let status = match kill_after {
        Some(grace) => {
            tokio::select! {
                s = &mut child => s.unwrap_or(1),
                _ = tokio::time::sleep(grace) => {
                    send(9);
                    let _ = child.await;
                    // timeout sends KILL to itself too.
                    return Ok(128 + 9);
                }
            }
        }
        None => child.await.unwrap_or(1),
    };
    if signal == 9 && !foreground {
        // Sent to the whole group, timeout's own KILL ends timeout itself.
        return Ok(128 + 9);
    }
    Ok(if preserve { status } else { 124 })
}

/// `nohup CMD…`: the command replaces nohup. Its output is no terminal here, so
/// there is no `nohup.out` and no message; the SIGHUP it would ignore is not
/// emulated apart from that.
pub(super) async fn nohup(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let Some(first) = args.first() else {
        return usage(io, "nohup", "missing operand", 125).await;
    };
    if first.starts_with('-') && first != "-" {
        return refuse_option(ctx, io, "nohup", first).await;
    }
    if let Err(status) = runnable(ctx, io, "nohup", first).await {
        return status;
    }
    ctx.processes().set_args(ctx.pid, args.join(" "));
    Ok(ctx.exec(args.to_vec(), io.clone()).await)
}

/// `setsid CMD…`: a shell's command is no process-group leader, so setsid makes
/// it the leader of a new session (sid = pgid = pid) and execs the command.
pub(super) async fn setsid(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let Some(first) = args.first() else {
        return usage(io, "setsid", "no command specified", 1).await;
    };
    if first.starts_with('-') {
        return refuse_option(ctx, io, "setsid", first).await;
    }
    if let Err(status) = runnable(ctx, io, "setsid", first).await {
        return status;
    }
    let table = ctx.processes();
    table.set_sid(ctx.pid);
    table.set_args(ctx.pid, args.join(" "));
    let inner = Ctx {
        sid: ctx.pid,
        ..ctx.clone()
    };
    Ok(inner.exec(args.to_vec(), io.clone()).await)
}

/// The processes visible from `ctx`: all on the host (VMs have kernels of their
/// own), only its own in a container or a VM.
pub(super) fn visible(ctx: &Ctx) -> Vec<ProcessInfo> {
    ctx.processes()
        .list()
        .into_iter()
        .filter(|p| ctx.container.is_none() || p.container == ctx.container)
        .collect()
}

pub(super) async fn kill(ctx: &Ctx, args: &[String], io: &Io) -> Status {
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
            complain(
                io,
                &format!("bash: line 1: kill: {t}: arguments must be process or job IDs\n"),
            )
            .await;
            continue;
        };
        let hits: Vec<&ProcessInfo> = procs
            .iter()
            .filter(|p| if group { p.sid == id } else { p.pid == id })
            .collect();
        if hits.is_empty() {
            status = 1;
            complain(
                io,
                &format!("bash: line 1: kill: ({id}) - No such process\n"),
            )
            .await;
            continue;
        }
        for p in hits {
            if ctx.uid != 0 && p.user != ctx.user {
                status = 1;
                complain(
                    io,
                    &format!(
                        "bash: line 1: kill: ({}) - Operation not permitted\n",
                        p.pid
                    ),
                )
                .await;
                continue;
            }
            ctx.processes().signal(p.pid, sig);
        }
    }
    Ok(status)
}

pub(super) async fn pgrep(ctx: &Ctx, name: &str, args: &[String], io: &Io) -> Status {
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
    let mut opts = ArgCursor::new(args);
    while let Some(a) = opts.next() {
        match a {
            "-f" | "--full" => full = true,
            "-x" | "--exact" => exact = true,
            "-l" => list_name = true,
            "-a" => list_full = true,
            "-s" | "--session" | "-u" | "--euid" | "-P" | "--parent" | "--signal" => {
                let v = opts.value().cloned().unwrap_or_default();
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
            }
            _ if a.starts_with('-') && a.len() > 1 => match parse_signal(&a[1..]) {
                Some(n) if is_kill => sig = n,
                _ => {
                    return fail(io, name, &format!("invalid option -- '{}'", &a[1..]), 2).await;
                }
            },
            _ => pattern = Some(a.to_string()),
        }
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
                ctx.processes().signal(p.pid, sig);
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

/// procps's full format (`-f`): `UID PID PPID C STIME TTY TIME CMD`.
const FULL_FORMAT: [&str; 8] = [
    "uid_name", "pid", "ppid", "c", "stime", "tty", "time", "cmd",
];

pub(super) async fn ps(ctx: &Ctx, args: &[String], io: &Io) -> Status {
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
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        match a {
            "-e" | "-A" | "ax" | "-ax" => all = true,
            // BSD's `u` format shows memory figures (VSZ, RSS, %MEM) the fake does
            // not have: refused, not made up.
            "aux" | "-aux" | "auxww" | "u" => {
                let msg =
                    format!("ps {a} (VSZ, RSS, %MEM; use ps -ef or ps -eo pid,stat,etime,args)");
                return Ok(ctx.refuse(io, &msg, 2).await);
            }
            "-ef" | "-eF" => {
                all = true;
                fields = FULL_FORMAT.map(String::from).to_vec();
            }
            "-f" => fields = FULL_FORMAT.map(String::from).to_vec(),
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
            other => return refuse_option(ctx, io, "ps", other).await,
        }
        i += 1;
    }
    // procps names a column by the format it came from: the default `ps` shows
    // `TTY … CMD`, `-o tty,comm` shows `TT … COMMAND`.
    let default_format = fields.is_empty() || fields == FULL_FORMAT;
    if fields.is_empty() {
        fields = ["pid", "tty", "time", "comm"].map(String::from).to_vec();
    }
    let seen = visible(ctx);
    // In a container's pid namespace a parent or session leader outside it shows as 0
    // (the session of `lxc-attach`'s caller, say).
    let inside: Vec<u32> = seen.iter().map(|p| p.pid).collect();
    let shown = |id: u32| {
        if ctx.container.is_some() && !inside.contains(&id) {
            0
        } else {
            id
        }
    };
    let procs: Vec<ProcessInfo> = seen
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
        "args" | "command" => "COMMAND",
        "cmd" => "CMD",
        "comm" | "ucomm" if default_format => "CMD",
        "comm" | "ucomm" => "COMMAND",
        "etime" => "ELAPSED",
        "etimes" => "ELAPSED",
        "tty" if default_format => "TTY",
        "tty" => "TT",
        "time" => "TIME",
        "stat" => "STAT",
        "uid_name" => "UID",
        "c" => "C",
        "stime" | "start_time" => "STIME",
        _ => "?",
    };
    let value = |p: &ProcessInfo, f: &str| -> String {
        match f {
            "pid" => p.pid.to_string(),
            "ppid" => shown(p.ppid).to_string(),
            "sid" | "sess" | "pgid" | "pgrp" => shown(p.sid).to_string(),
            "user" | "euser" | "uname" => p.user.clone(),
            "args" | "cmd" | "command" => p.args.clone(),
            "comm" | "ucomm" => p.comm().to_string(),
            "etimes" => ctx.processes().elapsed_secs(p.pid).to_string(),
            "etime" => {
                let s = ctx.processes().elapsed_secs(p.pid);
                format!("{:02}:{:02}", s / 60, s % 60)
            }
            "tty" => "?".into(),
            "time" => "00:00:00".into(),
            "stat" => if p.pid == p.sid { "Ss" } else { "S" }.into(),
            "uid_name" => p.user.clone(),
            "c" => "0".into(),
            "stime" | "start_time" => {
                let started = crate::fs::now_secs() - ctx.processes().elapsed_secs(p.pid);
                let (_, _, _, h, m, _) = crate::unix::civil(started);
                format!("{h:02}:{m:02}")
            }
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
            } else if f == "c" {
                let _ = write!(line, "{v:>2}");
            } else if f == "time" {
                let _ = write!(line, "{v:>8}");
            } else if f == "stime" || f == "start_time" {
                let _ = write!(line, "{v:<5}");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("x"), None);
    }
}
