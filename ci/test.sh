#!/usr/bin/env bash
# The test command (README, "Quick start"): installs what the tests need, then runs
# the whole workspace's tests once.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/install-test-deps.sh
cargo nextest run --workspace --all-targets --no-fail-fast --profile ci
