//! awk's expressions, by precedence from assignment down to primaries, as
//! mawk's grammar ranks them.

use super::*;

impl Parser {
    /// Expressions up to `close` (consumed), separated by commas.
    pub(super) fn expr_list(&mut self, close: &str) -> PResult<Vec<Expr>> {
        let saved = self.no_gt;
        self.no_gt = false;
        let mut v = Vec::new();
        loop {
            v.push(self.expr()?);
            if self.eat_op(",") {
                self.skip_newlines();
                continue;
            }
            break;
        }
        self.expect_op(close)?;
        self.no_gt = saved;
        Ok(v)
    }

    pub(super) fn expr(&mut self) -> PResult<Expr> {
        let lhs = self.ternary()?;
        let op = match self.peek() {
            Tok::Op("=") => None,
            Tok::Op("+=") => Some('+'),
            Tok::Op("-=") => Some('-'),
            Tok::Op("*=") => Some('*'),
            Tok::Op("/=") => Some('/'),
            Tok::Op("%=") => Some('%'),
            Tok::Op("^=") => Some('^'),
            Tok::Op("**=") => return Err(CompileError::Refuse("awk's **=".into())),
            _ => return Ok(lhs),
        };
        if !is_lvalue(&lhs) {
            return self.error();
        }
        self.bump();
        let rhs = self.expr()?;
        Ok(Expr::Assign(op, Box::new(lhs), Box::new(rhs)))
    }

    pub(super) fn ternary(&mut self) -> PResult<Expr> {
        let c = self.or()?;
        if !self.eat_op("?") {
            return Ok(c);
        }
        let a = self.ternary()?;
        self.expect_op(":")?;
        let b = self.ternary()?;
        Ok(Expr::Cond(Box::new(c), Box::new(a), Box::new(b)))
    }

    pub(super) fn or(&mut self) -> PResult<Expr> {
        let mut l = self.and()?;
        while self.eat_op("||") {
            self.skip_newlines();
            let r = self.and()?;
            l = Expr::Or(Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    pub(super) fn and(&mut self) -> PResult<Expr> {
        let mut l = self.in_expr()?;
        while self.eat_op("&&") {
            self.skip_newlines();
            let r = self.in_expr()?;
            l = Expr::And(Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    pub(super) fn in_expr(&mut self) -> PResult<Expr> {
        let mut l = self.matching()?;
        while *self.peek() == Tok::Kw("in") {
            self.bump();
            let Tok::Name(n) = self.peek().clone() else {
                return self.error();
            };
            self.bump();
            let v = self.var(&n)?;
            l = Expr::In(vec![l], v);
        }
        Ok(l)
    }

    pub(super) fn matching(&mut self) -> PResult<Expr> {
        let mut l = self.comparison()?;
        loop {
            let neg = match self.peek() {
                Tok::Op("~") => false,
                Tok::Op("!~") => true,
                _ => return Ok(l),
            };
            self.bump();
            let r = self.comparison()?;
            l = Expr::Match(neg, Box::new(l), Box::new(r));
        }
    }

    pub(super) fn comparison(&mut self) -> PResult<Expr> {
        let mut l = self.concat()?;
        loop {
            let op = match self.peek() {
                Tok::Op("<") => "<",
                Tok::Op("<=") => "<=",
                Tok::Op("==") => "==",
                Tok::Op("!=") => "!=",
                Tok::Op(">=") => ">=",
                Tok::Op(">") if !self.no_gt => ">",
                _ => return Ok(l),
            };
            self.bump();
            let r = self.concat()?;
            l = Expr::Cmp(op, Box::new(l), Box::new(r));
        }
    }

    pub(super) fn starts_operand(&self) -> bool {
        match self.peek() {
            Tok::Num(..) | Tok::Str(_) | Tok::Ere(_) | Tok::Func(_) => true,
            Tok::Name(_) => true,
            Tok::Op("$" | "(" | "!" | "++" | "--" | "-" | "+") => {
                !matches!(self.peek(), Tok::Op("-" | "+" | "!"))
            }
            Tok::Kw("getline") => true,
            _ => false,
        }
    }

    pub(super) fn concat(&mut self) -> PResult<Expr> {
        let mut l = self.additive()?;
        while self.starts_operand() {
            let r = self.additive()?;
            l = Expr::Concat(Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    pub(super) fn additive(&mut self) -> PResult<Expr> {
        let mut l = self.multiplicative()?;
        loop {
            let op = match self.peek() {
                Tok::Op("+") => '+',
                Tok::Op("-") => '-',
                _ => return Ok(l),
            };
            self.bump();
            let r = self.multiplicative()?;
            l = Expr::Arith(op, Box::new(l), Box::new(r));
        }
    }

    pub(super) fn multiplicative(&mut self) -> PResult<Expr> {
        let mut l = self.unary()?;
        loop {
            let op = match self.peek() {
                Tok::Op("*") => '*',
                Tok::Op("/") => '/',
                Tok::Op("%") => '%',
                _ => return Ok(l),
            };
            self.bump();
            let r = self.unary()?;
            l = Expr::Arith(op, Box::new(l), Box::new(r));
        }
    }

    pub(super) fn unary(&mut self) -> PResult<Expr> {
        match self.peek() {
            Tok::Op("!") => {
                self.bump();
                Ok(Expr::Not(Box::new(self.unary()?)))
            }
            Tok::Op("-") => {
                self.bump();
                Ok(Expr::Neg(Box::new(self.unary()?)))
            }
            Tok::Op("+") => {
                self.bump();
                Ok(Expr::Pos(Box::new(self.unary()?)))
            }
            _ => self.power(),
        }
    }

    pub(super) fn power(&mut self) -> PResult<Expr> {
        let base = self.postfix()?;
        if self.is_op("**") {
            return Err(CompileError::Refuse("awk's ** operator".into()));
        }
        if self.eat_op("^") {
            // Right associative, and the exponent may be negated: 2^-1.
            let e = match self.peek() {
                Tok::Op("-") => {
                    self.bump();
                    Expr::Neg(Box::new(self.power()?))
                }
                Tok::Op("+") => {
                    self.bump();
                    Expr::Pos(Box::new(self.power()?))
                }
                Tok::Op("!") => {
                    self.bump();
                    Expr::Not(Box::new(self.power()?))
                }
                _ => self.power()?,
            };
            return Ok(Expr::Arith('^', Box::new(base), Box::new(e)));
        }
        Ok(base)
    }

    pub(super) fn postfix(&mut self) -> PResult<Expr> {
        if self.is_op("++") || self.is_op("--") {
            let d = if self.bump() == Tok::Op("++") {
                1.0
            } else {
                -1.0
            };
            let t = self.postfix_target()?;
            return Ok(Expr::Incr(true, d, Box::new(t)));
        }
        let p = self.primary()?;
        if is_lvalue(&p) && (self.is_op("++") || self.is_op("--")) {
            let d = if self.bump() == Tok::Op("++") {
                1.0
            } else {
                -1.0
            };
            return Ok(Expr::Incr(false, d, Box::new(p)));
        }
        Ok(p)
    }

    pub(super) fn postfix_target(&mut self) -> PResult<Expr> {
        let p = self.primary()?;
        if !is_lvalue(&p) {
            return self.error();
        }
        Ok(p)
    }

    pub(super) fn regex(&mut self, src: &str) -> PResult<usize> {
        let re = AwkRe::new(src).map_err(CompileError::Refuse)?;
        self.prog.regexes.push(re);
        Ok(self.prog.regexes.len() - 1)
    }

    pub(super) fn primary(&mut self) -> PResult<Expr> {
        match self.peek().clone() {
            Tok::Num(v, _) => {
                self.bump();
                Ok(Expr::Num(v))
            }
            Tok::Str(s) => {
                self.bump();
                Ok(Expr::Str(s))
            }
            Tok::Ere(s) => {
                self.bump();
                Ok(Expr::Re(self.regex(&s)?))
            }
            Tok::Op("$") => {
                self.bump();
                let e = match self.peek() {
                    Tok::Op("++" | "--") => self.postfix()?,
                    Tok::Op("-" | "+" | "!") => self.unary()?,
                    _ => self.primary()?,
                };
                Ok(Expr::Field(Box::new(e)))
            }
            Tok::Op("(") => {
                self.bump();
                let list = self.expr_list(")")?;
                if list.len() == 1 {
                    return Ok(list.into_iter().next().unwrap_or(Expr::Num(0.0)));
                }
                if *self.peek() == Tok::Kw("in") {
                    self.bump();
                    let Tok::Name(n) = self.peek().clone() else {
                        return self.error();
                    };
                    self.bump();
                    let v = self.var(&n)?;
                    return Ok(Expr::In(list, v));
                }
                Ok(Expr::Group(list))
            }
            Tok::Op("-") | Tok::Op("+") | Tok::Op("!") => self.unary(),
            Tok::Kw("getline") => Err(CompileError::Refuse("awk getline".into())),
            Tok::Name(n) | Tok::Func(n) => {
                if REFUSED.contains(&n.as_str()) {
                    return Err(CompileError::Refuse(format!("awk {n}()")));
                }
                if matches!(
                    n.as_str(),
                    "substr"
                        | "index"
                        | "split"
                        | "sub"
                        | "gsub"
                        | "match"
                        | "sprintf"
                        | "tolower"
                        | "toupper"
                        | "int"
                        | "sqrt"
                        | "exp"
                        | "log"
                        | "sin"
                        | "cos"
                        | "atan2"
                        | "fflush"
                        | "length"
                ) {
                    return self.builtin_call(&n);
                }
                let is_call = matches!(self.peek(), Tok::Func(_));
                self.bump();
                if is_call {
                    let Some(&f) = self.func_ix.get(&n) else {
                        let slot = self.func_slot(&n);
                        self.bump();
                        let args = if self.eat_op(")") {
                            Vec::new()
                        } else {
                            self.expr_list(")")?
                        };
                        return Ok(Expr::Call(slot, args));
                    };
                    self.bump();
                    let args = if self.eat_op(")") {
                        Vec::new()
                    } else {
                        self.expr_list(")")?
                    };
                    return Ok(Expr::Call(f, args));
                }
                let v = self.var(&n)?;
                if self.eat_op("[") {
                    let subs = self.expr_list("]")?;
                    return Ok(Expr::Index(v, subs));
                }
                Ok(Expr::Var(v))
            }
            _ => self.error(),
        }
    }

    pub(super) fn builtin_call(&mut self, name: &str) -> PResult<Expr> {
        let bi = builtin(name).ok_or_else(|| CompileError::Refuse(format!("awk {name}()")))?;
        let name_at = self.pos;
        self.bump();
        if !self.is_op("(") {
            if bi == Bi::Length {
                return Ok(Expr::Builtin(Bi::Length, Vec::new()));
            }
            return self.error();
        }
        self.bump();
        let args = if self.eat_op(")") {
            Vec::new()
        } else {
            self.expr_list(")")?
        };
        let (min, max) = match bi {
            Bi::Length | Bi::Fflush => (0, 1),
            Bi::Substr => (2, 3),
            Bi::Index | Bi::Atan2 => (2, 2),
            Bi::Split | Bi::Sub | Bi::Gsub => (2, 3),
            Bi::Match => (2, 2),
            Bi::Sprintf => (1, usize::MAX),
            _ => (1, 1),
        };
        if args.len() < min || args.len() > max {
            let here = self.pos;
            self.pos = name_at;
            self.semantic(&format!("wrong number of arguments in call to {name}"))?;
            self.pos = here;
        }
        if bi == Bi::Split && !matches!(args[1], Expr::Var(_)) {
            return Err(CompileError::Refuse("awk split() into a non-array".into()));
        }
        if matches!(bi, Bi::Sub | Bi::Gsub) && args.len() == 3 && !is_lvalue(&args[2]) {
            return Err(CompileError::Refuse(format!(
                "awk {name}() on a non-variable"
            )));
        }
        Ok(Expr::Builtin(bi, args))
    }
}
