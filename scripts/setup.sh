#!/bin/sh
# Idempotent machine set-up for fip: Debian packages, kernel header links for bcc, and .venv.
# Run as root (make setup). Safe to run again: every step checks before it acts.
set -eu
cd "$(dirname "$0")/.."

APT_PACKAGES="redis-server redis-tools python3-bpfcc bpftool linux-headers-amd64 iproute2 iptables \
nftables python3-venv python3-dev containernetworking-plugins wrk iputils-ping iputils-arping \
curl ethtool procps gcc libc6-dev openssl"

missing=""
for p in $APT_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# bcc needs /lib/modules/$(uname -r)/{build,source}; this kernel ships no headers package of its
# own, so point them at Debian's newest installed linux-headers (see shared/reference/ebpf.md).
kdir="/lib/modules/$(uname -r)"
if [ ! -e "$kdir/build/Makefile" ]; then
    hdr=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -1)
    if [ -n "$hdr" ]; then
        common="${hdr%-amd64}-common"
        mkdir -p "$kdir"
        ln -sfn "$hdr" "$kdir/build"
        ln -sfn "$common" "$kdir/source"
        echo "setup: linked $kdir/build -> $hdr"
    fi
fi

# The system Redis service is not ours: tests and the demo start their own servers on free ports.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now redis-server >/dev/null 2>&1 || true; fi

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import bcc' 2>/dev/null; then
    rm -rf .venv
    /usr/bin/python3 -m venv --system-site-packages .venv
fi
stamp=.venv/.requirements.sha
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat $stamp 2>/dev/null)" != "$want" ]; then
    # A failed install must fail setup: otherwise the stamp below records a half-installed .venv
    # as current and every later run skips the install.
    pip_log=$(mktemp)
    if ! .venv/bin/pip install -q --disable-pip-version-check -r requirements.lock >"$pip_log" 2>&1; then
        cat "$pip_log" >&2; rm -f "$pip_log"
        echo "setup: pip install -r requirements.lock failed (see above)" >&2; exit 1
    fi
    grep -v "^WARNING: Location" "$pip_log" || true; rm -f "$pip_log"
    .venv/bin/pip install -q --disable-pip-version-check --no-deps -e .
    echo "$want" > $stamp
fi
echo "setup: ok ($(.venv/bin/python --version), redis $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'))"
