//! Named hosts: the hosts the tools can reach, each by a name a tool call gives as
//! `host`. Either HOST alone (today's single-host variables, the host named as HOST is
//! written) or a TOML file of `[hosts.NAME]` tables, read from MCP_REMOTE_EXEC_HOSTS
//! (`--hosts`), else from `~/.config/mcp-remote-exec/hosts.toml` when HOST is unset.
//! The format and its rules are in docs/hosts.md.
//!
//! Each table is turned into the single-host variables it stands for (`address` is
//! HOST, `port` SSH_PORT, …) and validated as they are, `~/.ssh/config` included: what
//! a table leaves unset comes from its address's `Host` block, then from the
//! variables that may serve as everyone's default (SSH_USERNAME, SSH_KEY,
//! SSH_KNOWN_HOSTS, SSH_STRICT_HOST_KEY_CHECKING, ENABLE_PROXMOX). Settings that can
//! only be one host's (HOST, SSH_PORT, SSH_PASSWORD, SSH_PROXY_JUMP) are refused beside
//! a hosts file, and a password is only ever taken from the variable its own table
//! names, so it is never sent to another host.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Deserialize;

use crate::config::{ConfigError, Errors, NamedHost, RawConfig, error};

/// The variable (and `--hosts` flag) that names the hosts file.
pub const VARIABLE: &str = "MCP_REMOTE_EXEC_HOSTS";

/// Where the hosts file is looked for when neither HOST nor MCP_REMOTE_EXEC_HOSTS is set.
pub const DEFAULT_PATH: &str = "~/.config/mcp-remote-exec/hosts.toml";

/// Each key of a host's table with the variable it stands for.
const KEYS: &[(&str, &str)] = &[
    ("address", "HOST"),
    ("port", "SSH_PORT"),
    ("user", "SSH_USERNAME"),
    ("key", "SSH_KEY"),
    ("key_passphrase_env", "SSH_KEY_PASSPHRASE"),
    ("password_env", "SSH_PASSWORD"),
    ("known_hosts", "SSH_KNOWN_HOSTS"),
    ("strict_host_key_checking", "SSH_STRICT_HOST_KEY_CHECKING"),
    ("proxy_jump", "SSH_PROXY_JUMP"),
    ("proxmox", "ENABLE_PROXMOX"),
];

/// Variables that belong to one host, refused beside a hosts file.
const ONE_HOSTS: &[&str] = &["HOST", "SSH_PORT", "SSH_PASSWORD", "SSH_PROXY_JUMP"];

/// Variables that are every table's default for what it leaves unset (after its
/// address's `~/.ssh/config` block).
const DEFAULTS: &[&str] = &[
    "SSH_USERNAME",
    "SSH_KEY",
    "SSH_KNOWN_HOSTS",
    "SSH_STRICT_HOST_KEY_CHECKING",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    /// The host of calls without `host` (else the first listed).
    default: Option<String>,
    #[serde(default)]
    hosts: BTreeMap<String, toml::Spanned<Entry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    address: String,
    port: Option<u16>,
    user: Option<String>,
    key: Option<String>,
    key_passphrase_env: Option<String>,
    password_env: Option<String>,
    known_hosts: Option<String>,
    strict_host_key_checking: Option<toml::Value>,
    proxy_jump: Option<String>,
    proxmox: Option<bool>,
}

/// The hosts `raw` configures, which one is the default, and the hosts file read (if
/// any); errors are kept in `errs`.
pub(crate) fn from_raw(
    raw: &RawConfig,
    errs: &mut Errors,
) -> Option<(Vec<NamedHost>, usize, Option<PathBuf>)> {
    let Some(path) = errs.take(file_path(raw))? else {
        let resolved = raw.resolved(errs);
        let target = resolved.target(errs);
        let proxmox = errs.take(raw.boolean("ENABLE_PROXMOX", false));
        let name = raw.get("HOST").unwrap_or_default().trim().to_string();
        return Some((
            vec![NamedHost {
                name,
                target: target?,
                proxmox: proxmox?,
            }],
            0,
            None,
        ));
    };
    let (hosts, default) = load(raw, &path, errs)?;
    Some((hosts, default, Some(path)))
}

/// The hosts file to read: MCP_REMOTE_EXEC_HOSTS, else (HOST unset) the default file
/// when it exists.
fn file_path(raw: &RawConfig) -> Result<Option<PathBuf>, ConfigError> {
    match (raw.get(VARIABLE), raw.get("HOST")) {
        (Some(_), Some(_)) => Err(error(
            VARIABLE,
            format!(
                "is set ({}) and so is HOST ({})",
                raw.shown(VARIABLE),
                raw.shown("HOST")
            ),
            "Use one: HOST for a single host, or the hosts file for several (add HOST's host to the file as a [hosts.NAME] table).",
        )),
        (Some(p), None) => Ok(Some(raw.expand(p.trim()))),
        (None, Some(_)) => Ok(None),
        (None, None) => Ok(raw
            .get("HOME")
            .map(|_| raw.expand(DEFAULT_PATH))
            .filter(|p| p.is_file())),
    }
}

fn load(
    raw: &RawConfig,
    path: &std::path::Path,
    errs: &mut Errors,
) -> Option<(Vec<NamedHost>, usize)> {
    let shown = path.display().to_string();
    let format_fix = "Write one [hosts.NAME] table per host, each with at least `address` (docs/hosts.md shows the format).";
    let text = errs.take(std::fs::read_to_string(path).map_err(|e| {
        error(
            VARIABLE,
            format!("the hosts file {shown} cannot be read: {e}"),
            format!("Fix {VARIABLE} (or --hosts) or the file's permissions."),
        )
    }))?;
    let file: File = errs.take(toml::from_str(&text).map_err(|e| {
        error(
            VARIABLE,
            format!(
                "the hosts file {shown} is not valid: {}",
                e.to_string().trim_end()
            ),
            format_fix,
        )
    }))?;
    for name in ONE_HOSTS.iter().filter(|v| **v != "HOST") {
        if raw.get(name).is_some() {
            let key = key_of(name).unwrap_or(name);
            errs.push(error(
                name,
                format!("is set, but with a hosts file ({shown}) each host has its own"),
                format!(
                    "Remove {name}, and write `{key}` in the tables of the hosts that need it."
                ),
            ));
        }
    }
    if file.hosts.is_empty() {
        errs.push(error(
            VARIABLE,
            format!("the hosts file {shown} lists no hosts"),
            format_fix,
        ));
        return None;
    }
    let mut entries: Vec<(String, toml::Spanned<Entry>)> = file.hosts.into_iter().collect();
    entries.sort_by_key(|(_, e)| e.span().start);
    let mut seen = BTreeSet::new();
    let mut hosts = Vec::new();
    let mut failed = false;
    for (name, entry) in entries {
        if let Err(problem) = check_name(&name) {
            errs.push(error(
                &format!("{shown}: [hosts.{name}]"),
                problem,
                "Name hosts with letters, digits, '.', '_' and '-', starting with a letter or digit.",
            ));
            failed = true;
            continue;
        }
        let mut own = Errors::default();
        match host(raw, &name, entry.get_ref(), &mut own) {
            Some(h) if own.is_empty() => hosts.push(h),
            _ => failed = true,
        }
        for e in own.into_vec() {
            let e = renamed(e, &shown, &name, entry.get_ref());
            if seen.insert(e.to_string()) {
                errs.push(e);
            }
        }
    }
    let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
    let default = match &file.default {
        None => 0,
        Some(d) => match names.iter().position(|n| n == d) {
            Some(i) => i,
            None if failed => 0,
            None => {
                errs.push(error(
                    VARIABLE,
                    format!(
                        "the hosts file {shown} says default = {d:?}, which names no host in it"
                    ),
                    format!("Name one of its hosts: {}.", names.join(", ")),
                ));
                return None;
            }
        },
    };
    (!failed).then_some((hosts, default))
}

fn check_name(name: &str) -> Result<(), String> {
    let ok = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!("{name:?} is not a usable host name"))
    }
}

/// The key that stands for `variable`.
fn key_of(variable: &str) -> Option<&'static str> {
    KEYS.iter().find(|(_, v)| *v == variable).map(|(k, _)| *k)
}

/// The settings of one table as the single-host variables, validated.
fn host(raw: &RawConfig, name: &str, e: &Entry, errs: &mut Errors) -> Option<NamedHost> {
    let mut own = raw.clone();
    for (_, variable) in KEYS {
        own.unset(variable);
    }
    own.set("HOST", e.address.clone());
    let mut set = |variable: &str, value: Option<String>| {
        if let Some(v) = value {
            own.set(variable, v);
        }
    };
    set("SSH_PORT", e.port.map(|p| p.to_string()));
    set("SSH_USERNAME", e.user.clone());
    set("SSH_KEY", e.key.clone());
    set("SSH_KNOWN_HOSTS", e.known_hosts.clone());
    set("SSH_PROXY_JUMP", e.proxy_jump.clone());
    set(
        "SSH_STRICT_HOST_KEY_CHECKING",
        e.strict_host_key_checking.as_ref().map(|v| match v {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
    );
    for (variable, named) in [
        ("SSH_PASSWORD", &e.password_env),
        ("SSH_KEY_PASSPHRASE", &e.key_passphrase_env),
    ] {
        let Some(env) = named else { continue };
        match raw
            .get(env)
            .map(str::to_string)
            .or_else(|| std::env::var(env).ok().filter(|v| !v.is_empty()))
        {
            Some(secret) => own.set(variable, secret),
            None => errs.push(error(
                variable,
                format!("names the variable {env}, which is not set"),
                format!("Set {env} in the server's environment, or remove the key."),
            )),
        }
    }
    let mut own = own.resolved(errs);
    let key_from_default = own.get("SSH_KEY").is_none();
    for variable in DEFAULTS {
        if own.get(variable).is_none()
            && let Some(v) = raw.get(variable)
        {
            own.set(variable, v);
        }
    }
    if key_from_default
        && e.key_passphrase_env.is_none()
        && let Some(p) = raw.get("SSH_KEY_PASSPHRASE")
    {
        own.set("SSH_KEY_PASSPHRASE", p);
    }
    let proxmox = match e.proxmox {
        Some(p) => Some(p),
        None => errs.take(raw.boolean("ENABLE_PROXMOX", false)),
    };
    let target = own.target(errs);
    Some(NamedHost {
        name: name.to_string(),
        target: target?,
        proxmox: proxmox?,
    })
}

/// An error of one table's settings, named by the file, the table and the key the
/// table wrote; an error of a default variable keeps the variable's name (and is
/// reported once, not once per host).
fn renamed(e: ConfigError, file: &str, name: &str, entry: &Entry) -> ConfigError {
    let written = |key: &str| match key {
        "address" => true,
        "port" => entry.port.is_some(),
        "user" => entry.user.is_some(),
        "key" => entry.key.is_some(),
        "key_passphrase_env" => entry.key_passphrase_env.is_some(),
        "password_env" => entry.password_env.is_some(),
        "known_hosts" => entry.known_hosts.is_some(),
        "strict_host_key_checking" => entry.strict_host_key_checking.is_some(),
        "proxy_jump" => entry.proxy_jump.is_some(),
        _ => false,
    };
    match key_of(&e.variable).filter(|k| written(k)) {
        Some(key) => {
            let said = |text: String| {
                let mut text = text;
                // Longest first: SSH_KEY_PASSPHRASE before SSH_KEY.
                let mut keys: Vec<_> = KEYS.to_vec();
                keys.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
                for (k, v) in keys {
                    text = text.replace(v, k);
                }
                text
            };
            ConfigError {
                variable: format!("{file}: [hosts.{name}] {key}"),
                problem: said(e.problem),
                fix: said(e.fix),
            }
        }
        None => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AuthMethod, ConfigErrors, HostKeyPolicy, Secret};

    /// A home with an SSH key, and a hosts file of `text` in it.
    fn home(text: &str) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("id_test"), "key").unwrap();
        let file = dir.path().join("hosts.toml");
        std::fs::write(&file, text).unwrap();
        (dir, file.display().to_string())
    }

    fn validate(
        dir: &tempfile::TempDir,
        pairs: &[(&str, &str)],
    ) -> Result<crate::config::Config, ConfigErrors> {
        let home = dir.path().display().to_string();
        let key = dir.path().join("id_test").display().to_string();
        let mut all = vec![
            ("I_ACCEPT_RISKS", "true"),
            ("HOME", home.as_str()),
            ("SSH_CONFIG", "none"),
            ("SSH_KEY", key.as_str()),
        ];
        all.extend_from_slice(pairs);
        RawConfig::from_pairs(all).validate()
    }

    const TWO: &str = r#"
        [hosts.web]
        address = "192.0.2.10"
        user = "deploy"
        password_env = "WEB_PASSWORD"
        strict_host_key_checking = "accept-new"

        [hosts.pve]
        address = "192.0.2.20"
        port = 2222
        proxmox = true
        known_hosts = "~/kh"
    "#;

    #[test]
    fn a_file_of_two_hosts_keeps_their_order_and_their_own_settings() {
        let (dir, file) = home(TWO);
        let c = validate(
            &dir,
            &[
                (VARIABLE, &file),
                ("WEB_PASSWORD", "w3b"),
                ("SSH_USERNAME", "admin"),
            ],
        )
        .unwrap();
        let names: Vec<&str> = c.hosts.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["web", "pve"]);
        assert_eq!(c.default_host().name, "web");
        let (web, pve) = (&c.hosts[0], &c.hosts[1]);
        assert_eq!(
            (web.target.host.as_str(), web.target.port),
            ("192.0.2.10", 22)
        );
        assert_eq!(web.target.user, "deploy");
        assert_eq!(web.target.host_key_policy, HostKeyPolicy::AcceptNew);
        assert!(!web.proxmox);
        // The key is everyone's default; the password only the host that names it.
        assert!(matches!(&web.target.auth[0], AuthMethod::Key { .. }));
        assert_eq!(web.target.auth[1], AuthMethod::Password(Secret::new("w3b")));
        assert_eq!(pve.target.auth.len(), 1);
        assert_eq!((pve.target.port, pve.target.user.as_str()), (2222, "admin"));
        assert_eq!(pve.target.known_hosts, dir.path().join("kh"));
        assert!(pve.proxmox && c.enable_proxmox);
        assert_eq!(c.describe(), "2 hosts (web, pve)");
    }

    #[test]
    fn default_names_the_host_of_calls_without_one() {
        let (dir, file) = home(&format!("default = \"pve\"\n{TWO}"));
        let c = validate(&dir, &[(VARIABLE, &file), ("WEB_PASSWORD", "x")]).unwrap();
        assert_eq!(c.default_host().name, "pve");
        assert_eq!(c.target().port, 2222);
        let (dir, file) = home(&format!("default = \"db\"\n{TWO}"));
        let err = validate(&dir, &[(VARIABLE, &file), ("WEB_PASSWORD", "x")]).unwrap_err();
        assert!(
            err.to_string()
                .contains("default = \"db\", which names no host")
                && err.to_string().contains("web, pve"),
            "{err}"
        );
    }

    #[test]
    fn the_default_file_is_read_only_when_host_is_unset() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("id_test"), "key").unwrap();
        let conf = dir.path().join(".config/mcp-remote-exec");
        std::fs::create_dir_all(&conf).unwrap();
        std::fs::write(conf.join("hosts.toml"), "[hosts.a]\naddress = \"a.lan\"\n").unwrap();
        let c = validate(&dir, &[]).unwrap();
        assert_eq!((c.hosts.len(), c.target().host.as_str()), (1, "a.lan"));
        assert_eq!(c.default_host().name, "a");
        // The file is the server's own: no file tool may touch it.
        let file = conf.join("hosts.toml");
        assert!(
            c.policy
                .check_local(&file, crate::policy::Access::Read)
                .is_err()
        );
        let c = validate(&dir, &[("HOST", "b.lan")]).unwrap();
        assert_eq!(c.default_host().name, "b.lan");
    }

    #[test]
    fn settings_that_belong_to_one_host_are_refused_beside_a_file() {
        let (dir, file) = home(TWO);
        let err = validate(
            &dir,
            &[
                (VARIABLE, &file),
                ("HOST", "x.lan"),
                ("SSH_PASSWORD", "p"),
                ("SSH_PORT", "22"),
                ("WEB_PASSWORD", "x"),
            ],
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("and so is HOST"), "{text}");
        let (dir, file) = home(TWO);
        let err = validate(
            &dir,
            &[
                (VARIABLE, &file),
                ("SSH_PASSWORD", "p"),
                ("WEB_PASSWORD", "x"),
            ],
        )
        .unwrap_err();
        assert_eq!(err[0].variable, "SSH_PASSWORD");
        assert!(err.to_string().contains("write `password_env`"), "{err}");
        assert!(!err.to_string().contains("\"p\""), "{err}");
    }

    #[test]
    fn a_bad_table_is_named_with_its_key_and_the_fix() {
        let (dir, file) = home("[hosts.a]\naddress = \"a\"\nport = 0\n");
        let err = validate(&dir, &[(VARIABLE, &file)]).unwrap_err();
        assert!(err[0].variable.ends_with("[hosts.a] port"), "{err}");
        assert!(
            err.to_string().contains("Set port to the SSH port"),
            "{err}"
        );
        let (dir, file) = home("[hosts.a]\naddress = \"a:2222\"\n");
        let err = validate(&dir, &[(VARIABLE, &file)]).unwrap_err();
        assert!(err.to_string().contains("address=a port=2222"), "{err}");
        let (dir, file) = home("[hosts.a]\naddress = \"a\"\npasword_env = \"X\"\n");
        let err = validate(&dir, &[(VARIABLE, &file)]).unwrap_err();
        assert!(err.to_string().contains("pasword_env"), "{err}");
        let (dir, file) =
            home("[hosts.a]\naddress = \"a\"\npassword_env = \"NOT_SET_ANYWHERE_1\"\n");
        let err = validate(&dir, &[(VARIABLE, &file)]).unwrap_err();
        assert!(
            err.to_string()
                .contains("password_env: names the variable NOT_SET_ANYWHERE_1, which is not set"),
            "{err}"
        );
        let (dir, file) = home("[hosts.\"a b\"]\naddress = \"a\"\n");
        let err = validate(&dir, &[(VARIABLE, &file)]).unwrap_err();
        assert!(
            err.to_string()
                .contains("\"a b\" is not a usable host name"),
            "{err}"
        );
        let (dir, file) = home("default = \"a\"\n");
        let err = validate(&dir, &[(VARIABLE, &file)]).unwrap_err();
        assert!(err.to_string().contains("lists no hosts"), "{err}");
        let err = validate(&dir, &[(VARIABLE, "/nonexistent/hosts.toml")]).unwrap_err();
        assert!(err.to_string().contains("cannot be read"), "{err}");
    }

    #[test]
    fn a_default_variables_error_is_said_once() {
        let (dir, file) = home("[hosts.a]\naddress = \"a\"\n[hosts.b]\naddress = \"b\"\n");
        let err = validate(&dir, &[(VARIABLE, &file), ("TIMEOUT", "never")]).unwrap_err();
        assert_eq!(err.len(), 1, "{err}");
        assert_eq!(err[0].variable, "TIMEOUT");
    }

    #[test]
    fn an_address_may_be_an_ssh_config_alias_and_the_table_wins_over_it() {
        let (dir, file) = home(
            "[hosts.a]\naddress = \"pvealias\"\nuser = \"ops\"\n[hosts.b]\naddress = \"pvealias\"\n",
        );
        let config = dir.path().join("ssh_config");
        std::fs::write(
            &config,
            "Host pvealias\n  HostName 192.0.2.30\n  Port 2200\n  User admin\n",
        )
        .unwrap();
        let c = validate(
            &dir,
            &[
                (VARIABLE, &file),
                ("SSH_CONFIG", config.to_str().unwrap()),
                ("SSH_USERNAME", "everyone"),
            ],
        )
        .unwrap();
        let (a, b) = (&c.hosts[0].target, &c.hosts[1].target);
        assert_eq!(
            (a.host.as_str(), a.port, a.user.as_str()),
            ("192.0.2.30", 2200, "ops")
        );
        // The alias's User before the everyone's-default SSH_USERNAME.
        assert_eq!(b.user, "admin");
    }

    #[test]
    fn a_tables_proxy_jump_is_its_own_and_its_password_goes_to_it_alone() {
        let (dir, file) = home(
            "[hosts.behind]\naddress = \"10.0.0.5\"\nproxy_jump = \"jump@192.0.2.1:2022\"\npassword_env = \"BEHIND_PW\"\n\
             [hosts.front]\naddress = \"192.0.2.1\"\n",
        );
        let c = validate(&dir, &[(VARIABLE, &file), ("BEHIND_PW", "s3cret")]).unwrap();
        let (behind, front) = (&c.hosts[0].target, &c.hosts[1].target);
        assert_eq!(behind.jumps.len(), 1);
        let jump = &behind.jumps[0];
        assert_eq!(
            (jump.host.as_str(), jump.port, jump.user.as_str()),
            ("192.0.2.1", 2022, "jump")
        );
        let has_password = |t: &crate::config::SshTarget| {
            t.auth.iter().any(|a| matches!(a, AuthMethod::Password(_)))
        };
        assert!(has_password(behind));
        assert!(!has_password(jump) && !has_password(front));
        assert!(front.jumps.is_empty());
    }
}
