#!/usr/bin/env bash
# Builds what ships: consul-ecs in Release (warnings as errors), fully static
# against the cached static OpenSSL + libcurl of that architecture
# (scripts/build-static-deps.sh), plus the unit tests.
#   scripts/build.sh [--arch amd64|arm64] [extra cmake -D options]
# amd64 (the default) builds into build/, arm64 is cross-built with Debian's
# cross toolchain into build-arm64/ (its unit tests run under qemu-user-static
# through ctest). The binary must be a static ELF of the requested
# architecture, else the build fails naming the file.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
ARCH=amd64
CMAKE_EXTRA=()
while (($#)); do
  case "$1" in
    --arch) ARCH="${2:-}"; shift ;;
    --arch=*) ARCH="${1#--arch=}" ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) CMAKE_EXTRA+=("$1") ;;
  esac
  shift
done
# shellcheck source=arch.sh
source "$ROOT/scripts/arch.sh"
arch_select "$ARCH" build.sh || exit 2
if ! command -v "$ARCH_CXX" >/dev/null; then
  echo "build.sh: no $ARCH_CXX (scripts/setup.sh installs the cross toolchain)" >&2; exit 1
fi
BUILD_DIR="${CONSUL_ECS_BUILD_DIR:-build}"
[[ "$ARCH" == amd64 ]] || BUILD_DIR="${CONSUL_ECS_BUILD_DIR:-build-$ARCH}"
DEPS_PREFIX="$(scripts/build-static-deps.sh --arch "$ARCH" | tail -n 1)"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCONSUL_ECS_STATIC=ON \
  -DCONSUL_ECS_CURL_PREFIX="$DEPS_PREFIX" "${ARCH_CMAKE_ARGS[@]}" "${CMAKE_EXTRA[@]}"
cmake --build "$BUILD_DIR" -j "$JOBS"
arch_check_binary "$BUILD_DIR/consul-ecs" build.sh

# What is linked into the binary, with the versions really built or
# installed (never typed by hand): the SBOM (scripts/sbom.py) and the image's
# license folder read it.
python3 - "$ARCH" "$DEPS_PREFIX" "$BUILD_DIR/consul-ecs" "$(scripts/version.sh)" \
  >"$BUILD_DIR/consul-ecs.components.json.tmp" <<'PY'
import hashlib, json, os, subprocess, sys
arch, prefix, binary, version = sys.argv[1:5]
deps = dict(line.strip().split("=", 1) for line in open(os.path.join(prefix, "versions.env")) if "=" in line)
cross = "" if arch == "amd64" else f"-{arch}-cross"
multiarch = f":{arch}"  # libc-ares-dev, libfmt-dev: both architectures are installed

def dpkg_version(pkg):
    out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True)
    if out.returncode != 0 or not out.stdout:
        sys.exit(f"build.sh: dpkg knows no installed {pkg} (scripts/setup.sh installs it)")
    return out.stdout

def copyright_of(pkg):
    path = os.path.realpath(f"/usr/share/doc/{pkg.split(':')[0]}/copyright")
    return path if os.path.isfile(path) else None

def debian(name, pkg, license_expr):
    v = dpkg_version(pkg)
    pkg_arch = "all" if pkg.endswith("-cross") or pkg == "nlohmann-json3-dev" else arch
    return {"name": name, "version": v, "license": license_expr, "package": pkg.split(":")[0],
            "purl": f"pkg:deb/debian/{pkg.split(':')[0]}@{v.replace(':', '%3A')}?arch={pkg_arch}&distro=debian-12",
            "copyright_file": copyright_of(pkg)}

def built_from_source(name, src, v, license_expr):
    return {"name": name, "version": v, "license": license_expr, "package": src,
            "purl": f"pkg:deb/debian/{src}@{v.replace(':', '%3A')}?arch=source&distro=debian-12",
            "copyright_file": os.path.join(prefix, "share/doc", src, "copyright"),
            "built": f"from Debian's source package {src} {v} by scripts/build-static-deps.sh"}

gcc_exception = "GPL-3.0-or-later WITH GCC-exception-3.1"
components = [
    debian("glibc", f"libc6-dev{cross}" if cross else "libc6-dev", "LGPL-2.1-or-later"),
    debian("libstdc++", f"libstdc++-12-dev{cross}" if cross else "libstdc++-12-dev", gcc_exception),
    debian("libgcc", f"libgcc-12-dev{cross}" if cross else "libgcc-12-dev", gcc_exception),
    built_from_source("openssl", "openssl", deps["OPENSSL_DEBIAN_VERSION"], "Apache-2.0"),
    built_from_source("curl", "curl", deps["CURL_DEBIAN_VERSION"], "curl"),
    debian("c-ares", f"libc-ares-dev{multiarch}", "MIT"),
    debian("nlohmann-json", "nlohmann-json3-dev", "MIT"),
    debian("fmt", f"libfmt-dev{multiarch}", "MIT"),
]
digest = hashlib.sha256(open(binary, "rb").read()).hexdigest()
json.dump({"name": "consul-ecs", "version": version, "arch": arch, "license": "MPL-2.0",
           "sha256_unstripped": digest, "components": components}, sys.stdout, indent=2)
print()
PY
mv "$BUILD_DIR/consul-ecs.components.json.tmp" "$BUILD_DIR/consul-ecs.components.json"
