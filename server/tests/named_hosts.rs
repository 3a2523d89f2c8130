//! Named hosts (docs/hosts.md) through a real MCP client: a hosts file of two real
//! OpenSSH hosts in containers, and one of a fake Proxmox VE node beside a host that
//! is not one. Each call's `host` picks the host; what happened is checked out of band
//! on each host, not through the server under test.

use serde_json::json;
use sha2::Digest;
use testkit::openssh::HostEnv;
use testkit::{Mcp, assert_ok, failed_containing, structured, text};

/// A `[hosts.NAME]` table for a container host, logging in with its client key.
fn table(name: &str, env: &HostEnv) -> String {
    format!(
        "[hosts.{name}]\naddress = \"127.0.0.1\"\nport = {}\nkey = \"{}\"\nknown_hosts = \"{}\"\n\n",
        env.host.port(),
        env.key_path.display(),
        env.known_hosts.display()
    )
}

/// The server for the hosts file `text`, written in `dir`, and `extra` settings.
async fn serve(dir: &std::path::Path, text: &str, extra: &[(&str, &str)]) -> Mcp {
    let file = dir.join("hosts.toml");
    std::fs::write(&file, text).unwrap();
    let mut pairs = vec![
        ("I_ACCEPT_RISKS", "true"),
        ("MCP_REMOTE_EXEC_HOSTS", file.to_str().unwrap()),
        ("SSH_CONFIG", "none"),
        ("TIMEOUT", "20"),
    ];
    pairs.extend_from_slice(extra);
    let raw = mcp_remote_exec::config::RawConfig::from_pairs(pairs);
    Mcp::in_process(raw.validate().expect("a valid hosts file")).await
}

fn host_parameter(tools: &[rmcp::model::Tool], name: &str) -> serde_json::Value {
    let tool = tools.iter().find(|t| t.name == name).expect(name);
    tool.input_schema["properties"]["host"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_openssh_hosts_by_name_each_call_on_the_host_it_names() {
    let (alpha, beta) = tokio::join!(HostEnv::start(), HostEnv::start());
    alpha.oob("echo alpha > /root/who").await;
    beta.oob("echo beta > /root/who").await;
    let mcp = serve(
        alpha.dir.path(),
        &format!(
            "default = \"beta\"\n{}{}",
            table("alpha", &alpha),
            table("beta", &beta)
        ),
        &[],
    )
    .await;

    // tools/list and the instructions say which hosts exist.
    let tools = mcp.client.list_all_tools().await.unwrap();
    for tool in &tools {
        let host = host_parameter(&tools, &tool.name);
        assert_eq!(host["enum"], json!(["alpha", "beta"]), "{}", tool.name);
        assert!(
            host["description"].as_str().unwrap().contains("'beta'"),
            "{host}"
        );
    }
    let info = mcp.client.peer_info().expect("server info");
    let said = info.instructions.clone().unwrap_or_default();
    assert!(
        said.contains("2 hosts") && said.contains("'alpha' (root@127.0.0.1:"),
        "{said}"
    );

    // Without `host`: the default; with it: the host named.
    let r = mcp.exec("cat /root/who").await;
    assert_eq!(structured(&r)["stdout"], "beta\n");
    let r = mcp
        .call(
            "ssh_exec_command",
            json!({"command": "cat /root/who", "host": "alpha"}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(structured(&r)["stdout"], "alpha\n");

    // Calls on both at once, each on its own connection.
    let (a, b) = tokio::join!(
        mcp.call(
            "ssh_exec_command",
            json!({"command": "sleep 1; cat /root/who", "host": "alpha"}),
        ),
        mcp.call(
            "ssh_exec_command",
            json!({"command": "sleep 1; cat /root/who", "host": "beta"}),
        ),
    );
    assert_eq!(
        (
            structured(&a)["stdout"].clone(),
            structured(&b)["stdout"].clone()
        ),
        (json!("alpha\n"), json!("beta\n"))
    );

    // A transfer goes to the host named, and only there.
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let local = alpha.local_file("up.bin", &data);
    let r = mcp
        .call(
            "ssh_upload_file",
            json!({"local_path": local, "remote_path": "/tmp/named.bin", "host": "alpha"}),
        )
        .await;
    assert_ok(&r);
    let (_, sum, _) = alpha.oob("sha256sum /tmp/named.bin").await;
    assert_eq!(
        sum.split_whitespace().next(),
        Some(format!("{:x}", sha2::Sha256::digest(&data)).as_str())
    );
    let (code, _, _) = beta.oob("test -e /tmp/named.bin").await;
    assert_eq!(code, 1, "the upload reached only alpha");
    let back = alpha.dir.path().join("back.bin");
    let r = mcp
        .call(
            "ssh_download_file",
            json!({"remote_path": "/root/who", "local_path": back}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "beta\n");

    // A name that is not configured, or not a name: a clear error, nothing run.
    let r = mcp
        .call(
            "ssh_exec_command",
            json!({"command": "touch /root/ran", "host": "gamma"}),
        )
        .await;
    let s = failed_containing(&r, "no host is named \"gamma\"");
    assert!(
        s["suggestion"]
            .as_str()
            .unwrap()
            .contains("alpha, beta (or leave `host` out for beta)"),
        "{s}"
    );
    let r = mcp
        .call(
            "ssh_upload_file",
            json!({"local_path": local, "remote_path": "/tmp/x.bin", "host": 7}),
        )
        .await;
    failed_containing(&r, "7 is not a host's name");
    for env in [&alpha, &beta] {
        let (code, _, _) = env.oob("test -e /root/ran || test -e /tmp/x.bin").await;
        assert_eq!(code, 1, "nothing ran");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxmox_tools_go_to_the_proxmox_nodes_of_the_file() {
    let (web, node) = tokio::join!(testkit::fake::Fake::start(), testkit::fake::Fake::start());
    testkit::fake::shell(web.host(), "echo web > /root/who").await;
    testkit::fake::shell(node.host(), "echo node > /root/who").await;
    let entry = |name: &str, f: &testkit::fake::Fake, proxmox: bool| {
        format!(
            "[hosts.{name}]\naddress = \"127.0.0.1\"\nport = {}\nkey = \"{}\"\nknown_hosts = \"{}\"\nproxmox = {proxmox}\n\n",
            f.port(),
            f.key_path.display(),
            f.known_hosts.display()
        )
    };
    let audit = web.dir.path().join("audit.jsonl");
    let mcp = serve(
        web.dir.path(),
        &format!("{}{}", entry("web", &web, false), entry("pve", &node, true)),
        &[("AUDIT_LOG", audit.to_str().unwrap())],
    )
    .await;

    let tools = mcp.client.list_all_tools().await.unwrap();
    assert_eq!(
        host_parameter(&tools, "ssh_exec_command")["enum"],
        json!(["web", "pve"])
    );
    let proxmox = host_parameter(&tools, "proxmox_list_containers");
    assert_eq!(
        proxmox["enum"],
        json!(["pve"]),
        "only the node takes proxmox_*"
    );
    assert!(
        proxmox["description"].as_str().unwrap().contains("'pve'"),
        "{proxmox}"
    );
    let said = mcp
        .client
        .peer_info()
        .unwrap()
        .instructions
        .clone()
        .unwrap();
    assert!(said.contains("'pve' (root@127.0.0.1:"), "{said}");
    assert!(said.contains(", a Proxmox VE node)"), "{said}");

    // ssh_* without `host`: the first host; proxmox_* without it: the first node.
    let r = mcp.exec("cat /root/who").await;
    assert_eq!(structured(&r)["stdout"], "web\n");
    assert_eq!(mcp.container_ids().await, [100, 101, 102]);
    let r = mcp
        .call(
            "proxmox_container_exec_command",
            json!({"ctid": 100, "command": "echo $((6*7))", "host": "pve"}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(structured(&r)["stdout"], "42\n");

    // A proxmox tool on the host that is not a node: refused, naming both.
    let r = mcp
        .call(
            "proxmox_stop_container",
            json!({"ctid": 100, "host": "web"}),
        )
        .await;
    let s = failed_containing(&r, "host 'web' is not a Proxmox VE node");
    assert!(
        s["suggestion"].as_str().unwrap().contains("pve"),
        "{}",
        text(&r)
    );
    let (out, _, _) = testkit::fake::shell(node.host(), "pct status 100").await;
    assert_eq!(out, "status: running\n", "nothing was stopped");

    // The audit names the host each call acted on, by name and address, beside the
    // arguments as the client sent them.
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let said: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["tool"].as_str().unwrap(),
                l["host_name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        said,
        [
            ("ssh_exec_command", "web"),
            ("proxmox_list_containers", "pve"),
            ("proxmox_container_exec_command", "pve"),
            ("proxmox_stop_container", "web"),
        ]
    );
    assert_eq!(lines[2]["host"], format!("root@127.0.0.1:{}", node.port()));
    assert_eq!(lines[2]["arguments"]["host"], "pve", "{}", lines[2]);
    assert_eq!(lines[1]["arguments"].get("host"), None, "{}", lines[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_and_a_standalone_node_side_by_side_each_route_their_own_guests() {
    let lab = testkit::cluster::start(testkit::cluster::fixture(), &[]).await;
    let solo = testkit::fake::Fake::start().await;
    let mcp = serve(
        lab.dir.path(),
        &format!(
            "[hosts.lab]\naddress = \"127.0.0.1\"\nport = {}\nkey = \"{}\"\nknown_hosts = \"{}\"\nproxmox = true\n\n\
             [hosts.solo]\naddress = \"127.0.0.1\"\nport = {}\nkey = \"{}\"\nknown_hosts = \"{}\"\nproxmox = true\n",
            lab.cluster.entry().port(),
            lab.key_path.display(),
            lab.known_hosts.display(),
            solo.port(),
            solo.key_path.display(),
            solo.known_hosts.display(),
        ),
        &[],
    )
    .await;
    let list = |host: &'static str| {
        let mcp = &mcp;
        async move {
            let r = mcp
                .call(
                    "proxmox_list_containers",
                    json!({"response_format": "json", "host": host}),
                )
                .await;
            assert_ok(&r);
            structured(&r)["containers"].as_array().unwrap().clone()
        }
    };
    // The cluster's list names its nodes; the standalone node's is its own.
    let nodes: std::collections::BTreeSet<String> = list("lab")
        .await
        .iter()
        .map(|c| c["node"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        nodes.into_iter().collect::<Vec<_>>(),
        ["pve1", "pve2", "pve3"]
    );
    let solo_list = list("solo").await;
    assert!(
        solo_list.iter().all(|c| c.get("node").is_none()),
        "{solo_list:?}"
    );

    // CT 120 lives on the cluster's third node: routed there through the entry.
    let r = mcp
        .call(
            "proxmox_container_exec_command",
            json!({"ctid": 120, "command": "echo $((6*7)) | tee /tmp/routed", "host": "lab"}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(structured(&r)["stdout"], "42\n");
    let (out, err, _) = lab.on("pve3", "pct exec 120 -- cat /tmp/routed").await;
    assert_eq!(out, "42\n", "{err}");
    // The standalone node has no CT 120.
    let r = mcp
        .call(
            "proxmox_container_status",
            json!({"ctid": 120, "host": "solo"}),
        )
        .await;
    assert!(testkit::is_error(&r), "{}", text(&r));
}
