//! The results of the VM tools: the VM and guest lists, a VM's status, power, file
//! transfers, and the exec report of a command run through the guest agent.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ExecReport, Failure, Problem, report};
use crate::metrics::GuestStatus;
use crate::pct::Ctid;
use crate::qm::{ExecResult, VmRow, VmStatus};
use crate::ssh::exec::ExecOutcome;
use crate::vm::{GuestRun, PowerDone, VmError};

impl From<&VmError> for Failure {
    fn from(e: &VmError) -> Self {
        Failure::new(e.to_string(), e.suggestion()).with_detail(e.detail())
    }
}

/// One VM in `proxmox_list_vms`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct VmListRow {
    pub vmid: u32,
    pub name: String,
    /// The QEMU state: `running`, `paused`, `stopped`, …
    pub status: String,
    pub memory_mb: f64,
    pub bootdisk_gb: f64,
    /// The QEMU process id on the node (running VMs only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
}

/// Result of `proxmox_list_vms`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, Default)]
pub struct VmListReport {
    pub success: bool,
    /// The VMs of the node, by id (empty on error).
    #[serde(default)]
    pub vms: Vec<VmListRow>,
    #[serde(flatten)]
    pub problem: Problem,
}

impl VmListReport {
    pub fn of(rows: Vec<VmRow>) -> Self {
        VmListReport {
            success: true,
            vms: rows
                .into_iter()
                .map(|r| VmListRow {
                    vmid: r.vmid,
                    name: r.name,
                    status: r.status,
                    memory_mb: r.memory_mb,
                    bootdisk_gb: r.bootdisk_gb,
                    pid: (r.pid != 0).then_some(r.pid),
                })
                .collect(),
            ..Default::default()
        }
    }

    super::failed!();

    fn table(&self) -> String {
        let mut s = String::from(" VMID | Status   | Memory   | Disk     | Name\n");
        s.push_str(&"-".repeat(60));
        s.push('\n');
        if self.vms.is_empty() {
            s.push_str("(no virtual machines on this node)\n");
        }
        for r in &self.vms {
            s.push_str(&format!(
                "{:>5} | {:<8} | {:>5} MiB | {:>5} GiB | {}\n",
                r.vmid, r.status, r.memory_mb, r.bootdisk_gb, r.name
            ));
        }
        s
    }
}

report!(VmListReport, table, "qm");

/// Result of `proxmox_vm_status`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, Default)]
pub struct VmStatusReport {
    pub success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vmid: Option<u32>,
    /// The QEMU state: `running`, `paused`, `stopped`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The lock held on the VM (e.g. `backup`), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock: Option<String>,
    /// Seconds since it started (running VMs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uptime: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// Memory in use and configured, in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maxmem: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<bool>,
    /// The guest agent in the VM's config: `enabled`, `disabled` or `not configured`
    /// (commands and file transfers need it enabled and running in the guest).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(flatten)]
    pub problem: Problem,
}

impl VmStatusReport {
    pub fn of(vmid: Ctid, s: VmStatus, agent: Option<bool>) -> Self {
        VmStatusReport {
            success: true,
            vmid: Some(vmid.get()),
            status: Some(s.status),
            name: s.name,
            lock: s.lock,
            uptime: s.uptime,
            cpus: s.cpus,
            mem: s.mem,
            maxmem: s.maxmem,
            template: s.template.then_some(true),
            agent: Some(
                match agent {
                    None => "not configured",
                    Some(true) => "enabled",
                    Some(false) => "disabled",
                }
                .into(),
            ),
            ..Default::default()
        }
    }

    super::failed!(vmid);

    fn sentence(&self) -> String {
        let mut s = format!(
            "VM {} ({}) is {}",
            self.vmid.unwrap_or_default(),
            self.name.as_deref().unwrap_or("no name"),
            self.status.as_deref().unwrap_or_default()
        );
        if let Some(lock) = &self.lock {
            s.push_str(&format!(", locked ({lock})"));
        }
        if let Some(up) = self.uptime.filter(|u| *u > 0) {
            s.push_str(&format!(", up {up} s"));
        }
        if let Some(agent) = &self.agent {
            s.push_str(&format!("; guest agent {agent}"));
        }
        s.push('\n');
        s
    }
}

report!(VmStatusReport, sentence, "qm");

/// Result of the VM power tools.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, Default)]
pub struct VmPowerReport {
    pub success: bool,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vmid: Option<u32>,
    /// Shutdown and reboot: the VM's state afterwards (`qm status`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Shutdown with `force_stop`: whether it had to be stopped hard.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forced: Option<bool>,
    /// Something worth knowing, e.g. that the guest agent did not answer and ACPI was used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(flatten)]
    pub problem: Problem,
}

impl VmPowerReport {
    /// A start or stop; `said` is what qm printed (e.g. an HA request).
    pub fn done(vmid: Ctid, started: bool, said: String) -> Self {
        VmPowerReport {
            success: true,
            message: format!(
                "VM {vmid} {} successfully",
                if started { "started" } else { "stopped" }
            ),
            vmid: Some(vmid.get()),
            problem: Problem {
                detail: (!said.is_empty()).then_some(said),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    /// A finished shutdown or reboot.
    pub fn finished(vmid: Ctid, done: PowerDone, shutdown: bool) -> Self {
        VmPowerReport {
            success: true,
            message: if shutdown && done.status != "stopped" {
                format!(
                    "qm shutdown of VM {vmid} returned, and the VM is {}",
                    done.status
                )
            } else {
                done.message
            },
            vmid: Some(vmid.get()),
            status: Some(done.status),
            forced: shutdown.then_some(done.forced),
            note: done.note,
            ..Default::default()
        }
    }

    super::failed!(vmid, message);
}

report!(VmPowerReport, json);

super::guest_transfer_report!(
    /// Result of the two VM file tools.
    VmTransferReport,
    vmid,
    vm_path,
    "VM",
    "SHA-256 of the content, checked on both sides (computed in the guest)."
);

/// One guest in `proxmox_list_guests`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct GuestRow {
    pub vmid: u32,
    /// `lxc` (container) or `qemu` (virtual machine).
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub status: String,
    /// The node it lives on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub template: bool,
}

/// Result of `proxmox_list_guests`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, Default)]
pub struct GuestListReport {
    pub success: bool,
    /// Containers and VMs, by id (empty on error).
    #[serde(default)]
    pub guests: Vec<GuestRow>,
    #[serde(flatten)]
    pub problem: Problem,
}

impl GuestListReport {
    pub fn of(rows: Vec<GuestStatus>) -> Self {
        let mut guests: Vec<GuestRow> = rows
            .into_iter()
            .map(|r| GuestRow {
                vmid: r.vmid,
                kind: r.kind.unwrap_or_default(),
                name: r.name.unwrap_or_default(),
                status: r.status.unwrap_or_else(|| "unknown".into()),
                node: r.node,
                lock: r.lock,
                template: r.template == Some(1.0),
            })
            .collect();
        guests.sort_by_key(|g| g.vmid);
        GuestListReport {
            success: true,
            guests,
            ..Default::default()
        }
    }

    super::failed!();

    fn table(&self) -> String {
        let mut s = String::from(" VMID | Type | Status   | Node     | Name\n");
        s.push_str(&"-".repeat(60));
        s.push('\n');
        if self.guests.is_empty() {
            s.push_str("(no guests)\n");
        }
        for g in &self.guests {
            let kind = if g.kind == "qemu" { "vm" } else { "ct" };
            s.push_str(&format!(
                "{:>5} | {:<4} | {:<8} | {:<8} | {}",
                g.vmid,
                kind,
                g.status,
                g.node.as_deref().unwrap_or("-"),
                g.name
            ));
            if g.template {
                s.push_str(" (template)");
            }
            if let Some(lock) = &g.lock {
                s.push_str(&format!(" (locked: {lock})"));
            }
            s.push('\n');
        }
        s
    }
}

report!(GuestListReport, table, "pvesh");

fn signal_name(n: i32) -> String {
    match n {
        1 => "HUP".into(),
        2 => "INT".into(),
        6 => "ABRT".into(),
        9 => "KILL".into(),
        13 => "PIPE".into(),
        15 => "TERM".into(),
        n => n.to_string(),
    }
}

impl ExecReport {
    /// The report of `command` run in VM `vmid` through the guest agent, with the
    /// guest-side `timeout` of `timeout_secs`. Its exit code 124 (or 137 after KILL)
    /// at or past the limit is the time-out.
    pub fn from_vm(
        command: &str,
        vmid: Ctid,
        run: &GuestRun,
        limit: usize,
        timeout_secs: u64,
    ) -> Self {
        let mut o = ExecOutcome::new(limit * 4);
        o.duration = run.duration;
        let mut note = None;
        match &run.result {
            ExecResult::Exited {
                exit_code,
                signal,
                stdout,
                stderr,
                out_truncated,
                err_truncated,
            } => {
                o.stdout.push(stdout.as_bytes());
                o.stderr.push(stderr.as_bytes());
                o.exit_code = *exit_code;
                o.exit_signal = signal.map(signal_name);
                let at_limit = run.duration >= Duration::from_secs(timeout_secs);
                if at_limit && matches!(exit_code, Some(124 | 137)) {
                    o.timed_out = true;
                    o.ended_remotely = true;
                    o.end_note = Some(format!("in VM {vmid}, by the guest-side `timeout`"));
                }
                if *out_truncated || *err_truncated {
                    note = Some("the guest agent cut the captured output short".to_string());
                }
            }
            ExecResult::StillRunning { pid } => {
                o.timed_out = true;
                o.end_note = Some(format!(
                    "qm stopped waiting; guest process {pid} in VM {vmid} may still be running (`qm guest exec-status {vmid} {pid}` on the node tells)"
                ));
            }
        }
        let mut report = ExecReport::from_outcome(command, &o, limit, timeout_secs);
        if report.note.is_none() {
            report.note = note;
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Report;

    fn run(result: ExecResult, secs: u64) -> GuestRun {
        GuestRun {
            result,
            duration: Duration::from_secs(secs),
        }
    }

    fn exited(code: i32, out: &str) -> ExecResult {
        ExecResult::Exited {
            exit_code: Some(code),
            signal: None,
            stdout: out.into(),
            stderr: String::new(),
            out_truncated: false,
            err_truncated: false,
        }
    }

    #[test]
    fn exec_results_of_a_guest() {
        let id = Ctid::new(200).unwrap();
        let r = ExecReport::from_vm("echo $((6*7))", id, &run(exited(0, "42\n"), 0), 25000, 30);
        assert!(r.success);
        assert_eq!(r.exit_code, Some(0));
        assert_eq!(r.stdout, "42\n");
        let r = ExecReport::from_vm("exit 124", id, &run(exited(124, ""), 1), 25000, 30);
        assert!(
            !r.timeout_reached,
            "124 before the limit is the command's own"
        );
        let r = ExecReport::from_vm("sleep 99", id, &run(exited(124, ""), 31), 25000, 30);
        assert!(r.timeout_reached);
        assert!(r.error.unwrap().contains("was ended (in VM 200"));
        let r = ExecReport::from_vm(
            "x",
            id,
            &run(ExecResult::StillRunning { pid: 77 }, 40),
            25000,
            30,
        );
        assert!(r.timeout_reached);
        assert!(r.error.unwrap().contains("guest process 77"));
    }

    #[test]
    fn failures_name_qm_and_the_guest_list_shows_types() {
        let f = Failure::new("VM 999 not found on this node", "Use proxmox_list_guests")
            .with_detail(Some(
                "Configuration file 'nodes/pve/qemu-server/999.conf' does not exist".into(),
            ));
        let r = VmStatusReport::failed(None, f);
        assert!(r.human().contains("\nqm: Configuration file"));
        let g = GuestListReport {
            success: true,
            guests: vec![GuestRow {
                vmid: 200,
                kind: "qemu".into(),
                name: "vm1".into(),
                status: "running".into(),
                node: Some("pve".into()),
                lock: None,
                template: false,
            }],
            ..Default::default()
        };
        assert!(
            g.human()
                .contains("  200 | vm   | running  | pve      | vm1")
        );
    }
}
