#!/usr/bin/env bash
# Sets up the container engine the container test hosts (test-hosts/) run on:
# Debian's docker.io (dockerd with overlay2) and debootstrap (which builds the test
# image's base, see ci/build-test-image.sh). Installs them with apt-get when missing and
# starts dockerd in the background when it is not running (apt does not start it in a
# container or CI machine without systemd). Idempotent: a no-op when all is in place.
set -euo pipefail

start=$SECONDS
socket=/var/run/docker.sock
log=/tmp/dockerd.log

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)

source "$(dirname "$0")/apt-install.sh"
APT_INSTALL_OPTS=--no-install-recommends apt_install "${need[@]}"

if docker info >/dev/null 2>&1; then
    echo "container engine: dockerd already running"
else
    if [[ $(id -u) -ne 0 ]]; then
        echo "dockerd is not running; start it as root: sudo dockerd >$log 2>&1 &" >&2
        exit 1
    fi
    echo "starting dockerd (log: $log)"
    waited=$SECONDS
    # --ip: published ports (the test hosts' sshd, with a known root password) listen
    # on 127.0.0.1 only, not on every interface.
    nohup dockerd --ip 127.0.0.1 >"$log" 2>&1 &
    # Bounded wait for the API socket to answer.
    for _ in $(seq 1 120); do
        if [[ -S $socket ]] && docker info >/dev/null 2>&1; then
            break
        fi
        sleep 0.5
    done
    if ! docker info >/dev/null 2>&1; then
        echo "dockerd did not answer within 60 s; last lines of $log:" >&2
        tail -n 20 "$log" >&2 || true
        exit 1
    fi
    echo "dockerd ready after $((SECONDS - waited)) s"
fi

echo "container engine: $(docker version --format '{{.Server.Version}}') ($(docker info --format '{{.Driver}}')), set up in $((SECONDS - start)) s"
