"""pytest fixtures of the real test bed.

Session-wide: moto (IAM+STS, signature checking on), a Consul server with
ACLs (default deny) and the aws-iam auth method, the ECS agent emulator.
Per test: an ECS task in the emulator (own cluster, so its own Consul node),
a bootstrap dir, and run_control_plane() to start the binary under test.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from consul_ecs_testbed import bed as tb
from consul_ecs_testbed import terraform_bed as tfb
from consul_ecs_testbed.ecs_agent_emulator import ContainerSpec, EcsAgentEmulator, Task

# The shared names, re-exported: the tests import them from here.
from consul_ecs_testbed.suite import (
    API_ROLE,
    APP,
    CONTROL_PLANE,
    DATAPLANE,
    GATEWAY_ROLES,
    UNTRUSTED_ROLE,
    WEB_ROLE,
    base_config,
    register_cluster_node,
)
from consul_ecs_testbed.suite import SCRUBBED_ENV as _SCRUBBED_ENV


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs_binary: runs the consul-ecs binary under test")


# --------------------------------------------------------------------------
# Parallel runs (pytest-xdist, --dist loadgroup; pytest.ini)
# --------------------------------------------------------------------------
# Every test has its own ports (tb.free_port: a slice per worker), temp dirs,
# clusters, namespaces and subnets (tb.pick_subnet: a share per worker), and
# each worker its own session bed (moto, Consul, emulator). What must stay on
# one worker is grouped here; every other test goes wherever a worker is free.
#   - a Terraform file: its module fixture `stages` applies the roots with
#     both CLIs at once in the background; on two workers it would apply all
#     of it twice;
#   - test_containers.py: one podman network for the module (its
#     remove_leftovers() removes every pod of the bed's prefix);
#   - test_sandbox.py: its tests are steps of one flow per layout (module
#     fixture `flow`), in order; and two whole sandboxes at once (7 tasks
#     each, with health checks on timers) overloaded a busy 2-core machine:
#     neither booted within 120 s at load 25, one after the other both passed.
def _xdist_group(item: pytest.Item) -> str | None:
    module = item.path.stem
    if module.startswith("test_terraform_") or module in ("test_containers", "test_sandbox"):
        return module
    return None


@pytest.hookimpl(tryfirst=True)  # before xdist reads the marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        group = _xdist_group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


# --------------------------------------------------------------------------
# Session test bed
# --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def testbed_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("testbed"))


@pytest.fixture(scope="session")
def moto(testbed_dir: str):
    m = tb.MotoServer(os.path.join(testbed_dir, "moto")).start()
    yield m
    m.stop()


@pytest.fixture(scope="session")
def aws(moto: tb.MotoServer) -> tb.AwsWorld:
    world = tb.aws_setup(moto, {
        WEB_ROLE: (tb.TRUSTED_ROLE_PATH, {tb.SERVICE_NAME_TAG: "web"}),
        API_ROLE: (tb.TRUSTED_ROLE_PATH, {tb.SERVICE_NAME_TAG: "api"}),
        UNTRUSTED_ROLE: ("/untrusted/", {tb.SERVICE_NAME_TAG: "web"}),
        **{role: (tb.TRUSTED_ROLE_PATH, {tb.SERVICE_NAME_TAG: kind, "consul.hashicorp.com.gateway-kind": kind})
           for kind, role in GATEWAY_ROLES.items()},
    })
    # From here on moto checks every request's SigV4 signature and the
    # caller's IAM permissions: a forged or mis-signed request gets a 403.
    moto.enable_auth()
    return world


@pytest.fixture(scope="session")
def consul(testbed_dir: str, moto: tb.MotoServer, aws: tb.AwsWorld):
    c = tb.ConsulServer(os.path.join(testbed_dir, "consul")).start()
    tb.setup_auth_method(c, moto.url)
    yield c
    c.stop()


@pytest.fixture(scope="session")
def emulator(aws: tb.AwsWorld):
    def provide(task: Task) -> dict[str, Any]:
        if not task.role_arn:
            raise ValueError(f"task {task.task_id} has no task role")
        role_name = task.role_arn.rsplit("/", 1)[-1]
        # ECS assumes the task role with the task ID as the session name.
        c = aws.assume(role_name, task.task_id)
        return {"RoleArn": c.role_arn, "AccessKeyId": c.access_key_id,
                "SecretAccessKey": c.secret_access_key, "Token": c.session_token,
                "Expiration": c.expiration}

    emu = EcsAgentEmulator(credentials_provider=provide).start()
    yield emu
    emu.stop()


@pytest.fixture
def fresh_consul(tmp_path, moto: tb.MotoServer):
    """A second Consul, per test, created but NOT started: call
    .start() then tb.setup_auth_method(c, moto.url) when the test wants it."""
    c = tb.ConsulServer(str(tmp_path / "consul2"), node_name="consul-late")
    yield c
    c.stop()


# --------------------------------------------------------------------------
# Tasks and the binary under test
# --------------------------------------------------------------------------

def binary_path() -> str:
    return os.environ.get("CONSUL_ECS_BIN") or os.path.join(tb.repo_root(), "build", "consul-ecs")


@pytest.fixture(scope="session")
def consul_ecs_bin() -> str:
    p = binary_path()
    if not os.access(p, os.X_OK):
        pytest.fail(f"binary under test not found at {p} (build it, or set CONSUL_ECS_BIN)",
                    pytrace=False)
    return p


@pytest.fixture
def make_task(emulator: EcsAgentEmulator, aws: tb.AwsWorld, consul: tb.ConsulServer):
    """make_task(cluster=None, role=WEB_ROLE, app_health="HEALTHY", ...) -> Task.

    Each task gets its own cluster (so its own Consul node) unless told.
    Containers: the control-plane itself (no ECS health check), the
    consul-dataplane sidecar and the app, both with ECS health checks.
    The cluster's node is created in the session Consul unless
    register_node=False."""
    created: list[Task] = []

    def make(cluster: str | None = None, role: str | None = WEB_ROLE,
             app_health: str | None = "HEALTHY", dataplane_health: str | None = "HEALTHY",
             dataplane_status: str = "RUNNING", extra: list[ContainerSpec] | None = None,
             register_node: bool = True, **kw: Any) -> Task:
        if cluster is None:
            cluster = f"arn:aws:ecs:{tb.REGION}:{tb.ACCOUNT_ID}:cluster/e2e-{secrets.token_hex(4)}"
        containers = [
            ContainerSpec(CONTROL_PLANE),
            ContainerSpec(DATAPLANE, health=dataplane_health, known_status=dataplane_status),
            ContainerSpec(APP, health=app_health),
        ] + (extra or [])
        t = emulator.add_task(cluster=cluster, containers=containers,
                              role_arn=aws.roles[role] if role else None, **kw)
        if register_node:
            register_cluster_node(consul, t)
        created.append(t)
        return t

    return make


@dataclass
class ControlPlane:
    """A running `consul-ecs control-plane`."""
    proc: subprocess.Popen
    task: Task
    config: dict
    bootstrap_dir: str
    health_addr: str
    stdout_path: str
    stderr_path: str
    env: dict = field(repr=False, default_factory=dict)

    @property
    def service_id(self) -> str:
        return f"{self.config.get('service', {}).get('name') or self.task.family.lower()}-{self.task.task_id}"

    @property
    def proxy_id(self) -> str:
        return f"{self.service_id}-sidecar-proxy"

    @property
    def node(self) -> str:
        return self.task.cluster_arn

    def stdout(self) -> str:
        with open(self.stdout_path, errors="replace") as f:
            return f.read()

    def stderr(self) -> str:
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    def output(self) -> str:
        return self.stdout() + self.stderr()

    def health(self) -> int | None:
        """Status of GET /consul-ecs/health, None if nothing listens."""
        try:
            return requests.get(f"http://{self.health_addr}/consul-ecs/health", timeout=2).status_code
        except requests.RequestException:
            return None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: int = signal.SIGTERM) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout=timeout)

    def wait_ready(self, timeout: float = 30.0) -> None:
        def ready() -> bool:
            if not self.alive():
                raise AssertionError(
                    f"control-plane exited with {self.proc.returncode}:\n{self.output()[-4000:]}")
            return self.health() == 200
        try:
            tb.wait_until(ready, timeout, 0.2, "control-plane readiness 200")
        except TimeoutError as e:
            raise AssertionError(f"{e}\n--- control-plane output ---\n{self.output()[-4000:]}") from None

    def describe(self) -> str:
        return f"--- control-plane output ---\n{self.output()[-4000:]}"


@pytest.fixture
def run_control_plane(consul_ecs_bin: str, emulator: EcsAgentEmulator, tmp_path,
                      request: pytest.FixtureRequest):
    """run_control_plane(config, task, env_extra=None, raw_config=None) -> ControlPlane.

    Starts `consul-ecs control-plane` with CONSUL_ECS_CONFIG_JSON=config (or
    the raw string), the task's ECS env from the emulator, a free readiness
    port in CONSUL_ECS_HEALTH_LISTEN_ADDR, and no CONSUL_HTTP_TOKEN / AWS_*
    from the outer environment. At teardown a still-running process is
    stopped as ECS stops a task (emulator.stop_task, SIGTERM, its
    consul-dataplane container exits), and killed if it has not exited 15 s
    later."""
    started: list[ControlPlane] = []

    def run(config: dict | None, task: Task, env_extra: dict[str, str] | None = None,
            raw_config: str | None = None, args: list[str] | None = None) -> ControlPlane:
        n = len(started)
        logdir = tmp_path / f"control-plane-{n}"
        logdir.mkdir()
        env = {k: v for k, v in os.environ.items() if not _SCRUBBED_ENV.match(k)}
        env.update(emulator.env_for(task, CONTROL_PLANE))
        health_addr = f"127.0.0.1:{tb.free_port()}"
        env["CONSUL_ECS_HEALTH_LISTEN_ADDR"] = health_addr
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        if raw_config is not None:
            env["CONSUL_ECS_CONFIG_JSON"] = raw_config
        elif config is not None:
            env["CONSUL_ECS_CONFIG_JSON"] = json.dumps(config)
        env.update(env_extra or {})
        env = {k: v for k, v in env.items() if v is not None}
        out = open(logdir / "stdout.log", "wb")
        err = open(logdir / "stderr.log", "wb")
        proc = subprocess.Popen([consul_ecs_bin] + (args if args is not None else ["control-plane"]),
                                env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                cwd=str(logdir))
        out.close()
        err.close()
        cp = ControlPlane(proc=proc, task=task, config=config or {},
                          bootstrap_dir=(config or {}).get("bootstrapDir", ""),
                          health_addr=health_addr, stdout_path=str(logdir / "stdout.log"),
                          stderr_path=str(logdir / "stderr.log"), env=env)
        started.append(cp)
        return cp

    yield run

    for cp in started:
        if cp.alive():
            try:
                # ECS's stop sequence: desired STOPPED, SIGTERM, then each
                # container's KnownStatus STOPPED as it exits.
                emulator.stop_task(cp.task.task_id)
            except KeyError:
                pass
            cp.signal(signal.SIGTERM)
            try:
                if DATAPLANE in cp.task.containers:
                    emulator.container_exited(cp.task.task_id, DATAPLANE)
                cp.wait(15)
            except (subprocess.TimeoutExpired, KeyError):
                cp.proc.kill()
                cp.proc.wait(5)
        # Keep the output of failed tests visible in the report.
        if request.node.rep_call_failed if hasattr(request.node, "rep_call_failed") else False:
            print(f"\n=== control-plane #{started.index(cp)} output ===\n{cp.output()[-6000:]}")


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call":
        item.rep_call_failed = rep.failed


@pytest.fixture
def bootstrap_dir(tmp_path) -> str:
    d = tmp_path / "bootstrap"
    d.mkdir()
    return str(d)


@pytest.fixture
def cp_config(consul: tb.ConsulServer, moto: tb.MotoServer, bootstrap_dir: str) -> dict:
    return base_config(consul, moto, bootstrap_dir)


def wait_for(pred: Callable[[], Any], timeout: float, what: str, cp: ControlPlane | None = None,
             interval: float = 0.2) -> Any:
    """tb.wait_until that, on timeout, fails the test with the binary's output."""
    try:
        return tb.wait_until(pred, timeout, interval, what)
    except TimeoutError as e:
        pytest.fail(f"{e}\n{cp.describe() if cp else ''}", pytrace=False)


def holds(pred: Callable[[], Any], duration: float, what: str, cp: ControlPlane | None = None,
          interval: float = 0.1) -> None:
    """tb.holds_for that, when pred turns false, fails the test with the binary's output."""
    try:
        tb.holds_for(pred, duration, interval, what)
    except AssertionError as e:
        pytest.fail(f"{e}\n{cp.describe() if cp else ''}", pytrace=False)


def wait_polled(emulator: EcsAgentEmulator, task: Task, container: str, since: float, what: str,
                polls: int = 2, timeout: float = 15.0, cp: ControlPlane | None = None) -> None:
    """Waits until `container` of `task` has read its task metadata `polls`
    times since `since` (time.time()): the binary has seen what the test
    changed at `since`, however slow the machine."""
    path = re.escape(task.containers[container].docker_id)
    wait_for(lambda: sum(r["time"] >= since for r in emulator.requests_matching(path)) >= polls,
             timeout, f"{what} ({polls} task metadata reads by {container})", cp)


# --------------------------------------------------------------------------
# Terraform test files (test_terraform_*.py)
# --------------------------------------------------------------------------
# Each file defines a module-scoped fixture `stages`: per CLI, the file's slow
# steps (applies, plans) started in a background chain, both CLIs at once
# (tfb.per_cli_chains), as {cli name: {"tree", "moto", <stage>: Future}}.
# Its tests take `staged` (the stages of the CLI they run with: `cli` is
# parametrized over both) and wait for the stage they check. A toolchain
# that is not built is a failure, never a skip: scripts/setup.sh builds it.

@pytest.fixture(scope="session")
def tf_toolchain() -> tfb.Toolchain:
    try:
        return tfb.toolchain()
    except tfb.ToolchainMissing as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="module", params=tfb.CLIS)
def cli(request: pytest.FixtureRequest, tf_toolchain: tfb.Toolchain) -> tfb.Cli:
    try:
        return tf_toolchain.cli(request.param)
    except tfb.ToolchainMissing as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="module")
def staged(cli: tfb.Cli, stages: dict) -> dict:
    s = stages[cli.name]
    if isinstance(s, Exception):
        pytest.fail(str(s), pytrace=False)
    return s


@pytest.fixture(scope="module")
def tofu_staged(stages: dict) -> dict:
    """The OpenTofu chain's stages, for what one CLI checks for both (the
    examples' applies, the bad-input plans: the modules' own messages, the
    same from either CLI; Terraform validates every root and applies the
    test roots)."""
    s = stages["tofu"]
    if isinstance(s, Exception):
        pytest.fail(str(s), pytrace=False)
    return s


@pytest.fixture(scope="module")
def tree(staged: dict):
    """The CLI's copy of terraform/ (with the test roots under test-roots/)."""
    return staged["tree"]


@pytest.fixture(scope="module")
def tf_moto(staged: dict) -> tb.MotoServer:
    """The moto the CLI's chain applies against."""
    return staged["moto"]
