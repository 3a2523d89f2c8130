//! `ls`, as GNU ls lays a listing out when its output is no terminal: one name a
//! line, or `-l` columns as wide as their widest cell; file operands before
//! directories; `-a -A -d -h -1 -t -S -r -R`.

use std::fmt::Write as _;

use crate::fs::Meta;
use crate::io::Io;
use crate::proc::Ctx;

use super::{Status, complain, user_name};

pub(super) async fn ls(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (flags, paths) = known_flags!(ctx, io, "ls", args, "laAdh1tSrR");
    let o = LsOptions {
        long: flags.contains('l'),
        all: flags.contains('a'),
        almost_all: flags.contains('A') && !flags.contains('a'),
        human: flags.contains('h'),
        by_time: flags.contains('t'),
        by_size: flags.contains('S'),
        reverse: flags.contains('r'),
        recursive: flags.contains('R') && !flags.contains('d'),
    };
    let dir_only = flags.contains('d');
    let named = !paths.is_empty();
    let paths = if named { paths } else { vec![".".to_string()] };
    let mut status = 0;
    // Files first, then directories, each sorted as the entries are.
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for p in &paths {
        let abs = ctx.resolve(p);
        match ctx.with_fs(|fs| fs.stat(&abs)) {
            Ok(m) if m.is_dir() && !dir_only => dirs.push((p.clone(), m)),
            Ok(m) => files.push((p.clone(), m)),
            Err(e) => {
                status = 2;
                complain(io, &format!("ls: cannot access '{p}': {e}\n")).await;
            }
        }
    }
    o.sort(&mut files);
    o.sort(&mut dirs);
    let mut text = String::new();
    if !files.is_empty() {
        text.push_str(&o.lines(ctx, &files));
    }
    let headers = paths.len() > 1 || o.recursive;
    let mut queue: std::collections::VecDeque<(String, Meta)> = dirs.into();
    while let Some((dir, meta)) = queue.pop_front() {
        if headers {
            if !text.is_empty() {
                text.push('\n');
            }
            let _ = writeln!(text, "{dir}:");
        }
        let abs = ctx.resolve(&dir);
        let mut entries = ctx.with_fs(|fs| fs.list_dir(&abs)).unwrap_or_default();
        if !(o.all || o.almost_all) {
            entries.retain(|(name, _)| !name.starts_with('.'));
        }
        o.sort(&mut entries);
        let mut shown = entries.clone();
        if o.all {
            let parent = ctx
                .with_fs(|fs| fs.stat(crate::fs::parent(&abs)))
                .unwrap_or_else(|_| meta.clone());
            let dots = [(".".to_string(), meta.clone()), ("..".to_string(), parent)];
            if o.reverse {
                shown.extend(dots.into_iter().rev());
            } else {
                shown.splice(0..0, dots);
            }
        }
        if o.long {
            let blocks: u64 = shown.iter().map(|(_, m)| m.size.div_ceil(4096) * 4).sum();
            let _ = writeln!(text, "total {blocks}");
        }
        text.push_str(&o.lines(ctx, &shown));
        if o.recursive {
            // Depth first, in listing order, as GNU ls -R goes.
            let sub: Vec<(String, Meta)> = entries
                .into_iter()
                .filter(|(_, m)| m.is_dir())
                .map(|(name, m)| {
                    let path = if dir.ends_with('/') {
                        format!("{dir}{name}")
                    } else {
                        format!("{dir}/{name}")
                    };
                    (path, m)
                })
                .collect();
            for d in sub.into_iter().rev() {
                queue.push_front(d);
            }
        }
    }
    io.stdout.write_str(&text).await?;
    Ok(status)
}

/// What `ls` was asked to show, and how to order it.
struct LsOptions {
    long: bool,
    all: bool,
    almost_all: bool,
    human: bool,
    by_time: bool,
    by_size: bool,
    reverse: bool,
    recursive: bool,
}

impl LsOptions {
    /// By name (bytes, as in the C locale), or newest first (`-t`), or largest first
    /// (`-S`), ties by name; `-r` reverses the whole order.
    fn sort(&self, entries: &mut [(String, Meta)]) {
        entries.sort_by(|(an, am), (bn, bm)| {
            let first = if self.by_time {
                (bm.mtime, bm.stamp).cmp(&(am.mtime, am.stamp))
            } else if self.by_size {
                bm.size.cmp(&am.size)
            } else {
                std::cmp::Ordering::Equal
            };
            first.then_with(|| an.cmp(bn))
        });
        if self.reverse {
            entries.reverse();
        }
    }

    /// The lines of one listing: names, or with `-l` columns as wide as their widest
    /// cell, as GNU ls lays them out.
    fn lines(&self, ctx: &Ctx, entries: &[(String, Meta)]) -> String {
        if !self.long {
            return entries.iter().map(|(n, _)| format!("{n}\n")).collect();
        }
        let rows: Vec<[String; 7]> = entries
            .iter()
            .map(|(name, m)| {
                [
                    crate::unix::mode_string(m),
                    m.nlink.to_string(),
                    user_name(ctx, m.uid, "/etc/passwd"),
                    user_name(ctx, m.gid, "/etc/group"),
                    if self.human {
                        crate::unix::human(m.size)
                    } else {
                        m.size.to_string()
                    },
                    crate::unix::month_day_time(m.mtime),
                    name.clone(),
                ]
            })
            .collect();
        let width = |k: usize| rows.iter().map(|r| r[k].len()).max().unwrap_or(0);
        let (links, user, group, size) = (width(1), width(2), width(3), width(4));
        rows.iter()
            .map(|r| {
                format!(
                    "{} {:>links$} {:<user$} {:<group$} {:>size$} {} {}\n",
                    r[0], r[1], r[2], r[3], r[4], r[5], r[6]
                )
            })
            .collect()
    }
}
