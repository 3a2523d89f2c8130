//! `mcp-remote-exec`: parse the command line, log to stderr, run.

use std::process::ExitCode;

use clap::Parser;
use mcp_remote_exec::cli::{Cli, Command, check};
use mcp_remote_exec::tools::RemoteExec;
use rmcp::ServiceExt;

#[tokio::main]
async fn main() -> ExitCode {
    // stdout carries only the MCP protocol; logs go to stderr.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mcp-remote-exec: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let command = cli.command.clone().unwrap_or(Command::Serve);
    if cli.http.is_some() && command != Command::Serve {
        anyhow::bail!("--http is a flag of `serve`: mcp-remote-exec serve --http 127.0.0.1:8080");
    }
    if command == Command::Demo {
        let failures = mcp_remote_exec::demo::run()
            .await
            .map_err(anyhow::Error::msg)?;
        return Ok(if failures.is_empty() {
            println!("\ndemo finished: every call went as expected");
            ExitCode::SUCCESS
        } else {
            println!(
                "\ndemo finished with {} unexpected result(s):",
                failures.len()
            );
            for f in &failures {
                println!("  - {f}");
            }
            ExitCode::FAILURE
        });
    }
    if let Some(fixture) = &cli.fake_pve {
        let fixture = (!fixture.is_empty()).then(|| std::path::PathBuf::from(fixture));
        let fake = mcp_remote_exec::embedded::start(fixture.as_deref()).await?;
        tracing::warn!(
            "SERVING AGAINST A FAKE HOST: an embedded fake-pve on {} (fixture: {}); nothing real is touched",
            fake.server.addr(),
            fixture
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "bundled default".into())
        );
        serve(RemoteExec::new(fake.config.clone()), cli.http).await?;
        return Ok(ExitCode::SUCCESS);
    }
    let dir = std::env::current_dir()?;
    let raw = cli.raw_config(&dir)?;
    match command {
        Command::Check => Ok(if check(&raw).await {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }),
        Command::Serve | Command::Demo => {
            let config = raw.validate()?;
            if cli.http.is_none() {
                tracing::info!("serving MCP on stdio for {}", config.target.display());
            }
            serve(RemoteExec::new(config), cli.http).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Serves MCP over streamable HTTP when `http` is given (`http.rs`); else on stdio
/// until the client goes away (stdin closed) or the process is told to stop (SIGTERM,
/// Ctrl-C); then ends, on the host, every command still running, so nothing the
/// server started outlives it.
async fn serve(server: RemoteExec, http: Option<std::net::SocketAddr>) -> anyhow::Result<()> {
    if let Some(addr) = http {
        return Ok(mcp_remote_exec::http::serve(server, addr).await?);
    }
    let service = server
        .clone()
        .serve(mcp_remote_exec::transport::stdio())
        .await?;
    let cancel = service.cancellation_token();
    let stop = async {
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        #[cfg(not(unix))]
        tokio::signal::ctrl_c().await?;
        Ok::<_, std::io::Error>(())
    };
    let waiting = service.waiting();
    tokio::pin!(waiting);
    tokio::select! {
        r = &mut waiting => { r?; }
        _ = stop => {
            tracing::info!("told to stop: ending the commands still running");
            cancel.cancel();
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), waiting).await;
        }
    }
    server.end_running().await;
    Ok(())
}
