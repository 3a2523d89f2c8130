//! An awk program as a tree: rules, functions, statements, expressions.

use std::collections::HashMap;

use super::lex::{CompileError, Tok, Token, shown, tokens};
use super::re::AwkRe;

mod expr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Var {
    Global(usize),
    Local(usize),
}

/// The built-in variables, at these global slots.
pub(super) const SPECIALS: &[&str] = &[
    "NF", "NR", "FNR", "FS", "OFS", "ORS", "RS", "FILENAME", "SUBSEP", "RSTART", "RLENGTH",
    "CONVFMT", "OFMT", "ENVIRON", "ARGC", "ARGV",
];
pub(super) const NF: usize = 0;
pub(super) const NR: usize = 1;
pub(super) const FNR: usize = 2;
pub(super) const FS: usize = 3;
pub(super) const OFS: usize = 4;
pub(super) const ORS: usize = 5;
pub(super) const RS: usize = 6;
pub(super) const FILENAME: usize = 7;
pub(super) const SUBSEP: usize = 8;
pub(super) const RSTART: usize = 9;
pub(super) const RLENGTH: usize = 10;
pub(super) const CONVFMT: usize = 11;
pub(super) const OFMT: usize = 12;
pub(super) const ENVIRON: usize = 13;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Bi {
    Length,
    Substr,
    Index,
    Split,
    Sub,
    Gsub,
    Match,
    Sprintf,
    Tolower,
    Toupper,
    Int,
    Sqrt,
    Exp,
    Log,
    Sin,
    Cos,
    Atan2,
    Fflush,
}

fn builtin(name: &str) -> Option<Bi> {
    Some(match name {
        "length" => Bi::Length,
        "substr" => Bi::Substr,
        "index" => Bi::Index,
        "split" => Bi::Split,
        "sub" => Bi::Sub,
        "gsub" => Bi::Gsub,
        "match" => Bi::Match,
        "sprintf" => Bi::Sprintf,
        "tolower" => Bi::Tolower,
        "toupper" => Bi::Toupper,
        "int" => Bi::Int,
        "sqrt" => Bi::Sqrt,
        "exp" => Bi::Exp,
        "log" => Bi::Log,
        "sin" => Bi::Sin,
        "cos" => Bi::Cos,
        "atan2" => Bi::Atan2,
        "fflush" => Bi::Fflush,
        _ => return None,
    })
}

/// Built-ins the fake refuses.
const REFUSED: &[&str] = &[
    "rand", "srand", "system", "close", "getline", "systime", "strftime", "mktime",
];

#[derive(Debug)]
pub(super) enum Expr {
    Num(f64),
    Str(String),
    /// A regex literal: as a value, `$0 ~ re`.
    Re(usize),
    Var(Var),
    Index(Var, Vec<Expr>),
    Field(Box<Expr>),
    Assign(Option<char>, Box<Expr>, Box<Expr>),
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Arith(char, Box<Expr>, Box<Expr>),
    Neg(Box<Expr>),
    Pos(Box<Expr>),
    Cmp(&'static str, Box<Expr>, Box<Expr>),
    Match(bool, Box<Expr>, Box<Expr>),
    Concat(Box<Expr>, Box<Expr>),
    In(Vec<Expr>, Var),
    Incr(bool, f64, Box<Expr>),
    Call(usize, Vec<Expr>),
    Builtin(Bi, Vec<Expr>),
    /// `(a, b)`: only as print's arguments.
    Group(Vec<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Redir {
    Truncate,
    Append,
}

#[derive(Debug)]
pub(super) enum Stmt {
    Expr(Expr),
    Print(Vec<Expr>, Option<(Redir, Expr)>),
    Printf(Vec<Expr>, Option<(Redir, Expr)>),
    If(Expr, Box<Stmt>, Option<Box<Stmt>>),
    While(Expr, Box<Stmt>),
    Do(Box<Stmt>, Expr),
    For(Option<Expr>, Option<Expr>, Option<Expr>, Box<Stmt>),
    ForIn(Var, Var, Box<Stmt>),
    Block(Vec<Stmt>),
    Next,
    Exit(Option<Expr>),
    Return(Option<Expr>),
    Break,
    Continue,
    Delete(Var, Option<Vec<Expr>>),
}

#[derive(Debug)]
pub(super) enum Pattern {
    Begin,
    End,
    All,
    Expr(Expr),
    /// A range, and its slot of "inside" flags.
    Range(Expr, Expr, usize),
}

#[derive(Debug)]
pub(super) struct Rule {
    pub pattern: Pattern,
    /// `None`: print the record.
    pub action: Option<Vec<Stmt>>,
}

#[derive(Debug, Default)]
pub(super) struct Func {
    pub name: String,
    pub nparams: usize,
    pub body: Vec<Stmt>,
    pub defined: bool,
}

#[derive(Debug, Default)]
pub(super) struct Program {
    pub rules: Vec<Rule>,
    pub funcs: Vec<Func>,
    pub regexes: Vec<AwkRe>,
    pub globals: Vec<String>,
    pub ranges: usize,
}

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    prog: Program,
    global_ix: HashMap<String, usize>,
    func_ix: HashMap<String, usize>,
    /// The parameters of the function being parsed.
    locals: Option<Vec<String>>,
    /// In print's arguments (not within parentheses): `>` redirects.
    no_gt: bool,
    in_loop: usize,
    braces_balanced: bool,
    /// In a BEGIN or END action (where `next` is improper).
    in_special: bool,
    /// A semantic error mawk reports once the program is read (only one is known).
    pending: Option<String>,
}

type PResult<T> = Result<T, CompileError>;

pub(super) fn parse(src: &str) -> PResult<Program> {
    let toks = tokens(src)?;
    let opens = toks.iter().filter(|t| t.tok == Tok::Op("{")).count();
    let closes = toks.iter().filter(|t| t.tok == Tok::Op("}")).count();
    let mut p = Parser {
        toks,
        pos: 0,
        prog: Program::default(),
        global_ix: HashMap::new(),
        func_ix: HashMap::new(),
        locals: None,
        no_gt: false,
        in_loop: 0,
        braces_balanced: opens == closes,
        in_special: false,
        pending: None,
    };
    for (i, s) in SPECIALS.iter().enumerate() {
        p.prog.globals.push((*s).to_string());
        p.global_ix.insert((*s).to_string(), i);
    }
    p.program()?;
    let eof_line = p.toks.last().map_or(1, |t| t.line);
    let undefined = p.prog.funcs.iter().find(|f| !f.defined);
    if let Some(m) = p.pending {
        if undefined.is_some() {
            return Err(CompileError::Refuse(
                "these awk compile errors' messages".into(),
            ));
        }
        return Err(CompileError::Message(m));
    }
    if let Some(f) = undefined {
        return Err(CompileError::Message(format!(
            "line {eof_line}: function {} never defined",
            f.name
        )));
    }
    Ok(p.prog)
}

fn is_lvalue(e: &Expr) -> bool {
    matches!(e, Expr::Var(_) | Expr::Index(..) | Expr::Field(_))
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].tok
    }

    fn peek_at(&self, n: usize) -> &Tok {
        let i = (self.pos + n).min(self.toks.len() - 1);
        &self.toks[i].tok
    }

    fn bump(&mut self) -> Tok {
        let t = self.toks[self.pos].tok.clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(o) if *o == op)
    }

    fn eat_op(&mut self, op: &str) -> bool {
        if self.is_op(op) {
            self.bump();
            true
        } else {
            false
        }
    }

    /// A semantic error at the current token (reported once parsing is done).
    fn semantic(&mut self, msg: &str) -> PResult<()> {
        if self.pending.is_some() {
            return Err(CompileError::Refuse(
                "these awk compile errors' messages".into(),
            ));
        }
        self.pending = Some(format!("line {}: {msg}", self.toks[self.pos].line));
        Ok(())
    }

    /// mawk's syntax error at the current token.
    fn error<T>(&self) -> PResult<T> {
        if self.pending.is_some() {
            return Err(CompileError::Refuse(
                "these awk compile errors' messages".into(),
            ));
        }
        let t = &self.toks[self.pos];
        if let Tok::Kw("getline") = t.tok {
            return Err(CompileError::Refuse("awk getline".into()));
        }
        if t.tok == Tok::Eof {
            return Err(CompileError::Message(format!(
                "line {}: missing }} near end of file",
                t.line
            )));
        }
        let Some(text) = shown(&t.tok) else {
            return Err(CompileError::Refuse(
                "this awk syntax error's message".into(),
            ));
        };
        if !self.braces_balanced || (t.tok == Tok::Newline && self.pos + 2 >= self.toks.len()) {
            return Err(CompileError::Refuse(
                "this awk syntax error's message".into(),
            ));
        }
        if t.parens > 0 {
            return Err(CompileError::Message(format!(
                "line {}: missing ) near {text}",
                t.line
            )));
        }
        Err(CompileError::Message(format!(
            "line {}: syntax error at or near {text}",
            t.line
        )))
    }

    fn expect_op(&mut self, op: &str) -> PResult<()> {
        if self.eat_op(op) {
            Ok(())
        } else {
            self.error()
        }
    }

    fn skip_newlines(&mut self) {
        while *self.peek() == Tok::Newline {
            self.bump();
        }
    }

    fn skip_terminators(&mut self) {
        while matches!(self.peek(), Tok::Newline | Tok::Op(";")) {
            self.bump();
        }
    }

    fn func_slot(&mut self, name: &str) -> usize {
        if let Some(&i) = self.func_ix.get(name) {
            return i;
        }
        self.prog.funcs.push(Func {
            name: name.to_string(),
            ..Func::default()
        });
        let i = self.prog.funcs.len() - 1;
        self.func_ix.insert(name.to_string(), i);
        i
    }

    fn var(&mut self, name: &str) -> PResult<Var> {
        if let Some(params) = &self.locals
            && let Some(i) = params.iter().position(|p| p == name)
        {
            return Ok(Var::Local(i));
        }
        if self.func_ix.contains_key(name) {
            return Err(CompileError::Refuse(format!(
                "awk's use of the function {name} as a variable"
            )));
        }
        if let Some(&i) = self.global_ix.get(name) {
            return Ok(Var::Global(i));
        }
        if matches!(name, "ARGC" | "ARGV") {
            return Err(CompileError::Refuse(format!("awk {name}")));
        }
        self.prog.globals.push(name.to_string());
        let i = self.prog.globals.len() - 1;
        self.global_ix.insert(name.to_string(), i);
        Ok(Var::Global(i))
    }

    fn program(&mut self) -> PResult<()> {
        // Functions may be called before they are defined.
        for i in 0..self.toks.len().saturating_sub(1) {
            if matches!(self.toks[i].tok, Tok::Kw("function" | "func"))
                && let Tok::Name(n) | Tok::Func(n) = &self.toks[i + 1].tok
            {
                let n = n.clone();
                self.func_slot(&n);
            }
        }
        loop {
            self.skip_terminators();
            match self.peek().clone() {
                Tok::Eof => return Ok(()),
                Tok::Kw("BEGIN") | Tok::Kw("END") => {
                    let begin = *self.peek() == Tok::Kw("BEGIN");
                    self.bump();
                    if !self.is_op("{") {
                        return self.error();
                    }
                    self.in_special = true;
                    let body = self.block()?;
                    self.in_special = false;
                    self.prog.rules.push(Rule {
                        pattern: if begin { Pattern::Begin } else { Pattern::End },
                        action: Some(body),
                    });
                }
                Tok::Kw("function") | Tok::Kw("func") => self.function()?,
                Tok::Op("{") => {
                    let body = self.block()?;
                    self.prog.rules.push(Rule {
                        pattern: Pattern::All,
                        action: Some(body),
                    });
                }
                _ => {
                    let first = self.expr()?;
                    let pattern = if self.eat_op(",") {
                        self.skip_newlines();
                        let second = self.expr()?;
                        self.prog.ranges += 1;
                        Pattern::Range(first, second, self.prog.ranges - 1)
                    } else {
                        Pattern::Expr(first)
                    };
                    let action = if self.is_op("{") {
                        Some(self.block()?)
                    } else if matches!(self.peek(), Tok::Newline | Tok::Op(";") | Tok::Eof) {
                        None
                    } else {
                        return self.error();
                    };
                    self.prog.rules.push(Rule { pattern, action });
                }
            }
        }
    }

    fn function(&mut self) -> PResult<()> {
        self.bump();
        let name = match self.bump() {
            Tok::Name(n) | Tok::Func(n) => n,
            _ => {
                self.pos -= 1;
                return self.error();
            }
        };
        if builtin(&name).is_some() || self.global_ix.contains_key(&name) {
            return Err(CompileError::Refuse(format!("awk's function named {name}")));
        }
        self.expect_op("(")?;
        let mut params = Vec::new();
        if !self.is_op(")") {
            loop {
                match self.bump() {
                    Tok::Name(n) => params.push(n),
                    _ => {
                        self.pos -= 1;
                        return self.error();
                    }
                }
                if self.eat_op(",") {
                    self.skip_newlines();
                    continue;
                }
                break;
            }
        }
        self.expect_op(")")?;
        self.skip_newlines();
        let slot = self.func_slot(&name);
        if self.prog.funcs[slot].defined {
            return Err(CompileError::Refuse(format!(
                "awk's function {name} defined twice"
            )));
        }
        self.locals = Some(params.clone());
        if !self.is_op("{") {
            return self.error();
        }
        let body = self.block()?;
        self.locals = None;
        let f = &mut self.prog.funcs[slot];
        f.nparams = params.len();
        f.body = body;
        f.defined = true;
        Ok(())
    }

    fn block(&mut self) -> PResult<Vec<Stmt>> {
        self.expect_op("{")?;
        let mut out = Vec::new();
        loop {
            self.skip_terminators();
            if self.eat_op("}") {
                return Ok(out);
            }
            if *self.peek() == Tok::Eof {
                return self.error();
            }
            out.push(self.stmt()?);
        }
    }

    /// Ends a simple statement: `;`, a newline, or before `}`.
    fn end_simple(&mut self) -> PResult<()> {
        match self.peek() {
            Tok::Op(";") | Tok::Newline => {
                self.bump();
                Ok(())
            }
            Tok::Op("}") => Ok(()),
            _ => self.error(),
        }
    }

    fn paren_cond(&mut self) -> PResult<Expr> {
        self.expect_op("(")?;
        let e = self.expr()?;
        self.expect_op(")")?;
        self.skip_newlines();
        Ok(e)
    }

    fn body(&mut self) -> PResult<Stmt> {
        self.in_loop += 1;
        let s = self.stmt();
        self.in_loop -= 1;
        s
    }

    fn stmt(&mut self) -> PResult<Stmt> {
        match self.peek().clone() {
            Tok::Op("{") => Ok(Stmt::Block(self.block()?)),
            Tok::Op(";") => {
                self.bump();
                Ok(Stmt::Block(Vec::new()))
            }
            Tok::Kw("if") => {
                self.bump();
                let c = self.paren_cond()?;
                let then = self.stmt()?;
                let save = self.pos;
                self.skip_terminators();
                if *self.peek() == Tok::Kw("else") {
                    self.bump();
                    self.skip_newlines();
                    let other = self.stmt()?;
                    Ok(Stmt::If(c, Box::new(then), Some(Box::new(other))))
                } else {
                    self.pos = save;
                    Ok(Stmt::If(c, Box::new(then), None))
                }
            }
            Tok::Kw("while") => {
                self.bump();
                let c = self.paren_cond()?;
                let b = self.body()?;
                Ok(Stmt::While(c, Box::new(b)))
            }
            Tok::Kw("do") => {
                self.bump();
                self.skip_newlines();
                let b = self.body()?;
                self.skip_terminators();
                if *self.peek() != Tok::Kw("while") {
                    return self.error();
                }
                self.bump();
                self.expect_op("(")?;
                let c = self.expr()?;
                self.expect_op(")")?;
                self.end_simple()?;
                Ok(Stmt::Do(Box::new(b), c))
            }
            Tok::Kw("for") => {
                self.bump();
                if let (Tok::Op("("), Tok::Name(k), Tok::Kw("in"), Tok::Name(a), Tok::Op(")")) = (
                    self.peek().clone(),
                    self.peek_at(1).clone(),
                    self.peek_at(2).clone(),
                    self.peek_at(3).clone(),
                    self.peek_at(4).clone(),
                ) {
                    self.pos += 5;
                    self.skip_newlines();
                    let k = self.var(&k)?;
                    let a = self.var(&a)?;
                    let b = self.body()?;
                    return Ok(Stmt::ForIn(k, a, Box::new(b)));
                }
                self.expect_op("(")?;
                let init = if self.is_op(";") {
                    None
                } else {
                    Some(self.simple_expr()?)
                };
                self.expect_op(";")?;
                self.skip_newlines();
                let cond = if self.is_op(";") {
                    None
                } else {
                    Some(self.expr()?)
                };
                self.expect_op(";")?;
                self.skip_newlines();
                let step = if self.is_op(")") {
                    None
                } else {
                    Some(self.simple_expr()?)
                };
                self.expect_op(")")?;
                self.skip_newlines();
                let b = self.body()?;
                Ok(Stmt::For(init, cond, step, Box::new(b)))
            }
            _ => {
                let s = self.simple_stmt()?;
                self.end_simple()?;
                Ok(s)
            }
        }
    }

    fn simple_expr(&mut self) -> PResult<Expr> {
        self.expr()
    }

    fn simple_stmt(&mut self) -> PResult<Stmt> {
        match self.peek().clone() {
            Tok::Kw(k @ ("print" | "printf")) => {
                self.bump();
                let mut args = Vec::new();
                let saved = self.no_gt;
                self.no_gt = true;
                if !matches!(
                    self.peek(),
                    Tok::Op(";" | "}" | ">" | ">>" | "|") | Tok::Newline | Tok::Eof
                ) {
                    loop {
                        let e = self.expr()?;
                        if let Expr::Group(list) = e {
                            if !args.is_empty() {
                                return Err(CompileError::Refuse("this awk print list".into()));
                            }
                            args.extend(list);
                        } else {
                            args.push(e);
                        }
                        if self.eat_op(",") {
                            self.skip_newlines();
                            continue;
                        }
                        break;
                    }
                }
                let redir = if self.is_op(">") || self.is_op(">>") {
                    let how = if self.bump() == Tok::Op(">") {
                        Redir::Truncate
                    } else {
                        Redir::Append
                    };
                    Some((how, self.concat()?))
                } else if self.is_op("|") {
                    return Err(CompileError::Refuse(format!("awk {k} | command")));
                } else {
                    None
                };
                self.no_gt = saved;
                if k == "printf" && args.is_empty() {
                    return self.error();
                }
                Ok(if k == "print" {
                    Stmt::Print(args, redir)
                } else {
                    Stmt::Printf(args, redir)
                })
            }
            Tok::Kw("next") => {
                if self.locals.is_some() || self.in_special {
                    self.semantic("improper use of next")?;
                }
                self.bump();
                Ok(Stmt::Next)
            }
            Tok::Kw("nextfile") => Err(CompileError::Refuse("awk nextfile".into())),
            Tok::Kw("exit") => {
                self.bump();
                let e = if matches!(self.peek(), Tok::Op(";" | "}") | Tok::Newline) {
                    None
                } else {
                    Some(self.expr()?)
                };
                Ok(Stmt::Exit(e))
            }
            Tok::Kw("return") => {
                if self.locals.is_none() {
                    self.semantic("return outside function body")?;
                }
                self.bump();
                let e = if matches!(self.peek(), Tok::Op(";" | "}") | Tok::Newline) {
                    None
                } else {
                    Some(self.expr()?)
                };
                Ok(Stmt::Return(e))
            }
            Tok::Kw("break") | Tok::Kw("continue") => {
                let brk = *self.peek() == Tok::Kw("break");
                if self.in_loop == 0 {
                    let what = if brk { "break" } else { "continue" };
                    self.semantic(&format!("{what} statement outside of loop"))?;
                }
                self.bump();
                Ok(if brk { Stmt::Break } else { Stmt::Continue })
            }
            Tok::Kw("delete") => {
                self.bump();
                let name = match self.bump() {
                    Tok::Name(n) => n,
                    _ => {
                        self.pos -= 1;
                        return self.error();
                    }
                };
                let v = self.var(&name)?;
                if self.eat_op("[") {
                    let subs = self.expr_list("]")?;
                    Ok(Stmt::Delete(v, Some(subs)))
                } else {
                    Ok(Stmt::Delete(v, None))
                }
            }
            _ => Ok(Stmt::Expr(self.expr()?)),
        }
    }
}
