#!/usr/bin/env bash
# The single test command: setup, build, unit tests (plain and sanitizer
# builds), a short libFuzzer run of each fuzz/ target, then the end-to-end
# suite against build/consul-ecs.
#
#   scripts/test.sh                 everything
#   scripts/test.sh --no-asan       skip the sanitizer build and the fuzzing
#   scripts/test.sh --e2e-only      only the e2e suite (binary from $CONSUL_ECS_BIN
#                                   or build/consul-ecs, which must exist)
#   scripts/test.sh -- <pytest args>   extra arguments for pytest (e.g. -k login)
#
# Every phase runs even if an earlier test phase failed (a failed build stops
# what depends on it); the exit status is non-zero if anything failed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CONSUL_ECS_CACHE="${CONSUL_ECS_CACHE:-$HOME/.cache/consul-ecs-cpp}"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
ASAN=1
E2E_ONLY=0
PYTEST_ARGS=()
while (($#)); do
  case "$1" in
    --no-asan) ASAN=0 ;;
    --e2e-only) E2E_ONLY=1 ;;
    --) shift; PYTEST_ARGS=("$@"); break ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

failures=()
phase() { echo; echo "==== $* ===="; }

phase "setup"
if ! scripts/setup.sh; then
  echo "test.sh: setup failed" >&2
  exit 1
fi
VENV="$ROOT/.venv"  # scripts/setup.sh: the test bed package + the pinned packages
CONSUL_BIN="$(scripts/build-consul.sh | tail -n 1)" || { echo "test.sh: no consul" >&2; exit 1; }
export CONSUL_BIN

build() {  # build <dir> <cmake args...>
  local dir="$1"; shift
  cmake -S . -B "$dir" -G Ninja "$@" && cmake --build "$dir" -j "$JOBS"
}

if [[ $E2E_ONLY -eq 0 ]]; then
  phase "build (build/: Release, static; scripts/build.sh)"
  if ! scripts/build.sh; then
    echo "test.sh: build failed" >&2
    exit 1
  fi

  phase "image (scripts/build-image.sh)"
  scripts/build-image.sh >/dev/null || failures+=("image build")

  phase "unit tests (build/)"
  ctest --test-dir build --output-on-failure -j "$JOBS" || failures+=("unit tests")

  if [[ $ASAN -eq 1 ]]; then
    phase "sanitizer build (build-asan/)"
    if build build-asan -DCMAKE_BUILD_TYPE=Debug -DCONSUL_ECS_SANITIZE=ON; then
      phase "unit tests (build-asan/, ASan+UBSan)"
      ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:${ASAN_OPTIONS:-}" \
      UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}" \
        ctest --test-dir build-asan --output-on-failure -j "$JOBS" || failures+=("sanitizer unit tests")
    else
      failures+=("sanitizer build")
    fi
  fi

  if [[ $ASAN -eq 1 ]]; then
    phase "fuzzing (build-fuzz/: clang, libFuzzer + ASan + UBSan, ${FUZZ_SECONDS:-20} s per target)"
    FUZZ_SECONDS="${FUZZ_SECONDS:-20}" scripts/fuzz.sh || failures+=("fuzzing")
  fi
fi

phase "end-to-end tests (tests/e2e)"
export CONSUL_ECS_BIN="${CONSUL_ECS_BIN:-$ROOT/build/consul-ecs}"
echo "binary under test: $CONSUL_ECS_BIN; consul: $CONSUL_BIN"
(cd tests/e2e && "$VENV/bin/python" -m pytest -p no:cacheprovider "${PYTEST_ARGS[@]}") \
  || failures+=("e2e tests")

echo
if ((${#failures[@]})); then
  echo "test.sh: FAILED: ${failures[*]}"
  exit 1
fi
echo "test.sh: all passed"
