#!/usr/bin/env bash
# `make demo`: terraform/examples/client-server applied against moto and the
# task definitions it registers run on this machine (docs/sandbox.md).
#   1. scripts/setup.sh: Debian packages, the Python venv, the Consul build,
#      the OpenTofu/Terraform toolchain
#   2. builds build/consul-ecs (scripts/build.sh: the shipped static build)
#   3. runs sandbox/demo.py with the arguments given here, e.g.
#        scripts/demo.sh --keep      keep running until Ctrl-C
#        scripts/demo.sh --fast      the CI timings
# Root is needed (a network namespace per task).
# CONSUL_ECS_CACHE defaults to ~/.cache/consul-ecs-cpp.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CONSUL_ECS_CACHE="${CONSUL_ECS_CACHE:-$HOME/.cache/consul-ecs-cpp}"
case "${1:-}" in -h|--help) sed -n '2,11p' "$0"; exec "$ROOT/.venv/bin/python" sandbox/demo.py --help ;; esac

if [ "$(id -u)" -ne 0 ]; then
  echo "demo.sh: the sandbox creates a network namespace per task: run it as root" >&2
  exit 1
fi
# shellcheck source=lib/progress.sh
source "$ROOT/scripts/lib/progress.sh"
with_heartbeat "demo: setup" scripts/setup.sh
CONSUL_BIN="$(scripts/build-consul.sh | tail -n 1)"
export CONSUL_BIN
with_heartbeat "demo: building build/consul-ecs" scripts/build.sh
export CONSUL_ECS_BIN="${CONSUL_ECS_BIN:-$ROOT/build/consul-ecs}"
exec "$ROOT/.venv/bin/python" sandbox/demo.py "$@"
