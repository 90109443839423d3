#!/usr/bin/env bash
# `make release`: builds both architectures and the images, and writes the
# release bundle dist/<version>/ (VERSION):
#   consul-ecs_<v>_linux_<arch>                the static binary, stripped
#   consul-ecs_<v>_linux_<arch>.zip            the same as upstream publishes it: consul-ecs,
#                                              plus LICENSE and THIRD_PARTY_LICENSES
#   consul-ecs_<v>_linux_<arch>.oci.tar        the image, OCI archive (podman load / skopeo)
#   consul-ecs_<v>_oci-index.tar               the manifest list (linux/amd64 + linux/arm64)
#                                              as an OCI image layout, tarred
#   consul-ecs-terraform-modules_<v>.tar.gz    terraform/modules
#   consul-ecs_<v>.cdx.json                    the SBOM, CycloneDX 1.5 (scripts/sbom.py)
#   SHA256SUMS                                 sha256sum of all of the above
#
#   scripts/release.sh [--out DIR] [--skip-build]
# --out: instead of dist/<version>; --skip-build: use the existing builds and
# images (build/, build-arm64/, scripts/build-image.sh --manifest's tags).
# The bundle is written to a temporary folder and moved into place whole;
# SHA256SUMS is verified before that.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$ROOT/image/containers.conf}"
VERSION="$(scripts/version.sh)"
OUT="$ROOT/dist/$VERSION"
BUILD=1
while (($#)); do
  case "$1" in
    --out) OUT="$2"; shift ;;
    --skip-build) BUILD=0 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "release.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
say() { echo "release: $*" >&2; }
scripts/version.sh --check
ARCHES=(amd64 arm64)
REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
# Reproducible timestamps: the commit's time.
SOURCE_DATE_EPOCH="$(git log -1 --format=%ct 2>/dev/null || date +%s)"
export SOURCE_DATE_EPOCH

if [[ $BUILD -eq 1 ]]; then
  for arch in "${ARCHES[@]}"; do
    say "building linux/$arch"
    scripts/setup.sh --deps-only
    scripts/build.sh --arch "$arch" >&2
  done
  LIST="$(scripts/build-image.sh --manifest | tail -n 1)"
else
  LIST="localhost/consul-ecs:$VERSION-list"
fi
podman manifest exists "$LIST" || { say "no manifest list $LIST (scripts/build-image.sh --manifest)"; exit 1; }

mkdir -p "$(dirname "$OUT")"
STAGE="$(mktemp -d "$(dirname "$OUT")/.release-$VERSION.XXXXXX")"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/consul-ecs-release.XXXXXX")"
trap 'rm -rf "$STAGE" "$WORK"' EXIT
stamp() { touch -h -d "@$SOURCE_DATE_EPOCH" "$@"; }

sbom_args=()
for arch in "${ARCHES[@]}"; do
  # shellcheck source=arch.sh
  source scripts/arch.sh
  arch_select "$arch" release.sh
  dir=build; [[ $arch == amd64 ]] || dir="build-$arch"
  arch_check_binary "$dir/consul-ecs" release.sh
  name="consul-ecs_${VERSION}_linux_$arch"
  "$ARCH_STRIP" --strip-all -o "$STAGE/$name" "$dir/consul-ecs"
  chmod 0755 "$STAGE/$name"

  # The zip as upstream's (one consul-ecs at the top), with the licenses.
  z="$WORK/zip-$arch"; mkdir -p "$z"
  cp "$STAGE/$name" "$z/consul-ecs"
  cp LICENSE "$z/LICENSE"
  python3 - "$dir/consul-ecs.components.json" >"$z/THIRD_PARTY_LICENSES" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
print(f"Third-party software statically linked into consul-ecs {c['version']} (linux/{c['arch']}).\n")
for comp in c["components"]:
    print("=" * 78)
    print(f"{comp['name']} {comp['version']} ({comp['license']}), Debian package {comp['package']}")
    print("=" * 78)
    if comp.get("copyright_file"):
        print(open(comp["copyright_file"], errors="replace").read())
PY
  stamp "$z"/*
  (cd "$z" && zip -q -X -D "$STAGE/$name.zip" consul-ecs LICENSE THIRD_PARTY_LICENSES)

  # The image of this architecture as an OCI archive; its root file system
  # for the SBOM.
  image="localhost/consul-ecs:$VERSION-$arch"
  podman image exists "$image" || { say "no image $image (scripts/build-image.sh --arch $arch)"; exit 1; }
  podman save --quiet --format oci-archive -o "$STAGE/$name.oci.tar" "$image"
  mkdir -p "$WORK/rootfs-$arch"
  ctr="$(podman create --platform "linux/$arch" "$image")"
  podman export "$ctr" | tar -x -C "$WORK/rootfs-$arch"
  podman rm "$ctr" >/dev/null
  sbom_args+=(--arch "$arch" "$STAGE/$name" "$dir/consul-ecs.components.json" "$WORK/rootfs-$arch")
done

# The manifest list as an OCI image layout (index.json names both platforms).
podman manifest push --quiet --all "$LIST" "oci:$WORK/oci-index" >&2
tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
  -C "$WORK/oci-index" -cf "$STAGE/consul-ecs_${VERSION}_oci-index.tar" .

tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
  --transform "s,^terraform/modules,consul-ecs-terraform-modules_$VERSION," \
  -cf - terraform/modules | gzip -n -9 >"$STAGE/consul-ecs-terraform-modules_$VERSION.tar.gz"

python3 scripts/sbom.py --version "$VERSION" --revision "$REVISION" \
  --out "$STAGE/consul-ecs_$VERSION.cdx.json" "${sbom_args[@]}"

(cd "$STAGE" && sha256sum -- * >SHA256SUMS && sha256sum --quiet -c SHA256SUMS)
chmod 0755 "$STAGE"
rm -rf "$OUT"
mv "$STAGE" "$OUT"
say "wrote $OUT:"
(cd "$OUT" && ls -l >&2)
echo "$OUT"
