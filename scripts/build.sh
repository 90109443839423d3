#!/usr/bin/env bash
# Builds what ships into build/: consul-ecs in Release (-O3, warnings as
# errors), fully static against the cached static libcurl
# (scripts/build-static-deps.sh), plus the unit tests.
#   scripts/build.sh [extra cmake -D options]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
CURL_PREFIX="$(scripts/build-static-deps.sh | tail -n 1)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCONSUL_ECS_STATIC=ON \
  -DCONSUL_ECS_CURL_PREFIX="$CURL_PREFIX" "$@"
cmake --build build -j "$JOBS"
if ! file build/consul-ecs | grep -q 'statically linked'; then
  echo "build.sh: build/consul-ecs is not statically linked" >&2
  exit 1
fi
