//! The LXC test host: a stock sshd on loopback, the pct stand-in's LXC backend, and
//! real LXC containers (privileged and id-mapped) behind it, driven over SSH as the
//! server drives a node.

mod support;

use russh::client::Handle;
use support::{Auth, KnownHosts, connect, exec};
use test_hosts::{LxcHost, SshHost};

async fn logged_in() -> (LxcHost, Handle<KnownHosts>) {
    let host = LxcHost::start().await.unwrap();
    let handle = connect(&host, Auth::Key).await;
    (host, handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lxc_pct_list_status_and_power() {
    let (host, handle) = logged_in().await;
    let out = exec(&handle, "pct list").await;
    assert_eq!(out.stdout(), test_hosts::DEFAULT_PCT_LIST);
    assert_eq!(out.exit_status, Some(0), "{}", out.stderr());

    let out = exec(&handle, "pct status 101").await;
    assert_eq!(out.stdout(), "status: stopped\n");
    let out = exec(&handle, "pct start 101").await;
    assert_eq!((out.stderr(), out.exit_status), (String::new(), Some(0)));
    assert!(host.init_pid(101).is_some(), "101 runs after pct start");
    let out = exec(&handle, "pct status 101").await;
    assert_eq!(out.stdout(), "status: running\n");
    let out = exec(&handle, "pct start 101").await;
    assert_eq!(out.stderr(), "CT 101 already running\n");
    assert_eq!(out.exit_status, Some(255));

    // A clean shutdown: the halt signal ends the container's init.
    let out = exec(&handle, "pct shutdown 101 --timeout 10").await;
    assert_eq!((out.stderr(), out.exit_status), (String::new(), Some(0)));
    assert_eq!(host.init_pid(101), None);
    let out = exec(&handle, "pct shutdown 101").await;
    assert_eq!(out.stderr(), "CT 101 not running\n");
    assert_eq!(out.exit_status, Some(255));

    // A container whose init ignores the halt signal runs into the timeout; with
    // --forceStop it is killed after it.
    let (code, _, err) = host.ct_out_of_band(102, "touch /etc/refuse-shutdown").await;
    assert_eq!(code, 0, "{err}");
    let out = exec(&handle, "pct shutdown 102 --timeout 1").await;
    assert_eq!(out.stderr(), "container did not stop\n");
    assert_eq!(out.exit_status, Some(255));
    assert!(
        host.init_pid(102).is_some(),
        "still running after the refusal"
    );
    let out = exec(&handle, "pct shutdown 102 --timeout 1 --forceStop").await;
    assert_eq!((out.stderr(), out.exit_status), (String::new(), Some(0)));
    assert_eq!(host.init_pid(102), None);

    let out = exec(&handle, "pct start 102 && pct stop 102 && pct status 102").await;
    assert_eq!(out.stdout(), "status: stopped\n", "{}", out.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lxc_pct_exec_is_lxc_attach() {
    let (_host, handle) = logged_in().await;
    let out = exec(
        &handle,
        "pct exec 100 -- sh -c 'cat /etc/hostname; echo \"$container|$PATH\"; pwd; exit 7'",
    )
    .await;
    assert_eq!(
        out.stdout(),
        "webserver\nlxc|/sbin:/bin:/usr/sbin:/usr/bin\n/root\n"
    );
    assert_eq!(out.exit_status, Some(7));

    // A missing program: lxc-attach's own message, 127.
    let out = exec(&handle, "pct exec 102 -- no-such-program").await;
    assert_eq!(out.exit_status, Some(127));
    assert!(
        out.stderr()
            .contains("No such file or directory - Failed to exec \"no-such-program\""),
        "{}",
        out.stderr()
    );
    // A file that is not executable: 126.
    let out = exec(&handle, "pct exec 100 -- /etc/os-release").await;
    assert_eq!(out.exit_status, Some(126), "{}", out.stderr());

    // stdin reaches the command; a signal's death is 128+n.
    let out = exec(&handle, "echo piped | pct exec 100 -- cat").await;
    assert_eq!(out.stdout(), "piped\n");
    let out = exec(&handle, "pct exec 100 -- sh -c 'kill -TERM $$'").await;
    assert_eq!(out.exit_status, Some(143));

    // The unprivileged container sees its own root; the host sees the mapped ids.
    let out = exec(
        &handle,
        "pct exec 102 -- sh -c 'id -u; stat -c %u /etc/hostname'",
    )
    .await;
    assert_eq!(out.stdout(), "0\n0\n");

    let out = exec(&handle, "pct exec 101 -- true").await;
    assert_eq!(out.stderr(), "container '101' not running!\n");
    assert_eq!(out.exit_status, Some(255));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lxc_pct_push_and_pull_with_owner_and_mode() {
    let (host, handle) = logged_in().await;
    let out = exec(
        &handle,
        "printf 'hello\\n' > /tmp/lxc-push-src && \
         pct exec 102 -- sh -c 'useradd -u 1000 -m alice && mkdir -p /srv'",
    )
    .await;
    assert_eq!(out.exit_status, Some(0), "{}", out.stderr());

    // Into the unprivileged container, owned by a user of the container, mode 0640.
    let out = exec(
        &handle,
        "pct push 102 /tmp/lxc-push-src /srv/a --user alice --group 1000 --perms 640",
    )
    .await;
    assert_eq!((out.stderr(), out.exit_status), (String::new(), Some(0)));
    let out = exec(&handle, "pct exec 102 -- stat -c '%U %g %a %s' /srv/a").await;
    assert_eq!(out.stdout(), "alice 1000 640 6\n");
    let on_host = std::fs::metadata(host.rootfs(102).join("srv/a")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!((on_host.uid(), on_host.gid()), (101_000, 101_000));

    // Without options a new file belongs to the container's root.
    let out = exec(&handle, "pct push 102 /tmp/lxc-push-src /srv/b").await;
    assert_eq!(out.exit_status, Some(0), "{}", out.stderr());
    let out = exec(&handle, "pct exec 102 -- stat -c '%u %g' /srv/b").await;
    assert_eq!(out.stdout(), "0 0\n");

    // Pull back; the copy failures keep pct's exit 0.
    let out = exec(
        &handle,
        "rm -f /tmp/lxc-pull-dst; pct pull 102 /srv/a /tmp/lxc-pull-dst --perms 600 && \
         stat -c '%a' /tmp/lxc-pull-dst && cat /tmp/lxc-pull-dst",
    )
    .await;
    assert_eq!(out.stdout(), "600\nhello\n", "{}", out.stderr());
    let out = exec(&handle, "pct pull 102 /srv/absent /tmp/lxc-pull-dst").await;
    assert_eq!(
        out.stderr(),
        "failed to open /srv/absent: No such file or directory\n"
    );
    assert_eq!(out.exit_status, Some(0));
    let out = exec(&handle, "pct push 102 /tmp/lxc-push-src /no/dir/f").await;
    assert_eq!(
        out.stderr(),
        "failed to create file: /no/dir/f: No such file or directory\n"
    );
    let (_, out, _) = host
        .out_of_band("rm -f /tmp/lxc-push-src /tmp/lxc-pull-dst")
        .await;
    assert_eq!(out, "");
}
