//! The three `ssh_*` tools.

use std::path::PathBuf;
use std::time::Duration;

use rmcp::model::{CallToolResult, JsonObject};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, tool, tool_router};

use super::params::{self, DownloadParams, ExecParams, UploadParams};
use super::{ProgressSender, RemoteExec, answer, exec_failure, exec_hints};
use crate::output::{ExecReport, Failure, ResponseFormat, TransferReport};
use crate::policy::Access;
use crate::ssh::{run_command, transfer};

/// A failed call of a file tool (or bad arguments); file tools answer in JSON.
fn transfer_failure(failure: impl Into<Failure>) -> CallToolResult {
    answer(
        &TransferReport::failed(failure.into()),
        ResponseFormat::Json,
    )
}

const UPLOAD_CANCELLED: &str = "the upload was cancelled; nothing was changed on the host";
const DOWNLOAD_CANCELLED: &str = "the download was cancelled; no local file was written";

/// What `work` gave, or (as the error) the failure saying `cancelled` when the call is
/// cancelled first.
async fn unless_cancelled<T>(
    ctx: &RequestContext<RoleServer>,
    work: impl std::future::Future<Output = T>,
    cancelled: &str,
) -> Result<T, Failure> {
    tokio::select! {
        r = work => Ok(r),
        _ = ctx.ct.cancelled() => Err(Failure::new(cancelled, "Run it again when ready.")),
    }
}

/// Resolves a local path against the server's working directory.
pub(super) fn local_path(p: &str) -> PathBuf {
    let path = PathBuf::from(p);
    if path.is_absolute() {
        path
    } else {
        std::env::current_dir()
            .map(|d| d.join(&path))
            .unwrap_or(path)
    }
}

#[tool_router(router = core_router, vis = "pub(crate)")]
impl RemoteExec {
    #[tool(
        name = "ssh_exec_command",
        title = "Run a command on the host",
        description = "Run a shell command on the remote host over SSH and return its stdout, stderr and exit code. \
The command runs in the SSH user's login shell without a terminal or standard input; `timeout` (1-300 s, default 30; larger values are clamped to 300) \
limits the whole run, after which the command is ended on the host and the partial output returned with \
timeout_reached=true. Long output is cut to CHARACTER_LIMIT, keeping its beginning and end. \
A non-zero exit code is reported as an error result.",
        input_schema = super::schema::input::<ExecParams>(),
        output_schema = super::schema::output::<ExecReport>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = true)
    )]
    pub async fn ssh_exec_command(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let (command_hint, format_hint) = exec_hints(&args);
        let p: ExecParams = match params::parse(args) {
            Ok(p) => p,
            Err(e) => return Ok(exec_failure(&command_hint, format_hint, e)),
        };
        if let Err(e) = p.validate() {
            return Ok(exec_failure(&p.command, p.response_format, e));
        }
        if let Err(f) = self.may_exec(&ctx, &p.command, None).await {
            return Ok(exec_failure(&p.command, p.response_format, f));
        }
        let limit = self.state.config.character_limit;
        let client = match self.client(&ctx) {
            Ok(c) => c,
            Err(f) => return Ok(exec_failure(&p.command, p.response_format, f)),
        };
        let outcome = run_command(
            &client,
            &p.command,
            Duration::from_secs(p.timeout.secs),
            limit * 4,
            &ctx.ct,
        )
        .await;
        let report = ExecReport::from_result(&p.command, &outcome, limit, p.timeout.secs)
            .noting(p.timeout.note());
        Ok(answer(&report, p.response_format))
    }

    #[tool(
        name = "ssh_upload_file",
        title = "Upload a file to the host",
        description = "Upload a file from this machine to the remote host over SFTP. The file is streamed to a \
temporary name beside the target and renamed into place only when complete, so a failed transfer never leaves a \
partial file or destroys the original. overwrite=false (default) refuses an existing remote file; a replaced file \
keeps its owner, group and (unless `permissions` is given) mode. Only regular files are replaced (symbolic links, \
FIFOs and devices are refused). `permissions` (octal, e.g. \"644\") is applied before the file appears. Files larger than MAX_FILE_SIZE are refused.",
        input_schema = super::schema::input::<UploadParams>(),
        output_schema = super::schema::output::<TransferReport>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = true)
    )]
    pub async fn ssh_upload_file(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self
            .upload_file(args, &ctx)
            .await
            .unwrap_or_else(transfer_failure))
    }

    #[tool(
        name = "ssh_download_file",
        title = "Download a file from the host",
        description = "Download a file from the remote host to this machine over SFTP. The file is streamed to a \
temporary name beside the target and renamed into place only when complete. overwrite=false (default) refuses an \
existing local file. Files larger than MAX_FILE_SIZE are refused before anything is copied.",
        input_schema = super::schema::input::<DownloadParams>(),
        output_schema = super::schema::output::<TransferReport>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = true)
    )]
    pub async fn ssh_download_file(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self
            .download_file(args, &ctx)
            .await
            .unwrap_or_else(transfer_failure))
    }
}

impl RemoteExec {
    async fn upload_file(
        &self,
        args: JsonObject,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<CallToolResult, Failure> {
        let p: UploadParams = params::parse(args)?;
        params::check_path("local_path", &p.local_path)?;
        params::check_path("remote_path", &p.remote_path)?;
        let mode = p
            .permissions
            .as_ref()
            .map(|m| m.mode("permissions"))
            .transpose()?;
        let local = local_path(&p.local_path);
        self.state.config.policy.check_local(&local, Access::Read)?;
        let opts = transfer::UploadOptions {
            permissions: mode,
            overwrite: p.overwrite,
            max_size: self.state.config.max_file_size,
        };
        let (client, progress) = (self.client(ctx)?, ProgressSender::new(ctx));
        let report = |d, t| progress.report(d, t);
        let upload = transfer::upload(&client, &local, &p.remote_path, opts, &report);
        let result = unless_cancelled(ctx, upload, UPLOAD_CANCELLED).await?;
        progress.finish().await;
        let done = result.map_err(|e| Failure::from(&e))?;
        Ok(answer(
            &TransferReport::uploaded(&local, &p.remote_path, mode, done.bytes),
            ResponseFormat::Json,
        ))
    }

    async fn download_file(
        &self,
        args: JsonObject,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<CallToolResult, Failure> {
        let p: DownloadParams = params::parse(args)?;
        params::check_path("remote_path", &p.remote_path)?;
        params::check_path("local_path", &p.local_path)?;
        let local = local_path(&p.local_path);
        self.state
            .config
            .policy
            .check_local(&local, Access::Write)?;
        let opts = transfer::DownloadOptions {
            overwrite: p.overwrite,
            max_size: self.state.config.max_file_size,
            expect: None,
        };
        let (client, progress) = (self.client(ctx)?, ProgressSender::new(ctx));
        let report = |d, t| progress.report(d, t);
        let download = transfer::download(&client, &p.remote_path, &local, opts, &report);
        let result = unless_cancelled(ctx, download, DOWNLOAD_CANCELLED).await?;
        progress.finish().await;
        let done = result.map_err(|e| Failure::from(&e))?;
        Ok(answer(
            &TransferReport::downloaded(&p.remote_path, &local, done.bytes),
            ResponseFormat::Json,
        ))
    }
}
