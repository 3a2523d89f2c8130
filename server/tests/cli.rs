//! The command line through the built binary: the version, `--fake-pve` with `serve`
//! and `check` in any order, flags that a subcommand does not take, RUST_LOG, shell
//! completions, `check`'s words and its unknown-host-key hint. Every run has a clean
//! environment, a scratch working directory and HOME, closed stdin, and a time bound.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use fake_pve::fixture::Fixture;
use fake_pve::node::TestNode;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// What one run of the binary left.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Assertions on the standard output.
    fn out(&self) -> Stream<'_> {
        Stream(&self.stdout, self)
    }

    /// Assertions on the standard error.
    fn err(&self) -> Stream<'_> {
        Stream(&self.stderr, self)
    }
}

/// One output of a [`Run`]; a failed assertion shows the whole run.
struct Stream<'a>(&'a str, &'a Run);

impl Stream<'_> {
    #[track_caller]
    fn has(&self, needle: &str) {
        assert!(self.0.contains(needle), "{:?}", self.1);
    }

    #[track_caller]
    fn lacks(&self, needle: &str) {
        assert!(!self.0.contains(needle), "{:?}", self.1);
    }
}

/// Runs the binary with `args` and only `env` (plus HOME = `dir`) in `dir`.
async fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    run_with_input(dir, args, env, b"").await
}

/// An MCP client's first two messages; then stdin closes and the server ends.
const INITIALIZE: &[u8] = br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"cli-test","version":"0"}}}
{"jsonrpc":"2.0","method":"notifications/initialized"}
"#;

/// Serves `--fake-pve` (with `args`) to a client that initializes and goes away.
async fn serve_briefly(args: &[&str], env: &[(&str, &str)]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    run_with_input(dir.path(), args, env, INITIALIZE).await
}

/// [`run_in`] with `input` on stdin (then closed).
async fn run_with_input(dir: &Path, args: &[&str], env: &[(&str, &str)], input: &[u8]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mcp-remote-exec"));
    cmd.args(args)
        .env_clear()
        .env("HOME", dir)
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("the binary starts");
    let mut stdin = child.stdin.take().unwrap();
    // A process that exits before reading its input is not an error here.
    let _ = stdin.write_all(input).await;
    drop(stdin);
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("mcp-remote-exec {args:?} did not end within 60 s"))
        .expect("the binary runs");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

async fn run(args: &[&str], env: &[(&str, &str)]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    run_in(dir.path(), args, env).await
}

/// The revision the build script is expected to have found.
fn revision() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

#[tokio::test]
async fn v_capital_v_and_version_print_the_version_with_the_git_revision() {
    let expected = format!(
        "mcp-remote-exec {} ({})\n",
        env!("CARGO_PKG_VERSION"),
        revision()
    );
    for flag in ["-V", "-v", "--version"] {
        let r = run(&[flag], &[]).await;
        assert_eq!(r.code, Some(0), "{flag}: {r:?}");
        assert_eq!(r.stdout, expected, "{flag}");
    }
}

#[tokio::test]
async fn fake_pve_combines_with_check_before_or_after_it() {
    for args in [&["--fake-pve", "check"], &["check", "--fake-pve"]] {
        let r = run(args, &[]).await;
        assert_eq!(r.code, Some(0), "{args:?}: {r:?}");
        assert!(r.stdout.contains("checking A FAKE HOST"), "{args:?}: {r:?}");
        r.out().has("fixture: bundled default");
        r.out().has("ok    ran `true`");
        r.out().has("ENABLE_PROXMOX=true and the host has pct");
        r.out().has("ready: mcp-remote-exec can serve");
    }
}

#[tokio::test]
async fn a_fixture_is_given_with_an_equals_sign() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("one.toml"),
        "node = \"lab\"\n[[containers]]\nvmid = 321\nstatus = \"running\"\n",
    )
    .unwrap();
    let r = run_in(dir.path(), &["check", "--fake-pve=one.toml"], &[]).await;
    assert_eq!(r.code, Some(0), "{r:?}");
    r.out().has("fixture: one.toml");

    let r = run_in(dir.path(), &["--fake-pve=missing.toml", "check"], &[]).await;
    assert_eq!(r.code, Some(1), "{r:?}");
    r.err().has("missing.toml");
}

#[tokio::test]
async fn fake_pve_serves_with_or_without_serve_and_its_banner_is_always_shown() {
    for args in [
        &["--fake-pve"][..],
        &["serve", "--fake-pve"],
        &["--fake-pve", "serve"],
    ] {
        let r = serve_briefly(args, &[("RUST_LOG", "off")]).await;
        assert_eq!(r.code, Some(0), "{args:?}: {r:?}");
        assert!(
            r.stderr
                .contains("SERVING AGAINST A FAKE HOST: an embedded fake-pve on 127.0.0.1:"),
            "{args:?}: {r:?}"
        );
        assert!(
            r.stdout
                .starts_with(r#"{"jsonrpc":"2.0","id":1,"result":{"#),
            "stdout is the protocol's alone: {r:?}"
        );
    }
}

#[tokio::test]
async fn an_invalid_rust_log_is_reported_and_the_default_is_used() {
    for bad in ["verbose", "mcp_remote_exec=loud"] {
        let r = serve_briefly(&["--fake-pve"], &[("RUST_LOG", bad)]).await;
        assert_eq!(r.code, Some(0), "{r:?}");
        assert!(
            r.stderr.contains(&format!("RUST_LOG={bad:?}: "))
                && r.stderr
                    .contains("; using the default \"info,rmcp=warn,fake_pve=warn\""),
            "{bad}: {r:?}"
        );
        r.err().has("SERVING AGAINST A FAKE HOST");
        // Logging is on at the default level: our INFO lines are there.
        r.err().has(" INFO mcp_remote_exec::tools: tool groups");
        // ... and rmcp's INFO dumps of the protocol messages are not.
        r.err().lacks("rmcp::");
        r.err().lacks("peer_info");
    }
    let r = serve_briefly(
        &["--fake-pve"],
        &[("RUST_LOG", "warn,mcp_remote_exec=info")],
    )
    .await;
    assert!(
        !r.stderr.contains("RUST_LOG="),
        "a valid value is taken: {r:?}"
    );
    r.err().has(" INFO mcp_remote_exec::tools");
}

#[tokio::test]
async fn rust_log_debug_leaves_out_the_fake_shells_parser_unless_named() {
    let r = run(&["check", "--fake-pve"], &[("RUST_LOG", "debug")]).await;
    assert_eq!(r.code, Some(0), "{r:?}");
    r.err().has(" INFO mcp_remote_exec");
    r.err().lacks("TOKEN");
    let r = run(
        &["check", "--fake-pve"],
        &[("RUST_LOG", "info,tokenize=debug")],
    )
    .await;
    assert_eq!(r.code, Some(0), "{r:?}");
    r.err().has(" DEBUG tokenize: TOKEN");
}

#[tokio::test]
async fn demo_takes_no_ssh_flags_and_says_which_one_it_refused() {
    for (args, flag) in [
        (&["demo", "--host", "x"][..], "--host"),
        (&["--host", "x", "demo"], "--host"),
        (&["--port", "2222", "demo"], "--port"),
        (&["demo", "--fake-pve"], "--fake-pve"),
        (&["--fake-pve", "demo"], "--fake-pve"),
    ] {
        let r = run(args, &[]).await;
        assert_eq!(r.code, Some(2), "{args:?}: {r:?}");
        assert!(
            r.stderr.contains(&format!("'{flag}")),
            "{args:?} names {flag}: {r:?}"
        );
    }
    let r = run(&["demo", "--help"], &[]).await;
    assert_eq!(r.code, Some(0), "{r:?}");
    for flag in ["--host", "--port", "--key", "--known-hosts", "--fake-pve"] {
        assert!(!r.stdout.contains(flag), "demo --help shows {flag}: {r:?}");
    }
}

#[tokio::test]
async fn flag_errors_name_the_flag() {
    for (args, flag) in [
        (&["--port", "many"][..], "--port"),
        (&["check", "--timeout", "soon"], "--timeout"),
        (&["--fake-pve", "--host", "h"], "--host"),
        (&["check", "--fake-pve", "--user", "u"], "--user"),
        (&["--key", "k", "check", "--fake-pve"], "--key"),
        (
            &["--fake-pve", "check", "--enable-proxmox"],
            "--enable-proxmox",
        ),
        (&["--nonsense"], "--nonsense"),
    ] {
        let r = run(args, &[]).await;
        assert_eq!(r.code, Some(2), "{args:?}: {r:?}");
        assert!(r.stderr.contains(flag), "{args:?} names {flag}: {r:?}");
    }
}

#[tokio::test]
async fn completions_for_bash_zsh_and_fish() {
    for shell in ["bash", "zsh", "fish"] {
        let r = run(&["completions", shell], &[]).await;
        assert_eq!(r.code, Some(0), "{shell}: {r:?}");
        assert!(r.stdout.contains("mcp-remote-exec"), "{shell}: {r:?}");
        assert!(r.stdout.contains("fake-pve"), "{shell}: {r:?}");
        assert!(r.stdout.contains("known-hosts"), "{shell}: {r:?}");
    }
    let r = run(&["completions", "tcsh"], &[]).await;
    assert_eq!(r.code, Some(2), "{r:?}");
}

/// A fake node on 127.0.0.1 reached by password, and the environment for it.
struct Target {
    node: TestNode,
    port: String,
}

impl Target {
    async fn start() -> Target {
        let node = TestNode::builder(Fixture::default_fixture())
            .without_client_key()
            .start()
            .await
            .unwrap();
        let port = node.port().to_string();
        Target { node, port }
    }

    fn env<'a>(&'a self, known_hosts: &'a str, strict: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("I_ACCEPT_RISKS", "true"),
            ("HOST", "127.0.0.1"),
            ("SSH_PORT", &self.port),
            ("SSH_PASSWORD", &self.node.password),
            ("SSH_KNOWN_HOSTS", known_hosts),
            ("SSH_STRICT_HOST_KEY_CHECKING", strict),
            ("TIMEOUT", "10"),
        ]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_shows_the_settings_in_the_words_of_the_settings() {
    let target = Target::start().await;
    let dir = tempfile::tempdir().unwrap();
    let kh = dir.path().join("known_hosts");
    let kh = kh.to_str().unwrap();
    let r = run_in(dir.path(), &["check"], &target.env(kh, "accept-new")).await;
    assert_eq!(r.code, Some(0), "{r:?}");
    for words in [
        format!("HOST=127.0.0.1 SSH_PORT={} SSH_USERNAME=root", target.port),
        format!("SSH_KNOWN_HOSTS={kh} SSH_STRICT_HOST_KEY_CHECKING=accept-new"),
        "login by SSH_PASSWORD (set, not shown)".into(),
        "TIMEOUT=10 CHARACTER_LIMIT=25000 MAX_FILE_SIZE=10485760 ENABLE_PROXMOX=false".into(),
        "ready: mcp-remote-exec can serve".into(),
    ] {
        assert!(r.stdout.contains(&words), "{words}: {r:?}");
    }
    r.out().lacks("AcceptNew");
    r.out().lacks(&target.node.password);
    let learned = std::fs::read_to_string(kh).unwrap();
    assert!(
        learned.contains(&format!("[127.0.0.1]:{}", target.port)),
        "{learned}"
    );

    // Now known, with strict checking; a flag overrides the environment.
    let r = run_in(
        dir.path(),
        &[
            "check",
            "--strict-host-key-checking",
            "true",
            "--enable-proxmox",
        ],
        &target.env(kh, "accept-new"),
    )
    .await;
    assert_eq!(r.code, Some(0), "{r:?}");
    r.out().has("SSH_STRICT_HOST_KEY_CHECKING=true");
    r.out().has("ENABLE_PROXMOX=true and the host has pct");

    let r = run_in(
        dir.path(),
        &["--strict-host-key-checking", "false", "check"],
        &target.env(kh, "true"),
    )
    .await;
    assert_eq!(r.code, Some(0), "{r:?}");
    r.out().has("SSH_STRICT_HOST_KEY_CHECKING=false");
    target.node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_host_key_gets_a_keyscan_line_with_the_real_host_port_and_file() {
    let target = Target::start().await;
    let dir = tempfile::tempdir().unwrap();
    let kh = dir.path().join("my known_hosts");
    std::fs::write(&kh, "").unwrap();
    let kh = kh.to_str().unwrap();
    let r = run_in(dir.path(), &["check"], &target.env(kh, "true")).await;
    assert_eq!(r.code, Some(1), "{r:?}");
    r.out().has("FAIL  connect: the host key of");
    let line = format!("`ssh-keyscan -p {} 127.0.0.1 >> '{kh}'`", target.port);
    assert!(r.stdout.contains(&line), "{line}: {r:?}");
    assert_eq!(std::fs::read_to_string(kh).unwrap(), "", "nothing learned");
    target.node.shutdown().await;
}

#[test]
fn the_keyscan_line_leaves_out_port_22() {
    let e = mcp_remote_exec::ssh::SshError::HostKeyUnknown {
        host: "pve.example.lan".into(),
        hostname: "pve.example.lan".into(),
        port: 22,
        path: "/home/u/.ssh/known_hosts".into(),
        fingerprint: "SHA256:x".into(),
    };
    assert!(
        e.suggestion()
            .contains("`ssh-keyscan pve.example.lan >> /home/u/.ssh/known_hosts`"),
        "{}",
        e.suggestion()
    );
}

/// `check --hosts FILE`: each host's settings under its name, then each host checked
/// in turn; `pct` looked for on the node only; a host that cannot be reached fails
/// the whole check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_goes_through_every_host_of_a_hosts_file() {
    let (web, pve) = tokio::join!(Target::start(), Target::start());
    let dir = tempfile::tempdir().unwrap();
    let kh = dir.path().join("known_hosts");
    let file = dir.path().join("hosts.toml");
    let write = |web_port: &str| {
        std::fs::write(
            &file,
            format!(
                "default = \"pve\"\n\
                 [hosts.web]\naddress = \"127.0.0.1\"\nport = {web_port}\npassword_env = \"WEB_PW\"\n\
                 [hosts.pve]\naddress = \"127.0.0.1\"\nport = {}\npassword_env = \"PVE_PW\"\nproxmox = true\n",
                pve.port
            ),
        )
        .unwrap();
    };
    write(&web.port);
    let env = [
        ("I_ACCEPT_RISKS", "true"),
        ("WEB_PW", web.node.password.as_str()),
        ("PVE_PW", pve.node.password.as_str()),
        ("SSH_KNOWN_HOSTS", kh.to_str().unwrap()),
        ("SSH_STRICT_HOST_KEY_CHECKING", "accept-new"),
        ("TIMEOUT", "10"),
    ];
    let args = ["check", "--hosts", file.to_str().unwrap()];
    let r = run_in(dir.path(), &args, &env).await;
    assert_eq!(r.code, Some(0), "{r:?}");
    for words in [
        "host 'web':".to_string(),
        "host 'pve' (the default), a Proxmox VE node:".into(),
        format!("  HOST=127.0.0.1 SSH_PORT={} SSH_USERNAME=root", pve.port),
        "ENABLE_PROXMOX=true".into(),
        format!(
            "host 'web':\nok    connected and logged in to root@127.0.0.1:{}",
            web.port
        ),
        "ok    ENABLE_PROXMOX=true and the host has pct".into(),
    ] {
        assert!(r.stdout.contains(&words), "{words}: {r:?}");
    }
    assert_eq!(r.stdout.matches("has pct").count(), 1, "{r:?}");
    assert_eq!(
        r.stdout.matches("ready: mcp-remote-exec can serve").count(),
        2,
        "{r:?}"
    );
    r.out().lacks(&web.node.password);

    // One host down: its step fails, the other is still checked, and check fails.
    write("1");
    let r = run_in(dir.path(), &args, &env).await;
    assert_eq!(r.code, Some(1), "{r:?}");
    r.out().has("FAIL  connect:");
    r.out().has(&format!(
        "ready: mcp-remote-exec can serve root@127.0.0.1:{}",
        pve.port
    ));

    // HOST beside the file: refused, naming both.
    let mut both = env.to_vec();
    both.push(("HOST", "127.0.0.1"));
    let r = run_in(dir.path(), &args, &both).await;
    assert_eq!(r.code, Some(1), "{r:?}");
    r.out().has("MCP_REMOTE_EXEC_HOSTS: is set");
    r.out().has("and so is HOST");
    web.node.shutdown().await;
    pve.node.shutdown().await;
}

#[tokio::test]
async fn configuration_errors_are_reported_by_check_and_by_serve() {
    // Every error at once: the risk acknowledgement and the missing login.
    let r = run(&["check", "--host", "h"], &[]).await;
    assert_eq!(r.code, Some(1), "{r:?}");
    r.out().has("FAIL  configuration: 2 configuration errors:");
    r.out().has("- I_ACCEPT_RISKS: is unset");
    r.out().has("- SSH_KEY: no login method");
    let r = run(&["--host", "h"], &[]).await;
    assert_eq!(r.code, Some(1), "{r:?}");
    r.err().has("mcp-remote-exec: 2 configuration errors:");
    r.err().has("- I_ACCEPT_RISKS");
    assert_eq!(r.stdout, "", "{r:?}");
}

/// On a real OpenSSH host (a container test host, `test-hosts/`): `check` with
/// ENABLE_PROXMOX=true finds its `pct`, and fails once `pct` is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_with_proxmox_enabled_fails_on_a_host_without_pct() {
    let env = testkit::openssh::HostEnv::start().await;
    let vars = env.vars(env.host.port(), &testkit::openssh::Login::Key, &[]);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let dir = tempfile::tempdir().unwrap();

    let r = run_in(dir.path(), &["check", "--enable-proxmox"], &vars).await;
    assert_eq!(r.code, Some(0), "{r:?}");
    r.out()
        .has("ok    ENABLE_PROXMOX=true and the host has pct (/usr/sbin/pct)");

    let (code, _, err) = env.host.exec_out_of_band("rm /usr/sbin/pct").await.unwrap();
    assert_eq!(code, 0, "{err}");
    let r = run_in(dir.path(), &["check", "--enable-proxmox"], &vars).await;
    assert_eq!(r.code, Some(1), "{r:?}");
    r.out().has("ok    ran `true`");
    r.out()
        .has("FAIL  ENABLE_PROXMOX=true: but 127.0.0.1 has no `pct` on its PATH");
    r.out().lacks("ready:");

    // Without ENABLE_PROXMOX, pct is not asked for.
    let r = run_in(dir.path(), &["check"], &vars).await;
    assert_eq!(r.code, Some(0), "{r:?}");
    r.out().lacks("pct");
}

/// initialize, then tools/list; then stdin closes and the server ends.
const LIST_TOOLS: &[u8] = br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"cli-test","version":"0"}}}
{"jsonrpc":"2.0","method":"notifications/initialized"}
{"jsonrpc":"2.0","id":2,"method":"tools/list"}
"#;

#[tokio::test]
async fn the_policy_settings_are_flags_too_and_apply_to_the_fake_node() {
    let dir = tempfile::tempdir().unwrap();
    let r = run_with_input(dir.path(), &["--fake-pve", "--read-only"], &[], LIST_TOOLS).await;
    let replies: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let instructions = replies[0]["result"]["instructions"].as_str().unwrap();
    assert!(
        instructions.starts_with("THIS IS A FAKE HOST"),
        "{instructions}"
    );
    assert!(
        instructions.contains("the server is read-only"),
        "{instructions}"
    );
    let mut names: Vec<&str> = replies[1]["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, testkit::READ_ONLY_TOOLS, "{r:?}");

    // A bad rule is a configuration error naming its variable, with the fake or not;
    // two bad settings are both reported.
    let r = run(
        &["serve", "--fake-pve", "--command-allow", "(unclosed"],
        &[],
    )
    .await;
    assert_ne!(r.code, Some(0), "{r:?}");
    r.err().has("COMMAND_ALLOW");
    let r = run(
        &[
            "check",
            "--host",
            "h",
            "--command-deny",
            "[z-a]",
            "--confirm-destructive",
            "often",
        ],
        &[("I_ACCEPT_RISKS", "true"), ("SSH_PASSWORD", "x")],
    )
    .await;
    assert_ne!(r.code, Some(0), "{r:?}");
    assert!(
        r.stdout.contains("COMMAND_DENY") && r.stdout.contains("CONFIRM_DESTRUCTIVE"),
        "{r:?}"
    );
}
