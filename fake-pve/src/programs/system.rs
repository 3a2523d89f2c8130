//! The system and the caller: `hostname`, `uname`, `id`, `env`, `df`, `free`, `date`,
//! `command`/`which`, `pveversion`.

use std::fmt::Write as _;

use crate::io::Io;
use crate::proc::{Ctx, spawn_child};

use super::{
    Status, base_name, exists, out, refuse_option, runnable, split_flags, usage, user_name,
};

/// The caller's hostname: the node's, a VM's own, or a container's (`CT<id>` without
/// one in its config).
fn host_name(ctx: &Ctx) -> String {
    let state = ctx.host.state();
    match ctx.container {
        None => state.node.clone(),
        Some(id) => match state.vms.get(&id) {
            Some(vm) => vm.hostname(),
            None => state
                .containers
                .get(&id)
                .and_then(|c| c.hostname().map(str::to_string))
                .unwrap_or_else(|| format!("CT{id}")),
        },
    }
}

pub(super) async fn hostname(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    if let Some(a) = args.iter().find(|a| *a != "-s" && *a != "--short") {
        return refuse_option(ctx, io, "hostname", a).await;
    }
    let name = host_name(ctx);
    out(io, &format!("{name}\n")).await
}

pub(super) async fn uname(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (flags, _) = known_flags!(ctx, io, "uname", args, "asnrmpo");
    // A VM runs its own kernel; a container runs the node's.
    let node = host_name(ctx);
    let (release, version) = {
        let state = ctx.host.state();
        match ctx.container {
            Some(id) if state.vms.contains_key(&id) => (
                crate::vm::GUEST_KERNEL_RELEASE,
                crate::vm::GUEST_KERNEL_VERSION,
            ),
            _ => state.pve.kernel(),
        }
    };
    let text = if flags.contains('a') {
        format!("Linux {node} {release} {version} x86_64 GNU/Linux")
    } else {
        let mut parts = Vec::new();
        if flags.contains('s') || flags.is_empty() {
            parts.push("Linux");
        }
        if flags.contains('n') {
            parts.push(&node);
        }
        if flags.contains('r') {
            parts.push(release);
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

pub(super) async fn id(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (flags, _) = known_flags!(ctx, io, "id", args, "ugn");
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

pub(super) async fn env(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let mut child = ctx.clone();
    let mut i = 0;
    while let Some(a) = args.get(i) {
        match a.split_once('=') {
            Some((k, v)) if !a.starts_with('-') => {
                child.env.insert(k.into(), v.into());
                i += 1;
            }
            _ if a == "-i" || a == "-" => {
                child.env.clear();
                i += 1;
            }
            _ if a == "--" => {
                i += 1;
                break;
            }
            _ if a == "-u" || a == "--unset" => {
                let Some(name) = args.get(i + 1) else {
                    return usage(io, "env", "option requires an argument -- 'u'", 125).await;
                };
                child.env.remove(name);
                i += 2;
            }
            _ if a.starts_with("--unset=") || (a.starts_with("-u") && !a.starts_with("--")) => {
                let name = a.strip_prefix("--unset=").unwrap_or_else(|| &a[2..]);
                child.env.remove(name);
                i += 1;
            }
            _ if a.starts_with('-') => return refuse_option(ctx, io, "env", a).await,
            _ => break,
        }
    }
    if i < args.len() {
        let argv = args[i..].to_vec();
        if let Err(status) = runnable(&child, io, "env", &argv[0]).await {
            return status;
        }
        return Ok(spawn_child(&child, argv, io.clone()).await.unwrap_or(1));
    }
    let mut text = String::new();
    for (k, v) in &child.env {
        let _ = writeln!(text, "{k}={v}");
    }
    out(io, &text).await
}

pub(super) async fn df(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (flags, _) = known_flags!(ctx, io, "df", args, "h");
    let hum = flags.contains('h');
    let (size, used) = {
        let state = ctx.host.state();
        match ctx.container {
            Some(id) if state.vms.contains_key(&id) => {
                let vm = &state.vms[&id];
                (vm.bootdisk_bytes(), vm.fs.used_bytes() + 1200 * 1024 * 1024)
            }
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
        Some(_) if ctx.in_a_vm() => "/dev/sda1".to_string(),
        Some(id) => format!("/dev/mapper/pve-vm--{id}--disk--0"),
        None => "/dev/mapper/pve-root".into(),
    };
    let text = if hum {
        format!(
            "Filesystem                     Size  Used Avail Use% Mounted on\n{dev:<30} {:>4} {:>5} {:>5} {:>3}% /\ntmpfs                          {:>4} {:>5} {:>5} {:>3}% /dev/shm\n",
            crate::unix::human(size),
            crate::unix::human(used),
            crate::unix::human(avail),
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

pub(super) async fn free(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (flags, _) = known_flags!(ctx, io, "free", args, "hmg");
    let (total, swap) = {
        let state = ctx.host.state();
        match ctx.container {
            Some(id) if state.vms.contains_key(&id) => (state.vms[&id].memory_bytes(), 0),
            Some(id) => match state.containers.get(&id) {
                Some(c) => (c.memory_mib() << 20, c.swap_mib() << 20),
                None => (0, 0),
            },
            None => (16u64 << 30, 8u64 << 30),
        }
    };
    let used = total / 5;
    let free_b = total / 2;
    let cache = total - used - free_b;
    let fmt = |b: u64| {
        if flags.contains('h') {
            let s = crate::unix::human(b);
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

pub(super) async fn command_v(ctx: &Ctx, name: &str, args: &[String], io: &Io) -> Status {
    let (flags, names) = split_flags(args);
    if name == "command" && !flags.contains('v') && !flags.contains('V') {
        // `command prog args…` runs prog.
        let Some(prog) = names.first() else {
            return Ok(0);
        };
        if let Err(status) = runnable(ctx, io, "command", prog).await {
            return status;
        }
        return Ok(spawn_child(ctx, args.to_vec(), io.clone())
            .await
            .unwrap_or(1));
    }
    let mut status = 0;
    let mut text = String::new();
    for n in &names {
        if exists(ctx, n) {
            // A merged-/usr node: PATH finds /usr/sbin and /usr/bin first.
            let dir = if matches!(base_name(n), "pct") {
                "/usr/sbin"
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

/// `pveversion` (docs/pvesh-fidelity.md, "pveversion"): pve-manager's version, its
/// repository id and the running kernel. `-v` lists the installed packages, which the
/// fake does not know: refused loudly.
pub(super) async fn pveversion(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    match args.first().map(String::as_str) {
        None => {
            let line = {
                let state = ctx.host.state();
                let ((version, _, repoid), (kernel, _)) = (state.pve.manager(), state.pve.kernel());
                format!("pve-manager/{version}/{repoid} (running kernel: {kernel})\n")
            };
            out(io, &line).await
        }
        Some("-v" | "--verbose") if args.len() == 1 => {
            refuse_option(ctx, io, "pveversion", &args[0]).await
        }
        Some(_) => {
            super::complain(io, "USAGE: pveversion [--verbose]\n").await;
            Ok(255)
        }
    }
}
