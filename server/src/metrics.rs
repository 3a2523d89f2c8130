//! Guest metrics through `pvesh`: the command lines (always `--output-format json`)
//! and the typed parse of what the API returns, the history summarised as
//! min/avg/max. Pure (strings in, typed values out, no I/O), written from
//! docs/pvesh-fidelity.md, never from fake-pve's emulator. pvesh's JSON follows Perl's
//! internals, so every number is taken as a JSON number or a string of one.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

use crate::pct::Ctid;

/// How far back the history goes (`rrddata --timeframe`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Timeframe {
    /// The last hour, one sample a minute.
    Hour,
    /// The last day.
    Day,
    /// The last week.
    Week,
}

impl Timeframe {
    pub fn as_str(self) -> &'static str {
        match self {
            Timeframe::Hour => "hour",
            Timeframe::Day => "day",
            Timeframe::Week => "week",
        }
    }
}

/// `pvesh get /nodes/localhost/KIND/ID/status/current --output-format json` (`kind`:
/// `lxc` or `qemu`; anything else is taken as `lxc`).
pub fn current(kind: &str, vmid: Ctid) -> String {
    let kind = if kind == "qemu" { "qemu" } else { "lxc" };
    format!("pvesh get /nodes/localhost/{kind}/{vmid}/status/current --output-format json")
}

/// `pvesh get /cluster/resources --type vm --output-format json`: every guest.
pub fn resources() -> String {
    "pvesh get /cluster/resources --type vm --output-format json".into()
}

/// `pvesh get /nodes/localhost/KIND/ID/rrddata --timeframe T --output-format json`
/// (`kind`: `lxc` or `qemu`; anything else is taken as `lxc`).
pub fn rrddata(kind: &str, vmid: Ctid, timeframe: Timeframe) -> String {
    let kind = if kind == "qemu" { "qemu" } else { "lxc" };
    format!(
        "pvesh get /nodes/localhost/{kind}/{vmid}/rrddata --timeframe {} --output-format json",
        timeframe.as_str()
    )
}

/// A number given as a JSON number or a string of one; absent, null or empty as none.
fn opt_num<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    match v {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Number(n)) => Ok(n.as_f64()),
        Some(serde_json::Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(serde_json::Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("not a number: {s:?}"))),
        Some(other) => Err(serde::de::Error::custom(format!("not a number: {other}"))),
    }
}

/// A guest id as a number or a string of digits.
fn vmid_num<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = opt_num(d)?.ok_or_else(|| serde::de::Error::custom("vmid is missing"))?;
    if n.fract() != 0.0 || !(0.0..=u32::MAX as f64).contains(&n) {
        return Err(serde::de::Error::custom(format!("not a guest id: {n}")));
    }
    Ok(n as u32)
}

/// One guest's live figures: a `/cluster/resources` row or a `status/current` object.
/// Byte counters (`netin`, `diskread`, …) count since the guest started.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct GuestStatus {
    #[serde(deserialize_with = "vmid_num")]
    pub vmid: u32,
    #[serde(default)]
    pub name: Option<String>,
    /// `lxc` or `qemu`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub node: Option<String>,
    /// `running`, `stopped` (qemu also `paused`…), `unknown` without statistics.
    #[serde(default)]
    pub status: Option<String>,
    /// CPU use, a fraction of `cpus` (`maxcpu` in /cluster/resources).
    #[serde(default, deserialize_with = "opt_num")]
    pub cpu: Option<f64>,
    #[serde(default, deserialize_with = "opt_num")]
    pub cpus: Option<f64>,
    #[serde(default, deserialize_with = "opt_num")]
    pub maxcpu: Option<f64>,
    #[serde(default, deserialize_with = "opt_num")]
    pub mem: Option<f64>,
    #[serde(default, deserialize_with = "opt_num")]
    pub maxmem: Option<f64>,
    #[serde(default, deserialize_with = "opt_num")]
    pub swap: Option<f64>,
    #[serde(default, deserialize_with = "opt_num")]
    pub maxswap: Option<f64>,
    #[serde(default, deserialize_with = "opt_num")]
    pub disk: Option<f64>,
    #[serde(default, deserialize_with = "opt_num")]
    pub maxdisk: Option<f64>,
    #[serde(default, deserialize_with = "opt_num")]
    pub netin: Option<f64>,
    #[serde(default, deserialize_with = "opt_num")]
    pub netout: Option<f64>,
    #[serde(default, deserialize_with = "opt_num")]
    pub diskread: Option<f64>,
    #[serde(default, deserialize_with = "opt_num")]
    pub diskwrite: Option<f64>,
    #[serde(default, deserialize_with = "opt_num")]
    pub uptime: Option<f64>,
    #[serde(default)]
    pub lock: Option<String>,
    #[serde(default)]
    pub tags: Option<String>,
    #[serde(default, deserialize_with = "opt_num")]
    pub template: Option<f64>,
}

impl GuestStatus {
    /// The number of CPUs its `cpu` fraction is of.
    pub fn cpu_count(&self) -> Option<f64> {
        self.cpus.or(self.maxcpu)
    }
}

/// One row of `rrddata`: a sample time and what was recorded then (undefined samples
/// are absent; rates are per second).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct RrdRow {
    #[serde(default, deserialize_with = "opt_num")]
    pub time: Option<f64>,
    #[serde(default, deserialize_with = "opt_num")]
    pub cpu: Option<f64>,
    #[serde(default, deserialize_with = "opt_num")]
    pub mem: Option<f64>,
    #[serde(default, deserialize_with = "opt_num")]
    pub disk: Option<f64>,
    #[serde(default, deserialize_with = "opt_num")]
    pub netin: Option<f64>,
    #[serde(default, deserialize_with = "opt_num")]
    pub netout: Option<f64>,
    #[serde(default, deserialize_with = "opt_num")]
    pub diskread: Option<f64>,
    #[serde(default, deserialize_with = "opt_num")]
    pub diskwrite: Option<f64>,
}

/// Why pvesh's output could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pvesh answered with JSON that is not {what}: {reason}")]
pub struct BadJson {
    pub what: &'static str,
    pub reason: String,
}

fn parse<T: serde::de::DeserializeOwned>(what: &'static str, s: &str) -> Result<T, BadJson> {
    serde_json::from_str(s.trim()).map_err(|e| BadJson {
        what,
        reason: e.to_string(),
    })
}

/// A `status/current` object.
pub fn parse_current(s: &str) -> Result<GuestStatus, BadJson> {
    parse("a guest's status", s)
}

/// `/cluster/resources --type vm`: the guests (rows of other types skipped).
pub fn parse_resources(s: &str) -> Result<Vec<GuestStatus>, BadJson> {
    let rows: Vec<serde_json::Value> = parse("a list of resources", s)?;
    rows.into_iter()
        .filter(|r| matches!(r.get("type").and_then(|t| t.as_str()), Some("lxc" | "qemu")))
        .map(|r| {
            serde_json::from_value(r).map_err(|e| BadJson {
                what: "a guest row",
                reason: e.to_string(),
            })
        })
        .collect()
}

/// `rrddata` rows.
pub fn parse_rrd(s: &str) -> Result<Vec<RrdRow>, BadJson> {
    parse("a list of samples", s)
}

/// What pvesh's error message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PveshFailure {
    /// `Configuration file 'nodes/N/lxc/ID.conf' does not exist`.
    NoSuchGuest,
    /// `pvesh: command not found` (not a Proxmox VE node).
    NoPvesh,
    Other,
}

pub fn classify(stderr: &str, exit_code: Option<i32>) -> PveshFailure {
    if stderr.contains("Configuration file '") && stderr.contains("' does not exist") {
        PveshFailure::NoSuchGuest
    } else if exit_code == Some(127) || stderr.contains("pvesh: command not found") {
        PveshFailure::NoPvesh
    } else {
        PveshFailure::Other
    }
}

/// Smallest, mean and largest of a series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Stat {
    pub min: f64,
    pub avg: f64,
    pub max: f64,
}

fn round(x: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (x * m).round() / m
}

/// The summary of the defined values of a series, scaled by `scale`.
pub fn stat(values: impl Iterator<Item = f64>, scale: f64, digits: i32) -> Option<Stat> {
    let v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let avg = v.iter().sum::<f64>() / v.len() as f64;
    Some(Stat {
        min: round(min * scale, digits),
        avg: round(avg * scale, digits),
        max: round(max * scale, digits),
    })
}

/// The history of one guest summarised: for each metric, min/avg/max over the samples
/// that recorded it (a stopped guest records none of the live figures).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct History {
    pub timeframe: Timeframe,
    /// Rows pvesh returned, and how many of them recorded CPU use (the guest ran).
    pub samples: usize,
    pub running_samples: usize,
    /// First and last sample, seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<u64>,
    /// CPU use in percent of the guest's CPUs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<Stat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_bytes: Option<Stat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_bytes: Option<Stat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netin_bytes_per_sec: Option<Stat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netout_bytes_per_sec: Option<Stat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diskread_bytes_per_sec: Option<Stat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diskwrite_bytes_per_sec: Option<Stat>,
}

pub fn summarise(timeframe: Timeframe, rows: &[RrdRow]) -> History {
    let series = |f: fn(&RrdRow) -> Option<f64>| rows.iter().filter_map(f);
    let times: Vec<f64> = series(|r| r.time).collect();
    History {
        timeframe,
        samples: rows.len(),
        running_samples: series(|r| r.cpu).count(),
        from: times.first().map(|t| *t as u64),
        to: times.last().map(|t| *t as u64),
        cpu_percent: stat(series(|r| r.cpu), 100.0, 2),
        mem_bytes: stat(series(|r| r.mem), 1.0, 0),
        // A stopped guest's rows record its disk as 0: only the running ones count.
        disk_bytes: stat(
            rows.iter()
                .filter(|r| r.cpu.is_some())
                .filter_map(|r| r.disk),
            1.0,
            0,
        ),
        netin_bytes_per_sec: stat(series(|r| r.netin), 1.0, 1),
        netout_bytes_per_sec: stat(series(|r| r.netout), 1.0, 1),
        diskread_bytes_per_sec: stat(series(|r| r.diskread), 1.0, 1),
        diskwrite_bytes_per_sec: stat(series(|r| r.diskwrite), 1.0, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_ask_for_json() {
        let id = Ctid::new(100).unwrap();
        assert_eq!(
            current("lxc", id),
            "pvesh get /nodes/localhost/lxc/100/status/current --output-format json"
        );
        assert_eq!(
            rrddata("lxc", id, Timeframe::Week),
            "pvesh get /nodes/localhost/lxc/100/rrddata --timeframe week --output-format json"
        );
        assert_eq!(
            rrddata("qemu", id, Timeframe::Hour),
            "pvesh get /nodes/localhost/qemu/100/rrddata --timeframe hour --output-format json"
        );
        assert_eq!(
            resources(),
            "pvesh get /cluster/resources --type vm --output-format json"
        );
    }

    #[test]
    fn numbers_may_come_as_strings() {
        let s = parse_current(
            r#"{"cpu":"0.0123","cpus":"2","maxmem":536870912,"mem":48693248,"name":"web01","status":"running","type":"lxc","uptime":86400,"vmid":"100","ha":{"managed":0}}"#,
        )
        .unwrap();
        assert_eq!(s.vmid, 100);
        assert_eq!(s.cpu, Some(0.0123));
        assert_eq!(s.cpu_count(), Some(2.0));
        assert_eq!(s.swap, None);
    }

    #[test]
    fn resources_keep_only_guests() {
        let rows = parse_resources(
            r#"[{"id":"lxc/100","type":"lxc","vmid":100,"status":"running","maxcpu":1,"cpu":0.01},
                {"id":"qemu/200","type":"qemu","vmid":200,"status":"unknown"},
                {"id":"node/pve1","type":"node","node":"pve1"}]"#,
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].kind.as_deref(), Some("qemu"));
        assert_eq!(rows[1].cpu, None);
    }

    #[test]
    fn history_is_summarised_over_the_recorded_samples() {
        let rows = parse_rrd(
            r#"[{"time":1736506800,"maxcpu":1,"maxmem":536870912,"maxdisk":8589934592,"disk":0},
                {"time":1736506860,"cpu":0.01,"mem":100,"netin":10.5,"disk":5},
                {"time":1736506920,"cpu":0.03,"mem":300,"netin":20.5,"disk":5}]"#,
        )
        .unwrap();
        let h = summarise(Timeframe::Hour, &rows);
        assert_eq!((h.samples, h.running_samples), (3, 2));
        assert_eq!(
            h.cpu_percent,
            Some(Stat {
                min: 1.0,
                avg: 2.0,
                max: 3.0
            })
        );
        assert_eq!(h.mem_bytes.unwrap().avg, 200.0);
        assert_eq!(h.netin_bytes_per_sec.unwrap().max, 20.5);
        assert_eq!(h.from, Some(1736506800));
        assert_eq!(h.netout_bytes_per_sec, None);
        assert_eq!(h.disk_bytes.unwrap().min, 5.0);
    }

    #[test]
    fn pvesh_errors_are_told_apart() {
        assert_eq!(
            classify(
                "Configuration file 'nodes/pve/lxc/999.conf' does not exist\n",
                Some(255)
            ),
            PveshFailure::NoSuchGuest
        );
        assert_eq!(
            classify("bash: line 1: pvesh: command not found\n", Some(127)),
            PveshFailure::NoPvesh
        );
        assert_eq!(classify("boom\n", Some(255)), PveshFailure::Other);
    }
}
