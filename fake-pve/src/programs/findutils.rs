//! `find` (paths; `-name`, `-iname`, `-type f|d`, `-maxdepth`, `-mindepth`, `-print`,
//! `-delete`, `-exec … ;` and `-exec … +`) and `xargs` (`-n`, `-I`, `-0`, `-r`).
//! Other primaries and options are refused loudly. Entries come in name order (a real
//! filesystem's order is its own).

use crate::fs::Meta;
use crate::io::{Input, Io};
use crate::proc::{Ctx, spawn_child};
use crate::unix::glob_match;

use super::{Status, complain, exists, refuse_option, usage};

enum Test {
    Name(String, bool),
    Type(bool),
}

enum Action {
    Print,
    Delete,
    Exec(Vec<String>, bool),
}

pub(super) async fn find(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let split = args
        .iter()
        .position(|a| a.starts_with('-') || a == "!" || a == "(")
        .unwrap_or(args.len());
    let mut roots: Vec<String> = args[..split].to_vec();
    if roots.is_empty() {
        roots.push(".".into());
    }
    let mut tests = Vec::new();
    let mut actions = Vec::new();
    let (mut maxdepth, mut mindepth) = (usize::MAX, 0usize);
    let mut i = split;
    while i < args.len() {
        let a = args[i].as_str();
        let value = args.get(i + 1).cloned();
        match a {
            "-name" | "-iname" | "-type" | "-maxdepth" | "-mindepth" => {
                let Some(v) = value else {
                    return usage(io, "find", &format!("missing argument to `{a}'"), 1).await;
                };
                i += 1;
                match a {
                    "-name" => tests.push(Test::Name(v, false)),
                    "-iname" => tests.push(Test::Name(v.to_lowercase(), true)),
                    "-type" => match v.as_str() {
                        "f" => tests.push(Test::Type(false)),
                        "d" => tests.push(Test::Type(true)),
                        other => {
                            return refuse_option(ctx, io, "find", &format!("-type {other}")).await;
                        }
                    },
                    _ => match v.parse::<usize>() {
                        Ok(n) if a == "-maxdepth" => maxdepth = n,
                        Ok(n) => mindepth = n,
                        Err(_) => return refuse_option(ctx, io, "find", &format!("{a} {v}")).await,
                    },
                }
            }
            "-print" => actions.push(Action::Print),
            "-delete" => actions.push(Action::Delete),
            "-exec" => {
                let rest = &args[i + 1..];
                let Some(end) = rest.iter().position(|w| w == ";" || w == "+") else {
                    return usage(io, "find", "missing argument to `-exec'", 1).await;
                };
                let plus = rest[end] == "+";
                if plus && rest.get(end.wrapping_sub(1)).is_none_or(|w| w != "{}") {
                    return refuse_option(ctx, io, "find", "-exec … + without {} last").await;
                }
                actions.push(Action::Exec(rest[..end].to_vec(), plus));
                i += end + 1;
            }
            other => return refuse_option(ctx, io, "find", other).await,
        }
        i += 1;
    }
    if actions.is_empty() {
        actions.push(Action::Print);
    }
    let mut status = 0;
    let mut batch: Vec<String> = Vec::new();
    let mut text = String::new();
    for root in &roots {
        let abs = ctx.resolve(root);
        let Ok(meta) = ctx.with_fs(|fs| fs.stat(&abs)) else {
            complain(io, &format!("find: '{root}': No such file or directory\n")).await;
            status = 1;
            continue;
        };
        // (shown path, absolute path, meta, depth), depth first, parents before children.
        let mut found = Vec::new();
        let mut stack = vec![(root.clone(), abs, meta, 0usize)];
        while let Some((shown, abs, meta, depth)) = stack.pop() {
            if meta.is_dir() && depth < maxdepth {
                let mut children = ctx.with_fs(|fs| fs.list_dir(&abs)).unwrap_or_default();
                children.reverse();
                for (name, m) in children {
                    let shown = if shown.ends_with('/') {
                        format!("{shown}{name}")
                    } else {
                        format!("{shown}/{name}")
                    };
                    stack.push((
                        shown,
                        format!("{abs}/{name}").replace("//", "/"),
                        m,
                        depth + 1,
                    ));
                }
            }
            found.push((shown, abs, meta, depth));
        }
        for (shown, abs, meta, depth) in found {
            if depth < mindepth || !passes(&tests, &shown, &meta) {
                continue;
            }
            for action in &actions {
                match action {
                    Action::Print => {
                        text.push_str(&shown);
                        text.push('\n');
                    }
                    Action::Delete => {
                        let r = ctx.with_fs(|fs| {
                            if meta.is_dir() {
                                fs.rmdir(&abs)
                            } else {
                                fs.remove_file(&abs)
                            }
                        });
                        if let Err(e) = r {
                            complain(io, &format!("find: cannot delete '{shown}': {e}\n")).await;
                            status = 1;
                        }
                    }
                    Action::Exec(cmd, true) => {
                        let _ = cmd;
                        batch.push(shown.clone());
                    }
                    Action::Exec(cmd, false) => {
                        io.stdout.write_str(&std::mem::take(&mut text)).await?;
                        let argv: Vec<String> =
                            cmd.iter().map(|w| w.replace("{}", &shown)).collect();
                        run(ctx, argv, io).await;
                    }
                }
            }
        }
    }
    io.stdout.write_str(&text).await?;
    for action in &actions {
        if let Action::Exec(cmd, true) = action
            && !batch.is_empty()
        {
            let mut argv = cmd[..cmd.len() - 1].to_vec();
            argv.extend(batch.iter().cloned());
            if run(ctx, argv, io).await != 0 {
                status = 1;
            }
        }
    }
    Ok(status)
}

fn passes(tests: &[Test], shown: &str, meta: &Meta) -> bool {
    let name = shown
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(shown);
    tests.iter().all(|t| match t {
        Test::Name(p, false) => glob_match(p, name),
        Test::Name(p, true) => glob_match(p, &name.to_lowercase()),
        Test::Type(dir) => meta.is_dir() == *dir,
    })
}

/// Runs a command as a child; its status (127 when it does not exist).
async fn run(ctx: &Ctx, argv: Vec<String>, io: &Io) -> i32 {
    if argv.is_empty() {
        return 0;
    }
    if !exists(ctx, &argv[0]) {
        complain(io, &format!("{}: No such file or directory\n", argv[0])).await;
        return 127;
    }
    let io = Io {
        stdin: Input::empty(),
        ..io.clone()
    };
    spawn_child(ctx, argv, io).await.unwrap_or(1)
}

pub(super) async fn xargs(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let mut per: Option<usize> = None;
    let mut replace: Option<String> = None;
    let mut nul = false;
    let mut no_empty = false;
    let mut i = 0;
    while i < args.len() && args[i].starts_with('-') {
        let a = args[i].as_str();
        match a {
            "-n" | "-I" => {
                i += 1;
                let Some(v) = args.get(i) else {
                    return usage(
                        io,
                        "xargs",
                        &format!("option requires an argument -- '{}'", &a[1..]),
                        1,
                    )
                    .await;
                };
                if a == "-n" {
                    match v.parse::<usize>() {
                        Ok(n) if n > 0 => per = Some(n),
                        _ => {
                            return usage(
                                io,
                                "xargs",
                                &format!("invalid number \"{v}\" for -n option"),
                                1,
                            )
                            .await;
                        }
                    }
                } else {
                    replace = Some(v.clone());
                }
            }
            _ if a.starts_with("-I") && a.len() > 2 => replace = Some(a[2..].to_string()),
            "-0" | "--null" => nul = true,
            "-r" | "--no-run-if-empty" => no_empty = true,
            "--" => {
                i += 1;
                break;
            }
            _ if a.starts_with("-n") && a[2..].parse::<usize>().is_ok() => {
                per = a[2..].parse().ok().filter(|n| *n > 0);
            }
            _ => return refuse_option(ctx, io, "xargs", a).await,
        }
        i += 1;
    }
    let mut cmd: Vec<String> = args[i..].to_vec();
    if cmd.is_empty() {
        cmd.push("echo".into());
    }
    let data = io.stdin.read_all().await;
    let text = String::from_utf8_lossy(&data).into_owned();
    let items: Vec<String> = if nul {
        text.split('\0')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    } else if replace.is_some() {
        text.lines()
            .map(|l| l.trim_start().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    } else {
        if text.contains(['\'', '"', '\\']) {
            return refuse_option(ctx, io, "xargs", "quotes or backslashes in its input").await;
        }
        text.split_whitespace().map(str::to_string).collect()
    };
    let mut runs: Vec<Vec<String>> = Vec::new();
    if let Some(r) = &replace {
        for item in &items {
            runs.push(cmd.iter().map(|w| w.replace(r.as_str(), item)).collect());
        }
    } else if items.is_empty() {
        if !no_empty {
            runs.push(cmd.clone());
        }
    } else {
        for chunk in items.chunks(per.unwrap_or(items.len())) {
            let mut argv = cmd.clone();
            argv.extend(chunk.iter().cloned());
            runs.push(argv);
        }
    }
    let mut status = 0;
    for argv in runs {
        let s = run(ctx, argv, io).await;
        if s == 127 || s == 126 {
            return Ok(s);
        }
        if s == 255 {
            return Ok(124);
        }
        if s > 128 {
            return Ok(125);
        }
        if s != 0 {
            status = 123;
        }
    }
    Ok(status)
}
