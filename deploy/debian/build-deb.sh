#!/usr/bin/env bash
# Builds a Debian package of a `sextant` binary: the binary in /usr/bin, a systemd unit that
# runs `sextant serve` as the system user `sextant` on /var/lib/sextant, and its configuration
# in /etc/sextant/sextant.toml (a conffile). `make deb` builds it from a stripped release build;
# any binary built on this machine will do (the tests package the debug build).
#
#   deploy/debian/build-deb.sh BINARY OUTPUT.deb
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BIN="${1:?usage: build-deb.sh BINARY OUTPUT.deb}"
OUT="${2:?usage: build-deb.sh BINARY OUTPUT.deb}"
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' "$HERE/../../Cargo.toml" | head -n1)"
ARCH="$(dpkg --print-architecture)"
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT

install -D -m 0755 "$BIN" "$STAGE/usr/bin/sextant"
install -D -m 0644 "$HERE/sextant.service" "$STAGE/lib/systemd/system/sextant.service"
install -D -m 0644 "$HERE/sextant.toml" "$STAGE/etc/sextant/sextant.toml"
install -D -m 0644 "$HERE/../../README.md" "$STAGE/usr/share/doc/sextant/README.md"
install -d -m 0755 "$STAGE/DEBIAN"
SIZE="$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)"
cat > "$STAGE/DEBIAN/control" <<CONTROL
Package: sextant
Version: $VERSION
Architecture: $ARCH
Maintainer: Sextant developers <sextant@localhost>
Installed-Size: $SIZE
Depends: libc6 (>= 2.34), libgcc-s1, ca-certificates, passwd, util-linux
Section: science
Priority: optional
Description: self-hosted model intelligence
 Sextant evaluates machine-learning models on their owner's data, on their owner's
 machines: predictions and their quality, and exact Shapley values of every feature
 for every prediction (TreeSHAP). One binary: the CLI, the services (a systemd unit
 running them on embedded SQLite and local files), and the analyzers they launch.
CONTROL
echo "/etc/sextant/sextant.toml" > "$STAGE/DEBIAN/conffiles"
cat > "$STAGE/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    if ! getent passwd sextant >/dev/null; then
        useradd --system --user-group --home-dir /var/lib/sextant --no-create-home \
            --shell /usr/sbin/nologin --comment "Sextant service" sextant
    fi
    install -d -m 0750 -o sextant -g sextant /var/lib/sextant
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload
        systemctl enable --now sextant.service || true
    fi
fi
POSTINST
cat > "$STAGE/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
    systemctl disable --now sextant.service || true
fi
PRERM
cat > "$STAGE/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
# The data in /var/lib/sextant and the user stay, even on purge: remove them by hand.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
fi
POSTRM
chmod 0755 "$STAGE/DEBIAN/postinst" "$STAGE/DEBIAN/prerm" "$STAGE/DEBIAN/postrm"
dpkg-deb --root-owner-group -Zgzip -z1 --build "$STAGE" "$OUT" >/dev/null
echo "$OUT"
