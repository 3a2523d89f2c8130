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
    /// `lxc` (a container) or `qemu` (a VM).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The tree in pct's order: each entry after its parent; the last one named
    /// `current` (with `current: true`) is the present state.
    #[serde(default)]
    pub snapshots: Vec<SnapshotRow>,
    #[serde(flatten)]
    pub problem: Problem,
}

impl SnapshotListReport {
    /// The tree of guest `vmid` of type `kind` (`lxc` or `qemu`).
    pub fn of(vmid: Ctid, kind: &str, tree: Vec<TreeEntry>) -> Self {
        SnapshotListReport {
            success: true,
            vmid: Some(vmid.get()),
            kind: Some(kind.to_string()),
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

    super::failed!(vmid);

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
            "{} {} has {count} snapshot{} (times in the node's local time):\n",
            if self.kind.as_deref() == Some("qemu") {
                "VM"
            } else {
                "Container"
            },
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

/// Result of `proxmox_backup_create`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, Default)]
pub struct BackupReport {
    pub success: bool,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vmid: Option<u32>,
    /// The backup's volume id (`local:backup/vzdump-lxc-…`), for proxmox_backup_restore.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volid: Option<String>,
    /// The archive's path on the node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive: Option<String>,
    /// The archive's size as vzdump gives it, e.g. `392MB`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// How long it took, `HH:MM:SS`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// vzdump's warnings, if any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The last lines of vzdump's task log.
    #[serde(default)]
    pub log: Vec<String>,
    #[serde(flatten)]
    pub problem: Problem,
}

impl BackupReport {
    /// A finished backup of guest `vmid` (`what`: `Container` or `VM`).
    pub fn done(vmid: Ctid, what: &str, b: crate::guests::Backup) -> Self {
        BackupReport {
            success: true,
            message: format!(
                "{what} {vmid} backed up to {}",
                b.volid.as_deref().unwrap_or("its storage")
            ),
            vmid: Some(vmid.get()),
            volid: b.volid,
            archive: b.summary.archive,
            size: b.summary.size,
            duration: b.summary.duration,
            warnings: b.summary.warnings,
            log: b.log,
            ..Default::default()
        }
    }

    super::failed!(vmid, message);
}

// The backup tool answers in JSON only.
report!(BackupReport, json);

/// One backup in `proxmox_backup_list`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct BackupRow {
    pub volid: String,
    /// e.g. `tar.zst`, `vma.zst`.
    pub format: String,
    /// Bytes (absent when the storage does not know).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vmid: Option<u32>,
}

/// Result of `proxmox_backup_list`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, Default)]
pub struct BackupListReport {
    pub success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
    /// The backups on the storage, by volume id.
    #[serde(default)]
    pub backups: Vec<BackupRow>,
    #[serde(flatten)]
    pub problem: Problem,
}

impl BackupListReport {
    pub fn of(storage: &str, volumes: Vec<crate::backup::Volume>) -> Self {
        BackupListReport {
            success: true,
            storage: Some(storage.to_string()),
            backups: volumes
                .into_iter()
                .map(|v| BackupRow {
                    volid: v.volid,
                    format: v.format,
                    size: v.size,
                    vmid: v.vmid,
                })
                .collect(),
            ..Default::default()
        }
    }

    pub fn failed(storage: Option<&str>, failure: Failure) -> Self {
        BackupListReport {
            success: false,
            storage: storage.map(str::to_string),
            problem: failure.into(),
            ..Default::default()
        }
    }

    /// One backup a line: volume id, guest, size in bytes.
    fn table(&self) -> String {
        let storage = self.storage.as_deref().unwrap_or_default();
        if self.backups.is_empty() {
            return format!("No backups on storage {storage}\n");
        }
        let mut s = format!("Backups on storage {storage}:\n");
        for b in &self.backups {
            let vmid = b.vmid.map_or("-".to_string(), |v| v.to_string());
            let size = b.size.map_or("-".to_string(), |v| format!("{v} bytes"));
            s.push_str(&format!("{}  (guest {vmid}, {size})\n", b.volid));
        }
        s
    }
}

report!(BackupListReport, table);

/// Result of `proxmox_backup_restore`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, Default)]
pub struct RestoreReport {
    pub success: bool,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vmid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive: Option<String>,
    /// The restored guest's state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The last lines of pct's log.
    #[serde(default)]
    pub log: Vec<String>,
    #[serde(flatten)]
    pub problem: Problem,
}

impl RestoreReport {
    /// A finished restore of guest `vmid` (`what`: `Container` or `VM`).
    pub fn done(vmid: Ctid, what: &str, archive: &str, status: String, log: Vec<String>) -> Self {
        RestoreReport {
            success: true,
            message: format!("{what} {vmid} restored from {archive}; it is {status}"),
            vmid: Some(vmid.get()),
            archive: Some(archive.to_string()),
            status: Some(status),
            log,
            ..Default::default()
        }
    }

    super::failed!(vmid, message);
}

// The restore tool answers in JSON only.
report!(RestoreReport, json);

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
        let r = SnapshotListReport::of(Ctid::new(100).unwrap(), "lxc", tree);
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
