//! The VM tools (registered with the other `proxmox_*` tools unless
//! PROXMOX_VMS=false) and `proxmox_list_guests`: rmcp glue over [`crate::vm`].
//! Arguments are validated before any I/O; parameters follow the container tools,
//! with `vmid` for `ctid` and `vm_path` for `container_path`.

use rmcp::model::{CallToolResult, JsonObject};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use super::kind::{Failed, Kind, answered, early, guest_args, vm_schema};
use super::params::{self, InvalidParam, Permissions, Timeout};
use super::{RemoteExec, answer};
use crate::output::vms::{
    GuestListReport, VmListReport, VmPowerReport, VmStatusReport, VmTransferReport,
};
use crate::output::{ExecReport, Failure, ResponseFormat};
use crate::ssh::SshClient;
use crate::vm;

fn default_shutdown_secs() -> u64 {
    60
}

/// `proxmox_vm_status` arguments.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VmStatusParams {
    #[schemars(schema_with = "vm_schema")]
    pub vmid: serde_json::Value,
    /// `text` (default) for one sentence, or `json` for one JSON object.
    #[serde(default)]
    pub response_format: ResponseFormat,
}

/// `proxmox_start_vm` / `proxmox_stop_vm` arguments.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VmPowerParams {
    #[schemars(schema_with = "vm_schema")]
    pub vmid: serde_json::Value,
}

/// `proxmox_shutdown_vm` arguments.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VmShutdownParams {
    #[schemars(schema_with = "vm_schema")]
    pub vmid: serde_json::Value,
    /// Seconds to wait for the clean shutdown (1-300, default 60).
    #[serde(default = "default_shutdown_secs")]
    #[schemars(range(min = 1, max = 300))]
    pub timeout: u64,
    /// Stop the VM hard if it has not shut down within `timeout` (default false: it
    /// is left running and the result says it timed out). A paused VM is then
    /// stopped hard at once.
    #[serde(default)]
    pub force_stop: bool,
}

/// `proxmox_reboot_vm` arguments.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VmRebootParams {
    #[schemars(schema_with = "vm_schema")]
    pub vmid: serde_json::Value,
    /// Seconds to wait for the guest to go down (1-300, default 60).
    #[serde(default = "default_shutdown_secs")]
    #[schemars(range(min = 1, max = 300))]
    pub timeout: u64,
}

/// `proxmox_vm_exec_command` arguments.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VmExecParams {
    #[schemars(schema_with = "vm_schema")]
    pub vmid: serde_json::Value,
    /// The shell command to run in the VM (1-10000 characters), e.g. `df -h`. It runs
    /// with `sh -c` as the guest agent's user (root on Linux), without a terminal and
    /// without standard input.
    #[schemars(length(min = 1, max = 10000))]
    pub command: String,
    /// Seconds the command may run in the VM (1-300, default 30; more is clamped to
    /// 300, with a note). Then it is ended there and its output so far returned.
    #[serde(default)]
    pub timeout: Timeout,
    /// `text` (default) for readable sections, or `json` for one JSON object.
    #[serde(default)]
    pub response_format: ResponseFormat,
}

/// `proxmox_download_file_from_vm` arguments.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VmDownloadParams {
    #[schemars(schema_with = "vm_schema")]
    pub vmid: serde_json::Value,
    /// Absolute path of the file inside the VM, e.g. /var/log/syslog (no `..`).
    #[schemars(length(min = 1, max = 4096))]
    pub vm_path: String,
    /// Path of the file to create on this machine; its directory must exist.
    #[schemars(length(min = 1, max = 4096))]
    pub local_path: String,
    /// Replace the local file if it exists (default false).
    #[serde(default)]
    pub overwrite: bool,
}

/// `proxmox_upload_file_to_vm` arguments.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VmUploadParams {
    #[schemars(schema_with = "vm_schema")]
    pub vmid: serde_json::Value,
    /// Path of the file on this machine (the one running the MCP server).
    #[schemars(length(min = 1, max = 4096))]
    pub local_path: String,
    /// Absolute path of the file to create in the VM (no `..`); its directory must exist.
    #[schemars(length(min = 1, max = 4096))]
    pub vm_path: String,
    /// Octal permissions for the file in the VM, e.g. "600" (default: "644" for a new file; a replaced file keeps its mode, and always its owner and group).
    #[serde(default)]
    pub permissions: Option<Permissions>,
    /// Replace the file in the VM if it exists (default false: refused).
    #[serde(default)]
    pub overwrite: bool,
}

fn shutdown_secs(secs: u64) -> Result<u64, InvalidParam> {
    super::guests::shutdown_secs_for(
        secs,
        "what qm does with it is not known, and the call must end",
    )
}

fn power_answer(result: Result<VmPowerReport, Failed>) -> CallToolResult {
    answered(result, VmPowerReport::failed, ResponseFormat::Json)
}

guest_args!(VmExecParams, Vm, vmid, exec);
guest_args!(VmStatusParams, Vm, vmid);
guest_args!(VmPowerParams, Vm, vmid);
guest_args!(VmShutdownParams, Vm, vmid);
guest_args!(VmRebootParams, Vm, vmid);
guest_args!(VmDownloadParams, Vm, vmid, vm_path);
guest_args!(VmUploadParams, Vm, vmid, vm_path, permissions);

#[tool_router(router = vm_router, vis = "pub(crate)")]
impl RemoteExec {
    #[tool(
        name = "proxmox_list_vms",
        title = "List virtual machines",
        description = "List the QEMU virtual machines of the Proxmox VE node (`qm list --full`): id, name, state \
(running, paused, stopped, …), memory, boot disk size.",
        input_schema = super::schema::input::<super::proxmox::ListParams>(),
        output_schema = super::schema::output::<VmListReport>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = true)
    )]
    pub async fn proxmox_list_vms(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let list = async |client: &SshClient| {
            let rows = vm::list(client, &ctx.ct)
                .await
                .map_err(|e| Failure::from(&e))?;
            Ok(VmListReport::of(self.allowed(rows, |r| r.vmid)))
        };
        Ok(self.list_tool(args, &ctx, VmListReport::failed, list).await)
    }

    #[tool(
        name = "proxmox_list_guests",
        title = "List all guests",
        description = "List every guest of the Proxmox VE cluster in one call, containers and virtual machines \
(`pvesh get /cluster/resources --type vm`): id, type (lxc or qemu), name, status, node, lock, template.",
        input_schema = super::schema::input::<super::proxmox::ListParams>(),
        output_schema = super::schema::output::<GuestListReport>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = true)
    )]
    pub async fn proxmox_list_guests(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let list = async |client: &SshClient| {
            let guests = self.cluster_guests(client, &ctx.ct).await?;
            Ok(GuestListReport::of(guests))
        };
        Ok(self
            .list_tool(args, &ctx, GuestListReport::failed, list)
            .await)
    }

    #[tool(
        name = "proxmox_vm_status",
        title = "VM status",
        description = "The state of one virtual machine (`qm status --verbose`, `qm config`): running, paused or \
stopped, its lock, uptime, memory, and whether its guest agent is configured (needed for commands and files). \
An unknown VM is an error result.",
        input_schema = super::schema::input::<VmStatusParams>(),
        output_schema = super::schema::output::<VmStatusReport>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = true)
    )]
    pub async fn proxmox_vm_status(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let hint = super::exec_hints(&args).1;
        let p: VmStatusParams = match params::parse(args) {
            Ok(p) => p,
            Err(e) => return Ok(answer(&VmStatusReport::failed(None, e.into()), hint)),
        };
        let vmid = match self.guest_id(Kind::Vm, &p.vmid) {
            Ok(v) => v,
            Err(f) => return Ok(answer(&VmStatusReport::failed(None, f), p.response_format)),
        };
        let client = match self.guest_client(vmid, &ctx).await {
            Ok(c) => c,
            Err(f) => {
                return Ok(answer(
                    &VmStatusReport::failed(Some(vmid), f),
                    p.response_format,
                ));
            }
        };
        let report = match vm::status(&client, vmid, &ctx.ct).await {
            Ok(s) => match vm::agent_configured(&client, vmid, &ctx.ct).await {
                Ok(agent) => VmStatusReport::of(vmid, s, agent),
                Err(e) => VmStatusReport::failed(Some(vmid), Failure::from(&e)),
            },
            Err(e) => VmStatusReport::failed(Some(vmid), Failure::from(&e)),
        };
        Ok(answer(&report, p.response_format))
    }

    #[tool(
        name = "proxmox_start_vm",
        title = "Start a VM",
        description = "Start a stopped virtual machine (`qm start`); a VM suspended to disk resumes. Starting a \
running, locked, template or unknown VM is an error result carrying qm's message.",
        input_schema = super::schema::input::<VmPowerParams>(),
        output_schema = super::schema::output::<VmPowerReport>(),
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = true)
    )]
    pub async fn proxmox_start_vm(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.vm_power(args, &ctx, true).await)
    }

    #[tool(
        name = "proxmox_stop_vm",
        title = "Stop a VM (hard)",
        description = "Stop a running virtual machine at once (`qm stop`: like pulling the plug, the guest gets no \
clean shutdown; for a clean one use proxmox_shutdown_vm). Stopping a stopped, locked or unknown VM is an error result.",
        input_schema = super::schema::input::<VmPowerParams>(),
        output_schema = super::schema::output::<VmPowerReport>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = true)
    )]
    pub async fn proxmox_stop_vm(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.vm_power(args, &ctx, false).await)
    }

    #[tool(
        name = "proxmox_shutdown_vm",
        title = "Shut down a VM",
        description = "Shut down a running virtual machine cleanly (`qm shutdown`: through the guest agent, or ACPI \
when it does not answer). Waits up to `timeout` seconds; if it is still running then, it is stopped hard with \
force_stop=true, or left running and reported as timed out (an error result). A paused VM cannot shut down cleanly. \
The result says what happened.",
        input_schema = super::schema::input::<VmShutdownParams>(),
        output_schema = super::schema::output::<VmPowerReport>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = true)
    )]
    pub async fn proxmox_shutdown_vm(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(power_answer(self.vm_shutdown(args, &ctx).await))
    }

    #[tool(
        name = "proxmox_reboot_vm",
        title = "Reboot a VM",
        description = "Reboot a running virtual machine (`qm reboot`: a clean shutdown, then a start). Waits up to \
`timeout` seconds for the guest to go down; the result gives its state afterwards.",
        input_schema = super::schema::input::<VmRebootParams>(),
        output_schema = super::schema::output::<VmPowerReport>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = true)
    )]
    pub async fn proxmox_reboot_vm(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(power_answer(self.vm_reboot(args, &ctx).await))
    }

    #[tool(
        name = "proxmox_vm_exec_command",
        title = "Run a command in a VM",
        description = "Run a shell command inside a running virtual machine through its QEMU guest agent (`qm guest \
exec`, with `sh -c`) and return its stdout, stderr and exit code. `timeout` (1-300 s, default 30; larger values are \
clamped to 300) limits the run: then the command is ended in the guest (by a guest-side `timeout`) and \
timeout_reached=true. Needs the agent configured and running in the guest; a stopped or unknown VM, or one without a \
running agent, is an error result saying which.",
        input_schema = super::schema::input::<VmExecParams>(),
        output_schema = super::schema::output::<ExecReport>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = true)
    )]
    pub async fn proxmox_vm_exec_command(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.exec_in::<VmExecParams>(args, &ctx).await)
    }

    #[tool(
        name = "proxmox_download_file_from_vm",
        title = "Download a file from a VM",
        description = "Copy a file from a running virtual machine to this machine through its QEMU guest agent, in \
pieces. The copy is checked by size and by the SHA-256 computed in the guest, written to a temporary name beside the \
target and renamed into place only when complete. overwrite=false (default) refuses an existing local file. Files \
larger than MAX_FILE_SIZE are refused before anything is copied.",
        input_schema = super::schema::input::<VmDownloadParams>(),
        output_schema = super::schema::output::<VmTransferReport>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = true)
    )]
    pub async fn proxmox_download_file_from_vm(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self
            .download::<VmDownloadParams, VmTransferReport>(args, &ctx)
            .await)
    }

    #[tool(
        name = "proxmox_upload_file_to_vm",
        title = "Upload a file to a VM",
        description = "Copy a file from this machine into a running virtual machine through its QEMU guest agent (via \
a private temporary file on the node, removed afterwards). It arrives complete or not at all: written in pieces to a \
hidden temporary name beside the target, checked by size and by the SHA-256 computed in the guest, given `permissions` \
(octal; default \"644\" for a new file, the old mode for a replaced one), then moved into place. overwrite=false \
(default) refuses an existing file; the target's directory must exist. Files larger than MAX_FILE_SIZE are refused.",
        input_schema = super::schema::input::<VmUploadParams>(),
        output_schema = super::schema::output::<VmTransferReport>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = true)
    )]
    pub async fn proxmox_upload_file_to_vm(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self
            .upload::<VmUploadParams, VmTransferReport>(args, &ctx)
            .await)
    }
}

impl RemoteExec {
    async fn vm_power(
        &self,
        args: JsonObject,
        ctx: &RequestContext<RoleServer>,
        start: bool,
    ) -> CallToolResult {
        let done = self.power_guest::<VmPowerParams>(args, ctx, start).await;
        power_answer(done.map(|(vmid, said)| VmPowerReport::done(vmid, start, said)))
    }

    async fn vm_shutdown(
        &self,
        args: JsonObject,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<VmPowerReport, Failed> {
        let p: VmShutdownParams = params::parse(args).map_err(early)?;
        let vmid = self.guest_id(Kind::Vm, &p.vmid).map_err(early)?;
        let secs = shutdown_secs(p.timeout).map_err(|e| (Some(vmid), e.into()))?;
        if p.force_stop {
            self.approve(
                ctx,
                &format!(
                    "Shut down VM {vmid}, and stop it hard if it is still running after {secs} s?"
                ),
            )
            .await
            .map_err(|f| (Some(vmid), f))?;
        }
        let done = vm::shutdown(
            &*self.routed(vmid, ctx).await?,
            vmid,
            secs,
            p.force_stop,
            &ctx.ct,
        )
        .await
        .map_err(|e| (Some(vmid), Failure::from(&e)))?;
        Ok(VmPowerReport::finished(vmid, done, true))
    }

    async fn vm_reboot(
        &self,
        args: JsonObject,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<VmPowerReport, Failed> {
        let p: VmRebootParams = params::parse(args).map_err(early)?;
        let vmid = self.guest_id(Kind::Vm, &p.vmid).map_err(early)?;
        let secs = shutdown_secs(p.timeout).map_err(|e| (Some(vmid), e.into()))?;
        self.approve(ctx, &format!("Reboot VM {vmid}? Its services restart."))
            .await
            .map_err(|f| (Some(vmid), f))?;
        let done = vm::reboot(&*self.routed(vmid, ctx).await?, vmid, secs, &ctx.ct)
            .await
            .map_err(|e| (Some(vmid), Failure::from(&e)))?;
        Ok(VmPowerReport::finished(vmid, done, false))
    }
}
