//! `proxmox_guest_metrics` through a real MCP client against an in-process fake-pve,
//! whose pvesh reports the fixture's figures (docs/pvesh-fidelity.md).

use fake_pve::host::Faults;
use serde_json::{Value, json};
use testkit::component::{Env, start_proxmox};
use testkit::{assert_ok, failed_containing, is_error, structured, text};

const FIXTURE: &str = r#"
node = "pve"

[[containers]]
vmid = 100
hostname = "web01"
status = "running"
cores = 2
memory = 2048
swap = 512
disk = "8G"

  [containers.metrics]
  cpu = 0.05
  mem = 268435456
  swap = 0
  disk = 1288490188
  netin = 3600000
  netout = 7200000
  diskread = 36000
  diskwrite = 72000

[[containers]]
vmid = 101
hostname = "db01"
status = "stopped"
memory = 4096
disk = "32G"
lock = "backup"

[[containers]]
vmid = 1000
hostname = "cache"
status = "running"
"#;

async fn env() -> Env {
    start_proxmox(FIXTURE, &[]).await
}

async fn metrics(env: &Env, args: Value) -> rmcp::model::CallToolResult {
    env.call("proxmox_guest_metrics", args).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_running_container_with_its_history() {
    let env = env().await;
    let r = metrics(
        &env,
        json!({"vmid": 100, "timeframe": "hour", "response_format": "json"}),
    )
    .await;
    assert_ok(&r);
    let s = structured(&r);
    assert_eq!(s["vmid"], 100);
    let g = &s["guests"][0];
    assert_eq!(s["guests"].as_array().unwrap().len(), 1);
    assert_eq!(g["name"], "web01");
    assert_eq!(g["type"], "lxc");
    assert_eq!(g["status"], "running");
    assert_eq!(g["cpu_percent"], 5.0);
    assert_eq!(g["cpus"], 2.0);
    assert_eq!(g["mem_bytes"], 268435456);
    assert_eq!(g["maxmem_bytes"], 2147483648u64);
    assert_eq!(g["swap_bytes"], 0);
    assert_eq!(g["maxswap_bytes"], 536870912);
    assert_eq!(g["disk_bytes"], 1288490188);
    assert_eq!(g["maxdisk_bytes"], 8u64 << 30);
    assert_eq!(g["netin_bytes"], 3600000);
    assert_eq!(g["diskwrite_bytes"], 72000);
    assert!(g["uptime_secs"].is_u64(), "{g}");
    let h = &g["history"];
    assert_eq!(h["timeframe"], "hour");
    assert_eq!(h["samples"], 60);
    // The fixture's container started just now: few samples recorded it running.
    assert!(h["running_samples"].as_u64().unwrap() <= 2, "{h}");
    assert_eq!(h["from"].as_u64().unwrap() % 60, 0);

    let r = metrics(&env, json!({"vmid": "100"})).await;
    assert_ok(&r);
    let t = text(&r);
    assert!(t.starts_with("Container 100 (web01) is running"), "{t}");
    for line in [
        "CPU:      5.00% of 2 CPUs\n",
        "Memory:   256.0 MiB of 2.0 GiB (12.5%)\n",
        "Disk:     1.2 GiB of 8.0 GiB (15.0%)\n",
        "Network:  in 3.4 MiB, out 6.9 MiB (since it started)\n",
    ] {
        assert!(t.contains(line), "{line:?} not in {t}");
    }
    assert!(!t.contains("History"), "{t}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_of_a_long_running_container_is_summarised() {
    let env = env().await;
    env.host().change_container(100, |ct| {
        ct.started_at = Some(ct.started_at.unwrap() - 2 * 86400);
    });
    let r = metrics(
        &env,
        json!({"vmid": 100, "timeframe": "day", "response_format": "json"}),
    )
    .await;
    assert_ok(&r);
    let h = structured(&r)["guests"][0]["history"].clone();
    assert_eq!(
        (h["samples"].as_u64(), h["running_samples"].as_u64()),
        (Some(1440), Some(1440))
    );
    let cpu = &h["cpu_percent"];
    let (min, avg, max) = (
        cpu["min"].as_f64().unwrap(),
        cpu["avg"].as_f64().unwrap(),
        cpu["max"].as_f64().unwrap(),
    );
    assert!(min < avg && avg < max && min > 3.0 && max < 7.0, "{cpu}");
    assert!(
        h["netin_bytes_per_sec"]["avg"].as_f64().unwrap() > 0.0,
        "{h}"
    );
    assert_eq!(h["disk_bytes"]["max"], 1288490188.0);

    let r = metrics(&env, json!({"vmid": 100, "timeframe": "week"})).await;
    assert_ok(&r);
    let t = text(&r);
    assert!(t.contains("History, last week (336 samples, "), "{t}");
    assert!(t.contains("  CPU            min "), "{t}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_container_reports_zero_figures() {
    let env = env().await;
    let r = metrics(
        &env,
        json!({"vmid": 101, "timeframe": "hour", "response_format": "json"}),
    )
    .await;
    assert_ok(&r);
    let g = structured(&r)["guests"][0].clone();
    assert_eq!(g["status"], "stopped");
    for k in [
        "cpu_percent",
        "mem_bytes",
        "disk_bytes",
        "netin_bytes",
        "uptime_secs",
    ] {
        assert_eq!(g[k].as_f64(), Some(0.0), "{k}: {g}");
    }
    assert_eq!(g["maxmem_bytes"], 4096u64 << 20);
    assert_eq!(g["lock"], "backup");
    assert_eq!(g["history"]["running_samples"], 0);
    assert!(g["history"].get("cpu_percent").is_none(), "{g}");

    let r = metrics(&env, json!({"vmid": 101, "timeframe": "hour"})).await;
    let t = text(&r);
    assert!(t.starts_with("Container 101 (db01) is stopped\n"), "{t}");
    assert!(t.contains("(it did not run in that time"), "{t}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_guest_of_the_node() {
    let env = env().await;
    let r = metrics(&env, json!({"response_format": "json"})).await;
    assert_ok(&r);
    let s = structured(&r);
    assert!(s.get("vmid").is_none(), "{s}");
    let ids: Vec<u64> = s["guests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["vmid"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [100, 101, 1000]);
    assert_eq!(s["guests"][0]["node"], "pve");
    assert_eq!(s["guests"][0]["cpus"], 2.0);
    assert_eq!(s["guests"][1]["status"], "stopped");

    let r = metrics(&env, json!({"timeframe": "hour"})).await;
    assert_ok(&r);
    let t = text(&r);
    assert!(
        t.starts_with("3 guests:\nVMID       Type  Status   Name"),
        "{t}"
    );
    assert!(
        t.contains("\n100        lxc   running  web01               5.0% 256.0 MiB/2.0 GiB"),
        "{t}"
    );
    assert!(t.contains("\nContainer 1000: History, last hour"), "{t}");

    // PROXMOX_GUEST_ALLOW narrows the list.
    let env = start_proxmox(FIXTURE, &[("PROXMOX_GUEST_ALLOW", "100")]).await;
    let r = metrics(&env, json!({"response_format": "json"})).await;
    assert_ok(&r);
    assert_eq!(structured(&r)["guests"].as_array().unwrap().len(), 1);
    let r = metrics(&env, json!({"vmid": 101})).await;
    failed_containing(&r, "not one of the guests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_guest_is_not_found() {
    let env = env().await;
    let r = metrics(&env, json!({"vmid": 999, "response_format": "json"})).await;
    let s = failed_containing(&r, "Guest 999 not found on this node");
    // Asked as a container, then as a VM: the last word is qemu-server's.
    assert_eq!(
        s["detail"],
        "Configuration file 'nodes/pve/qemu-server/999.conf' does not exist"
    );
    assert!(
        s["suggestion"].as_str().unwrap().contains("without vmid"),
        "{s}"
    );
    let r = metrics(&env, json!({"vmid": 999})).await;
    assert!(is_error(&r));
    assert!(
        text(&r).contains("Guest 999 not found on this node"),
        "{}",
        text(&r)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_are_refused_before_any_io() {
    let env = env().await;
    // Any command would now fail to log in: the refusals below never reach the host.
    env.host().set_faults(Faults {
        refuse_auth: true,
        ..Faults::default()
    });
    env.host().drop_connections();
    let r = metrics(&env, json!({"vmid": 100, "timeframe": "decade"})).await;
    let s = failed_containing(&r, "timeframe");
    assert!(s["error"].as_str().unwrap().contains("decade"), "{s}");
    let r = metrics(&env, json!({"vmid": 99, "response_format": "json"})).await;
    failed_containing(&r, "vmid");
    let r = metrics(&env, json!({"vmid": 100, "extra": 1})).await;
    failed_containing(&r, "extra");
}
