//! The test host's `pct` stand-in, driven over SSH as the server will drive a PVE node.

mod support;

use std::time::Duration;

use russh::client::Handle;
use support::{Auth, KnownHosts, connect, eventually_out_of_band, exec};
use test_hosts::TestHost;

/// A started test host and a key login to it.
async fn logged_in() -> (TestHost, Handle<KnownHosts>) {
    let host = TestHost::start().await.unwrap();
    let handle = connect(&host, Auth::Key).await;
    (host, handle)
}

#[tokio::test]
async fn pct_list_bytes() {
    let (_host, handle) = logged_in().await;
    let out = exec(&handle, "pct list").await;
    assert_eq!(out.stdout(), test_hosts::DEFAULT_PCT_LIST);
    assert_eq!(out.stderr(), "");
    assert_eq!(out.exit_status, Some(0));
}

#[tokio::test]
async fn pct_errors_and_exit_codes() {
    let (host, handle) = logged_in().await;

    let out = exec(&handle, "pct status 999").await;
    assert_eq!(out.stdout(), "");
    assert_eq!(
        out.stderr(),
        "Configuration file 'nodes/pve/lxc/999.conf' does not exist\n"
    );
    assert_eq!(out.exit_status, Some(255));

    // Refusals: what pct says on stderr, and that it exits 255.
    for (command, stderr) in [
        (
            "pct status 99",
            "400 Parameter verification failed.\n\
             vmid: invalid format - value does not look like a valid VM ID\n\
             \n\
             pct status <vmid> [OPTIONS]\n",
        ),
        (
            "pct exec 100 ls -la",
            "Unknown option: la\n400 unable to parse option\npct exec <vmid> [<extra-args>] [OPTIONS]\n",
        ),
        ("pct exec 101 -- true", "container '101' not running!\n"),
    ] {
        let out = exec(&handle, command).await;
        assert_eq!(out.stderr(), stderr, "{command}");
        assert_eq!(out.exit_status, Some(255), "{command}");
    }

    // A lock blocks stop; the running check comes before it for start.
    host.exec_out_of_band("echo backup > /var/lib/fakepct/102/lock")
        .await
        .unwrap();
    let out = exec(&handle, "pct stop 102").await;
    assert_eq!(out.stderr(), "CT is locked (backup)\n");
    assert_eq!(out.exit_status, Some(255));
    let out = exec(&handle, "pct start 102").await;
    assert_eq!(out.stderr(), "CT 102 already running\n");

    // push/pull report copy failures yet exit 0.
    let out = exec(&handle, "pct push 100 /tmp/absent /root/x").await;
    assert_eq!(out.stderr(), "failed to open /tmp/absent for reading\n");
    assert_eq!(out.exit_status, Some(0));
    let out = exec(&handle, "pct push 101 /etc/hostname /root/x").await;
    assert_eq!(out.stderr(), "can only push files to a running CT\n");
    assert_eq!(out.exit_status, Some(255));
}

#[tokio::test]
async fn pct_exec_passes_output_and_exit_status_through() {
    let (_host, handle) = logged_in().await;
    let out = exec(
        &handle,
        "pct exec 100 -- bash -c 'echo hi; echo oops >&2; exit 3'",
    )
    .await;
    assert_eq!(out.stdout(), "hi\n");
    assert_eq!(out.stderr(), "oops\n");
    assert_eq!(out.exit_status, Some(3));

    let out = exec(&handle, "pct exec 100 -- cat /etc/hostname").await;
    assert_eq!(
        out.stdout(),
        "webserver\n",
        "runs inside the container's root"
    );
}

#[tokio::test]
async fn pct_push_and_pull_round_trip() {
    let (host, handle) = logged_in().await;
    let out = exec(
        &handle,
        "head -c 3000000 /dev/urandom > /tmp/data \
         && pct push 100 /tmp/data /root/data --perms 600 \
         && pct pull 100 /root/data /tmp/back",
    )
    .await;
    assert_eq!((out.stderr(), out.exit_status), (String::new(), Some(0)));

    let (code, sums, _) = host
        .exec_out_of_band(
            "sha256sum /tmp/data /var/lib/fakepct/100/rootfs/root/data /tmp/back | cut -d' ' -f1; \
             stat -c %a /var/lib/fakepct/100/rootfs/root/data",
        )
        .await
        .unwrap();
    assert_eq!(code, 0);
    let lines: Vec<&str> = sums.lines().collect();
    assert_eq!(lines.len(), 4, "{sums}");
    assert_eq!(lines[0].len(), 64);
    assert!(lines[0] == lines[1] && lines[1] == lines[2], "{sums}");
    assert_eq!(lines[3], "600", "--perms applied");
}

#[tokio::test]
async fn a_pct_exec_process_is_real_and_pct_stop_ends_it() {
    let (host, handle) = logged_in().await;
    let mut channel = handle.channel_open_session().await.unwrap();
    channel
        .exec(true, "pct exec 100 -- sleep 60")
        .await
        .unwrap();

    let pid = eventually_out_of_band(&host, "pgrep -x sleep").await;
    let pid = pid.trim();
    let (_, root, _) = host
        .exec_out_of_band(&format!("readlink /proc/{pid}/root"))
        .await
        .unwrap();
    assert_eq!(root.trim(), "/var/lib/fakepct/100/rootfs");

    let out = exec(&handle, "pct stop 100").await;
    assert_eq!((out.stderr(), out.exit_status), (String::new(), Some(0)));
    let (code, _, _) = host.exec_out_of_band("pgrep -x sleep").await.unwrap();
    assert_eq!(code, 1, "no sleep left");

    // The exec channel ends: its process died of SIGKILL.
    let mut signal = None;
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(msg) = channel.wait().await {
            if let russh::ChannelMsg::ExitSignal { signal_name, .. } = msg {
                signal = Some(format!("{signal_name:?}"));
            }
        }
    })
    .await
    .expect("the channel ended");
    assert_eq!(signal.as_deref(), Some("KILL"));
}
