//! `date`: now or `-d STRING`, in UTC (the fake node's zone), with `+FORMAT`, `-R`
//! and `-I`; a format directive or date string it does not know is refused loudly.
//! The date strings: `@SECONDS`, `YYYY-MM-DD` with an optional `[T ]HH:MM[:SS]`,
//! `now`, `today`, `yesterday`, `tomorrow`, and one offset `[+-]N UNIT` or
//! `N UNIT ago` (seconds to weeks; months and years are refused).

use crate::io::Io;
use crate::proc::Ctx;
use crate::unix::{civil, expand_directives};

use super::{Status, out, refuse_option, usage};

const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

pub(super) async fn date(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    let mut when = crate::fs::now_secs();
    let mut format: Option<String> = None;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        match a {
            "-u" | "--utc" | "--universal" => {}
            "-d" | "--date" => {
                i += 1;
                let Some(v) = args.get(i) else {
                    return usage(io, "date", "option requires an argument -- 'd'", 1).await;
                };
                match date_string(v, when) {
                    Some(n) => when = n,
                    None => return refuse_option(ctx, io, "date", &format!("-d '{v}'")).await,
                }
            }
            "-R" | "--rfc-email" => format = Some("%a, %d %b %Y %H:%M:%S +0000".into()),
            "-I" | "--iso-8601" | "--iso-8601=date" => format = Some("%Y-%m-%d".into()),
            "--iso-8601=seconds" => format = Some("%Y-%m-%dT%H:%M:%S+00:00".into()),
            _ if a.starts_with('+') => format = Some(a[1..].to_string()),
            _ if a.starts_with('-') => return refuse_option(ctx, io, "date", a).await,
            _ => return refuse_option(ctx, io, "date", "setting the clock").await,
        }
        i += 1;
    }
    let format = format.unwrap_or_else(|| "%a %b %e %H:%M:%S %Z %Y".into());
    match strftime(&format, when) {
        Ok(text) => out(io, &format!("{text}\n")).await,
        Err(d) => refuse_option(ctx, io, "date", &format!("+%{d}")).await,
    }
}

/// What GNU date makes of `-d TEXT` at `now`, for the forms this fake reads; `None`
/// for any other.
pub(super) fn date_string(text: &str, now: u64) -> Option<u64> {
    let t = text.trim().to_ascii_lowercase();
    if let Some(n) = t.strip_prefix('@') {
        return n.parse().ok();
    }
    match t.as_str() {
        "" | "now" | "today" => return Some(now),
        "yesterday" => return now.checked_sub(86_400),
        "tomorrow" => return now.checked_add(86_400),
        _ => {}
    }
    if let Some(at) = iso_date(&t) {
        return Some(at);
    }
    // One offset: `[+-]N UNIT`, `N UNIT ago`.
    let (body, ago) = match t.strip_suffix(" ago") {
        Some(b) => (b.trim(), true),
        None => (t.as_str(), false),
    };
    let (number, unit) = body.split_once(' ')?;
    let n: i64 = number.trim_start_matches('+').parse().ok()?;
    let unit = unit.trim();
    let unit = unit.strip_suffix('s').unwrap_or(unit);
    let size: i64 = match unit {
        "sec" | "second" => 1,
        "min" | "minute" => 60,
        "hour" => 3_600,
        "day" => 86_400,
        "week" => 604_800,
        _ => return None,
    };
    let offset = n.checked_mul(size)?;
    let offset = if ago { -offset } else { offset };
    u64::try_from(i64::try_from(now).ok()?.checked_add(offset)?).ok()
}

/// `YYYY-MM-DD`, with `HH:MM` or `HH:MM:SS` after a space or a `T`, in UTC.
fn iso_date(t: &str) -> Option<u64> {
    let (day, time) = match t.split_once(['t', ' ']) {
        Some((d, tm)) => (d, Some(tm.trim())),
        None => (t, None),
    };
    let mut parts = day.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 {
        return None;
    }
    let (y, m, d): (i64, u32, u32) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    let (hh, mm, ss) = match time {
        None => (0, 0, 0),
        Some(tm) => {
            let f: Vec<&str> = tm.split(':').collect();
            let get = |i: usize| f.get(i).and_then(|v| v.parse::<u32>().ok());
            match f.len() {
                2 => (get(0)?, get(1)?, 0),
                3 => (get(0)?, get(1)?, get(2)?),
                _ => return None,
            }
        }
    };
    if hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    let days = days_from_civil(y, m, d);
    u64::try_from(days * 86_400 + i64::from(hh * 3_600 + mm * 60 + ss)).ok()
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's days_from_civil).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats `secs` (UTC); `Err` names a directive it does not know.
pub(super) fn strftime(format: &str, secs: u64) -> Result<String, char> {
    let (y, m, d, hh, mm, ss) = civil(secs);
    let days = secs / 86_400;
    let weekday = ((days + 4) % 7) as usize;
    let yday = days as i64 - days_before_year(y) + 1;
    let month = MONTHS[(m - 1) as usize];
    expand_directives(format, '%', |s, d2| {
        match d2 {
            'Y' => s.push_str(&y.to_string()),
            'y' => s.push_str(&format!("{:02}", y.rem_euclid(100))),
            'C' => s.push_str(&format!("{:02}", y.div_euclid(100))),
            'm' => s.push_str(&format!("{m:02}")),
            'd' => s.push_str(&format!("{d:02}")),
            'e' => s.push_str(&format!("{d:>2}")),
            'H' => s.push_str(&format!("{hh:02}")),
            'I' => s.push_str(&format!("{:02}", if hh % 12 == 0 { 12 } else { hh % 12 })),
            'p' => s.push_str(if hh < 12 { "AM" } else { "PM" }),
            'M' => s.push_str(&format!("{mm:02}")),
            'S' => s.push_str(&format!("{ss:02}")),
            's' => s.push_str(&secs.to_string()),
            'F' => s.push_str(&format!("{y}-{m:02}-{d:02}")),
            'T' => s.push_str(&format!("{hh:02}:{mm:02}:{ss:02}")),
            'R' => s.push_str(&format!("{hh:02}:{mm:02}")),
            'D' => s.push_str(&format!("{m:02}/{d:02}/{:02}", y.rem_euclid(100))),
            'a' => s.push_str(&DAYS[weekday][..3]),
            'A' => s.push_str(DAYS[weekday]),
            'b' | 'h' => s.push_str(&month[..3]),
            'B' => s.push_str(month),
            'j' => s.push_str(&format!("{yday:03}")),
            'u' => s.push_str(&(if weekday == 0 { 7 } else { weekday }).to_string()),
            'w' => s.push_str(&weekday.to_string()),
            'Z' => s.push_str("UTC"),
            'z' => s.push_str("+0000"),
            'N' => s.push_str("000000000"),
            'n' => s.push('\n'),
            't' => s.push('\t'),
            '%' => s.push('%'),
            other => return Err(other),
        }
        Ok(())
    })
}

/// Days from 1970-01-01 to January 1st of `year`.
fn days_before_year(year: i64) -> i64 {
    let leaps = |y: i64| y / 4 - y / 100 + y / 400;
    (year - 1970) * 365 + leaps(year - 1) - leaps(1969)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(
            strftime("%F %T %a %j", 0).unwrap(),
            "1970-01-01 00:00:00 Thu 001"
        );
        assert_eq!(
            strftime("%a %b %e %H:%M:%S %Z %Y", 1_700_000_000).unwrap(),
            "Tue Nov 14 22:13:20 UTC 2023"
        );
        assert_eq!(strftime("%j", 1_700_000_000).unwrap(), "318");
        assert_eq!(strftime("%Q", 0), Err('Q'));
    }
}
