//! `grep`, as GNU grep 3.8's: `-i -v -c -n -l -L -q -x -w -F -E -G -h -H -o -s`,
//! `-e PATTERN`, `-m N`, context (`-A -B -C N`, groups apart joined by `--`), and
//! `-r`/`-R` over directories (entries in name order; GNU takes the directory's order)
//! with `--include`, `--exclude`, `--exclude-dir`; `--color=never|auto` (no terminal
//! here, so no colour). Refused loudly: other options, `-o` with context, and a file
//! with NUL bytes (GNU's binary-file handling).

use std::fmt::Write as _;

use crate::io::Io;
use crate::proc::Ctx;
use crate::unix::glob_match;

use super::{Status, complain, read_file, refuse_option};

#[derive(Default)]
struct Options {
    flags: String,
    patterns: Vec<String>,
    max: Option<usize>,
    after: usize,
    before: usize,
    include: Vec<String>,
    exclude: Vec<String>,
    exclude_dir: Vec<String>,
}

impl Options {
    fn has(&self, c: char) -> bool {
        self.flags.contains(c)
    }
}

/// What a bad command line makes grep say.
enum Bad {
    Refuse(String),
    Usage(String),
}

fn parse(args: &[String]) -> Result<(Options, Vec<String>), Bad> {
    let mut o = Options::default();
    let mut operands = Vec::new();
    let mut i = 0;
    let number = |v: Option<&String>, what: &str| -> Result<usize, Bad> {
        let v = v.ok_or_else(|| Bad::Usage(format!("option requires an argument -- '{what}'")))?;
        v.parse()
            .map_err(|_| Bad::Refuse(format!("grep -{what} {v} (not a plain count)")))
    };
    while let Some(a) = args.get(i) {
        i += 1;
        if a == "--" {
            operands.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            match (name, value) {
                ("color" | "colour", Some(v)) if v == "never" || v == "auto" => {}
                ("include", Some(v)) => o.include.push(v),
                ("exclude", Some(v)) => o.exclude.push(v),
                ("exclude-dir", Some(v)) => o.exclude_dir.push(v),
                _ => return Err(Bad::Refuse(format!("grep {a}"))),
            }
            continue;
        }
        if a == "-" || !a.starts_with('-') {
            operands.push(a.clone());
            continue;
        }
        let letters: Vec<char> = a[1..].chars().collect();
        let mut k = 0;
        while k < letters.len() {
            let c = letters[k];
            k += 1;
            // An option with a value takes the rest of the word, or the next one.
            let mut value = || -> Option<String> {
                if k < letters.len() {
                    let v: String = letters[k..].iter().collect();
                    k = letters.len();
                    Some(v)
                } else {
                    i += 1;
                    args.get(i - 1).cloned()
                }
            };
            match c {
                'e' => match value() {
                    Some(p) => o.patterns.push(p),
                    None => return Err(Bad::Usage("option requires an argument -- 'e'".into())),
                },
                'm' => o.max = Some(number(value().as_ref(), "m")?),
                'A' => o.after = number(value().as_ref(), "A")?,
                'B' => o.before = number(value().as_ref(), "B")?,
                'C' => {
                    let n = number(value().as_ref(), "C")?;
                    o.after = n;
                    o.before = n;
                }
                'R' => o.flags.push('r'),
                c if "ivcnlLqxwFEGhHosr".contains(c) => o.flags.push(c),
                c => return Err(Bad::Refuse(format!("grep -{c}"))),
            }
        }
    }
    if o.patterns.is_empty() {
        if operands.is_empty() {
            return Err(Bad::Usage(String::new()));
        }
        o.patterns.push(operands.remove(0));
    }
    // A pattern holding newlines is one pattern per line.
    o.patterns = o
        .patterns
        .iter()
        .flat_map(|p| p.split('\n').map(str::to_string).collect::<Vec<_>>())
        .collect();
    Ok((o, operands))
}

fn build_regex(o: &Options) -> Result<regex_lite::Regex, String> {
    let fixed = o.has('F');
    let mut parts = Vec::new();
    for p in &o.patterns {
        if fixed {
            parts.push(regex_lite::escape(p));
        } else {
            parts.push(crate::unix::posix_regex(p, o.has('E')).map_err(|w| format!("grep {w}"))?);
        }
    }
    let mut source = parts
        .iter()
        .map(|p| format!("(?:{p})"))
        .collect::<Vec<_>>()
        .join("|");
    if o.has('x') {
        source = format!("^(?:{source})$");
    }
    if o.has('w') {
        source = format!(r"\b(?:{source})\b");
    }
    regex_lite::RegexBuilder::new(&source)
        .case_insensitive(o.has('i'))
        .build()
        .map_err(|e| format!("grep's pattern ({e})"))
}

/// The files to search: (name as printed, content), after `-r` walked directories.
/// Errors are said (unless `-s`) and make the status 2.
async fn files(
    ctx: &Ctx,
    o: &Options,
    operands: &[String],
    io: &Io,
) -> (Vec<(String, Vec<u8>)>, bool) {
    let mut out = Vec::new();
    let mut failed = false;
    let recursive = o.has('r');
    let operands: Vec<String> = if operands.is_empty() && recursive {
        vec![String::new()]
    } else if operands.is_empty() {
        vec!["-".into()]
    } else {
        operands.to_vec()
    };
    for op in operands {
        if op == "-" {
            out.push(("(standard input)".to_string(), io.stdin.read_all().await));
            continue;
        }
        let path = if op.is_empty() { "." } else { op.as_str() };
        let is_dir = super::stat_path(ctx, path).is_ok_and(|m| m.is_dir());
        if is_dir && recursive {
            walk(ctx, o, &op, &mut out);
            continue;
        }
        if !o.include.is_empty() || !o.exclude.is_empty() {
            let base = crate::fs::file_name(path);
            if !included(o, base) {
                continue;
            }
        }
        match read_file(ctx, path) {
            Ok(data) => out.push((op.clone(), data)),
            Err(e) => {
                failed = true;
                if !o.has('s') {
                    complain(io, &format!("grep: {op}: {e}\n")).await;
                }
            }
        }
    }
    (out, failed)
}

fn included(o: &Options, base: &str) -> bool {
    (o.include.is_empty() || o.include.iter().any(|g| glob_match(g, base)))
        && !o.exclude.iter().any(|g| glob_match(g, base))
}

/// The regular files under directory `dir` (`""` for `.` unnamed, as `grep -r PAT`
/// names what it finds), in name order.
fn walk(ctx: &Ctx, o: &Options, dir: &str, out: &mut Vec<(String, Vec<u8>)>) {
    let abs = ctx.resolve(if dir.is_empty() { "." } else { dir });
    let children = ctx.with_fs(|fs| fs.list_dir(&abs)).unwrap_or_default();
    for (name, meta) in children {
        let shown = match dir {
            "" => name.clone(),
            d if d.ends_with('/') => format!("{d}{name}"),
            d => format!("{d}/{name}"),
        };
        if meta.is_dir() {
            if !o.exclude_dir.iter().any(|g| glob_match(g, &name)) {
                walk(ctx, o, &shown, out);
            }
        } else if included(o, &name) {
            let data = ctx
                .with_fs(|fs| {
                    fs.read(&crate::fs::normalize(&abs, &name))
                        .map(<[u8]>::to_vec)
                })
                .unwrap_or_default();
            out.push((shown, data));
        }
    }
}

pub(super) async fn grep(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (o, operands) = match parse(args) {
        Ok(v) => v,
        Err(Bad::Refuse(what)) => return Ok(ctx.refuse(io, &what, 2).await),
        Err(Bad::Usage(msg)) => {
            let lead = if msg.is_empty() {
                String::new()
            } else {
                format!("grep: {msg}\n")
            };
            complain(
                io,
                &format!("{lead}Usage: grep [OPTION]... PATTERNS [FILE]...\nTry 'grep --help' for more information.\n"),
            )
            .await;
            return Ok(2);
        }
    };
    if o.has('o') && (o.after > 0 || o.before > 0) {
        return refuse_option(ctx, io, "grep", "-o with context").await;
    }
    let re = match build_regex(&o) {
        Ok(r) => r,
        Err(what) => return Ok(ctx.refuse(io, &what, 2).await),
    };
    let any_dir = operands
        .iter()
        .any(|op| super::stat_path(ctx, op).is_ok_and(|m| m.is_dir()));
    let (files, failed) = files(ctx, &o, &operands, io).await;
    if files.iter().any(|(_, d)| d.contains(&0)) {
        return Ok(ctx.refuse(io, "grep on a binary file", 2).await);
    }
    let recursive_names = o.has('r') && (operands.is_empty() || any_dir);
    let show_name = o.has('H') || (!o.has('h') && (operands.len() > 1 || recursive_names));
    let invert = o.has('v');
    let listing = o.has('l') || o.has('L');
    let context = !(o.has('c') || listing || o.has('q')) && (o.after > 0 || o.before > 0);

    let mut text = String::new();
    let mut selected_any = false;
    // The last line printed (file index, line index), for the `--` between groups.
    let mut last_printed: Option<(usize, usize)> = None;
    for (f, (name, data)) in files.iter().enumerate() {
        let content = String::from_utf8_lossy(data);
        let lines: Vec<&str> = content.split_terminator('\n').collect();
        let prefix = |text: &mut String, n: usize, sep: char| {
            if show_name {
                let _ = write!(text, "{name}{sep}");
            }
            if o.has('n') {
                let _ = write!(text, "{}{sep}", n + 1);
            }
        };
        let mut count = 0usize;
        let mut after_left = 0usize;
        for (n, line) in lines.iter().enumerate() {
            let done = o.max.is_some_and(|m| count >= m);
            let selected = !done && re.is_match(line) != invert;
            if selected {
                count += 1;
                selected_any = true;
                if o.has('q') {
                    return Ok(0);
                }
                if o.has('c') || listing {
                    continue;
                }
                if context {
                    let from = n.saturating_sub(o.before);
                    let start = match last_printed {
                        Some((lf, ln)) if lf == f => from.max(ln + 1),
                        _ => from,
                    };
                    let joined =
                        matches!(last_printed, Some((lf, ln)) if lf == f && ln + 1 >= start);
                    if last_printed.is_some() && !joined {
                        text.push_str("--\n");
                    }
                    for (b, before) in lines.iter().enumerate().take(n).skip(start) {
                        prefix(&mut text, b, '-');
                        text.push_str(before);
                        text.push('\n');
                    }
                }
                if o.has('o') {
                    if !invert {
                        for m in re.find_iter(line).filter(|m| !m.as_str().is_empty()) {
                            prefix(&mut text, n, ':');
                            text.push_str(m.as_str());
                            text.push('\n');
                        }
                    }
                } else {
                    prefix(&mut text, n, ':');
                    text.push_str(line);
                    text.push('\n');
                }
                last_printed = Some((f, n));
                after_left = o.after;
            } else if context && after_left > 0 {
                prefix(&mut text, n, '-');
                text.push_str(line);
                text.push('\n');
                last_printed = Some((f, n));
                after_left -= 1;
            } else if done && after_left == 0 {
                break;
            }
        }
        if o.has('c') {
            if show_name {
                let _ = write!(text, "{name}:");
            }
            let _ = writeln!(text, "{count}");
        } else if (o.has('l') && count > 0) || (o.has('L') && count == 0) {
            let _ = writeln!(text, "{name}");
        }
    }
    io.stdout.write_str(&text).await?;
    // As grep 3.8 has it, also with -L: 0 when some line was selected.
    Ok(if failed {
        2
    } else if selected_any {
        0
    } else {
        1
    })
}
