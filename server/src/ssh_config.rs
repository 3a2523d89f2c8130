//! `~/.ssh/config` for `HOST`: when HOST names a `Host` block of the user's OpenSSH
//! client configuration, its `HostName`, `Port`, `User`, `IdentityFile`,
//! `UserKnownHostsFile` and `StrictHostKeyChecking` fill the settings the user did not
//! give (variables and flags win, as the command line wins for `ssh`). Parsed with the
//! `ssh2-config` crate (patterns, negation, `Host *` defaults, first value wins).
//!
//! `ProxyJump` (from the file, or `SSH_PROXY_JUMP`) is a comma-separated list of
//! `[user@]host[:port]` hops, outermost first ([`RawConfig::jump_hosts`]). Each hop
//! that names a `Host` block takes its `HostName`, `Port`, `User`, `IdentityFile`,
//! `UserKnownHostsFile` and `StrictHostKeyChecking` from it, as `ssh -J` does; what the
//! block leaves unset comes from the final host's settings, except the password, which
//! is only ever sent to `HOST` itself. A hop with a `ProxyJump` of its own is refused
//! (write the whole chain in one list).
//!
//! `SSH_CONFIG` names the file (default `~/.ssh/config`; `none` reads none). A missing
//! default file is no error; a missing named one is.

use std::io::BufReader;
use std::path::{Path, PathBuf};

use ssh2_config::{ParseRule, SshConfig};

use crate::config::{AuthMethod, ConfigError, HostKeyPolicy, RawConfig, SshTarget, Words, error};

/// What the client configuration says about one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostEntry {
    pub host_name: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub identity_files: Vec<PathBuf>,
    pub known_hosts: Option<String>,
    pub strict_host_key_checking: Option<String>,
    pub proxy_jump: Option<String>,
}

/// Looks `host` up in the configuration text `text`.
pub fn lookup(text: &str, host: &str) -> Result<HostEntry, String> {
    let rules = ParseRule::ALLOW_UNKNOWN_FIELDS | ParseRule::ALLOW_UNSUPPORTED_FIELDS;
    let config = SshConfig::default()
        .parse(&mut BufReader::new(text.as_bytes()), rules)
        .map_err(|e| e.to_string())?;
    let p = config.query(host);
    let first = |key: &str| {
        p.unsupported_fields
            .get(key)
            .and_then(|v| v.first())
            .map(|s| s.trim_matches('"').to_string())
    };
    Ok(HostEntry {
        host_name: p.host_name.clone(),
        port: p.port,
        user: p.user.clone(),
        identity_files: p.identity_file.clone().unwrap_or_default(),
        known_hosts: first("userknownhostsfile"),
        strict_host_key_checking: first("stricthostkeychecking"),
        proxy_jump: p
            .proxy_jump
            .as_ref()
            .map(|j| j.join(","))
            .filter(|j| !j.is_empty() && !j.eq_ignore_ascii_case("none")),
    })
}

/// OpenSSH's `StrictHostKeyChecking` as our SSH_STRICT_HOST_KEY_CHECKING.
fn strict_value(v: &str) -> Option<&'static str> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "ask" | "true" => Some("true"),
        "accept-new" => Some("accept-new"),
        "no" | "off" | "false" => Some("false"),
        _ => None,
    }
}

impl RawConfig {
    /// The configuration file to read, if any.
    fn ssh_config_file(&self) -> Result<Option<PathBuf>, ConfigError> {
        match self.get("SSH_CONFIG").map(str::trim) {
            Some(v) if v.eq_ignore_ascii_case("none") => Ok(None),
            Some(v) => {
                let p = self.expand(v);
                if p.is_file() {
                    Ok(Some(p))
                } else {
                    Err(error(
                        "SSH_CONFIG",
                        format!("{} is not a readable file", p.display()),
                        "Name your OpenSSH client configuration (e.g. ~/.ssh/config), or set SSH_CONFIG=none.",
                    ))
                }
            }
            None => Ok(self
                .home()
                .map(|h| h.join(".ssh").join("config"))
                .filter(|p| p.is_file())),
        }
    }

    /// These settings with what the client configuration says about HOST filled in
    /// where they are unset (see the module docs).
    pub fn with_ssh_config(&self) -> Result<RawConfig, ConfigError> {
        let Some(alias) = self.get("HOST").map(|h| h.trim().to_string()) else {
            return Ok(self.clone());
        };
        let Some(file) = self.ssh_config_file()? else {
            return Ok(self.clone());
        };
        let text = std::fs::read_to_string(&file).map_err(|e| {
            error(
                "SSH_CONFIG",
                format!("{} cannot be read: {e}", file.display()),
                "Fix its permissions, or set SSH_CONFIG=none.",
            )
        })?;
        let entry = lookup(&text, &alias).map_err(|e| {
            error(
                "SSH_CONFIG",
                format!("{} cannot be parsed: {e}", file.display()),
                "Fix the file (`ssh -G HOST` shows what OpenSSH makes of it), or set SSH_CONFIG=none.",
            )
        })?;
        self.apply(&alias, &file, entry)
    }

    /// The entry's first identity file that exists, as ssh tries them in order.
    fn first_identity(&self, e: &HostEntry) -> Option<PathBuf> {
        e.identity_files
            .iter()
            .map(|p| self.expand(&p.to_string_lossy()))
            .find(|p| p.is_file())
    }

    fn apply(&self, alias: &str, file: &Path, e: HostEntry) -> Result<RawConfig, ConfigError> {
        let key = self.first_identity(&e).map(|p| p.display().to_string());
        let mut out = self.clone();
        if let Some(h) = e.host_name.filter(|h| !h.is_empty()) {
            if h.contains('%') {
                return Err(error(
                    "HOST",
                    format!(
                        "HostName {h:?} for {alias:?} in {} uses % tokens, which are not expanded here",
                        file.display()
                    ),
                    "Write the host name out in the file, or set HOST to the address.",
                ));
            }
            out.set("HOST", h);
        }
        let mut fill = |name: &str, value: Option<String>| {
            if self.get(name).is_none()
                && let Some(v) = value
            {
                out.set(name, v);
            }
        };
        fill("SSH_PORT", e.port.map(|p| p.to_string()));
        fill("SSH_PROXY_JUMP", e.proxy_jump);
        fill("SSH_USERNAME", e.user);
        fill("SSH_KNOWN_HOSTS", e.known_hosts);
        if let Some(s) = &e.strict_host_key_checking {
            let Some(v) = strict_value(s) else {
                return Err(error(
                    "HOST",
                    format!(
                        "StrictHostKeyChecking {s:?} for {alias:?} in {} is not understood",
                        file.display()
                    ),
                    "Use yes, accept-new or no there, or set SSH_STRICT_HOST_KEY_CHECKING.",
                ));
            };
            fill("SSH_STRICT_HOST_KEY_CHECKING", Some(v.to_string()));
        }
        fill("SSH_KEY", key);
        Ok(out)
    }
}

/// One `ProxyJump` hop as written: `[ssh://][user@]host[:port]` (`[v6]:port` too).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Hop {
    user: Option<String>,
    host: String,
    port: Option<u16>,
}

fn parse_hop(text: &str) -> Result<Hop, String> {
    let t = text.trim();
    let t = t.strip_prefix("ssh://").unwrap_or(t).trim_end_matches('/');
    let (user, rest) = match t.rsplit_once('@') {
        Some((u, r)) if !u.is_empty() => (Some(u.to_string()), r),
        Some(_) => return Err(format!("{text:?} has an empty user before '@'")),
        None => (None, t),
    };
    let (host, port) = match rest.strip_prefix('[') {
        Some(inner) => match inner.split_once(']') {
            Some((v6, "")) => (v6, None),
            Some((v6, tail)) => match tail.strip_prefix(':') {
                Some(p) => (v6, Some(p)),
                None => return Err(format!("{text:?}: expected ':port' after ']'")),
            },
            None => return Err(format!("{text:?}: '[' without ']'")),
        },
        None => match rest.split_once(':') {
            Some((h, p)) if !p.contains(':') => (h, Some(p)),
            _ => (rest, None),
        },
    };
    if host.is_empty() || host.contains(|c: char| c.is_whitespace() || "/[]@".contains(c)) {
        return Err(format!("{text:?} does not name a host"));
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(format!("{text:?}: {p:?} is not a port from 1 to 65535")),
        },
    };
    Ok(Hop {
        user,
        host: host.to_string(),
        port,
    })
}

impl RawConfig {
    /// The jump hosts (`SSH_PROXY_JUMP`, filled from `ProxyJump` by
    /// [`RawConfig::with_ssh_config`]) in front of `target`, outermost first, each
    /// resolved as the module docs say.
    pub(crate) fn jump_hosts(&self, target: &SshTarget) -> Result<Vec<SshTarget>, ConfigError> {
        let Some(list) = self.get("SSH_PROXY_JUMP").map(str::trim) else {
            return Ok(Vec::new());
        };
        if list.eq_ignore_ascii_case("none") {
            return Ok(Vec::new());
        }
        let bad = |problem: String| {
            error(
                "SSH_PROXY_JUMP",
                problem,
                "Write the jumps as in OpenSSH's ProxyJump: [user@]host[:port], comma-separated, outermost first.",
            )
        };
        // A file that cannot be found or read is reported for SSH_CONFIG already.
        let text = self
            .ssh_config_file()
            .ok()
            .flatten()
            .and_then(|file| std::fs::read_to_string(file).ok());
        list.split(',')
            .map(|part| {
                let hop = parse_hop(part).map_err(bad)?;
                let entry = match &text {
                    Some(t) => lookup(t, &hop.host)
                        .map_err(|e| bad(format!("the SSH config cannot be parsed: {e}")))?,
                    None => HostEntry::default(),
                };
                self.jump_target(target, hop, entry)
            })
            .collect()
    }

    fn jump_target(
        &self,
        target: &SshTarget,
        hop: Hop,
        e: HostEntry,
    ) -> Result<SshTarget, ConfigError> {
        let name = hop.host.clone();
        let fail = |problem: String, fix: &str| error("SSH_PROXY_JUMP", problem, fix);
        if let Some(own) = &e.proxy_jump {
            return Err(fail(
                format!("the jump host {name:?} has a ProxyJump of its own ({own})"),
                "Write the whole chain in one ProxyJump list, outermost first.",
            ));
        }
        let host = e.host_name.clone().unwrap_or(hop.host);
        if host.contains('%') {
            return Err(fail(
                format!(
                    "HostName {host:?} for the jump host {name:?} uses % tokens, which are not expanded here"
                ),
                "Write the host name out in the file.",
            ));
        }
        let key = self.first_identity(&e);
        // Its own key first, then the final host's keys and agent: never its password.
        let mut auth: Vec<AuthMethod> = key
            .map(|path| AuthMethod::Key {
                path,
                passphrase: None,
            })
            .into_iter()
            .collect();
        auth.extend(
            target
                .auth
                .iter()
                .filter(|m| !matches!(m, AuthMethod::Password(_)))
                .cloned(),
        );
        if auth.is_empty() {
            return Err(fail(
                format!(
                    "the jump host {name:?} has no login method: SSH_PASSWORD is sent only to HOST, never to a jump host"
                ),
                "Give the jump host an IdentityFile in the SSH config, or log in with SSH_KEY or an ssh-agent.",
            ));
        }
        let host_key_policy = match &e.strict_host_key_checking {
            None => target.host_key_policy,
            Some(v) => match strict_value(v)
                .and_then(|w| HostKeyPolicy::WORDS.iter().find(|(word, _)| *word == w))
            {
                Some((_, policy)) => *policy,
                None => {
                    return Err(fail(
                        format!(
                            "StrictHostKeyChecking {v:?} for the jump host {name:?} is not understood"
                        ),
                        "Use yes, accept-new or no there.",
                    ));
                }
            },
        };
        Ok(SshTarget {
            host,
            port: hop.port.or(e.port).unwrap_or(22),
            user: hop.user.or(e.user).unwrap_or_else(|| target.user.clone()),
            auth,
            known_hosts: e
                .known_hosts
                .map(|k| self.expand(&k))
                .unwrap_or_else(|| target.known_hosts.clone()),
            host_key_policy,
            connect_timeout: target.connect_timeout,
            keepalive: target.keepalive,
            jumps: Vec::new(),
            host_key_alias: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "Host pvealias pve-*\n  HostName 192.0.2.10\n  Port 2222\n  User admin\n  IdentityFile ~/.ssh/id_pve\n  UserKnownHostsFile ~/.ssh/known_pve\n  StrictHostKeyChecking accept-new\n\nHost jumped\n  HostName 10.0.0.5\n  ProxyJump bastion\n\nHost *\n  User fallback\n  ServerAliveInterval 30\n";

    fn raw(pairs: &[(&str, &str)]) -> RawConfig {
        RawConfig::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn an_alias_gives_its_settings_and_the_users_own_win() {
        let e = lookup(CONFIG, "pvealias").unwrap();
        assert_eq!(e.host_name.as_deref(), Some("192.0.2.10"));
        assert_eq!(e.port, Some(2222));
        assert_eq!(e.user.as_deref(), Some("admin"));
        assert_eq!(e.known_hosts.as_deref(), Some("~/.ssh/known_pve"));
        assert_eq!(e.strict_host_key_checking.as_deref(), Some("accept-new"));
        assert_eq!(
            lookup(CONFIG, "pve-2").unwrap().port,
            Some(2222),
            "patterns match"
        );
        let other = lookup(CONFIG, "elsewhere").unwrap();
        assert_eq!(
            (other.host_name, other.user.as_deref()),
            (None, Some("fallback"))
        );

        let base = raw(&[
            ("HOST", "pvealias"),
            ("HOME", "/home/u"),
            ("SSH_PORT", "22"),
        ]);
        let out = base
            .apply(
                "pvealias",
                Path::new("/c"),
                lookup(CONFIG, "pvealias").unwrap(),
            )
            .unwrap();
        assert_eq!(out.get("HOST"), Some("192.0.2.10"));
        assert_eq!(out.get("SSH_PORT"), Some("22"), "the user's SSH_PORT wins");
        assert_eq!(out.get("SSH_USERNAME"), Some("admin"));
        assert_eq!(out.get("SSH_KNOWN_HOSTS"), Some("~/.ssh/known_pve"));
        assert_eq!(out.get("SSH_STRICT_HOST_KEY_CHECKING"), Some("accept-new"));
        assert_eq!(
            out.get("SSH_KEY"),
            None,
            "an identity file that does not exist is skipped"
        );
    }

    #[test]
    fn bad_files_are_refused_clearly() {
        let missing = raw(&[("HOST", "x"), ("SSH_CONFIG", "/nonexistent/config")]);
        assert_eq!(
            missing.with_ssh_config().unwrap_err().variable,
            "SSH_CONFIG"
        );
        let none = raw(&[("HOST", "x"), ("SSH_CONFIG", "none")]);
        assert_eq!(none.with_ssh_config().unwrap().get("HOST"), Some("x"));
    }

    #[test]
    fn hops_are_parsed_as_openssh_writes_them() {
        let hop = |t: &str| parse_hop(t).unwrap();
        assert_eq!(
            hop("bastion"),
            Hop {
                user: None,
                host: "bastion".into(),
                port: None
            }
        );
        assert_eq!(
            hop("ops@10.0.0.1:2222"),
            Hop {
                user: Some("ops".into()),
                host: "10.0.0.1".into(),
                port: Some(2222)
            }
        );
        assert_eq!(hop("ssh://a@[2001:db8::1]:22").host, "2001:db8::1");
        assert_eq!(hop("2001:db8::1").port, None, "a bare IPv6 address");
        for bad in ["", "@h", "h:0", "h:x", "[::1", "a b"] {
            assert!(parse_hop(bad).is_err(), "{bad:?} refused");
        }
    }

    /// A config with a target behind two jumps, the first an alias with its own key
    /// file and known_hosts; the target logs in by key and password.
    fn jumped(dir: &tempfile::TempDir) -> RawConfig {
        let home = dir.path();
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        std::fs::write(home.join(".ssh/id_bastion"), "k").unwrap();
        std::fs::write(home.join("id_target"), "k").unwrap();
        // (The parser expands `~` in IdentityFile with the process's home, so the test
        // names the key file in full.)
        std::fs::write(
            home.join(".ssh/config"),
            format!("Host target\n  HostName 10.0.0.5\n  ProxyJump bastion,ops@inner:2200\n\nHost bastion\n  HostName 192.0.2.1\n  Port 2022\n  User jump\n  IdentityFile {}\n  UserKnownHostsFile ~/.ssh/known_bastion\n  StrictHostKeyChecking accept-new\n", home.join(".ssh/id_bastion").display()),
        )
        .unwrap();
        raw(&[
            ("I_ACCEPT_RISKS", "true"),
            ("HOST", "target"),
            ("HOME", home.to_str().unwrap()),
            ("SSH_KEY", home.join("id_target").to_str().unwrap()),
            ("SSH_PASSWORD", "secret"),
        ])
    }

    #[test]
    fn a_proxy_jump_chain_resolves_each_hop() {
        let dir = tempfile::tempdir().unwrap();
        let config = jumped(&dir).validate().unwrap();
        let t = config.target();
        assert_eq!((t.host.as_str(), t.port), ("10.0.0.5", 22));
        assert_eq!(t.jumps.len(), 2);
        let (b, inner) = (&t.jumps[0], &t.jumps[1]);
        assert_eq!(
            (b.host.as_str(), b.port, b.user.as_str()),
            ("192.0.2.1", 2022, "jump")
        );
        assert_eq!(b.known_hosts, dir.path().join(".ssh/known_bastion"));
        assert_eq!(b.host_key_policy, HostKeyPolicy::AcceptNew);
        assert!(matches!(&b.auth[0], AuthMethod::Key { path, .. } if path.ends_with("id_bastion")));
        assert!(
            !b.auth
                .iter()
                .chain(&inner.auth)
                .any(|m| matches!(m, AuthMethod::Password(_))),
            "the password goes to HOST alone"
        );
        assert_eq!(
            (inner.host.as_str(), inner.port, inner.user.as_str()),
            ("inner", 2200, "ops")
        );
        assert_eq!(inner.known_hosts, t.known_hosts, "the target's known_hosts");
        assert_eq!(
            t.display(),
            "root@10.0.0.5:22 via jump@192.0.2.1:2022, ops@inner:2200"
        );
    }

    #[test]
    fn jumps_that_cannot_work_are_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let mut only_password = jumped(&dir);
        only_password.set("SSH_PROXY_JUMP", "plain.example");
        only_password.set("SSH_KEY", "");
        let e = only_password.validate().unwrap_err();
        assert!(
            e.0.iter()
                .any(|e| e.variable == "SSH_PROXY_JUMP" && e.problem.contains("no login method")),
            "{e}"
        );
        let mut bad = jumped(&dir);
        bad.set("SSH_PROXY_JUMP", "a:99999");
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("not a port")
        );
        let mut off = jumped(&dir);
        off.set("SSH_PROXY_JUMP", "none");
        assert!(
            off.validate().unwrap().target().jumps.is_empty(),
            "none turns the file's jumps off"
        );
    }
}
