//! A client nobody here wrote drives the fake's pvesh: proxmoxer (its `ssh_paramiko`
//! backend runs `pvesh get PATH -opt value --output-format json` over SSH) against an
//! in-process node, on loopback, within a bound.

use std::process::Command;
use std::time::Duration;

use fake_pve::fixture::Fixture;
use fake_pve::node::TestNode;
use serde_json::Value;
use testkit::child::{output_within, python_sdk, succeeded};

const FIXTURE: &str = r#"
node = "pve1"

[[containers]]
vmid = 100
hostname = "web01"
status = "running"
cores = 2
memory = 2048
disk = "8G"
tags = "prod"

  [containers.metrics]
  cpu = 0.05
  mem = 268435456
  netin = 1234567
  netout = 234567
  uptime = 86400

[[containers]]
vmid = 101
hostname = "db01"
status = "stopped"
memory = 4096
disk = "32G"
"#;

/// Reads four endpoints the way a proxmoxer user writes it, and two errors, and prints
/// them as one JSON object.
const SCRIPT: &str = r#"
import json, os, sys
from proxmoxer import ProxmoxAPI
from proxmoxer.core import ResourceException

def error(call):
    try:
        call()
        return None
    except ResourceException as e:
        return {"status": e.status_code, "content": e.content, "exit": e.exit_code}

api = ProxmoxAPI(
    "127.0.0.1",
    port=int(os.environ["NODE_PORT"]),
    user="root",
    password=os.environ["NODE_PASSWORD"],
    backend="ssh_paramiko",
    service="PVE",
    timeout=10,
)
nodes = api.nodes.get()
node = nodes[0]["node"]
print(json.dumps({
    "nodes": nodes,
    "vms": api.cluster.resources.get(type="vm"),
    "current": api.nodes(node).lxc(100).status.current.get(),
    "rrd": api.nodes(node).lxc(100).rrddata.get(timeframe="hour", cf="MAX"),
    "missing": error(lambda: api.nodes(node).lxc(999).status.current.get()),
    "bad": error(lambda: api.nodes(node).lxc(100).rrddata.get(timeframe="decade")),
}))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxmoxer_reads_nodes_resources_and_a_containers_status() {
    let node = TestNode::start(Fixture::parse(FIXTURE).unwrap())
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(python_sdk());
    cmd.arg("-c")
        .arg(SCRIPT)
        .env("NODE_PORT", node.port().to_string())
        .env("NODE_PASSWORD", &node.password)
        // No key or agent of the machine's user is offered.
        .env("HOME", home.path())
        .env_remove("SSH_AUTH_SOCK");
    let out = tokio::task::spawn_blocking(move || output_within(cmd, Duration::from_secs(60)))
        .await
        .unwrap();
    let stdout = succeeded("the proxmoxer script", &out);
    let got: Value = serde_json::from_str(stdout.trim()).unwrap();

    let nodes = got["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1, "{got}");
    let n = &nodes[0];
    assert_eq!(
        (&n["node"], &n["status"], &n["type"], &n["id"], &n["level"]),
        (
            &Value::from("pve1"),
            &Value::from("online"),
            &Value::from("node"),
            &Value::from("node/pve1"),
            &Value::from("")
        ),
        "{n}"
    );
    for key in [
        "cpu", "maxcpu", "mem", "maxmem", "disk", "maxdisk", "uptime",
    ] {
        assert!(n[key].is_number(), "{key}: {n}");
    }
    assert_eq!(n["ssl_fingerprint"].as_str().unwrap().len(), 95, "{n}");

    let vms = got["vms"].as_array().unwrap();
    let ids: Vec<&str> = vms.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["lxc/100", "lxc/101"]);
    let web = &vms[0];
    assert_eq!(web["status"], "running");
    assert_eq!(web["cpu"], 0.05);
    assert_eq!(web["mem"], 268435456);
    assert_eq!(web["maxmem"], 2147483648u64);
    assert_eq!(web["maxcpu"], 2);
    assert_eq!(web["netin"], 1234567);
    assert_eq!(web["tags"], "prod");
    let db = &vms[1];
    assert_eq!(
        (&db["status"], &db["mem"], &db["cpu"], &db["uptime"]),
        (
            &Value::from("stopped"),
            &Value::from(0),
            &Value::from(0),
            &Value::from(0)
        ),
    );
    assert_eq!(db["maxdisk"], 32u64 << 30);

    let cur = &got["current"];
    assert_eq!(cur["vmid"], 100);
    assert_eq!(cur["name"], "web01");
    assert_eq!(cur["status"], "running");
    assert_eq!(cur["cpus"], 2);
    assert_eq!(cur["mem"], 268435456);
    assert_eq!(cur["maxdisk"], 8u64 << 30);
    assert_eq!(cur["netout"], 234567);
    assert_eq!(cur["ha"], serde_json::json!({"managed": 0}));
    assert!(cur["pid"].is_number(), "{cur}");
    let uptime = cur["uptime"].as_u64().unwrap();
    assert!((86400..86400 + 60).contains(&uptime), "{cur}");

    let rrd = got["rrd"].as_array().unwrap();
    assert_eq!(rrd.len(), 60);
    assert!(
        rrd.iter()
            .all(|r| r["time"].as_u64().unwrap() % 60 == 0 && r["cpu"].is_number()),
        "{rrd:?}"
    );

    // pvesh's errors reach proxmoxer: a plain die as 500, a parameter error as 400.
    assert_eq!(
        got["missing"],
        serde_json::json!({"status": 500, "exit": 255,
            "content": "Configuration file 'nodes/pve1/lxc/999.conf' does not exist\n"})
    );
    assert_eq!(
        (&got["bad"]["status"], &got["bad"]["exit"]),
        (&Value::from(400), &Value::from(255))
    );
    node.shutdown().await;
}
