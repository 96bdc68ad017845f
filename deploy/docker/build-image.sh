#!/usr/bin/env bash
# Builds the sextant image from a binary built on this machine:
#   deploy/docker/build-image.sh BINARY TAG [TAG …]
# The root filesystem holds the binary, the shared libraries `ldd` lists for it (glibc, libm,
# libgcc_s and the loader), the CA certificates, an /etc/passwd naming the unprivileged user
# 10001, /tmp, and /data.
set -euo pipefail
binary="$1"; shift
[ "$#" -ge 1 ] || { echo "usage: $0 BINARY TAG [TAG …]" >&2; exit 2; }
here="$(cd "$(dirname "$0")" && pwd)"
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
root="$context/rootfs"
mkdir -p "$root/usr/local/bin" "$root/etc" "$root/tmp" "$root/data"
cp "$binary" "$root/usr/local/bin/sextant"
# Every library the binary loads, at the path the loader looks for it.
ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\/.*ld-linux/ { print $1 }' | while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done
# The CA bundle, for HTTPS to S3 and the Kubernetes API (rustls reads the system's roots).
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    mkdir -p "$root/etc/ssl/certs"
    cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
else
    echo "warning: /etc/ssl/certs/ca-certificates.crt not found (install ca-certificates): the image will not verify HTTPS servers" >&2
fi
printf 'root:x:0:0:root:/root:/sbin/nologin\nsextant:x:10001:10001:sextant:/data:/sbin/nologin\n' > "$root/etc/passwd"
printf 'root:x:0:\nsextant:x:10001:\n' > "$root/etc/group"
chmod 1777 "$root/tmp"
# COPY makes everything root-owned; sticky world-writable dirs let user 10001 write here.
chmod 1777 "$root/data"
cp "$here/Dockerfile" "$context/Dockerfile"
tags=()
for tag in "$@"; do tags+=(-t "$tag"); done
DOCKER_BUILDKIT=0 docker build -q "${tags[@]}" "$context" >/dev/null
echo "built ${*}: $(docker image inspect --format '{{.Size}}' "$1" | awk '{ printf "%.1f MB", $1 / 1e6 }')"
