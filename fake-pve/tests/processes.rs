//! Process semantics as on a Proxmox VE 8 host reached as root over OpenSSH 9.2, and
//! the connection faults, driven by a russh client so that channels, signals and
//! dropped connections are under the test's control.

use std::time::Duration;

use fake_pve::fixture::Fixture;
use fake_pve::host::Faults;
use testkit::eventually;
use testkit::fake::Fake;
use testkit::ssh::{ExpectKey, exec};

fn running(fake: &Fake, needle: &str) -> Vec<u32> {
    fake.host()
        .running()
        .into_iter()
        .filter(|p| p.args.contains(needle))
        .map(|p| p.pid)
        .collect()
}

/// A fake of the default fixture, and a root connection to it.
async fn root_session() -> (Fake, russh::client::Handle<ExpectKey>) {
    let fake = Fake::start().await;
    let ssh = fake.russh("root", true).await;
    (fake, ssh)
}

/// A new session channel on `ssh`, running `command`.
async fn exec_on_a_channel(
    ssh: &russh::client::Handle<ExpectKey>,
    command: &str,
) -> russh::Channel<russh::client::Msg> {
    let channel = ssh.channel_open_session().await.unwrap();
    channel.exec(true, command).await.unwrap();
    channel
}

/// Runs a `pkill` line, which must match (status 0), then waits until nothing
/// running has `needle` in its command line.
async fn pkill_until_gone(
    fake: &Fake,
    ssh: &russh::client::Handle<ExpectKey>,
    pkill: &str,
    needle: &str,
) {
    let out = exec(ssh, &format!("{pkill}; echo $?")).await;
    assert_eq!(String::from_utf8_lossy(&out.stdout), "0\n");
    let what = format!("`{pkill}` ended `{needle}`");
    eventually(&what, || running(fake, needle).is_empty()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_command_outlives_its_channel_and_connection() {
    let (fake, ssh) = root_session().await;
    let channel = exec_on_a_channel(&ssh, "sleep 60").await;
    eventually("sleep starts", || running(&fake, "sleep 60").len() == 2).await;
    let session = fake
        .host()
        .running()
        .into_iter()
        .find(|p| p.args == "sleep 60")
        .unwrap()
        .sid;

    channel.close().await.unwrap();
    drop(channel);
    drop(ssh);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        running(&fake, "sleep 60").len(),
        2,
        "closing does not end it"
    );

    // What a client must do instead: end the session out of band.
    let ssh = fake.russh("root", true).await;
    let pkill = format!("pkill -TERM -s {session}");
    pkill_until_gone(&fake, &ssh, &pkill, "sleep 60").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writing_command_dies_of_sigpipe_once_its_channel_is_gone() {
    let (fake, ssh) = root_session().await;
    let mut channel = exec_on_a_channel(&ssh, "yes").await;
    // Read a little, then close.
    while let Some(msg) = channel.wait().await {
        if matches!(msg, russh::ChannelMsg::Data { .. }) {
            break;
        }
    }
    channel.close().await.unwrap();
    drop(channel);
    eventually("yes died", || running(&fake, "yes").is_empty()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signal_requests_are_refused_for_root_on_proxmox_ve_8() {
    // OpenSSH 9.2p1 (Debian 12, Proxmox VE 8) refuses root's signal requests.
    let mut fixture = Fixture::default_fixture();
    fixture.pve = Some(8);
    let fake = Fake::with_fixture(fixture, "root").await;
    let ssh = fake.russh("root", true).await;
    let channel = exec_on_a_channel(&ssh, "sleep 30").await;
    eventually("sleep starts", || !running(&fake, "sleep 30").is_empty()).await;
    channel.signal(russh::Sig::TERM).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        running(&fake, "sleep 30").len(),
        2,
        "root's signal is refused"
    );
    // Clean up through the process table.
    for pid in running(&fake, "sleep 30") {
        fake.host().processes().signal(pid, 9);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signal_requests_end_the_session_for_other_users_and_with_the_newer_policy() {
    // Honoured for other users on every release, for root on Proxmox VE 9 (OpenSSH
    // 10.0, the default) and wherever the fixture says so.
    let cases = [
        ("admin", Some(8), None),
        ("root", None, None),
        ("root", Some(8), Some("honour")),
    ];
    for (user, pve, policy) in cases {
        let mut fixture = Fixture::default_fixture();
        fixture.pve = pve;
        fixture.signal_policy = policy.map(str::to_string);
        let fake = Fake::with_fixture(fixture, user).await;
        let ssh = fake.russh(user, false).await;
        let mut channel = exec_on_a_channel(&ssh, "sleep 30; echo never").await;
        eventually("sleep starts", || !running(&fake, "sleep 30").is_empty()).await;
        channel.signal(russh::Sig::TERM).await.unwrap();
        let mut signal = None;
        let mut stdout = Vec::new();
        while let Some(msg) = channel.wait().await {
            match msg {
                russh::ChannelMsg::ExitSignal { signal_name, .. } => signal = Some(signal_name),
                russh::ChannelMsg::Data { data } => stdout.extend_from_slice(&data),
                _ => {}
            }
        }
        assert_eq!(format!("{signal:?}"), "Some(TERM)", "{user}");
        assert!(stdout.is_empty());
        eventually("all gone", || running(&fake, "sleep 30").is_empty()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_pid_ps_kill_and_timeout() {
    let (fake, ssh) = root_session().await;
    let out = exec(&ssh, "echo $$; ps -o sid= -p $$").await;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut lines = text.lines();
    let pid = lines.next().unwrap().trim().to_string();
    assert_eq!(
        lines.next().unwrap().trim(),
        pid,
        "the shell leads its session"
    );

    let out = exec(&ssh, "timeout 0.2 sleep 10; echo $?").await;
    assert_eq!(String::from_utf8_lossy(&out.stdout), "124\n");
    assert!(running(&fake, "sleep 10").is_empty());

    let out = exec(
        &ssh,
        "sleep 20 & pgrep -f '^sleep 20' > /tmp/p; kill $(cat /tmp/p); echo $?",
    )
    .await;
    assert_eq!(String::from_utf8_lossy(&out.stdout), "0\n");
    eventually("killed", || running(&fake, "sleep 20").is_empty()).await;

    let out = exec(&ssh, "kill 999999").await;
    assert_eq!(out.exit_status, Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "bash: line 1: kill: (999999) - No such process\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_command_hangs_until_killed() {
    let fake = Fake::start().await;
    fake.host().set_faults(Faults {
        hang: vec!["systemctl restart *".into()],
        ..Faults::default()
    });
    let ssh = fake.russh("root", true).await;
    let _channel = exec_on_a_channel(&ssh, "systemctl restart app").await;
    eventually("it runs", || {
        !running(&fake, "systemctl restart app").is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !running(&fake, "systemctl restart app").is_empty(),
        "still hanging"
    );
    // As on a real host, `pkill -f` also matches the shell running it; the class
    // keeps the pattern from matching its own command line.
    let pkill = "pkill -f 'systemctl restar[t]'";
    pkill_until_gone(&fake, &ssh, pkill, "systemctl restart app").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_faults_drop_the_connection() {
    let fake = Fake::start().await;

    // Dropped after N bytes of output: no exit status ever arrives.
    fake.host().set_faults(Faults {
        drop_after_bytes: Some(100_000),
        ..Faults::default()
    });
    let ssh = fake.russh("root", true).await;
    let out = exec(&ssh, "yes | head -c 10000000").await;
    assert!(out.exit_status.is_none(), "{:?}", out.exit_status);
    assert!(out.stdout.len() < 10_000_000);
    assert!(ssh.is_closed() || exec_fails(&ssh).await);

    // Dropped mid-command.
    fake.host().set_faults(Faults {
        drop_on_command: Some("sleep 1*".into()),
        ..Faults::default()
    });
    let ssh = fake.russh("root", true).await;
    let out = exec(&ssh, "sleep 1; echo done").await;
    assert!(
        out.exit_status.is_none() && out.stdout.is_empty(),
        "{out:?}"
    );

    // Dropped at once, at run time.
    fake.host().set_faults(Faults::default());
    let ssh = fake.russh("root", true).await;
    assert_eq!(exec(&ssh, "true").await.exit_status, Some(0));
    fake.host().drop_connections();
    eventually("the client notices", || ssh.is_closed()).await;
    let again = fake.russh("root", true).await;
    assert_eq!(
        exec(&again, "true").await.exit_status,
        Some(0),
        "new logins still work"
    );
}

async fn exec_fails(ssh: &russh::client::Handle<ExpectKey>) -> bool {
    ssh.channel_open_session().await.is_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_logins_and_latency() {
    let fake = Fake::start().await;
    fake.host().set_faults(Faults {
        refuse_auth: true,
        ..Faults::default()
    });
    let out = fake.ssh("true").await;
    assert_eq!(out.code, Some(255));
    assert!(out.stderr.contains("Permission denied"), "{out:?}");

    fake.host().set_faults(Faults {
        latency: Duration::from_millis(100),
        ..Faults::default()
    });
    let out = fake.ssh("echo slow").await;
    assert_eq!((out.code, out.stdout.as_str()), (Some(0), "slow\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sftp_faults_reach_an_openssh_client() {
    let fake = Fake::start().await;
    let local = fake.dir.path().join("f");
    std::fs::write(&local, b"data").unwrap();
    fake.host().set_faults(Faults {
        sftp: Some(fake_pve::host::SftpFault {
            kind: fake_pve::host::SftpFaultKind::PermissionDenied,
            path_prefix: "/etc".into(),
        }),
        ..Faults::default()
    });
    let out = fake
        .sftp_batch(&format!("put {} /etc/f\n", local.display()))
        .await;
    assert_ne!(out.code, Some(0));
    assert!(out.stderr.contains("Permission denied"), "{out:?}");
    let ok = fake
        .sftp_batch(&format!("put {} /tmp/f\n", local.display()))
        .await;
    assert_eq!(ok.code, Some(0), "{ok:?}");

    fake.host().set_faults(Faults {
        sftp: Some(fake_pve::host::SftpFault {
            kind: fake_pve::host::SftpFaultKind::NoSpace,
            path_prefix: String::new(),
        }),
        ..Faults::default()
    });
    let full = fake
        .sftp_batch(&format!("put {} /tmp/g\n", local.display()))
        .await;
    assert_ne!(full.code, Some(0));
    assert!(
        full.stderr.contains("No space left on device") || full.stderr.contains("Failure"),
        "{full:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_connections_at_once() {
    let fake = Fake::start().await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200u32 {
        let addr = fake.server.addr();
        let key = fake.client_key.clone();
        let host_key = fake.server.host_public_key().clone();
        tasks.spawn(async move {
            let config = std::sync::Arc::new(russh::client::Config::default());
            let mut ssh = russh::client::connect(config, addr, ExpectKey(host_key))
                .await
                .unwrap();
            let hash = ssh.best_supported_rsa_hash().await.unwrap().flatten();
            let auth = ssh
                .authenticate_publickey(
                    "root",
                    russh::keys::PrivateKeyWithHashAlg::new(std::sync::Arc::new(key), hash),
                )
                .await
                .unwrap();
            assert!(auth.success());
            let out = exec(&ssh, &format!("echo {i}")).await;
            assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{i}\n"));
            assert_eq!(out.exit_status, Some(0));
        });
    }
    let mut done = 0;
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
        done += 1;
    }
    assert_eq!(done, 200);
}
