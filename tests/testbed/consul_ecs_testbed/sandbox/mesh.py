"""The mesh sandbox: terraform/examples/client-server applied against moto,
and what it registered run on this machine.

  1. moto (IAM, STS, ECS, EC2, Secrets Manager, ...; consul_ecs_testbed.moto_server),
     bound to the address of a Linux bridge that stands for the example's
     subnet (sandbox.runtime);
  2. `tofu apply` of the example against moto: VPC, cluster, the dev server,
     the controller and the two mesh services, their task definitions, IAM
     roles and secrets;
  3. the test bed's Consul (ACLs on, default deny, Connect CA) in place of
     the dev server's task: bootstrap token and CA are the ones Terraform
     generated (read back from Secrets Manager, as the dev server's
     containers get them), its server certificate is signed by that CA for
     the Cloud Map name every task is configured with, which each task's
     /etc/hosts resolves to it; HTTPS on 8501 and gRPC+TLS on 8503, the
     ports the task definitions say;
  4. every other ECS service's tasks (controller, server x3, client x1, the
     terminating gateway x1, whose traffic is not proxied: see dataplane.py): the
     task definition is the one moto holds (DescribeServices ->
     DescribeTaskDefinition), started with RunTask (the ENI address moto
     gives is the task's address), run by sandbox.ecs_sandbox with the
     runtime of sandbox.runtime (own network and mount namespaces,
     images mapped to local executables, secrets read with the execution
     role).

Used by sandbox/demo.py (readable output) and tests/e2e/test_sandbox.py (assertions).
"""
from __future__ import annotations

import ipaddress
import json
import os
import secrets as pysecrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import bed as tb
from .. import terraform_bed as tfb
from ..ecs_agent_emulator import EcsAgentEmulator, Task
from .ecs_sandbox import EcsCluster, SandboxTask, TaskDefinition, kill_all_sessions
from .runtime import Image, ImageMap, Network, TaskRuntime, pick_subnet
from .taskdefs import Timings

ROOT = tb.repo_root()
PAYLOADS = os.path.join(ROOT, "sandbox")  # what runs inside the tasks: apps/, dataplane.py

EXAMPLE = "client-server"
CONSUL_ECS_IMAGE = "ghcr.io/consul-ecs-cpp/consul-ecs:0.1.0"   # the example's default
DATAPLANE_IMAGE = "hashicorp/consul-dataplane"                 # mesh-task's default repository
APPS_IMAGE = "consul-ecs-sandbox/apps:local"                   # sandbox/apps
SANDBOX_USER = "ecs-sandbox"  # the identity the emulated ECS service uses for the ECS API
CONTROLLER_CONTAINER = "consul-ecs-controller"


def default_binary() -> str:
    return os.environ.get("CONSUL_ECS_BIN") or os.path.join(ROOT, "build", "consul-ecs")


class BridgeMoto(tb.MotoServer):
    """The test bed's moto, bound to the bridge address (reachable from the
    host and every task)."""

    def __init__(self, workdir: str, host: str) -> None:
        super().__init__(workdir, host=host, env={
            "MOTO_ALLOW_NONEXISTENT_REGION": "false",
            # tb.aws_setup's user: the emulated ECS agent (consul_ecs_testbed.moto_server, fix 3)
            "SANDBOX_ECS_AGENT_ARN": f"arn:aws:iam::{tb.ACCOUNT_ID}:user/ecs-agent"})


class SandboxConsul(tb.ConsulServer):
    """The test bed's Consul standing in for the dev server's task: the
    bootstrap token and CA Terraform generated, HTTPS on 8501 and gRPC with
    TLS on 8503 of the bridge address, as every task definition expects.
    Plain HTTP stays on a free port for the sandbox's own calls."""

    def __init__(self, workdir: str, host: str, token: str, ca_cert: str, ca_key: str,
                 dns_names: list[str]) -> None:
        super().__init__(workdir, management_token=token, host=host)
        self.ca_file = os.path.join(workdir, "ca.pem")
        key_file = os.path.join(workdir, "ca-key.pem")
        with open(self.ca_file, "w") as f:
            f.write(ca_cert)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(ca_key)
        extra = [a for n in dns_names for a in ("-additional-dnsname", n)]
        subprocess.run([self.binary, "tls", "cert", "create", "-server", "-dc", "dc1", "-ca", self.ca_file,
                        "-key", key_file, "-additional-ipaddress", host, *extra],
                       cwd=workdir, check=True, capture_output=True)

    def config(self) -> dict:
        cfg = super().config()
        cfg["ports"]["https"] = 8501
        cfg["ports"]["grpc_tls"] = 8503
        cfg["tls"] = {"defaults": {
            "ca_file": self.ca_file,
            "cert_file": os.path.join(self.workdir, "dc1-server-consul-0.pem"),
            "key_file": os.path.join(self.workdir, "dc1-server-consul-0-key.pem"),
            "verify_incoming": False,
        }}
        return cfg


@dataclass
class MeshTask:
    """A running mesh task (or gateway task) and what the sandbox knows about it."""
    task: SandboxTask
    service: str           # the Consul service name (a gateway's: gateway.name)
    ecs_service: str
    config: dict           # its control-plane's CONSUL_ECS_CONFIG_JSON
    bootstrap_dir: str     # the task's volume behind /consul

    @property
    def gateway_kind(self) -> str:
        """The config's gateway.kind; "" for a mesh task."""
        return (self.config.get("gateway") or {}).get("kind", "")

    @property
    def instance_ids(self) -> tuple[str, ...]:
        """Its Consul service IDs: the service and its sidecar proxy, or
        the gateway alone."""
        return (self.service_id,) if self.gateway_kind else (self.service_id, self.proxy_id)

    @property
    def task_id(self) -> str:
        return self.task.task_id

    @property
    def name(self) -> str:
        return self.task.name

    @property
    def service_id(self) -> str:
        return f"{self.service}-{self.task_id}"

    @property
    def proxy_id(self) -> str:
        return f"{self.service_id}-sidecar-proxy"

    @property
    def app_container(self) -> str:
        """The health-synced app container (the one that is not a mesh sidecar)."""
        return self.config["healthSyncContainers"][0]

    @property
    def agent_container(self) -> str:
        """The container of consul-ecs that syncs health and deregisters on
        stop: `control-plane` (v0.7 layout) or `health-sync` (split), found by
        its command in the task definition."""
        for c in self.task.td.containers:
            if (c.raw or {}).get("command", [None])[:1] in (["control-plane"], ["health-sync"]):
                return c.name
        raise LookupError(f"{self.name}: no control-plane or health-sync container")

    def upstream_port(self, destination: str) -> int:
        for u in (self.config.get("proxy") or {}).get("upstreams") or []:
            if u["destinationName"] == destination:
                return int(u["localBindPort"])
        raise KeyError(f"{self.name} has no upstream {destination}")

    def log(self, container: str) -> str:
        try:
            with open(self.task.container(container).log_path, errors="replace") as f:
                return f.read()
        except (OSError, KeyError):
            return ""


class MeshSandbox:
    def __init__(self, workdir: str, timings: Timings | None = None,
                 consul_ecs_bin: str | None = None, consul_bin: str | None = None,
                 log: Callable[[str], None] | None = None, cli: str = "tofu",
                 layout: str | None = None) -> None:
        self.workdir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.timings = timings or Timings()
        self.bin = os.path.abspath(consul_ecs_bin or default_binary())
        if not os.access(self.bin, os.X_OK):
            raise FileNotFoundError(f"consul-ecs binary not found at {self.bin} (run make build)")
        self.consul_bin = consul_bin or tb.consul_binary()
        self._log = log or (lambda s: None)
        self.cli_name = cli
        self.layout = layout  # mesh-task's consul_ecs_layout; None: the module's default
        self.cluster_name = "sandbox"
        self.network: Network | None = None
        self.moto: BridgeMoto | None = None
        self.consul: SandboxConsul | None = None
        self.aws: tb.AwsWorld | None = None
        self.emulator: EcsAgentEmulator | None = None
        self.cluster: EcsCluster | None = None
        self.runtime: TaskRuntime | None = None
        self.outputs: dict[str, Any] = {}
        self.services: dict[str, dict] = {}          # ECS service name -> DescribeServices entry
        self.task_definitions: dict[str, TaskDefinition] = {}  # ECS service name -> its taskdef
        self.controller: SandboxTask | None = None
        self.mesh_tasks: list[MeshTask] = []
        self.terraform_seconds = 0.0
        self.images_dir: str | None = None
        self._closed = False
        self._close_lock = threading.Lock()

    # ------------------------------------------------------------------
    # Infrastructure
    # ------------------------------------------------------------------
    def tf_variables(self, subnet: str) -> dict[str, Any]:
        t = self.timings
        net = ipaddress.ip_network(subnet)
        vpc = ipaddress.ip_network(f"{net.network_address}/16", strict=False)
        hc = lambda port: {"command": ["CMD", "probe.py", f"http://127.0.0.1:{port}/health"],  # noqa: E731
                           "interval": 5, "timeout": 2, "retries": 3}
        v: dict[str, Any] = {
            "name": self.cluster_name,
            "aws_endpoint_url": self.moto.url,
            "vpc_cidr": str(vpc), "subnet_cidr": subnet,
            "consul_ecs_image": CONSUL_ECS_IMAGE,
            "application_shutdown_delay_seconds": int(round(t.shutdown_delay)),
            "destroy_grace_period_seconds": 0,
            "server_image": APPS_IMAGE, "server_command": ["server.py", "--port", "9090"],
            "client_image": APPS_IMAGE,
            "client_command": ["client.py", "--port", "8080", "--upstream", "http://127.0.0.1:1234/",
                               "--period", str(t.client_period), "--timeout", str(t.client_timeout)],
            "app_health_checks": {"server": hc(9090), "client": hc(8080)},
        }
        return v

    def start_infra(self) -> None:
        subnet = pick_subnet()
        self.network = Network(subnet, pysecrets.token_hex(3)).create()
        gw = self.network.gateway
        self._log(f"bridge {self.network.bridge} {gw} for subnet {subnet}")
        self.moto = BridgeMoto(os.path.join(self.workdir, "moto"), gw)
        self.moto.start()
        self.aws = tb.aws_setup(self.moto, {})  # the user the emulated ECS agent assumes roles as
        iam = self.moto.client("iam")
        iam.create_user(UserName=SANDBOX_USER)
        iam.put_user_policy(UserName=SANDBOX_USER, PolicyName="ecs-all", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["ecs:*", "ec2:*"], "Resource": "*"}]}))
        key = iam.create_access_key(UserName=SANDBOX_USER)["AccessKey"]
        sandbox_creds = tb.AwsCreds(key["AccessKeyId"], key["SecretAccessKey"])

        self._log(f"{self.cli_name} apply of terraform/examples/{EXAMPLE} against moto")
        t0 = time.time()
        tc = tfb.toolchain()
        tree = tfb.copy_tree(Path(self.workdir))
        self.tf_root = tfb.Root(tc.cli(self.cli_name), tree / "examples" / EXAMPLE)
        self.tf_root.init()
        variables = self.tf_variables(subnet)
        if self.layout:
            # A Terraform override file in the copy (never in the repo): the
            # mesh-task module's consul_ecs_layout for both apps, to run the
            # other layout before it becomes the module's default.
            with open(tree / "examples" / EXAMPLE / "sandbox_layout_override.tf", "w") as f:
                for m in ("server", "client"):
                    f.write(f'module "{m}" {{\n  consul_ecs_layout = "{self.layout}"\n}}\n')
        self.tf_root.apply(variables)
        self.outputs = self.tf_root.outputs()
        self.terraform_seconds = time.time() - t0

        # What the dev server's task would get from Secrets Manager.
        sm = self.moto.client("secretsmanager")
        value = lambda arn: sm.get_secret_value(SecretId=arn)["SecretString"]  # noqa: E731
        token = value(self.outputs["bootstrap_token_secret_arn"])
        ca_cert, ca_key = value(self.outputs["ca_cert_arn"]), value(self.outputs["ca_key_arn"])
        self.moto.enable_auth()  # from here on: SigV4 checked, IAM policies enforced

        self._log("starting Consul in place of the dev server's task")
        self.consul = SandboxConsul(os.path.join(self.workdir, "consul"), gw, token, ca_cert, ca_key,
                                    [self.outputs["server_dns"]])
        self.consul.start()
        # The operator's part: the auth method pointing at moto's STS/IAM.
        tb.setup_auth_method(self.consul, self.moto.url, binding_rule=False)

        aws = self.aws

        def assume(role_arn: str, session: str) -> tb.AwsCreds:
            sts = self.moto.client("sts", aws.user_creds)
            c = sts.assume_role(RoleArn=role_arn, RoleSessionName=session, DurationSeconds=3600)["Credentials"]
            return tb.AwsCreds(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"],
                               c["Expiration"].strftime("%Y-%m-%dT%H:%M:%SZ"), role_arn)

        def credentials(task: Task) -> dict[str, Any]:
            c = assume(task.role_arn, task.task_id)  # as ECS: session name = task ID
            return {"RoleArn": c.role_arn, "AccessKeyId": c.access_key_id,
                    "SecretAccessKey": c.secret_access_key, "Token": c.session_token,
                    "Expiration": c.expiration}

        def read_secret(execution_role: str | None, arn: str) -> str:
            if not execution_role:
                raise RuntimeError(f"secret {arn}: the task definition has no execution role")
            c = assume(execution_role, "ecs-agent")
            return self.moto.client("secretsmanager", c).get_secret_value(SecretId=arn)["SecretString"]

        self.emulator = EcsAgentEmulator(host=gw, credentials_provider=credentials)
        self.emulator.start()
        self.emulator._server.handle_error = lambda request, client_address: None
        self.runtime = TaskRuntime(self.network, self._images(), os.path.join(self.workdir, "tasks"),
                                   read_secret, dns={self.outputs["server_dns"]: gw},
                                   extra_env={"AWS_ENDPOINT_URL": self.moto.url})
        ecs = self.moto.client("ecs", sandbox_creds)
        self.cluster = EcsCluster(self.cluster_name, self.emulator, os.path.join(self.workdir, "tasks"),
                                  ecs_api=ecs, region=tb.REGION, account_id=tb.ACCOUNT_ID,
                                  default_stop_timeout=self.timings.stop_timeout, log=self._log,
                                  runtime=self.runtime)
        self.cluster.arn = self.outputs["cluster_arn"]
        names = list(self.outputs["ecs_services"].values())
        for svc in ecs.describe_services(cluster=self.cluster.arn, services=names)["services"]:
            self.services[svc["serviceName"]] = svc
            td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"], include=["TAGS"])
            raw = dict(td["taskDefinition"], tags=td.get("tags") or [])
            self.task_definitions[svc["serviceName"]] = TaskDefinition.from_json(raw)

    def _images(self) -> ImageMap:
        images = ImageMap()
        # World-readable copies: the split layout runs the dataplane as UID
        # 5995 and health-sync as 5996, which may not read under /root or
        # the 0700 work dir of a test.
        bindir = tempfile.mkdtemp(prefix="consul-ecs-sandbox-images-")
        os.chmod(bindir, 0o755)
        self.images_dir = bindir
        ecs_dir, dp_dir = os.path.join(bindir, "consul-ecs"), os.path.join(bindir, "consul-dataplane")
        for d in (ecs_dir, dp_dir):
            os.makedirs(d, mode=0o755, exist_ok=True)
        ecs_bin = os.path.join(ecs_dir, "consul-ecs")
        shutil.copy2(self.bin, ecs_bin)
        images.add(ImageMap.repository(CONSUL_ECS_IMAGE), Image([ecs_dir], [ecs_bin]))
        shutil.copy2(os.path.join(PAYLOADS, "dataplane.py"), os.path.join(dp_dir, "dataplane.py"))
        shutil.copy2(self.consul_bin, os.path.join(dp_dir, "consul"))
        shim = os.path.join(dp_dir, "consul-dataplane")
        python = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
        with open(shim, "w") as f:  # dataplane.py needs only the standard library
            f.write(f"#!/bin/sh\nexec {python} {os.path.join(dp_dir, 'dataplane.py')} \"$@\"\n")
        os.chmod(shim, 0o755)
        images.add(DATAPLANE_IMAGE, Image([dp_dir], ["consul-dataplane"]))
        images.add(ImageMap.repository(APPS_IMAGE), Image([os.path.join(PAYLOADS, "apps")]))
        return images

    @property
    def node(self) -> str:
        assert self.cluster
        return self.cluster.arn

    # ------------------------------------------------------------------
    # Tasks
    # ------------------------------------------------------------------
    def run_service_task(self, service: str, label: str) -> SandboxTask:
        """One task of an ECS service, from the task definition moto holds."""
        assert self.cluster
        svc = self.services[service]
        td = self.task_definitions[service]
        return self.cluster.run_task(td, name=label, network_configuration=svc.get("networkConfiguration"),
                                     started_by=f"ecs-svc/{svc['serviceArn'].rsplit('/', 1)[-1][:16]}",
                                     group=f"service:{service}")

    def start_controller(self) -> SandboxTask:
        self.controller = self.run_service_task(self.outputs["ecs_services"]["controller"], "controller")
        return self.controller

    def controller_log(self) -> str:
        if not self.controller:
            return ""
        try:
            with open(self.controller.container(CONTROLLER_CONTAINER).log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def wait_controller_ready(self, timeout: float = 60.0) -> None:
        """The controller's first reconcile: binding rule and synthetic node."""
        assert self.consul

        def ready() -> bool:
            if self.controller and self.controller.stopped:
                raise RuntimeError(f"the controller stopped:\n{self.controller_log()[-3000:]}")
            rules = self.consul.must(self.consul.get(
                f"/v1/acl/binding-rules?authmethod={tb.AUTH_METHOD_NAME}"))
            service_rule = any(r.get("BindType") == "service" for r in rules or [])
            # The gateway's login needs its kind's role rule as well.
            gateway_rule = any(r.get("BindName") == "consul-ecs-terminating-gateway-role" for r in rules or [])
            return service_rule and gateway_rule and self.consul.catalog_node(self.node) is not None

        try:
            tb.wait_until(ready, timeout, 0.2, "the controller's binding rule and cluster node")
        except TimeoutError as e:
            raise TimeoutError(f"{e}\n--- controller log ---\n{self.controller_log()[-3000:]}") from None

    def run_mesh_task(self, ecs_service: str, label: str) -> MeshTask:
        td = self.task_definitions[ecs_service]
        cfg = {}
        for c in td.containers:
            env = c.environment.get("CONSUL_ECS_CONFIG_JSON")
            if env:
                cfg = json.loads(env)
        task = self.run_service_task(ecs_service, label)
        assert self.runtime
        setup = self.runtime.tasks.get(task.task_id)
        name = (cfg.get("gateway") or {}).get("name") or (cfg.get("service") or {}).get("name")
        mt = MeshTask(task, name, ecs_service, cfg,
                      setup.volumes.get("consul_data", "") if setup else "")
        self.mesh_tasks.append(mt)
        return mt

    # ------------------------------------------------------------------
    # Consul views
    # ------------------------------------------------------------------
    def node_services(self) -> dict[str, dict]:
        assert self.consul
        n = self.consul.catalog_node(self.node)
        return dict((n or {}).get("Services") or {})

    def checks(self) -> dict[str, dict]:
        assert self.consul
        return self.consul.checks_by_id(self.node)

    def instance_state(self, mt: MeshTask) -> str:
        """'absent', 'critical' (some check not passing) or 'passing'."""
        services = self.node_services()
        if any(i not in services for i in mt.instance_ids):
            return "absent"
        checks = [c for c in self.checks().values() if c.get("ServiceID") in mt.instance_ids]
        if checks and all(c["Status"] == "passing" for c in checks):
            return "passing"
        return "critical"

    def wait_healthy(self, tasks: list[MeshTask], timeout: float = 120.0) -> None:
        def ready() -> bool:
            for mt in tasks:
                if mt.task.stopped:
                    raise RuntimeError(f"task {mt.name} stopped: {mt.task.stop_reason}\n"
                                       f"{self.describe_task(mt)}")
            return all(self.instance_state(mt) == "passing" for mt in tasks)

        try:
            tb.wait_until(ready, timeout, 0.25, "mesh tasks registered with passing checks")
        except TimeoutError as e:
            raise TimeoutError(f"{e}\n" + "\n".join(self.describe_task(mt) for mt in tasks)) from None

    def wait_absent(self, mt: MeshTask, timeout: float) -> float:
        tb.wait_until(lambda: not any(i in self.node_services() for i in mt.instance_ids),
                      timeout, 0.1, f"{mt.name}'s instances to leave the catalog")
        return time.time()

    def login_tokens(self) -> dict[str, str]:
        """Login tokens of the auth method: accessor -> task ID (from the description)."""
        assert self.consul
        out = {}
        for t in self.consul.must(self.consul.get(f"/v1/acl/tokens?authmethod={tb.AUTH_METHOD_NAME}")) or []:
            desc = t.get("Description", "")
            task_id = ""
            if "{" in desc:
                try:
                    task_id = json.loads(desc[desc.index("{"):]).get("consul.hashicorp.com/task-id", "")
                except ValueError:
                    pass
            out[t["AccessorID"]] = task_id
        return out

    def set_intention(self, source: str, destination: str, action: str) -> None:
        assert self.consul
        self.consul.must(self.consul.put("/v1/config", {
            "Kind": "service-intentions", "Name": destination,
            "Sources": [{"Name": source, "Action": action}]}))

    # ------------------------------------------------------------------
    # Requests through the mesh
    # ------------------------------------------------------------------
    def request_via(self, client: MeshTask, timeout: float = 3.0) -> tuple[bool, str]:
        """One GET through the client task's upstream listener for `server`,
        from inside the client task's network namespace: client sidecar ->
        mTLS -> a server sidecar (intention checked) -> app."""
        assert self.runtime
        port = client.upstream_port("server")
        try:
            r = self.runtime.exec_in(client.task_id, [
                "curl", "-sS", "-m", str(timeout), "-H", "Connection: close", "-w", "\n%{http_code}",
                f"http://127.0.0.1:{port}/"], timeout=timeout + 2)
        except (subprocess.TimeoutExpired, KeyError) as e:
            return False, f"{type(e).__name__}: {e}"
        body, _, code = r.stdout.rpartition("\n")
        if r.returncode == 0 and code.strip() == "200":
            return True, body.strip()
        return False, f"ConnectionError: {(r.stderr or body or code).strip()}"

    def wait_request(self, client: MeshTask, ok: bool, timeout: float = 20.0) -> str:
        last = [""]

        def check() -> bool:
            good, text = self.request_via(client)
            last[0] = text
            return good == ok

        tb.wait_until(check, timeout, 0.2, f"a request through the mesh to {'succeed' if ok else 'fail'}")
        return last[0]

    def client_requests(self, since: float = 0.0, until: float | None = None) -> list[dict]:
        """Every call of the client app (JSON lines on its stdout)."""
        out = []
        for mt in self.mesh_tasks:
            if mt.service != "client":
                continue
            for line in mt.log(mt.app_container).splitlines():
                if not line.startswith("{"):
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if "t" in rec and rec["t"] >= since and (until is None or rec["t"] <= until):
                    out.append(rec)
        return out

    # ------------------------------------------------------------------
    # Diagnostics and clean-up
    # ------------------------------------------------------------------
    def describe_task(self, mt: MeshTask, tail: int = 1500) -> str:
        snap = mt.task.snapshot()
        parts = [f"--- task {mt.name} ({mt.task_id}, {mt.task.ip}): {snap['lastStatus']} "
                 f"containers={json.dumps(snap['containers'])} events={mt.task.events[-5:]}"]
        for name in mt.task.containers:
            parts.append(f"--- {mt.name}/{name} log ---\n{mt.log(name)[-tail:]}")
        return "\n".join(parts)

    def close(self) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        try:
            if self.cluster:
                self.cluster.shutdown(timeout=0)
        finally:
            kill_all_sessions()
            if self.emulator and self.emulator._thread is not None:
                self.emulator.stop()
            if self.consul:
                self.consul.stop()
            if self.moto:
                self.moto.stop()
            if self.network:
                self.network.close()
            if self.images_dir:
                shutil.rmtree(self.images_dir, ignore_errors=True)
