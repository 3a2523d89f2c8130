//! The small shell: command lines are parsed by `brush-parser`; this module evaluates
//! the syntax tree (lists, pipelines, redirections and file descriptors, quoting,
//! expansions, `if`/`for`/`while`/`case`, subshells, functions, background jobs)
//! against the in-memory filesystems. It is one program among the others (`bash`,
//! `sh` in the program table), in two dialects: bash, and dash (Debian's `/bin/sh`).
//! The programs it runs are child processes started through the process layer.
//!
//! What it does not emulate it refuses loudly (`fake-pve: … is not emulated`, exit
//! 2) and the session ends there; see `docs/fake-shell.md`.
//!
//! By concern: `eval` (lists, pipelines, compound commands), `simple` (simple
//! commands, functions, running by path), `builtins`, `jobs` (background jobs, `wait`,
//! `kill`), `redirect`, `expand` (words and parameters), `arith` (`$(( … ))`), `glob`
//! (pathname expansion); shell patterns themselves are `crate::unix::glob_match`.

mod arith;
mod arrays;
mod builtins;
mod cond;
mod eval;
mod expand;
mod glob;
mod jobs;
mod params;
mod redirect;
mod simple;

use std::collections::BTreeMap;
use std::sync::Arc;

use brush_parser::ast;

use crate::io::{Input, Io, Output};
use crate::proc::{BoxFut, Ctx};

/// Which shell this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Bash,
    /// dash, Debian's `/bin/sh`.
    Dash,
}

/// How evaluation goes on after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Next(i32),
    Exit(i32),
    Break(u32),
    Continue(u32),
    Return(i32),
}

impl Flow {
    fn status(self) -> i32 {
        match self {
            Flow::Next(s) | Flow::Exit(s) | Flow::Return(s) => s,
            Flow::Break(_) | Flow::Continue(_) => 0,
        }
    }
}

/// An open file descriptor above 2 (`exec 3>f`, `4<f`).
#[derive(Debug, Clone)]
enum Fd {
    Out(Output),
    In(Input),
}

/// The shell options that change evaluation (`set -e`, `-u`, `-o pipefail`, or the
/// same given to the shell when it starts).
#[derive(Debug, Clone, Copy, Default)]
pub struct Opts {
    pub errexit: bool,
    pub nounset: bool,
    pub pipefail: bool,
}

/// Background jobs of one shell: a subshell starts with none.
#[derive(Default)]
struct Jobs(Vec<(u32, tokio::task::JoinHandle<i32>)>);

impl Clone for Jobs {
    fn clone(&self) -> Self {
        Jobs::default()
    }
}

/// One shell's state. A subshell is a clone.
#[derive(Clone)]
pub struct Shell {
    pub ctx: Ctx,
    dialect: Dialect,
    vars: BTreeMap<String, String>,
    /// bash's indexed arrays (a name is in `vars` or here, never both).
    arrays: BTreeMap<String, arrays::Array>,
    /// `$0`, `$1`, …
    positional: Vec<String>,
    last: i32,
    last_bg: Option<u32>,
    /// `$$`: the pid of the shell itself, also in its subshells.
    dollar: u32,
    opts: Opts,
    pipestatus: Vec<i32>,
    /// Descriptors 3 and up, and what `exec` made of 0–2.
    fds: BTreeMap<u32, Fd>,
    std_override: [Option<Fd>; 3],
    funcs: BTreeMap<String, Arc<ast::FunctionDefinition>>,
    /// Saved values of `local` variables, one frame per function call.
    locals: Vec<Vec<(String, Option<String>)>>,
    jobs: Jobs,
    exit_trap: Option<String>,
    /// The status of the last command substitution of the current simple command.
    subst: Option<i32>,
    /// How deep evaluation is in a context where `set -e` does not apply.
    cond: u32,
    loops: u32,
    /// This shell is a forked copy whose last simple command replaces it (`&`).
    exec_last: bool,
    /// How deep arithmetic is in evaluating variables' values as expressions.
    arith_depth: u32,
    /// A forked copy: a subshell, `$(…)` or a background job (not a pipeline stage:
    /// bash ends one on an unbound variable as it ends itself).
    forked: bool,
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
    pub fn new(ctx: Ctx, dialect: Dialect, positional: Vec<String>) -> Self {
        let mut vars = ctx.env.clone();
        // bash and dash set PWD at start-up unless the one inherited names the cwd.
        if vars.get("PWD") != Some(&ctx.cwd) {
            vars.insert("PWD".into(), ctx.cwd.clone());
        }
        let dollar = ctx.pid;
        Shell {
            ctx,
            dialect,
            vars,
            arrays: BTreeMap::new(),
            positional,
            last: 0,
            last_bg: None,
            dollar,
            opts: Opts::default(),
            pipestatus: Vec::new(),
            fds: BTreeMap::new(),
            std_override: [None, None, None],
            funcs: BTreeMap::new(),
            locals: Vec::new(),
            jobs: Jobs::default(),
            exit_trap: None,
            subst: None,
            cond: 0,
            loops: 0,
            exec_last: false,
            forked: false,
            arith_depth: 0,
        }
    }

    /// A copy of this shell as `fork` makes it, for a subshell, `$(…)` or a background
    /// job.
    fn fork(&self) -> Shell {
        Shell {
            forked: true,
            ..self.clone()
        }
    }

    fn parser_options(&self) -> brush_parser::ParserOptions {
        brush_parser::ParserOptions {
            sh_mode: self.dialect == Dialect::Dash,
            posix_mode: self.dialect == Dialect::Dash,
            ..Default::default()
        }
    }

    /// The start of the shell's own messages: `bash: line 1: ` or `sh: 1: `.
    fn prefix(&self) -> String {
        let name = self
            .positional
            .first()
            .map(String::as_str)
            .unwrap_or("bash");
        match self.dialect {
            Dialect::Bash => format!("{name}: line 1: "),
            Dialect::Dash => format!("{name}: 1: "),
        }
    }

    /// Writes one of the shell's own messages on `io`'s stderr.
    async fn say(&self, io: &Io, msg: &str) {
        let _ = io
            .stderr
            .write_str(&format!("{}{msg}\n", self.prefix()))
            .await;
    }

    /// Refuses a shell feature that is not emulated: the session ends with status 2.
    async fn refuse(&self, io: &Io, what: &str) -> Flow {
        Flow::Exit(self.ctx.refuse(io, what, 2).await)
    }

    /// Parses and evaluates a script; returns the final flow.
    async fn run_str_flow(&mut self, script: &str, io: &Io) -> Flow {
        let options = self.parser_options();
        let mut parser =
            brush_parser::Parser::new(std::io::Cursor::new(script.as_bytes()), &options);
        match parser.parse_program() {
            Ok(program) => {
                let mut status = 0;
                for cmd in &program.complete_commands {
                    match self.eval_list(cmd, io).await {
                        Flow::Next(s) => status = s,
                        other => return other,
                    }
                }
                Flow::Next(status)
            }
            Err(e) => {
                let msg = match self.dialect {
                    Dialect::Bash => format!("syntax error: {e}"),
                    Dialect::Dash => format!("Syntax error: {e}"),
                };
                // The parser's wording is not the shell's: say so.
                let _ = self
                    .ctx
                    .refuse(io, &format!("this syntax error's message ({msg})"), 2)
                    .await;
                Flow::Exit(2)
            }
        }
    }

    /// Parses and evaluates a script; returns the final status.
    pub async fn run_str(&mut self, script: &str, io: &Io) -> i32 {
        self.run_str_flow(script, io).await.status()
    }

    /// Runs a whole script as the shell's program: the `EXIT` trap runs at the end.
    pub async fn run_main(&mut self, script: &str, io: &Io) -> i32 {
        let status = self.run_str(script, io).await;
        if let Some(status) = self.ctx.refusal.status() {
            return status;
        }
        match self.exit_trap.take() {
            Some(trap) => {
                self.last = status;
                match self.run_str_flow(&trap, io).await {
                    Flow::Exit(s) => s,
                    _ => status,
                }
            }
            None => status,
        }
    }
}

/// Runs a script with `bash -c` (or `sh -c`) semantics in a new shell that is process
/// `ctx.pid`.
pub async fn run_script(
    ctx: &Ctx,
    dialect: Dialect,
    script: &str,
    positional: Vec<String>,
    io: &Io,
) -> i32 {
    run_script_with(ctx, dialect, script, positional, Opts::default(), io).await
}

/// [`run_script`] with options set from the start, as `bash -e -c SCRIPT` sets them.
pub async fn run_script_with(
    ctx: &Ctx,
    dialect: Dialect,
    script: &str,
    positional: Vec<String>,
    opts: Opts,
    io: &Io,
) -> i32 {
    let mut shell = Shell::new(ctx.clone(), dialect, positional);
    shell.opts = opts;
    shell.run_main(script, io).await
}

/// A boxed future of a flow, for the recursive evaluators.
type FlowFut<'a> = BoxFut<'a, Flow>;
