//! `mcp-remote-exec`: parse the command line, log to stderr, run.

use std::process::ExitCode;

use mcp_remote_exec::cli::{self, Action, CheckArgs, FakeArgs, PolicyArgs, ServeArgs};
use mcp_remote_exec::embedded::EmbeddedFake;
use mcp_remote_exec::tools::RemoteExec;
use rmcp::ServiceExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

/// What is logged when RUST_LOG is unset, empty or invalid: our own INFO lines; rmcp's
/// and the embedded fake's only from WARN (their INFO lines are Debug dumps of
/// protocol messages and per-connection chatter).
const DEFAULT_LOG: &str = "info,rmcp=warn,fake_pve=warn";

/// The targets the fake node's shell parser logs every token and word under (at
/// DEBUG); they stay at WARN unless RUST_LOG names them, so that `RUST_LOG=debug`
/// stays readable.
const SHELL_PARSER_TARGETS: &[&str] = &["tokenize", "parse", "expansion", "arithmetic"];

/// Targets a bare word in RUST_LOG may name (besides any `a::b` module path).
const KNOWN_TARGETS: &[&str] = &[
    "mcp_remote_exec",
    "fake_pve",
    "rmcp",
    "russh",
    "russh_sftp",
    "tokenize",
    "parse",
    "expansion",
    "arithmetic",
    "tokio",
    "hyper",
    "axum",
    "tower_http",
    "h2",
];

/// Why `value` is not a filter we take: a directive the parser refuses, or a bare word
/// that is neither a level nor a target of this program (which would silently turn
/// every other log line off, as `RUST_LOG=verbose` would).
fn refuse_rust_log(value: &str) -> Option<String> {
    if let Err(e) = EnvFilter::builder().parse(value) {
        return Some(e.to_string());
    }
    for d in value.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        if d.contains('=') || d.contains('[') || d.parse::<LevelFilter>().is_ok() {
            continue;
        }
        let root = d.split("::").next().unwrap_or(d);
        if d.contains("::") || KNOWN_TARGETS.contains(&root) {
            continue;
        }
        return Some(format!(
            "{d:?} is neither a level (off, error, warn, info, debug, trace) nor a target \
             this program logs under ({}); write LEVEL, TARGET=LEVEL or a list of them",
            KNOWN_TARGETS.join(", ")
        ));
    }
    None
}

/// The filter for `rust_log` (the RUST_LOG variable), and what to say when it is not
/// taken.
fn log_filter(rust_log: Option<&str>) -> (String, Option<String>) {
    let (mut chosen, complaint) = match rust_log.map(str::trim).filter(|v| !v.is_empty()) {
        None => (DEFAULT_LOG.to_string(), None),
        Some(v) => match refuse_rust_log(v) {
            None => (v.to_string(), None),
            Some(why) => (
                DEFAULT_LOG.to_string(),
                Some(format!(
                    "RUST_LOG={v:?}: {why}; using the default {DEFAULT_LOG:?}"
                )),
            ),
        },
    };
    for t in SHELL_PARSER_TARGETS {
        if !chosen.split(',').any(|d| d.trim().starts_with(t)) {
            chosen.push_str(&format!(",{t}=warn"));
        }
    }
    (chosen, complaint)
}

#[tokio::main]
async fn main() -> ExitCode {
    let action = cli::parse();
    let (filter, complaint) = log_filter(std::env::var("RUST_LOG").ok().as_deref());
    // stdout carries only the MCP protocol; logs go to stderr.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(EnvFilter::new(filter))
        .init();
    if let Some(complaint) = complaint {
        eprintln!("mcp-remote-exec: {complaint}");
    }
    match run(action).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mcp-remote-exec: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(action: Action) -> anyhow::Result<ExitCode> {
    match action {
        Action::Completions(shell) => {
            cli::print_completions(shell);
            Ok(ExitCode::SUCCESS)
        }
        Action::Demo => demo().await,
        Action::Check(args) => check(args).await,
        Action::Serve(args) => serve_args(args).await,
    }
}

async fn demo() -> anyhow::Result<ExitCode> {
    let failures = mcp_remote_exec::demo::run()
        .await
        .map_err(anyhow::Error::msg)?;
    Ok(if failures.is_empty() {
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
    })
}

fn code(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The embedded fake node `--fake-pve` asks for (under the policy flags), if it does.
async fn fake_node(
    fake: &FakeArgs,
    policy: &PolicyArgs,
    dir: &std::path::Path,
) -> anyhow::Result<Option<EmbeddedFake>> {
    let Some(fixture) = &fake.fake_pve else {
        return Ok(None);
    };
    let policy = policy.policy(dir)?;
    let fake = mcp_remote_exec::embedded::start_with_policy(fixture.as_deref(), policy).await?;
    Ok(Some(fake))
}

async fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let dir = std::env::current_dir()?;
    if let Some(fake) = fake_node(&args.fake, &args.policy, &dir).await? {
        println!("      checking A FAKE HOST: {}", fake.description());
        let ok = cli::check_config(&fake.config).await;
        fake.shutdown().await;
        return Ok(code(ok));
    }
    let raw = args.ssh.raw_config(&dir, &args.policy)?;
    Ok(code(cli::check(&raw).await))
}

async fn serve_args(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let dir = std::env::current_dir()?;
    if let Some(fake) = fake_node(&args.fake, &args.policy, &dir).await? {
        // Printed, not logged: no RUST_LOG may hide it.
        eprintln!("mcp-remote-exec: {}", fake.banner());
        let server = RemoteExec::try_new(fake.config.clone())
            .map_err(anyhow::Error::msg)?
            .with_notice(fake.instructions_note());
        serve(server, args.http).await?;
        return Ok(ExitCode::SUCCESS);
    }
    let raw = args.ssh.raw_config(&dir, &args.policy)?;
    let config = raw.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
    if args.http.is_none() {
        tracing::info!("serving MCP on stdio for {}", config.describe());
    }
    serve(
        RemoteExec::try_new(config).map_err(anyhow::Error::msg)?,
        args.http,
    )
    .await?;
    Ok(ExitCode::SUCCESS)
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
