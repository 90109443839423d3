"""The Terraform test bed: the CLIs and providers that scripts/build-terraform.sh
builds (OpenTofu, Terraform 1.5.7, the aws/tls/random providers in a
filesystem mirror), and a runner for a root module applied against moto.

Shared by every Terraform module test (mesh-task, controller, dev-server,
gateway-task). Nothing here imports pytest; a missing toolchain raises
ToolchainMissing (the tests turn that into a failure, never a skip: the setup
script installs the toolchain).

Layout of a run: copy_tree() copies the repo's terraform/ tree into a temp
dir (so init never writes .terraform/ or lock files into the repo) and the
test roots of tests/e2e/tf-roots/<name> into <copy>/test-roots/<name>, where
`source = "../../modules/<module>"` reaches the copied modules.

    tc = terraform_bed.toolchain()
    tree = terraform_bed.copy_tree(tmp_path)
    root = terraform_bed.Root(tc.cli("tofu"), tree / "test-roots" / "mesh-task")
    root.init()
    root.apply({"aws_endpoint_url": moto.url})
    outputs = root.outputs()
    assert root.plan_exitcode({"aws_endpoint_url": moto.url}) == 0
    root.destroy({"aws_endpoint_url": moto.url})
"""
from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import bed as tb

CLIS = ("tofu", "terraform")
# Credentials the AWS provider sends to moto (moto accepts any key while its
# request authentication is off, which is how the Terraform tests run it).
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIATERRAFORMTEST01",
    "AWS_SECRET_ACCESS_KEY": "terraform-test-secret",
    "AWS_DEFAULT_REGION": tb.REGION,
    "AWS_REGION": tb.REGION,
}


class ToolchainMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class Cli:
    name: str           # "tofu" or "terraform"
    path: str
    cli_config: str     # TF_CLI_CONFIG_FILE

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("TF_", "AWS_")) and k != "CHECKPOINT_DISABLE"}
        env.update(FAKE_AWS_ENV)
        env.update({
            "TF_CLI_CONFIG_FILE": self.cli_config,
            "CHECKPOINT_DISABLE": "1",
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
        })
        env.update(extra or {})
        return env


_cli_configs: dict[str, str] = {}
_cli_configs_lock = threading.Lock()


@dataclass(frozen=True)
class Toolchain:
    dir: str

    @property
    def cli_config(self) -> str:
        """The toolchain's terraform.rc without its plugin_cache_dir, written
        once per process. The providers still come from the read-only
        mirror, linked into each root's .terraform/ (an unpacked mirror is
        linked, not copied); a plugin cache would be one mutable directory
        shared by every init on the machine, and it is not safe for
        concurrent use: each `tofu init` re-creates the cache's link, and a
        second init at that moment failed ("could not read package
        directory", "failed to verify checksum") with two xdist workers."""
        with _cli_configs_lock:
            path = _cli_configs.get(self.dir)
            if path is None:
                with open(os.path.join(self.dir, "terraform.rc")) as f:
                    lines = [ln for ln in f.read().splitlines(keepends=True)
                             if not ln.lstrip().startswith("plugin_cache_dir")]
                fd, path = tempfile.mkstemp(prefix="consul-ecs-tf-", suffix=".rc")
                with os.fdopen(fd, "w") as f:
                    f.writelines(lines)
                atexit.register(os.unlink, path)
                _cli_configs[self.dir] = path
            return path

    def cli(self, name: str) -> Cli:
        path = os.path.join(self.dir, "bin", name)
        if not os.access(path, os.X_OK):
            raise ToolchainMissing(f"{name} is not built ({path} missing): run scripts/setup.sh")
        return Cli(name, path, self.cli_config)


_toolchain: Toolchain | None = None


def toolchain() -> Toolchain:
    """The toolchain built by scripts/build-terraform.sh (never builds: a
    cold build takes ~20 minutes and belongs to scripts/setup.sh)."""
    global _toolchain
    if _toolchain is None:
        script = os.path.join(tb.repo_root(), "scripts", "build-terraform.sh")
        p = subprocess.run([script, "--check"], capture_output=True, text=True,
                           env=dict(os.environ, CONSUL_ECS_CACHE=tb.cache_dir()))
        if p.returncode != 0:
            raise ToolchainMissing(p.stderr.strip() or "scripts/build-terraform.sh --check failed")
        _toolchain = Toolchain(p.stdout.strip().splitlines()[-1])
    return _toolchain


def terraform_dir() -> Path:
    return Path(tb.repo_root()) / "terraform"


def tf_roots_dir() -> Path:
    """The suite's test roots (tests/e2e/tf-roots/)."""
    return Path(tb.repo_root()) / "tests" / "e2e" / "tf-roots"


def hcl_dirs() -> list[Path]:
    """Every module and example of the repo (directories with .tf files)."""
    base = terraform_dir()
    return sorted(d for kind in ("modules", "examples") for d in (base / kind).glob("*")
                  if d.is_dir() and any(d.glob("*.tf")))


SHARED_ROOT_FILES = "_shared"          # tf-roots/_shared/*.tf: copied into the roots
SHARED_PREFIX = "_shared_"             # ... under this name prefix
_PROVIDER_AWS = re.compile(r'^\s*provider\s+"aws"\s*\{', re.M)


def _has_own_aws_provider(root: Path) -> bool:
    return any(_PROVIDER_AWS.search(f.read_text()) for f in root.glob("*.tf"))


def copy_tree(dest: Path) -> Path:
    """Copies terraform/ (without state or .terraform) and the test roots into
    dest/terraform; returns that directory. Every test root without a
    provider "aws" block of its own gets tf-roots/_shared/*.tf (the terraform
    block, variable aws_endpoint_url and the provider pointed at it) as
    _shared_<name>.tf; a root that still has its own keeps it alone."""
    out = Path(dest) / "terraform"
    ignore = shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*")
    shutil.copytree(terraform_dir(), out, ignore=ignore)
    shutil.copytree(tf_roots_dir(), out / "test-roots", ignore=ignore)
    shared = sorted((tf_roots_dir() / SHARED_ROOT_FILES).glob("*.tf"))
    for root in sorted((out / "test-roots").iterdir()):
        if root.name == SHARED_ROOT_FILES or not root.is_dir() or _has_own_aws_provider(root):
            continue
        for f in shared:
            shutil.copyfile(f, root / f"{SHARED_PREFIX}{f.name}")
    return out


class TfError(AssertionError):
    pass


class Root:
    """One root module directory driven by one CLI."""

    def __init__(self, cli: Cli, workdir: Path | str, log_dir: Path | str | None = None) -> None:
        self.cli = cli
        self.workdir = str(workdir)
        self.log_dir = str(log_dir or workdir)
        self.history: list[tuple[list[str], float, int]] = []

    def run(self, *args: str, check: bool = True, timeout: float = 600,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        cmd = [self.cli.path, *args]
        start = time.monotonic()
        p = subprocess.run(cmd, cwd=self.workdir, env=self.cli.env(env), capture_output=True,
                           text=True, timeout=timeout)
        elapsed = time.monotonic() - start
        self.history.append((list(args), elapsed, p.returncode))
        with open(os.path.join(self.log_dir, f"{self.cli.name}.log"), "a") as f:
            f.write(f"$ {self.cli.name} {' '.join(args)}  # rc={p.returncode} {elapsed:.1f}s\n")
            f.write(p.stdout)
            f.write(p.stderr)
        if check and p.returncode != 0:
            raise TfError(f"{self.cli.name} {' '.join(args)} exited {p.returncode} in {self.workdir}:\n"
                          f"{p.stdout[-4000:]}\n{p.stderr[-6000:]}")
        return p

    @staticmethod
    def var_args(variables: dict[str, Any] | None) -> list[str]:
        out = []
        for k, v in (variables or {}).items():
            out.append(f"-var={k}={v if isinstance(v, str) else json.dumps(v)}")
        return out

    def init(self) -> None:
        # No lock needed: the CLI config has no plugin cache (Toolchain.cli_config),
        # so concurrent inits share nothing mutable.
        self.run("init", "-input=false", "-no-color")

    def validate(self) -> subprocess.CompletedProcess:
        return self.run("validate", "-no-color")

    def apply(self, variables: dict[str, Any] | None = None) -> None:
        self.run("apply", "-auto-approve", "-input=false", "-no-color", *self.var_args(variables))

    def plan(self, variables: dict[str, Any] | None = None, check: bool = True,
             *extra: str) -> subprocess.CompletedProcess:
        return self.run("plan", "-input=false", "-no-color", *extra, *self.var_args(variables),
                        check=check)

    def plan_exitcode(self, variables: dict[str, Any] | None = None) -> subprocess.CompletedProcess:
        """`plan -detailed-exitcode`: returncode 0 = no changes, 2 = changes, 1 = error."""
        return self.run("plan", "-detailed-exitcode", "-input=false", "-no-color",
                        *self.var_args(variables), check=False)

    def destroy(self, variables: dict[str, Any] | None = None, refresh: bool = True) -> None:
        """refresh=False skips reading every resource back first (one API call
        per resource): right after an apply or a plan the state is current."""
        self.run("destroy", "-auto-approve", "-input=false", "-no-color",
                 *([] if refresh else ["-refresh=false"]), *self.var_args(variables))

    def outputs(self) -> dict[str, Any]:
        p = self.run("output", "-json", "-no-color")
        return {k: v["value"] for k, v in json.loads(p.stdout).items()}

    def state_resources(self) -> list[str]:
        p = self.run("state", "list", check=False)
        return [line for line in p.stdout.splitlines() if line.strip()]


def run_stages(stages: list[tuple[str, Callable[[], Any]]]) -> dict[str, Future]:
    """Runs the stages one after the other in a background thread; returns a
    Future per stage name (its result, or the exception it raised). The
    Terraform tests start one such chain per CLI at session start, so the
    slow steps (provider start-up, applies) of OpenTofu and Terraform run at
    the same time while the tests consume the results in order."""
    futures: dict[str, Future] = {name: Future() for name, _ in stages}

    def work() -> None:
        for name, fn in stages:
            try:
                futures[name].set_result(fn())
            except BaseException as e:
                futures[name].set_exception(e)

    threading.Thread(target=work, name="terraform-stages", daemon=True).start()
    return futures


def moto_leftovers(moto: tb.MotoServer, needle: str) -> dict[str, list[str]]:
    """What moto still holds, of the services Terraform manages here, whose
    name or ARN contains `needle` (case-insensitive; VPCs by their Name tag):
    everything a destroy must have removed. As in AWS, deleted clusters and
    services stay INACTIVE and deregistered task definitions stay INACTIVE
    for a while: those are not leftovers."""
    n = needle.lower()

    def mine(values):
        return [v for v in values if n in v.lower()]

    ecs, iam, ec2 = moto.client("ecs"), moto.client("iam"), moto.client("ec2")
    left: dict[str, list[str]] = {}
    left["task_definitions"] = mine(ecs.list_task_definitions(status="ACTIVE")["taskDefinitionArns"])
    clusters = ecs.describe_clusters(clusters=ecs.list_clusters()["clusterArns"])["clusters"] \
        if ecs.list_clusters()["clusterArns"] else []
    left["clusters"] = mine(c["clusterArn"] for c in clusters if c["status"] != "INACTIVE")
    services = []
    for c in clusters:
        arns = ecs.list_services(cluster=c["clusterArn"])["serviceArns"]
        for i in range(0, len(arns), 10):
            services += [s["serviceArn"] for s in ecs.describe_services(
                cluster=c["clusterArn"], services=arns[i:i + 10])["services"] if s["status"] != "INACTIVE"]
    left["services"] = mine(services)
    left["roles"] = mine(r["Arn"] for r in iam.list_roles()["Roles"])
    left["policies"] = mine(p["Arn"] for p in iam.list_policies(Scope="Local")["Policies"])
    left["secrets"] = mine(s["ARN"] for s in moto.client("secretsmanager").list_secrets()["SecretList"])
    left["log_groups"] = mine(g["logGroupName"] for g in moto.client("logs").describe_log_groups()["logGroups"])
    left["vpcs"] = [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]
                    if any(t["Key"] == "Name" and n in t["Value"].lower() for t in v.get("Tags", []))]
    left["subnets"] = [x["SubnetId"] for x in ec2.describe_subnets()["Subnets"]
                       if any(t["Key"] == "Name" and n in t["Value"].lower() for t in x.get("Tags", []))]
    left["security_groups"] = mine(g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"])
    return {k: v for k, v in left.items() if v}


def validate_consul_ecs_config(binary: str, config_json: str, workdir: str) -> tuple[bool, str]:
    """Runs our own config validator on a rendered CONSUL_ECS_CONFIG_JSON:
    `consul-ecs control-plane` validates the config before anything else
    and exits 1 with "invalid config:" when it is wrong; a valid config gets
    as far as reading the ECS task metadata, which fails here (no
    ECS_CONTAINER_METADATA_URI_V4). Returns (valid, output)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CONSUL_", "AWS_", "ECS_"))}
    env["CONSUL_ECS_CONFIG_JSON"] = config_json
    env["CONSUL_ECS_HEALTH_LISTEN_ADDR"] = "127.0.0.1:0"
    p = subprocess.run([binary, "control-plane"], env=env, cwd=workdir, capture_output=True,
                       text=True, timeout=30)
    out = p.stdout + p.stderr
    valid = "invalid config" not in out and "ECS_CONTAINER_METADATA_URI_V4 is not set" in out
    return valid, out


def plan_changes(root: Root, variables: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """A saved plan's resource changes (`plan -out` + `show -json`), other
    than no-ops: [{address, actions, changed}] with `changed` the top-level
    attributes whose planned value differs from the current one. For a second
    plan that must be empty except for named moto gaps."""
    plan_file = os.path.join(root.workdir, "second.tfplan")
    root.run("plan", "-input=false", "-no-color", f"-out={plan_file}", *Root.var_args(variables))
    shown = json.loads(root.run("show", "-json", "-no-color", plan_file).stdout)
    out = []
    for rc in shown.get("resource_changes", []):
        change = rc["change"]
        if change["actions"] in (["no-op"], ["read"]):
            continue
        before, after = change.get("before") or {}, change.get("after") or {}
        changed = sorted(k for k in set(before) | set(after)
                         if before.get(k) != after.get(k) or k in (change.get("after_unknown") or {}))
        out.append({"address": rc["address"], "actions": change["actions"], "changed": changed})
    return out


def validate_controller_config(binary: str, config_json: str, workdir: str) -> tuple[bool, str]:
    """validate_consul_ecs_config() for the controller: `consul-ecs
    controller` validates its config first (exit 1, "invalid config:"), then
    fails on the missing ECS task metadata. Returns (valid, output)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CONSUL_", "AWS_", "ECS_"))}
    env["CONSUL_ECS_CONFIG_JSON"] = config_json
    p = subprocess.run([binary, "controller"], env=env, cwd=workdir, capture_output=True,
                       text=True, timeout=30)
    out = p.stdout + p.stderr
    valid = "invalid config" not in out and "ECS_CONTAINER_METADATA_URI_V4 is not set" in out
    return valid, out


def validate_v010_config(binary: str, command: str, config_json: str, workdir: str) -> tuple[bool, str]:
    """validate_consul_ecs_config() for the split layout's commands,
    `consul-ecs mesh-init` or `health-sync`: each checks CONSUL_ECS_CONFIG_JSON
    against the v0.10.0 schema first (exit 1, "invalid config:"); a valid
    config gets as far as the next step, which fails here: reading the task
    metadata (no ECS_CONTAINER_METADATA_URI_V4) or, for mesh-init with the
    transparent proxy, its NET_ADMIN check (which comes first and depends on
    the machine). Returns (valid, output)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CONSUL_", "AWS_", "ECS_"))}
    env["CONSUL_ECS_CONFIG_JSON"] = config_json
    p = subprocess.run([binary, command], env=env, cwd=workdir, capture_output=True,
                       text=True, timeout=30)
    out = p.stdout + p.stderr
    next_step = "ECS_CONTAINER_METADATA_URI_V4 is not set" in out or (
        command == "mesh-init" and "NET_ADMIN" in out)
    return p.returncode != 0 and "invalid config" not in out and next_step, out


@dataclass
class Applied:
    """A root applied by apply_root(): the root, its outputs, the variables
    it was applied with (every later plan or destroy must pass them too)."""
    root: Root
    out: dict[str, Any]
    variables: dict[str, Any]

    @property
    def name(self) -> str:
        """The root's `name` variable: the prefix of everything it creates."""
        return self.variables.get("name", "")


def apply_root(cli: Cli, workdir: Path | str, variables: dict[str, Any]) -> Applied:
    root = Root(cli, workdir)
    root.init()
    root.apply(variables)
    return Applied(root, root.outputs(), dict(variables))


ChainBuilder = Callable[[Cli, Path, Any], list[tuple[str, Callable[[], Any]]]]


@contextlib.contextmanager
def per_cli_chains(tc: Toolchain, make_dir: Callable[[str], Path], build: ChainBuilder,
                   clis: tuple[str, ...] = CLIS, moto_factory: Callable[[Path], Any] | None = None
                   ) -> Iterator[dict[str, dict[str, Any] | Exception]]:
    """Starts, per CLI, a moto of its own, a copy of the tree (copy_tree) and
    build(cli, tree, moto)'s stages in a background chain (run_stages), all
    CLIs at once; yields {cli: {"tree", "moto", <stage>: Future, ...}} (or the
    ToolchainMissing of a CLI that is not built) and stops the motos after.
    make_dir(label) gives a fresh directory (tmp_path_factory.mktemp).
    A moto per CLI: one moto serving two chains at once answers so slowly
    under load that the provider retries requests moto did carry out (a
    RegisterTaskDefinition twice: the first revision is then orphaned)."""
    factory = moto_factory or (lambda d: tb.MotoServer(str(d)).start())
    out: dict[str, dict[str, Any] | Exception] = {}
    motos = []
    try:
        for name in clis:
            try:
                cli = tc.cli(name)
            except ToolchainMissing as e:
                out[name] = e
                continue
            moto = factory(make_dir(f"moto-{name}"))
            motos.append(moto)
            tree = copy_tree(make_dir(f"tree-{name}"))
            out[name] = dict(tree=tree, moto=moto, **run_stages(build(cli, tree, moto)))
        yield out
    finally:
        for m in motos:
            m.stop()
