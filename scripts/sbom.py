#!/usr/bin/env python3
"""Writes the release's SBOM, CycloneDX 1.5 JSON, from what was really built
and shipped (no version typed by hand):

  scripts/sbom.py --version V --out FILE \
      --arch amd64 BINARY COMPONENTS_JSON ROOTFS_DIR [--arch arm64 ...]

Per architecture: the consul-ecs binary (SHA-256 of the shipped, stripped
file) with what is linked into it (COMPONENTS_JSON, written by
scripts/build.sh: glibc, libstdc++, libgcc, OpenSSL, libcurl, c-ares,
nlohmann-json, fmt, with the Debian versions built or installed), and the
image (ROOTFS_DIR, its exported root file system): every Debian package its
/var/lib/dpkg/status.d names, with the exact version and, as
evidence.occurrences, the image files that come from it (status.d's
.md5sums). The binary's occurrences are /bin/consul-ecs and /usr/bin/curl.
Every ELF file of the image must belong to a component, else this fails
naming the file.
"""
import argparse
import datetime
import hashlib
import json
import os
import sys
import uuid

# SPDX license expressions of the Debian packages the image takes files from
# (their debian/copyright files are in the image under /usr/share/doc).
DEBIAN_LICENSES = {
    "busybox-static": "GPL-2.0-only",
    "iptables": "GPL-2.0-or-later",
    "libxtables12": "GPL-2.0-or-later",
    "libip4tc2": "GPL-2.0-or-later",
    "libip6tc2": "GPL-2.0-or-later",
    "libnftnl11": "GPL-2.0-or-later",
    "libmnl0": "LGPL-2.1-or-later",
    "libc6": "LGPL-2.1-or-later",
    "ca-certificates": "MPL-2.0 AND GPL-2.0-or-later",
    "netbase": "GPL-2.0-only",
}


def fail(message):
    sys.exit(f"sbom.py: {message}")


def license_entry(expression):
    if " " in expression:
        return [{"expression": expression}]
    return [{"license": {"id": expression}}]


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def parse_status(path):
    fields, key = {}, None
    with open(path) as f:
        for line in f:
            if line.startswith((" ", "\t")) and key:
                continue
            if ":" in line:
                key, value = line.split(":", 1)
                fields[key] = value.strip()
    return fields


def is_elf(path):
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def arch_components(arch, binary, components_json, rootfs, version):
    platform = f"linux/{arch}"
    built = json.load(open(components_json))
    if built["arch"] != arch:
        fail(f"{components_json} is for {built['arch']}, not {arch}")
    out, deps = [], []
    binary_ref = f"consul-ecs@{platform}"
    linked_refs = []
    for c in built["components"]:
        ref = f"{platform}:linked:{c['name']}"
        entry = {
            "type": "library", "bom-ref": ref, "name": c["name"], "version": c["version"],
            "licenses": license_entry(c["license"]), "purl": c["purl"],
            "properties": [{"name": "consul-ecs:linked-into", "value": "/bin/consul-ecs"},
                           {"name": "consul-ecs:debian-package", "value": c["package"]}],
        }
        if c.get("built"):
            entry["properties"].append({"name": "consul-ecs:built", "value": c["built"]})
        out.append(entry)
        linked_refs.append(ref)
    out.append({
        "type": "application", "bom-ref": binary_ref, "name": "consul-ecs", "version": version,
        "licenses": license_entry("MPL-2.0"),
        "hashes": [{"alg": "SHA-256", "content": sha256(binary)}],
        "properties": [{"name": "consul-ecs:platform", "value": platform},
                       {"name": "consul-ecs:linking", "value": "static"}],
        "evidence": {"occurrences": [{"location": "/bin/consul-ecs"}, {"location": "/usr/bin/curl"}]},
    })
    deps.append({"ref": binary_ref, "dependsOn": linked_refs})

    status_dir = os.path.join(rootfs, "var/lib/dpkg/status.d")
    if not os.path.isdir(status_dir):
        fail(f"{rootfs} has no /var/lib/dpkg/status.d")
    owned = {"/bin/consul-ecs", "/usr/bin/curl"}
    package_refs = []
    for name in sorted(os.listdir(status_dir)):
        if name.endswith(".md5sums"):
            continue
        st = parse_status(os.path.join(status_dir, name))
        pkg, pkg_version, pkg_arch = st.get("Package"), st.get("Version"), st.get("Architecture")
        if pkg != name or not pkg_version or not pkg_arch:
            fail(f"status.d/{name}: Package, Version or Architecture missing or wrong")
        if pkg_arch not in (arch, "all"):
            fail(f"status.d/{name}: Architecture {pkg_arch} in the {platform} image")
        if pkg not in DEBIAN_LICENSES:
            fail(f"no license known for Debian package {pkg}: add it to DEBIAN_LICENSES")
        files = []
        md5 = os.path.join(status_dir, name + ".md5sums")
        if os.path.exists(md5):
            with open(md5) as f:
                files = ["/" + line.split(None, 1)[1].strip() for line in f if line.strip()]
        owned.update(files)
        ref = f"{platform}:deb:{pkg}"
        purl_version = pkg_version.replace(":", "%3A")
        entry = {
            "type": "library", "bom-ref": ref, "name": pkg, "version": pkg_version,
            "licenses": license_entry(DEBIAN_LICENSES[pkg]),
            "purl": f"pkg:deb/debian/{pkg}@{purl_version}?arch={pkg_arch}&distro=debian-12",
            "properties": [{"name": "consul-ecs:debian-source", "value": st.get("Source", pkg).split()[0]}],
        }
        if files:
            entry["evidence"] = {"occurrences": [{"location": f} for f in files]}
        out.append(entry)
        package_refs.append(ref)

    unlisted = []
    for top, _, names in os.walk(rootfs):
        for n in names:
            path = os.path.join(top, n)
            rel = "/" + os.path.relpath(path, rootfs)
            if os.path.isfile(path) and not os.path.islink(path) and is_elf(path) and rel not in owned:
                unlisted.append(rel)
    if unlisted:
        fail(f"ELF files of the {platform} image that no component lists: {', '.join(sorted(unlisted))}")

    image_ref = f"image@{platform}"
    out.append({
        "type": "container", "bom-ref": image_ref, "name": "consul-ecs", "version": version,
        "licenses": license_entry("MPL-2.0"),
        "properties": [{"name": "consul-ecs:platform", "value": platform}],
    })
    deps.append({"ref": image_ref, "dependsOn": [binary_ref] + package_refs})
    return out, deps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--arch", nargs=4, action="append", required=True,
                        metavar=("ARCH", "BINARY", "COMPONENTS_JSON", "ROOTFS"))
    parser.add_argument("--revision", default="")
    args = parser.parse_args()
    components, dependencies = [], []
    for arch, binary, components_json, rootfs in args.arch:
        c, d = arch_components(arch, binary, components_json, rootfs, args.version)
        components += c
        dependencies += d
    # A stable timestamp for a given commit (reproducible): its commit time.
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = datetime.datetime.fromtimestamp(int(epoch), datetime.UTC) if epoch else \
        datetime.datetime.now(datetime.UTC)
    serial = uuid.uuid5(uuid.NAMESPACE_URL, f"consul-ecs/{args.version}/{args.revision}")
    images = [d["ref"] for d in dependencies if d["ref"].startswith("image@")]
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{serial}",
        "version": 1,
        "metadata": {
            "timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tools": {"components": [{"type": "application", "name": "consul-ecs scripts/sbom.py",
                                      "version": args.version}]},
            "component": {"type": "application", "bom-ref": "consul-ecs", "name": "consul-ecs",
                          "version": args.version, "licenses": license_entry("MPL-2.0"),
                          "properties": [{"name": "consul-ecs:revision", "value": args.revision or "unknown"}]},
        },
        "components": components,
        "dependencies": [{"ref": "consul-ecs", "dependsOn": images}] + dependencies,
    }
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(bom, f, indent=2)
        f.write("\n")
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
