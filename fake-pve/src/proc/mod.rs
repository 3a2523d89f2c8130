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
use std::sync::{Arc, Mutex};

pub use session::{SessionEnd, login_ctx, start_session};
pub use spawn::{exec_target, run_argv, spawn_child, wait};

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

/// What a session was refused: set once something it ran is not emulated, so that
/// the shells of the session stop there instead of going on with a wrong premise.
/// Clones share it.
#[derive(Debug, Clone, Default)]
pub struct Refusal(Arc<Mutex<Option<i32>>>);

impl Refusal {
    /// The status the session ends with, once refused.
    pub fn status(&self) -> Option<i32> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set(&self, status: i32) {
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        slot.get_or_insert(status);
    }
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
    /// Shared by the whole session: whether something it ran is not emulated.
    pub refusal: Refusal,
    /// The file mode creation mask (`umask`), inherited by children.
    pub umask: u32,
}

impl Ctx {
    /// The same caller, now inside container `vmid` as root, as `lxc-attach` starts a
    /// command there: a clean environment with lxc's `PATH` (pct sets it), `container=lxc`,
    /// in root's home (`/` when the container has none).
    pub fn in_container(&self, vmid: u32) -> Ctx {
        let mut env = BTreeMap::new();
        env.insert("PATH".into(), ATTACH_PATH.into());
        env.insert("HOME".into(), "/root".into());
        env.insert("container".into(), "lxc".into());
        let ctx = Ctx {
            container: Some(vmid),
            user: "root".into(),
            uid: 0,
            cwd: "/".into(),
            env,
            ..self.clone()
        };
        let home = ctx.with_fs(|fs| Ok(fs.stat("/root").is_ok_and(|m| m.is_dir())));
        Ctx {
            cwd: if home == Ok(true) {
                "/root".into()
            } else {
                "/".into()
            },
            ..ctx
        }
    }

    /// The agent's view of VM `vmid`: root in `/`, with the service environment
    /// qemu-guest-agent runs its `guest-exec` children in, as the session leader
    /// `pid` of the guest's own pid space.
    pub fn in_vm(&self, vmid: u32) -> Ctx {
        let mut env = BTreeMap::new();
        env.insert("PATH".into(), DEFAULT_PATH.into());
        env.insert("LANG".into(), "C.UTF-8".into());
        Ctx {
            container: Some(vmid),
            user: "root".into(),
            uid: 0,
            pid: 0,
            sid: 0,
            cwd: "/".into(),
            env,
            refusal: Refusal::default(),
            umask: 0o022,
            ..self.clone()
        }
    }

    /// The process table of the kernel this process runs on: a VM's own, else the
    /// node's (containers share the node's kernel).
    pub fn processes(&self) -> crate::process::ProcessTable {
        self.host.process_table(self.container)
    }

    /// Whether this process runs inside a VM.
    pub fn in_a_vm(&self) -> bool {
        self.container.is_some_and(|id| self.host.is_vm(id))
    }

    /// Refuses what is not emulated, loudly: `fake-pve: WHAT is not emulated` on
    /// stderr; the session ends with `status` (127 for a program, 2 for an option or
    /// a syntax) once the shell sees it. Returns `status`.
    pub async fn refuse(&self, io: &Io, what: &str, status: i32) -> i32 {
        let _ = io
            .stderr
            .write_str(&format!("fake-pve: {what} is not emulated\n"))
            .await;
        self.refusal.set(status);
        status
    }

    /// A target for a file in this process's filesystem, resolved against its cwd.
    pub fn file(&self, path: &str) -> FileTarget {
        FileTarget {
            host: self.host.clone(),
            container: self.container,
            path: self.resolve(path),
            umask: self.umask,
        }
    }

    /// Runs `f` on this process's filesystem (the host's or its container's).
    pub fn with_fs<T>(
        &self,
        f: impl FnOnce(&mut crate::fs::Fs) -> Result<T, FsError>,
    ) -> Result<T, FsError> {
        self.file("/").with_fs(f)
    }

    /// The absolute path of `path` for this process. The empty path names nothing
    /// (ENOENT for every call, as on Linux): it resolves to a path under a directory
    /// that cannot exist.
    pub fn resolve(&self, path: &str) -> String {
        Self::resolve_in(&self.cwd, path)
    }

    /// `path` resolved against `dir`, the empty path to one that cannot exist.
    pub fn resolve_in(dir: &str, path: &str) -> String {
        if path.is_empty() {
            return NO_SUCH_PATH.into();
        }
        normalize(dir, path)
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

/// The `PATH` a command gets from `pct exec` / `lxc-attach`.
pub const ATTACH_PATH: &str = "/sbin:/bin:/usr/sbin:/usr/bin";

/// What the empty path resolves to: its parent can never exist (a NUL byte is no
/// part of a real file name).
const NO_SUCH_PATH: &str = "/\0/empty";
