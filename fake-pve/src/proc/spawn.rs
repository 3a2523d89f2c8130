//! Child processes: each program runs on its own task, in the process table.

use tokio::task::JoinHandle;

use super::Ctx;
use crate::io::Io;

/// Starts `argv` as a child process of `ctx.pid` in its session and returns its handle.
/// The child lives on its own task: if the parent ends first, the child goes on, as an
/// orphan does on a real host. A signal ends it with status 128 + n.
pub fn spawn_child(ctx: &Ctx, argv: Vec<String>, io: Io) -> JoinHandle<i32> {
    let mut guard = ctx.host.processes().spawn(
        ctx.pid,
        Some(ctx.sid),
        &ctx.user,
        argv.join(" "),
        ctx.container,
    );
    let child = Ctx {
        pid: guard.pid,
        ..ctx.clone()
    };
    tokio::spawn(async move {
        // A signal wins over a result that became ready at the same time.
        tokio::select! {
            biased;
            sig = guard.signalled() => 128 + sig,
            status = (child.launch.run)(child.clone(), argv, io) => status,
        }
    })
}

/// Runs one program with its argv (no shell involved) as a child process of `ctx.pid`.
/// Returns its exit status (128 + n when killed by signal n). Inside a container an
/// unknown program fails the way `lxc-attach` reports it.
pub async fn run_argv(ctx: &Ctx, argv: Vec<String>, io: Io) -> i32 {
    let Some(name) = argv.first() else { return 0 };
    if !ctx.exists(name) {
        let msg = match ctx.container {
            Some(id) => format!(
                "lxc-attach: {id}: ../src/lxc/attach.c: lxc_attach_run_command: 1845 No such file or directory - Failed to exec \"{name}\"\n"
            ),
            None => format!("{name}: No such file or directory\n"),
        };
        let _ = io.stderr.write_str(&msg).await;
        return 127;
    }
    wait(spawn_child(ctx, argv, io)).await
}

/// The exit status of a child process (1 if its task failed).
pub async fn wait(handle: JoinHandle<i32>) -> i32 {
    handle.await.unwrap_or(1)
}
