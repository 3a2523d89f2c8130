//! Parameters: their values (`$1`, `$@`, `$?`, `PIPESTATUS`, …, `set -u`) and the
//! `${…}` forms (defaults, lengths, pattern removal and substitution, substrings,
//! case modification).

use brush_parser::word::{Parameter, ParameterExpr, ParameterTestType, SpecialParameter};

use super::expand::Expanded;
use super::{Dialect, Flow, Shell};
use crate::io::Io;
use crate::unix::glob_match;

impl Shell {
    /// A parameter's value when it passes the `${p:-…}`-family test (`:` also
    /// fails the empty string), `None` when it is null for that test.
    fn tested_value(&self, p: &Parameter, test: &ParameterTestType) -> Option<String> {
        let v = self.param_value(p);
        let null = match test {
            ParameterTestType::UnsetOrNull => v.as_deref().is_none_or(str::is_empty),
            ParameterTestType::Unset => v.is_none(),
        };
        if null { None } else { v }
    }

    /// What joins the values of `$*` / `${a[*]}` (IFS's first character, or nothing
    /// for an empty IFS) and of `$@` / `${a[@]}` unquoted (a space).
    fn join_separator(&self, concatenate: bool) -> String {
        match self.ifs().chars().next() {
            Some(c) if concatenate => c.to_string(),
            None if concatenate => String::new(),
            _ => " ".to_string(),
        }
    }

    pub(super) fn param_value(&self, p: &Parameter) -> Option<String> {
        match p {
            Parameter::Positional(n) => self.positional.get(*n as usize).cloned(),
            Parameter::Special(s) => Some(match s {
                SpecialParameter::AllPositionalParameters { concatenate } => {
                    let sep = self.join_separator(*concatenate);
                    self.positional
                        .iter()
                        .skip(1)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(&sep)
                }
                SpecialParameter::PositionalParameterCount => {
                    self.positional.len().saturating_sub(1).to_string()
                }
                SpecialParameter::LastExitStatus => self.last.to_string(),
                SpecialParameter::CurrentOptionFlags => {
                    let mut f = String::new();
                    if self.opts.errexit {
                        f.push('e');
                    }
                    if self.opts.nounset {
                        f.push('u');
                    }
                    f.push_str(if self.dialect == Dialect::Bash {
                        "hBc"
                    } else {
                        ""
                    });
                    f
                }
                SpecialParameter::ProcessId => self.dollar.to_string(),
                SpecialParameter::LastBackgroundProcessId => {
                    return self.last_bg.map(|p| p.to_string());
                }
                SpecialParameter::ShellName => self.positional.first().cloned().unwrap_or_default(),
            }),
            Parameter::Named(name) if name == "PIPESTATUS" && self.dialect == Dialect::Bash => {
                self.pipestatus.first().map(i32::to_string)
            }
            Parameter::Named(name) => match self.arrays.get(name) {
                Some(a) => a.get(&0).cloned(),
                None => self.vars.get(name).cloned(),
            },
            // A bad subscript was refused before (`check_array_use`).
            Parameter::NamedWithIndex { name, index } => self.element(name, index).ok().flatten(),
            Parameter::NamedWithAllIndices { name, concatenate } => {
                let values: Vec<String> = self.elements(name).into_iter().map(|(_, v)| v).collect();
                if values.is_empty() {
                    // `a=()` is set, with no elements.
                    return self.arrays.contains_key(name).then(String::new);
                }
                let sep = self.join_separator(*concatenate);
                Some(values.join(&sep))
            }
        }
    }

    /// The value of a parameter as `$p` gives it: `set -u` ends the shell on an
    /// unset one; arrays (but `PIPESTATUS`) are refused.
    async fn plain_value(&mut self, p: &Parameter, io: &Io) -> Expanded<String> {
        if matches!(p, Parameter::Named(n) if n == "BASH_REMATCH") {
            return Err(self.refuse(io, "BASH_REMATCH").await);
        }
        let array = matches!(
            p,
            Parameter::NamedWithIndex { .. } | Parameter::NamedWithAllIndices { .. }
        );
        if array && self.dialect == Dialect::Dash {
            return Err(self.refuse(io, "arrays in dash").await);
        }
        match self.param_value(p) {
            Some(v) => Ok(v),
            // bash lets `${a[@]}` of an unset name pass `set -u`.
            None if self.opts.nounset
                && !matches!(
                    p,
                    Parameter::Special(_) | Parameter::NamedWithAllIndices { .. }
                ) =>
            {
                let name = param_name(p);
                match self.dialect {
                    Dialect::Bash => {
                        self.say(io, &format!("{name}: unbound variable")).await;
                        // A forked copy, or bash with errexit on, exits 1; the
                        // shell itself 127.
                        let status = if self.opts.errexit || self.forked {
                            1
                        } else {
                            127
                        };
                        Err(Flow::Exit(status))
                    }
                    Dialect::Dash => {
                        self.say(io, &format!("{name}: parameter not set")).await;
                        Err(Flow::Exit(2))
                    }
                }
            }
            None => Ok(String::new()),
        }
    }

    /// Refuses what the fake does not do with arrays: a subscript it cannot evaluate
    /// (side effects, before the first element), and any operation over a whole
    /// array but its value and its length.
    /// Returns the expansion with its subscript (if any) expanded and resolved to
    /// an index.
    async fn check_array_use(
        &mut self,
        expr: &ParameterExpr,
        io: &Io,
    ) -> Expanded<Option<ParameterExpr>> {
        if self.dialect == Dialect::Dash {
            return Ok(None);
        }
        let mut resolved = expr.clone();
        let Some(p) = expr_parameter(&mut resolved) else {
            return Ok(None);
        };
        match p {
            Parameter::NamedWithIndex { name, index } => {
                let expanded = self.expand_plain(index, io).await?;
                match self.resolve_index(name, &expanded) {
                    Ok(i) => *index = i.to_string(),
                    Err(_) => {
                        let what = format!("the array subscript {name}[{index}]");
                        return Err(self.refuse(io, &what).await);
                    }
                }
                return Ok(Some(resolved));
            }
            Parameter::NamedWithAllIndices { .. }
                if !matches!(
                    expr,
                    ParameterExpr::Parameter {
                        indirect: false,
                        ..
                    } | ParameterExpr::ParameterLength {
                        indirect: false,
                        ..
                    }
                ) =>
            {
                return Err(self
                    .refuse(io, "slicing or a pattern over a whole array")
                    .await);
            }
            _ => {}
        }
        Ok(None)
    }

    pub(super) async fn expand_parameter(
        &mut self,
        expr: &ParameterExpr,
        io: &Io,
    ) -> Expanded<String> {
        let resolved = self.check_array_use(expr, io).await?;
        let expr = resolved.as_ref().unwrap_or(expr);
        Ok(match expr {
            ParameterExpr::MemberKeys {
                variable_name,
                concatenate,
            } if self.dialect == Dialect::Bash => {
                let keys: Vec<String> = self
                    .elements(variable_name)
                    .into_iter()
                    .map(|(k, _)| k.to_string())
                    .collect();
                let sep = self.join_separator(*concatenate);
                keys.join(&sep)
            }
            ParameterExpr::ParameterLength {
                parameter: Parameter::NamedWithAllIndices { name, .. },
                ..
            } if self.dialect == Dialect::Bash => self.elements(name).len().to_string(),
            ParameterExpr::Parameter { indirect: true, .. } => {
                return Err(self.refuse(io, "indirect expansion (${!name})").await);
            }
            ParameterExpr::Parameter { parameter, .. } => self.plain_value(parameter, io).await?,
            ParameterExpr::UseDefaultValues {
                parameter,
                test_type,
                default_value,
                ..
            }
            | ParameterExpr::AssignDefaultValues {
                parameter,
                test_type,
                default_value,
                ..
            } => match self.tested_value(parameter, test_type) {
                Some(v) => v,
                None => {
                    let d = self
                        .expand_plain(default_value.as_deref().unwrap_or(""), io)
                        .await?;
                    // `${p:=…}` also assigns the default.
                    if let (ParameterExpr::AssignDefaultValues { .. }, Parameter::Named(n)) =
                        (expr, parameter)
                    {
                        self.set_var(n, d.clone());
                    }
                    d
                }
            },
            ParameterExpr::UseAlternativeValue {
                parameter,
                test_type,
                alternative_value,
                ..
            } => match self.tested_value(parameter, test_type) {
                Some(_) => {
                    self.expand_plain(alternative_value.as_deref().unwrap_or(""), io)
                        .await?
                }
                None => String::new(),
            },
            ParameterExpr::IndicateErrorIfNullOrUnset {
                parameter,
                test_type,
                error_message,
                ..
            } => {
                let Some(v) = self.tested_value(parameter, test_type) else {
                    let msg = match error_message {
                        Some(m) => self.expand_plain(m, io).await?,
                        None if matches!(test_type, ParameterTestType::UnsetOrNull) => {
                            "parameter null or not set".into()
                        }
                        None => "parameter not set".into(),
                    };
                    self.say(io, &format!("{}: {msg}", param_name(parameter)))
                        .await;
                    return Err(Flow::Exit(if self.dialect == Dialect::Bash {
                        1
                    } else {
                        2
                    }));
                };
                v
            }
            ParameterExpr::ParameterLength { parameter, .. } => self
                .plain_value(parameter, io)
                .await?
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
                let value = self.plain_value(parameter, io).await?;
                let pat = self
                    .expand_pattern(pattern.as_deref().unwrap_or(""), io)
                    .await?;
                let (suffix, largest) = match expr {
                    ParameterExpr::RemoveSmallestSuffixPattern { .. } => (true, false),
                    ParameterExpr::RemoveLargestSuffixPattern { .. } => (true, true),
                    ParameterExpr::RemoveSmallestPrefixPattern { .. } => (false, false),
                    _ => (false, true),
                };
                remove_pattern(&value, &pat, suffix, largest)
            }
            ParameterExpr::Substring {
                parameter,
                offset,
                length,
                indirect: false,
            } if self.dialect == Dialect::Bash => {
                let value: Vec<char> = self.plain_value(parameter, io).await?.chars().collect();
                let n = value.len() as i64;
                let arith = |s: &mut Self, src: &str| s.arith(src);
                let Ok(off) = arith(self, &offset.value) else {
                    return Err(self.refuse(io, "this substring offset").await);
                };
                let start = if off < 0 {
                    (n + off).max(0)
                } else {
                    off.min(n)
                };
                let end = match length {
                    None => n,
                    Some(l) => match arith(self, &l.value) {
                        Ok(l) if l < 0 => (n + l).max(start),
                        Ok(l) => (start + l).min(n),
                        Err(_) => return Err(self.refuse(io, "this substring length").await),
                    },
                };
                if off < 0 && n + off < 0 {
                    String::new()
                } else {
                    value[start as usize..end.max(start) as usize]
                        .iter()
                        .collect()
                }
            }
            ParameterExpr::ReplaceSubstring {
                parameter,
                pattern,
                replacement,
                match_kind,
                indirect: false,
            } if self.dialect == Dialect::Bash => {
                let value = self.plain_value(parameter, io).await?;
                let pat = self.expand_pattern(pattern, io).await?;
                let rep = self
                    .expand_plain(replacement.as_deref().unwrap_or(""), io)
                    .await?;
                replace_pattern(&value, &pat, &rep, match_kind)
            }
            // The parser gives `${v^^}` an empty pattern: the same as none.
            ParameterExpr::UppercaseFirstChar {
                parameter,
                pattern,
                indirect: false,
            }
            | ParameterExpr::UppercasePattern {
                parameter,
                pattern,
                indirect: false,
            }
            | ParameterExpr::LowercaseFirstChar {
                parameter,
                pattern,
                indirect: false,
            }
            | ParameterExpr::LowercasePattern {
                parameter,
                pattern,
                indirect: false,
            } if self.dialect == Dialect::Bash && pattern.as_deref().is_none_or(str::is_empty) => {
                let value = self.plain_value(parameter, io).await?;
                let upper = matches!(
                    expr,
                    ParameterExpr::UppercaseFirstChar { .. }
                        | ParameterExpr::UppercasePattern { .. }
                );
                let all = matches!(
                    expr,
                    ParameterExpr::UppercasePattern { .. } | ParameterExpr::LowercasePattern { .. }
                );
                let conv = |c: char| -> String {
                    if upper {
                        c.to_uppercase().collect()
                    } else {
                        c.to_lowercase().collect()
                    }
                };
                let mut out = String::new();
                for (i, c) in value.chars().enumerate() {
                    if all || i == 0 {
                        out.push_str(&conv(c));
                    } else {
                        out.push(c);
                    }
                }
                out
            }
            other => {
                let what = match other {
                    ParameterExpr::Substring { .. } => "substring expansion (${v:o:l})",
                    ParameterExpr::ReplaceSubstring { .. } => "pattern substitution (${v/p/s})",
                    ParameterExpr::UppercaseFirstChar { .. }
                    | ParameterExpr::UppercasePattern { .. }
                    | ParameterExpr::LowercaseFirstChar { .. }
                    | ParameterExpr::LowercasePattern { .. } => "case modification (${v^^})",
                    _ => "this parameter expansion",
                };
                return Err(self.refuse(io, what).await);
            }
        })
    }
}

/// The name a message gives a parameter.
fn param_name(p: &Parameter) -> String {
    match p {
        Parameter::Positional(n) => n.to_string(),
        Parameter::Named(n) => n.clone(),
        Parameter::NamedWithIndex { name, index } => format!("{name}[{index}]"),
        Parameter::NamedWithAllIndices { name, concatenate } => {
            format!("{name}[{}]", if *concatenate { '*' } else { '@' })
        }
        Parameter::Special(s) => s.to_string(),
    }
}

/// `${v/p/r}` (first match), `${v//p/r}` (every match), `${v/#p/r}` (prefix),
/// `${v/%p/r}` (suffix): each match the longest at its place, as bash does.
pub(super) fn replace_pattern(
    value: &str,
    pat: &str,
    rep: &str,
    kind: &brush_parser::word::SubstringMatchKind,
) -> String {
    use brush_parser::word::SubstringMatchKind as K;
    if pat.is_empty() {
        return value.to_string();
    }
    let bounds: Vec<usize> = value
        .char_indices()
        .map(|(i, _)| i)
        .chain([value.len()])
        .collect();
    match kind {
        K::Prefix => match bounds.iter().rev().find(|&&e| glob_match(pat, &value[..e])) {
            Some(&e) => format!("{rep}{}", &value[e..]),
            None => value.to_string(),
        },
        K::Suffix => match bounds.iter().find(|&&b| glob_match(pat, &value[b..])) {
            Some(&b) => format!("{}{rep}", &value[..b]),
            None => value.to_string(),
        },
        K::FirstOccurrence | K::Anywhere => {
            let all = matches!(kind, K::Anywhere);
            let mut out = String::new();
            let mut i = 0;
            let mut replaced = false;
            while i < bounds.len() {
                let start = bounds[i];
                let hit = if replaced && !all {
                    None
                } else {
                    bounds[i + 1..]
                        .iter()
                        .rev()
                        .find(|&&e| glob_match(pat, &value[start..e]))
                        .copied()
                };
                match hit {
                    Some(e) => {
                        out.push_str(rep);
                        replaced = true;
                        i = bounds.iter().position(|&b| b == e).unwrap_or(bounds.len());
                    }
                    None => {
                        if let Some(&next) = bounds.get(i + 1) {
                            out.push_str(&value[start..next]);
                        }
                        i += 1;
                    }
                }
            }
            out
        }
    }
}

/// `${v%pat}`, `${v%%pat}`, `${v#pat}`, `${v##pat}`: removes the shortest or longest
/// suffix or prefix of `value` that matches `pat`.
pub(super) fn remove_pattern(value: &str, pat: &str, suffix: bool, largest: bool) -> String {
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

/// The parameter an expansion reads, if it reads one.
fn expr_parameter(expr: &mut ParameterExpr) -> Option<&mut Parameter> {
    use ParameterExpr as E;
    match expr {
        E::Parameter { parameter, .. }
        | E::UseDefaultValues { parameter, .. }
        | E::AssignDefaultValues { parameter, .. }
        | E::IndicateErrorIfNullOrUnset { parameter, .. }
        | E::UseAlternativeValue { parameter, .. }
        | E::ParameterLength { parameter, .. }
        | E::RemoveSmallestSuffixPattern { parameter, .. }
        | E::RemoveLargestSuffixPattern { parameter, .. }
        | E::RemoveSmallestPrefixPattern { parameter, .. }
        | E::RemoveLargestPrefixPattern { parameter, .. }
        | E::Substring { parameter, .. }
        | E::Transform { parameter, .. }
        | E::UppercaseFirstChar { parameter, .. }
        | E::UppercasePattern { parameter, .. }
        | E::LowercaseFirstChar { parameter, .. }
        | E::LowercasePattern { parameter, .. }
        | E::ReplaceSubstring { parameter, .. } => Some(parameter),
        E::VariableNames { .. } | E::MemberKeys { .. } => None,
    }
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
