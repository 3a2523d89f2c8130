//! The small shell: command lines are parsed by `brush-parser`; this module evaluates
//! the syntax tree (lists, pipelines, redirections, quoting, expansions, `if`/`for`/
//! `while`/`case`, subshells) against the in-memory filesystems. It is one program
//! among the others (`bash`, `sh` in the program table); the programs it runs are
//! child processes started through the process layer (`proc`).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use crate::fs::WriteMode;
use crate::io::{Input, Io, Output};
use crate::proc::{Ctx, spawn_child, wait};
use crate::unix::glob_match;
use brush_parser::ast;
use brush_parser::word::{
    Parameter, ParameterExpr, ParameterTestType, SpecialParameter, WordPiece,
};

/// How evaluation goes on after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Next(i32),
    Exit(i32),
}

impl Flow {
    fn status(self) -> i32 {
        match self {
            Flow::Next(s) | Flow::Exit(s) => s,
        }
    }
}

type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One shell's state. A subshell is a clone.
#[derive(Clone)]
pub struct Shell {
    pub ctx: Ctx,
    vars: BTreeMap<String, String>,
    /// `$0`, `$1`, …
    positional: Vec<String>,
    last: i32,
    last_bg: Option<u32>,
}

/// A field being built during expansion: its text, and whether any part was quoted
/// (so `""` still yields an empty field).
#[derive(Default)]
struct Field {
    text: String,
    quoted: bool,
}

impl Shell {
    /// A shell running as process `ctx.pid`; `positional[0]` is `$0`.
    pub fn new(ctx: Ctx, positional: Vec<String>) -> Self {
        let vars = ctx.env.clone();
        Shell {
            ctx,
            vars,
            positional,
            last: 0,
            last_bg: None,
        }
    }

    /// Parses and evaluates a script; returns the final status.
    pub async fn run_str(&mut self, script: &str, io: &Io) -> i32 {
        let options = brush_parser::ParserOptions::default();
        let mut parser =
            brush_parser::Parser::new(std::io::Cursor::new(script.as_bytes()), &options);
        match parser.parse_program() {
            Ok(program) => {
                let mut status = 0;
                for cmd in &program.complete_commands {
                    match self.eval_list(cmd, io).await {
                        Flow::Next(s) => status = s,
                        Flow::Exit(s) => return s,
                    }
                }
                status
            }
            Err(e) => {
                let name = self
                    .positional
                    .first()
                    .map(String::as_str)
                    .unwrap_or("bash");
                let _ = io
                    .stderr
                    .write_str(&format!("{name}: -c: line 1: {e}\n"))
                    .await;
                2
            }
        }
    }

    fn eval_list<'a>(&'a mut self, list: &'a ast::CompoundList, io: &'a Io) -> BoxFut<'a, Flow> {
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

    async fn eval_and_or(&mut self, list: &ast::AndOrList, io: &Io) -> Flow {
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

    async fn eval_pipeline(&mut self, pipeline: &ast::Pipeline, io: &Io) -> Flow {
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

    fn eval_command<'a>(&'a mut self, cmd: &'a ast::Command, io: &'a Io) -> BoxFut<'a, Flow> {
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
                ast::Command::Function(_) | ast::Command::ExtendedTest(..) => {
                    let _ = io
                        .stderr
                        .write_str("bash: this construct is not supported by fake-pve's shell\n")
                        .await;
                    Flow::Next(2)
                }
            }
        })
    }

    async fn eval_compound(&mut self, cmd: &ast::CompoundCommand, io: &Io) -> Flow {
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
            _ => {
                let _ = io
                    .stderr
                    .write_str("bash: this construct is not supported by fake-pve's shell\n")
                    .await;
                Flow::Next(2)
            }
        }
    }

    async fn eval_simple(&mut self, cmd: &ast::SimpleCommand, io: &Io) -> Flow {
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

    /// Builtins that change the shell itself; `None` when `argv[0]` is not one.
    async fn shell_builtin(&mut self, argv: &[String], io: &Io) -> Option<Flow> {
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
                    Ok(_) => {
                        let _ = io
                            .stderr
                            .write_str(&format!("bash: line 1: cd: {target}: Not a directory\n"))
                            .await;
                        Flow::Next(1)
                    }
                    Err(e) => {
                        let _ = io
                            .stderr
                            .write_str(&format!("bash: line 1: cd: {target}: {e}\n"))
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

    /// Applies redirections to a copy of `io`. On failure prints bash's message and
    /// returns status 1.
    async fn apply_redirects(&mut self, redirects: &[ast::IoRedirect], io: &Io) -> Result<Io, i32> {
        let mut io = io.clone();
        for r in redirects {
            match r {
                ast::IoRedirect::File(fd, kind, target) => {
                    let word = match target {
                        ast::IoFileRedirectTarget::Filename(w)
                        | ast::IoFileRedirectTarget::Duplicate(w) => {
                            self.expand_plain(&w.value, &io).await?
                        }
                        ast::IoFileRedirectTarget::Fd(n) => n.to_string(),
                        ast::IoFileRedirectTarget::ProcessSubstitution(..) => {
                            let _ = io
                                .stderr
                                .write_str("bash: process substitution is not supported\n")
                                .await;
                            return Err(1);
                        }
                    };
                    match kind {
                        ast::IoFileRedirectKind::Read => {
                            let fd = fd.unwrap_or(0);
                            if fd != 0 {
                                continue;
                            }
                            io.stdin = self.open_input(&word, &io).await?;
                        }
                        ast::IoFileRedirectKind::Write
                        | ast::IoFileRedirectKind::Clobber
                        | ast::IoFileRedirectKind::Append
                        | ast::IoFileRedirectKind::ReadAndWrite => {
                            let how = if matches!(kind, ast::IoFileRedirectKind::Append) {
                                WriteMode::Append
                            } else if matches!(kind, ast::IoFileRedirectKind::ReadAndWrite) {
                                WriteMode::Keep
                            } else {
                                WriteMode::Truncate
                            };
                            let out = self.open_output(&word, how, &io).await?;
                            match fd.unwrap_or(1) {
                                1 => io.stdout = out,
                                2 => io.stderr = out,
                                _ => {}
                            }
                        }
                        ast::IoFileRedirectKind::DuplicateOutput => {
                            let src = match word.as_str() {
                                "1" => io.stdout.clone(),
                                "2" => io.stderr.clone(),
                                "-" => Output::Null,
                                other => self.open_output(other, WriteMode::Truncate, &io).await?,
                            };
                            match fd.unwrap_or(1) {
                                1 => io.stdout = src,
                                2 => io.stderr = src,
                                _ => {}
                            }
                        }
                        ast::IoFileRedirectKind::DuplicateInput => {}
                    }
                }
                ast::IoRedirect::OutputAndError(w, append) => {
                    let word = self.expand_plain(&w.value, &io).await?;
                    let how = if *append {
                        WriteMode::Append
                    } else {
                        WriteMode::Truncate
                    };
                    let out = self.open_output(&word, how, &io).await?;
                    io.stdout = out.clone();
                    io.stderr = out;
                }
                ast::IoRedirect::HereString(_, w) => {
                    let mut text = self.expand_plain(&w.value, &io).await?;
                    text.push('\n');
                    io.stdin = Input::bytes(text.into_bytes());
                }
                ast::IoRedirect::HereDocument(_, doc) => {
                    let text = if doc.requires_expansion {
                        self.expand_heredoc(&doc.doc.value, &io).await?
                    } else {
                        doc.doc.value.clone()
                    };
                    io.stdin = Input::bytes(text.into_bytes());
                }
            }
        }
        Ok(io)
    }

    async fn open_input(&self, word: &str, io: &Io) -> Result<Input, i32> {
        if word == "/dev/null" {
            return Ok(Input::empty());
        }
        let path = self.ctx.resolve(word);
        match self.ctx.with_fs(|fs| fs.read(&path).map(<[u8]>::to_vec)) {
            Ok(data) => Ok(Input::bytes(data)),
            Err(e) => {
                let _ = io
                    .stderr
                    .write_str(&format!("bash: line 1: {word}: {e}\n"))
                    .await;
                Err(1)
            }
        }
    }

    async fn open_output(&self, word: &str, how: WriteMode, io: &Io) -> Result<Output, i32> {
        match word {
            "/dev/null" => return Ok(Output::Null),
            "/dev/stdout" => return Ok(io.stdout.clone()),
            "/dev/stderr" => return Ok(io.stderr.clone()),
            _ => {}
        }
        let target = self.ctx.file(word);
        match target.open(how) {
            Ok(()) => Ok(Output::File(target)),
            Err(e) => {
                let _ = io
                    .stderr
                    .write_str(&format!("bash: line 1: {word}: {e}\n"))
                    .await;
                Err(1)
            }
        }
    }

    /// Expands a word into fields (quote removal, parameter and command substitution,
    /// arithmetic, field splitting of unquoted results, pathname expansion).
    async fn expand_word(&mut self, word: &str, io: &Io) -> Result<Vec<String>, i32> {
        let pieces = self.parse_word(word, io).await?;
        let mut fields = vec![Field::default()];
        let mut globbable = false;
        for piece in pieces {
            self.expand_piece(piece, false, &mut fields, &mut globbable, io)
                .await?;
        }
        let mut out = Vec::new();
        for f in fields {
            if f.text.is_empty() && !f.quoted {
                continue;
            }
            if globbable && (f.text.contains('*') || f.text.contains('?')) {
                let matches = self.glob(&f.text);
                if !matches.is_empty() {
                    out.extend(matches);
                    continue;
                }
            }
            out.push(f.text);
        }
        Ok(out)
    }

    /// Expands a word into one string, without field splitting (assignments,
    /// redirection targets, `case` values).
    async fn expand_plain(&mut self, word: &str, io: &Io) -> Result<String, i32> {
        let pieces = self.parse_word(word, io).await?;
        let mut fields = vec![Field::default()];
        let mut globbable = false;
        for piece in pieces {
            self.expand_piece(piece, true, &mut fields, &mut globbable, io)
                .await?;
        }
        Ok(fields
            .into_iter()
            .map(|f| f.text)
            .collect::<Vec<_>>()
            .join(" "))
    }

    async fn expand_heredoc(&mut self, text: &str, io: &Io) -> Result<String, i32> {
        let pieces = match brush_parser::word::parse_heredoc(
            text,
            &brush_parser::ParserOptions::default(),
        ) {
            Ok(p) => p,
            Err(_) => return Ok(text.to_string()),
        };
        let mut fields = vec![Field::default()];
        let mut globbable = false;
        for piece in pieces {
            self.expand_piece(piece.piece, true, &mut fields, &mut globbable, io)
                .await?;
        }
        Ok(fields
            .into_iter()
            .map(|f| f.text)
            .collect::<Vec<_>>()
            .join(" "))
    }

    async fn parse_word(&self, word: &str, io: &Io) -> Result<Vec<WordPiece>, i32> {
        match brush_parser::word::parse(word, &brush_parser::ParserOptions::default()) {
            Ok(pieces) => Ok(pieces.into_iter().map(|p| p.piece).collect()),
            Err(e) => {
                let _ = io.stderr.write_str(&format!("bash: line 1: {e}\n")).await;
                Err(1)
            }
        }
    }

    fn expand_piece<'a>(
        &'a mut self,
        piece: WordPiece,
        quoted: bool,
        fields: &'a mut Vec<Field>,
        globbable: &'a mut bool,
        io: &'a Io,
    ) -> BoxFut<'a, Result<(), i32>> {
        Box::pin(async move {
            match piece {
                WordPiece::Text(t) => {
                    if !quoted && (t.contains('*') || t.contains('?')) {
                        *globbable = true;
                    }
                    push_text(fields, &t, true);
                }
                WordPiece::SingleQuotedText(t) => {
                    push_text(fields, &t, true);
                    mark_quoted(fields);
                }
                WordPiece::AnsiCQuotedText(t) => {
                    push_text(fields, &ansi_c_unescape(&t), true);
                    mark_quoted(fields);
                }
                WordPiece::EscapeSequence(s) => {
                    let text = if quoted {
                        // Inside double quotes a backslash escapes only $ ` " \ and newline.
                        match s.strip_prefix('\\') {
                            Some(c) if matches!(c, "$" | "`" | "\"" | "\\") => c.to_string(),
                            Some("\n") => String::new(),
                            _ => s.clone(),
                        }
                    } else {
                        s.strip_prefix('\\').unwrap_or(&s).to_string()
                    };
                    push_text(fields, &text, true);
                    mark_quoted(fields);
                }
                WordPiece::DoubleQuotedSequence(inner)
                | WordPiece::GettextDoubleQuotedSequence(inner) => {
                    mark_quoted(fields);
                    for p in inner {
                        self.expand_piece(p.piece, true, fields, globbable, io)
                            .await?;
                    }
                }
                WordPiece::TildeExpansion(t) => {
                    let home = self
                        .vars
                        .get("HOME")
                        .cloned()
                        .unwrap_or_else(|| "/root".into());
                    let text = match t {
                        brush_parser::word::TildeExpr::Home => home,
                        brush_parser::word::TildeExpr::UserHome(u) if u == "root" => "/root".into(),
                        brush_parser::word::TildeExpr::UserHome(u) => format!("/home/{u}"),
                        brush_parser::word::TildeExpr::WorkingDir => self.ctx.cwd.clone(),
                        _ => home,
                    };
                    push_text(fields, &text, true);
                }
                WordPiece::ParameterExpansion(expr) => {
                    let value = self.expand_parameter(&expr, io).await?;
                    push_text(fields, &value, quoted);
                }
                WordPiece::CommandSubstitution(cmd)
                | WordPiece::BackquotedCommandSubstitution(cmd) => {
                    let (out, buf) = Output::capture();
                    let sub_io = Io {
                        stdin: io.stdin.clone(),
                        stdout: out,
                        stderr: io.stderr.clone(),
                    };
                    let mut sub = self.clone();
                    let status = sub.run_str(&cmd, &sub_io).await;
                    self.last = status;
                    let mut text =
                        String::from_utf8_lossy(&buf.lock().unwrap_or_else(|e| e.into_inner()))
                            .into_owned();
                    while text.ends_with('\n') {
                        text.pop();
                    }
                    push_text(fields, &text, quoted);
                }
                WordPiece::ArithmeticExpression(expr) => {
                    let source = self.expand_plain(&expr.value, io).await?;
                    match self.arith(&source) {
                        Ok(v) => push_text(fields, &v.to_string(), true),
                        Err(msg) => {
                            let _ = io.stderr.write_str(&format!("bash: line 1: {msg}\n")).await;
                            return Err(1);
                        }
                    }
                }
            }
            Ok(())
        })
    }

    fn param_value(&self, p: &Parameter) -> Option<String> {
        match p {
            Parameter::Positional(n) => self.positional.get(*n as usize).cloned(),
            Parameter::Special(s) => Some(match s {
                SpecialParameter::AllPositionalParameters { .. } => self
                    .positional
                    .iter()
                    .skip(1)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" "),
                SpecialParameter::PositionalParameterCount => {
                    self.positional.len().saturating_sub(1).to_string()
                }
                SpecialParameter::LastExitStatus => self.last.to_string(),
                SpecialParameter::CurrentOptionFlags => "hBc".into(),
                SpecialParameter::ProcessId => self.ctx.pid.to_string(),
                SpecialParameter::LastBackgroundProcessId => {
                    self.last_bg.map(|p| p.to_string()).unwrap_or_default()
                }
                SpecialParameter::ShellName => self.positional.first().cloned().unwrap_or_default(),
            }),
            Parameter::Named(name) => self.vars.get(name).cloned(),
            Parameter::NamedWithIndex { name, .. }
            | Parameter::NamedWithAllIndices { name, .. } => self.vars.get(name).cloned(),
        }
    }

    async fn expand_parameter(&mut self, expr: &ParameterExpr, io: &Io) -> Result<String, i32> {
        let is_null = |v: &Option<String>, t: &ParameterTestType| match t {
            ParameterTestType::UnsetOrNull => v.as_deref().is_none_or(str::is_empty),
            ParameterTestType::Unset => v.is_none(),
        };
        Ok(match expr {
            ParameterExpr::Parameter { parameter, .. } => {
                self.param_value(parameter).unwrap_or_default()
            }
            ParameterExpr::UseDefaultValues {
                parameter,
                test_type,
                default_value,
                ..
            } => {
                let v = self.param_value(parameter);
                if is_null(&v, test_type) {
                    self.expand_plain(default_value.as_deref().unwrap_or(""), io)
                        .await?
                } else {
                    v.unwrap_or_default()
                }
            }
            ParameterExpr::AssignDefaultValues {
                parameter,
                test_type,
                default_value,
                ..
            } => {
                let v = self.param_value(parameter);
                if is_null(&v, test_type) {
                    let d = self
                        .expand_plain(default_value.as_deref().unwrap_or(""), io)
                        .await?;
                    if let Parameter::Named(n) = parameter {
                        self.vars.insert(n.clone(), d.clone());
                    }
                    d
                } else {
                    v.unwrap_or_default()
                }
            }
            ParameterExpr::UseAlternativeValue {
                parameter,
                test_type,
                alternative_value,
                ..
            } => {
                let v = self.param_value(parameter);
                if is_null(&v, test_type) {
                    String::new()
                } else {
                    self.expand_plain(alternative_value.as_deref().unwrap_or(""), io)
                        .await?
                }
            }
            ParameterExpr::IndicateErrorIfNullOrUnset {
                parameter,
                test_type,
                error_message,
                ..
            } => {
                let v = self.param_value(parameter);
                if is_null(&v, test_type) {
                    let msg = error_message
                        .clone()
                        .unwrap_or_else(|| "parameter null or not set".into());
                    let _ = io
                        .stderr
                        .write_str(&format!("bash: line 1: {parameter}: {msg}\n"))
                        .await;
                    return Err(1);
                }
                v.unwrap_or_default()
            }
            ParameterExpr::ParameterLength { parameter, .. } => self
                .param_value(parameter)
                .unwrap_or_default()
                .chars()
                .count()
                .to_string(),
            ParameterExpr::RemoveSmallestSuffixPattern {
                parameter, pattern, ..
            }
            | ParameterExpr::RemoveLargestSuffixPattern {
                parameter, pattern, ..
            }
            | ParameterExpr::RemoveSmallestPrefixPattern {
                parameter, pattern, ..
            }
            | ParameterExpr::RemoveLargestPrefixPattern {
                parameter, pattern, ..
            } => {
                let value = self.param_value(parameter).unwrap_or_default();
                let pat = self
                    .expand_plain(pattern.as_deref().unwrap_or(""), io)
                    .await?;
                let (suffix, largest) = match expr {
                    ParameterExpr::RemoveSmallestSuffixPattern { .. } => (true, false),
                    ParameterExpr::RemoveLargestSuffixPattern { .. } => (true, true),
                    ParameterExpr::RemoveSmallestPrefixPattern { .. } => (false, false),
                    _ => (false, true),
                };
                remove_pattern(&value, &pat, suffix, largest)
            }
            _ => {
                let _ = io
                    .stderr
                    .write_str("bash: line 1: bad substitution\n")
                    .await;
                return Err(1);
            }
        })
    }

    /// Evaluates `$(( … ))`.
    fn arith(&mut self, source: &str) -> Result<i64, String> {
        let expr = brush_parser::arithmetic::parse(source).map_err(|e| e.to_string())?;
        self.arith_eval(&expr)
    }

    fn arith_eval(&mut self, expr: &ast::ArithmeticExpr) -> Result<i64, String> {
        use ast::{ArithmeticExpr as E, BinaryOperator as B, UnaryOperator as U};
        Ok(match expr {
            E::Literal(n) => *n,
            E::Reference(ast::ArithmeticTarget::Variable(name))
            | E::Reference(ast::ArithmeticTarget::ArrayElement(name, _)) => self
                .vars
                .get(name)
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0),
            E::UnaryOp(op, a) => {
                let a = self.arith_eval(a)?;
                match op {
                    U::UnaryPlus => a,
                    U::UnaryMinus => a.wrapping_neg(),
                    U::BitwiseNot => !a,
                    U::LogicalNot => i64::from(a == 0),
                }
            }
            E::BinaryOp(op, a, b) => {
                let a = self.arith_eval(a)?;
                let b = self.arith_eval(b)?;
                match op {
                    B::Power => a.wrapping_pow(u32::try_from(b).unwrap_or(0)),
                    B::Multiply => a.wrapping_mul(b),
                    B::Divide | B::Modulo if b == 0 => return Err("division by 0".into()),
                    B::Divide => a.wrapping_div(b),
                    B::Modulo => a.wrapping_rem(b),
                    B::Comma => b,
                    B::Add => a.wrapping_add(b),
                    B::Subtract => a.wrapping_sub(b),
                    B::ShiftLeft => a.wrapping_shl(b as u32),
                    B::ShiftRight => a.wrapping_shr(b as u32),
                    B::LessThan => i64::from(a < b),
                    B::LessThanOrEqualTo => i64::from(a <= b),
                    B::GreaterThan => i64::from(a > b),
                    B::GreaterThanOrEqualTo => i64::from(a >= b),
                    B::Equals => i64::from(a == b),
                    B::NotEquals => i64::from(a != b),
                    B::BitwiseAnd => a & b,
                    B::BitwiseXor => a ^ b,
                    B::BitwiseOr => a | b,
                    B::LogicalAnd => i64::from(a != 0 && b != 0),
                    B::LogicalOr => i64::from(a != 0 || b != 0),
                }
            }
            E::Conditional(c, a, b) => {
                if self.arith_eval(c)? != 0 {
                    self.arith_eval(a)?
                } else {
                    self.arith_eval(b)?
                }
            }
            E::Assignment(ast::ArithmeticTarget::Variable(name), v) => {
                let v = self.arith_eval(v)?;
                self.vars.insert(name.clone(), v.to_string());
                v
            }
            _ => return Err("arithmetic operator not supported by fake-pve's shell".into()),
        })
    }

    /// Pathname expansion of the last component (`/var/log/*.log`, `*.txt`).
    fn glob(&self, pattern: &str) -> Vec<String> {
        let (dir, pat) = match pattern.rfind('/') {
            Some(i) => (&pattern[..=i], &pattern[i + 1..]),
            None => ("", pattern),
        };
        if dir.contains('*') || dir.contains('?') {
            return Vec::new();
        }
        let abs = self.ctx.resolve(if dir.is_empty() { "." } else { dir });
        let Ok(entries) = self.ctx.with_fs(|fs| fs.list_dir(&abs)) else {
            return Vec::new();
        };
        entries
            .into_iter()
            .filter(|(name, _)| {
                (pat.starts_with('.') || !name.starts_with('.')) && glob_match(pat, name)
            })
            .map(|(name, _)| format!("{dir}{name}"))
            .collect()
    }
}

/// `${v%pat}`, `${v%%pat}`, `${v#pat}`, `${v##pat}`: removes the shortest or longest
/// suffix or prefix of `value` that matches `pat`.
fn remove_pattern(value: &str, pat: &str, suffix: bool, largest: bool) -> String {
    let mut cuts: Vec<usize> = value
        .char_indices()
        .map(|(i, _)| i)
        .chain([value.len()])
        .collect();
    // Try the candidates from the smallest removal to the largest (or back).
    if suffix != largest {
        cuts.reverse();
    }
    let hit = cuts.into_iter().find(|&i| {
        if suffix {
            glob_match(pat, &value[i..])
        } else {
            glob_match(pat, &value[..i])
        }
    });
    match hit {
        Some(i) if suffix => value[..i].to_string(),
        Some(i) => value[i..].to_string(),
        None => value.to_string(),
    }
}

fn push_text(fields: &mut Vec<Field>, text: &str, quoted: bool) {
    if quoted {
        if let Some(f) = fields.last_mut() {
            f.text.push_str(text);
        }
        return;
    }
    // Unquoted expansion results are split on blanks.
    let mut first = true;
    let starts_blank = text.starts_with(char::is_whitespace);
    for part in text.split(char::is_whitespace) {
        if part.is_empty() {
            continue;
        }
        if first && !starts_blank {
            if let Some(f) = fields.last_mut() {
                f.text.push_str(part);
            }
        } else {
            fields.push(Field {
                text: part.to_string(),
                quoted: false,
            });
        }
        first = false;
    }
    if text.ends_with(char::is_whitespace) && !text.trim().is_empty() {
        fields.push(Field::default());
    }
}

fn mark_quoted(fields: &mut [Field]) {
    if let Some(f) = fields.last_mut() {
        f.quoted = true;
    }
}

fn ansi_c_unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('0') => out.push('\0'),
            Some('\\') => out.push('\\'),
            Some('\'') => out.push('\''),
            Some('"') => out.push('"'),
            Some('e') => out.push('\x1b'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Runs a script with `bash -c` semantics in a new shell that is process `ctx.pid`.
pub async fn run_script(ctx: &Ctx, script: &str, positional: Vec<String>, io: &Io) -> i32 {
    let mut shell = Shell::new(ctx.clone(), positional);
    shell.run_str(script, io).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_removal() {
        assert_eq!(
            remove_pattern("/var/log/app.log", "*/", false, true),
            "app.log"
        );
        assert_eq!(
            remove_pattern("/var/log/app.log", "*/", false, false),
            "var/log/app.log"
        );
        assert_eq!(remove_pattern("a.tar.gz", ".*", true, false), "a.tar");
        assert_eq!(remove_pattern("a.tar.gz", ".*", true, true), "a");
        assert_eq!(remove_pattern("abc", "x*", true, true), "abc");
    }
}
