#!/usr/bin/env bash
# The benchmarks (not run by .ci/run): the server through MCP beside OpenSSH's own
# clients against one real OpenSSH test host in a container, then the binary's
# footprint against an in-process fake node, then fake-pve's capacity (500 sessions at
# once, a 1 GiB SFTP round trip). Print tables; no timed assertions. The first needs
# the container engine, the test-host image and ssh/sftp.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/install-test-deps.sh
bash ci/container-engine.sh
bash ci/build-test-image.sh
cargo bench -p mcp-remote-exec --bench ssh_vs_openssh
cargo bench -p mcp-remote-exec --bench footprint
cargo bench -p fake-pve --bench capacity
