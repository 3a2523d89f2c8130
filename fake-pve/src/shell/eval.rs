//! Evaluation: lists, `&&`/`||`, `set -e`, pipelines (concurrent tasks, `pipefail`,
//! `PIPESTATUS`), compound commands (`if`, `for`, `while`, `case`, subshells, groups).

use brush_parser::ast;

use super::{Dialect, Flow, FlowFut, Shell};
use crate::io::{Input, Io, Output};
use crate::proc::wait;
use crate::unix::glob_match;

impl Shell {
    pub(super) fn eval_list<'a>(
        &'a mut self,
        list: &'a ast::CompoundList,
        io: &'a Io,
    ) -> FlowFut<'a> {
        Box::pin(async move {
            let mut status = self.last;
            for ast::CompoundListItem(and_or, sep) in &list.0 {
                if matches!(sep, ast::SeparatorOperator::Async) {
                    status = self.background(and_or, io).await;
                    continue;
                }
                match self.eval_and_or(and_or, io).await {
                    Flow::Next(s) => status = s,
                    other => return other,
                }
            }
            Flow::Next(status)
        })
    }

    pub(super) async fn eval_and_or(&mut self, list: &ast::AndOrList, io: &Io) -> Flow {
        let rest = list.additional.len();
        // `set -e` ignores a failure anywhere but in the last pipeline of the list.
        let mut flow = self.eval_exempt(&list.first, rest > 0, io).await;
        let mut ran_last = rest == 0;
        let mut bang = list.first.bang;
        for (i, next) in list.additional.iter().enumerate() {
            let Flow::Next(status) = flow else { break };
            let run = match next {
                ast::AndOr::And(p) if status == 0 => Some(p),
                ast::AndOr::Or(p) if status != 0 => Some(p),
                _ => None,
            };
            if let Some(p) = run {
                let last = i + 1 == rest;
                flow = self.eval_exempt(p, !last, io).await;
                bang = p.bang;
                ran_last = last;
            }
        }
        match flow {
            Flow::Next(s) if s != 0 && ran_last && !bang && self.opts.errexit && self.cond == 0 => {
                Flow::Exit(s)
            }
            other => other,
        }
    }

    /// A pipeline, exempt from `set -e` when `exempt`.
    async fn eval_exempt(&mut self, p: &ast::Pipeline, exempt: bool, io: &Io) -> Flow {
        self.cond += u32::from(exempt);
        let flow = self.eval_pipeline(p, io).await;
        self.cond -= u32::from(exempt);
        flow
    }

    pub(super) async fn eval_pipeline(&mut self, pipeline: &ast::Pipeline, io: &Io) -> Flow {
        if pipeline.bang {
            self.cond += 1;
        }
        let flow = if pipeline.seq.len() == 1 {
            let flow = self.eval_command(&pipeline.seq[0], io).await;
            if let Flow::Next(s) = flow {
                self.pipestatus = vec![s];
            }
            flow
        } else {
            // Each stage runs concurrently in a subshell, joined by pipes.
            let mut handles = Vec::new();
            let mut stdin = io.stdin.clone();
            let last = pipeline.seq.len() - 1;
            for (i, cmd) in pipeline.seq.iter().enumerate() {
                let (stdout, next_in) = if i == last {
                    (io.stdout.clone(), None)
                } else {
                    let (w, r) = Output::pipe();
                    (w, Some(r))
                };
                let stage_io = Io {
                    stdin: std::mem::replace(&mut stdin, Input::empty()),
                    stdout,
                    stderr: io.stderr.clone(),
                };
                if let Some(r) = next_in {
                    stdin = r;
                }
                let mut sub = self.clone();
                let cmd = cmd.clone();
                handles.push(tokio::spawn(async move {
                    sub.eval_command(&cmd, &stage_io).await.status()
                }));
            }
            let mut statuses = Vec::new();
            for h in handles {
                statuses.push(wait(h).await);
            }
            let status = if self.opts.pipefail {
                statuses
                    .iter()
                    .rev()
                    .find(|s| **s != 0)
                    .copied()
                    .unwrap_or(0)
            } else {
                statuses.last().copied().unwrap_or(0)
            };
            self.pipestatus = statuses;
            Flow::Next(status)
        };
        if pipeline.bang {
            self.cond -= 1;
        }
        if let Some(s) = self.ctx.refusal.status() {
            return Flow::Exit(s);
        }
        match flow {
            Flow::Next(s) => {
                let s = if pipeline.bang { i32::from(s == 0) } else { s };
                self.last = s;
                Flow::Next(s)
            }
            other => other,
        }
    }

    pub(super) fn eval_command<'a>(&'a mut self, cmd: &'a ast::Command, io: &'a Io) -> FlowFut<'a> {
        Box::pin(async move {
            let io = self.effective_io(io);
            match cmd {
                ast::Command::Simple(simple) => self.eval_simple(simple, &io).await,
                ast::Command::Compound(compound, redirects) => {
                    let saved = self.fds.clone();
                    let io = match redirects {
                        Some(list) => match self.apply_redirects(&list.0, &io, false).await {
                            Ok(io) => io,
                            Err(flow) => {
                                self.fds = saved;
                                return flow;
                            }
                        },
                        None => io.clone(),
                    };
                    let flow = self.eval_compound(compound, &io).await;
                    if redirects.is_some() {
                        self.fds = saved;
                    }
                    flow
                }
                ast::Command::Function(def) => {
                    let name = def.fname.value.clone();
                    self.funcs.insert(name, std::sync::Arc::new(def.clone()));
                    Flow::Next(0)
                }
                ast::Command::ExtendedTest(test, redirects) => {
                    if redirects.is_some() {
                        return self.refuse(&io, "redirections on [[ … ]]").await;
                    }
                    match self.eval_cond(&test.expr, &io).await {
                        Ok(true) => Flow::Next(0),
                        Ok(false) => Flow::Next(1),
                        Err(flow) => flow,
                    }
                }
            }
        })
    }

    /// Runs a loop body: what `break` and `continue` do to the loop.
    async fn loop_body(&mut self, body: &ast::CompoundList, io: &Io) -> Result<i32, Flow> {
        self.loops += 1;
        let flow = self.eval_list(body, io).await;
        self.loops -= 1;
        match flow {
            Flow::Next(s) => Ok(s),
            Flow::Continue(1) => Ok(0),
            Flow::Continue(n) => Err(Flow::Continue(n - 1)),
            Flow::Break(1) => Err(Flow::Next(0)),
            Flow::Break(n) => Err(Flow::Break(n - 1)),
            other => Err(other),
        }
    }

    /// The flow a loop ends with when its body left it (`break`, `exit`, …).
    fn leave_loop(flow: Flow) -> Flow {
        match flow {
            Flow::Continue(n) => Flow::Continue(n),
            other => other,
        }
    }

    async fn eval_condition(&mut self, list: &ast::CompoundList, io: &Io) -> Flow {
        self.cond += 1;
        let flow = self.eval_list(list, io).await;
        self.cond -= 1;
        flow
    }

    pub(super) async fn eval_compound(&mut self, cmd: &ast::CompoundCommand, io: &Io) -> Flow {
        match cmd {
            ast::CompoundCommand::BraceGroup(g) => self.eval_list(&g.list, io).await,
            ast::CompoundCommand::Subshell(s) => {
                let mut sub = self.fork();
                let flow = sub.eval_list(&s.list, io).await;
                if let Some(s) = self.ctx.refusal.status() {
                    return Flow::Exit(s);
                }
                let status = flow.status();
                self.last = status;
                if status != 0 && self.opts.errexit && self.cond == 0 {
                    return Flow::Exit(status);
                }
                Flow::Next(status)
            }
            ast::CompoundCommand::IfClause(c) => {
                match self.eval_condition(&c.condition, io).await {
                    Flow::Next(0) => return self.eval_list(&c.then, io).await,
                    Flow::Next(_) => {}
                    other => return other,
                }
                for clause in c.elses.iter().flatten() {
                    match &clause.condition {
                        None => return self.eval_list(&clause.body, io).await,
                        Some(cond) => match self.eval_condition(cond, io).await {
                            Flow::Next(0) => return self.eval_list(&clause.body, io).await,
                            Flow::Next(_) => {}
                            other => return other,
                        },
                    }
                }
                Flow::Next(0)
            }
            ast::CompoundCommand::ForClause(f) => {
                let values = match &f.values {
                    Some(words) => {
                        let mut out = Vec::new();
                        for w in words {
                            match self.expand_word(&w.value, io).await {
                                Ok(fields) => out.extend(fields),
                                Err(flow) => return flow,
                            }
                        }
                        out
                    }
                    None => self.positional.iter().skip(1).cloned().collect(),
                };
                let mut status = 0;
                for v in values {
                    self.vars.insert(f.variable_name.clone(), v);
                    match self.loop_body(&f.body.list, io).await {
                        Ok(s) => status = s,
                        Err(flow) => return Self::leave_loop(flow),
                    }
                }
                Flow::Next(status)
            }
            ast::CompoundCommand::WhileClause(w) | ast::CompoundCommand::UntilClause(w) => {
                let until = matches!(cmd, ast::CompoundCommand::UntilClause(_));
                let mut status = 0;
                loop {
                    let cond = match self.eval_condition(&w.0, io).await {
                        Flow::Next(s) => s,
                        other => return other,
                    };
                    if (cond == 0) == until {
                        break;
                    }
                    match self.loop_body(&w.1.list, io).await {
                        Ok(s) => status = s,
                        Err(flow) => return Self::leave_loop(flow),
                    }
                    // Let other tasks run even in a tight loop.
                    tokio::task::yield_now().await;
                }
                Flow::Next(status)
            }
            ast::CompoundCommand::CaseClause(c) => {
                let value = match self.expand_plain(&c.value.value, io).await {
                    Ok(v) => v,
                    Err(flow) => return flow,
                };
                for item in &c.cases {
                    for pattern in &item.patterns {
                        let pat = match self.expand_pattern(&pattern.value, io).await {
                            Ok(p) => p,
                            Err(flow) => return flow,
                        };
                        if glob_match(&pat, &value) {
                            return match &item.cmd {
                                Some(list) => self.eval_list(list, io).await,
                                None => Flow::Next(0),
                            };
                        }
                    }
                }
                Flow::Next(0)
            }
            ast::CompoundCommand::Arithmetic(a) if self.dialect == Dialect::Bash => {
                match self.arith(&a.expr.value) {
                    Ok(v) => Flow::Next(i32::from(v == 0)),
                    Err(msg) => self.refuse(io, &format!("this arithmetic ({msg})")).await,
                }
            }
            _ => self.refuse(io, "this compound command").await,
        }
    }
}
