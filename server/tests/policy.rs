//! The owner's limits, through a real MCP client against an in-process fake node:
//! READ_ONLY, COMMAND_ALLOW/COMMAND_DENY, LOCAL_ROOTS and the protected local paths,
//! PROXMOX_GUEST_ALLOW, approvals by MCP elicitation (a client that accepts, one that
//! declines, one that cannot ask) and the audit file.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use fake_pve::fixture::Fixture;
use mcp_remote_exec::tools::RemoteExec;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, ElicitRequestParams,
    ElicitResult, ElicitationAction, Implementation,
};
use rmcp::service::{RequestContext, RunningService};
use rmcp::{ClientHandler, ErrorData, RoleClient};
use serde_json::{Value, json};
use testkit::component::{Env, FIXTURE, Options, prepare, start_with};
use testkit::{assert_ok, is_error, structured, text};

fn options(vars: &[(&'static str, &str)]) -> Options {
    let mut all = vec![("ENABLE_PROXMOX", "true".to_string())];
    all.extend(vars.iter().map(|(k, v)| (*k, v.to_string())));
    Options {
        fixture: Fixture::parse(FIXTURE).unwrap(),
        vars: all,
        ..Options::default()
    }
}

async fn env(vars: &[(&'static str, &str)]) -> Env {
    start_with(options(vars)).await
}

/// Asserts that uploading each of `locals` to `remote` is refused by `rule`.
async fn uploads_refused(env: &Env, locals: &[std::path::PathBuf], remote: &str, rule: &str) {
    for local in locals {
        let r = env.upload(local, remote, json!({})).await;
        assert!(
            error_of(&r).starts_with(&format!("refused by {rule}")),
            "{}",
            local.display()
        );
    }
}

fn error_of(r: &CallToolResult) -> String {
    assert!(is_error(r), "expected a tool error: {}", text(r));
    structured(r)["error"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn read_only_registers_only_tools_that_change_nothing_on_a_host() {
    let env = env(&[("READ_ONLY", "true")]).await;
    assert_eq!(env.tool_names().await, testkit::READ_ONLY_TOOLS);
    let r = env.exec("touch /tmp/MARK").await;
    assert!(is_error(&r));
    assert!(env.host().host_file("/tmp/MARK").is_none());

    // With an allow rule, the exec tools come back, bounded by it.
    let env = self::env(&[("READ_ONLY", "true"), ("COMMAND_ALLOW", "uptime|df( -h)?")]).await;
    let names = env.tool_names().await;
    assert!(names.contains(&"ssh_exec_command".to_string()), "{names:?}");
    assert!(names.contains(&"proxmox_container_exec_command".to_string()));
    assert!(!names.contains(&"proxmox_stop_container".to_string()));
    assert_ok(&env.exec("df -h").await);
}

#[tokio::test]
async fn command_rules_are_checked_before_anything_is_sent() {
    let env = env(&[
        ("COMMAND_ALLOW", r"(echo|touch) [a-z/]+"),
        ("COMMAND_DENY", r"/etc/"),
    ])
    .await;
    assert_eq!(
        structured(&env.exec("echo hello").await)["stdout"],
        "hello\n"
    );
    for (command, rule) in [
        ("echo ok; touch /tmp/mark", "COMMAND_ALLOW"),
        ("touch /tmp/mark && echo", "COMMAND_ALLOW"),
        ("touch /etc/mark", "COMMAND_DENY"),
    ] {
        let r = env.exec(command).await;
        let error = error_of(&r);
        assert!(
            error.starts_with(&format!("refused by {rule} (")),
            "{command}: {error}"
        );
        let r = env
            .call(
                "proxmox_container_exec_command",
                json!({"ctid": 100, "command": command}),
            )
            .await;
        assert!(error_of(&r).contains(rule), "{command}");
    }
    assert!(env.host().host_file("/tmp/mark").is_none());
    assert!(env.host().container_file(100, "/tmp/mark").is_none());
    assert!(env.host().host_file("/etc/mark").is_none());
}

#[tokio::test]
async fn local_roots_bound_what_file_tools_read_and_write_even_through_links() {
    let outside = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret");
    std::fs::write(&secret, "s3cret").unwrap();
    std::os::unix::fs::symlink(&secret, root.path().join("link")).unwrap();
    std::fs::write(root.path().join("ok.txt"), "fine\n").unwrap();
    let env = env(&[("LOCAL_ROOTS", root.path().to_str().unwrap())]).await;

    let r = env
        .upload(root.path().join("ok.txt"), "/tmp/ok.txt", json!({}))
        .await;
    assert_ok(&r);
    uploads_refused(
        &env,
        &[secret.clone(), root.path().join("link")],
        "/tmp/leak.txt",
        "LOCAL_ROOTS",
    )
    .await;
    assert!(env.host().host_file("/tmp/leak.txt").is_none());

    let r = env
        .download("/tmp/ok.txt", root.path().join("back.txt"), json!({}))
        .await;
    assert_ok(&r);
    let r = env
        .download("/tmp/ok.txt", outside.path().join("x.txt"), json!({}))
        .await;
    assert!(error_of(&r).starts_with("refused by LOCAL_ROOTS"));
    assert!(!outside.path().join("x.txt").exists());
    let r = env
        .call(
            "proxmox_upload_file_to_container",
            json!({"ctid": 100, "local_path": secret, "container_path": "/tmp/leak"}),
        )
        .await;
    assert!(error_of(&r).starts_with("refused by LOCAL_ROOTS"));
    assert!(env.host().container_file(100, "/tmp/leak").is_none());
}

#[tokio::test]
async fn the_servers_own_secrets_and_proc_are_never_moved() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".ssh")).unwrap();
    std::fs::write(home.path().join(".ssh/id_ed25519"), "KEY").unwrap();
    let env = env(&[("HOME", home.path().to_str().unwrap())]).await;
    uploads_refused(
        &env,
        &[
            home.path().join(".ssh/id_ed25519"),
            "/proc/self/environ".into(),
            env.key_path.clone(),
        ],
        "/tmp/leak",
        "the protected local paths",
    )
    .await;
    assert!(env.host().host_file("/tmp/leak").is_none());
    env.exec("echo evil > /tmp/kh").await;
    for local in [
        home.path().join(".ssh/known_hosts"),
        env.known_hosts.clone(),
    ] {
        let r = env
            .download("/tmp/kh", &local, json!({"overwrite": true}))
            .await;
        assert!(
            error_of(&r).contains("protected local paths"),
            "{}",
            local.display()
        );
    }
    assert!(!home.path().join(".ssh/known_hosts").exists());
}

#[tokio::test]
async fn guest_allow_lists_bound_the_proxmox_tools() {
    let env = env(&[("PROXMOX_GUEST_ALLOW", "100,102-199")]).await;
    assert_eq!(env.container_ids().await, [100, 102, 103, 104]);
    for (tool, args) in [
        ("proxmox_container_status", json!({"ctid": 101})),
        ("proxmox_stop_container", json!({"ctid": 101})),
        (
            "proxmox_container_exec_command",
            json!({"ctid": 101, "command": "true"}),
        ),
        (
            "proxmox_download_file_from_container",
            json!({"ctid": 101, "container_path": "/etc/hostname", "local_path": env.dir.path().join("h")}),
        ),
    ] {
        let r = env.call(tool, args).await;
        assert!(
            error_of(&r).starts_with("refused by PROXMOX_GUEST_ALLOW (100,102-199)"),
            "{tool}"
        );
    }
    let r = env
        .call(
            "proxmox_container_status",
            json!({"ctid": 101, "response_format": "json"}),
        )
        .await;
    assert!(is_error(&r));
    let r = env
        .call("proxmox_stop_container", json!({"ctid": 102}))
        .await;
    assert_ok(&r);
}

/// A client that answers every approval request as told, and counts them.
#[derive(Clone)]
struct Approver {
    answer: ElicitationAction,
    approve: bool,
    asked: Arc<AtomicUsize>,
    last_message: Arc<std::sync::Mutex<String>>,
}

impl Approver {
    fn new(answer: ElicitationAction, approve: bool) -> Self {
        Approver {
            answer,
            approve,
            asked: Arc::default(),
            last_message: Arc::default(),
        }
    }
}

impl ClientHandler for Approver {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::builder().enable_elicitation().build(),
            Implementation::new("approver", "1.0"),
        )
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        if let ElicitRequestParams::FormElicitationParams { message, .. } = request {
            *self.last_message.lock().unwrap() = message;
        }
        let mut result = ElicitResult::new(self.answer.clone());
        if self.answer == ElicitationAction::Accept {
            result = result.with_content(json!({"approve": self.approve}));
        }
        Ok(result)
    }
}

async fn call_as<C: ClientHandler>(
    client: &RunningService<RoleClient, C>,
    tool: &str,
    args: Value,
) -> CallToolResult {
    let params = CallToolRequestParams::new(tool.to_string())
        .with_arguments(args.as_object().cloned().unwrap_or_default());
    tokio::time::timeout(testkit::CALL_BOUND, client.call_tool(params))
        .await
        .expect("bounded")
        .expect("no protocol error")
}

async fn stop_with(
    vars: &[(&'static str, &str)],
    approver: Approver,
) -> (CallToolResult, testkit::component::Prepared) {
    let (prepared, config) = prepare(options(vars)).await;
    let (client, _serving) =
        testkit::mcp::serve_in_process(RemoteExec::new(config), approver).await;
    let r = call_as(&client, "proxmox_stop_container", json!({"ctid": 100})).await;
    (r, prepared)
}

fn running(p: &testkit::component::Prepared, vmid: u32) -> bool {
    p.fake
        .host()
        .state()
        .containers
        .get(&vmid)
        .map(|c| c.status.as_str() == "running")
        .unwrap()
}

#[tokio::test]
async fn destructive_operations_ask_the_user_when_the_client_can() {
    let yes = Approver::new(ElicitationAction::Accept, true);
    let (r, node) = stop_with(&[], yes.clone()).await;
    assert_ok(&r);
    assert_eq!(yes.asked.load(Ordering::SeqCst), 1);
    assert!(
        yes.last_message
            .lock()
            .unwrap()
            .contains("Stop container 100"),
        "{}",
        yes.last_message.lock().unwrap()
    );
    assert!(!running(&node, 100));

    for (answer, approve, said) in [
        (
            ElicitationAction::Decline,
            false,
            "the user declined; nothing was done",
        ),
        (
            ElicitationAction::Accept,
            false,
            "the user declined; nothing was done",
        ),
        (
            ElicitationAction::Cancel,
            false,
            "the user dismissed the approval request",
        ),
    ] {
        let who = Approver::new(answer, approve);
        let (r, node) = stop_with(&[], who.clone()).await;
        assert!(error_of(&r).starts_with(said), "{}", text(&r));
        assert_eq!(who.asked.load(Ordering::SeqCst), 1);
        assert!(
            running(&node, 100),
            "a declined stop left the container running"
        );
    }

    // never: not asked.
    let who = Approver::new(ElicitationAction::Decline, false);
    let (r, _) = stop_with(&[("CONFIRM_DESTRUCTIVE", "never")], who.clone()).await;
    assert_ok(&r);
    assert_eq!(who.asked.load(Ordering::SeqCst), 0);

    // CONFIRM_EXEC: commands are approved one by one, the message shows the command.
    let (prepared, config) = prepare(options(&[("CONFIRM_EXEC", "true")])).await;
    let who = Approver::new(ElicitationAction::Decline, false);
    let (client, _serving) =
        testkit::mcp::serve_in_process(RemoteExec::new(config), who.clone()).await;
    let r = call_as(
        &client,
        "ssh_exec_command",
        json!({"command": "touch /tmp/asked"}),
    )
    .await;
    assert!(error_of(&r).starts_with("the user declined"));
    assert!(
        who.last_message
            .lock()
            .unwrap()
            .contains("touch /tmp/asked")
    );
    assert!(prepared.fake.host().host_file("/tmp/asked").is_none());
}

#[tokio::test]
async fn a_client_that_cannot_ask_goes_ahead_under_ask_and_is_refused_under_require() {
    let env = env(&[]).await;
    assert_ok(
        &env.call("proxmox_stop_container", json!({"ctid": 100}))
            .await,
    );
    let env = self::env(&[("CONFIRM_DESTRUCTIVE", "require")]).await;
    let r = env
        .call("proxmox_stop_container", json!({"ctid": 100}))
        .await;
    assert!(
        error_of(&r).contains("CONFIRM_DESTRUCTIVE=require"),
        "{}",
        text(&r)
    );
    let status = env
        .call(
            "proxmox_container_status",
            json!({"ctid": 100, "response_format": "json"}),
        )
        .await;
    assert_eq!(structured(&status)["status"], "running");
}

#[tokio::test]
async fn the_audit_file_has_one_line_per_call_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let mut opts = options(&[("AUDIT_LOG", log.to_str().unwrap())]);
    opts.use_key = false; // log in by password: it must not reach the file
    let env = start_with(opts).await;
    assert_ok(&env.exec("echo audited").await);
    let r = env.exec("exit 4").await;
    assert!(is_error(&r));
    env.call("proxmox_list_containers", json!({})).await;
    let unknown = CallToolRequestParams::new("no_such_tool");
    let refused = tokio::time::timeout(testkit::CALL_BOUND, env.client.call_tool(unknown))
        .await
        .expect("bounded");
    assert!(refused.is_err(), "an unknown tool is a protocol error");

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains(testkit::PASSWORD), "{text}");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(lines[0]["tool"], "ssh_exec_command");
    assert_eq!(lines[0]["arguments"], json!({"command": "echo audited"}));
    assert_eq!(lines[0]["outcome"], "ok");
    assert_eq!(
        lines[0]["host"].as_str().unwrap().split('@').next(),
        Some("root")
    );
    assert!(lines[0]["duration_ms"].is_u64());
    assert!(lines[0]["time"].as_str().unwrap().ends_with('Z'));
    assert!(lines[0]["client"]["name"].is_string(), "{}", lines[0]);
    assert_eq!(lines[1]["outcome"], "error");
    assert!(
        lines[1]["error"].as_str().unwrap().contains('4'),
        "{}",
        lines[1]
    );
    assert_eq!(lines[2]["tool"], "proxmox_list_containers");
    assert_eq!(lines[3]["tool"], "no_such_tool");
    assert_eq!(lines[3]["outcome"], "protocol-error");
}
