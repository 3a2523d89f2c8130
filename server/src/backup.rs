//! Backups of guests: the command lines of `vzdump`, `pvesm list` and `pct restore`,
//! and the parsers of what they print. Pure (strings in, typed values out, no I/O),
//! written from docs/backups.md, never from fake-pve's emulator.

use crate::pct::{Ctid, ParseError, parse_err};
use crate::quote::{Unquotable, quote};

/// vzdump's `--mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    // Variants stay undocumented: documented ones would make the schema a `oneOf`
    // (the field's own description says what each does).
    Snapshot,
    Suspend,
    Stop,
}

/// vzdump's `--compress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Compress {
    // `0`: no compression.
    #[serde(rename = "0")]
    None,
    Gzip,
    Lzo,
    Zstd,
}

impl Mode {
    fn word(self) -> &'static str {
        match self {
            Mode::Snapshot => "snapshot",
            Mode::Suspend => "suspend",
            Mode::Stop => "stop",
        }
    }
}

impl Compress {
    fn word(self) -> &'static str {
        match self {
            Compress::None => "0",
            Compress::Gzip => "gzip",
            Compress::Lzo => "lzo",
            Compress::Zstd => "zstd",
        }
    }
}

/// A storage name as Proxmox allows it (`pve-storage-id`: a letter, then letters,
/// digits, `-`, `_`, `.`).
pub fn check_storage(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && name.len() <= 100;
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{name}' is not a storage name: a letter, then letters, digits, '-', '_' or '.'"
        ))
    }
}

/// A backup volume id as `pvesm list` shows it: `STORAGE:backup/vzdump-lxc-…`.
pub fn check_archive(volid: &str) -> Result<(), String> {
    let (storage, name) = volid
        .split_once(":backup/")
        .ok_or_else(|| format!("'{volid}' is not a backup volume id like local:backup/vzdump-lxc-100-2025_01_10-12_00_00.tar.zst"))?;
    check_storage(storage)?;
    if name.contains('/') || !name.starts_with("vzdump-") {
        return Err(format!(
            "'{volid}' does not name a vzdump archive (the file name starts with vzdump-)"
        ));
    }
    if !name.starts_with("vzdump-lxc-") && !name.starts_with("vzdump-qemu-") {
        return Err(format!(
            "'{volid}' is neither a container's (vzdump-lxc-…) nor a VM's (vzdump-qemu-…) archive"
        ));
    }
    Ok(())
}

/// Whether an archive is a VM's (`vzdump-qemu-…`), restored with `qmrestore`.
pub fn is_vm_archive(volid: &str) -> bool {
    volid
        .rsplit('/')
        .next()
        .is_some_and(|n| n.starts_with("vzdump-qemu-"))
}

/// What a restore is asked to do: guest `vmid` from `archive`, its disks on
/// `storage`; `force` replaces an existing guest of that id.
#[derive(Debug, Clone, Copy)]
pub struct Restore<'a> {
    pub vmid: Ctid,
    pub archive: &'a str,
    pub storage: &'a str,
    pub force: bool,
}

impl Restore<'_> {
    /// `qmrestore ARCHIVE ID --storage S [--force 1]`: the archive first (qm-fidelity.md
    /// §13), the other way round from `pct restore`.
    pub fn qmrestore(&self) -> Result<String, Unquotable> {
        let archive = quote(self.archive, "the archive")?;
        Ok(self.forced(format!(
            "qmrestore {archive} {} --storage {}",
            self.vmid, self.storage
        )))
    }

    /// `pct restore ID ARCHIVE --storage S [--force 1]`.
    pub fn pct(&self) -> Result<String, Unquotable> {
        let archive = quote(self.archive, "the archive")?;
        Ok(self.forced(format!(
            "pct restore {} {archive} --storage {}",
            self.vmid, self.storage
        )))
    }

    fn forced(&self, line: String) -> String {
        if self.force {
            line + " --force 1"
        } else {
            line
        }
    }
}

/// The guest id in a backup's file name (`…/vzdump-lxc-100-…`).
pub fn archive_vmid(volid: &str) -> Option<u32> {
    let name = volid.rsplit('/').next()?;
    let rest = name
        .strip_prefix("vzdump-lxc-")
        .or_else(|| name.strip_prefix("vzdump-qemu-"))?;
    rest.split('-').next()?.parse().ok()
}

/// `vzdump ID --storage S --mode M --compress C`.
pub fn create(vmid: Ctid, storage: &str, mode: Mode, compress: Compress) -> String {
    format!(
        "vzdump {vmid} --storage {storage} --mode {} --compress {}",
        mode.word(),
        compress.word()
    )
}

/// `pvesm list S --content backup [--vmid ID]`.
pub fn list(storage: &str, vmid: Option<Ctid>) -> String {
    let mut line = format!("pvesm list {storage} --content backup");
    if let Some(v) = vmid {
        line.push_str(&format!(" --vmid {v}"));
    }
    line
}

/// What a vzdump task log says about one guest's backup.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    /// The archive's path on the node (`creating vzdump archive '…'`).
    pub archive: Option<String>,
    /// `archive file size: 392MB`.
    pub size: Option<String>,
    /// `Finished Backup of VM 100 (00:00:11)`.
    pub duration: Option<String>,
    /// `ERROR: Backup of VM 100 failed - …` (the message after the dash), and any other
    /// `ERROR:` line.
    pub errors: Vec<String>,
    /// `WARN:` lines.
    pub warnings: Vec<String>,
}

/// Reads vzdump's task log (its stdout).
pub fn parse_log(stdout: &str) -> Summary {
    let mut s = Summary::default();
    for line in stdout.lines().map(str::trim_end) {
        if let Some(info) = line.strip_prefix("INFO: ") {
            if let Some(path) = info
                .strip_prefix("creating vzdump archive '")
                .and_then(|r| r.strip_suffix('\''))
            {
                s.archive = Some(path.to_string());
            } else if let Some(size) = info.strip_prefix("archive file size: ") {
                s.size = Some(size.to_string());
            } else if let Some(rest) = info.strip_prefix("Finished Backup of VM ")
                && let Some((_, d)) = rest.split_once(" (")
            {
                s.duration = Some(d.trim_end_matches(')').to_string());
            }
        } else if let Some(err) = line.strip_prefix("ERROR: ") {
            let msg = err
                .split_once(" failed - ")
                .filter(|(head, _)| head.starts_with("Backup of VM "))
                .map_or(err, |(_, m)| m);
            s.errors.push(msg.to_string());
        } else if let Some(w) = line.strip_prefix("WARN: ") {
            s.warnings.push(w.to_string());
        }
    }
    s
}

/// The volume id of an archive written to storage `storage`: `STORAGE:backup/NAME`.
pub fn volid(storage: &str, archive_path: &str) -> String {
    let name = archive_path.rsplit('/').next().unwrap_or(archive_path);
    format!("{storage}:backup/{name}")
}

/// One row of `pvesm list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub volid: String,
    pub format: String,
    pub content: String,
    /// Bytes; `None` when pvesm printed `-` (unknown); approximate sizes (`~N`) as N.
    pub size: Option<u64>,
    pub vmid: Option<u32>,
}

/// Parses `pvesm list` (header, then `VOLID FORMAT TYPE SIZE [VMID]` rows).
pub fn parse_list(stdout: &str) -> Result<Vec<Volume>, ParseError> {
    let mut rows = Vec::new();
    let mut lines = stdout.lines().filter(|l| !l.trim().is_empty());
    match lines.next() {
        Some(h)
            if h.split_whitespace().collect::<Vec<_>>()
                == ["Volid", "Format", "Type", "Size", "VMID"] => {}
        None => return Ok(rows),
        Some(h) => return Err(parse_err("pvesm list (header)", h)),
    }
    for line in lines {
        let f: Vec<&str> = line.split_whitespace().collect();
        if !(4..=5).contains(&f.len()) {
            return Err(parse_err("pvesm list", line));
        }
        let size = match f[3] {
            "-" => None,
            s => Some(
                s.trim_start_matches('~')
                    .parse()
                    .map_err(|_| parse_err("pvesm list (size)", line))?,
            ),
        };
        let vmid = match f.get(4) {
            Some(v) => Some(
                v.parse()
                    .map_err(|_| parse_err("pvesm list (vmid)", line))?,
            ),
            None => None,
        };
        rows.push(Volume {
            volid: f[0].to_string(),
            format: f[1].to_string(),
            content: f[2].to_string(),
            size,
            vmid,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_log_is_summarised() {
        let log = "INFO: starting new backup job: vzdump 100 --compress zstd --storage local --mode snapshot
INFO: Starting Backup of VM 100 (lxc)
INFO: Backup started at 2025-01-10 12:00:00
INFO: status = running
INFO: creating vzdump archive '/var/lib/vz/dump/vzdump-lxc-100-2025_01_10-12_00_00.tar.zst'
INFO: Total bytes written: 1056133120 (1008MiB, 97MiB/s)
INFO: archive file size: 392MB
INFO: Finished Backup of VM 100 (00:00:11)
INFO: Backup job finished successfully
";
        let s = parse_log(log);
        assert_eq!(
            s.archive.as_deref(),
            Some("/var/lib/vz/dump/vzdump-lxc-100-2025_01_10-12_00_00.tar.zst")
        );
        assert_eq!(s.size.as_deref(), Some("392MB"));
        assert_eq!(s.duration.as_deref(), Some("00:00:11"));
        assert!(s.errors.is_empty());
        assert_eq!(
            volid("local", s.archive.as_deref().unwrap()),
            "local:backup/vzdump-lxc-100-2025_01_10-12_00_00.tar.zst"
        );
        let failed = parse_log(
            "ERROR: Backup of VM 100 failed - CT is locked (snapshot)\nINFO: Failed at 2025-01-10 12:00:01\n",
        );
        assert_eq!(failed.errors, ["CT is locked (snapshot)"]);
    }

    #[test]
    fn the_spec_table_parses() {
        let out = "Volid                                                    Format  Type            Size VMID
local:backup/vzdump-lxc-100-2025_01_10-12_00_00.tar.zst  tar.zst backup     123456789 100
local:backup/vzdump-qemu-101-2025_01_10-12_05_00.vma.zst vma.zst backup    2345678901 101
local:iso/debian.iso                                     iso     iso              ~42
";
        let rows = parse_list(out).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].size, Some(123_456_789));
        assert_eq!(rows[1].vmid, Some(101));
        assert_eq!(rows[2].vmid, None);
        assert_eq!(rows[2].size, Some(42));
        assert!(
            parse_list("Volid Format  Type      Size VMID\n")
                .unwrap()
                .is_empty()
        );
        assert!(parse_list("garbage\n").is_err());
    }

    #[test]
    fn archives_and_storages_are_checked() {
        assert!(check_archive("local:backup/vzdump-lxc-100-2025_01_10-12_00_00.tar").is_ok());
        for bad in [
            "",
            "vzdump-lxc-100.tar",
            "local:iso/x.iso",
            "local:backup/../x",
            "1x:backup/vzdump-lxc-1.tar",
        ] {
            assert!(check_archive(bad).is_err(), "{bad}");
        }
        assert!(
            check_archive("local:backup/vzdump-other-200-x.vma")
                .unwrap_err()
                .contains("neither a container's")
        );
        assert!(check_archive("local:backup/vzdump-qemu-200-x.vma").is_ok());
        assert!(is_vm_archive("local:backup/vzdump-qemu-200-x.vma"));
        assert!(!is_vm_archive("local:backup/vzdump-lxc-200-x.tar"));
        assert_eq!(
            Restore {
                vmid: Ctid::new(300).unwrap(),
                archive: "local:backup/vzdump-qemu-200-x.vma",
                storage: "local-lvm",
                force: true
            }
            .qmrestore()
            .unwrap(),
            "qmrestore local:backup/vzdump-qemu-200-x.vma 300 --storage local-lvm --force 1"
        );
        assert!(check_storage("local-lvm").is_ok());
        assert!(check_storage("bad name").is_err());
        let ct = Ctid::new(100).unwrap();
        assert_eq!(
            create(ct, "local", Mode::Snapshot, Compress::Zstd),
            "vzdump 100 --storage local --mode snapshot --compress zstd"
        );
        assert_eq!(
            list("local", Some(ct)),
            "pvesm list local --content backup --vmid 100"
        );
        assert_eq!(
            Restore {
                vmid: ct,
                archive: "local:backup/vzdump-lxc-1-x.tar",
                storage: "local-lvm",
                force: true
            }
            .pct()
            .unwrap(),
            "pct restore 100 local:backup/vzdump-lxc-1-x.tar --storage local-lvm --force 1"
        );
    }
}
