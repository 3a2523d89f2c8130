//! The proxmox_* container tools against real LXC containers: an LXC test host
//! (`test_hosts::LxcHost`: a stock sshd on loopback, the pct stand-in's LXC backend,
//! a privileged container 100 and id-mapped containers 101/102) reached exactly as a
//! node is, SSH → `pct` → `lxc-attach`. What only reality settles: that a timed-out or
//! cancelled container command leaves no process behind, owners and modes as the
//! container sees them, that a pulled secret is never readable by others on the node,
//! and that the container's /tmp is its own. Every fact is checked out of band
//! (`lxc-attach` and the machine's own /proc), not through the server under test.

use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};
use test_hosts::LxcHost;
use test_hosts::lxc::ID_MAP_BASE;
use testkit::openssh::{HostEnv, Login};
use testkit::{Mcp, assert_ok, failed, structured};

async fn lxc_env() -> (HostEnv<LxcHost>, Mcp) {
    let env = HostEnv::lxc().await;
    let vars = env.vars(
        test_hosts::SshHost::port(&env.host),
        &Login::Key,
        &[("ENABLE_PROXMOX", "true".into())],
    );
    let mcp = Mcp::serve(&vars).await;
    (env, mcp)
}

/// A marker no other test's process carries: `sleep 3NNN.5`.
fn marker() -> String {
    format!("sleep {}.5", 3000 + rand::random::<u16>() % 6000)
}

/// The command lines in container `vmid` (its own `ps`, through lxc-attach).
async fn ct_processes(host: &LxcHost, vmid: u32) -> String {
    let (code, out, err) = host.ct_out_of_band(vmid, "ps -eo args").await;
    assert_eq!(code, 0, "ps in {vmid}: {err}");
    out
}

/// The command lines on this machine (the node: it sees the containers' processes
/// too) that contain `needle`, read from /proc.
fn node_processes(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let line = String::from_utf8_lossy(&raw).replace('\0', " ");
        if line.contains(needle) {
            found.push(format!(
                "{}: {}",
                entry.file_name().to_string_lossy(),
                line.trim()
            ));
        }
    }
    found
}

/// Waits (bounded) until no process in container `vmid` nor on the node runs
/// `needle`; fails with what is left.
async fn gone_everywhere(host: &LxcHost, vmid: u32, needle: &str) {
    for _ in 0..100 {
        let inside = ct_processes(host, vmid).await;
        if !inside.contains(needle) && node_processes(needle).is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "`{needle}` still runs: in the container {:?}; on the node {:?}",
        ct_processes(host, vmid).await,
        node_processes(needle)
    );
}

/// Waits (bounded) until `needle` runs in container `vmid`.
async fn running_inside(host: &LxcHost, vmid: u32, needle: &str) {
    for _ in 0..100 {
        if ct_processes(host, vmid).await.contains(needle) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("`{needle}` never ran in {vmid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lxc_a_timed_out_container_exec_leaves_no_process_behind() {
    let (env, mcp) = lxc_env().await;
    for vmid in [100, 102] {
        let sleep = marker();
        let r = mcp
            .call(
                "proxmox_container_exec_command",
                json!({"ctid": vmid, "command": format!("echo started; {sleep}; echo late"), "timeout": 1}),
            )
            .await;
        let s = failed(&r);
        assert_eq!(s["timeout_reached"], true, "{s}");
        assert_eq!(s["stdout"], "started\n");
        gone_everywhere(&env.host, vmid, &sleep).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lxc_a_cancelled_container_exec_leaves_no_process_behind() {
    let (env, mcp) = lxc_env().await;
    let sleep = marker();
    let params = CallToolRequestParams::new("proxmox_container_exec_command").with_arguments(
        json!({"ctid": 102, "command": format!("{sleep}"), "timeout": 120})
            .as_object()
            .cloned()
            .unwrap(),
    );
    let mut call = Box::pin(mcp.client.call_tool(params));
    // The call runs until the command is seen in the container; then it is dropped,
    // which sends the MCP cancellation for it.
    tokio::select! {
        r = &mut call => panic!("the call ended before it was cancelled: {r:?}"),
        () = running_inside(&env.host, 102, &sleep) => {}
    }
    drop(call); // the future itself: its guard sends notifications/cancelled
    gone_everywhere(&env.host, 102, &sleep).await;
    // The server goes on.
    let r = mcp
        .call(
            "proxmox_container_exec_command",
            json!({"ctid": 102, "command": "echo after"}),
        )
        .await;
    assert_eq!(structured(&r)["stdout"], "after\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lxc_uploads_into_an_unprivileged_container_get_the_owner_and_mode_asked() {
    let (env, mcp) = lxc_env().await;
    let (code, _, err) = env
        .host
        .ct_out_of_band(
            102,
            "mkdir -p /srv/up && printf old > /srv/up/owned && chown 1000:1000 /srv/up/owned \
             && chmod 640 /srv/up/owned",
        )
        .await;
    assert_eq!(code, 0, "{err}");
    let local = env.local_file("payload", b"new contents\n");

    // A new file with the mode asked for: the container's root owns it.
    let r = mcp
        .call(
            "proxmox_upload_file_to_container",
            json!({"ctid": 102, "local_path": local, "container_path": "/srv/up/new", "permissions": "600"}),
        )
        .await;
    assert_ok(&r);
    let (_, out, _) = env
        .host
        .ct_out_of_band(102, "stat -c '%u %g %a %s' /srv/up/new")
        .await;
    assert_eq!(out, "0 0 600 13\n");
    let meta = std::fs::metadata(env.host.rootfs(102).join("srv/up/new")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (ID_MAP_BASE, ID_MAP_BASE));

    // A replaced file keeps its owner and group (and its mode, none being asked for).
    let r = mcp
        .call(
            "proxmox_upload_file_to_container",
            json!({"ctid": 102, "local_path": local, "container_path": "/srv/up/owned", "overwrite": true}),
        )
        .await;
    assert_ok(&r);
    let (_, out, _) = env
        .host
        .ct_out_of_band(
            102,
            "stat -c '%u %g %a' /srv/up/owned; cat /srv/up/owned; ls -a /srv/up",
        )
        .await;
    assert_eq!(out, "1000 1000 640\nnew contents\n.\n..\nnew\nowned\n");
    // With permissions asked for, the mode changes and the owner stays.
    let r = mcp
        .call(
            "proxmox_upload_file_to_container",
            json!({"ctid": 102, "local_path": local, "container_path": "/srv/up/owned", "overwrite": true, "permissions": "604"}),
        )
        .await;
    assert_ok(&r);
    let (_, out, _) = env
        .host
        .ct_out_of_band(102, "stat -c '%u %g %a' /srv/up/owned")
        .await;
    assert_eq!(out, "1000 1000 604\n");
    // No temp file left on the node.
    let (_, out, _) = env.oob("ls -a /tmp | grep '^\\.mcp-pct-' || true").await;
    assert_eq!(out, "");
}

/// How a path under the node's /tmp could be read by another user: a file readable by
/// others in a directory others can enter.
fn exposed(path: &std::path::Path) -> Option<String> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    let parent_open = path
        .parent()
        .and_then(|p| std::fs::metadata(p).ok())
        .is_some_and(|m| m.mode() & 0o001 != 0);
    (meta.is_file() && meta.mode() & 0o004 != 0 && parent_open)
        .then(|| format!("{} mode {:o}", path.display(), meta.mode() & 0o7777))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lxc_a_pulled_0600_file_is_never_readable_by_others_on_the_node() {
    let (env, mcp) = lxc_env().await;
    let (code, _, err) = env
        .host
        .ct_out_of_band(
            102,
            "head -c 67108864 /dev/urandom > /root/secret && chmod 600 /root/secret",
        )
        .await;
    assert_eq!(code, 0, "{err}");
    let local = env.dir.path().join("secret");

    // Watch the node's /tmp during the copy, for the server's temporaries.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (mut seen, mut exposures) = (0u64, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                for entry in std::fs::read_dir("/tmp").into_iter().flatten().flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if !name.starts_with(".mcp-pct-") {
                        continue;
                    }
                    seen += 1;
                    let path = entry.path();
                    exposures.extend(exposed(&path));
                    for inner in std::fs::read_dir(&path).into_iter().flatten().flatten() {
                        exposures.extend(exposed(&inner.path()));
                    }
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            (seen, exposures)
        })
    };
    let r = mcp
        .call(
            "proxmox_download_file_from_container",
            json!({"ctid": 102, "container_path": "/root/secret", "local_path": local}),
        )
        .await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (seen, exposures) = watcher.join().unwrap();
    assert_ok(&r);
    assert!(
        seen > 0,
        "the watcher never saw the server's temporary on the node"
    );
    assert_eq!(exposures, Vec::<String>::new(), "readable by others");
    assert_eq!(std::fs::metadata(&local).unwrap().len(), 64 << 20);
    let (_, out, _) = env.oob("ls -a /tmp | grep '^\\.mcp-pct-' || true").await;
    assert_eq!(out, "", "temporaries left on the node");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lxc_a_containers_tmp_is_its_own() {
    let (env, mcp) = lxc_env().await;
    let name = format!("/tmp/lxc-own-tmp-{:08x}", rand::random::<u32>());
    let r = mcp
        .call(
            "proxmox_container_exec_command",
            json!({"ctid": 102, "command": format!("echo inside > {name} && cat {name}")}),
        )
        .await;
    assert_eq!(structured(&r)["stdout"], "inside\n");
    // Not on the node, seen through the server and out of band.
    let r = mcp
        .call(
            "ssh_exec_command",
            json!({"command": format!("test -e {name}; echo $?")}),
        )
        .await;
    assert_eq!(structured(&r)["stdout"], "1\n");
    assert!(!std::path::Path::new(&name).exists());
    // Nor in the other container; and the node's file is not in the container.
    let (_, out, _) = env
        .host
        .ct_out_of_band(100, &format!("test -e {name}; echo $?"))
        .await;
    assert_eq!(out, "1\n");
    std::fs::write(&name, "node").unwrap();
    let r = mcp
        .call(
            "proxmox_container_exec_command",
            json!({"ctid": 102, "command": format!("cat {name}")}),
        )
        .await;
    assert_eq!(structured(&r)["stdout"], "inside\n");
    std::fs::remove_file(&name).unwrap();
    let r: Value = structured(
        &mcp.call(
            "proxmox_list_containers",
            json!({"response_format": "json"}),
        )
        .await,
    );
    assert!(r.to_string().contains("cache"), "{r}");
}
