//! The `qm` emulator: Proxmox VE's virtual-machine CLI over the node's in-memory VMs,
//! with the QEMU guest agent (`qm guest cmd`, `qm guest exec`).
//!
//! `docs/qm-fidelity.md` is the specification (§17 says what is emulated); what it does
//! not cover is refused loudly (`fake-pve: <what> is not emulated`, exit 255).
//!
//! # Layout
//! - [`cli`]: the pure parse step, argv to a typed [`Command`] or the bytes of a usage
//!   abort or parameter error.
//! - `commands`: list, status, config and the power commands over the host state.
//! - `restore`: `qmrestore` of the fake's VM backups.
//! - `snapshot`: the snapshot commands (a snapshot keeps the config, the filesystem
//!   and, with `--vmstate 1` of a running VM, the fact that the RAM was saved).
//! - [`agent`]: the guest agent: its checks, `guest cmd`, `guest exec` (the command
//!   runs in the VM's own filesystem and pid space, through the process layer) and
//!   the file endpoints pvesh reaches.

pub mod agent;
pub mod cli;
mod commands;
mod restore;
mod snapshot;
#[cfg(test)]
mod tests;

pub use cli::{Command, parse};
pub(crate) use commands::{RUNNING_MACHINE, RUNNING_QEMU};

use crate::io::Io;
use crate::proc::Ctx;
use crate::reply::Reply;

/// A message that ends qm with exit 255 (classes C and D look alike to a caller: one
/// line on stderr).
pub(crate) fn die(msg: impl Into<String>) -> Reply {
    let mut msg = msg.into();
    if !msg.ends_with('\n') {
        msg.push('\n');
    }
    Reply::err(msg, 255)
}

/// `Configuration file 'nodes/<node>/qemu-server/<vmid>.conf' does not exist`.
pub(crate) fn no_config_text(node: &str, vmid: u32) -> String {
    format!("Configuration file 'nodes/{node}/qemu-server/{vmid}.conf' does not exist")
}

/// `unable to find configuration file for VM <vmid> on node '<node>'`.
pub(crate) fn not_found_text(node: &str, vmid: u32) -> String {
    format!("unable to find configuration file for VM {vmid} on node '{node}'")
}

/// Runs `qm <args…>` (args exclude the word "qm"). Returns the exit status.
pub async fn run(ctx: &Ctx, args: &[String], io: &Io) -> i32 {
    let cmd = match parse(args, ctx.uid == 0) {
        Ok(cmd) => cmd,
        Err(reply) => return reply.write(io).await,
    };
    match cmd {
        Command::NotEmulated(what) => ctx.refuse(io, &what, 255).await,
        Command::GuestCmd { vmid, command } => {
            agent::guest_cmd(ctx, vmid.get(), &command, io).await
        }
        Command::GuestExec {
            vmid,
            synchronous,
            timeout,
            pass_stdin,
            argv,
        } => {
            let req = agent::ExecRequest {
                vmid: vmid.get(),
                synchronous,
                timeout,
                pass_stdin,
                argv,
            };
            agent::exec(ctx, req, io).await
        }
        Command::GuestExecStatus { vmid, pid } => {
            agent::exec_status_cmd(ctx, vmid.get(), pid, io).await
        }
        Command::Snapshot {
            vmid,
            name,
            vmstate,
            description,
        } => {
            snapshot::snapshot(ctx, vmid.get(), &name, vmstate, description, io)
                .await
                .write(io)
                .await
        }
        other => commands::execute(other, ctx, io).await,
    }
}

/// Runs `qmrestore <args…>` (args exclude the word "qmrestore").
pub async fn qmrestore(ctx: &Ctx, args: &[String], io: &Io) -> i32 {
    restore::run(ctx, args, io).await
}
