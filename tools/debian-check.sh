#!/usr/bin/env bash
# Installs a Sextant Debian package into a clean Debian root filesystem and runs it there: the
# package's user, unit and configuration, `sextant serve` started as the unit starts it (as the
# user `sextant`, on the packaged configuration), the CLI against it, and removal. The root
# filesystem is Debian bookworm's minimal base, made with debootstrap from Debian's packages
# (installed when missing), with ca-certificates (a dependency), and kept in target/debian-rootfs/
# for the next run; Docker runs it
# (`docker import`: no registry needed). Needs root and a running Docker Engine.
#
#   tools/debian-check.sh PACKAGE.deb
set -euo pipefail
cd "$(dirname "$0")/.."
DEB="$(realpath "${1:?usage: tools/debian-check.sh PACKAGE.deb}")"
ROOTFS="$PWD/target/debian-rootfs/bookworm-minbase-ca.tar"
IMAGE="sextant-debian-rootfs:bookworm-ca"
if [ ! -f "$ROOTFS" ]; then
    if ! command -v debootstrap >/dev/null; then
        # Other tests may install packages at the same time: one apt-get at a time.
        apt() { flock /tmp/sextant-apt.lock apt-get -o DPkg::Lock::Timeout=600 "$@"; }
        apt install -y debootstrap >/dev/null 2>&1 ||
            { apt update >/dev/null && apt install -y debootstrap >/dev/null; }
    fi
    ROOT="$(mktemp -d)"
    echo "making a Debian bookworm root filesystem with debootstrap" >&2
    debootstrap --variant=minbase --include=ca-certificates bookworm "$ROOT" \
        http://deb.debian.org/debian >/dev/null
    mkdir -p "$(dirname "$ROOTFS")"
    tar -C "$ROOT" -cf "$ROOTFS.partial" . && mv "$ROOTFS.partial" "$ROOTFS"
    rm -rf "$ROOT"
    docker rmi -f "$IMAGE" >/dev/null 2>&1 || true
fi
docker image inspect "$IMAGE" >/dev/null 2>&1 || docker import "$ROOTFS" "$IMAGE" >/dev/null

exec docker run --rm -v "$DEB:/pkg/sextant.deb:ro" "$IMAGE" /bin/sh -ec '
    dpkg -i /pkg/sextant.deb >/dev/null
    echo "installed: $(dpkg-query -W -f "\${Package} \${Version}" sextant)"
    echo "user: $(id sextant)"
    echo "data folder: $(stat -c "%U %a" /var/lib/sextant)"
    grep -q "^ExecStart=/usr/bin/sextant serve --config /etc/sextant/sextant.toml" \
        /lib/systemd/system/sextant.service
    echo "conffile: $(cat /var/lib/dpkg/info/sextant.conffiles)"
    echo "on the PATH: $(command -v sextant) ($(sextant --version))"
    # As the unit runs it: the service user, the packaged configuration.
    runuser -u sextant -- /usr/bin/sextant serve --config /etc/sextant/sextant.toml \
        2>/tmp/serve.log &
    SERVER=$!
    for _ in $(seq 600); do [ -s /var/lib/sextant/admin.token ] && break; sleep 0.1; done
    echo "admin token: $(stat -c "%U %a" /var/lib/sextant/admin.token)"
    export SEXTANT_TOKEN="$(cat /var/lib/sextant/admin.token)" HOME=/root
    for _ in $(seq 600); do sextant whoami >/dev/null 2>&1 && break; sleep 0.1; done
    sextant whoami || { cat /tmp/serve.log; exit 1; }
    sextant project create packaged --task binary --features a,b:categorical
    sextant project list
    kill "$SERVER"
    wait "$SERVER" || true
    dpkg -r sextant >/dev/null
    test ! -e /usr/bin/sextant && echo "removed; kept: $(ls /var/lib/sextant | tr "\n" " ")"
'
