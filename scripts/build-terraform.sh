#!/usr/bin/env bash
# Builds the Terraform test bed toolchain from the Go module proxy (the
# Terraform and OpenTofu registries are not reachable from the build
# machines) and caches it in
#   ${CONSUL_ECS_CACHE:-$HOME/.cache/consul-ecs-cpp}/terraform-<key>/
#     bin/tofu         OpenTofu v1.12.6      (tests/testbed/tofu-build)
#     bin/terraform    Terraform v1.5.7, the last MPL release (tests/testbed/terraform-build)
#     mirror/          filesystem mirror with the aws, tls and random providers
#                      (tests/testbed/providers-build), for registry.terraform.io
#                      and registry.opentofu.org
#     terraform.rc     CLI config that installs providers from mirror/ only
#     env              the variables to export (TF_CLI_CONFIG_FILE, CHECKPOINT_DISABLE,
#                      CONSUL_ECS_TOFU, CONSUL_ECS_TERRAFORM)
#     logs/*.log       one build log per component
# <key> is a hash of everything pinned (wrapper go.mod/go.sum, the AWS
# service list and the narrowing script): a second run returns at once.
# The AWS provider is built from a copy of its source whose generated service
# registry is narrowed to the services our modules use (narrow_aws.py).
# Go builds run under `nice -n 10` with GOFLAGS=-mod=readonly: the committed
# go.sum files must be complete; nothing is resolved silently.
# Options: --tofu-only (skip Terraform 1.5.7); --check (build nothing: print
# the directory if the toolchain is complete, else exit 1; the tests use it).
# The last line printed on stdout is the toolchain directory.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BED="$ROOT/tests/testbed"
CACHE="${CONSUL_ECS_CACHE:-$HOME/.cache/consul-ecs-cpp}"
WITH_TERRAFORM=1
CHECK_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --tofu-only) WITH_TERRAFORM=0 ;;
    --check) CHECK_ONLY=1 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "build-terraform: unknown option $arg" >&2; exit 2 ;;
  esac
done

# shellcheck source=lib/progress.sh
source "$ROOT/scripts/lib/progress.sh"
say() { echo "build-terraform: $*" >&2; }
die() { say "$*"; exit 1; }

# The services our modules manage (Terraform resource and data source
# families); "meta" holds aws_region / aws_partition / aws_caller_identity's
# helpers. Add one here when a module starts using a new AWS service.
AWS_SERVICES=(ec2 ecs elbv2 iam logs meta organizations secretsmanager servicediscovery sts)

# Provider folder versions in the mirror: the release each pinned snapshot
# follows (the snapshots are main-branch pseudo-versions; any semver works for
# the folder, and these satisfy the modules' version constraints).
declare -A PROVIDER_MODULE=(
  [aws]=github.com/hashicorp/terraform-provider-aws
  [tls]=github.com/hashicorp/terraform-provider-tls
  [random]=github.com/terraform-providers/terraform-provider-random
)
declare -A PROVIDER_VERSION=([aws]=6.48.0 [tls]=4.3.0 [random]=3.9.0)

gomod_version() { # <go.mod> <module path>
  local v
  v="$(awk -v m="$2" '($1 == "require" && $2 == m) {print $3} ($1 == m) {print $2}' "$1" | head -n 1)"
  [[ -n "$v" ]] || die "cannot read the $2 version from $1"
  echo "$v"
}
TOFU_VERSION="$(gomod_version "$BED/tofu-build/go.mod" github.com/opentofu/opentofu)"
TF_VERSION="$(gomod_version "$BED/terraform-build/go.mod" github.com/hashicorp/terraform)"

KEY="$( { cat "$BED"/tofu-build/go.{mod,sum} "$BED"/terraform-build/go.{mod,sum} \
              "$BED"/providers-build/go.{mod,sum} "$BED"/providers-build/narrow_aws.py
          echo "${AWS_SERVICES[*]}"
          for p in aws tls random; do echo "$p=${PROVIDER_VERSION[$p]}"; done
        } | sha256sum | cut -c1-12)"
DIR="$CACHE/terraform-$KEY"
PLATFORM="$(go env GOOS 2>/dev/null || echo linux)_$(go env GOARCH 2>/dev/null || echo amd64)"

# (The machine may preset TF_CLI_CONFIG_FILE to a missing file: the CLIs then
# print a warning, so the version checks use an empty config.)
cli_version() { TF_CLI_CONFIG_FILE=/dev/null CHECKPOINT_DISABLE=1 "$1" version 2>/dev/null | head -n 1; }
tofu_ok() { [[ -x "$DIR/bin/tofu" ]] && [[ "$(cli_version "$DIR/bin/tofu")" == "OpenTofu ${TOFU_VERSION}" ]]; }
terraform_ok() { [[ -x "$DIR/bin/terraform" ]] && [[ "$(cli_version "$DIR/bin/terraform")" == "Terraform ${TF_VERSION}" ]]; }
provider_bin() { echo "$DIR/mirror/registry.terraform.io/hashicorp/$1/${PROVIDER_VERSION[$1]}/$PLATFORM/terraform-provider-$1_v${PROVIDER_VERSION[$1]}"; }
provider_ok() {
  local p="$1" b; b="$(provider_bin "$p")"
  [[ -x "$b" && -x "${b/registry.terraform.io/registry.opentofu.org}" ]]
}
all_ok() {
  tofu_ok || return 1
  if [[ $WITH_TERRAFORM -eq 1 ]]; then terraform_ok || return 1; fi
  for p in aws tls random; do provider_ok "$p" || return 1; done
  [[ -f "$DIR/terraform.rc" && -f "$DIR/env" ]]
}

if all_ok; then
  echo "$DIR"
  exit 0
fi
if [[ $CHECK_ONLY -eq 1 ]]; then
  die "the Terraform toolchain is not built (expected in $DIR): run scripts/setup.sh or scripts/build-terraform.sh"
fi

command -v go >/dev/null 2>&1 || die "'go' is not on PATH; a Go toolchain (>= 1.26.6) is needed"
command -v python3 >/dev/null 2>&1 || die "python3 is needed to narrow the AWS provider"
mkdir -p "$DIR/bin" "$DIR/logs" "$DIR/src"
export CGO_ENABLED=0
export GOTOOLCHAIN=local
export GOFLAGS="-mod=readonly -buildvcs=false"
TOTAL_START=$(date +%s)

# go_build <name> <dir> <package> <output> [ldflags]: builds in <dir>, logs to logs/<name>.log
go_build() {
  local name="$1" dir="$2" pkg="$3" out="$4" ldflags="-s ${5:-}" log="$DIR/logs/$1.log" start
  say "building $name (log: $log)"
  start=$(date +%s)
  mkdir -p "$(dirname "$out")"
  # A minute-by-minute line: these builds take minutes and print nothing.
  if ! with_heartbeat "build-terraform: building $name" \
       bash -c 'cd "$1" && nice -n 10 go build -trimpath -ldflags="$2" -o "$3" "$4" >"$5" 2>&1' _ \
       "$dir" "$ldflags" "$out.tmp.$$" "$pkg" "$log"; then
    rm -f "$out.tmp.$$"
    say "go build of $name failed; last lines of $log:"
    tail -n 40 "$log" >&2
    exit 1
  fi
  mv -f "$out.tmp.$$" "$out"
  echo "build took $(( $(date +%s) - start ))s" >>"$log"
  say "$name built in $(( $(date +%s) - start ))s"
}

# module_source <module path>: downloads the module pinned by providers-build,
# checks its hash against the committed go.sum and prints its directory.
module_source() {
  local mod="$1" json dir sum want
  json="$(cd "$BED/providers-build" && go mod download -json "$mod")" || die "go mod download $mod failed"
  dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$json")"
  sum="$(sed -n 's/^[[:space:]]*"Sum": "\(.*\)",$/\1/p' <<<"$json")"
  want="$(awk -v m="$mod" '$1 == m && $2 !~ /\/go.mod$/ {print $3}' "$BED/providers-build/go.sum")"
  [[ -n "$dir" && -d "$dir" ]] || die "no source directory for $mod"
  [[ -n "$want" && "$sum" == "$want" ]] || die "$mod: hash $sum does not match go.sum ($want)"
  echo "$dir"
}

# build_provider <type>: copy of the pinned source -> (narrow) -> build -> mirror
build_provider() {
  local p="$1" mod="${PROVIDER_MODULE[$1]}" src copy bin
  src="$(module_source "$mod")"
  copy="$DIR/src/$p"
  rm -rf "$copy"
  cp -r "$src" "$copy"
  chmod -R u+w "$copy"   # the module cache is read-only
  if [[ "$p" == aws ]]; then
    say "narrowing the AWS provider to: ${AWS_SERVICES[*]}"
    python3 "$BED/providers-build/narrow_aws.py" "$copy" "${AWS_SERVICES[@]}" >&2 \
      || die "narrowing the AWS provider failed"
  fi
  bin="$(provider_bin "$p")"
  go_build "provider-$p" "$copy" . "$bin"
  # OpenTofu looks providers up under registry.opentofu.org and does not
  # follow a symlinked folder: a real folder, with a hard link (or a copy).
  local tofu_bin="${bin/registry.terraform.io/registry.opentofu.org}"
  mkdir -p "$(dirname "$tofu_bin")"
  ln -f "$bin" "$tofu_bin" 2>/dev/null || cp -f "$bin" "$tofu_bin"
  rm -rf "$copy"
}

# version.dev=no: a release build (as OpenTofu's own release flags), else it reports v<version>-dev.
tofu_ok || go_build tofu "$BED/tofu-build" github.com/opentofu/opentofu/cmd/tofu "$DIR/bin/tofu" \
  "-X github.com/opentofu/opentofu/version.dev=no"
tofu_ok || die "bin/tofu does not report OpenTofu $TOFU_VERSION"
if [[ $WITH_TERRAFORM -eq 1 ]]; then
  terraform_ok || go_build terraform "$BED/terraform-build" github.com/hashicorp/terraform "$DIR/bin/terraform"
  terraform_ok || die "bin/terraform does not report Terraform $TF_VERSION"
fi
for p in tls random aws; do
  provider_ok "$p" || build_provider "$p"
done

mkdir -p "$DIR/plugin-cache"
cat >"$DIR/terraform.rc" <<EOF
# Written by scripts/build-terraform.sh: providers come from the local mirror
# only (the registries are not reachable from the test machines).
disable_checkpoint = true
plugin_cache_dir   = "$DIR/plugin-cache"
provider_installation {
  filesystem_mirror {
    path    = "$DIR/mirror"
    include = ["registry.terraform.io/hashicorp/*", "registry.opentofu.org/hashicorp/*"]
  }
}
EOF
{
  echo "export TF_CLI_CONFIG_FILE=$DIR/terraform.rc"
  echo "export CHECKPOINT_DISABLE=1"
  echo "export CONSUL_ECS_TOFU=$DIR/bin/tofu"
  [[ -x "$DIR/bin/terraform" ]] && echo "export CONSUL_ECS_TERRAFORM=$DIR/bin/terraform"
} >"$DIR/env"
rmdir "$DIR/src" 2>/dev/null || true
say "toolchain ready in $(( $(date +%s) - TOTAL_START ))s: $DIR"
echo "$DIR"
