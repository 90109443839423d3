# Sourced by the build scripts: what differs between the architectures we
# ship (the build machine is amd64; arm64 is cross-built with Debian's cross
# toolchain and run under qemu-user-static).
#   arch_select <arch> <program>   sets the ARCH_* variables; unknown -> error
#   arch_check_binary <file> <program>   fails unless <file> is a static ELF of ARCH
#   arch_check_objects <archive>   fails unless every object in it is of ARCH
#   arch_run <file> [args...]      runs an ELF of ARCH (through qemu for arm64)
SUPPORTED_ARCHES="amd64, arm64"

arch_select() {
  local arch="$1" program="$2"
  ARCH="$arch"
  case "$arch" in
    amd64)
      ARCH_TRIPLET=x86_64-linux-gnu
      ARCH_CROSS_PREFIX=
      ARCH_PKG_SUFFIX=
      ARCH_OPENSSL_TARGET=linux-x86_64
      ARCH_CMAKE_ARGS=()
      ARCH_FILE_WORDS="x86-64"          # what file(1) says
      ARCH_ELF_MACHINE="X86-64"         # what readelf -h says (Machine:)
      ARCH_LOADER=/lib64/ld-linux-x86-64.so.2
      ARCH_QEMU=()
      ;;
    arm64)
      ARCH_TRIPLET=aarch64-linux-gnu
      ARCH_CROSS_PREFIX=aarch64-linux-gnu-
      ARCH_PKG_SUFFIX=:arm64
      ARCH_OPENSSL_TARGET=linux-aarch64
      ARCH_CMAKE_ARGS=(-DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/toolchain-arm64.cmake")
      ARCH_FILE_WORDS="ARM aarch64"
      ARCH_ELF_MACHINE="AArch64"
      ARCH_LOADER=/lib/ld-linux-aarch64.so.1
      ARCH_QEMU=(qemu-aarch64-static)
      ;;
    *)
      echo "$program: unknown architecture '${arch}'; supported: $SUPPORTED_ARCHES" >&2
      return 2
      ;;
  esac
  ARCH_CC="${ARCH_CROSS_PREFIX}gcc"
  ARCH_CXX="${ARCH_CROSS_PREFIX}g++"
  ARCH_STRIP="${ARCH_CROSS_PREFIX}strip"
  ARCH_LIBDIR="/usr/lib/$ARCH_TRIPLET"
  return 0
}

arch_check_binary() {
  local file="$1" program="$2" what
  what="$(file -L "$file" 2>&1)"
  if [[ "$what" != *"$ARCH_FILE_WORDS"* ]]; then
    echo "$program: $file is not a $ARCH ($ARCH_FILE_WORDS) executable: ${what#*: }" >&2
    return 1
  fi
  if [[ "$what" != *"statically linked"* && "$what" != *"static-pie linked"* ]]; then
    echo "$program: $file is not statically linked: ${what#*: }" >&2
    return 1
  fi
}

arch_check_objects() {
  local archive="$1" machines
  machines="$(readelf -h "$archive" 2>/dev/null | awk -F: '/Machine:/ {gsub(/^ +/, "", $2); print $2}' | sort -u)"
  if [[ -z "$machines" || "$machines" == *$'\n'* || "$machines" != *"$ARCH_ELF_MACHINE"* ]]; then
    echo "$archive: objects are for '${machines//$'\n'/, }', not $ARCH ($ARCH_ELF_MACHINE)" >&2
    return 1
  fi
}

arch_run() {
  "${ARCH_QEMU[@]}" "$@"
}
