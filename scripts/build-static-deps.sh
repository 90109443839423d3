#!/usr/bin/env bash
# Builds the static OpenSSL and libcurl that the fully static consul-ecs
# links, for one architecture, from Debian 12's source packages (with
# Debian's patches), with only what consul-ecs uses:
#   OpenSSL 3.0: a TLS 1.2/1.3 client with X.509 verification, SHA-2 and
#     HMAC (AWS SigV4), AES-GCM and ChaCha20-Poly1305; every other algorithm,
#     protocol, engine and loadable module is configured out (no-* below).
#   libcurl 7.88.1: HTTP/1.1 and HTTPS over that OpenSSL, c-ares as the
#     resolver (it reads /etc/resolv.conf itself, so no glibc NSS is needed at
#     run time); no proxy (consul-ecs sets NOPROXY=*), cookies, auth schemes,
#     compression, alt-svc, HSTS, DoH, netrc or MIME.
# Both are compiled with -ffunction-sections -fdata-sections so the final
# link's --gc-sections drops what is unused. c-ares is Debian's static
# archive for the architecture (libc-ares-dev, libc-ares-dev:arm64).
#
#   scripts/build-static-deps.sh [--arch amd64|arm64]     (default amd64)
#
# Pinned and verified: curl's upstream tarball must match CURL_ORIG_SHA256;
# the Debian revisions (the newest of curl 7.88.1 and of OpenSSL 3.0 that the
# archive serves) are checked by apt against the archive's signed index.
#
# Cached at ${CONSUL_ECS_CACHE:-~/.cache/consul-ecs-cpp}/static-deps-<arch>-<recipe>-<openssl>-<curl>/
# (<recipe>: a hash of this script, so a changed recipe rebuilds): lib/,
# include/, lib/cmake/CURL, share/doc/{openssl,curl}/copyright and
# versions.env (what was built: the SBOM reads it). A second run returns at
# once without network. The last line printed on stdout is the prefix.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${CONSUL_ECS_CACHE:-$HOME/.cache/consul-ecs-cpp}"
CURL_UPSTREAM=7.88.1
CURL_ORIG_SHA256=cdb38b72e36bc5d33d5b8810f8018ece1baa29a8f215b4495e495ded82bbf3c7
OPENSSL_SERIES=3.0.
# Debian's last two curl patches turn the tree into the GnuTLS and NSS
# flavours; the OpenSSL flavour is the series before them.
FIRST_FLAVOUR_PATCH=90_gnutls.patch
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
ARCH=amd64
while (($#)); do
  case "$1" in
    --arch) ARCH="${2:-}"; shift ;;
    --arch=*) ARCH="${1#--arch=}" ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "build-static-deps: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
# shellcheck source=arch.sh
source "$ROOT/scripts/arch.sh"
arch_select "$ARCH" build-static-deps || exit 2

say() { echo "build-static-deps: $*" >&2; }
# The recipe is the files' contents (not their paths: every checkout shares the cache).
RECIPE="$(cat "${BASH_SOURCE[0]}" "$ROOT/scripts/arch.sh" "$ROOT/cmake/toolchain-arm64.cmake" | sha256sum | cut -c1-10)"

cached=$(ls -d "$CACHE"/static-deps-"$ARCH"-"$RECIPE"-*/.complete 2>/dev/null | sort -V | tail -n 1 || true)
if [[ -n "$cached" && -z "${CONSUL_ECS_REFRESH_DEPS:-}" ]]; then
  dirname "$cached"
  exit 0
fi

# The project's own apt configuration for source packages: the machine's
# sources.list is left alone.
APT_DIR="$CACHE/apt-src"
mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
cat >"$APT_DIR/sources.list" <<'EOF'
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main
EOF
APT_OPTS=(-o "Dir::Etc::SourceList=$APT_DIR/sources.list" -o "Dir::Etc::SourceParts=/nonexistent"
          -o "Dir::State::Lists=$APT_DIR/lists" -o "Dir::Cache=$APT_DIR/cache" -o "APT::Sandbox::User=root")

revisions() {  # <source package> <upstream version prefix>: newest first
  apt-cache "${APT_OPTS[@]}" showsrc "$1" 2>/dev/null |
    awk -v up="$2" '$1 == "Version:" && index($2, up) == 1 {print $2}' | sort -V -r
}
# The newest revision whose source files the archive really serves (a
# security upload's sources can lag behind its index); downloaded into $PWD.
fetch_newest() {  # <source package> <upstream version prefix> -> prints the version
  local version
  for version in $(revisions "$1" "$2"); do
    if apt-get "${APT_OPTS[@]}" -qq source --download-only "$1=$version" >/dev/null 2>&1; then
      echo "$version"; return 0
    fi
    say "$1 $version: the archive does not serve its sources; trying the previous revision"
  done
  return 1
}

# One apt at a time on the shared index (parallel builds per architecture).
exec 9>"$APT_DIR/.lock"
flock 9
say "reading Debian's source index"
apt-get "${APT_OPTS[@]}" -qq update >&2
SRC="$CACHE/static-deps-src"  # the downloaded source packages, shared by the architectures
mkdir -p "$SRC"
CURL_DEB="$(cd "$SRC" && fetch_newest curl "$CURL_UPSTREAM-")" ||
  { say "the archive serves no curl $CURL_UPSTREAM source package"; exit 1; }
OPENSSL_DEB="$(cd "$SRC" && fetch_newest openssl "$OPENSSL_SERIES")" ||
  { say "the archive serves no openssl ${OPENSSL_SERIES}x source package"; exit 1; }
flock -u 9
PREFIX="$CACHE/static-deps-$ARCH-$RECIPE-$OPENSSL_DEB-$CURL_DEB"
if [[ -f "$PREFIX/.complete" ]]; then echo "$PREFIX"; exit 0; fi
for tool in "$ARCH_CC" perl make patch; do
  command -v "$tool" >/dev/null || { say "missing $tool (scripts/setup.sh installs it)"; exit 1; }
done
[[ -f "$ARCH_LIBDIR/libcares.a" ]] || { say "missing $ARCH_LIBDIR/libcares.a (scripts/setup.sh installs libc-ares-dev${ARCH_PKG_SUFFIX})"; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/static-deps.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
LOG="$WORK/build.log"
rm -rf "$PREFIX"
# Size over speed for the C code (OpenSSL's hot paths are its assembly);
# OpenSSL never unwinds through C++ frames, so it needs no unwind tables
# (libcurl keeps them: it calls back into consul-ecs).
SECTIONS="-ffunction-sections -fdata-sections"
OPENSSL_CFLAGS="-Os -fno-asynchronous-unwind-tables -fno-unwind-tables $SECTIONS"
CURL_CFLAGS="-Os $SECTIONS"
say "building static OpenSSL $OPENSSL_DEB and libcurl $CURL_DEB for $ARCH (a few minutes on 2 cores)"
# Not `( ... ) || handler`: bash ignores set -e inside a subshell that is the
# left side of ||, so a failed step would go unnoticed.
set +e
(
  set -ex
  cd "$WORK"

  # ---- OpenSSL ----
  mkdir openssl && tar -xf "$SRC"/openssl_"${OPENSSL_DEB%%-*}".orig.tar.gz -C openssl --strip-components=1
  tar -xJf "$SRC"/openssl_"$OPENSSL_DEB".debian.tar.xz -C openssl
  cd openssl
  if [[ -f debian/patches/series ]]; then
    while read -r p _; do
      [[ -z "$p" || "$p" == \#* ]] && continue
      patch -p1 --quiet --forward <"debian/patches/$p"
    done <debian/patches/series
  fi
  # shellcheck disable=SC2086  # word splitting of the flag lists is meant
  ./Configure "$ARCH_OPENSSL_TARGET" ${ARCH_CROSS_PREFIX:+--cross-compile-prefix=$ARCH_CROSS_PREFIX} \
    --prefix="$PREFIX" --libdir=lib --openssldir=/etc/ssl \
    no-shared no-module no-legacy no-engine no-dso no-async no-comp no-ct no-dtls no-ssl3 no-srp \
    no-psk no-idea no-camellia no-seed no-bf no-cast no-des no-md4 no-mdc2 no-rc2 no-rc4 no-rc5 \
    no-whirlpool no-sm2 no-sm3 no-sm4 no-gost no-cms no-ts no-srtp no-sctp no-ocsp no-aria \
    no-blake2 no-siphash no-ec2m no-dsa no-dh no-rmd160 no-scrypt no-ocb no-siv no-cmp \
    no-ui-console no-autoload-config no-nextprotoneg no-dgram no-tests no-filenames \
    no-afalgeng no-capieng no-padlockeng no-devcryptoeng no-loadereng no-deprecated \
    -DOPENSSL_SMALL_FOOTPRINT $OPENSSL_CFLAGS
  make -j "$JOBS" build_libs
  make install_dev
  mkdir -p "$PREFIX/share/doc/openssl" && cp debian/copyright "$PREFIX/share/doc/openssl/copyright"
  cd "$WORK"

  # ---- libcurl ----
  echo "$CURL_ORIG_SHA256  $SRC/curl_$CURL_UPSTREAM.orig.tar.gz" | sha256sum -c --quiet -
  mkdir curl && tar -xzf "$SRC/curl_$CURL_UPSTREAM.orig.tar.gz" -C curl --strip-components=1
  tar -xJf "$SRC"/curl_"$CURL_DEB".debian.tar.xz -C curl
  cd curl
  while read -r p _; do
    [[ -z "$p" || "$p" == \#* ]] && continue
    [[ "$p" == "$FIRST_FLAVOUR_PATCH" ]] && break
    patch -p1 --quiet --forward <"debian/patches/$p"
  done <debian/patches/series
  cmake -S . -B build -G Ninja "${ARCH_CMAKE_ARGS[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$PREFIX" -DCMAKE_INSTALL_LIBDIR=lib \
    -DCMAKE_C_FLAGS_RELEASE="-DNDEBUG" -DCMAKE_C_FLAGS="$CURL_CFLAGS -fPIC -DCURL_PATCHSTAMP=\\\"$CURL_DEB\\\"" \
    -DBUILD_SHARED_LIBS=OFF -DBUILD_CURL_EXE=OFF -DBUILD_TESTING=OFF -DCURL_STATIC_CRT=OFF \
    -DHTTP_ONLY=ON -DCURL_DISABLE_LDAP=ON -DCURL_DISABLE_LDAPS=ON -DCURL_DISABLE_COOKIES=ON \
    -DCURL_DISABLE_PROXY=ON -DCURL_DISABLE_ALTSVC=ON -DCURL_DISABLE_HSTS=ON -DCURL_DISABLE_DOH=ON \
    -DCURL_DISABLE_NETRC=ON -DCURL_DISABLE_MIME=ON -DCURL_DISABLE_HTTP_AUTH=ON -DCURL_DISABLE_NTLM=ON \
    -DCURL_DISABLE_CRYPTO_AUTH=ON -DCURL_DISABLE_GETOPTIONS=ON -DCURL_DISABLE_PROGRESS_METER=ON \
    -DCURL_DISABLE_OPENSSL_AUTO_LOAD_CONFIG=ON -DENABLE_UNIX_SOCKETS=OFF -DCURL_ZLIB=OFF \
    -DCURL_USE_OPENSSL=ON -DOPENSSL_ROOT_DIR="$PREFIX" -DOPENSSL_USE_STATIC_LIBS=TRUE \
    -DENABLE_ARES=ON -DCARES_LIBRARY="$ARCH_LIBDIR/libcares.a" \
    -DCURL_USE_LIBPSL=OFF -DCURL_USE_LIBSSH2=OFF -DCURL_USE_GSSAPI=OFF -DUSE_NGHTTP2=OFF \
    -DUSE_LIBIDN2=OFF -DCURL_BROTLI=OFF -DCURL_ZSTD=OFF -DENABLE_MANUAL=OFF \
    -DCURL_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt -DCURL_CA_PATH=none
  cmake --build build -j "$JOBS"
  cmake --install build
  mkdir -p "$PREFIX/share/doc/curl" && cp debian/copyright "$PREFIX/share/doc/curl/copyright"
) >"$LOG" 2>&1
status=$?
set -e
if ((status != 0)); then
  say "build failed; last lines of its log ($LOG, kept):"; tail -n 40 "$LOG" >&2; trap - EXIT; exit 1
fi

# What was built, for the SBOM and `consul-ecs version`: never typed by hand.
for lib in "$PREFIX/lib/libssl.a" "$PREFIX/lib/libcrypto.a" "$PREFIX/lib/libcurl.a"; do
  arch_check_objects "$lib" || exit 1
done
cat >"$PREFIX/versions.env" <<EOF
ARCH=$ARCH
OPENSSL_DEBIAN_VERSION=$OPENSSL_DEB
CURL_DEBIAN_VERSION=$CURL_DEB
CARES_DEBIAN_VERSION=$(dpkg-query -W -f='${Version}' "libc-ares-dev$ARCH_PKG_SUFFIX")
EOF
cp "$LOG" "$PREFIX/build.log"
echo "$RECIPE" >"$PREFIX/.complete"
echo "$PREFIX"
