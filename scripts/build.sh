#!/usr/bin/env bash
# Builds what ships: consul-ecs in Release (warnings as errors), fully static
# against the cached static OpenSSL + libcurl of that architecture
# (scripts/build-static-deps.sh), plus the unit tests.
#   scripts/build.sh [--arch amd64|arm64] [--target NAME] [extra cmake -D options]
# amd64 (the default) builds into build/, arm64 is cross-built with Debian's
# cross toolchain into build-arm64/ (its unit tests run under qemu-user-static
# through ctest). The binary must be a static ELF of the requested
# architecture, else the build fails naming the file.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
ARCH=amd64
CMAKE_EXTRA=()
TARGET=()
while (($#)); do
  case "$1" in
    --arch) ARCH="${2:-}"; shift ;;
    --arch=*) ARCH="${1#--arch=}" ;;
    --target) TARGET=(--target "${2:-}"); shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) CMAKE_EXTRA+=("$1") ;;
  esac
  shift
done
# shellcheck source=arch.sh
source "$ROOT/scripts/arch.sh"
arch_select "$ARCH" build.sh || exit 2
if ! command -v "$ARCH_CXX" >/dev/null; then
  echo "build.sh: no $ARCH_CXX (scripts/setup.sh installs the cross toolchain)" >&2; exit 1
fi
BUILD_DIR="${CONSUL_ECS_BUILD_DIR:-build}"
[[ "$ARCH" == amd64 ]] || BUILD_DIR="${CONSUL_ECS_BUILD_DIR:-build-$ARCH}"
DEPS_PREFIX="$(scripts/build-static-deps.sh --arch "$ARCH" | tail -n 1)"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCONSUL_ECS_STATIC=ON \
  -DCONSUL_ECS_CURL_PREFIX="$DEPS_PREFIX" "${ARCH_CMAKE_ARGS[@]}" "${CMAKE_EXTRA[@]}"
cmake --build "$BUILD_DIR" -j "$JOBS" "${TARGET[@]}"
arch_check_binary "$BUILD_DIR/consul-ecs" build.sh

# What is linked into the binary (scripts/binary-components.py).
python3 scripts/binary-components.py "$ARCH" "$DEPS_PREFIX" "$BUILD_DIR/consul-ecs" "$(scripts/version.sh)" \
  >"$BUILD_DIR/consul-ecs.components.json.tmp"
mv "$BUILD_DIR/consul-ecs.components.json.tmp" "$BUILD_DIR/consul-ecs.components.json"
