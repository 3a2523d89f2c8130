//! The command line: the subcommands, the SSH flags (mirroring the variables; flags
//! over the environment over `.env`), `--fake-pve`, and `check`, which reports each
//! step in plain words.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::config::{AuthMethod, Config, ConfigError, HostKeyPolicy, RawConfig, Words};

/// The version with the git revision it was built from (`unknown` outside a checkout).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("MCP_REMOTE_EXEC_REVISION"),
    ")"
);

/// An MCP server (stdio) that runs commands and moves files on a host over SSH, and
/// manages LXC containers on Proxmox VE.
///
/// Configuration comes from flags, then the environment, then a `.env` file in the
/// working directory: I_ACCEPT_RISKS (must be true), HOST (or MCP_REMOTE_EXEC_HOSTS, a
/// file of named hosts), SSH_PORT, SSH_USERNAME,
/// SSH_KEY, SSH_KEY_PASSPHRASE, SSH_PASSWORD, SSH_AUTH_SOCK, SSH_KNOWN_HOSTS,
/// SSH_STRICT_HOST_KEY_CHECKING (true | accept-new | false), SSH_CONFIG,
/// SSH_PROXY_JUMP, TIMEOUT, CHARACTER_LIMIT, MAX_FILE_SIZE, ENABLE_PROXMOX. Passwords are read only from the environment.
/// Logs go to stderr; RUST_LOG chooses what is logged (default
/// "info,rmcp=warn,fake_pve=warn").
///
/// Without a subcommand it serves, and takes the flags of `serve`.
#[derive(Parser, Debug)]
#[command(
    name = "mcp-remote-exec",
    version = VERSION,
    about,
    long_about,
    disable_version_flag = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Print the version and the git revision it was built from.
    #[arg(short = 'V', visible_short_alias = 'v', long, action = ArgAction::Version)]
    version: Option<bool>,
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Serve MCP on standard input and output (the default).
    Serve(ServeArgs),
    /// Check the configuration, connect, run `true` (and find `pct` when
    /// ENABLE_PROXMOX=true), and report each step.
    Check(CheckArgs),
    /// Run the Proxmox plugin's five common use cases against an embedded fake-pve,
    /// through the MCP protocol, printing each call and its result.
    Demo,
    /// Print a completion script for a shell, e.g. `mcp-remote-exec completions bash
    /// > /etc/bash_completion.d/mcp-remote-exec`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// The flags of `serve` (and of the bare command). A new serving option goes here and
/// into [`ServeArgs::or`].
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct ServeArgs {
    #[command(flatten)]
    pub ssh: SshArgs,
    #[command(flatten)]
    pub fake: FakeArgs,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Serve MCP over streamable HTTP at http://ADDR/mcp instead of stdio (e.g.
    /// 127.0.0.1:8080; port 0 picks one). Clients send `Authorization: Bearer <token>`:
    /// MCP_HTTP_TOKEN, or a token generated and printed at start.
    #[arg(long, value_name = "ADDR", value_parser = crate::http::parse_addr)]
    pub http: Option<std::net::SocketAddr>,
}

/// The flags of `check`.
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckArgs {
    #[command(flatten)]
    pub ssh: SshArgs,
    #[command(flatten)]
    pub fake: FakeArgs,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// The owner's limits as flags, each mirroring its variable (README, "Safety"); they
/// apply to the embedded fake node too.
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyArgs {
    /// Register only tools that change nothing on a host (READ_ONLY).
    #[arg(long)]
    pub read_only: bool,
    /// A regular expression every command must match as a whole (COMMAND_ALLOW).
    #[arg(long, value_name = "REGEX")]
    pub command_allow: Option<String>,
    /// A regular expression no command may match (COMMAND_DENY).
    #[arg(long, value_name = "REGEX")]
    pub command_deny: Option<String>,
    /// Local directories (':'-separated) file tools may read and write (LOCAL_ROOTS).
    #[arg(long, value_name = "DIRS")]
    pub local_roots: Option<String>,
    /// Container ids and ranges the proxmox tools may act on, e.g. 100,200-299
    /// (PROXMOX_GUEST_ALLOW).
    #[arg(long, value_name = "IDS")]
    pub proxmox_guest_allow: Option<String>,
    /// ask, never or require (CONFIRM_DESTRUCTIVE, default ask).
    #[arg(long, value_name = "WHEN")]
    pub confirm_destructive: Option<String>,
    /// Ask the user before every command too (CONFIRM_EXEC).
    #[arg(long)]
    pub confirm_exec: bool,
    /// Append one JSON line per tool call to this file (AUDIT_LOG).
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
}

impl PolicyArgs {
    pub fn or(self, earlier: PolicyArgs) -> PolicyArgs {
        PolicyArgs {
            read_only: self.read_only || earlier.read_only,
            command_allow: self.command_allow.or(earlier.command_allow),
            command_deny: self.command_deny.or(earlier.command_deny),
            local_roots: self.local_roots.or(earlier.local_roots),
            proxmox_guest_allow: self.proxmox_guest_allow.or(earlier.proxmox_guest_allow),
            confirm_destructive: self.confirm_destructive.or(earlier.confirm_destructive),
            confirm_exec: self.confirm_exec || earlier.confirm_exec,
            audit_log: self.audit_log.or(earlier.audit_log),
        }
    }

    /// These flags over `raw`.
    pub fn apply(&self, raw: &mut RawConfig) {
        set_given(
            raw,
            [
                ("COMMAND_ALLOW", self.command_allow.clone()),
                ("COMMAND_DENY", self.command_deny.clone()),
                ("LOCAL_ROOTS", self.local_roots.clone()),
                ("PROXMOX_GUEST_ALLOW", self.proxmox_guest_allow.clone()),
                ("CONFIRM_DESTRUCTIVE", self.confirm_destructive.clone()),
                ("AUDIT_LOG", shown(&self.audit_log)),
                ("READ_ONLY", on(self.read_only)),
                ("CONFIRM_EXEC", on(self.confirm_exec)),
            ],
        );
    }

    /// The policy for the embedded fake node: `.env` in `dir`, the environment, these
    /// flags.
    pub fn policy(&self, dir: &Path) -> anyhow::Result<crate::policy::Policy> {
        let mut raw = RawConfig::from_env_and_dotenv(dir)?;
        self.apply(&mut raw);
        raw.policy().map_err(|e| anyhow::anyhow!("{e}"))
    }
}

/// The SSH settings as flags, each mirroring its variable.
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
#[group(id = "ssh_flags", multiple = true)]
pub struct SshArgs {
    /// SSH host (HOST).
    #[arg(long)]
    pub host: Option<String>,
    /// A TOML file of named hosts, instead of HOST (MCP_REMOTE_EXEC_HOSTS; default
    /// ~/.config/mcp-remote-exec/hosts.toml when HOST is unset). See docs/hosts.md.
    #[arg(long, value_name = "FILE")]
    pub hosts: Option<PathBuf>,
    /// SSH port (SSH_PORT, default 22).
    #[arg(long)]
    pub port: Option<u16>,
    /// SSH user (SSH_USERNAME, default root).
    #[arg(long)]
    pub user: Option<String>,
    /// Private key file (SSH_KEY).
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// known_hosts file (SSH_KNOWN_HOSTS, default ~/.ssh/known_hosts).
    #[arg(long)]
    pub known_hosts: Option<PathBuf>,
    /// true, accept-new or false (SSH_STRICT_HOST_KEY_CHECKING, default true).
    #[arg(long)]
    pub strict_host_key_checking: Option<String>,
    /// Connect timeout in seconds (TIMEOUT, default 30).
    #[arg(long)]
    pub timeout: Option<u64>,
    /// Output limit in characters (CHARACTER_LIMIT, default 25000).
    #[arg(long)]
    pub character_limit: Option<u64>,
    /// Largest transfer in bytes (MAX_FILE_SIZE, default 10485760).
    #[arg(long)]
    pub max_file_size: Option<u64>,
    /// Register the proxmox_* tools (ENABLE_PROXMOX).
    #[arg(long)]
    pub enable_proxmox: bool,
}

/// `--fake-pve[=FIXTURE]`.
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct FakeArgs {
    /// Use an embedded FAKE Proxmox VE node (fake-pve) instead of a real host: the
    /// bundled fixture, or `--fake-pve=FILE` for a fixture file. No SSH settings are
    /// needed (and none may be given). For trying the tools without Proxmox.
    #[arg(long, value_name = "FIXTURE", require_equals = true)]
    pub fake_pve: Option<Option<PathBuf>>,
}

/// What the command line asks for: the flags given before a subcommand joined to its
/// own (those after it win).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Serve(ServeArgs),
    Check(CheckArgs),
    Demo,
    Completions(clap_complete::Shell),
}

impl ServeArgs {
    /// These flags, with `earlier`'s where these have none.
    pub fn or(self, earlier: ServeArgs) -> ServeArgs {
        ServeArgs {
            ssh: self.ssh.or(earlier.ssh),
            fake: self.fake.or(earlier.fake),
            policy: self.policy.or(earlier.policy),
            http: self.http.or(earlier.http),
        }
    }
}

impl FakeArgs {
    pub fn or(self, earlier: FakeArgs) -> FakeArgs {
        FakeArgs {
            fake_pve: self.fake_pve.or(earlier.fake_pve),
        }
    }
}

impl SshArgs {
    pub fn or(self, earlier: SshArgs) -> SshArgs {
        SshArgs {
            host: self.host.or(earlier.host),
            hosts: self.hosts.or(earlier.hosts),
            port: self.port.or(earlier.port),
            user: self.user.or(earlier.user),
            key: self.key.or(earlier.key),
            known_hosts: self.known_hosts.or(earlier.known_hosts),
            strict_host_key_checking: self
                .strict_host_key_checking
                .or(earlier.strict_host_key_checking),
            timeout: self.timeout.or(earlier.timeout),
            character_limit: self.character_limit.or(earlier.character_limit),
            max_file_size: self.max_file_size.or(earlier.max_file_size),
            enable_proxmox: self.enable_proxmox || earlier.enable_proxmox,
        }
    }

    /// Raw settings: `.env` in `dir`, the environment over it, these flags (and the
    /// `policy` flags) over both.
    pub fn raw_config(&self, dir: &Path, policy: &PolicyArgs) -> Result<RawConfig, ConfigError> {
        let mut raw = RawConfig::from_env_and_dotenv(dir)?;
        let number = |n: Option<u64>| n.map(|n| n.to_string());
        set_given(
            &mut raw,
            [
                ("HOST", self.host.clone()),
                (crate::hosts::VARIABLE, shown(&self.hosts)),
                ("SSH_PORT", self.port.map(|p| p.to_string())),
                ("SSH_USERNAME", self.user.clone()),
                ("SSH_KEY", shown(&self.key)),
                ("SSH_KNOWN_HOSTS", shown(&self.known_hosts)),
                (
                    "SSH_STRICT_HOST_KEY_CHECKING",
                    self.strict_host_key_checking.clone(),
                ),
                ("TIMEOUT", number(self.timeout)),
                ("CHARACTER_LIMIT", number(self.character_limit)),
                ("MAX_FILE_SIZE", number(self.max_file_size)),
                ("ENABLE_PROXMOX", on(self.enable_proxmox)),
            ],
        );
        policy.apply(&mut raw);
        Ok(raw)
    }
}

/// Sets each variable whose flag was given to the flag's value.
fn set_given<const N: usize>(raw: &mut RawConfig, values: [(&str, Option<String>); N]) {
    for (name, value) in values {
        if let Some(v) = value {
            raw.set(name, v);
        }
    }
}

/// A switch flag as the variable is written: `true` when given.
fn on(given: bool) -> Option<String> {
    given.then(|| "true".to_string())
}

/// A path flag as the variable is written.
fn shown(path: &Option<PathBuf>) -> Option<String> {
    path.as_ref().map(|p| p.display().to_string())
}

/// Parses the process's arguments; on an error (or `--help`, `--version`) prints it
/// and exits as clap does.
pub fn parse() -> Action {
    try_parse_from(std::env::args_os()).unwrap_or_else(|e| e.exit())
}

/// Parses `args` (the program name first).
pub fn try_parse_from<I, T>(args: I) -> Result<Action, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let mut cmd = Cli::command();
    let matches = cmd.try_get_matches_from_mut(args)?;
    let cli = Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))?;
    let mut given = given(&cmd, &matches);
    if let Some((name, sub)) = matches.subcommand() {
        let sub_cmd = cmd
            .find_subcommand(name)
            .expect("a parsed subcommand exists");
        // Flags before the subcommand are its own flags, written early.
        for id in &given {
            if !sub_cmd.get_arguments().any(|a| a.get_id() == id.as_str()) {
                let flag = flag_name(&cmd, id);
                return Err(cmd.clone().error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!("the argument '{flag}' cannot be used with '{name}'"),
                ));
            }
        }
        given.extend(self::given(sub_cmd, sub));
    }
    // `--fake-pve` replaces the SSH settings, wherever either was written.
    if given.iter().any(|id| id == "fake_pve") {
        let ssh: Vec<String> = cmd
            .get_groups()
            .find(|g| g.get_id() == "ssh_flags")
            .map(|g| g.get_args().map(|a| a.to_string()).collect())
            .unwrap_or_default();
        if let Some(id) = given.iter().find(|id| ssh.contains(id)) {
            let flag = flag_name(&cmd, id);
            return Err(cmd.clone().error(
                clap::error::ErrorKind::ArgumentConflict,
                format!(
                    "the argument '--fake-pve' cannot be used with '{flag}' (the fake node comes with its own settings)"
                ),
            ));
        }
    }
    let top = cli.serve;
    Ok(match cli.command {
        None => Action::Serve(top),
        Some(Command::Serve(args)) => Action::Serve(args.or(top)),
        Some(Command::Check(args)) => Action::Check(CheckArgs {
            ssh: args.ssh.or(top.ssh),
            fake: args.fake.or(top.fake),
            policy: args.policy.or(top.policy),
        }),
        Some(Command::Demo) => Action::Demo,
        Some(Command::Completions { shell }) => Action::Completions(shell),
    })
}

/// The ids of `cmd`'s arguments written on the command line (not defaults, not groups).
fn given(cmd: &clap::Command, matches: &ArgMatches) -> Vec<String> {
    matches
        .ids()
        .filter(|id| cmd.get_arguments().any(|a| a.get_id() == *id))
        .filter(|id| matches.value_source(id.as_str()) == Some(ValueSource::CommandLine))
        .map(|id| id.to_string())
        .collect()
}

/// `--long` for an argument id.
fn flag_name(cmd: &clap::Command, id: &str) -> String {
    cmd.get_arguments()
        .find(|a| a.get_id() == id)
        .and_then(|a| a.get_long())
        .map(|l| format!("--{l}"))
        .unwrap_or_else(|| id.to_string())
}

/// Prints the completion script for `shell` to stdout.
pub fn print_completions(shell: clap_complete::Shell) {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "mcp-remote-exec", &mut std::io::stdout());
}

/// A setting's value as it is written: `true`, `accept-new` or `false`.
pub fn strict_host_key_checking(policy: HostKeyPolicy) -> &'static str {
    policy.word()
}

/// The settings of `config`, in the words of the variables, one group a line (each
/// host's after a line naming it, when there are several).
pub fn settings_lines(config: &Config) -> Vec<String> {
    let mut lines = Vec::new();
    let many = config.hosts.len() > 1;
    for (i, h) in config.hosts.iter().enumerate() {
        if many {
            lines.push(format!(
                "host '{}'{}{}:",
                h.name,
                if i == config.default_host {
                    " (the default)"
                } else {
                    ""
                },
                if h.proxmox { ", a Proxmox VE node" } else { "" }
            ));
        }
        lines.extend(
            target_lines(&h.target)
                .into_iter()
                .map(|l| if many { format!("  {l}") } else { l }),
        );
    }
    let t = config.target();
    lines.push(format!(
        "TIMEOUT={} CHARACTER_LIMIT={} MAX_FILE_SIZE={} ENABLE_PROXMOX={}",
        t.connect_timeout.as_secs(),
        config.character_limit,
        config.max_file_size,
        config.enable_proxmox
    ));
    lines
}

/// One target's settings in the words of the variables.
fn target_lines(t: &crate::config::SshTarget) -> Vec<String> {
    let login = t
        .auth
        .iter()
        .map(|a| match a {
            AuthMethod::Key { path, passphrase } => format!(
                "SSH_KEY={}{}",
                path.display(),
                if passphrase.is_some() {
                    " (with SSH_KEY_PASSPHRASE)"
                } else {
                    ""
                }
            ),
            AuthMethod::Password(_) => "SSH_PASSWORD (set, not shown)".into(),
            AuthMethod::Agent(p) => format!("SSH_AUTH_SOCK={} (ssh-agent)", p.display()),
        })
        .collect::<Vec<_>>()
        .join(" then ");
    vec![
        format!(
            "HOST={} SSH_PORT={} SSH_USERNAME={}",
            t.host, t.port, t.user
        ),
        format!(
            "SSH_KNOWN_HOSTS={} SSH_STRICT_HOST_KEY_CHECKING={}",
            t.known_hosts.display(),
            strict_host_key_checking(t.host_key_policy)
        ),
        format!("login by {login}"),
    ]
}

/// Prints `FAIL  what: text`, further lines of `text` indented below.
fn fail(what: &str, text: &str) {
    let mut lines = text.lines();
    println!("FAIL  {what}: {}", lines.next().unwrap_or(""));
    for l in lines {
        println!("      {l}");
    }
}

/// `check`: validates `raw`, then [`check_config`]; returns whether all went well.
pub async fn check(raw: &RawConfig) -> bool {
    match raw.validate() {
        Ok(config) => {
            println!("ok    configuration is valid");
            check_config(&config).await
        }
        Err(e) => {
            fail("configuration", &e.to_string());
            false
        }
    }
}

/// Shows the settings, then for each host connects, logs in, runs `true`, and on a
/// Proxmox VE node finds `pct`: each step in plain words; returns whether all went
/// well.
pub async fn check_config(config: &Config) -> bool {
    for line in settings_lines(config) {
        println!("      {line}");
    }
    let mut all = true;
    let many = config.hosts.len() > 1;
    for h in &config.hosts {
        if many {
            println!("host '{}':", h.name);
        }
        all &= check_host(&h.target, h.proxmox).await;
    }
    all
}

/// [`check_config`]'s steps for one host.
async fn check_host(t: &crate::config::SshTarget, proxmox: bool) -> bool {
    let client = crate::ssh::SshClient::new(t.clone());
    match client.connection().await {
        Ok(_) => println!("ok    connected and logged in to {}", t.display()),
        Err(e) => {
            fail("connect", &e.to_string());
            println!("      {}", e.suggestion());
            return false;
        }
    }
    match run(&client, "true").await {
        Ok(o) if o.exit_code == Some(0) => {
            println!("ok    ran `true` ({} ms)", o.duration.as_millis());
        }
        Ok(o) => {
            fail(
                &format!("`true` exited with {:?}", o.exit_code),
                &String::from_utf8_lossy(&o.stderr.kept()),
            );
            return false;
        }
        Err(e) => {
            fail("running `true`", &e.to_string());
            return false;
        }
    }
    if proxmox {
        match run(&client, "command -v pct").await {
            Ok(o) if o.exit_code == Some(0) => {
                let path = String::from_utf8_lossy(&o.stdout.kept()).trim().to_string();
                println!("ok    ENABLE_PROXMOX=true and the host has pct ({path})");
            }
            Ok(_) => {
                fail(
                    "ENABLE_PROXMOX=true",
                    &format!(
                        "but {} has no `pct` on its PATH, so the proxmox_* tools would fail. \
                         Point HOST at a Proxmox VE node (as root), or set ENABLE_PROXMOX=false \
                         (in a hosts file: proxmox = false).",
                        t.host
                    ),
                );
                return false;
            }
            Err(e) => {
                fail("looking for `pct`", &e.to_string());
                return false;
            }
        }
        if let Ok(o) = run(&client, crate::cluster::read_line()).await
            && o.exit_code == Some(0)
            && let Ok(layout) = crate::cluster::parse(&String::from_utf8_lossy(&o.stdout.kept()))
        {
            println!("ok    {}", crate::cluster::summary(&layout));
        }
    }
    println!("ready: mcp-remote-exec can serve {}", t.display());
    true
}

/// Runs one short command for `check`.
async fn run(
    client: &crate::ssh::SshClient,
    command: &str,
) -> Result<crate::ssh::ExecOutcome, crate::ssh::SshError> {
    let ct = tokio_util::sync::CancellationToken::new();
    crate::ssh::run_command(
        client,
        command,
        std::time::Duration::from_secs(15),
        4096,
        &ct,
    )
    .await
}
