"""The release bundle (`make release` = scripts/release.sh) and the images it
holds, read as a user, a scanner and a registry would read them.

The bundle is $CONSUL_ECS_DIST (scripts/test.sh's release phase writes one),
else this module makes one with `scripts/release.sh --skip-build --out <tmp>`
from the existing builds (build/, build-arm64/) and images (scripts/build-image.sh
--manifest). Checked: SHA256SUMS verifies and covers every file; the zips
are upstream's layout plus the licenses; each binary is a static ELF of its
architecture and runs (arm64 under qemu); the SBOM is valid CycloneDX 1.5
(the schema CycloneDX publishes, as its Python library ships it), its
versions are what was built and installed, and every ELF file of each image
belongs to one of its components; each OCI archive has only files of its
architecture, a dpkg status.d entry with the exact Debian version for every
package a file comes from (with md5sums that match the files), busybox with
`sh` only, curl answered by consul-ecs, the LICENSE; the OCI index names
linux/amd64 and linux/arm64; the modules tarball pins the image to VERSION;
the arm64 image's binaries run (podman through binfmt_misc when registered,
else qemu-aarch64-static directly); the workflows pass actionlint, which does
reject a broken one.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tarfile
import zipfile

import pytest

from consul_ecs_testbed import bed as tb

ROOT = tb.repo_root()
ARCHES = {"amd64": 62, "arm64": 183}  # ELF e_machine
FILE_WORDS = {"amd64": "x86-64", "arm64": "ARM aarch64"}


def version() -> str:
    with open(os.path.join(ROOT, "VERSION")) as f:
        return f.read().strip()


def image_ref() -> str:
    with open(os.path.join(ROOT, "image", "image.env")) as f:
        for line in f:
            if line.startswith("IMAGE_REF="):
                return line.strip().split("=", 1)[1]
    raise AssertionError("image/image.env has no IMAGE_REF")


def run(*cmd, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 900)
    return subprocess.run(list(cmd), **kw)


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> str:
    given = os.environ.get("CONSUL_ECS_DIST")
    if given:
        return given
    out = tmp_path_factory.mktemp("dist") / version()
    p = run(os.path.join(ROOT, "scripts", "release.sh"), "--skip-build", "--out", str(out), cwd=ROOT)
    assert p.returncode == 0, p.stderr[-4000:]
    return str(out)


def elf_machine(data: bytes) -> int | None:
    if data[:4] != b"\x7fELF":
        return None
    return int.from_bytes(data[18:20], "little")


class OciImage:
    """One image of an OCI archive: its config and its files (layers applied)."""

    def __init__(self, archive: str):
        self.files: dict[str, bytes] = {}
        self.links: dict[str, str] = {}
        with tarfile.open(archive) as outer:
            def blob(digest: str) -> bytes:
                return outer.extractfile("blobs/sha256/" + digest.split(":", 1)[1]).read()
            index = json.loads(outer.extractfile("index.json").read())
            assert len(index["manifests"]) == 1, index
            manifest = json.loads(blob(index["manifests"][0]["digest"]))
            self.config = json.loads(blob(manifest["config"]["digest"]))
            for layer in manifest["layers"]:
                with tarfile.open(fileobj=io.BytesIO(blob(layer["digest"]))) as t:
                    for m in t.getmembers():
                        name = "/" + m.name.lstrip("./")
                        if m.isfile():
                            self.files[name] = t.extractfile(m).read()
                        elif m.issym():
                            self.links[name] = m.linkname

    def elves(self) -> dict[str, int]:
        return {p: m for p, data in self.files.items() if (m := elf_machine(data)) is not None}

    def status(self) -> dict[str, dict[str, str]]:
        entries = {}
        prefix = "/var/lib/dpkg/status.d/"
        for path, data in self.files.items():
            if path.startswith(prefix) and not path.endswith(".md5sums"):
                fields = {}
                for line in data.decode().splitlines():
                    if line and not line[0].isspace() and ":" in line:
                        k, v = line.split(":", 1)
                        fields[k] = v.strip()
                entries[path[len(prefix):]] = fields
        return entries


@pytest.fixture(scope="module")
def images(dist) -> dict[str, OciImage]:
    return {arch: OciImage(os.path.join(dist, f"consul-ecs_{version()}_linux_{arch}.oci.tar")) for arch in ARCHES}


def test_sha256sums_verify_and_cover_the_bundle(dist, tmp_path):
    v = version()
    expected = {f"consul-ecs_{v}_linux_{a}{ext}" for a in ARCHES for ext in ("", ".zip", ".oci.tar")}
    expected |= {f"consul-ecs_{v}_oci-index.tar", f"consul-ecs-terraform-modules_{v}.tar.gz",
                 f"consul-ecs_{v}.cdx.json"}
    assert set(os.listdir(dist)) == expected | {"SHA256SUMS"}
    p = run("sha256sum", "-c", "SHA256SUMS", cwd=dist)
    assert p.returncode == 0, p.stdout + p.stderr
    listed = {line.split(None, 1)[1].strip() for line in open(os.path.join(dist, "SHA256SUMS"))}
    assert listed == expected
    # Tampering is caught.
    # A file that changed after the sums were written is caught.
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    for name in expected:
        os.symlink(os.path.join(dist, name), tampered / name)
    os.unlink(tampered / f"consul-ecs_{v}.cdx.json")
    (tampered / f"consul-ecs_{v}.cdx.json").write_text("{}")
    (tampered / "SHA256SUMS").write_text(open(os.path.join(dist, "SHA256SUMS")).read())
    p = run("sha256sum", "--quiet", "-c", "SHA256SUMS", cwd=str(tampered))
    assert p.returncode != 0 and f"consul-ecs_{v}.cdx.json: FAILED" in p.stdout


@pytest.mark.parametrize("arch", ARCHES)
def test_binary_and_zip(dist, arch):
    v = version()
    binary = os.path.join(dist, f"consul-ecs_{v}_linux_{arch}")
    described = run("file", "-b", binary).stdout
    assert FILE_WORDS[arch] in described and "statically linked" in described and "stripped" in described, described
    with zipfile.ZipFile(binary + ".zip") as z:
        assert sorted(z.namelist()) == ["LICENSE", "THIRD_PARTY_LICENSES", "consul-ecs"]
        assert z.read("consul-ecs") == open(binary, "rb").read()
        assert z.getinfo("consul-ecs").external_attr >> 16 & 0o111, "consul-ecs is executable in the zip"
        assert z.read("LICENSE") == open(os.path.join(ROOT, "LICENSE"), "rb").read()
        notices = z.read("THIRD_PARTY_LICENSES").decode()
        for name in ("glibc", "libstdc++", "openssl", "curl", "c-ares", "nlohmann-json", "fmt"):
            assert f"\n{name} " in notices, name
    p = run(binary, "version", timeout=60)  # arm64: through binfmt_misc or...
    if p.returncode != 0 and arch == "arm64":
        p = run("qemu-aarch64-static", binary, "version", timeout=60)  # ...qemu directly
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0] == f"consul-ecs v{v}"


def test_sbom_is_valid_cyclonedx_and_lists_what_was_built(dist, images):
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    v = version()
    path = os.path.join(dist, f"consul-ecs_{v}.cdx.json")
    text = open(path).read()
    error = JsonStrictValidator(SchemaVersion.V1_5).validate_str(text)
    assert error is None, str(error)
    # The validator does reject a broken document (it is not a no-op).
    broken = json.loads(text)
    broken["components"][0]["type"] = "not-a-type"
    assert JsonStrictValidator(SchemaVersion.V1_5).validate_str(json.dumps(broken)) is not None

    bom = json.loads(text)
    assert bom["metadata"]["component"]["version"] == v
    by_ref = {c["bom-ref"]: c for c in bom["components"]}
    for arch in ARCHES:
        platform = f"linux/{arch}"
        binary = by_ref[f"consul-ecs@{platform}"]
        digest = hashlib.sha256(open(os.path.join(dist, f"consul-ecs_{v}_linux_{arch}"), "rb").read()).hexdigest()
        assert binary["hashes"] == [{"alg": "SHA-256", "content": digest}]
        assert hashlib.sha256(images[arch].files["/bin/consul-ecs"]).hexdigest() == digest
        linked = {c["name"]: c for c in bom["components"] if c["bom-ref"].startswith(f"{platform}:linked:")}
        assert set(linked) == {"glibc", "libstdc++", "libgcc", "openssl", "curl", "c-ares", "nlohmann-json", "fmt"}
        # Versions are what dpkg has installed / what was built, not typed.
        cross = ":amd64" if arch == "amd64" else f"-{arch}-cross"
        for name, pkg in (("glibc", f"libc6-dev{cross}"), ("libstdc++", f"libstdc++-12-dev{cross}"),
                          ("c-ares", f"libc-ares-dev:{arch}"), ("fmt", f"libfmt-dev:{arch}"),
                          ("nlohmann-json", "nlohmann-json3-dev")):
            installed = run("dpkg-query", "-W", "-f=${Version}", pkg).stdout
            assert linked[name]["version"] == installed, (name, pkg)
        for name in ("openssl", "curl"):
            assert f"pkg:deb/debian/{name}@" in linked[name]["purl"] and "arch=source" in linked[name]["purl"]
        assert linked["curl"]["version"].startswith("7.88.1-")
        assert linked["openssl"]["version"].startswith("3.0.")
        for c in linked.values():
            assert c.get("licenses"), c["name"]
        # Every ELF file of the image is a listed occurrence of a component.
        occurrences = {o["location"] for c in bom["components"] if c["bom-ref"].startswith(platform)
                       or c["bom-ref"] == f"consul-ecs@{platform}"
                       for o in c.get("evidence", {}).get("occurrences", [])}
        missing = sorted(set(images[arch].elves()) - occurrences)
        assert not missing, f"{platform}: ELF files the SBOM does not list: {missing}"
        debs = {c["name"]: c for c in bom["components"] if c["bom-ref"].startswith(f"{platform}:deb:")}
        for pkg, fields in images[arch].status().items():
            assert debs[pkg]["version"] == fields["Version"], pkg
        for needed in ("busybox-static", "iptables", "libc6", "ca-certificates"):
            assert needed in debs, needed


@pytest.mark.parametrize("arch", ARCHES)
def test_image_files_are_of_its_architecture_and_scanners_can_read_it(images, arch):
    img = images[arch]
    assert img.config["architecture"] == arch and img.config["os"] == "linux"
    elves = img.elves()
    assert "/bin/consul-ecs" in elves and "/bin/busybox" in elves and "/usr/sbin/xtables-nft-multi" in elves
    wrong = {p: m for p, m in elves.items() if m != ARCHES[arch]}
    assert not wrong, f"files of another architecture in the {arch} image: {wrong}"

    status = img.status()
    assert {"busybox-static", "iptables", "libc6", "libxtables12", "libnftnl11", "libmnl0",
            "ca-certificates"} <= set(status)
    for pkg, fields in status.items():
        assert fields["Package"] == pkg and fields["Status"] == "install ok installed"
        assert fields["Architecture"] in (arch, "all"), (pkg, fields["Architecture"])
        if fields["Architecture"] == arch:
            candidate = run("apt-cache", "policy", f"{pkg}:{arch}").stdout
            if "Consul-Ecs-Built-From" in fields:  # busybox: Debian's source version (binNMUs add +bN)
                assert f"Candidate: {fields['Version']}\n" in candidate or \
                    f"Candidate: {fields['Version']}+b" in candidate, (pkg, fields["Version"], candidate)
                assert fields["Source"] in fields["Consul-Ecs-Built-From"]
            else:
                assert f"Candidate: {fields['Version']}\n" in candidate, (pkg, fields["Version"], candidate)
        else:
            assert fields["Version"] == run("dpkg-query", "-W", "-f=${Version}", pkg).stdout
        assert f"/usr/share/doc/{pkg}/copyright" in img.files, pkg
        sums = img.files.get(f"/var/lib/dpkg/status.d/{pkg}.md5sums", b"").decode()
        for line in sums.splitlines():
            digest, name = line.split(None, 1)
            assert hashlib.md5(img.files["/" + name.strip()]).hexdigest() == digest, name
    release = img.files["/etc/os-release"].decode()
    assert "ID=debian" in release and 'VERSION_ID="12"' in release

    # busybox reduced to `sh`; curl is consul-ecs; no second TLS stack.
    bin_links = {p: t for p, t in img.links.items() if p.startswith("/bin/")}
    assert bin_links == {"/bin/sh": "busybox"}, bin_links
    assert img.links["/usr/bin/curl"] == "../../bin/consul-ecs"
    assert not any("libssl" in p or "libcurl" in p for p in img.files), "no shared OpenSSL/libcurl"
    assert img.files["/usr/share/doc/consul-ecs/LICENSE"] == open(os.path.join(ROOT, "LICENSE"), "rb").read()
    components = json.loads(img.files["/usr/share/doc/consul-ecs/components.json"])
    assert components["arch"] == arch
    for c in components["components"]:
        assert f"/usr/share/doc/consul-ecs/third-party/{c['name']}/copyright" in img.files, c["name"]
    labels = img.config["config"]["Labels"]
    assert labels["org.opencontainers.image.version"] == version()
    assert labels["org.opencontainers.image.licenses"] == "MPL-2.0"


def test_oci_index_names_both_platforms(dist):
    with tarfile.open(os.path.join(dist, f"consul-ecs_{version()}_oci-index.tar")) as t:
        names = set(t.getnames())
        index = json.loads(t.extractfile("./index.json").read())

        def blob(digest):
            return json.loads(t.extractfile("./blobs/sha256/" + digest.split(":", 1)[1]).read())
        manifests = index["manifests"]
        # podman writes the list itself as the layout's one entry.
        if len(manifests) == 1 and "manifest.list" in manifests[0]["mediaType"] or \
                len(manifests) == 1 and "index" in manifests[0]["mediaType"]:
            manifests = blob(manifests[0]["digest"])["manifests"]
        platforms = sorted(f"{m['platform']['os']}/{m['platform']['architecture']}" for m in manifests)
        assert platforms == ["linux/amd64", "linux/arm64"]
        for m in manifests:
            assert "./blobs/sha256/" + m["digest"].split(":", 1)[1] in names, m


def test_modules_tarball_pins_the_image_to_the_version(dist):
    v = version()
    with tarfile.open(os.path.join(dist, f"consul-ecs-terraform-modules_{v}.tar.gz")) as t:
        names = set(t.getnames())
        for module in ("mesh-task", "gateway-task", "controller", "dev-server"):
            assert f"consul-ecs-terraform-modules_{v}/{module}/main.tf" in names, module
        mesh_vars = t.extractfile(f"consul-ecs-terraform-modules_{v}/mesh-task/variables.tf").read().decode()
        mesh_main = t.extractfile(f"consul-ecs-terraform-modules_{v}/mesh-task/main.tf").read().decode()
    assert f'default     = "{image_ref()}"' in mesh_vars
    assert image_ref().endswith(":" + v)
    assert f'module_version = "{v}"' in mesh_main


def test_version_copies_agree_and_a_stale_one_is_named(tmp_path):
    p = run(os.path.join(ROOT, "scripts", "version.sh"), "--check")
    assert p.returncode == 0, p.stderr
    # A copy of the tree with VERSION bumped: --check names every stale file,
    # --apply fixes them all.
    copy = tmp_path / "tree"
    copy.mkdir()
    for part in ("scripts", "image", "terraform", "VERSION"):
        assert run("cp", "-r", os.path.join(ROOT, part), str(copy)).returncode == 0
    (copy / "VERSION").write_text("9.8.7\n")
    p = run(str(copy / "scripts" / "version.sh"), "--check")
    assert p.returncode == 1
    for stale in ("image/image.env", "terraform/modules/mesh-task/variables.tf",
                  "terraform/modules/mesh-task/main.tf", "terraform/modules/controller/variables.tf",
                  "terraform/modules/gateway-task/main.tf"):
        assert stale in p.stderr, stale
    assert run(str(copy / "scripts" / "version.sh"), "--apply").returncode == 0
    assert run(str(copy / "scripts" / "version.sh"), "--check").returncode == 0
    assert "IMAGE_REF=ghcr.io/consul-ecs-cpp/consul-ecs:9.8.7" in (copy / "image" / "image.env").read_text()
    (copy / "VERSION").write_text("nine\n")
    p = run(str(copy / "scripts" / "version.sh"))
    assert p.returncode == 1 and "VERSION must hold one version" in p.stderr


def test_arm64_image_binaries_run(dist, images, tmp_path):
    """busybox's sh, consul-ecs (and as curl) and iptables of the arm64 image."""
    env = dict(os.environ, CONTAINERS_CONF=os.path.join(ROOT, "image", "containers.conf"))
    ref = f"localhost/consul-ecs:{version()}-arm64"
    # The image has no `head`: one marker line between the outputs, first lines kept.
    # iptables: the legacy backend (under qemu-user the nft one cannot open its
    # netlink socket: "Protocol not supported"); same libraries and loader.
    script = "consul-ecs version; echo @@; curl --version; echo @@; iptables-legacy --version; echo @@; echo sh-ok"
    if os.path.exists("/proc/sys/fs/binfmt_misc/qemu-aarch64"):
        p = run("podman", "run", "--rm", "--platform", "linux/arm64", "--entrypoint", "/bin/sh", ref, "-c", script,
                env=env, timeout=120)
        assert p.returncode == 0, p.stderr
        lines = [part.strip().splitlines()[0] for part in p.stdout.split("@@\n")]
    else:
        root = tmp_path / "rootfs"
        for path, data in images["arm64"].files.items():
            target = root / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            target.chmod(0o755)
        for path, link in images["arm64"].links.items():
            target = root / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                os.symlink(link, target)
        q = ["qemu-aarch64-static", "-L", str(root)]
        legacy = str(root / "usr/sbin/xtables-legacy-multi")
        lines = [run(*q, str(root / "bin/consul-ecs"), "version").stdout.splitlines()[0],
                 run(*q, "-0", "curl", str(root / "bin/consul-ecs"), "--version").stdout.splitlines()[0],
                 run(*q, "-0", "iptables-legacy", legacy, "--version").stdout.strip(),
                 run(*q, str(root / "bin/busybox"), "sh", "-c", "echo sh-ok").stdout.strip()]
    assert lines[0] == f"consul-ecs v{version()}"
    assert lines[1].startswith("curl 7.88.1 (consul-ecs ")
    assert lines[2] == "iptables v1.8.9 (legacy)", lines[2]
    assert lines[3] == "sh-ok"


def test_workflows_pass_actionlint_which_rejects_a_broken_one(tmp_path):
    lint = os.path.join(ROOT, "scripts", "lint-workflows.sh")
    p = run(lint)
    assert p.returncode == 0, p.stdout + p.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n"
                      "      - run: echo ${{ github.no_such_context }}\n")
    p = run(lint, str(broken))
    assert p.returncode != 0 and "no_such_context" in p.stdout + p.stderr
    for name in ("ci.yml", "release.yml"):
        text = open(os.path.join(ROOT, ".github", "workflows", name)).read()
        assert "make test" in text, name
    assert "make release" in open(os.path.join(ROOT, ".github", "workflows", "release.yml")).read()
