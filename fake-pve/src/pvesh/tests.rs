//! The exact bytes of what pvesh-fidelity.md gives for each path and refusal.

use super::*;
use crate::fixture::Fixture;
use crate::host::State;

/// 2025-01-10 12:00:30 UTC.
const NOW: u64 = 1_736_510_430;

const FIXTURE: &str = r#"
node = "pve1"

[[containers]]
vmid = 100
hostname = "web01"
status = "running"
cores = 2
memory = 2048
swap = 512
disk = "8G"
tags = "prod;web"

  [containers.metrics]
  cpu = 0.05
  mem = 268435456
  swap = 1048576
  disk = 1288490188
  netin = 3600000
  netout = 7200000
  diskread = 36000
  diskwrite = 72000

[[containers]]
vmid = 1000
hostname = "db01"
status = "stopped"
memory = 512
disk = "4G"
lock = "backup"
"#;

fn state() -> State {
    let mut s = Fixture::parse(FIXTURE).unwrap().into_state().unwrap();
    s.containers.get_mut(&100).unwrap().started_at = Some(NOW - 7200);
    s
}

fn run(line: &str) -> Reply {
    let args: Vec<String> = line.split(' ').map(str::to_string).collect();
    answer(&args, &state(), NOW)
}

#[track_caller]
fn out(line: &str) -> String {
    let r = run(line);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{line}: {r:?}");
    r.stdout
}

#[track_caller]
fn json(line: &str) -> serde_json::Value {
    serde_json::from_str(&out(line)).unwrap()
}

#[track_caller]
fn fails(line: &str, stderr: &str, code: i32) {
    assert_eq!(run(line), Reply::err(stderr, code), "{line}");
}

fn fingerprint() -> String {
    json("get /nodes --output-format json")[0]["ssl_fingerprint"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn version_in_every_format() {
    assert_eq!(
        out("get /version --output-format json"),
        "{\"release\":\"9.2\",\"repoid\":\"f6997e698c7933ea\",\"version\":\"9.2.11\"}\n"
    );
    assert_eq!(
        out("get /version --output-format json-pretty"),
        "{\n   \"release\" : \"9.2\",\n   \"repoid\" : \"f6997e698c7933ea\",\n   \"version\" : \"9.2.11\"\n}\n"
    );
    assert_eq!(
        out("get /version"),
        "┌─────────┬──────────────────┐\n\
         │ key     │ value            │\n\
         ╞═════════╪══════════════════╡\n\
         │ release │ 9.2              │\n\
         ├─────────┼──────────────────┤\n\
         │ repoid  │ f6997e698c7933ea │\n\
         ├─────────┼──────────────────┤\n\
         │ version │ 9.2.11           │\n\
         └─────────┴──────────────────┘\n"
    );
    assert_eq!(
        out("get /version --noborder --noheader"),
        "release 9.2\nrepoid  f6997e698c7933ea\nversion 9.2.11\n"
    );
    assert_eq!(out("get /version --quiet"), "");
}

#[test]
fn nodes_as_json_and_as_the_text_table() {
    let fp = fingerprint();
    assert_eq!(fp.len(), 32 * 3 - 1);
    // The root filesystem's files, plus the 5 GiB of the system the fake's df shows.
    let disk = state().fs.used_bytes() + (5 << 30);
    assert_eq!(
        out("get /nodes --output-format json"),
        format!(
            "[{{\"cpu\":0.06,\"disk\":{disk},\"id\":\"node/pve1\",\"level\":\"\",\"maxcpu\":2,\
             \"maxdisk\":107374182400,\"maxmem\":17179869184,\"mem\":3435973836,\"node\":\"pve1\",\
             \"ssl_fingerprint\":\"{fp}\",\"status\":\"online\",\"type\":\"node\",\"uptime\":273900}}]\n"
        )
    );
    let text = out("get /nodes");
    let bar = "─".repeat(fp.len() + 2);
    assert_eq!(
        text,
        format!(
            "┌──────┬────────┬───────┬───────┬────────┬───────────┬──────────┬{bar}┬──────────┐\n\
             │ node │ status │   cpu │ level │ maxcpu │    maxmem │      mem │ ssl_fingerprint{} │   uptime │\n\
             ╞══════╪════════╪═══════╪═══════╪════════╪═══════════╪══════════╪{}╪══════════╡\n\
             │ pve1 │ online │ 6.00% │       │      2 │ 16.00 GiB │ 3.20 GiB │ {fp} │ 3d 4h 5m │\n\
             └──────┴────────┴───────┴───────┴────────┴───────────┴──────────┴{bar}┴──────────┘\n",
            " ".repeat(fp.len() - "ssl_fingerprint".len()),
            "═".repeat(fp.len() + 2),
        )
    );
}

#[test]
fn a_running_container_reports_its_fixture_figures() {
    assert_eq!(
        out("get /nodes/pve1/lxc/100/status/current --output-format json"),
        "{\"cpu\":0.05,\"cpus\":2,\"disk\":1288490188,\"diskread\":36000,\"diskwrite\":72000,\
         \"ha\":{\"managed\":0},\"maxdisk\":8589934592,\"maxmem\":2147483648,\"maxswap\":536870912,\
         \"mem\":268435456,\"name\":\"web01\",\"netin\":3600000,\"netout\":7200000,\"pid\":10100,\
         \"pressurecpufull\":0,\"pressurecpusome\":0,\"pressureiofull\":0,\"pressureiosome\":0,\
         \"pressurememoryfull\":0,\"pressurememorysome\":0,\"status\":\"running\",\"swap\":1048576,\
         \"tags\":\"prod;web\",\"type\":\"lxc\",\"uptime\":7200,\"vmid\":100}\n"
    );
    // localhost names the local node.
    assert_eq!(
        out("get /nodes/localhost/lxc/100/status/current --output-format json"),
        out("get /nodes/pve1/lxc/100/status/current --output-format json")
    );
}

#[test]
fn a_stopped_container_reports_zero_live_figures() {
    assert_eq!(
        out("get /nodes/pve1/lxc/1000/status/current --output-format json"),
        "{\"cpu\":0,\"cpus\":1,\"disk\":0,\"diskread\":0,\"diskwrite\":0,\"ha\":{\"managed\":0},\
         \"lock\":\"backup\",\"maxdisk\":4294967296,\"maxmem\":536870912,\"maxswap\":536870912,\
         \"mem\":0,\"name\":\"db01\",\"netin\":0,\"netout\":0,\"status\":\"stopped\",\"swap\":0,\
         \"type\":\"lxc\",\"uptime\":0,\"vmid\":1000}\n"
    );
}

#[test]
fn the_container_list_has_one_row_each() {
    let list = json("get /nodes/localhost/lxc --output-format json");
    let rows = list.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|r| r.get("ha").is_none() && r["type"] == "lxc")
    );
    assert_eq!(rows[0]["vmid"], 100);
    assert_eq!(rows[1]["status"], "stopped");
}

#[test]
fn cluster_resources_by_type() {
    assert_eq!(
        out("get /cluster/resources -type vm --output-format json"),
        "[{\"cpu\":0.05,\"disk\":1288490188,\"diskread\":36000,\"diskwrite\":72000,\"id\":\"lxc/100\",\
         \"maxcpu\":2,\"maxdisk\":8589934592,\"maxmem\":2147483648,\"mem\":268435456,\"memhost\":0,\
         \"name\":\"web01\",\"netin\":3600000,\"netout\":7200000,\"node\":\"pve1\",\"status\":\"running\",\
         \"tags\":\"prod;web\",\"template\":0,\"type\":\"lxc\",\"uptime\":7200,\"vmid\":100},\
         {\"cpu\":0,\"disk\":0,\"diskread\":0,\"diskwrite\":0,\"id\":\"lxc/1000\",\"lock\":\"backup\",\
         \"maxcpu\":1,\"maxdisk\":4294967296,\"maxmem\":536870912,\"mem\":0,\"memhost\":0,\
         \"name\":\"db01\",\"netin\":0,\"netout\":0,\"node\":\"pve1\",\"status\":\"stopped\",\
         \"template\":0,\"type\":\"lxc\",\"uptime\":0,\"vmid\":1000}]\n"
    );
    let all = json("get /cluster/resources --output-format json");
    let types: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "lxc/100",
            "lxc/1000",
            "node/pve1",
            "storage/pve1/local",
            "storage/pve1/local-lvm",
            "network/pve1/zone/localnetwork"
        ]
    );
    let nodes = json("get /cluster/resources --type node --output-format json");
    assert_eq!(nodes[0]["cgroup-mode"], 2);
    assert_eq!(nodes.as_array().unwrap().len(), 1);
    let storage = json("get /cluster/resources --ty storage --output-format json");
    assert_eq!(storage[1]["plugintype"], "lvmthin");
    assert_eq!(storage[0]["content"], "backup,iso,vztmpl");
    assert_eq!(storage[0]["id"], "storage/pve1/local");
}

#[test]
fn rrddata_is_a_deterministic_series_on_the_step() {
    let hour = json("get /nodes/pve1/lxc/100/rrddata --timeframe hour --output-format json");
    let rows = hour.as_array().unwrap();
    assert_eq!(rows.len(), 60);
    assert_eq!(rows[59]["time"], NOW / 60 * 60 - 60);
    assert_eq!(rows[0]["time"], NOW / 60 * 60 - 3600);
    assert_eq!(
        format::json(&rows[0]),
        "{\"cpu\":0.046,\"disk\":1288490188,\"diskread\":4.6,\"diskwrite\":9.2,\"maxcpu\":2,\
         \"maxdisk\":8589934592,\"maxmem\":2147483648,\"mem\":246960619.52,\"memhost\":0,\
         \"netin\":460,\"netout\":920,\"pressurecpufull\":0,\"pressurecpusome\":0,\
         \"pressureiofull\":0,\"pressureiosome\":0,\"pressurememoryfull\":0,\
         \"pressurememorysome\":0,\"time\":1736506800}\n"
    );
    // A day is 1440 one-minute rows; the hours before the start have only what a
    // stopped guest records.
    let day = json("get /nodes/pve1/lxc/100/rrddata --timeframe day --output-format json");
    let rows = day.as_array().unwrap();
    assert_eq!(rows.len(), 1440);
    assert_eq!(
        format::json(&rows[0]),
        "{\"disk\":0,\"maxcpu\":2,\"maxdisk\":8589934592,\"maxmem\":2147483648,\"time\":1736424000}\n"
    );
    assert!(rows[1439].get("cpu").is_some());
    let week =
        json("get /nodes/pve1/lxc/1000/rrddata -timeframe week -cf MAX --output-format json");
    assert_eq!(week.as_array().unwrap().len(), 336);
    assert!(week[0].get("cpu").is_none());
    assert_eq!(week[335]["time"].as_u64().unwrap() % 1800, 0);
}

#[test]
fn refusals_with_pvesh_messages() {
    fails(
        "get /foo/bar",
        "No 'get' handler defined for '/foo/bar'\n",
        1,
    );
    fails(
        "set /version/x",
        "No 'set' handler defined for '/version/x'\n",
        1,
    );
    fails(
        "get /nodes/pve1/lxc/999/status/current --output-format json",
        "Configuration file 'nodes/pve1/lxc/999.conf' does not exist\n",
        255,
    );
    fails(
        "get /nodes/pve9/lxc --output-format json",
        "hostname lookup 'pve9' failed - failed to get address info for: pve9: Name or service not known\n",
        255,
    );
    let usage = "\nfake-pve: pvesh's usage text after a 400 error is not emulated\n";
    fails(
        "get /nodes/pve1/lxc/100/rrddata",
        &format!(
            "400 Parameter verification failed.\ntimeframe: property is missing and it is not optional\n{usage}"
        ),
        255,
    );
    fails(
        "get /nodes/pve1/lxc/100/rrddata --timeframe decade",
        &format!(
            "400 Parameter verification failed.\ntimeframe: value 'decade' does not have a value in the enumeration 'hour, day, week, month, year'\n{usage}"
        ),
        255,
    );
    fails(
        "get /nodes/pve1/lxc/abc/status/current",
        &format!(
            "400 Parameter verification failed.\nvmid: type check ('integer') failed - got 'abc'\n{usage}"
        ),
        255,
    );
    fails(
        "get /nodes --bogus 1",
        &format!("Unknown option: bogus\n400 unable to parse option\n{usage}"),
        255,
    );
    fails(
        "get /cluster/resources --type qemu",
        &format!(
            "400 Parameter verification failed.\ntype: value 'qemu' does not have a value in the enumeration 'vm, storage, node, sdn'\n{usage}"
        ),
        255,
    );
}

#[test]
fn what_is_not_emulated_is_refused_loudly() {
    for (line, what) in [
        ("create /nodes/pve1/lxc", "pvesh create"),
        (
            "get /cluster/status",
            "/cluster/status of a standalone node",
        ),
        ("ls /nodes", "pvesh ls"),
        ("get /nodes --output-format yaml", "--output-format yaml"),
        (
            "get /cluster/resources",
            "text output of this path (use --output-format json)",
        ),
        (
            "get /nodes/pve1/lxc/555/rrddata --timeframe hour",
            "rrddata of a guest that does not exist (555)",
        ),
    ] {
        fails(
            line,
            &format!("fake-pve: pvesh: {what} is not emulated\n"),
            2,
        );
    }
}

#[test]
fn durations_and_bytes_render_as_pve_format_does() {
    assert_eq!(format::duration(3725), "1h 2m 5s");
    assert_eq!(format::duration(93780), "1d 2h 3m");
    assert_eq!(format::duration(9 * 86400 + 3 * 3600 + 60), "1w 2d 3h");
    assert_eq!(format::duration(0), "0s");
    assert_eq!(format::bytes(536870912.0), "512.00 MiB");
    assert_eq!(format::bytes(1000.0), "1000.00 B");
}

#[test]
fn a_containers_status_as_the_key_value_table() {
    assert_eq!(
        out("get /nodes/pve1/lxc/1000/status/current --noborder"),
        "key       value\n\
         cpu       0\n\
         cpus      1\n\
         disk      0.00 B\n\
         diskread  0.00 B\n\
         diskwrite 0.00 B\n\
         ha        {\"managed\":0}\n\
         lock      backup\n\
         maxdisk   4.00 GiB\n\
         maxmem    512.00 MiB\n\
         maxswap   512.00 MiB\n\
         mem       0.00 B\n\
         name      db01\n\
         netin     0.00 B\n\
         netout    0.00 B\n\
         status    stopped\n\
         uptime    0s\n\
         vmid      1000\n"
    );
    let framed = out("get /nodes/pve1/lxc/100/status/current");
    assert!(
        framed.starts_with(
            "┌────────────────────┬───────────────┐\n│ key                │ value         │\n╞═"
        ),
        "{framed}"
    );
    for row in [
        "│ cpu                │ 0.05          │\n",
        "│ maxmem             │ 2.00 GiB      │\n",
        "│ pressurecpusome    │ 0             │\n",
        "│ tags               │ prod;web      │\n",
        "│ uptime             │ 2h            │\n",
    ] {
        assert!(framed.contains(row), "{row:?} not in\n{framed}");
    }
    // Not in the schema: only in JSON.
    for key in ["pid", "swap", "type", "pressurecpufull"] {
        assert!(!framed.contains(&format!("│ {key} ")), "{key} in\n{framed}");
    }
}

#[test]
fn the_container_list_as_a_table() {
    let text = out("get /nodes/pve1/lxc --noborder");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "status  vmid  cpu cpus     disk  diskread diskwrite lock    maxdisk     maxmem    maxswap        mem name     netin   netout pressurecpusome pressureiofull pressureiosome pressurememoryfull pressurememorysome tags     template uptime",
            "running  100 0.05    2 1.20 GiB 35.16 KiB 70.31 KiB        8.00 GiB   2.00 GiB 512.00 MiB 256.00 MiB web01 3.43 MiB 6.87 MiB               0              0              0                  0                  0 prod;web          2h",
            "stopped 1000    0    1   0.00 B    0.00 B    0.00 B backup 4.00 GiB 512.00 MiB 512.00 MiB     0.00 B db01    0.00 B   0.00 B                                                                                                       0s",
        ]
    );
    assert_eq!(
        out("get /nodes/pve1/lxc --noborder --noheader")
            .lines()
            .count(),
        2
    );
}

#[test]
fn options_as_getopt_reads_them() {
    let usage = "\nfake-pve: pvesh's usage text after a 400 error is not emulated\n";
    let pretty = out("get /version --output-format json-pretty");
    for line in [
        "get /version --output-format=json-pretty",
        "get /version -OUTPUT json-pretty",
        "get //version/ --out json-pretty --quiet 0",
    ] {
        assert_eq!(out(line), pretty, "{line}");
    }
    fails(
        "get /version --quiet maybe",
        &format!("400 unable to parse boolean option\n{usage}"),
        255,
    );
    fails(
        "get /version --no 1",
        &format!(
            "Option no is ambiguous (noborder, noheader)\n400 unable to parse option\n{usage}"
        ),
        255,
    );
    fails(
        "get /nodes/pve1/lxc/100/rrddata --timeframe",
        &format!("Option timeframe requires an argument\n400 unable to parse option\n{usage}"),
        255,
    );
}

// ---- VMs: rrddata and status/current ------------------------------------------

const VMS: &str = r#"
[[vms]]
vmid = 200
name = "vm1"
status = "running"
memory = 4096
cores = 2
agent = true

  [vms.metrics]
  cpu = 0.1
  mem = 536870912
  netin = 7200000
  netout = 3600000
  diskread = 720000
  diskwrite = 360000

[[vms]]
vmid = 201
name = "vm2"
memory = 1024
disk = "16G"
"#;

fn vm_state() -> State {
    let text = format!("{FIXTURE}\n{VMS}");
    let mut s = Fixture::parse(&text).unwrap().into_state().unwrap();
    s.containers.get_mut(&100).unwrap().started_at = Some(NOW - 7200);
    s.vms.get_mut(&200).unwrap().started_at = Some(NOW - 7200);
    s
}

fn vm_run(line: &str) -> Reply {
    let args: Vec<String> = line.split(' ').map(str::to_string).collect();
    answer(&args, &vm_state(), NOW)
}

#[track_caller]
fn vm_json(line: &str) -> serde_json::Value {
    let r = vm_run(line);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{line}: {r:?}");
    serde_json::from_str(&r.stdout).unwrap()
}

#[test]
fn vm_rrddata_has_the_container_metric_names() {
    let hour = vm_json("get /nodes/pve1/qemu/200/rrddata --timeframe hour --output-format json");
    let rows = hour.as_array().unwrap();
    assert_eq!(rows.len(), 60);
    assert_eq!(rows[59]["time"], NOW / 60 * 60 - 60);
    assert_eq!(
        format::json(&rows[0]),
        "{\"cpu\":0.092,\"disk\":0,\"diskread\":92,\"diskwrite\":46,\"maxcpu\":2,\
         \"maxdisk\":34359738368,\"maxmem\":4294967296,\"mem\":493921239.04,\
         \"memhost\":493921239.04,\"netin\":920,\"netout\":460,\"pressurecpufull\":0,\
         \"pressurecpusome\":0,\"pressureiofull\":0,\"pressureiosome\":0,\
         \"pressurememoryfull\":0,\"pressurememorysome\":0,\"time\":1736506800}\n"
    );
    // The keys are those of a container's rows.
    let ct = json("get /nodes/pve1/lxc/100/rrddata --timeframe hour --output-format json");
    let keys =
        |v: &serde_json::Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(keys(&rows[0]), keys(&ct[0]));
    let day = vm_json(
        "get /nodes/pve1/qemu/200/rrddata --timeframe day --cf AVERAGE --output-format json",
    );
    let rows = day.as_array().unwrap();
    assert_eq!(rows.len(), 1440);
    assert_eq!(
        format::json(&rows[0]),
        "{\"disk\":0,\"maxcpu\":2,\"maxdisk\":34359738368,\"maxmem\":4294967296,\"time\":1736424000}\n"
    );
    assert!(rows[1439].get("cpu").is_some());
    // MAX raises the averages of the longer timeframes.
    let avg = vm_json("get /nodes/pve1/qemu/200/rrddata --timeframe week --output-format json");
    let max =
        vm_json("get /nodes/pve1/qemu/200/rrddata --timeframe week --cf MAX --output-format json");
    assert_eq!(max.as_array().unwrap().len(), 336);
    let cpu = |v: &serde_json::Value| v[335]["cpu"].as_f64().unwrap();
    assert!(cpu(&max) > cpu(&avg), "{} {}", cpu(&max), cpu(&avg));
    // A stopped VM records no live figure.
    let stopped = vm_json("get /nodes/pve1/qemu/201/rrddata --timeframe week --output-format json");
    assert_eq!(stopped.as_array().unwrap().len(), 336);
    assert_eq!(
        format::json(&stopped[335]),
        format!(
            "{{\"disk\":0,\"maxcpu\":1,\"maxdisk\":17179869184,\"maxmem\":1073741824,\"time\":{}}}\n",
            NOW / 1800 * 1800 - 1800
        )
    );
}

#[test]
fn rrddata_is_one_rrd_per_vmid_under_either_path() {
    // The method loads no config: `pve2-vm/<vmid>` holds whichever guest has the id.
    for (a, b) in [("qemu/200", "lxc/200"), ("lxc/100", "qemu/100")] {
        let line =
            |p: &str| format!("get /nodes/pve1/{p}/rrddata --timeframe hour --output-format json");
        assert_eq!(vm_json(&line(a)), vm_json(&line(b)), "{a} {b}");
    }
    assert_eq!(
        vm_run("get /nodes/pve1/qemu/555/rrddata --timeframe hour --output-format json"),
        Reply::err(
            "fake-pve: pvesh: rrddata of a guest that does not exist (555) is not emulated\n",
            2
        )
    );
    assert_eq!(
        vm_run("get /nodes/pve1/qemu/200/rrddata --timeframe hour"),
        Reply::err(
            "fake-pve: pvesh: text output of this path (use --output-format json) is not emulated\n",
            2
        )
    );
}

#[test]
fn vm_status_current_for_running_and_stopped() {
    let running = vm_json("get /nodes/pve1/qemu/200/status/current --output-format json");
    assert_eq!(
        format::json(&running),
        "{\"agent\":1,\"cpu\":0.1,\"cpus\":2,\"disk\":0,\"diskread\":720000,\"diskwrite\":360000,\
         \"ha\":{\"managed\":0},\"maxdisk\":34359738368,\"maxmem\":4294967296,\"mem\":536870912,\
         \"memhost\":536870912,\"name\":\"vm1\",\"netin\":7200000,\"netout\":3600000,\"pid\":20200,\
         \"pressurecpufull\":0,\"pressurecpusome\":0,\"pressureiofull\":0,\"pressureiosome\":0,\
         \"pressurememoryfull\":0,\"pressurememorysome\":0,\"qmpstatus\":\"running\",\
         \"running-machine\":\"pc-i440fx-9.2+pve1\",\"running-qemu\":\"9.2.0\",\
         \"status\":\"running\",\"uptime\":7200,\"vmid\":200}\n"
    );
    let stopped = vm_json("get /nodes/localhost/qemu/201/status/current --output-format json");
    assert_eq!(
        format::json(&stopped),
        "{\"cpu\":0,\"cpus\":1,\"disk\":0,\"diskread\":0,\"diskwrite\":0,\"ha\":{\"managed\":0},\
         \"maxdisk\":17179869184,\"maxmem\":1073741824,\"mem\":0,\"memhost\":0,\"name\":\"vm2\",\
         \"netin\":0,\"netout\":0,\"qmpstatus\":\"stopped\",\"status\":\"stopped\",\"uptime\":0,\
         \"vmid\":201}\n"
    );
}

#[test]
fn a_guest_id_of_the_other_type_is_no_such_guest() {
    for (line, err) in [
        (
            "get /nodes/pve1/lxc/200/status/current --output-format json",
            "Configuration file 'nodes/pve1/lxc/200.conf' does not exist\n",
        ),
        (
            "get /nodes/pve1/qemu/100/status/current --output-format json",
            "Configuration file 'nodes/pve1/qemu-server/100.conf' does not exist\n",
        ),
        (
            "get /nodes/pve1/qemu/999/status/current --output-format json",
            "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist\n",
        ),
    ] {
        assert_eq!(vm_run(line), Reply::err(err, 255), "{line}");
    }
}
