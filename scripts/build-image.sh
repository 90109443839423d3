#!/usr/bin/env bash
# Builds the consul-ecs container image of one architecture with podman (no
# Docker daemon, no base image) from image/Containerfile and a root file
# system staged from our static binary and Debian 12's packages of that
# architecture; or, with --manifest, both architectures and the manifest list.
#
#   scripts/build-image.sh [--arch amd64|arm64] [--binary PATH] [--tag REF]
#   scripts/build-image.sh --manifest [--tag REF]
#
# --binary: the static consul-ecs of that architecture (default build/consul-ecs
# for amd64, build-arm64/consul-ecs for arm64). Tags: amd64 is tagged $IMAGE_REF
# (image/image.env), localhost/consul-ecs:dev and localhost/consul-ecs:<version>-amd64;
# arm64 localhost/consul-ecs:<version>-arm64; only --tag's REF when given (a
# trial build leaves the shared tags alone). --manifest builds both and the
# manifest list localhost/consul-ecs:<version>-list (or REF), which
# `podman manifest push --all <list> docker://$IMAGE_REF` publishes.
# The last stdout line is the image (or list) reference.
#
# What goes in (image/Containerfile lists it): the binary (also answering as
# /usr/bin/curl), busybox's `sh`, Debian's iptables with the libraries it
# needs, the CA bundle; for every Debian package a file was taken from, its
# /var/lib/dpkg/status.d/<package> entry (+ .md5sums of the files taken) and
# its copyright file, so image scanners identify each one; LICENSE and the
# licenses of what is linked into the binary under /usr/share/doc/consul-ecs.
# The .debs are downloaded with apt-get (signed index) and cached per version
# under $CONSUL_ECS_CACHE/debs/<arch>/. Every ELF file must be of the image's
# architecture, else the build fails naming it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../image/image.env
source "$ROOT/image/image.env"
CACHE="${CONSUL_ECS_CACHE:-$HOME/.cache/consul-ecs-cpp}"
VERSION="$("$ROOT/scripts/version.sh")"
ARCH=amd64
BINARY=
TAG=
MANIFEST=0
while (($#)); do
  case "$1" in
    --arch) ARCH="${2:-}"; shift ;;
    --arch=*) ARCH="${1#--arch=}" ;;
    --binary) BINARY="$2"; shift ;;
    --tag) TAG="$2"; shift ;;
    --manifest) MANIFEST=1 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "build-image: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
export CONTAINERS_CONF="${CONTAINERS_CONF:-$ROOT/image/containers.conf}"
say() { echo "build-image: $*" >&2; }

if [[ $MANIFEST -eq 1 ]]; then
  LIST="${TAG:-localhost/consul-ecs:$VERSION-list}"
  refs=()
  # Only the per-architecture names: `make image`'s shared tags (which the
  # container tests use) are left as they are.
  for arch in amd64 arm64; do
    refs+=("$("$0" --arch "$arch" --tag "localhost/consul-ecs:$VERSION-$arch" | tail -n 1)")
  done
  podman manifest exists "$LIST" 2>/dev/null && podman manifest rm "$LIST" >/dev/null
  podman image exists "$LIST" 2>/dev/null && podman rmi "$LIST" >/dev/null
  podman manifest create "$LIST" >/dev/null
  for ref in "${refs[@]}"; do podman manifest add "$LIST" "containers-storage:$ref" >/dev/null; done
  say "manifest list $LIST: ${refs[*]}"
  echo "$LIST"
  exit 0
fi

# shellcheck source=arch.sh
source "$ROOT/scripts/arch.sh"
arch_select "$ARCH" build-image || exit 2
if [[ -z "$BINARY" ]]; then
  BINARY="$ROOT/build/consul-ecs"; [[ $ARCH == amd64 ]] || BINARY="$ROOT/build-$ARCH/consul-ecs"
fi
if [[ -n "$TAG" ]]; then
  TAGS=(-t "$TAG")
elif [[ $ARCH == amd64 ]]; then
  TAG="$IMAGE_REF"; TAGS=(-t "$TAG" -t localhost/consul-ecs:dev -t "localhost/consul-ecs:$VERSION-$ARCH")
else
  TAG="localhost/consul-ecs:$VERSION-$ARCH"; TAGS=(-t "$TAG")
fi

[[ -x "$BINARY" ]] || { say "no binary at $BINARY (run scripts/build.sh --arch $ARCH)"; exit 1; }
arch_check_binary "$BINARY" build-image || exit 1
COMPONENTS="$(dirname "$BINARY")/consul-ecs.components.json"
[[ -f "$COMPONENTS" ]] || { say "no $COMPONENTS next to the binary (scripts/build.sh writes it)"; exit 1; }
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
[[ -f "$CA_BUNDLE" ]] || { say "missing $CA_BUNDLE (scripts/setup.sh installs ca-certificates)"; exit 1; }

# ---- Debian packages of this architecture --------------------------------------
# iptables and the libraries its two multi-binaries and extensions need,
# found by their DT_NEEDED (glibc's libc and loader come from libc6).
# busybox is built from Debian's source package with ash only
# (scripts/build-busybox.sh).
DEBS=(iptables libxtables12 libip4tc2 libip6tc2 libnftnl11 libmnl0 libc6)
BUSYBOX_DIR="$("$ROOT/scripts/build-busybox.sh" --arch "$ARCH" | tail -n 1)"
DEB_DIR="$CACHE/debs/$ARCH"
mkdir -p "$DEB_DIR"
deb_file() {  # <package>: the cached .deb of the candidate version, downloaded if missing
  local pkg="$1" version file
  version="$(apt-cache policy "$pkg:$ARCH" 2>/dev/null | awk '$1 == "Candidate:" {print $2}')"
  if [[ -z "$version" || "$version" == "(none)" ]]; then
    say "apt knows no $pkg:$ARCH (scripts/setup.sh adds the $ARCH architecture and runs apt-get update)"; return 1
  fi
  file="$DEB_DIR/${pkg}_${version//:/%3a}_$ARCH.deb"
  if [[ ! -f "$file" ]]; then
    (cd "$DEB_DIR" && apt-get -o APT::Sandbox::User=root download -qq "$pkg:$ARCH=$version" >&2) || { say "cannot download $pkg:$ARCH=$version"; return 1; }
  fi
  [[ -f "$file" ]] || { say "apt-get download did not write $file"; return 1; }
  echo "$file"
}

CTX="$(mktemp -d "${TMPDIR:-/tmp}/consul-ecs-image.XXXXXX")"
trap 'rm -rf "$CTX"' EXIT
R="$CTX/rootfs"
PKGS="$CTX/pkgs"      # every package unpacked into one tree: where files are taken from
OWNERS="$CTX/owners"  # "<path> <package>" for every file of those packages
mkdir -p "$R" "$PKGS" "$CTX/consul" "$CTX/control"
declare -A DEB_OF
for pkg in "${DEBS[@]}"; do
  DEB_OF[$pkg]="$(deb_file "$pkg")" || exit 1
  dpkg-deb -x "${DEB_OF[$pkg]}" "$PKGS"
  mkdir -p "$CTX/control/$pkg" && dpkg-deb -e "${DEB_OF[$pkg]}" "$CTX/control/$pkg"
  dpkg-deb -c "${DEB_OF[$pkg]}" | awk -v p="$pkg" '{sub(/^\./, "", $6); print $6, p}' >>"$OWNERS"
done

# take <path>: copies /path from the unpacked packages into the image, with
# the symbolic links on the way and the file they name.
take() {
  local path="$1" target
  [[ -e "$R$path" || -L "$R$path" ]] && return 0
  if [[ -L "$PKGS$path" ]]; then
    mkdir -p "$(dirname "$R$path")" && cp -P "$PKGS$path" "$R$path"
    target="$(readlink "$PKGS$path")"
    [[ "$target" == /* ]] || target="$(dirname "$path")/$target"
    take "$(realpath -m --no-symlinks "$target")"
  elif [[ -f "$PKGS$path" ]]; then
    mkdir -p "$(dirname "$R$path")" && cp -p "$PKGS$path" "$R$path"
  else
    say "no $path in ${DEBS[*]} ($ARCH)"; return 1
  fi
}
# needs <elf>: the DT_NEEDED libraries of an ELF file of the image, taken
# from the packages' library folders (recursively).
needs() {
  local lib dir found
  for lib in $(readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    found=
    for dir in /lib/$ARCH_TRIPLET /usr/lib/$ARCH_TRIPLET; do
      if [[ -e "$PKGS$dir/$lib" ]]; then
        if [[ ! -e "$R$dir/$lib" ]]; then take "$dir/$lib"; needs "$(realpath "$R$dir/$lib")"; fi
        found=1; break
      fi
    done
    [[ -n "$found" ]] || { say "$1 needs $lib, which none of ${DEBS[*]} ($ARCH) has"; return 1; }
  done
}

# The binary, and curl as the binary (the health check `curl -f <url>`).
mkdir -p "$R/bin" "$R/usr/bin" "$R/usr/sbin" "$R/etc/ssl/certs" "$R/tmp"
chmod 1777 "$R/tmp"
"$ARCH_STRIP" --strip-all -o "$R/bin/consul-ecs" "$BINARY"
ln -s ../../bin/consul-ecs "$R/usr/bin/curl"
# busybox: only `sh` (CMD-SHELL health checks and ECS Exec start /bin/sh; its
# builtins cover `command`, `echo`, `test`, `read`); it has no other applet.
cp "$BUSYBOX_DIR/busybox" "$R/bin/busybox"
ln -s busybox "$R/bin/sh"
cp "$CA_BUNDLE" "$R/etc/ssl/certs/ca-certificates.crt"

# iptables for the transparent proxy (mesh-init runs iptables-save -t nat and
# iptables-restore --noflush, src/tproxy/apply.cpp): the xtables multi-binaries
# with the IPv4 extensions (dlopen'ed from XTABLES_LIBDIR). iptables,
# -save, -restore are the nft backend, as in Debian and Alpine (the
# reference image); the -legacy names are there for hosts still on legacy.
XT_EXT="/usr/lib/$ARCH_TRIPLET/xtables"
take /usr/sbin/xtables-nft-multi
take /usr/sbin/xtables-legacy-multi
for name in iptables iptables-save iptables-restore iptables-nft iptables-nft-save iptables-nft-restore; do
  ln -s xtables-nft-multi "$R/usr/sbin/$name"
done
for name in iptables-legacy iptables-legacy-save iptables-legacy-restore; do
  ln -s xtables-legacy-multi "$R/usr/sbin/$name"
done
# The extensions (dlopen'ed by name): those our rules use (tcp, udp, owner,
# REDIRECT and DNAT from NAT, RETURN from standard) and those a nat table of
# a container host commonly holds, so iptables-save can print rules that are
# not ours (comment, addrtype, mark, MARK, conntrack/state, multiport, icmp,
# SNAT/MASQUERADE, NETMAP). Not all 86: on arm64 each is a 64 KiB-aligned
# file, 5.5 MB in all.
for ext in libxt_standard libxt_tcp libxt_udp libxt_owner libxt_NAT libxt_DNAT libxt_SNAT libxt_REDIRECT \
           libxt_MASQUERADE libxt_comment libxt_addrtype libxt_mark libxt_MARK libxt_conntrack libxt_state \
           libxt_multiport libipt_icmp libipt_NETMAP; do
  take "$XT_EXT/$ext.so"
done
while IFS= read -r elf; do needs "$elf"; done < <(find "$R/usr/sbin" "$R$XT_EXT" -type f)
# The loader, at the path the binaries' PT_INTERP names.
take "$ARCH_LOADER"
[[ -f /etc/protocols ]] && cp /etc/protocols "$R/etc/protocols"

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
# Scanners (Trivy, Grype) need the distribution to match Debian's advisories.
cat >"$R/etc/os-release" <<'OSREL'
PRETTY_NAME="consul-ecs (Debian GNU/Linux 12 packages)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://github.com/consul-ecs-cpp/consul-ecs"
OSREL

# ---- what scanners read: the package database, distroless style -------------
# One /var/lib/dpkg/status.d/<package> per Debian package a file was taken
# from: its control paragraph as the .deb has it (exact version), Status
# installed; <package>.md5sums: the files of it that are in the image.
STATUS="$R/var/lib/dpkg/status.d"
mkdir -p "$STATUS"
declare -A USED
while IFS= read -r path; do
  pkg="$(awk -v f="$path" '$1 == f {print $2; exit}' "$OWNERS")"
  [[ -n "$pkg" ]] && USED[$pkg]=1
done < <(cd "$R" && find . \( -type f -o -type l \) -printf '/%P\n')
for pkg in "${!USED[@]}"; do
  { sed -n '1p' "$CTX/control/$pkg/control"; echo "Status: install ok installed"; sed -n '2,$p' "$CTX/control/$pkg/control"; } \
    >"$STATUS/$pkg"
  if [[ -f "$CTX/control/$pkg/md5sums" ]]; then
    while read -r sum file; do
      [[ -e "$R/$file" ]] && echo "$sum  $file"
    done <"$CTX/control/$pkg/md5sums" >"$STATUS/$pkg.md5sums"
  fi
  mkdir -p "$R/usr/share/doc/$pkg"
  cp "$PKGS/usr/share/doc/$pkg/copyright" "$R/usr/share/doc/$pkg/copyright"
done
# busybox: Debian's source package and version (what advisories are about),
# built here with ash only, so the file is ours and its md5sum is of it.
BUSYBOX_VERSION="$(sed -n 's/^BUSYBOX_DEBIAN_VERSION=//p' "$BUSYBOX_DIR/versions.env")"
cat >"$STATUS/busybox-static" <<EOF
Package: busybox-static
Status: install ok installed
Source: busybox
Version: $BUSYBOX_VERSION
Architecture: $ARCH
Maintainer: Debian Install System Team <debian-boot@lists.debian.org>
Consul-Ecs-Built-From: Debian source package busybox $BUSYBOX_VERSION, ash only (scripts/build-busybox.sh)
Description: Standalone rescue shell with tons of builtin utilities
 Built by consul-ecs from Debian's busybox source package with ash as sh
 and no other applet.
EOF
(cd "$R" && md5sum bin/busybox) >"$STATUS/busybox-static.md5sums"
mkdir -p "$R/usr/share/doc/busybox-static" && cp "$BUSYBOX_DIR/copyright" "$R/usr/share/doc/busybox-static/copyright"
# ca-certificates (and netbase's /etc/protocols) are architecture-independent:
# the bundle is the one update-ca-certificates made on this machine from its
# installed package, recorded with that version.
for pkg in ca-certificates netbase; do
  [[ $pkg == netbase && ! -f "$R/etc/protocols" ]] && continue
  dpkg-query -s "$pkg" | grep -v '^Conffiles:\|^ /' >"$STATUS/$pkg"
  mkdir -p "$R/usr/share/doc/$pkg" && cp "/usr/share/doc/$pkg/copyright" "$R/usr/share/doc/$pkg/copyright"
done

# ---- licenses ------------------------------------------------------------------
DOC="$R/usr/share/doc/consul-ecs"
mkdir -p "$DOC"
cp "$ROOT/LICENSE" "$DOC/LICENSE"
cp "$COMPONENTS" "$DOC/components.json"
# The licenses of what is linked into the binary (components.json names them).
python3 - "$COMPONENTS" "$DOC/third-party" <<'PY'
import json, os, shutil, sys
components, out = json.load(open(sys.argv[1])), sys.argv[2]
for c in components["components"]:
    if c.get("copyright_file"):
        os.makedirs(os.path.join(out, c["name"]), exist_ok=True)
        shutil.copy(c["copyright_file"], os.path.join(out, c["name"], "copyright"))
PY

# ---- every ELF of this architecture ----------------------------------------------
while IFS= read -r f; do
  what="$(file -b "$f")"
  case "$what" in
    ELF*) [[ "$what" == *"$ARCH_FILE_WORDS"* ]] || { say "${f#"$R"} is not $ARCH: $what"; exit 1; } ;;
  esac
done < <(find "$R" -type f)

REVISION="$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
say "building $TAG (linux/$ARCH, version $VERSION, revision ${REVISION:0:12})"
podman build --quiet --no-cache --platform "linux/$ARCH" -f "$ROOT/image/Containerfile" \
  --build-arg VERSION="$VERSION" --build-arg REVISION="$REVISION" \
  "${TAGS[@]}" "$CTX" >&2
size=$(podman image inspect --format '{{.Size}}' "$TAG")
say "image size: $size bytes ($(( size / 1024 )) KiB)"
echo "$TAG"
