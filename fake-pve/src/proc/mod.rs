//! The process layer: where and as whom a process runs ([`Ctx`]), starting programs
//! as child processes ([`spawn_child`], [`run_argv`]) and sessions as sshd does
//! ([`start_session`]).
//!
//! This layer knows no program. What a program name means comes from the [`Launch`]
//! each `Ctx` carries, a set of hooks filled in once where the programs are
//! registered (`LAUNCH` in the programs module). The shell, pct and every other
//! program recurse through it, so none of them imports another.

mod session;
mod spawn;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

pub use session::{SessionEnd, login_ctx, start_session};
pub use spawn::{run_argv, spawn_child, wait};

use crate::fs::{FsError, normalize};
use crate::host::Host;
use crate::io::{FileTarget, Io};

/// A boxed future, as the [`Launch`] hooks return.
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What programs there are, as the process layer sees them.
#[derive(Debug, Clone, Copy)]
pub struct Launch {
    /// Whether `name` can be run in this context.
    pub exists: fn(&Ctx, &str) -> bool,
    /// Runs `argv` in the process of the context (no new process); its exit status.
    pub run: fn(Ctx, Vec<String>, Io) -> BoxFut<'static, i32>,
    /// Evaluates a command line as `bash -c LINE` does, in the process of the context.
    pub shell: fn(Ctx, String, Io) -> BoxFut<'static, i32>,
}

impl Launch {
    /// No programs at all: nothing exists, and running anything fails with 127.
    pub const NONE: Launch = Launch {
        exists: |_, _| false,
        run: |_, _, _| Box::pin(async { 127 }),
        shell: |_, _, _| Box::pin(async { 127 }),
    };
}

/// Where and as whom a process runs.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub host: Host,
    /// `None` on the host, `Some(ctid)` inside a container.
    pub container: Option<u32>,
    pub user: String,
    pub uid: u32,
    /// This process's pid and its session id.
    pub pid: u32,
    pub sid: u32,
    pub cwd: String,
    pub env: BTreeMap<String, String>,
    /// The programs this process can start.
    pub launch: Launch,
}

impl Ctx {
    /// The same caller, now inside container `vmid` as root in `/`.
    pub fn in_container(&self, vmid: u32) -> Ctx {
        let mut env = BTreeMap::new();
        env.insert("PATH".into(), DEFAULT_PATH.into());
        env.insert("HOME".into(), "/root".into());
        Ctx {
            container: Some(vmid),
            user: "root".into(),
            uid: 0,
            cwd: "/".into(),
            env,
            ..self.clone()
        }
    }

    /// A target for a file in this process's filesystem, resolved against its cwd.
    pub fn file(&self, path: &str) -> FileTarget {
        FileTarget {
            host: self.host.clone(),
            container: self.container,
            path: normalize(&self.cwd, path),
        }
    }

    /// Runs `f` on this process's filesystem (the host's or its container's).
    pub fn with_fs<T>(
        &self,
        f: impl FnOnce(&mut crate::fs::Fs) -> Result<T, FsError>,
    ) -> Result<T, FsError> {
        self.file("/").with_fs(f)
    }

    pub fn resolve(&self, path: &str) -> String {
        normalize(&self.cwd, path)
    }

    /// Whether program `name` can be run here.
    pub fn exists(&self, name: &str) -> bool {
        (self.launch.exists)(self, name)
    }

    /// Runs `argv` in this very process (as execve(2) would); its exit status.
    pub async fn exec(&self, argv: Vec<String>, io: Io) -> i32 {
        (self.launch.run)(self.clone(), argv, io).await
    }
}

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
