//! The seven `proxmox_*` tools (registered when ENABLE_PROXMOX=true): rmcp glue over
//! [`crate::proxmox`] and [`crate::pct`]. Arguments are validated before any I/O; the
//! container id becomes a [`Ctid`], which cannot hold an invalid id.

use rmcp::model::{CallToolResult, JsonObject};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use super::RemoteExec;
use super::kind::{Failed, Kind, answered, ctid_schema, early, guest_args};
use super::params::{self, Permissions, Timeout};
use crate::output::proxmox::{
    ContainerRow, CtTransferReport, ListReport, Power, PowerReport, StatusReport,
};
use crate::output::{ExecReport, Failure, ResponseFormat};
use crate::proxmox::{self, CopyOptions};
use crate::ssh::SshClient;

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

guest_args!(CtExecParams, Container, ctid, exec);
guest_args!(StatusParams, Container, ctid);
guest_args!(PowerParams, Container, ctid);
guest_args!(CtDownloadParams, Container, ctid, container_path);
guest_args!(CtUploadParams, Container, ctid, container_path, permissions);

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
        Ok(self.exec_in::<CtExecParams>(args, &ctx).await)
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
        let list = async |client: &SshClient| {
            let router = &self.place(&ctx)?.router;
            // The cluster read and `pct list` run side by side (two channels): on a
            // standalone node the call then takes about what pct itself takes. On a
            // cluster `pct list`'s answer is set aside for the cluster's resource list.
            let (layout, local) = tokio::join!(
                router.layout(client, &ctx.ct),
                proxmox::list(client, &ctx.ct)
            );
            if layout?.is_some_and(|l| l.cluster.is_some()) {
                let guests = self.cluster_guests(client, &ctx.ct).await?;
                return Ok(ListReport::of_cluster(containers_of(guests)));
            }
            let rows = local.map_err(|e| Failure::from(&e))?;
            Ok(ListReport::of(self.allowed(rows, |r| r.ctid)))
        };
        Ok(self.list_tool(args, &ctx, ListReport::failed, list).await)
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
        let format = super::exec_hints(&args).1;
        let status = self.ct_status(args, &ctx).await;
        Ok(answered(status, StatusReport::failed, format))
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
        Ok(self.power(args, &ctx, Power::Start).await)
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
        Ok(self.power(args, &ctx, Power::Stop).await)
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
            .download::<CtDownloadParams, CtTransferReport>(args, &ctx)
            .await)
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
            .upload::<CtUploadParams, CtTransferReport>(args, &ctx)
            .await)
    }
}

/// The containers among a cluster's guests, each with its node.
fn containers_of(guests: Vec<crate::metrics::GuestStatus>) -> Vec<ContainerRow> {
    guests
        .into_iter()
        .filter(|r| r.kind.as_deref() == Some("lxc"))
        .map(|r| ContainerRow {
            ctid: r.vmid,
            status: r.status.unwrap_or_else(|| "unknown".into()),
            name: r.name.unwrap_or_else(|| format!("CT{}", r.vmid)),
            lock: r.lock,
            node: r.node,
        })
        .collect()
}

impl RemoteExec {
    async fn ct_status(
        &self,
        args: JsonObject,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<StatusReport, Failed> {
        let p: StatusParams = params::parse(args).map_err(early)?;
        let ctid = self.guest_id(Kind::Container, &p.ctid).map_err(early)?;
        let client = self.routed(ctid, ctx).await?;
        let status = proxmox::status(&client, ctid, &ctx.ct).await;
        let status = status.map_err(|e| (Some(ctid), Failure::from(&e)))?;
        Ok(StatusReport::of(ctid, status))
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

    async fn power(
        &self,
        args: JsonObject,
        ctx: &RequestContext<RoleServer>,
        power: Power,
    ) -> CallToolResult {
        let start = power == Power::Start;
        let done = self.power_guest::<PowerParams>(args, ctx, start).await;
        let report = done.map(|(ctid, said)| PowerReport::done(ctid, power, said));
        answered(report, PowerReport::failed, ResponseFormat::Json)
    }
}
