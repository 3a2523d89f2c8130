#!/usr/bin/env bash
# Builds the container test-host image (test-hosts/) locally, without any image
# registry: the minimal Debian bookworm rootfs of ci/debian-rootfs.sh (debootstrap,
# made once) is imported as the base image, then test-hosts/image/Dockerfile builds the
# test host on top of it.
#
# The image is tagged with a hash of test-hosts/image/ (the Dockerfile, the scripts and
# the base package list); test-hosts computes the same hash and uses that tag, so an
# image built from older inputs is never used. When the tag exists the build is skipped.
#
#   DEBIAN_MIRROR=URL   overrides the mirror (default: the one apt is configured with)
#   TEST_HOST_BASE=IMG  builds on IMG instead (e.g. debian:bookworm where a registry is
#                       reachable); the debootstrap step is then skipped
set -euo pipefail
cd "$(dirname "$0")/.."

start=$SECONDS
image_dir=test-hosts/image
repo=mcp-remote-exec-test-host
base_repo=mcp-remote-exec-test-base

# The content hash: `sha256sum` of every file (sorted, paths relative to the image
# dir), hashed again; the first 16 hex digits. test-hosts/src/image.rs does the same.
hash=$(cd "$image_dir" && find . -type f -print | LC_ALL=C sort | xargs -d '\n' sha256sum | sha256sum | cut -c1-16)
tag="$repo:$hash"

if docker image inspect "$tag" >/dev/null 2>&1; then
    echo "test-host image $tag exists: build skipped ($((SECONDS - start)) s)"
    exit 0
fi

base=${TEST_HOST_BASE:-}
if [[ -z $base ]]; then
    packages=$(grep -v '^#' "$image_dir/base-packages" | xargs | tr ' ' ',')
    base="$base_repo:bookworm-$(echo "$packages" | sha256sum | cut -c1-12)"
    if docker image inspect "$base" >/dev/null 2>&1; then
        echo "base image $base exists"
    else
        t=$SECONDS
        tarball=$(bash ci/debian-rootfs.sh)
        docker import - "$base" <"$tarball" >/dev/null
        echo "base image $base imported ($((SECONDS - t)) s)"
    fi
fi

# The classic builder reads FROM images from the local store and never asks a registry.
t=$SECONDS
if ! DOCKER_BUILDKIT=0 docker build --build-arg "BASE=$base" \
    --label "mcp-remote-exec.test-host.hash=$hash" -t "$tag" "$image_dir" \
    >/tmp/test-host-build.log 2>&1; then
    tail -n 30 /tmp/test-host-build.log >&2
    exit 1
fi
echo "test-host image $tag built ($((SECONDS - t)) s); total $((SECONDS - start)) s"
