//! VMs and `qm` on the fake node over real SSH: OpenSSH's `ssh` for what a user (and
//! the server) sees, a russh client where the test must control the channel.

use std::time::{Duration, Instant};

use fake_pve::fixture::{DEFAULT_FIXTURE, Fixture};
use fake_pve::vm::VmStatus;
use sha2::Digest;
use testkit::eventually;
use testkit::fake::{self, Fake};

/// The default fixture plus these VMs: 300 with an agent that hangs, 301 whose guest
/// ignores shutdown requests.
const FAULTY: &str = r#"
[[vms]]
vmid = 300
name = "hangs"
status = "running"
agent = true
agent_hangs = true

[[vms]]
vmid = 301
name = "stubborn"
status = "running"
agent = true
ignores_shutdown = true
"#;

async fn faulty() -> Fake {
    let text = format!("{DEFAULT_FIXTURE}\n{FAULTY}");
    Fake::with_fixture(Fixture::parse(&text).unwrap(), "root").await
}

#[track_caller]
fn assert_ran(out: &fake::Output, code: i32, stdout: &str, stderr: &str) {
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (Some(code), stdout, stderr),
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssh_qm_list_prints_the_spec_layout() {
    let fake = Fake::start().await;
    let out = fake.ssh("qm list").await;
    assert_ran(
        &out,
        0,
        "      VMID NAME                 STATUS     MEM(MB)    BOOTDISK(GB) PID       \n       200 vm1                  running    2048              32.00 20200     \n       201 vm2                  stopped    1024              16.00 0         \n",
        "",
    );
    // pct lists only the containers, qm only the VMs.
    let pct = fake.ssh("pct list").await;
    assert_eq!(pct.stdout.lines().count(), 4, "{pct:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_config_and_power_over_ssh() {
    let fake = Fake::start().await;
    assert_ran(&fake.ssh("qm status 200").await, 0, "status: running\n", "");
    assert_ran(&fake.ssh("qm start 201").await, 0, "", "");
    assert_ran(&fake.ssh("qm status 201").await, 0, "status: running\n", "");
    assert_ran(&fake.ssh("qm shutdown 201").await, 0, "", "");
    assert_ran(&fake.ssh("qm status 201").await, 0, "status: stopped\n", "");
    assert_ran(
        &fake.ssh("qm shutdown 201").await,
        0,
        "",
        "VM 201 not running\n\n",
    );
    assert_ran(
        &fake.ssh("qm start 200").await,
        255,
        "",
        "VM 200 already running\n",
    );
    let config = fake.ssh("qm config 200").await;
    assert!(config.stdout.contains("\nname: vm1\n"), "{config:?}");
    // The wrong kind of guest (§14).
    assert_ran(
        &fake.ssh("qm status 100").await,
        255,
        "",
        "Configuration file 'nodes/pve/qemu-server/100.conf' does not exist\n",
    );
    assert_ran(
        &fake.ssh("qm shutdown 100").await,
        255,
        "",
        "unable to find configuration file for VM 100 on node 'pve'\n\nunable to find configuration file for VM 100 on node 'pve'\n",
    );
    assert_ran(
        &fake.ssh("pct exec 200 -- true").await,
        255,
        "",
        "Configuration file 'nodes/pve/lxc/200.conf' does not exist\n",
    );
    assert_ran(
        &fake.ssh("qm clone 200 300; echo after").await,
        255,
        "",
        "fake-pve: qm clone is not emulated\n",
    );
    assert_ran(
        &fake.ssh("qmrestore x.vma 300").await,
        255,
        "",
        "unable to parse volume ID 'x.vma'\n",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_with_an_inner_timeout_and_a_shell() {
    let fake = Fake::start().await;
    let out = fake
        .ssh("qm guest exec 200 --timeout 40 -- timeout -k 5 30 sh -c 'echo $((6*7))'")
        .await;
    assert_ran(
        &out,
        0,
        "{\n   \"exitcode\" : 0,\n   \"exited\" : 1,\n   \"out-data\" : \"42\\n\"\n}\n",
        "",
    );
    let out = fake
        .ssh("qm guest exec 200 --timeout 40 -- timeout -k 1 1 sh -c 'sleep 30 & sleep 60'")
        .await;
    assert_ran(
        &out,
        0,
        "{\n   \"exitcode\" : 124,\n   \"exited\" : 1\n}\n",
        "",
    );
    eventually("the timed-out command's children are gone", || {
        fake.host().vm_processes(200).is_empty()
    })
    .await;
    let out = fake.ssh("qm guest exec 200 -- nosuch").await;
    assert_eq!(out.code, Some(255));
    assert!(out.stderr.starts_with("Agent error: "), "{out:?}");
}

/// `qm guest exec 200 -- ARGV` over ssh: (exitcode, out-data).
async fn guest(fake: &Fake, argv: &str) -> (i64, String) {
    let out = fake.ssh(&format!("qm guest exec 200 -- {argv}")).await;
    assert_eq!(out.code, Some(0), "{argv}: {out:?}");
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    (
        v["exitcode"].as_i64().unwrap(),
        v["out-data"].as_str().unwrap_or("").to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mebibyte_through_pass_stdin_arrives_intact() {
    let fake = Fake::start().await;
    let data: Vec<u8> = (0..1024 * 1024).map(|_| rand::random::<u8>()).collect();
    let (code, tmp) = guest(
        &fake,
        "sh -c 'umask 077 && mktemp \"$1\"' sh '/root/.f.XXXXXX'",
    )
    .await;
    assert_eq!(code, 0);
    let tmp = tmp.trim_end().to_string();
    let line =
        format!("qm guest exec 200 --pass-stdin 1 --timeout 60 -- sh -c 'cat >> \"$1\"' sh {tmp}");
    for _ in 0..2 {
        let mut cmd = fake.ssh_command(&[]);
        cmd.arg("root@127.0.0.1").arg(&line);
        let out = fake::run(cmd, Some(data.clone())).await;
        assert_ran(
            &out,
            0,
            "{\n   \"exitcode\" : 0,\n   \"exited\" : 1\n}\n",
            "",
        );
    }
    let mut twice = data.clone();
    twice.extend_from_slice(&data);
    let want = format!("{:x}", sha2::Sha256::digest(&twice));
    let (_, sum) = guest(&fake, &format!("sha256sum {tmp}")).await;
    assert_eq!(sum, format!("{want}  {tmp}\n"));
    assert_eq!(
        guest(&fake, &format!("stat -c '%s %a' {tmp}")).await,
        (0, "2097152 600\n".into())
    );
    // A piece of it back through base64, as the client reads a file.
    let (_, b64) = guest(
        &fake,
        &format!("sh -c 'tail -c +1000001 \"$1\" | head -c 300 | base64 -w 0' sh {tmp}"),
    )
    .await;
    use base64::Engine;
    let piece = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    assert_eq!(piece, &twice[1_000_000..1_000_300]);
    assert_eq!(guest(&fake, &format!("mv -f {tmp} /root/final")).await.0, 0);
    assert_eq!(guest(&fake, "chmod 644 /root/final").await.0, 0);
    assert_eq!(guest(&fake, "test -e /root/final").await.0, 0);
    assert_eq!(guest(&fake, "test -d /root").await.0, 0);
    assert_eq!(fake.host().vm_file(200, "/root/final").unwrap(), twice);
    assert_eq!(guest(&fake, "rm -f /root/final").await.0, 0);
    assert_eq!(guest(&fake, "test -e /root/final").await.0, 1);

    // More than 1 MiB is refused before anything runs.
    let mut big = data.clone();
    big.push(1);
    let mut cmd = fake.ssh_command(&[]);
    cmd.arg("root@127.0.0.1").arg(&line);
    let out = fake::run(cmd, Some(big)).await;
    assert_ran(
        &out,
        255,
        "",
        "'input-data' (STDIN) is limited to 1 MiB, aborting\n",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_hangs_is_waited_for_three_seconds() {
    let fake = faulty().await;
    let t0 = Instant::now();
    assert_ran(
        &fake.ssh("qm guest cmd 300 ping").await,
        255,
        "",
        "QEMU guest agent is not running\n",
    );
    assert!(t0.elapsed() >= Duration::from_secs(3), "{:?}", t0.elapsed());
    let out = fake.ssh("qm guest exec 300 -- true").await;
    assert_ran(&out, 255, "", "QEMU guest agent is not running\n");
    // The checks before the ping answer at once.
    let t1 = Instant::now();
    assert_ran(
        &fake.ssh("qm guest cmd 201 ping").await,
        255,
        "",
        "VM 201 is not running\n",
    );
    assert!(t1.elapsed() < Duration::from_secs(3));
    // A shutdown falls back to ACPI after the ping.
    assert_ran(
        &fake.ssh("qm shutdown 300 --timeout 10").await,
        0,
        "QEMU Guest Agent is not running - VM 300 qga command 'guest-ping' failed - got timeout\n",
        "",
    );
    assert_eq!(fake.host().vm_status(300), Some(VmStatus::Stopped));
    // Healed at run time.
    fake.host().set_agent_hangs(300, false);
    fake.host().set_vm_status(300, VmStatus::Running);
    assert_ran(&fake.ssh("qm guest cmd 300 ping").await, 0, "", "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_that_ignores_shutdown_runs_out_the_timeout() {
    let fake = faulty().await;
    let t0 = Instant::now();
    assert_ran(
        &fake.ssh("qm shutdown 301 --timeout 2").await,
        255,
        "",
        "VM quit/powerdown failed - got timeout\n",
    );
    assert!(t0.elapsed() >= Duration::from_secs(2));
    assert_eq!(fake.host().vm_status(301), Some(VmStatus::Running));
    assert_ran(
        &fake.ssh("qm reboot 301 --timeout 1").await,
        255,
        "",
        "VM quit/powerdown failed - got timeout\n",
    );
    let t1 = Instant::now();
    assert_ran(
        &fake.ssh("qm shutdown 301 --timeout 2 --forceStop 1").await,
        0,
        "VM still running - terminating now with SIGTERM\n",
        "",
    );
    assert!(t1.elapsed() >= Duration::from_secs(2));
    assert_ran(&fake.ssh("qm status 301").await, 0, "status: stopped\n", "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_timeout_returns_the_pid_and_the_guest_process_goes_on() {
    let fake = Fake::start().await;
    let t0 = Instant::now();
    let out = fake
        .ssh("qm guest exec 200 --timeout 2 -- sh -c 'sleep 4; echo done'")
        .await;
    assert!(t0.elapsed() >= Duration::from_secs(2));
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stderr, "timeout reached, returning pid\n");
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let pid = v["pid"].as_u64().unwrap();
    assert_eq!(out.stdout, format!("{{\n   \"pid\" : {pid}\n}}\n"));
    // A VM is its own kernel: the node's ps and kill do not see the process.
    let ps = fake.ssh("pgrep -x sleep; echo $?").await;
    assert_eq!(ps.stdout, "1\n", "{ps:?}");
    assert!(
        fake.host()
            .vm_processes(200)
            .iter()
            .any(|p| p.args.contains("sleep 4"))
    );
    let status = format!("qm guest exec-status 200 {pid}");
    assert_ran(&fake.ssh(&status).await, 0, "{\n   \"exited\" : 0\n}\n", "");
    eventually("the guest process ends", || {
        fake.host().vm_processes(200).is_empty()
    })
    .await;
    assert_ran(
        &fake.ssh(&status).await,
        0,
        "{\n   \"exitcode\" : 0,\n   \"exited\" : 1,\n   \"out-data\" : \"done\\n\"\n}\n",
        "",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_channel_does_not_end_the_guest_process() {
    let fake = Fake::start().await;
    let ssh = fake.russh("root", true).await;
    let channel = ssh.channel_open_session().await.unwrap();
    channel
        .exec(
            true,
            "qm guest exec 200 --timeout 0 -- sh -c 'sleep 2; echo x > /tmp/after'",
        )
        .await
        .unwrap();
    eventually("the guest process starts", || {
        !fake.host().vm_processes(200).is_empty()
    })
    .await;
    channel.close().await.unwrap();
    drop(ssh);
    fake.host().drop_connections();
    eventually("the guest process finishes its work", || {
        fake.host().vm_file(200, "/tmp/after").is_some()
    })
    .await;
    assert_eq!(fake.host().vm_file(200, "/tmp/after").unwrap(), b"x\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_file_endpoints_through_pvesh() {
    let fake = Fake::start().await;
    use base64::Engine;
    let data: Vec<u8> = (0..46080).map(|i| (i % 256) as u8).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
    assert_eq!(b64.len(), 61440);
    let out = fake
        .ssh(&format!(
            "pvesh create /nodes/localhost/qemu/200/agent/file-write --file /root/up.bin --content {b64} --encode 0"
        ))
        .await;
    assert_ran(&out, 0, "", "");
    assert_eq!(fake.host().vm_file(200, "/root/up.bin").unwrap(), data);
    let out = fake
        .ssh("pvesh get /nodes/localhost/qemu/200/agent/file-read --file /root/up.bin --decode 0 --output-format json")
        .await;
    assert_eq!(out.code, Some(0), "{out:?}");
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["bytes-read"], 46080);
    assert_eq!(v["content"], b64);
    assert!(v.get("truncated").is_none());
    let rows = fake
        .ssh("pvesh get /cluster/resources --type vm --output-format json")
        .await;
    let rows: Vec<serde_json::Value> = serde_json::from_str(&rows.stdout).unwrap();
    assert!(
        rows.iter()
            .any(|r| r["id"] == "qemu/200" && r["status"] == "running")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_change_a_file_through_the_agent_and_roll_back() {
    let fake = Fake::start().await;
    let write = |text: &str| format!("qm guest exec 200 -- sh -c 'echo {text} > /root/state.txt'");
    assert_eq!(fake.ssh(&write("before")).await.code, Some(0));
    assert_ran(
        &fake
            .ssh("qm snapshot 200 pre-change --description 'before the change'")
            .await,
        0,
        "snapshotting 'drive-scsi0' (local-lvm:vm-200-disk-0)\n",
        "",
    );
    assert_eq!(fake.ssh(&write("after")).await.code, Some(0));
    assert_eq!(
        guest(&fake, "cat /root/state.txt").await,
        (0, "after\n".into())
    );
    let tree = fake.ssh("qm listsnapshot 200").await;
    assert_eq!(tree.code, Some(0), "{tree:?}");
    let lines: Vec<&str> = tree.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{tree:?}");
    assert!(lines[0].starts_with("`-> pre-change   "), "{tree:?}");
    assert!(lines[0].ends_with("     before the change"), "{tree:?}");
    assert_eq!(
        lines[1],
        " `-> current                                            You are here!"
    );
    assert_ran(&fake.ssh("qm rollback 200 pre-change").await, 0, "", "");
    assert_eq!(fake.host().vm_status(200), Some(VmStatus::Stopped));
    assert_ran(
        &fake
            .ssh("qm status 200; qm config 200 | grep ^parent")
            .await,
        0,
        "status: stopped\nparent: pre-change\n",
        "",
    );
    assert_ran(&fake.ssh("qm start 200").await, 0, "", "");
    assert_eq!(
        guest(&fake, "cat /root/state.txt").await,
        (0, "before\n".into())
    );
    assert_ran(&fake.ssh("qm delsnapshot 200 pre-change").await, 0, "", "");
    assert_ran(
        &fake.ssh("qm listsnapshot 200").await,
        0,
        "`-> current                                             You are here!\n",
        "",
    );
}
