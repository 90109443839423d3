#!/usr/bin/env bash
# Pushes the multi-arch image (the manifest list `scripts/build-image.sh
# --manifest` made, linux/amd64 + linux/arm64, each with its image) to the
# registry under $IMAGE_REF (image/image.env), the name the Terraform modules
# default to. REGISTRY_USER / REGISTRY_TOKEN, when set, log in first (the
# release workflow passes the forge's token).
#   scripts/publish.sh [DESTINATION]     (default docker://$IMAGE_REF)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../image/image.env
source "$ROOT/image/image.env"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$ROOT/image/containers.conf}"
VERSION="$("$ROOT/scripts/version.sh")"
LIST="localhost/consul-ecs:$VERSION-list"
DEST="${1:-docker://$IMAGE_REF}"
podman manifest exists "$LIST" || { echo "publish: no manifest list $LIST (make release builds it)" >&2; exit 1; }
if [[ -n "${REGISTRY_USER:-}" && -n "${REGISTRY_TOKEN:-}" ]]; then
  printf '%s' "$REGISTRY_TOKEN" | podman login --username "$REGISTRY_USER" --password-stdin "${IMAGE_REF%%/*}" >&2
fi
podman manifest push --all "$LIST" "$DEST" >&2
echo "publish: pushed $LIST to $DEST" >&2
