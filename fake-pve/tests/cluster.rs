//! The fake cluster of `fixtures/cluster.toml` over real SSH: one vmid space and
//! `/etc/pve` view on every member, pvecm and pvesh across the members, pct refusing
//! another node's guest with the real message, an offline migration, and the hop from
//! one member to another through a `direct-tcpip` channel with the member's own host
//! key — and what changes when a node goes offline.

use std::sync::Arc;

use fake_pve::cluster::TestCluster;
use fake_pve::fixture::{ClusterFixture, Scenario};
use russh::client::Handle;
use serde_json::Value;
use testkit::ssh::{ExpectKey, exec};

fn fixture() -> ClusterFixture {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/cluster.toml");
    match Scenario::load(std::path::Path::new(path)).expect("the cluster fixture loads") {
        Scenario::Cluster(c) => c,
        Scenario::Node(_) => panic!("fixtures/cluster.toml is a cluster"),
    }
}

async fn login<S>(
    cluster: &TestCluster,
    stream: S,
    key: russh::keys::PublicKey,
) -> Handle<ExpectKey>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let config = Arc::new(russh::client::Config::default());
    let mut handle = russh::client::connect_stream(config, stream, ExpectKey(key))
        .await
        .expect("handshake");
    let key = cluster.client_key.clone().expect("a client key");
    let ok = handle
        .authenticate_publickey(
            "root",
            russh::keys::PrivateKeyWithHashAlg::new(Arc::new(key), None),
        )
        .await
        .unwrap()
        .success();
    assert!(ok, "the shared client key logs in");
    handle
}

async fn entry(cluster: &TestCluster) -> Handle<ExpectKey> {
    let node = cluster.entry();
    let tcp = tokio::net::TcpStream::connect(node.server.addr())
        .await
        .unwrap();
    login(cluster, tcp, node.server.host_public_key().clone()).await
}

#[tokio::test]
async fn every_member_sees_one_cluster_and_pct_stays_on_its_own_node() {
    let cluster = TestCluster::start(fixture()).await.unwrap();
    let ssh = entry(&cluster).await;

    let vmlist: Value = serde_json::from_str(&exec(&ssh, "cat /etc/pve/.vmlist").await.stdout())
        .expect(".vmlist is JSON");
    assert_eq!(vmlist["ids"]["100"]["node"], "pve1");
    assert_eq!(vmlist["ids"]["200"]["type"], "qemu");
    assert_eq!(vmlist["ids"]["120"]["node"], "pve3");
    let members: Value =
        serde_json::from_str(&exec(&ssh, "cat /etc/pve/.members").await.stdout()).unwrap();
    assert_eq!(members["nodename"], "pve1");
    assert_eq!(members["cluster"]["quorate"], 1);
    assert_eq!(members["nodelist"]["pve3"]["ip"], "10.10.10.13");
    let known = exec(&ssh, "cat /etc/pve/nodes/pve3/ssh_known_hosts")
        .await
        .stdout();
    assert!(known.starts_with("pve3 ssh-ed25519 "), "{known}");

    let nodes = exec(&ssh, "pvecm nodes").await;
    assert_eq!(nodes.exit_status, Some(0));
    assert_eq!(
        nodes.stdout(),
        "\nMembership information\n----------------------\n    Nodeid      Votes Name\n         1          1 pve1 (local)\n         2          1 pve2\n         3          1 pve3\n"
    );
    let status = exec(&ssh, "pvecm status").await;
    assert!(
        status.stdout().contains("Quorate:          Yes\n"),
        "{}",
        status.stdout()
    );
    assert!(
        status
            .stdout()
            .contains("0x00000003          1 10.10.10.13\n")
    );

    let res: Value = serde_json::from_str(
        &exec(
            &ssh,
            "pvesh get /cluster/resources --type vm --output-format json",
        )
        .await
        .stdout(),
    )
    .unwrap();
    let mut owners: Vec<(u64, String)> = res
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["vmid"].as_u64().unwrap(),
                r["node"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    owners.sort();
    assert_eq!(
        owners,
        [
            (100, "pve1"),
            (101, "pve1"),
            (110, "pve2"),
            (111, "pve2"),
            (120, "pve3"),
            (121, "pve3"),
            (200, "pve1")
        ]
        .map(|(i, n)| (i, n.to_string()))
    );
    let status: Value = serde_json::from_str(
        &exec(&ssh, "pvesh get /cluster/status --output-format json")
            .await
            .stdout(),
    )
    .unwrap();
    assert_eq!(status[0]["name"], "lab");
    assert_eq!(status[3]["ip"], "10.10.10.13");
    // A path under another node is answered by that node (pvesh proxies it).
    let other = exec(
        &ssh,
        "pvesh get /nodes/pve3/lxc/120/status/current --output-format json",
    )
    .await;
    assert_eq!(other.exit_status, Some(0), "{}", other.stderr());

    // pct acts only on its own node: another node's container is "not there".
    let away = exec(&ssh, "pct status 120").await;
    assert_eq!(away.exit_status, Some(255));
    assert_eq!(
        away.stderr(),
        "Configuration file 'nodes/pve1/lxc/120.conf' does not exist\n"
    );
    assert!(!exec(&ssh, "pct list").await.stdout().contains("120"));
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_member_reaches_another_through_direct_tcpip_with_that_members_own_key() {
    let cluster = TestCluster::start(fixture()).await.unwrap();
    let ssh = entry(&cluster).await;
    let pve3_key = cluster.node("pve3").server.host_public_key().clone();

    let channel = ssh
        .channel_open_direct_tcpip("10.10.10.13", 22, "127.0.0.1", 40000)
        .await
        .expect("pve1 forwards to pve3's address");
    let hop = login(&cluster, channel.into_stream(), pve3_key.clone()).await;
    assert_eq!(exec(&hop, "hostname").await.stdout(), "pve3\n");
    let here = exec(&hop, "pct exec 120 -- echo $((6*7))").await;
    assert_eq!(here.stdout(), "42\n", "{}", here.stderr());

    // Not a member, or not the SSH port: refused as sshd refuses a failed connect.
    assert!(
        ssh.channel_open_direct_tcpip("10.10.10.99", 22, "127.0.0.1", 40001)
            .await
            .is_err()
    );
    assert!(
        ssh.channel_open_direct_tcpip("10.10.10.13", 80, "127.0.0.1", 40002)
            .await
            .is_err()
    );

    // pve3 goes offline: the hop's connection drops, new hops fail, the others see it.
    cluster.set_online("pve3", false);
    let mut cut = false;
    for _ in 0..200 {
        let attempt = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            testkit::ssh::exec_unbounded(&hop, "true"),
        )
        .await;
        if !matches!(attempt, Ok(Ok(ref e)) if e.exit_status == Some(0)) {
            cut = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(cut, "the hop to pve3 is cut when pve3 goes offline");
    assert!(
        ssh.channel_open_direct_tcpip("10.10.10.13", 22, "127.0.0.1", 40003)
            .await
            .is_err()
    );
    let members: Value =
        serde_json::from_str(&exec(&ssh, "cat /etc/pve/.members").await.stdout()).unwrap();
    assert_eq!(members["nodelist"]["pve3"]["online"], 0);
    assert_eq!(members["cluster"]["quorate"], 1);
    let nodes = exec(&ssh, "pvecm nodes").await.stdout();
    assert!(!nodes.contains("pve3"), "{nodes}");
    let res: Value = serde_json::from_str(
        &exec(&ssh, "pvesh get /cluster/resources --output-format json")
            .await
            .stdout(),
    )
    .unwrap();
    let row = |id: &str| {
        res.as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(row("node/pve3")["status"], "offline");
    assert_eq!(row("lxc/120")["status"], "unknown");
    // Its own port answers nobody.
    let direct = tokio::net::TcpStream::connect(cluster.node("pve3").server.addr()).await;
    if let Ok(tcp) = direct {
        let config = Arc::new(russh::client::Config::default());
        assert!(
            russh::client::connect_stream(config, tcp, ExpectKey(pve3_key))
                .await
                .is_err()
        );
    }
    cluster.shutdown().await;
}

#[tokio::test]
async fn pct_migrate_moves_a_stopped_container_and_refuses_what_a_real_node_refuses() {
    let cluster = TestCluster::start(fixture()).await.unwrap();
    let pve3 = cluster.node("pve3").host().clone();
    let run = |line: &'static str| {
        let host = pve3.clone();
        async move { testkit::fake::shell(&host, line).await }
    };

    let (_, err, code) = run("pct migrate 120 pve1").await;
    assert_eq!(
        (err.as_str(), code),
        (
            "can't migrate running container without --online or --restart\n",
            255
        )
    );
    let (_, err, code) = run("pct migrate 121 pve3").await;
    assert_eq!(code, 255);
    assert!(
        err.starts_with("400 Parameter verification failed.\ntarget: target is local node.\n"),
        "{err}"
    );
    let (_, err, _) = run("pct migrate 121 pve9").await;
    assert_eq!(err, "no such cluster node 'pve9'\n");

    let (out, err, code) = run("pct migrate 121 pve1").await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("starting migration of CT 121 to node 'pve1' (10.10.10.11)\n"),
        "{out}"
    );
    assert!(out.contains("migration finished successfully"), "{out}");
    // Gone here, there now, with its files; .vmlist says so on every node.
    let (_, err, _) = run("pct status 121").await;
    assert_eq!(
        err,
        "Configuration file 'nodes/pve3/lxc/121.conf' does not exist\n"
    );
    let pve1 = cluster.node("pve1").host();
    let (out, _, code) = testkit::fake::shell(pve1, "pct status 121").await;
    assert_eq!((out.as_str(), code), ("status: stopped\n", 0));
    assert_eq!(
        pve1.container_file(121, "/etc/spare.conf").as_deref(),
        Some(&b"role=spare\n"[..])
    );
    let (vmlist, _, _) = run("cat /etc/pve/.vmlist").await;
    let vmlist: Value = serde_json::from_str(&vmlist).unwrap();
    assert_eq!(vmlist["ids"]["121"]["node"], "pve1");

    // vzdump on pve3 skips pve2's guest silently.
    let (out, err, code) = run("vzdump 110 --storage local --compress 0").await;
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("ERROR"), "{out}");
    let (dumps, _, _) = run("ls /var/lib/vz/dump").await;
    assert!(!dumps.contains("110"), "{dumps}");

    // One vmid space: restoring an id another node holds names that node.
    let (_, err, code) = run("pct restore 110 local:backup/vzdump-lxc-110-2025_01_10-12_00_00.tar.zst --storage local-lvm").await;
    assert_eq!(
        (err.as_str(), code),
        ("CT 110 already exists on node 'pve2'\n", 255)
    );

    // A node offline: the migration task fails; without quorum nothing moves.
    cluster.set_online("pve2", false);
    let (_, err, code) = testkit::fake::shell(pve1, "pct migrate 121 pve2").await;
    assert_eq!((err.as_str(), code), ("migration aborted\n", 255));
    cluster.set_online("pve3", false);
    let (_, err, _) = testkit::fake::shell(pve1, "pct migrate 121 pve3").await;
    assert_eq!(err, "cluster not ready - no quorum?\n");
    let (out, _, code) = testkit::fake::shell(pve1, "pvecm status").await;
    assert_eq!(code, 2);
    assert!(out.contains("Quorate:          No\n"), "{out}");
    cluster.shutdown().await;
}

#[tokio::test]
async fn ssh_from_one_member_runs_on_another_as_proxmox_does() {
    let cluster = TestCluster::start(fixture()).await.unwrap();
    let pve1 = cluster.node("pve1").host();
    let (out, err, code) = testkit::fake::shell(
        pve1,
        "ssh -e none -o BatchMode=yes -o HostKeyAlias=pve2 root@10.10.10.12 pct list",
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("110 ") && !out.contains("100 "), "{out}");
    let (out, _, code) = testkit::fake::shell(pve1, "ssh pve3 'hostname; exit 3'").await;
    assert_eq!((out.as_str(), code), ("pve3\n", 3));
    let (_, err, code) = testkit::fake::shell(pve1, "ssh pve9 true").await;
    assert_eq!(code, 255);
    assert_eq!(
        err,
        "ssh: Could not resolve hostname pve9: Name or service not known\n"
    );
    let (_, err, code) = testkit::fake::shell(pve1, "ssh -p 2222 pve2 true").await;
    assert_eq!(
        (err.as_str(), code),
        (
            "ssh: connect to host 10.10.10.12 port 2222: Connection refused\n",
            255
        )
    );
    let (_, _, code) = testkit::fake::shell(pve1, "ssh -l admin pve2 id").await;
    assert_eq!(code, 2, "another user than root is refused as not emulated");
    cluster.set_online("pve3", false);
    let (_, err, code) = testkit::fake::shell(pve1, "ssh pve3 true").await;
    assert_eq!(
        (err.as_str(), code),
        (
            "ssh: connect to host 10.10.10.13 port 22: No route to host\n",
            255
        )
    );
    cluster.shutdown().await;
}
