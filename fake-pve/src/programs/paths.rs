//! Paths and sizes: `realpath`, `readlink`, `du`, `truncate`. The fake's filesystem
//! has no symbolic links, so a canonical path is the normalised one and `readlink`
//! of any name fails as it does for a file that is no link.

use crate::fs::WriteMode;
use crate::io::Io;
use crate::proc::Ctx;

use super::{ArgCursor, Status, complain, out, refuse_option, stat_path, usage};

/// The canonical form of `path`: every component must exist (`-e`), all but the
/// last (`-f`, realpath's default), or none (`-m`).
fn canonical(ctx: &Ctx, path: &str, mode: char) -> Result<String, crate::fs::FsError> {
    let abs = ctx.resolve(path);
    match mode {
        'm' => Ok(abs),
        'f' => {
            let parent = crate::fs::parent(&abs).to_string();
            let m = ctx.with_fs(|fs| fs.stat(&parent))?;
            if m.is_dir() {
                Ok(abs)
            } else {
                Err(crate::fs::FsError::NotADirectory)
            }
        }
        _ => ctx.with_fs(|fs| fs.stat(&abs)).map(|_| abs),
    }
}

/// The canonical path (as [`canonical`] in `mode`) of each of `names` that has one,
/// each followed by `end`, and the names that have none, with why.
fn canonical_names<'a>(
    ctx: &Ctx,
    names: &'a [String],
    mode: char,
    end: char,
) -> (String, Vec<(&'a str, crate::fs::FsError)>) {
    let mut text = String::new();
    let mut failed = Vec::new();
    for n in names {
        match canonical(ctx, n, mode) {
            Ok(p) => {
                text.push_str(&p);
                text.push(end);
            }
            Err(e) => failed.push((n.as_str(), e)),
        }
    }
    (text, failed)
}

pub(super) async fn realpath(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (flags, names) = known_flags!(ctx, io, "realpath", args, "emq");
    if names.is_empty() {
        return usage(io, "realpath", "missing operand", 1).await;
    }
    // All but the last component must exist, unless `-e` (all) or `-m` (none).
    let mode = if flags.contains('m') {
        'm'
    } else if flags.contains('e') {
        'e'
    } else {
        'f'
    };
    let (text, failed) = canonical_names(ctx, &names, mode, '\n');
    if !flags.contains('q') {
        for (n, e) in &failed {
            complain(io, &format!("realpath: {n}: {e}\n")).await;
        }
    }
    io.stdout.write_str(&text).await?;
    Ok(i32::from(!failed.is_empty()))
}

pub(super) async fn readlink(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (flags, names) = known_flags!(ctx, io, "readlink", args, "femnqsv");
    if names.is_empty() {
        return usage(io, "readlink", "missing operand", 1).await;
    }
    let mode = ['f', 'e', 'm'].into_iter().find(|c| flags.contains(*c));
    let Some(mode) = mode else {
        // No name here is a symbolic link: nothing to print, status 1.
        return Ok(1);
    };
    let end = if flags.contains('n') { ' ' } else { '\n' };
    let (mut text, failed) = canonical_names(ctx, &names, mode, end);
    if flags.contains('n') {
        text = text.trim_end().to_string();
    }
    io.stdout.write_str(&text).await?;
    Ok(i32::from(!failed.is_empty()))
}

/// Disk usage in KiB as ext4 counts it: a 4 KiB block per directory, each file's
/// size rounded up to 4 KiB blocks.
fn usage_kib(
    ctx: &Ctx,
    abs: &str,
    all: bool,
    shown: &str,
    lines: &mut Vec<(u64, String)>,
    depth_print: bool,
) -> u64 {
    let Ok(meta) = ctx.with_fs(|fs| fs.stat(abs)) else {
        return 0;
    };
    if !meta.is_dir() {
        let k = meta.size.div_ceil(4096) * 4;
        if all || !depth_print {
            lines.push((k, shown.to_string()));
        }
        return k;
    }
    let mut total = 4;
    for (name, _) in ctx.with_fs(|fs| fs.list_dir(abs)).unwrap_or_default() {
        let child = format!("{}/{name}", abs.trim_end_matches('/'));
        let child_shown = format!("{}/{name}", shown.trim_end_matches('/'));
        total += usage_kib(ctx, &child, all, &child_shown, lines, true);
    }
    lines.push((total, shown.to_string()));
    total
}

pub(super) async fn du(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (flags, mut names) = known_flags!(ctx, io, "du", args, "shkac");
    if names.is_empty() {
        names.push(".".into());
    }
    let mut status = 0;
    let mut text = String::new();
    let mut grand = 0;
    for n in &names {
        let abs = ctx.resolve(n);
        if stat_path(ctx, n).is_err() {
            status = 1;
            complain(
                io,
                &format!("du: cannot access '{n}': No such file or directory\n"),
            )
            .await;
            continue;
        }
        let mut lines = Vec::new();
        let total = usage_kib(ctx, &abs, flags.contains('a'), n, &mut lines, false);
        grand += total;
        if flags.contains('s') {
            lines = vec![(total, n.clone())];
        }
        for (k, name) in lines {
            let size = if flags.contains('h') {
                human_kib(k)
            } else {
                k.to_string()
            };
            text.push_str(&format!("{size}\t{name}\n"));
        }
    }
    if flags.contains('c') {
        let size = if flags.contains('h') {
            human_kib(grand)
        } else {
            grand.to_string()
        };
        text.push_str(&format!("{size}\ttotal\n"));
    }
    io.stdout.write_str(&text).await?;
    Ok(status)
}

/// `du -h`: `0`, `8.0K`, `1.5M`.
fn human_kib(k: u64) -> String {
    if k == 0 {
        return "0".into();
    }
    let mut v = k as f64;
    let mut unit = 'K';
    for u in ['M', 'G', 'T'] {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    if v < 10.0 {
        format!("{:.1}{unit}", (v * 10.0).ceil() / 10.0)
    } else {
        format!("{}{unit}", v.ceil() as u64)
    }
}

pub(super) async fn truncate(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let mut size: Option<String> = None;
    let mut no_create = false;
    let mut files = Vec::new();
    let mut opts = ArgCursor::new(args);
    while let Some(a) = opts.next() {
        match a {
            "-s" | "--size" => size = opts.value().cloned(),
            "-c" | "--no-create" => no_create = true,
            _ if a.starts_with("--size=") => size = Some(a[7..].to_string()),
            _ if a.starts_with("-s") && a.len() > 2 => size = Some(a[2..].to_string()),
            _ if a.starts_with('-') => return refuse_option(ctx, io, "truncate", a).await,
            _ => files.push(a.to_string()),
        }
    }
    let Some(spec) = size else {
        return usage(
            io,
            "truncate",
            "you must specify either '--size' or '--reference'",
            1,
        )
        .await;
    };
    if files.is_empty() {
        return usage(io, "truncate", "missing file operand", 1).await;
    }
    let (rel, digits) = match spec.chars().next() {
        Some(c @ ('+' | '-')) => (Some(c), &spec[1..]),
        _ => (None, spec.as_str()),
    };
    let (num, mult) = match digits.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        None => (digits, 1u64),
        Some((i, _)) => {
            let m = match &digits[i..] {
                "K" | "KiB" => 1 << 10,
                "M" | "MiB" => 1 << 20,
                "G" | "GiB" => 1 << 30,
                "KB" => 1000,
                "MB" => 1_000_000,
                _ => return usage(io, "truncate", &format!("Invalid number: '{spec}'"), 1).await,
            };
            (&digits[..i], m)
        }
    };
    let Ok(n) = num.parse::<u64>() else {
        return usage(io, "truncate", &format!("Invalid number: '{spec}'"), 1).await;
    };
    let n = n * mult;
    let mut status = 0;
    for f in &files {
        let t = ctx.file(f);
        let exists = t.with_fs(|fs| fs.stat(&t.path)).is_ok();
        if !exists && no_create {
            continue;
        }
        let r = t.with_fs(|fs| {
            if !exists {
                fs.open_for_write(&t.path, WriteMode::Keep, 0o666, (ctx.uid, ctx.uid))?;
            }
            let cur = fs.stat(&t.path)?.size;
            let len = match rel {
                Some('+') => cur + n,
                Some(_) => cur.saturating_sub(n),
                None => n,
            };
            fs.set_len(&t.path, len)
        });
        if let Err(e) = r {
            status = 1;
            complain(
                io,
                &format!("truncate: cannot open '{f}' for writing: {e}\n"),
            )
            .await;
        }
    }
    if status == 0 {
        out(io, "").await
    } else {
        Ok(status)
    }
}
