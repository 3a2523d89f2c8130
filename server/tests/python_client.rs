//! A client nobody here wrote: the official Python MCP SDK drives the built binary
//! (against its embedded fake-pve) and validates every result against its schema.

use std::time::Duration;

use testkit::child::{output_within, python_sdk, workspace_root};

/// How long the Python client gets for all its checks.
const CLIENT: Duration = Duration::from_secs(120);

#[test]
fn the_python_sdk_can_use_every_kind_of_tool() {
    let mut cmd = std::process::Command::new(python_sdk());
    cmd.arg(workspace_root().join("ci/clients/python_mcp_check.py"))
        .arg(env!("CARGO_BIN_EXE_mcp-remote-exec"));
    let out = output_within(cmd, CLIENT);
    let stdout = testkit::succeeded("python client", &out);
    assert!(stdout.contains("all checks passed"), "{stdout}");
}

#[test]
fn the_python_sdk_lists_guests_runs_in_a_vm_and_moves_a_file_through_it() {
    let mut cmd = std::process::Command::new(python_sdk());
    cmd.arg(workspace_root().join("ci/clients/python_vm_check.py"))
        .arg(env!("CARGO_BIN_EXE_mcp-remote-exec"));
    let out = output_within(cmd, CLIENT);
    let stdout = testkit::succeeded("python VM client", &out);
    assert!(stdout.contains("all checks passed"), "{stdout}");
}

#[test]
fn the_python_sdk_drives_a_fake_cluster_through_its_entry_node() {
    let mut cmd = std::process::Command::new(python_sdk());
    cmd.arg(workspace_root().join("ci/clients/python_cluster_check.py"))
        .arg(env!("CARGO_BIN_EXE_mcp-remote-exec"))
        .arg(workspace_root().join("fixtures/cluster.toml"));
    let out = output_within(cmd, CLIENT);
    let stdout = testkit::succeeded("python cluster client", &out);
    assert!(stdout.contains("all checks passed"), "{stdout}");
}
