//! The backup tools (registered with the other `proxmox_*` tools): `vzdump` of a
//! container to a storage, the backups on a storage, and `pct restore`. rmcp glue over
//! [`crate::guests`]; arguments are validated before any I/O.

use rmcp::model::{CallToolResult, JsonObject};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use super::kind::{Failed, bad, early, vmid_schema};
use super::params::{self, InvalidParam};
use super::{RemoteExec, answer};
use crate::backup::{self, Compress, Mode};
use crate::guests;
use crate::output::guests::{BackupListReport, BackupReport, RestoreReport};
use crate::output::{Failure, ResponseFormat};

fn local() -> String {
    "local".into()
}

fn snapshot_mode() -> Mode {
    Mode::Snapshot
}

fn zstd() -> Compress {
    Compress::Zstd
}

/// `proxmox_backup_create` arguments.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupCreateParams {
    #[schemars(schema_with = "vmid_schema")]
    pub vmid: serde_json::Value,
    /// The storage to write the backup to (default `local`); it must allow backups.
    #[serde(default = "local")]
    pub storage: String,
    /// `snapshot` (default: the guest keeps running), `suspend`, or `stop` (the guest is
    /// stopped for the backup and started again).
    #[serde(default = "snapshot_mode")]
    pub mode: Mode,
    /// `zstd` (default), `gzip`, `lzo`, or `0` for none.
    #[serde(default = "zstd")]
    pub compress: Compress,
}

/// `proxmox_backup_list` arguments.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupListParams {
    /// The storage to look on (default `local`).
    #[serde(default = "local")]
    pub storage: String,
    /// Only the backups of this guest (default: all).
    #[serde(default)]
    #[schemars(schema_with = "vmid_schema")]
    pub vmid: Option<serde_json::Value>,
    /// `text` (default) for one backup a line, or `json` for one JSON object.
    #[serde(default)]
    pub response_format: ResponseFormat,
}

/// `proxmox_backup_restore` arguments.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupRestoreParams {
    /// The backup's volume id, as proxmox_backup_list and proxmox_backup_create give it,
    /// e.g. `local:backup/vzdump-lxc-100-2025_01_10-12_00_00.tar.zst`.
    #[schemars(length(min = 1, max = 4096))]
    pub archive: String,
    /// The id of the container to create from it (a free one, unless `force`).
    #[schemars(schema_with = "vmid_schema")]
    pub vmid: serde_json::Value,
    /// The storage for the container's disk, e.g. `local-lvm` (one that holds container
    /// disks; `local` usually does not).
    pub storage: String,
    /// Replace an existing, stopped container of that id (default false: refused).
    /// Everything in it is lost.
    #[serde(default)]
    pub force: bool,
}

fn storage_arg(param: &str, s: &str) -> Result<(), InvalidParam> {
    backup::check_storage(s).map_err(|e| {
        bad(
            param,
            e,
            "Give a storage's name, e.g. local or local-lvm (`pvesm status` on the node lists them).",
        )
    })
}

#[tool_router(router = backup_router, vis = "pub(crate)")]
impl RemoteExec {
    #[tool(
        name = "proxmox_backup_create",
        title = "Back up a container",
        description = "Back up a container with vzdump to a storage (default `local`, zstd-compressed, snapshot mode: \
the container keeps running). The result gives the backup's volume id (for proxmox_backup_restore), its size, how long \
it took and the end of vzdump's log. While it runs the container shows the `backup` lock.",
        input_schema = super::schema::input::<BackupCreateParams>(),
        output_schema = super::schema::output::<BackupReport>(),
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = true)
    )]
    pub async fn proxmox_backup_create(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let report = match self.backup_create(args, &ctx).await {
            Ok(r) => r,
            Err((vmid, f)) => BackupReport::failed(vmid, f),
        };
        Ok(answer(&report, ResponseFormat::Json))
    }

    #[tool(
        name = "proxmox_backup_list",
        title = "List backups",
        description = "List the backups on a storage (`pvesm list STORAGE --content backup`), optionally only those of \
one guest: volume id, format, size in bytes and guest id.",
        input_schema = super::schema::input::<BackupListParams>(),
        output_schema = super::schema::output::<BackupListReport>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = true)
    )]
    pub async fn proxmox_backup_list(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let hint = super::exec_hints(&args).1;
        let p: BackupListParams = match params::parse(args) {
            Ok(p) => p,
            Err(e) => return Ok(answer(&BackupListReport::failed(None, e.into()), hint)),
        };
        let storage = p.storage.as_str();
        let failed = |f: Failure| {
            answer(
                &BackupListReport::failed(Some(storage), f),
                p.response_format,
            )
        };
        if let Err(e) = storage_arg("storage", storage) {
            return Ok(failed(e.into()));
        }
        let vmid = match p.vmid.as_ref().map(|v| self.snapshot_guest(v)).transpose() {
            Ok(v) => v,
            Err((_, f)) => return Ok(failed(f)),
        };
        let client = match self.client(&ctx) {
            Ok(c) => c,
            Err(f) => return Ok(failed(f)),
        };
        let policy = &self.state.config.policy;
        let report = match guests::backups(&client, storage, vmid, &ctx.ct).await {
            Ok(rows) => BackupListReport::of(
                storage,
                rows.into_iter()
                    .filter(|r| r.vmid.is_none_or(|id| policy.guest_allowed(id.into())))
                    .collect(),
            ),
            Err(e) => return Ok(failed(Failure::from(&e))),
        };
        Ok(answer(&report, p.response_format))
    }

    #[tool(
        name = "proxmox_backup_restore",
        title = "Restore a backup",
        description = "Restore a container (`pct restore`) or a VM (`qmrestore`, for a vzdump-qemu archive) from a backup \
under a new id, or over an existing stopped guest only with force=true (destructive: everything in it is lost). The \
restored guest is left stopped.",
        input_schema = super::schema::input::<BackupRestoreParams>(),
        output_schema = super::schema::output::<RestoreReport>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = true)
    )]
    pub async fn proxmox_backup_restore(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let report = match self.backup_restore(args, &ctx).await {
            Ok(r) => r,
            Err((vmid, f)) => RestoreReport::failed(vmid, f),
        };
        Ok(answer(&report, ResponseFormat::Json))
    }
}

impl RemoteExec {
    async fn backup_create(
        &self,
        args: JsonObject,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<BackupReport, Failed> {
        let p: BackupCreateParams = params::parse(args).map_err(early)?;
        let vmid = self.snapshot_guest(&p.vmid)?;
        storage_arg("storage", &p.storage).map_err(|e| (Some(vmid), e.into()))?;
        let kind = self.kind(vmid, ctx).await?;
        if p.mode == Mode::Stop {
            let what = format!(
                "Back up {} {vmid} in stop mode? It is shut down for the backup and started again afterwards.",
                kind.word()
            );
            self.approve(ctx, &what)
                .await
                .map_err(|f| (Some(vmid), f))?;
        }
        let client = self.routed(vmid, ctx).await?;
        let done = guests::backup(&client, vmid, &p.storage, p.mode, p.compress, &ctx.ct)
            .await
            .map_err(|e| (Some(vmid), Failure::from(&e)))?;
        Ok(BackupReport::done(vmid, kind.title(), done))
    }

    async fn backup_restore(
        &self,
        args: JsonObject,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<RestoreReport, Failed> {
        let p: BackupRestoreParams = params::parse(args).map_err(early)?;
        let vmid = self.snapshot_guest(&p.vmid)?;
        let here = |e: InvalidParam| (Some(vmid), Failure::from(e));
        backup::check_archive(&p.archive).map_err(|e| {
            here(bad(
                "archive",
                e,
                "Give a volume id from proxmox_backup_list, e.g. local:backup/vzdump-lxc-100-2025_01_10-12_00_00.tar.zst.",
            ))
        })?;
        storage_arg("storage", &p.storage).map_err(here)?;
        // The backed-up guest must be one the tools may touch too: a restore copies
        // its data.
        if let Some(source) = backup::archive_vmid(&p.archive) {
            self.state
                .config
                .policy
                .check_guest(source.into())
                .map_err(|r| (Some(vmid), Failure::from(r)))?;
        }
        let vm = backup::is_vm_archive(&p.archive);
        let what = if vm { "VM" } else { "container" };
        if p.force {
            let ask = format!(
                "Restore {} over {what} {vmid}? The existing guest {vmid} and everything in it is replaced.",
                p.archive
            );
            self.approve(ctx, &ask).await.map_err(|f| (Some(vmid), f))?;
        }
        // On the entry node, whose storages proxmox_backup_list shows: an archive on
        // its local storage exists there only, and over a guest of another node pct
        // and qmrestore refuse with that node's name (docs/cluster.md §6).
        let client = self.client(ctx).map_err(|f| (Some(vmid), f))?;
        let restore = backup::Restore {
            vmid,
            archive: &p.archive,
            storage: &p.storage,
            force: p.force,
        };
        let (status, log) = if vm {
            guests::restore_vm(&client, &restore, &ctx.ct)
                .await
                .map_err(|e| (Some(vmid), Failure::from(&e)))?
        } else {
            guests::restore(&client, &restore, &ctx.ct)
                .await
                .map_err(|e| {
                    let mut f = Failure::from(&e);
                    if p.force && matches!(e, crate::proxmox::PctError::IdInUse { .. }) {
                        // force replaces a container of this node only.
                        f.suggestion = "force=true replaces only a container of the entry node; this id belongs to a VM or to a guest of another node (the detail says which). Restore to a free id: proxmox_list_guests shows the ids in use and their nodes.".into();
                    }
                    (Some(vmid), f)
                })?
        };
        let title = if vm { "VM" } else { "Container" };
        Ok(RestoreReport::done(vmid, title, &p.archive, status, log))
    }
}
