#!/usr/bin/env bash
# The image + release phase of make test: both images and the manifest list
# (scripts/build-image.sh --manifest, from build/ and build-arm64/, which must
# be built), the release bundle into build/dist-test/<version>
# (scripts/release.sh --skip-build), then tests/e2e/test_release.py on it
# (SBOM schema, checksums, ELF architectures, status.d, arm64 binaries
# running, actionlint on the workflows).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CONSUL_ECS_CACHE="${CONSUL_ECS_CACHE:-$HOME/.cache/consul-ecs-cpp}"
VERSION="$(scripts/version.sh)"
# podman images and containers are host-wide: one user at a time.
LOCK=(flock "${CONSUL_ECS_HOST_LOCK:-/tmp/consul-ecs-host.lock}")
t0=$SECONDS
"${LOCK[@]}" scripts/build-image.sh --manifest >/dev/null || { echo "test-release: image build failed" >&2; exit 1; }
echo "test-release: images + manifest list $((SECONDS - t0)) s"
t1=$SECONDS
OUT="$ROOT/build/dist-test/$VERSION"
"${LOCK[@]}" scripts/release.sh --skip-build --out "$OUT" >/dev/null || { echo "test-release: release.sh failed" >&2; exit 1; }
echo "test-release: bundle $((SECONDS - t1)) s"
t2=$SECONDS
export CONSUL_ECS_DIST="$OUT"
(cd tests/e2e && "${LOCK[@]}" "$ROOT/.venv/bin/python" -m pytest -p no:cacheprovider test_release.py)
status=$?
echo "test-release: tests $((SECONDS - t2)) s"
exit $status
