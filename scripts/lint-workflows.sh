#!/usr/bin/env bash
# Lints the forge's workflow files with actionlint (built from the Go module
# proxy, pinned, cached at $CONSUL_ECS_CACHE/actionlint-<version>/).
#   scripts/lint-workflows.sh [FILE...]     (default .github/workflows/*.yml)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${CONSUL_ECS_CACHE:-$HOME/.cache/consul-ecs-cpp}"
ACTIONLINT_VERSION=v1.7.7
BIN="$CACHE/actionlint-$ACTIONLINT_VERSION/actionlint"
if [[ ! -x "$BIN" ]]; then
  command -v go >/dev/null || { echo "lint-workflows: 'go' is not on PATH; it builds actionlint" >&2; exit 1; }
  echo "lint-workflows: building actionlint $ACTIONLINT_VERSION" >&2
  tmp="$(mktemp -d "$CACHE/actionlint.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && GOBIN="$tmp/bin" GOFLAGS=-buildvcs=false CGO_ENABLED=0 \
     go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION") >&2
  mkdir -p "$(dirname "$BIN")" && mv "$tmp/bin/actionlint" "$BIN"
fi
if (($# == 0)); then set -- "$ROOT"/.github/workflows/*.yml; fi
# -shellcheck= : the run: steps are one-liners calling make; shellcheck is
# not a dependency of the project.
"$BIN" -shellcheck= "$@"
echo "lint-workflows: $# workflow file(s) pass actionlint $ACTIONLINT_VERSION" >&2
