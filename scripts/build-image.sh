#!/usr/bin/env bash
# Builds the consul-ecs container image with podman (no Docker daemon, no base
# image) from image/Containerfile and a staged root file system.
#
#   scripts/build-image.sh [--binary PATH] [--tag REF]
#
# --binary: the static consul-ecs (default build/consul-ecs; must be statically
# linked). The image is tagged $IMAGE_REF (see image/image.env) and
# localhost/consul-ecs:dev. The last stdout line is the image reference.
# Podman settings come from image/containers.conf (CONTAINERS_CONF).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../image/image.env
source "$ROOT/image/image.env"
BINARY="$ROOT/build/consul-ecs"
TAG="$IMAGE_REF"
while (($#)); do
  case "$1" in
    --binary) BINARY="$2"; shift ;;
    --tag) TAG="$2"; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "build-image: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
export CONTAINERS_CONF="${CONTAINERS_CONF:-$ROOT/image/containers.conf}"
say() { echo "build-image: $*" >&2; }

[[ -x "$BINARY" ]] || { say "no binary at $BINARY (run make build)"; exit 1; }
if ! file -L "$BINARY" | grep -q 'statically linked'; then
  say "$BINARY is not statically linked; the image has no loader or shared libraries"; exit 1
fi
CURL_PREFIX="$("$ROOT/scripts/build-static-deps.sh" | tail -n 1)"
BUSYBOX=/bin/busybox
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
for f in "$BUSYBOX" "$CA_BUNDLE" "$CURL_PREFIX/bin/curl"; do
  [[ -f "$f" ]] || { say "missing $f (scripts/setup.sh installs busybox-static and ca-certificates)"; exit 1; }
done

CTX="$(mktemp -d "${TMPDIR:-/tmp}/consul-ecs-image.XXXXXX")"
trap 'rm -rf "$CTX"' EXIT
R="$CTX/rootfs"
mkdir -p "$R/bin" "$R/usr/bin" "$R/etc/ssl/certs" "$R/tmp" "$CTX/consul"
chmod 1777 "$R/tmp"
strip --strip-all -o "$R/bin/consul-ecs" "$BINARY"
strip --strip-all -o "$R/usr/bin/curl" "$CURL_PREFIX/bin/curl"
cp "$BUSYBOX" "$R/bin/busybox"
# The applets a person debugging a task (ECS Exec) reaches for first.
for applet in sh ls cat env ps grep sed wc head tail sleep kill nc wget vi id mkdir rm cp mv chmod; do
  ln -s busybox "$R/bin/$applet"
done
cp "$CA_BUNDLE" "$R/etc/ssl/certs/ca-certificates.crt"
cat >"$R/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
consul-ecs:x:100:1000:consul-ecs:/consul:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$R/etc/group" <<'GROUP'
root:x:0:
consul-ecs:x:1000:
nogroup:x:65534:
GROUP

VERSION="$(sed -n 's/^project(consul-ecs VERSION \([0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")"
REVISION="$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
say "building $TAG (version $VERSION, revision ${REVISION:0:12})"
podman build --quiet --no-cache -f "$ROOT/image/Containerfile" \
  --build-arg VERSION="$VERSION" --build-arg REVISION="$REVISION" \
  -t "$TAG" -t localhost/consul-ecs:dev "$CTX" >&2
size=$(podman image inspect --format '{{.Size}}' "$TAG")
say "image size: $size bytes ($(( size / 1024 )) KiB)"
echo "$TAG"
