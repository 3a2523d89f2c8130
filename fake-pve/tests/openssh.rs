//! Interop with programs nobody here wrote: OpenSSH's `ssh` and `sftp` against an
//! in-process fake-pve, checking stdout, stderr and exit codes as a user would see them.

use std::process::Stdio;

use fake_pve::fixture::Fixture;
use sha2::Digest;
use testkit::PASSWORD;
use testkit::eventually;
use testkit::fake::{self, Fake};

/// An ssh run's exit code, stdout and stderr.
#[track_caller]
fn assert_ran(out: &fake::Output, code: Option<i32>, stdout: &str, stderr: &str) {
    assert_eq!(out.code, code, "{out:?}");
    assert_eq!(out.stdout, stdout);
    assert_eq!(out.stderr, stderr);
}

/// A run that exited 0 having printed exactly `stdout`.
#[track_caller]
fn assert_printed(out: &fake::Output, stdout: &str) {
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (Some(0), stdout),
        "{out:?}"
    );
}

/// Runs `command` by ssh (key login) on a fake of the default fixture and checks its
/// exit code, stdout and stderr.
async fn ssh_answers(command: &str, code: Option<i32>, stdout: &str, stderr: &str) {
    let fake = Fake::start().await;
    assert_ran(&fake.ssh(command).await, code, stdout, stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_login_runs_pct_list() {
    ssh_answers(
        "pct list",
        Some(0),
        "VMID       Status     Lock         Name                \n\
         100        running                 webserver           \n\
         101        stopped                 database            \n\
         102        running                 cache               \n",
        "",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_login_works_and_wrong_credentials_are_refused() {
    let fake = Fake::start().await;
    let ok = fake.ssh_password("root", PASSWORD, "hostname").await;
    assert_printed(&ok, "pve\n");

    let bad = fake.ssh_password("root", "wrong", "hostname").await;
    assert_eq!(bad.code, Some(255), "{bad:?}");
    assert!(bad.stderr.contains("Permission denied"), "{bad:?}");
    assert_eq!(bad.stdout, "");

    let nobody = fake.ssh_password("admin", PASSWORD, "hostname").await;
    assert_ne!(nobody.code, Some(0), "{nobody:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pct_status_of_an_absent_container() {
    ssh_answers(
        "pct status 999",
        Some(255),
        "",
        "Configuration file 'nodes/pve/lxc/999.conf' does not exist\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pct_exec_passes_exit_status_and_streams() {
    let fake = Fake::start().await;
    let out = fake
        .ssh("pct exec 100 -- bash -c 'echo hi; echo oops >&2; exit 3'")
        .await;
    assert_ran(&out, Some(3), "hi\n", "oops\n");

    let hostname = fake.ssh("pct exec 102 -- hostname").await;
    assert_eq!(hostname.stdout, "cache\n");

    let stopped = fake.ssh("pct exec 101 -- true").await;
    assert_eq!(stopped.code, Some(255));
    assert_eq!(stopped.stderr, "container '101' not running!\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_and_pull_through_host_commands() {
    let fake = Fake::start().await;
    let out = fake
        .ssh("echo x > /tmp/f && pct push 100 /tmp/f /root/f && pct status 100")
        .await;
    assert_printed(&out, "status: running\n");
    assert_eq!(fake.host().container_file(100, "/root/f").unwrap(), b"x\n");

    let pulled = fake
        .ssh("pct pull 100 /etc/hostname /tmp/h && cat /tmp/h")
        .await;
    assert_printed(&pulled, "webserver\n");

    // The real pct exits 0 when the copy itself fails.
    let missing_dir = fake.ssh("pct push 100 /tmp/f /no/dir/f").await;
    assert_eq!(missing_dir.code, Some(0), "{missing_dir:?}");
    assert_eq!(
        missing_dir.stderr,
        "failed to create file: /no/dir/f: No such file or directory\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_commands_behave_like_bash() {
    let fake = Fake::start().await;
    let out = fake
        .ssh("cat /etc/os-release | head -n 1; echo x > f; sha256sum f; test -f f && stat -c %s f; mkdir -p d/e; chmod 755 d; ls d; yes | head -n 100000 | wc -l")
        .await;
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(
        out.stdout,
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n\
         73cb3858a687a8494ca3323053016282f3dad39d42cf62ca4e79dda2aac7d9ac  f\n\
         2\n\
         e\n\
         100000\n"
    );

    let unknown = fake.ssh("frobnicate --now").await;
    assert_eq!(unknown.code, Some(127));
    assert_eq!(
        unknown.stderr,
        "bash: line 1: frobnicate: command not found\n"
    );

    let df = fake.ssh("df -h && free -h").await;
    assert_eq!(df.code, Some(0));
    assert!(df.stdout.starts_with("Filesystem"), "{df:?}");
    assert!(df.stdout.contains("Mem:"), "{df:?}");

    let scripted = fake.ssh("pct exec 100 -- apt update").await;
    assert_eq!(scripted.code, Some(0));
    assert!(
        scripted.stdout.contains("Reading package lists..."),
        "{scripted:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sftp_round_trips_a_10_mb_random_file() {
    let fake = Fake::start().await;
    let data: Vec<u8> = (0..10 * 1024 * 1024)
        .map(|_| rand::random::<u8>())
        .collect();
    let local = fake.dir.path().join("up.bin");
    let back = fake.dir.path().join("down.bin");
    std::fs::write(&local, &data).unwrap();
    let batch = format!(
        "put {} /tmp/big.bin\nget /tmp/big.bin {}\n",
        local.display(),
        back.display()
    );
    let out = fake.sftp_batch(&batch).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    let want = sha2::Sha256::digest(&data);
    assert_eq!(
        sha2::Sha256::digest(fake.host().host_file("/tmp/big.bin").unwrap()),
        want
    );
    assert_eq!(sha2::Sha256::digest(std::fs::read(&back).unwrap()), want);

    // The host's own sha256sum sees the same bytes.
    let sum = fake.ssh("sha256sum /tmp/big.bin").await;
    let hex: String = want.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(sum.stdout, format!("{hex}  /tmp/big.bin\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_sessions_are_all_answered() {
    let fake = Fake::start().await;
    let runs = (0..50).map(|i| {
        let fake = &fake;
        async move {
            (
                i,
                fake.ssh(&format!("echo session-{i}; pct status 10{}", i % 3))
                    .await,
            )
        }
    });
    let results = futures_join_all(runs).await;
    for (i, out) in results {
        assert_eq!(out.code, Some(0), "session {i}: {out:?}");
        let status = if i % 3 == 1 { "stopped" } else { "running" };
        assert_eq!(out.stdout, format!("session-{i}\nstatus: {status}\n"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multiplexing_client_meets_max_sessions_and_falls_back_to_a_new_connection() {
    let fake = Fake::with_fixture(Fixture::parse("max_sessions = 2\n").unwrap(), "root").await;
    let socket = fake.dir.path().join("mux");
    let master_log = fake.dir.path().join("master.log");
    let socket_arg = socket.display().to_string();
    let mux = ["-S", socket_arg.as_str(), "-o", "ControlMaster=no"];

    // The master holds the one connection; it logs the refusal at INFO level.
    let mut master = fake.ssh_command(&["-o", "LogLevel=INFO"]);
    master
        .arg("-M")
        .arg("-S")
        .arg(&socket)
        .arg("-N")
        .arg("-E")
        .arg(&master_log)
        .arg("root@127.0.0.1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let mut master = master.spawn().unwrap();
    eventually("the master listens", || socket.exists()).await;

    // Two sessions through the master take both slots: `cat` waits on its stdin.
    let mut holders = Vec::new();
    for _ in 0..2 {
        let mut holder = fake.ssh_command(&mux);
        holder
            .arg("root@127.0.0.1")
            .arg("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        holders.push(holder.spawn().unwrap());
    }
    eventually("both sessions run", || {
        fake.host()
            .running()
            .iter()
            .filter(|p| p.args == "cat")
            .count()
            == 2
    })
    .await;

    // The third is refused on the master's connection; `ssh` says so and quietly
    // opens a connection of its own.
    let mut third = fake.ssh_command(&mux);
    third.arg("root@127.0.0.1").arg("echo third");
    let out = fake::run(third, None).await;
    assert_printed(&out, "third\n");
    assert!(
        out.stderr
            .contains("session request failed: Session open refused by peer"),
        "{out:?}"
    );
    let log = std::fs::read_to_string(&master_log).unwrap();
    assert!(
        log.contains("open failed: connect failed: open failed"),
        "master log: {log}"
    );

    // Once the two commands end, the master's sessions are free again.
    for mut holder in holders {
        drop(holder.stdin.take());
        let status = tokio::time::timeout(std::time::Duration::from_secs(10), holder.wait())
            .await
            .expect("cat ends at EOF")
            .unwrap();
        assert!(status.success(), "{status:?}");
    }
    let mut again = fake.ssh_command(&mux);
    again.arg("root@127.0.0.1").arg("echo again");
    let out = fake::run(again, None).await;
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (Some(0), "again\n", "")
    );

    master.start_kill().unwrap();
    let _ = master.wait().await;
}

/// Runs futures concurrently on this task (no extra dependency needed).
async fn futures_join_all<F: std::future::Future>(
    futs: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futs {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = (0..set.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(Option::unwrap).collect()
}

/// `scp` in its SFTP mode (OpenSSH's default since 9.0), both ways: the subsystem
/// channel ends with exit-status 0 as sshd's does, so scp exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scp_in_sftp_mode_exits_0_both_ways() {
    let fake = Fake::start().await;
    let local = fake.dir.path().join("up.txt");
    std::fs::write(&local, b"via scp\n").unwrap();
    let scp = |from: String, to: String| {
        let mut cmd = fake.scp_command();
        cmd.arg(from).arg(to);
        cmd
    };
    let up = fake::run(
        scp(
            local.display().to_string(),
            "root@127.0.0.1:/tmp/up.txt".into(),
        ),
        None,
    )
    .await;
    assert_eq!(up.code, Some(0), "{up:?}");
    assert_eq!(
        fake.host().host_file("/tmp/up.txt").as_deref(),
        Some(&b"via scp\n"[..])
    );

    let back = fake.dir.path().join("back.txt");
    let down = fake::run(
        scp(
            "root@127.0.0.1:/tmp/up.txt".into(),
            back.display().to_string(),
        ),
        None,
    )
    .await;
    assert_eq!(down.code, Some(0), "{down:?}");
    assert_eq!(std::fs::read(&back).unwrap(), b"via scp\n");
}
