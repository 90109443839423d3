#!/usr/bin/env bash
# The version, from its one source: the VERSION file at the repository root.
#   scripts/version.sh            prints it (e.g. 0.1.0)
#   scripts/version.sh --check    fails, naming each file, where a copy that
#                                 cannot read VERSION itself disagrees with it
#   scripts/version.sh --apply    rewrites those copies from VERSION
# CMake reads VERSION directly (CMakeLists.txt), and so `consul-ecs version`,
# the image's tag and labels (scripts/build-image.sh) and the release's file
# names (scripts/release.sh). Terraform cannot read a file for a variable's
# default, and the tests read image/image.env as text, so these hold copies:
#   image/image.env                    IMAGE_REF=<repository>:<version>
#   terraform/modules/*/variables.tf   consul_ecs_image's default
#   terraform/modules/*/main.tf        local.module_version (the module-version tag)
#   terraform/examples/*/variables.tf  consul_ecs_image's default
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODE=print
case "${1:-}" in
  "") ;;
  --check) MODE=check ;;
  --apply) MODE=apply ;;
  -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
  *) echo "version.sh: unknown option $1 (use --check or --apply)" >&2; exit 2 ;;
esac

VERSION="$(head -n 1 "$ROOT/VERSION" 2>/dev/null || true)"
if [[ ! "$VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  echo "version.sh: $ROOT/VERSION must hold one version like 1.2.3, not '${VERSION}'" >&2
  exit 1
fi
if [[ $MODE == print ]]; then echo "$VERSION"; exit 0; fi

IMAGE_REPOSITORY="$(sed -n 's/^IMAGE_REF=\(.*\):[^:]*$/\1/p' "$ROOT/image/image.env")"
[[ -n "$IMAGE_REPOSITORY" ]] || { echo "version.sh: image/image.env has no IMAGE_REF=<repository>:<tag>" >&2; exit 1; }
IMAGE="$IMAGE_REPOSITORY:$VERSION"

# <file> <sed expression extracting the current value> <sed expression setting it>
targets=()
targets+=("image/image.env|s/^IMAGE_REF=\\(.*\\)$/\\1/p|s|^IMAGE_REF=.*$|IMAGE_REF=$IMAGE|")
for f in "$ROOT"/terraform/modules/*/variables.tf "$ROOT"/terraform/examples/*/variables.tf; do
  grep -q '^variable "consul_ecs_image"' "$f" || continue
  rel="${f#"$ROOT"/}"
  # The default line inside the consul_ecs_image block.
  targets+=("$rel|/^variable \"consul_ecs_image\"/,/^}/s/^ *default *= *\"\\(.*\\)\"$/\\1/p|/^variable \"consul_ecs_image\"/,/^}/s|^\\( *default *= *\\)\".*\"$|\\1\"$IMAGE\"|")
done
for f in "$ROOT"/terraform/modules/*/main.tf; do
  grep -q '^ *module_version *=' "$f" || continue
  rel="${f#"$ROOT"/}"
  targets+=("$rel|s/^ *module_version *= *\"\\(.*\\)\"$/\\1/p|s|^\\( *module_version *= *\\)\".*\"$|\\1\"$VERSION\"|")
done

bad=0
for t in "${targets[@]}"; do
  IFS='|' read -r rel get set <<<"$t"
  want="$IMAGE"; [[ "$rel" == */main.tf ]] && want="$VERSION"
  have="$(sed -n "$get" "$ROOT/$rel")"
  if [[ "$have" == "$want" ]]; then continue; fi
  if [[ $MODE == check ]]; then
    echo "version.sh: $rel has '${have}', VERSION says '$want' (run scripts/version.sh --apply)" >&2
    bad=1
  else
    tmp="$(mktemp "$ROOT/$rel.XXXXXX")"
    sed "$set" "$ROOT/$rel" >"$tmp" && chmod --reference="$ROOT/$rel" "$tmp" && mv "$tmp" "$ROOT/$rel"
    echo "version.sh: $rel -> $want" >&2
  fi
done
exit $bad
