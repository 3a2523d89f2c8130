//! Backups on the fake node: its storages, the archive a `vzdump` of a container
//! writes (a real tar: the container's config as `./etc/vzdump/pct.conf`, then its
//! files) or of a VM (the same tar with `./etc/vzdump/qemu-server.conf`: not VMA's
//! format), the archive's name, and reading one back for `pct restore` and
//! `qmrestore`.
//! docs/backups.md is the specification.

use std::collections::BTreeMap;

use crate::fs::{Fs, Kind};
use crate::host::Container;
use crate::vm::Vm;

/// One storage of the node, as `/etc/pve/storage.cfg` would define it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Storage {
    pub name: &'static str,
    /// `dir`, `lvmthin`, …
    pub kind: &'static str,
    /// Where a directory storage keeps its files (backups in `<path>/dump`).
    pub path: Option<&'static str>,
    /// What it may hold: `backup`, `images`, `rootdir`, `iso`, `vztmpl`.
    pub content: &'static [&'static str],
}

/// A stock node's two storages: `local` (a directory, for backups, ISO images and
/// templates) and `local-lvm` (LVM-thin, for guest disks).
pub const STORAGES: &[Storage] = &[
    Storage {
        name: "local",
        kind: "dir",
        path: Some("/var/lib/vz"),
        content: &["backup", "iso", "vztmpl"],
    },
    Storage {
        name: "local-lvm",
        kind: "lvmthin",
        path: None,
        content: &["images", "rootdir"],
    },
];

pub fn storage(name: &str) -> Option<&'static Storage> {
    STORAGES.iter().find(|s| s.name == name)
}

impl Storage {
    pub fn holds(&self, content: &str) -> bool {
        self.content.contains(&content)
    }

    /// The directory its backups are in (`<path>/dump`), for a directory storage.
    pub fn dump_dir(&self) -> Option<String> {
        self.path.map(|p| format!("{p}/dump"))
    }
}

/// The archive's file name: `vzdump-lxc-<vmid>-<local time %Y_%m_%d-%H_%M_%S>.tar`.
pub fn archive_name(vmid: u32, secs: u64) -> String {
    format!("{}.tar", archive_stem("lxc", vmid, secs))
}

/// A VM's archive's file name: `vzdump-qemu-<vmid>-<%Y_%m_%d-%H_%M_%S>.vma`.
pub fn vm_archive_name(vmid: u32, secs: u64) -> String {
    format!("{}.vma", archive_stem("qemu", vmid, secs))
}

/// `vzdump-<kind>-<vmid>-<local time %Y_%m_%d-%H_%M_%S>`.
fn archive_stem(kind: &str, vmid: u32, secs: u64) -> String {
    let stamp = crate::unix::format_datetime(secs)
        .replace('-', "_")
        .replace(' ', "-")
        .replace(':', "_");
    format!("vzdump-{kind}-{vmid}-{stamp}")
}

/// The file an archive names: a volume id `<storage>:backup/NAME` or an absolute path.
pub fn archive_path(archive: &str) -> Option<String> {
    if archive.starts_with('/') {
        return Some(archive.to_string());
    }
    let (store, rest) = archive.split_once(':')?;
    let name = rest.strip_prefix("backup/")?;
    Some(format!("{}/{name}", storage(store)?.dump_dir()?))
}

/// The vmid in a backup file name (`vzdump-lxc-100-…`), if it is one.
pub fn vmid_of(file: &str) -> Option<u32> {
    let rest = file
        .strip_prefix("vzdump-lxc-")
        .or_else(|| file.strip_prefix("vzdump-qemu-"))?;
    rest.split('-').next()?.parse().ok()
}

/// The config file a backup carries: the description as `#` lines, then `key: value`
/// lines sorted, then the raw `lxc.*` lines.
pub fn config_text(ct: &Container) -> String {
    let mut out = String::new();
    if let Some(d) = ct.config.get("description") {
        for line in d.lines() {
            out.push_str(&format!("#{line}\n"));
        }
    }
    for (k, v) in &ct.config {
        if k != "description" && k != "digest" {
            out.push_str(&format!("{k}: {v}\n"));
        }
    }
    for (k, v) in &ct.lxc {
        out.push_str(&format!("{k}: {v}\n"));
    }
    out
}

/// The config file a VM's backup carries: the description as `#` lines, then its
/// `key: value` lines sorted (no snapshot sections, no `lock`).
pub fn vm_config_text(vm: &Vm) -> String {
    let mut out = String::new();
    if let Some(d) = vm.config.get("description") {
        for line in d.lines() {
            out.push_str(&format!("#{line}\n"));
        }
    }
    for (k, v) in &vm.config {
        if !["description", "digest", "parent", "lock"].contains(&k.as_str()) {
            out.push_str(&format!("{k}: {v}\n"));
        }
    }
    out
}

/// Parses [`config_text`] back: the config keys and the `lxc.*` lines.
pub fn parse_config(text: &str) -> (BTreeMap<String, String>, Vec<(String, String)>) {
    let mut config = BTreeMap::new();
    let mut lxc = Vec::new();
    let mut description = Vec::new();
    for line in text.lines() {
        if let Some(d) = line.strip_prefix('#') {
            description.push(d.to_string());
        } else if let Some((k, v)) = line.split_once(": ") {
            if k.starts_with("lxc.") {
                lxc.push((k.to_string(), v.to_string()));
            } else {
                config.insert(k.to_string(), v.to_string());
            }
        }
    }
    if !description.is_empty() {
        config.insert("description".into(), description.join("\n"));
    }
    (config, lxc)
}

const CONF_PATH: &str = "./etc/vzdump/pct.conf";
const VM_CONF_PATH: &str = "./etc/vzdump/qemu-server.conf";

/// Which kind of guest an archive is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    Lxc,
    Qemu,
}

fn header(
    kind: tar::EntryType,
    size: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: u64,
) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(uid.into());
    h.set_gid(gid.into());
    h.set_mtime(mtime);
    h
}

/// Appends one member named `name` exactly as given (GNU tar keeps vzdump's leading
/// `./`, which the tar crate's path setter would strip); a name too long for the
/// header goes through the crate's long-name entry, without the `./`.
fn append(
    b: &mut tar::Builder<Vec<u8>>,
    mut h: tar::Header,
    name: &str,
    data: &[u8],
) -> std::io::Result<()> {
    if name.len() < 100 {
        let field = &mut h.as_old_mut().name;
        field[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        b.append(&h, data)
    } else {
        b.append_data(&mut h, name, data)
    }
}

/// The archive of container `ct`: its config, then every directory and file of its
/// filesystem with their modes, owners and times.
pub fn write_archive(ct: &Container) -> std::io::Result<Vec<u8>> {
    write_tar(CONF_PATH, &config_text(ct), &ct.fs)
}

/// The archive of VM `vm`: its config as `./etc/vzdump/qemu-server.conf`, then its
/// filesystem (the fake's stand-in for the disks' contents).
pub fn write_vm_archive(vm: &Vm) -> std::io::Result<Vec<u8>> {
    write_tar(VM_CONF_PATH, &vm_config_text(vm), &vm.fs)
}

fn write_tar(conf_path: &str, conf: &str, fs: &Fs) -> std::io::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    let now = crate::fs::now_secs();
    append(
        &mut b,
        header(tar::EntryType::Directory, 0, 0o755, 0, 0, now),
        "./etc/vzdump/",
        &[],
    )?;
    append(
        &mut b,
        header(tar::EntryType::Regular, conf.len() as u64, 0o644, 0, 0, now),
        conf_path,
        conf.as_bytes(),
    )?;
    let mut paths = all_paths(fs);
    paths.sort();
    for path in paths {
        let Ok(meta) = fs.stat(&path) else {
            continue;
        };
        let (kind, name, data) = match meta.kind {
            Kind::Dir => (tar::EntryType::Directory, format!(".{path}/"), Vec::new()),
            Kind::File => (
                tar::EntryType::Regular,
                format!(".{path}"),
                fs.read(&path).unwrap_or_default().to_vec(),
            ),
        };
        let h = header(
            kind,
            data.len() as u64,
            meta.mode,
            meta.uid,
            meta.gid,
            meta.mtime,
        );
        append(&mut b, h, &name, &data)?;
    }
    b.into_inner()
}

/// Every directory and file below `/` (without `/` itself).
fn all_paths(fs: &Fs) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec!["/".to_string()];
    while let Some(dir) = todo.pop() {
        let Ok(entries) = fs.list_dir(&dir) else {
            continue;
        };
        for (name, meta) in entries {
            let path = if dir == "/" {
                format!("/{name}")
            } else {
                format!("{dir}/{name}")
            };
            if meta.is_dir() {
                todo.push(path.clone());
            }
            out.push(path);
        }
    }
    out
}

/// What an archive holds: the config file's text and the filesystem.
pub struct Restored {
    pub kind: ArchiveKind,
    pub config: String,
    pub fs: Fs,
    /// Bytes read from the archive.
    pub bytes: u64,
}

/// Reads an archive written by [`write_archive`] or [`write_vm_archive`] (any tar
/// with a `./etc/vzdump/pct.conf` or `./etc/vzdump/qemu-server.conf`). Errors say
/// what is wrong with it.
pub fn read_archive(data: &[u8]) -> Result<Restored, String> {
    let mut archive = tar::Archive::new(data);
    let mut fs = Fs::new();
    let mut config = None;
    let entries = archive
        .entries()
        .map_err(|e| format!("not a tar archive: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("broken tar archive: {e}"))?;
        let path = entry
            .path()
            .map_err(|e| format!("broken tar archive: {e}"))?
            .to_string_lossy()
            .into_owned();
        let header = entry.header().clone();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data)
            .map_err(|e| format!("broken tar archive: {e}"))?;
        let member = path.trim_start_matches("./");
        if member == CONF_PATH.trim_start_matches("./") {
            config = Some((
                ArchiveKind::Lxc,
                String::from_utf8_lossy(&data).into_owned(),
            ));
            continue;
        }
        if member == VM_CONF_PATH.trim_start_matches("./") {
            config = Some((
                ArchiveKind::Qemu,
                String::from_utf8_lossy(&data).into_owned(),
            ));
            continue;
        }
        let target = format!("/{}", path.trim_start_matches("./").trim_end_matches('/'));
        if target == "/" || target.starts_with("/etc/vzdump") {
            continue;
        }
        let mode = header.mode().unwrap_or(0o644) & 0o7777;
        let uid = header.uid().unwrap_or(0) as u32;
        let gid = header.gid().unwrap_or(0) as u32;
        match header.entry_type() {
            tar::EntryType::Directory => {
                let _ = fs.mkdir_all(&target, mode);
                let _ = fs.set_mode(&target, mode);
            }
            tar::EntryType::Regular => {
                let _ = fs.mkdir_all(crate::fs::parent(&target), 0o755);
                fs.write_file(&target, &data, mode)
                    .map_err(|e| format!("cannot extract {target}: {e}"))?;
                let _ = fs.set_mode(&target, mode);
            }
            other => return Err(format!("{target}: entry type {other:?} is not emulated")),
        }
        let _ = fs.set_owner(&target, Some(uid), Some(gid));
        if let Ok(t) = header.mtime() {
            let _ = fs.set_mtime(&target, t);
        }
    }
    let (kind, config) = config
        .ok_or("no ./etc/vzdump/pct.conf or qemu-server.conf in the archive: not a backup")?;
    Ok(Restored {
        kind,
        config,
        fs,
        bytes: data.len() as u64,
    })
}

/// `format_size` of PVE's VZDump.pm: `<int>KB`, `<int>MB`, `%.2fGB`, `%.2fTB`
/// (1024-based).
pub fn format_size(bytes: u64) -> String {
    let kb = bytes as f64 / 1024.0;
    if kb < 1024.0 {
        return format!("{}KB", kb as u64);
    }
    let mb = kb / 1024.0;
    if mb < 1024.0 {
        return format!("{}MB", mb as u64);
    }
    let gb = mb / 1024.0;
    if gb < 1024.0 {
        return format!("{gb:.2}GB");
    }
    format!("{:.2}TB", gb / 1024.0)
}

/// GNU tar's `--totals` figures after "Total bytes written: " / "read: ": the count,
/// then a short size and the rate, e.g. `10240 (10KiB, 10KiB/s)` [I]. The fake's
/// archives are written in no measurable time, so the rate is the size per second.
pub fn tar_totals(bytes: u64) -> String {
    let short = |bytes: u64| {
        let mut v = bytes as f64;
        let mut unit = "B";
        for next in ["KiB", "MiB", "GiB", "TiB"] {
            if v < 1024.0 {
                break;
            }
            v /= 1024.0;
            unit = next;
        }
        if v < 10.0 && unit != "B" {
            format!("{v:.1}{unit}")
        } else {
            format!("{}{unit}", v as u64)
        }
    };
    format!("{bytes} ({}, {}/s)", short(bytes), short(bytes))
}
