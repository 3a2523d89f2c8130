//! What the assistant may do beyond the host's own permissions, chosen by the owner:
//! a read-only mode, command allow/deny rules, the local directories file tools may
//! touch, the guests the Proxmox tools may act on, when to ask the user, and where to
//! keep the audit trail. Parsed with the rest of the configuration (every error at
//! once); checked before anything is sent to a host. Plain Rust, no MCP.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use crate::config::{ConfigError, Errors, RawConfig, Words, error};

/// A regular expression from a setting, kept with its text for messages.
#[derive(Clone)]
pub struct Rule {
    pub variable: &'static str,
    pub pattern: String,
    regex: regex_lite::Regex,
}

impl PartialEq for Rule {
    fn eq(&self, other: &Self) -> bool {
        (self.variable, &self.pattern) == (other.variable, &other.pattern)
    }
}

impl Eq for Rule {}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}", self.variable, self.pattern)
    }
}

/// When destructive operations ask the user first (MCP elicitation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Confirm {
    /// Ask when the client can; go ahead when it cannot (the default).
    #[default]
    Ask,
    /// Never ask.
    Never,
    /// Ask, and refuse when the client cannot ask.
    Require,
}

impl Words for Confirm {
    const WORDS: &'static [(&'static str, Self)] = &[
        ("ask", Confirm::Ask),
        ("never", Confirm::Never),
        ("require", Confirm::Require),
    ];
}

impl Confirm {
    pub fn setting(self) -> &'static str {
        self.word()
    }
}

/// Container ids (inclusive ranges) the Proxmox tools may act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guests {
    pub text: String,
    ranges: Vec<(u64, u64)>,
}

impl Guests {
    pub fn contains(&self, id: u64) -> bool {
        self.ranges.iter().any(|(a, b)| (*a..=*b).contains(&id))
    }

    fn parse(text: &str) -> Result<Self, String> {
        let mut ranges = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            let num = |s: &str| {
                s.trim()
                    .parse::<u64>()
                    .map_err(|_| format!("{part:?} is not an id or a range of ids"))
            };
            let (a, b) = (num(a)?, num(b)?);
            if a > b {
                return Err(format!("{part:?} is an empty range"));
            }
            ranges.push((a, b));
        }
        if ranges.is_empty() {
            return Err("lists no ids".into());
        }
        Ok(Guests {
            text: text.trim().to_string(),
            ranges,
        })
    }
}

/// Files of the server's own that no file tool may read or write, whatever
/// LOCAL_ROOTS says: they hold its keys and secrets, or what it trusts.
pub struct OwnFiles {
    pub home: Option<PathBuf>,
    /// Every host's key file.
    pub keys: Vec<PathBuf>,
    /// Every host's known_hosts file.
    pub known_hosts: Vec<PathBuf>,
    /// The named-hosts file ([`crate::hosts`]), when one is read.
    pub hosts_file: Option<PathBuf>,
}

/// The owner's choices.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    /// Only tools that change nothing on a host (exec tools only under COMMAND_ALLOW).
    pub read_only: bool,
    /// A command must match this whole (anchored at both ends).
    pub command_allow: Option<Rule>,
    /// A command matching this anywhere is refused.
    pub command_deny: Option<Rule>,
    /// Local directories (resolved) that uploads may read and downloads may write.
    pub local_roots: Vec<PathBuf>,
    /// Local paths always refused, with why.
    pub protected: Vec<(PathBuf, &'static str)>,
    /// Guests the proxmox tools may act on (all when unset).
    pub guests: Option<Guests>,
    pub confirm: Confirm,
    /// Exec tools ask for approval too.
    pub confirm_exec: bool,
    /// One JSON line per tool call goes here.
    pub audit_log: Option<PathBuf>,
}

/// A call the policy refuses: the rule, what was wrong, what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused by {rule}: {problem}")]
pub struct Refusal {
    pub rule: String,
    pub problem: String,
    pub fix: String,
}

impl From<Refusal> for crate::output::Failure {
    fn from(r: Refusal) -> Self {
        let error = r.to_string();
        crate::output::Failure::new(error, r.fix)
    }
}

/// Whether a local path is read (an upload's source) or written (a download's target).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

impl Policy {
    pub(crate) fn from_raw(raw: &RawConfig, errs: &mut Errors, own: &OwnFiles) -> Option<Policy> {
        let read_only = errs.take(raw.boolean("READ_ONLY", false));
        let command_allow = errs.take(rule(raw, "COMMAND_ALLOW", true));
        let command_deny = errs.take(rule(raw, "COMMAND_DENY", false));
        let local_roots = errs.take(local_roots(raw));
        let guests = errs.take(match raw.get("PROXMOX_GUEST_ALLOW") {
            None => Ok(None),
            Some(text) => Guests::parse(text).map(Some).map_err(|problem| {
                error(
                    "PROXMOX_GUEST_ALLOW",
                    problem,
                    "List container ids and ranges, e.g. PROXMOX_GUEST_ALLOW=100,105,200-299.",
                )
            }),
        });
        let confirm = errs.take(raw.choice(
            "CONFIRM_DESTRUCTIVE",
            Confirm::Ask,
            "Use ask (ask the user when the client can), never, or require (refuse when the client cannot ask).",
        ));
        let confirm_exec = errs.take(raw.boolean("CONFIRM_EXEC", false));
        let audit_log = errs.take(audit_log(raw));
        let mut protected: Vec<(PathBuf, &'static str)> = vec![
            (
                "/proc".into(),
                "it exposes this process's memory and environment",
            ),
            ("/sys".into(), "it is the kernel's interface"),
            ("/dev".into(), "it holds devices, not files"),
        ];
        if let Some(home) = &own.home {
            protected.push((home.join(".ssh"), "it holds your SSH keys and trust"));
        }
        if let Ok(cwd) = std::env::current_dir() {
            protected.push((cwd.join(".env"), "it is this server's configuration"));
        }
        for key in &own.keys {
            protected.push((key.clone(), "it is this server's SSH key (SSH_KEY)"));
        }
        for kh in &own.known_hosts {
            protected.push((kh.clone(), "it is the host keys this server trusts"));
        }
        if let Some(file) = &own.hosts_file {
            protected.push((file.clone(), "it is this server's list of hosts"));
        }
        if let Some(Some(log)) = &audit_log {
            protected.push((log.clone(), "it is this server's audit trail (AUDIT_LOG)"));
        }
        let protected = protected
            .into_iter()
            .map(|(p, why)| (resolve(&p), why))
            .collect();
        Some(Policy {
            read_only: read_only?,
            command_allow: command_allow?,
            command_deny: command_deny?,
            local_roots: local_roots?,
            protected,
            guests: guests?,
            confirm: confirm?,
            confirm_exec: confirm_exec?,
            audit_log: audit_log?,
        })
    }

    /// Checks a command (host or container) against COMMAND_DENY, then COMMAND_ALLOW.
    pub fn check_command(&self, command: &str) -> Result<(), Refusal> {
        if let Some(deny) = &self.command_deny
            && deny.regex.is_match(command)
        {
            return Err(Refusal {
                rule: format!("COMMAND_DENY ({:?})", deny.pattern),
                problem: "the command matches it".into(),
                fix:
                    "This command is not allowed on this server; do it another way or ask the user."
                        .into(),
            });
        }
        if let Some(allow) = &self.command_allow
            && !allow.regex.is_match(command)
        {
            return Err(Refusal {
                rule: format!("COMMAND_ALLOW ({:?})", allow.pattern),
                problem: "the whole command must match it, and it does not".into(),
                fix: "Run only commands the allow rule names (one command, no `;`, `&&` or `|` unless the rule allows them)."
                    .into(),
            });
        }
        Ok(())
    }

    /// Checks a container id against PROXMOX_GUEST_ALLOW.
    pub fn check_guest(&self, id: u64) -> Result<(), Refusal> {
        match &self.guests {
            Some(g) if !g.contains(id) => Err(Refusal {
                rule: format!("PROXMOX_GUEST_ALLOW ({})", g.text),
                problem: format!("container {id} is not one of the guests this server may manage"),
                fix: format!("Use one of the allowed guests: {}.", g.text),
            }),
            _ => Ok(()),
        }
    }

    pub fn guest_allowed(&self, id: u64) -> bool {
        self.check_guest(id).is_ok()
    }

    /// Checks a local path (already made absolute) for reading or writing: never one of
    /// the protected places, and inside LOCAL_ROOTS when set. Links are resolved first,
    /// so a link cannot lead out; for a write, the directory is resolved and the name
    /// kept (the file is renamed into place, never written through a link).
    pub fn check_local(&self, path: &Path, access: Access) -> Result<PathBuf, Refusal> {
        let resolved = match access {
            Access::Read => resolve(path),
            Access::Write => match (path.parent(), path.file_name()) {
                (Some(dir), Some(name)) => resolve(dir).join(name),
                _ => resolve(path),
            },
        };
        for (place, why) in &self.protected {
            if resolved.starts_with(place) {
                return Err(Refusal {
                    rule: "the protected local paths".into(),
                    problem: format!(
                        "{} is {}, and {why}",
                        resolved.display(),
                        if &resolved == place {
                            "refused".to_string()
                        } else {
                            format!("inside {}", place.display())
                        }
                    ),
                    fix: "Choose another local file; this server never moves its own keys, configuration or /proc, /sys, /dev files.".into(),
                });
            }
        }
        if !self.local_roots.is_empty() && !self.local_roots.iter().any(|r| resolved.starts_with(r))
        {
            let roots: Vec<String> = self
                .local_roots
                .iter()
                .map(|r| r.display().to_string())
                .collect();
            return Err(Refusal {
                rule: format!("LOCAL_ROOTS ({})", roots.join(":")),
                problem: format!(
                    "{} ({}) is outside the allowed local directories",
                    path.display(),
                    match access {
                        Access::Read => "read",
                        Access::Write => "written",
                    }
                ),
                fix: format!("Use a local path inside {}.", roots.join(" or ")),
            });
        }
        Ok(resolved)
    }
}

/// The path with every link resolved: the longest existing ancestor is canonicalized
/// and the rest (which does not exist yet) appended, `..` taken lexically.
fn resolve(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            let mut out = real;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return normalize(&out);
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent.to_path_buf();
            }
            _ => return normalize(path),
        }
    }
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn rule(raw: &RawConfig, variable: &'static str, whole: bool) -> Result<Option<Rule>, ConfigError> {
    let Some(pattern) = raw.get(variable) else {
        return Ok(None);
    };
    let source = if whole {
        format!("^(?:{pattern})$")
    } else {
        pattern.to_string()
    };
    regex_lite::Regex::new(&source)
        .map(|regex| {
            Some(Rule {
                variable,
                pattern: pattern.to_string(),
                regex,
            })
        })
        .map_err(|e| {
            error(
                variable,
                format!("{pattern:?} is not a valid regular expression: {e}"),
                format!(
                    "Give a regular expression, e.g. {variable}={}",
                    if whole {
                        "'(df|free|uptime)( -h)?'"
                    } else {
                        "'rm\\s+-rf|mkfs|shutdown'"
                    }
                ),
            )
        })
}

fn local_roots(raw: &RawConfig) -> Result<Vec<PathBuf>, ConfigError> {
    let Some(text) = raw.get("LOCAL_ROOTS") else {
        return Ok(Vec::new());
    };
    let mut roots = Vec::new();
    for part in text.split(':').map(str::trim).filter(|p| !p.is_empty()) {
        let path = raw.expand(part);
        match path.canonicalize() {
            Ok(real) if real.is_dir() => roots.push(real),
            _ => {
                return Err(error(
                    "LOCAL_ROOTS",
                    format!("{part:?} is not an existing directory"),
                    "List existing local directories separated by ':', e.g. LOCAL_ROOTS=~/work:/srv/exchange.",
                ));
            }
        }
    }
    Ok(roots)
}

fn audit_log(raw: &RawConfig) -> Result<Option<PathBuf>, ConfigError> {
    let Some(p) = raw.get("AUDIT_LOG") else {
        return Ok(None);
    };
    let path = raw.expand(p.trim());
    let dir_ok = path
        .parent()
        .map(|d| d.as_os_str().is_empty() || d.is_dir())
        .unwrap_or(false);
    if !dir_ok || path.is_dir() {
        return Err(error(
            "AUDIT_LOG",
            format!("{p:?} is not a file in an existing directory"),
            "Set AUDIT_LOG to a file path whose directory exists, e.g. AUDIT_LOG=~/mcp-remote-exec.audit.jsonl.",
        ));
    }
    Ok(Some(if path.is_absolute() {
        path
    } else {
        std::env::current_dir()
            .map(|d| d.join(&path))
            .unwrap_or(path)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(extra: &[(&str, &str)]) -> Result<Policy, crate::config::ConfigErrors> {
        let mut pairs = vec![
            ("I_ACCEPT_RISKS", "true"),
            ("HOST", "h"),
            ("SSH_PASSWORD", "x"),
            ("HOME", "/home/u"),
        ];
        pairs.extend_from_slice(extra);
        RawConfig::from_pairs(pairs).validate().map(|c| c.policy)
    }

    #[test]
    fn defaults_change_nothing() {
        let p = policy(&[]).unwrap();
        assert!(!p.read_only && p.command_allow.is_none() && p.command_deny.is_none());
        assert_eq!(p.confirm, Confirm::Ask);
        p.check_command("rm -rf /tmp/x; echo done").unwrap();
        p.check_guest(100).unwrap();
    }

    #[test]
    fn allow_matches_the_whole_command_and_deny_anywhere() {
        let p = policy(&[
            (
                "COMMAND_ALLOW",
                "(df|uptime)( -h)?|systemctl status [a-z0-9@.-]+",
            ),
            ("COMMAND_DENY", r"\bnginx\b"),
        ])
        .unwrap();
        for ok in ["df", "df -h", "uptime", "systemctl status sshd"] {
            p.check_command(ok).unwrap();
        }
        for bad in [
            "df -h; rm -rf /",
            "xdf",
            "uptime && reboot",
            "systemctl status a;b",
        ] {
            let e = p.check_command(bad).unwrap_err();
            assert!(e.rule.starts_with("COMMAND_ALLOW"), "{bad}: {e}");
        }
        let e = p.check_command("systemctl status nginx").unwrap_err();
        assert!(
            e.to_string().contains("COMMAND_DENY (\"\\\\bnginx\\\\b\")"),
            "{e}"
        );
    }

    #[test]
    fn guests_are_ids_and_ranges() {
        let p = policy(&[("PROXMOX_GUEST_ALLOW", "100, 105,200-299")]).unwrap();
        for id in [100, 105, 200, 250, 299] {
            assert!(p.guest_allowed(id), "{id}");
        }
        for id in [101, 199, 300] {
            let e = p.check_guest(id).unwrap_err();
            assert!(e.fix.contains("100, 105,200-299"), "{e:?}");
        }
    }

    #[test]
    fn every_bad_setting_is_reported_at_once() {
        let bad = [
            ("COMMAND_ALLOW", "(unclosed"),
            ("COMMAND_DENY", "[z-a]"),
            ("LOCAL_ROOTS", "/nonexistent-root"),
            ("PROXMOX_GUEST_ALLOW", "100,abc"),
            ("CONFIRM_DESTRUCTIVE", "sometimes"),
            ("READ_ONLY", "yes"),
            ("AUDIT_LOG", "/nonexistent-dir/audit.jsonl"),
            ("SSH_PORT", "0"),
        ];
        let errs = policy(&bad).unwrap_err();
        let vars: Vec<&str> = errs.iter().map(|e| e.variable.as_str()).collect();
        // Each bad setting is named.
        for (v, _) in bad {
            assert!(vars.contains(&v), "{v} missing from {vars:?}");
        }
        let text = errs.to_string();
        assert!(text.starts_with("8 configuration errors:"), "{text}");
    }

    #[test]
    fn local_paths_stay_inside_the_roots_even_through_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(outside.join("secret"), root.join("link")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("dirlink")).unwrap();
        let p = policy(&[("LOCAL_ROOTS", root.to_str().unwrap())]).unwrap();
        p.check_local(&root.join("new.txt"), Access::Write).unwrap();
        p.check_local(&root.join("sub/../new.txt"), Access::Write)
            .unwrap();
        for (path, access) in [
            (root.join("link"), Access::Read),
            (root.join("dirlink/secret"), Access::Read),
            (root.join("dirlink/new"), Access::Write),
            (root.join("../outside/secret"), Access::Read),
            (outside.join("x"), Access::Write),
        ] {
            let e = p.check_local(&path, access).unwrap_err();
            assert!(e.rule.starts_with("LOCAL_ROOTS"), "{}: {e}", path.display());
        }
    }

    #[test]
    fn own_secrets_and_proc_are_refused_without_roots() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_str().unwrap().to_string();
        std::fs::create_dir_all(dir.path().join(".ssh")).unwrap();
        let p = policy(&[("HOME", &home)]).unwrap();
        for (path, access) in [
            (PathBuf::from("/proc/self/environ"), Access::Read),
            (dir.path().join(".ssh/id_ed25519"), Access::Read),
            (dir.path().join(".ssh/known_hosts"), Access::Write),
            (dir.path().join(".ssh"), Access::Write),
        ] {
            let e = p.check_local(&path, access).unwrap_err();
            assert_eq!(e.rule, "the protected local paths", "{}", path.display());
        }
        p.check_local(&dir.path().join("notes.txt"), Access::Write)
            .unwrap();
    }
}
