#!/usr/bin/env bash
# Installs what building and testing consul-ecs needs; idempotent and fast
# when everything is already there.
#   1. Debian build packages (apt-get only when one is missing)
#   2. the Python of the test bed: the pinned third-party packages
#      (tests/e2e/requirements.txt + constraints.txt) in a venv shared by every
#      checkout, $CONSUL_ECS_CACHE/venvs/<hash of the pins>, and this
#      checkout's .venv, which sees those packages and has the test bed
#      package (tests/testbed) installed editable: the Python of tests/e2e,
#      sandbox/ and bench/ is .venv/bin/python
#   3. the Consul server binary (scripts/build-consul.sh, cached)
#   4. the Terraform test bed: OpenTofu, Terraform 1.5.7 and the aws/tls/random
#      providers (scripts/build-terraform.sh, cached; ~20 min cold on 2 cores)
# Options: --deps-only (step 1 only), --venv-only (step 2 only), --no-consul (skip step 3),
#          --no-terraform (skip step 4).
# CONSUL_ECS_CACHE defaults to ~/.cache/consul-ecs-cpp.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${CONSUL_ECS_CACHE:-$HOME/.cache/consul-ecs-cpp}"
export CONSUL_ECS_CACHE="$CACHE"
DEPS_ONLY=0
VENV_ONLY=0
WITH_CONSUL=1
WITH_TERRAFORM=1
for arg in "$@"; do
  case "$arg" in
    --deps-only) DEPS_ONLY=1 ;;
    --venv-only) VENV_ONLY=1 ;;
    --no-consul) WITH_CONSUL=0 ;;
    --no-terraform) WITH_TERRAFORM=0 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

say() { echo "setup: $*" >&2; }

# ---- 1. Debian packages ----------------------------------------------------
# The static binary links Debian's static OpenSSL, zlib and c-ares archives
# and our own static libcurl (scripts/build-static-deps.sh: file, patch, xz);
# ccache is the compiler cache every build shares (CMakeLists.txt). The image
# and the container tests need podman with runc and catatonit, busybox-static
# and the CA bundle. libcurl4-openssl-dev is for the sanitizer
# build, which links dynamically. iptables and iproute2 are for the
# transparent-proxy test in network namespaces (tests/e2e/test_transparent_proxy.py).
APT_PKGS=(g++ cmake ninja-build libcurl4-openssl-dev libssl-dev zlib1g-dev libc-ares-dev
          nlohmann-json3-dev libcli11-dev libfmt-dev libgtest-dev libgmock-dev
          file patch xz-utils ca-certificates busybox-static podman runc catatonit
          iptables iproute2 ccache
          clang libclang-rt-14-dev  # the sanitizer + libFuzzer build (build-sanitize/)
          clang-format-14)          # the C++ style check (scripts/format-cpp.sh)
missing=()
for p in "${APT_PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

apt_install() {
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then sudo=(sudo); else
      say "need root (or sudo) to install: $*"; exit 1
    fi
  fi
  say "apt-get install $*"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

if ((${#missing[@]})) && [[ $VENV_ONLY -eq 0 ]]; then
  apt_install "${missing[@]}"
fi
[[ $DEPS_ONLY -eq 1 ]] && exit 0

# ---- 2. Python venvs ------------------------------------------------------------
# The third-party packages, pinned, in a venv under the cache that every
# checkout shares (the slow part: ~40 s from PyPI). It is named by the hash of
# its pins and the Python version, so checkouts with different pins each get
# their own instead of rebuilding one venv under each other's running tests.
REQ="$ROOT/tests/e2e/requirements.txt"
CONS="$ROOT/tests/e2e/constraints.txt"
PY="${CONSUL_ECS_PYTHON:-python3}"
want="$({ cat "$REQ" "$CONS"; "$PY" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
DEPS_VENV="$CACHE/venvs/${want:0:16}"
mkdir -p "$CACHE/venvs"
(
  flock 9  # one creator at a time; the others find it made
  if [[ "$(cat "$DEPS_VENV/.requirements.sha256" 2>/dev/null || true)" != "$want" ]]; then
    say "creating the shared venv of the test bed's packages at $DEPS_VENV"
    rm -rf "$DEPS_VENV"
    if ! "$PY" -m venv "$DEPS_VENV" >/dev/null 2>&1; then
      # Debian's python3 needs python3-venv for ensurepip.
      apt_install python3-venv
      rm -rf "$DEPS_VENV"
      "$PY" -m venv "$DEPS_VENV"
    fi
    "$DEPS_VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ" -c "$CONS" >&2
    echo "$want" > "$DEPS_VENV/.requirements.sha256"
  fi
) 9>"$CACHE/venvs/.lock"

# The test bed package is this checkout's code: it goes, editable, into a venv
# of the checkout (.venv) that reaches the shared packages through a .pth
# file, so two checkouts never import each other's test bed. Rebuilt (in a
# second) when the package's metadata, the shared venv or the checkout's
# path change.
VENV="$ROOT/.venv"
PKG="$ROOT/tests/testbed"
venv_want="$({ echo "$want"; echo "$ROOT"; cat "$PKG/pyproject.toml"; } | sha256sum | cut -d' ' -f1)"
venv_have="$(cat "$VENV/.testbed.sha256" 2>/dev/null || true)"
if [[ "$venv_want" != "$venv_have" || ! -x "$VENV/bin/python" ]]; then
  say "installing the test bed package (tests/testbed) into $VENV"
  rm -rf "$VENV"
  "$DEPS_VENV/bin/python" -m venv --without-pip "$VENV"
  purelib='import sysconfig; print(sysconfig.get_path("purelib"))'
  deps_site="$("$DEPS_VENV/bin/python" -c "$purelib")"
  site="$("$VENV/bin/python" -c "$purelib")"
  echo "import site; site.addsitedir('$deps_site')" > "$site/consul_ecs_shared_venv.pth"
  "$DEPS_VENV/bin/python" -m pip --python "$VENV/bin/python" install -q --disable-pip-version-check \
    --no-deps --no-build-isolation -e "$PKG" >&2
  echo "$venv_want" > "$VENV/.testbed.sha256"
fi
[[ $VENV_ONLY -eq 1 ]] && exit 0

# ---- 3. Consul ---------------------------------------------------------------
if [[ $WITH_CONSUL -eq 1 ]]; then
  CONSUL_BIN="$("$ROOT/scripts/build-consul.sh" | tail -n 1)"
  say "consul: $CONSUL_BIN"
fi

# ---- 4. Terraform test bed -----------------------------------------------------
if [[ $WITH_TERRAFORM -eq 1 ]]; then
  TF_DIR="$("$ROOT/scripts/build-terraform.sh" | tail -n 1)"
  say "terraform toolchain: $TF_DIR (TF_CLI_CONFIG_FILE=$TF_DIR/terraform.rc)"
fi
say "venv: $VENV"
