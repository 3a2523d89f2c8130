//! The seven `proxmox_*` tools (registered when ENABLE_PROXMOX=true): rmcp glue over
//! [`crate::proxmox`] and [`crate::pct`]. Arguments are validated before any I/O; the
//! container id becomes a [`Ctid`], which cannot hold an invalid id.

use std::time::Duration;

use rmcp::model::{CallToolResult, JsonObject};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use super::params::{self, InvalidParam, Permissions, Timeout};
use super::{ProgressSender, RemoteExec, answer, exec_failure};
use crate::output::proxmox::{
    ContainerRow, CtTransferReport, ListReport, Power, PowerReport, StatusReport,
};
use crate::output::{ExecReport, Failure, ResponseFormat};
use crate::pct::{self, Ctid};
use crate::policy::Access;
use crate::proxmox::{self, CopyOptions};
use crate::ssh::run_command;

/// A failed container file tool call (file tools answer in JSON).
fn transfer_failure(ctid: Option<Ctid>, failure: impl Into<Failure>) -> CallToolResult {
    answer(
        &CtTransferReport::failed(ctid, failure.into()),
        ResponseFormat::Json,
    )
}

/// A failed start or stop (answered in JSON).
fn power_failure(ctid: Option<Ctid>, failure: impl Into<Failure>) -> CallToolResult {
    answer(
        &PowerReport::failed(ctid, failure.into()),
        ResponseFormat::Json,
    )
}

pub(super) fn ctid_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "Container id (100-999999999), as an integer or a string of digits, e.g. 100.",
        "anyOf": [
            {"type": "integer", "minimum": 100, "maximum": 999_999_999},
            {"type": "string", "pattern": "^[1-9][0-9]{2,8}$"}
        ]
    })
}

pub(super) fn bad(param: &str, problem: impl Into<String>, fix: &str) -> InvalidParam {
    InvalidParam {
        param: param.into(),
        problem: problem.into(),
        fix: fix.into(),
    }
}

fn ctid_of(v: &serde_json::Value) -> Result<Ctid, InvalidParam> {
    Ctid::from_json(v).map_err(|e| {
        bad(
            "ctid",
            e.0,
            "Give a container id from 100 to 999999999, e.g. 100; proxmox_list_containers lists them.",
        )
    })
}

fn container_path(param: &str, v: &str) -> Result<(), InvalidParam> {
    guest_path(param, v, "container")
}

/// A path in a guest (`what`: `container` or `VM`): absolute, naming a file, no `..`.
pub(super) fn guest_path(param: &str, v: &str, what: &str) -> Result<(), InvalidParam> {
    params::check_path(param, v)?;
    pct::split_container_path(v).map(|_| ()).map_err(|e| {
        let fix = match e {
            pct::BadPath::Traversal => {
                "Give the file's absolute path without '..' components.".to_string()
            }
            pct::BadPath::Relative(_) => {
                format!("Give an absolute path inside the {what}, e.g. /etc/app/app.conf.")
            }
            pct::BadPath::NotAFile(_) => {
                "Give the full path of a file, e.g. /etc/app/app.conf.".to_string()
            }
        };
        InvalidParam {
            param: param.into(),
            problem: e
                .to_string()
                .replace("container paths", &format!("{what} paths")),
            fix,
        }
    })
}

/// `proxmox_container_exec_command` arguments.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CtExecParams {
    #[schemars(schema_with = "ctid_schema")]
    pub ctid: serde_json::Value,
    /// The shell command to run in the container (1-10000 characters), e.g. `df -h`. It
    /// runs with bash, or with sh where the container has no bash (Alpine), as root,
    /// without a terminal and without standard input.
    #[schemars(length(min = 1, max = 10000))]
    pub command: String,
    /// Seconds the command may run in the container (1-300, default 30; more is clamped to
    /// 300, with a note). Then it is ended there and its partial output returned.
    #[serde(default)]
    pub timeout: Timeout,
    /// `text` (default) for readable sections, or `json` for one JSON object.
    #[serde(default)]
    pub response_format: ResponseFormat,
}

/// `proxmox_list_containers` arguments.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// `text` (default) for a table, or `json` for one JSON object.
    #[serde(default)]
    pub response_format: ResponseFormat,
}

/// `proxmox_container_status` arguments.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusParams {
    #[schemars(schema_with = "ctid_schema")]
    pub ctid: serde_json::Value,
    /// `text` (default) for one sentence, or `json` for one JSON object.
    #[serde(default)]
    pub response_format: ResponseFormat,
}

/// `proxmox_start_container` / `proxmox_stop_container` arguments.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PowerParams {
    #[schemars(schema_with = "ctid_schema")]
    pub ctid: serde_json::Value,
}

/// `proxmox_download_file_from_container` arguments.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CtDownloadParams {
    #[schemars(schema_with = "ctid_schema")]
    pub ctid: serde_json::Value,
    /// Absolute path of the file inside the container, e.g. /var/log/nginx/access.log
    /// (no `..`).
    #[schemars(length(min = 1, max = 4096))]
    pub container_path: String,
    /// Path of the file to create on this machine; its directory must exist.
    #[schemars(length(min = 1, max = 4096))]
    pub local_path: String,
    /// Replace the local file if it exists (default false).
    #[serde(default)]
    pub overwrite: bool,
}

/// `proxmox_upload_file_to_container` arguments.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CtUploadParams {
    #[schemars(schema_with = "ctid_schema")]
    pub ctid: serde_json::Value,
    /// Path of the file on this machine (the one running the MCP server).
    #[schemars(length(min = 1, max = 4096))]
    pub local_path: String,
    /// Absolute path of the file to create in the container (no `..`); its directory
    /// must exist.
    #[schemars(length(min = 1, max = 4096))]
    pub container_path: String,
    /// Octal permissions for the file in the container, e.g. "600" (default: "644" for a new file; a replaced file keeps its mode, and always its owner and group).
    #[serde(default)]
    pub permissions: Option<Permissions>,
    /// Replace the file in the container if it exists (default false: refused).
    #[serde(default)]
    pub overwrite: bool,
}

fn format_hint(args: &JsonObject) -> ResponseFormat {
    super::exec_hints(args).1
}

#[tool_router(router = proxmox_router, vis = "pub(crate)")]
impl RemoteExec {
    #[tool(
        name = "proxmox_container_exec_command",
        title = "Run a command in a container",
        description = "Run a shell command inside a running LXC container (`pct exec CTID -- …`) and return its stdout, \
stderr and exit code. The command runs as root with bash, or sh where there is no bash (Alpine), without a terminal or \
standard input. `timeout` (1-300 s, default 30; larger values are clamped to 300) limits the whole run; then the command is ended and the partial output \
returned with timeout_reached=true. Long output is cut to CHARACTER_LIMIT, keeping both ends. A non-zero exit code, a \
stopped or unknown container are error results.",
        input_schema = super::schema::input::<CtExecParams>(),
        output_schema = super::schema::output::<ExecReport>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = true)
    )]
    pub async fn proxmox_container_exec_command(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let (command_hint, hint) = super::exec_hints(&args);
        let p: CtExecParams = match params::parse(args) {
            Ok(p) => p,
            Err(e) => return Ok(exec_failure(&command_hint, hint, e)),
        };
        let checked =
            ctid_of(&p.ctid).and_then(|ctid| params::check_command(&p.command).map(|_| ctid));
        let ctid = match checked {
            Ok(c) => c,
            Err(e) => return Ok(exec_failure(&p.command, p.response_format, e)),
        };
        if let Err(f) = self.may_exec(&ctx, &p.command, Some(ctid)).await {
            return Ok(exec_failure(&p.command, p.response_format, f));
        }
        let line = match pct::exec(ctid, &p.command, p.timeout.secs + 10) {
            Ok(l) => l,
            Err(e) => {
                return Ok(exec_failure(
                    &p.command,
                    p.response_format,
                    Failure::new(e.to_string(), "Remove NUL bytes from the command."),
                ));
            }
        };
        let limit = self.state.config.character_limit;
        let client = match self.guest_client(ctid, &ctx).await {
            Ok(c) => c,
            Err(f) => return Ok(exec_failure(&p.command, p.response_format, f)),
        };
        let outcome = run_command(
            &client,
            &line,
            Duration::from_secs(p.timeout.secs),
            limit * 4,
            &ctx.ct,
        )
        .await;
        let report = ExecReport::from_container(&p.command, ctid, &outcome, limit, p.timeout.secs)
            .noting(p.timeout.note());
        Ok(answer(&report, p.response_format))
    }

    #[tool(
        name = "proxmox_list_containers",
        title = "List containers",
        description = "List the LXC containers of the Proxmox VE node (`pct list`): id, status (running/stopped), \
name, and the lock when one is held (e.g. during a backup). In a cluster: the containers of every node, each with \
its node (every container tool then acts on the node that owns the container).",
        input_schema = super::schema::input::<ListParams>(),
        output_schema = super::schema::output::<ListReport>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = true)
    )]
    pub async fn proxmox_list_containers(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let hint = format_hint(&args);
        let p: ListParams = match params::parse(args) {
            Ok(p) => p,
            Err(e) => return Ok(answer(&ListReport::failed(e.into()), hint)),
        };
        let (client, router) = match self.place(&ctx) {
            Ok(place) => (self.state.hosts.client(&place.target), &place.router),
            Err(f) => return Ok(answer(&ListReport::failed(f), p.response_format)),
        };
        // The cluster read and `pct list` run side by side (two channels): on a
        // standalone node the call then takes about what pct itself takes. On a
        // cluster `pct list`'s answer is set aside for the cluster's resource list.
        let (layout, local) = tokio::join!(
            router.layout(&client, &ctx.ct),
            proxmox::list(&client, &ctx.ct)
        );
        match layout {
            Err(f) => return Ok(answer(&ListReport::failed(f), p.response_format)),
            Ok(Some(layout)) if layout.cluster.is_some() => {
                let report = match self.cluster_containers(&client, &ctx.ct).await {
                    Ok(rows) => ListReport::of_cluster(rows),
                    Err(f) => ListReport::failed(f),
                };
                return Ok(answer(&report, p.response_format));
            }
            Ok(_) => {}
        }
        let report = match local {
            Ok(rows) => {
                let policy = &self.state.config.policy;
                ListReport::of(
                    rows.into_iter()
                        .filter(|r| policy.guest_allowed(r.ctid.into()))
                        .collect(),
                )
            }
            Err(e) => ListReport::failed(Failure::from(&e)),
        };
        Ok(answer(&report, p.response_format))
    }

    #[tool(
        name = "proxmox_container_status",
        title = "Container status",
        description = "The status of one LXC container (`pct status`): running or stopped. An unknown container is an \
error result.",
        input_schema = super::schema::input::<StatusParams>(),
        output_schema = super::schema::output::<StatusReport>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = true)
    )]
    pub async fn proxmox_container_status(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let hint = format_hint(&args);
        let p: StatusParams = match params::parse(args) {
            Ok(p) => p,
            Err(e) => return Ok(answer(&StatusReport::failed(None, e.into()), hint)),
        };
        let ctid = match self.guest(&p.ctid) {
            Ok(c) => c,
            Err(f) => return Ok(answer(&StatusReport::failed(None, f), p.response_format)),
        };
        let client = match self.guest_client(ctid, &ctx).await {
            Ok(c) => c,
            Err(f) => {
                return Ok(answer(
                    &StatusReport::failed(Some(ctid), f),
                    p.response_format,
                ));
            }
        };
        let report = match proxmox::status(&client, ctid, &ctx.ct).await {
            Ok(status) => StatusReport::of(ctid, status),
            Err(e) => StatusReport::failed(Some(ctid), Failure::from(&e)),
        };
        Ok(answer(&report, p.response_format))
    }

    #[tool(
        name = "proxmox_start_container",
        title = "Start a container",
        description = "Start a stopped LXC container (`pct start`). Starting a running, locked, template or unknown \
container is an error result carrying pct's message.",
        input_schema = super::schema::input::<PowerParams>(),
        output_schema = super::schema::output::<PowerReport>(),
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = true)
    )]
    pub async fn proxmox_start_container(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.power(args, ctx, Power::Start).await
    }

    #[tool(
        name = "proxmox_stop_container",
        title = "Stop a container (hard)",
        description = "Stop a running LXC container at once (`pct stop`: like pulling the plug, without a clean \
shutdown of its services; for a clean one run `poweroff` with proxmox_container_exec_command). Stopping a stopped, \
locked or unknown container is an error result carrying pct's message.",
        input_schema = super::schema::input::<PowerParams>(),
        output_schema = super::schema::output::<PowerReport>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = true)
    )]
    pub async fn proxmox_stop_container(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.power(args, ctx, Power::Stop).await
    }

    #[tool(
        name = "proxmox_download_file_from_container",
        title = "Download a file from a container",
        description = "Copy a file from a running LXC container to this machine (through a temporary file on the host, \
removed afterwards). The copy is checked by size and SHA-256 and written to a temporary name beside the target, renamed \
into place only when complete. overwrite=false (default) refuses an existing local file. Files larger than \
MAX_FILE_SIZE are refused before anything is copied.",
        input_schema = super::schema::input::<CtDownloadParams>(),
        output_schema = super::schema::output::<CtTransferReport>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = true)
    )]
    pub async fn proxmox_download_file_from_container(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self
            .ct_download(args, &ctx)
            .await
            .unwrap_or_else(|(ctid, f)| transfer_failure(ctid, f)))
    }

    #[tool(
        name = "proxmox_upload_file_to_container",
        title = "Upload a file to a container",
        description = "Copy a file from this machine into a running LXC container (through a temporary file on the \
host, removed afterwards). It arrives complete or not at all: pushed to a hidden temporary name beside the target with \
`permissions` (octal; default \"644\" for a new file, the old mode for a replaced one, whose owner and group are always kept), checked by size and SHA-256, then moved into place. overwrite=false (default) \
refuses an existing file in the container; the target's directory must exist. Files larger than MAX_FILE_SIZE are \
refused.",
        input_schema = super::schema::input::<CtUploadParams>(),
        output_schema = super::schema::output::<CtTransferReport>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = true)
    )]
    pub async fn proxmox_upload_file_to_container(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self
            .ct_upload(args, &ctx)
            .await
            .unwrap_or_else(|(ctid, f)| transfer_failure(ctid, f)))
    }
}

impl RemoteExec {
    /// The containers of every node of the cluster (`pvesh get /cluster/resources`),
    /// those the policy allows, each with its node.
    async fn cluster_containers(
        &self,
        client: &crate::ssh::SshClient,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> Result<Vec<ContainerRow>, Failure> {
        let out = super::metrics::pvesh(client, &crate::metrics::resources(), None, cancel).await?;
        let rows = crate::metrics::parse_resources(&out).map_err(|e| {
            Failure::new(
                e.to_string(),
                "pvesh answered in an unexpected format; run the command with ssh_exec_command to see its output.",
            )
        })?;
        let policy = &self.state.config.policy;
        Ok(rows
            .into_iter()
            .filter(|r| r.kind.as_deref() == Some("lxc") && policy.guest_allowed(r.vmid.into()))
            .map(|r| ContainerRow {
                ctid: r.vmid,
                status: r.status.unwrap_or_else(|| "unknown".into()),
                name: r.name.unwrap_or_else(|| format!("CT{}", r.vmid)),
                lock: r.lock,
                node: r.node,
            })
            .collect())
    }
}

/// A container file tool's failure before its container is known.
fn early(failure: impl Into<Failure>) -> (Option<Ctid>, Failure) {
    (None, failure.into())
}

impl RemoteExec {
    async fn ct_download(
        &self,
        args: JsonObject,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<CallToolResult, (Option<Ctid>, Failure)> {
        let p: CtDownloadParams = params::parse(args).map_err(early)?;
        let ctid = ctid_of(&p.ctid).map_err(early)?;
        container_path("container_path", &p.container_path).map_err(early)?;
        params::check_path("local_path", &p.local_path).map_err(early)?;
        let local = self.guest_and_local(ctid, &p.local_path, Access::Write)?;
        let progress = ProgressSender::new(ctx);
        let report_progress = |done, total| progress.report(done, total);
        let client = self.routed(ctid, ctx).await?;
        let result = proxmox::download(
            &client,
            &self.state.leftovers,
            ctid,
            &p.container_path,
            &local,
            self.copy_options(p.overwrite, &report_progress, ctx),
        )
        .await;
        progress.finish().await;
        let done = result.map_err(|e| (Some(ctid), Failure::from(&e)))?;
        Ok(answer(
            &CtTransferReport::downloaded(ctid, &p.container_path, &local, &done),
            ResponseFormat::Json,
        ))
    }

    async fn ct_upload(
        &self,
        args: JsonObject,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<CallToolResult, (Option<Ctid>, Failure)> {
        let p: CtUploadParams = params::parse(args).map_err(early)?;
        let ctid = ctid_of(&p.ctid).map_err(early)?;
        params::check_path("local_path", &p.local_path).map_err(early)?;
        container_path("container_path", &p.container_path).map_err(early)?;
        let mode = p
            .permissions
            .as_ref()
            .map(|m| m.mode("permissions"))
            .transpose()
            .map_err(early)?;
        let local = self.guest_and_local(ctid, &p.local_path, Access::Read)?;
        let progress = ProgressSender::new(ctx);
        let report_progress = |done, total| progress.report(done, total);
        let client = self.routed(ctid, ctx).await?;
        let result = proxmox::upload(
            &client,
            &self.state.leftovers,
            ctid,
            &local,
            &p.container_path,
            mode,
            self.copy_options(p.overwrite, &report_progress, ctx),
        )
        .await;
        progress.finish().await;
        let done = result.map_err(|e| (Some(ctid), Failure::from(&e)))?;
        Ok(answer(
            &CtTransferReport::uploaded(ctid, &local, &p.container_path, &done, mode),
            ResponseFormat::Json,
        ))
    }

    /// The copy options of a container file tool: MAX_FILE_SIZE, the call's progress
    /// and cancellation.
    pub(super) fn copy_options<'a>(
        &self,
        overwrite: bool,
        progress: crate::ssh::transfer::Progress<'a>,
        ctx: &'a RequestContext<RoleServer>,
    ) -> CopyOptions<'a> {
        CopyOptions {
            overwrite,
            max_size: self.state.config.max_file_size,
            progress,
            cancel: &ctx.ct,
        }
    }

    /// A valid container id that the policy lets the tools act on.
    pub(super) fn guest(&self, v: &serde_json::Value) -> Result<Ctid, Failure> {
        let ctid = ctid_of(v)?;
        self.state.config.policy.check_guest(ctid.get().into())?;
        Ok(ctid)
    }

    /// The resolved `local` path, when the policy lets the tools touch both it (for
    /// `access`) and container `ctid`.
    pub(super) fn guest_and_local(
        &self,
        ctid: Ctid,
        local: &str,
        access: Access,
    ) -> Result<std::path::PathBuf, (Option<Ctid>, Failure)> {
        let local = super::core::local_path(local);
        let policy = &self.state.config.policy;
        let checked = policy
            .check_guest(ctid.get().into())
            .and_then(|_| policy.check_local(&local, access));
        checked.map_err(|r| (Some(ctid), r.into()))?;
        Ok(local)
    }

    async fn power(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
        power: Power,
    ) -> Result<CallToolResult, ErrorData> {
        let p: PowerParams = match params::parse(args) {
            Ok(p) => p,
            Err(e) => return Ok(power_failure(None, e)),
        };
        let ctid = match self.guest(&p.ctid) {
            Ok(c) => c,
            Err(f) => return Ok(power_failure(None, f)),
        };
        if power == Power::Stop
            && let Err(f) = self
                .approve(
                    &ctx,
                    &format!(
                        "Stop container {ctid} at once (`pct stop {ctid}`)? Its services get no clean shutdown."
                    ),
                )
                .await
        {
            return Ok(power_failure(Some(ctid), f));
        }
        let client = match self.guest_client(ctid, &ctx).await {
            Ok(c) => c,
            Err(f) => return Ok(power_failure(Some(ctid), f)),
        };
        let result = match power {
            Power::Start => proxmox::start(&client, ctid, &ctx.ct).await,
            Power::Stop => proxmox::stop(&client, ctid, &ctx.ct).await,
        };
        Ok(match result {
            Ok(said) => answer(&PowerReport::done(ctid, power, said), ResponseFormat::Json),
            Err(e) => power_failure(Some(ctid), &e),
        })
    }
}
