//! The results of the snapshot tools: the snapshot tree (JSON and text) and the
//! outcome of create, rollback and delete.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Failure, Problem, report};
use crate::pct::Ctid;
use crate::snapshot::TreeEntry;

/// One entry of a guest's snapshot tree.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct SnapshotRow {
    pub name: String,
    /// The snapshot this one descends from (none at the root).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// When it was taken, `YYYY-MM-DD HH:MM:SS` in the node's local time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// The first line of its description (may be empty).
    pub description: String,
    /// The guest's present state ("current"), not a snapshot.
    pub current: bool,
}

/// Result of `proxmox_snapshot_list`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, Default)]
pub struct SnapshotListReport {
    pub success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vmid: Option<u32>,
    /// The tree in pct's order: each entry after its parent; the last one named
    /// `current` (with `current: true`) is the present state.
    #[serde(default)]
    pub snapshots: Vec<SnapshotRow>,
    #[serde(flatten)]
    pub problem: Problem,
}

impl SnapshotListReport {
    pub fn of(vmid: Ctid, tree: Vec<TreeEntry>) -> Self {
        SnapshotListReport {
            success: true,
            vmid: Some(vmid.get()),
            snapshots: tree
                .into_iter()
                .map(|e| SnapshotRow {
                    name: e.name,
                    parent: e.parent,
                    time: e.time,
                    description: e.description,
                    current: e.current,
                })
                .collect(),
            ..Default::default()
        }
    }

    pub fn failed(vmid: Option<Ctid>, failure: Failure) -> Self {
        SnapshotListReport {
            success: false,
            vmid: vmid.map(Ctid::get),
            problem: failure.into(),
            ..Default::default()
        }
    }

    /// How deep `row` sits in the tree (its chain of parents).
    fn depth(&self, row: &SnapshotRow) -> usize {
        let mut depth = 0;
        let mut parent = row.parent.as_deref();
        while let Some(p) = parent {
            depth += 1;
            parent = self
                .snapshots
                .iter()
                .find(|r| r.name == p && !r.current)
                .and_then(|r| r.parent.as_deref());
            if depth > self.snapshots.len() {
                break;
            }
        }
        depth
    }
}

report!(SnapshotListReport, tree);

impl SnapshotListReport {
    /// The tree, one snapshot a line, indented under its parent.
    fn tree(&self) -> String {
        let count = self.snapshots.iter().filter(|r| !r.current).count();
        let mut s = format!(
            "Container {} has {count} snapshot{} (times in the node's local time):\n",
            self.vmid.unwrap_or_default(),
            if count == 1 { "" } else { "s" }
        );
        for r in &self.snapshots {
            let indent = "  ".repeat(self.depth(r));
            if r.current {
                s.push_str(&format!("{indent}* current state\n"));
            } else {
                let mut line = format!("{indent}- {}  {}", r.name, r.time.as_deref().unwrap_or(""));
                if !r.description.is_empty() {
                    line.push_str("  ");
                    line.push_str(&r.description);
                }
                s.push_str(line.trim_end());
                s.push('\n');
            }
        }
        s
    }
}

/// Result of `proxmox_snapshot_create`, `_rollback` and `_delete`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, Default)]
pub struct SnapshotReport {
    pub success: bool,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vmid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Rollback: the guest's state afterwards.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(flatten)]
    pub problem: Problem,
}

impl SnapshotReport {
    pub fn done(vmid: Ctid, name: &str, message: String, status: Option<String>) -> Self {
        SnapshotReport {
            success: true,
            message,
            vmid: Some(vmid.get()),
            name: Some(name.to_string()),
            status,
            ..Default::default()
        }
    }

    pub fn failed(vmid: Option<Ctid>, name: Option<&str>, failure: Failure) -> Self {
        SnapshotReport {
            success: false,
            message: failure.error.clone(),
            vmid: vmid.map(Ctid::get),
            name: name.map(str::to_string),
            problem: failure.into(),
            ..Default::default()
        }
    }
}

// These tools answer in JSON only.
report!(SnapshotReport, json);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Report;
    use crate::snapshot::parse_tree;

    #[test]
    fn the_text_form_indents_children_under_their_parent() {
        let tree = parse_tree(
            "`-> base                        2025-01-10 12:00:00     first one\n \
`-> next                       2025-01-11 09:30:00     no-description\n  \
`-> current                                           You are here!\n",
        )
        .unwrap();
        let r = SnapshotListReport::of(Ctid::new(100).unwrap(), tree);
        assert_eq!(
            r.human(),
            "Container 100 has 2 snapshots (times in the node's local time):\n\
- base  2025-01-10 12:00:00  first one\n  \
- next  2025-01-11 09:30:00\n    \
* current state\n"
        );
        assert_eq!(r.snapshots[1].parent.as_deref(), Some("base"));
    }
}
