//! mcp-remote-exec: an MCP server that runs commands, moves files and manages
//! Proxmox VE containers over SSH.
//!
//! # Layout
//! - [`config`]: environment, `.env` and flags → one validated [`config::Config`].
//! - [`ssh`]: the shared russh connection per host, exec with a real timeout, SFTP
//!   transfers. Plain Rust types; no MCP.
//! - [`quote`]: the one shell-quoting function.
//! - [`pct`]: `pct` command lines and output parsers (pure).
//! - [`snapshot`]: snapshot names, and the command lines and tree parser of snapshots
//!   and graceful power (pure).
//! - [`backup`]: the command lines and parsers of `vzdump`, `pvesm list` and
//!   `pct restore` (pure).
//! - [`guests`]: shutdown, reboot, snapshots and backups over SSH, built from them.
//! - [`metrics`]: guest metrics through `pvesh` (command lines, JSON parse, history
//!   summary; pure).
//! - [`cluster`]: where each guest lives in a Proxmox VE cluster, and the connection
//!   to its node through the entry node.
//! - [`proxmox`]: container operations over SSH built from them (list, status, start,
//!   stop, verified file transfers through host temp files).
//! - [`policy`]: the owner's limits (read-only, command rules, local roots, guests,
//!   approvals, audit file), checked before anything reaches a host.
//! - [`output`]: structured results, text rendering, truncation.
//! - [`tools`]: the rmcp glue (tools, their parameters and results).
//! - [`http`]: the streamable HTTP transport (`serve --http`) behind a token.
//! - [`transport`]: the stdio transport, which answers malformed, oversized and
//!   invalid-params lines itself and hands the rest to rmcp.
//! - [`cli`]: the command line (`serve`, `check`, `demo`, `--fake-pve`).
//! - [`embedded`], [`demo`]: an in-process fake-pve and the demo that runs against it.

pub mod audit;
pub mod backup;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod demo;
pub mod embedded;
pub mod guests;
pub mod hosts;
pub mod http;
pub mod metrics;
pub mod output;
pub mod pct;
pub mod policy;
pub mod proxmox;
pub mod qm;
pub mod quote;
pub mod snapshot;
pub mod ssh;
pub mod ssh_config;
pub mod time;
pub mod tools;
pub mod transport;
pub mod vm;
