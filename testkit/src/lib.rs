//! The workspace's one test kit (dev-only): fake nodes and container test hosts wired
//! to the MCP server, the MCP result helpers, bounded polling and russh test clients.
//!
//! - [`component`]: the MCP server in process against a fake node (server tests);
//! - [`cluster`]: the same against the fake cluster's entry node;
//! - [`openssh`]: the MCP server in process against a container test host (server
//!   tests, the benchmark, e2e);
//! - [`fake`]: OpenSSH's tools and a russh client against a fake node (fake-pve tests);
//! - [`hosts`]: russh clients with strict known_hosts checks against a test host
//!   (test-hosts tests);
//! - [`child`]: child programs run within a bound (the binary, the Python SDK);
//! - [`mcp`], [`ssh`], [`eventually`]: the pieces they share.

pub mod bench;
pub mod child;
pub mod cluster;
pub mod component;
pub mod fake;
mod host_env;
pub mod hosts;
pub mod mcp;
pub mod openssh;
pub mod ssh;

use std::path::{Path, PathBuf};
use std::time::Duration;

use fake_pve::node::{NodeBuilder, TestNode};

pub use child::succeeded;
pub use mcp::{
    CALL_BOUND, Mcp, assert_exited, assert_ok, failed, failed_containing, failed_with, is_error,
    json_text, structured, text,
};

/// The password every test node accepts.
pub const PASSWORD: &str = "pw-for-tests";

/// The tools a READ_ONLY=true server registers (with ENABLE_PROXMOX), sorted: those
/// that change nothing on a host.
pub const READ_ONLY_TOOLS: &[&str] = &[
    "proxmox_backup_list",
    "proxmox_container_status",
    "proxmox_download_file_from_container",
    "proxmox_download_file_from_vm",
    "proxmox_guest_metrics",
    "proxmox_list_containers",
    "proxmox_list_guests",
    "proxmox_list_vms",
    "proxmox_snapshot_list",
    "proxmox_vm_status",
    "ssh_download_file",
];

/// Starts `node` with [`PASSWORD`], writes its client key to `dir/id_ed25519` and, if
/// `known`, a `dir/known_hosts` that lists it; returns the node and both paths.
pub async fn start_node(
    node: NodeBuilder,
    dir: &Path,
    known: bool,
) -> (TestNode, PathBuf, PathBuf) {
    let node = node
        .password(PASSWORD)
        .start()
        .await
        .expect("fake node started");
    let key_path = dir.join("id_ed25519");
    node.write_client_key(&key_path).unwrap();
    let known_hosts = dir.join("known_hosts");
    if known {
        node.write_known_hosts(&known_hosts).unwrap();
    }
    (node, key_path, known_hosts)
}

/// How long [`eventually`] waits.
pub const EVENTUALLY_BOUND: Duration = Duration::from_secs(10);

/// Waits (bounded by [`EVENTUALLY_BOUND`]) until `pred` holds.
pub async fn eventually(what: &str, mut pred: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + EVENTUALLY_BOUND;
    while !pred() {
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Writes `contents` to `name` in `dir`; returns its path.
pub fn local_file(dir: &tempfile::TempDir, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// Writes a private key file with mode 0600, as ssh and the server expect.
pub fn write_private(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}
