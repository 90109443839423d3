#!/usr/bin/env python3
"""What is linked into a static consul-ecs, with the versions really built
or installed (never typed by hand), as JSON on stdout: the SBOM
(scripts/sbom.py), the release's THIRD_PARTY_LICENSES and the image's
license folder read it. scripts/build.sh writes it next to the binary as
consul-ecs.components.json.

  scripts/binary-components.py ARCH DEPS_PREFIX BINARY VERSION
"""
import hashlib
import json
import os
import subprocess
import sys

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
    # amd64: the build machine's own -dev packages; arm64: Debian's cross
    # toolchain's (architecture all, *-arm64-cross).
    debian("glibc", f"libc6-dev{cross}" if cross else "libc6-dev:amd64", "LGPL-2.1-or-later"),
    debian("libstdc++", f"libstdc++-12-dev{cross}" if cross else "libstdc++-12-dev:amd64", gcc_exception),
    debian("libgcc", f"libgcc-12-dev{cross}" if cross else "libgcc-12-dev:amd64", gcc_exception),
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
