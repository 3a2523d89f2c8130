//! The small shell: command lines are parsed by `brush-parser`; this module evaluates
//! the syntax tree (lists, pipelines, redirections, quoting, expansions, `if`/`for`/
//! `while`/`case`, subshells) against the in-memory filesystems. It is one program
//! among the others (`bash`, `sh` in the program table); the programs it runs are
//! child processes started through the process layer (`proc`).
//!
//! By concern: `eval` (lists, pipelines, compound and simple commands), `builtins`,
//! `redirect`, `expand` (words and parameters), `arith` (`$(( … ))`), `glob`
//! (pathname expansion); shell patterns themselves are `crate::unix::glob_match`.

mod arith;
mod builtins;
mod eval;
mod expand;
mod glob;
mod redirect;

use std::collections::BTreeMap;

use crate::io::Io;
use crate::proc::{BoxFut, Ctx};

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
}

/// Runs a script with `bash -c` semantics in a new shell that is process `ctx.pid`.
pub async fn run_script(ctx: &Ctx, script: &str, positional: Vec<String>, io: &Io) -> i32 {
    let mut shell = Shell::new(ctx.clone(), positional);
    shell.run_str(script, io).await
}
