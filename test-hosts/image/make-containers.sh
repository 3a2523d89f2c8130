#!/bin/bash
# Creates the pct stand-in's containers at image build time, like fake-pve's default
# fixture: 100 webserver (running), 101 database (stopped), 102 cache (running).
# A container's root is a hard-linked copy of the image's /usr (cheap, shares inodes:
# never write into a container's /usr) and a real copy of /etc, /root and /var.
set -euo pipefail
root=/var/lib/fakepct

make_ct() {
    local vmid=$1 name=$2 status=$3 dir=$root/$1
    mkdir -p "$dir/rootfs"
    echo "$name" >"$dir/name"
    echo "$status" >"$dir/status"
    cp -al /usr "$dir/rootfs/usr"
    # Debian 12 is merged-/usr: /bin, /sbin, /lib* are relative symlinks into usr/.
    for link in bin sbin lib lib32 lib64 libx32; do
        [[ -L /$link ]] && cp -a "/$link" "$dir/rootfs/$link"
    done
    cp -a /etc "$dir/rootfs/etc"
    echo "$name" >"$dir/rootfs/etc/hostname"
    mkdir -p "$dir/rootfs/root" "$dir/rootfs/tmp" "$dir/rootfs/var/tmp" "$dir/rootfs/var/log" \
        "$dir/rootfs/dev" "$dir/rootfs/proc" "$dir/rootfs/run"
    chmod 700 "$dir/rootfs/root"
    chmod 1777 "$dir/rootfs/tmp" "$dir/rootfs/var/tmp"
}

make_ct 100 webserver running
make_ct 101 database stopped
make_ct 102 cache running
