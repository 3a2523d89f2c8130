//! `pvecm status` and `pvecm nodes`: the cluster's membership and quorum as corosync
//! reports it (docs/cluster.md §4, from pve-cluster CLI/pvecm.pm and corosync's
//! corosync-quorumtool.c). Other subcommands (add, delnode, expected, …) change a
//! cluster and are refused loudly.

use crate::host::cluster::ClusterLink;
use crate::io::Io;
use crate::proc::Ctx;
use crate::reply::Reply;

fn not_emulated(what: &str) -> Reply {
    Reply::err(format!("fake-pve: pvecm {what} is not emulated\n"), 2)
}

/// `Fri Jan 10 12:00:00 2025` (ctime, UTC).
fn ctime(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    let (y, m, d, hh, mm, ss) = crate::unix::civil(secs);
    format!(
        "{} {} {d:>2} {hh:02}:{mm:02}:{ss:02} {y}",
        DAYS[(secs / 86_400 % 7) as usize],
        crate::unix::MONTHS[(m - 1) as usize]
    )
}

/// The membership table, as corosync-quorumtool prints it (`-i`: addresses, `-H`:
/// hex ids; `pvecm nodes` uses names and decimal ids). Only online members appear.
fn membership(link: &ClusterLink, local: &str, by_ip: bool) -> String {
    let mut s = String::from(
        "Membership information\n----------------------\n    Nodeid      Votes Name\n",
    );
    for m in link.members().iter().filter(|m| m.online()) {
        let id = if by_ip {
            format!("0x{:08x}", m.nodeid)
        } else {
            m.nodeid.to_string()
        };
        let name = if by_ip { &m.ip } else { &m.name };
        let me = if m.name == local { " (local)" } else { "" };
        s.push_str(&format!("{id:>10} {:>10} {name}{me}\n", 1));
    }
    s
}

fn status(link: &ClusterLink, local: &str, now: u64) -> Reply {
    let total = link.members().len();
    let online = link.members().iter().filter(|m| m.online()).count();
    let quorate = link.quorate();
    let me = link.member(local).map_or(0, |m| m.nodeid);
    let quorum = total / 2 + 1;
    let row = |k: &str, v: &str| format!("{:<17} {v}\n", format!("{k}:"));
    let mut s = String::from("Cluster information\n-------------------\n");
    s += &row("Name", link.name());
    s += &row("Config Version", &total.to_string());
    s += &row("Transport", "knet");
    s += &row("Secure auth", "on");
    s += "\nQuorum information\n------------------\n";
    s += &row("Date", &ctime(now));
    s += &row("Quorum provider", "corosync_votequorum");
    s += &row("Nodes", &online.to_string());
    s += &row("Node ID", &format!("0x{me:08x}"));
    s += &row("Ring ID", &format!("1.{:x}", 0x2d + online));
    s += &row("Quorate", if quorate { "Yes" } else { "No" });
    s += "\nVotequorum information\n----------------------\n";
    s += &row("Expected votes", &total.to_string());
    s += &row("Highest expected", &total.to_string());
    s += &row("Total votes", &online.to_string());
    if quorate {
        s += &row("Quorum", &format!("{quorum}  "));
        s += &row("Flags", "Quorate ");
    } else {
        s += &row("Quorum", &format!("{quorum} Activity blocked"));
        s += &row("Flags", "");
    }
    s += "\n";
    s += &membership(link, local, true);
    Reply {
        stdout: s,
        stderr: String::new(),
        code: if quorate { 0 } else { 2 },
    }
}

/// The answer to `pvecm <args…>` on node `local` of `link` (`None`: standalone).
pub fn answer(args: &[String], link: Option<&ClusterLink>, local: &str, now: u64) -> Reply {
    let sub = args.first().map(String::as_str);
    if !matches!(sub, Some("status" | "nodes")) {
        return not_emulated(sub.unwrap_or("without a subcommand"));
    }
    if args.len() > 1 {
        return not_emulated(&args.join(" "));
    }
    let Some(link) = link else {
        return Reply::err(
            "Error: Corosync config '/etc/pve/corosync.conf' does not exist - is this node part of a cluster?\n",
            2,
        );
    };
    match sub {
        Some("status") => status(link, local, now),
        _ => {
            let mut r = Reply::out(format!("\n{}", membership(link, local, false)));
            if !link.quorate() {
                r.code = 2;
            }
            r
        }
    }
}

/// Runs `pvecm <args…>` on the node. Returns the exit status.
pub async fn run(ctx: &Ctx, args: &[String], io: &Io) -> i32 {
    if ctx.uid != 0 {
        return not_emulated("as a user other than root").write(io).await;
    }
    let local = ctx.host.node();
    answer(args, ctx.host.cluster(), &local, crate::fs::now_secs())
        .write(io)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctime_is_c_s() {
        assert_eq!(ctime(1_736_510_400), "Fri Jan 10 12:00:00 2025");
    }

    #[test]
    fn a_standalone_node_is_no_cluster() {
        let r = answer(&["status".into()], None, "pve", 0);
        assert_eq!(r.code, 2);
        assert!(r.stderr.contains("is this node part of a cluster?"));
        assert_eq!(answer(&["add".into()], None, "pve", 0).code, 2);
    }
}
