#!/usr/bin/env bash
# Sets up what the LXC test hosts (test-hosts/src/lxc.rs) need on this machine:
# Debian's lxc (lxc-start, lxc-attach, lxc-usernsexec), OpenSSH's sshd (the tests start
# their own on loopback, with Debian's stock configuration) and the Debian rootfs
# tarball the containers are made from (ci/debian-rootfs.sh). Root only: LXC
# containers, privileged and id-mapped, are started by root, as on a Proxmox VE node.
# Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

start=$SECONDS
if [[ $(id -u) -ne 0 ]]; then
    echo "the LXC test hosts need root (LXC containers are started as root, as on a node)" >&2
    exit 1
fi

need=()
command -v lxc-start >/dev/null 2>&1 || need+=(lxc)
command -v lxc-usernsexec >/dev/null 2>&1 || need+=(lxc)
[[ -x /usr/sbin/sshd ]] || need+=(openssh-server)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)

source ci/apt-install.sh
APT_INSTALL_OPTS=--no-install-recommends apt_install $(printf '%s\n' "${need[@]}" | sort -u)

tarball=$(bash ci/debian-rootfs.sh)
echo "LXC test hosts: $(lxc-start --version 2>/dev/null || echo '?'), rootfs $tarball, set up in $((SECONDS - start)) s"
