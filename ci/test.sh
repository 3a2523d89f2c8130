#!/usr/bin/env bash
# The test command (README, "Quick start"): installs what the tests need, sets up the
# container engine, the test-host image and the LXC test hosts, then runs the whole
# workspace's tests once.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/install-test-deps.sh
# The container test hosts (test-hosts/): engine, then image. Timed: CI logs show
# what the set-up costs.
t=$SECONDS
bash ci/container-engine.sh
echo "container engine set-up: $((SECONDS - t)) s"
t=$SECONDS
bash ci/build-test-image.sh
echo "test-host image set-up: $((SECONDS - t)) s"
# The LXC test hosts (test-hosts/src/lxc.rs): lxc, sshd, the rootfs tarball.
t=$SECONDS
bash ci/lxc-host.sh
echo "LXC test host set-up: $((SECONDS - t)) s"
cargo nextest run --workspace --no-fail-fast --profile ci
