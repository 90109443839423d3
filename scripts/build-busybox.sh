#!/usr/bin/env bash
# Builds the image's /bin/busybox for one architecture from Debian 12's
# busybox source package (with Debian's patches), static, with ash as `sh`
# and no other applet: the official task definitions run only `CMD-SHELL`
# health checks (and ECS Exec opens /bin/sh). Debian's busybox-static has
# some 300 applets, all reachable from its sh even without links
# (FEATURE_SH_STANDALONE); this one has none of them. ash's builtins stay:
# echo, printf, test/[, read, command, type, kill, getopts, ulimit, cd, ...
#
#   scripts/build-busybox.sh [--arch amd64|arm64]
#
# Cached at $CONSUL_ECS_CACHE/busybox-<arch>-<recipe>-<debian version>/
# (busybox, .config, copyright, versions.env); the last stdout line is that folder.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${CONSUL_ECS_CACHE:-$HOME/.cache/consul-ecs-cpp}"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
ARCH=amd64
while (($#)); do
  case "$1" in
    --arch) ARCH="${2:-}"; shift ;;
    --arch=*) ARCH="${1#--arch=}" ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "build-busybox: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
# shellcheck source=arch.sh
source "$ROOT/scripts/arch.sh"
arch_select "$ARCH" build-busybox || exit 2
say() { echo "build-busybox: $*" >&2; }
# The recipe is the files' contents (not their paths: every checkout shares the cache).
RECIPE="$(cat "${BASH_SOURCE[0]}" "$ROOT/scripts/arch.sh" | sha256sum | cut -c1-10)"
cached=$(ls -d "$CACHE"/busybox-"$ARCH"-"$RECIPE"-*/.complete 2>/dev/null | sort -V | tail -n 1 || true)
if [[ -n "$cached" ]]; then dirname "$cached"; exit 0; fi

APT_DIR="$CACHE/apt-src"   # the source index scripts/build-static-deps.sh keeps
mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
cat >"$APT_DIR/sources.list" <<'EOF'
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main
EOF
APT_OPTS=(-o "Dir::Etc::SourceList=$APT_DIR/sources.list" -o "Dir::Etc::SourceParts=/nonexistent"
          -o "Dir::State::Lists=$APT_DIR/lists" -o "Dir::Cache=$APT_DIR/cache" -o "APT::Sandbox::User=root")
SRC="$CACHE/static-deps-src"
mkdir -p "$SRC"
exec 9>"$APT_DIR/.lock"
flock 9
apt-get "${APT_OPTS[@]}" -qq update >&2
DEB_VERSION=
for v in $(apt-cache "${APT_OPTS[@]}" showsrc busybox 2>/dev/null | awk '$1 == "Version:" {print $2}' | sort -V -r); do
  if (cd "$SRC" && apt-get "${APT_OPTS[@]}" -qq source --download-only "busybox=$v" >/dev/null 2>&1); then
    DEB_VERSION="$v"; break
  fi
  say "busybox $v: the archive does not serve its sources; trying the previous revision"
done
flock -u 9
[[ -n "$DEB_VERSION" ]] || { say "the archive serves no busybox source package"; exit 1; }
OUT="$CACHE/busybox-$ARCH-$RECIPE-$DEB_VERSION"
UPSTREAM="${DEB_VERSION#*:}"; UPSTREAM="${UPSTREAM%-*}"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/busybox.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
LOG="$WORK/build.log"
say "building busybox $DEB_VERSION (ash only) for $ARCH"
set +e
(
  set -ex
  cd "$WORK"
  mkdir src && tar -xf "$SRC"/busybox_"$UPSTREAM".orig.tar.* -C src --strip-components=1
  tar -xJf "$SRC"/busybox_"${DEB_VERSION#*:}".debian.tar.xz -C src
  cd src
  if [[ -f debian/patches/series ]]; then
    while read -r p _; do
      [[ -z "$p" || "$p" == \#* ]] && continue
      patch -p1 --quiet --forward <"debian/patches/$p"
    done <debian/patches/series
  fi
  make -s allnoconfig
  # ash as sh, static, and the builtins scripts and health checks use.
  enable() {
    for opt in "$@"; do sed -i "s/^# CONFIG_$opt is not set$/CONFIG_$opt=y/" .config; done
    (yes "" || true) | make -s oldconfig >/dev/null
  }
  # Twice: options that exist only once ASH is on appear after the first pass.
  OPTS=(STATIC BUSYBOX ASH SH_IS_ASH BASH_IS_NONE ASH_OPTIMIZE_FOR_SIZE ASH_INTERNAL_GLOB ASH_BASH_COMPAT \
             ASH_ECHO ASH_PRINTF ASH_TEST ASH_GETOPTS ASH_CMDCMD ASH_ALIAS ASH_EXPAND_PRMT \
             FEATURE_SH_MATH FEATURE_SH_MATH_64 FEATURE_SH_EXTRA_QUIET FEATURE_EDITING LONG_OPTS)
  enable "${OPTS[@]}"
  enable "${OPTS[@]}"
  make -s -j "$JOBS" CROSS_COMPILE="$ARCH_CROSS_PREFIX" CONFIG_EXTRA_CFLAGS="-Os" busybox
)  >"$LOG" 2>&1
status=$?
set -e
if ((status != 0)); then
  say "build failed; last lines of its log ($LOG, kept):"; tail -n 30 "$LOG" >&2; trap - EXIT; exit 1
fi
rm -rf "$OUT" && mkdir -p "$OUT"
"$ARCH_STRIP" --strip-all -o "$OUT/busybox" "$WORK/src/busybox"
arch_check_binary "$OUT/busybox" build-busybox
applets="$(arch_run "$OUT/busybox" --list 2>/dev/null | tr '\n' ' ')"
[[ "$applets" == "sh " || "$applets" == "ash sh " || "$applets" == "sh ash " ]] ||
  { say "busybox has applets besides sh: $applets"; exit 1; }
cp "$WORK/src/.config" "$OUT/config"
cp "$WORK/src/debian/copyright" "$OUT/copyright"
cat >"$OUT/versions.env" <<EOF
ARCH=$ARCH
BUSYBOX_DEBIAN_VERSION=$DEB_VERSION
EOF
echo "$RECIPE" >"$OUT/.complete"
echo "$OUT"
