//! sshd's `MaxSessions` (10 on a stock Proxmox VE node): how many session channels one
//! connection may hold at once, what a refused open looks like, and when a slot is
//! free again — driven by a russh client that holds channels open on purpose.

use std::time::Duration;

use fake_pve::fixture::Fixture;
use russh::client::{Handle, Msg};
use russh::{Channel, ChannelMsg, ChannelOpenFailure};
use testkit::eventually;
use testkit::fake::Fake;
use testkit::ssh::{ExpectKey, exec};

/// What russh's client reports for sshd's refusal: reason 2 (connect failed); the
/// description ("open failed") is not passed on by russh.
fn is_refusal(err: &russh::Error) -> bool {
    matches!(
        err,
        russh::Error::ChannelOpenFailure(ChannelOpenFailure::ConnectFailed)
    )
}

async fn open(ssh: &Handle<ExpectKey>) -> Channel<Msg> {
    ssh.channel_open_session()
        .await
        .expect("a session slot is free")
}

async fn open_n(ssh: &Handle<ExpectKey>, n: usize) -> Vec<Channel<Msg>> {
    let mut channels = Vec::new();
    for i in 0..n {
        match ssh.channel_open_session().await {
            Ok(c) => channels.push(c),
            Err(e) => panic!("session {} of {n} was refused: {e:?}", i + 1),
        }
    }
    channels
}

async fn assert_refused(ssh: &Handle<ExpectKey>, what: &str) {
    match ssh.channel_open_session().await {
        Ok(_) => panic!("{what}: the open succeeded"),
        Err(e) => assert!(is_refusal(&e), "{what}: {e:?}"),
    }
}

/// Opens a session once a slot is free (a slot may be freed by another task).
async fn open_eventually(ssh: &Handle<ExpectKey>, what: &str) -> Channel<Msg> {
    for _ in 0..200 {
        match ssh.channel_open_session().await {
            Ok(c) => return c,
            Err(e) if is_refusal(&e) => tokio::time::sleep(Duration::from_millis(25)).await,
            Err(e) => panic!("{what}: {e:?}"),
        }
    }
    panic!("timed out waiting for: {what}");
}

/// Waits for the reply to a request sent with `want_reply`.
async fn expect_success(channel: &mut Channel<Msg>, what: &str) {
    loop {
        match channel.wait().await {
            Some(ChannelMsg::Success) => return,
            Some(ChannelMsg::Failure) | None => panic!("{what} was refused"),
            Some(_) => {}
        }
    }
}

/// Runs `command` on the channel and reads it to its end: its stdout and exit status.
async fn run_on(channel: &mut Channel<Msg>, command: &str) -> (Vec<u8>, Option<u32>) {
    channel.exec(true, command).await.unwrap();
    let mut stdout = Vec::new();
    let mut status = None;
    while let Some(msg) = channel.wait().await {
        match msg {
            ChannelMsg::Data { data } => stdout.extend_from_slice(&data),
            ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
            _ => {}
        }
    }
    (stdout, status)
}

/// A fake with `MaxSessions` 1, and a root connection to it.
async fn one_session_per_connection() -> (Fake, Handle<ExpectKey>) {
    let fake = Fake::start().await;
    fake.host().set_max_sessions(1);
    let ssh = fake.russh("root", true).await;
    (fake, ssh)
}

fn kill_all(fake: &Fake, needle: &str) {
    for p in fake.host().running() {
        if p.args.contains(needle) {
            fake.host().processes().signal(p.pid, 9);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_eleventh_session_on_a_connection_is_refused_and_the_connection_lives_on() {
    let fake = Fake::start().await;
    let ssh = fake.russh("root", true).await;
    let mut held = open_n(&ssh, 10).await;
    // Half of them run a command, half are merely open: both hold a slot.
    for channel in &mut held[..5] {
        channel.exec(true, "sleep 30").await.unwrap();
        expect_success(channel, "exec").await;
    }
    assert_refused(&ssh, "the 11th session").await;
    assert_refused(&ssh, "the 11th session, again").await;

    // The connection is fine: a running channel still answers, and once a channel is
    // closed its slot takes a new command.
    held[9].close().await.unwrap();
    let (stdout, status) = run_on(&mut open(&ssh).await, "echo ok").await;
    assert_eq!((stdout.as_slice(), status), (&b"ok\n"[..], Some(0)));
    // That command is over and its channel closed, so the 10th slot is free again.
    let tenth = open(&ssh).await;
    assert_refused(&ssh, "the 11th session after the echo").await;

    drop(tenth);
    kill_all(&fake, "sleep 30");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_connection_has_its_own_ten_sessions() {
    let fake = Fake::start().await;
    let first = fake.russh("root", true).await;
    let _held_first = open_n(&first, 10).await;
    assert_refused(&first, "the first connection's 11th").await;

    let second = fake.russh("root", true).await;
    let _held_second = open_n(&second, 10).await;
    assert_refused(&second, "the second connection's 11th").await;
    assert_refused(&first, "the first connection's 11th, again").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sftp_channel_holds_a_slot_until_it_is_closed() {
    let fake = Fake::start().await;
    let ssh = fake.russh("root", true).await;
    let _held = open_n(&ssh, 9).await;
    let mut sftp = open(&ssh).await;
    sftp.request_subsystem(true, "sftp").await.unwrap();
    expect_success(&mut sftp, "the sftp subsystem").await;
    assert_refused(&ssh, "the 11th session beside an sftp channel").await;

    // Closing the channel ends the sftp server, which frees the slot.
    sftp.close().await.unwrap();
    drop(sftp);
    let _again = open_eventually(&ssh, "the slot of the closed sftp channel").await;
    assert_refused(&ssh, "the 11th session after the sftp one").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_channel_keeps_its_slot_while_its_command_runs() {
    let (fake, ssh) = one_session_per_connection().await;

    // One command after another: each finished one gives its slot back.
    for i in 0..5 {
        let out = exec(&ssh, &format!("echo {i}")).await;
        assert_eq!(out.stdout, format!("{i}\n").as_bytes());
    }

    // As under sshd, closing the channel does not end the command, and the session
    // stays taken until the command ends.
    let mut channel = open(&ssh).await;
    channel.exec(true, "sleep 30").await.unwrap();
    expect_success(&mut channel, "exec").await;
    channel.close().await.unwrap();
    drop(channel);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_refused(&ssh, "a second session while the closed one's command runs").await;

    kill_all(&fake, "sleep 30");
    eventually("the sleep ended", || {
        !fake
            .host()
            .running()
            .iter()
            .any(|p| p.args.contains("sleep 30"))
    })
    .await;
    let mut channel = open_eventually(&ssh, "the slot of the ended command").await;
    let (out, _) = run_on(&mut channel, "echo free").await;
    drop(channel);
    assert_eq!(out, b"free\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixture_sets_max_sessions() {
    let fixture = Fixture::parse("max_sessions = 3\n").unwrap();
    let fake = Fake::with_fixture(fixture, "root").await;
    assert_eq!(fake.host().max_sessions(), 3);
    let ssh = fake.russh("root", true).await;
    let _held = open_n(&ssh, 3).await;
    assert_refused(&ssh, "the 4th session with max_sessions = 3").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_subsystem_is_refused_and_its_channel_still_holds_a_slot() {
    let (_fake, ssh) = one_session_per_connection().await;
    let mut channel = open(&ssh).await;
    channel.request_subsystem(true, "nope").await.unwrap();
    match channel.wait().await {
        Some(ChannelMsg::Failure) => {}
        other => panic!("an unknown subsystem: {other:?}"),
    }
    assert_refused(&ssh, "a second session beside the refused subsystem").await;
    // The channel is still a session waiting for a request.
    let (stdout, _) = run_on(&mut channel, "echo still").await;
    assert_eq!(stdout, b"still\n");
}
