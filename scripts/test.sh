#!/usr/bin/env bash
# The single test command: setup, builds, unit tests (the shipped Release
# build and a clang ASan+UBSan build), a short libFuzzer run of each fuzz/
# target (same sanitizer build), then the end-to-end suite against
# build/consul-ecs. Prints a table of every phase's wall time at the end.
#
#   scripts/test.sh                 everything
#   scripts/test.sh --no-sanitize   skip the sanitizer build, its unit tests and the fuzzing
#   scripts/test.sh --e2e-only      only the e2e suite (binary from $CONSUL_ECS_BIN
#                                   or build/consul-ecs, which must exist)
#   scripts/test.sh -- <pytest args>   extra arguments for pytest (e.g. -k login)
#
# Every phase runs even if an earlier test phase failed (a failed build stops
# what depends on it); the exit status is non-zero if anything failed.
# The Terraform toolchain (the slowest one-time build) is built in the
# background while the C++ builds and the rest of the e2e suite run; only
# the tests that apply Terraform wait for it.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=lib/progress.sh
source "$ROOT/scripts/lib/progress.sh"
export CONSUL_ECS_CACHE="${CONSUL_ECS_CACHE:-$HOME/.cache/consul-ecs-cpp}"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
SANITIZE=1
E2E_ONLY=0
PYTEST_ARGS=()
while (($#)); do
  case "$1" in
    --no-sanitize|--no-asan) SANITIZE=0 ;;
    --e2e-only) E2E_ONLY=1 ;;
    --) shift; PYTEST_ARGS=("$@"); break ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

RUN_START=$(date +%s)
LOGS="$ROOT/build-logs"
mkdir -p "$LOGS"
failures=()

finish() {
  local total=$(( $(date +%s) - RUN_START ))
  echo
  echo "==== phases (wall time; the Terraform toolchain builds alongside) ===="
  phase_table | tee "$LOGS/phases.md"
  echo "| **total** | **$(fmt_secs "$total")** | |" | tee -a "$LOGS/phases.md"
  echo "(load average at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
  echo
  if ((${#failures[@]})); then
    echo "test.sh: FAILED: ${failures[*]}"
    exit 1
  fi
  echo "test.sh: all passed"
  exit 0
}

phase "setup: Debian packages" scripts/setup.sh --deps-only || { failures+=("setup"); finish; }

# The toolchain build (niced Go builds) runs in the background; its log is
# kept, and it records its exit code and duration when it ends.
TF_RC="$LOGS/terraform-toolchain.rc"
rm -f "$TF_RC"
( start=$(date +%s)
  scripts/build-terraform.sh >"$LOGS/terraform-toolchain.log" 2>&1
  echo "$? $(( $(date +%s) - start ))" >"$TF_RC" ) &
TF_PID=$!

phase "setup: Python venv" scripts/setup.sh --venv-only || { failures+=("setup (venv)"); finish; }
VENV="$ROOT/.venv"  # scripts/setup.sh: the test bed package + the pinned packages
phase "lint (scripts/lint.sh)" scripts/lint.sh || failures+=("lint")
phase "setup: Consul server" scripts/build-consul.sh >"$LOGS/consul-path" || { failures+=("setup (consul)"); finish; }
CONSUL_BIN="$(tail -n 1 "$LOGS/consul-path")"
export CONSUL_BIN

if [[ $E2E_ONLY -eq 0 ]]; then
  phase "build: Release, static (build/)" scripts/build.sh || { failures+=("build"); finish; }
  phase "image" scripts/build-image.sh >/dev/null || failures+=("image build")
  phase "unit tests (build/)" ctest --test-dir build --output-on-failure -j "$JOBS" || failures+=("unit tests")

  if [[ $SANITIZE -eq 1 ]]; then
    # One clang build serves the sanitizer unit tests and the fuzz targets:
    # everything under ASan+UBSan (and libFuzzer's coverage counters, which
    # cost the unit tests nothing but time).
    sanitize_build() {
      CC=clang CXX=clang++ cmake -S . -B build-sanitize -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCONSUL_ECS_FUZZ=ON >/dev/null && cmake --build build-sanitize -j "$JOBS"
    }
    if phase "build: clang ASan+UBSan+libFuzzer (build-sanitize/)" sanitize_build; then
      ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:${ASAN_OPTIONS:-}" \
      UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}" \
        phase "unit tests (build-sanitize/, ASan+UBSan)" \
        ctest --test-dir build-sanitize --output-on-failure -j "$JOBS" || failures+=("sanitizer unit tests")
      FUZZ_BUILD_DIR=build-sanitize FUZZ_SECONDS="${FUZZ_SECONDS:-20}" \
        phase "fuzzing (${FUZZ_SECONDS:-20} s per target)" scripts/fuzz.sh || failures+=("fuzzing")
    else
      failures+=("sanitizer build")
    fi
  fi
fi

export CONSUL_ECS_BIN="${CONSUL_ECS_BIN:-$ROOT/build/consul-ecs}"
echo "binary under test: $CONSUL_ECS_BIN; consul: $CONSUL_BIN"
# The files that apply Terraform (they need the toolchain) run last.
TF_TESTS=(test_terraform_*.py test_sandbox.py)
ignore_tf=()
for f in "${TF_TESTS[@]}"; do ignore_tf+=(--ignore-glob="$f"); done
pytest_e2e() { (cd tests/e2e && "$VENV/bin/python" -m pytest -p no:cacheprovider "$@" "${PYTEST_ARGS[@]}"); }

phase "e2e: all but the Terraform files" pytest_e2e "${ignore_tf[@]}" || failures+=("e2e tests")

wait_toolchain() {
  wait "$TF_PID"
  [[ "$(cut -d' ' -f1 "$TF_RC" 2>/dev/null)" == 0 ]] || { tail -n 30 "$LOGS/terraform-toolchain.log" >&2; return 1; }
}
phase "setup: waiting for the Terraform toolchain" wait_toolchain
tf_ok=$?
read -r tf_rc tf_secs <"$TF_RC" 2>/dev/null || { tf_rc=1; tf_secs=0; }
phase_record "setup: Terraform toolchain (built in the background)" "$tf_secs" "$tf_rc"
if ((tf_ok == 0)); then
  phase "e2e: the Terraform files" pytest_e2e $(cd tests/e2e && ls "${TF_TESTS[@]}") || failures+=("e2e Terraform tests")
else
  failures+=("Terraform toolchain")
fi

finish
