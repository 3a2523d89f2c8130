#!/usr/bin/env bash
# Installs what the tests need beyond the Rust toolchain: OpenSSH's client tools
# (ssh, sftp, ssh-keygen) and sshpass, which drive fake-pve in the interop tests.
set -euo pipefail

need=()
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
command -v sftp >/dev/null 2>&1 || need+=(openssh-client)
command -v sshpass >/dev/null 2>&1 || need+=(sshpass)

source "$(dirname "$0")/apt-install.sh"
apt_install "${need[@]}"

# The official Python MCP SDK, for the test that drives the server with a client
# nobody here wrote (server/tests/python_client.rs). Pinned; kept in target/.
venv="$(dirname "$0")/../target/mcp-venv"
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import mcp' >/dev/null 2>&1; then
    echo "installing the Python MCP SDK into target/mcp-venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'mcp==1.30.0'
fi

# proxmoxer and paramiko, a Proxmox API client nobody here wrote, for the test that
# drives fake-pve's pvesh over SSH with it (fake-pve/tests/proxmoxer.rs). Pinned.
if ! "$venv/bin/python" -c 'import proxmoxer, paramiko' >/dev/null 2>&1; then
    echo "installing proxmoxer and paramiko into target/mcp-venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        'proxmoxer==2.3.0' 'paramiko==5.1.0'
fi

if ! command -v cargo-nextest >/dev/null 2>&1; then
    echo "installing cargo-nextest"
    cargo install --locked cargo-nextest
fi
