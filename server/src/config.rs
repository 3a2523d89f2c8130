//! Configuration in two stages: raw settings (CLI flags, the environment, a `.env`
//! file in the working directory — in that order of precedence) are validated into one
//! [`Config`]. Every error names the variable, the bad value (never a secret) and the fix.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A secret string: never printed, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret itself; only for handing to the SSH library.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What to do with a host key that is not in known_hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKeyPolicy {
    /// Unknown or changed keys are refused (`true`, the default).
    Strict,
    /// Unknown keys are learned into known_hosts; changed keys are refused.
    AcceptNew,
    /// Any key is accepted, with a warning (`false`).
    AcceptAny,
}

/// A setting written as one of a few words (case-insensitive).
pub trait Words: Copy + PartialEq + 'static {
    /// Each word with the value it stands for.
    const WORDS: &'static [(&'static str, Self)];

    /// The word this value is written as.
    fn word(self) -> &'static str {
        Self::WORDS
            .iter()
            .find(|(_, v)| *v == self)
            .map(|(word, _)| *word)
            .expect("every value has a word")
    }
}

impl Words for HostKeyPolicy {
    const WORDS: &'static [(&'static str, Self)] = &[
        ("true", HostKeyPolicy::Strict),
        ("accept-new", HostKeyPolicy::AcceptNew),
        ("false", HostKeyPolicy::AcceptAny),
    ];
}

/// How to log in, in the order methods are tried. Only configured methods are tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMethod {
    Key {
        path: PathBuf,
        passphrase: Option<Secret>,
    },
    Password(Secret),
    /// ssh-agent at this socket (used when neither key nor password is set).
    Agent(PathBuf),
}

/// One SSH destination and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub auth: Vec<AuthMethod>,
    pub known_hosts: PathBuf,
    pub host_key_policy: HostKeyPolicy,
    pub connect_timeout: Duration,
    pub keepalive: Duration,
    /// Jump hosts to pass through, outermost first (`ProxyJump`): the first is reached
    /// directly, each next one (and then this host) through a `direct-tcpip` channel of
    /// the one before. Each hop's host key is verified by its own settings.
    pub jumps: Vec<SshTarget>,
    /// The name its host key is listed under in `known_hosts`, instead of the
    /// address (OpenSSH's `HostKeyAlias`): a cluster node reached by its cluster
    /// address is known by its node name.
    pub host_key_alias: Option<String>,
}

impl SshTarget {
    /// The host and port its key is looked up (and learned) under in known_hosts:
    /// the alias alone when there is one (OpenSSH ignores the port then), else the
    /// address and port.
    pub fn known_hosts_name(&self) -> (&str, u16) {
        match &self.host_key_alias {
            Some(alias) => (alias, 22),
            None => (&self.host, self.port),
        }
    }

    /// `user@host:port` (and `via user@jump:port, …` when jumps lead there), for
    /// messages and as the pool's key.
    pub fn display(&self) -> String {
        let mut s = self.endpoint();
        if let Some(alias) = &self.host_key_alias {
            // Part of the pool's key: the same address under another node name is
            // another host.
            s.push_str(&format!(" ({alias})"));
        }
        if !self.jumps.is_empty() {
            let via: Vec<String> = self.jumps.iter().map(SshTarget::endpoint).collect();
            s.push_str(" via ");
            s.push_str(&via.join(", "));
        }
        s
    }

    /// `user@host:port` of this hop alone.
    pub fn endpoint(&self) -> String {
        format!("{}@{}:{}", self.user, self.host, self.port)
    }
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The hosts the tools reach, by name, in the order they were listed: HOST alone
    /// (named as written), or the named-hosts file's ([`crate::hosts`]). Never empty.
    pub hosts: Vec<NamedHost>,
    /// Which of `hosts` a tool call without `host` goes to.
    pub default_host: usize,
    /// Output truncation limit, in characters.
    pub character_limit: usize,
    /// Largest file moved by one transfer, in bytes.
    pub max_file_size: u64,
    /// Whether any host is a Proxmox VE node (the proxmox_* tools are registered).
    pub enable_proxmox: bool,
    /// With ENABLE_PROXMOX: whether the VM tools are registered (PROXMOX_VMS, default
    /// true), so that a user without VMs can keep the tool list small.
    pub proxmox_vms: bool,
    /// What the assistant may do, beyond the host's own permissions.
    pub policy: crate::policy::Policy,
}

/// One host the tools can reach, by the name tools call it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedHost {
    pub name: String,
    pub target: SshTarget,
    /// A Proxmox VE node: the proxmox_* tools act on it.
    pub proxmox: bool,
}

impl Config {
    /// The host a tool call without `host` goes to.
    pub fn default_host(&self) -> &NamedHost {
        &self.hosts[self.default_host]
    }

    /// The default host's SSH target.
    pub fn target(&self) -> &SshTarget {
        &self.default_host().target
    }

    /// The hosts for messages: the one host's `user@host:port`, or `3 hosts (a, b, c)`.
    pub fn describe(&self) -> String {
        match self.hosts.as_slice() {
            [one] => one.target.display(),
            many => format!(
                "{} hosts ({})",
                many.len(),
                many.iter()
                    .map(|h| h.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// A configuration of one host (named `name`) with the default limits and
    /// `policy`: for embedding, e.g. the fake node.
    pub fn single(
        name: &str,
        target: SshTarget,
        proxmox: bool,
        policy: crate::policy::Policy,
    ) -> Self {
        Config {
            hosts: vec![NamedHost {
                name: name.to_string(),
                target,
                proxmox,
            }],
            default_host: 0,
            character_limit: 25_000,
            max_file_size: 10 * 1024 * 1024,
            enable_proxmox: proxmox,
            proxmox_vms: true,
            policy,
        }
    }
}

/// A configuration error a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {problem}. {fix}")]
pub struct ConfigError {
    pub variable: String,
    pub problem: String,
    pub fix: String,
}

/// Every configuration error found, in the order of the settings; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let [one] = self.0.as_slice() {
            return write!(f, "{one}");
        }
        write!(f, "{} configuration errors:", self.0.len())?;
        for e in &self.0 {
            write!(f, "\n  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl std::ops::Deref for ConfigErrors {
    type Target = [ConfigError];
    fn deref(&self) -> &[ConfigError] {
        &self.0
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        ConfigErrors(vec![e])
    }
}

/// Collects errors while validation goes on, so that all are reported at once.
#[derive(Default)]
pub(crate) struct Errors(Vec<ConfigError>);

impl Errors {
    /// The value, or `None` with the error kept.
    pub(crate) fn take<T>(&mut self, r: Result<T, ConfigError>) -> Option<T> {
        r.map_err(|e| self.0.push(e)).ok()
    }

    pub(crate) fn push(&mut self, e: ConfigError) {
        self.0.push(e);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn into_vec(self) -> Vec<ConfigError> {
        self.0
    }
}

pub(crate) fn error(
    variable: &str,
    problem: impl Into<String>,
    fix: impl Into<String>,
) -> ConfigError {
    ConfigError {
        variable: variable.into(),
        problem: problem.into(),
        fix: fix.into(),
    }
}

/// The variables we read, for `--help` and for collecting them.
pub const VARIABLES: &[&str] = &[
    "I_ACCEPT_RISKS",
    "HOST",
    "SSH_PORT",
    "SSH_USERNAME",
    "SSH_PASSWORD",
    "SSH_KEY",
    "SSH_KEY_PASSPHRASE",
    "SSH_AUTH_SOCK",
    "SSH_KNOWN_HOSTS",
    "SSH_STRICT_HOST_KEY_CHECKING",
    "SSH_CONFIG",
    "SSH_PROXY_JUMP",
    "CHARACTER_LIMIT",
    "MAX_FILE_SIZE",
    "TIMEOUT",
    "ENABLE_PROXMOX",
    "PROXMOX_VMS",
    "READ_ONLY",
    "COMMAND_ALLOW",
    "COMMAND_DENY",
    "LOCAL_ROOTS",
    "PROXMOX_GUEST_ALLOW",
    "CONFIRM_DESTRUCTIVE",
    "CONFIRM_EXEC",
    "AUDIT_LOG",
    "MCP_REMOTE_EXEC_HOSTS",
    "HOME",
];

const SECRETS: &[&str] = &["SSH_PASSWORD", "SSH_KEY_PASSPHRASE"];

/// Raw settings by variable name, before validation.
#[derive(Debug, Clone, Default)]
pub struct RawConfig {
    values: BTreeMap<String, String>,
}

impl RawConfig {
    /// Reads `.env` in `dir` (if present), then the process environment over it.
    pub fn from_env_and_dotenv(dir: &Path) -> Result<Self, ConfigError> {
        let mut values = BTreeMap::new();
        let dotenv = dir.join(".env");
        if dotenv.exists() {
            let iter = dotenvy::from_path_iter(&dotenv).map_err(|e| {
                error(
                    ".env",
                    format!("cannot read {}: {e}", dotenv.display()),
                    "Fix or remove the file.",
                )
            })?;
            for item in iter {
                let (k, v) = item.map_err(|e| {
                    error(
                        ".env",
                        format!("{} is not valid: {e}", dotenv.display()),
                        "Use KEY=value lines.",
                    )
                })?;
                if VARIABLES.contains(&k.as_str()) {
                    values.insert(k, v);
                }
            }
        }
        for name in VARIABLES {
            if let Ok(v) = std::env::var(name) {
                values.insert((*name).to_string(), v);
            }
        }
        Ok(RawConfig { values })
    }

    /// Raw settings from explicit pairs (tests, embedding).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        RawConfig {
            values: pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// A flag given on the command line overrides the environment.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.values.insert(name.to_string(), value.into());
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    pub(crate) fn shown(&self, name: &str) -> String {
        match self.get(name) {
            Some(_) if SECRETS.contains(&name) => "<redacted>".into(),
            Some(v) => format!("{v:?}"),
            None => "unset".into(),
        }
    }

    fn number<T>(
        &self,
        name: &str,
        default: T,
        min: T,
        max: T,
        what: &str,
    ) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
    {
        let Some(v) = self.get(name) else {
            return Ok(default);
        };
        match v.trim().parse::<T>() {
            Ok(n) if n >= min && n <= max => Ok(n),
            _ => Err(error(
                name,
                format!(
                    "{} is not a whole number from {min} to {max}",
                    self.shown(name)
                ),
                format!("Set {name} to {what}, e.g. {default}."),
            )),
        }
    }

    pub(crate) fn boolean(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if v == "true" => Ok(true),
            Some(v) if v == "false" => Ok(false),
            Some(_) => Err(error(
                name,
                format!("{} is not a boolean", self.shown(name)),
                format!("Set {name}=true or {name}=false."),
            )),
        }
    }

    /// Settings the server needs even before it connects (`check` and serving): every
    /// error at once.
    pub fn validate(&self) -> Result<Config, ConfigErrors> {
        let mut errs = Errors::default();
        match self
            .get("I_ACCEPT_RISKS")
            .map(|v| v.trim().to_ascii_lowercase())
        {
            Some(v) if v == "true" => {}
            _ => errs.push(error(
                "I_ACCEPT_RISKS",
                format!(
                    "is {}; this server lets an AI assistant run any command on the configured host",
                    self.shown("I_ACCEPT_RISKS")
                ),
                "If you accept that, set I_ACCEPT_RISKS=true.",
            )),
        }
        let config = self.collect(&mut errs);
        match config {
            Some(c) if errs.0.is_empty() => Ok(c),
            _ => Err(ConfigErrors(errs.0)),
        }
    }

    /// These settings with `~/.ssh/config` applied to HOST ([`crate::ssh_config`]); on
    /// an error there, the settings as given (and the error is kept).
    pub(crate) fn resolved(&self, errs: &mut Errors) -> RawConfig {
        match self.with_ssh_config() {
            Ok(r) => r,
            Err(e) => {
                errs.push(e);
                self.clone()
            }
        }
    }

    /// Everything except the risk acknowledgement.
    pub fn validate_target_and_limits(&self) -> Result<Config, ConfigErrors> {
        let mut errs = Errors::default();
        match self.collect(&mut errs) {
            Some(c) if errs.0.is_empty() => Ok(c),
            _ => Err(ConfigErrors(errs.0)),
        }
    }

    fn collect(&self, errs: &mut Errors) -> Option<Config> {
        let hosts = crate::hosts::from_raw(self, errs);
        let character_limit: Option<usize> = errs.take(self.number(
            "CHARACTER_LIMIT",
            25_000,
            100,
            10_000_000,
            "the most characters of output a tool returns",
        ));
        let max_file_size: Option<u64> = errs.take(self.number(
            "MAX_FILE_SIZE",
            10_485_760,
            1,
            u64::MAX / 2,
            "the largest transfer in bytes",
        ));
        let proxmox_vms = errs.take(self.boolean("PROXMOX_VMS", true));
        let listed = hosts
            .as_ref()
            .map(|(h, _, _)| h.as_slice())
            .unwrap_or_default();
        let key_of = |t: &SshTarget| {
            t.auth.iter().find_map(|m| match m {
                AuthMethod::Key { path, .. } => Some(path.clone()),
                _ => None,
            })
        };
        let policy = crate::policy::Policy::from_raw(
            self,
            errs,
            &crate::policy::OwnFiles {
                home: self.home(),
                keys: listed.iter().filter_map(|h| key_of(&h.target)).collect(),
                known_hosts: listed
                    .iter()
                    .map(|h| h.target.known_hosts.clone())
                    .collect(),
                hosts_file: hosts.as_ref().and_then(|(_, _, f)| f.clone()),
            },
        );
        let (hosts, default_host, _) = hosts?;
        Some(Config {
            enable_proxmox: hosts.iter().any(|h| h.proxmox),
            hosts,
            default_host,
            character_limit: character_limit?,
            max_file_size: max_file_size?,
            proxmox_vms: proxmox_vms?,
            policy: policy?,
        })
    }

    /// The SSH target these settings (HOST and the SSH_* variables, `~/.ssh/config`
    /// already applied) describe.
    pub(crate) fn target(&self, errs: &mut Errors) -> Option<SshTarget> {
        let host = errs.take(self.host());
        let port: Option<u16> = errs.take(self.number("SSH_PORT", 22, 1, 65535, "the SSH port"));
        let user = self
            .get("SSH_USERNAME")
            .unwrap_or("root")
            .trim()
            .to_string();
        let auth = errs.take(self.auth());
        let known_hosts = errs.take(self.known_hosts());
        let host_key_policy = errs.take(self.host_key_policy());
        let timeout: Option<u64> =
            errs.take(self.number("TIMEOUT", 30, 1, 3600, "the connect timeout in seconds"));
        let mut target = SshTarget {
            host: host?,
            port: port?,
            user,
            auth: auth?,
            known_hosts: known_hosts?,
            host_key_policy: host_key_policy?,
            connect_timeout: Duration::from_secs(timeout?),
            keepalive: Duration::from_secs(15),
            jumps: Vec::new(),
            host_key_alias: None,
        };
        target.jumps = errs.take(self.jump_hosts(&target))?;
        Some(target)
    }

    /// These settings without `name`.
    pub(crate) fn unset(&mut self, name: &str) {
        self.values.remove(name);
    }

    /// The policy settings alone (for a target that is not configured here, e.g. the
    /// embedded fake node).
    pub fn policy(&self) -> Result<crate::policy::Policy, ConfigErrors> {
        let mut errs = Errors::default();
        let own = crate::policy::OwnFiles {
            home: self.home(),
            keys: Vec::new(),
            known_hosts: Vec::new(),
            hosts_file: None,
        };
        match crate::policy::Policy::from_raw(self, &mut errs, &own) {
            Some(p) if errs.0.is_empty() => Ok(p),
            _ => Err(ConfigErrors(errs.0)),
        }
    }

    pub(crate) fn home(&self) -> Option<PathBuf> {
        self.get("HOME").map(PathBuf::from)
    }

    /// `~/x` against HOME.
    pub(crate) fn expand(&self, p: &str) -> PathBuf {
        match (p.strip_prefix("~/"), self.home()) {
            (Some(rest), Some(h)) => h.join(rest),
            _ => PathBuf::from(p),
        }
    }

    fn host(&self) -> Result<String, ConfigError> {
        let host = self
            .get("HOST")
            .map(|h| h.trim().to_string())
            .ok_or_else(|| {
                error(
                    "HOST",
                    "is not set",
                    "Set HOST to the SSH server's name or address, e.g. HOST=pve.example.lan; or, for several hosts, name a hosts file in MCP_REMOTE_EXEC_HOSTS (docs/hosts.md).",
                )
            })?;
        if host.contains(char::is_whitespace) || host.contains('@') || host.is_empty() {
            return Err(error(
                "HOST",
                format!("{} is not a host name or address", self.shown("HOST")),
                "Give only the host (the user goes in SSH_USERNAME, the port in SSH_PORT).",
            ));
        }
        // `[v6]` is an IPv6 address as OpenSSH writes it; `[v6]:port` and
        // `name:port` carry a port, which belongs in SSH_PORT (not parsed here, so
        // that it can never disagree with SSH_PORT).
        let (bare, port) = match host.strip_prefix('[') {
            Some(rest) => match rest.split_once(']') {
                Some((v6, "")) => (v6.to_string(), None),
                Some((v6, tail)) => (
                    v6.to_string(),
                    Some(tail.trim_start_matches(':').to_string()),
                ),
                None => (host.clone(), None),
            },
            None => match host.split_once(':') {
                Some((name, port)) if !port.contains(':') => {
                    (name.to_string(), Some(port.to_string()))
                }
                _ => (host.clone(), None),
            },
        };
        if let Some(port) = port {
            return Err(error(
                "HOST",
                format!("{} holds a port", self.shown("HOST")),
                format!(
                    "Give the host alone and the port in SSH_PORT, e.g. HOST={bare} SSH_PORT={port}."
                ),
            ));
        }
        if bare.contains(['[', ']', '/']) {
            return Err(error(
                "HOST",
                format!("{} is not a host name or address", self.shown("HOST")),
                "Give a host name, an IPv4 address or an IPv6 address (bare or in brackets).",
            ));
        }
        Ok(bare)
    }

    fn auth(&self) -> Result<Vec<AuthMethod>, ConfigError> {
        let mut auth = Vec::new();
        if let Some(key) = self.get("SSH_KEY") {
            let path = self.expand(key.trim());
            if !path.is_file() {
                return Err(error(
                    "SSH_KEY",
                    format!("{} is not a readable file", self.shown("SSH_KEY")),
                    "Set SSH_KEY to the path of an OpenSSH private key, e.g. ~/.ssh/id_ed25519.",
                ));
            }
            auth.push(AuthMethod::Key {
                path,
                passphrase: self.get("SSH_KEY_PASSPHRASE").map(Secret::new),
            });
        } else if self.get("SSH_KEY_PASSPHRASE").is_some() {
            return Err(error(
                "SSH_KEY_PASSPHRASE",
                "is set but SSH_KEY is not",
                "Set SSH_KEY to the encrypted key's path, or remove SSH_KEY_PASSPHRASE.",
            ));
        }
        if let Some(pw) = self.values.get("SSH_PASSWORD").filter(|p| !p.is_empty()) {
            auth.push(AuthMethod::Password(Secret::new(pw.clone())));
        }
        if auth.is_empty() {
            match self.get("SSH_AUTH_SOCK") {
                Some(sock) => auth.push(AuthMethod::Agent(PathBuf::from(sock))),
                None => {
                    return Err(error(
                        "SSH_KEY",
                        "no login method is configured (SSH_KEY, SSH_PASSWORD and SSH_AUTH_SOCK are all unset)",
                        "Set SSH_KEY to a private key file, or SSH_PASSWORD, or run an ssh-agent.",
                    ));
                }
            }
        }
        Ok(auth)
    }

    fn known_hosts(&self) -> Result<PathBuf, ConfigError> {
        match self.get("SSH_KNOWN_HOSTS") {
            Some(p) => Ok(self.expand(p.trim())),
            None => match self.home() {
                Some(h) => Ok(h.join(".ssh").join("known_hosts")),
                None => Err(error(
                    "SSH_KNOWN_HOSTS",
                    "is unset and HOME is unset, so ~/.ssh/known_hosts cannot be found",
                    "Set SSH_KNOWN_HOSTS to your known_hosts file.",
                )),
            },
        }
    }

    fn host_key_policy(&self) -> Result<HostKeyPolicy, ConfigError> {
        self.choice(
            "SSH_STRICT_HOST_KEY_CHECKING",
            HostKeyPolicy::Strict,
            "Use true (unknown or changed keys refused), accept-new (unknown keys learned, changed keys refused) or false (any key accepted).",
        )
    }

    /// One of a setting's words (case-insensitive), or `default` when unset.
    pub(crate) fn choice<T: Words>(
        &self,
        name: &str,
        default: T,
        fix: &str,
    ) -> Result<T, ConfigError> {
        let Some(v) = self.get(name) else {
            return Ok(default);
        };
        let v = v.trim().to_ascii_lowercase();
        T::WORDS
            .iter()
            .find(|(word, _)| *word == v)
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                error(
                    name,
                    format!("{} is not a known setting", self.shown(name)),
                    fix,
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("I_ACCEPT_RISKS", "true"),
            ("HOST", "pve.lan"),
            ("SSH_PASSWORD", "hunter2"),
            ("HOME", "/home/u"),
        ]
    }

    fn with(extra: &[(&'static str, &'static str)]) -> Result<Config, ConfigErrors> {
        let mut pairs = base();
        pairs.extend_from_slice(extra);
        RawConfig::from_pairs(pairs).validate()
    }

    /// The errors of exactly these settings (none of [`base`]).
    fn errors_of(pairs: &[(&str, &str)]) -> ConfigErrors {
        RawConfig::from_pairs(pairs.iter().copied())
            .validate()
            .unwrap_err()
    }

    #[test]
    fn defaults_follow_the_reference() {
        let c = with(&[]).unwrap();
        assert_eq!(c.target().port, 22);
        assert_eq!(c.target().user, "root");
        assert_eq!(c.target().host_key_policy, HostKeyPolicy::Strict);
        assert_eq!(
            c.target().known_hosts,
            PathBuf::from("/home/u/.ssh/known_hosts")
        );
        assert_eq!(c.target().connect_timeout, Duration::from_secs(30));
        assert_eq!(
            (c.character_limit, c.max_file_size, c.enable_proxmox),
            (25_000, 10_485_760, false)
        );
        assert_eq!(
            c.target().auth,
            vec![AuthMethod::Password(Secret::new("hunter2"))]
        );
    }

    #[test]
    fn host_takes_names_and_addresses_and_refuses_a_port() {
        for (given, host) in [
            ("pve.lan", "pve.lan"),
            ("192.0.2.7", "192.0.2.7"),
            ("fe80::1", "fe80::1"),
            ("[fe80::1]", "fe80::1"),
            (" pve ", "pve"),
        ] {
            assert_eq!(
                with(&[("HOST", given)]).unwrap().target().host,
                host,
                "{given}"
            );
        }
        for (given, fix) in [
            ("pve:2222", "HOST=pve SSH_PORT=2222"),
            ("[fe80::1]:2222", "HOST=fe80::1 SSH_PORT=2222"),
        ] {
            let err = with(&[("HOST", given)]).unwrap_err();
            assert_eq!(err[0].variable, "HOST");
            assert!(err.to_string().contains("holds a port"), "{err}");
            assert!(err.to_string().contains(fix), "{err}");
        }
        for bad in ["root@pve", "a b", "[fe80::1", "pve/x"] {
            let err = with(&[("HOST", bad)]).unwrap_err();
            assert!(
                err.to_string().contains("is not a host name or address"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn risks_must_be_accepted() {
        let err = errors_of(&[("HOST", "h"), ("SSH_PASSWORD", "x")]);
        assert_eq!(err[0].variable, "I_ACCEPT_RISKS");
        assert!(err.to_string().contains("set I_ACCEPT_RISKS=true"), "{err}");
        assert!(with(&[("I_ACCEPT_RISKS", "TRUE")]).is_ok());
    }

    #[test]
    fn a_typo_in_host_key_checking_is_an_error_not_a_downgrade() {
        let err = with(&[("SSH_STRICT_HOST_KEY_CHECKING", "flase")]).unwrap_err();
        assert_eq!(err[0].variable, "SSH_STRICT_HOST_KEY_CHECKING");
        assert!(err.to_string().contains("\"flase\""), "{err}");
        assert_eq!(
            with(&[("SSH_STRICT_HOST_KEY_CHECKING", "accept-new")])
                .unwrap()
                .target()
                .host_key_policy,
            HostKeyPolicy::AcceptNew
        );
        assert_eq!(
            with(&[("SSH_STRICT_HOST_KEY_CHECKING", "False")])
                .unwrap()
                .target()
                .host_key_policy,
            HostKeyPolicy::AcceptAny
        );
    }

    #[test]
    fn errors_never_show_secrets() {
        let err = errors_of(&[("I_ACCEPT_RISKS", "true"), ("SSH_PASSWORD", "hunter2")]);
        assert_eq!(err[0].variable, "HOST");
        let err = with(&[("SSH_KEY_PASSPHRASE", "sekrit")]).unwrap_err();
        assert!(!err.to_string().contains("sekrit"), "{err}");
        assert!(!format!("{:?}", with(&[]).unwrap()).contains("hunter2"));
    }

    #[test]
    fn numbers_are_checked_with_their_range() {
        let err = with(&[("SSH_PORT", "70000")]).unwrap_err();
        assert_eq!(err[0].variable, "SSH_PORT");
        assert!(
            err.to_string()
                .contains("\"70000\" is not a whole number from 1 to 65535"),
            "{err}"
        );
        assert_eq!(
            with(&[("CHARACTER_LIMIT", "abc")]).unwrap_err()[0].variable,
            "CHARACTER_LIMIT"
        );
        assert_eq!(
            with(&[("ENABLE_PROXMOX", "yes")]).unwrap_err()[0].variable,
            "ENABLE_PROXMOX"
        );
    }

    #[test]
    fn login_methods() {
        let none = errors_of(&[("I_ACCEPT_RISKS", "true"), ("HOST", "h"), ("HOME", "/h")]);
        assert!(none.to_string().contains("no login method"), "{none}");
        let agent = RawConfig::from_pairs([
            ("I_ACCEPT_RISKS", "true"),
            ("HOST", "h"),
            ("HOME", "/h"),
            ("SSH_AUTH_SOCK", "/run/agent.sock"),
        ])
        .validate()
        .unwrap();
        assert_eq!(
            agent.target().auth,
            vec![AuthMethod::Agent("/run/agent.sock".into())]
        );
        let missing_key = with(&[("SSH_KEY", "/nonexistent/key")]).unwrap_err();
        assert_eq!(missing_key[0].variable, "SSH_KEY");
    }
}
