#!/usr/bin/env bash
# The linux/arm64 phase of make test: cross-builds build-arm64/ (static
# binary + unit tests, scripts/build.sh --arch arm64), runs the unit tests
# under qemu-user-static (ctest; CMake's CROSSCOMPILING_EMULATOR), then the
# arm64 lifecycles against the real Consul (tests/e2e/test_arm64.py).
#   scripts/test-arm64.sh [--no-e2e]
# Needs what scripts/setup.sh installs (cross toolchain, qemu, :arm64 -dev
# packages, the venv, Consul).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CONSUL_ECS_CACHE="${CONSUL_ECS_CACHE:-$HOME/.cache/consul-ecs-cpp}"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
E2E=1
[[ "${1:-}" == "--no-e2e" ]] && E2E=0
failures=()
t0=$SECONDS
if ! scripts/build.sh --arch arm64; then
  echo "test-arm64: arm64 build failed" >&2; exit 1
fi
echo "test-arm64: build $((SECONDS - t0)) s"
t1=$SECONDS
ctest --test-dir build-arm64 --output-on-failure -j "$JOBS" || failures+=("arm64 unit tests (qemu)")
echo "test-arm64: unit tests under qemu $((SECONDS - t1)) s"
if ((E2E)); then
  t2=$SECONDS
  CONSUL_BIN="${CONSUL_BIN:-$(scripts/build-consul.sh | tail -n 1)}"
  export CONSUL_BIN CONSUL_ECS_ARM64_BIN="$ROOT/build-arm64/consul-ecs"
  (cd tests/e2e && "$ROOT/.venv/bin/python" -m pytest -p no:cacheprovider test_arm64.py) \
    || failures+=("arm64 e2e (qemu)")
  echo "test-arm64: e2e under qemu $((SECONDS - t2)) s"
fi
if ((${#failures[@]})); then echo "test-arm64: FAILED: ${failures[*]}" >&2; exit 1; fi
echo "test-arm64: passed in $((SECONDS - t0)) s"
