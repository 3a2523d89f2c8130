//! `ssh NODE COMMAND…` between the members of a fake cluster, as Proxmox's own
//! node-to-node calls run it (`ssh -e none -o BatchMode=yes -o HostKeyAlias=NODE
//! root@IP …`, docs/cluster.md §3): the command line runs as root on the other
//! member, as a new session there, with this command's streams. Only members are
//! reachable; an interactive login and options fake-pve does not know are refused.

use super::{Status, fail, refuse_option};
use crate::io::Io;
use crate::proc::{Ctx, SessionEnd, start_session};

/// ssh's exit status when it cannot connect or log in.
const SSH_FAILED: i32 = 255;

pub(super) async fn ssh(ctx: &Ctx, args: &[String], io: &Io) -> Status {
    if ctx.uid != 0 {
        // Only root's key is in the cluster's authorized_keys.
        return fail(io, "root@pve", "Permission denied (publickey).", SSH_FAILED).await;
    }
    let mut i = 0;
    let (mut login, mut port) = (None, "22".to_string());
    while let Some(a) = args.get(i).filter(|a| a.starts_with('-')) {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match a.as_str() {
            "-l" => {
                login = Some(value);
                i += 2;
            }
            "-p" => {
                port = value;
                i += 2;
            }
            "-o" | "-e" | "-i" | "-F" => i += 2,
            "-T" | "-n" | "-q" | "-x" | "-a" | "-C" | "-4" | "-6" => i += 1,
            other => return refuse_option(ctx, io, "ssh", other).await,
        }
    }
    let Some(dest) = args.get(i) else {
        return fail(
            io,
            "usage",
            "ssh [options] destination [command [argument ...]]",
            SSH_FAILED,
        )
        .await;
    };
    let words = &args[i + 1..];
    if words.is_empty() {
        return Ok(ctx
            .refuse(io, "ssh without a command (an interactive login)", 2)
            .await);
    }
    let (user, host) = match dest.rsplit_once('@') {
        Some((u, h)) => (u.to_string(), h),
        None => (login.unwrap_or_else(|| "root".into()), dest.as_str()),
    };
    if user != "root" {
        return Ok(ctx
            .refuse(
                io,
                &format!("ssh as {user} (only root, as between nodes)"),
                2,
            )
            .await);
    }
    let link = ctx.host.cluster();
    let member = link.and_then(|l| l.members().iter().find(|m| m.name == host || m.ip == host));
    let (Some(link), Some(member)) = (link, member) else {
        return fail(
            io,
            "ssh",
            &format!("Could not resolve hostname {host}: Name or service not known"),
            SSH_FAILED,
        )
        .await;
    };
    if port != "22" {
        return fail(
            io,
            "ssh",
            &format!(
                "connect to host {} port {port}: Connection refused",
                member.ip
            ),
            SSH_FAILED,
        )
        .await;
    }
    let target = match link.host(&member.name) {
        Some(h) if member.online() => h,
        _ => {
            return fail(
                io,
                "ssh",
                &format!("connect to host {} port 22: No route to host", member.ip),
                SSH_FAILED,
            )
            .await;
        }
    };
    // As sshd does with an exec request: the words joined by spaces, run by a shell.
    let line = words.join(" ");
    let (_, end) = start_session(super::login_ctx(&target, "root"), line, io.clone());
    Ok(match end.await {
        Ok(SessionEnd::Exited(code)) => code,
        Ok(SessionEnd::Signalled(_)) | Err(_) => SSH_FAILED,
    })
}
