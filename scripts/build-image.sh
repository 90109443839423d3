#!/usr/bin/env bash
# Builds the consul-ecs container image with podman (no Docker daemon, no base
# image) from image/Containerfile and a staged root file system.
#
#   scripts/build-image.sh [--binary PATH] [--tag REF]
#
# --binary: the static consul-ecs (default build/consul-ecs; must be statically
# linked). The image is tagged $IMAGE_REF (see image/image.env) and
# localhost/consul-ecs:dev, or only --tag's REF when given (a trial build
# leaves the shared tags alone). The last stdout line is the image reference.
# Podman settings come from image/containers.conf (CONTAINERS_CONF).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../image/image.env
source "$ROOT/image/image.env"
BINARY="$ROOT/build/consul-ecs"
TAG="$IMAGE_REF"
EXTRA_TAGS=(-t localhost/consul-ecs:dev)
while (($#)); do
  case "$1" in
    --binary) BINARY="$2"; shift ;;
    --tag) TAG="$2"; EXTRA_TAGS=(); shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
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

# iptables for the transparent proxy (mesh-init runs iptables-save -t nat and
# iptables-restore --noflush, src/tproxy/apply.cpp): Debian's dynamically
# linked xtables multi-binaries with exactly the shared libraries ldd lists
# and the loader, plus the IPv4 extensions (dlopen'ed from XTABLES_LIBDIR).
# iptables/-save/-restore are the nft backend, as in Debian and Alpine (the
# reference image); the -legacy names are there for hosts still on legacy.
XT_BINS=(/usr/sbin/xtables-nft-multi /usr/sbin/xtables-legacy-multi)
XT_EXT=/usr/lib/x86_64-linux-gnu/xtables
for f in "${XT_BINS[@]}" "$XT_EXT/libxt_owner.so"; do
  [[ -f "$f" ]] || { say "missing $f (scripts/setup.sh installs iptables)"; exit 1; }
done
LIBDIR="$R/usr/lib/x86_64-linux-gnu"
mkdir -p "$R/usr/sbin" "$LIBDIR/xtables" "$R/lib64" "$R/etc" "$R/usr/share/doc"
for f in "${XT_BINS[@]}"; do cp "$f" "$R/usr/sbin/"; done
for name in iptables iptables-save iptables-restore iptables-nft iptables-nft-save iptables-nft-restore; do
  ln -s xtables-nft-multi "$R/usr/sbin/$name"
done
for name in iptables-legacy iptables-legacy-save iptables-legacy-restore; do
  ln -s xtables-legacy-multi "$R/usr/sbin/$name"
done
# Extensions that need more than libxtables and libc (connlabel: conntrack
# libraries; RATEEST, statistic: libm) are left out: the rules never use them.
for f in "$XT_EXT"/libxt_*.so "$XT_EXT"/libipt_*.so; do
  case "$(basename "$f")" in libxt_connlabel.so|libxt_RATEEST.so|libxt_statistic.so) continue ;; esac
  cp -P "$f" "$LIBDIR/xtables/"
done
# Shared libraries by their soname (ldd resolves the links), the loader at
# the path the binaries' PT_INTERP names.
ldd "${XT_BINS[@]}" "$LIBDIR"/xtables/*.so 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | sort -u |
  while read -r soname path; do cp -L "$path" "$LIBDIR/$soname"; done
LOADER=/lib64/ld-linux-x86-64.so.2
cp -L "$LOADER" "$LIBDIR/ld-linux-x86-64.so.2"
ln -s ../usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$R$LOADER"
[[ -f /etc/protocols ]] && cp /etc/protocols "$R/etc/protocols"
# GPL: the copyright files of what we copied from Debian.
for pkg in iptables libxtables12 libip4tc2 libip6tc2 libnftnl11 libmnl0 libc6; do
  if [[ -f "/usr/share/doc/$pkg/copyright" ]]; then
    mkdir -p "$R/usr/share/doc/$pkg" && cp "/usr/share/doc/$pkg/copyright" "$R/usr/share/doc/$pkg/"
  fi
done
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
  -t "$TAG" "${EXTRA_TAGS[@]}" "$CTX" >&2
size=$(podman image inspect --format '{{.Size}}' "$TAG")
say "image size: $size bytes ($(( size / 1024 )) KiB)"
echo "$TAG"
