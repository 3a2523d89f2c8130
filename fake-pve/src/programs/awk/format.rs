//! Numbers as mawk writes and reads them: C's `printf` conversions, the `%.6g`
//! of print and concatenation, and `strtod` (with hexadecimal, `inf` and `nan`).

/// A string of mawk's: one char per byte (U+0000–U+00FF).
pub(super) fn latin1(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}

/// The bytes of a [`latin1`] string.
pub(super) fn bytes(s: &str) -> Vec<u8> {
    s.chars().map(|c| c as u32 as u8).collect()
}

/// mawk's `d_to_I`: a double clamped to ±2147483647 (NaN gives the low end).
pub(super) fn d_to_int(d: f64) -> i64 {
    const MAX: f64 = 2_147_483_647.0;
    if d >= MAX {
        2_147_483_647
    } else if d > -MAX {
        d as i64
    } else {
        -2_147_483_647
    }
}

/// A number as print and concatenation write it: whole numbers within ±2147483647
/// as integers, others with `fmt` (CONVFMT or OFMT).
pub(super) fn num_to_str(d: f64, fmt: &str) -> Result<String, String> {
    if d.fract() == 0.0 && d.abs() <= 2_147_483_647.0 {
        return Ok(format!("{}", d as i64));
    }
    let mut out = String::new();
    let args = [Arg::Num(d)];
    match sprintf(fmt, &args, &mut out) {
        Ok(()) => Ok(out),
        Err(FmtError::Unsupported(what)) => Err(what),
        Err(FmtError::TooFew) => Err(format!("CONVFMT/OFMT {fmt:?}")),
    }
}

/// An argument of printf: a number or a string (already converted by the caller
/// where awk would).
pub(super) enum Arg {
    Num(f64),
    /// A string and its numeric value.
    Str(String, f64),
}

pub(super) enum FmtError {
    /// Fewer arguments than conversions: what was written so far is in `out`.
    TooFew,
    /// A conversion this does not emulate.
    Unsupported(String),
}

#[derive(Default, Clone, Copy)]
struct Spec {
    left: bool,
    plus: bool,
    space: bool,
    zero: bool,
    alt: bool,
    width: usize,
    prec: Option<usize>,
}

/// C's printf over `args`, appending to `out`.
pub(super) fn sprintf(fmt: &str, args: &[Arg], out: &mut String) -> Result<(), FmtError> {
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    let mut next = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.get(i) == Some(&'%') {
            out.push('%');
            i += 1;
            continue;
        }
        let mut s = Spec::default();
        while let Some(&f) = chars.get(i) {
            match f {
                '-' => s.left = true,
                '+' => s.plus = true,
                ' ' => s.space = true,
                '0' => s.zero = true,
                '#' => s.alt = true,
                _ => break,
            }
            i += 1;
        }
        if chars.get(i) == Some(&'*') {
            return Err(FmtError::Unsupported("awk printf's * width".into()));
        }
        while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
            s.width = s.width * 10 + d as usize;
            i += 1;
        }
        if chars.get(i) == Some(&'.') {
            i += 1;
            if chars.get(i) == Some(&'*') {
                return Err(FmtError::Unsupported("awk printf's .* precision".into()));
            }
            let mut p = 0;
            while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
                p = p * 10 + d as usize;
                i += 1;
            }
            s.prec = Some(p);
        }
        if chars.get(i) == Some(&'l') {
            i += 1;
        }
        let Some(&conv) = chars.get(i) else {
            return Err(FmtError::Unsupported(format!(
                "the awk printf format {fmt:?}"
            )));
        };
        i += 1;
        if !"diouxXcseEfFgG".contains(conv) {
            return Err(FmtError::Unsupported(format!(
                "the awk printf conversion %{conv}"
            )));
        }
        let Some(arg) = args.get(next) else {
            return Err(FmtError::TooFew);
        };
        next += 1;
        let num = match arg {
            Arg::Num(d) => *d,
            Arg::Str(_, d) => *d,
        };
        let body = match conv {
            'd' | 'i' => int_conv(&s, d_to_int(num), 'd'),
            'o' | 'u' | 'x' | 'X' => {
                if num.is_nan() {
                    return Err(FmtError::Unsupported("awk printf %u/%o/%x of nan".into()));
                }
                let u = if num >= 4_294_967_295.0 {
                    4_294_967_295
                } else if num > 0.0 {
                    num as i64
                } else {
                    0
                };
                int_conv(&s, u, conv)
            }
            'c' => {
                let ch = match arg {
                    Arg::Num(d) => char::from((d_to_int(*d) & 0xff) as u8),
                    Arg::Str(t, _) => t.chars().next().unwrap_or('\0'),
                };
                pad(&s, String::new(), ch.to_string(), false)
            }
            's' => {
                let text = match arg {
                    Arg::Num(d) => num_to_str(*d, "%.6g").map_err(FmtError::Unsupported)?,
                    Arg::Str(t, _) => t.clone(),
                };
                let text = match s.prec {
                    Some(p) => text.chars().take(p).collect(),
                    None => text,
                };
                pad(&s, String::new(), text, false)
            }
            _ => float_conv(&s, num, conv),
        };
        out.push_str(&body);
    }
    Ok(())
}

/// Pads `sign`+`digits` to the width: left, with zeros after the sign, or right.
fn pad(s: &Spec, sign: String, digits: String, zero_ok: bool) -> String {
    let len = sign.chars().count() + digits.chars().count();
    if len >= s.width {
        return sign + &digits;
    }
    let fill = s.width - len;
    if s.left {
        format!("{sign}{digits}{}", " ".repeat(fill))
    } else if s.zero && zero_ok {
        format!("{sign}{}{digits}", "0".repeat(fill))
    } else {
        format!("{}{sign}{digits}", " ".repeat(fill))
    }
}

fn int_conv(s: &Spec, v: i64, conv: char) -> String {
    let neg = v < 0;
    let mag = v.unsigned_abs();
    let mut digits = match conv {
        'o' => format!("{mag:o}"),
        'x' => format!("{mag:x}"),
        'X' => format!("{mag:X}"),
        _ => format!("{mag}"),
    };
    if let Some(p) = s.prec {
        if p == 0 && mag == 0 {
            digits.clear();
        }
        while digits.len() < p {
            digits.insert(0, '0');
        }
    }
    let mut sign = String::new();
    if conv == 'd' {
        if neg {
            sign.push('-');
        } else if s.plus {
            sign.push('+');
        } else if s.space {
            sign.push(' ');
        }
    }
    if s.alt {
        match conv {
            'o' if !digits.starts_with('0') => digits.insert(0, '0'),
            'x' if mag != 0 => sign.push_str("0x"),
            'X' if mag != 0 => sign.push_str("0X"),
            _ => {}
        }
    }
    pad(s, sign, digits, s.prec.is_none())
}

/// `%e` of a finite non-negative `d` with `prec` digits: (mantissa, exponent).
fn e_parts(d: f64, prec: usize) -> (String, i32) {
    let t = format!("{d:.prec$e}");
    let (m, e) = t.split_once('e').unwrap_or((&t, "0"));
    (m.to_string(), e.parse().unwrap_or(0))
}

fn e_string(mant: &str, exp: i32, upper: bool) -> String {
    let e = if upper { 'E' } else { 'e' };
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mant}{e}{sign}{:02}", exp.unsigned_abs())
}

fn float_conv(s: &Spec, d: f64, conv: char) -> String {
    let upper = conv.is_ascii_uppercase();
    let neg = d.is_sign_negative();
    let sign = if neg {
        "-"
    } else if s.plus {
        "+"
    } else if s.space {
        " "
    } else {
        ""
    }
    .to_string();
    if !d.is_finite() {
        let t = if d.is_nan() { "nan" } else { "inf" };
        let t = if upper { t.to_uppercase() } else { t.into() };
        return pad(s, sign, t, false);
    }
    let a = d.abs();
    let prec = s.prec.unwrap_or(6);
    let body = match conv.to_ascii_lowercase() {
        'f' => {
            let mut t = format!("{a:.prec$}");
            if s.alt && prec == 0 {
                t.push('.');
            }
            t
        }
        'e' => {
            let (mut m, e) = e_parts(a, prec);
            if s.alt && prec == 0 {
                m.push('.');
            }
            e_string(&m, e, upper)
        }
        _ => {
            let p = if prec == 0 { 1 } else { prec };
            let x = if a == 0.0 { 0 } else { e_parts(a, p - 1).1 };
            let strip = |t: String| -> String {
                if s.alt || !t.contains('.') {
                    return t;
                }
                t.trim_end_matches('0').trim_end_matches('.').to_string()
            };
            if x < p as i32 && x >= -4 {
                let fp = (p as i32 - 1 - x) as usize;
                let mut t = strip(format!("{a:.fp$}"));
                if s.alt && !t.contains('.') {
                    t.push('.');
                }
                t
            } else {
                let (m, e) = e_parts(a, p - 1);
                let mut m = strip(m);
                if s.alt && !m.contains('.') {
                    m.push('.');
                }
                e_string(&m, e, upper)
            }
        }
    };
    pad(s, sign, body, true)
}

/// C's `strtod` on `s`: the value and how many chars it read (0: none).
pub(super) fn strtod(s: &str) -> (f64, usize, bool) {
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < b.len() && matches!(b[i], ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c') {
        i += 1;
    }
    let start = i;
    let mut neg = false;
    if i < b.len() && (b[i] == '+' || b[i] == '-') {
        neg = b[i] == '-';
        i += 1;
    }
    let sign = |v: f64| if neg { -v } else { v };
    let rest: String = b[i..]
        .iter()
        .take(8)
        .collect::<String>()
        .to_ascii_lowercase();
    if rest.starts_with("inf") {
        let n = if rest.starts_with("infinity") { 8 } else { 3 };
        return (sign(f64::INFINITY), i + n, false);
    }
    if rest.starts_with("nan") {
        let mut j = i + 3;
        if b.get(j) == Some(&'(') {
            let mut k = j + 1;
            while k < b.len() && (b[k].is_ascii_alphanumeric() || b[k] == '_') {
                k += 1;
            }
            if b.get(k) == Some(&')') {
                j = k + 1;
            }
        }
        let nan = if neg { -f64::NAN.abs() } else { f64::NAN.abs() };
        return (nan, j, false);
    }
    if rest.starts_with("0x")
        && (b.get(i + 2).is_some_and(char::is_ascii_hexdigit)
            || (b.get(i + 2) == Some(&'.') && b.get(i + 3).is_some_and(char::is_ascii_hexdigit)))
    {
        let mut j = i + 2;
        let mut mant: f64 = 0.0;
        let mut exp: i32 = 0;
        while let Some(d) = b.get(j).and_then(|c| c.to_digit(16)) {
            mant = mant * 16.0 + f64::from(d);
            j += 1;
        }
        if b.get(j) == Some(&'.') {
            j += 1;
            while let Some(d) = b.get(j).and_then(|c| c.to_digit(16)) {
                mant = mant * 16.0 + f64::from(d);
                exp -= 4;
                j += 1;
            }
        }
        if matches!(b.get(j), Some('p' | 'P')) {
            let mut k = j + 1;
            let mut eneg = false;
            if matches!(b.get(k), Some('+' | '-')) {
                eneg = b[k] == '-';
                k += 1;
            }
            if b.get(k).is_some_and(char::is_ascii_digit) {
                let mut e: i32 = 0;
                while let Some(d) = b.get(k).and_then(|c| c.to_digit(10)) {
                    e = e.saturating_mul(10).saturating_add(d as i32);
                    k += 1;
                }
                exp = exp.saturating_add(if eneg { -e } else { e });
                j = k;
            }
        }
        return (sign(mant * 2f64.powi(exp)), j, false);
    }
    let num_start = i;
    let mut digits = 0;
    while b.get(i).is_some_and(char::is_ascii_digit) {
        i += 1;
        digits += 1;
    }
    if b.get(i) == Some(&'.') {
        i += 1;
        while b.get(i).is_some_and(char::is_ascii_digit) {
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return (0.0, 0, false);
    }
    if matches!(b.get(i), Some('e' | 'E')) {
        let mut k = i + 1;
        if matches!(b.get(k), Some('+' | '-')) {
            k += 1;
        }
        if b.get(k).is_some_and(char::is_ascii_digit) {
            while b.get(k).is_some_and(char::is_ascii_digit) {
                k += 1;
            }
            i = k;
        }
    }
    let text: String = b[num_start..i].iter().collect();
    let v: f64 = text.parse().unwrap_or(0.0);
    let mantissa_nonzero = text
        .chars()
        .take_while(|c| *c != 'e' && *c != 'E')
        .any(|c| c.is_ascii_digit() && c != '0');
    let range = v.is_infinite() || (mantissa_nonzero && (v == 0.0 || v.is_subnormal()));
    let _ = start;
    (sign(v), i, range)
}

/// The numeric value of a string, as awk converts it (strtod's prefix, else 0).
pub(super) fn str_to_num(s: &str) -> f64 {
    strtod(s).0
}

/// Whether input text is a "numeric string" to mawk: after blanks are trimmed, it
/// starts with a digit, sign or dot, ends with a digit or dot, and strtod reads all
/// of it without overflow.
pub(super) fn looks_numeric(s: &str) -> bool {
    let t = s.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c'));
    let (Some(first), Some(last)) = (t.chars().next(), t.chars().last()) else {
        return false;
    };
    if !(first.is_ascii_digit() || matches!(first, '+' | '-' | '.')) {
        return false;
    }
    if !(last.is_ascii_digit() || last == '.') {
        return false;
    }
    let (_, n, range) = strtod(t);
    n == t.chars().count() && !range
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(fmt: &str, d: f64) -> String {
        let mut o = String::new();
        let _ = sprintf(fmt, &[Arg::Num(d)], &mut o);
        o
    }

    #[test]
    fn c_conversions() {
        assert_eq!(f("%.6g", 2147483648.0), "2.14748e+09");
        assert_eq!(f("%.6g", 1e10), "1e+10");
        assert_eq!(f("%.6g", 0.1 + 0.2), "0.3");
        assert_eq!(f("%.6g", 0.0001234), "0.0001234");
        assert_eq!(f("%e", 12345.678), "1.234568e+04");
        assert_eq!(f("%5.2f|", 1.23456), " 1.23|");
        assert_eq!(f("%05d", 42.0), "00042");
        assert_eq!(f("%x", 255.0), "ff");
        assert_eq!(f("%G", 1e-10), "1E-10");
        assert_eq!(num_to_str(1e6, "%.6g").unwrap(), "1000000");
        assert_eq!(num_to_str(123456789012.0, "%.6g").unwrap(), "1.23457e+11");
    }

    #[test]
    fn numeric_strings() {
        assert!(looks_numeric("0x10"));
        assert!(!looks_numeric("0x1a"));
        assert!(looks_numeric(" 12 "));
        assert!(looks_numeric("1."));
        assert!(!looks_numeric("1e309"));
        assert!(!looks_numeric("-inf"));
        assert!(!looks_numeric("."));
        assert_eq!(str_to_num("0x1A"), 26.0);
        assert_eq!(str_to_num(" 12abc"), 12.0);
    }
}
