//! Background jobs (`&`, `$!`), `wait`, and the `kill` builtin.

use brush_parser::ast;

use super::{Dialect, Flow, Shell};
use crate::io::{Input, Io};
use crate::process::{parse_signal, signal_name};

impl Shell {
    /// Starts `and_or` in the background as a forked copy of the shell, a process of
    /// its own; `$!` is its pid. A lone simple command replaces that copy, as bash's
    /// fork-and-exec does, so `$!` is the program's pid.
    pub(super) async fn background(&mut self, and_or: &ast::AndOrList, io: &Io) -> i32 {
        let table = self.ctx.processes();
        let args = table
            .get(self.ctx.pid)
            .map(|p| p.args)
            .unwrap_or_else(|| "bash".into());
        let mut guard = table.spawn(
            self.ctx.pid,
            Some(self.ctx.sid),
            &self.ctx.user,
            args,
            self.ctx.container,
        );
        let pid = guard.pid;
        let mut sub = self.fork();
        sub.ctx.pid = pid;
        sub.exec_last = and_or.additional.is_empty()
            && and_or.first.seq.len() == 1
            && !and_or.first.bang
            && matches!(and_or.first.seq[0], ast::Command::Simple(_));
        // A background job of a shell without job control reads /dev/null.
        let io = Io {
            stdin: Input::empty(),
            ..io.clone()
        };
        let and_or = and_or.clone();
        let handle = tokio::spawn(async move {
            tokio::select! {
                biased;
                sig = guard.signalled() => 128 + sig,
                flow = sub.eval_and_or(&and_or, &io) => flow.status(),
            }
        });
        self.jobs.0.push((pid, handle));
        self.last_bg = Some(pid);
        // Let the job start before the next command, as a fork would.
        tokio::task::yield_now().await;
        self.last = 0;
        0
    }

    pub(super) async fn wait_builtin(&mut self, args: &[String], io: &Io) -> Flow {
        if args
            .iter()
            .any(|a| a.starts_with('-') || a.starts_with('%'))
        {
            return self.refuse(io, "wait's options and job specs").await;
        }
        if args.is_empty() {
            for (_, h) in std::mem::take(&mut self.jobs.0) {
                let _ = h.await;
            }
            return Flow::Next(0);
        }
        let mut status = 0;
        for a in args {
            let Ok(pid) = a.parse::<u32>() else {
                return self.refuse(io, "wait for this argument").await;
            };
            match self.jobs.0.iter().position(|(p, _)| *p == pid) {
                Some(i) => {
                    let (_, h) = self.jobs.0.remove(i);
                    status = h.await.unwrap_or(1);
                }
                None => {
                    if self.dialect == Dialect::Bash {
                        self.say(io, &format!("wait: pid {pid} is not a child of this shell"))
                            .await;
                    }
                    status = 127;
                }
            }
        }
        Flow::Next(status)
    }

    pub(super) async fn kill_builtin(&mut self, args: &[String], io: &Io) -> Flow {
        let dash = self.dialect == Dialect::Dash;
        let mut sig = 15;
        let mut i = 0;
        if let Some(a) = args.first() {
            if a == "-l" || a == "-L" {
                return self.kill_list(&args[1..], io).await;
            }
            let spec = if a == "-s" || a == "-n" {
                i += 1;
                args.get(1).cloned()
            } else if a != "--" && a.len() > 1 && a.starts_with('-') {
                Some(a[1..].to_string())
            } else {
                None
            };
            if a == "--" {
                i += 1;
            } else if let Some(spec) = spec {
                i += 1;
                match if spec == "0" {
                    Some(0)
                } else {
                    parse_signal(&spec)
                } {
                    Some(n) => sig = n,
                    None => {
                        let known = spec.chars().all(|c| c.is_ascii_digit())
                            || [
                                "STOP", "CONT", "TSTP", "CHLD", "WINCH", "SEGV", "ABRT", "BUS",
                                "FPE", "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF",
                                "IO", "PWR", "SYS", "TRAP", "STKFLT",
                            ]
                            .contains(
                                &spec.trim_start_matches("SIG").to_ascii_uppercase().as_str(),
                            );
                        if known {
                            return self.refuse(io, &format!("signal {spec}")).await;
                        }
                        if dash {
                            self.say(io, &format!("kill: invalid signal number or name: {spec}"))
                                .await;
                            return Flow::Next(2);
                        }
                        self.say(io, &format!("kill: {spec}: invalid signal specification"))
                            .await;
                        return Flow::Next(1);
                    }
                }
            }
        }
        let targets = &args[i..];
        if targets.is_empty() {
            return self.refuse(io, "kill without a pid").await;
        }
        let table = self.ctx.processes();
        let mut status = 0;
        for t in targets {
            let (group, id) = match t.strip_prefix('-') {
                Some(g) => (true, g.parse::<u32>().ok()),
                None => (false, t.parse::<u32>().ok()),
            };
            if t.starts_with('%') {
                return self.refuse(io, "job specs").await;
            }
            let Some(id) = id else {
                if dash {
                    self.say(io, &format!("kill: Illegal number: {t}")).await;
                    return Flow::Next(2);
                }
                self.say(
                    io,
                    &format!("kill: {t}: arguments must be process or job IDs"),
                )
                .await;
                status = 1;
                continue;
            };
            let hits: Vec<_> = table
                .list()
                .into_iter()
                .filter(|p| self.ctx.container.is_none() || p.container == self.ctx.container)
                .filter(|p| if group { p.pgid == id } else { p.pid == id })
                .collect();
            if hits.is_empty() {
                status = 1;
                if dash {
                    self.say(io, "kill: No such process").await;
                } else {
                    self.say(io, &format!("kill: ({id}) - No such process"))
                        .await;
                }
                continue;
            }
            for p in hits {
                if self.ctx.uid != 0 && p.user != self.ctx.user {
                    status = 1;
                    if dash {
                        self.say(io, "kill: Operation not permitted").await;
                    } else {
                        self.say(io, &format!("kill: ({}) - Operation not permitted", p.pid))
                            .await;
                    }
                    continue;
                }
                if sig != 0 {
                    table.signal(p.pid, sig);
                }
            }
        }
        // A signal to the shell itself ends it here.
        tokio::task::yield_now().await;
        Flow::Next(status)
    }

    /// `kill -l SIG`: a number's name or a name's number.
    async fn kill_list(&mut self, args: &[String], io: &Io) -> Flow {
        let [one] = args else {
            return self.refuse(io, "kill -l without one signal").await;
        };
        let text = match one.parse::<i32>() {
            Ok(n) => {
                let n = if n > 128 { n - 128 } else { n };
                match parse_signal(&n.to_string()) {
                    Some(n) => signal_name(n).to_string(),
                    None => return self.refuse(io, &format!("kill -l {one}")).await,
                }
            }
            Err(_) => match parse_signal(one) {
                Some(n) => n.to_string(),
                None => return self.refuse(io, &format!("kill -l {one}")).await,
            },
        };
        let _ = io.stdout.write_str(&format!("{text}\n")).await;
        Flow::Next(0)
    }
}
