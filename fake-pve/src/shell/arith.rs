//! Arithmetic expansion: `$(( … ))`.

use brush_parser::ast;

use super::Shell;

impl Shell {
    /// Evaluates `$(( … ))`.
    pub(super) fn arith(&mut self, source: &str) -> Result<i64, String> {
        if self.dialect == super::Dialect::Dash && source.contains("**") {
            return Err("** in dash".into());
        }
        let expr = brush_parser::arithmetic::parse(source).map_err(|e| e.to_string())?;
        self.arith_eval(&expr)
    }

    pub(super) fn arith_eval(&mut self, expr: &ast::ArithmeticExpr) -> Result<i64, String> {
        use ast::{ArithmeticExpr as E, BinaryOperator as B, UnaryOperator as U};
        Ok(match expr {
            E::Literal(n) => *n,
            E::Reference(ast::ArithmeticTarget::Variable(name)) => {
                let v = self.element(name, "0").ok().flatten();
                self.value_of(v)?
            }
            E::Reference(ast::ArithmeticTarget::ArrayElement(name, index)) => {
                let i = self.arith_eval(index)?;
                let v = self
                    .element(name, &i.to_string())
                    .map_err(|_| "a negative array subscript")?;
                self.value_of(v)?
            }
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
            E::Assignment(ast::ArithmeticTarget::Variable(name), v) if !self.is_array(name) => {
                let v = self.arith_eval(v)?;
                self.vars.insert(name.clone(), v.to_string());
                v
            }
            _ => return Err("this arithmetic operator".into()),
        })
    }
}

impl Shell {
    /// A variable's value as arithmetic reads it: 0 when unset or empty, else the
    /// value evaluated as an expression itself (`x=1+2; $((x))` is 3), as bash does.
    fn value_of(&mut self, v: Option<String>) -> Result<i64, String> {
        let Some(v) = v.filter(|v| !v.trim().is_empty()) else {
            return Ok(0);
        };
        if let Ok(n) = v.trim().parse() {
            return Ok(n);
        }
        if self.dialect == super::Dialect::Dash {
            return Err("dash's Illegal number".into());
        }
        if self.arith_depth >= 32 {
            return Err("a variable whose value refers back to itself".into());
        }
        self.arith_depth += 1;
        let result = self.arith(&v);
        self.arith_depth -= 1;
        result
    }
}
