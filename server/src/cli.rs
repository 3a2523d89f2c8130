//! The command line: flags over the environment over `.env`, and the subcommands.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{Config, ConfigError, RawConfig};

/// An MCP server (stdio) that runs commands and moves files on a host over SSH, and
/// manages LXC containers on Proxmox VE.
///
/// Configuration comes from flags, then the environment, then a `.env` file in the
/// working directory: I_ACCEPT_RISKS (must be true), HOST, SSH_PORT, SSH_USERNAME,
/// SSH_KEY, SSH_KEY_PASSPHRASE, SSH_PASSWORD, SSH_AUTH_SOCK, SSH_KNOWN_HOSTS,
/// SSH_STRICT_HOST_KEY_CHECKING (true | accept-new | false), TIMEOUT, CHARACTER_LIMIT,
/// MAX_FILE_SIZE, ENABLE_PROXMOX. Passwords are read only from the environment.
#[derive(Parser, Debug)]
#[command(version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// SSH host (HOST).
    #[arg(long, global = true)]
    pub host: Option<String>,
    /// SSH port (SSH_PORT, default 22).
    #[arg(long, global = true)]
    pub port: Option<u16>,
    /// SSH user (SSH_USERNAME, default root).
    #[arg(long, global = true)]
    pub user: Option<String>,
    /// Private key file (SSH_KEY).
    #[arg(long, global = true)]
    pub key: Option<PathBuf>,
    /// known_hosts file (SSH_KNOWN_HOSTS, default ~/.ssh/known_hosts).
    #[arg(long, global = true)]
    pub known_hosts: Option<PathBuf>,
    /// true, accept-new or false (SSH_STRICT_HOST_KEY_CHECKING, default true).
    #[arg(long, global = true)]
    pub strict_host_key_checking: Option<String>,
    /// Connect timeout in seconds (TIMEOUT, default 30).
    #[arg(long, global = true)]
    pub timeout: Option<u64>,
    /// Output limit in characters (CHARACTER_LIMIT, default 25000).
    #[arg(long, global = true)]
    pub character_limit: Option<u64>,
    /// Largest transfer in bytes (MAX_FILE_SIZE, default 10485760).
    #[arg(long, global = true)]
    pub max_file_size: Option<u64>,
    /// Register the proxmox_* tools (ENABLE_PROXMOX).
    #[arg(long, global = true)]
    pub enable_proxmox: bool,
    /// Serve against an embedded FAKE Proxmox VE node (fake-pve) instead of a real host,
    /// optionally from a fixture file; no SSH settings are needed. For trying the tools
    /// with an MCP client without Proxmox.
    #[arg(long, value_name = "FIXTURE", num_args = 0..=1, default_missing_value = "")]
    pub fake_pve: Option<String>,
    /// Serve MCP over streamable HTTP at http://ADDR/mcp instead of stdio (e.g.
    /// 127.0.0.1:8080; port 0 picks one). Clients send `Authorization: Bearer <token>`:
    /// MCP_HTTP_TOKEN, or a token generated and printed at start.
    #[arg(long, value_name = "ADDR", global = true, value_parser = crate::http::parse_addr)]
    pub http: Option<std::net::SocketAddr>,
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Serve MCP on standard input and output (the default).
    Serve,
    /// Check the configuration, connect, run `true`, and report each step.
    Check,
    /// Run the Proxmox plugin's five common use cases against an embedded fake-pve,
    /// through the MCP protocol, printing each call and its result.
    Demo,
}

impl Cli {
    /// Raw settings: `.env` in `dir`, the environment over it, flags over both.
    pub fn raw_config(&self, dir: &std::path::Path) -> Result<RawConfig, ConfigError> {
        let mut raw = RawConfig::from_env_and_dotenv(dir)?;
        if let Some(v) = &self.host {
            raw.set("HOST", v);
        }
        if let Some(v) = self.port {
            raw.set("SSH_PORT", v.to_string());
        }
        if let Some(v) = &self.user {
            raw.set("SSH_USERNAME", v);
        }
        if let Some(v) = &self.key {
            raw.set("SSH_KEY", v.display().to_string());
        }
        if let Some(v) = &self.known_hosts {
            raw.set("SSH_KNOWN_HOSTS", v.display().to_string());
        }
        if let Some(v) = &self.strict_host_key_checking {
            raw.set("SSH_STRICT_HOST_KEY_CHECKING", v);
        }
        if let Some(v) = self.timeout {
            raw.set("TIMEOUT", v.to_string());
        }
        if let Some(v) = self.character_limit {
            raw.set("CHARACTER_LIMIT", v.to_string());
        }
        if let Some(v) = self.max_file_size {
            raw.set("MAX_FILE_SIZE", v.to_string());
        }
        if self.enable_proxmox {
            raw.set("ENABLE_PROXMOX", "true");
        }
        Ok(raw)
    }
}

/// `check`: each step in plain words; returns whether all went well.
pub async fn check(raw: &RawConfig) -> bool {
    let config: Config = match raw.validate() {
        Ok(c) => {
            println!("ok    configuration is valid");
            c
        }
        Err(e) => {
            println!("FAIL  configuration: {e}");
            return false;
        }
    };
    let t = &config.target;
    println!(
        "      host {} port {} user {}, host keys from {} ({:?}), login by {}",
        t.host,
        t.port,
        t.user,
        t.known_hosts.display(),
        t.host_key_policy,
        t.auth
            .iter()
            .map(|a| match a {
                crate::config::AuthMethod::Key { path, .. } => format!("key {}", path.display()),
                crate::config::AuthMethod::Password(_) => "password".into(),
                crate::config::AuthMethod::Agent(p) => format!("ssh-agent {}", p.display()),
            })
            .collect::<Vec<_>>()
            .join(" then ")
    );
    let client = crate::ssh::SshClient::new(config.target.clone());
    match client.connection().await {
        Ok(_) => println!("ok    connected and logged in to {}", t.display()),
        Err(e) => {
            println!("FAIL  connect: {e}");
            println!("      {}", e.suggestion());
            return false;
        }
    }
    let ct = tokio_util::sync::CancellationToken::new();
    match crate::ssh::run_command(
        &client,
        "true",
        std::time::Duration::from_secs(15),
        4096,
        &ct,
    )
    .await
    {
        Ok(o) if o.exit_code == Some(0) => {
            println!("ok    ran `true` ({} ms)", o.duration.as_millis());
        }
        Ok(o) => {
            println!(
                "FAIL  `true` exited with {:?}: {}",
                o.exit_code,
                String::from_utf8_lossy(&o.stderr.kept())
            );
            return false;
        }
        Err(e) => {
            println!("FAIL  running `true`: {e}");
            return false;
        }
    }
    if config.enable_proxmox {
        println!("      ENABLE_PROXMOX=true");
    }
    println!("ready: mcp-remote-exec can serve {}", t.display());
    true
}
