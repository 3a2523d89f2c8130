//! The exact bytes of every output and error pct-fidelity.md gives.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::fs::Fs;
use crate::host::{Container, Faults, Host, SignalPolicy, Snapshot, State, Status};
use crate::io::Input;
use crate::test_support::{Ran, argv, capture, fail, ok};

const PASSWD: &str =
    "root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n";
const GROUP: &str = "root:x:0:\nwww-data:x:33:\n";

fn base_fs() -> Fs {
    let mut fs = Fs::new();
    for dir in ["/etc", "/root", "/tmp"] {
        fs.mkdir_all(dir, 0o755).unwrap();
    }
    fs.write_file("/etc/passwd", PASSWD.as_bytes(), 0o644)
        .unwrap();
    fs.write_file("/etc/group", GROUP.as_bytes(), 0o644)
        .unwrap();
    fs
}

fn container(vmid: u32, hostname: &str, status: Status) -> Container {
    let config: BTreeMap<String, String> = [
        ("arch", "amd64".to_string()),
        ("cores", "1".into()),
        ("hostname", hostname.into()),
        ("memory", "512".into()),
        ("net0", "name=eth0,bridge=vmbr0,ip=dhcp,type=veth".into()),
        ("ostype", "debian".into()),
        ("rootfs", format!("local-lvm:vm-{vmid}-disk-0,size=8G")),
        ("swap", "512".into()),
        ("unprivileged", "1".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let mut fs = base_fs();
    fs.write_file("/etc/hostname", format!("{hostname}\n").as_bytes(), 0o644)
        .unwrap();
    Container {
        vmid,
        status,
        lock: None,
        template: false,
        tags: None,
        ha_managed: false,
        config,
        lxc: Vec::new(),
        snapshots: Vec::new(),
        parent_snapshot: None,
        fs,
        refuses_stop: false,
        ignores_shutdown: false,
        started_at: (status == Status::Running).then(|| crate::fs::now_secs() - 100),
        metrics: Default::default(),
    }
}

fn state_with(containers: Vec<Container>) -> State {
    let mut fs = base_fs();
    fs.write_file("/tmp/hello.txt", b"hello\n", 0o644).unwrap();
    State {
        node: "pve".into(),
        fs,
        containers: containers.into_iter().map(|c| (c.vmid, c)).collect(),
        vms: BTreeMap::new(),
        scripts: Vec::new(),
        faults: Faults::default(),
        pve: crate::pve::Pve::V9,
        signal_policy: SignalPolicy::RefuseRoot,
        max_sessions: crate::host::DEFAULT_MAX_SESSIONS,
    }
}

/// 100 webserver running, 101 database stopped, 102 cache running.
fn host() -> Host {
    Host::new(state_with(vec![
        container(100, "webserver", Status::Running),
        container(101, "database", Status::Stopped),
        container(102, "cache", Status::Running),
    ]))
}

fn ctx(host: &Host, uid: u32) -> Ctx {
    Ctx {
        host: host.clone(),
        container: None,
        user: if uid == 0 {
            "root".into()
        } else {
            "www-data".into()
        },
        uid,
        pid: 1,
        sid: 1,
        cwd: "/root".into(),
        env: BTreeMap::new(),
        launch: crate::proc::Launch::NONE,
        refusal: Default::default(),
        umask: 0o022,
    }
}

async fn pct_as(host: &Host, uid: u32, args: &[&str]) -> Ran {
    let args = argv(args);
    let ctx = ctx(host, uid);
    capture(Input::empty(), async |io| run(&ctx, &args, io).await)
        .await
        .utf8()
}

/// Runs `pct` as root with whitespace-separated words.
async fn pct(host: &Host, line: &str) -> Ran {
    let words: Vec<&str> = line.split_whitespace().collect();
    pct_as(host, 0, &words).await
}

fn status_of(host: &Host, vmid: u32) -> Status {
    host.state().containers[&vmid].status
}

/// pct's answer to each line, in turn on `host`.
async fn answers(host: &Host, cases: &[(&str, Ran)]) {
    for (line, want) in cases {
        assert_eq!(&pct(host, line).await, want, "{line}");
    }
}

/// A usage error: the message, then the command's usage; status 255.
fn usage_error(msg: &str, usage: &str) -> Ran {
    fail(&format!("{msg}\n{usage}"), 255)
}

const STATUS_USAGE: &str = "pct status <vmid> [OPTIONS]\n";
const EXEC_USAGE: &str = "pct exec <vmid> [<extra-args>] [OPTIONS]\n";
const PULL_USAGE: &str = "pct pull <vmid> <path> <destination> [OPTIONS]\n";

// ---- §4 list ---------------------------------------------------------------

#[tokio::test]
async fn list_prints_a_padded_table_sorted_by_vmid() {
    let h = host();
    h.set_lock(101, Some("backup"));
    assert_eq!(
        pct(&h, "list").await,
        ok(concat!(
            "VMID       Status     Lock         Name                \n",
            "100        running                 webserver           \n",
            "101        stopped    backup       database            \n",
            "102        running                 cache               \n",
        ))
    );
}

#[tokio::test]
async fn list_names_fall_back_and_lose_whitespace() {
    let mut unnamed = container(105, "", Status::Stopped);
    unnamed.config.remove("hostname");
    let spaced = container(103, "my host", Status::Stopped);
    let long = container(104, "a-very-long-hostname-indeed.example", Status::Stopped);
    let h = Host::new(state_with(vec![unnamed, spaced, long]));
    assert_eq!(
        pct(&h, "list").await,
        ok(concat!(
            "VMID       Status     Lock         Name                \n",
            "103        stopped                 myhost              \n",
            "104        stopped                 a-very-long-hostname-indeed.example\n",
            "105        stopped                 CT105               \n",
        ))
    );
}

#[tokio::test]
async fn list_of_nothing_prints_nothing() {
    let h = Host::new(state_with(vec![]));
    assert_eq!(pct(&h, "list").await, ok(""));
}

#[tokio::test]
async fn list_takes_no_arguments() {
    assert_eq!(
        pct(&host(), "list 100").await,
        fail("400 too many arguments\npct list \n", 255)
    );
}

// ---- §1 CLI mechanics -----------------------------------------------------

fn listing(prefix: &str, blank_lines: bool) -> String {
    let groups: [&[&str]; 6] = [
        &[
            "clone <vmid> <newid> [OPTIONS]",
            "create <vmid> <ostemplate> [OPTIONS]",
            "destroy <vmid> [OPTIONS]",
            "list ",
            "migrate <vmid> <target> [OPTIONS]",
            "move-volume <vmid> <volume> [<storage>] [<target-vmid>] [<target-volume>] [OPTIONS]",
            "pending <vmid>",
            "resize <vmid> <disk> <size> [OPTIONS]",
            "restore <vmid> <ostemplate> [OPTIONS]",
            "template <vmid>",
        ],
        &["config <vmid> [OPTIONS]", "set <vmid> [OPTIONS]"],
        &[
            "delsnapshot <vmid> <snapname> [OPTIONS]",
            "listsnapshot <vmid>",
            "rollback <vmid> <snapname> [OPTIONS]",
            "snapshot <vmid> <snapname> [OPTIONS]",
        ],
        &[
            "reboot <vmid> [OPTIONS]",
            "resume <vmid>",
            "shutdown <vmid> [OPTIONS]",
            "start <vmid> [OPTIONS]",
            "stop <vmid> [OPTIONS]",
            "suspend <vmid>",
        ],
        &[
            "console <vmid> [OPTIONS]",
            "cpusets ",
            "df <vmid>",
            "enter <vmid> [OPTIONS]",
            "exec <vmid> [<extra-args>] [OPTIONS]",
            "fsck <vmid> [OPTIONS]",
            "fstrim <vmid> [OPTIONS]",
            "mount <vmid>",
            "pull <vmid> <path> <destination> [OPTIONS]",
            "push <vmid> <file> <destination> [OPTIONS]",
            "remote-migrate <vmid> [<target-vmid>] <target-endpoint> --target-bridge <string> --target-storage <string> [OPTIONS]",
            "rescan  [OPTIONS]",
            "status <vmid> [OPTIONS]",
            "unlock <vmid>",
            "unmount <vmid>",
        ],
        &["help [<extra-args>] [OPTIONS]"],
    ];
    let sep = if blank_lines { "\n" } else { "" };
    groups
        .iter()
        .map(|g| {
            g.iter()
                .map(|l| format!("       {prefix} {l}\n"))
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(sep)
}

#[tokio::test]
async fn help_lists_every_command_on_stdout() {
    let expected = format!(
        "USAGE: pct <COMMAND> [ARGS] [OPTIONS]\n\n{}",
        listing("pct", true)
    );
    assert_eq!(pct(&host(), "help").await, ok(&expected));
    assert_eq!(
        pct(&host(), "help stat").await,
        ok("USAGE: pct status <vmid> [OPTIONS]\n\n")
    );
}

#[tokio::test]
async fn unknown_and_missing_commands_abort_with_blank_lines_between_groups() {
    let usage = format!(
        "USAGE: pct <COMMAND> [ARGS] [OPTIONS]\n\n{}",
        listing("pct", true)
    );
    assert_eq!(
        pct(&host(), "foo 100").await,
        fail(&format!("ERROR: unknown command 'pct foo'\n{usage}"), 255)
    );
    assert_eq!(
        pct(&host(), "").await,
        fail(&format!("ERROR: no command specified\n{usage}"), 255)
    );
}

#[tokio::test]
async fn ambiguous_prefixes_abort_without_blank_lines() {
    for word in ["st", "li"] {
        let prefix = format!("pct {word}");
        let expected = format!(
            "ERROR: incomplete command '{prefix}'\nUSAGE: pct <COMMAND> [ARGS] [OPTIONS]\n\n{}",
            listing(&prefix, false)
        );
        assert_eq!(
            pct(&host(), &format!("{word} 100")).await,
            fail(&expected, 255)
        );
    }
}

#[tokio::test]
async fn unique_prefixes_and_option_spellings_work() {
    let h = host();
    for line in [
        "stat 100",
        "status 100 --verbose=0",
        "status --verbose no 100",
        "status -- 100",
    ] {
        assert_eq!(pct(&h, line).await, ok("status: running\n"), "{line}");
    }
    for line in [
        "status 100 --verbose",
        "status 100 -verbose",
        "status 100 --verb",
        "status 100 --VERBOSE",
        "status 100 --verbose=yes",
    ] {
        let r = pct(&h, line).await;
        assert_eq!(r.code, 0, "{line}: {r:?}");
        assert!(r.out.contains("\ntype: lxc\n"), "{line}: {r:?}");
    }
}

#[tokio::test]
async fn a_bare_boolean_swallows_the_next_word() {
    answers(
        &host(),
        &[
            (
                "status --verbose 100",
                usage_error("400 not enough arguments", STATUS_USAGE),
            ),
            (
                "status 100 --verbose maybe",
                usage_error("400 unable to parse boolean option", STATUS_USAGE),
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn a_vmid_given_only_as_an_option_is_not_enough() {
    answers(
        &host(),
        &[
            (
                "status --vmid 100",
                usage_error("400 not enough arguments", STATUS_USAGE),
            ),
            (
                "status",
                usage_error("400 not enough arguments", STATUS_USAGE),
            ),
            (
                "status 100 101",
                usage_error("400 too many arguments", STATUS_USAGE),
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn unknown_and_ambiguous_options_are_getopt_errors() {
    answers(
        &host(),
        &[
            (
                "status 100 --xyz",
                usage_error(
                    "Unknown option: xyz\n400 unable to parse option",
                    STATUS_USAGE,
                ),
            ),
            (
                "pull 100 /etc/hostname /tmp/h -P 644",
                usage_error(
                    "Option p is ambiguous (path, perms)\n400 unable to parse option",
                    PULL_USAGE,
                ),
            ),
            (
                "status -v 1 100",
                usage_error(
                    "Option v is ambiguous (verbose, vmid)\n400 unable to parse option",
                    STATUS_USAGE,
                ),
            ),
            (
                "shutdown 100 --timeout",
                fail(
                    "Option timeout requires an argument\n400 unable to parse option\npct shutdown <vmid> [OPTIONS]\n",
                    255,
                ),
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn non_root_callers_are_refused() {
    assert_eq!(
        pct_as(&host(), 33, &["list"]).await,
        fail("please run as root\n", 255)
    );
    assert_eq!(
        pct_as(&host(), 33, &["foo"]).await,
        fail("please run as root\n", 255)
    );
}

// ---- §2 vmid validation ---------------------------------------------------

#[tokio::test]
async fn vmids_are_type_checked_then_format_checked() {
    let h = host();
    for bad in ["abc", "1.5"] {
        assert_eq!(
            pct(&h, &format!("status {bad}")).await,
            fail(
                &format!(
                    "400 Parameter verification failed.\nvmid: type check ('integer') failed - got '{bad}'\n{STATUS_USAGE}"
                ),
                255
            ),
            "{bad}"
        );
    }
    for bad in ["99", "0100", "+100", "1000000000"] {
        assert_eq!(
            pct(&h, &format!("status {bad}")).await,
            fail(
                "400 Parameter verification failed.\nvmid: invalid format - value does not look like a valid VM ID\n\npct status <vmid> [OPTIONS]\n",
                255
            ),
            "{bad}"
        );
    }
    assert_eq!(
        pct(&h, "status -5").await,
        usage_error(
            "Unknown option: 5\n400 unable to parse option",
            STATUS_USAGE
        )
    );
    assert_eq!(Vmid::parse("999999999").map(Vmid::get), Ok(999_999_999));
}

#[tokio::test]
async fn absent_containers_have_no_configuration_file() {
    let h = host();
    let missing = "Configuration file 'nodes/pve/lxc/999.conf' does not exist\n";
    for line in [
        "status 999",
        "config 999",
        "exec 999 -- true",
        "enter 999",
        "listsnapshot 999",
        "start 999",
    ] {
        assert_eq!(pct(&h, line).await, fail(missing, 255), "{line}");
    }
}

// ---- §5 status and power commands -----------------------------------------

#[tokio::test]
async fn status_prints_the_state() {
    let h = host();
    answers(
        &h,
        &[
            ("status 100", ok("status: running\n")),
            ("status 101", ok("status: stopped\n")),
        ],
    )
    .await;
}

fn keys_of(out: &str) -> Vec<&str> {
    out.lines().map(|l| l.split(": ").next().unwrap()).collect()
}

#[tokio::test]
async fn verbose_status_of_a_stopped_container() {
    let h = host();
    assert_eq!(
        pct(&h, "status 101 --verbose").await,
        ok(concat!(
            "cpus: 1\n",
            "disk: 0\n",
            "diskread: 0\n",
            "diskwrite: 0\n",
            "maxdisk: 8589934592\n",
            "maxmem: 536870912\n",
            "maxswap: 536870912\n",
            "mem: 0\n",
            "name: database\n",
            "netin: 0\n",
            "netout: 0\n",
            "status: stopped\n",
            "swap: 0\n",
            "type: lxc\n",
            "uptime: 0\n",
            "vmid: 101\n",
        ))
    );
    {
        let mut st = h.state();
        let ct = st.containers.get_mut(&101).unwrap();
        ct.lock = Some("backup".into());
        ct.tags = Some("db;prod".into());
        ct.template = true;
        ct.config.remove("rootfs");
        ct.config.remove("memory");
    }
    let r = pct(&h, "status 101 --verbose").await;
    assert!(r.out.contains("lock: backup\n"), "{r:?}");
    assert!(r.out.contains("tags: db;prod\n"), "{r:?}");
    assert!(r.out.contains("template: 1\n"), "{r:?}");
    assert!(r.out.contains("maxdisk: 4294967296\n"), "{r:?}");
    assert!(r.out.contains("maxmem: 536870912\n"), "{r:?}");
}

#[tokio::test]
async fn verbose_status_of_a_running_container() {
    let r = pct(&host(), "status 100 --verbose").await;
    assert_eq!(r.code, 0);
    // pressure{cpu,io,memory}{full,some} sort between pid and status.
    let pressure: Vec<String> = ["cpu", "io", "memory"]
        .iter()
        .flat_map(|what| ["full", "some"].map(|level| format!("pressure{what}{level}")))
        .collect();
    let mut want = vec![
        "cpus",
        "disk",
        "diskread",
        "diskwrite",
        "maxdisk",
        "maxmem",
        "maxswap",
        "mem",
        "name",
        "netin",
        "netout",
        "pid",
    ];
    want.extend(pressure.iter().map(String::as_str));
    want.extend(["status", "swap", "type", "uptime", "vmid"]);
    assert_eq!(keys_of(&r.out), want);
    assert!(r.out.contains("pressurecpufull: 0.00\n"));
    assert!(r.out.contains("status: running\n"));
    let uptime: u64 = r
        .out
        .lines()
        .find_map(|l| l.strip_prefix("uptime: "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(uptime >= 100);

    // The fixture's live figures, as pvesh reports them too.
    let h = host();
    h.change_container(100, |ct| {
        ct.metrics = crate::host::Metrics {
            mem: Some(268435456),
            netin: Some(1234),
            diskwrite: Some(99),
            ..Default::default()
        }
    });
    let r = pct(&h, "status 100 --verbose").await;
    for line in [
        "mem: 268435456\n",
        "netin: 1234\n",
        "diskwrite: 99\n",
        "swap: 0\n",
    ] {
        assert!(r.out.contains(line), "{line:?} not in {r:?}");
    }
}

#[tokio::test]
async fn start_and_stop_change_the_state_silently() {
    let h = host();
    assert_eq!(pct(&h, "start 101").await, ok(""));
    assert_eq!(status_of(&h, 101), Status::Running);
    assert!(h.state().containers[&101].started_at.is_some());
    assert_eq!(pct(&h, "stop 101").await, ok(""));
    assert_eq!(status_of(&h, 101), Status::Stopped);
    assert_eq!(
        pct(&h, "shutdown 100 --timeout 5 --forceStop").await,
        ok("")
    );
    assert_eq!(status_of(&h, 100), Status::Stopped);
    assert_eq!(pct(&h, "reboot 102").await, ok(""));
    assert_eq!(status_of(&h, 102), Status::Running);
}

#[tokio::test]
async fn power_command_errors() {
    let h = host();
    let cases = [
        ("start 100", "CT 100 already running\n"),
        ("stop 101", "CT 101 not running\n"),
        ("stop 999", "CT 999 not running\n"),
        ("shutdown 101", "CT 101 not running\n"),
        ("shutdown 999", "CT 999 not running\n"),
        ("reboot 101", "VM 101 not running\n"),
        ("reboot 999", "VM 999 not running\n"),
        (
            "start 999",
            "Configuration file 'nodes/pve/lxc/999.conf' does not exist\n",
        ),
    ];
    for (line, err) in cases {
        assert_eq!(pct(&h, line).await, fail(err, 255), "{line}");
    }
    h.state().containers.get_mut(&101).unwrap().template = true;
    assert_eq!(
        pct(&h, "start 101").await,
        fail("you can't start a CT if it's a template\n", 255)
    );
    assert_eq!(status_of(&h, 101), Status::Stopped);
}

#[tokio::test]
async fn locks_block_start_stop_shutdown_and_snapshot() {
    let h = host();
    h.set_lock(101, Some("backup"));
    answers(
        &h,
        &[
            ("start 101", fail("CT is locked (backup)\n", 255)),
            ("snapshot 101 before", fail("CT is locked (backup)\n", 255)),
            ("start 101 --skiplock", ok("")),
            ("shutdown 101", fail("CT is locked (backup)\n", 255)),
            ("stop 101 --skiplock", ok("")),
        ],
    )
    .await;
    // start and stop look at the running state before the lock
    h.set_lock(102, Some("backup"));
    answers(
        &h,
        &[
            ("start 102", fail("CT 102 already running\n", 255)),
            ("stop 102", fail("CT is locked (backup)\n", 255)),
        ],
    )
    .await;
    assert_eq!(status_of(&h, 102), Status::Running);
    // locks do not matter to status, list, config, exec checks, push, pull, reboot
    answers(
        &h,
        &[
            ("status 102", ok("status: running\n")),
            ("reboot 102", ok("")),
            ("push 102 /tmp/hello.txt /root/hello.txt", ok("")),
            ("pull 102 /etc/hostname /tmp/h", ok("")),
        ],
    )
    .await;
}

#[tokio::test]
async fn the_mounted_lock_blocks_only_shutdown() {
    let h = host();
    h.set_lock(101, Some("mounted"));
    answers(
        &h,
        &[
            ("start 101", ok("")),
            ("shutdown 101", fail("CT is locked (mounted)\n", 255)),
            ("stop 101", ok("")),
        ],
    )
    .await;
}

#[tokio::test]
async fn ha_managed_containers_are_requested() {
    let h = host();
    h.state().containers.get_mut(&101).unwrap().ha_managed = true;
    h.state().containers.get_mut(&100).unwrap().ha_managed = true;
    assert_eq!(
        pct(&h, "start 101").await,
        ok("Requesting HA start for CT 101\n")
    );
    assert_eq!(status_of(&h, 101), Status::Running);
    answers(
        &h,
        &[
            ("stop 101", ok("Requesting HA stop for CT 101\n")),
            ("shutdown 100", ok("Requesting HA stop for CT 100\n")),
        ],
    )
    .await;
    assert_eq!(status_of(&h, 100), Status::Stopped);
}

#[tokio::test]
async fn a_container_that_refuses_to_stop_keeps_running() {
    let h = host();
    h.set_refuses_stop(100, true);
    for line in ["stop 100", "shutdown 100", "shutdown 100 --forceStop"] {
        assert_eq!(
            pct(&h, line).await,
            fail("container did not stop\n", 255),
            "{line}"
        );
        assert_eq!(status_of(&h, 100), Status::Running);
    }
}

/// A container whose init ignores the clean shutdown: pct's timing and bytes
/// (lxc-stop waits the timeout; without --forceStop pct then polls N + 5 s more).
#[tokio::test(start_paused = true)]
async fn a_container_that_ignores_the_shutdown_request_is_waited_out() {
    let h = host();
    h.set_ignores_shutdown(100, true);
    let began = tokio::time::Instant::now();
    assert_eq!(
        pct(&h, "shutdown 100 --timeout 3").await,
        Ran {
            out: "command 'lxc-stop -n 100 --nokill --timeout 3' failed: exit code 1\n".into(),
            err: "container did not stop\n".into(),
            code: 255,
        }
    );
    assert_eq!(began.elapsed().as_secs(), 3 + 3 + 5);
    assert_eq!(status_of(&h, 100), Status::Running);

    let procs = h.processes().clone();
    let mut inside = procs.spawn(1, None, "root", "sleep 60".into(), Some(100));
    let began = tokio::time::Instant::now();
    assert_eq!(
        pct(&h, "shutdown 100 --timeout 3 --forceStop").await,
        ok("")
    );
    assert_eq!(began.elapsed().as_secs(), 3);
    assert_eq!(status_of(&h, 100), Status::Stopped);
    assert_eq!(inside.signalled().await, 9);

    // Reboot kills after the timeout (60 s when none is given) and starts it again.
    assert_eq!(pct(&h, "start 100").await, ok(""));
    let began = tokio::time::Instant::now();
    assert_eq!(pct(&h, "reboot 100").await, ok(""));
    assert_eq!(began.elapsed().as_secs(), 60);
    assert_eq!(status_of(&h, 100), Status::Running);

    // With --timeout 0 lxc-stop only asks, and pct waits for the stop without a limit.
    for line in [
        "shutdown 100 --timeout 0",
        "shutdown 100 --timeout 0 --forceStop",
    ] {
        let waited = tokio::time::timeout(Duration::from_secs(24 * 3600), pct(&h, line)).await;
        assert!(waited.is_err(), "{line} returned {waited:?}");
    }
    assert_eq!(status_of(&h, 100), Status::Running);

    // One that honours it stops at once.
    h.set_ignores_shutdown(100, false);
    let began = tokio::time::Instant::now();
    assert_eq!(pct(&h, "shutdown 100 --timeout 3").await, ok(""));
    assert_eq!(began.elapsed().as_secs(), 0);
}

#[tokio::test]
async fn stopping_a_container_kills_its_processes() {
    let h = host();
    let procs = h.processes().clone();
    let mut inside = procs.spawn(1, None, "root", "sleep 60".into(), Some(100));
    let mut other = procs.spawn(1, None, "root", "sleep 60".into(), Some(102));
    assert_eq!(pct(&h, "stop 100").await, ok(""));
    assert_eq!(inside.signalled().await, 9);
    assert_eq!(*other.killed.borrow_and_update(), None);
}

// ---- §6 exec ------------------------------------------------------------

#[tokio::test]
async fn exec_checks_before_running_anything() {
    let h = host();
    answers(
        &h,
        &[
            ("exec 101 -- true", fail("container '101' not running!\n", 255)),
            (
                "exec 100",
                fail(
                    "missing command at /usr/share/perl5/PVE/CLI/pct.pm line 246.\n",
                    255,
                ),
            ),
            (
                "exec 100 --",
                fail(
                    "missing command at /usr/share/perl5/PVE/CLI/pct.pm line 246.\n",
                    255,
                ),
            ),
            (
                "exec abc -- true",
                usage_error(
                    "400 Parameter verification failed.\nvmid: type check ('integer') failed - got 'abc'",
                    EXEC_USAGE,
                ),
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn exec_without_double_dash_loses_options_to_pct() {
    let h = host();
    assert_eq!(
        pct(&h, "exec 100 ls -la").await,
        usage_error("Unknown option: la\n400 unable to parse option", EXEC_USAGE)
    );
    // -k is --keep-env, which swallows the command as its boolean value
    assert_eq!(
        pct(&h, "exec 100 -k ls").await,
        usage_error("400 unable to parse boolean option", EXEC_USAGE)
    );
    // -v is --vmid and takes the command word as its value
    assert_eq!(
        pct(&h, "exec 100 -v ls").await,
        fail(
            "missing command at /usr/share/perl5/PVE/CLI/pct.pm line 246.\n",
            255
        )
    );
}

#[test]
fn exec_passes_the_words_after_double_dash_unchanged() {
    let args: Vec<String> = [
        "exec",
        "100",
        "--keep-env",
        "0",
        "--",
        "ls",
        "-la",
        "--",
        "x y",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(
        parse(&args, true),
        Ok(Command::Exec {
            vmid: Vmid::parse("100").unwrap(),
            keep_env: false,
            argv: vec!["ls".into(), "-la".into(), "--".into(), "x y".into()],
        })
    );
}

// ---- §7 push / pull -----------------------------------------------------

fn meta_in(h: &Host, vmid: u32, path: &str) -> crate::fs::Meta {
    h.state().containers[&vmid].fs.stat(path).unwrap()
}

fn meta_on_host(h: &Host, path: &str) -> crate::fs::Meta {
    h.state().fs.stat(path).unwrap()
}

#[tokio::test]
async fn push_copies_a_host_file_into_the_container() {
    let h = host();
    assert_eq!(
        pct(&h, "push 100 /tmp/hello.txt /root/hello.txt").await,
        ok("")
    );
    assert_eq!(
        h.container_file(100, "/root/hello.txt").unwrap(),
        b"hello\n"
    );
    let m = meta_in(&h, 100, "/root/hello.txt");
    assert_eq!((m.mode, m.uid, m.gid), (0o644, 0, 0));
    // relative paths: the source from the caller's cwd, the destination from /
    h.state()
        .fs
        .write_file("/root/rel.txt", b"rel", 0o600)
        .unwrap();
    assert_eq!(pct(&h, "push 100 rel.txt tmp/rel.txt").await, ok(""));
    assert_eq!(h.container_file(100, "/tmp/rel.txt").unwrap(), b"rel");
}

#[tokio::test]
async fn push_applies_perms_user_and_group() {
    let h = host();
    for (perms, mode) in [
        ("600", 0o600),
        ("0755", 0o755),
        ("0x1ff", 0o777),
        ("4755", 0o4755),
    ] {
        assert_eq!(
            pct(
                &h,
                &format!("push 100 /tmp/hello.txt /root/p --perms {perms}")
            )
            .await,
            ok(""),
            "{perms}"
        );
        assert_eq!(meta_in(&h, 100, "/root/p").mode, mode, "{perms}");
    }
    assert_eq!(
        pct(
            &h,
            "push 100 /tmp/hello.txt /root/o --user www-data --group 33"
        )
        .await,
        ok("")
    );
    let m = meta_in(&h, 100, "/root/o");
    assert_eq!((m.uid, m.gid), (33, 33));
    assert_eq!(
        pct(&h, "push 100 /tmp/hello.txt /root/u --user 1234").await,
        ok("")
    );
    let m = meta_in(&h, 100, "/root/u");
    assert_eq!((m.uid, m.gid), (1234, 0));
}

#[tokio::test]
async fn push_truncates_an_existing_file_in_place() {
    let h = host();
    {
        let mut st = h.state();
        let fs = &mut st.containers.get_mut(&100).unwrap().fs;
        fs.write_file("/root/old", b"a much longer old content", 0o600)
            .unwrap();
        fs.set_owner("/root/old", Some(33), Some(33)).unwrap();
    }
    assert_eq!(pct(&h, "push 100 /tmp/hello.txt /root/old").await, ok(""));
    assert_eq!(h.container_file(100, "/root/old").unwrap(), b"hello\n");
    let m = meta_in(&h, 100, "/root/old");
    assert_eq!((m.mode, m.uid, m.gid), (0o600, 33, 33));
}

#[tokio::test]
async fn push_failures() {
    let h = host();
    let cases = [
        (
            "push 101 /tmp/hello.txt /root/x",
            "can only push files to a running CT\n",
            255,
        ),
        (
            "push 999 /tmp/hello.txt /root/x",
            "can only push files to a running CT\n",
            255,
        ),
        (
            "push 100 /tmp/x /root/x",
            "failed to open /tmp/x for reading\n",
            0,
        ),
        (
            "push 100 /tmp/hello.txt /no/dir/f",
            "failed to create file: /no/dir/f: No such file or directory\n",
            0,
        ),
        (
            "push 100 /tmp/hello.txt /root",
            "failed to create file: /root: Is a directory\n",
            0,
        ),
        (
            "push 100 /tmp/hello.txt /root/x --user bob",
            "failed to get uid for: bob\n",
            0,
        ),
        (
            "push 100 /tmp/hello.txt /root/x --group bob",
            "failed to get gid for: bob\n",
            0,
        ),
        (
            "push 100 /tmp/hello.txt /root/x --perms abc",
            "invalid mode: '0abc'\n",
            0,
        ),
        (
            "push 100 /tmp/hello.txt /root/x --perms 0abc",
            "invalid mode: '0abc'\n",
            0,
        ),
        (
            "push 100 /tmp/hello.txt /root/x --perms 999",
            "invalid mode: '0999'\n",
            0,
        ),
    ];
    for (line, err, code) in cases {
        assert_eq!(pct(&h, line).await, fail(err, code), "{line}");
    }
    assert!(h.container_file(100, "/root/x").is_none());
}

#[tokio::test]
async fn a_directory_source_yields_an_empty_file() {
    let h = host();
    assert_eq!(pct(&h, "push 100 /etc /root/etc-copy").await, ok(""));
    assert_eq!(h.container_file(100, "/root/etc-copy").unwrap(), b"");
    assert_eq!(pct(&h, "pull 100 /etc /tmp/etc-copy").await, ok(""));
    assert_eq!(h.host_file("/tmp/etc-copy").unwrap(), b"");
}

#[tokio::test]
async fn pull_copies_a_container_file_to_the_host() {
    let h = host();
    assert_eq!(pct(&h, "pull 100 /etc/hostname /tmp/h").await, ok(""));
    assert_eq!(h.host_file("/tmp/h").unwrap(), b"webserver\n");
    let m = meta_on_host(&h, "/tmp/h");
    assert_eq!((m.mode, m.uid, m.gid), (0o644, 0, 0));
    // relative: the container path from /, the host destination from the cwd
    assert_eq!(
        pct(&h, "pull 100 etc/hostname h2 --perms 640 --user www-data").await,
        ok("")
    );
    assert_eq!(h.host_file("/root/h2").unwrap(), b"webserver\n");
    let m = meta_on_host(&h, "/root/h2");
    assert_eq!((m.mode, m.uid, m.gid), (0o640, 33, 0));
}

#[tokio::test]
async fn pull_failures() {
    let h = host();
    let not_running =
        "can only pull files from a running VM at /usr/share/perl5/PVE/CLI/pct.pm line 664.\n";
    answers(
        &h,
        &[
            ("pull 101 /etc/hostname /tmp/h", fail(not_running, 255)),
            ("pull 999 /etc/hostname /tmp/h", fail(not_running, 255)),
        ],
    )
    .await;
    let cases = [
        (
            "pull 100 /etc/x /tmp/left",
            "failed to open /etc/x: No such file or directory\n",
        ),
        (
            "pull 100 /etc/hostname /no/dir/f",
            "failed to create file: /no/dir/f: No such file or directory\n",
        ),
        (
            "pull 100 /etc/hostname /root",
            "failed to create file: /root: Is a directory\n",
        ),
        (
            "pull 100 /etc/hostname /tmp/u --user bob",
            "failed to get uid for: bob\n",
        ),
        (
            "pull 100 /etc/hostname /tmp/g --group bob",
            "failed to get gid for: bob\n",
        ),
        (
            "pull 100 /etc/hostname /tmp/m --perms 0abc",
            "invalid mode: '0abc'\n",
        ),
    ];
    for (line, err) in cases {
        assert_eq!(pct(&h, line).await, fail(err, 0), "{line}");
    }
    // the destination was created before the container file was opened
    assert_eq!(h.host_file("/tmp/left").unwrap(), b"");
    assert!(h.host_file("/tmp/u").is_none());
}

// ---- §8 config ------------------------------------------------------------

#[tokio::test]
async fn config_prints_sorted_keys_then_raw_lxc_lines() {
    let h = host();
    let expected = concat!(
        "arch: amd64\n",
        "cores: 1\n",
        "hostname: webserver\n",
        "memory: 512\n",
        "net0: name=eth0,bridge=vmbr0,ip=dhcp,type=veth\n",
        "ostype: debian\n",
        "rootfs: local-lvm:vm-100-disk-0,size=8G\n",
        "swap: 512\n",
        "unprivileged: 1\n",
    );
    answers(
        &h,
        &[
            ("config 100", ok(expected)),
            ("config 100 --current", ok(expected)),
        ],
    )
    .await;
    {
        let mut st = h.state();
        let ct = st.containers.get_mut(&100).unwrap();
        ct.config
            .insert("description".into(), "Web server\nowner: ops 100%".into());
        ct.lxc
            .push(("lxc.cgroup2.devices.allow".into(), "c 10:200 rwm".into()));
        ct.lxc
            .push(("lxc.apparmor.profile".into(), "unconfined".into()));
        ct.lock = Some("backup".into());
        ct.tags = Some("web".into());
    }
    let r = pct(&h, "config 100").await;
    assert_eq!(r.code, 0);
    assert!(r.out.starts_with("arch: amd64\ncores: 1\ndescription: Web server%0Aowner%3A ops 100%25\nhostname: webserver\nlock: backup\n"), "{r:?}");
    assert!(r.out.ends_with(concat!(
        "tags: web\n",
        "unprivileged: 1\n",
        "lxc.cgroup2.devices.allow: c 10:200 rwm\n",
        "lxc.apparmor.profile: unconfined\n",
    )));
}

#[tokio::test]
async fn config_of_a_snapshot() {
    let h = host();
    assert_eq!(
        pct(&h, "snapshot 100 before --description first").await,
        ok("")
    );
    h.state()
        .containers
        .get_mut(&100)
        .unwrap()
        .config
        .insert("memory".into(), "2048".into());
    let r = pct(&h, "config 100 --snapshot before").await;
    assert!(
        r.out
            .contains("description: first\nhostname: webserver\nmemory: 512\n"),
        "{r:?}"
    );
    assert!(r.out.contains("\nsnaptime: "), "{r:?}");
    assert!(
        pct(&h, "config 100")
            .await
            .out
            .contains("memory: 2048\nnet0")
    );
    assert!(
        pct(&h, "config 100")
            .await
            .out
            .contains("\nparent: before\n")
    );
    assert_eq!(
        pct(&h, "config 100 --snapshot x1").await,
        fail("snapshot 'x1' does not exist\n", 255)
    );
}

// ---- §9 snapshots ---------------------------------------------------------

#[tokio::test]
async fn snapshot_names_are_checked() {
    let h = host();
    let usage = "pct snapshot <vmid> <snapname> [OPTIONS]\n";
    for bad in ["x", "1abc", "a.b", "a:b"] {
        assert_eq!(
            pct(&h, &format!("snapshot 100 {bad}")).await,
            fail(
                &format!(
                    "400 Parameter verification failed.\nsnapname: invalid format - invalid configuration ID '{bad}'\n\n{usage}"
                ),
                255
            ),
            "{bad}"
        );
    }
    let long = format!("a{}", "b".repeat(40));
    assert_eq!(
        pct(&h, &format!("snapshot 100 {long}")).await,
        fail(
            &format!(
                "400 Parameter verification failed.\nsnapname: value may only be 40 characters long\n{usage}"
            ),
            255
        )
    );
    for reserved in ["current", "vzdump"] {
        assert_eq!(
            pct(&h, &format!("snapshot 100 {reserved}")).await,
            fail(
                &format!("unable to use snapshot name '{reserved}' (reserved name)\n"),
                255
            )
        );
    }
    assert_eq!(
        pct(&h, &format!("snapshot 100 A{}", "b".repeat(39))).await,
        ok("")
    );
    answers(
        &h,
        &[
            ("snapshot 100 pre_up-1", ok("")),
            (
                "snapshot 100 pre_up-1",
                fail("snapshot name 'pre_up-1' already used\n", 255),
            ),
            (
                "snapshot 999 pre",
                fail(
                    "Configuration file 'nodes/pve/lxc/999.conf' does not exist\n",
                    255,
                ),
            ),
        ],
    )
    .await;
}

fn snap(name: &str, parent: Option<&str>, snaptime: u64, description: &str) -> Snapshot {
    Snapshot {
        name: name.into(),
        parent: parent.map(str::to_string),
        description: description.into(),
        snaptime,
        config: BTreeMap::new(),
        fs: Fs::new(),
    }
}

#[tokio::test]
async fn listsnapshot_prints_a_tree() {
    let h = host();
    assert_eq!(
        pct(&h, "listsnapshot 100").await,
        ok(&format!("`-> current{}You are here!\n", " ".repeat(45)))
    );
    {
        let mut st = h.state();
        let ct = st.containers.get_mut(&100).unwrap();
        // 2025-01-10 12:00:00 UTC and later
        ct.snapshots = vec![
            snap(
                "pre-upgrade",
                None,
                1_736_510_400,
                "before apt upgrade\nsecond line",
            ),
            snap("later", Some("pre-upgrade"), 1_736_600_000, ""),
            snap("early", Some("pre-upgrade"), 1_736_520_000, "first child"),
        ];
        ct.parent_snapshot = Some("pre-upgrade".into());
    }
    assert_eq!(
        pct(&h, "listsnapshot 100").await,
        ok(concat!(
            "`-> pre-upgrade                 2025-01-10 12:00:00     before apt upgrade\n",
            " `-> early                      2025-01-10 14:40:00     first child\n",
            " `-> later                      2025-01-11 12:53:20     no-description\n",
            " `-> current                                            You are here!\n",
        ))
    );
}

#[tokio::test]
async fn snapshot_delsnapshot_and_rollback_round_trip() {
    let h = host();
    assert_eq!(
        pct(&h, "snapshot 100 pre --description before").await,
        ok("")
    );
    {
        let mut st = h.state();
        let ct = st.containers.get_mut(&100).unwrap();
        ct.fs.write_file("/root/new", b"new", 0o644).unwrap();
        ct.config.insert("memory".into(), "1024".into());
    }
    assert_eq!(pct(&h, "snapshot 100 post").await, ok(""));
    let tree = pct(&h, "listsnapshot 100").await.out;
    let lines: Vec<&str> = tree.lines().collect();
    assert_eq!(lines.len(), 3, "{tree}");
    assert!(lines[0].starts_with("`-> pre                         2"));
    assert!(lines[0].ends_with("     before"));
    assert!(lines[1].starts_with(" `-> post                       2"));
    assert!(lines[1].ends_with("     no-description"));
    assert_eq!(
        lines[2],
        "  `-> current                                           You are here!"
    );

    assert_eq!(pct(&h, "rollback 100 pre").await, ok(""));
    assert!(h.container_file(100, "/root/new").is_none());
    assert!(pct(&h, "config 100").await.out.contains("memory: 512\n"));
    assert!(pct(&h, "config 100").await.out.contains("parent: pre\n"));
    assert_eq!(status_of(&h, 100), Status::Stopped);
    assert_eq!(pct(&h, "rollback 100 post --start").await, ok(""));
    assert_eq!(h.container_file(100, "/root/new").unwrap(), b"new");
    assert_eq!(status_of(&h, 100), Status::Running);

    assert_eq!(pct(&h, "delsnapshot 100 pre").await, ok(""));
    let snaps = h.state().containers[&100].snapshots.clone();
    assert_eq!(snaps.len(), 1);
    assert_eq!(snaps[0].parent, None);
    for line in ["delsnapshot 100 pre", "rollback 100 pre"] {
        assert_eq!(
            pct(&h, line).await,
            fail("snapshot 'pre' does not exist\n", 255),
            "{line}"
        );
    }
}

#[tokio::test]
async fn exec_dash_e_is_extra_args_given_as_an_option() {
    assert_eq!(
        pct(&host(), "exec 100 -e ls").await,
        usage_error(
            "400 internal error: extra-args must be the last argument",
            EXEC_USAGE
        )
    );
}

#[tokio::test]
async fn mount_unmount_and_unlock_manage_the_lock() {
    let h = host();
    assert_eq!(
        pct(&h, "mount 101").await,
        ok("mounted CT 101 in '/var/lib/lxc/101/rootfs'\n")
    );
    assert_eq!(h.state().containers[&101].lock.as_deref(), Some("mounted"));
    assert_eq!(pct(&h, "unmount 101").await, ok(""));
    assert_eq!(h.state().containers[&101].lock, None);
    h.set_lock(101, Some("backup"));
    answers(
        &h,
        &[
            ("mount 101", fail("CT is locked (backup)\n", 255)),
            ("unlock 101", ok("")),
        ],
    )
    .await;
    assert_eq!(h.state().containers[&101].lock, None);
}
