//! What containers and VMs share in the fixture and the emulators: their live
//! figures, the size notation of their disks, Proxmox's booleans.

/// A running container's live figures, as a fixture sets them (`[containers.metrics]`);
/// each unset one is derived from the config by the `pvesh` emulator.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    /// CPU use as a fraction of the container's cores (0.05 = 5 %).
    pub cpu: Option<f64>,
    /// Bytes in use: memory, swap, root filesystem.
    pub mem: Option<u64>,
    pub swap: Option<u64>,
    pub disk: Option<u64>,
    /// Bytes moved since the start: network in and out, disk read and written.
    pub netin: Option<u64>,
    pub netout: Option<u64>,
    pub diskread: Option<u64>,
    pub diskwrite: Option<u64>,
    /// Seconds it has been running when the fixture is loaded (default 0).
    pub uptime: Option<u64>,
}

/// Parses `8G`, `512M`, `100K`, `1T` or plain bytes.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, unit) = match s.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&s[..i], &s[i..]),
        None => (s, ""),
    };
    let n: f64 = num.parse().ok()?;
    let mult = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1u64,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return None,
    };
    Some((n * mult as f64) as u64)
}

/// pve-common's `parse_boolean` (`1`/`on`/`yes`/`true` and their opposites).
pub fn parse_boolean(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "on" | "yes" | "true" => Some(true),
        "0" | "off" | "no" | "false" => Some(false),
        _ => None,
    }
}
