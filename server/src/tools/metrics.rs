//! `proxmox_guest_metrics` (registered with the other `proxmox_*` tools): a guest's
//! live figures and history, or every guest's, through `pvesh`. rmcp glue over
//! [`crate::metrics`]; arguments are validated before any I/O.

use rmcp::model::{CallToolResult, JsonObject};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use super::kind::{bad, optional_vmid_schema};
use super::params::{self, InvalidParam};
use super::{RemoteExec, answer};
use crate::metrics::{self, GuestStatus, PveshFailure, Timeframe};
use crate::output::metrics::{GuestFigures, MetricsReport};
use crate::output::{Failure, ResponseFormat};
use crate::pct::Ctid;
use crate::proxmox::{QUICK_TIMEOUT, run, text};
use crate::ssh::SshClient;
use futures::{StreamExt as _, TryStreamExt as _};

/// Guests whose history is fetched at the same time when every guest is asked for.
const HISTORIES_AT_ONCE: usize = 4;

/// `proxmox_guest_metrics` arguments.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricsParams {
    #[serde(default)]
    #[schemars(schema_with = "optional_vmid_schema")]
    pub vmid: Option<serde_json::Value>,
    /// Add the history of this period (`hour`, `day` or `week`), summarised as
    /// min/avg/max per metric. Left out: the figures of now only.
    #[serde(default)]
    pub timeframe: Option<Timeframe>,
    /// `text` (default) for a readable summary, or `json` for one JSON object.
    #[serde(default)]
    pub response_format: ResponseFormat,
}

fn vmid_of(v: &serde_json::Value) -> Result<Ctid, InvalidParam> {
    Ctid::from_json(v).map_err(|e| {
        bad(
            "vmid",
            e.0,
            "Give a guest id from 100 to 999999999, e.g. 100, or leave vmid out for every guest.",
        )
    })
}

/// Runs one pvesh command line and returns its stdout; a failure says what pvesh said.
pub(super) async fn pvesh(
    client: &SshClient,
    line: &str,
    vmid: Option<Ctid>,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<String, Failure> {
    pvesh_classified(client, line, vmid, cancel)
        .await
        .map_err(|(_, f)| f)
}

/// [`pvesh`], the failure with its class.
async fn pvesh_classified(
    client: &SshClient,
    line: &str,
    vmid: Option<Ctid>,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<String, (PveshFailure, Failure)> {
    let out = run(client, "pvesh", line, QUICK_TIMEOUT, cancel)
        .await
        .map_err(|e| (PveshFailure::Other, Failure::from(&e)))?;
    if out.exit_code == Some(0) {
        return Ok(text(&out.stdout));
    }
    let stderr = text(&out.stderr).trim().to_string();
    let detail = (!stderr.is_empty()).then(|| stderr.clone());
    let class = metrics::classify(&stderr, out.exit_code);
    let failure = match (&class, vmid) {
        (PveshFailure::NoSuchGuest, Some(id)) => Failure::new(
            format!("Guest {id} not found on this node (neither a container nor a VM)"),
            "Call proxmox_guest_metrics without vmid, or proxmox_list_guests, to see the guests and their nodes.",
        ),
        (PveshFailure::NoPvesh, _) => Failure::new(
            "pvesh is not available on this host: it is not a Proxmox VE node",
            "Point the server at a Proxmox VE node, or use ssh_exec_command for other hosts.",
        ),
        _ => Failure::new(
            format!(
                "pvesh failed ({})",
                crate::ssh::exec::said_or_status(String::new(), &out)
            ),
            "Read pvesh's message; run the command with ssh_exec_command to see its whole output.",
        ),
    };
    Err((class, failure.with_detail(detail)))
}

fn unreadable(e: metrics::BadJson) -> Failure {
    Failure::new(
        e.to_string(),
        "Run the pvesh command with ssh_exec_command to see its output.",
    )
}

/// The history of guest `vmid` of kind `kind` (`lxc` or `qemu`).
async fn history(
    client: &SshClient,
    kind: &str,
    vmid: Ctid,
    timeframe: Timeframe,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<metrics::History, Failure> {
    let out = pvesh(
        client,
        &metrics::rrddata(kind, vmid, timeframe),
        Some(vmid),
        cancel,
    )
    .await?;
    let rows = metrics::parse_rrd(&out).map_err(unreadable)?;
    Ok(metrics::summarise(timeframe, &rows))
}

#[tool_router(router = metrics_router, vis = "pub(crate)")]
impl RemoteExec {
    #[tool(
        name = "proxmox_guest_metrics",
        title = "Guest metrics",
        description = "Resource use of a container or VM (`pvesh`): CPU, memory, swap, disk, network and disk I/O since it \
started, uptime. Without vmid: every guest the node knows (containers and VMs; in a cluster, those of every node, each \
with its node) in one table. With timeframe (hour, day or week): the history of that period too, as min/avg/max per \
metric. A stopped guest reports 0 for its live figures.",
        input_schema = super::schema::input::<MetricsParams>(),
        output_schema = super::schema::output::<MetricsReport>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = true)
    )]
    pub async fn proxmox_guest_metrics(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let hint = super::exec_hints(&args).1;
        let p: MetricsParams = match params::parse(args) {
            Ok(p) => p,
            Err(e) => return Ok(answer(&MetricsReport::failed(None, e.into()), hint)),
        };
        let report = match self.metrics(&p, &ctx).await {
            Ok(r) => r,
            Err((vmid, f)) => MetricsReport::failed(vmid, f),
        };
        Ok(answer(&report, p.response_format))
    }
}

impl RemoteExec {
    async fn metrics(
        &self,
        p: &MetricsParams,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<MetricsReport, (Option<Ctid>, Failure)> {
        let vmid = match &p.vmid {
            None => None,
            Some(v) => {
                let id = vmid_of(v).map_err(|e| (None, e.into()))?;
                self.state
                    .config
                    .policy
                    .check_guest(id.get().into())
                    .map_err(|r| (None, Failure::from(r)))?;
                Some(id)
            }
        };
        let client = match vmid {
            // One guest: asked of its own node (pvesh's `localhost` is the node asked).
            Some(id) => self.routed(id, ctx).await?,
            None => self.client(ctx).map_err(|f| (None, f))?,
        };
        let cancel = &ctx.ct;
        let Some(id) = vmid else {
            let out = pvesh(&client, &metrics::resources(), None, cancel)
                .await
                .map_err(|f| (None, f))?;
            let mut rows: Vec<GuestStatus> = metrics::parse_resources(&out)
                .map_err(|e| (None, unreadable(e)))?
                .into_iter()
                .filter(|r| self.state.config.policy.guest_allowed(r.vmid.into()))
                .collect();
            rows.sort_by_key(|r| r.vmid);
            // The histories a few at a time, over the shared connection pool.
            let client = &client;
            let guests: Vec<GuestFigures> = futures::stream::iter(rows)
                .map(|row: GuestStatus| async move {
                    let mut g = GuestFigures::of(&row);
                    if let Some(tf) = p.timeframe
                        && let Ok(gid) = Ctid::new(row.vmid.into())
                    {
                        let kind = row.kind.as_deref().unwrap_or("lxc");
                        g.history = Some(history(client, kind, gid, tf, cancel).await?);
                    }
                    Ok::<_, Failure>(g)
                })
                .buffered(HISTORIES_AT_ONCE)
                .try_collect()
                .await
                .map_err(|f| (None, f))?;
            return Ok(MetricsReport::of(None, guests));
        };
        // A container, else a VM: pvesh says which id it does not know.
        let lxc = metrics::current("lxc", id);
        let (kind, out) = match pvesh_classified(&client, &lxc, Some(id), cancel).await {
            Ok(out) => ("lxc", out),
            Err((PveshFailure::NoSuchGuest, _)) => {
                let line = metrics::current("qemu", id);
                let out = pvesh(&client, &line, Some(id), cancel)
                    .await
                    .map_err(|f| (Some(id), f))?;
                ("qemu", out)
            }
            Err((_, f)) => return Err((Some(id), f)),
        };
        let status = metrics::parse_current(&out).map_err(|e| (Some(id), unreadable(e)))?;
        let mut g = GuestFigures::of(&status);
        g.kind.get_or_insert_with(|| kind.to_string());
        if let Some(tf) = p.timeframe {
            g.history = Some(
                history(&client, kind, id, tf, cancel)
                    .await
                    .map_err(|f| (Some(id), f))?,
            );
        }
        Ok(MetricsReport::of(Some(id), vec![g]))
    }
}
