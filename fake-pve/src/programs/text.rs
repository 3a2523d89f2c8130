//! Text: `echo`, `printf`, `head`, `tail`, `wc`, `sha256sum`, `md5sum`, `base64`, `seq`,
//! `yes`, `tee`.

use std::fmt::Write as _;

use crate::fs::WriteMode;
use crate::io::{BrokenPipe, Io};
use crate::proc::Ctx;

use base64::Engine as _;
use sha2::Digest as _;

use super::{ArgCursor, Status, complain, fail, inputs, refuse_option};
use crate::unix::{Escapes, unescape};

pub(super) async fn echo(args: &[String], io: &Io) -> Status {
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
        unescape(&joined, Escapes::BashEcho).0
    } else {
        joined.into_bytes()
    };
    if newline {
        bytes.push(b'\n');
    }
    io.stdout.write(&bytes).await?;
    Ok(0)
}

pub(super) async fn printf(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let Some(format) = args.first() else {
        return fail(io, "printf", "usage: printf format [arguments]", 2).await;
    };
    let format = unescape(format, Escapes::Printf).0;
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
            let precision: Option<usize> =
                spec.split_once('.').map(|(_, p)| p.parse().unwrap_or(0));
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
            let number = |a: &str| -> Option<i64> {
                let t = a.trim();
                if t.is_empty() {
                    return Some(0);
                }
                t.parse::<i64>().ok()
            };
            let n = if matches!(conv, b'd' | b'i' | b'u' | b'x' | b'X' | b'o') {
                match number(arg) {
                    Some(n) => n,
                    None => {
                        return Ok(ctx
                            .refuse(io, &format!("printf's answer to the number '{arg}'"), 2)
                            .await);
                    }
                }
            } else {
                0
            };
            let text: Vec<u8> = match conv {
                b'd' | b'i' | b'u' => n.to_string().into_bytes(),
                b'x' => format!("{n:x}").into_bytes(),
                b'X' => format!("{n:X}").into_bytes(),
                b'o' => format!("{n:o}").into_bytes(),
                b'c' => arg
                    .chars()
                    .next()
                    .map(String::from)
                    .unwrap_or_default()
                    .into_bytes(),
                b'b' => unescape(arg, Escapes::BashEcho).0,
                b'f' => match arg.trim().parse::<f64>() {
                    Ok(v) => format!("{v:.*}", precision.unwrap_or(6)).into_bytes(),
                    Err(_) if arg.trim().is_empty() => {
                        format!("{:.*}", precision.unwrap_or(6), 0.0).into_bytes()
                    }
                    Err(_) => {
                        return Ok(ctx
                            .refuse(io, &format!("printf's answer to the number '{arg}'"), 2)
                            .await);
                    }
                },
                b's' => match precision {
                    Some(p) => arg.chars().take(p).collect::<String>().into_bytes(),
                    None => arg.as_bytes().to_vec(),
                },
                other => {
                    return Ok(ctx
                        .refuse(io, &format!("printf %{}", other as char), 2)
                        .await);
                }
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

/// What `head`/`tail` were asked for.
pub(super) struct Count {
    pub n: i64,
    pub bytes: bool,
    /// `tail -n +N`: from line (or byte) N on.
    pub from_start: bool,
    /// `head -n -N`: all but the last N.
    pub all_but: bool,
    /// `-v` (always) or `-q` (never) print the `==> name <==` headers; by default
    /// they come with more than one file.
    pub headers: Option<bool>,
    pub files: Vec<String>,
}

/// Parses `-n N`, `-N`, `-nN`, `-c N`, `--lines=N`, `--bytes=N`, `-n +N`, `-n -N`,
/// `-q`/`--quiet`/`--silent`, `-v`/`--verbose` (also run together, `-qn1`); `Err`
/// names an option that is not emulated.
pub(super) fn count_args(args: &[String], default: i64) -> Result<Count, String> {
    let mut c = Count {
        n: default,
        bytes: false,
        from_start: false,
        all_but: false,
        headers: None,
        files: Vec::new(),
    };
    let mut i = 0;
    let value = |c: &mut Count, v: &str, opt: &str| -> Result<(), String> {
        let (sign, digits) = match (v.strip_prefix('+'), v.strip_prefix('-')) {
            (Some(d), _) => ('+', d),
            (_, Some(d)) => ('-', d),
            _ => (' ', v),
        };
        match digits.parse::<i64>() {
            Ok(n) if n >= 0 => {
                c.n = n;
                c.from_start = sign == '+';
                c.all_but = sign == '-';
                Ok(())
            }
            _ => Err(format!("{opt} {v}")),
        }
    };
    while i < args.len() {
        let mut a = args[i].as_str();
        match a {
            "--quiet" | "--silent" => {
                c.headers = Some(false);
                i += 1;
                continue;
            }
            "--verbose" => {
                c.headers = Some(true);
                i += 1;
                continue;
            }
            _ => {}
        }
        // Leading -q / -v letters, then what follows them as an option of its own.
        let owned;
        if a.starts_with('-') && !a.starts_with("--") && a.len() > 1 {
            let letters = &a[1..];
            let rest = letters.trim_start_matches(['q', 'v']);
            for l in letters[..letters.len() - rest.len()].chars() {
                c.headers = Some(l == 'v');
            }
            if rest.is_empty() {
                i += 1;
                continue;
            }
            owned = format!("-{rest}");
            a = owned.as_str();
        }
        if a == "-n" || a == "-c" {
            c.bytes = a == "-c";
            let v = args.get(i + 1).cloned().unwrap_or_default();
            value(&mut c, &v, a)?;
            i += 2;
            continue;
        }
        if a == "--" {
            c.files.extend(args[i + 1..].iter().cloned());
            break;
        }
        if let Some(v) = a
            .strip_prefix("--lines=")
            .or_else(|| a.strip_prefix("-n").filter(|v| !v.is_empty()))
        {
            value(&mut c, v, "-n")?;
        } else if let Some(v) = a
            .strip_prefix("--bytes=")
            .or_else(|| a.strip_prefix("-c").filter(|v| !v.is_empty()))
        {
            c.bytes = true;
            value(&mut c, v, "-c")?;
        } else if a.len() > 1 && a.starts_with('-') && a[1..].chars().all(|c| c.is_ascii_digit()) {
            c.n = a[1..].parse().unwrap_or(default);
        } else if a.len() > 1 && a.starts_with('-') {
            return Err(a.to_string());
        } else {
            c.files.push(a.to_string());
        }
        i += 1;
    }
    Ok(c)
}

/// Writes the `==> name <==` header before a file's part, as head and tail do (a
/// blank line before every header but the first).
async fn header(io: &Io, name: &str, first: bool) -> Result<(), BrokenPipe> {
    let name = if name == "-" { "standard input" } else { name };
    let gap = if first { "" } else { "\n" };
    io.stdout.write_str(&format!("{gap}==> {name} <==\n")).await
}

pub(super) async fn head(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let c = match count_args(args, 10) {
        Ok(c) if !c.from_start => c,
        Ok(_) => return refuse_option(ctx, io, "head", "-n +N").await,
        Err(o) => return refuse_option(ctx, io, "head", &o).await,
    };
    let (n, bytes, files) = (c.n, c.bytes, c.files);
    let n = n.max(0) as usize;
    let headers = c.headers.unwrap_or(files.len() > 1);
    if files.is_empty() && !c.all_but && !headers {
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
    for (k, (name, data)) in ins.iter().enumerate() {
        if headers {
            header(io, name, k == 0).await?;
        }
        let end = if c.all_but {
            before_last(data, n, bytes)
        } else {
            after_first(data, n, bytes)
        };
        io.stdout.write(&data[..end]).await?;
    }
    Ok(i32::from(failed))
}

/// Where `data`'s last `count` lines (bytes, with `bytes`) begin: 0 when it has
/// fewer. A last line without a newline counts as a line.
fn before_last(data: &[u8], count: usize, bytes: bool) -> usize {
    if bytes {
        return data.len().saturating_sub(count);
    }
    if count == 0 {
        return data.len();
    }
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    let newlines: Vec<usize> = body
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i)
        .collect();
    if newlines.len() < count {
        0
    } else {
        newlines[newlines.len() - count] + 1
    }
}

/// Where `data` goes on after its first `count` lines (bytes, with `bytes`): its end
/// when it is shorter.
fn after_first(data: &[u8], count: usize, bytes: bool) -> usize {
    if bytes || count == 0 {
        return count.min(data.len());
    }
    data.iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(count - 1)
        .map_or(data.len(), |(i, _)| i + 1)
}

pub(super) async fn tail(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let c = match count_args(args, 10) {
        Ok(c) => c,
        Err(o) => return refuse_option(ctx, io, "tail", &o).await,
    };
    // `tail -n -N` is `tail -n N`.
    let (n, bytes, files) = (c.n.max(0) as usize, c.bytes, c.files);
    let headers = c.headers.unwrap_or(files.len() > 1);
    let (ins, failed) = inputs(ctx, "tail", &files, io).await;
    for (k, (name, data)) in ins.iter().enumerate() {
        if headers {
            header(io, name, k == 0).await?;
        }
        let start = if c.from_start {
            after_first(data, n.saturating_sub(1), bytes)
        } else {
            before_last(data, n, bytes)
        };
        io.stdout.write(&data[start..]).await?;
    }
    Ok(i32::from(failed))
}

pub(super) async fn wc(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (flags, files) = known_flags!(ctx, io, "wc", args, "lwc");
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
    // coreutils sizes the columns by the total size of the named files; 7 for stdin.
    let width = if single && ins.len() <= 1 {
        0
    } else if files.is_empty() || files.iter().any(|f| f == "-") {
        7
    } else {
        let total: usize = ins.iter().map(|(_, d)| d.len()).sum();
        total.to_string().len()
    };
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

/// `sha256sum`, `sha1sum` and `md5sum` (by the name called); `-c` is not emulated.
pub(super) async fn sha256sum(ctx: &Ctx, prog: &str, args: &[String], io: &Io) -> Status {
    let (_, files) = known_flags!(ctx, io, prog, args, "");
    let (ins, failed) = inputs(ctx, prog, &files, io).await;
    let mut text = String::new();
    for (name, data) in ins {
        let digest: Vec<u8> = match prog {
            "sha1sum" => {
                use sha1::Digest as _;
                sha1::Sha1::digest(&data).to_vec()
            }
            "md5sum" => md5::Md5::digest(&data).to_vec(),
            _ => sha2::Sha256::digest(&data).to_vec(),
        };
        for b in digest {
            let _ = write!(text, "{b:02x}");
        }
        let _ = writeln!(text, "  {name}");
    }
    io.stdout.write_str(&text).await?;
    Ok(i32::from(failed))
}

pub(super) async fn base64_cmd(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let mut decode = false;
    let mut wrap = 76usize;
    let mut files = Vec::new();
    let mut opts = ArgCursor::new(args);
    while let Some(a) = opts.next() {
        match a {
            "-d" | "--decode" => decode = true,
            "-w" | "--wrap" => match opts.value().and_then(|v| v.parse().ok()) {
                Some(n) => wrap = n,
                None => return refuse_option(ctx, io, "base64", "-w without a number").await,
            },
            _ if a.starts_with("--wrap=") => match a[7..].parse() {
                Ok(n) => wrap = n,
                Err(_) => return refuse_option(ctx, io, "base64", a).await,
            },
            _ if a.starts_with('-') && a != "-" => {
                return refuse_option(ctx, io, "base64", a).await;
            }
            _ => files.push(a.to_string()),
        }
    }
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
        if wrap == 0 {
            text = encoded;
        } else {
            for chunk in encoded.as_bytes().chunks(wrap) {
                text.push_str(std::str::from_utf8(chunk).unwrap_or(""));
                text.push('\n');
            }
        }
        io.stdout.write_str(&text).await?;
        Ok(0)
    }
}

pub(super) async fn seq(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let nums: Vec<i64> = match args.iter().map(|a| a.parse::<i64>()).collect() {
        Ok(n) => n,
        Err(_) => return refuse_option(ctx, io, "seq", &args.join(" ")).await,
    };
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

pub(super) async fn yes(args: &[String], io: &Io) -> Status {
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

pub(super) async fn tee(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let (flags, files) = known_flags!(ctx, io, "tee", args, "a");
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
                complain(io, &format!("tee: {f}: {e}\n")).await;
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
