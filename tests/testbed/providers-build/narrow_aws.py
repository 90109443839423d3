#!/usr/bin/env python3
"""Narrows a copy of the AWS provider's source to a few AWS services.

The provider registers every AWS service it knows in two generated files:
  internal/provider/sdkv2/service_packages_gen.go  (the service packages)
  internal/conns/awsclient_gen.go                  (one client accessor each)
Built as is, that is ~2,000 packages (79 CPU-minutes, 12 GB to link). The
test bed only needs the services our Terraform modules use, so this rewrites
both files in place:
  1. service_packages_gen.go keeps the imports and `x.ServicePackage(ctx)`
     entries of the services given on the command line;
  2. awsclient_gen.go keeps the accessors that some Go package in the
     narrowed build still calls (found with `go list -deps`, so a service
     package that calls another service's client keeps it), and the imports
     those accessors use.
It fails loudly if a file no longer has the expected generated shape, so a
new provider snapshot cannot silently build a broken binary.

Usage: narrow_aws.py <provider source dir> <service> [<service>...]
"""
import json
import os
import re
import subprocess
import sys

SP_FILE = "internal/provider/sdkv2/service_packages_gen.go"
CLIENT_FILE = "internal/conns/awsclient_gen.go"
MODULE = "github.com/hashicorp/terraform-provider-aws"


def die(msg):
    sys.exit(f"narrow_aws: {msg}")


def split_imports(text, path):
    m = re.search(r"^import \(\n(.*?)^\)\n", text, re.S | re.M)
    if not m:
        die(f"{path}: no import block")
    return m, [l for l in m.group(1).split("\n") if l.strip()]


def import_name(line):
    m = re.match(r'\s*(?:(\w+)\s+)?"([^"]+)"\s*$', line)
    if not m:
        die(f"unexpected import line {line!r}")
    return m.group(1) or m.group(2).rsplit("/", 1)[-1], m.group(2)


def narrow_service_packages(src, keep):
    path = os.path.join(src, SP_FILE)
    text = open(path).read()
    m, lines = split_imports(text, SP_FILE)
    prefix = MODULE + "/internal/service/"
    kept_imports = []
    found = set()
    for line in lines:
        _, imp = import_name(line)
        if imp.startswith(prefix):
            svc = imp[len(prefix):]
            if svc in keep:
                kept_imports.append(line)
                found.add(svc)
        else:
            kept_imports.append(line)
    missing = set(keep) - found
    if missing:
        die(f"{SP_FILE}: services not in this provider: {sorted(missing)}")
    text = text[: m.start(1)] + "\n".join(kept_imports) + "\n" + text[m.end(1):]
    entry = re.compile(r"^\t\t(\w+)\.ServicePackage\(ctx\),\n", re.M)
    if len(entry.findall(text)) < 100:
        die(f"{SP_FILE}: the servicePackages list has an unexpected shape")
    text = entry.sub(lambda e: e.group(0) if e.group(1) in keep else "", text)
    open(path, "w").write(text)


def called_accessors(src):
    """Names X of every `.XClient(ctx` call in the packages the build needs."""
    env = dict(os.environ, GOFLAGS="-mod=readonly")
    out = subprocess.run(
        ["go", "list", "-deps", "-json=ImportPath,Dir,GoFiles", "."],
        cwd=src, env=env, check=True, capture_output=True, text=True).stdout
    dec = json.JSONDecoder()
    pos, names = 0, set()
    call = re.compile(r"\.(\w+)Client\(")
    while pos < len(out):
        while pos < len(out) and out[pos].isspace():
            pos += 1
        if pos >= len(out):
            break
        pkg, pos = dec.raw_decode(out, pos)
        if not pkg.get("ImportPath", "").startswith(MODULE):
            continue
        for f in pkg.get("GoFiles", []):
            if pkg["ImportPath"] == MODULE + "/internal/conns" and f == "awsclient_gen.go":
                continue
            names.update(call.findall(open(os.path.join(pkg["Dir"], f)).read()))
    return names


def narrow_clients(src):
    path = os.path.join(src, CLIENT_FILE)
    text = open(path).read()
    needed = called_accessors(src)
    acc = re.compile(
        r"^func \(c \*AWSClient\) (\w+)Client\(ctx context\.Context\) \*(\w+)\.Client \{\n"
        r".*?^\}\n\n?", re.S | re.M)
    methods = acc.findall(text)
    if len(methods) < 100:
        die(f"{CLIENT_FILE}: the client accessors have an unexpected shape")
    used_pkgs = set()

    def keep(m):
        if m.group(1) in needed:
            used_pkgs.add(m.group(2))
            return m.group(0)
        return ""

    text = acc.sub(keep, text)
    m, lines = split_imports(text, CLIENT_FILE)
    sdk = "github.com/aws/aws-sdk-go-v2/service/"
    kept = [l for l in lines
            if not import_name(l)[1].startswith(sdk) or import_name(l)[0] in used_pkgs]
    text = text[: m.start(1)] + "\n".join(kept) + "\n" + text[m.end(1):]
    open(path, "w").write(text)
    return sorted(n for n in needed if any(n == x for x, _ in methods))


def main():
    if len(sys.argv) < 3:
        die("usage: narrow_aws.py <provider source dir> <service>...")
    src, keep = sys.argv[1], set(sys.argv[2:])
    narrow_service_packages(src, keep)
    clients = narrow_clients(src)
    print(f"narrow_aws: {len(keep)} service packages, {len(clients)} clients: "
          f"{', '.join(clients)}")


if __name__ == "__main__":
    main()
