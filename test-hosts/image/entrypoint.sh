#!/bin/bash
# Container start: host keys, the tests' client key, device nodes for the pct
# containers' roots, then sshd in the foreground logging to stderr.
set -euo pipefail

# Missing host keys are generated; the keys persist across a stop/start. To change
# them, delete them and restart the container (TestHost::restart_with_new_host_key),
# or set TEST_HOST_NEW_HOST_KEYS=1.
if [[ ${TEST_HOST_NEW_HOST_KEYS:-0} == 1 ]]; then
    rm -f /etc/ssh/ssh_host_*
fi
ssh-keygen -A >/dev/null

if [[ -n ${TEST_HOST_AUTHORIZED_KEY:-} ]]; then
    install -d -m 700 /root/.ssh
    printf '%s\n' "$TEST_HOST_AUTHORIZED_KEY" >/root/.ssh/authorized_keys
    chmod 600 /root/.ssh/authorized_keys
fi

# Programs run by `pct exec` (chroot) need /dev/null and friends; Docker grants CAP_MKNOD.
for root in /var/lib/fakepct/*/rootfs; do
    mkdir -p "$root/dev" "$root/proc"
    [[ -e $root/dev/null ]] || mknod -m 666 "$root/dev/null" c 1 3 || true
    [[ -e $root/dev/zero ]] || mknod -m 666 "$root/dev/zero" c 1 5 || true
    [[ -e $root/dev/random ]] || mknod -m 666 "$root/dev/random" c 1 8 || true
    [[ -e $root/dev/urandom ]] || mknod -m 666 "$root/dev/urandom" c 1 9 || true
done

echo "test host: keys ready" >&2
exec /usr/sbin/sshd -D -e
