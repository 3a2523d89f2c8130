//! Builtins that change the shell itself (`cd`, `exit`, `exec`, `export`, `set`,
//! `shift`, …).

use super::{Flow, Shell};
use crate::io::Io;

impl Shell {
    /// Builtins that change the shell itself; `None` when `argv[0]` is not one.
    pub(super) async fn shell_builtin(&mut self, argv: &[String], io: &Io) -> Option<Flow> {
        let args = &argv[1..];
        Some(match argv[0].as_str() {
            "exit" => {
                let status = match args.first() {
                    None => self.last,
                    Some(a) => match a.parse::<i64>() {
                        Ok(n) => (n & 0xff) as i32,
                        Err(_) => {
                            let _ = io
                                .stderr
                                .write_str(&format!(
                                    "bash: line 1: exit: {a}: numeric argument required\n"
                                ))
                                .await;
                            2
                        }
                    },
                };
                Flow::Exit(status)
            }
            "cd" => {
                let home = self.vars.get("HOME").cloned().unwrap_or_else(|| "/".into());
                let target = args.first().cloned().unwrap_or(home);
                let path = self.ctx.resolve(&target);
                match self.ctx.with_fs(|fs| fs.stat(&path)) {
                    Ok(meta) if meta.is_dir() => {
                        self.ctx.cwd = path.clone();
                        self.vars.insert("PWD".into(), path);
                        Flow::Next(0)
                    }
                    other => {
                        let why = match other {
                            Ok(_) => "Not a directory".to_string(),
                            Err(e) => e.to_string(),
                        };
                        let _ = io
                            .stderr
                            .write_str(&format!("bash: line 1: cd: {target}: {why}\n"))
                            .await;
                        Flow::Next(1)
                    }
                }
            }
            "export" => {
                for a in args {
                    match a.split_once('=') {
                        Some((k, v)) => {
                            self.vars.insert(k.into(), v.into());
                            self.ctx.env.insert(k.into(), v.into());
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
                    self.vars.remove(a);
                    self.ctx.env.remove(a);
                }
                Flow::Next(0)
            }
            ":" => Flow::Next(0),
            "set" => {
                // `set -- a b` replaces the positional parameters; options are ignored.
                if let Some(i) = args.iter().position(|a| a == "--") {
                    self.positional.truncate(1);
                    self.positional.extend(args[i + 1..].iter().cloned());
                }
                Flow::Next(0)
            }
            "exec" if args.is_empty() => Flow::Next(0),
            "exec" => {
                // Replaces the shell: run the program, then the shell is done.
                let name = &args[0];
                if !self.ctx.exists(name) {
                    let _ = io
                        .stderr
                        .write_str(&format!("bash: line 1: exec: {name}: not found\n"))
                        .await;
                    return Some(Flow::Exit(127));
                }
                // As execve(2): the program takes over this process (same pid, so `$$`
                // and the session stay), and a signal to the pid reaches it.
                self.ctx
                    .host
                    .processes()
                    .set_args(self.ctx.pid, args.join(" "));
                Flow::Exit(self.ctx.exec(args.to_vec(), io.clone()).await)
            }
            "shift" => {
                let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(1);
                if n < self.positional.len() {
                    self.positional.drain(1..=n);
                    Flow::Next(0)
                } else {
                    Flow::Next(1)
                }
            }
            "read" => {
                // Reads one line from stdin into the named variables (REPLY by default).
                let mut line = Vec::new();
                let mut got = false;
                while let Some(chunk) = io.stdin.read_chunk().await {
                    got = true;
                    line.extend_from_slice(&chunk);
                    if line.contains(&b'\n') {
                        break;
                    }
                }
                let text = String::from_utf8_lossy(&line);
                let text = text.split('\n').next().unwrap_or("");
                let names: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
                if names.is_empty() {
                    self.vars.insert("REPLY".into(), text.into());
                } else {
                    let mut parts = text.split_whitespace();
                    for (i, n) in names.iter().enumerate() {
                        let v = if i + 1 == names.len() {
                            parts.clone().collect::<Vec<_>>().join(" ")
                        } else {
                            parts.next().unwrap_or("").to_string()
                        };
                        self.vars.insert((*n).clone(), v);
                    }
                }
                Flow::Next(if got { 0 } else { 1 })
            }
            _ => return None,
        })
    }
}
