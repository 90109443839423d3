#!/usr/bin/env bash
# Size of what ships, per architecture: the image (uncompressed and as a
# compressed layer archive), the stripped static binary, and what else the
# image's root holds. Needs the images (make image-all, or
# scripts/build-image.sh --arch <arch>). Prints one Markdown table with a
# column per architecture.
#   bench/image_size.sh [--arch amd64|arm64]...   (default: both)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/image/image.env"
VERSION="$("$ROOT/scripts/version.sh")"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$ROOT/image/containers.conf}"
ARCHES=()
while (($#)); do
  case "$1" in
    --arch) ARCHES+=("$2"); shift ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "image_size: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
((${#ARCHES[@]})) || ARCHES=(amd64 arm64)
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT

declare -A V
rows=(image gzip consul-ecs busybox ca xtables libs ext docs total_files)
for arch in "${ARCHES[@]}"; do
  case "$arch" in amd64) triplet=x86_64-linux-gnu ;; arm64) triplet=aarch64-linux-gnu ;;
    *) echo "image_size: unknown architecture '$arch'; supported: amd64, arm64" >&2; exit 2 ;; esac
  ref="localhost/consul-ecs:$VERSION-$arch"
  podman image exists "$ref" || { echo "image_size: $ref missing: run scripts/build-image.sh --arch $arch" >&2; exit 1; }
  V[image,$arch]=$(podman image inspect --format '{{.Size}}' "$ref")
  podman save --format oci-archive -o "$tmp/$arch.tar" "$ref" >/dev/null
  V[gzip,$arch]=$(gzip -9 -c "$tmp/$arch.tar" | wc -c)
  ctr=$(podman create --platform "linux/$arch" "$ref")
  mkdir "$tmp/$arch" && podman export "$ctr" | tar -x -C "$tmp/$arch"; podman rm "$ctr" >/dev/null
  r="$tmp/$arch"
  sum() { find "$@" -type f -printf '%s\n' 2>/dev/null | awk '{s+=$1} END {print s+0}'; }
  V[consul-ecs,$arch]=$(stat -c %s "$r/bin/consul-ecs")
  V[busybox,$arch]=$(stat -c %s "$r/bin/busybox")
  V[ca,$arch]=$(stat -c %s "$r/etc/ssl/certs/ca-certificates.crt")
  V[xtables,$arch]=$(sum "$r/usr/sbin")
  V[libs,$arch]=$(( $(sum "$r/lib/$triplet" -maxdepth 1) + $(sum "$r/usr/lib/$triplet" -maxdepth 1) ))
  V[ext,$arch]=$(sum "$r/usr/lib/$triplet/xtables")
  V[docs,$arch]=$(( $(sum "$r/usr/share/doc") + $(sum "$r/var/lib/dpkg") ))
  V[total_files,$arch]=$(sum "$r")
done
label() {
  case "$1" in
    image) echo "image, uncompressed (podman image inspect)" ;;
    gzip) echo "image, OCI archive gzip -9 (about what a registry transfers)" ;;
    consul-ecs) echo "/bin/consul-ecs (static, stripped; also /usr/bin/curl)" ;;
    busybox) echo "/bin/busybox (busybox-static; only sh linked)" ;;
    ca) echo "/etc/ssl/certs/ca-certificates.crt" ;;
    xtables) echo "/usr/sbin (iptables' xtables-nft-multi, xtables-legacy-multi)" ;;
    libs) echo "iptables' shared libraries, glibc and the loader" ;;
    ext) echo "iptables' IPv4 extensions (xtables/)" ;;
    docs) echo "licenses, dpkg status.d, components.json" ;;
    total_files) echo "all files of the root file system" ;;
  esac
}
header="| what |"; sep="| --- |"
for arch in "${ARCHES[@]}"; do header+=" linux/$arch bytes |"; sep+=" ---: |"; done
echo "$header"; echo "$sep"
for row in "${rows[@]}"; do
  line="| $(label "$row") |"
  for arch in "${ARCHES[@]}"; do line+=" $(printf "%'d" "${V[$row,$arch]}") |"; done
  echo "$line"
done
