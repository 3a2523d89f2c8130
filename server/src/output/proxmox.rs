//! The results of the `proxmox_*` tools: the container list (the reference's table),
//! status, start/stop and container file transfers, and the exec report of a command
//! run with `pct exec`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ExecReport, Failure, Problem, report};
use crate::pct::{Ctid, ListEntry};
use crate::proxmox::{self, PctError};
use crate::ssh::{ExecOutcome, SshError};

impl From<&PctError> for Failure {
    fn from(e: &PctError) -> Self {
        Failure::new(e.to_string(), e.suggestion()).with_detail(e.detail())
    }
}

impl ExecReport {
    /// The report of `command` run in container `ctid` through `pct exec`. pct's own
    /// refusal (exit 255, its message alone on stderr: the container is absent or not
    /// running) is reported as that, not as the command's failure.
    pub fn from_container(
        command: &str,
        ctid: Ctid,
        result: &Result<ExecOutcome, SshError>,
        limit: usize,
        timeout_secs: u64,
    ) -> Self {
        let mut report = ExecReport::from_result(command, result, limit, timeout_secs);
        if let Ok(o) = result
            && o.exit_code == Some(255)
            && o.stdout.total == 0
            && proxmox::text(&o.stderr).trim().lines().count() == 1
        {
            let e = proxmox::failure(ctid, "pct exec", o);
            if matches!(e, PctError::NotFound { .. } | PctError::NotRunning { .. }) {
                // Its detail (pct's message) is the stderr shown already.
                let f = Failure::from(&e);
                report.error = Some(f.error);
                report.suggestion = Some(f.suggestion);
            }
        }
        report
    }
}

/// One container in `proxmox_list_containers`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct ContainerRow {
    pub ctid: u32,
    /// `running` or `stopped`.
    pub status: String,
    pub name: String,
    /// The lock held on the container (e.g. `backup`, `snapshot`), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock: Option<String>,
    /// In a cluster: the node it lives on.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub node: Option<String>,
}

/// Result of `proxmox_list_containers`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, Default)]
pub struct ListReport {
    pub success: bool,
    /// The containers of the node, by id (empty on error).
    #[serde(default)]
    pub containers: Vec<ContainerRow>,
    #[serde(flatten)]
    pub problem: Problem,
}

/// Result of `proxmox_container_status`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, Default)]
pub struct StatusReport {
    pub success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ctid: Option<u32>,
    /// `running` or `stopped`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(flatten)]
    pub problem: Problem,
}

/// Result of the container power tools (start, stop, shutdown, reboot).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, Default)]
pub struct PowerReport {
    pub success: bool,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ctid: Option<u32>,
    /// Shutdown and reboot: the container's state afterwards (`pct status`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Shutdown with `force_stop`: whether it had to be stopped hard after the timeout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forced: Option<bool>,
    #[serde(flatten)]
    pub problem: Problem,
}

super::guest_transfer_report!(
    /// Result of the two container file tools.
    CtTransferReport,
    ctid,
    container_path,
    "container",
    "SHA-256 of the content, checked on both sides."
);

impl ListReport {
    /// The containers `pct list` gave.
    pub fn of(entries: Vec<ListEntry>) -> Self {
        ListReport {
            success: true,
            containers: entries
                .into_iter()
                .map(|e| ContainerRow {
                    ctid: e.ctid,
                    status: e.status,
                    name: e.name,
                    lock: e.lock,
                    node: None,
                })
                .collect(),
            ..Default::default()
        }
    }

    /// The containers of a whole cluster, each with its node.
    pub fn of_cluster(mut rows: Vec<ContainerRow>) -> Self {
        rows.sort_by_key(|r| r.ctid);
        ListReport {
            success: true,
            containers: rows,
            ..Default::default()
        }
    }

    super::failed!();
}

report!(ListReport, table);

impl ListReport {
    fn table(&self) -> String {
        list_table(&self.containers)
    }
}

impl StatusReport {
    pub fn of(ctid: Ctid, status: String) -> Self {
        StatusReport {
            success: true,
            ctid: Some(ctid.get()),
            status: Some(status),
            ..Default::default()
        }
    }

    super::failed!(ctid);
}

report!(StatusReport, sentence);

impl StatusReport {
    /// One sentence: `Container 100 is running`.
    fn sentence(&self) -> String {
        format!(
            "Container {} is {}\n",
            self.ctid.unwrap_or_default(),
            self.status.as_deref().unwrap_or_default()
        )
    }
}

/// Which of the two immediate power tools ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    Start,
    Stop,
}

impl PowerReport {
    /// The container was started or stopped; `said` is what pct printed (e.g. an HA
    /// request), if anything.
    pub fn done(ctid: Ctid, power: Power, said: String) -> Self {
        PowerReport {
            success: true,
            message: format!(
                "Container {ctid} {} successfully",
                match power {
                    Power::Start => "started",
                    Power::Stop => "stopped",
                }
            ),
            ctid: Some(ctid.get()),
            problem: said_detail(said),
            ..Default::default()
        }
    }

    /// A finished shutdown: what really happened, from pct's exit and the state after.
    pub fn shut_down(ctid: Ctid, done: &crate::guests::Shutdown, timeout_secs: u64) -> Self {
        let message = match (done.status.as_str(), done.forced) {
            ("stopped", false) => format!("Container {ctid} shut down cleanly"),
            ("stopped", true) => format!(
                "Container {ctid} did not shut down within {timeout_secs} s and was stopped hard"
            ),
            (other, _) => {
                format!("pct shutdown of container {ctid} returned, and the container is {other}")
            }
        };
        PowerReport {
            success: true,
            message,
            ctid: Some(ctid.get()),
            status: Some(done.status.clone()),
            forced: Some(done.forced),
            problem: said_detail(done.said.clone()),
        }
    }

    /// A finished reboot; `status` is the state afterwards.
    pub fn rebooted(ctid: Ctid, said: String, status: String) -> Self {
        PowerReport {
            success: true,
            message: format!("Container {ctid} rebooted; it is {status}"),
            ctid: Some(ctid.get()),
            status: Some(status),
            problem: said_detail(said),
            ..Default::default()
        }
    }

    super::failed!(ctid, message);
}

/// What pct printed on success (an HA request), as the report's detail.
fn said_detail(said: String) -> Problem {
    Problem {
        detail: (!said.is_empty()).then_some(said),
        ..Default::default()
    }
}

// The power tools answer in JSON only.
report!(PowerReport, json);

/// The reference's table: `CTID | Status  | Name`, a rule, ` 100 | running | webserver`.
/// A lock is shown after the name: ` 101 | stopped | db01 (locked: backup)`.
pub fn list_table(rows: &[ContainerRow]) -> String {
    let mut s = String::from("CTID | Status  | Name\n");
    s.push_str(&"-".repeat(50));
    s.push('\n');
    if rows.is_empty() {
        s.push_str("(no containers on this node)\n");
    }
    // A cluster's list names each container's node too.
    let width = rows
        .iter()
        .filter_map(|r| r.node.as_ref().map(|n| n.chars().count()))
        .max();
    if let Some(w) = width {
        s = format!(
            "CTID | Status  | {:<w$} | Name\n{}\n",
            "Node",
            "-".repeat(50)
        );
    }
    for r in rows {
        match (width, &r.node) {
            (Some(w), node) => s.push_str(&format!(
                "{:>4} | {:<7} | {:<w$} | {}",
                r.ctid,
                r.status,
                node.as_deref().unwrap_or(""),
                r.name
            )),
            (None, _) => s.push_str(&format!("{:>4} | {:<7} | {}", r.ctid, r.status, r.name)),
        }
        if let Some(lock) = &r.lock {
            s.push_str(&format!(" (locked: {lock})"));
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Report;

    #[test]
    fn a_failure_shows_pcts_message_between_the_error_and_the_suggestion() {
        let ctid = Ctid::new(999).unwrap();
        let f = Failure::new("Container 999 not found", "Use proxmox_list_containers")
            .with_detail(Some("Configuration file does not exist".into()));
        let r = StatusReport::failed(Some(ctid), f.clone());
        assert!(!r.succeeded());
        assert_eq!(
            r.text(crate::output::ResponseFormat::Text),
            "Error: Container 999 not found\npct: Configuration file does not exist\nSuggestion: Use proxmox_list_containers\n"
        );
        assert_eq!(r.human(), f.to_text());
        let p = PowerReport::failed(None, f);
        assert_eq!(p.message, "Container 999 not found");
        assert_eq!(p.ctid, None);
    }

    #[test]
    fn success_texts() {
        let ctid = Ctid::new(100).unwrap();
        let s = StatusReport::of(ctid, "running".into());
        assert_eq!(s.human(), "Container 100 is running\n");
        let p = PowerReport::done(ctid, Power::Stop, String::new());
        assert_eq!(p.message, "Container 100 stopped successfully");
        assert_eq!(p.problem.detail, None);
        assert!(
            p.reply(crate::output::ResponseFormat::Text)
                .text
                .starts_with("{\n")
        );
    }

    #[test]
    fn the_table_is_the_references_and_shows_locks_after_the_name() {
        let rows = vec![
            ContainerRow {
                ctid: 100,
                status: "running".into(),
                name: "webserver".into(),
                lock: None,
                node: None,
            },
            ContainerRow {
                ctid: 101,
                status: "stopped".into(),
                name: "database".into(),
                lock: Some("backup".into()),
                node: None,
            },
        ];
        assert_eq!(
            list_table(&rows),
            format!(
                "CTID | Status  | Name\n{}\n 100 | running | webserver\n 101 | stopped | database (locked: backup)\n",
                "-".repeat(50)
            )
        );
    }
}
