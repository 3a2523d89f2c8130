//! Files and paths: `cat`, `stat`, `mkdir`, `rmdir`, `rm`, `cp`, `ln`, `mv`,
//! `chmod`, `chown`, `touch`, `mktemp`, `basename`, `dirname`.

use crate::fs::{Fs, FsError, WriteMode};
use crate::io::Io;
use crate::proc::Ctx;

use super::{
    ArgCursor, Status, complain, fail, out, read_file, refuse_option, stat_path, usage, user_name,
};

/// Applies `change` to each operand's resolved path, reporting a failure as
/// `<what> '<operand>': <error>`; the status is 1 when any failed.
async fn each_operand<S: AsRef<str>>(
    ctx: &Ctx,
    operands: &[S],
    io: &Io,
    what: &str,
    change: impl Fn(&mut Fs, &str) -> Result<(), FsError>,
) -> Status {
    let mut status = 0;
    for op in operands {
        let op = op.as_ref();
        let abs = ctx.resolve(op);
        if let Err(e) = ctx.with_fs(|fs| change(fs, &abs)) {
            status = 1;
            complain(io, &format!("{what} '{op}': {e}\n")).await;
        }
    }
    Ok(status)
}

pub(super) async fn cat(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    const LONG: &[(&str, &str)] = &[
        ("--number", "n"),
        ("--number-nonblank", "b"),
        ("--squeeze-blank", "s"),
        ("--show-ends", "E"),
        ("--show-tabs", "T"),
        ("--show-nonprinting", "v"),
        ("--show-all", "vET"),
    ];
    let mut short = Vec::new();
    let mut long_flags = String::new();
    for a in args {
        match LONG.iter().find(|(l, _)| l == a) {
            Some((_, f)) => long_flags.push_str(f),
            None => short.push(a.clone()),
        }
    }
    let (flags, files) = known_flags!(ctx, io, "cat", &short, "nbsETvAet");
    let flags = (flags + &long_flags)
        .replace('A', "vET")
        .replace('e', "vE")
        .replace('t', "vT");
    if !flags.is_empty() {
        return cat_shown(ctx, &flags, &files, io).await;
    }
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
                complain(io, &format!("cat: {}: {e}\n", crate::unix::quote_name(f))).await;
            }
        }
    }
    Ok(status)
}

/// `cat` with GNU's `-n -b -s -E -T -v` (and `-A -e -t`): the numbering and the
/// state of the line go on from one file to the next, as in one stream.
async fn cat_shown(ctx: &Ctx, flags: &str, files: &[String], io: &Io) -> Status {
    let (ins, failed) = super::inputs(ctx, "cat", files, io).await;
    let number_blank = flags.contains('b');
    let number = flags.contains('n') || number_blank;
    let mut out: Vec<u8> = Vec::new();
    let mut line_no = 0u64;
    let mut at_start = true;
    let mut blanks = 0u32;
    for (_, data) in &ins {
        for line in data.split_inclusive(|b| *b == b'\n') {
            let (body, newline) = match line.strip_suffix(b"\n") {
                Some(body) => (body, true),
                None => (line, false),
            };
            let blank = at_start && body.is_empty() && newline;
            if blank {
                blanks += 1;
                if flags.contains('s') && blanks > 1 {
                    continue;
                }
            } else if at_start {
                blanks = 0;
            }
            if at_start && number && !(number_blank && blank) {
                line_no += 1;
                out.extend_from_slice(format!("{line_no:>6}\t").as_bytes());
            }
            for &b in body {
                show_byte(&mut out, b, flags);
            }
            if newline {
                if flags.contains('E') {
                    out.push(b'$');
                }
                out.push(b'\n');
            }
            at_start = newline;
        }
    }
    io.stdout.write(&out).await?;
    Ok(i32::from(failed))
}

/// One byte as `cat -v` / `-T` show it.
fn show_byte(out: &mut Vec<u8>, b: u8, flags: &str) {
    if b == b'\t' {
        if flags.contains('T') {
            out.extend_from_slice(b"^I");
        } else {
            out.push(b);
        }
        return;
    }
    if !flags.contains('v') {
        out.push(b);
        return;
    }
    let (meta, low) = if b >= 128 {
        (true, b - 128)
    } else {
        (false, b)
    };
    if meta {
        out.extend_from_slice(b"M-");
    }
    match low {
        0..=31 => {
            out.push(b'^');
            out.push(low + 64);
        }
        127 => out.extend_from_slice(b"^?"),
        _ => out.push(low),
    }
}

pub(super) async fn stat(ctx: &Ctx, args: &[String], io: &Io) -> Status {
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
                complain(io, &format!("stat: cannot statx '{f}': {e}\n")).await;
                continue;
            }
        };
        let text = match &format {
            Some(fmt) => {
                let expanded = crate::unix::expand_directives(fmt, '%', |s, c| {
                    match c {
                        's' => s.push_str(&meta.size.to_string()),
                        'a' => s.push_str(&format!("{:o}", meta.mode)),
                        'A' => s.push_str(&crate::unix::mode_string(&meta)),
                        'f' => s.push_str(&format!("{:x}", meta.st_mode())),
                        'u' => s.push_str(&meta.uid.to_string()),
                        'g' => s.push_str(&meta.gid.to_string()),
                        'h' => s.push_str(&meta.nlink.to_string()),
                        'U' => s.push_str(&user_name(ctx, meta.uid, "/etc/passwd")),
                        'G' => s.push_str(&user_name(ctx, meta.gid, "/etc/group")),
                        'n' => s.push_str(f),
                        'Y' => s.push_str(&meta.mtime.to_string()),
                        'F' => s.push_str(if meta.is_dir() {
                            "directory"
                        } else if meta.size == 0 {
                            "regular empty file"
                        } else {
                            "regular file"
                        }),
                        '%' => s.push('%'),
                        o => return Err(o),
                    }
                    Ok(())
                });
                match expanded {
                    Ok(s) => s + "\n",
                    Err(o) => return refuse_option(ctx, io, "stat", &format!("-c %{o}")).await,
                }
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
                crate::unix::mode_string(&meta),
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

pub(super) async fn mkdir(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let mut parents = false;
    let mut mode = 0o777;
    let mut dirs = Vec::new();
    let mut opts = ArgCursor::new(args);
    while let Some(a) = opts.next() {
        match a {
            "-p" | "--parents" => parents = true,
            "-m" => {
                mode = opts
                    .value()
                    .and_then(|m| u32::from_str_radix(m, 8).ok())
                    .unwrap_or(0o777);
            }
            "--" => {
                dirs.extend(opts.rest().iter().cloned());
                break;
            }
            a if a.starts_with('-') && a.len() > 1 => {
                return refuse_option(ctx, io, "mkdir", a).await;
            }
            a => dirs.push(a.to_string()),
        }
    }
    if dirs.is_empty() {
        return usage(io, "mkdir", "missing operand", 1).await;
    }
    each_operand(
        ctx,
        &dirs,
        io,
        "mkdir: cannot create directory",
        |fs, abs| {
            if parents {
                fs.mkdir_all(abs, mode)
            } else {
                fs.mkdir(abs, mode)
            }
        },
    )
    .await
}

pub(super) async fn rmdir(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (_, dirs) = known_flags!(ctx, io, "rmdir", args, "");
    each_operand(ctx, &dirs, io, "rmdir: failed to remove", |fs, abs| {
        fs.rmdir(abs)
    })
    .await
}

pub(super) async fn rm(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (flags, paths) = known_flags!(ctx, io, "rm", args, "rRf");
    let recursive = flags.contains('r') || flags.contains('R');
    let force = flags.contains('f');
    if paths.is_empty() && !force {
        return usage(io, "rm", "missing operand", 1).await;
    }
    each_operand(ctx, &paths, io, "rm: cannot remove", |fs, abs| {
        let removed = match fs.stat(abs) {
            Ok(meta) if meta.is_dir() && !recursive => Err(FsError::IsADirectory),
            Ok(meta) if meta.is_dir() => fs.remove_all(abs),
            Ok(_) => fs.remove_file(abs),
            Err(e) => Err(e),
        };
        match removed {
            Err(FsError::NotFound) if force => Ok(()),
            other => other,
        }
    })
    .await
}

/// The destination path for copying or moving `src` to `dst` (into it when a directory).
pub(super) fn into_target(ctx: &Ctx, src: &str, dst: &str) -> String {
    let abs = ctx.resolve(dst);
    match ctx.with_fs(|fs| fs.stat(&abs)) {
        Ok(m) if m.is_dir() => crate::fs::normalize(&abs, crate::fs::file_name(&ctx.resolve(src))),
        _ => abs,
    }
}

/// For `cp`/`mv SRC… DST`: DST, and each source as given, resolved, and its target,
/// worked out only when its turn comes (an earlier one may have made DST a directory);
/// `None` without a source.
fn sources_and_targets<'a>(
    ctx: &'a Ctx,
    paths: &'a [String],
) -> Option<(
    &'a String,
    impl Iterator<Item = (&'a String, String, String)> + 'a,
)> {
    let (dst, srcs) = paths.split_last().filter(|(_, s)| !s.is_empty())?;
    let targets = srcs
        .iter()
        .map(move |src| (src, ctx.resolve(src), into_target(ctx, src, dst)));
    Some((dst, targets))
}

pub(super) async fn cp(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (flags, paths) = known_flags!(ctx, io, "cp", args, "rRapf");
    let recursive = flags.contains('r') || flags.contains('R') || flags.contains('a');
    let preserve = flags.contains('p') || flags.contains('a');
    let Some((dst, sources)) = sources_and_targets(ctx, &paths) else {
        return fail(io, "cp", "missing file operand", 1).await;
    };
    let mut status = 0;
    for (src, from, to) in sources {
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
            complain(io, &msg).await;
        }
    }
    Ok(status)
}

/// `ln TARGET LINK_NAME` (hard links only; `-f`, `-s` and directory targets are not
/// emulated). link(2) never replaces an existing name, so `ln` is an atomic
/// no-clobber create, as on a real host.
pub(super) async fn ln(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (_, paths) = known_flags!(ctx, io, "ln", args, "");
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
        Err(FsError::Exists) => {
            fail(
                io,
                "ln",
                &format!("failed to create hard link '{dst}': File exists"),
                1,
            )
            .await
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

pub(super) async fn mv(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (flags, paths) = known_flags!(ctx, io, "mv", args, "nf");
    let no_clobber = flags.contains('n');
    let Some((dst, sources)) = sources_and_targets(ctx, &paths) else {
        return fail(io, "mv", "missing file operand", 1).await;
    };
    let mut status = 0;
    for (src, from, to) in sources {
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
            complain(io, &msg).await;
        }
    }
    Ok(status)
}

/// The bits each `who` letter of a symbolic mode (`u`, `g`, `o`, `a`) may change.
const WHO_BITS: [(char, u32); 4] = [('u', 0o4700), ('g', 0o2070), ('o', 0o1007), ('a', 0o7777)];

/// The bits each permission letter of a symbolic mode stands for, for all of u, g, o.
const PERM_BITS: [(char, u32); 5] = [
    ('r', 0o444),
    ('w', 0o222),
    ('x', 0o111),
    ('s', 0o6000),
    ('t', 0o1000),
];

/// The union of the bits of `letters` in `table`; `None` at a letter it lacks.
fn mode_bits(letters: &str, table: &[(char, u32)]) -> Option<u32> {
    letters.chars().try_fold(0, |bits, c| {
        let (_, b) = table.iter().find(|(letter, _)| *letter == c)?;
        Some(bits | b)
    })
}

/// Applies an octal (`755`) or symbolic (`u+x,go-w`, `+x`, `a=r`) mode to `old`.
pub(super) fn apply_mode(spec: &str, old: u32, umask: u32) -> Option<u32> {
    if !spec.is_empty() && spec.chars().all(|c| c.is_digit(8)) {
        return u32::from_str_radix(spec, 8).ok().filter(|m| *m <= 0o7777);
    }
    let mut mode = old;
    for clause in spec.split(',') {
        let op_pos = clause.find(['+', '-', '='])?;
        let (who, rest) = clause.split_at(op_pos);
        let op = rest.chars().next()?;
        let perms = &rest[1..];
        let who = if who.is_empty() { "a" } else { who };
        let mask = mode_bits(who, &WHO_BITS)?;
        let mut bits = mode_bits(perms, &PERM_BITS)? & mask;
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

pub(super) async fn chmod(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    // `-x`, `-w` are modes; `-R`, `-v`, `-c`, `-f` and long options are not emulated.
    let option = |a: &&String| {
        (a.starts_with("--") && a.len() > 2)
            || (a.starts_with('-') && a[1..].chars().any(|c| "Rvcf".contains(c)))
    };
    if let Some(o) = args.iter().find(option) {
        return refuse_option(ctx, io, "chmod", o).await;
    }
    let mut operands: Vec<&String> = args.iter().filter(|a| *a != "--").collect();
    if operands.len() < 2 {
        return usage(io, "chmod", "missing operand", 1).await;
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
                return usage(io, "chmod", &format!("invalid mode: '{spec}'"), 1).await;
            }
            Err(e) => {
                status = 1;
                complain(io, &format!("chmod: cannot access '{f}': {e}\n")).await;
            }
        }
    }
    Ok(status)
}

pub(super) async fn chown(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    if let Some(o) = args.iter().find(|a| a.starts_with('-') && *a != "--") {
        return refuse_option(ctx, io, "chown", o).await;
    }
    let mut operands: Vec<&String> = args.iter().filter(|a| *a != "--").collect();
    if operands.len() < 2 {
        return usage(io, "chown", "missing operand", 1).await;
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
    each_operand(ctx, &operands, io, "chown: cannot access", |fs, abs| {
        fs.set_owner(abs, uid, gid)
    })
    .await
}

/// `touch [-c] [-m] [-d DATE | -r FILE] FILE…`: the fake keeps no access times, so
/// `-a` is refused, and so is `-t`.
pub(super) async fn touch(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let mut when: Option<u64> = None;
    let mut create = true;
    let mut files = Vec::new();
    // `-dVALUE` and `-rVALUE` as two words, as getopt reads them.
    let split: Vec<String> = args
        .iter()
        .flat_map(|a| match (a.get(..2), a.len() > 2) {
            (Some(o @ ("-d" | "-r")), true) => vec![o.to_string(), a[2..].to_string()],
            _ => vec![a.clone()],
        })
        .collect();
    let mut opts = ArgCursor::new(&split);
    while let Some(a) = opts.next() {
        match a {
            "-c" | "--no-create" => create = false,
            "-m" => {}
            "-d" | "--date" | "-r" | "--reference" => {
                let Some(v) = opts.value() else {
                    let letter = if a.starts_with("-d") || a == "--date" {
                        'd'
                    } else {
                        'r'
                    };
                    return usage(
                        io,
                        "touch",
                        &format!("option requires an argument -- '{letter}'"),
                        1,
                    )
                    .await;
                };
                if a == "-d" || a == "--date" {
                    match super::date::date_string(v, crate::fs::now_secs()) {
                        Some(t) => when = Some(t),
                        None => {
                            complain(io, &format!("touch: invalid date format '{v}'\n")).await;
                            return Ok(1);
                        }
                    }
                } else {
                    match stat_path(ctx, v) {
                        Ok(m) => when = Some(m.mtime),
                        Err(e) => {
                            return fail(
                                io,
                                "touch",
                                &format!("failed to get attributes of '{v}': {e}"),
                                1,
                            )
                            .await;
                        }
                    }
                }
            }
            "--" => {
                files.extend(opts.rest().iter().cloned());
                break;
            }
            _ if a.starts_with('-') && a != "-" => return refuse_option(ctx, io, "touch", a).await,
            _ => files.push(a.to_string()),
        }
    }
    if files.is_empty() {
        return usage(io, "touch", "missing file operand", 1).await;
    }
    let owner = (ctx.uid, ctx.uid);
    each_operand(ctx, &files, io, "touch: cannot touch", |fs, abs| {
        if !create && !fs.exists(abs) {
            return Ok(());
        }
        // A directory is touched as it is.
        if !fs.stat(abs).is_ok_and(|m| m.is_dir()) {
            fs.open_for_write(abs, WriteMode::Keep, 0o666, owner)?;
        }
        match when {
            Some(t) => fs.set_mtime(abs, t),
            None => fs.touch(abs),
        }
    })
    .await
}

pub(super) async fn mktemp(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let mut dir_mode = false;
    let mut tmpdir: Option<String> = None;
    let mut template: Option<String> = None;
    let mut opts = ArgCursor::new(args);
    while let Some(a) = opts.next() {
        match a {
            "-d" | "--directory" => dir_mode = true,
            "-p" | "--tmpdir" => tmpdir = opts.value().cloned(),
            "-t" | "-q" | "-u" => {}
            _ if a.starts_with("--tmpdir=") => tmpdir = Some(a["--tmpdir=".len()..].to_string()),
            _ => template = Some(a.to_string()),
        }
    }
    let template = template.unwrap_or_else(|| "tmp.XXXXXXXXXX".into());
    // The last run of X's in the last component; what follows it is the suffix.
    let last = template.rsplit('/').next().unwrap_or(&template);
    let suffix: String = match last.rfind('X') {
        Some(i) => last[i + 1..].to_string(),
        None => String::new(),
    };
    let stem = &template[..template.len() - suffix.len()];
    let xs = stem.chars().rev().take_while(|c| *c == 'X').count();
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
        stem.to_string()
    } else {
        format!("{}/{}", tmpdir.unwrap_or_else(|| "/tmp".into()), stem)
    };
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for _ in 0..100 {
        let random: String = (0..xs)
            .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
            .collect();
        let path = format!("{}{random}{suffix}", &base[..base.len() - xs]);
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

pub(super) async fn basename(args: &[String], io: &Io) -> Status {
    let Some(p) = args.first() else {
        return usage(io, "basename", "missing operand", 1).await;
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

pub(super) async fn dirname(args: &[String], io: &Io) -> Status {
    let Some(p) = args.first() else {
        return usage(io, "dirname", "missing operand", 1).await;
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
}
