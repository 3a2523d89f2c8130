//! The tree-walking evaluator: values, variables, fields, and the statements of
//! one rule at a time. Output is buffered here; the caller writes it out.

use std::collections::HashMap;

use super::format::{Arg, FmtError, d_to_int, looks_numeric, num_to_str, sprintf, str_to_num};
use super::parse::{
    Bi, CONVFMT, ENVIRON, Expr, FS, NF, OFMT, OFS, ORS, Pattern, Program, RLENGTH, RSTART, Redir,
    SUBSEP, Stmt, Var,
};
use super::re::AwkRe;

mod calls;
use calls::split_re;

#[derive(Debug, Clone)]
pub(super) enum Val {
    Uninit,
    Num(f64),
    Str(String),
    /// Text from input (fields, -v, split): a number if it looks like one.
    Input(String),
}

#[derive(Debug, Clone)]
enum Cell {
    Val(Val),
    Arr(usize),
}

/// Why evaluation stopped early.
#[derive(Debug)]
pub(super) enum Stop {
    /// Something not emulated: refuse it loudly.
    Refuse(String),
    /// mawk's run time error (the message after `awk: run time error: `).
    RunError(String),
    /// `exit` was run.
    Exit,
}

enum Flow {
    Normal,
    Break,
    Continue,
    Next,
    Return(Val),
}

type R<T> = Result<T, Stop>;

fn refuse<T>(what: impl Into<String>) -> R<T> {
    Err(Stop::Refuse(what.into()))
}

pub(super) struct Interp<'p> {
    prog: &'p Program,
    globals: Vec<Cell>,
    arrays: Vec<HashMap<String, Val>>,
    frames: Vec<Vec<Cell>>,
    record: String,
    fields: Vec<Val>,
    ranges: Vec<bool>,
    dyn_re: HashMap<String, AwkRe>,
    pub out: Vec<u8>,
    /// Output to files, by name: what is waiting to be written.
    pub files: Vec<(String, Vec<u8>)>,
    /// How each output file was first opened.
    pub modes: Vec<(String, Redir)>,
    pub exit_code: i32,
    pub nr: f64,
    pub fnr: f64,
    pub filename: String,
}

impl<'p> Interp<'p> {
    pub(super) fn new(prog: &'p Program, env: &[(String, String)]) -> Self {
        let mut it = Interp {
            prog,
            globals: vec![Cell::Val(Val::Uninit); prog.globals.len()],
            arrays: Vec::new(),
            frames: Vec::new(),
            record: String::new(),
            fields: Vec::new(),
            ranges: vec![false; prog.ranges],
            dyn_re: HashMap::new(),
            out: Vec::new(),
            files: Vec::new(),
            modes: Vec::new(),
            exit_code: 0,
            nr: 0.0,
            fnr: 0.0,
            filename: String::new(),
        };
        let set = |it: &mut Self, i: usize, s: &str| it.globals[i] = Cell::Val(Val::Str(s.into()));
        set(&mut it, FS, " ");
        set(&mut it, OFS, " ");
        set(&mut it, ORS, "\n");
        set(&mut it, super::parse::RS, "\n");
        set(&mut it, SUBSEP, "\x1c");
        set(&mut it, CONVFMT, "%.6g");
        set(&mut it, OFMT, "%.6g");
        it.globals[RSTART] = Cell::Val(Val::Num(0.0));
        it.globals[RLENGTH] = Cell::Val(Val::Num(-1.0));
        let mut envmap = HashMap::new();
        for (k, v) in env {
            envmap.insert(k.clone(), Val::Input(v.clone()));
        }
        it.arrays.push(envmap);
        it.globals[ENVIRON] = Cell::Arr(0);
        it
    }

    // ---- values ----

    fn convfmt(&self) -> String {
        self.special_str(CONVFMT)
    }

    fn special_str(&self, i: usize) -> String {
        match &self.globals[i] {
            Cell::Val(v) => self.to_str_fmt(v, "%.6g").unwrap_or_default(),
            Cell::Arr(_) => String::new(),
        }
    }

    fn to_str_fmt(&self, v: &Val, fmt: &str) -> R<String> {
        Ok(match v {
            Val::Uninit => String::new(),
            Val::Num(d) => num_to_str(*d, fmt).map_err(Stop::Refuse)?,
            Val::Str(s) | Val::Input(s) => s.clone(),
        })
    }

    pub(super) fn to_str(&self, v: &Val) -> R<String> {
        let fmt = self.convfmt();
        self.to_str_fmt(v, &fmt)
    }

    fn to_num(v: &Val) -> f64 {
        match v {
            Val::Uninit => 0.0,
            Val::Num(d) => *d,
            Val::Str(s) | Val::Input(s) => str_to_num(s),
        }
    }

    fn truth(v: &Val) -> bool {
        match v {
            Val::Uninit => false,
            Val::Num(d) => *d != 0.0,
            Val::Str(s) => !s.is_empty(),
            Val::Input(s) => {
                if looks_numeric(s) {
                    str_to_num(s) != 0.0
                } else {
                    !s.is_empty()
                }
            }
        }
    }

    /// mawk's comparison: numeric when both sides are numbers (or numeric input, or
    /// unset), else as strings. NaN compares equal.
    fn compare(&self, a: &Val, b: &Val) -> R<std::cmp::Ordering> {
        use std::cmp::Ordering::*;
        // (numeric?, is uninit)
        let kind = |v: &Val| match v {
            Val::Uninit => Some(0.0),
            Val::Num(d) => Some(*d),
            Val::Input(s) if looks_numeric(s) => Some(str_to_num(s)),
            _ => None,
        };
        let both_uninit_or_str = matches!(
            (a, b),
            (Val::Uninit, Val::Str(_)) | (Val::Str(_), Val::Uninit)
        );
        if !both_uninit_or_str && let (Some(x), Some(y)) = (kind(a), kind(b)) {
            return Ok(if x > y {
                Greater
            } else if x < y {
                Less
            } else {
                Equal
            });
        }
        let (x, y) = (self.to_str(a)?, self.to_str(b)?);
        Ok(x.cmp(&y))
    }

    // ---- variables ----

    fn cell(&mut self, v: Var) -> &mut Cell {
        match v {
            Var::Global(i) => &mut self.globals[i],
            Var::Local(i) => {
                let f = self.frames.last_mut().expect("a frame");
                &mut f[i]
            }
        }
    }

    fn get_var(&mut self, v: Var) -> R<Val> {
        if v == Var::Global(NF) {
            return Ok(Val::Num(self.fields.len() as f64));
        }
        if v == Var::Global(super::parse::NR) {
            return Ok(Val::Num(self.nr));
        }
        if v == Var::Global(super::parse::FNR) {
            return Ok(Val::Num(self.fnr));
        }
        if v == Var::Global(super::parse::FILENAME) {
            return Ok(Val::Str(self.filename.clone()));
        }
        match self.cell(v) {
            Cell::Val(x) => Ok(x.clone()),
            Cell::Arr(_) => refuse("awk's use of an array as a scalar"),
        }
    }

    fn set_var(&mut self, v: Var, val: Val) -> R<()> {
        match v {
            Var::Global(NF) => return self.set_nf(Self::to_num(&val)),
            Var::Global(super::parse::NR) => {
                self.nr = Self::to_num(&val);
                return Ok(());
            }
            Var::Global(super::parse::FNR) => {
                self.fnr = Self::to_num(&val);
                return Ok(());
            }
            Var::Global(super::parse::FILENAME) => {
                self.filename = self.to_str(&val)?;
                return Ok(());
            }
            Var::Global(CONVFMT) => return refuse("assigning awk's CONVFMT"),
            Var::Global(super::parse::RS) => {
                let s = self.to_str(&val)?;
                if s != "\n" && !s.is_empty() {
                    return refuse("awk RS other than a newline or \"\"");
                }
            }
            _ => {}
        }
        match self.cell(v) {
            c @ Cell::Val(_) => {
                *c = Cell::Val(val);
                Ok(())
            }
            Cell::Arr(_) => refuse("awk's use of an array as a scalar"),
        }
    }

    /// The array in `v`, created if `v` is unset.
    fn array(&mut self, v: Var) -> R<usize> {
        if let Var::Global(i) = v
            && i < super::parse::SPECIALS.len()
            && i != ENVIRON
        {
            return refuse("awk's use of a built-in variable as an array");
        }
        let next = self.arrays.len();
        let c = self.cell(v);
        match c {
            Cell::Arr(a) => Ok(*a),
            Cell::Val(Val::Uninit) => {
                *c = Cell::Arr(next);
                self.arrays.push(HashMap::new());
                Ok(next)
            }
            Cell::Val(_) => refuse("awk's use of a scalar as an array"),
        }
    }

    fn subscript(&mut self, subs: &[Expr]) -> R<String> {
        let mut key = String::new();
        let sep = self.special_str(SUBSEP);
        for (i, e) in subs.iter().enumerate() {
            if i > 0 {
                key.push_str(&sep);
            }
            let v = self.eval(e)?;
            key.push_str(&self.to_str(&v)?);
        }
        Ok(key)
    }

    // ---- fields ----

    pub(super) fn set_record(&mut self, text: String) -> R<()> {
        let fs = self.special_str(FS);
        self.fields = self
            .split(&text, &FieldSep::from_fs(&fs))?
            .into_iter()
            .map(Val::Input)
            .collect();
        self.record = text;
        Ok(())
    }

    fn rebuild(&mut self) -> R<()> {
        let ofs = self.special_str(OFS);
        let mut parts = Vec::new();
        for f in &self.fields {
            parts.push(self.to_str(f)?);
        }
        self.record = parts.join(&ofs);
        Ok(())
    }

    fn set_nf(&mut self, d: f64) -> R<()> {
        if !(0.0..=32767.0).contains(&d) {
            return refuse("this awk NF value");
        }
        let n = d as usize;
        self.fields.resize(n, Val::Str(String::new()));
        self.rebuild()
    }

    fn field_index(&mut self, e: &Expr) -> R<usize> {
        let v = self.eval(e)?;
        let d = Self::to_num(&v);
        if !(0.0..=32767.0).contains(&d) {
            return refuse("this awk field index");
        }
        Ok(d as usize)
    }

    fn get_field(&self, i: usize) -> Val {
        if i == 0 {
            return Val::Input(self.record.clone());
        }
        match self.fields.get(i - 1) {
            Some(v) => v.clone(),
            None => Val::Str(String::new()),
        }
    }

    fn set_field(&mut self, i: usize, v: Val) -> R<()> {
        if i == 0 {
            let s = self.to_str(&v)?;
            return self.set_record(s);
        }
        if self.fields.len() < i {
            self.fields.resize(i, Val::Str(String::new()));
        }
        self.fields[i - 1] = v;
        self.rebuild()
    }

    // ---- splitting ----

    fn split(&mut self, s: &str, sep: &FieldSep) -> R<Vec<String>> {
        if s.is_empty() {
            return Ok(Vec::new());
        }
        Ok(match sep {
            FieldSep::Blank => s
                .split([' ', '\t', '\n'])
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect(),
            FieldSep::Chars => s.chars().map(String::from).collect(),
            FieldSep::Char(c) => s.split(*c).map(str::to_string).collect(),
            FieldSep::Re(src) => {
                let re = self.dyn_regex(src)?;
                split_re(s, re)?
            }
            FieldSep::Lit(ix) => {
                let re = &self.prog.regexes[*ix];
                split_re(s, re)?
            }
        })
    }

    fn dyn_regex(&mut self, src: &str) -> R<&AwkRe> {
        if !self.dyn_re.contains_key(src) {
            let re = AwkRe::new(src).map_err(Stop::Refuse)?;
            if self.dyn_re.len() > 500 {
                self.dyn_re.clear();
            }
            self.dyn_re.insert(src.to_string(), re);
        }
        Ok(&self.dyn_re[src])
    }

    /// The regex an expression stands for where one is expected.
    fn regex_of(&mut self, e: &Expr) -> R<ReRef> {
        if let Expr::Re(i) = e {
            return Ok(ReRef::Lit(*i));
        }
        let v = self.eval(e)?;
        let s = self.to_str(&v)?;
        self.dyn_regex(&s)?;
        Ok(ReRef::Dyn(s))
    }

    fn re(&self, r: &ReRef) -> &AwkRe {
        match r {
            ReRef::Lit(i) => &self.prog.regexes[*i],
            ReRef::Dyn(s) => &self.dyn_re[s],
        }
    }

    // ---- rules ----

    /// Runs the BEGIN (or END) actions.
    pub(super) fn run_special(&mut self, begin: bool) -> R<()> {
        for rule in &self.prog.rules {
            let matches = match rule.pattern {
                Pattern::Begin => begin,
                Pattern::End => !begin,
                _ => false,
            };
            if !matches {
                continue;
            }
            if let Some(action) = &rule.action {
                match self.block(action)? {
                    Flow::Next => return refuse("awk next in BEGIN or END"),
                    Flow::Normal => {}
                    _ => return refuse("this awk control flow"),
                }
            }
        }
        Ok(())
    }

    pub(super) fn has_main(&self) -> bool {
        self.prog
            .rules
            .iter()
            .any(|r| !matches!(r.pattern, Pattern::Begin))
    }

    /// Runs the pattern-action rules on the current record.
    pub(super) fn run_record(&mut self) -> R<()> {
        for (i, rule) in self.prog.rules.iter().enumerate() {
            let _ = i;
            let hit = match &rule.pattern {
                Pattern::Begin | Pattern::End => continue,
                Pattern::All => true,
                Pattern::Expr(e) => {
                    let v = self.eval(e)?;
                    Self::truth(&v)
                }
                Pattern::Range(a, b, slot) => {
                    if self.ranges[*slot] {
                        let v = self.eval(b)?;
                        if Self::truth(&v) {
                            self.ranges[*slot] = false;
                        }
                        true
                    } else {
                        let v = self.eval(a)?;
                        if Self::truth(&v) {
                            let w = self.eval(b)?;
                            self.ranges[*slot] = !Self::truth(&w);
                            true
                        } else {
                            false
                        }
                    }
                }
            };
            if !hit {
                continue;
            }
            match &rule.action {
                None => {
                    let ors = self.special_str(ORS);
                    let rec = self.record.clone();
                    self.emit(None, &rec)?;
                    self.emit(None, &ors)?;
                }
                Some(action) => match self.block(action)? {
                    Flow::Next => return Ok(()),
                    Flow::Normal => {}
                    _ => return refuse("this awk control flow"),
                },
            }
        }
        Ok(())
    }

    fn emit(&mut self, to: Option<&str>, s: &str) -> R<()> {
        let data = super::format::bytes(s);
        match to {
            None | Some("/dev/stdout" | "-") => self.out.extend_from_slice(&data),
            Some(name) => {
                if let Some((_, buf)) = self.files.iter_mut().find(|(n, _)| n == name) {
                    buf.extend_from_slice(&data);
                } else {
                    self.files.push((name.to_string(), data));
                }
            }
        }
        if self.out.len() > 64 << 20 {
            return refuse("awk output of more than 64 MiB from one rule");
        }
        Ok(())
    }

    fn block(&mut self, stmts: &[Stmt]) -> R<Flow> {
        for s in stmts {
            match self.stmt(s)? {
                Flow::Normal => {}
                other => return Ok(other),
            }
        }
        Ok(Flow::Normal)
    }

    fn redirect(&mut self, redir: &Option<(Redir, Expr)>) -> R<Option<String>> {
        let Some((how, e)) = redir else {
            return Ok(None);
        };
        let v = self.eval(e)?;
        let name = self.to_str(&v)?;
        if name == "/dev/stdout" || name == "-" {
            return Ok(Some(name));
        }
        if name == "/dev/stderr" {
            return Ok(Some(name));
        }
        if name.is_empty() {
            return refuse("awk output to an empty file name");
        }
        if !self.modes.iter().any(|(n, _)| *n == name) {
            self.modes.push((name.clone(), *how));
            self.files.push((name.clone(), Vec::new()));
        }
        Ok(Some(name))
    }

    /// Assigns a global slot (from -F, -v).
    pub(super) fn assign_global(&mut self, g: usize, v: Val) -> R<()> {
        self.set_var(Var::Global(g), v)
    }

    /// Assigns a `name=value` operand (a name the program does not use is ignored).
    pub(super) fn assign_named(&mut self, name: &str, v: Val) -> R<()> {
        match self.prog.globals.iter().position(|g| g == name) {
            Some(g) => self.set_var(Var::Global(g), v),
            None => Ok(()),
        }
    }

    /// Whether RS is "" (records are paragraphs).
    pub(super) fn paragraph_mode(&self) -> bool {
        self.special_str(super::parse::RS).is_empty()
    }

    fn stmt(&mut self, s: &Stmt) -> R<Flow> {
        match s {
            Stmt::Expr(e) => {
                self.eval(e)?;
            }
            Stmt::Print(args, redir) => {
                let to = self.redirect(redir)?;
                let text = if args.is_empty() {
                    self.record.clone()
                } else {
                    let ofs = self.special_str(OFS);
                    let ofmt = self.special_str(OFMT);
                    let mut parts = Vec::new();
                    for a in args {
                        let v = self.eval(a)?;
                        parts.push(self.to_str_fmt(&v, &ofmt)?);
                    }
                    parts.join(&ofs)
                };
                let ors = self.special_str(ORS);
                self.emit(to.as_deref(), &(text + &ors))?;
            }
            Stmt::Printf(args, redir) => {
                let to = self.redirect(redir)?;
                let (text, err) = self.format(args, "printf")?;
                self.emit(to.as_deref(), &text)?;
                if let Some(e) = err {
                    return Err(Stop::RunError(e));
                }
            }
            Stmt::If(c, a, b) => {
                let v = self.eval(c)?;
                if Self::truth(&v) {
                    return self.stmt(a);
                } else if let Some(b) = b {
                    return self.stmt(b);
                }
            }
            Stmt::While(c, body) => loop {
                let v = self.eval(c)?;
                if !Self::truth(&v) {
                    break;
                }
                match self.stmt(body)? {
                    Flow::Break => break,
                    Flow::Normal | Flow::Continue => {}
                    other => return Ok(other),
                }
            },
            Stmt::Do(body, c) => loop {
                match self.stmt(body)? {
                    Flow::Break => break,
                    Flow::Normal | Flow::Continue => {}
                    other => return Ok(other),
                }
                let v = self.eval(c)?;
                if !Self::truth(&v) {
                    break;
                }
            },
            Stmt::For(init, cond, step, body) => {
                if let Some(i) = init {
                    self.eval(i)?;
                }
                loop {
                    if let Some(c) = cond {
                        let v = self.eval(c)?;
                        if !Self::truth(&v) {
                            break;
                        }
                    }
                    match self.stmt(body)? {
                        Flow::Break => break,
                        Flow::Normal | Flow::Continue => {}
                        other => return Ok(other),
                    }
                    if let Some(s) = step {
                        self.eval(s)?;
                    }
                }
            }
            Stmt::ForIn(k, a, body) => {
                let arr = self.array(*a)?;
                let keys: Vec<String> = self.arrays[arr].keys().cloned().collect();
                if keys.len() > 1 {
                    return refuse("awk for (k in a) over more than one element (mawk's order)");
                }
                for key in keys {
                    if !self.arrays[arr].contains_key(&key) {
                        continue;
                    }
                    self.set_var(*k, Val::Str(key))?;
                    match self.stmt(body)? {
                        Flow::Break => break,
                        Flow::Normal | Flow::Continue => {}
                        other => return Ok(other),
                    }
                }
            }
            Stmt::Block(b) => return self.block(b),
            Stmt::Next => return Ok(Flow::Next),
            Stmt::Exit(e) => {
                if let Some(e) = e {
                    let v = self.eval(e)?;
                    self.exit_code = d_to_int(Self::to_num(&v)) as i32 & 0xff;
                }
                return Err(Stop::Exit);
            }
            Stmt::Return(e) => {
                let v = match e {
                    Some(e) => self.eval(e)?,
                    None => Val::Uninit,
                };
                return Ok(Flow::Return(v));
            }
            Stmt::Break => return Ok(Flow::Break),
            Stmt::Continue => return Ok(Flow::Continue),
            Stmt::Delete(v, subs) => {
                let arr = self.array(*v)?;
                match subs {
                    Some(subs) => {
                        let key = self.subscript(subs)?;
                        self.arrays[arr].remove(&key);
                    }
                    None => self.arrays[arr].clear(),
                }
            }
        }
        Ok(Flow::Normal)
    }

    /// printf/sprintf: the text, and mawk's run time error when arguments ran out.
    fn format(&mut self, args: &[Expr], who: &str) -> R<(String, Option<String>)> {
        let fv = self.eval(&args[0])?;
        let fmt = self.to_str(&fv)?;
        let mut vals = Vec::new();
        for a in &args[1..] {
            let v = self.eval(a)?;
            vals.push(match v {
                Val::Num(d) => Arg::Num(d),
                other => {
                    let d = Self::to_num(&other);
                    Arg::Str(self.to_str(&other)?, d)
                }
            });
        }
        let mut out = String::new();
        match sprintf(&fmt, &vals, &mut out) {
            Ok(()) => Ok((out, None)),
            Err(FmtError::Unsupported(w)) => refuse(w),
            Err(FmtError::TooFew) => Ok((
                out,
                Some(format!("not enough arguments passed to {who}(\"{fmt}\")")),
            )),
        }
    }

    // ---- expressions ----

    fn assign(&mut self, target: &Expr, v: Val) -> R<()> {
        match target {
            Expr::Var(var) => self.set_var(*var, v),
            Expr::Index(var, subs) => {
                let key = self.subscript(subs)?;
                let arr = self.array(*var)?;
                if arr == 0 && *var == Var::Global(ENVIRON) {
                    return refuse("assigning to awk's ENVIRON");
                }
                self.arrays[arr].insert(key, v);
                Ok(())
            }
            Expr::Field(e) => {
                let i = self.field_index(e)?;
                self.set_field(i, v)
            }
            _ => refuse("this awk assignment"),
        }
    }
    pub(super) fn eval(&mut self, e: &Expr) -> R<Val> {
        Ok(match e {
            Expr::Num(d) => Val::Num(*d),
            Expr::Str(s) => Val::Str(s.clone()),
            Expr::Re(i) => {
                let rec = self.record.clone();
                Val::Num(f64::from(u8::from(self.prog.regexes[*i].is_match(&rec))))
            }
            Expr::Var(v) => self.get_var(*v)?,
            Expr::Index(v, subs) => {
                let key = self.subscript(subs)?;
                let arr = self.array(*v)?;
                self.arrays[arr].entry(key).or_insert(Val::Uninit).clone()
            }
            Expr::Field(i) => {
                let i = self.field_index(i)?;
                self.get_field(i)
            }
            Expr::Assign(op, target, rhs) => {
                let r = self.eval(rhs)?;
                let v = match op {
                    None => r,
                    Some(op) => {
                        let cur = self.eval(target)?;
                        Val::Num(Self::arith(*op, Self::to_num(&cur), Self::to_num(&r)))
                    }
                };
                self.assign(target, v.clone())?;
                v
            }
            Expr::Cond(c, a, b) => {
                let v = self.eval(c)?;
                if Self::truth(&v) {
                    self.eval(a)?
                } else {
                    self.eval(b)?
                }
            }
            Expr::And(a, b) => {
                let x = self.eval(a)?;
                let r = Self::truth(&x) && {
                    let y = self.eval(b)?;
                    Self::truth(&y)
                };
                Val::Num(f64::from(u8::from(r)))
            }
            Expr::Or(a, b) => {
                let x = self.eval(a)?;
                let r = Self::truth(&x) || {
                    let y = self.eval(b)?;
                    Self::truth(&y)
                };
                Val::Num(f64::from(u8::from(r)))
            }
            Expr::Not(a) => {
                let x = self.eval(a)?;
                Val::Num(f64::from(u8::from(!Self::truth(&x))))
            }
            Expr::Arith(op, a, b) => {
                let x = self.eval(a)?;
                let y = self.eval(b)?;
                Val::Num(Self::arith(*op, Self::to_num(&x), Self::to_num(&y)))
            }
            Expr::Neg(a) => {
                let x = self.eval(a)?;
                Val::Num(-Self::to_num(&x))
            }
            Expr::Pos(a) => {
                let x = self.eval(a)?;
                Val::Num(Self::to_num(&x))
            }
            Expr::Cmp(op, a, b) => {
                let x = self.eval(a)?;
                let y = self.eval(b)?;
                let o = self.compare(&x, &y)?;
                use std::cmp::Ordering::*;
                let r = match *op {
                    "<" => o == Less,
                    "<=" => o != Greater,
                    "==" => o == Equal,
                    "!=" => o != Equal,
                    ">=" => o != Less,
                    _ => o == Greater,
                };
                Val::Num(f64::from(u8::from(r)))
            }
            Expr::Match(neg, a, b) => {
                let x = self.eval(a)?;
                let s = self.to_str(&x)?;
                let r = self.regex_of(b)?;
                let m = self.re(&r).is_match(&s);
                Val::Num(f64::from(u8::from(m != *neg)))
            }
            Expr::Concat(a, b) => {
                let x = self.eval(a)?;
                let y = self.eval(b)?;
                Val::Str(self.to_str(&x)? + &self.to_str(&y)?)
            }
            Expr::In(subs, v) => {
                let key = self.subscript(subs)?;
                let arr = self.array(*v)?;
                Val::Num(f64::from(u8::from(self.arrays[arr].contains_key(&key))))
            }
            Expr::Incr(pre, d, target) => {
                let cur = Self::to_num(&self.eval(target)?);
                let new = cur + d;
                self.assign(target, Val::Num(new))?;
                Val::Num(if *pre { new } else { cur })
            }
            Expr::Call(f, args) => self.call(*f, args)?,
            Expr::Builtin(bi, args) => self.builtin(*bi, args)?,
            Expr::Group(_) => return refuse("this awk grouping"),
        })
    }
}

enum ReRef {
    Lit(usize),
    Dyn(String),
}

/// How a record or split() string is cut.
pub(super) enum FieldSep {
    /// `" "`: runs of blanks, trimmed.
    Blank,
    /// `""`: each character.
    Chars,
    /// One character, literally.
    Char(char),
    /// A longer string: a regex.
    Re(String),
    /// A regex literal of the program.
    Lit(usize),
}

impl FieldSep {
    pub(super) fn from_fs(fs: &str) -> FieldSep {
        let mut it = fs.chars();
        match (it.next(), it.next()) {
            (None, _) => FieldSep::Chars,
            (Some(' '), None) => FieldSep::Blank,
            (Some(c), None) => FieldSep::Char(c),
            _ => FieldSep::Re(fs.to_string()),
        }
    }
}
