//! `pct restore VMID ARCHIVE [--storage S] [--force] [--unique] [--start]`: a
//! container from a vzdump archive of [`crate::backup`] (docs/backups.md §3).

use super::Reply;
use super::cli::{Vmid, usage_line};
use super::commands::{die, set_running};
use crate::backup;
use crate::host::{Container, State, Status};

/// What `pct restore` was asked to do.
pub(super) struct Restore<'a> {
    /// The node and kind of the guest holding this vmid on another node, if any.
    pub elsewhere: Option<(String, crate::host::cluster::GuestKind)>,
    pub vmid: Vmid,
    pub archive: &'a str,
    pub storage: Option<&'a str>,
    pub force: bool,
    pub unique: bool,
    pub start: bool,
}

/// A fresh MAC address for `--unique`, in Proxmox's `BC:24:11` range.
fn new_mac() -> String {
    let b: [u8; 3] = rand::random();
    format!("BC:24:11:{:02X}:{:02X}:{:02X}", b[0], b[1], b[2])
}

/// `hwaddr=…` in a `net*` value replaced by a new address.
fn with_new_mac(value: &str) -> String {
    value
        .split(',')
        .map(|part| match part.split_once('=') {
            Some(("hwaddr", _)) => format!("hwaddr={}", new_mac()),
            _ => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

pub(super) fn restore(state: &mut State, r: Restore<'_>) -> Reply {
    let id = r.vmid.get();
    // Before the task (class C), in pve-container's order.
    let storage = r.storage.unwrap_or("local");
    match backup::storage(storage) {
        None => {
            return die(format!("storage '{storage}' does not exist"));
        }
        Some(st) if !st.holds("rootdir") => {
            return Reply::err(
                format!(
                    "400 Parameter verification failed.\nstorage: storage '{storage}' does not support container directories\n{}",
                    usage_line("restore")
                ),
                255,
            );
        }
        Some(_) => {}
    }
    // One vmid space: a VM's id is taken whatever --force says (its config is no
    // container's, so pct never overwrites it).
    if let Some((node, kind)) = &r.elsewhere {
        return die(format!(
            "{} {id} already exists on node '{node}'",
            kind.label()
        ));
    }
    if state.vms.contains_key(&id) {
        return die(format!("VM {id} already exists on node '{}'", state.node));
    }
    if let Some(existing) = state.containers.get(&id) {
        if !r.force {
            return die(format!("CT {id} already exists on node '{}'", state.node));
        }
        if existing.status == Status::Running {
            return die("can't overwrite running container");
        }
        if let Some(lock) = &existing.lock {
            return die(format!("CT is locked ({lock})"));
        }
    }
    let Some(path) = backup::archive_path(r.archive) else {
        return die(format!("unable to parse volume ID '{}'", r.archive));
    };
    let data = match state.fs.read(&path) {
        Ok(d) => d.to_vec(),
        Err(_) => return die(format!("volume '{}' does not exist", r.archive)),
    };
    let restored = match backup::read_archive(&data) {
        Ok(x) => x,
        Err(e) => return die(format!("fake-pve: cannot restore '{}': {e}", r.archive)),
    };
    if restored.kind != backup::ArchiveKind::Lxc {
        return die(format!(
            "fake-pve: pct restore of a VM's backup ('{}') is not emulated",
            r.archive
        ));
    }
    let (mut config, lxc) = backup::parse_config(&restored.config);
    let size = config
        .get("rootfs")
        .and_then(|v| v.split(',').find_map(|p| p.strip_prefix("size=")))
        .unwrap_or("8G")
        .to_string();
    config.insert(
        "rootfs".into(),
        format!("{storage}:vm-{id}-disk-0,size={size}"),
    );
    if r.unique {
        for (k, v) in config.iter_mut() {
            if k.starts_with("net") {
                *v = with_new_mac(v);
            }
        }
    }
    let mut ct = Container {
        vmid: id,
        status: Status::Stopped,
        lock: None,
        template: false,
        tags: config.get("tags").cloned(),
        ha_managed: false,
        config,
        lxc,
        snapshots: Vec::new(),
        parent_snapshot: None,
        fs: restored.fs,
        refuses_stop: false,
        ignores_shutdown: false,
        started_at: None,
        metrics: Default::default(),
    };
    let out = format!(
        "recovering backed-up configuration from '{}'\nrestoring '{}' now..\nextracting archive '{path}'\nTotal bytes read: {}\nDetected container architecture: amd64\nmerging backed-up and given configuration..\n",
        r.archive,
        r.archive,
        backup::tar_totals(restored.bytes)
    );
    if r.start {
        set_running(&mut ct);
    }
    state.containers.insert(id, ct);
    Reply::out(out)
}
