//! `~/.ssh/config` for `HOST`: when HOST names a `Host` block of the user's OpenSSH
//! client configuration, its `HostName`, `Port`, `User`, `IdentityFile`,
//! `UserKnownHostsFile` and `StrictHostKeyChecking` fill the settings the user did not
//! give (variables and flags win, as the command line wins for `ssh`). Parsed with the
//! `ssh2-config` crate (patterns, negation, `Host *` defaults, first value wins).
//! `ProxyJump` is refused with a clear message until jumps are supported.
//!
//! `SSH_CONFIG` names the file (default `~/.ssh/config`; `none` reads none). A missing
//! default file is no error; a missing named one is.

use std::io::BufReader;
use std::path::{Path, PathBuf};

use ssh2_config::{ParseRule, SshConfig};

use crate::config::{ConfigError, RawConfig, error};

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

    fn apply(&self, alias: &str, file: &Path, e: HostEntry) -> Result<RawConfig, ConfigError> {
        if let Some(jump) = &e.proxy_jump {
            return Err(error(
                "HOST",
                format!(
                    "{alias:?} is reached through ProxyJump {jump} in {}, which this server does not follow yet",
                    file.display()
                ),
                "Set HOST to an address this machine reaches directly, or run the server on the jump host.",
            ));
        }
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
        // The first identity file that exists, as ssh tries them in order.
        let key = e
            .identity_files
            .iter()
            .map(|p| self.expand(&p.to_string_lossy()))
            .find(|p| p.is_file())
            .map(|p| p.display().to_string());
        fill("SSH_KEY", key);
        Ok(out)
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
    fn a_jump_and_bad_files_are_refused_clearly() {
        let base = raw(&[("HOST", "jumped")]);
        let e = base
            .apply("jumped", Path::new("/c"), lookup(CONFIG, "jumped").unwrap())
            .unwrap_err();
        assert_eq!(e.variable, "HOST");
        assert!(e.problem.contains("ProxyJump bastion"), "{e}");
        let missing = raw(&[("HOST", "x"), ("SSH_CONFIG", "/nonexistent/config")]);
        assert_eq!(
            missing.with_ssh_config().unwrap_err().variable,
            "SSH_CONFIG"
        );
        let none = raw(&[("HOST", "x"), ("SSH_CONFIG", "none")]);
        assert_eq!(none.with_ssh_config().unwrap().get("HOST"), Some("x"));
    }
}
