//! Unix conventions shared by the programs, the SFTP server and pct: the SIGPIPE exit
//! status, `ls -l` mode strings and times, calendar dates (UTC: the fake node has no
//! time zone), human-readable sizes and shell patterns (fnmatch).

/// The exit status of a process killed by SIGPIPE (128 + 13).
pub const SIGPIPE_STATUS: i32 = 128 + 13;

pub const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `-rw-r--r--` for a file's metadata (`d` for a directory; setuid, setgid and sticky
/// as `s`/`S` and `t`/`T`).
pub fn mode_string(meta: &crate::fs::Meta) -> String {
    let mut s = String::with_capacity(10);
    s.push(if meta.is_dir() { 'd' } else { '-' });
    let m = meta.mode;
    for (shift, special, special_char) in [(6, 0o4000, 's'), (3, 0o2000, 's'), (0, 0o1000, 't')] {
        let bits = (m >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        let exec = bits & 1 != 0;
        s.push(match (m & special != 0, exec) {
            (true, true) => special_char,
            (true, false) => special_char.to_ascii_uppercase(),
            (false, true) => 'x',
            (false, false) => '-',
        });
    }
    s
}

/// Year, month (1-12) and day of a day count since 1970-01-01 (proleptic Gregorian;
/// Howard Hinnant's civil-from-days).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month, day, hour, minute, second) in UTC.
pub fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        ((rem % 3600) / 60) as u32,
        (rem % 60) as u32,
    )
}

/// `strftime("%F %H:%M:%S")` in UTC: `2025-01-10 12:00:00`.
pub fn format_datetime(secs: u64) -> String {
    let (y, m, d, hh, mm, ss) = civil(secs);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}")
}

/// `Jan  1 00:00` (UTC): the recent form of the `ls -l` date column.
pub fn month_day_time(secs: u64) -> String {
    let (_, m, d, hh, mm, _) = civil(secs);
    format!("{} {:>2} {:02}:{:02}", MONTHS[(m - 1) as usize], d, hh, mm)
}

/// The date column of `ls -l` (UTC): `Jan  1 00:00` within six months of `now`,
/// `Jan  1  2020` otherwise.
pub fn ls_time(mtime: u64, now: u64) -> String {
    const SIX_MONTHS: i128 = 365 * 24 * 60 * 60 / 2;
    let secs = i64::try_from(mtime).unwrap_or(i64::MAX);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let tod = secs.rem_euclid(86_400);
    let mon = MONTHS[(month - 1) as usize];
    let (mtime, now) = (i128::from(mtime), i128::from(now));
    if now - SIX_MONTHS < mtime && mtime < now + SIX_MONTHS {
        format!("{mon} {day:>2} {:02}:{:02}", tod / 3600, tod % 3600 / 60)
    } else {
        format!("{mon} {day:>2}  {year}")
    }
}

/// A size as `ls -h`/`df -h` print it: `512`, `1.5K`, `20M`.
pub fn human(n: u64) -> String {
    const UNITS: [&str; 5] = ["", "K", "M", "G", "T"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        n.to_string()
    } else if v < 10.0 {
        format!("{:.1}{}", v, UNITS[u])
    } else {
        format!("{:.0}{}", v, UNITS[u])
    }
}

/// Shell pattern matching with `*`, `?` and `[…]` classes.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    glob_at(&p, &t)
}

fn glob_at(p: &[char], t: &[char]) -> bool {
    match p.first() {
        None => t.is_empty(),
        Some('*') => (0..=t.len()).any(|i| glob_at(&p[1..], &t[i..])),
        Some('?') => !t.is_empty() && glob_at(&p[1..], &t[1..]),
        Some('[') => {
            let Some(end) = p.iter().skip(1).position(|c| *c == ']').map(|i| i + 1) else {
                return !t.is_empty() && t[0] == '[' && glob_at(&p[1..], &t[1..]);
            };
            let Some(&c) = t.first() else { return false };
            let class = &p[1..end];
            let (negate, class) = match class.first() {
                Some('!') | Some('^') => (true, &class[1..]),
                _ => (false, class),
            };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == '-' {
                    hit |= class[i] <= c && c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == c;
                    i += 1;
                }
            }
            hit != negate && glob_at(&p[end + 1..], &t[1..])
        }
        Some('\\') if p.len() > 1 => !t.is_empty() && t[0] == p[1] && glob_at(&p[2..], &t[1..]),
        Some(c) => !t.is_empty() && t[0] == *c && glob_at(&p[1..], &t[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil(1_736_510_400), (2025, 1, 10, 12, 0, 0));
    }

    #[test]
    fn glob_matches_like_a_shell() {
        assert!(glob_match("*.log", "app.log"));
        assert!(!glob_match("*.log", "app.txt"));
        assert!(glob_match("a?c", "abc"));
        assert!(glob_match("[a-c]x", "bx"));
        assert!(!glob_match("[!a-c]x", "bx"));
        assert!(glob_match("systemctl restart *", "systemctl restart app"));
    }
}

/// A POSIX regular expression (basic, or extended with `extended`) in the syntax of
/// the regex crate: in a BRE `\( \) \{ \} \| \+ \?` are the operators and the bare
/// characters are literal; bracket expressions pass through (the crate knows
/// `[[:digit:]]` and friends). `Err` for what is not translated (back-references).
pub fn posix_regex(pattern: &str, extended: bool) -> Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let mut at_start = true;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '[' => {
                // Copy the bracket expression: `]` first is a member, `[:x:]` a class.
                out.push('[');
                let mut j = i;
                if chars.get(j) == Some(&'^') {
                    out.push('^');
                    j += 1;
                }
                if chars.get(j) == Some(&']') {
                    out.push_str("\\]");
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    if chars[j] == '[' && chars.get(j + 1) == Some(&':') {
                        let end = (j + 2..chars.len().saturating_sub(1))
                            .find(|&k| chars[k] == ':' && chars[k + 1] == ']')
                            .ok_or("an unfinished character class")?;
                        out.extend(&chars[j..end + 2]);
                        j = end + 2;
                        continue;
                    }
                    if chars[j] == '\\' || chars[j] == '[' {
                        out.push('\\');
                    }
                    out.push(chars[j]);
                    j += 1;
                }
                if j >= chars.len() {
                    return Err("an unmatched [".into());
                }
                out.push(']');
                i = j + 1;
                at_start = false;
                continue;
            }
            '\\' => {
                let Some(&n) = chars.get(i) else {
                    return Err("a trailing backslash".into());
                };
                i += 1;
                match n {
                    '(' | ')' | '{' | '}' | '|' | '+' | '?' if !extended => out.push(n),
                    '1'..='9' => return Err("back-references".into()),
                    'n' => out.push_str("\\n"),
                    't' => out.push_str("\\t"),
                    'w' | 'W' | 's' | 'S' | 'b' | 'B' => {
                        out.push('\\');
                        out.push(n);
                    }
                    '<' | '>' => return Err("word boundaries \\< \\>".into()),
                    other => out.push_str(&regex_lite::escape(&other.to_string())),
                }
            }
            '(' | ')' | '{' | '}' | '|' | '+' | '?' if !extended => {
                out.push('\\');
                out.push(c);
            }
            '*' if at_start || out.ends_with('(') || out.ends_with('|') => out.push_str("\\*"),
            '{' if extended && !chars.get(i).is_some_and(char::is_ascii_digit) => {
                out.push_str("\\{")
            }
            '}' if extended && !out.contains('{') => out.push_str("\\}"),
            other => out.push(other),
        }
        at_start = c == '^' && at_start;
    }
    Ok(out)
}

#[cfg(test)]
mod regex_tests {
    use super::posix_regex;

    #[test]
    fn basic_and_extended() {
        assert_eq!(posix_regex("x(y", false).unwrap(), "x\\(y");
        assert_eq!(posix_regex("\\(a\\)\\{2\\}", false).unwrap(), "(a){2}");
        assert_eq!(posix_regex("a+b", false).unwrap(), "a\\+b");
        assert_eq!(posix_regex("a+b", true).unwrap(), "a+b");
        assert_eq!(posix_regex("[]a]", false).unwrap(), "[\\]a]");
        assert_eq!(posix_regex("[[:digit:]]x", true).unwrap(), "[[:digit:]]x");
        assert!(posix_regex("\\(a\\)\\1", false).is_err());
    }
}

/// A file name as coreutils shows it in a message: as it is when it needs no shell
/// quoting, else in single quotes (so the empty name is `''`).
pub fn quote_name(name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./,:+@%=-^".contains(c));
    if plain {
        name.to_string()
    } else {
        format!("'{}'", name.replace('\'', "'\\''"))
    }
}

/// `text` with each `marker` and the character after it replaced by what `directive`
/// appends for that character; a `marker` that ends the text stays as it is. An `Err`
/// from `directive` stops there (a directive the caller does not know).
pub fn expand_directives<E>(
    text: &str,
    marker: char,
    mut directive: impl FnMut(&mut String, char) -> Result<(), E>,
) -> Result<String, E> {
    let mut s = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != marker {
            s.push(c);
            continue;
        }
        match chars.next() {
            Some(d) => directive(&mut s, d)?,
            None => s.push(marker),
        }
    }
    Ok(s)
}

/// Who reads backslash escapes, each a little differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escapes {
    /// `printf`'s format: `\NNN` (one to three octal digits), `\xHH`, `\e`, quotes.
    Printf,
    /// bash's `echo -e` and printf's `%b`: `\0NNN` or `\NNN`, `\xHH`, `\e`, quotes.
    BashEcho,
    /// dash's `echo`: `\0NNN` only, no `\x` or `\e`, and `\c` ends the output.
    DashEcho,
}

/// `s` with its backslash escapes read as `style` does, as raw bytes, and whether a
/// `\c` ended it there. An escape a reader does not know stays as it was.
pub fn unescape(s: &str, style: Escapes) -> (Vec<u8>, bool) {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let bash = style != Escapes::DashEcho;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 >= b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let c = b[i + 1];
        i += 2;
        let octal = |first: u32, max: usize, i: &mut usize| {
            let (mut v, mut n) = (first, 0);
            while n < max && *i < b.len() && (b'0'..=b'7').contains(&b[*i]) {
                v = v * 8 + u32::from(b[*i] - b'0');
                *i += 1;
                n += 1;
            }
            v as u8
        };
        match c {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'v' => out.push(11),
            b'\\' => out.push(b'\\'),
            b'c' if style == Escapes::DashEcho => return (out, true),
            b'e' if bash => out.push(27),
            b'"' | b'\'' if bash => out.push(c),
            b'x' if bash => {
                let (mut v, mut n) = (0u32, 0);
                while n < 2 && i < b.len() && b[i].is_ascii_hexdigit() {
                    v = v * 16 + (b[i] as char).to_digit(16).unwrap_or(0);
                    i += 1;
                    n += 1;
                }
                if n == 0 {
                    out.extend_from_slice(b"\\x");
                } else {
                    out.push(v as u8);
                }
            }
            b'0' if style != Escapes::Printf => out.push(octal(0, 3, &mut i)),
            b'0'..=b'7' if bash => out.push(octal(u32::from(c - b'0'), 2, &mut i)),
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    (out, false)
}

/// The string and file tests `test`/`[` and `[[ ]]` share, on `v` and its `stat`
/// (`None` when it does not exist); `None` for a test this does not answer.
pub fn common_unary_test(
    op: &brush_parser::ast::UnaryPredicate,
    v: &str,
    meta: Option<&crate::fs::Meta>,
) -> Option<bool> {
    use brush_parser::ast::UnaryPredicate as U;
    let has = |f: &dyn Fn(&crate::fs::Meta) -> bool| meta.is_some_and(f);
    Some(match op {
        U::StringHasZeroLength => v.is_empty(),
        U::StringHasNonZeroLength => !v.is_empty(),
        U::FileExists => meta.is_some(),
        U::FileExistsAndIsDir => has(&|m| m.is_dir()),
        U::FileExistsAndIsRegularFile => has(&|m| m.kind == crate::fs::Kind::File),
        U::FileExistsAndIsNotZeroLength => has(&|m| m.size > 0),
        U::FileExistsAndIsReadable | U::FileExistsAndIsWritable => meta.is_some(),
        U::FileExistsAndIsExecutable => has(&|m| m.mode & 0o111 != 0),
        _ => return None,
    })
}
