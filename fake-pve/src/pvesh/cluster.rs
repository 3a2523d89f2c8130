//! pvesh on a cluster member: the cluster-wide paths gathered from every member
//! (`/cluster/resources`, `/cluster/status`, `/nodes`), and a `/nodes/{node}/…` path
//! of another member answered by that member, as pvesh proxies it there
//! (docs/cluster.md §4). A member's state is locked only while its part is read.

use serde_json::{Value, json};

use super::Reply;
use super::api;
use super::cli::{DIE, Endpoint, Kind, Request};
use crate::host::cluster::{ClusterLink, GuestKind, Member};

/// The rows an offline member still has in `/cluster/resources`: its guests (from
/// their configs, which every node holds) with status `unknown`, and itself `offline`.
fn offline_rows(link: &ClusterLink, m: &Member, kind: Option<Kind>) -> Vec<Value> {
    let mut rows = Vec::new();
    if matches!(kind, None | Some(Kind::Vm)) {
        let guests = link
            .with_state(&m.name, |st| {
                let cts = st.containers.values().map(|c| {
                    let name = c.hostname().map_or(format!("CT{}", c.vmid), str::to_string);
                    (c.vmid, GuestKind::Lxc, name)
                });
                let vms = st.vms.values().map(|v| {
                    let name = v
                        .config
                        .get("name")
                        .cloned()
                        .unwrap_or(format!("VM {}", v.vmid));
                    (v.vmid, GuestKind::Qemu, name)
                });
                cts.chain(vms).collect::<Vec<_>>()
            })
            .unwrap_or_default();
        for (vmid, k, name) in guests {
            rows.push(json!({
                "id": format!("{}/{vmid}", k.as_str()), "name": name, "node": m.name,
                "status": "unknown", "type": k.as_str(), "vmid": vmid,
            }));
        }
    }
    if matches!(kind, None | Some(Kind::Node)) {
        rows.push(json!({
            "id": format!("node/{}", m.name), "node": m.name, "status": "offline", "type": "node",
        }));
    }
    rows
}

fn type_rank(row: &Value) -> u8 {
    match row["type"].as_str() {
        Some("lxc" | "qemu") => 0,
        Some("node") => 1,
        Some("storage") => 2,
        _ => 3,
    }
}

fn resources(link: &ClusterLink, kind: Option<Kind>, now: u64) -> Value {
    let mut rows: Vec<Value> = Vec::new();
    for m in link.members() {
        if m.online() {
            let part = link
                .with_state(&m.name, |st| api::cluster_resources(st, kind, now))
                .unwrap_or(Value::Null);
            if let Value::Array(part) = part {
                rows.extend(part);
            }
        } else {
            rows.extend(offline_rows(link, m, kind));
        }
    }
    // Guests first, then nodes, storages and the rest, as Cluster.pm gathers them.
    rows.sort_by_key(type_rank);
    Value::Array(rows)
}

fn nodes(link: &ClusterLink, now: u64) -> Value {
    let rows = link.members().iter().map(|m| {
        if m.online() {
            link.with_state(&m.name, |st| api::node_row(st, now))
                .unwrap_or(Value::Null)
        } else {
            json!({"id": format!("node/{}", m.name), "node": m.name, "status": "offline", "type": "node"})
        }
    });
    Value::Array(rows.collect())
}

fn status(link: &ClusterLink, local: &str) -> Value {
    let mut rows = vec![json!({
        "id": "cluster", "name": link.name(), "nodes": link.members().len(),
        "quorate": u8::from(link.quorate()), "type": "cluster", "version": link.members().len(),
    })];
    rows.extend(link.members().iter().map(|m| {
        json!({
            "id": format!("node/{}", m.name), "ip": m.ip, "level": "",
            "local": u8::from(m.name == local), "name": m.name, "nodeid": m.nodeid,
            "online": u8::from(m.online()), "type": "node",
        })
    }));
    Value::Array(rows)
}

/// The result of `req` on member `local` of `link`.
pub fn execute(req: &Request, link: &ClusterLink, local: &str, now: u64) -> Result<Value, Reply> {
    match &req.endpoint {
        Endpoint::ClusterResources { kind } => return Ok(resources(link, *kind, now)),
        Endpoint::Nodes => return Ok(nodes(link, now)),
        Endpoint::ClusterStatus => return Ok(status(link, local)),
        _ => {}
    }
    let target = match req.endpoint.node() {
        Some(node) if node != local && node != "localhost" => node,
        _ => local,
    };
    match link.member(target) {
        Some(m) if m.online() || target == local => link
            .with_state(target, |st| api::execute(req, st, now))
            .unwrap_or_else(|| Err(Reply::err("fake-pve: the node is gone\n", DIE))),
        Some(_) => Err(super::cli::not_emulated(&format!(
            "proxying to node '{target}', which is offline"
        ))),
        // Not a member: the hostname lookup pvesh fails with.
        None => link
            .with_state(local, |st| api::execute(req, st, now))
            .unwrap_or_else(|| Err(Reply::err("fake-pve: the node is gone\n", DIE))),
    }
}
