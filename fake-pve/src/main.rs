//! `fake-pve`: serve a fake Proxmox VE node over SSH and SFTP.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use fake_pve::fixture::Fixture;
use fake_pve::host::Host;
use fake_pve::ssh::{AuthConfig, FakePve, ServerConfig, generate_host_key};

/// A fake Proxmox VE host: an SSH + SFTP server that emulates `pct` against
/// in-memory containers. Nothing it does touches this machine.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:2222")]
    listen: String,
    /// Scenario file (TOML, see fixtures/README.md); the bundled default otherwise.
    #[arg(long)]
    fixture: Option<PathBuf>,
    /// The user that may log in.
    #[arg(long, default_value = "root")]
    user: String,
    /// Password for the user. Without it and without --authorized-keys a random one
    /// is generated and printed.
    #[arg(long, env = "FAKE_PVE_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// OpenSSH authorized_keys file whose keys may log in.
    #[arg(long)]
    authorized_keys: Option<PathBuf>,
    /// OpenSSH private host key; a fresh ed25519 key otherwise.
    #[arg(long)]
    host_key: Option<PathBuf>,
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("fake-pve: {e:#}");
        std::process::exit(1);
    }
}

async fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let args = Args::parse();

    let fixture = match &args.fixture {
        Some(path) => Fixture::load(path)?,
        None => Fixture::default_fixture(),
    };
    let host = Host::new(fixture.into_state()?);

    let host_key = match &args.host_key {
        Some(path) => russh::keys::load_secret_key(path, None)
            .with_context(|| format!("cannot load host key {}", path.display()))?,
        None => generate_host_key(),
    };
    let authorized_keys = match &args.authorized_keys {
        Some(path) => fake_pve::ssh::read_authorized_keys(path)?,
        None => Vec::new(),
    };
    let mut password = args.password.clone();
    let mut generated = false;
    if password.is_none() && authorized_keys.is_empty() {
        password = Some(fake_pve::ssh::random_password());
        generated = true;
    }

    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let server = FakePve::start(
        listener,
        host,
        ServerConfig {
            auth: AuthConfig {
                user: args.user.clone(),
                password: password.clone(),
                authorized_keys,
            },
            host_key,
            auth_rejection_time: Duration::from_millis(500),
            peers: None,
        },
    )?;
    println!("fake-pve listening on {}", server.addr());
    println!("host key: {}", server.host_public_key().to_openssh()?);
    if generated {
        println!(
            "user {} password {}",
            args.user,
            password.as_deref().unwrap_or_default()
        );
    }
    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    Ok(())
}
