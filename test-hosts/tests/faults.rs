//! Faults that happen to a real OpenSSH host: it hangs (pause), its connections drop
//! (stop, kill), it comes back (same key), it comes back with a new host key.

mod support;

use std::time::Duration;

use support::{Auth, Verdict, connect, connect_with, exec, exec_unbounded};
use test_hosts::TestHost;

/// Bound for "the client notices": generous for a loaded 2-core CI machine.
const NOTICE: Duration = Duration::from_secs(20);

#[tokio::test]
async fn a_paused_host_makes_a_command_time_out_until_unpaused() {
    let host = TestHost::start().await.unwrap();
    let handle = connect(&host, Auth::Key).await;
    assert_eq!(exec(&handle, "echo before").await.stdout(), "before\n");

    host.pause().await.unwrap();
    let hung = tokio::time::timeout(
        Duration::from_secs(3),
        exec_unbounded(&handle, "echo during"),
    )
    .await;
    assert!(hung.is_err(), "a paused sshd answers nothing: {hung:?}");

    host.unpause().await.unwrap();
    // The same connection works again: the frozen sshd just resumes.
    assert_eq!(exec(&handle, "echo after").await.stdout(), "after\n");
}

#[tokio::test]
async fn a_stopped_host_drops_the_connection_and_comes_back_with_the_same_key() {
    let host = TestHost::start().await.unwrap();
    let key_before = host.host_key();
    let line_before = host.known_hosts_line();
    let handle = connect(&host, Auth::Key).await;
    let mut channel = handle.channel_open_session().await.unwrap();
    channel.exec(true, "sleep 300").await.unwrap();

    host.stop().await.unwrap();
    // The channel ends without an exit status, and the connection is gone.
    let mut exit_status = None;
    tokio::time::timeout(NOTICE, async {
        while let Some(msg) = channel.wait().await {
            if let russh::ChannelMsg::ExitStatus { exit_status: s } = msg {
                exit_status = Some(s);
            }
        }
    })
    .await
    .expect("the channel ended when the host stopped");
    assert_eq!(
        exit_status, None,
        "no exit status from a host that went away"
    );
    tokio::time::timeout(NOTICE, async {
        while !handle.is_closed() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the connection closed");
    assert!(exec_unbounded(&handle, "true").await.is_err());

    host.start_again().await.unwrap();
    assert_eq!(host.host_key(), key_before, "same host key after a restart");
    if host.known_hosts_line() != line_before {
        // Docker mapped a new port: the line follows it, the key does not change.
        assert!(
            host.known_hosts_line()
                .ends_with(line_before.split_once(' ').unwrap().1)
        );
    }
    let again = connect(&host, Auth::Key).await;
    assert_eq!(exec(&again, "echo back").await.stdout(), "back\n");
}

#[tokio::test]
async fn a_killed_host_drops_the_connection() {
    let host = TestHost::start().await.unwrap();
    let handle = connect(&host, Auth::Password).await;
    let mut channel = handle.channel_open_session().await.unwrap();
    channel.exec(true, "sleep 300").await.unwrap();

    host.kill().await.unwrap();
    tokio::time::timeout(NOTICE, async { while channel.wait().await.is_some() {} })
        .await
        .expect("the channel ended when the host was killed");
    let refused = tokio::time::timeout(NOTICE, async {
        loop {
            match exec_unbounded(&handle, "true").await {
                Err(e) => return e,
                Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
    .await
    .expect("the connection is unusable");
    println!("after kill: {refused}");
}

#[tokio::test]
async fn a_host_restarted_with_a_new_key_is_refused_by_the_old_known_hosts_line() {
    let host = TestHost::start().await.unwrap();
    let old_key = host.host_key();
    drop(connect(&host, Auth::Key).await);

    host.restart_with_new_host_key().await.unwrap();
    assert_ne!(host.host_key(), old_key, "a new key");

    // The old key, recorded for the host's current address.
    let old_line = format!(
        "[{}]:{} {}",
        host.host(),
        host.port(),
        old_key.to_openssh().unwrap()
    );
    let attempt = connect_with(&host, &old_line, Auth::Key).await;
    assert_eq!(attempt.verdict, Some(Verdict::Changed));
    assert!(attempt.result.is_err(), "a changed key is refused");

    // The new line is accepted.
    let handle = connect(&host, Auth::Key).await;
    assert_eq!(exec(&handle, "echo new").await.stdout(), "new\n");
}
