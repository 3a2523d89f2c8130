//! bash's `[[ … ]]`: operands are expanded without field splitting or globbing; `==`
//! and `!=` match an unquoted right side as a pattern, `=~` as an extended regular
//! expression, `-eq` and friends evaluate arithmetic. What it cannot answer truly
//! (special files, file ages, `BASH_REMATCH`-style uses beyond the match) is refused.

use brush_parser::ast::{BinaryPredicate as B, ExtendedTestExpr as X, UnaryPredicate as U};

use super::{BoxFut, Flow, Shell};
use crate::io::Io;
use crate::unix::{glob_match, posix_regex};

impl Shell {
    pub(super) fn eval_cond<'a>(
        &'a mut self,
        expr: &'a X,
        io: &'a Io,
    ) -> BoxFut<'a, Result<bool, Flow>> {
        Box::pin(async move {
            Ok(match expr {
                X::And(a, b) => self.eval_cond(a, io).await? && self.eval_cond(b, io).await?,
                X::Or(a, b) => self.eval_cond(a, io).await? || self.eval_cond(b, io).await?,
                X::Not(a) => !self.eval_cond(a, io).await?,
                X::Parenthesized(a) => self.eval_cond(a, io).await?,
                X::UnaryTest(op, w) => {
                    let v = self.expand_plain(&w.value, io).await?;
                    self.cond_unary(op, &v, io).await?
                }
                X::BinaryTest(op, l, r) => {
                    let lv = self.expand_plain(&l.value, io).await?;
                    let quoted = r.value.contains(['\'', '"', '\\']);
                    let rv = self.expand_plain(&r.value, io).await?;
                    match op {
                        B::StringExactlyMatchesPattern
                        | B::StringDoesNotExactlyMatchPattern
                        | B::StringExactlyMatchesString
                        | B::StringDoesNotExactlyMatchString => {
                            let same = if quoted {
                                if !fully_quoted(&r.value) {
                                    return Err(self
                                        .refuse(io, "[[ ]] with a partly quoted pattern")
                                        .await);
                                }
                                lv == rv
                            } else {
                                glob_match(&rv, &lv)
                            };
                            same == matches!(
                                op,
                                B::StringExactlyMatchesPattern | B::StringExactlyMatchesString
                            )
                        }
                        B::StringMatchesRegex => {
                            let src = if quoted {
                                if !fully_quoted(&r.value) {
                                    return Err(self
                                        .refuse(io, "[[ =~ ]] with a partly quoted regex")
                                        .await);
                                }
                                regex_lite::escape(&rv)
                            } else {
                                match posix_regex(&rv, true) {
                                    Ok(s) => s,
                                    Err(what) => {
                                        return Err(self
                                            .refuse(io, &format!("[[ =~ ]] with {what}"))
                                            .await);
                                    }
                                }
                            };
                            match regex_lite::Regex::new(&src) {
                                Ok(re) => re.is_match(&lv),
                                Err(_) => return Err(self.refuse(io, "this [[ =~ ]] regex").await),
                            }
                        }
                        // How the parser gives `=~` with a quoted right side.
                        B::StringContainsSubstring => lv.contains(&rv),
                        B::LeftSortsBeforeRight => lv < rv,
                        B::LeftSortsAfterRight => lv > rv,
                        B::ArithmeticEqualTo
                        | B::ArithmeticNotEqualTo
                        | B::ArithmeticLessThan
                        | B::ArithmeticLessThanOrEqualTo
                        | B::ArithmeticGreaterThan
                        | B::ArithmeticGreaterThanOrEqualTo => {
                            let (a, b) = match (self.arith(&lv), self.arith(&rv)) {
                                (Ok(a), Ok(b)) => (a, b),
                                _ => return Err(self.refuse(io, "this [[ ]] arithmetic").await),
                            };
                            match op {
                                B::ArithmeticEqualTo => a == b,
                                B::ArithmeticNotEqualTo => a != b,
                                B::ArithmeticLessThan => a < b,
                                B::ArithmeticLessThanOrEqualTo => a <= b,
                                B::ArithmeticGreaterThan => a > b,
                                _ => a >= b,
                            }
                        }
                        _ => return Err(self.refuse(io, "this [[ ]] operator").await),
                    }
                }
            })
        })
    }

    async fn cond_unary(&mut self, op: &U, v: &str, io: &Io) -> Result<bool, Flow> {
        let meta = self.ctx.with_fs(|fs| fs.stat(&self.ctx.resolve(v)));
        if let Some(answer) = crate::unix::common_unary_test(op, v, meta.as_ref().ok()) {
            return Ok(answer);
        }
        Ok(match op {
            // The filesystem has no symbolic links.
            U::FileExistsAndIsSymlink => false,
            U::ShellVariableIsSetAndAssigned => self.vars.contains_key(v),
            _ => return Err(self.refuse(io, "this [[ ]] test").await),
        })
    }
}

/// Whether a word is one quoted string (`'…'` or `"…"`), so it matches literally.
fn fully_quoted(word: &str) -> bool {
    let b = word.as_bytes();
    b.len() >= 2
        && ((b[0] == b'\'' && b[b.len() - 1] == b'\'' && !word[1..word.len() - 1].contains('\''))
            || (b[0] == b'"' && b[b.len() - 1] == b'"' && !word[1..word.len() - 1].contains('"')))
}
