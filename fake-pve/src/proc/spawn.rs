//! Child processes: each program runs on its own task, in the process table.

use tokio::task::JoinHandle;

use super::Ctx;
use crate::io::Io;

/// Starts `argv` as a child process of `ctx.pid` in its session and returns its handle.
/// The child lives on its own task: if the parent ends first, the child goes on, as an
/// orphan does on a real host. A signal ends it with status 128 + n.
pub fn spawn_child(ctx: &Ctx, argv: Vec<String>, io: Io) -> JoinHandle<i32> {
    let mut guard = ctx.processes().spawn(
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
    let Some(name) = argv.first().cloned() else {
        return 0;
    };
    let argv = match exec_target(ctx, argv) {
        Ok(argv) => argv,
        Err((why, status)) => {
            let msg = match ctx.container {
                Some(id) => format!(
                    "lxc-attach: {id}: ../src/lxc/attach.c: lxc_attach_run_command: 1845 {why} - Failed to exec \"{name}\"\n"
                ),
                None => format!("{name}: {why}\n"),
            };
            let _ = io.stderr.write_str(&msg).await;
            return status;
        }
    };
    wait(spawn_child(ctx, argv, io)).await
}

/// Directories whose programs the fake provides without files for them.
const BIN_DIRS: &[&str] = &["/bin", "/usr/bin", "/sbin", "/usr/sbin", "/usr/local/bin"];

/// What execve(2) makes of `argv` (no PATH search beyond the program table): the
/// argv to run (a script's `#!` interpreter first), or the error text and status
/// (ENOENT 127, EACCES 126, ENOEXEC 126).
pub fn exec_target(ctx: &Ctx, argv: Vec<String>) -> Result<Vec<String>, (&'static str, i32)> {
    let name = &argv[0];
    if !name.contains('/') {
        return if ctx.exists(name) {
            Ok(argv)
        } else {
            Err(("No such file or directory", 127))
        };
    }
    let path = ctx.resolve(name);
    let base = crate::fs::file_name(&path).to_string();
    match ctx.with_fs(|fs| fs.stat(&path)) {
        Err(_) if BIN_DIRS.contains(&crate::fs::parent(&path)) && ctx.exists(&base) => Ok(argv),
        Err(_) => Err(("No such file or directory", 127)),
        Ok(m) if m.is_dir() || m.mode & 0o111 == 0 => Err(("Permission denied", 126)),
        Ok(m) if m.size == 0 && ctx.exists(&base) => Ok(argv),
        Ok(_) => {
            let text = ctx
                .with_fs(|fs| fs.read(&path).map(<[u8]>::to_vec))
                .unwrap_or_default();
            let line = text.split(|b| *b == b'\n').next().unwrap_or(b"");
            let interp = line
                .strip_prefix(b"#!")
                .map(|l| String::from_utf8_lossy(l).trim().to_string())
                .filter(|l| !l.is_empty() && !l.contains(' '));
            match interp {
                Some(i) => {
                    let mut run = vec![i];
                    run.extend(argv);
                    Ok(run)
                }
                None => Err(("Exec format error", 126)),
            }
        }
    }
}

/// The exit status of a child process (1 if its task failed).
pub async fn wait(handle: JoinHandle<i32>) -> i32 {
    handle.await.unwrap_or(1)
}
