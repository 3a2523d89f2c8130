//! Word expansion: quote removal, parameters (`${v:-x}`, `${v%pat}`, …), command
//! substitution, field splitting.

use brush_parser::word::{Parameter, ParameterExpr, SpecialParameter, WordPiece};

use super::{BoxFut, Dialect, Field, Flow, Shell};
use crate::io::{Io, Output};

/// An expansion that did not give a value: the command's status, or the end of the
/// shell (`set -u`, a refusal).
pub(super) type Expanded<T> = Result<T, Flow>;

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
                    // Nor is `"${a[@]}"` of an array without elements.
                    let lone_empty_array = match inner.as_slice() {
                        [only] => match &only.piece {
                            WordPiece::ParameterExpansion(expr) => {
                                self.array_fields(expr).is_some_and(|v| v.is_empty())
                            }
                            _ => false,
                        },
                        _ => false,
                    };
                    let no_field = (lone_at && self.positional.len() <= 1) || lone_empty_array;
                    if !no_field {
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
                    // `${a[@]}`, `${!a[@]}`: one field per element, each split on its
                    // own unless quoted.
                    if let Some(values) = self.array_fields(&expr) {
                        self.push_elements(fields, &values, quoted);
                    } else {
                        let value = self.expand_parameter(&expr, io).await?;
                        let ifs = self.ifs();
                        push_split(fields, &value, quoted, &ifs);
                    }
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
                            let mut sub = self.fork();
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
    /// The fields of bash's `${a[@]}` (the values) or `${!a[@]}` (the indices); a
    /// scalar is an array of one, an unset name of none.
    fn array_fields(&self, expr: &ParameterExpr) -> Option<Vec<String>> {
        if self.dialect != Dialect::Bash {
            return None;
        }
        match expr {
            ParameterExpr::Parameter {
                parameter:
                    Parameter::NamedWithAllIndices {
                        name,
                        concatenate: false,
                    },
                indirect: false,
            } => Some(self.elements(name).into_iter().map(|(_, v)| v).collect()),
            ParameterExpr::MemberKeys {
                variable_name,
                concatenate: false,
            } => Some(
                self.elements(variable_name)
                    .into_iter()
                    .map(|(k, _)| k.to_string())
                    .collect(),
            ),
            _ => None,
        }
    }

    /// Appends the elements of `${a[@]}` as fields of their own: quoted as they are,
    /// unquoted each split on IFS.
    fn push_elements(&self, fields: &mut Vec<Field>, values: &[String], quoted: bool) {
        let ifs = self.ifs();
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                fields.push(Field {
                    text: String::new(),
                    quoted,
                });
            }
            push_split(fields, v, quoted, &ifs);
        }
    }

    pub(super) fn ifs(&self) -> String {
        self.vars
            .get("IFS")
            .cloned()
            .unwrap_or_else(|| " \t\n".into())
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
    let Ok(out) = crate::unix::expand_directives(s, '\\', |out, c| {
        match c {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            '0' => out.push('\0'),
            '\\' => out.push('\\'),
            '\'' => out.push('\''),
            '"' => out.push('"'),
            'e' => out.push('\x1b'),
            other => {
                out.push('\\');
                out.push(other);
            }
        }
        Ok::<(), std::convert::Infallible>(())
    });
    out
}
