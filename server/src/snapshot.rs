//! Guest snapshots and graceful power: the snapshot name rule, the `pct` command lines
//! for shutdown, reboot and snapshots, and the parser of the tree `pct listsnapshot`
//! prints. Pure (strings in, typed values out, no I/O), written from
//! docs/guest-operations.md, never from fake-pve's emulator.

use std::fmt;

use crate::pct::{Ctid, ParseError, parse_err};
use crate::quote::{Unquotable, quote};

/// Longest snapshot name Proxmox VE accepts (pve-common's `pve-configid` format, with
/// the 40-character limit of the snapshot API).
pub const MAX_NAME: usize = 40;
/// Longest snapshot description we pass on (the config file keeps it on one line).
pub const MAX_DESCRIPTION: usize = 8192;

/// A snapshot name that pct and qm both accept: a letter, then letters, digits, `-`
/// or `_`; 2 to 40 characters; not one of the reserved names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapName(String);

/// Why a snapshot name was refused (the message says what a valid one looks like).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadSnapName(pub String);

impl SnapName {
    pub fn parse(s: &str) -> Result<Self, BadSnapName> {
        let shown: String = s.chars().take(60).collect();
        let rule = "a snapshot name starts with a letter and has only letters, digits, '-' and '_', 2 to 40 characters";
        let mut chars = s.chars();
        let well_formed = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && s.len() >= 2;
        if !well_formed {
            return Err(BadSnapName(format!(
                "'{shown}' is not a valid snapshot name: {rule}"
            )));
        }
        if s.len() > MAX_NAME {
            return Err(BadSnapName(format!(
                "the snapshot name is {} characters long; {rule}",
                s.len()
            )));
        }
        // pct reserves `current` and `vzdump`, qm `current` and (any case) `pending`.
        if ["current", "vzdump", "pending"].contains(&s.to_ascii_lowercase().as_str()) {
            return Err(BadSnapName(format!(
                "'{s}' is a reserved name (current, vzdump and pending are); choose another"
            )));
        }
        Ok(SnapName(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SnapName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a snapshot description: one line (the config file stores it as one), at
/// most [`MAX_DESCRIPTION`] bytes.
pub fn check_description(d: &str) -> Result<(), String> {
    if d.chars().any(|c| c.is_control()) {
        return Err(
            "the description holds a line break or another control character; give it on one line"
                .into(),
        );
    }
    if d.len() > MAX_DESCRIPTION {
        return Err(format!(
            "the description is {} bytes; at most {MAX_DESCRIPTION} are accepted",
            d.len()
        ));
    }
    Ok(())
}

/// `pct shutdown CTID --timeout SECS [--forceStop 1]`.
pub fn shutdown(ctid: Ctid, timeout_secs: u64, force_stop: bool) -> String {
    let mut line = format!("pct shutdown {ctid} --timeout {timeout_secs}");
    if force_stop {
        line.push_str(" --forceStop 1");
    }
    line
}

/// `pct reboot CTID --timeout SECS`.
pub fn reboot(ctid: Ctid, timeout_secs: u64) -> String {
    format!("pct reboot {ctid} --timeout {timeout_secs}")
}

/// `pct snapshot CTID NAME [--description TEXT]`.
pub fn create(ctid: Ctid, name: &SnapName, description: &str) -> Result<String, Unquotable> {
    let mut line = format!("pct snapshot {ctid} {name}");
    if !description.is_empty() {
        line.push_str(" --description ");
        line.push_str(&quote(description, "the description")?);
    }
    Ok(line)
}

/// `pct listsnapshot CTID`.
pub fn list(ctid: Ctid) -> String {
    format!("pct listsnapshot {ctid}")
}

/// `pct rollback CTID NAME [--start 1]`.
pub fn rollback(ctid: Ctid, name: &SnapName, start: bool) -> String {
    let mut line = format!("pct rollback {ctid} {name}");
    if start {
        line.push_str(" --start 1");
    }
    line
}

/// `pct delsnapshot CTID NAME`.
pub fn delete(ctid: Ctid, name: &SnapName) -> String {
    format!("pct delsnapshot {ctid} {name}")
}

/// One line of the snapshot tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    pub name: String,
    /// The snapshot it descends from; `None` at the root.
    pub parent: Option<String>,
    /// `YYYY-MM-DD HH:MM:SS` in the node's local time; `None` for `current`.
    pub time: Option<String>,
    /// The description's first line (`no-description` is read as empty).
    pub description: String,
    /// The guest's present state (`current`, "You are here!").
    pub current: bool,
}

/// Whether `s` is digits with `sep` at the positions `at`.
fn digits_with(s: &str, at: &[usize], sep: u8) -> bool {
    s.bytes().enumerate().all(|(i, b)| {
        if at.contains(&i) {
            b == sep
        } else {
            b.is_ascii_digit()
        }
    })
}

/// `YYYY-MM-DD` and `HH:MM:SS`.
fn is_datetime(date: &str, time: &str) -> bool {
    date.len() == 10
        && digits_with(date, &[4, 7], b'-')
        && time.len() == 8
        && digits_with(time, &[2, 5], b':')
}

/// Parses the tree of `pct listsnapshot` / `qm listsnapshot`: each line is
/// `PREFIX NAME TIME DESCRIPTION`, the prefix `` `-> `` with one leading space more
/// per level, the time `%F %H:%M:%S` (none for `current`), the description's first
/// line or `no-description`. Entries come out in the printed order.
pub fn parse_tree(stdout: &str) -> Result<Vec<TreeEntry>, ParseError> {
    let mut entries: Vec<TreeEntry> = Vec::new();
    // The last entry seen at each depth: the parent of the next one a level deeper.
    let mut path: Vec<String> = Vec::new();
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        let err = || parse_err("the snapshot list", line);
        let depth = line.find("`->").ok_or_else(err)?;
        if !line[..depth].bytes().all(|b| b == b' ') || depth > path.len() {
            return Err(err());
        }
        let rest = &line[depth + 3..];
        let mut words = rest.split_whitespace();
        let name = words.next().ok_or_else(err)?.to_string();
        let after_name = rest.trim_start()[name.len()..].trim_start();
        let (time, description) = match after_name.split_once(' ') {
            Some((date, more)) => {
                let (clock, descr) = more.split_once(' ').unwrap_or((more, ""));
                if is_datetime(date, clock) {
                    (Some(format!("{date} {clock}")), descr.trim().to_string())
                } else {
                    (None, after_name.trim().to_string())
                }
            }
            None => (None, after_name.trim().to_string()),
        };
        let current = name == "current" && time.is_none();
        let description = if current || description == "no-description" {
            String::new()
        } else {
            description
        };
        path.truncate(depth);
        entries.push(TreeEntry {
            parent: path.last().cloned(),
            name: name.clone(),
            time,
            description,
            current,
        });
        path.push(name);
    }
    if !entries.iter().any(|e| e.current) {
        return Err(parse_err("the snapshot list (no `current` line)", stdout));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_proxmox_rules() {
        for ok in ["s1", "pre-upgrade", "Before_2025", "ab", &"a".repeat(40)] {
            assert!(SnapName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a", "1abc", "-x", "has space", "a.b", "ünï", "x;rm"] {
            let e = SnapName::parse(bad).unwrap_err().0;
            assert!(e.contains("starts with a letter"), "{bad}: {e}");
        }
        assert!(
            SnapName::parse(&"a".repeat(41))
                .unwrap_err()
                .0
                .contains("41 characters")
        );
        for reserved in ["current", "vzdump", "Pending", "PENDING"] {
            assert!(
                SnapName::parse(reserved)
                    .unwrap_err()
                    .0
                    .contains("reserved")
            );
        }
    }

    #[test]
    fn descriptions_are_one_line() {
        assert!(check_description("before apt upgrade; 'quoted' $HOME").is_ok());
        assert!(check_description("two\nlines").is_err());
        assert!(check_description(&"x".repeat(MAX_DESCRIPTION + 1)).is_err());
    }

    #[test]
    fn command_lines_quote_the_description() {
        let ct = Ctid::new(100).unwrap();
        let n = SnapName::parse("s1").unwrap();
        assert_eq!(create(ct, &n, "").unwrap(), "pct snapshot 100 s1");
        assert_eq!(
            create(ct, &n, "it's $x").unwrap(),
            "pct snapshot 100 s1 --description \"it's \"'$x'"
        );
        assert_eq!(rollback(ct, &n, true), "pct rollback 100 s1 --start 1");
        assert_eq!(delete(ct, &n), "pct delsnapshot 100 s1");
        assert_eq!(shutdown(ct, 60, false), "pct shutdown 100 --timeout 60");
        assert_eq!(
            shutdown(ct, 5, true),
            "pct shutdown 100 --timeout 5 --forceStop 1"
        );
        assert_eq!(reboot(ct, 30), "pct reboot 100 --timeout 30");
    }

    #[test]
    fn the_tree_of_the_spec_parses_into_parents_and_times() {
        let out = "`-> pre-upgrade                 2025-01-10 12:00:00     before apt upgrade\n \
`-> post-upgrade               2025-01-11 09:30:00     no-description\n  \
`-> current                                           You are here!\n";
        let t = parse_tree(out).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t[0].name, "pre-upgrade");
        assert_eq!(t[0].parent, None);
        assert_eq!(t[0].time.as_deref(), Some("2025-01-10 12:00:00"));
        assert_eq!(t[0].description, "before apt upgrade");
        assert_eq!(t[1].parent.as_deref(), Some("pre-upgrade"));
        assert_eq!(t[1].description, "");
        assert!(t[2].current);
        assert_eq!(t[2].parent.as_deref(), Some("post-upgrade"));
        assert_eq!(t[2].time, None);
    }

    #[test]
    fn siblings_and_an_empty_tree() {
        let t =
            parse_tree("`-> current                                             You are here!\n")
                .unwrap();
        assert_eq!(t.len(), 1);
        assert!(t[0].current && t[0].parent.is_none());
        // Two branches from one snapshot; a long name pushes the time right.
        let long = "a".repeat(40);
        let out = format!(
            "`-> base                        2025-01-10 12:00:00     first\n \
`-> {long} 2025-01-12 08:00:00     side branch\n \
`-> current                                            You are here!\n"
        );
        let t = parse_tree(&out).unwrap();
        assert_eq!(t[1].name, long);
        assert_eq!(t[1].parent.as_deref(), Some("base"));
        assert_eq!(t[1].time.as_deref(), Some("2025-01-12 08:00:00"));
        assert_eq!(t[2].parent.as_deref(), Some("base"));
    }

    #[test]
    fn output_that_is_not_a_tree_is_an_error() {
        assert!(parse_tree("").is_err());
        assert!(parse_tree("something else\n").is_err());
        // A line two levels deeper than the one before.
        assert!(parse_tree("`-> a 2025-01-10 12:00:00 x\n  `-> current You are here!\n").is_err());
    }
}
