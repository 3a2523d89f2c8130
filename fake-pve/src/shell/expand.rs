//! Word expansion: quote removal, parameters (`${v:-x}`, `${v%pat}`, …), command
//! substitution, field splitting.

use brush_parser::word::{
    Parameter, ParameterExpr, ParameterTestType, SpecialParameter, WordPiece,
};

use super::{BoxFut, Field, Shell};
use crate::io::{Io, Output};
use crate::unix::glob_match;

impl Shell {
    /// Expands a word into fields (quote removal, parameter and command substitution,
    /// arithmetic, field splitting of unquoted results, pathname expansion).
    pub(super) async fn expand_word(&mut self, word: &str, io: &Io) -> Result<Vec<String>, i32> {
        let pieces = self.parse_word(word, io).await?;
        let (fields, globbable) = self.expand_pieces(pieces, false, io).await?;
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
    pub(super) async fn expand_plain(&mut self, word: &str, io: &Io) -> Result<String, i32> {
        let pieces = self.parse_word(word, io).await?;
        self.expand_joined(pieces, io).await
    }

    pub(super) async fn expand_heredoc(&mut self, text: &str, io: &Io) -> Result<String, i32> {
        let pieces = match brush_parser::word::parse_heredoc(
            text,
            &brush_parser::ParserOptions::default(),
        ) {
            Ok(p) => p,
            Err(_) => return Ok(text.to_string()),
        };
        self.expand_joined(pieces.into_iter().map(|p| p.piece).collect(), io)
            .await
    }

    /// Expands the pieces of one word into its fields, and whether any unquoted
    /// part may glob.
    async fn expand_pieces(
        &mut self,
        pieces: Vec<WordPiece>,
        quoted: bool,
        io: &Io,
    ) -> Result<(Vec<Field>, bool), i32> {
        let mut fields = vec![Field::default()];
        let mut globbable = false;
        for piece in pieces {
            self.expand_piece(piece, quoted, &mut fields, &mut globbable, io)
                .await?;
        }
        Ok((fields, globbable))
    }

    /// The pieces expanded as if quoted, their fields joined by spaces.
    async fn expand_joined(&mut self, pieces: Vec<WordPiece>, io: &Io) -> Result<String, i32> {
        let (fields, _) = self.expand_pieces(pieces, true, io).await?;
        Ok(fields
            .into_iter()
            .map(|f| f.text)
            .collect::<Vec<_>>()
            .join(" "))
    }

    pub(super) async fn parse_word(&self, word: &str, io: &Io) -> Result<Vec<WordPiece>, i32> {
        match brush_parser::word::parse(word, &brush_parser::ParserOptions::default()) {
            Ok(pieces) => Ok(pieces.into_iter().map(|p| p.piece).collect()),
            Err(e) => {
                let _ = io.stderr.write_str(&format!("bash: line 1: {e}\n")).await;
                Err(1)
            }
        }
    }

    pub(super) fn expand_piece<'a>(
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

    pub(super) fn param_value(&self, p: &Parameter) -> Option<String> {
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

    pub(super) async fn expand_parameter(
        &mut self,
        expr: &ParameterExpr,
        io: &Io,
    ) -> Result<String, i32> {
        Ok(match expr {
            ParameterExpr::Parameter { parameter, .. } => {
                self.param_value(parameter).unwrap_or_default()
            }
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
                        self.vars.insert(n.clone(), d.clone());
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
                    let msg = error_message
                        .clone()
                        .unwrap_or_else(|| "parameter null or not set".into());
                    let _ = io
                        .stderr
                        .write_str(&format!("bash: line 1: {parameter}: {msg}\n"))
                        .await;
                    return Err(1);
                };
                v
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

pub(super) fn push_text(fields: &mut Vec<Field>, text: &str, quoted: bool) {
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

pub(super) fn mark_quoted(fields: &mut [Field]) {
    if let Some(f) = fields.last_mut() {
        f.quoted = true;
    }
}

pub(super) fn ansi_c_unescape(s: &str) -> String {
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
