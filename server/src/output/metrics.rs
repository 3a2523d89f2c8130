//! The result of `proxmox_guest_metrics`: each guest's live figures (CPU, memory,
//! swap, disk, network, disk I/O, uptime) and, with a timeframe, its history as
//! min/avg/max per metric, so that the result stays small. Text and JSON.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Problem, report};
use crate::metrics::{GuestStatus, History, Stat};
use crate::pct::Ctid;

/// One guest's figures.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
pub struct GuestFigures {
    pub vmid: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `lxc` (container) or `qemu` (virtual machine).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The node it is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// `running` or `stopped` (a VM may also be `paused`); `unknown` when the node
    /// has no statistics for it.
    pub status: String,
    /// CPU use now, in percent of its CPUs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maxmem_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swap_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maxswap_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maxdisk_bytes: Option<u64>,
    /// Bytes received and sent since it started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netin_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netout_bytes: Option<u64>,
    /// Bytes read from and written to its disks since it started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diskread_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diskwrite_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uptime_secs: Option<u64>,
    /// The lock held on it (e.g. `backup`), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<String>,
    /// With a timeframe: the history summarised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<History>,
}

fn bytes(v: Option<f64>) -> Option<u64> {
    v.filter(|x| x.is_finite() && *x >= 0.0)
        .map(|x| x.round() as u64)
}

impl GuestFigures {
    pub fn of(s: &GuestStatus) -> Self {
        GuestFigures {
            vmid: s.vmid,
            name: s.name.clone(),
            kind: s.kind.clone(),
            node: s.node.clone(),
            status: s.status.clone().unwrap_or_else(|| "unknown".into()),
            cpu_percent: s.cpu.map(|c| (c * 10000.0).round() / 100.0),
            cpus: s.cpu_count(),
            mem_bytes: bytes(s.mem),
            maxmem_bytes: bytes(s.maxmem),
            swap_bytes: bytes(s.swap),
            maxswap_bytes: bytes(s.maxswap),
            // A VM's `disk` is always 0 in the API (its use is not measured): unknown.
            disk_bytes: if s.kind.as_deref() == Some("qemu") {
                None
            } else {
                bytes(s.disk)
            },
            maxdisk_bytes: bytes(s.maxdisk),
            netin_bytes: bytes(s.netin),
            netout_bytes: bytes(s.netout),
            diskread_bytes: bytes(s.diskread),
            diskwrite_bytes: bytes(s.diskwrite),
            uptime_secs: bytes(s.uptime),
            lock: s.lock.clone(),
            tags: s.tags.clone(),
            history: None,
        }
    }
}

/// Result of `proxmox_guest_metrics`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, Default)]
pub struct MetricsReport {
    pub success: bool,
    /// The guest asked about; absent when every guest was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vmid: Option<u32>,
    /// The guests, by id (one when `vmid` was given; empty on error).
    #[serde(default)]
    pub guests: Vec<GuestFigures>,
    #[serde(flatten)]
    pub problem: Problem,
}

impl MetricsReport {
    pub fn of(vmid: Option<Ctid>, guests: Vec<GuestFigures>) -> Self {
        MetricsReport {
            success: true,
            vmid: vmid.map(Ctid::get),
            guests,
            ..Default::default()
        }
    }

    super::failed!(vmid);
}

report!(MetricsReport, layout);

/// Bytes with a binary unit, one decimal: `256.0 MiB`.
pub fn human(b: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = b;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{} B", b.round())
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// `2d 3h 4m`, `3h 4m`, `4m 5s`, `5s`.
pub fn duration(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86400,
        secs % 86400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h {m}m"),
    }
}

fn used_of(used: Option<u64>, max: Option<u64>) -> String {
    match (used, max) {
        (Some(u), Some(m)) if m > 0 => format!(
            "{} of {} ({:.1}%)",
            human(u as f64),
            human(m as f64),
            u as f64 * 100.0 / m as f64
        ),
        (Some(u), _) => human(u as f64),
        (None, Some(m)) => format!("? of {}", human(m as f64)),
        (None, None) => "?".into(),
    }
}

fn opt_human(v: Option<u64>) -> String {
    v.map(|b| human(b as f64)).unwrap_or_else(|| "?".into())
}

fn guest_kind(g: &GuestFigures) -> &'static str {
    match g.kind.as_deref() {
        Some("qemu") => "VM",
        _ => "Container",
    }
}

fn stat_line(label: &str, s: &Option<Stat>, show: fn(f64) -> String) -> Option<String> {
    s.map(|s| {
        format!(
            "  {label:<14} min {:<12} avg {:<12} max {}\n",
            show(s.min),
            show(s.avg),
            show(s.max)
        )
    })
}

fn history_text(h: &History) -> String {
    let mut s = format!(
        "History, last {} ({} samples, {} while running):\n",
        h.timeframe.as_str(),
        h.samples,
        h.running_samples
    );
    if h.running_samples == 0 {
        s.push_str("  (it did not run in that time: no live figures were recorded)\n");
    }
    let pct = |v: f64| format!("{v:.2}%");
    let rate = |v: f64| format!("{}/s", human(v));
    for line in [
        stat_line("CPU", &h.cpu_percent, pct),
        stat_line("Memory", &h.mem_bytes, human),
        stat_line("Disk", &h.disk_bytes, human),
        stat_line("Net in", &h.netin_bytes_per_sec, rate),
        stat_line("Net out", &h.netout_bytes_per_sec, rate),
        stat_line("Disk read", &h.diskread_bytes_per_sec, rate),
        stat_line("Disk write", &h.diskwrite_bytes_per_sec, rate),
    ]
    .into_iter()
    .flatten()
    {
        s.push_str(&line);
    }
    s
}

fn guest_text(g: &GuestFigures) -> String {
    let name = g
        .name
        .as_deref()
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    let up = match g.uptime_secs {
        Some(u) if u > 0 => format!(", up {}", duration(u)),
        _ => String::new(),
    };
    let mut s = format!("{} {}{name} is {}{up}\n", guest_kind(g), g.vmid, g.status);
    let cpus = g.cpus.map(|c| format!(" of {c} CPUs")).unwrap_or_default();
    let cpu = g
        .cpu_percent
        .map(|c| format!("{c:.2}%"))
        .unwrap_or_else(|| "?".into());
    s.push_str(&format!("CPU:      {cpu}{cpus}\n"));
    s.push_str(&format!(
        "Memory:   {}\n",
        used_of(g.mem_bytes, g.maxmem_bytes)
    ));
    if g.swap_bytes.is_some() || g.maxswap_bytes.is_some() {
        s.push_str(&format!(
            "Swap:     {}\n",
            used_of(g.swap_bytes, g.maxswap_bytes)
        ));
    }
    s.push_str(&format!(
        "Disk:     {}\n",
        used_of(g.disk_bytes, g.maxdisk_bytes)
    ));
    s.push_str(&format!(
        "Network:  in {}, out {} (since it started)\n",
        opt_human(g.netin_bytes),
        opt_human(g.netout_bytes)
    ));
    s.push_str(&format!(
        "Disk I/O: read {}, written {} (since it started)\n",
        opt_human(g.diskread_bytes),
        opt_human(g.diskwrite_bytes)
    ));
    if let Some(lock) = &g.lock {
        s.push_str(&format!("Lock:     {lock}\n"));
    }
    if let Some(h) = &g.history {
        s.push_str(&history_text(h));
    }
    s
}

impl MetricsReport {
    fn layout(&self) -> String {
        if self.vmid.is_some()
            && let Some(g) = self.guests.first()
        {
            return guest_text(g);
        }
        if self.guests.is_empty() {
            return "No guests on this node (or none that this server may manage).\n".into();
        }
        let mut s = format!(
            "{} guest{}:\n",
            self.guests.len(),
            if self.guests.len() == 1 { "" } else { "s" }
        );
        s.push_str(&format!(
            "{:<10} {:<5} {:<8} {:<16} {:>7} {:<24} {:<24} {}\n",
            "VMID", "Type", "Status", "Name", "CPU", "Memory", "Disk", "Uptime"
        ));
        for g in &self.guests {
            let cpu = g
                .cpu_percent
                .map(|c| format!("{c:.1}%"))
                .unwrap_or_else(|| "-".into());
            let pair = |u: Option<u64>, m: Option<u64>| match (u, m) {
                (Some(u), Some(m)) => format!("{}/{}", human(u as f64), human(m as f64)),
                (u, m) => format!("{}/{}", opt_human(u), opt_human(m)),
            };
            let up = g
                .uptime_secs
                .filter(|u| *u > 0)
                .map(duration)
                .unwrap_or_else(|| "-".into());
            let line = format!(
                "{:<10} {:<5} {:<8} {:<16} {:>7} {:<24} {:<24} {}",
                g.vmid,
                g.kind.as_deref().unwrap_or("?"),
                g.status,
                g.name.as_deref().unwrap_or(""),
                cpu,
                pair(g.mem_bytes, g.maxmem_bytes),
                pair(g.disk_bytes, g.maxdisk_bytes),
                up
            );
            s.push_str(line.trim_end());
            s.push('\n');
        }
        for g in &self.guests {
            if let Some(h) = &g.history {
                s.push_str(&format!("\n{} {}: ", guest_kind(g), g.vmid));
                s.push_str(&history_text(h));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::parse_current;
    use crate::output::Report;

    #[test]
    fn one_guest_as_text() {
        let s = parse_current(
            r#"{"cpu":0.05,"cpus":2,"disk":1288490188,"diskread":36000,"diskwrite":72000,"ha":{"managed":0},"maxdisk":8589934592,"maxmem":2147483648,"maxswap":536870912,"mem":268435456,"name":"web01","netin":3600000,"netout":7200000,"status":"running","swap":0,"type":"lxc","uptime":7200,"vmid":100}"#,
        )
        .unwrap();
        let r = MetricsReport::of(Ctid::new(100).ok(), vec![GuestFigures::of(&s)]);
        assert_eq!(
            r.human(),
            "Container 100 (web01) is running, up 2h 0m\n\
CPU:      5.00% of 2 CPUs\n\
Memory:   256.0 MiB of 2.0 GiB (12.5%)\n\
Swap:     0 B of 512.0 MiB (0.0%)\n\
Disk:     1.2 GiB of 8.0 GiB (15.0%)\n\
Network:  in 3.4 MiB, out 6.9 MiB (since it started)\n\
Disk I/O: read 35.2 KiB, written 70.3 KiB (since it started)\n"
        );
    }

    #[test]
    fn a_vms_disk_use_is_unknown_not_zero() {
        let rows = crate::metrics::parse_resources(
            r#"[{"id":"qemu/200","type":"qemu","vmid":200,"status":"running","disk":0,"maxdisk":34359738368,"maxcpu":4,"cpu":0.5}]"#,
        )
        .unwrap();
        let g = GuestFigures::of(&rows[0]);
        assert_eq!((g.disk_bytes, g.maxdisk_bytes), (None, Some(32 << 30)));
        let r = MetricsReport::of(None, vec![g]);
        assert!(
            r.human()
                .contains("\n200        qemu  running                     50.0% ?/? "),
            "{}",
            r.human()
        );
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(human(1023.0), "1023 B");
        assert_eq!(human(1536.0), "1.5 KiB");
        assert_eq!(duration(59), "59s");
        assert_eq!(duration(3725), "1h 2m");
        assert_eq!(duration(90061), "1d 1h 1m");
    }
}
