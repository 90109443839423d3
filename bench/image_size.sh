#!/usr/bin/env bash
# Size of what ships: the image (uncompressed and as a compressed layer
# archive), the stripped static binary, and each file of the image's root.
# Needs `make image`. Prints a Markdown table.
#   bench/image_size.sh [IMAGE]   (default: $IMAGE_REF of image/image.env)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/image/image.env"
IMAGE_REF="${1:-$IMAGE_REF}"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$ROOT/image/containers.conf}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
podman image exists "$IMAGE_REF" || { echo "image_size: $IMAGE_REF missing: run make image" >&2; exit 1; }
size=$(podman image inspect --format '{{.Size}}' "$IMAGE_REF")
podman save --format oci-archive -o "$tmp/image.tar" "$IMAGE_REF" >/dev/null
gz=$(gzip -9 -c "$tmp/image.tar" | wc -c)
ctr=$(podman create "$IMAGE_REF")
podman export "$ctr" -o "$tmp/rootfs.tar"; podman rm "$ctr" >/dev/null
mkdir "$tmp/rootfs" && tar -xf "$tmp/rootfs.tar" -C "$tmp/rootfs"
echo "| what | bytes |"
echo "| --- | ---: |"
echo "| image, uncompressed (podman image inspect) | $size |"
echo "| image, OCI archive gzip -9 (about what a registry transfers) | $gz |"
for f in bin/consul-ecs usr/bin/curl bin/busybox etc/ssl/certs/ca-certificates.crt \
         usr/sbin/xtables-nft-multi usr/sbin/xtables-legacy-multi; do
  echo "| /$f | $(stat -c %s "$tmp/rootfs/$f") |"
done
lib=usr/lib/x86_64-linux-gnu
echo "| /$lib/*.so* (iptables' shared libraries, glibc, the loader) | $(find "$tmp/rootfs/$lib" -maxdepth 1 -type f -printf '%s\n' | awk '{s+=$1} END {print s}') |"
echo "| /$lib/xtables (iptables' IPv4 extensions) | $(find "$tmp/rootfs/$lib/xtables" -type f -printf '%s\n' | awk '{s+=$1} END {print s}') |"
