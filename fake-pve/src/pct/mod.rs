//! The `pct` emulator: Proxmox VE's container CLI over the in-memory container table.
//!
//! `docs/pct-fidelity.md` is the specification; where it is silent, the
//! behaviour follows a reading of pve-container and pve-common.
//!
//! # Layout
//! - [`cli`]: the pure parse step — argv to a typed [`Command`], or the exact bytes of a
//!   usage abort or parameter error.
//! - `getopt`: pve-common's option parsing, which every emulated Proxmox CLI uses
//!   through [`cli`].
//! - `commands`: the execute step over [`crate::host::State`].
//! - [`run`]: the entry point the program table calls; it writes the [`Reply`] to the
//!   streams and hands `pct exec`/`pct enter` to [`crate::proc::run_argv`] inside the
//!   container.

pub mod cli;
mod commands;
mod getopt;
mod migrate;
mod restore;
#[cfg(test)]
mod tests;

pub use cli::{Command, Transfer, Vmid, parse};

use crate::io::Io;
use crate::proc::Ctx;

pub use crate::reply::Reply;

/// Runs `pct <args…>` (args exclude the word "pct"). Returns the exit status.
pub async fn run(ctx: &Ctx, args: &[String], io: &Io) -> i32 {
    let (step, guests_change) = match parse(args, ctx.uid == 0) {
        Ok(cmd) => {
            let restore = matches!(cmd, Command::Restore { .. });
            (commands::execute(cmd, ctx), restore)
        }
        Err(reply) => (commands::Step::Done(reply), false),
    };
    match step {
        commands::Step::Done(reply) => {
            if guests_change {
                // `.vmlist` shows a restored container at once (pmxcfs).
                ctx.host.guests_changed();
            }
            reply.write(io).await
        }
        commands::Step::Migrate(m) => migrate::migrate(ctx, &m).write(io).await,
        commands::Step::WaitOut(w) => {
            let reply = commands::ignored_shutdown(w, ctx, io).await;
            reply.write(io).await
        }
        commands::Step::Attach {
            vmid,
            argv,
            keep_env,
        } => {
            // `--keep-env` (the default) keeps the caller's environment, with the PATH
            // pct's CLI handler sets and lxc's `container=lxc`; `--keep-env 0` is
            // lxc-attach's clean environment.
            let mut inner = ctx.in_container(vmid);
            if keep_env {
                let mut env = ctx.env.clone();
                env.extend(
                    inner
                        .env
                        .iter()
                        .filter(|(k, _)| *k != "HOME")
                        .map(|(k, v)| (k.clone(), v.clone())),
                );
                inner.env = env;
            }
            crate::proc::run_argv(&inner, argv, io.clone()).await
        }
    }
}
