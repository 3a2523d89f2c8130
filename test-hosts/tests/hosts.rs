//! Container test hosts: login by key and by password against the real OpenSSH sshd,
//! several hosts at once, and no container left behind.

mod support;

use std::time::Duration;

use support::{Auth, connect, exec};
use test_hosts::{LABEL, TestHost};

/// `docker ps -a` filtered by our label and an id: the ids it lists.
async fn containers_with_label(id: &str) -> String {
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new("docker")
            .args(["ps", "-a", "-q", "--no-trunc", "--filter"])
            .arg(format!("label={LABEL}"))
            .arg("--filter")
            .arg(format!("id={id}"))
            .output(),
    )
    .await
    .expect("docker ps answered within 30 s")
    .expect("docker runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test]
async fn logs_in_with_key_and_password_and_the_container_is_removed_after() {
    let host = TestHost::start().await.unwrap();
    let id = host.id().to_string();
    assert_eq!(
        containers_with_label(&id).await,
        id,
        "labelled while it runs"
    );

    let by_key = connect(&host, Auth::Key).await;
    let out = exec(&by_key, "echo hello; id -un; hostname; exit 7").await;
    assert_eq!(out.stdout(), "hello\nroot\npve\n");
    assert_eq!(out.exit_status, Some(7));

    let by_password = connect(&host, Auth::Password).await;
    let out = exec(&by_password, "ssh -V 2>&1; echo err >&2").await;
    assert!(
        out.stdout().starts_with("OpenSSH_9.2p1 Debian"),
        "{}",
        out.stdout()
    );
    assert_eq!(out.stderr(), "err\n");
    assert_eq!(out.exit_status, Some(0));

    drop(by_key);
    drop(by_password);
    drop(host);
    assert_eq!(containers_with_label(&id).await, "", "removed on drop");
}

#[tokio::test]
async fn a_wrong_password_is_refused() {
    let host = TestHost::start().await.unwrap();
    let mut handle = russh::client::connect(
        std::sync::Arc::new(russh::client::Config::default()),
        (host.host(), host.port()),
        support_key_check(&host),
    )
    .await
    .unwrap();
    let auth = handle
        .authenticate_password("root", "not-the-password")
        .await
        .unwrap();
    assert!(!auth.success());
}

/// A strict check for `host` (kept short: the helper in `support` asserts success).
fn support_key_check(host: &TestHost) -> support::KnownHosts {
    support::KnownHosts::for_line(host, &host.known_hosts_line())
}

#[tokio::test]
async fn three_hosts_at_once() {
    let (a, b, c) = tokio::join!(TestHost::start(), TestHost::start(), TestHost::start());
    let hosts = [a.unwrap(), b.unwrap(), c.unwrap()];
    let mut ports = Vec::new();
    let mut keys = Vec::new();
    for (i, host) in hosts.iter().enumerate() {
        let handle = connect(host, Auth::Key).await;
        let out = exec(&handle, &format!("echo host-{i}; cat /proc/1/comm")).await;
        assert_eq!(out.stdout(), format!("host-{i}\nsshd\n"));
        ports.push(host.port());
        keys.push(host.host_key());
    }
    ports.dedup();
    assert_eq!(ports.len(), 3, "one port per host");
    assert!(
        keys[0] != keys[1] && keys[1] != keys[2] && keys[0] != keys[2],
        "own host keys"
    );
}
