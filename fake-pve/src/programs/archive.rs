//! `tar`: GNU tar's create, list and extract of an archive file, gzip-compressed with
//! `-z` (and recognised as such when read), over the caller's filesystem. What GNU
//! tar prints, and when, is checked against the real one by the shell-case table
//! (`fake-pve/tests/shell-cases.toml`).

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};

use crate::fs::{FsError, Kind, Meta};
use crate::io::Io;
use crate::proc::Ctx;

use super::{Status, complain, out};

const TRY_HELP: &str = "Try 'tar --help' or 'tar --usage' for more information.\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Create,
    List,
    Extract,
}

/// What the command line asks for.
#[derive(Debug, Default)]
struct Request {
    mode: Option<Mode>,
    gzip: bool,
    verbose: bool,
    file: Option<String>,
    dir: Option<String>,
    operands: Vec<String>,
}

/// Reads tar's options: old style (`czf a.tgz`, the first word without a dash),
/// short (`-czf a.tgz`, `-C DIR`) and the long forms of those. Anything else is
/// refused by name.
fn parse(args: &[String]) -> Result<Request, String> {
    let mut r = Request::default();
    let mut words = args
        .iter()
        .cloned()
        .collect::<std::collections::VecDeque<_>>();
    let mut first = true;
    while let Some(w) = words.pop_front() {
        let letters = if let Some(long) = w.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let mut take = || value.clone().or_else(|| words.pop_front());
            match name {
                "create" => r.mode = Some(Mode::Create),
                "list" => r.mode = Some(Mode::List),
                "extract" | "get" => r.mode = Some(Mode::Extract),
                "gzip" | "gunzip" => r.gzip = true,
                "verbose" => r.verbose = true,
                "file" => r.file = take(),
                "directory" => r.dir = take(),
                _ => return Err(format!("tar --{name}")),
            }
            first = false;
            continue;
        } else if let Some(short) = w.strip_prefix('-').filter(|s| !s.is_empty()) {
            short.to_string()
        } else if first {
            w.clone()
        } else {
            r.operands.push(w);
            continue;
        };
        first = false;
        let mut chars = letters.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                'c' => r.mode = Some(Mode::Create),
                't' => r.mode = Some(Mode::List),
                'x' => r.mode = Some(Mode::Extract),
                'z' => r.gzip = true,
                'v' => r.verbose = true,
                'f' | 'C' => {
                    // The value is the rest of this word, or the next word.
                    let rest: String = chars.by_ref().collect();
                    let value = if rest.is_empty() {
                        words.pop_front()
                    } else {
                        Some(rest)
                    };
                    if c == 'f' {
                        r.file = value;
                    } else {
                        r.dir = value;
                    }
                }
                other => return Err(format!("tar -{other}")),
            }
        }
    }
    Ok(r)
}

/// One member of an archive, as the fake keeps it between the filesystem and tar.
struct Member {
    name: String,
    meta: Meta,
    /// The owner's and group's names (tar keeps them beside the ids).
    owner: (String, String),
    data: Vec<u8>,
}

pub(super) async fn tar(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let r = match parse(args) {
        Ok(r) => r,
        Err(what) => return Ok(ctx.refuse(io, &what, 2).await),
    };
    let Some(mode) = r.mode else {
        let msg =
            "tar: You must specify one of the '-Acdtrux', '--delete' or '--test-label' options\n";
        complain(io, &format!("{msg}{TRY_HELP}")).await;
        return Ok(2);
    };
    // No -f, or -f -: the archive is on standard input or output (Debian's default).
    let file = r.file.clone().filter(|f| f != "-");
    let base = match &r.dir {
        Some(d) => ctx.resolve(d),
        None => ctx.cwd.clone(),
    };
    match mode {
        Mode::Create => create(ctx, io, &r, file.as_deref(), &base).await,
        Mode::List | Mode::Extract => read(ctx, io, &r, file.as_deref(), &base, mode).await,
    }
}

/// `tar: FILE: Cannot open: …` and the end of the run.
async fn cannot_open(io: &Io, file: &str, e: FsError) -> Status {
    let msg =
        format!("tar: {file}: Cannot open: {e}\ntar: Error is not recoverable: exiting now\n");
    complain(io, &msg).await;
    Ok(2)
}

async fn create(ctx: &Ctx, io: &Io, r: &Request, file: Option<&str>, base: &str) -> Status {
    if r.operands.is_empty() {
        let msg = "tar: Cowardly refusing to create an empty archive\n";
        complain(io, &format!("{msg}{TRY_HELP}")).await;
        return Ok(2);
    }
    let mut members = Vec::new();
    let mut failed = false;
    let mut warned = false;
    for operand in &r.operands {
        let name = operand.trim_start_matches('/');
        if name.len() != operand.len() && !warned {
            complain(io, "tar: Removing leading `/' from member names\n").await;
            warned = true;
        }
        let path = Ctx::resolve_in(base, operand);
        match ctx.with_fs(|fs| collect(fs, &path, name.trim_end_matches('/'))) {
            Ok(found) => members.extend(found),
            Err(e) => {
                complain(io, &format!("tar: {operand}: Cannot stat: {e}\n")).await;
                failed = true;
            }
        }
    }
    for m in &mut members {
        m.owner = (
            super::user_name(ctx, m.meta.uid, "/etc/passwd"),
            super::user_name(ctx, m.meta.gid, "/etc/group"),
        );
    }
    let bytes = match archive_bytes(&members, r.gzip) {
        Ok(b) => b,
        Err(e) => return Ok(ctx.refuse(io, &format!("tar ({e})"), 2).await),
    };
    let names: String = members.iter().map(|m| format!("{}\n", m.name)).collect();
    match file {
        None => {
            io.stdout.write(&bytes).await?;
            // With the archive on standard output, the names go to standard error.
            if r.verbose {
                complain(io, &names).await;
            }
        }
        Some(file) => {
            let target = ctx.resolve(file);
            let written = ctx.with_fs(|fs| fs.write_file(&target, &bytes, 0o666 & !fs.umask()));
            if let Err(e) = written {
                return cannot_open(io, file, e).await;
            }
            if r.verbose {
                out(io, &names).await?;
            }
        }
    }
    if failed {
        complain(
            io,
            "tar: Exiting with failure status due to previous errors\n",
        )
        .await;
        return Ok(2);
    }
    Ok(0)
}

/// `path` and, for a directory, everything below it, named from `name`.
fn collect(fs: &crate::fs::Fs, path: &str, name: &str) -> Result<Vec<Member>, FsError> {
    let meta = fs.stat(path)?;
    let member = |name: String, data: Vec<u8>| Member {
        name,
        meta: meta.clone(),
        owner: Default::default(),
        data,
    };
    if meta.is_dir() {
        let mut found = vec![member(format!("{name}/"), Vec::new())];
        for (child, _) in fs.list_dir(path)? {
            found.extend(collect(
                fs,
                &format!("{path}/{child}"),
                &format!("{name}/{child}"),
            )?);
        }
        return Ok(found);
    }
    if meta.kind != Kind::File {
        return Err(FsError::NotEmulated);
    }
    Ok(vec![member(name.to_string(), fs.read(path)?.to_vec())])
}

fn archive_bytes(members: &[Member], gzip: bool) -> std::io::Result<Vec<u8>> {
    let mut builder = ::tar::Builder::new(Vec::new());
    for m in members {
        let mut header = ::tar::Header::new_gnu();
        header.set_entry_type(if m.meta.is_dir() {
            ::tar::EntryType::Directory
        } else {
            ::tar::EntryType::Regular
        });
        header.set_mode(m.meta.mode);
        header.set_uid(m.meta.uid.into());
        header.set_gid(m.meta.gid.into());
        header.set_mtime(m.meta.mtime);
        header.set_size(m.data.len() as u64);
        header.set_username(&m.owner.0)?;
        header.set_groupname(&m.owner.1)?;
        builder.append_data(&mut header, &m.name, m.data.as_slice())?;
    }
    let plain = builder.into_inner()?;
    if !gzip {
        return Ok(plain);
    }
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&plain)?;
    z.finish()
}

async fn read(
    ctx: &Ctx,
    io: &Io,
    r: &Request,
    file: Option<&str>,
    base: &str,
    mode: Mode,
) -> Status {
    let bytes = match file {
        None => io.stdin.read_all().await,
        Some(file) => {
            let path = ctx.resolve(file);
            match ctx.with_fs(|fs| fs.read(&path).map(<[u8]>::to_vec)) {
                Ok(b) => b,
                Err(e) => return cannot_open(io, file, e).await,
            }
        }
    };
    let file = file.unwrap_or("-");
    // GNU tar recognises a compressed archive by its first bytes, -z or not.
    let plain = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut v = Vec::new();
        if flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_end(&mut v)
            .is_err()
        {
            let what = format!("tar of a damaged gzip archive ({file})");
            return Ok(ctx.refuse(io, &what, 2).await);
        }
        v
    } else {
        bytes
    };
    let members = match members_of(&plain) {
        Ok(m) => m,
        Err(e) => return Ok(ctx.refuse(io, &format!("tar of {file} ({e})"), 2).await),
    };
    if !r.operands.is_empty() {
        let what = "tar with member names (only a whole archive is listed or extracted)";
        return Ok(ctx.refuse(io, what, 2).await);
    }
    let names: String = members.iter().map(|m| format!("{}\n", m.name)).collect();
    if mode == Mode::List {
        return out(
            io,
            &if r.verbose {
                long_listing(&members)
            } else {
                names
            },
        )
        .await;
    }
    if let Err(e) = ctx.with_fs(|fs| fs.stat(base)) {
        let msg = format!(
            "tar: {}: Cannot open: {e}\ntar: Error is not recoverable: exiting now\n",
            r.dir.as_deref().unwrap_or(base)
        );
        complain(io, &msg).await;
        return Ok(2);
    }
    let root = ctx.uid == 0;
    let result = ctx.with_fs(|fs| {
        // As root, tar keeps the archive's modes and owners; others get their umask.
        let umask = if root { 0 } else { fs.umask() };
        for m in &members {
            let target = Ctx::resolve_in(base, m.name.trim_end_matches('/'));
            let mode = m.meta.mode & !umask;
            if m.meta.is_dir() {
                if !fs.exists(&target) {
                    fs.mkdir_all(&target, mode)?;
                }
                fs.set_mode(&target, mode)?;
            } else {
                if fs.exists(&target) {
                    fs.remove_file(&target)?;
                }
                fs.write_file(&target, &m.data, mode)?;
            }
            if root {
                fs.set_owner(&target, Some(m.meta.uid), Some(m.meta.gid))?;
            }
            fs.set_mtime(&target, m.meta.mtime)?;
        }
        Ok(())
    });
    if let Err(e) = result {
        let what = format!("tar -x where the filesystem refused ({e})");
        return Ok(ctx.refuse(io, &what, 2).await);
    }
    if r.verbose {
        out(io, &names).await?;
    }
    Ok(0)
}

/// `tar -tv`: mode, `owner/group`, size, date and name, as GNU tar's list.c lays
/// them out (`owner/group size` fills 19 columns, or more once one needed more).
fn long_listing(members: &[Member]) -> String {
    let mut width = 19;
    let mut text = String::new();
    for m in members {
        let (owner, group) = &m.owner;
        let size = m.meta.size.to_string();
        width = width.max(owner.len() + 1 + group.len() + 1 + size.len());
        let pad = width - owner.len() - 1 - group.len() - 1;
        let (y, mo, d, h, mi, _) = crate::unix::civil(m.meta.mtime);
        let mode = crate::unix::mode_string(&m.meta);
        let _ = writeln!(
            text,
            "{mode} {owner}/{group} {size:>pad$} {y:04}-{mo:02}-{d:02} {h:02}:{mi:02} {}",
            m.name
        );
    }
    text
}

/// The regular files and directories of a tar archive; any other kind is refused.
fn members_of(plain: &[u8]) -> Result<Vec<Member>, String> {
    let text = |e: std::io::Error| e.to_string();
    let mut archive = ::tar::Archive::new(plain);
    let mut members = Vec::new();
    for entry in archive.entries().map_err(text)? {
        let mut entry = entry.map_err(text)?;
        let header = entry.header();
        let kind = match header.entry_type() {
            ::tar::EntryType::Directory => Kind::Dir,
            ::tar::EntryType::Regular => Kind::File,
            other => return Err(format!("a member of type {other:?}")),
        };
        let meta = Meta {
            kind,
            mode: header.mode().map_err(text)? & 0o7777,
            uid: header.uid().map_err(text)? as u32,
            gid: header.gid().map_err(text)? as u32,
            size: header.size().map_err(text)?,
            mtime: header.mtime().map_err(text)?,
            nlink: 1,
            stamp: 0,
        };
        let name_of = |n: Option<&[u8]>, id: u32| {
            n.filter(|n| !n.is_empty())
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .unwrap_or_else(|| id.to_string())
        };
        let owner = (
            name_of(header.username_bytes(), meta.uid),
            name_of(header.groupname_bytes(), meta.gid),
        );
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).map_err(text)?;
        members.push(Member {
            name,
            meta,
            owner,
            data,
        });
    }
    Ok(members)
}

/// `gzip`, `gunzip` (`-d`) and `zcat` (`-dc`): standard input to standard output, or
/// each FILE to FILE.gz (and back), keeping its mode and time and removing the
/// original unless `-k` or `-c`. The compressed bytes are flate2's, not GNU gzip's
/// (both are valid gzip; only the round trip is compared).
pub(super) async fn gzip(ctx: &Ctx, name: &str, args: &[String], io: &Io) -> Status {
    let (flags, files) = known_flags!(ctx, io, name, args, "dckf123456789");
    let decompress = flags.contains('d') || name == "gunzip" || name == "zcat";
    let to_stdout = flags.contains('c') || name == "zcat";
    let (keep, force) = (flags.contains('k'), flags.contains('f'));
    let level = flags
        .chars()
        .rev()
        .find_map(|c| c.to_digit(10))
        .unwrap_or(6);
    let convert = |data: &[u8]| -> Result<Vec<u8>, ()> {
        if decompress {
            let mut v = Vec::new();
            flate2::read::MultiGzDecoder::new(data)
                .read_to_end(&mut v)
                .map_err(|_| ())?;
            Ok(v)
        } else {
            let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
            z.write_all(data).map_err(|_| ())?;
            z.finish().map_err(|_| ())
        }
    };
    if files.is_empty() || files == ["-"] {
        let data = io.stdin.read_all().await;
        return match convert(&data) {
            Ok(v) => {
                io.stdout.write(&v).await?;
                Ok(0)
            }
            Err(()) => {
                complain(io, "\ngzip: stdin: not in gzip format\n").await;
                Ok(1)
            }
        };
    }
    let mut status = 0;
    for f in &files {
        let path = ctx.resolve(f);
        let target_name = if decompress {
            match f.strip_suffix(".gz") {
                Some(stem) if !stem.is_empty() => stem.to_string(),
                _ if to_stdout => f.clone(),
                _ => {
                    complain(io, &format!("gzip: {f}: unknown suffix -- ignored\n")).await;
                    status = status.max(2);
                    continue;
                }
            }
        } else {
            format!("{f}.gz")
        };
        let read = ctx.with_fs(|fs| {
            let meta = fs.stat(&path)?;
            Ok((meta.clone(), fs.read(&path)?.to_vec()))
        });
        let (meta, data) = match read {
            Ok(r) => r,
            Err(e) => {
                complain(io, &format!("gzip: {f}: {e}\n")).await;
                status = status.max(1);
                continue;
            }
        };
        let Ok(converted) = convert(&data) else {
            complain(io, &format!("\ngzip: {f}: not in gzip format\n")).await;
            status = status.max(1);
            continue;
        };
        if to_stdout {
            io.stdout.write(&converted).await?;
            continue;
        }
        let target = ctx.resolve(&target_name);
        if !force && ctx.with_fs(|fs| Ok(fs.exists(&target))).unwrap_or(false) {
            let msg = format!("gzip: {target_name} already exists;\tnot overwritten\n");
            complain(io, &msg).await;
            status = status.max(2);
            continue;
        }
        let written = ctx.with_fs(|fs| {
            fs.write_file(&target, &converted, meta.mode)?;
            fs.set_mode(&target, meta.mode)?;
            fs.set_mtime(&target, meta.mtime)?;
            if !keep {
                fs.remove_file(&path)?;
            }
            Ok(())
        });
        if let Err(e) = written {
            complain(io, &format!("gzip: {target_name}: {e}\n")).await;
            status = status.max(1);
        }
    }
    Ok(status)
}
