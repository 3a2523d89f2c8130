//! `awk` (and `mawk`): Debian's awk, mawk 1.3.4, for the programs typed on a server:
//! `awk [-F fs] [-v var=val]... ['prog' | -f file] [file | var=val]...`, with
//! BEGIN/END, patterns and ranges, fields, arrays, user functions, printf and the
//! string built-ins. A lexer, a parser to a tree and a tree-walking evaluator, over
//! strings of bytes (one char per byte). What it does not emulate (getline, pipes,
//! system(), rand(), for-in over several elements, whose order is mawk's hash
//! order, …) is refused loudly.

mod format;
mod interp;
mod lex;
mod parse;
mod re;

use crate::fs::{FsError, WriteMode};
use crate::io::{Io, Output};
use crate::proc::Ctx;

use super::{Status, complain, fail, read_file};
use format::{bytes, latin1};
use interp::{Interp, Stop, Val};
use lex::CompileError;

const USAGE: &str = include_str!("usage.txt");

/// mawk's escapes in -v values, -F and var=val operands.
fn unescape(s: &str) -> Result<String, String> {
    let c: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < c.len() {
        if c[i] != '\\' || i + 1 >= c.len() {
            out.push(c[i]);
            i += 1;
            continue;
        }
        if c[i + 1] == '/' || c[i + 1] == 'x' {
            return Err("this escape in an awk command-line value".into());
        }
        match re::escape_char(&c, i + 1) {
            Some((ch, used)) => {
                out.push(ch);
                i += 1 + used;
            }
            None => {
                out.push('\\');
                i += 1;
            }
        }
    }
    Ok(out)
}

/// `name=value` as an assignment operand, if it is one.
fn assignment(arg: &str) -> Option<(&str, &str)> {
    let (name, value) = arg.split_once('=')?;
    let mut it = name.chars();
    let first = it.next()?;
    (first.is_ascii_alphabetic() || first == '_')
        .then_some(())
        .filter(|()| it.all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .map(|()| (name, value))
}

/// Where records come from: a whole file, or stdin read as needed.
struct Reader {
    buf: Vec<u8>,
    pos: usize,
    eof: bool,
    stdin: bool,
}

impl Reader {
    async fn fill(&mut self, io: &Io) -> bool {
        if self.eof || !self.stdin {
            self.eof = true;
            return false;
        }
        match io.stdin.read_chunk().await {
            Some(chunk) => {
                if self.pos > 0 {
                    self.buf.drain(..self.pos);
                    self.pos = 0;
                }
                self.buf.extend_from_slice(&chunk);
                true
            }
            None => {
                self.eof = true;
                false
            }
        }
    }

    async fn next(&mut self, io: &Io, paragraph: bool) -> Option<String> {
        if paragraph {
            while self.fill(io).await {}
            let rest = &self.buf[self.pos..];
            let skip = rest.iter().take_while(|&&b| b == b'\n').count();
            self.pos += skip;
            let rest = &self.buf[self.pos..];
            if rest.is_empty() {
                return None;
            }
            let end = rest.windows(2).position(|w| w == b"\n\n");
            let (rec, used) = match end {
                Some(e) => (&rest[..e], e),
                None => {
                    let t = rest.len() - rest.iter().rev().take_while(|&&b| b == b'\n').count();
                    (&rest[..t], rest.len())
                }
            };
            let rec = latin1(rec);
            self.pos += used;
            return Some(rec);
        }
        let mut scanned = 0;
        loop {
            let rest = &self.buf[self.pos..];
            if let Some(n) = rest[scanned..].iter().position(|&b| b == b'\n') {
                let rec = latin1(&rest[..scanned + n]);
                self.pos += scanned + n + 1;
                return Some(rec);
            }
            scanned = rest.len();
            if !self.fill(io).await {
                let rest = &self.buf[self.pos..];
                if rest.is_empty() {
                    return None;
                }
                let rec = latin1(rest);
                self.pos = self.buf.len();
                return Some(rec);
            }
        }
    }
}

/// Output files opened by the program: name, whether opened yet, how.
struct Opened(Vec<(String, crate::io::FileTarget)>);

/// Writes what the program printed; `Err` on a closed stdout.
async fn flush(
    ctx: &Ctx,
    io: &Io,
    it: &mut Interp<'_>,
    opened: &mut Opened,
) -> Result<Result<(), String>, crate::io::BrokenPipe> {
    if !it.out.is_empty() {
        let data = std::mem::take(&mut it.out);
        io.stdout.write(&data).await?;
    }
    for (name, data) in std::mem::take(&mut it.files) {
        if name == "/dev/stderr" {
            let _ = io.stderr.write(&data).await;
            continue;
        }
        let path = String::from_utf8_lossy(&bytes(&name)).into_owned();
        if !opened.0.iter().any(|(n, _)| *n == name) {
            let how = match it.modes.iter().find(|(n, _)| *n == name) {
                Some((_, parse::Redir::Append)) => WriteMode::Append,
                _ => WriteMode::Truncate,
            };
            let t = ctx.file(&path);
            if let Err(e) = t.open(how) {
                return Ok(Err(format!("awk output to {path} ({e})")));
            }
            opened.0.push((name.clone(), t));
        }
        if let Some((_, t)) = opened.0.iter().find(|(n, _)| *n == name) {
            Output::File(t.clone()).write(&data).await?;
        }
    }
    Ok(Ok(()))
}

pub(crate) async fn awk(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let mut fs: Option<String> = None;
    let mut assigns: Vec<(String, String)> = Vec::new();
    let mut progfile: Option<String> = None;
    let mut i = 0;
    if args.is_empty() {
        complain(io, USAGE).await;
        return Ok(0);
    }
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            i += 1;
            break;
        }
        if !a.starts_with('-') || a == "-" {
            break;
        }
        let opt = a.chars().nth(1).unwrap_or('-');
        let rest: String = a.chars().skip(2).collect();
        match opt {
            'F' | 'v' | 'f' => {
                let value = if rest.is_empty() {
                    i += 1;
                    match args.get(i) {
                        Some(v) => v.clone(),
                        None => {
                            return fail(io, "awk", &format!("option -{opt} lacks argument"), 2)
                                .await;
                        }
                    }
                } else {
                    rest
                };
                match opt {
                    'F' => fs = Some(value),
                    'v' => match assignment(&value) {
                        Some((n, v)) => assigns.push((n.to_string(), v.to_string())),
                        None => {
                            return fail(io, "awk", &format!("improper assignment: -v {value}"), 2)
                                .await;
                        }
                    },
                    _ => {
                        if progfile.is_some() {
                            return Ok(ctx.refuse(io, "awk with several -f", 2).await);
                        }
                        progfile = Some(value);
                    }
                }
            }
            'W' => return Ok(ctx.refuse(io, "awk -W", 2).await),
            _ => return fail(io, "awk", &format!("not an option: {a}"), 2).await,
        }
        i += 1;
    }
    let (source, prefix) = match &progfile {
        Some(f) => match read_file(ctx, f) {
            Ok(data) => (latin1(&data), format!("{f}: ")),
            Err(FsError::NotFound) => {
                return fail(
                    io,
                    "awk",
                    &format!("cannot open {f} (No such file or directory)"),
                    2,
                )
                .await;
            }
            Err(_) => return Ok(ctx.refuse(io, &format!("awk -f {f}"), 2).await),
        },
        None => match args.get(i) {
            Some(p) => {
                i += 1;
                (latin1(p.as_bytes()), String::new())
            }
            None => return Ok(ctx.refuse(io, "awk without a program", 2).await),
        },
    };
    let operands: Vec<String> = args[i..].iter().map(|a| latin1(a.as_bytes())).collect();
    let prog = match parse::parse(&source) {
        Ok(p) => p,
        Err(CompileError::Message(m)) => return fail(io, "awk", &format!("{prefix}{m}"), 2).await,
        Err(CompileError::Refuse(what)) => return Ok(ctx.refuse(io, &what, 2).await),
    };
    let env: Vec<(String, String)> = ctx
        .env
        .iter()
        .map(|(k, v)| (latin1(k.as_bytes()), latin1(v.as_bytes())))
        .collect();
    let mut it = Interp::new(&prog, &env);
    let global = |name: &str| prog.globals.iter().position(|g| g == name);
    let mut setup = || -> Result<(), String> {
        if let Some(f) = &fs {
            let f = unescape(&latin1(f.as_bytes()))?;
            it.assign_global(parse::FS, Val::Str(f))
                .map_err(|e| format!("{e:?}"))?;
        }
        for (n, v) in &assigns {
            let v = unescape(&latin1(v.as_bytes()))?;
            if let Some(g) = global(n) {
                it.assign_global(g, Val::Input(v))
                    .map_err(|e| format!("{e:?}"))?;
            }
        }
        Ok(())
    };
    if let Err(what) = setup() {
        return Ok(ctx.refuse(io, &what, 2).await);
    }
    let mut opened = Opened(Vec::new());
    let result = run(ctx, io, &mut it, &operands, &mut opened).await?;
    let flushed = flush(ctx, io, &mut it, &mut opened).await?;
    if let Err(what) = flushed {
        return Ok(ctx.refuse(io, &what, 2).await);
    }
    match result {
        Ended::Done => Ok(it.exit_code),
        Ended::Refuse(what) => Ok(ctx.refuse(io, &what, 2).await),
        Ended::Message(m) => fail(io, "awk", &m, 2).await,
        Ended::RunError(m) => {
            let msg = format!(
                "run time error: {m}\n\tFILENAME=\"{}\" FNR={} NR={}",
                it.filename, it.fnr, it.nr
            );
            complain(
                io,
                &String::from_utf8_lossy(&bytes(&format!("awk: {msg}\n"))),
            )
            .await;
            Ok(2)
        }
    }
}

enum Ended {
    Done,
    Refuse(String),
    Message(String),
    RunError(String),
}

fn ended(stop: Stop) -> Option<Ended> {
    match stop {
        Stop::Exit => None,
        Stop::Refuse(w) => Some(Ended::Refuse(w)),
        Stop::RunError(m) => Some(Ended::RunError(m)),
    }
}

async fn run(
    ctx: &Ctx,
    io: &Io,
    it: &mut Interp<'_>,
    operands: &[String],
    opened: &mut Opened,
) -> Result<Ended, crate::io::BrokenPipe> {
    let mut exited = false;
    if let Err(stop) = it.run_special(true) {
        match ended(stop) {
            Some(e) => return Ok(e),
            None => exited = true,
        }
    }
    if !exited && it.has_main() {
        let files: Vec<&String> = operands
            .iter()
            .filter(|o| assignment(o).is_none())
            .collect();
        let mut list: Vec<Option<&String>> = operands.iter().map(Some).collect();
        if files.is_empty() {
            list.push(None);
        }
        'files: for op in list {
            let (name, mut reader) = match op {
                Some(o) if assignment(o).is_some() => {
                    let (n, v) = assignment(o).unwrap_or_default();
                    let v = match unescape(v) {
                        Ok(v) => v,
                        Err(w) => return Ok(Ended::Refuse(w)),
                    };
                    if let Err(stop) = it.assign_named(n, Val::Input(v))
                        && let Some(e) = ended(stop)
                    {
                        return Ok(e);
                    }
                    continue;
                }
                Some(o) if o != "-" && o != "/dev/stdin" => {
                    let path = String::from_utf8_lossy(&bytes(o)).into_owned();
                    match read_file(ctx, &path) {
                        Ok(data) => (
                            o.clone(),
                            Reader {
                                buf: data,
                                pos: 0,
                                eof: true,
                                stdin: false,
                            },
                        ),
                        Err(FsError::NotFound) => {
                            if let Err(w) = flush(ctx, io, it, opened).await? {
                                return Ok(Ended::Refuse(w));
                            }
                            return Ok(Ended::Message(format!(
                                "cannot open {o} (No such file or directory)"
                            )));
                        }
                        Err(e) => return Ok(Ended::Refuse(format!("awk reading {path} ({e})"))),
                    }
                }
                _ => (
                    "-".to_string(),
                    Reader {
                        buf: Vec::new(),
                        pos: 0,
                        eof: false,
                        stdin: true,
                    },
                ),
            };
            it.filename = name;
            it.fnr = 0.0;
            loop {
                let paragraph = it.paragraph_mode();
                let Some(rec) = reader.next(io, paragraph).await else {
                    break;
                };
                it.nr += 1.0;
                it.fnr += 1.0;
                let r = match it.set_record(rec) {
                    Ok(()) => it.run_record(),
                    Err(e) => Err(e),
                };
                if let Err(stop) = r {
                    match ended(stop) {
                        Some(e) => return Ok(e),
                        None => break 'files,
                    }
                }
                if (it.out.len() > 4096 || !it.files.is_empty())
                    && let Err(w) = flush(ctx, io, it, opened).await?
                {
                    return Ok(Ended::Refuse(w));
                }
            }
        }
    }
    if let Err(stop) = it.run_special(false)
        && let Some(e) = ended(stop)
    {
        return Ok(e);
    }
    Ok(Ended::Done)
}
