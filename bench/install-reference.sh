#!/usr/bin/env bash
# Installs the reference consul-ecs (Go) with the Go toolchain from the Go
# module proxy into the cache:
#   ${CONSUL_ECS_CACHE:-~/.cache/consul-ecs-cpp}/consul-ecs-ref-<version>/consul-ecs
#
#   bench/install-reference.sh [v0.7.3 [v0.10.0 ...]]     (default: v0.7.3 v0.10.0)
#
# One line per version on stdout: "<version> <path>" when installed, or
# "<version> ERROR <first line of the go error>" when not; the full go output
# is in <cache>/consul-ecs-ref-<version>/install.log. Exit status: 0 if every
# version is installed, 1 otherwise (the bench then runs ours alone and says
# why in its table). A cached binary is reused.
set -uo pipefail

CACHE="${CONSUL_ECS_CACHE:-$HOME/.cache/consul-ecs-cpp}"
VERSIONS=("$@")
((${#VERSIONS[@]})) || VERSIONS=(v0.7.3 v0.10.0)
MODULE=github.com/hashicorp/consul-ecs
status=0

for v in "${VERSIONS[@]}"; do
  dir="$CACHE/consul-ecs-ref-$v"
  bin="$dir/consul-ecs"
  mkdir -p "$dir"
  if [[ -x "$bin" ]]; then
    echo "$v $bin"
    continue
  fi
  if ! command -v go >/dev/null 2>&1; then
    echo "$v ERROR 'go' is not on PATH"
    status=1
    continue
  fi
  log="$dir/install.log"
  # The module has no replace directives, so `go install mod@version` builds
  # it exactly as released. CGO off: the reference images ship a static binary.
  cmd=(env GOBIN="$dir" CGO_ENABLED=0 go install -trimpath "$MODULE@$v")
  echo "\$ ${cmd[*]}" >"$log"
  if (cd "$dir" && "${cmd[@]}") >>"$log" 2>&1 && [[ -x "$bin" ]]; then
    echo "$v $bin"
  else
    err="$(grep -v '^\$ ' "$log" | head -n 2 | tr -s ' \t\n' ' ')"
    echo "$v ERROR ${err:-go install failed (see $log)}"
    status=1
  fi
done
exit $status
