//! `bash` and `sh` as programs: `-c SCRIPT`, a script file, or a script on stdin.

use crate::io::Io;
use crate::proc::Ctx;
use crate::shell::{Dialect, Opts, run_script_with};

use super::{complain, read_file};

pub(super) async fn shell(ctx: &Ctx, name: &str, args: &[String], io: &Io) -> i32 {
    // Debian's `/bin/sh` is dash (and busybox ash in Alpine, which the fake answers
    // as dash too).
    let dialect = if crate::fs::file_name(name) == "sh" {
        Dialect::Dash
    } else {
        Dialect::Bash
    };
    let (opts, command, i) = match options(ctx, name, dialect, args, io).await {
        Ok(v) => v,
        Err(status) => return status,
    };
    if command {
        let Some(script) = args.get(i) else {
            let msg = match dialect {
                Dialect::Bash => format!("{name}: -c: option requires an argument\n"),
                Dialect::Dash => format!("{name}: 0: -c requires an argument\n"),
            };
            complain(io, &msg).await;
            return 2;
        };
        let mut positional: Vec<String> = args[i + 1..].to_vec();
        if positional.is_empty() {
            positional.push(name.to_string());
        }
        return run_script_with(ctx, dialect, script, positional, opts, io).await;
    }
    let script = match args.get(i) {
        Some(file) => match read_file(ctx, file) {
            Ok(d) => String::from_utf8_lossy(&d).into_owned(),
            Err(_) if dialect == Dialect::Dash => {
                complain(
                    io,
                    &format!("{name}: 0: cannot open {file}: No such file\n"),
                )
                .await;
                return 2;
            }
            Err(e) => {
                complain(io, &format!("{name}: {file}: {e}\n")).await;
                return 127;
            }
        },
        None => String::from_utf8_lossy(&io.stdin.read_all().await).into_owned(),
    };
    let mut positional = vec![name.to_string()];
    positional.extend(args.iter().skip(i + 1).cloned());
    run_script_with(ctx, dialect, &script, positional, opts, io).await
}

/// The shell's own options before its script: `-c`, `-e`, `-u`, `-o NAME` (and `+`
/// to unset), `-l`/`--login`, `--norc`, `--noprofile` (the fake's nodes have no
/// profile to read). Returns the options, whether `-c` was given, and where the
/// operands start; anything else (`-x`, `-v`, `-i`, …) is refused loudly.
async fn options(
    ctx: &Ctx,
    name: &str,
    dialect: Dialect,
    args: &[String],
    io: &Io,
) -> Result<(Opts, bool, usize), i32> {
    let mut opts = Opts::default();
    let mut command = false;
    let mut i = 0;
    while let Some(a) = args.get(i) {
        if a == "-" || a == "--" {
            i += 1;
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            match (long, dialect) {
                ("login" | "norc" | "noprofile", Dialect::Bash) => {
                    i += 1;
                    continue;
                }
                _ => return Err(ctx.refuse(io, &format!("{name} {a}"), 2).await),
            }
        }
        let (on, flags) = match (a.strip_prefix('-'), a.strip_prefix('+')) {
            (Some(f), _) => (true, f),
            (_, Some(f)) => (false, f),
            _ => break,
        };
        i += 1;
        for c in flags.chars() {
            match c {
                'c' => command = true,
                'e' => opts.errexit = on,
                'u' => opts.nounset = on,
                'l' => {}
                'o' => {
                    let option = args.get(i).map(String::as_str);
                    i += 1;
                    match (option, dialect) {
                        (Some("errexit"), _) => opts.errexit = on,
                        (Some("nounset"), _) => opts.nounset = on,
                        (Some("pipefail"), Dialect::Bash) => opts.pipefail = on,
                        (Some("pipefail"), Dialect::Dash) => {
                            complain(io, &format!("{name}: 0: Illegal option -o pipefail\n")).await;
                            return Err(2);
                        }
                        (Some(other), _) => {
                            return Err(ctx.refuse(io, &format!("{name} -o {other}"), 2).await);
                        }
                        (None, _) => return Err(ctx.refuse(io, &format!("{name} -o"), 2).await),
                    }
                }
                other => return Err(ctx.refuse(io, &format!("{name} -{other}"), 2).await),
            }
        }
    }
    Ok((opts, command, i))
}
