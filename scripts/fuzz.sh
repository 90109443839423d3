#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang (ASan + UBSan, build-fuzz/)
# and runs each for a while on its corpus.
#
#   scripts/fuzz.sh                     every target, $FUZZ_SECONDS each (default 600)
#   scripts/fuzz.sh --seconds 20        short run (make test does this)
#   scripts/fuzz.sh config ecs_api      only these targets
#
# FUZZ_BUILD_DIR: the clang build to use (default build-fuzz; configured here
# when it has no CMake cache yet).
# Corpus: build-fuzz/corpus/<target>/ (kept between runs, so it grows), seeded
# from tests/testdata (configs, task metadata) and fuzz/seeds/<target>/.
# Crashes: build-fuzz/artifacts/<target>/ (crash-*, leak-*, timeout-*), and
# the exit status is non-zero. Per-target numbers (executions, exec/s, new
# units, peak RSS) go to build-fuzz/fuzz-summary.md.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SECONDS_EACH="${FUZZ_SECONDS:-600}"
TARGETS=()
while (($#)); do
  case "$1" in
    --seconds) SECONDS_EACH="$2"; shift ;;
    --seconds=*) SECONDS_EACH="${1#--seconds=}" ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) TARGETS+=("$1") ;;
  esac
  shift
done
if ((${#TARGETS[@]} == 0)); then
  for f in fuzz/*.cpp; do TARGETS+=("$(basename "$f" .cpp)"); done
fi

command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ missing (scripts/setup.sh installs it)" >&2; exit 1; }
BUILD="${FUZZ_BUILD_DIR:-build-fuzz}"  # make test shares its clang sanitizer build (build-sanitize)
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
if [[ ! -f $BUILD/CMakeCache.txt ]]; then
  CC=clang CXX=clang++ cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCONSUL_ECS_FUZZ=ON -DCONSUL_ECS_TESTS=OFF >/dev/null || exit 1
fi
build_targets=(consul-ecs)
for t in "${TARGETS[@]}"; do build_targets+=("fuzz_$t"); done
nice cmake --build "$BUILD" -j "$JOBS" --target "${build_targets[@]}" || { echo "fuzz.sh: build failed" >&2; exit 1; }

# Seeds: one file per document.
seed() {  # seed <target> <files...>
  local dir="$BUILD/seeds/$1"; shift
  mkdir -p "$dir"
  for f in "$@"; do [[ -f $f ]] && cp "$f" "$dir/"; done
}
rm -rf "$BUILD/seeds"
seed config tests/testdata/reference/config-examples-*/*.json
seed task_metadata tests/testdata/ecs/*.json
for t in ecs_api consul_responses aws_credentials; do seed "$t" fuzz/seeds/"$t"/*; done
# The Consul target reads NUL-separated answers: one seed with all of them
# in turn, one with errors mixed in.
if [[ -d fuzz/seeds/consul_responses ]]; then
  { first=1; for f in fuzz/seeds/consul_responses/*.json; do
      ((first)) || printf '\0'; first=0; tr -d '\n' <"$f"; done; } >"$BUILD/seeds/consul_responses/all-answers"
  { for f in fuzz/seeds/consul_responses/*.json; do tr -d '\n' <"$f"; printf '\0!404\0'; done; printf '!!'; } \
    >"$BUILD/seeds/consul_responses/with-errors"
fi

summary="$BUILD/fuzz-summary.md"
{
  echo "fuzz run $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null), ${SECONDS_EACH} s per target"
  echo
  echo "| target | executions | exec/s | new units | corpus | peak RSS | result |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
} >"$summary"
failed=()
for t in "${TARGETS[@]}"; do
  corpus="$BUILD/corpus/$t"
  artifacts="$BUILD/artifacts/$t/"
  mkdir -p "$corpus" "$artifacts"
  log="$BUILD/fuzz-$t.log"
  echo "==== fuzz_$t: ${SECONDS_EACH} s ===="
  # -timeout: one input taking > 10 s is a hang (a finding); -max_len lets
  # deep or long documents grow past the seeds' sizes.
  ASAN_OPTIONS="detect_leaks=1:${ASAN_OPTIONS:-}" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}" \
    nice "$BUILD/fuzz_$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="$artifacts" "$corpus" "$BUILD/seeds/$t" >"$log" 2>&1
  rc=$?
  stat() { grep -m1 "^stat::$1:" "$log" | awk '{print $2}'; }
  result="clean"
  if ((rc != 0)); then result="**FAILED (exit $rc, see $log)**"; failed+=("$t"); fi
  printf '| %s | %s | %s | %s | %s | %s MB | %s |\n' "$t" "$(stat number_of_executed_units)" \
    "$(stat average_exec_per_sec)" "$(stat new_units_added)" "$(find "$corpus" -type f | wc -l)" \
    "$(stat peak_rss_mb)" "$result" >>"$summary"
  tail -n 8 "$log"
done
echo
cat "$summary"
if ((${#failed[@]})); then
  echo "fuzz.sh: findings in: ${failed[*]} (inputs in $BUILD/artifacts/)" >&2
  exit 1
fi
