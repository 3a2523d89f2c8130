//! `date`: now or `-d @SECONDS`, in UTC (the fake node's zone), with `+FORMAT`, `-R`
//! and `-I`; a format directive or date string it does not know is refused loudly.

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
                match v.strip_prefix('@').and_then(|n| n.parse::<u64>().ok()) {
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
