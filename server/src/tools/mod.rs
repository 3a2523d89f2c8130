//! The MCP face of the server (with the transport and the entry points, the only code
//! that knows rmcp): tool routers per domain and input validation that turns every bad
//! argument into a tool error a model can act on. Results are built and rendered by
//! [`crate::output`]; this module only wraps them in rmcp's `CallToolResult`.

pub mod backups;
pub mod core;
pub mod guests;
pub mod kind;
pub mod metrics;
pub mod params;
pub mod proxmox;
pub mod schema;
pub mod vms;

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ProgressNotificationParam, ServerCapabilities, ServerConfig,
};
use rmcp::service::{ElicitationError, ElicitationMode, RequestContext};
use rmcp::{ErrorData, RoleServer, ServerHandler, tool_handler};

use crate::audit::{self, AuditLog};
use crate::config::Config;
use crate::output::{ExecReport, Failure, Reply, Report, ResponseFormat};
use crate::pct::Ctid;
use crate::policy::Confirm;
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
    /// The connections, one pool per SSH destination.
    pub hosts: Hosts,
    /// The configured hosts, as `config.hosts`, each with its cluster routing.
    pub places: Vec<Place>,
    /// Temp files of the proxmox file tools still to be removed, per host.
    pub leftovers: Arc<Leftovers>,
    pub audit: Option<AuditLog>,
    /// Said first in the instructions (e.g. that the host is a fake).
    pub notice: Option<String>,
}

/// One configured host, as the tools reach it.
pub(crate) struct Place {
    pub name: String,
    pub target: crate::config::SshTarget,
    pub proxmox: bool,
    /// Which node of its cluster each guest operation goes to.
    pub router: crate::cluster::Router,
}

/// The host a tool call chose with its `host` argument (put in the request's
/// extensions by [`RemoteExec::call_tool`]), or why it cannot act there.
#[derive(Clone)]
struct Chosen(Result<usize, Failure>);

/// The user's answer to an approval request (MCP elicitation).
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
struct Approval {
    /// true to go ahead, false to leave everything as it is.
    approve: bool,
}

rmcp::elicit_safe!(Approval);

/// Tools that change nothing on a host, for READ_ONLY (the download tools write only
/// on this machine, within LOCAL_ROOTS).
const READ_ONLY_TOOLS: &[&str] = &[
    "proxmox_list_containers",
    "proxmox_container_status",
    "proxmox_snapshot_list",
    "proxmox_guest_metrics",
    "proxmox_backup_list",
    "proxmox_list_guests",
    "proxmox_list_vms",
    "proxmox_vm_status",
    "ssh_download_file",
    "proxmox_download_file_from_container",
    "proxmox_download_file_from_vm",
];
const EXEC_TOOLS: &[&str] = &[
    "ssh_exec_command",
    "proxmox_container_exec_command",
    "proxmox_vm_exec_command",
];
/// The VM tools, left out with PROXMOX_VMS=false (`proxmox_list_guests` stays).
const VM_TOOLS: &[&str] = &[
    "proxmox_list_vms",
    "proxmox_vm_status",
    "proxmox_start_vm",
    "proxmox_stop_vm",
    "proxmox_shutdown_vm",
    "proxmox_reboot_vm",
    "proxmox_vm_exec_command",
    "proxmox_upload_file_to_vm",
    "proxmox_download_file_from_vm",
];

impl RemoteExec {
    /// The server for `config`; panics if AUDIT_LOG cannot be opened (see
    /// [`RemoteExec::try_new`]).
    pub fn new(config: Config) -> Self {
        Self::try_new(config).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The server for `config`, or why it cannot start (the audit file cannot be opened).
    pub fn try_new(config: Config) -> Result<Self, String> {
        let mut router = Self::core_router();
        let mut groups = vec!["core (ssh_*)"];
        if config.enable_proxmox {
            router += Self::proxmox_router();
            router += Self::guest_router();
            router += Self::backup_router();
            router += Self::metrics_router();
            router += Self::vm_router();
            groups.push("proxmox (proxmox_*)");
            if !config.proxmox_vms {
                for name in VM_TOOLS {
                    router.remove_route(name);
                }
                groups.push("PROXMOX_VMS=false");
            }
        }
        let policy = &config.policy;
        if policy.read_only {
            let names: Vec<String> = router
                .list_all()
                .iter()
                .map(|t| t.name.to_string())
                .collect();
            for name in names {
                let exec_allowed =
                    EXEC_TOOLS.contains(&name.as_str()) && policy.command_allow.is_some();
                if !READ_ONLY_TOOLS.contains(&name.as_str()) && !exec_allowed {
                    router.remove_route(&name);
                }
            }
            groups.push("READ_ONLY=true");
        }
        add_host_parameter(&mut router, &config);
        let audit = match &policy.audit_log {
            Some(path) => Some(AuditLog::open(path).map_err(|e| {
                format!(
                    "AUDIT_LOG: cannot open {} for appending: {e}. Fix its permissions or choose another file.",
                    path.display()
                )
            })?),
            None => None,
        };
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
        let places = config
            .hosts
            .iter()
            .map(|h| Place {
                name: h.name.clone(),
                target: h.target.clone(),
                proxmox: h.proxmox,
                router: crate::cluster::Router::default(),
            })
            .collect();
        Ok(RemoteExec {
            state: Arc::new(State {
                config,
                hosts: Hosts::new(),
                places,
                leftovers: Arc::new(Leftovers::new()),
                audit,
                notice: None,
            }),
            tool_router: router,
        })
    }

    /// The policy's word on running `command` (on the host, or in a guest), and the
    /// user's when exec needs approval (CONFIRM_EXEC).
    pub(crate) async fn may_exec(
        &self,
        ctx: &RequestContext<RoleServer>,
        command: &str,
        guest: Option<(kind::Kind, Ctid)>,
    ) -> Result<(), Failure> {
        let host = self.place(ctx)?;
        let policy = &self.state.config.policy;
        if let Some((_, id)) = guest {
            policy.check_guest(id.get().into())?;
        }
        policy.check_command(command)?;
        if policy.confirm_exec {
            let place = match guest {
                Some((kind, id)) => format!("in {} {id} on host {}", kind.word(), host.name),
                None => format!("on host {} ({})", host.name, host.target.display()),
            };
            self.approve(ctx, &format!("Run this command {place}?\n\n{command}"))
                .await?;
        }
        Ok(())
    }

    /// Asks the user to approve `what` (CONFIRM_DESTRUCTIVE): through MCP elicitation
    /// when the client supports it; without it, goes ahead (`ask`) or refuses
    /// (`require`). A decline, a dismissal or a failed request is a clean refusal.
    pub(crate) async fn approve(
        &self,
        ctx: &RequestContext<RoleServer>,
        what: &str,
    ) -> Result<(), Failure> {
        let confirm = self.state.config.policy.confirm;
        if confirm == Confirm::Never {
            return Ok(());
        }
        if !ctx
            .peer
            .supported_elicitation_modes()
            .contains(&ElicitationMode::Form)
        {
            return match confirm {
                Confirm::Require => Err(Failure::new(
                    "this operation needs the user's approval (CONFIRM_DESTRUCTIVE=require), and this client cannot ask for it (it does not support MCP elicitation); nothing was done",
                    "Use a client that supports elicitation, or ask the server's owner to set CONFIRM_DESTRUCTIVE=ask or never.",
                )),
                _ => Ok(()),
            };
        }
        let asked = ctx
            .peer
            .elicit_with_timeout::<Approval>(what, Some(std::time::Duration::from_secs(600)))
            .await;
        match asked {
            Ok(Some(Approval { approve: true })) => Ok(()),
            Ok(_) | Err(ElicitationError::UserDeclined) => Err(Failure::new(
                "the user declined; nothing was done",
                "Do not retry the same operation; ask the user what to do instead.",
            )),
            Err(ElicitationError::UserCancelled) => Err(Failure::new(
                "the user dismissed the approval request; nothing was done",
                "Ask the user whether to go ahead, then call the tool again.",
            )),
            Err(e) => Err(Failure::new(
                format!("asking the user for approval failed ({e}); nothing was done"),
                "Call the tool again; if this keeps failing, the client's elicitation support is broken.",
            )),
        }
    }

    /// The server with `notice` said first in its MCP instructions (e.g. that the host
    /// is a fake). Call before serving.
    pub fn with_notice(mut self, notice: impl Into<String>) -> Self {
        Arc::get_mut(&mut self.state)
            .expect("with_notice is called before the server is shared")
            .notice = Some(notice.into());
        self
    }

    /// The host this call acts on: its `host` argument's, else the default; or why
    /// it cannot act there (no such host; a proxmox tool on a host that is not a node).
    pub(crate) fn place(&self, ctx: &RequestContext<RoleServer>) -> Result<&Place, Failure> {
        match ctx.extensions.get::<Chosen>() {
            Some(Chosen(chosen)) => chosen.clone().map(|i| &self.state.places[i]),
            None => Ok(&self.state.places[self.state.config.default_host]),
        }
    }

    /// The shared connection to the host this call acts on.
    pub(crate) fn client(
        &self,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<Arc<SshClient>, Failure> {
        let place = self.place(ctx)?;
        Ok(self.state.hosts.client(&place.target))
    }

    /// The connection for guest `vmid`'s operations: the chosen host's, or in a
    /// cluster the owning node's, through that host ([`crate::cluster`]).
    pub(crate) async fn guest_client(
        &self,
        vmid: Ctid,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<Arc<SshClient>, Failure> {
        let place = self.place(ctx)?;
        place
            .router
            .client_for(&self.state.hosts, &place.target, vmid.get(), &ctx.ct)
            .await
    }

    /// [`RemoteExec::guest_client`], its failure tagged with the guest for the tools
    /// whose errors carry the guest id.
    pub(crate) async fn routed(
        &self,
        vmid: Ctid,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<Arc<SshClient>, (Option<Ctid>, Failure)> {
        self.guest_client(vmid, ctx)
            .await
            .map_err(|f| (Some(vmid), f))
    }

    /// Which host a call of `tool` with `host` (taken out of its arguments) acts on.
    /// A proxmox tool without `host` goes to the default host if it is a Proxmox VE
    /// node, else to the first host that is.
    fn choose(&self, tool: &str, host: Option<serde_json::Value>) -> Result<usize, Failure> {
        let places = &self.state.places;
        let proxmox_tool = tool.starts_with("proxmox_");
        let default = self.state.config.default_host;
        let listed = |proxmox_only: bool| {
            places
                .iter()
                .filter(|p| !proxmox_only || p.proxmox)
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let index = match host {
            None | Some(serde_json::Value::Null) if proxmox_tool && !places[default].proxmox => {
                places.iter().position(|p| p.proxmox).unwrap_or(default)
            }
            None | Some(serde_json::Value::Null) => default,
            Some(serde_json::Value::String(name)) => {
                match places.iter().position(|p| p.name == name) {
                    Some(i) => i,
                    None => {
                        return Err(Failure::new(
                            format!("invalid `host`: no host is named {name:?}"),
                            format!(
                                "Give one of: {} (or leave `host` out for {}).",
                                listed(proxmox_tool),
                                places[default].name
                            ),
                        ));
                    }
                }
            }
            Some(other) => {
                return Err(Failure::new(
                    format!("invalid `host`: {other} is not a host's name"),
                    format!(
                        "Give a host's name as a string: one of {}.",
                        listed(proxmox_tool)
                    ),
                ));
            }
        };
        let place = &places[index];
        if proxmox_tool && !place.proxmox {
            return Err(Failure::new(
                format!(
                    "host '{}' is not a Proxmox VE node, so {tool} cannot act on it; nothing was done",
                    place.name
                ),
                match listed(true) {
                    l if l.is_empty() => "Use the ssh_* tools on it.".to_string(),
                    l => format!(
                        "Give `host` as one of the Proxmox VE nodes: {l}. If '{}' is one, set `proxmox = true` in its table of the hosts file.",
                        place.name
                    ),
                },
            ));
        }
        Ok(index)
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
    /// Every tool call: routed to its tool, then logged (one INFO line: tool, host,
    /// outcome, duration; never arguments) and recorded in the audit file, if any,
    /// before the result goes back.
    async fn call_tool(
        &self,
        mut request: CallToolRequestParams,
        mut context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let started = std::time::Instant::now();
        let tool = request.name.to_string();
        let arguments = self
            .state
            .audit
            .as_ref()
            .map(|_| audit::redacted(request.arguments.as_ref()));
        let chosen = self.choose(
            &tool,
            request.arguments.as_mut().and_then(|a| a.remove("host")),
        );
        let place = &self.state.places[*chosen.as_ref().unwrap_or(&self.state.config.default_host)];
        context.extensions.insert(Chosen(chosen));
        let client = context.peer.peer_info().map(|i| audit::ClientName {
            name: i.client_info.name.clone(),
            version: i.client_info.version.clone(),
        });
        let response = if self.state.config.policy.read_only
            && !self.tool_router.has_route(&tool)
            && (Self::core_router().has_route(&tool)
                || Self::proxmox_router().has_route(&tool)
                || Self::guest_router().has_route(&tool)
                || Self::backup_router().has_route(&tool)
                || Self::metrics_router().has_route(&tool))
        {
            // Say why, rather than rmcp's bare "tool not found".
            Ok(CallToolResponse::Complete(CallToolResult::error(vec![
                ContentBlock::text(format!(
                    "Error: {tool} is not available: this server is read-only (READ_ONLY=true{})\nSuggestion: Use the read-only tools, or ask the server's owner.",
                    if EXEC_TOOLS.contains(&tool.as_str()) {
                        "; exec tools need a COMMAND_ALLOW rule"
                    } else {
                        ""
                    }
                )),
            ])))
        } else {
            self.tool_router
                .call(ToolCallContext::new(self, request, context))
                .await
        };
        let (outcome, error) = match &response {
            Ok(CallToolResponse::Complete(r)) if r.is_error == Some(true) => {
                let s = r.structured_content.as_ref();
                let said = s.and_then(|s| s.get("error")).and_then(|e| e.as_str());
                let code = s.and_then(|s| s.get("exit_code")).and_then(|c| c.as_i64());
                (
                    "error",
                    said.map(str::to_string)
                        .or_else(|| code.map(|c| format!("exit code {c}"))),
                )
            }
            Ok(_) => ("ok", None),
            Err(e) => ("protocol-error", Some(e.message.to_string())),
        };
        let duration_ms = started.elapsed().as_millis() as u64;
        let host = place.target.display();
        tracing::info!(tool = %tool, host = %place.name, target = %host, outcome, duration_ms, "tool call");
        if let (Some(log), Some(arguments)) = (&self.state.audit, arguments) {
            let entry = audit::Entry {
                time: audit::rfc3339(std::time::SystemTime::now()),
                client,
                host: &host,
                host_name: &place.name,
                tool: &tool,
                arguments,
                outcome,
                error,
                duration_ms,
            };
            if let Err(e) = log.record(&entry) {
                tracing::error!("AUDIT_LOG {}: cannot append: {e}", log.path().display());
            }
        }
        response
    }

    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                env!("CARGO_PKG_NAME"),
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(format!(
                "{}Runs commands and moves files on {} over SSH. Every tool returns structured content; \
                 failures are tool errors with an `error` and a `suggestion`.{}{}",
                self.state
                    .notice
                    .as_deref()
                    .map(|n| format!("{n} "))
                    .unwrap_or_default(),
                hosts_said(&self.state.config),
                limits(&self.state.config.policy),
                guests_said(&self.state.config)
            ))
    }
}

/// The hosts, for the instructions: the one host's address, or each name with its
/// address and whether it is a Proxmox VE node.
fn hosts_said(config: &Config) -> String {
    if let [one] = config.hosts.as_slice() {
        return one.target.display();
    }
    let each: Vec<String> = config
        .hosts
        .iter()
        .map(|h| {
            format!(
                "'{}' ({}{})",
                h.name,
                h.target.display(),
                if h.proxmox { ", a Proxmox VE node" } else { "" }
            )
        })
        .collect();
    format!(
        "{} hosts, chosen by each tool's `host` parameter (default '{}'): {}",
        config.hosts.len(),
        config.default_host().name,
        each.join(", ")
    )
}

/// What the proxmox tools reach, for the instructions (empty without them).
fn guests_said(config: &Config) -> &'static str {
    match (
        config.enable_proxmox,
        config.proxmox_vms,
        config.hosts.len(),
    ) {
        (false, _, _) => "",
        (true, true, 1) => {
            " It is a Proxmox VE node: containers are managed with pct, virtual machines with qm and their QEMU guest agent (commands and files in a VM need the agent running in it); proxmox_list_guests lists both with their type."
        }
        (true, false, 1) => {
            " It is a Proxmox VE node: containers are managed with pct; the VM tools are off (PROXMOX_VMS=false)."
        }
        (true, true, _) => {
            " The proxmox_* tools act on the Proxmox VE nodes among them (without `host`, on the default host if it is one, else on the first that is): containers are managed with pct, virtual machines with qm and their QEMU guest agent (commands and files in a VM need the agent running in it); proxmox_list_guests lists both with their type."
        }
        (true, false, _) => {
            " The proxmox_* tools act on the Proxmox VE nodes among them (without `host`, on the default host if it is one, else on the first that is): containers are managed with pct; the VM tools are off (PROXMOX_VMS=false)."
        }
    }
}

/// Adds the optional `host` parameter to every tool's input schema: the names it may
/// take (the proxmox tools' only the Proxmox VE nodes), and its default.
fn add_host_parameter(router: &mut ToolRouter<RemoteExec>, config: &Config) {
    let default = config.default_host();
    let first_node = config.hosts.iter().find(|h| h.proxmox).unwrap_or(default);
    for route in router.map.values_mut() {
        let proxmox_tool = route.attr.name.starts_with("proxmox_");
        let names: Vec<&str> = config
            .hosts
            .iter()
            .filter(|h| !proxmox_tool || h.proxmox)
            .map(|h| h.name.as_str())
            .collect();
        let fallback = if proxmox_tool && !default.proxmox {
            first_node
        } else {
            default
        };
        let schema = Arc::make_mut(&mut route.attr.input_schema);
        if let Some(serde_json::Value::Object(props)) = schema.get_mut("properties") {
            props.insert(
                "host".into(),
                serde_json::json!({
                    "type": "string",
                    "enum": names,
                    "description": format!(
                        "Which configured host to act on, by name (default '{}').",
                        fallback.name
                    ),
                }),
            );
        }
    }
}

/// The owner's limits in words, for the instructions (empty when there are none).
fn limits(policy: &crate::policy::Policy) -> String {
    let mut said = Vec::new();
    if policy.read_only {
        said.push("the server is read-only".to_string());
    }
    if let Some(allow) = &policy.command_allow {
        said.push(format!(
            "a command must match {:?} as a whole",
            allow.pattern
        ));
    }
    if let Some(deny) = &policy.command_deny {
        said.push(format!("commands matching {:?} are refused", deny.pattern));
    }
    if let Some(g) = &policy.guests {
        said.push(format!("only guests {} may be managed", g.text));
    }
    if !policy.local_roots.is_empty() {
        let roots: Vec<String> = policy
            .local_roots
            .iter()
            .map(|r| r.display().to_string())
            .collect();
        said.push(format!("local files only under {}", roots.join(", ")));
    }
    if said.is_empty() {
        String::new()
    } else {
        format!(" Limits set by the owner: {}.", said.join("; "))
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
