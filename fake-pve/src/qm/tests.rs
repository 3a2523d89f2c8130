//! The exact bytes of the qm outputs and errors qm-fidelity.md gives.

use std::time::Duration;

use crate::fixture::Fixture;
use crate::host::Host;
use crate::io::Input;
use crate::test_support::{Ran, argv, capture, fail, ok};
use crate::vm::VmStatus;

/// The default fixture's containers 100–102, and VMs 200 `vm1` (running, agent) and
/// 201 `vm2` (stopped), plus the VMs a test adds.
fn host_with(extra: &str) -> Host {
    let text = format!("{}\n{extra}", crate::fixture::DEFAULT_FIXTURE);
    Host::new(Fixture::parse(&text).unwrap().into_state().unwrap())
}

fn host() -> Host {
    host_with("")
}

async fn qm_with(host: &Host, uid: u32, args: &[&str], stdin: Vec<u8>) -> (Ran, Vec<u8>) {
    let mut ctx = crate::programs::login_ctx(host, "root");
    ctx.uid = uid;
    let args = argv(args);
    let ran = capture(Input::bytes(stdin), async |io| {
        super::run(&ctx, &args, io).await
    })
    .await;
    (ran.lossy(), ran.out)
}

/// `qm` as root with these words.
async fn qm_args(host: &Host, args: &[&str]) -> Ran {
    qm_with(host, 0, args, Vec::new()).await.0
}

/// `qm` as root with whitespace-separated words.
async fn qm(host: &Host, line: &str) -> Ran {
    let words: Vec<&str> = line.split_whitespace().collect();
    qm_args(host, &words).await
}

/// `qm guest exec 200 OPTIONS -- ARGV` as root.
async fn exec_200(host: &Host, options: &[&str], argv: &[&str]) -> Ran {
    let mut args = vec!["guest", "exec", "200"];
    args.extend(options);
    args.push("--");
    args.extend(argv);
    qm_args(host, &args).await
}

async fn answers(host: &Host, cases: &[(&str, Ran)]) {
    for (line, want) in cases {
        assert_eq!(&qm(host, line).await, want, "qm {line}");
    }
}

fn status_of(host: &Host, vmid: u32) -> VmStatus {
    host.vm_status(vmid).unwrap()
}

const NO_200: &str = "Configuration file 'nodes/pve/qemu-server/999.conf' does not exist\n";
const NOT_FOUND_999: &str = "unable to find configuration file for VM 999 on node 'pve'\n";

// ---- §4 list ---------------------------------------------------------------

const HEADER: &str =
    "      VMID NAME                 STATUS     MEM(MB)    BOOTDISK(GB) PID       \n";

#[tokio::test]
async fn list_prints_the_printf_layout_with_trailing_padding() {
    let h = host();
    let want = format!(
        "{HEADER}       200 vm1                  running    2048              32.00 20200     \n       201 vm2                  stopped    1024              16.00 0         \n"
    );
    assert_eq!(qm(&h, "list").await, ok(&want));
    assert_eq!(qm(&h, "list --full").await, ok(&want));
}

#[tokio::test]
async fn list_shows_default_names_with_a_space_and_paused_as_running() {
    let h = host_with(
        "[[vms]]\nvmid = 1000\nstatus = \"paused\"\nmemory = 512\ndisk = \"500M\"\n\n[[vms]]\nvmid = 300\nname = \"a-very-long-virtual-machine-name\"\n",
    );
    let plain = qm(&h, "list").await;
    assert_eq!(plain.code, 0);
    let lines: Vec<&str> = plain.out.lines().collect();
    assert_eq!(
        lines[3],
        "       300 a-very-long-virtual-machine-name stopped    512               32.00 0         "
    );
    assert_eq!(
        lines[4],
        "      1000 VM 1000              running    512                0.49 21000     "
    );
    let full = qm(&h, "list --full").await;
    assert!(
        full.out
            .contains("      1000 VM 1000              paused     512 "),
        "{full:?}"
    );
}

#[tokio::test]
async fn list_of_no_vms_prints_nothing() {
    let h = Host::new(Fixture::parse("").unwrap().into_state().unwrap());
    assert_eq!(qm(&h, "list").await, ok(""));
}

// ---- §1 mechanics -----------------------------------------------------------

#[tokio::test]
async fn command_line_mechanics_follow_pct() {
    let h = host();
    let st = qm(&h, "st 200").await;
    assert_eq!(st.code, 255);
    assert!(
        st.err.starts_with(
            "ERROR: incomplete command 'qm st'\nUSAGE: qm <COMMAND> [ARGS] [OPTIONS]\n\n"
        ),
        "{st:?}"
    );
    let foo = qm(&h, "foo").await;
    assert_eq!(foo.code, 255);
    assert!(
        foo.err.starts_with(
            "ERROR: unknown command 'qm foo'\nUSAGE: qm <COMMAND> [ARGS] [OPTIONS]\n\n"
        ),
        "{foo:?}"
    );
    assert!(
        foo.err
            .contains("       qm guest exec <vmid> [<extra-args>] [OPTIONS]\n")
    );
    let none = qm_args(&h, &[]).await;
    assert!(none.err.starts_with("ERROR: no command specified\n"));
    // Unique prefixes of commands and options.
    assert_eq!(qm(&h, "stat 200").await, ok("status: running\n"));
    assert_eq!(qm(&h, "gu cm 200 ping").await, ok(""));
    assert_eq!(qm(&h, "agent 200 ping").await, ok(""));
    assert_eq!(qm(&h, "status 201 -verb").await.code, 0);
    answers(
        &h,
        &[
            (
                "status abc",
                fail(
                    "400 Parameter verification failed.\nvmid: type check ('integer') failed - got 'abc'\nqm status <vmid> [OPTIONS]\n",
                    255,
                ),
            ),
            (
                "status 99",
                fail(
                    "400 Parameter verification failed.\nvmid: invalid format - value does not look like a valid VM ID\n\nqm status <vmid> [OPTIONS]\n",
                    255,
                ),
            ),
            (
                "status -5",
                fail(
                    "Unknown option: 5\n400 unable to parse option\nqm status <vmid> [OPTIONS]\n",
                    255,
                ),
            ),
            (
                "status",
                fail("400 not enough arguments\nqm status <vmid> [OPTIONS]\n", 255),
            ),
        ],
    )
    .await;
    let user = qm_with(&h, 1000, &["list"], Vec::new()).await.0;
    assert_eq!(user, fail("please run as root\n", 255));
}

#[tokio::test]
async fn what_is_not_emulated_is_refused_loudly() {
    let h = host();
    for (line, what) in [
        ("create 300", "qm create"),
        ("destroy 200", "qm destroy"),
        ("set 200 --memory 4096", "qm set"),
        ("clone 200 300", "qm clone"),
        ("migrate 200 pve2", "qm migrate"),
        ("template 201", "qm template"),
        ("guest passwd 200 root", "qm guest passwd"),
        ("suspend 200 --todisk", "qm suspend --todisk"),
        ("start 201 --machine q35", "qm start --machine"),
        ("guest cmd 200 get-time", "qm guest cmd get-time"),
        ("guest cmd 200 shutdown", "qm guest cmd shutdown"),
    ] {
        assert_eq!(
            qm(&h, line).await,
            fail(&format!("fake-pve: {what} is not emulated\n"), 255),
            "{line}"
        );
    }
    assert_eq!(status_of(&h, 200), VmStatus::Running);
}

// ---- §5 status --------------------------------------------------------------

#[tokio::test]
async fn status_prints_the_qmp_state() {
    let h = host();
    answers(
        &h,
        &[
            ("status 200", ok("status: running\n")),
            ("status 201", ok("status: stopped\n")),
            ("status 999", fail(NO_200, 255)),
            // A container's id is no VM's (§14).
            (
                "status 100",
                fail(
                    "Configuration file 'nodes/pve/qemu-server/100.conf' does not exist\n",
                    255,
                ),
            ),
        ],
    )
    .await;
    h.set_vm_status(200, VmStatus::Paused);
    assert_eq!(qm(&h, "status 200").await, ok("status: paused\n"));
}

#[tokio::test]
async fn verbose_status_of_a_stopped_vm() {
    let h = host();
    assert_eq!(
        qm(&h, "status 201 --verbose").await,
        ok(
            "cpus: 1\ndisk: 0\nmaxdisk: 17179869184\nmaxmem: 1073741824\nmem: 0\nmemhost: 0\nname: vm2\nnetin: 0\nnetout: 0\nqmpstatus: stopped\nstatus: stopped\nuptime: 0\nvmid: 201\n"
        )
    );
    h.set_vm_lock(201, Some("backup"));
    h.set_vm_config(201, "tags", Some("db;prod"));
    let out = qm(&h, "status 201 --verbose").await.out;
    assert!(out.contains("\nlock: backup\n") && out.contains("\ntags: db;prod\n"));
}

#[tokio::test]
async fn verbose_status_of_a_running_vm_has_pid_uptime_and_nested_blocks() {
    let h = host();
    h.change_vm(200, |vm| vm.started_at = Some(crate::fs::now_secs() - 100));
    let out = qm(&h, "status 200 --verbose").await.out;
    let lines: Vec<&str> = out.lines().collect();
    for want in [
        "cpus: 2",
        "pid: 20200",
        "qmpstatus: running",
        "status: running",
        "nics:",
        "\ttap200i0:",
        "\t\tnetin: 0",
        "blockstat:",
        "\tscsi0:",
        "\t\trd_bytes: 0",
        "running-qemu: 9.2.0",
    ] {
        assert!(lines.contains(&want), "{want:?} in {out}");
    }
    let uptime: u64 = lines
        .iter()
        .find_map(|l| l.strip_prefix("uptime: "))
        .unwrap()
        .parse()
        .unwrap();
    assert!((100..110).contains(&uptime), "{uptime}");
    // Top-level keys sorted.
    let top: Vec<&str> = lines
        .iter()
        .filter(|l| !l.starts_with('\t'))
        .map(|l| l.split(':').next().unwrap())
        .collect();
    let mut sorted = top.clone();
    sorted.sort();
    assert_eq!(top, sorted);
    assert!(!top.contains(&"cpu"));
}

// ---- §7 config --------------------------------------------------------------

#[tokio::test]
async fn config_prints_sorted_keys() {
    let h = host();
    let r = qm(&h, "config 200").await;
    assert_eq!(r.code, 0);
    let keys: Vec<&str> = r
        .out
        .lines()
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "agent", "boot", "cores", "ide2", "memory", "name", "net0", "ostype", "scsi0",
            "scsihw", "smbios1"
        ]
    );
    assert!(
        r.out
            .starts_with("agent: 1\nboot: order=scsi0;ide2;net0\ncores: 2\n")
    );
    assert!(
        r.out
            .contains("\nscsi0: local-lvm:vm-200-disk-0,iothread=1,size=32G\n")
    );
    assert_eq!(qm(&h, "config 200 --current").await, r);
    h.set_vm_config(200, "description", Some("line 1\nrate: 50%"));
    h.set_vm_lock(200, Some("backup"));
    let out = qm(&h, "config 200").await.out;
    assert!(
        out.contains("description: line 1%0Arate%3A 50%25\n"),
        "{out}"
    );
    assert!(out.contains("\nlock: backup\n"));
    answers(
        &h,
        &[
            ("config 999", fail(NO_200, 255)),
            (
                "config 200 --snapshot s1",
                fail("snapshot 's1' does not exist\n", 255),
            ),
            (
                "config 200 --current --snapshot s1",
                fail(
                    "400 Parameter verification failed.\ncurrent: cannot use 'snapshot' parameter with 'current'\nsnapshot: cannot use 'snapshot' parameter with 'current'\nqm config <vmid> [OPTIONS]\n",
                    255,
                ),
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn fixture_agent_keys() {
    let h = host_with("[[vms]]\nvmid = 300\nagent = false\n\n[[vms]]\nvmid = 301\n");
    assert!(qm(&h, "config 300").await.out.starts_with("agent: 0\n"));
    assert!(!qm(&h, "config 301").await.out.contains("agent"));
}

// ---- §6 power ---------------------------------------------------------------

#[tokio::test]
async fn start_and_stop() {
    let h = host();
    answers(
        &h,
        &[
            ("start 201", ok("")),
            ("start 201", fail("VM 201 already running\n", 255)),
            ("stop 201", ok("")),
            ("stop 201", ok("")),
            (
                "start 999",
                fail(
                    "Configuration file 'nodes/pve/qemu-server/999.conf' does not exist\n",
                    255,
                ),
            ),
            ("stop 999", fail(NOT_FOUND_999, 255)),
            // A container's id (§14).
            (
                "stop 100",
                fail(
                    "unable to find configuration file for VM 100 on node 'pve'\n",
                    255,
                ),
            ),
        ],
    )
    .await;
    assert_eq!(status_of(&h, 201), VmStatus::Stopped);
}

#[tokio::test]
async fn locks_templates_and_ha() {
    let h = host();
    h.set_vm_lock(201, Some("snapshot"));
    answers(
        &h,
        &[
            ("start 201", fail("VM is locked (snapshot)\n", 255)),
            ("start 201 --skiplock", ok("")),
        ],
    )
    .await;
    h.set_vm_lock(200, Some("backup"));
    answers(
        &h,
        &[
            // A running VM with the backup lock: start is a no-op resume.
            ("start 200", ok("")),
            (
                "start 200 --skiplock",
                fail("VM 200 already running\n", 255),
            ),
            ("stop 200", fail("VM is locked (backup)\n", 255)),
            ("shutdown 200", fail("VM is locked (backup)\n", 255)),
            ("stop 200 --skiplock", ok("")),
            // A stopped VM stops silently, locked or not.
            ("stop 200", ok("")),
        ],
    )
    .await;
    h.set_vm_lock(200, Some("suspended"));
    assert_eq!(qm(&h, "start 200").await, ok("Resuming suspended VM\n"));
    assert_eq!(h.vm(200).unwrap().lock, None);

    let t = host_with("[[vms]]\nvmid = 300\ntemplate = true\nlock = \"backup\"\n");
    assert_eq!(
        qm(&t, "start 300").await,
        fail("you can't start a vm if it's a template\n", 255)
    );

    let ha = host_with("[[vms]]\nvmid = 300\nha = true\n");
    assert_eq!(
        qm(&ha, "start 300").await,
        ok("Requesting HA start for VM 300\n")
    );
    assert_eq!(status_of(&ha, 300), VmStatus::Running);
    assert_eq!(
        qm(&ha, "stop 300").await,
        ok("Requesting HA stop for VM 300\n")
    );
    assert_eq!(status_of(&ha, 300), VmStatus::Stopped);
}

#[tokio::test]
async fn shutdown_and_reboot_edges() {
    let h = host();
    answers(
        &h,
        &[
            ("shutdown 201", fail("VM 201 not running\n\n", 0)),
            (
                "reboot 201",
                fail("VM 201 not running\n\nVM 201 not running\n", 255),
            ),
            (
                "shutdown 999",
                fail(&format!("{NOT_FOUND_999}\n{NOT_FOUND_999}"), 255),
            ),
            ("suspend 201", fail("VM 201 not running\n", 255)),
            ("resume 201", fail("VM 201 not running\n", 255)),
            ("reset 201", fail("VM 201 not running\n", 255)),
            ("suspend 999", fail(NOT_FOUND_999, 255)),
            ("resume 200", ok("")),
            ("suspend 200", ok("")),
            (
                "shutdown 200",
                fail("VM is paused - cannot shutdown\n", 255),
            ),
            ("reboot 200", fail("VM is paused - cannot shutdown\n", 255)),
            ("status 200", ok("status: paused\n")),
            ("start 200", fail("VM 200 already running\n", 255)),
            ("resume 200", ok("")),
            ("status 200", ok("status: running\n")),
            ("reboot 200", ok("")),
            ("status 200", ok("status: running\n")),
            ("shutdown 200", ok("")),
            ("status 200", ok("status: stopped\n")),
        ],
    )
    .await;
    h.set_vm_status(200, VmStatus::Paused);
    assert_eq!(
        qm(&h, "shutdown 200 --forceStop").await,
        fail("VM is paused - stop instead of shutdown\n", 0)
    );
    assert_eq!(status_of(&h, 200), VmStatus::Stopped);
}

#[tokio::test(start_paused = true)]
async fn a_guest_that_ignores_shutdown_is_waited_for() {
    let h = host();
    h.set_vm_ignores_shutdown(200, true);
    let t0 = tokio::time::Instant::now();
    assert_eq!(
        qm(&h, "shutdown 200 --timeout 5").await,
        fail("VM quit/powerdown failed - got timeout\n", 255)
    );
    assert_eq!(t0.elapsed().as_secs(), 5);
    assert_eq!(status_of(&h, 200), VmStatus::Running);
    assert_eq!(
        qm(&h, "reboot 200 --timeout 7").await,
        fail("VM quit/powerdown failed - got timeout\n", 255)
    );
    assert_eq!(t0.elapsed().as_secs(), 12);
    assert_eq!(
        qm(&h, "shutdown 200 --timeout 3 --forceStop 1").await,
        ok("VM still running - terminating now with SIGTERM\n")
    );
    assert_eq!(status_of(&h, 200), VmStatus::Stopped);
    assert_eq!(t0.elapsed().as_secs(), 15);
    // The default: 60 s, or the config's `startup: down=`.
    h.set_vm_status(200, VmStatus::Running);
    h.set_vm_config(200, "startup", Some("order=1,down=20"));
    let t1 = tokio::time::Instant::now();
    assert_eq!(qm(&h, "shutdown 200").await.code, 255);
    assert_eq!(t1.elapsed().as_secs(), 20);
}

#[tokio::test(start_paused = true)]
async fn a_hanging_agent_makes_shutdown_fall_back_to_acpi() {
    let h = host();
    h.set_agent_hangs(200, true);
    let t0 = tokio::time::Instant::now();
    assert_eq!(
        qm(&h, "shutdown 200").await,
        ok(
            "QEMU Guest Agent is not running - VM 200 qga command 'guest-ping' failed - got timeout\n"
        )
    );
    assert_eq!(t0.elapsed(), Duration::from_secs(3));
    assert_eq!(status_of(&h, 200), VmStatus::Stopped);
}

// ---- §8 guest cmd -----------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn agent_checks_in_order() {
    let h = host_with(
        "[[vms]]\nvmid = 300\nstatus = \"running\"\n\n[[vms]]\nvmid = 301\nstatus = \"running\"\nagent = false\n\n[[vms]]\nvmid = 302\nstatus = \"running\"\nagent = true\nagent_hangs = true\n",
    );
    answers(
        &h,
        &[
            ("guest cmd 200 ping", ok("")),
            ("guest cmd 999 ping", fail(NO_200, 255)),
            (
                "guest cmd 300 ping",
                fail("No QEMU guest agent configured\n", 255),
            ),
            ("guest cmd 201 ping", fail("VM 201 is not running\n", 255)),
            (
                "guest cmd 301 ping",
                fail("QEMU guest agent is not running\n", 255),
            ),
        ],
    )
    .await;
    let t0 = tokio::time::Instant::now();
    assert_eq!(
        qm(&h, "guest cmd 302 ping").await,
        fail("QEMU guest agent is not running\n", 255)
    );
    assert_eq!(t0.elapsed(), Duration::from_secs(3));
    h.set_agent_hangs(302, false);
    assert_eq!(qm(&h, "guest cmd 302 ping").await, ok(""));
}

#[tokio::test]
async fn guest_cmd_results() {
    let h = host();
    assert_eq!(
        qm(&h, "guest cmd 200 get-osinfo").await,
        ok(
            "{\n   \"id\" : \"debian\",\n   \"kernel-release\" : \"6.1.0-28-amd64\",\n   \"kernel-version\" : \"#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)\",\n   \"machine\" : \"x86_64\",\n   \"name\" : \"Debian GNU/Linux\",\n   \"pretty-name\" : \"Debian GNU/Linux 12 (bookworm)\",\n   \"version\" : \"12 (bookworm)\",\n   \"version-id\" : \"12\"\n}\n"
        )
    );
    assert_eq!(
        qm(&h, "guest cmd 200 get-host-name").await,
        ok("{\n   \"host-name\" : \"vm1\"\n}\n")
    );
    assert_eq!(
        qm(&h, "guest cmd 200 fsfreeze-status").await,
        ok("thawed\n")
    );
    let info = qm(&h, "guest cmd 200 info").await;
    assert!(info.out.contains("\"name\" : \"guest-exec\""), "{info:?}");
    assert!(info.out.contains("\"enabled\" : true"));
    let nics = qm(&h, "guest cmd 200 network-get-interfaces").await;
    assert!(nics.out.contains("\"name\" : \"ens18\""), "{nics:?}");
    assert!(
        nics.out
            .contains("\"hardware-address\" : \"bc:24:11:00:00:c8\"")
    );
    let bad = qm(&h, "guest cmd 200 foo").await;
    assert_eq!(bad.code, 255);
    assert!(
        bad.err.starts_with("400 Parameter verification failed.\ncommand: value 'foo' does not have a value in the enumeration 'fsfreeze-freeze, fsfreeze-status, "),
        "{bad:?}"
    );
}

// ---- §9 guest exec ----------------------------------------------------------

#[tokio::test]
async fn exec_runs_without_a_shell_and_prints_decoded_json() {
    let h = host();
    assert_eq!(
        exec_200(&h, &[], &["sh", "-c", "echo hi; exit 3"]).await,
        ok("{\n   \"exitcode\" : 3,\n   \"exited\" : 1,\n   \"out-data\" : \"hi\\n\"\n}\n")
    );
    assert_eq!(
        exec_200(
            &h,
            &["--timeout", "40"],
            &["timeout", "-k", "5", "30", "sh", "-c", "echo $((6*7))"]
        )
        .await,
        ok("{\n   \"exitcode\" : 0,\n   \"exited\" : 1,\n   \"out-data\" : \"42\\n\"\n}\n")
    );
    assert_eq!(
        exec_200(&h, &[], &["sh", "-c", "echo oops >&2; cat /etc/hostname"]).await,
        ok(
            "{\n   \"err-data\" : \"oops\\n\",\n   \"exitcode\" : 0,\n   \"exited\" : 1,\n   \"out-data\" : \"vm1\\n\"\n}\n"
        )
    );
    // No shell: the words are the argv.
    assert_eq!(
        exec_200(&h, &[], &["echo", "$HOME", "a  b"]).await,
        ok("{\n   \"exitcode\" : 0,\n   \"exited\" : 1,\n   \"out-data\" : \"$HOME a  b\\n\"\n}\n")
    );
    assert_eq!(
        exec_200(&h, &[], &["nosuch", "x"]).await,
        fail(
            "Agent error: Guest agent command failed, error was 'Failed to execute child process \u{201c}nosuch\u{201d} (No such file or directory)'\n",
            255
        )
    );
    assert_eq!(
        qm(&h, "guest exec 200").await,
        fail("command or input-data (or both) required\n", 255)
    );
    assert_eq!(
        qm(&h, "guest exec 200 --synchronous 0 --timeout 5 -- true").await,
        fail(
            "400 Parameter verification failed.\nsynchronous: needs to be set for 'timeout'\nqm guest exec <vmid> [<extra-args>] [OPTIONS]\n",
            255
        )
    );
    assert_eq!(
        qm(&h, "guest exec 201 -- true").await,
        fail("VM 201 is not running\n", 255)
    );
    // The guest is its own machine: its files, not the node's.
    assert!(h.vm_file(200, "/etc/motd").is_some());
    let r = exec_200(&h, &[], &["sh", "-c", "echo x > /tmp/in-vm"]).await;
    assert_eq!(r.code, 0);
    assert_eq!(h.vm_file(200, "/tmp/in-vm").unwrap(), b"x\n");
    assert!(h.host_file("/tmp/in-vm").is_none());
}

#[tokio::test]
async fn exec_reports_a_signal() {
    let h = host();
    assert_eq!(
        exec_200(&h, &[], &["sh", "-c", "kill -9 $$"]).await,
        ok("{\n   \"exited\" : 1,\n   \"signal\" : 9\n}\n")
    );
}

#[tokio::test]
async fn pass_stdin_is_binary_safe_and_limited_to_one_mib() {
    let h = host();
    let data: Vec<u8> = (0..1024 * 1024).map(|i| (i * 7 + i / 251) as u8).collect();
    let args = [
        "guest",
        "exec",
        "200",
        "--pass-stdin",
        "1",
        "--timeout",
        "60",
        "--",
        "sh",
        "-c",
        "cat >> \"$1\"",
        "sh",
        "/tmp/.x.part",
    ];
    for _ in 0..2 {
        let (r, _) = qm_with(&h, 0, &args, data.clone()).await;
        assert_eq!(r, ok("{\n   \"exitcode\" : 0,\n   \"exited\" : 1\n}\n"));
    }
    let mut twice = data.clone();
    twice.extend_from_slice(&data);
    assert_eq!(h.vm_file(200, "/tmp/.x.part").unwrap(), twice);
    let mut big = data.clone();
    big.push(0);
    let (r, _) = qm_with(&h, 0, &args, big).await;
    assert_eq!(
        r,
        fail("'input-data' (STDIN) is limited to 1 MiB, aborting\n", 255)
    );
}

#[tokio::test]
async fn binary_output_comes_out_as_perl_prints_bytes() {
    let h = host();
    h.change_vm(200, |vm| {
        vm.fs
            .write_file("/root/bin", &[0x00, 0x41, 0xe9, 0x0a], 0o644)
            .unwrap();
    });
    let (r, raw) = qm_with(
        &h,
        0,
        &["guest", "exec", "200", "--", "cat", "/root/bin"],
        Vec::new(),
    )
    .await;
    assert_eq!(r.code, 0);
    // NUL escaped, é (0xE9) written as the UTF-8 of U+00E9.
    let want = b"{\n   \"exitcode\" : 0,\n   \"exited\" : 1,\n   \"out-data\" : \"\\u0000A\xc3\xa9\\n\"\n}\n";
    assert_eq!(raw, want.to_vec());
}

#[tokio::test]
async fn the_file_commands_the_client_runs_work_in_the_guest() {
    let h = host();
    let exec = |argv: Vec<&'static str>| {
        let h = h.clone();
        async move {
            let mut args = vec!["guest", "exec", "200", "--"];
            args.extend(argv);
            let r = qm_args(&h, &args).await;
            assert_eq!(r.code, 0, "{r:?}");
            let v: serde_json::Value = serde_json::from_str(&r.out).unwrap();
            (
                v["exitcode"].as_i64().unwrap(),
                v["out-data"].as_str().unwrap_or("").to_string(),
            )
        }
    };
    let (code, path) = exec(vec![
        "sh",
        "-c",
        "umask 077 && mktemp \"$1\"",
        "sh",
        "/root/.f.XXXXXX",
    ])
    .await;
    assert_eq!(code, 0);
    let path = path.trim_end().to_string();
    assert!(path.starts_with("/root/.f."), "{path}");
    let leaked: &'static str = Box::leak(path.clone().into_boxed_str());
    h.change_vm(200, |vm| vm.fs.append(leaked, b"hello world\n").unwrap());
    assert_eq!(
        exec(vec!["stat", "-c", "%s %a", leaked]).await,
        (0, "12 600\n".into())
    );
    let (_, sum) = exec(vec!["sha256sum", leaked]).await;
    assert_eq!(
        sum,
        format!("a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447  {path}\n")
    );
    assert_eq!(
        exec(vec![
            "sh",
            "-c",
            "tail -c +7 \"$1\" | head -c 5 | base64 -w 0",
            "sh",
            leaked
        ])
        .await,
        (0, "d29ybGQ=".into())
    );
    assert_eq!(exec(vec!["mv", "-f", leaked, "/root/f"]).await.0, 0);
    assert_eq!(exec(vec!["chmod", "644", "/root/f"]).await.0, 0);
    assert_eq!(
        exec(vec!["stat", "-c", "%s %a", "/root/f"]).await,
        (0, "12 644\n".into())
    );
    assert_eq!(exec(vec!["test", "-d", "/root"]).await.0, 0);
    assert_eq!(exec(vec!["test", "-e", "/root/f"]).await.0, 0);
    assert_eq!(exec(vec!["rm", "-f", "/root/f"]).await.0, 0);
    assert_eq!(exec(vec!["test", "-e", "/root/f"]).await.0, 1);
    assert_eq!(exec(vec!["test", "-d", "/nope"]).await.0, 1);
}

#[tokio::test(start_paused = true)]
async fn exec_timeout_returns_the_pid_and_the_process_goes_on() {
    let h = host();
    let t0 = tokio::time::Instant::now();
    let args = [
        "guest",
        "exec",
        "200",
        "--timeout",
        "2",
        "--",
        "sh",
        "-c",
        "sleep 10; echo done",
    ];
    let r = qm_args(&h, &args).await;
    assert_eq!(r.err, "timeout reached, returning pid\n");
    assert_eq!(r.code, 0);
    let v: serde_json::Value = serde_json::from_str(&r.out).unwrap();
    let pid = v["pid"].as_u64().unwrap();
    assert_eq!(r.out, format!("{{\n   \"pid\" : {pid}\n}}\n"));
    assert!(t0.elapsed() >= Duration::from_secs(2));
    // It runs in the guest, not on the node.
    assert!(h.running().iter().all(|p| !p.args.contains("sleep 10")));
    assert!(
        h.vm_processes(200)
            .iter()
            .any(|p| p.args.contains("sleep 10"))
    );
    let status = format!("guest exec-status 200 {pid}");
    assert_eq!(qm(&h, &status).await, ok("{\n   \"exited\" : 0\n}\n"));
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(
        qm(&h, &status).await,
        ok("{\n   \"exitcode\" : 0,\n   \"exited\" : 1,\n   \"out-data\" : \"done\\n\"\n}\n")
    );
    // Reported once, then forgotten, as the agent does.
    assert_eq!(
        qm(&h, &status).await,
        fail("Agent error: Invalid parameter 'pid'\n", 255)
    );
    // --synchronous 0: the pid at once.
    let r = qm(&h, "guest exec 200 --synchronous 0 -- true").await;
    assert!(r.out.starts_with("{\n   \"pid\" : "), "{r:?}");
}

#[tokio::test(start_paused = true)]
async fn an_inner_timeout_ends_the_command_and_its_children() {
    let h = host();
    let r = exec_200(
        &h,
        &["--timeout", "40"],
        &[
            "timeout",
            "-k",
            "5",
            "3",
            "sh",
            "-c",
            "sleep 100 & sleep 200",
        ],
    )
    .await;
    assert_eq!(r, ok("{\n   \"exitcode\" : 124,\n   \"exited\" : 1\n}\n"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(h.vm_processes(200).is_empty(), "{:?}", h.vm_processes(200));
}

#[tokio::test]
async fn stopping_a_vm_ends_its_processes() {
    let h = host();
    let r = qm(&h, "guest exec 200 --synchronous 0 -- sleep 1000").await;
    assert_eq!(r.code, 0);
    assert_eq!(h.vm_processes(200).len(), 1);
    assert_eq!(qm(&h, "stop 200").await, ok(""));
    for _ in 0..50 {
        if h.vm_processes(200).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(h.vm_processes(200).is_empty());
}

// ---- pvesh: VMs in the API, the agent's file endpoints (§11) ----------------

async fn pvesh(host: &Host, args: &[&str]) -> Ran {
    let ctx = crate::programs::login_ctx(host, "root");
    let args = argv(args);
    capture(Input::empty(), async |io| {
        crate::pvesh::run(&ctx, &args, io).await
    })
    .await
    .lossy()
}

#[tokio::test]
async fn cluster_resources_list_vms_beside_containers() {
    let h = host();
    h.set_vm_lock(201, Some("backup"));
    let r = pvesh(
        &h,
        &[
            "get",
            "/cluster/resources",
            "--type",
            "vm",
            "--output-format",
            "json",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{r:?}");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&r.out).unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        ["lxc/100", "lxc/101", "lxc/102", "qemu/200", "qemu/201"]
    );
    let vm1 = &rows[3];
    for (k, v) in [
        ("type", serde_json::json!("qemu")),
        ("name", "vm1".into()),
        ("status", "running".into()),
        ("node", "pve".into()),
        ("maxmem", 2147483648u64.into()),
        ("maxdisk", 34359738368u64.into()),
        ("maxcpu", 2.into()),
        ("disk", 0.into()),
        ("template", 0.into()),
        ("vmid", 200.into()),
    ] {
        assert_eq!(vm1[k], v, "{k}");
    }
    assert_eq!(rows[4]["lock"], "backup");
    assert_eq!(rows[4]["status"], "stopped");
}

#[tokio::test]
async fn qemu_list_and_current_status() {
    let h = host();
    let r = pvesh(&h, &["get", "/nodes/pve/qemu", "--output-format", "json"]).await;
    let rows: Vec<serde_json::Value> = serde_json::from_str(&r.out).unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.get("qmpstatus").is_none()));
    let r = pvesh(
        &h,
        &[
            "get",
            "/nodes/localhost/qemu/200/status/current",
            "--output-format",
            "json",
        ],
    )
    .await;
    let cur: serde_json::Value = serde_json::from_str(&r.out).unwrap();
    assert_eq!(cur["qmpstatus"], "running");
    assert_eq!(cur["agent"], 1);
    assert_eq!(cur["ha"], serde_json::json!({"managed": 0}));
    assert_eq!(cur["pid"], 20200);
    let r = pvesh(&h, &["get", "/nodes/pve/qemu/100/status/current"]).await;
    assert_eq!(
        r,
        fail(
            "Configuration file 'nodes/pve/qemu-server/100.conf' does not exist\n",
            255
        )
    );
}

/// The agent endpoints of VM 200, named through the node's `localhost` alias.
const FILE_WRITE: &str = "/nodes/localhost/qemu/200/agent/file-write";
const FILE_READ: &str = "/nodes/localhost/qemu/200/agent/file-read";

/// `pvesh create FILE_WRITE --file PATH --content CONTENT`, then `more`.
async fn file_write(host: &Host, path: &str, content: &str, more: &[&str]) -> Ran {
    let mut args = vec!["create", FILE_WRITE, "--file", path, "--content", content];
    args.extend(more);
    pvesh(host, &args).await
}

/// `pvesh get FILE_READ --file PATH`, then `more`.
async fn file_read(host: &Host, path: &str, more: &[&str]) -> Ran {
    let mut args = vec!["get", FILE_READ, "--file", path];
    args.extend(more);
    pvesh(host, &args).await
}

#[tokio::test]
async fn file_write_truncates_and_file_read_returns_what_is_there() {
    let h = host();
    assert_eq!(file_write(&h, "/root/x", "hello\n", &[]).await, ok(""));
    assert_eq!(h.vm_file(200, "/root/x").unwrap(), b"hello\n");
    assert_eq!(
        file_write(&h, "/root/x", "AAEC/w==", &["--encode", "0"]).await,
        ok("")
    );
    assert_eq!(h.vm_file(200, "/root/x").unwrap(), [0, 1, 2, 255]);
    assert_eq!(
        file_read(&h, "/root/x", &["--decode", "0", "--output-format", "json"]).await,
        ok("{\"bytes-read\":4,\"content\":\"AAEC/w==\"}\n")
    );
    assert_eq!(
        file_read(&h, "/root/x", &["--count", "2", "--output-format", "json"]).await,
        ok("{\"bytes-read\":2,\"content\":\"\\u0000\\u0001\",\"truncated\":1}\n")
    );
    let long = "a".repeat(61441);
    let r = file_write(&h, "/root/y", &long, &[]).await;
    assert_eq!(r.code, 255);
    assert!(
        r.err.starts_with(
            "400 Parameter verification failed.\ncontent: value may only be 61440 characters long\n"
        ),
        "{r:?}"
    );
    assert_eq!(
        file_read(&h, "/nope", &["--output-format", "json"]).await,
        fail(
            "Agent error: failed to open file '/nope' (mode: 'r'): No such file or directory\n",
            255
        )
    );
    let r = file_read(&h, "/root/x", &["--count", "16777217"]).await;
    assert!(
        r.err
            .contains("count: value must have a maximum value of 16777216"),
        "{r:?}"
    );
    assert_eq!(
        pvesh(
            &h,
            &[
                "get",
                "/nodes/pve/qemu/201/agent/file-read",
                "--file",
                "/etc/hostname"
            ]
        )
        .await,
        fail("VM 201 is not running\n", 255)
    );
    // Past 16 MiB: truncated, with the warning when the count is the default.
    h.change_vm(200, |vm| {
        vm.fs
            .write_file("/root/big", &vec![b'x'; 16 * 1024 * 1024 + 10], 0o644)
            .unwrap()
    });
    let r = file_read(&h, "/root/big", &["--output-format", "json"]).await;
    assert_eq!(r.code, 0);
    assert_eq!(
        r.err,
        "agent file-read: reached maximum read size: 16777216 bytes. output might be truncated.\n"
    );
    let v: serde_json::Value = serde_json::from_str(&r.out).unwrap();
    assert_eq!(v["bytes-read"], 16777216);
    assert_eq!(v["truncated"], 1);
}

// ---- §14 one vmid space ----------------------------------------------------

#[tokio::test]
async fn pct_does_not_see_vms() {
    let h = host();
    let ctx = crate::programs::login_ctx(&h, "root");
    let args = argv(&["status", "200"]);
    let ran = capture(Input::empty(), async |io| {
        crate::pct::run(&ctx, &args, io).await
    })
    .await;
    assert_eq!(
        ran.utf8(),
        fail(
            "Configuration file 'nodes/pve/lxc/200.conf' does not exist\n",
            255
        )
    );
}

// ---- §12 snapshots ------------------------------------------------------------

const SNAP_SCSI0: &str = "snapshotting 'drive-scsi0' (local-lvm:vm-200-disk-0)\n";

fn vm_text(h: &Host, vmid: u32, path: &str) -> String {
    String::from_utf8(h.vm_file(vmid, path).unwrap()).unwrap()
}

fn put_vm_file(h: &Host, vmid: u32, path: &str, text: &str) {
    h.change_vm(vmid, |vm| {
        vm.fs.write_file(path, text.as_bytes(), 0o644).unwrap();
    });
}

#[tokio::test]
async fn snapshot_names_and_the_checks_before_the_task() {
    let h = host();
    let usage = "qm snapshot <vmid> <snapname> [OPTIONS]\n";
    answers(
        &h,
        &[
            (
                "snapshot 200 current",
                fail("unable to use snapshot name 'current' (reserved name)\n", 255),
            ),
            (
                "snapshot 200 PenDing",
                fail("unable to use snapshot name 'PenDing' (reserved name)\n", 255),
            ),
            (
                "snapshot 999 s1",
                fail(NO_200, 255),
            ),
            (
                "snapshot 200 x",
                fail(
                    &format!("400 Parameter verification failed.\nsnapname: invalid format - invalid configuration ID 'x'\n\n{usage}"),
                    255,
                ),
            ),
            (
                "snapshot 200",
                fail(&format!("400 not enough arguments\n{usage}"), 255),
            ),
        ],
    )
    .await;
    // `Current` is not reserved, `vzdump` is allowed for a VM.
    assert_eq!(
        qm(&h, "snapshot 201 Current").await,
        ok("snapshotting 'drive-scsi0' (local-lvm:vm-201-disk-0)\n")
    );
    assert_eq!(qm(&h, "snapshot 201 vzdump").await.code, 0);
    assert_eq!(h.vm(201).unwrap().snapshots.len(), 2);
}

#[tokio::test]
async fn snapshot_task_checks_in_order() {
    let h = host_with(
        "[[vms]]\nvmid = 300\ntemplate = true\nlock = \"backup\"\n\n[[vms]]\nvmid = 301\n[vms.config]\nscsi0 = \"local:301/vm-301-disk-0.raw,size=4G\"\n\n[[vms]]\nvmid = 302\n[vms.config]\nscsi0 = \"local:302/vm-302-disk-0.qcow2,size=4G\"\nscsi1 = \"nas:vm-302-disk-1,size=4G\"\n",
    );
    assert_eq!(qm(&h, "snapshot 201 s1").await.code, 0);
    h.set_vm_lock(201, Some("backup"));
    answers(
        &h,
        &[
            (
                "snapshot 300 s1",
                fail("you can't take a snapshot if it's a template\n", 255),
            ),
            ("snapshot 201 s1", fail("VM is locked (backup)\n", 255)),
            (
                "snapshot 301 s1",
                fail("snapshot feature is not available\n", 255),
            ),
            (
                "snapshot 302 s1",
                fail("storage 'nas' does not exist\n", 255),
            ),
        ],
    )
    .await;
    h.set_vm_lock(201, None);
    assert_eq!(
        qm(&h, "snapshot 201 s1").await,
        fail("snapshot name 's1' already used\n", 255)
    );
    // Nothing was left behind: no lock, no snapshot.
    for id in [301, 302] {
        let vm = h.vm(id).unwrap();
        assert_eq!((vm.lock, vm.snapshots.len()), (None, 0), "{id}");
    }
}

#[tokio::test]
async fn a_snapshot_keeps_the_config_and_the_filesystem() {
    let h = host();
    put_vm_file(&h, 200, "/root/f", "one\n");
    assert_eq!(
        qm(&h, "snapshot 200 s1 --description before").await,
        ok(SNAP_SCSI0)
    );
    let vm = h.vm(200).unwrap();
    assert_eq!(vm.lock, None);
    assert_eq!(vm.status, VmStatus::Running);
    let snaptime = vm.snapshots[0].snap.snaptime;
    let config = qm(&h, "config 200").await.out;
    assert!(config.contains("\nparent: s1\n"), "{config}");
    let section = qm(&h, "config 200 --snapshot s1").await;
    assert_eq!(section.code, 0);
    let mut want: Vec<String> = config
        .lines()
        .filter(|l| !l.starts_with("parent: "))
        .map(str::to_string)
        .collect();
    want.push("description: before".into());
    want.push(format!("snaptime: {snaptime}"));
    want.sort();
    let mut got: Vec<String> = section.out.lines().map(str::to_string).collect();
    got.sort();
    assert_eq!(got, want);
    assert_eq!(
        qm(&h, "config 200 --snapshot s2").await,
        fail("snapshot 's2' does not exist\n", 255)
    );
    // The second one hangs under the first; `current` under the second.
    put_vm_file(&h, 200, "/root/f", "two\n");
    assert_eq!(qm(&h, "snapshot 200 s2").await, ok(SNAP_SCSI0));
    let t1 = crate::unix::format_datetime(snaptime);
    let t2 = crate::unix::format_datetime(h.vm(200).unwrap().snapshots[1].snap.snaptime);
    assert_eq!(
        qm(&h, "listsnapshot 200").await,
        ok(&format!(
            "`-> s1                          {t1}     before\n `-> s2                         {t2}     no-description\n  `-> current                                           You are here!\n"
        ))
    );
    assert_eq!(qm(&h, "listsnapshot 999").await, fail(NO_200, 255));
    assert_eq!(
        qm(&h, "listsnapshot 201").await,
        ok("`-> current                                             You are here!\n")
    );
}

#[tokio::test(start_paused = true)]
async fn the_freeze_step_of_a_running_vm() {
    let h = host();
    h.set_vm_config(200, "agent", Some("0"));
    assert_eq!(
        qm(&h, "snapshot 200 s1").await,
        ok(&format!(
            "skipping guest filesystem freeze - disabled in VM options\n{SNAP_SCSI0}"
        ))
    );
    h.set_vm_config(200, "agent", Some("1"));
    h.set_agent_hangs(200, true);
    let t0 = tokio::time::Instant::now();
    assert_eq!(
        qm(&h, "snapshot 200 s2").await,
        ok(&format!(
            "skipping guest filesystem freeze - agent configured but not running?\n{SNAP_SCSI0}"
        ))
    );
    assert_eq!(t0.elapsed(), Duration::from_secs(3));
    // A stopped VM has no freeze step, and `--vmstate` is ignored for it.
    assert_eq!(
        qm(&h, "snapshot 201 s1 --vmstate 1").await,
        ok("snapshotting 'drive-scsi0' (local-lvm:vm-201-disk-0)\n")
    );
    let section = qm(&h, "config 201 --snapshot s1").await.out;
    assert!(!section.contains("vmstate"), "{section}");
}

#[tokio::test(start_paused = true)]
async fn a_snapshot_with_the_ram_holds_the_lock_and_saves_the_state() {
    let h = host();
    let task = {
        let h = h.clone();
        tokio::spawn(async move { qm(&h, "snapshot 200 s1 --vmstate 1").await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(h.vm(200).unwrap().lock.as_deref(), Some("snapshot"));
    assert_eq!(
        qm(&h, "snapshot 200 s2").await,
        fail("VM is locked (snapshot)\n", 255)
    );
    assert_eq!(
        task.await.unwrap(),
        ok(&format!(
            "saving VM state and RAM using storage 'local-lvm'\ncompleted saving the VM state in 1s, saved 256.00 MiB\n{SNAP_SCSI0}"
        ))
    );
    assert_eq!(h.vm(200).unwrap().lock, None);
    let section = qm(&h, "config 200 --snapshot s1").await.out;
    for line in [
        "vmstate: local-lvm:vm-200-state-s1\n",
        "runningmachine: pc-i440fx-9.2+pve1\n",
        "runningcpu: x86-64-v2-AES,enforce,+kvm_pv_eoi,+kvm_pv_unhalt\n",
    ] {
        assert!(section.contains(line), "{section}");
    }
    // A RAM state cannot hold a guest process the fake could bring back.
    let started = qm(&h, "guest exec 200 --synchronous 0 -- sleep 60").await;
    assert_eq!(started.code, 0, "{started:?}");
    assert_eq!(
        qm(&h, "snapshot 200 s3 --vmstate 1").await,
        fail(
            "fake-pve: qm snapshot --vmstate of a VM with processes running in its guest is not emulated\n",
            255
        )
    );
    h.set_vm_config(200, "hostpci0", Some("0000:01:00.0"));
    assert_eq!(
        qm(&h, "snapshot 200 s3 --vmstate 1").await,
        fail(
            "fake-pve: qm snapshot --vmstate of a VM with devices that cannot be migrated is not emulated\n",
            255
        )
    );
}

#[tokio::test]
async fn every_disk_but_the_cdrom_is_snapshotted_in_volume_order() {
    let h = host();
    h.set_vm_config(201, "virtio0", Some("local-lvm:vm-201-disk-2,size=1G"));
    h.set_vm_config(201, "scsi10", Some("local-lvm:vm-201-disk-3,size=1G"));
    h.set_vm_config(201, "scsi2", Some("local:201/vm-201-disk-1.qcow2,size=1G"));
    h.set_vm_config(201, "efidisk0", Some("local-lvm:vm-201-disk-4,size=4M"));
    assert_eq!(
        qm(&h, "snapshot 201 s1").await,
        ok(
            "snapshotting 'drive-scsi0' (local-lvm:vm-201-disk-0)\nsnapshotting 'drive-scsi2' (local:201/vm-201-disk-1.qcow2)\nsnapshotting 'drive-scsi10' (local-lvm:vm-201-disk-3)\nsnapshotting 'drive-virtio0' (local-lvm:vm-201-disk-2)\nsnapshotting 'drive-efidisk0' (local-lvm:vm-201-disk-4)\n"
        )
    );
}

#[tokio::test]
async fn rollback_kills_the_vm_and_restores_config_and_files() {
    let h = host();
    put_vm_file(&h, 200, "/root/f", "one\n");
    assert_eq!(qm(&h, "snapshot 200 s1 --description old").await.code, 0);
    put_vm_file(&h, 200, "/root/f", "two\n");
    h.set_vm_config(200, "memory", Some("4096"));
    h.set_vm_config(200, "description", Some("kept"));
    assert_eq!(qm(&h, "snapshot 200 s2").await.code, 0);
    let started = qm(&h, "guest exec 200 --synchronous 0 -- sleep 60").await;
    assert_eq!(started.code, 0, "{started:?}");
    assert!(!h.vm_processes(200).is_empty());
    assert_eq!(qm(&h, "rollback 200 s1").await, ok(""));
    let vm = h.vm(200).unwrap();
    assert_eq!(vm.status, VmStatus::Stopped);
    // The guest's processes were killed; they end as soon as they run again.
    for _ in 0..100 {
        if h.vm_processes(200).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(h.vm_processes(200).is_empty());
    assert_eq!(vm_text(&h, 200, "/root/f"), "one\n");
    assert_eq!(vm.config.get("memory").map(String::as_str), Some("2048"));
    assert_eq!(
        vm.config.get("description").map(String::as_str),
        Some("kept")
    );
    assert_eq!(vm.parent_snapshot.as_deref(), Some("s1"));
    assert_eq!(vm.snapshots.len(), 2);
    // `--start 1` starts it; the snapshot itself is unchanged by the rollback.
    put_vm_file(&h, 200, "/root/f", "three\n");
    assert_eq!(qm(&h, "rollback 200 s2 --start 1").await, ok(""));
    assert_eq!(status_of(&h, 200), VmStatus::Running);
    assert_eq!(vm_text(&h, 200, "/root/f"), "two\n");
    assert_eq!(qm(&h, "rollback 200 s1").await, ok(""));
    assert_eq!(vm_text(&h, 200, "/root/f"), "one\n");
}

#[tokio::test(start_paused = true)]
async fn rollback_to_a_ram_state_ends_running() {
    let h = host();
    assert_eq!(qm(&h, "snapshot 200 s1 --vmstate 1").await.code, 0);
    h.set_vm_status(200, VmStatus::Stopped);
    assert_eq!(qm(&h, "rollback 200 s1").await, ok(""));
    assert_eq!(status_of(&h, 200), VmStatus::Running);
    assert_eq!(qm(&h, "guest cmd 200 ping").await, ok(""));
}

#[tokio::test]
async fn rollback_and_delsnapshot_checks_in_order() {
    let h = host_with("[[vms]]\nvmid = 300\n");
    assert_eq!(qm(&h, "snapshot 300 s1").await.code, 0);
    h.change_vm(300, |vm| {
        vm.template = true;
        vm.lock = Some("backup".into());
    });
    answers(
        &h,
        &[
            ("rollback 999 s1", fail(NO_200, 255)),
            ("delsnapshot 999 s1", fail(NO_200, 255)),
            (
                "rollback 300 s2",
                fail("snapshot 's2' does not exist\n", 255),
            ),
            (
                "delsnapshot 300 s2",
                fail("snapshot 's2' does not exist\n", 255),
            ),
            (
                "rollback 300 s1",
                fail("you can't rollback if vm is a template\n", 255),
            ),
            ("delsnapshot 300 s1", fail("VM is locked (backup)\n", 255)),
            (
                "delsnapshot 300 s1 --force",
                fail("VM is locked (backup)\n", 255),
            ),
        ],
    )
    .await;
    h.change_vm(300, |vm| vm.template = false);
    answers(
        &h,
        &[("rollback 300 s1", fail("VM is locked (backup)\n", 255))],
    )
    .await;
    h.change_vm(300, |vm| {
        vm.template = true;
        vm.lock = None;
    });
    assert_eq!(
        qm(&h, "delsnapshot 300 s1").await,
        fail("you can't delete a snapshot if vm is a template\n", 255)
    );
}

#[tokio::test]
async fn delsnapshot_reparents_the_children() {
    let h = host();
    for s in ["a1", "b2", "c3"] {
        assert_eq!(qm(&h, &format!("snapshot 201 {s}")).await.code, 0);
    }
    assert_eq!(qm(&h, "delsnapshot 201 b2").await, ok(""));
    let vm = h.vm(201).unwrap();
    let parents: Vec<(String, Option<String>)> = vm
        .snapshots
        .iter()
        .map(|s| (s.snap.name.clone(), s.snap.parent.clone()))
        .collect();
    assert_eq!(
        parents,
        [
            ("a1".to_string(), None),
            ("c3".to_string(), Some("a1".to_string()))
        ]
    );
    assert_eq!(qm(&h, "delsnapshot 201 c3 --force").await, ok(""));
    assert_eq!(h.vm(201).unwrap().parent_snapshot.as_deref(), Some("a1"));
    let section = qm(&h, "config 201").await.out;
    assert!(section.contains("\nparent: a1\n"), "{section}");
    assert_eq!(qm(&h, "delsnapshot 201 a1").await, ok(""));
    assert!(!qm(&h, "config 201").await.out.contains("parent:"));
}
