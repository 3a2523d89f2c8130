//! Builtins that change the shell itself (`cd`, `exit`, `exec`, `export`, `set`,
//! `shift`, `local`, `return`, `break`, `.`, `trap`, …), and dash's own `echo`.

use super::arrays::split_subscript;
use super::{Dialect, Flow, Shell};
use crate::io::Io;

/// The `set -o` names the fake knows.
const OPTION_NAMES: &[&str] = &["errexit", "nounset", "pipefail"];

impl Shell {
    /// Builtins that change the shell itself; `None` when `argv[0]` is not one.
    pub(super) async fn shell_builtin(&mut self, argv: &[String], io: &Io) -> Option<Flow> {
        let args = &argv[1..];
        let dash = self.dialect == Dialect::Dash;
        Some(match argv[0].as_str() {
            "exit" => {
                let status = match args.first() {
                    None => self.last,
                    Some(a) => match a.parse::<i64>() {
                        Ok(n) if !dash || n >= 0 => (n & 0xff) as i32,
                        _ if dash => {
                            self.say(io, &format!("exit: Illegal number: {a}")).await;
                            2
                        }
                        _ => {
                            self.say(io, &format!("exit: {a}: numeric argument required"))
                                .await;
                            2
                        }
                    },
                };
                Flow::Exit(status)
            }
            "cd" => self.cd(args, io).await,
            "export" => {
                for a in args {
                    match a.split_once('=') {
                        Some((k, v)) => {
                            self.vars.insert(k.into(), v.into());
                            self.ctx.env.insert(k.into(), v.into());
                        }
                        None if a.starts_with('-') => {
                            return Some(self.refuse(io, "export's options").await);
                        }
                        None => {
                            if let Some(v) = self.vars.get(a) {
                                self.ctx.env.insert(a.clone(), v.clone());
                            }
                        }
                    }
                }
                Flow::Next(0)
            }
            "unset" => {
                for a in args {
                    if a == "-f" {
                        continue;
                    }
                    if a == "-v" {
                        continue;
                    }
                    if let Some((name, index)) = split_subscript(a) {
                        if self.dialect == Dialect::Dash || self.unset_element(name, index).is_err()
                        {
                            return Some(self.refuse(io, &format!("unset {a}")).await);
                        }
                        continue;
                    }
                    self.arrays.remove(a);
                    self.vars.remove(a);
                    self.ctx.env.remove(a);
                    if args.first().is_some_and(|f| f == "-f") {
                        self.funcs.remove(a);
                    }
                }
                Flow::Next(0)
            }
            ":" => Flow::Next(0),
            "set" => self.set(args, io).await,
            "exec" if args.is_empty() => Flow::Next(0),
            "exec" => {
                // Replaces the shell: the program takes over this process (same pid, so
                // `$$` and the session stay, and a signal to the pid reaches it).
                let target = self.command_target(args.to_vec());
                let argv = match target {
                    super::simple::Target::Run(argv) => argv,
                    super::simple::Target::Fail(msg, status) => {
                        let msg =
                            if msg.ends_with("command not found") || msg.ends_with(": not found") {
                                format!("exec: {}: not found", args[0])
                            } else {
                                msg
                            };
                        self.say(io, &msg).await;
                        return Some(Flow::Exit(status));
                    }
                    super::simple::Target::Refuse(what) => {
                        return Some(self.refuse(io, &what).await);
                    }
                };
                self.ctx.processes().set_args(self.ctx.pid, argv.join(" "));
                Flow::Exit(self.ctx.exec(argv, io.clone()).await)
            }
            "umask" => match args {
                [] => {
                    let _ = io
                        .stdout
                        .write_str(&format!("{:04o}\n", self.ctx.umask))
                        .await;
                    Flow::Next(0)
                }
                [mask] if !mask.is_empty() && mask.bytes().all(|b| (b'0'..=b'7').contains(&b)) => {
                    match u32::from_str_radix(mask, 8) {
                        Ok(m) if m <= 0o7777 => {
                            self.ctx.umask = m & 0o777;
                            Flow::Next(0)
                        }
                        _ => {
                            self.say(io, &format!("umask: {mask}: octal number out of range"))
                                .await;
                            Flow::Next(1)
                        }
                    }
                }
                _ => {
                    return Some(
                        self.refuse(io, "umask with options or a symbolic mode")
                            .await,
                    );
                }
            },
            "shift" => {
                let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(1);
                if n < self.positional.len() {
                    self.positional.drain(1..=n);
                    Flow::Next(0)
                } else if dash {
                    self.say(io, "shift: can't shift that many").await;
                    Flow::Exit(2)
                } else {
                    Flow::Next(1)
                }
            }
            "read" => self.read(args, io).await,
            "local" => {
                let Some(frame) = self.locals.last_mut() else {
                    self.say(io, "local: can only be used in a function").await;
                    return Some(Flow::Next(1));
                };
                let mut set = Vec::new();
                for a in args {
                    let (k, v) = match a.split_once('=') {
                        Some((k, v)) => (k.to_string(), Some(v.to_string())),
                        None => (a.clone(), None),
                    };
                    if k == "PIPESTATUS" || self.arrays.contains_key(&k) {
                        let what = format!("local {k} of an array");
                        return Some(self.refuse(io, &what).await);
                    }
                    frame.push((k.clone(), self.vars.get(&k).cloned()));
                    set.push((k, v));
                }
                for (k, v) in set {
                    match v {
                        Some(v) => {
                            self.vars.insert(k, v);
                        }
                        None if dash => {}
                        None => {
                            self.vars.remove(&k);
                        }
                    }
                }
                Flow::Next(0)
            }
            "return" => {
                let s = args
                    .first()
                    .and_then(|a| a.parse::<i64>().ok())
                    .map(|n| (n & 0xff) as i32)
                    .unwrap_or(self.last);
                if self.locals.is_empty() {
                    return Some(self.refuse(io, "return outside a function").await);
                }
                Flow::Return(s)
            }
            "break" | "continue" => {
                let n = args
                    .first()
                    .and_then(|a| a.parse::<u32>().ok())
                    .unwrap_or(1)
                    .max(1);
                if self.loops == 0 {
                    return Some(Flow::Next(0));
                }
                let n = n.min(self.loops);
                if argv[0] == "break" {
                    Flow::Break(n)
                } else {
                    Flow::Continue(n)
                }
            }
            "." | "source" if argv[0] == "." || !dash => self.source(args, io).await,
            "trap" => self.trap(args, io).await,
            "wait" => self.wait_builtin(args, io).await,
            "kill" => self.kill_builtin(args, io).await,
            "echo" if dash => self.dash_echo(args, io).await,
            "eval" => {
                let script = args.join(" ");
                self.run_str_flow(&script, io).await
            }
            "command" if dash && args.first().is_some_and(|a| a == "-v") => {
                if args[1..].iter().any(|n| self.ctx.exists(n)) {
                    return None;
                }
                Flow::Next(127)
            }
            "type" | "alias" | "unalias" | "readonly" | "getopts" | "hash" | "ulimit"
            | "declare" | "typeset" | "let" | "shopt" | "jobs" | "fg" | "bg" | "disown"
            | "builtin" | "enable" | "mapfile" | "readarray" | "times" => {
                return Some(self.refuse(io, &format!("the {} builtin", argv[0])).await);
            }
            _ => return None,
        })
    }

    async fn cd(&mut self, args: &[String], io: &Io) -> Flow {
        let home = self.vars.get("HOME").cloned().unwrap_or_else(|| "/".into());
        let target = args.iter().find(|a| *a != "--").cloned().unwrap_or(home);
        if target.starts_with('-') {
            return self.refuse(io, "cd's options").await;
        }
        if target.is_empty() {
            return Flow::Next(0);
        }
        let path = self.ctx.resolve(&target);
        match self.ctx.with_fs(|fs| fs.stat(&path)) {
            Ok(meta) if meta.is_dir() => {
                self.ctx.cwd = path.clone();
                self.set_var("PWD", path);
                Flow::Next(0)
            }
            other => {
                if self.dialect == Dialect::Dash {
                    self.say(io, &format!("cd: can't cd to {target}")).await;
                    return Flow::Next(2);
                }
                let why = match other {
                    Ok(_) => "Not a directory".to_string(),
                    Err(e) => e.to_string(),
                };
                self.say(io, &format!("cd: {target}: {why}")).await;
                Flow::Next(1)
            }
        }
    }

    async fn set(&mut self, args: &[String], io: &Io) -> Flow {
        if args.is_empty() {
            return self.refuse(io, "set without arguments").await;
        }
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            if a == "--" {
                self.positional.truncate(1);
                self.positional.extend(args[i + 1..].iter().cloned());
                return Flow::Next(0);
            }
            let (on, flags) = match (a.strip_prefix('-'), a.strip_prefix('+')) {
                (Some(f), _) => (true, f),
                (_, Some(f)) => (false, f),
                _ => {
                    self.positional.truncate(1);
                    self.positional.extend(args[i..].iter().cloned());
                    return Flow::Next(0);
                }
            };
            for c in flags.chars() {
                let name = match c {
                    'e' => "errexit",
                    'u' => "nounset",
                    'o' => {
                        i += 1;
                        let Some(name) = args.get(i) else {
                            return self.refuse(io, "listing the options (set -o)").await;
                        };
                        if !OPTION_NAMES.contains(&name.as_str())
                            || (self.dialect == Dialect::Dash && name == "pipefail")
                        {
                            return self.unknown_option(name, io).await;
                        }
                        name.as_str()
                    }
                    other => return self.refuse(io, &format!("set -{other}")).await,
                };
                match name {
                    "errexit" => self.opts.errexit = on,
                    "nounset" => self.opts.nounset = on,
                    _ => self.opts.pipefail = on,
                }
            }
            i += 1;
        }
        Flow::Next(0)
    }

    /// `set -o NAME` for a name the shell does not have.
    async fn unknown_option(&mut self, name: &str, io: &Io) -> Flow {
        let known_elsewhere = [
            "allexport",
            "braceexpand",
            "emacs",
            "errtrace",
            "functrace",
            "hashall",
            "histexpand",
            "history",
            "ignoreeof",
            "interactive-comments",
            "keyword",
            "monitor",
            "noclobber",
            "noexec",
            "noglob",
            "nolog",
            "notify",
            "onecmd",
            "physical",
            "posix",
            "privileged",
            "verbose",
            "vi",
            "xtrace",
        ];
        if known_elsewhere.contains(&name) {
            return self.refuse(io, &format!("set -o {name}")).await;
        }
        match self.dialect {
            Dialect::Bash => {
                self.say(io, &format!("set: {name}: invalid option name"))
                    .await;
                Flow::Next(2)
            }
            Dialect::Dash => {
                self.say(io, &format!("set: Illegal option -o {name}"))
                    .await;
                Flow::Exit(2)
            }
        }
    }

    async fn read(&mut self, args: &[String], io: &Io) -> Flow {
        let mut names: Vec<&String> = Vec::new();
        for a in args {
            if a == "-r" {
                continue;
            }
            if a.starts_with('-') {
                return self.refuse(io, &format!("read {a}")).await;
            }
            names.push(a);
        }
        // One byte at a time up to the newline, so that the rest stays for the next
        // reader of the same stream.
        let mut line = Vec::new();
        let mut got_newline = false;
        while let Some(b) = io.stdin.read_byte().await {
            if b == b'\n' {
                got_newline = true;
                break;
            }
            line.push(b);
        }
        let text = String::from_utf8_lossy(&line).into_owned();
        if names.is_empty() {
            self.vars.insert("REPLY".into(), text.clone());
        } else {
            let mut rest = text.trim_start();
            for (i, n) in names.iter().enumerate() {
                let v = if i + 1 == names.len() {
                    rest.trim_end().to_string()
                } else {
                    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                    let v = rest[..end].to_string();
                    rest = rest[end..].trim_start();
                    v
                };
                self.vars.insert((*n).clone(), v);
            }
        }
        Flow::Next(if got_newline { 0 } else { 1 })
    }

    async fn source(&mut self, args: &[String], io: &Io) -> Flow {
        let Some(file) = args.first() else {
            return self.refuse(io, ". without a file").await;
        };
        if !file.contains('/') {
            return self.refuse(io, ". searching PATH").await;
        }
        let path = self.ctx.resolve(file);
        let text = match self.ctx.with_fs(|fs| fs.read(&path).map(<[u8]>::to_vec)) {
            Ok(t) => String::from_utf8_lossy(&t).into_owned(),
            Err(e) => {
                return match self.dialect {
                    Dialect::Bash => {
                        self.say(io, &format!("{file}: {e}")).await;
                        Flow::Next(1)
                    }
                    Dialect::Dash => {
                        self.say(io, &format!(".: cannot open {file}: No such file"))
                            .await;
                        Flow::Exit(2)
                    }
                };
            }
        };
        let saved = (args.len() > 1).then(|| {
            let mut p = vec![self.positional[0].clone()];
            p.extend(args[1..].iter().cloned());
            std::mem::replace(&mut self.positional, p)
        });
        let flow = self.run_str_flow(&text, io).await;
        if let Some(p) = saved {
            self.positional = p;
        }
        match flow {
            Flow::Return(s) => Flow::Next(s),
            other => other,
        }
    }

    async fn trap(&mut self, args: &[String], io: &Io) -> Flow {
        match args {
            [action, sigs @ ..]
                if !sigs.is_empty() && sigs.iter().all(|s| s == "EXIT" || s == "0") =>
            {
                self.exit_trap = match action.as_str() {
                    "-" => None,
                    a => Some(a.to_string()),
                };
                Flow::Next(0)
            }
            _ => self.refuse(io, "trap for signals").await,
        }
    }

    /// dash's `echo`: only `-n`, and backslash escapes always.
    async fn dash_echo(&mut self, args: &[String], io: &Io) -> Flow {
        let (newline, words) = match args.first() {
            Some(a) if a == "-n" => (false, &args[1..]),
            _ => (true, args),
        };
        let mut out = Vec::new();
        for (i, w) in words.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            let (bytes, stop) = crate::unix::unescape(w, crate::unix::Escapes::DashEcho);
            out.extend(bytes);
            if stop {
                let _ = io.stdout.write(&out).await;
                return Flow::Next(0);
            }
        }
        if newline {
            out.push(b'\n');
        }
        match io.stdout.write(&out).await {
            Ok(()) => Flow::Next(0),
            Err(_) => Flow::Next(1),
        }
    }
}
