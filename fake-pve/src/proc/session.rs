//! Sessions: what sshd starts for an exec request, and the context of a login.

use std::collections::BTreeMap;

use tokio::task::JoinHandle;

use super::{Ctx, DEFAULT_PATH, Launch};
use crate::host::Host;
use crate::io::Io;

/// How a session's leader ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    Exited(i32),
    /// Killed by this signal (sshd reports it as `exit-signal`).
    Signalled(i32),
}

/// Starts a command line as sshd would (`bash -c LINE` as a new session leader, so
/// pid = sid) and returns its session id and a handle to its end.
pub fn start_session(ctx: Ctx, line: String, io: Io) -> (u32, JoinHandle<SessionEnd>) {
    let mut guard =
        ctx.processes()
            .spawn(0, None, &ctx.user, format!("bash -c {line}"), ctx.container);
    let sid = guard.pid;
    let ctx = Ctx {
        pid: sid,
        sid,
        refusal: super::Refusal::default(),
        ..ctx
    };
    let handle = tokio::spawn(async move {
        let shell = ctx.launch.shell;
        tokio::select! {
            biased;
            sig = guard.signalled() => SessionEnd::Signalled(sig),
            status = shell(ctx, line, io) => SessionEnd::Exited(status),
        }
    });
    (sid, handle)
}

/// A `Ctx` for a login of `user` on the host, starting the programs of `launch`.
pub fn login_ctx(host: &Host, user: &str, launch: Launch) -> Ctx {
    let uid = if user == "root" {
        0
    } else {
        crate::host::lookup_id(&host.state().fs, "/etc/passwd", user).unwrap_or(1000)
    };
    let home = if user == "root" {
        "/root".to_string()
    } else {
        format!("/home/{user}")
    };
    let mut env = BTreeMap::new();
    env.insert("HOME".into(), home.clone());
    env.insert("USER".into(), user.into());
    env.insert("LOGNAME".into(), user.into());
    env.insert("SHELL".into(), "/bin/bash".into());
    env.insert("PATH".into(), DEFAULT_PATH.into());
    let cwd = if host.state().fs.exists(&home) {
        home
    } else {
        "/".into()
    };
    Ctx {
        host: host.clone(),
        container: None,
        user: user.into(),
        uid,
        pid: 0,
        sid: 0,
        cwd,
        env,
        launch,
        refusal: super::Refusal::default(),
        umask: 0o022,
    }
}
