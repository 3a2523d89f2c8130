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
    let dir = std::env::current_dir()?;
    let raw = cli.raw_config(&dir)?;
    match cli.command.clone().unwrap_or(Command::Serve) {
        Command::Check => Ok(if check(&raw).await {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }),
        Command::Serve => {
            let config = raw.validate()?;
            tracing::info!("serving MCP on stdio for {}", config.target.display());
            let service = RemoteExec::new(config)
                .serve(rmcp::transport::stdio())
                .await?;
            service.waiting().await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
