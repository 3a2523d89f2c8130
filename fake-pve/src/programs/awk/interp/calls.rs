//! The function calls of the evaluator: user functions, the built-ins, and the
//! arithmetic and sub/gsub they share with it.

use super::*;

impl<'p> Interp<'p> {
    pub(super) fn arith(op: char, x: f64, y: f64) -> f64 {
        match op {
            '+' => x + y,
            '-' => x - y,
            '*' => x * y,
            '/' => {
                if y == 0.0 && x == 0.0 || x.is_nan() || y.is_nan() {
                    // The machine's default NaN (x86's has the sign bit).
                    if x.is_nan() || y.is_nan() {
                        x / y
                    } else {
                        -f64::NAN.abs()
                    }
                } else {
                    x / y
                }
            }
            '%' => {
                if y == 0.0 || x.is_infinite() {
                    -f64::NAN.abs()
                } else {
                    x % y
                }
            }
            _ => x.powf(y),
        }
    }

    pub(super) fn call(&mut self, f: usize, args: &[Expr]) -> R<Val> {
        let func = &self.prog.funcs[f];
        if args.len() > func.nparams {
            return refuse("awk's message for a call with too many arguments");
        }
        if self.frames.len() > 1000 {
            return refuse("awk recursion deeper than 1000 calls");
        }
        let mut locals = Vec::new();
        // Bare names passed, so that an unset one used as an array becomes one.
        let mut bare: Vec<Option<Var>> = Vec::new();
        for a in args {
            match a {
                Expr::Var(v) => {
                    let c = match v {
                        Var::Global(i) => self.globals[*i].clone(),
                        Var::Local(i) => self.frames.last().expect("a frame")[*i].clone(),
                    };
                    match c {
                        Cell::Arr(x) => {
                            locals.push(Cell::Arr(x));
                            bare.push(None);
                        }
                        Cell::Val(Val::Uninit) if !matches!(v, Var::Global(i) if *i < super::super::parse::SPECIALS.len()) =>
                        {
                            locals.push(Cell::Val(Val::Uninit));
                            bare.push(Some(*v));
                        }
                        Cell::Val(_) => {
                            let val = self.eval(a)?;
                            locals.push(Cell::Val(val));
                            bare.push(None);
                        }
                    }
                }
                other => {
                    let val = self.eval(other)?;
                    locals.push(Cell::Val(val));
                    bare.push(None);
                }
            }
        }
        while locals.len() < func.nparams {
            locals.push(Cell::Val(Val::Uninit));
        }
        self.frames.push(locals);
        let flow = self.block(&func.body);
        let frame = self.frames.pop().expect("a frame");
        for (i, b) in bare.iter().enumerate() {
            if let (Some(v), Cell::Arr(x)) = (b, &frame[i]) {
                *self.cell(*v) = Cell::Arr(*x);
            }
        }
        match flow? {
            Flow::Return(v) => Ok(v),
            Flow::Normal => Ok(Val::Uninit),
            Flow::Next => refuse("awk next inside a function"),
            _ => refuse("this awk control flow"),
        }
    }

    pub(super) fn str_arg(&mut self, e: &Expr) -> R<String> {
        let v = self.eval(e)?;
        self.to_str(&v)
    }

    pub(super) fn num_arg(&mut self, e: &Expr) -> R<f64> {
        let v = self.eval(e)?;
        Ok(Self::to_num(&v))
    }

    pub(super) fn builtin(&mut self, bi: Bi, args: &[Expr]) -> R<Val> {
        let num = |d: f64| Ok(Val::Num(d));
        match bi {
            Bi::Length => {
                let s = match args.first() {
                    None => self.record.clone(),
                    Some(Expr::Var(v)) if matches!(self.cell(*v), Cell::Arr(_)) => {
                        let a = self.array(*v)?;
                        return num(self.arrays[a].len() as f64);
                    }
                    Some(e) => self.str_arg(e)?,
                };
                num(s.chars().count() as f64)
            }
            Bi::Substr => {
                let s = self.str_arg(&args[0])?;
                let len = s.chars().count() as i64;
                let b = self.num_arg(&args[1])?;
                let l = match args.get(2) {
                    Some(e) => Some(self.num_arg(e)?),
                    None => None,
                };
                if b.is_nan() || l.is_some_and(f64::is_nan) {
                    return Ok(Val::Str(String::new()));
                }
                let bt = d_to_int(b);
                let (start, n) = match l {
                    None => {
                        if bt < 1 {
                            (0, len)
                        } else {
                            (bt - 1, len - (bt - 1))
                        }
                    }
                    Some(l) => {
                        let lt = d_to_int(l);
                        if bt < 1 {
                            // mawk 1.3.4 20200120, measured: int arithmetic that wraps.
                            let n = (lt as i32).wrapping_sub(bt as i32);
                            (0, i64::from(n))
                        } else {
                            (bt - 1, lt)
                        }
                    }
                };
                if n <= 0 || start >= len {
                    return Ok(Val::Str(String::new()));
                }
                let out: String = s.chars().skip(start as usize).take(n as usize).collect();
                Ok(Val::Str(out))
            }
            Bi::Index => {
                let s = self.str_arg(&args[0])?;
                let t = self.str_arg(&args[1])?;
                let r = match s.find(&t) {
                    Some(b) => s[..b].chars().count() + 1,
                    None => 0,
                };
                num(r as f64)
            }
            Bi::Split => {
                let s = self.str_arg(&args[0])?;
                let Expr::Var(v) = &args[1] else {
                    return refuse("awk split() into a non-array");
                };
                let sep = match args.get(2) {
                    None => FieldSep::from_fs(&self.special_str(FS)),
                    Some(Expr::Re(i)) => FieldSep::Lit(*i),
                    Some(e) => {
                        let f = self.str_arg(e)?;
                        FieldSep::from_fs(&f)
                    }
                };
                let parts = self.split(&s, &sep)?;
                let arr = self.array(*v)?;
                let a = &mut self.arrays[arr];
                a.clear();
                for (i, p) in parts.iter().enumerate() {
                    a.insert((i + 1).to_string(), Val::Input(p.clone()));
                }
                num(parts.len() as f64)
            }
            Bi::Sub | Bi::Gsub => {
                let r = self.regex_of(&args[0])?;
                let repl = self.str_arg(&args[1])?;
                let target = args.get(2).cloned_ref();
                let cur = match target {
                    Some(t) => {
                        let v = self.eval(t)?;
                        self.to_str(&v)?
                    }
                    None => self.record.clone(),
                };
                let (new, n) = substitute(self.re(&r), &cur, &repl, bi == Bi::Gsub);
                if n > 0 {
                    match target {
                        Some(t) => self.assign(t, Val::Str(new))?,
                        None => self.set_record(new)?,
                    }
                }
                num(n as f64)
            }
            Bi::Match => {
                let s = self.str_arg(&args[0])?;
                let r = self.regex_of(&args[1])?;
                let (start, len) = match self.re(&r).find_at(&s, 0) {
                    Some((a, b)) => (
                        s[..a].chars().count() as f64 + 1.0,
                        s[a..b].chars().count() as f64,
                    ),
                    None => (0.0, -1.0),
                };
                self.globals[RSTART] = Cell::Val(Val::Num(start));
                self.globals[RLENGTH] = Cell::Val(Val::Num(len));
                num(start)
            }
            Bi::Sprintf => {
                let (text, err) = self.format(args, "sprintf")?;
                if let Some(e) = err {
                    return Err(Stop::RunError(e));
                }
                Ok(Val::Str(text))
            }
            Bi::Tolower => {
                let s = self.str_arg(&args[0])?;
                Ok(Val::Str(
                    s.chars().map(|c| c.to_ascii_lowercase()).collect(),
                ))
            }
            Bi::Toupper => {
                let s = self.str_arg(&args[0])?;
                Ok(Val::Str(
                    s.chars().map(|c| c.to_ascii_uppercase()).collect(),
                ))
            }
            Bi::Int => num(self.num_arg(&args[0])?.trunc()),
            Bi::Sqrt => num(self.num_arg(&args[0])?.sqrt()),
            Bi::Exp => num(self.num_arg(&args[0])?.exp()),
            Bi::Log => {
                let x = self.num_arg(&args[0])?;
                num(if x < 0.0 { -f64::NAN.abs() } else { x.ln() })
            }
            Bi::Sin => num(self.num_arg(&args[0])?.sin()),
            Bi::Cos => num(self.num_arg(&args[0])?.cos()),
            Bi::Atan2 => {
                let y = self.num_arg(&args[0])?;
                let x = self.num_arg(&args[1])?;
                num(y.atan2(x))
            }
            Bi::Fflush => {
                if let Some(e) = args.first() {
                    let s = self.str_arg(e)?;
                    if !s.is_empty() && s != "/dev/stdout" {
                        return refuse("awk fflush() of a file");
                    }
                }
                num(0.0)
            }
        }
    }
}

trait ClonedRef<'a> {
    fn cloned_ref(self) -> Option<&'a Expr>;
}

impl<'a> ClonedRef<'a> for Option<&'a Expr> {
    fn cloned_ref(self) -> Option<&'a Expr> {
        self
    }
}

pub(super) fn split_re(s: &str, re: &AwkRe) -> R<Vec<String>> {
    if re.is_match("") {
        return refuse("an awk field separator that matches the empty string");
    }
    let mut out = Vec::new();
    let mut pos = 0;
    let mut from = 0;
    while let Some((a, b)) = re.find_at(s, from) {
        out.push(s[pos..a].to_string());
        pos = b;
        from = b;
        if from >= s.len() {
            break;
        }
    }
    out.push(s[pos..].to_string());
    Ok(out)
}

/// sub/gsub: the new text and how many replacements. In the replacement, `&` is the
/// match and `\&` a literal `&` (`\\` a backslash).
pub(super) fn substitute(re: &AwkRe, s: &str, repl: &str, global: bool) -> (String, usize) {
    let mut out = String::new();
    let mut pos = 0;
    let mut n = 0;
    let mut last_end: Option<usize> = None;
    let rc: Vec<char> = repl.chars().collect();
    let expand = |out: &mut String, m: &str| {
        let mut i = 0;
        while i < rc.len() {
            match rc[i] {
                '\\' if rc.get(i + 1) == Some(&'&') => {
                    out.push('&');
                    i += 2;
                }
                '\\' if rc.get(i + 1) == Some(&'\\') => {
                    out.push('\\');
                    i += 2;
                }
                '&' => {
                    out.push_str(m);
                    i += 1;
                }
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
    };
    while pos <= s.len() {
        let Some((a, b)) = re.find_at(s, pos) else {
            break;
        };
        if a == b && last_end == Some(a) {
            // An empty match right after a match: not replaced.
            match s[a..].chars().next() {
                Some(c) => {
                    out.push(c);
                    pos = a + c.len_utf8();
                    continue;
                }
                None => break,
            }
        }
        out.push_str(&s[pos..a]);
        expand(&mut out, &s[a..b]);
        n += 1;
        if a == b {
            match s[a..].chars().next() {
                Some(c) => {
                    out.push(c);
                    pos = a + c.len_utf8();
                }
                None => {
                    pos = s.len() + 1;
                }
            }
        } else {
            pos = b;
            last_end = Some(b);
        }
        if !global {
            break;
        }
    }
    if pos <= s.len() {
        out.push_str(&s[pos..]);
    }
    (out, n)
}
