#!/usr/bin/env bash
# Builds the static libcurl (and a static curl tool for the image's health
# check) that the fully static consul-ecs links, from Debian's source package
# of curl 7.88.1 with Debian's security patches, with only what we use:
# HTTP/1.1 and HTTPS over OpenSSL, c-ares as the resolver (it reads
# /etc/resolv.conf itself, so no glibc NSS is needed at run time), zlib.
#
# Pinned and verified: the upstream tarball must match CURL_ORIG_SHA256; the
# Debian revision (the newest 7.88.1 one the archive serves) is checked by apt
# against the archive's signed index, and is part of the cache key.
#
# Cached at ${CONSUL_ECS_CACHE:-~/.cache/consul-ecs-cpp}/curl-static-<debian version>/
# (prefix with lib/, include/, bin/curl). A second run returns at once.
# The last line printed on stdout is the prefix.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${CONSUL_ECS_CACHE:-$HOME/.cache/consul-ecs-cpp}"
CURL_UPSTREAM=7.88.1
CURL_ORIG_SHA256=cdb38b72e36bc5d33d5b8810f8018ece1baa29a8f215b4495e495ded82bbf3c7
# Debian's last two patches of the series turn the tree into the GnuTLS and
# NSS flavours; the OpenSSL flavour is the series before them.
FIRST_FLAVOUR_PATCH=90_gnutls.patch
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"

say() { echo "build-static-deps: $*" >&2; }

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

# The newest Debian revision of the pinned upstream version. The index is
# refreshed only when no cached build matches (a warm run needs no network).
newest_revision() {
  apt-cache "${APT_OPTS[@]}" showsrc curl 2>/dev/null |
    awk -v up="$CURL_UPSTREAM" '$1 == "Version:" && index($2, up "-") == 1 {print $2}' |
    sort -V | tail -n 1
}
cached=$(ls -d "$CACHE"/curl-static-"$CURL_UPSTREAM"-*/.complete 2>/dev/null | sort -V | tail -n 1 || true)
if [[ -n "$cached" && -z "${CONSUL_ECS_REFRESH_CURL:-}" ]]; then
  echo "$(dirname "$cached")"
  exit 0
fi

say "reading Debian's source index"
apt-get "${APT_OPTS[@]}" -qq update >&2
DEB_VERSION="$(newest_revision)"
[[ -n "$DEB_VERSION" ]] || { say "the archive serves no curl $CURL_UPSTREAM source package"; exit 1; }
PREFIX="$CACHE/curl-static-$DEB_VERSION"
if [[ -f "$PREFIX/.complete" ]]; then echo "$PREFIX"; exit 0; fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/curl-static.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
LOG="$WORK/build.log"
say "building static libcurl $DEB_VERSION (about 2 minutes on 2 cores)"
(
  cd "$WORK"
  apt-get "${APT_OPTS[@]}" -qq source --download-only "curl=$DEB_VERSION"
  echo "$CURL_ORIG_SHA256  curl_$CURL_UPSTREAM.orig.tar.gz" | sha256sum -c --quiet -
  mkdir src && tar -xzf "curl_$CURL_UPSTREAM.orig.tar.gz" -C src --strip-components=1
  tar -xJf curl_"${DEB_VERSION}".debian.tar.xz -C src
  cd src
  while read -r patch _; do
    [[ -z "$patch" || "$patch" == \#* ]] && continue
    [[ "$patch" == "$FIRST_FLAVOUR_PATCH" ]] && break
    patch -p1 --quiet --forward <"debian/patches/$patch"
  done <debian/patches/series
  L=/usr/lib/x86_64-linux-gnu
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$PREFIX" \
    -DCMAKE_C_FLAGS="-O2 -fPIC -DCURL_PATCHSTAMP=\\\"$DEB_VERSION\\\"" \
    -DBUILD_SHARED_LIBS=OFF -DBUILD_CURL_EXE=ON -DBUILD_TESTING=OFF -DCURL_STATIC_CRT=OFF \
    -DCMAKE_EXE_LINKER_FLAGS=-static \
    -DHTTP_ONLY=ON -DCURL_DISABLE_LDAP=ON -DCURL_DISABLE_LDAPS=ON -DCURL_DISABLE_COOKIES=ON \
    -DCURL_USE_OPENSSL=ON -DOPENSSL_USE_STATIC_LIBS=TRUE \
    -DENABLE_ARES=ON -DCARES_LIBRARY="$L/libcares.a" \
    -DZLIB_LIBRARY="$L/libz.a" \
    -DCURL_USE_LIBPSL=OFF -DCURL_USE_LIBSSH2=OFF -DCURL_USE_GSSAPI=OFF -DUSE_NGHTTP2=OFF \
    -DUSE_LIBIDN2=OFF -DCURL_BROTLI=OFF -DCURL_ZSTD=OFF -DENABLE_MANUAL=OFF \
    -DCURL_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt -DCURL_CA_PATH=none
  cmake --build build -j "$JOBS"
  cmake --install build
) >"$LOG" 2>&1 || { say "build failed; last lines of its log:"; tail -n 40 "$LOG" >&2; exit 1; }

# The static curl tool must really be static: the image has no loader.
if ! file "$PREFIX/bin/curl" | grep -q 'statically linked'; then
  say "$PREFIX/bin/curl is not statically linked"; exit 1
fi
cp "$LOG" "$PREFIX/build.log"
echo "$DEB_VERSION" >"$PREFIX/.complete"
echo "$PREFIX"
