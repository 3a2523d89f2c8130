//! The `vzdump` emulator: backups of containers and VMs to a directory storage as
//! real tar archives (a VM's named `.vma`, but a tar: not VMA's format), with the
//! task log vzdump prints (docs/backups.md §1). What it does not emulate
//! (compression, stop/suspend mode on a running guest, a paused VM, the many tuning
//! options) it refuses loudly.

use crate::backup;
use crate::fs::{Fs, now_secs};
use crate::host::Status;
use crate::io::Io;
use crate::pct::cli::{Kind, Val, getopt, parse_boolean};
use crate::proc::Ctx;
use crate::qm::agent;
use crate::reply::Reply;
use crate::unix::format_datetime;
use crate::vm::VmStatus;

/// The options fake-pve understands; anything else vzdump knows is refused.
const OPTIONS: &[(&str, Kind)] = &[
    ("storage", Kind::Value),
    ("dumpdir", Kind::Value),
    ("mode", Kind::Value),
    ("compress", Kind::Value),
    ("remove", Kind::Bool),
    ("quiet", Kind::Bool),
];

/// What one vzdump run is asked to do.
struct Job {
    vmids: Vec<u32>,
    /// The directory the archives go to.
    dumpdir: String,
    /// It is a storage's dump directory, made when missing (as storage activation
    /// does); a `--dumpdir` must exist.
    make_dir: bool,
    mode: String,
    /// The first log line's option part, as given.
    options: String,
}

fn refuse(msg: impl std::fmt::Display) -> Reply {
    Reply::err(format!("fake-pve: {msg}\n"), 255)
}

fn parse(args: &[String]) -> Result<Job, Reply> {
    let got = getopt(args, OPTIONS);
    if !got.warnings.is_empty() {
        return Err(refuse(format!(
            "vzdump: {}(fake-pve emulates only --storage, --dumpdir, --mode, --compress 0, --remove and --quiet)",
            got.warnings.replace('\n', "; ")
        )));
    }
    let one = |k: &str| match got.values.get(k) {
        Some(Val::One(v)) => Some(v.clone()),
        Some(Val::Many(v)) => v.last().cloned(),
        None => None,
    };
    let mut vmids = Vec::new();
    for w in &got.words {
        for part in w.split(',').filter(|p| !p.is_empty()) {
            match part.parse::<u32>() {
                Ok(id) if (100..=999_999_999).contains(&id) => vmids.push(id),
                _ => {
                    return Err(Reply::err(
                        "400 Parameter verification failed.\nvmid: invalid format - value does not look like a valid VMID\n\nvzdump help for detailed usage information\n",
                        255,
                    ));
                }
            }
        }
    }
    if vmids.is_empty() {
        return Err(refuse(
            "vzdump: give the guests' ids (--all, --pool and --exclude are not emulated)",
        ));
    }
    if let Some(c) = one("compress")
        && c != "0"
    {
        return Err(refuse(format!(
            "vzdump --compress {c} is not emulated: archives are written uncompressed (use --compress 0)"
        )));
    }
    for k in ["remove", "quiet"] {
        if let Some(v) = one(k)
            && !v.is_empty()
            && parse_boolean(&v).is_none()
        {
            return Err(Reply::err(
                format!(
                    "400 Parameter verification failed.\n{k}: type check ('boolean') failed - got '{v}'\n"
                ),
                255,
            ));
        }
    }
    let mode = one("mode").unwrap_or_else(|| "snapshot".into());
    if !["snapshot", "suspend", "stop"].contains(&mode.as_str()) {
        return Err(Reply::err(
            format!(
                "400 Parameter verification failed.\nmode: value '{mode}' does not have a value in the enumeration 'snapshot, suspend, stop'\n"
            ),
            255,
        ));
    }
    let (storage, dumpdir) = (one("storage"), one("dumpdir"));
    let make_dir = dumpdir.is_none();
    let dumpdir = match (storage, dumpdir) {
        (Some(_), Some(_)) => {
            return Err(Reply::err(
                "cannot use options 'storage' and 'dumpdir' at the same time\n",
                255,
            ));
        }
        (None, Some(d)) => d,
        (s, None) => {
            let name = s.unwrap_or_else(|| "local".into());
            let Some(st) = backup::storage(&name) else {
                return Err(Reply::err(
                    format!(
                        "could not get storage information for '{name}': storage '{name}' does not exist\n"
                    ),
                    255,
                ));
            };
            if !st.holds("backup") {
                return Err(Reply::err(
                    format!("can't use storage '{name}' for backups - wrong content type\n"),
                    255,
                ));
            }
            st.dump_dir().expect("backup storages are directories")
        }
    };
    let mut options = String::new();
    for (k, _) in OPTIONS {
        if let Some(v) = one(k) {
            options.push_str(&format!(" --{k} {v}"));
        }
    }
    Ok(Job {
        vmids,
        dumpdir,
        make_dir,
        mode,
        options,
    })
}

/// `%02d:%02d:%02d`.
fn duration(secs: u64) -> String {
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// One guest's backup: the log lines, or the error it failed with. The guest holds
/// the `backup` lock while the archive is made, for the fixture's `backup_ms`; the
/// archive is what the container held when the backup started (the storage
/// snapshot). Ended meanwhile, vzdump leaves the lock behind, as a killed one does.
async fn backup_one(ctx: &Ctx, job: &Job, vmid: u32, log: &mut Vec<String>) -> Result<(), String> {
    let started = now_secs();
    log.push(format!("Starting Backup of VM {vmid} (lxc)"));
    log.push(format!("Backup started at {}", format_datetime(started)));
    let (frozen, running, takes) = {
        let mut state = ctx.host.state();
        let takes = state.faults.backup_time;
        let Some(ct) = state.containers.get_mut(&vmid) else {
            return Err(format!("unable to find VM '{vmid}'"));
        };
        let running = ct.status == Status::Running;
        log.push(format!(
            "status = {}",
            if running { "running" } else { "stopped" }
        ));
        if running && job.mode != "snapshot" {
            return Err(format!(
                "fake-pve: --mode {} of a running container is not emulated (use --mode snapshot)",
                job.mode
            ));
        }
        if let Some(lock) = &ct.lock {
            return Err(format!("CT is locked ({lock})"));
        }
        let name = ct.config.get("hostname").cloned().unwrap_or_default();
        let mode = if running { "snapshot" } else { "stop" };
        if !running {
            log.push(format!("backup mode: {mode}"));
            log.push("ionice priority: 7".into());
        }
        log.push(format!("CT Name: {name}"));
        log.push("including mount point rootfs ('/') in backup".into());
        if running {
            log.push(format!("backup mode: {mode}"));
            log.push("ionice priority: 7".into());
            log.push("create storage snapshot 'vzdump'".into());
        }
        let frozen = ct.clone();
        ct.lock = Some("backup".into());
        (frozen, running, takes)
    };
    tokio::time::sleep(takes).await;
    let mut state = ctx.host.state();
    if let Some(ct) = state.containers.get_mut(&vmid) {
        ct.lock = None;
    }
    let archive =
        backup::write_archive(&frozen).map_err(|e| format!("creating the archive failed: {e}"))?;
    let file = format!("{}/{}", job.dumpdir, backup::archive_name(vmid, started));
    log.push(format!("creating vzdump archive '{file}'"));
    store(&mut state.fs, job, &file, &archive)?;
    log.push(format!(
        "Total bytes written: {}",
        backup::tar_totals(archive.len() as u64)
    ));
    log.push(format!(
        "archive file size: {}",
        backup::format_size(archive.len() as u64)
    ));
    if running {
        log.push("cleanup temporary 'vzdump' snapshot".into());
    }
    finish(&mut state.fs, log, vmid, started, &file);
    Ok(())
}

/// The archive's name without its extension (`.tar`, `.vma`): its temp file and its
/// log are named after it.
fn stem(file: &str) -> &str {
    file.rsplit_once('.').map_or(file, |(stem, _)| stem)
}

/// Writes `archive` as `file` in the job's dump directory (made first with
/// `--mkdir`): to a `.dat` temp beside it, then renamed into place.
fn store(fs: &mut Fs, job: &Job, file: &str, archive: &[u8]) -> Result<(), String> {
    if job.make_dir {
        let _ = fs.mkdir_all(&job.dumpdir, 0o755);
    }
    if !fs.stat(&job.dumpdir).is_ok_and(|m| m.is_dir()) {
        return Err(format!(
            "fake-pve: the dump directory {} does not exist",
            job.dumpdir
        ));
    }
    let temp = format!("{}.dat", stem(file));
    fs.write_file(&temp, archive, 0o644)
        .and_then(|_| fs.rename(&temp, file))
        .map_err(|e| format!("writing {file} failed: {e}"))
}

/// The last lines of a guest's log, then the log written beside its archive (same
/// name, `.log`).
fn finish(fs: &mut Fs, log: &mut Vec<String>, vmid: u32, started: u64, file: &str) {
    log.push(format!(
        "Finished Backup of VM {vmid} ({})",
        duration(now_secs() - started)
    ));
    log.push(format!(
        "Backup finished at {}",
        format_datetime(now_secs())
    ));
    let text: String = log.iter().map(|l| format!("INFO: {l}\n")).collect();
    let _ = fs.write_file(&format!("{}.log", stem(file)), text.as_bytes(), 0o644);
}

/// A byte count with one decimal and a binary unit, as qemu-server's backup
/// progress prints it (`2.0 GiB`, `682.7 MiB`); `digits` decimals.
fn render(bytes: u64, digits: usize) -> String {
    const UNITS: &[&str] = &["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.digits$} {}", UNITS[unit])
}

/// The lines after `started backup task`: the progress line at 100%, the sparse
/// line and the totals, for disks of `total` bytes of which `data` are not zero,
/// done in `secs` seconds (the rates use at least one second).
pub(crate) fn vm_transfer_lines(total: u64, data: u64, secs: u64) -> Vec<String> {
    let data = data.min(total);
    let per = secs.max(1);
    let mut out = vec![format!(
        "100% ({} of {}) in {secs}s, read: {}/s, write: {}/s",
        render(total, 1),
        render(total, 1),
        render(total / per, 1),
        render(data / per, 1)
    )];
    let zero = total - data;
    if zero > 0 {
        out.push(format!(
            "backup is sparse: {} ({}%) total zero data",
            render(zero, 2),
            zero * 100 / total
        ));
    }
    out.push(format!(
        "transferred {} in {secs} seconds ({}/s)",
        render(total, 2),
        render(total / per, 1)
    ));
    out
}

/// A backup task's id, as QEMU's backup job names it (a UUID).
fn job_uuid() -> String {
    let b: [u8; 16] = rand::random();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// One VM's backup (docs/backups.md §1): the log lines of qemu-server's VZDump
/// plugin, the `backup` lock for the fixture's `backup_ms`; the archive holds the
/// config and the filesystem as they were when the backup started. A running VM stays
/// running; a stopped one is started for the task (`starting kvm …`) and stopped
/// after, without its guest running anything.
async fn backup_vm(ctx: &Ctx, job: &Job, vmid: u32, log: &mut Vec<String>) -> Result<(), String> {
    let started = now_secs();
    log.push(format!("Starting Backup of VM {vmid} (qemu)"));
    log.push(format!("Backup started at {}", format_datetime(started)));
    let (frozen, running, takes, agent_on) = {
        let mut state = ctx.host.state();
        let takes = state.faults.backup_time;
        let Some(vm) = state.vms.get_mut(&vmid) else {
            return Err(format!("unable to find VM '{vmid}'"));
        };
        if vm.status == VmStatus::Paused {
            return Err("fake-pve: vzdump of a paused VM is not emulated".into());
        }
        let running = vm.status == VmStatus::Running;
        log.push(format!(
            "status = {}",
            if running { "running" } else { "stopped" }
        ));
        if running && job.mode != "snapshot" {
            return Err(format!(
                "fake-pve: --mode {} of a running VM is not emulated (use --mode snapshot)",
                job.mode
            ));
        }
        if let Some(lock) = &vm.lock {
            return Err(format!("VM is locked ({lock})"));
        }
        if !running {
            log.push("backup mode: stop".into());
            log.push("ionice priority: 7".into());
        }
        log.push(format!("VM Name: {}", vm.name()));
        for (key, value) in vm.drives_in_order() {
            let volid = value.split(',').next().unwrap_or_default();
            let size = value
                .split(',')
                .find_map(|p| p.strip_prefix("size="))
                .unwrap_or("0");
            log.push(format!("include disk '{key}' '{volid}' {size}"));
        }
        if running {
            log.push("backup mode: snapshot".into());
            log.push("ionice priority: 7".into());
        }
        let frozen = vm.clone();
        vm.lock = Some("backup".into());
        (frozen, running, takes, vm.agent_enabled())
    };
    let file = format!("{}/{}", job.dumpdir, backup::vm_archive_name(vmid, started));
    log.push(format!("creating vzdump archive '{file}'"));
    let mut thaw = false;
    if running {
        if !agent_on {
            log.push("skipping guest filesystem freeze - disabled in VM options".into());
        } else if agent::answers_ping(&ctx.host, vmid).await {
            log.push("issuing guest-agent 'fs-freeze' command".into());
            thaw = true;
        } else {
            log.push("skipping guest filesystem freeze - agent configured but not running?".into());
        }
    } else {
        log.push("starting kvm to execute backup task".into());
    }
    log.push("starting backup via QMP command".into());
    if thaw {
        log.push("issuing guest-agent 'fs-thaw' command".into());
    }
    log.push(format!("started backup task '{}'", job_uuid()));
    if running {
        log.push("resuming VM again".into());
    }
    let copied = now_secs();
    tokio::time::sleep(takes).await;
    let mut state = ctx.host.state();
    if let Some(vm) = state.vms.get_mut(&vmid) {
        vm.lock = None;
    }
    let archive = backup::write_vm_archive(&frozen)
        .map_err(|e| format!("creating the archive failed: {e}"))?;
    store(&mut state.fs, job, &file, &archive)?;
    let total: u64 = frozen
        .drives_in_order()
        .iter()
        .filter_map(|(_, v)| v.split(',').find_map(|p| p.strip_prefix("size=")))
        .filter_map(crate::guest::parse_size)
        .sum();
    let total = total.max(archive.len() as u64);
    log.extend(vm_transfer_lines(
        total,
        archive.len() as u64,
        now_secs() - copied,
    ));
    if !running {
        log.push("stopping kvm after backup task".into());
    }
    log.push(format!(
        "archive file size: {}",
        backup::format_size(archive.len() as u64)
    ));
    finish(&mut state.fs, log, vmid, started, &file);
    Ok(())
}

/// Runs `vzdump <args…>`. Every line of the task log goes to stdout (it is a task);
/// a failed job ends with `job errors` on stderr and exit 255.
pub async fn run(ctx: &Ctx, args: &[String], io: &Io) -> i32 {
    let reply = match parse(args) {
        Err(reply) => reply,
        Ok(job) => {
            let ids: Vec<String> = job.vmids.iter().map(u32::to_string).collect();
            let mut out = format!(
                "INFO: starting new backup job: vzdump {}{}\n",
                ids.join(" "),
                job.options
            );
            let mut failed = false;
            let local = ctx.host.node();
            for &vmid in &job.vmids {
                // A guest of another node of the cluster is skipped silently, as
                // vzdump filters the job to this node's guests (docs/cluster.md §1).
                if let Some((node, _)) = ctx.host.cluster().and_then(|c| c.owner(vmid))
                    && node != local
                {
                    continue;
                }
                let mut log = Vec::new();
                let result = if ctx.host.is_vm(vmid) {
                    backup_vm(ctx, &job, vmid, &mut log).await
                } else {
                    backup_one(ctx, &job, vmid, &mut log).await
                };
                out.extend(log.iter().map(|l| format!("INFO: {l}\n")));
                if let Err(e) = result {
                    failed = true;
                    out.push_str(&format!("ERROR: Backup of VM {vmid} failed - {e}\n"));
                    out.push_str(&format!(
                        "INFO: Failed at {}\n",
                        format_datetime(now_secs())
                    ));
                }
            }
            if failed {
                out.push_str("INFO: Backup job finished with errors\n");
                Reply {
                    stdout: out,
                    stderr: "job errors\n".into(),
                    code: 255,
                }
            } else {
                out.push_str("INFO: Backup job finished successfully\n");
                Reply::out(out)
            }
        }
    };
    reply.write(io).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vm_backup_s_transfer_lines() {
        let gib = 1024 * 1024 * 1024;
        assert_eq!(
            vm_transfer_lines(32 * gib, 10 * 1024, 0),
            [
                "100% (32.0 GiB of 32.0 GiB) in 0s, read: 32.0 GiB/s, write: 10.0 KiB/s",
                "backup is sparse: 32.00 GiB (99%) total zero data",
                "transferred 32.00 GiB in 0 seconds (32.0 GiB/s)",
            ]
        );
        assert_eq!(
            vm_transfer_lines(2048, 2048, 2),
            [
                "100% (2.0 KiB of 2.0 KiB) in 2s, read: 1.0 KiB/s, write: 1.0 KiB/s",
                "transferred 2.00 KiB in 2 seconds (1.0 KiB/s)",
            ]
        );
        assert_eq!(duration(3661), "01:01:01");
        assert_eq!(
            backup::vm_archive_name(200, 0).len(),
            "vzdump-qemu-200-1970_01_01-00_00_00.vma".len()
        );
    }
}
