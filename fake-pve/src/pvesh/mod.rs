//! The `pvesh` emulator: Proxmox VE's API shell, `get` of the paths a monitoring
//! client reads (node list and status, containers and their live figures and history,
//! cluster resources, version), over the in-memory node.
//!
//! `docs/pvesh-fidelity.md` is the specification; what it does not cover is refused
//! loudly (`fake-pve: pvesh: … is not emulated`, exit 2), never guessed.
//!
//! # Layout
//! - [`cli`]: the pure parse step — argv to a typed [`Request`], or the exact bytes of
//!   pvesh's refusal.
//! - [`api`]: the execute step over [`crate::host::State`]: the method's JSON result.
//! - [`format`]: `json`, `json-pretty` and the `text` tables.
//! - [`run`]: the entry point the program table calls.

pub mod agent;
pub mod api;
pub mod cli;
pub mod cluster;
pub mod format;
#[cfg(test)]
mod tests;

pub use cli::{Endpoint, Format, Request, parse};

use crate::io::Io;
use crate::proc::Ctx;
use format::Render;

pub use crate::reply::Reply;

/// `/nodes` as a text table: the schema's required properties sorted, then the
/// optional ones (Nodes.pm's index; `disk`, `id`, `type` appear only in JSON).
const NODES_COLUMNS: &[format::Column] = &[
    ("node", Render::Text),
    ("status", Render::Text),
    ("cpu", Render::Percentage),
    ("level", Render::Text),
    ("maxcpu", Render::Integer),
    ("maxmem", Render::Bytes),
    ("mem", Render::Bytes),
    ("ssl_fingerprint", Render::Text),
    ("uptime", Render::Duration),
];

/// A container's properties in text (pve-container LXC.pm:126-258,
/// `vmstatus_return_properties`): the required ones, then the optional ones, sorted;
/// `pid`, `swap`, `type` and `pressurecpufull` are not among them.
const VMSTATUS_COLUMNS: &[format::Column] = &[
    ("status", Render::Text),
    ("vmid", Render::Integer),
    ("cpu", Render::Integer),
    ("cpus", Render::Integer),
    ("disk", Render::Bytes),
    ("diskread", Render::Bytes),
    ("diskwrite", Render::Bytes),
    ("lock", Render::Text),
    ("maxdisk", Render::Bytes),
    ("maxmem", Render::Bytes),
    ("maxswap", Render::Bytes),
    ("mem", Render::Bytes),
    ("name", Render::Text),
    ("netin", Render::Bytes),
    ("netout", Render::Bytes),
    ("pressurecpusome", Render::Integer),
    ("pressureiofull", Render::Integer),
    ("pressureiosome", Render::Integer),
    ("pressurememoryfull", Render::Integer),
    ("pressurememorysome", Render::Integer),
    ("tags", Render::Text),
    ("template", Render::Bool),
    ("uptime", Render::Duration),
];

/// The text rendering of a result, where fake-pve knows the result's schema.
fn text(req: &Request, value: &serde_json::Value) -> Result<String, Reply> {
    let (b, h) = (req.noborder, req.noheader);
    match (&req.endpoint, value) {
        (_, serde_json::Value::Array(a)) if a.is_empty() => Ok(String::new()),
        (Endpoint::Nodes, serde_json::Value::Array(rows)) => {
            Ok(format::table(rows, NODES_COLUMNS, b, h))
        }
        (Endpoint::NodeLxc { .. }, serde_json::Value::Array(rows)) => {
            Ok(format::table(rows, VMSTATUS_COLUMNS, b, h))
        }
        (Endpoint::LxcCurrent { .. }, v) => {
            // Its schema adds `ha` (LXC/Status.pm:77-117).
            let mut schema = VMSTATUS_COLUMNS.to_vec();
            schema.push(("ha", Render::Text));
            Ok(format::key_value(v, Some(&schema), b, h))
        }
        (Endpoint::Version, v) => Ok(format::key_value(v, None, b, h)),
        _ => Err(cli::not_emulated(
            "text output of this path (use --output-format json)",
        )),
    }
}

/// pvesh for `args` (excluding the word "pvesh") over `state` at `now` (seconds since
/// the epoch).
pub fn answer(args: &[String], state: &crate::host::State, now: u64) -> Reply {
    let req = match parse(args) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    match api::execute(&req, state, now) {
        Ok(v) => render(&req, &v),
        Err(reply) => reply,
    }
}

/// A method's result as `req` asks it printed.
fn render(req: &Request, value: &serde_json::Value) -> Reply {
    if req.quiet {
        return Reply::default();
    }
    match req.format {
        Format::Json => Reply::out(format::json(value)),
        Format::JsonPretty => Reply::out(format::json_pretty(value)),
        Format::Text => text(req, value).map(Reply::out).unwrap_or_else(|r| r),
    }
}

/// Runs `pvesh <args…>` on the host. Returns the exit status.
pub async fn run(ctx: &Ctx, args: &[String], io: &Io) -> i32 {
    if ctx.uid != 0 {
        return cli::not_emulated("pvesh as a user other than root")
            .write(io)
            .await;
    }
    let req = match parse(args) {
        Ok(r) => r,
        Err(reply) => return reply.write(io).await,
    };
    let reply = match &req.endpoint {
        Endpoint::AgentFileRead { node, .. } | Endpoint::AgentFileWrite { node, .. }
            if ctx
                .host
                .cluster()
                .is_some_and(|c| c.member(node).is_some() && *node != ctx.host.node()) =>
        {
            cli::not_emulated(&format!(
                "the agent's file endpoints proxied to another node ('{node}')"
            ))
        }
        Endpoint::AgentFileRead { .. } | Endpoint::AgentFileWrite { .. } => {
            // The agent's endpoints wait for the agent: no state lock meanwhile.
            match agent::file_endpoint(ctx, &req.endpoint).await {
                Ok((None, warning)) => Reply::err(warning, 0),
                Ok((Some(value), warning)) => {
                    let mut r = render(&req, &value);
                    r.stderr = warning + &r.stderr;
                    r
                }
                Err(reply) => reply,
            }
        }
        _ => {
            let now = crate::fs::now_secs();
            let result = match ctx.host.cluster() {
                Some(link) => cluster::execute(&req, link, &ctx.host.node(), now),
                None => api::execute(&req, &ctx.host.state(), now),
            };
            match result {
                Ok(v) => render(&req, &v),
                Err(reply) => reply,
            }
        }
    };
    reply.write(io).await
}
