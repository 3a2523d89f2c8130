//! An MCP client on the server (in process or the built binary) and the helpers that
//! read its results.

use std::path::Path;
use std::time::Duration;

use mcp_remote_exec::config::{Config, RawConfig};
use mcp_remote_exec::tools::RemoteExec;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::Value;
use tokio::task::JoinHandle;

/// Bound on one tool call: the longest a test waits for the server.
pub const CALL_BOUND: Duration = Duration::from_secs(120);

/// A running MCP client session.
pub type Client = RunningService<RoleClient, ()>;

/// The MCP server and the real rmcp client talking to it.
pub struct Mcp {
    pub client: Client,
}

impl Mcp {
    /// The server in process with `config`, over an in-memory duplex pipe.
    pub async fn in_process(config: Config) -> Mcp {
        let (client, _serving) = serve_in_process(RemoteExec::new(config), ()).await;
        Mcp { client }
    }

    /// The server in process, configured by `vars` as the environment would.
    pub async fn serve(vars: &[(String, String)]) -> Mcp {
        let raw = RawConfig::from_pairs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        Mcp::in_process(raw.validate().expect("valid configuration")).await
    }

    /// The built server `binary` as its own process, configured by `vars` alone (its
    /// environment is cleared), over stdio: what an MCP client really talks to. With
    /// the server's pid.
    pub async fn spawn(binary: &Path, vars: &[(String, String)]) -> (Mcp, u32) {
        let mut cmd = tokio::process::Command::new(binary);
        cmd.env_clear().envs(vars.iter().map(|(k, v)| (k, v)));
        let (transport, _) = TokioChildProcess::builder(cmd)
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the server starts");
        let pid = transport.id().expect("a running server");
        let client = ().serve(transport).await.expect("MCP initialize");
        (Mcp { client }, pid)
    }

    /// The names of the tools the server lists, sorted.
    pub async fn tool_names(&self) -> Vec<String> {
        let tools = self.client.list_all_tools().await.expect("tools/list");
        let mut names: Vec<String> = tools.into_iter().map(|t| t.name.to_string()).collect();
        names.sort();
        names
    }

    /// The container ids `proxmox_list_containers` gives (JSON), in its order.
    pub async fn container_ids(&self) -> Vec<u64> {
        let r = self
            .call(
                "proxmox_list_containers",
                serde_json::json!({"response_format": "json"}),
            )
            .await;
        structured(&r)["containers"]
            .as_array()
            .unwrap_or_else(|| panic!("no container list: {r:?}"))
            .iter()
            .map(|c| c["ctid"].as_u64().expect("a ctid"))
            .collect()
    }

    /// One tool call, bounded by [`CALL_BOUND`].
    pub async fn call(&self, tool: &str, args: Value) -> CallToolResult {
        call(&self.client, tool, args).await
    }

    /// A call that must succeed; its structured content.
    pub async fn ok(&self, tool: &str, args: Value) -> Value {
        let r = self.call(tool, args).await;
        crate::assert_ok(&r);
        crate::structured(&r)
    }

    /// The stdout of `command` run in VM `vmid` (proxmox_vm_exec_command), empty when
    /// the call failed.
    pub async fn vm_stdout(&self, vmid: u32, command: &str) -> String {
        let args = serde_json::json!({"vmid": vmid, "command": command, "response_format": "json"});
        let r = self.call("proxmox_vm_exec_command", args).await;
        crate::structured(&r)["stdout"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// ssh_exec_command of `command`, with the default timeout.
    pub async fn exec(&self, command: &str) -> CallToolResult {
        self.call(
            "ssh_exec_command",
            serde_json::json!({ "command": command }),
        )
        .await
    }

    /// [`exec_within`] on this client.
    pub async fn exec_within(&self, command: &str, timeout: u64) -> CallToolResult {
        exec_within(&self.client, command, timeout).await
    }

    /// [`upload`] on this client.
    pub async fn upload(
        &self,
        local: impl AsRef<Path>,
        remote: &str,
        extra: Value,
    ) -> CallToolResult {
        upload(&self.client, local, remote, extra).await
    }

    /// [`download`] on this client.
    pub async fn download(
        &self,
        remote: &str,
        local: impl AsRef<Path>,
        extra: Value,
    ) -> CallToolResult {
        download(&self.client, remote, local, extra).await
    }
}

/// `args` with the keys of the object `extra` added or replaced.
fn merged(mut args: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        args[k] = v;
    }
    args
}

/// ssh_exec_command of `command` with a `timeout` in seconds.
pub async fn exec_within(client: &Client, command: &str, timeout: u64) -> CallToolResult {
    let args = serde_json::json!({ "command": command, "timeout": timeout });
    call(client, "ssh_exec_command", args).await
}

/// ssh_upload_file of `local` to `remote`, with the `extra` arguments.
pub async fn upload(
    client: &Client,
    local: impl AsRef<Path>,
    remote: &str,
    extra: Value,
) -> CallToolResult {
    let args = serde_json::json!({ "local_path": local.as_ref(), "remote_path": remote });
    call(client, "ssh_upload_file", merged(args, extra)).await
}

/// ssh_download_file of `remote` to `local`, with the `extra` arguments.
pub async fn download(
    client: &Client,
    remote: &str,
    local: impl AsRef<Path>,
    extra: Value,
) -> CallToolResult {
    let args = serde_json::json!({ "remote_path": remote, "local_path": local.as_ref() });
    call(client, "ssh_download_file", merged(args, extra)).await
}

/// Serves `server` in process over an in-memory duplex pipe to `handler` (a client
/// of the test's own, or `()`); returns the client session and the serving task.
pub async fn serve_in_process<C: ClientHandler>(
    server: RemoteExec,
    handler: C,
) -> (RunningService<RoleClient, C>, JoinHandle<()>) {
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    let serving = tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let client = handler.serve(client_io).await.expect("MCP initialize");
    (client, serving)
}

/// One tool call on `client`, bounded by [`CALL_BOUND`]; a protocol error panics.
pub async fn call(client: &Client, tool: &str, args: Value) -> CallToolResult {
    let params = CallToolRequestParams::new(tool.to_string())
        .with_arguments(args.as_object().cloned().unwrap_or_default());
    tokio::time::timeout(CALL_BOUND, client.call_tool(params))
        .await
        .unwrap_or_else(|_| panic!("{tool} answered within {CALL_BOUND:?}"))
        .expect("the call reached the server")
}

/// The text content of a result.
pub fn text(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("")
}

/// The structured content of a result.
pub fn structured(r: &CallToolResult) -> Value {
    r.structured_content
        .clone()
        .expect("every result has structured content")
}

pub fn is_error(r: &CallToolResult) -> bool {
    r.is_error == Some(true)
}

/// Asserts that `r` is an error result; returns its structured content.
#[track_caller]
pub fn failed(r: &CallToolResult) -> Value {
    assert!(is_error(r), "{}", text(r));
    structured(r)
}

/// Asserts that `r` is an error result whose `error` is `error`; returns its
/// structured content.
#[track_caller]
pub fn failed_with(r: &CallToolResult, error: &str) -> Value {
    let s = failed(r);
    assert_eq!(s["error"], error);
    s
}

/// Asserts that `r` is an error result whose `error` contains `needle`; returns its
/// structured content.
#[track_caller]
pub fn failed_containing(r: &CallToolResult, needle: &str) -> Value {
    let s = failed(r);
    let error = s["error"].as_str().unwrap_or_default();
    assert!(error.contains(needle), "{needle:?} not in the error: {s}");
    s
}

/// Asserts that `r` reports a command that wrote the lines `stdout` and `stderr` and
/// exited with `code` (not 0): an error result, in the reference's text layout and in
/// its structured content (not timed out); returns the structured content.
#[track_caller]
pub fn assert_exited(r: &CallToolResult, code: i32, stdout: &str, stderr: &str) -> Value {
    assert!(is_error(r), "a non-zero exit is an error result");
    assert_eq!(
        text(r),
        format!("=== STDOUT ===\n{stdout}=== STDERR ===\n{stderr}=== EXIT CODE: {code} ===\n")
    );
    let s = structured(r);
    assert_eq!(s["exit_code"], code);
    assert_eq!(s["stdout"], stdout);
    assert_eq!(s["stderr"], stderr);
    assert_eq!(s["timeout_reached"], false);
    s
}

/// The text of `r`, a result asked for in JSON: valid JSON, the same as its structured
/// content.
#[track_caller]
pub fn json_text(r: &CallToolResult) -> Value {
    let parsed: Value = serde_json::from_str(&text(r)).expect("JSON text is valid JSON");
    assert_eq!(parsed, structured(r));
    parsed
}

/// Asserts that `r` is no error, showing its text if it is.
#[track_caller]
pub fn assert_ok(r: &CallToolResult) {
    assert!(!is_error(r), "{}", text(r));
}
