#!/usr/bin/env bash
# Builds the Consul server used by the end-to-end test bed from the pinned
# wrapper module in tests/testbed/consul-build (go.mod + go.sum are committed, so the
# build is reproducible), and caches it in
#   ${CONSUL_ECS_CACHE:-$HOME/.cache/consul-ecs-cpp}/consul-<version>/consul
# A second run finds the cached binary and returns at once.
# The last line printed on stdout is the path of the binary.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODDIR="$ROOT/tests/testbed/consul-build"
CACHE="${CONSUL_ECS_CACHE:-$HOME/.cache/consul-ecs-cpp}"

# The version is the one go.mod pins; keeping it in one place avoids drift.
VERSION="$(awk '$1 == "require" && $2 == "github.com/hashicorp/consul" {print $3}' "$MODDIR/go.mod")"
if [[ -z "$VERSION" ]]; then
  echo "build-consul: cannot read the github.com/hashicorp/consul version from $MODDIR/go.mod" >&2
  exit 1
fi
VERSION="${VERSION#v}"
OUT_DIR="$CACHE/consul-$VERSION"
OUT="$OUT_DIR/consul"

# (No "| grep -q" here: under pipefail its early exit would SIGPIPE consul.)
if [[ -x "$OUT" ]] && [[ "$("$OUT" version 2>/dev/null)" == "Consul v$VERSION"$'\n'* ]]; then
  echo "$OUT"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "build-consul: 'go' is not on PATH; a Go toolchain is needed to build Consul $VERSION" >&2
  exit 1
fi

mkdir -p "$OUT_DIR"
LOG="$OUT_DIR/build.log"
echo "build-consul: building Consul v$VERSION (takes a few minutes on 2 cores; log: $LOG)" >&2

# -mod=readonly: go.sum is committed and must already be complete; a missing
# entry is an error rather than a silent network resolution.
# CGO off: the test bed needs no cgo and this keeps the binary self-contained.
# shellcheck source=lib/progress.sh
source "$ROOT/scripts/lib/progress.sh"
TMP_OUT="$OUT.tmp.$$"
trap 'rm -f "$TMP_OUT"' EXIT
build() {
  (
    cd "$MODDIR"
    export CGO_ENABLED=0
    export GOFLAGS="-mod=readonly -buildvcs=false"
    start=$(date +%s)
    go build -trimpath -ldflags=-s -o "$TMP_OUT" github.com/hashicorp/consul
    echo "build took $(( $(date +%s) - start ))s"
  ) >"$LOG" 2>&1
}
with_heartbeat "build-consul: building Consul v$VERSION" build || {
  echo "build-consul: go build failed; last lines of $LOG:" >&2
  tail -n 40 "$LOG" >&2
  exit 1
}

echo "$("$TMP_OUT" version)" | sed -n 1p >&2
mv -f "$TMP_OUT" "$OUT"
trap - EXIT
echo "$OUT"
