//! The MCP face of the server (with the transport and the entry points, the only code
//! that knows rmcp): tool routers per domain and input validation that turns every bad
//! argument into a tool error a model can act on. Results are built and rendered by
//! [`crate::output`]; this module only wraps them in rmcp's `CallToolResult`.

pub mod core;
pub mod params;
pub mod proxmox;
pub mod schema;

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{
    CallToolResult, ContentBlock, Implementation, ProgressNotificationParam, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, ServerHandler, tool_handler};

use crate::config::Config;
use crate::output::{ExecReport, Failure, Reply, Report, ResponseFormat};
use crate::proxmox::Leftovers;
use crate::ssh::{Hosts, SshClient};

/// The server: configuration, connections, and the tools registered for them.
#[derive(Clone)]
pub struct RemoteExec {
    pub(crate) state: Arc<State>,
    tool_router: ToolRouter<Self>,
}

pub(crate) struct State {
    pub config: Config,
    pub hosts: Hosts,
    /// Temp files of the proxmox file tools still to be removed, per host.
    pub leftovers: Arc<Leftovers>,
}

impl RemoteExec {
    pub fn new(config: Config) -> Self {
        let mut router = Self::core_router();
        let mut groups = vec!["core (ssh_*)"];
        if config.enable_proxmox {
            router += Self::proxmox_router();
            groups.push("proxmox (proxmox_*)");
        }
        tracing::info!(
            "tool groups: {}{}",
            groups.join(", "),
            if config.enable_proxmox {
                ""
            } else {
                "; set ENABLE_PROXMOX=true for the proxmox_* tools"
            }
        );
        tracing::info!(
            "tools: {}",
            router
                .list_all()
                .iter()
                .map(|t| t.name.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        RemoteExec {
            state: Arc::new(State {
                config,
                hosts: Hosts::new(),
                leftovers: Arc::new(Leftovers::new()),
            }),
            tool_router: router,
        }
    }

    /// The shared connection to the configured host.
    pub(crate) fn client(&self) -> Arc<SshClient> {
        self.state.hosts.client(&self.state.config.target)
    }

    /// Ends, on every host, the commands still running (the server is stopping or its
    /// client went away): each within a few seconds, over a new connection if needed.
    pub async fn end_running(&self) {
        for client in self.state.hosts.all() {
            crate::ssh::exec::end_all(&client, std::time::Duration::from_secs(5)).await;
        }
    }

    /// Names of the registered tools.
    pub fn tool_names(&self) -> Vec<String> {
        self.tool_router
            .list_all()
            .iter()
            .map(|t| t.name.to_string())
            .collect()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for RemoteExec {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                env!("CARGO_PKG_NAME"),
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(format!(
                "Runs commands and moves files on {} over SSH. Every tool returns structured content; \
                 failures are tool errors with an `error` and a `suggestion`.",
                self.state.config.target.display()
            ))
    }
}

/// A rendered result as rmcp's: structured content, one text block, the error flag.
pub(crate) fn to_result(reply: Reply) -> CallToolResult {
    let content = vec![ContentBlock::text(reply.text)];
    let mut result = if reply.is_error {
        CallToolResult::error(content)
    } else {
        CallToolResult::success(content)
    };
    result.structured_content = reply.structured;
    result
}

/// A report as a tool result, its text in `format`.
pub(crate) fn answer<R: Report>(report: &R, format: ResponseFormat) -> CallToolResult {
    to_result(report.reply(format))
}

/// What the raw arguments say about the command and the format, before they are
/// validated: so that even a rejected call answers in the format asked for.
pub(crate) fn exec_hints(args: &rmcp::model::JsonObject) -> (String, ResponseFormat) {
    let command = args
        .get("command")
        .and_then(|c| c.as_str())
        .unwrap_or_default()
        .to_string();
    let format = match args.get("response_format").and_then(|f| f.as_str()) {
        Some("json") => ResponseFormat::Json,
        _ => ResponseFormat::Text,
    };
    (command, format)
}

/// A failed exec call (before or instead of running the command).
pub(crate) fn exec_failure(
    command: &str,
    format: ResponseFormat,
    failure: impl Into<Failure>,
) -> CallToolResult {
    answer(&ExecReport::failed(command, failure.into()), format)
}

/// Sends MCP progress notifications for a transfer when the client asked for them,
/// at most one per MiB (and the last one). [`ProgressSender::finish`] waits until every
/// notification is written, so none arrives after the tool's result.
pub(crate) struct ProgressSender {
    tx: Option<tokio::sync::mpsc::UnboundedSender<(u64, u64)>>,
    task: Option<tokio::task::JoinHandle<()>>,
    last: std::sync::atomic::AtomicU64,
}

impl ProgressSender {
    pub fn new(ctx: &RequestContext<RoleServer>) -> Self {
        let Some(token) = ctx.meta.get_progress_token() else {
            return ProgressSender {
                tx: None,
                task: None,
                last: Default::default(),
            };
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(u64, u64)>();
        let peer = ctx.peer.clone();
        let task = tokio::spawn(async move {
            while let Some((done, total)) = rx.recv().await {
                let param = ProgressNotificationParam::new(token.clone(), done as f64)
                    .with_total(total as f64)
                    .with_message(format!("{done} of {total} bytes"));
                if peer.notify_progress(param).await.is_err() {
                    break;
                }
            }
        });
        ProgressSender {
            tx: Some(tx),
            task: Some(task),
            last: Default::default(),
        }
    }

    /// Waits (briefly) until the notifications already reported are sent.
    pub async fn finish(mut self) {
        self.tx.take();
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), task).await;
        }
    }

    pub fn report(&self, done: u64, total: u64) {
        let Some(tx) = &self.tx else { return };
        let last = self.last.load(std::sync::atomic::Ordering::Relaxed);
        if done == total || done >= last + (1 << 20) || last == 0 {
            self.last
                .store(done.max(1), std::sync::atomic::Ordering::Relaxed);
            let _ = tx.send((done, total));
        }
    }
}
