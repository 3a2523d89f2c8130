#!/usr/bin/env bash
# Builds (once) a minimal Debian bookworm root filesystem with debootstrap and keeps it
# as a tarball: the one rootfs both kinds of test host start from, the container image's
# base (ci/build-test-image.sh) and the LXC containers (ci/lxc-host.sh, test-hosts/src/
# lxc.rs). Prints the tarball's path on stdout; messages go to stderr.
#
# The tarball is named by a hash of test-hosts/image/base-packages (the debootstrap
# `--include` list), computed as test-hosts/src/image.rs computes it:
#   /var/cache/mcp-remote-exec/bookworm-<12 hex>.tar
# When it exists nothing is done.
#
#   DEBIAN_MIRROR=URL   overrides the mirror (default: the one apt is configured with)
set -euo pipefail
cd "$(dirname "$0")/.."

cache=${MCP_REMOTE_EXEC_CACHE:-/var/cache/mcp-remote-exec}
packages=$(grep -v '^#' test-hosts/image/base-packages | xargs | tr ' ' ',')
hash=$(echo "$packages" | sha256sum | cut -c1-12)
tarball=$cache/bookworm-$hash.tar

if [[ -f $tarball ]]; then
    echo "$tarball"
    exit 0
fi

# The Debian mirror apt uses (one-line or deb822 sources), else deb.debian.org.
debian_mirror() {
    local m
    m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        sed -E 's/\[[^]]*\]//' |
        awk '$1 == "deb" && $3 ~ /^(bookworm|stable)$/ { print $2; exit }')
    if [[ -z $m ]]; then
        m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
            awk 'BEGIN { RS = ""; FS = "\n" }
                 /(^|\n)Suites:[^\n]*(bookworm|stable)( |\n|$)/ && !/security/ {
                     for (i = 1; i <= NF; i++)
                         if ($i ~ /^URIs:/) { split($i, f, /[ \t]+/); print f[2]; exit }
                 }')
    fi
    echo "${m:-http://deb.debian.org/debian}"
}

command -v debootstrap >/dev/null 2>&1 || {
    echo "debootstrap is missing: run bash ci/container-engine.sh or bash ci/lxc-host.sh" >&2
    exit 1
}
mirror=${DEBIAN_MIRROR:-$(debian_mirror)}
mkdir -p "$cache"
rootfs=$(mktemp -d /tmp/test-host-rootfs.XXXXXX)
partial=$tarball.partial.$$
trap 'rm -rf "$rootfs" "$partial"' EXIT
echo "debootstrap bookworm from $mirror (packages: $packages)" >&2
t=$SECONDS
if ! debootstrap --variant=minbase --include="$packages" bookworm "$rootfs" "$mirror" \
    >/tmp/test-host-debootstrap.log 2>&1; then
    tail -n 30 /tmp/test-host-debootstrap.log >&2
    exit 1
fi
# Small and host-neutral: no package lists, caches or host keys made by the packages'
# scripts (each host makes its own).
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/etc/ssh/ssh_host_*
tar -C "$rootfs" -cf "$partial" .
mv -f "$partial" "$tarball"
echo "rootfs $tarball made ($((SECONDS - t)) s)" >&2
echo "$tarball"
