//! A client nobody here wrote: the official Python MCP SDK drives the built binary
//! (against its embedded fake-pve) and validates every result against its schema.

use std::path::PathBuf;

#[test]
fn the_python_sdk_can_use_every_kind_of_tool() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = std::env::var_os("MCP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/mcp-venv/bin/python"));
    assert!(
        python.exists(),
        "{} is missing: run `bash ci/install-test-deps.sh` (it installs the Python MCP SDK)",
        python.display()
    );
    let out = std::process::Command::new(&python)
        .arg(root.join("ci/clients/python_mcp_check.py"))
        .arg(env!("CARGO_BIN_EXE_mcp-remote-exec"))
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "python client failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("all checks passed"), "{stdout}");
}
