//! Line filters: `sed` (a subset), `cut`, `tr`, `sort`, `uniq`. What they do not
//! emulate (a sed command, an option) is refused loudly.

use std::cmp::Ordering;
use std::fmt::Write as _;

use regex_lite::Regex;

use crate::fs::WriteMode;
use crate::io::Io;
use crate::proc::Ctx;
use crate::unix::posix_regex;

use super::{ArgCursor, Status, complain, inputs, refuse_option, usage};

/// Splits into lines, each without its newline; whether the last one had one.
fn lines(data: &[u8]) -> (Vec<String>, bool) {
    let text = String::from_utf8_lossy(data);
    let ends = text.ends_with('\n');
    let mut v: Vec<String> = text.split('\n').map(str::to_string).collect();
    if ends || text.is_empty() {
        v.pop();
    }
    (v, ends)
}

fn joined(lines: &[String], last_newline: bool) -> String {
    let mut s = lines.join("\n");
    if !lines.is_empty() && last_newline {
        s.push('\n');
    }
    s
}

// ---- sed ----

#[derive(Debug, Clone)]
enum Addr {
    Line(usize),
    Last,
    Re(Regex),
}

#[derive(Debug, Clone)]
enum Cmd {
    Subst {
        re: Regex,
        rep: String,
        global: bool,
        print: bool,
    },
    Print,
    Delete,
    Quit,
    Translate(Vec<char>, Vec<char>),
}

#[derive(Debug, Clone)]
struct SedCmd {
    from: Option<Addr>,
    to: Option<Addr>,
    negate: bool,
    cmd: Cmd,
}

/// Parses a sed script; `Err` names what is not emulated.
fn parse_sed(script: &str, extended: bool) -> Result<Vec<SedCmd>, String> {
    let chars: Vec<char> = script.chars().collect();
    let mut i = 0;
    let mut cmds = Vec::new();
    let regex = |src: &str| -> Result<Regex, String> {
        let src = posix_regex(src, extended)?;
        Regex::new(&src).map_err(|e| e.to_string())
    };
    // Reads up to an unescaped `delim`; an escaped delimiter becomes itself.
    let until = |i: &mut usize, delim: char| -> Result<String, String> {
        let mut s = String::new();
        while *i < chars.len() {
            let c = chars[*i];
            if c == '\\' && *i + 1 < chars.len() {
                if chars[*i + 1] == delim {
                    s.push(delim);
                } else {
                    s.push('\\');
                    s.push(chars[*i + 1]);
                }
                *i += 2;
                continue;
            }
            if c == delim {
                *i += 1;
                return Ok(s);
            }
            s.push(c);
            *i += 1;
        }
        Err("an unterminated sed command".into())
    };
    let addr = |i: &mut usize| -> Result<Option<Addr>, String> {
        match chars.get(*i) {
            Some(c) if c.is_ascii_digit() => {
                let mut n = 0usize;
                while let Some(d) = chars.get(*i).and_then(|c| c.to_digit(10)) {
                    n = n * 10 + d as usize;
                    *i += 1;
                }
                Ok(Some(Addr::Line(n)))
            }
            Some('$') => {
                *i += 1;
                Ok(Some(Addr::Last))
            }
            Some('/') => {
                *i += 1;
                let src = until(i, '/')?;
                Ok(Some(Addr::Re(regex(&src)?)))
            }
            _ => Ok(None),
        }
    };
    while i < chars.len() {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == ';') {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        let from = addr(&mut i)?;
        let mut to = None;
        if from.is_some() && chars.get(i) == Some(&',') {
            i += 1;
            to = addr(&mut i)?;
            if to.is_none() {
                return Err("this sed address".into());
            }
        }
        let mut negate = false;
        while chars.get(i) == Some(&'!') || chars.get(i) == Some(&' ') {
            negate |= chars[i] == '!';
            i += 1;
        }
        let Some(&c) = chars.get(i) else {
            return Err("a sed address without a command".into());
        };
        i += 1;
        let cmd = match c {
            's' => {
                let delim = *chars.get(i).ok_or("an unterminated s command")?;
                i += 1;
                let src = until(&mut i, delim)?;
                let rep = until(&mut i, delim)?;
                let (mut global, mut print) = (false, false);
                while let Some(&f) = chars.get(i) {
                    match f {
                        'g' => global = true,
                        'p' => print = true,
                        ';' | '\n' | ' ' | '}' => break,
                        other => return Err(format!("the s///{other} flag")),
                    }
                    i += 1;
                }
                Cmd::Subst {
                    re: regex(&src)?,
                    rep,
                    global,
                    print,
                }
            }
            'y' => {
                let delim = *chars.get(i).ok_or("an unterminated y command")?;
                i += 1;
                let a: Vec<char> = until(&mut i, delim)?.chars().collect();
                let b: Vec<char> = until(&mut i, delim)?.chars().collect();
                if a.len() != b.len() {
                    return Err("y with strings of different lengths".into());
                }
                Cmd::Translate(a, b)
            }
            'p' => Cmd::Print,
            'd' => Cmd::Delete,
            'q' => Cmd::Quit,
            other => return Err(format!("the command '{other}'")),
        };
        cmds.push(SedCmd {
            from,
            to,
            negate,
            cmd,
        });
    }
    Ok(cmds)
}

/// The replacement text for one match: `&`, `\1`…`\9`, `\n`, `\\`.
fn expand_rep(rep: &str, caps: &regex_lite::Captures<'_>) -> String {
    let mut out = String::new();
    let mut chars = rep.chars();
    while let Some(c) = chars.next() {
        match c {
            '&' => out.push_str(caps.get(0).map_or("", |m| m.as_str())),
            '\\' => match chars.next() {
                Some(d @ '0'..='9') => {
                    let n = d.to_digit(10).unwrap_or(0) as usize;
                    out.push_str(caps.get(n).map_or("", |m| m.as_str()));
                }
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(o) => out.push(o),
                None => out.push('\\'),
            },
            o => out.push(o),
        }
    }
    out
}

fn matches(addr: &Addr, n: usize, last: bool, line: &str) -> bool {
    match addr {
        Addr::Line(k) => *k == n,
        Addr::Last => last,
        Addr::Re(re) => re.is_match(line),
    }
}

/// Runs the script over the lines; the output text.
fn run_sed(cmds: &[SedCmd], input: &[String], last_newline: bool, quiet: bool) -> String {
    let mut out = String::new();
    let mut active = vec![false; cmds.len()];
    let total = input.len();
    'lines: for (idx, line) in input.iter().enumerate() {
        let n = idx + 1;
        let last = n == total;
        let mut space = line.clone();
        for (ci, c) in cmds.iter().enumerate() {
            let selected = match (&c.from, &c.to) {
                (None, _) => true,
                (Some(a), None) => matches(a, n, last, &space),
                (Some(a), Some(b)) => {
                    if active[ci] {
                        let end = match b {
                            Addr::Line(k) => n >= *k,
                            other => matches(other, n, last, &space),
                        };
                        if end {
                            active[ci] = false;
                        }
                        true
                    } else if matches(a, n, last, &space) {
                        let end_now = matches!(b, Addr::Line(k) if *k <= n);
                        active[ci] = !end_now;
                        true
                    } else {
                        false
                    }
                }
            };
            if selected == c.negate {
                continue;
            }
            match &c.cmd {
                Cmd::Subst {
                    re,
                    rep,
                    global,
                    print,
                } => {
                    if re.is_match(&space) {
                        space = if *global {
                            re.replace_all(&space, |caps: &regex_lite::Captures<'_>| {
                                expand_rep(rep, caps)
                            })
                            .into_owned()
                        } else {
                            re.replace(&space, |caps: &regex_lite::Captures<'_>| {
                                expand_rep(rep, caps)
                            })
                            .into_owned()
                        };
                        if *print {
                            out.push_str(&space);
                            out.push('\n');
                        }
                    }
                }
                Cmd::Print => {
                    out.push_str(&space);
                    out.push('\n');
                }
                Cmd::Delete => continue 'lines,
                Cmd::Quit => {
                    if !quiet {
                        out.push_str(&space);
                        if !last || last_newline {
                            out.push('\n');
                        }
                    }
                    return out;
                }
                Cmd::Translate(a, b) => {
                    space = space
                        .chars()
                        .map(|ch| a.iter().position(|x| *x == ch).map_or(ch, |p| b[p]))
                        .collect();
                }
            }
        }
        if !quiet {
            out.push_str(&space);
            if !last || last_newline {
                out.push('\n');
            }
        }
    }
    out
}

pub(super) async fn sed(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let mut quiet = false;
    let mut extended = false;
    let mut in_place = false;
    let mut scripts: Vec<String> = Vec::new();
    let mut files = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        match a {
            "-n" | "--quiet" | "--silent" => quiet = true,
            "-E" | "-r" | "--regexp-extended" => extended = true,
            "-i" => in_place = true,
            "-e" | "--expression" => {
                i += 1;
                match args.get(i) {
                    Some(s) => scripts.push(s.clone()),
                    None => return usage(io, "sed", "option requires an argument -- 'e'", 1).await,
                }
            }
            "--" => {
                files.extend(args[i + 1..].iter().cloned());
                break;
            }
            _ if a.starts_with('-') && a.len() > 1 => {
                // Combined short flags such as `-ne` or `-nE`.
                let flags = &a[1..];
                if flags.chars().all(|c| "nEri".contains(c)) {
                    quiet |= flags.contains('n');
                    extended |= flags.contains('E') || flags.contains('r');
                    in_place |= flags.contains('i');
                } else {
                    return refuse_option(ctx, io, "sed", a).await;
                }
            }
            _ => files.push(a.to_string()),
        }
        i += 1;
    }
    if scripts.is_empty() {
        if files.is_empty() {
            return usage(io, "sed", "no script specified", 1).await;
        }
        scripts.push(files.remove(0));
    }
    let script = scripts.join("\n");
    let cmds = match parse_sed(&script, extended) {
        Ok(c) => c,
        Err(what) => return refuse_option(ctx, io, "sed", &what).await,
    };
    if in_place {
        if files.is_empty() {
            return usage(io, "sed", "no input files", 1).await;
        }
        let mut status = 0;
        for f in &files {
            match super::read_file(ctx, f) {
                Ok(data) => {
                    let (ls, nl) = lines(&data);
                    let text = run_sed(&cmds, &ls, nl, quiet);
                    let t = ctx.file(f);
                    let _ = t.open(WriteMode::Truncate);
                    let _ = t.with_fs(|fs| fs.write_at(&t.path, 0, text.as_bytes()));
                }
                Err(e) => {
                    status = 4;
                    complain(io, &format!("sed: can't read {f}: {e}\n")).await;
                }
            }
        }
        return Ok(status);
    }
    let (ins, failed) = inputs(ctx, "sed", &files, io).await;
    // sed reads its files as one stream.
    let mut all = Vec::new();
    let mut nl = true;
    for (_, data) in &ins {
        let (ls, ends) = lines(data);
        all.extend(ls);
        nl = ends || data.is_empty() && nl;
    }
    let text = run_sed(&cmds, &all, nl, quiet);
    io.stdout.write_str(&text).await?;
    Ok(if failed { 2 } else { 0 })
}

// ---- cut ----

/// A cut list (`1,3`, `2-4`, `3-`, `-2`) as inclusive ranges from 1.
fn cut_list(spec: &str) -> Option<Vec<(usize, usize)>> {
    spec.split(',')
        .map(|part| {
            let (a, b) = match part.split_once('-') {
                Some((a, b)) => (a, b),
                None => (part, part),
            };
            let a = if a.is_empty() { 1 } else { a.parse().ok()? };
            let b = if b.is_empty() {
                usize::MAX
            } else {
                b.parse().ok()?
            };
            (a >= 1 && a <= b).then_some((a, b))
        })
        .collect()
}

pub(super) async fn cut(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let mut delim = '\t';
    let mut fields: Option<Vec<(usize, usize)>> = None;
    let mut chars_mode = false;
    let mut files = Vec::new();
    let mut opts = ArgCursor::new(args);
    while let Some(a) = opts.next() {
        let (opt, inline) = if a.starts_with('-') && a.len() > 2 && !a.starts_with("--") {
            (&a[..2], Some(a[2..].to_string()))
        } else {
            (a, None)
        };
        let mut value = || inline.clone().or_else(|| opts.value().cloned());
        match opt {
            "-d" => match value() {
                Some(d) if d.chars().count() == 1 => delim = d.chars().next().unwrap_or('\t'),
                _ => return usage(io, "cut", "the delimiter must be a single character", 1).await,
            },
            "-f" | "-c" | "-b" => {
                chars_mode = opt != "-f";
                match value().as_deref().and_then(cut_list) {
                    Some(l) => fields = Some(l),
                    None => return usage(io, "cut", "invalid field range", 1).await,
                }
            }
            _ if a.starts_with('-') && a != "-" => return refuse_option(ctx, io, "cut", a).await,
            _ => files.push(a.to_string()),
        }
    }
    let Some(list) = fields else {
        return usage(
            io,
            "cut",
            "you must specify a list of bytes, characters, or fields",
            1,
        )
        .await;
    };
    let want = |n: usize| list.iter().any(|(a, b)| n >= *a && n <= *b);
    let (ins, failed) = inputs(ctx, "cut", &files, io).await;
    let mut text = String::new();
    for (_, data) in &ins {
        for line in lines(data).0 {
            if chars_mode {
                let s: String = line
                    .chars()
                    .enumerate()
                    .filter(|(k, _)| want(k + 1))
                    .map(|(_, c)| c)
                    .collect();
                text.push_str(&s);
            } else if !line.contains(delim) {
                text.push_str(&line);
            } else {
                let parts: Vec<&str> = line
                    .split(delim)
                    .enumerate()
                    .filter(|(k, _)| want(k + 1))
                    .map(|(_, p)| p)
                    .collect();
                text.push_str(&parts.join(&delim.to_string()));
            }
            text.push('\n');
        }
    }
    io.stdout.write_str(&text).await?;
    Ok(i32::from(failed))
}

// ---- tr ----

/// A tr set: ranges, escapes and the common classes.
fn tr_set(spec: &str) -> Option<Vec<char>> {
    let mut out = Vec::new();
    let chars: Vec<char> = spec.chars().collect();
    let mut i = 0;
    let mut prev: Vec<char> = Vec::new();
    while i < chars.len() {
        if chars[i] == '[' && chars.get(i + 1) == Some(&':') {
            let rest: String = chars[i..].iter().collect();
            let end = rest.find(":]")?;
            let class = &rest[2..end];
            let members: Vec<char> = (0u8..128)
                .map(char::from)
                .filter(|c| match class {
                    "upper" => c.is_ascii_uppercase(),
                    "lower" => c.is_ascii_lowercase(),
                    "digit" => c.is_ascii_digit(),
                    "alpha" => c.is_ascii_alphabetic(),
                    "alnum" => c.is_ascii_alphanumeric(),
                    "space" => c.is_ascii_whitespace() || *c == '\x0b',
                    "blank" => *c == ' ' || *c == '\t',
                    "punct" => c.is_ascii_punctuation(),
                    _ => false,
                })
                .collect();
            if members.is_empty() {
                return None;
            }
            out.extend(members);
            i += end + 2;
            prev.clear();
            continue;
        }
        let c = if chars[i] == '\\' && i + 1 < chars.len() {
            i += 1;
            match chars[i] {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                '\\' => '\\',
                o => o,
            }
        } else {
            chars[i]
        };
        i += 1;
        if chars.get(i) == Some(&'-') && i + 1 < chars.len() {
            let end = chars[i + 1];
            i += 2;
            if end < c {
                return None;
            }
            out.extend((c as u32..=end as u32).filter_map(char::from_u32));
        } else {
            out.push(c);
        }
        prev.push(c);
    }
    Some(out)
}

/// Turns on the switch of each letter of a bundle like `-nru`; `false` at the first
/// letter that has none.
fn set_switches(bundle: &str, switches: &mut [(char, &mut bool)]) -> bool {
    bundle[1..].chars().all(|c| {
        let switch = switches.iter_mut().find(|(letter, _)| *letter == c);
        switch.map(|(_, on)| **on = true).is_some()
    })
}

pub(super) async fn tr(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (mut delete, mut squeeze) = (false, false);
    let mut sets = Vec::new();
    for a in args {
        if a.starts_with('-') && a.len() > 1 && sets.is_empty() {
            if !set_switches(a, &mut [('d', &mut delete), ('s', &mut squeeze)]) {
                return refuse_option(ctx, io, "tr", a).await;
            }
        } else {
            sets.push(a.clone());
        }
    }
    let parsed: Option<Vec<Vec<char>>> = sets.iter().map(|s| tr_set(s)).collect();
    let Some(parsed) = parsed else {
        return refuse_option(ctx, io, "tr", "this set").await;
    };
    let need = if delete && !squeeze {
        1
    } else if delete || !squeeze {
        2
    } else {
        1
    };
    if parsed.len() < need || parsed.len() > 2 {
        return usage(io, "tr", "missing operand", 1).await;
    }
    let data = io.stdin.read_all().await;
    let text = String::from_utf8_lossy(&data);
    let mut out = String::new();
    let translate = !delete && parsed.len() == 2;
    let squeeze_set: &[char] = if parsed.len() == 2 {
        &parsed[1]
    } else {
        &parsed[0]
    };
    for c in text.chars() {
        if delete && parsed[0].contains(&c) {
            continue;
        }
        let c = if translate {
            match parsed[0].iter().rposition(|x| *x == c) {
                Some(p) => *parsed[1].get(p).or(parsed[1].last()).unwrap_or(&c),
                None => c,
            }
        } else {
            c
        };
        if squeeze && squeeze_set.contains(&c) && out.ends_with(c) {
            continue;
        }
        out.push(c);
    }
    io.stdout.write_str(&out).await?;
    Ok(0)
}

// ---- sort ----

/// The leading number of a key as `sort -n` reads it.
fn numeric(key: &str) -> f64 {
    let t = key.trim_start();
    let end = t
        .char_indices()
        .take_while(|(i, c)| c.is_ascii_digit() || *c == '.' || (*i == 0 && *c == '-'))
        .map(|(i, c)| i + c.len_utf8())
        .last()
        .unwrap_or(0);
    t[..end].parse().unwrap_or(0.0)
}

/// Field `n` (from 1) to the end of the line, fields starting at a blank-to-nonblank
/// transition (leading blanks belong to the field), or split on `sep`.
fn key_from(line: &str, n: usize, sep: Option<char>) -> &str {
    if n <= 1 {
        return line;
    }
    match sep {
        Some(s) => line
            .match_indices(s)
            .nth(n - 2)
            .map_or("", |(i, _)| &line[i + s.len_utf8()..]),
        None => {
            let b = line.as_bytes();
            let mut field = 1;
            let mut i = 0;
            while i < b.len() {
                while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
                    i += 1;
                }
                while i < b.len() && b[i] != b' ' && b[i] != b'\t' {
                    i += 1;
                }
                field += 1;
                if field == n {
                    return &line[i..];
                }
            }
            ""
        }
    }
}

pub(super) async fn sort(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (mut num, mut rev, mut uniq) = (false, false, false);
    let mut key: Option<usize> = None;
    let mut sep: Option<char> = None;
    let mut files = Vec::new();
    let mut opts = ArgCursor::new(args);
    while let Some(a) = opts.next() {
        match a {
            "-k" | "-t" => {
                let Some(v) = opts.value() else {
                    return usage(io, "sort", "option requires an argument", 2).await;
                };
                if a == "-t" {
                    sep = v.chars().next();
                } else {
                    match v.parse::<usize>() {
                        Ok(n) if n >= 1 => key = Some(n),
                        _ => return refuse_option(ctx, io, "sort", &format!("-k {v}")).await,
                    }
                }
            }
            _ if a.starts_with("-t") && a.chars().count() == 3 => sep = a[2..].chars().next(),
            _ if a.starts_with("-k") => match a[2..].parse::<usize>() {
                Ok(n) if n >= 1 => key = Some(n),
                _ => return refuse_option(ctx, io, "sort", a).await,
            },
            _ if a.starts_with('-') && a.len() > 1 => {
                if !set_switches(a, &mut [('n', &mut num), ('r', &mut rev), ('u', &mut uniq)]) {
                    return refuse_option(ctx, io, "sort", a).await;
                }
            }
            _ => files.push(a.to_string()),
        }
    }
    let (ins, failed) = inputs(ctx, "sort", &files, io).await;
    if failed {
        return Ok(2);
    }
    let mut all: Vec<String> = ins.iter().flat_map(|(_, d)| lines(d).0).collect();
    let k = key.unwrap_or(1);
    let cmp_key = |a: &str, b: &str| -> Ordering {
        let (ka, kb) = (key_from(a, k, sep), key_from(b, k, sep));
        if num {
            numeric(ka)
                .partial_cmp(&numeric(kb))
                .unwrap_or(Ordering::Equal)
        } else {
            ka.as_bytes().cmp(kb.as_bytes())
        }
    };
    all.sort_by(|a, b| {
        let o = cmp_key(a, b).then_with(|| a.as_bytes().cmp(b.as_bytes()));
        if rev { o.reverse() } else { o }
    });
    if uniq {
        all.dedup_by(|a, b| cmp_key(a, b) == Ordering::Equal);
    }
    io.stdout.write_str(&joined(&all, true)).await?;
    Ok(0)
}

// ---- uniq ----

pub(super) async fn uniq(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (mut count, mut dups, mut uniques) = (false, false, false);
    let mut files = Vec::new();
    for a in args {
        if a.starts_with('-') && a.len() > 1 {
            if !set_switches(
                a,
                &mut [('c', &mut count), ('d', &mut dups), ('u', &mut uniques)],
            ) {
                return refuse_option(ctx, io, "uniq", a).await;
            }
        } else {
            files.push(a.clone());
        }
    }
    if files.len() > 1 {
        return refuse_option(ctx, io, "uniq", "an output file").await;
    }
    let (ins, failed) = inputs(ctx, "uniq", &files, io).await;
    if failed {
        return Ok(1);
    }
    let all: Vec<String> = ins.iter().flat_map(|(_, d)| lines(d).0).collect();
    let mut text = String::new();
    let mut i = 0;
    while i < all.len() {
        let mut j = i + 1;
        while j < all.len() && all[j] == all[i] {
            j += 1;
        }
        let n = j - i;
        let show = (!dups || n > 1) && (!uniques || n == 1);
        if show {
            if count {
                let _ = writeln!(text, "{n:>7} {}", all[i]);
            } else {
                let _ = writeln!(text, "{}", all[i]);
            }
        }
        i = j;
    }
    io.stdout.write_str(&text).await?;
    Ok(0)
}
