//! One Proxmox VE release at a time: the fixture's `pve = 8 | 9` (default 9) decides
//! everything a client can tell them apart by (docs/stock-nodes.md, "Proxmox VE 8
//! and 9"), seen through OpenSSH's own client.

use fake_pve::fixture::Fixture;
use testkit::fake::{Fake, run};

/// What a node of one release answers.
struct Release {
    pve: Option<u64>,
    banner: &'static str,
    pveversion: &'static str,
    kernel: &'static str,
    version_json: &'static str,
    pct_lines: (u32, u32),
}

const RELEASES: [Release; 3] = [
    Release {
        pve: Some(8),
        banner: "remote software version OpenSSH_9.2p1 Debian-2+deb12u10",
        pveversion: "pve-manager/8.4.21/2606ac850d46da29 (running kernel: 6.8.12-4-pve)\n",
        kernel: "6.8.12-4-pve",
        version_json: "{\"release\":\"8.4\",\"repoid\":\"2606ac850d46da29\",\"version\":\"8.4.21\"}\n",
        pct_lines: (222, 608),
    },
    Release {
        pve: Some(9),
        banner: "remote software version OpenSSH_10.0p1 Debian-7+deb13u4",
        pveversion: "pve-manager/9.2.11/f6997e698c7933ea (running kernel: 6.14.11-2-pve)\n",
        kernel: "6.14.11-2-pve",
        version_json: "{\"release\":\"9.2\",\"repoid\":\"f6997e698c7933ea\",\"version\":\"9.2.11\"}\n",
        pct_lines: (246, 664),
    },
    // No `pve`: Proxmox VE 9.
    Release {
        pve: None,
        banner: "remote software version OpenSSH_10.0p1 Debian-7+deb13u4",
        pveversion: "pve-manager/9.2.11/f6997e698c7933ea (running kernel: 6.14.11-2-pve)\n",
        kernel: "6.14.11-2-pve",
        version_json: "{\"release\":\"9.2\",\"repoid\":\"f6997e698c7933ea\",\"version\":\"9.2.11\"}\n",
        pct_lines: (246, 664),
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_release_is_one_consistent_node() {
    for r in &RELEASES {
        let mut fixture = Fixture::default_fixture();
        fixture.pve = r.pve;
        let fake = Fake::with_fixture(fixture, "root").await;
        let what = format!("pve = {:?}", r.pve);

        // sshd's identification string, as OpenSSH's client reads it.
        let mut cmd = fake.ssh_command(&["-o", "LogLevel=DEBUG1"]);
        cmd.arg("root@127.0.0.1").arg("true");
        let out = run(cmd, None).await;
        assert_eq!(out.code, Some(0), "{what}: {}", out.stderr);
        assert!(out.stderr.contains(r.banner), "{what}: {}", out.stderr);

        let out = fake.ssh("pveversion").await;
        assert_eq!(
            (out.stdout.as_str(), out.code),
            (r.pveversion, Some(0)),
            "{what}"
        );
        let out = fake.ssh("uname -r; uname -n").await;
        assert_eq!(out.stdout, format!("{}\npve\n", r.kernel), "{what}");
        let out = fake.ssh("pvesh get /version --output-format json").await;
        assert_eq!(out.stdout, r.version_json, "{what}");

        // The two pct messages that carry a line of pct.pm.
        let out = fake.ssh("pct exec 100").await;
        let missing = format!(
            "missing command at /usr/share/perl5/PVE/CLI/pct.pm line {}.\n",
            r.pct_lines.0
        );
        assert_eq!(
            (out.stderr.as_str(), out.code),
            (missing.as_str(), Some(255)),
            "{what}"
        );
        let out = fake.ssh("pct pull 101 /etc/hostname /tmp/h").await;
        let refused = format!(
            "can only pull files from a running VM at /usr/share/perl5/PVE/CLI/pct.pm line {}.\n",
            r.pct_lines.1
        );
        assert_eq!(
            (out.stderr.as_str(), out.code),
            (refused.as_str(), Some(255)),
            "{what}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pveversion_refuses_what_it_does_not_know_and_a_container_has_its_own_name() {
    let fake = Fake::start().await;
    let out = fake.ssh("pveversion -v").await;
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("is not emulated"), "{}", out.stderr);
    let out = fake.ssh("pveversion extra").await;
    assert_eq!(
        (out.stderr.as_str(), out.code),
        ("USAGE: pveversion [--verbose]\n", Some(255))
    );
    // Inside a container: the container's hostname, the node's kernel; no pveversion.
    let out = fake.ssh("pct exec 100 -- uname -n -r").await;
    assert_eq!(out.stdout, "webserver 6.14.11-2-pve\n");
    let out = fake.ssh("pct exec 100 -- pveversion").await;
    assert_eq!(out.code, Some(127), "{}", out.stderr);
}

#[test]
fn an_unknown_release_is_refused_with_the_ones_there_are() {
    let err = Fixture::parse("pve = 7\n")
        .and_then(|f| f.into_state())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("pve = 7") && err.contains("pve = 8 or pve = 9"),
        "{err}"
    );
}
