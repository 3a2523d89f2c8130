//! What containers and VMs share in the fixture and the emulators: their live
//! figures, the size notation of their disks, Proxmox's booleans, the encoding of a
//! config's description, their snapshots.

use std::collections::BTreeMap;

use crate::fs::Fs;

/// One snapshot of a guest's config and filesystem.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub name: String,
    pub parent: Option<String>,
    pub description: String,
    /// Seconds since the Unix epoch.
    pub snaptime: u64,
    pub config: BTreeMap<String, String>,
    pub fs: Fs,
}

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

/// Perl's `encode_text` (pve-common ParseUtils.pm:60-64), as `pct config` and `qm
/// config` print a description: controls, `%`, `:` and non-ASCII bytes
/// percent-encoded.
pub fn encode_text(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' && b != b':' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One node of the snapshot tree; `snaptime` is None for `current`.
struct TreeNode {
    name: String,
    parent: Option<String>,
    snaptime: Option<u64>,
    description: String,
}

/// `pct listsnapshot` and `qm listsnapshot` (pve-common `print_snapshot_tree`): the
/// snapshots as a tree, `current` last under `parent` (the config's `parent:`).
pub fn snapshot_tree<'a>(
    snapshots: impl IntoIterator<Item = &'a Snapshot>,
    parent: Option<&str>,
) -> String {
    let mut nodes: Vec<TreeNode> = snapshots
        .into_iter()
        .map(|s| TreeNode {
            name: s.name.clone(),
            parent: s.parent.clone(),
            snaptime: Some(s.snaptime),
            description: s.description.clone(),
        })
        .collect();
    nodes.push(TreeNode {
        name: "current".into(),
        parent: parent.map(str::to_string),
        snaptime: None,
        description: "You are here!".into(),
    });
    // Older first; `current` (no time) after everything.
    let order = |i: &usize| (nodes[*i].snaptime.is_none(), nodes[*i].snaptime);
    let is_node = |name: &str| nodes.iter().any(|n| n.name == name);
    let mut roots: Vec<usize> = (0..nodes.len())
        .filter(|i| !nodes[*i].parent.as_deref().is_some_and(is_node))
        .collect();
    roots.sort_by_key(order);
    let mut out = String::new();
    let mut stack: Vec<(String, usize)> = roots
        .into_iter()
        .rev()
        .map(|i| ("`->".to_string(), i))
        .collect();
    while let Some((prefix, i)) = stack.pop() {
        let n = &nodes[i];
        let description = if n.description.is_empty() {
            "no-description"
        } else {
            n.description.lines().next().unwrap_or("")
        };
        let time = n
            .snaptime
            .map(crate::unix::format_datetime)
            .unwrap_or_default();
        let width = 30usize.saturating_sub(prefix.chars().count());
        out.push_str(&format!(
            "{prefix} {:<width$} {time:<23} {description}\n",
            n.name
        ));
        let mut children: Vec<usize> = (0..nodes.len())
            .filter(|c| nodes[*c].parent.as_deref() == Some(n.name.as_str()) && *c != i)
            .collect();
        children.sort_by_key(order);
        let child_prefix = format!(" {prefix}");
        for c in children.into_iter().rev() {
            stack.push((child_prefix.clone(), c));
        }
    }
    out
}
