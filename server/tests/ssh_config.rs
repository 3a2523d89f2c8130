//! `HOST` as an alias of the user's OpenSSH client configuration: the server reaches
//! the fake node through `HostName`, `Port`, `User`, `IdentityFile` and
//! `UserKnownHostsFile` of a `Host` block, as `ssh pvealias` would, and a jump host that
//! refuses to forward is reported as such. (Jumps through real OpenSSH hosts: the
//! `proxy_jump` tests in `openssh_hosts.rs`.)

use fake_pve::fixture::Fixture;
use fake_pve::node::TestNode;
use mcp_remote_exec::config::RawConfig;
use serde_json::json;
use testkit::mcp::Mcp;
use testkit::{assert_ok, start_node, structured};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alias_from_the_ssh_config_reaches_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let (node, key, known) = start_node(
        TestNode::builder(Fixture::default_fixture()),
        dir.path(),
        true,
    )
    .await;
    let config = dir.path().join("ssh_config");
    std::fs::write(
        &config,
        format!(
            "Host pvealias\n  HostName 127.0.0.1\n  Port {}\n  User root\n  IdentityFile {}\n  UserKnownHostsFile {}\n  StrictHostKeyChecking yes\n",
            node.port(),
            key.display(),
            known.display()
        ),
    )
    .unwrap();
    let shown = config.display().to_string();
    let raw = RawConfig::from_pairs([
        ("I_ACCEPT_RISKS", "true"),
        ("HOST", "pvealias"),
        ("SSH_CONFIG", shown.as_str()),
    ]);
    let resolved = raw.validate().unwrap();
    assert_eq!(resolved.target().host, "127.0.0.1");
    assert_eq!(resolved.target().port, node.port());
    let mcp = Mcp::in_process(resolved).await;
    let r = mcp
        .call(
            "ssh_exec_command",
            json!({"command": "hostname", "response_format": "json"}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(structured(&r)["stdout"], "pve\n");

    // Through a jump host that will not forward (this fake node opens no direct-tcpip
    // channel to 10.0.0.5): the call fails naming the jump and what to check.
    std::fs::write(
        &config,
        format!(
            "Host pvealias\n  HostName 10.0.0.5\n  User root\n  IdentityFile {key}\n  UserKnownHostsFile {known}\n  ProxyJump root@127.0.0.1:{port}\n",
            key = key.display(),
            known = known.display(),
            port = node.port(),
        ),
    )
    .unwrap();
    let jumped = raw.validate().unwrap();
    assert_eq!(jumped.target().jumps.len(), 1);
    let mcp = Mcp::in_process(jumped).await;
    let r = mcp
        .call(
            "ssh_exec_command",
            json!({"command": "hostname", "response_format": "json"}),
        )
        .await;
    let s = structured(&r);
    let error = s["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("via root@127.0.0.1:")
            && error.contains("10.0.0.5:22")
            && error.contains("AllowTcpForwarding"),
        "{s}"
    );
}
