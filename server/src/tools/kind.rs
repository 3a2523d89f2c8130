//! What the container tools and the VM tools share: the [`Kind`] of guest (its
//! parameter names, its words, its backends) and the flows that differ only by it,
//! written once: the immediate power tools and the verified file transfers. Each tool
//! parses its own parameters (their schema names `ctid`/`vmid`, `container_path`/
//! `vm_path`) and builds its own report; what lies between is here.

use std::path::PathBuf;
use std::time::Duration;

use rmcp::RoleServer;
use rmcp::model::{CallToolResult, JsonObject};
use rmcp::service::RequestContext;
use serde::de::DeserializeOwned;

use super::params::{self, InvalidParam, Permissions, Timeout};
use super::{ProgressSender, RemoteExec, answer, exec_failure};
use crate::output::{ExecReport, Failure, GuestCopy, Report, ResponseFormat, TransferAnswer};
use crate::pct::{self, Ctid};
use crate::policy::Access;
use crate::ssh::{SshClient, run_command};
use crate::{proxmox, vm};

/// A failed call before or after it knew its guest.
pub(super) type Failed = (Option<Ctid>, Failure);

/// A failure before the call has a valid guest id.
pub(super) fn early(failure: impl Into<Failure>) -> Failed {
    (None, failure.into())
}

/// The answer of a tool whose work gave `result`: its report, or the report `failed`
/// builds (with the guest when it was known).
pub(super) fn answered<R: Report>(
    result: Result<R, Failed>,
    failed: fn(Option<Ctid>, Failure) -> R,
    format: ResponseFormat,
) -> CallToolResult {
    let report = result.unwrap_or_else(|(id, f)| failed(id, f));
    answer(&report, format)
}

pub(super) fn bad(param: &str, problem: impl Into<String>, fix: &str) -> InvalidParam {
    InvalidParam {
        param: param.into(),
        problem: problem.into(),
        fix: fix.into(),
    }
}

/// The schemas of the guest id parameters: an integer, or a string of digits, from
/// 100 to 999999999 (what [`Ctid::from_json`] takes), each with its description.
macro_rules! id_schemas {
    ($($name:ident: $description:literal,)*) => {$(
        pub(super) fn $name(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
            schemars::json_schema!({
                "description": $description,
                "anyOf": [
                    {"type": "integer", "minimum": 100, "maximum": 999_999_999},
                    {"type": "string", "pattern": "^[1-9][0-9]{2,8}$"}
                ]
            })
        }
    )*};
}

id_schemas! {
    ctid_schema: "Container id (100-999999999), as an integer or a string of digits, e.g. 100.",
    vm_schema: "VM id (100-999999999), as an integer or a string of digits, e.g. 200.",
    vmid_schema: "Guest id (100-999999999) of a container or, for the snapshot tools, a VM, as an integer or a string of digits, e.g. 100.",
    optional_vmid_schema: "Guest id (100-999999999), as an integer or a string of digits, e.g. 100: that container's figures. Leave it out for every guest (containers and VMs).",
}

/// Which kind of guest an id names on this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Container,
    Vm,
}

impl Kind {
    pub(super) fn word(self) -> &'static str {
        match self {
            Kind::Container => "container",
            Kind::Vm => "VM",
        }
    }

    pub(super) fn title(self) -> &'static str {
        match self {
            Kind::Container => "Container",
            Kind::Vm => "VM",
        }
    }

    /// The id in this kind's parameter (`ctid`, `vmid`), or what was wrong with it.
    pub(super) fn id_of(self, v: &serde_json::Value) -> Result<Ctid, InvalidParam> {
        Ctid::from_json(v).map_err(|e| match self {
            Kind::Container => bad(
                "ctid",
                e.0,
                "Give a container id from 100 to 999999999, e.g. 100; proxmox_list_containers lists them.",
            ),
            Kind::Vm => bad(
                "vmid",
                e.0.replace("container id", "VM id"),
                "Give a VM id from 100 to 999999999, e.g. 200; proxmox_list_vms lists them.",
            ),
        })
    }

    /// A path in a guest of this kind: absolute, naming a file, no `..`.
    pub(super) fn check_path(self, param: &str, v: &str) -> Result<(), InvalidParam> {
        let what = self.word();
        params::check_path(param, v)?;
        pct::split_container_path(v).map(|_| ()).map_err(|e| {
            let fix = match e {
                pct::BadPath::Traversal => {
                    "Give the file's absolute path without '..' components.".to_string()
                }
                pct::BadPath::Relative(_) => {
                    format!("Give an absolute path inside the {what}, e.g. /etc/app/app.conf.")
                }
                pct::BadPath::NotAFile(_) => {
                    "Give the full path of a file, e.g. /etc/app/app.conf.".to_string()
                }
            };
            InvalidParam {
                param: param.into(),
                problem: e
                    .to_string()
                    .replace("container paths", &format!("{what} paths")),
                fix,
            }
        })
    }
}

/// The arguments of a tool about one guest, whatever its kind calls the id.
pub(super) trait GuestArgs: DeserializeOwned {
    const KIND: Kind;
    fn id(&self) -> &serde_json::Value;
}

/// The arguments of a guest's download or upload tool.
pub(super) trait FileArgs: GuestArgs {
    /// The name of the guest path's parameter.
    const PATH: &'static str;
    fn file(&self) -> FileCall<'_>;
}

/// The arguments of a guest's exec tool.
pub(super) trait ExecArgs: GuestArgs {
    fn command(&self) -> &str;
    fn timeout(&self) -> &Timeout;
    fn format(&self) -> ResponseFormat;
}

/// A file tool's arguments, by their meaning.
pub(super) struct FileCall<'a> {
    pub guest_path: &'a str,
    pub local_path: &'a str,
    pub overwrite: bool,
    /// Uploads only: the mode asked for.
    pub permissions: Option<&'a Permissions>,
}

/// Declares which kind of guest each parameter struct is about, and its id field;
/// with a path field, that it is a file tool's.
macro_rules! guest_args {
    ($t:ty, $kind:ident, $id:ident) => {
        impl $crate::tools::kind::GuestArgs for $t {
            const KIND: $crate::tools::kind::Kind = $crate::tools::kind::Kind::$kind;
            fn id(&self) -> &serde_json::Value {
                &self.$id
            }
        }
    };
    ($t:ty, $kind:ident, $id:ident, exec) => {
        guest_args!($t, $kind, $id);
        impl $crate::tools::kind::ExecArgs for $t {
            fn command(&self) -> &str {
                &self.command
            }
            fn timeout(&self) -> &$crate::tools::params::Timeout {
                &self.timeout
            }
            fn format(&self) -> $crate::output::ResponseFormat {
                self.response_format
            }
        }
    };
    ($t:ty, $kind:ident, $id:ident, $path:ident $(, $perm:ident)?) => {
        guest_args!($t, $kind, $id);
        impl $crate::tools::kind::FileArgs for $t {
            const PATH: &'static str = stringify!($path);
            fn file(&self) -> $crate::tools::kind::FileCall<'_> {
                $crate::tools::kind::FileCall {
                    guest_path: &self.$path,
                    local_path: &self.local_path,
                    overwrite: self.overwrite,
                    permissions: None$(.or(self.$perm.as_ref()))?,
                }
            }
        }
    };
}
pub(super) use guest_args;

/// Which way a file goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    Down,
    Up,
}

impl RemoteExec {
    /// A valid id of a guest of `kind` that the policy lets the tools act on.
    pub(super) fn guest_id(&self, kind: Kind, v: &serde_json::Value) -> Result<Ctid, Failure> {
        let id = kind.id_of(v)?;
        self.state.config.policy.check_guest(id.get().into())?;
        Ok(id)
    }

    /// Starts or stops (at once, after the user's approval) the guest the arguments
    /// name; returns it and what pct or qm printed.
    pub(super) async fn power_guest<P: GuestArgs>(
        &self,
        args: JsonObject,
        ctx: &RequestContext<RoleServer>,
        start: bool,
    ) -> Result<(Ctid, String), Failed> {
        let p: P = params::parse(args).map_err(early)?;
        let id = self.guest_id(P::KIND, p.id()).map_err(early)?;
        if !start {
            let ask = match P::KIND {
                Kind::Container => format!(
                    "Stop container {id} at once (`pct stop {id}`)? Its services get no clean shutdown."
                ),
                Kind::Vm => format!(
                    "Stop VM {id} at once (`qm stop {id}`)? The guest gets no clean shutdown."
                ),
            };
            self.approve(ctx, &ask).await.map_err(|f| (Some(id), f))?;
        }
        let client = self.routed(id, ctx).await?;
        let cancel = &ctx.ct;
        let said = match (P::KIND, start) {
            (Kind::Container, true) => proxmox::start(&client, id, cancel).await.map_err(fail),
            (Kind::Container, false) => proxmox::stop(&client, id, cancel).await.map_err(fail),
            (Kind::Vm, true) => vm::start(&client, id, cancel).await.map_err(fail),
            (Kind::Vm, false) => vm::stop(&client, id, cancel).await.map_err(fail),
        };
        Ok((id, said.map_err(|f| (Some(id), f))?))
    }

    /// A list tool's answer: its arguments (only `response_format`), then the report
    /// `list` makes over the connection to the host, or `failed` with why not.
    pub(super) async fn list_tool<R: Report>(
        &self,
        args: JsonObject,
        ctx: &RequestContext<RoleServer>,
        failed: fn(Failure) -> R,
        list: impl AsyncFnOnce(&SshClient) -> Result<R, Failure>,
    ) -> CallToolResult {
        let format = super::exec_hints(&args).1;
        let report = async {
            params::parse::<super::proxmox::ListParams>(args)?;
            list(&*self.client(ctx)?).await
        };
        answer(&report.await.unwrap_or_else(failed), format)
    }

    /// The rows the policy lets the tools see, `id` giving each one's guest id.
    pub(super) fn allowed<T>(&self, rows: Vec<T>, id: impl Fn(&T) -> u32) -> Vec<T> {
        let policy = &self.state.config.policy;
        rows.into_iter()
            .filter(|r| policy.guest_allowed(id(r).into()))
            .collect()
    }

    /// Every guest of the cluster (`pvesh get /cluster/resources`) that the policy
    /// lets the tools see.
    pub(super) async fn cluster_guests(
        &self,
        client: &SshClient,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> Result<Vec<crate::metrics::GuestStatus>, Failure> {
        let out = super::metrics::pvesh(client, &crate::metrics::resources(), None, cancel).await?;
        let rows = crate::metrics::parse_resources(&out).map_err(|e| {
            Failure::new(
                e.to_string(),
                "pvesh answered in an unexpected format; run the command with ssh_exec_command to see its output.",
            )
        })?;
        Ok(self.allowed(rows, |r| r.vmid))
    }

    /// A guest's exec tool: the command run in the guest, with the call's time limit.
    pub(super) async fn exec_in<P: ExecArgs>(
        &self,
        args: JsonObject,
        ctx: &RequestContext<RoleServer>,
    ) -> CallToolResult {
        let (command_hint, hint) = super::exec_hints(&args);
        let p: P = match params::parse(args) {
            Ok(p) => p,
            Err(e) => return exec_failure(&command_hint, hint, e),
        };
        let (command, timeout) = (p.command(), p.timeout());
        match self.run_in::<P>(p.id(), command, timeout, ctx).await {
            Ok(report) => answer(&report.noting(timeout.note()), p.format()),
            Err(f) => exec_failure(command, p.format(), f),
        }
    }

    async fn run_in<P: ExecArgs>(
        &self,
        id: &serde_json::Value,
        command: &str,
        timeout: &Timeout,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<ExecReport, Failure> {
        let id = P::KIND.id_of(id)?;
        params::check_command(command)?;
        self.may_exec(ctx, command, Some((P::KIND, id))).await?;
        let (limit, secs) = (self.state.config.character_limit, timeout.secs);
        if P::KIND == Kind::Vm {
            let client = self.guest_client(id, ctx).await?;
            let run = vm::exec(&client, id, command, secs, &ctx.ct).await;
            return Ok(ExecReport::from_vm(
                command,
                id,
                &run.map_err(fail)?,
                limit,
                secs,
            ));
        }
        let line = pct::exec(id, command, secs + 10)
            .map_err(|e| Failure::new(e.to_string(), "Remove NUL bytes from the command."))?;
        let client = self.guest_client(id, ctx).await?;
        let bound = Duration::from_secs(secs);
        let outcome = run_command(&client, &line, bound, limit * 4, &ctx.ct).await;
        Ok(ExecReport::from_container(
            command, id, &outcome, limit, secs,
        ))
    }

    /// A guest's download tool: the file in the guest to a local file, verified.
    pub(super) async fn download<P: FileArgs, R: TransferAnswer>(
        &self,
        args: JsonObject,
        ctx: &RequestContext<RoleServer>,
    ) -> CallToolResult {
        let done = self.copy::<P>(args, ctx, Way::Down).await;
        answered(
            done.map(|c| R::downloaded(&c)),
            R::failed,
            ResponseFormat::Json,
        )
    }

    /// A guest's upload tool: a local file into the guest, verified, moved into place
    /// atomically.
    pub(super) async fn upload<P: FileArgs, R: TransferAnswer>(
        &self,
        args: JsonObject,
        ctx: &RequestContext<RoleServer>,
    ) -> CallToolResult {
        let done = self.copy::<P>(args, ctx, Way::Up).await;
        answered(
            done.map(|c| R::uploaded(&c)),
            R::failed,
            ResponseFormat::Json,
        )
    }

    async fn copy<P: FileArgs>(
        &self,
        args: JsonObject,
        ctx: &RequestContext<RoleServer>,
        way: Way,
    ) -> Result<GuestCopy, Failed> {
        let p: P = params::parse(args).map_err(early)?;
        let file = p.file();
        let id = P::KIND.id_of(p.id()).map_err(early)?;
        let guest_path = || P::KIND.check_path(P::PATH, file.guest_path);
        let local_path = || params::check_path("local_path", file.local_path);
        match way {
            Way::Down => guest_path().and_then(|_| local_path()),
            Way::Up => local_path().and_then(|_| guest_path()),
        }
        .map_err(early)?;
        let mode = file
            .permissions
            .map(|m| m.mode("permissions"))
            .transpose()
            .map_err(early)?;
        let access = match way {
            Way::Down => Access::Write,
            Way::Up => Access::Read,
        };
        let local = self.guest_and_local(id, file.local_path, access)?;
        let progress = ProgressSender::new(ctx);
        let report_progress = |done, total| progress.report(done, total);
        let client = self.routed(id, ctx).await?;
        let opts = self.copy_options(file.overwrite, &report_progress, ctx);
        let (left, path) = (&self.state.leftovers, file.guest_path);
        let result = match (P::KIND, way) {
            (Kind::Container, Way::Down) => {
                proxmox::download(&client, left, id, path, &local, opts)
                    .await
                    .map_err(fail)
            }
            (Kind::Container, Way::Up) => {
                proxmox::upload(&client, left, id, &local, path, mode, opts)
                    .await
                    .map_err(fail)
            }
            (Kind::Vm, Way::Down) => vm::files::download(&client, left, id, path, &local, opts)
                .await
                .map_err(fail),
            (Kind::Vm, Way::Up) => vm::files::upload(&client, left, id, &local, path, mode, opts)
                .await
                .map_err(fail),
        };
        progress.finish().await;
        let copied = result.map_err(|f| (Some(id), f))?;
        Ok(GuestCopy {
            id,
            guest_path: path.to_string(),
            local,
            copied,
            mode,
        })
    }

    /// The resolved `local` path, when the policy lets the tools touch both it (for
    /// `access`) and guest `id`.
    pub(super) fn guest_and_local(
        &self,
        id: Ctid,
        local: &str,
        access: Access,
    ) -> Result<PathBuf, Failed> {
        let local = super::core::local_path(local);
        let policy = &self.state.config.policy;
        let checked = policy
            .check_guest(id.get().into())
            .and_then(|_| policy.check_local(&local, access));
        checked.map_err(|r| (Some(id), r.into()))?;
        Ok(local)
    }
}

/// The operation of the guest's kind (the other future is dropped unpolled), its
/// error as the call's failure about guest `id`.
pub(super) async fn by_kind<T>(
    kind: Kind,
    id: Ctid,
    container: impl Future<Output = Result<T, proxmox::PctError>>,
    vm: impl Future<Output = Result<T, vm::VmError>>,
) -> Result<T, Failed> {
    let done = match kind {
        Kind::Container => container.await.map_err(fail),
        Kind::Vm => vm.await.map_err(fail),
    };
    done.map_err(|f| (Some(id), f))
}

/// A guest operation's error as a failure.
fn fail<E>(e: E) -> Failure
where
    for<'a> Failure: From<&'a E>,
{
    Failure::from(&e)
}
