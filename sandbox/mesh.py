"""The mesh sandbox: a real Consul (ACLs on, default deny), moto as AWS (IAM,
STS and ECS, SigV4 checking on), the ECS agent emulator and an emulated ECS
cluster running the consul-ecs controller and mesh tasks as local processes.

Used by demo.py (readable output) and tests/e2e/test_sandbox.py (assertions).
Consul, moto, the IAM set-up, the auth method and the emulator come from the
e2e test bed (tests/e2e/testbed.py, tests/e2e/ecs_agent_emulator.py).
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
E2E = os.path.join(ROOT, "tests", "e2e")
for p in (HERE, E2E):
    if p not in sys.path:
        sys.path.insert(0, p)

import requests  # noqa: E402

import testbed as tb  # noqa: E402
from ecs_agent_emulator import EcsAgentEmulator, Task  # noqa: E402
from ecs_sandbox import EcsCluster, SandboxTask, kill_all_sessions  # noqa: E402
from taskdefs import (CONTROLLER, ConsulTarget, MeshPorts, Timings,  # noqa: E402
                      client_task, controller_task, server_task)

SERVER_ROLE = "server-task-role"
CLIENT_ROLE = "client-task-role"
CONTROLLER_ROLE = "consul-ecs-controller"
SANDBOX_USER = "ecs-sandbox"  # the identity the emulated ECS service uses for the ECS API


def default_binary() -> str:
    return os.environ.get("CONSUL_ECS_BIN") or os.path.join(ROOT, "build", "consul-ecs")


@dataclass
class MeshTask:
    """A running mesh task and what the sandbox knows about it."""
    task: SandboxTask
    service: str
    ports: MeshPorts
    bootstrap_dir: str

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

    def log(self, container: str) -> str:
        try:
            with open(self.task.container(container).log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


class MeshSandbox:
    def __init__(self, workdir: str, timings: Timings | None = None,
                 consul_ecs_bin: str | None = None, consul_bin: str | None = None,
                 log: Callable[[str], None] | None = None, cluster_name: str | None = None) -> None:
        self.workdir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.timings = timings or Timings()
        self.bin = os.path.abspath(consul_ecs_bin or default_binary())
        if not os.access(self.bin, os.X_OK):
            raise FileNotFoundError(f"consul-ecs binary not found at {self.bin} (run make build)")
        self.consul_bin = consul_bin or tb.consul_binary()
        self._log = log or (lambda s: None)
        self.cluster_name = cluster_name or "sandbox"
        self.moto: tb.MotoServer | None = None
        self.consul: tb.ConsulServer | None = None
        self.aws: tb.AwsWorld | None = None
        self.emulator: EcsAgentEmulator | None = None
        self.cluster: EcsCluster | None = None
        self.controller: SandboxTask | None = None
        self.mesh_tasks: list[MeshTask] = []
        self.client_log_path = os.path.join(workdir, "client-requests.jsonl")
        self._closed = False
        self._close_lock = threading.Lock()

    # ------------------------------------------------------------------
    # Infrastructure
    # ------------------------------------------------------------------
    def start_infra(self) -> None:
        self._log("starting moto (IAM, STS, ECS)")
        # Assigned before start() so that close() stops it even if start-up
        # is interrupted.
        self.moto = tb.MotoServer(os.path.join(self.workdir, "moto"))
        self.moto.start()
        self.aws = tb.aws_setup(self.moto, {
            SERVER_ROLE: (tb.TRUSTED_ROLE_PATH, {tb.SERVICE_NAME_TAG: "server"}),
            CLIENT_ROLE: (tb.TRUSTED_ROLE_PATH, {tb.SERVICE_NAME_TAG: "client"}),
            CONTROLLER_ROLE: ("/", {}),
        })
        iam = self.moto.client("iam")
        # The controller reads the cluster's tasks.
        iam.put_role_policy(RoleName=CONTROLLER_ROLE, PolicyName="ecs-read", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["ecs:ListTasks", "ecs:DescribeTasks"],
                           "Resource": "*"}]}))
        # The emulated ECS service itself (RunTask/StopTask) signs as this user.
        iam.create_user(UserName=SANDBOX_USER)
        iam.put_user_policy(UserName=SANDBOX_USER, PolicyName="ecs-all", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["ecs:*", "ec2:*"], "Resource": "*"}]}))
        key = iam.create_access_key(UserName=SANDBOX_USER)["AccessKey"]
        sandbox_creds = tb.AwsCreds(key["AccessKeyId"], key["SecretAccessKey"])
        # Fargate tasks are awsvpc: RunTask needs a subnet (moto's default VPC).
        ec2 = self.moto.client("ec2")
        subnet = ec2.describe_subnets()["Subnets"][0]
        sg = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["default"]},
                                                   {"Name": "vpc-id", "Values": [subnet["VpcId"]]}])
        network = {"awsvpcConfiguration": {
            "subnets": [subnet["SubnetId"]],
            "securityGroups": [g["GroupId"] for g in sg["SecurityGroups"]][:1]}}
        self.moto.enable_auth()  # from here on: SigV4 checked, IAM policies enforced

        self._log("starting Consul (ACLs on, default deny)")
        self.consul = tb.ConsulServer(os.path.join(self.workdir, "consul"), binary=self.consul_bin)
        self.consul.start()
        # The operator's part: the auth method pointing at moto instead of
        # the real STS/IAM endpoints (the controller merges into it and adds
        # the binding rules, policies and roles).
        tb.setup_auth_method(self.consul, self.moto.url, binding_rule=False)

        aws = self.aws

        def credentials(task: Task) -> dict[str, Any]:
            # ECS assumes the task role, session name = task ID.
            c = aws.assume(task.role_arn.rsplit("/", 1)[-1], task.task_id)
            return {"RoleArn": c.role_arn, "AccessKeyId": c.access_key_id,
                    "SecretAccessKey": c.secret_access_key, "Token": c.session_token,
                    "Expiration": c.expiration}

        self.emulator = EcsAgentEmulator(credentials_provider=credentials)
        self.emulator.start()
        # A killed container may drop its connection mid-request; socketserver
        # would print a traceback for each on stderr.
        self.emulator._server.handle_error = lambda request, client_address: None
        self.cluster = EcsCluster(self.cluster_name, self.emulator, os.path.join(self.workdir, "tasks"),
                                  ecs_api=self.moto.client("ecs", sandbox_creds),
                                  region=tb.REGION, account_id=tb.ACCOUNT_ID,
                                  default_stop_timeout=self.timings.stop_timeout,
                                  network_configuration=network, log=self._log).create()

    @property
    def target(self) -> ConsulTarget:
        assert self.consul and self.moto
        return ConsulTarget(http_port=self.consul.http_port, grpc_port=self.consul.grpc_port,
                            moto_url=self.moto.url, region=tb.REGION, consul_bin=self.consul_bin)

    @property
    def node(self) -> str:
        assert self.cluster
        return self.cluster.arn

    # ------------------------------------------------------------------
    # Tasks
    # ------------------------------------------------------------------
    def start_controller(self) -> SandboxTask:
        assert self.cluster and self.consul and self.aws
        td = controller_task(self.bin, os.path.join(self.workdir, "controller"), self.target,
                             self.consul.token, self.aws.roles[CONTROLLER_ROLE], self.timings)
        self.cluster.register_task_definition(td)
        self.controller = self.cluster.run_task(td, name="controller")
        return self.controller

    def controller_log(self) -> str:
        if not self.controller:
            return ""
        try:
            with open(self.controller.container(CONTROLLER).log_path, errors="replace") as f:
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
            return service_rule and self.consul.catalog_node(self.node) is not None

        try:
            tb.wait_until(ready, timeout, 0.2, "the controller's binding rule and cluster node")
        except TimeoutError as e:
            raise TimeoutError(f"{e}\n--- controller log ---\n{self.controller_log()[-3000:]}") from None

    def _mesh_dirs(self, label: str) -> str:
        bd = os.path.join(self.workdir, "bootstrap", label)
        os.makedirs(bd, exist_ok=True)
        return bd

    def run_server(self, label: str) -> MeshTask:
        assert self.cluster and self.aws
        app, pub, ready = tb.free_ports(3)
        ports = MeshPorts(app=app, public_listener=pub, readiness=ready)
        bd = self._mesh_dirs(label)
        td = server_task(role_arn=self.aws.roles[SERVER_ROLE], consul_ecs_bin=self.bin,
                         bootstrap_dir=bd, target=self.target, ports=ports, timings=self.timings)
        self.cluster.register_task_definition(td)
        mt = MeshTask(self.cluster.run_task(td, name=label), "server", ports, bd)
        self.mesh_tasks.append(mt)
        return mt

    def run_client(self, label: str = "client") -> MeshTask:
        assert self.cluster and self.aws
        app, pub, ready, bind = tb.free_ports(4)
        ports = MeshPorts(app=app, public_listener=pub, readiness=ready, upstreams={"server": bind})
        bd = self._mesh_dirs(label)
        td = client_task(self.client_log_path, role_arn=self.aws.roles[CLIENT_ROLE],
                         consul_ecs_bin=self.bin, bootstrap_dir=bd, target=self.target,
                         ports=ports, timings=self.timings)
        self.cluster.register_task_definition(td)
        mt = MeshTask(self.cluster.run_task(td, name=label), "client", ports, bd)
        self.mesh_tasks.append(mt)
        return mt

    # ------------------------------------------------------------------
    # Consul views
    # ------------------------------------------------------------------
    def node_services(self) -> dict[str, dict]:
        """Service instances on the cluster's node, by ID."""
        assert self.consul
        n = self.consul.catalog_node(self.node)
        return dict((n or {}).get("Services") or {})

    def checks(self) -> dict[str, dict]:
        assert self.consul
        return self.consul.checks_by_id(self.node)

    def instance_state(self, mt: MeshTask) -> str:
        """'absent', 'critical' (some check not passing) or 'passing'."""
        services = self.node_services()
        if mt.service_id not in services or mt.proxy_id not in services:
            return "absent"
        checks = [c for c in self.checks().values() if c.get("ServiceID") in (mt.service_id, mt.proxy_id)]
        if checks and all(c["Status"] == "passing" for c in checks):
            return "passing"
        return "critical"

    def wait_healthy(self, tasks: list[MeshTask], timeout: float = 90.0) -> None:
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
        """Waits until the task's service and proxy are gone; returns when."""
        tb.wait_until(lambda: not any(i in self.node_services() for i in (mt.service_id, mt.proxy_id)),
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
        """One GET through the client task's upstream listener for `server`:
        client sidecar -> mTLS -> a server sidecar (intention checked) -> app."""
        port = client.ports.upstreams["server"]
        try:
            r = requests.get(f"http://127.0.0.1:{port}/", timeout=timeout,
                             headers={"Connection": "close"})
            return r.status_code == 200, r.text.strip()
        except requests.RequestException as e:
            return False, f"{type(e).__name__}: {e}"

    def wait_request(self, client: MeshTask, ok: bool, timeout: float = 20.0) -> str:
        """Waits until a request through the mesh succeeds (ok) or fails."""
        last = [""]

        def check() -> bool:
            good, text = self.request_via(client)
            last[0] = text
            return good == ok

        tb.wait_until(check, timeout, 0.2, f"a request through the mesh to {'succeed' if ok else 'fail'}")
        return last[0]

    def client_requests(self, since: float = 0.0, until: float | None = None) -> list[dict]:
        out = []
        try:
            with open(self.client_log_path) as f:
                for line in f:
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        continue
                    if rec["t"] >= since and (until is None or rec["t"] <= until):
                        out.append(rec)
        except OSError:
            pass
        return out

    # ------------------------------------------------------------------
    # Diagnostics and clean-up
    # ------------------------------------------------------------------
    def describe_task(self, mt: MeshTask, tail: int = 1500) -> str:
        snap = mt.task.snapshot()
        parts = [f"--- task {mt.name} ({mt.task_id}): {snap['lastStatus']} "
                 f"containers={json.dumps(snap['containers'])}"]
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
            if self.emulator and self.emulator._thread is not None:  # shutdown() needs a started server
                self.emulator.stop()
            if self.consul:
                self.consul.stop()
            if self.moto:
                self.moto.stop()
