//! `pct migrate VMID TARGET [--online] [--restart]`: an offline migration of a
//! stopped container to another node of the cluster (docs/cluster.md §5, from
//! pve-container API2/LXC.pm `migrate_vm` and LXC/Migrate.pm).
//!
//! The checks before the task die plainly (class C); the task prints its log lines,
//! each prefixed with the local time, and a failing task ends with `migration
//! aborted` on stderr. The container (config, files, snapshots) leaves the source
//! node's state and enters the target's; the two locks are never held together.

use super::Reply;
use super::cli::{Migration, usage_line};
use super::commands::die;
use crate::fs::now_secs;
use crate::host::Status;
use crate::proc::Ctx;

fn stamp(line: &str) -> String {
    format!("{} {line}\n", crate::unix::format_datetime(now_secs()))
}

/// The task failing with `err`: its last log line, then pct's own message.
fn aborted(log: String, err: &str) -> Reply {
    Reply {
        stdout: log
            + &stamp(&format!(
                "ERROR: migration aborted (duration 00:00:00): {err}"
            )),
        stderr: "migration aborted\n".into(),
        code: 255,
    }
}

pub(super) fn migrate(ctx: &Ctx, m: &Migration) -> Reply {
    let vmid = m.vmid.get();
    let local = ctx.host.node();
    if let Some(option) = m.unemulated.first() {
        return die(format!("fake-pve: pct migrate --{option} is not emulated"));
    }
    if m.target == local {
        return Reply::err(
            format!(
                "400 Parameter verification failed.\ntarget: target is local node.\n{}",
                usage_line("migrate")
            ),
            255,
        );
    }
    let Some(link) = ctx.host.cluster().cloned() else {
        // A standalone node knows no other node.
        return die(format!("no such cluster node '{}'", m.target));
    };
    if !link.quorate() {
        return die("cluster not ready - no quorum?");
    }
    let Some(target) = link.member(&m.target) else {
        return die(format!("no such cluster node '{}'", m.target));
    };
    let (target_ip, target_online) = (target.ip.clone(), target.online());
    // Checks on the source, then the container leaves it.
    let ct = {
        let mut state = ctx.host.state();
        let Some(ct) = state.containers.get(&vmid) else {
            return die(format!(
                "Configuration file 'nodes/{local}/lxc/{vmid}.conf' does not exist"
            ));
        };
        if ct.status == Status::Running {
            if m.online {
                let log = stamp(&format!(
                    "starting migration of CT {vmid} to node '{}' ({target_ip})",
                    m.target
                ));
                return aborted(log, "lxc live migration is currently not implemented");
            }
            if m.restart {
                return die(
                    "fake-pve: pct migrate --restart of a running container is not emulated",
                );
            }
            return die("can't migrate running container without --online or --restart");
        }
        let log = stamp(&format!(
            "starting migration of CT {vmid} to node '{}' ({target_ip})",
            m.target
        ));
        if let Some(lock) = &ct.lock {
            return aborted(log, &format!("CT is locked ({lock})"));
        }
        if !target_online {
            return aborted(log, "Can't connect to destination address using public key");
        }
        state.containers.remove(&vmid).expect("checked above")
    };
    let started = now_secs();
    let moved = link.with_state(&m.target, move |state| {
        state.containers.insert(vmid, ct);
    });
    if moved.is_none() {
        return die(format!("fake-pve: node '{}' is gone", m.target));
    }
    link.refresh();
    let mut out = stamp(&format!(
        "starting migration of CT {vmid} to node '{}' ({target_ip})",
        m.target
    ));
    let secs = now_secs().saturating_sub(started);
    out.push_str(&stamp(&format!(
        "migration finished successfully (duration {:02}:{:02}:{:02})",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )));
    Reply::out(out)
}
