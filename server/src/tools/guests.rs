//! The guest operation tools (registered with the other `proxmox_*` tools):
//! graceful shutdown and reboot of containers, and snapshots. rmcp glue over
//! [`crate::guests`]; arguments are validated before any I/O.

use rmcp::model::{CallToolResult, JsonObject};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use super::kind::{Failed, Kind, bad, by_kind, ctid_schema, early, vmid_schema};
use super::params::{self, InvalidParam};
use super::{RemoteExec, answer};
use crate::guests::{self, MAX_SHUTDOWN_SECS};
use crate::output::guests::{SnapshotListReport, SnapshotReport};
use crate::output::proxmox::PowerReport;
use crate::output::{Failure, ResponseFormat};
use crate::pct::Ctid;
use crate::snapshot::{self, SnapName};
use crate::vm;

fn default_shutdown_secs() -> u64 {
    60
}

/// `proxmox_shutdown_container` arguments.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShutdownParams {
    #[schemars(schema_with = "ctid_schema")]
    pub ctid: serde_json::Value,
    /// Seconds to wait for the clean shutdown (1-300, default 60).
    #[serde(default = "default_shutdown_secs")]
    #[schemars(range(min = 1, max = 300))]
    pub timeout: u64,
    /// Stop the container hard if it has not shut down within `timeout` (default
    /// false: it is left running and the result says it timed out).
    #[serde(default)]
    pub force_stop: bool,
}

/// `proxmox_reboot_container` arguments.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RebootParams {
    #[schemars(schema_with = "ctid_schema")]
    pub ctid: serde_json::Value,
    /// Seconds to wait for the clean shutdown before it is stopped hard and started
    /// again (1-300, default 60).
    #[serde(default = "default_shutdown_secs")]
    #[schemars(range(min = 1, max = 300))]
    pub timeout: u64,
}

/// `proxmox_snapshot_create` arguments.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnapshotCreateParams {
    #[schemars(schema_with = "vmid_schema")]
    pub vmid: serde_json::Value,
    /// The snapshot's name: a letter, then letters, digits, `-` or `_`, 2-40
    /// characters, e.g. `pre-upgrade` (not `current`, `vzdump` or `pending`).
    #[schemars(length(min = 2, max = 40))]
    pub name: String,
    /// What the snapshot is for, on one line (optional).
    #[serde(default)]
    #[schemars(length(max = 8192))]
    pub description: String,
    /// Virtual machines only: save the RAM too. Containers have no RAM state; true is
    /// refused for them.
    #[serde(default)]
    pub vmstate: bool,
}

/// `proxmox_snapshot_list` arguments.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnapshotListParams {
    #[schemars(schema_with = "vmid_schema")]
    pub vmid: serde_json::Value,
    /// `text` (default) for the indented tree, or `json` for one JSON object.
    #[serde(default)]
    pub response_format: ResponseFormat,
}

/// `proxmox_snapshot_rollback` arguments.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnapshotRollbackParams {
    #[schemars(schema_with = "vmid_schema")]
    pub vmid: serde_json::Value,
    /// The snapshot to go back to (proxmox_snapshot_list shows them).
    #[schemars(length(min = 2, max = 40))]
    pub name: String,
    /// Start the guest after the rollback (default false: it is left stopped).
    #[serde(default)]
    pub start: bool,
    /// Let the rollback stop a running guest hard first (default false: a running
    /// guest is refused, so that it can be shut down cleanly first).
    #[serde(default)]
    pub stop_running: bool,
}

/// `proxmox_snapshot_delete` arguments.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnapshotDeleteParams {
    #[schemars(schema_with = "vmid_schema")]
    pub vmid: serde_json::Value,
    /// The snapshot to delete (proxmox_snapshot_list shows them).
    #[schemars(length(min = 2, max = 40))]
    pub name: String,
}

fn shutdown_secs(secs: u64) -> Result<u64, InvalidParam> {
    shutdown_secs_for(
        secs,
        "pct would wait without a limit for a container that ignores the request",
    )
}

/// A shutdown `timeout` of 1-300 s; `why_not_zero` says why 0 is refused.
pub(super) fn shutdown_secs_for(secs: u64, why_not_zero: &str) -> Result<u64, InvalidParam> {
    match secs {
        0 => Err(bad(
            "timeout",
            format!("0 is not allowed: {why_not_zero}"),
            "Give 1 to 300 seconds, e.g. 60.",
        )),
        s if s > MAX_SHUTDOWN_SECS => Err(bad(
            "timeout",
            format!("{s} s is more than the maximum of {MAX_SHUTDOWN_SECS} s"),
            "Give 1 to 300 seconds, e.g. 60.",
        )),
        s => Ok(s),
    }
}

fn snap_name(name: &str) -> Result<SnapName, InvalidParam> {
    SnapName::parse(name).map_err(|e| bad("name", e.0, "Give a name such as pre-upgrade or s1."))
}

/// The guest id of a snapshot tool: the same rules as a container's `ctid`.
fn vmid_of(v: &serde_json::Value) -> Result<Ctid, InvalidParam> {
    Ctid::from_json(v).map_err(|e| {
        bad(
            "vmid",
            e.0,
            "Give a guest id from 100 to 999999999, e.g. 100; proxmox_list_containers lists the containers.",
        )
    })
}

fn power_answer(result: Result<PowerReport, Failed>) -> CallToolResult {
    let report = result.unwrap_or_else(|(ctid, f)| PowerReport::failed(ctid, f));
    answer(&report, ResponseFormat::Json)
}

/// The snapshot tools that answer with a [`SnapshotReport`].
#[derive(Debug, Clone, Copy)]
enum SnapOp {
    Create,
    Rollback,
    Delete,
}

#[tool_router(router = guest_router, vis = "pub(crate)")]
impl RemoteExec {
    #[tool(
        name = "proxmox_shutdown_container",
        title = "Shut down a container",
        description = "Shut down a running LXC container cleanly (`pct shutdown`): its services stop in order. Waits up to \
`timeout` seconds; if it is still running then, it is stopped hard with force_stop=true, or left running and reported as \
timed out (an error result). The result says what happened: shut down cleanly, or stopped hard.",
        input_schema = super::schema::input::<ShutdownParams>(),
        output_schema = super::schema::output::<PowerReport>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = true)
    )]
    pub async fn proxmox_shutdown_container(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(power_answer(self.shutdown(args, &ctx).await))
    }

    #[tool(
        name = "proxmox_reboot_container",
        title = "Reboot a container",
        description = "Reboot a running LXC container (`pct reboot`): a clean shutdown, stopped hard if it takes longer \
than `timeout` seconds, then a start. The result gives its state afterwards.",
        input_schema = super::schema::input::<RebootParams>(),
        output_schema = super::schema::output::<PowerReport>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = true)
    )]
    pub async fn proxmox_reboot_container(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(power_answer(self.reboot(args, &ctx).await))
    }

    #[tool(
        name = "proxmox_snapshot_create",
        title = "Take a snapshot",
        description = "Take a snapshot of a container or VM (`pct snapshot`, `qm snapshot`): its configuration and disks as \
they are now (a VM's RAM too with vmstate=true), to roll back to later. The name is checked before anything runs; a used name, a locked guest or a storage without snapshots \
is an error result carrying pct's message.",
        input_schema = super::schema::input::<SnapshotCreateParams>(),
        output_schema = super::schema::output::<SnapshotReport>(),
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = true)
    )]
    pub async fn proxmox_snapshot_create(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.snapshot_tool(args, &ctx, SnapOp::Create).await)
    }

    #[tool(
        name = "proxmox_snapshot_list",
        title = "List snapshots",
        description = "List the snapshots of a container or VM (`pct`/`qm listsnapshot`) as a tree: each with its parent, time (the \
node's local time) and description, and where the present state (`current`) hangs.",
        input_schema = super::schema::input::<SnapshotListParams>(),
        output_schema = super::schema::output::<SnapshotListReport>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = true)
    )]
    pub async fn proxmox_snapshot_list(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let hint = super::exec_hints(&args).1;
        let p: SnapshotListParams = match params::parse(args) {
            Ok(p) => p,
            Err(e) => return Ok(answer(&SnapshotListReport::failed(None, e.into()), hint)),
        };
        let vmid = match self.snapshot_guest(&p.vmid) {
            Ok(v) => v,
            Err((_, f)) => {
                return Ok(answer(
                    &SnapshotListReport::failed(None, f),
                    p.response_format,
                ));
            }
        };
        let client = match self.guest_client(vmid, &ctx).await {
            Ok(c) => c,
            Err(f) => {
                return Ok(answer(
                    &SnapshotListReport::failed(Some(vmid), f),
                    p.response_format,
                ));
            }
        };
        let listed = match self.kind(vmid, &ctx).await {
            Ok(Kind::Container) => guests::list(&client, vmid, &ctx.ct)
                .await
                .map(|t| SnapshotListReport::of(vmid, "lxc", t))
                .map_err(|e| Failure::from(&e)),
            Ok(Kind::Vm) => vm::snapshots::list(&client, vmid, &ctx.ct)
                .await
                .map(|t| SnapshotListReport::of(vmid, "qemu", t))
                .map_err(|e| Failure::from(&e)),
            Err((_, f)) => Err(f),
        };
        let report = listed.unwrap_or_else(|f| SnapshotListReport::failed(Some(vmid), f));
        Ok(answer(&report, p.response_format))
    }

    #[tool(
        name = "proxmox_snapshot_rollback",
        title = "Roll back to a snapshot",
        description = "Roll a container or VM back to one of its snapshots (`pct`/`qm rollback`): everything changed since is lost. \
A running guest is refused unless stop_running=true (the rollback stops it hard); it is left stopped unless start=true.",
        input_schema = super::schema::input::<SnapshotRollbackParams>(),
        output_schema = super::schema::output::<SnapshotReport>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = true)
    )]
    pub async fn proxmox_snapshot_rollback(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.snapshot_tool(args, &ctx, SnapOp::Rollback).await)
    }

    #[tool(
        name = "proxmox_snapshot_delete",
        title = "Delete a snapshot",
        description = "Delete one snapshot of a container or VM (`pct`/`qm delsnapshot`); the guest itself is not changed, and the \
snapshots taken after it keep their content.",
        input_schema = super::schema::input::<SnapshotDeleteParams>(),
        output_schema = super::schema::output::<SnapshotReport>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = true, open_world_hint = true)
    )]
    pub async fn proxmox_snapshot_delete(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.snapshot_tool(args, &ctx, SnapOp::Delete).await)
    }
}

impl RemoteExec {
    /// Whether `vmid` is a container or a VM on this node (`pct status`, then `qm
    /// status`); neither is "not found", naming both.
    pub(super) async fn kind(
        &self,
        vmid: Ctid,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<Kind, Failed> {
        let cancel = &ctx.ct;
        let client = self.routed(vmid, ctx).await?;
        match crate::proxmox::status(&client, vmid, cancel).await {
            Ok(_) => return Ok(Kind::Container),
            Err(crate::proxmox::PctError::NotFound { .. }) => {}
            Err(e) => return Err((Some(vmid), Failure::from(&e))),
        }
        match vm::status(&client, vmid, cancel).await {
            Ok(_) => Ok(Kind::Vm),
            Err(vm::VmError::NotFound { detail, .. }) => Err((
                Some(vmid),
                Failure::new(
                    format!("Guest {vmid} not found on this node (neither a container nor a VM)"),
                    "Use proxmox_list_guests to see the guests, their type and node.",
                )
                .with_detail(Some(detail)),
            )),
            Err(e) => Err((Some(vmid), Failure::from(&e))),
        }
    }

    /// Runs a create, rollback or delete; a failure names the snapshot as given.
    async fn snapshot_tool(
        &self,
        args: JsonObject,
        ctx: &RequestContext<RoleServer>,
        op: SnapOp,
    ) -> CallToolResult {
        let name = args
            .get("name")
            .and_then(|n| n.as_str())
            .map(str::to_string);
        let result = match op {
            SnapOp::Create => self.snapshot_create(args, ctx).await,
            SnapOp::Rollback => self.snapshot_rollback(args, ctx).await,
            SnapOp::Delete => self.snapshot_delete(args, ctx).await,
        };
        let report =
            result.unwrap_or_else(|(vmid, f)| SnapshotReport::failed(vmid, name.as_deref(), f));
        answer(&report, ResponseFormat::Json)
    }

    /// A valid guest id (`vmid`) that the policy lets the tools act on.
    pub(super) fn snapshot_guest(&self, v: &serde_json::Value) -> Result<Ctid, Failed> {
        let vmid = vmid_of(v).map_err(early)?;
        self.state
            .config
            .policy
            .check_guest(vmid.get().into())
            .map_err(|r| early(Failure::from(r)))?;
        Ok(vmid)
    }

    async fn shutdown(
        &self,
        args: JsonObject,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<PowerReport, Failed> {
        let p: ShutdownParams = params::parse(args).map_err(early)?;
        let ctid = self.guest_id(Kind::Container, &p.ctid).map_err(early)?;
        let secs = shutdown_secs(p.timeout).map_err(early)?;
        if p.force_stop {
            let what = format!(
                "Shut down container {ctid}, and stop it hard (no clean shutdown) if it is still running after {secs} s?"
            );
            self.approve(ctx, &what)
                .await
                .map_err(|f| (Some(ctid), f))?;
        }
        let done = guests::shutdown(
            &*self.routed(ctid, ctx).await?,
            ctid,
            secs,
            p.force_stop,
            &ctx.ct,
        )
        .await
        .map_err(|e| (Some(ctid), Failure::from(&e)))?;
        Ok(PowerReport::shut_down(ctid, &done, secs))
    }

    async fn reboot(
        &self,
        args: JsonObject,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<PowerReport, Failed> {
        let p: RebootParams = params::parse(args).map_err(early)?;
        let ctid = self.guest_id(Kind::Container, &p.ctid).map_err(early)?;
        let secs = shutdown_secs(p.timeout).map_err(early)?;
        let what = format!(
            "Reboot container {ctid}? If it has not shut down after {secs} s it is stopped hard, then started again."
        );
        self.approve(ctx, &what)
            .await
            .map_err(|f| (Some(ctid), f))?;
        let (said, status) = guests::reboot(&*self.routed(ctid, ctx).await?, ctid, secs, &ctx.ct)
            .await
            .map_err(|e| (Some(ctid), Failure::from(&e)))?;
        Ok(PowerReport::rebooted(ctid, said, status))
    }

    async fn snapshot_create(
        &self,
        args: JsonObject,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<SnapshotReport, Failed> {
        let p: SnapshotCreateParams = params::parse(args).map_err(early)?;
        let vmid = self.snapshot_guest(&p.vmid)?;
        let name = snap_name(&p.name).map_err(|e| (Some(vmid), e.into()))?;
        snapshot::check_description(&p.description).map_err(|e| {
            (
                Some(vmid),
                bad("description", e, "Give the description on one line.").into(),
            )
        })?;
        let client = self.routed(vmid, ctx).await?;
        let kind = self.kind(vmid, ctx).await?;
        if p.vmstate && kind == Kind::Container {
            let e = bad(
                "vmstate",
                "a container has no RAM state to save (vmstate is for virtual machines)",
                "Leave vmstate out (or false) for a container.",
            );
            return Err((Some(vmid), e.into()));
        }
        let (description, cancel) = (&p.description, &ctx.ct);
        by_kind(
            kind,
            vmid,
            guests::create(&client, vmid, &name, description, cancel),
            vm::snapshots::create(&client, vmid, &name, description, p.vmstate, cancel),
        )
        .await?;
        let ram = if p.vmstate {
            ", with its RAM state"
        } else {
            ""
        };
        let message = format!("Snapshot '{name}' of {} {vmid} taken{ram}", kind.word());
        Ok(SnapshotReport::done(vmid, name.as_str(), message, None))
    }

    async fn snapshot_rollback(
        &self,
        args: JsonObject,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<SnapshotReport, Failed> {
        let p: SnapshotRollbackParams = params::parse(args).map_err(early)?;
        let vmid = self.snapshot_guest(&p.vmid)?;
        let name = snap_name(&p.name).map_err(|e| (Some(vmid), e.into()))?;
        let client = self.routed(vmid, ctx).await?;
        let kind = self.kind(vmid, ctx).await?;
        let (stop_running, cancel) = (p.stop_running, &ctx.ct);
        by_kind(
            kind,
            vmid,
            guests::check_rollback(&client, vmid, &name, stop_running, cancel),
            vm::snapshots::check_rollback(&client, vmid, &name, stop_running, cancel),
        )
        .await?;
        let what = format!(
            "Roll {} {vmid} back to snapshot '{name}'? Everything changed in it since that snapshot is lost{}.",
            kind.word(),
            if p.stop_running {
                ", and it is stopped hard first if running"
            } else {
                ""
            }
        );
        self.approve(ctx, &what)
            .await
            .map_err(|f| (Some(vmid), f))?;
        let status = by_kind(
            kind,
            vmid,
            guests::rollback(&client, vmid, &name, p.start, cancel),
            vm::snapshots::rollback(&client, vmid, &name, p.start, cancel),
        )
        .await?;
        let message = format!(
            "{} {vmid} rolled back to snapshot '{name}'; it is {status}",
            kind.title()
        );
        Ok(SnapshotReport::done(
            vmid,
            name.as_str(),
            message,
            Some(status),
        ))
    }

    async fn snapshot_delete(
        &self,
        args: JsonObject,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<SnapshotReport, Failed> {
        let p: SnapshotDeleteParams = params::parse(args).map_err(early)?;
        let vmid = self.snapshot_guest(&p.vmid)?;
        let name = snap_name(&p.name).map_err(|e| (Some(vmid), e.into()))?;
        let client = self.routed(vmid, ctx).await?;
        let kind = self.kind(vmid, ctx).await?;
        let cancel = &ctx.ct;
        by_kind(
            kind,
            vmid,
            guests::check_exists(&client, vmid, &name, cancel),
            vm::snapshots::check_exists(&client, vmid, &name, cancel),
        )
        .await?;
        let what = format!(
            "Delete snapshot '{name}' of {} {vmid}? It cannot be rolled back to afterwards.",
            kind.word()
        );
        self.approve(ctx, &what)
            .await
            .map_err(|f| (Some(vmid), f))?;
        by_kind(
            kind,
            vmid,
            guests::delete(&client, vmid, &name, cancel),
            vm::snapshots::delete(&client, vmid, &name, cancel),
        )
        .await?;
        let message = format!("Snapshot '{name}' of {} {vmid} deleted", kind.word());
        Ok(SnapshotReport::done(vmid, name.as_str(), message, None))
    }
}
