# Sourced by the ci/ scripts: `apt_install PACKAGE…` installs the Debian packages given
# (the caller lists only what is missing), as root, with a clear message otherwise.
# Extra apt-get options may come in APT_INSTALL_OPTS (e.g. --no-install-recommends).

apt_install() {
    (($#)) || return 0
    if [[ $(id -u) -ne 0 ]]; then
        echo "missing: $*; install them with: sudo apt-get install -y $*" >&2
        exit 1
    fi
    echo "installing: $*"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086 # the options are words on purpose
    apt-get install -y -qq ${APT_INSTALL_OPTS:-} "$@" >/dev/null
}
