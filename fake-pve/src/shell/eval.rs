//! Evaluation: lists, `&&`/`||`, pipelines (concurrent tasks), compound commands
//! (`if`, `for`, `while`, `case`, subshells, groups) and simple commands.

use brush_parser::ast;

use super::{BoxFut, Flow, Shell};
use crate::io::{Input, Io, Output};
use crate::proc::{spawn_child, wait};
use crate::unix::glob_match;

impl Shell {
    pub(super) fn eval_list<'a>(
        &'a mut self,
        list: &'a ast::CompoundList,
        io: &'a Io,
    ) -> BoxFut<'a, Flow> {
        Box::pin(async move {
            let mut status = self.last;
            for ast::CompoundListItem(and_or, sep) in &list.0 {
                if matches!(sep, ast::SeparatorOperator::Async) {
                    let mut sub = self.clone();
                    let and_or = and_or.clone();
                    let io = io.clone();
                    let handle =
                        tokio::spawn(async move { sub.eval_and_or(&and_or, &io).await.status() });
                    drop(handle);
                    // Let the background job start before the next command, as a
                    // fork would.
                    tokio::task::yield_now().await;
                    self.last_bg = Some(0);
                    status = 0;
                    self.last = 0;
                    continue;
                }
                match self.eval_and_or(and_or, io).await {
                    Flow::Next(s) => status = s,
                    exit => return exit,
                }
            }
            Flow::Next(status)
        })
    }

    pub(super) async fn eval_and_or(&mut self, list: &ast::AndOrList, io: &Io) -> Flow {
        let mut flow = self.eval_pipeline(&list.first, io).await;
        for next in &list.additional {
            let Flow::Next(status) = flow else {
                return flow;
            };
            flow = match next {
                ast::AndOr::And(p) if status == 0 => self.eval_pipeline(p, io).await,
                ast::AndOr::Or(p) if status != 0 => self.eval_pipeline(p, io).await,
                _ => Flow::Next(status),
            };
        }
        flow
    }

    pub(super) async fn eval_pipeline(&mut self, pipeline: &ast::Pipeline, io: &Io) -> Flow {
        let flow = if pipeline.seq.len() == 1 {
            self.eval_command(&pipeline.seq[0], io).await
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
            let mut status = 0;
            for h in handles {
                status = wait(h).await;
            }
            Flow::Next(status)
        };
        match flow {
            Flow::Next(s) => {
                let s = if pipeline.bang { i32::from(s == 0) } else { s };
                self.last = s;
                Flow::Next(s)
            }
            exit => exit,
        }
    }

    pub(super) fn eval_command<'a>(
        &'a mut self,
        cmd: &'a ast::Command,
        io: &'a Io,
    ) -> BoxFut<'a, Flow> {
        Box::pin(async move {
            match cmd {
                ast::Command::Simple(simple) => self.eval_simple(simple, io).await,
                ast::Command::Compound(compound, redirects) => {
                    let io = match redirects {
                        Some(list) => match self.apply_redirects(&list.0, io).await {
                            Ok(io) => io,
                            Err(status) => return Flow::Next(status),
                        },
                        None => io.clone(),
                    };
                    self.eval_compound(compound, &io).await
                }
                ast::Command::Function(_) | ast::Command::ExtendedTest(..) => unsupported(io).await,
            }
        })
    }

    pub(super) async fn eval_compound(&mut self, cmd: &ast::CompoundCommand, io: &Io) -> Flow {
        match cmd {
            ast::CompoundCommand::BraceGroup(g) => self.eval_list(&g.list, io).await,
            ast::CompoundCommand::Subshell(s) => {
                let mut sub = self.clone();
                Flow::Next(sub.eval_list(&s.list, io).await.status())
            }
            ast::CompoundCommand::IfClause(c) => {
                match self.eval_list(&c.condition, io).await {
                    Flow::Next(0) => return self.eval_list(&c.then, io).await,
                    Flow::Next(_) => {}
                    exit => return exit,
                }
                for clause in c.elses.iter().flatten() {
                    match &clause.condition {
                        None => return self.eval_list(&clause.body, io).await,
                        Some(cond) => match self.eval_list(cond, io).await {
                            Flow::Next(0) => return self.eval_list(&clause.body, io).await,
                            Flow::Next(_) => {}
                            exit => return exit,
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
                                Err(s) => return Flow::Next(s),
                            }
                        }
                        out
                    }
                    None => self.positional.iter().skip(1).cloned().collect(),
                };
                let mut status = 0;
                for v in values {
                    self.vars.insert(f.variable_name.clone(), v);
                    match self.eval_list(&f.body.list, io).await {
                        Flow::Next(s) => status = s,
                        exit => return exit,
                    }
                }
                Flow::Next(status)
            }
            ast::CompoundCommand::WhileClause(w) | ast::CompoundCommand::UntilClause(w) => {
                let until = matches!(cmd, ast::CompoundCommand::UntilClause(_));
                let mut status = 0;
                loop {
                    let cond = match self.eval_list(&w.0, io).await {
                        Flow::Next(s) => s,
                        exit => return exit,
                    };
                    if (cond == 0) == until {
                        break;
                    }
                    match self.eval_list(&w.1.list, io).await {
                        Flow::Next(s) => status = s,
                        exit => return exit,
                    }
                    // Let other tasks run even in a tight loop.
                    tokio::task::yield_now().await;
                }
                Flow::Next(status)
            }
            ast::CompoundCommand::CaseClause(c) => {
                let value = match self.expand_word(&c.value.value, io).await {
                    Ok(f) => f.join(" "),
                    Err(s) => return Flow::Next(s),
                };
                for item in &c.cases {
                    for pattern in &item.patterns {
                        let pat = match self.expand_word(&pattern.value, io).await {
                            Ok(f) => f.join(" "),
                            Err(s) => return Flow::Next(s),
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
            ast::CompoundCommand::Arithmetic(a) => match self.arith(&a.expr.value) {
                Ok(v) => Flow::Next(i32::from(v == 0)),
                Err(msg) => {
                    let _ = io.stderr.write_str(&format!("bash: {msg}\n")).await;
                    Flow::Next(1)
                }
            },
            _ => unsupported(io).await,
        }
    }

    pub(super) async fn eval_simple(&mut self, cmd: &ast::SimpleCommand, io: &Io) -> Flow {
        let mut assignments = Vec::new();
        let mut words: Vec<&str> = Vec::new();
        let mut redirects = Vec::new();
        for item in cmd.prefix.iter().flat_map(|p| p.0.iter()) {
            match item {
                ast::CommandPrefixOrSuffixItem::AssignmentWord(a, _) => assignments.push(a),
                ast::CommandPrefixOrSuffixItem::IoRedirect(r) => redirects.push(r.clone()),
                ast::CommandPrefixOrSuffixItem::Word(w) => words.push(&w.value),
                ast::CommandPrefixOrSuffixItem::ProcessSubstitution(..) => {}
            }
        }
        if let Some(w) = &cmd.word_or_name {
            words.push(&w.value);
        }
        for item in cmd.suffix.iter().flat_map(|p| p.0.iter()) {
            match item {
                ast::CommandPrefixOrSuffixItem::Word(w) => words.push(&w.value),
                ast::CommandPrefixOrSuffixItem::AssignmentWord(_, w) => words.push(&w.value),
                ast::CommandPrefixOrSuffixItem::IoRedirect(r) => redirects.push(r.clone()),
                ast::CommandPrefixOrSuffixItem::ProcessSubstitution(..) => {}
            }
        }

        let mut argv = Vec::new();
        for w in words {
            match self.expand_word(w, io).await {
                Ok(fields) => argv.extend(fields),
                Err(status) => {
                    self.last = status;
                    return Flow::Next(status);
                }
            }
        }
        let mut assigned = Vec::new();
        for a in assignments {
            let name = match &a.name {
                ast::AssignmentName::VariableName(n) => n.clone(),
                ast::AssignmentName::ArrayElementName(n, _) => n.clone(),
            };
            let value = match &a.value {
                ast::AssignmentValue::Scalar(w) => match self.expand_plain(&w.value, io).await {
                    Ok(v) => v,
                    Err(s) => return Flow::Next(s),
                },
                ast::AssignmentValue::Array(_) => String::new(),
            };
            let value = if a.append {
                format!(
                    "{}{value}",
                    self.vars.get(&name).cloned().unwrap_or_default()
                )
            } else {
                value
            };
            assigned.push((name, value));
        }

        let io = match self.apply_redirects(&redirects, io).await {
            Ok(io) => io,
            Err(status) => {
                self.last = status;
                return Flow::Next(status);
            }
        };

        if argv.is_empty() {
            for (k, v) in assigned {
                if self.ctx.env.contains_key(&k) {
                    self.ctx.env.insert(k.clone(), v.clone());
                }
                self.vars.insert(k, v);
            }
            return Flow::Next(0);
        }

        if let Some(flow) = self.shell_builtin(&argv, &io).await {
            if let Flow::Next(s) = flow {
                self.last = s;
            }
            return flow;
        }

        let name = argv[0].clone();
        if !self.ctx.exists(&name) {
            let _ = io
                .stderr
                .write_str(&format!("bash: line 1: {name}: command not found\n"))
                .await;
            return Flow::Next(127);
        }
        let mut ctx = self.ctx.clone();
        for (k, v) in assigned {
            ctx.env.insert(k, v);
        }
        Flow::Next(wait(spawn_child(&ctx, argv, io)).await)
    }
}

/// What the shell answers to a construct it does not emulate.
async fn unsupported(io: &Io) -> Flow {
    let _ = io
        .stderr
        .write_str("bash: this construct is not supported by fake-pve's shell\n")
        .await;
    Flow::Next(2)
}
