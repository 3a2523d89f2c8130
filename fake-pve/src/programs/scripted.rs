//! Fixture-scripted commands and the faults that fire when a program starts: `hang`
//! (never finishes; only a signal ends it) and `drop_on_command` (the connection of the
//! caller's session is cut).

use std::time::Duration;

use crate::io::Io;
use crate::proc::Ctx;
use crate::unix::{SIGPIPE_STATUS, glob_match};

use super::complain;

/// Whether a script's `on` (none, `host`, `containers`, `vms` or a guest's vmid)
/// covers a process of `ctx`.
fn applies(on: Option<&str>, ctx: &Ctx, vm: bool) -> bool {
    match (on, ctx.container) {
        (None, _) => true,
        (Some("host"), None) => true,
        (Some("containers"), Some(_)) => !vm,
        (Some("vms"), Some(_)) => vm,
        (Some(id), Some(ct)) => id.parse::<u32>() == Ok(ct),
        _ => false,
    }
}

/// Whether a fixture script in `ctx` is named `base` (the first word of its pattern).
pub(super) fn exists(ctx: &Ctx, base: &str) -> bool {
    let state = ctx.host.state();
    let vm = ctx.container.is_some_and(|id| state.vms.contains_key(&id));
    state
        .scripts
        .iter()
        .filter(|s| applies(s.on.as_deref(), ctx, vm))
        .any(|s| glob_match(s.pattern.split(' ').next().unwrap_or(""), base))
}

/// Applies the faults and scripts matching the command `line`. Returns the exit status
/// when a script answered; `None` when the program itself is to run.
pub(super) async fn intercept(ctx: &Ctx, line: &str, io: &Io) -> Option<i32> {
    let (hang, drop, script) = {
        let state = ctx.host.state();
        let vm = ctx.container.is_some_and(|id| state.vms.contains_key(&id));
        let hang = state.faults.hang.iter().any(|p| glob_match(p, line));
        let drop = state
            .faults
            .drop_on_command
            .as_ref()
            .is_some_and(|p| glob_match(p, line));
        let script = state
            .scripts
            .iter()
            .find(|s| applies(s.on.as_deref(), ctx, vm) && glob_match(&s.pattern, line))
            .cloned();
        // A VM's sessions are its own pid space: no SSH connection to cut there.
        (hang, drop && !vm, script)
    };
    if drop {
        ctx.host.cut_connection_of(ctx.sid);
    }
    if hang {
        // Fault: never finishes; only a signal ends it.
        std::future::pending::<()>().await;
    }
    let s = script?;
    tokio::time::sleep(Duration::from_millis(s.delay_ms)).await;
    if io.stdout.write_str(&s.stdout).await.is_err() {
        return Some(SIGPIPE_STATUS);
    }
    complain(io, &s.stderr).await;
    Some(s.exit)
}
