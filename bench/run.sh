#!/usr/bin/env bash
# The one benchmark command (also `make bench`):
#   1. setup: build deps, the test venv, Consul (scripts/setup.sh)
#   2. build: build/consul-ecs (as `make build`)
#   3. the reference binary from CONSUL_ECS_REF_BIN, when set (built outside
#      this repository, see DEVELOPERS.md); without it ours runs alone and the
#      table says why
#   4. bench/bench.py: control-plane, ours vs reference, A B A B ...
#   5. bench/controller_bench.py, when it exists: the controller at 100 /
#      1,000 / 5,000 tasks
# Tables are printed and written to bench/results/.
#
#   bench/run.sh                      full run (5 pairs, 60 s steady state)
#   bench/run.sh --quick              smoke test (2 pairs, 10 s steady state)
#   bench/run.sh --skip-build         use the existing build/consul-ecs
#   bench/run.sh --control-plane-only | --controller-only
#   bench/run.sh -- <bench.py args>   e.g. -- --pairs 8 --steady 120 --as-built
#
# CONSUL_ECS_REF_BIN=/path/to/consul-ecs names the reference binary.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CONSUL_ECS_CACHE="${CONSUL_ECS_CACHE:-$HOME/.cache/consul-ecs-cpp}"
QUICK=()
BUILD=1
CP=1
CTL=1
EXTRA=()
while (($#)); do
  case "$1" in
    --quick) QUICK=(--quick) ;;
    --skip-build) BUILD=0 ;;
    --control-plane-only) CTL=0 ;;
    --controller-only) CP=0 ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown option $1 (bench.py options go after --)" >&2; exit 2 ;;
  esac
  shift
done

say() { echo "bench: $*" >&2; }

say "setup"
scripts/setup.sh || { say "setup failed"; exit 1; }
CONSUL_BIN="$(scripts/build-consul.sh | tail -n 1)" || exit 1
export CONSUL_BIN
PY="$ROOT/.venv/bin/python"  # scripts/setup.sh: the test bed package + the pinned packages

if [[ $BUILD -eq 1 ]]; then
  say "build (build/)"
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
    cmake --build build || { say "build failed"; exit 1; }
fi
OURS="${CONSUL_ECS_BIN:-$ROOT/build/consul-ecs}"

STATUS="$CONSUL_ECS_CACHE/reference-install.txt"
if [[ -n "${CONSUL_ECS_REF_BIN:-}" ]]; then
  say "reference: $CONSUL_ECS_REF_BIN (CONSUL_ECS_REF_BIN)"
  echo "v0.7.3 $CONSUL_ECS_REF_BIN" >"$STATUS"
else
  say "no reference: CONSUL_ECS_REF_BIN is not set; ours runs alone"
  echo "v0.7.3 ERROR CONSUL_ECS_REF_BIN not set" >"$STATUS"
fi
REF="$(awk '$1 == "v0.7.3" && $2 ~ /^\// {print $2}' "$STATUS")"

rc=0
STAMP="$(date +%Y%m%d-%H%M%S)"
RESULTS="$ROOT/bench/results"
mkdir -p "$RESULTS"
parts=()
MARK="$(mktemp)"
if [[ $CP -eq 1 ]]; then
  say "control-plane benchmark"
  "$PY" bench/bench.py --ours "$OURS" --install-status "$STATUS" --results-dir "$RESULTS" \
    "${QUICK[@]}" "${EXTRA[@]}" || rc=1
  [[ "$RESULTS/latest-control-plane.md" -nt "$MARK" ]] && parts+=("$RESULTS/latest-control-plane.md")
fi
if [[ $CTL -eq 1 ]]; then
  if [[ -f bench/controller_bench.py ]]; then
    # 100 / 1,000 / 5,000 mesh tasks (--quick: 100), ours then the reference.
    sizes=(100 1000 5000)
    ((${#QUICK[@]})) && sizes=(100)
    impls=("ours=$OURS")
    [[ -n "$REF" ]] && impls+=("ref=$REF")
    for n in "${sizes[@]}"; do
      for impl in "${impls[@]}"; do
        key="${impl%%=*}"; bin="${impl#*=}"
        out="$RESULTS/controller-$n-$key-$STAMP.md"
        say "controller benchmark: $n tasks, $key ($bin)"
        if "$PY" bench/controller_bench.py --tasks "$n" --tokens "$n" --binary "$bin" --out "$out" >&2; then
          parts+=("$out")
        else
          rc=1
          say "controller benchmark failed: $n tasks, $key"
        fi
      done
    done
    [[ -z "$REF" ]] && say "controller benchmark: no reference binary, ours only"
  else
    say "controller benchmark: bench/controller_bench.py does not exist yet; skipped"
  fi
fi

# One file with everything this run produced.
if ((${#parts[@]})); then
  all="$RESULTS/bench-$STAMP${QUICK:+-quick}.md"
  {
    echo "# consul-ecs benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    for f in "${parts[@]}"; do cat "$f"; echo; done
  } >"$all"
  cp "$all" "$RESULTS/latest.md"
  say "results: $all (and bench/results/latest.md)"
fi
rm -f "$MARK"
exit $rc
