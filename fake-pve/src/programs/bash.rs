//! `bash` and `sh` as programs: `-c SCRIPT`, a script file, or a script on stdin.

use crate::io::Io;
use crate::proc::Ctx;
use crate::shell::{Dialect, run_script};

use super::{complain, read_file};

pub(super) async fn shell(ctx: &Ctx, name: &str, args: &[String], io: &Io) -> i32 {
    // Debian's `/bin/sh` is dash (and busybox ash in Alpine, which the fake answers
    // as dash too).
    let dialect = if crate::fs::file_name(name) == "sh" {
        Dialect::Dash
    } else {
        Dialect::Bash
    };
    let mut i = 0;
    while i < args.len() && args[i].starts_with('-') && args[i] != "-c" {
        i += 1; // -e, -x, -l, --login… are accepted and ignored
    }
    if args.get(i).map(String::as_str) == Some("-c") {
        let Some(script) = args.get(i + 1) else {
            complain(io, &format!("{name}: -c: option requires an argument\n")).await;
            return 2;
        };
        let mut positional: Vec<String> = args[i + 2..].to_vec();
        if positional.is_empty() {
            positional.push(name.to_string());
        }
        return run_script(ctx, dialect, script, positional, io).await;
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
    run_script(ctx, dialect, &script, positional, io).await
}
