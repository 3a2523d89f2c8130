//! Word expansion: quote removal, parameters (`${v:-x}`, `${v%pat}`, …), command
//! substitution, field splitting.

use brush_parser::word::{
    Parameter, ParameterExpr, ParameterTestType, SpecialParameter, WordPiece,
};

use super::{BoxFut, Dialect, Field, Flow, Shell};
use crate::io::{Io, Output};
use crate::unix::glob_match;

/// An expansion that did not give a value: the command's status, or the end of the
/// shell (`set -u`, a refusal).
type Expanded<T> = Result<T, Flow>;

impl Shell {
    /// Expands a word into fields (quote removal, parameter and command substitution,
    /// arithmetic, field splitting of unquoted results, pathname expansion).
    pub(super) async fn expand_word(&mut self, word: &str, io: &Io) -> Expanded<Vec<String>> {
        let mut out = Vec::new();
        for w in self.brace_expand(word, io).await? {
            out.extend(self.expand_one_word(&w, io).await?);
        }
        Ok(out)
    }

    /// bash's brace expansion (`{a,b}`, `{1..3}`) of a word without quotes or `$`;
    /// dash has none.
    async fn brace_expand(&mut self, word: &str, io: &Io) -> Expanded<Vec<String>> {
        if self.dialect == Dialect::Dash || !has_unquoted_brace(word) {
            return Ok(vec![word.to_string()]);
        }
        if word.contains(['$', '\'', '"', '\\', '`']) {
            return Err(self
                .refuse(io, "brace expansion in a word with quotes or $")
                .await);
        }
        match brush_parser::word::parse_brace_expansions(word, &self.parser_options()) {
            Ok(Some(pieces)) => Ok(brace_words(&pieces)),
            _ => Ok(vec![word.to_string()]),
        }
    }

    async fn expand_one_word(&mut self, word: &str, io: &Io) -> Expanded<Vec<String>> {
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
    pub(super) async fn expand_plain(&mut self, word: &str, io: &Io) -> Expanded<String> {
        let pieces = self.parse_word(word, io).await?;
        self.expand_joined(pieces, io).await
    }

    /// A `case` pattern: as a plain word (quoted pattern characters are not escaped).
    pub(super) async fn expand_pattern(&mut self, word: &str, io: &Io) -> Expanded<String> {
        if word.contains(['\'', '"', '\\']) && word.contains(['*', '?', '[']) {
            return Err(self
                .refuse(io, "quoted pattern characters in a case pattern")
                .await);
        }
        self.expand_plain(word, io).await
    }

    pub(super) async fn expand_heredoc(&mut self, text: &str, io: &Io) -> Expanded<String> {
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
    ) -> Expanded<(Vec<Field>, bool)> {
        // A `$` the parser left as text before `{`: an expansion it did not read
        // (dash's parser knows fewer forms). No plain text for it.
        let unread = pieces.windows(2).any(|w| {
            matches!((&w[0], &w[1]), (WordPiece::Text(a), WordPiece::Text(b)) if a.ends_with('$') && b.starts_with('{'))
        });
        if unread {
            return Err(self.refuse(io, "this parameter expansion").await);
        }
        let mut fields = vec![Field::default()];
        let mut globbable = false;
        for piece in pieces {
            self.expand_piece(piece, quoted, &mut fields, &mut globbable, io)
                .await?;
        }
        Ok((fields, globbable))
    }

    /// The pieces expanded as if quoted, their fields joined by spaces.
    async fn expand_joined(&mut self, pieces: Vec<WordPiece>, io: &Io) -> Expanded<String> {
        let (fields, _) = self.expand_pieces(pieces, true, io).await?;
        Ok(fields
            .into_iter()
            .map(|f| f.text)
            .collect::<Vec<_>>()
            .join(" "))
    }

    pub(super) async fn parse_word(&self, word: &str, io: &Io) -> Expanded<Vec<WordPiece>> {
        match brush_parser::word::parse(word, &self.parser_options()) {
            Ok(pieces) => Ok(pieces.into_iter().map(|p| p.piece).collect()),
            Err(e) => Err(self.refuse(io, &format!("this word ({e})")).await),
        }
    }

    pub(super) fn expand_piece<'a>(
        &'a mut self,
        piece: WordPiece,
        quoted: bool,
        fields: &'a mut Vec<Field>,
        globbable: &'a mut bool,
        io: &'a Io,
    ) -> BoxFut<'a, Expanded<()>> {
        Box::pin(async move {
            match piece {
                WordPiece::Text(t) if t.contains("${") => {
                    // The parser left an expansion it did not read (dash's parser
                    // knows fewer forms): no plain text.
                    return Err(self.refuse(io, "this parameter expansion").await);
                }
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
                    // `"$@"` alone with no positional parameters is no field at all.
                    let lone_at = inner.len() == 1
                        && matches!(
                            &inner[0].piece,
                            WordPiece::ParameterExpansion(ParameterExpr::Parameter {
                                parameter: Parameter::Special(
                                    SpecialParameter::AllPositionalParameters {
                                        concatenate: false
                                    }
                                ),
                                ..
                            })
                        );
                    if !(lone_at && self.positional.len() <= 1) {
                        mark_quoted(fields);
                    }
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
                WordPiece::ParameterExpansion(ParameterExpr::Parameter {
                    parameter:
                        Parameter::Special(SpecialParameter::AllPositionalParameters {
                            concatenate: false,
                        }),
                    indirect: false,
                }) if quoted => {
                    // `"$@"`: one field per positional parameter.
                    for (i, p) in self.positional.iter().skip(1).enumerate() {
                        if i > 0 {
                            fields.push(Field {
                                text: String::new(),
                                quoted: true,
                            });
                        }
                        push_text(fields, p, true);
                    }
                }
                WordPiece::ParameterExpansion(expr) => {
                    let value = self.expand_parameter(&expr, io).await?;
                    let ifs = self.ifs();
                    push_split(fields, &value, quoted, &ifs);
                }
                WordPiece::CommandSubstitution(cmd)
                | WordPiece::BackquotedCommandSubstitution(cmd) => {
                    let (mut text, status) = match read_only_file(&cmd) {
                        Some(file) if self.dialect == Dialect::Bash => {
                            self.read_for_subst(file, io).await?
                        }
                        _ => {
                            let (out, buf) = Output::capture();
                            let sub_io = Io {
                                stdin: io.stdin.clone(),
                                stdout: out,
                                stderr: io.stderr.clone(),
                            };
                            let mut sub = self.clone();
                            sub.exit_trap = None;
                            let status = sub.run_main(&cmd, &sub_io).await;
                            if let Some(s) = self.ctx.refusal.status() {
                                return Err(Flow::Exit(s));
                            }
                            let text = String::from_utf8_lossy(
                                &buf.lock().unwrap_or_else(|e| e.into_inner()),
                            )
                            .into_owned();
                            (text, status)
                        }
                    };
                    self.last = status;
                    self.subst = Some(status);
                    while text.ends_with('\n') {
                        text.pop();
                    }
                    let ifs = self.ifs();
                    push_split(fields, &text, quoted, &ifs);
                }
                WordPiece::ArithmeticExpression(expr) => {
                    let source = self.expand_plain(&expr.value, io).await?;
                    match self.arith(&source) {
                        Ok(v) => push_text(fields, &v.to_string(), true),
                        Err(msg) => {
                            return Err(self.refuse(io, &format!("this arithmetic ({msg})")).await);
                        }
                    }
                }
            }
            Ok(())
        })
    }

    /// The field separators (`IFS`, default blank, tab, newline).
    pub(super) fn ifs(&self) -> String {
        self.vars
            .get("IFS")
            .cloned()
            .unwrap_or_else(|| " \t\n".into())
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
                SpecialParameter::AllPositionalParameters { concatenate } => {
                    let sep = match self.ifs().chars().next() {
                        Some(c) if *concatenate => c.to_string(),
                        None if *concatenate => String::new(),
                        _ => " ".to_string(),
                    };
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
            Parameter::Named(name) => self.vars.get(name).cloned(),
            Parameter::NamedWithIndex { name, index } if name == "PIPESTATUS" => index
                .parse::<usize>()
                .ok()
                .and_then(|i| self.pipestatus.get(i))
                .map(i32::to_string),
            Parameter::NamedWithAllIndices { name, .. } if name == "PIPESTATUS" => Some(
                self.pipestatus
                    .iter()
                    .map(i32::to_string)
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            Parameter::NamedWithIndex { .. } | Parameter::NamedWithAllIndices { .. } => None,
        }
    }

    /// The value of a parameter as `$p` gives it: `set -u` ends the shell on an
    /// unset one; arrays (but `PIPESTATUS`) are refused.
    async fn plain_value(&mut self, p: &Parameter, io: &Io) -> Expanded<String> {
        if matches!(p, Parameter::Named(n) if n == "BASH_REMATCH") {
            return Err(self.refuse(io, "BASH_REMATCH").await);
        }
        let array = match p {
            Parameter::NamedWithIndex { name, .. }
            | Parameter::NamedWithAllIndices { name, .. } => {
                name != "PIPESTATUS" || self.dialect == Dialect::Dash
            }
            _ => false,
        };
        if array {
            return Err(self.refuse(io, "arrays").await);
        }
        match self.param_value(p) {
            Some(v) => Ok(v),
            None if self.opts.nounset && !matches!(p, Parameter::Special(_)) => {
                let name = param_name(p);
                match self.dialect {
                    Dialect::Bash => {
                        self.say(io, &format!("{name}: unbound variable")).await;
                        Err(Flow::Exit(127))
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

    pub(super) async fn expand_parameter(
        &mut self,
        expr: &ParameterExpr,
        io: &Io,
    ) -> Expanded<String> {
        Ok(match expr {
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
            ParameterExpr::UppercaseFirstChar {
                parameter,
                pattern: None,
                indirect: false,
            }
            | ParameterExpr::UppercasePattern {
                parameter,
                pattern: None,
                indirect: false,
            }
            | ParameterExpr::LowercaseFirstChar {
                parameter,
                pattern: None,
                indirect: false,
            }
            | ParameterExpr::LowercasePattern {
                parameter,
                pattern: None,
                indirect: false,
            } if self.dialect == Dialect::Bash => {
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

    /// `$(< file)`: the file's content, without running a command.
    async fn read_for_subst(&mut self, file: &str, io: &Io) -> Expanded<(String, i32)> {
        let name = self.expand_plain(file, io).await?;
        let path = self.ctx.resolve(&name);
        match self.ctx.with_fs(|fs| fs.read(&path).map(<[u8]>::to_vec)) {
            Ok(data) => Ok((String::from_utf8_lossy(&data).into_owned(), 0)),
            Err(e) => {
                self.say(io, &format!("{name}: {e}")).await;
                Ok((String::new(), 1))
            }
        }
    }
}

/// The name a message gives a parameter.
fn param_name(p: &Parameter) -> String {
    match p {
        Parameter::Positional(n) => n.to_string(),
        Parameter::Named(n) => n.clone(),
        Parameter::NamedWithIndex { name, index } => format!("{name}[{index}]"),
        Parameter::NamedWithAllIndices { name, .. } => name.clone(),
        Parameter::Special(s) => s.to_string(),
    }
}

/// The file of a command substitution that is only an input redirection (`$(< f)`).
fn read_only_file(cmd: &str) -> Option<&str> {
    let rest = cmd.trim().strip_prefix('<')?;
    if rest.starts_with(['<', '&', '(']) {
        return None;
    }
    let file = rest.trim();
    (!file.is_empty()
        && !file.contains(char::is_whitespace)
        && !file.contains([';', '|', '&', '>']))
    .then_some(file)
}

/// Whether `word` has a `{` outside quotes and `${…}` with a `,` or `..` after it at
/// the same level: a brace expansion for bash.
fn has_unquoted_brace(word: &str) -> bool {
    let b = word.as_bytes();
    let (mut i, mut single, mut double, mut param) = (0, false, false, 0usize);
    let mut open: Vec<usize> = Vec::new();
    while i < b.len() {
        let c = b[i];
        match c {
            b'\\' if !single => i += 1,
            b'\'' if !double => single = !single,
            b'"' if !single => double = !double,
            b'$' if !single && b.get(i + 1) == Some(&b'{') => {
                param += 1;
                i += 1;
            }
            b'}' if !single && param > 0 => param -= 1,
            b'{' if !single && !double && param == 0 => open.push(i),
            b',' | b'.'
                if !single
                    && !double
                    && param == 0
                    && !open.is_empty()
                    && (c == b',' || b.get(i + 1) == Some(&b'.')) =>
            {
                return true;
            }
            _ => {}
        }
        i += 1;
    }
    false
}

/// The words a brace expansion gives.
fn brace_words(pieces: &[brush_parser::word::BraceExpressionOrText]) -> Vec<String> {
    use brush_parser::word::{BraceExpressionMember as M, BraceExpressionOrText as P};
    let mut words = vec![String::new()];
    for piece in pieces {
        let alternatives: Vec<String> = match piece {
            P::Text(t) => vec![t.clone()],
            P::Expr(members) => members
                .iter()
                .flat_map(|m| match m {
                    M::NumberSequence {
                        start,
                        end,
                        increment,
                    } => {
                        let step = increment.unsigned_abs().max(1) as usize;
                        if start <= end {
                            (*start..=*end)
                                .step_by(step)
                                .map(|n| n.to_string())
                                .collect::<Vec<_>>()
                        } else {
                            (*end..=*start)
                                .rev()
                                .step_by(step)
                                .map(|n| n.to_string())
                                .collect()
                        }
                    }
                    M::CharSequence {
                        start,
                        end,
                        increment,
                    } => {
                        let step = increment.unsigned_abs().max(1) as usize;
                        let (a, b) = (*start as u32, *end as u32);
                        let range: Vec<u32> = if a <= b {
                            (a..=b).step_by(step).collect()
                        } else {
                            (b..=a).rev().step_by(step).collect()
                        };
                        range
                            .into_iter()
                            .filter_map(char::from_u32)
                            .map(String::from)
                            .collect()
                    }
                    M::Child(inner) => brace_words(inner),
                })
                .collect(),
        };
        words = words
            .iter()
            .flat_map(|w| alternatives.iter().map(move |a| format!("{w}{a}")))
            .collect();
    }
    words
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

/// Appends an expansion's result: quoted as it is, unquoted split on `ifs` (blanks
/// in it collapse; any other separator ends a field, empty ones included).
pub(super) fn push_split(fields: &mut Vec<Field>, text: &str, quoted: bool, ifs: &str) {
    if quoted || ifs.is_empty() {
        push_text(fields, text, true);
        return;
    }
    if ifs.chars().all(char::is_whitespace) && ifs.contains(' ') {
        push_text(fields, text, false);
        return;
    }
    let is_white = |c: char| ifs.contains(c) && c.is_whitespace();
    let is_sep = |c: char| ifs.contains(c) && !c.is_whitespace();
    let mut current: Option<String> = fields
        .last()
        .map(|f| f.text.clone())
        .filter(|t| !t.is_empty() || fields.last().is_some_and(|f| f.quoted));
    let mut started = current.is_some();
    let mut out: Vec<Field> = Vec::new();
    let mut buf = current.take().unwrap_or_default();
    let mut pending_white = false;
    for c in text.chars() {
        if is_sep(c) {
            out.push(Field {
                text: std::mem::take(&mut buf),
                quoted: true,
            });
            started = false;
            pending_white = false;
        } else if is_white(c) {
            if started || !buf.is_empty() {
                pending_white = true;
            }
        } else {
            if pending_white {
                out.push(Field {
                    text: std::mem::take(&mut buf),
                    quoted: true,
                });
                pending_white = false;
            }
            buf.push(c);
            started = true;
        }
    }
    // Replace the field the expansion began in with the fields it made.
    let last_quoted = fields.last().is_some_and(|f| f.quoted);
    fields.pop();
    fields.extend(out);
    fields.push(Field {
        text: buf,
        quoted: last_quoted && !started,
    });
    if pending_white {
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
