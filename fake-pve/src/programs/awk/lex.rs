//! The tokens of an awk program, as mawk reads them.

use super::re::escape_char;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Num(f64, String),
    Str(String),
    Ere(String),
    Name(String),
    /// A name directly followed by `(`: a call.
    Func(String),
    Kw(&'static str),
    Op(&'static str),
    Newline,
    Eof,
}

#[derive(Debug, Clone)]
pub(super) struct Token {
    pub tok: Tok,
    pub line: usize,
    /// Parentheses open before it.
    pub parens: usize,
}

/// Why a program does not compile: mawk's message (without `awk: `), or what the
/// fake does not emulate.
#[derive(Debug)]
pub(super) enum CompileError {
    /// mawk's message, `line N: …`.
    Message(String),
    Refuse(String),
}

const KEYWORDS: &[&str] = &[
    "BEGIN", "END", "function", "func", "if", "else", "while", "for", "do", "break", "continue",
    "next", "nextfile", "exit", "return", "delete", "getline", "print", "printf", "in",
];

const OPS: &[&str] = &[
    "**=", "&&", "||", "==", "!=", "<=", ">=", "!~", "++", "--", "+=", "-=", "*=", "/=", "%=",
    "^=", ">>", "**", "{", "}", "(", ")", "[", "]", ";", ",", "+", "-", "*", "/", "%", "^", "!",
    ">", "<", "|", "?", ":", "~", "$", "=",
];

pub(super) fn tokens(src: &str) -> Result<Vec<Token>, CompileError> {
    let c: Vec<char> = src.chars().collect();
    let mut out: Vec<Token> = Vec::new();
    let mut i = 0;
    let mut line = 1;
    let mut parens = 0usize;
    let mut braces = 0usize;
    let msg = |line: usize, m: String| CompileError::Message(format!("line {line}: {m}"));
    while let Some(&ch) = c.get(i) {
        let out_line = line;
        let push = |out: &mut Vec<Token>, tok: Tok, parens: usize| {
            let line = out_line;
            out.push(Token { tok, line, parens })
        };
        match ch {
            ' ' | '\t' | '\r' => i += 1,
            '\\' if c.get(i + 1) == Some(&'\n') => {
                i += 2;
                line += 1;
            }
            '\\' if c.get(i + 1) == Some(&'\r') && c.get(i + 2) == Some(&'\n') => {
                i += 3;
                line += 1;
            }
            '#' => {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
            }
            '\n' => {
                push(&mut out, Tok::Newline, parens);
                line += 1;
                i += 1;
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match c.get(i) {
                        None | Some('\n') => {
                            let head: String = s.chars().take(10).collect();
                            return Err(msg(line, format!("runaway string constant \"{head} ...")));
                        }
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            if c.get(i + 1) == Some(&'\n') {
                                i += 2;
                                line += 1;
                                continue;
                            }
                            if c.get(i + 1) == Some(&'/') {
                                s.push_str("\\/");
                                i += 2;
                                continue;
                            }
                            if let Some((e, used)) = escape_char(&c, i + 1) {
                                s.push(e);
                                i += 1 + used;
                            } else if c.get(i + 1) == Some(&'x') {
                                let mut v = 0u32;
                                let mut n = 0;
                                while n < 2 && c.get(i + 2 + n).is_some_and(char::is_ascii_hexdigit)
                                {
                                    v = v * 16 + c[i + 2 + n].to_digit(16).unwrap_or(0);
                                    n += 1;
                                }
                                if n == 0 {
                                    s.push_str("\\x");
                                } else {
                                    s.push(char::from(v as u8));
                                }
                                i += 2 + n;
                            } else {
                                s.push('\\');
                                i += 1;
                            }
                        }
                        Some(&o) => {
                            s.push(o);
                            i += 1;
                        }
                    }
                }
                push(&mut out, Tok::Str(s), parens);
            }
            '/' if regex_allowed(out.last().map(|t| &t.tok)) => {
                let mut s = String::new();
                i += 1;
                loop {
                    match c.get(i) {
                        None | Some('\n') => {
                            let head: String = s.chars().take(10).collect();
                            return Err(msg(
                                line,
                                format!("runaway regular expression /{head} ..."),
                            ));
                        }
                        Some('/') => {
                            i += 1;
                            break;
                        }
                        Some('\\') if c.get(i + 1) == Some(&'/') => {
                            s.push('/');
                            i += 2;
                        }
                        Some('\\') if c.get(i + 1).is_some() => {
                            s.push('\\');
                            s.push(c[i + 1]);
                            i += 2;
                        }
                        Some(&o) => {
                            s.push(o);
                            i += 1;
                        }
                    }
                }
                push(&mut out, Tok::Ere(s), parens);
            }
            d if d.is_ascii_digit()
                || (d == '.' && c.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                let start = i;
                while c.get(i).is_some_and(char::is_ascii_digit) {
                    i += 1;
                }
                if c.get(i) == Some(&'.') {
                    i += 1;
                    while c.get(i).is_some_and(char::is_ascii_digit) {
                        i += 1;
                    }
                }
                if matches!(c.get(i), Some('e' | 'E')) {
                    let mut k = i + 1;
                    if matches!(c.get(k), Some('+' | '-')) {
                        k += 1;
                    }
                    if c.get(k).is_some_and(char::is_ascii_digit) {
                        while c.get(k).is_some_and(char::is_ascii_digit) {
                            k += 1;
                        }
                        i = k;
                    }
                }
                let text: String = c[start..i].iter().collect();
                let v: f64 = text.parse().unwrap_or(0.0);
                let nonzero = text
                    .chars()
                    .take_while(|x| !matches!(x, 'e' | 'E'))
                    .any(|x| matches!(x, '1'..='9'));
                if v.is_infinite() || (nonzero && (v == 0.0 || v.is_subnormal())) {
                    return Err(msg(line, format!("{text} : decimal overflow")));
                }
                push(&mut out, Tok::Num(v, text), parens);
            }
            a if a.is_ascii_alphabetic() || a == '_' => {
                let start = i;
                while c
                    .get(i)
                    .is_some_and(|x| x.is_ascii_alphanumeric() || *x == '_')
                {
                    i += 1;
                }
                let name: String = c[start..i].iter().collect();
                let tok = if let Some(k) = KEYWORDS.iter().find(|k| **k == name) {
                    Tok::Kw(k)
                } else if c.get(i) == Some(&'(') {
                    Tok::Func(name)
                } else {
                    Tok::Name(name)
                };
                push(&mut out, tok, parens);
            }
            _ => {
                let rest: String = c[i..c.len().min(i + 3)].iter().collect();
                let Some(op) = OPS.iter().find(|o| rest.starts_with(**o)) else {
                    return Err(CompileError::Refuse(format!(
                        "the character {ch:?} in an awk program"
                    )));
                };
                i += op.chars().count();
                match *op {
                    "(" => parens += 1,
                    ")" => {
                        if parens == 0 {
                            return Err(msg(line, "extra ')'".into()));
                        }
                        parens -= 1;
                    }
                    "{" => braces += 1,
                    "}" => {
                        if braces == 0 {
                            return Err(CompileError::Refuse(
                                "an extra } in an awk program".into(),
                            ));
                        }
                        braces -= 1;
                    }
                    _ => {}
                }
                let p = if *op == "(" { parens - 1 } else { parens };
                push(&mut out, Tok::Op(op), p);
            }
        }
    }
    // mawk reads a newline at the end of the program, then the end of file.
    out.push(Token {
        tok: Tok::Newline,
        line,
        parens,
    });
    out.push(Token {
        tok: Tok::Eof,
        line: line + 1,
        parens,
    });
    Ok(out)
}

/// Whether a `/` after `prev` starts a regex (rather than dividing).
fn regex_allowed(prev: Option<&Tok>) -> bool {
    !matches!(
        prev,
        Some(
            Tok::Num(..)
                | Tok::Str(_)
                | Tok::Name(_)
                | Tok::Ere(_)
                | Tok::Op(")" | "]" | "$" | "++" | "--")
        )
    )
}

/// The text mawk shows for a token in "syntax error at or near", when known.
pub(super) fn shown(tok: &Tok) -> Option<String> {
    Some(match tok {
        Tok::Num(_, text) => text.clone(),
        Tok::Str(s) => s.clone(),
        Tok::Ere(s) => format!("/{s}/"),
        Tok::Name(n) if n == "length" => return None,
        Tok::Name(n) | Tok::Func(n) => n.clone(),
        Tok::Kw("BEGIN" | "END") => return None,
        Tok::Kw(k) => (*k).to_string(),
        Tok::Op("~" | ">>" | "**" | "**=" | "/=") => return None,
        Tok::Op(o) => (*o).to_string(),
        Tok::Newline => "end of line".into(),
        Tok::Eof => "end of file".into(),
    })
}
