//! mawk's regular expressions (POSIX ERE, with `{` literal and `.` matching a
//! newline) over [`super::format::latin1`] strings, with POSIX's leftmost-longest
//! match where the pattern could make it differ from the first match.

use regex_lite::Regex;

/// One compiled awk regex.
#[derive(Debug)]
pub(super) struct AwkRe {
    re: Regex,
    /// The translated pattern, `^`/`$` written as markers, for the exact variants.
    parts: Vec<Part>,
    /// Whether leftmost-first may differ from leftmost-longest (alternation, groups).
    ambiguous: bool,
    /// `\A(?:re)\z` with `^` and `$` able to match or not, built when first needed.
    exact: [std::sync::OnceLock<Option<Regex>>; 4],
}

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Caret,
    Dollar,
}

fn assemble(parts: &[Part], caret: &str, dollar: &str) -> String {
    let mut s = String::new();
    for p in parts {
        match p {
            Part::Text(t) => s.push_str(t),
            Part::Caret => s.push_str(caret),
            Part::Dollar => s.push_str(dollar),
        }
    }
    s
}

/// Never matches.
const NEVER: &str = r"(?:\z.)";

fn lit(c: char) -> String {
    if c.is_ascii_alphanumeric() || c == ' ' {
        c.to_string()
    } else {
        format!("\\x{{{:x}}}", c as u32)
    }
}

/// An escape `\c` of mawk's (in a regex or a string): the char it stands for and
/// how many chars after the backslash it used; `None` for one this does not know.
pub(super) fn escape_char(chars: &[char], i: usize) -> Option<(char, usize)> {
    let c = *chars.get(i)?;
    let simple = match c {
        'n' => Some('\n'),
        't' => Some('\t'),
        'r' => Some('\r'),
        'a' => Some('\x07'),
        'b' => Some('\x08'),
        'f' => Some('\x0c'),
        'v' => Some('\x0b'),
        '\\' => Some('\\'),
        '"' => Some('"'),
        '/' => Some('/'),
        _ => None,
    };
    if let Some(s) = simple {
        return Some((s, 1));
    }
    if ('0'..='7').contains(&c) {
        let mut v = 0u32;
        let mut n = 0;
        while n < 3 && chars.get(i + n).is_some_and(|d| ('0'..='7').contains(d)) {
            v = v * 8 + chars[i + n].to_digit(8).unwrap_or(0);
            n += 1;
        }
        return Some((char::from((v & 0xff) as u8), n));
    }
    None
}

impl AwkRe {
    /// Compiles mawk's regex `src`; `Err` names what is not emulated.
    pub(super) fn new(src: &str) -> Result<AwkRe, String> {
        let chars: Vec<char> = src.chars().collect();
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut ambiguous = false;
        let mut i = 0;
        // Whether an operand precedes (so that `*` is an operator).
        let mut operand = false;
        let flush = |text: &mut String, parts: &mut Vec<Part>| {
            if !text.is_empty() {
                parts.push(Part::Text(std::mem::take(text)));
            }
        };
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            match c {
                '\\' => {
                    let Some(&n) = chars.get(i) else {
                        return Err("a trailing backslash in an awk regex".into());
                    };
                    if let Some((ch, used)) = escape_char(&chars, i) {
                        text.push_str(&lit(ch));
                        i += used;
                    } else if n.is_ascii_alphanumeric() {
                        return Err(format!("the awk regex escape \\{n}"));
                    } else {
                        text.push_str(&lit(n));
                        i += 1;
                    }
                    operand = true;
                }
                '[' => {
                    let mut j = i;
                    let mut class = String::from("[");
                    if chars.get(j) == Some(&'^') {
                        class.push('^');
                        j += 1;
                    }
                    let mut first = true;
                    loop {
                        let Some(&m) = chars.get(j) else {
                            return Err("an unterminated awk bracket expression".into());
                        };
                        if m == ']' && !first {
                            j += 1;
                            break;
                        }
                        first = false;
                        if m == '[' && chars.get(j + 1) == Some(&':') {
                            let end = (j + 2..chars.len().saturating_sub(1))
                                .find(|&k| chars[k] == ':' && chars[k + 1] == ']')
                                .ok_or("an unfinished character class")?;
                            let name: String = chars[j + 2..end].iter().collect();
                            if ![
                                "alpha", "digit", "alnum", "upper", "lower", "space", "blank",
                                "punct", "print", "graph", "cntrl", "xdigit",
                            ]
                            .contains(&name.as_str())
                            {
                                return Err(format!("the awk regex class [:{name}:]"));
                            }
                            class.push_str(&format!("[:{name}:]"));
                            j = end + 2;
                            continue;
                        }
                        if m == '[' && matches!(chars.get(j + 1), Some('.' | '=')) {
                            return Err("awk regex collating elements".into());
                        }
                        let (ch, used) = if m == '\\' {
                            match escape_char(&chars, j + 1) {
                                Some((ch, used)) => (ch, used + 1),
                                None => match chars.get(j + 1) {
                                    Some(n) if !n.is_ascii_alphanumeric() => (*n, 2),
                                    _ => {
                                        return Err(
                                            "this escape in an awk bracket expression".into()
                                        );
                                    }
                                },
                            }
                        } else {
                            (m, 1)
                        };
                        j += used;
                        if ch == '-'
                            && used == 1
                            && !class.ends_with('[')
                            && !class.ends_with('^')
                            && chars.get(j) != Some(&']')
                        {
                            class.push('-');
                        } else {
                            class.push_str(&lit(ch));
                        }
                    }
                    class.push(']');
                    text.push_str(&class);
                    i = j;
                    operand = true;
                }
                '^' => {
                    flush(&mut text, &mut parts);
                    parts.push(Part::Caret);
                    operand = false;
                }
                '$' => {
                    flush(&mut text, &mut parts);
                    parts.push(Part::Dollar);
                    operand = false;
                }
                '.' => {
                    text.push('.');
                    operand = true;
                }
                '(' => {
                    ambiguous = true;
                    if chars.get(i) == Some(&')') {
                        return Err("an empty group in an awk regex".into());
                    }
                    text.push_str("(?:");
                    operand = false;
                }
                ')' => {
                    text.push(')');
                    operand = true;
                }
                '|' => {
                    ambiguous = true;
                    text.push('|');
                    operand = false;
                }
                '*' | '+' | '?' => {
                    if !operand {
                        return Err(format!("a leading {c} in an awk regex"));
                    }
                    if matches!(chars.get(i), Some('*' | '+' | '?')) {
                        return Err("repeated awk regex operators".into());
                    }
                    text.push(c);
                }
                other => {
                    text.push_str(&lit(other));
                    operand = true;
                }
            }
        }
        flush(&mut text, &mut parts);
        let main = assemble(&parts, "^", "$");
        let re =
            Regex::new(&format!("(?s){main}")).map_err(|_| format!("the awk regex /{src}/"))?;
        Ok(AwkRe {
            re,
            parts,
            ambiguous,
            exact: Default::default(),
        })
    }

    pub(super) fn is_match(&self, s: &str) -> bool {
        self.re.is_match(s)
    }

    /// The leftmost-longest match at or after byte offset `from`: (start, end) in
    /// bytes of `s`.
    pub(super) fn find_at(&self, s: &str, from: usize) -> Option<(usize, usize)> {
        let m = self.re.find_at(s, from)?;
        if !self.ambiguous {
            return Some((m.start(), m.end()));
        }
        let start = m.start();
        let mut best = m.end();
        // Try each longer end, longest first.
        let ends: Vec<usize> = s[start..]
            .char_indices()
            .map(|(k, c)| start + k + c.len_utf8())
            .filter(|&e| e > best)
            .collect();
        for &end in ends.iter().rev() {
            let k = usize::from(start == 0) * 2 + usize::from(end == s.len());
            let Some(re) = self.exact[k].get_or_init(|| {
                let caret = if k & 2 != 0 { "^" } else { NEVER };
                let dollar = if k & 1 != 0 { "$" } else { NEVER };
                let exact = format!("(?s)\\A(?:{})\\z", assemble(&self.parts, caret, dollar));
                Regex::new(&exact).ok()
            }) else {
                break;
            };
            if re.is_match(&s[start..end]) {
                best = end;
                break;
            }
        }
        Some((start, best))
    }
}

#[cfg(test)]
mod tests {
    use super::AwkRe;

    #[test]
    fn mawk_regex() {
        let r = AwkRe::new("a{2}").unwrap();
        assert!(r.is_match("xa{2}"));
        assert!(!r.is_match("aa"));
        let r = AwkRe::new("a|ab").unwrap();
        assert_eq!(r.find_at("xab", 0), Some((1, 3)));
        let r = AwkRe::new("[[:digit:]]+").unwrap();
        assert_eq!(r.find_at("ab123c", 0), Some((2, 5)));
        let r = AwkRe::new("^a").unwrap();
        assert_eq!(r.find_at("aa", 1), None);
    }
}
