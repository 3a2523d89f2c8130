//! Simple commands: assignments, words, redirections; then a builtin, a function, or a
//! program (found by name, or by path as execve(2) would: ENOENT 127, EACCES 126).

use std::sync::Arc;

use brush_parser::ast;

use super::{Dialect, Flow, Shell};
use crate::io::Io;
use crate::proc::{spawn_child, wait};

/// Where a command name leads.
pub(super) enum Target {
    /// Run this argv (the name may have become an interpreter and the script).
    Run(Vec<String>),
    /// Fails with this message and status.
    Fail(String, i32),
    /// Not emulated.
    Refuse(String),
}

/// Directories whose programs the fake provides without files for them.
const BIN_DIRS: &[&str] = &["/bin", "/usr/bin", "/sbin", "/usr/sbin", "/usr/local/bin"];

impl Shell {
    pub(super) async fn eval_simple(&mut self, cmd: &ast::SimpleCommand, io: &Io) -> Flow {
        let mut assignments = Vec::new();
        let mut words: Vec<&str> = Vec::new();
        let mut redirects = Vec::new();
        for item in cmd.prefix.iter().flat_map(|p| p.0.iter()) {
            match item {
                ast::CommandPrefixOrSuffixItem::AssignmentWord(a, _) => assignments.push(a),
                ast::CommandPrefixOrSuffixItem::IoRedirect(r) => redirects.push(r.clone()),
                ast::CommandPrefixOrSuffixItem::Word(w) => words.push(&w.value),
                ast::CommandPrefixOrSuffixItem::ProcessSubstitution(..) => {
                    return self.refuse(io, "process substitution").await;
                }
            }
        }
        if let Some(w) = &cmd.word_or_name {
            words.push(&w.value);
        }
        for item in cmd.suffix.iter().flat_map(|p| p.0.iter()) {
            match item {
                ast::CommandPrefixOrSuffixItem::Word(w) => words.push(&w.value),
                ast::CommandPrefixOrSuffixItem::AssignmentWord(a, w) => {
                    // `local a=(…)`, `export a[1]=x`: the word is no plain argument.
                    if matches!(a.value, ast::AssignmentValue::Array(_))
                        || matches!(a.name, ast::AssignmentName::ArrayElementName(..))
                    {
                        return self
                            .refuse(io, "an array assignment as an argument (local a=(…))")
                            .await;
                    }
                    words.push(&w.value)
                }
                ast::CommandPrefixOrSuffixItem::IoRedirect(r) => redirects.push(r.clone()),
                ast::CommandPrefixOrSuffixItem::ProcessSubstitution(..) => {
                    return self.refuse(io, "process substitution").await;
                }
            }
        }

        self.subst = None;
        let mut argv = Vec::new();
        for w in words {
            match self.expand_word(w, io).await {
                Ok(fields) => argv.extend(fields),
                Err(flow) => return self.failed(flow),
            }
        }
        // Before a command each value is seen by the next assignment, then the shell
        // gets back what it had.
        let mut shadowed = Vec::new();
        let result = self
            .prefix_assignments(&assignments, !argv.is_empty(), &mut shadowed, io)
            .await;
        for (k, old) in shadowed.into_iter().rev() {
            match old {
                Some(v) => self.vars.insert(k, v),
                None => self.vars.remove(&k),
            };
        }
        let assigned = match result {
            Ok(a) => a,
            Err(flow) => return flow,
        };
        // `exec` with only redirections changes the shell's own descriptors.
        let persistent = argv.len() == 1 && argv[0] == "exec";
        let saved = (!persistent).then(|| self.fds.clone());
        let io = match self.apply_redirects(&redirects, io, persistent).await {
            Ok(io) => io,
            Err(flow) => {
                if let Some(fds) = saved {
                    self.fds = fds;
                }
                return self.failed(flow);
            }
        };
        if persistent {
            return Flow::Next(0);
        }
        let flow = self.run_simple(argv, assigned, &io).await;
        if let Some(fds) = saved {
            self.fds = fds;
        }
        flow
    }

    /// A simple command once expanded and redirected.
    async fn run_simple(
        &mut self,
        argv: Vec<String>,
        assigned: Vec<(String, String)>,
        io: &Io,
    ) -> Flow {
        let io = io.clone();
        if argv.is_empty() {
            for (k, v) in assigned {
                self.set_var(&k, v);
            }
            return Flow::Next(self.subst.unwrap_or(0));
        }

        if let Some(flow) = self.shell_builtin(&argv, &io).await {
            if let Flow::Next(s) = flow {
                self.last = s;
            }
            return flow;
        }
        if let Some(def) = self.funcs.get(&argv[0]).cloned() {
            return self.call_function(def, argv, &io).await;
        }

        let argv = match self.command_target(argv) {
            Target::Run(argv) => argv,
            Target::Fail(msg, status) => {
                self.say(&io, &msg).await;
                return Flow::Next(status);
            }
            Target::Refuse(what) => return self.refuse(&io, &what).await,
        };
        let mut ctx = self.ctx.clone();
        for (k, v) in assigned {
            ctx.env.insert(k, v);
        }
        if self.exec_last {
            // A forked shell's only command replaces it, as bash's fork-and-exec does.
            self.exec_last = false;
            ctx.processes().set_args(ctx.pid, argv.join(" "));
            return Flow::Next(ctx.exec(argv, io).await);
        }
        Flow::Next(wait(spawn_child(&ctx, argv, io)).await)
    }

    /// What a failed expansion does to the command: an error status, or the end of
    /// the shell.
    fn failed(&mut self, flow: Flow) -> Flow {
        if let Flow::Next(s) = flow {
            self.last = s;
        }
        flow
    }

    /// The assignments of a simple command: before a command, their values for its
    /// environment (each visible to the next through `shadowed`, which the caller
    /// undoes); alone, carried out in turn.
    async fn prefix_assignments(
        &mut self,
        assignments: &[&ast::Assignment],
        command: bool,
        shadowed: &mut Vec<(String, Option<String>)>,
        io: &Io,
    ) -> Result<Vec<(String, String)>, Flow> {
        let mut assigned = Vec::new();
        for a in assignments {
            let scalar = match (&a.name, &a.value) {
                (ast::AssignmentName::VariableName(n), ast::AssignmentValue::Scalar(w))
                    if !self.is_array(n) =>
                {
                    Some(n)
                }
                _ => None,
            };
            if scalar.is_none() && command {
                return Err(self
                    .refuse(io, "an array assignment before a command")
                    .await);
            }
            if scalar.is_none() && self.dialect == Dialect::Dash {
                return Err(self.refuse(io, "arrays in dash").await);
            }
            match (scalar, &a.value) {
                // Before a command: the value goes to its environment, the shell
                // keeps what it had.
                (Some(name), ast::AssignmentValue::Scalar(w)) if command => {
                    let value = match self.expand_plain(&w.value, io).await {
                        Ok(v) => v,
                        Err(flow) => return Err(self.failed(flow)),
                    };
                    let value = if a.append {
                        format!(
                            "{}{value}",
                            self.vars.get(name).cloned().unwrap_or_default()
                        )
                    } else {
                        value
                    };
                    let old = self.vars.insert(name.clone(), value.clone());
                    shadowed.push((name.clone(), old));
                    assigned.push((name.clone(), value));
                }
                // Alone: each assignment in turn, so `a=1 b=$a` sees the first.
                _ => {
                    if let Err(flow) = self.assign(a, io).await {
                        return Err(self.failed(flow));
                    }
                }
            }
        }
        Ok(assigned)
    }

    /// Carries out one assignment of a command without a command word: `a=v`,
    /// `a+=v`, and bash's `a=(…)`, `a+=(…)`, `a[i]=v`, `a[i]+=v`.
    async fn assign(&mut self, a: &ast::Assignment, io: &Io) -> Result<(), Flow> {
        match (&a.name, &a.value) {
            (ast::AssignmentName::VariableName(n), ast::AssignmentValue::Scalar(w)) => {
                let value = self.expand_plain(&w.value, io).await?;
                if self.is_array(n) {
                    self.assign_element(n, "0", value, a.append)
                        .map_err(|_| Flow::Next(1))?;
                } else {
                    let value = if a.append {
                        format!("{}{value}", self.vars.get(n).cloned().unwrap_or_default())
                    } else {
                        value
                    };
                    self.set_var(n, value);
                }
            }
            (ast::AssignmentName::VariableName(n), ast::AssignmentValue::Array(items)) => {
                let mut values = Vec::new();
                for (key, w) in items {
                    match key {
                        Some(k) => {
                            let key = self.expand_plain(&k.value, io).await?;
                            let Ok(i) = self.subscript(&key) else {
                                return Err(self
                                    .refuse(io, &format!("the array subscript [{}]", k.value))
                                    .await);
                            };
                            values.push((Some(i), self.expand_plain(&w.value, io).await?));
                        }
                        None => {
                            for field in self.expand_word(&w.value, io).await? {
                                values.push((None, field));
                            }
                        }
                    }
                }
                if values.iter().any(|(k, _)| k.is_some_and(|k| k < 0)) {
                    return Err(self.refuse(io, "a negative subscript in a=(…)").await);
                }
                self.assign_array(n, values, a.append);
            }
            (ast::AssignmentName::ArrayElementName(n, index), ast::AssignmentValue::Scalar(w)) => {
                let value = self.expand_plain(&w.value, io).await?;
                let index = self.expand_plain(index, io).await?;
                if self.assign_element(n, &index, value, a.append).is_err() {
                    return Err(self
                        .refuse(io, &format!("the array subscript {n}[{index}]"))
                        .await);
                }
            }
            (ast::AssignmentName::ArrayElementName(..), ast::AssignmentValue::Array(_)) => {
                return Err(self.refuse(io, "a[i]=(…)").await);
            }
        }
        Ok(())
    }

    /// Sets a variable (exported ones in the environment too).
    pub(super) fn set_var(&mut self, k: &str, v: String) {
        // An array's `$a` is its element 0, and so is `a=v`.
        if let Some(array) = self.arrays.get_mut(k) {
            array.insert(0, v);
            return;
        }
        if self.ctx.env.contains_key(k) {
            self.ctx.env.insert(k.to_string(), v.clone());
        }
        self.vars.insert(k.to_string(), v);
    }

    /// Resolves a command name: a program by name, or a file by path.
    pub(super) fn command_target(&self, argv: Vec<String>) -> Target {
        let name = argv[0].clone();
        if !name.contains('/') {
            if self.ctx.exists(&name) {
                return Target::Run(argv);
            }
            return Target::Fail(
                match self.dialect {
                    Dialect::Bash => format!("{name}: command not found"),
                    Dialect::Dash => format!("{name}: not found"),
                },
                127,
            );
        }
        let path = self.ctx.resolve(&name);
        let base = name.rsplit('/').next().unwrap_or("");
        let meta = self.ctx.with_fs(|fs| fs.stat(&path));
        let denied = |why: &str| {
            let why = if self.dialect == Dialect::Dash {
                "Permission denied"
            } else {
                why
            };
            Target::Fail(format!("{name}: {why}"), 126)
        };
        match meta {
            Err(_) => {
                let dir = crate::fs::parent(&path);
                if BIN_DIRS.contains(&dir) && self.ctx.exists(base) {
                    return Target::Run(argv);
                }
                Target::Fail(
                    match self.dialect {
                        Dialect::Bash => format!("{name}: No such file or directory"),
                        Dialect::Dash => format!("{name}: not found"),
                    },
                    127,
                )
            }
            Ok(m) if m.is_dir() => denied("Is a directory"),
            Ok(m) if m.mode & 0o111 == 0 => denied("Permission denied"),
            Ok(m) => {
                let text = self
                    .ctx
                    .with_fs(|fs| fs.read(&path).map(<[u8]>::to_vec))
                    .unwrap_or_default();
                if m.size == 0 && self.ctx.exists(base) {
                    // One of the programs the fake provides, installed as an empty file.
                    return Target::Run(argv);
                }
                let interpreter = match text.strip_prefix(b"#!") {
                    Some(rest) => {
                        let line = rest.split(|b| *b == b'\n').next().unwrap_or(b"");
                        let line = String::from_utf8_lossy(line);
                        let mut words = line.split_whitespace();
                        match (words.next(), words.next()) {
                            (Some(i), None) => i.to_string(),
                            _ => return Target::Refuse("a #! line with arguments".into()),
                        }
                    }
                    // No #!: the shell runs it as a script of its own.
                    None => match self.dialect {
                        Dialect::Bash => "/bin/bash".into(),
                        Dialect::Dash => "/bin/sh".into(),
                    },
                };
                let mut run = vec![interpreter];
                run.push(name);
                run.extend(argv.into_iter().skip(1));
                Target::Run(run)
            }
        }
    }

    async fn call_function(
        &mut self,
        def: Arc<ast::FunctionDefinition>,
        argv: Vec<String>,
        io: &Io,
    ) -> Flow {
        let mut positional = vec![self.positional.first().cloned().unwrap_or_default()];
        positional.extend(argv.into_iter().skip(1));
        let saved = std::mem::replace(&mut self.positional, positional);
        self.locals.push(Vec::new());
        let body = &def.body;
        let io = match &body.1 {
            Some(list) => match self.apply_redirects(&list.0, io, false).await {
                Ok(io) => io,
                Err(flow) => {
                    self.positional = saved;
                    self.locals.pop();
                    return flow;
                }
            },
            None => io.clone(),
        };
        let loops = std::mem::take(&mut self.loops);
        let flow = self.eval_compound(&body.0, &io).await;
        self.loops = loops;
        for (k, v) in self.locals.pop().unwrap_or_default().into_iter().rev() {
            match v {
                Some(v) => {
                    self.vars.insert(k, v);
                }
                None => {
                    self.vars.remove(&k);
                }
            }
        }
        self.positional = saved;
        let flow = match flow {
            Flow::Return(s) | Flow::Next(s) => Flow::Next(s),
            other => other,
        };
        if let Flow::Next(s) = flow {
            self.last = s;
        }
        flow
    }
}
