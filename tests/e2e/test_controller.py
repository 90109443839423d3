"""`consul-ecs controller` against a real Consul (ACLs, default deny) and
moto as Amazon ECS (SigV4 checked, IAM policies evaluated).

The controller's own task metadata comes from the ECS agent emulator; its
ECS endpoint is a moto of this module (AWS_ENDPOINT_URL_ECS), so a test can
stop it. Logins use the session moto (IAM/STS) through the aws-iam auth
method, as the control-plane does.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from conftest import _SCRUBBED_ENV, APP, CONTROL_PLANE, DATAPLANE, GATEWAY_ROLES, WEB_ROLE, base_config, wait_for
from consul_ecs_testbed import bed as tb
from consul_ecs_testbed.ecs_agent_emulator import ContainerSpec, EcsAgentEmulator

CONTROLLER = "consul-ecs-controller"
INTERVAL = 1.0  # seconds between reconciles in these tests
MESH_TAGS = [{"key": "consul.hashicorp.com/mesh", "value": "true"}]
SERVICE_TAG = tb.SERVICE_NAME_TAG
GATEWAY_KIND_TAG = "consul.hashicorp.com.gateway-kind"
NAMESPACE_TAG = "consul.hashicorp.com.namespace"
ANON_TOKEN = "00000000-0000-0000-0000-000000000002"


# --------------------------------------------------------------------------
# ECS in moto
# --------------------------------------------------------------------------

@dataclass
class EcsMoto:
    """A moto of its own for ECS: an admin (test set-up) and the controller's
    IAM user, which may only call ecs:ListTasks and ecs:DescribeTasks."""
    server: tb.MotoServer
    admin: tb.AwsCreds
    controller: tb.AwsCreds

    def ecs(self):
        return self.server.client("ecs", self.admin)

    def new_cluster(self) -> str:
        ecs = self.ecs()
        arn = ecs.create_cluster(clusterName=f"ctl-{secrets.token_hex(4)}")["cluster"]["clusterArn"]
        ecs.register_task_definition(family="web", containerDefinitions=[
            {"name": "app", "image": "app:latest", "memory": 128}])
        return arn

    def run_tasks(self, cluster: str, count: int = 1, tags: list[dict] | None = None) -> list[str]:
        out = self.ecs().run_task(cluster=cluster, taskDefinition="web", launchType="FARGATE", count=count,
                                  tags=MESH_TAGS if tags is None else tags)
        return [t["taskArn"].rsplit("/", 1)[1] for t in out["tasks"]]

    def stop_task(self, cluster: str, task_id: str) -> None:
        self.ecs().stop_task(cluster=cluster, task=task_id, reason="test")


def start_ecs_moto(workdir: str, port: int | None = None, auth: bool = True) -> EcsMoto:
    server = tb.MotoServer(workdir, port=port).start()
    iam = server.client("iam")

    def user(name: str, actions: Any) -> tb.AwsCreds:
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return tb.AwsCreds(key["AccessKeyId"], key["SecretAccessKey"])

    admin = user("admin", "*")
    controller = user("consul-ecs-controller", ["ecs:ListTasks", "ecs:DescribeTasks"])
    if auth:
        server.enable_auth()
    return EcsMoto(server, admin, controller)


@pytest.fixture(scope="module")
def ecs_moto(tmp_path_factory: pytest.TempPathFactory):
    m = start_ecs_moto(str(tmp_path_factory.mktemp("ecs-moto")))
    yield m
    m.server.stop()


# --------------------------------------------------------------------------
# Consul
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ctl_consul(tmp_path_factory: pytest.TempPathFactory, moto: tb.MotoServer, aws: tb.AwsWorld):
    """A Consul for this module, with the auth method pre-created by an
    operator the way the test bed does (STS/IAM endpoints at the session
    moto): the controller must merge its settings into it, keeping those."""
    c = tb.ConsulServer(str(tmp_path_factory.mktemp("ctl-consul"))).start()
    tb.setup_auth_method(c, moto.url)
    yield c
    c.stop()


@pytest.fixture
def fresh_ctl_consul(tmp_path):
    """A Consul with nothing in it, for tests of the first reconcile."""
    c = tb.ConsulServer(str(tmp_path / "consul-fresh")).start()
    yield c
    c.stop()


def q(node: str) -> str:
    return requests.utils.quote(node, safe="")


def node_services(consul: tb.ConsulServer, node: str) -> set[str]:
    n = consul.catalog_node(node)
    return set((n or {}).get("Services") or {})


def token_ids(consul: tb.ConsulServer) -> set[str]:
    return {t["AccessorID"] for t in consul.must(consul.get("/v1/acl/tokens"))}


def register_task(consul: tb.ConsulServer, cluster: str, task_id: str, service: str = "web") -> None:
    """What the control-plane leaves in Consul for a task: service + proxy
    on the cluster's node, meta source=consul-ecs."""
    if consul.catalog_node(cluster) is None:
        consul.must(consul.put("/v1/catalog/register", {
            "Node": cluster, "Address": "127.0.0.1", "NodeMeta": {"synthetic-node": "true"}}))
    sid = f"{service}-{task_id}"
    meta = {"task-id": task_id, "task-arn": f"{cluster.replace(':cluster/', ':task/')}/{task_id}",
            "source": "consul-ecs"}
    for svc in ({"ID": sid, "Service": service, "Port": 8080, "Meta": meta},
                {"ID": f"{sid}-sidecar-proxy", "Service": f"{service}-sidecar-proxy", "Kind": "connect-proxy",
                 "Port": 20000, "Meta": meta,
                 "Proxy": {"DestinationServiceName": service, "DestinationServiceID": sid,
                           "LocalServicePort": 8080}}):
        consul.must(consul.put("/v1/catalog/register", {"Node": cluster, "SkipNodeUpdate": True, "Service": svc}))


def login(consul: tb.ConsulServer, moto: tb.MotoServer, aws: tb.AwsWorld, task_id: str, cluster: str) -> str:
    """An aws-iam login with the control-plane's meta; returns the accessor."""
    creds = aws.assume(WEB_ROLE, task_id.replace("-", "")[:32] or "session")
    r = consul.login(tb.build_login_bearer_token(creds, moto.url), meta={
        "consul.hashicorp.com/task-id": task_id, "consul.hashicorp.com/cluster": cluster})
    assert r.status_code == 200, r.text
    return r.json()["AccessorID"]


def point_auth_method_at(consul: tb.ConsulServer, moto_url: str) -> None:
    """What an operator does for a non-AWS STS: add the endpoints."""
    m = consul.must(consul.get(f"/v1/acl/auth-method/{tb.AUTH_METHOD_NAME}"))
    m["Config"].update({"STSEndpoint": moto_url, "IAMEndpoint": moto_url, "MaxRetries": 0})
    consul.must(consul.put(f"/v1/acl/auth-method/{tb.AUTH_METHOD_NAME}", m))


# --------------------------------------------------------------------------
# The controller under test
# --------------------------------------------------------------------------

@dataclass
class Controller:
    proc: subprocess.Popen
    stderr_path: str
    cluster: str

    def output(self) -> str:
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    def reconciles(self) -> int:
        return self.output().count(" reconcile: ecs:")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_reconciles(self, n: int, timeout: float = 20.0) -> None:
        def done() -> bool:
            if not self.alive() and self.reconciles() < n:
                raise AssertionError(f"controller exited with {self.proc.returncode}:\n{self.output()[-4000:]}")
            return self.reconciles() >= n
        try:
            tb.wait_until(done, timeout, 0.1, f"{n} reconcile(s)")
        except TimeoutError as e:
            raise AssertionError(f"{e}\n{self.describe()}") from None

    def stop(self, timeout: float = 10.0) -> int:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def describe(self) -> str:
        return f"--- controller output ---\n{self.output()[-5000:]}"


def controller_config(consul: tb.ConsulServer, bootstrap_dir: str, **controller: Any) -> dict:
    cfg: dict[str, Any] = {
        "bootstrapDir": bootstrap_dir,
        "logLevel": "DEBUG",
        "consulServers": tb.plain_consul_servers(consul.http_port, consul.grpc_port),
    }
    if controller:
        cfg["controller"] = controller
    return cfg


@pytest.fixture
def start_controller(consul_ecs_bin: str, emulator: EcsAgentEmulator, tmp_path, request):
    """start_controller(consul, ecs_moto, cluster, config=None, env_extra=None,
    args=None) -> Controller. The controller's own task runs in `cluster`
    (emulator metadata); it reaches ECS at the module's moto with its IAM
    user's keys, and Consul with the management token."""
    started: list[Controller] = []

    def start(consul: tb.ConsulServer, ecs: EcsMoto, cluster: str, config: dict | None = None,
              env_extra: dict[str, str | None] | None = None, args: list[str] | None = None) -> Controller:
        n = len(started)
        logdir = tmp_path / f"controller-{n}"
        logdir.mkdir()
        own_task = emulator.add_task(cluster=cluster, containers=[ContainerSpec(CONTROLLER)],
                                     family="consul-ecs-controller", ip="10.9.8.7")
        env = {k: v for k, v in os.environ.items() if not _SCRUBBED_ENV.match(k)}
        env.update(emulator.env_for(own_task, CONTROLLER))
        env.update({
            "AWS_ACCESS_KEY_ID": ecs.controller.access_key_id,
            "AWS_SECRET_ACCESS_KEY": ecs.controller.secret_access_key,
            "AWS_ENDPOINT_URL_ECS": ecs.server.url,
            "AWS_EC2_METADATA_DISABLED": "true",
            "CONSUL_HTTP_TOKEN": consul.token,
            "CONSUL_ECS_CONFIG_JSON": json.dumps(config or controller_config(consul, str(logdir))),
        })
        env.update(env_extra or {})
        env = {k: v for k, v in env.items() if v is not None}
        err = open(logdir / "stderr.log", "wb")
        proc = subprocess.Popen(
            [consul_ecs_bin, "controller"] + (args if args is not None else ["-polling-interval", f"{INTERVAL}s"]),
            env=env, stdout=err, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=str(logdir))
        err.close()
        c = Controller(proc, str(logdir / "stderr.log"), cluster)
        started.append(c)
        return c

    yield start
    for c in started:
        if c.alive():
            try:
                c.stop()
            except subprocess.TimeoutExpired:
                c.proc.kill()
                c.proc.wait(5)
        if getattr(request.node, "rep_call_failed", False):
            print(f"\n=== controller #{started.index(c)} ===\n{c.output()[-6000:]}")


def acl_indexes(consul: tb.ConsulServer) -> dict[str, int]:
    """ModifyIndex of everything the controller manages."""
    out: dict[str, int] = {}
    m = consul.must(consul.get(f"/v1/acl/auth-method/{tb.AUTH_METHOD_NAME}"))
    out["auth-method"] = m["ModifyIndex"]
    for r in consul.must(consul.get(f"/v1/acl/binding-rules?authmethod={tb.AUTH_METHOD_NAME}")):
        out[f"rule:{r['BindName']}"] = r["ModifyIndex"]
    for name in ("consul-ecs-mesh-gateway-policy", "consul-ecs-api-gateway-policy", "anonymous-token-policy"):
        out[f"policy:{name}"] = consul.must(consul.get(f"/v1/acl/policy/name/{name}"))["ModifyIndex"]
    for kind in GATEWAY_ROLES:
        out[f"role:{kind}"] = consul.must(consul.get(f"/v1/acl/role/name/consul-ecs-{kind}-role"))["ModifyIndex"]
    out["anonymous-token"] = consul.must(consul.get(f"/v1/acl/token/{ANON_TOKEN}"))["ModifyIndex"]
    return out


# --------------------------------------------------------------------------
# ACL objects
# --------------------------------------------------------------------------

@pytest.mark.needs_binary
def test_first_reconcile_creates_acl_objects_and_later_ones_change_nothing(
        fresh_ctl_consul: tb.ConsulServer, ecs_moto: EcsMoto, start_controller, moto: tb.MotoServer,
        aws: tb.AwsWorld, run_control_plane, emulator: EcsAgentEmulator, bootstrap_dir: str):
    consul = fresh_ctl_consul
    cluster = ecs_moto.new_cluster()
    ctl = start_controller(consul, ecs_moto, cluster)
    ctl.wait_reconciles(1)

    m = consul.must(consul.get(f"/v1/acl/auth-method/{tb.AUTH_METHOD_NAME}"))
    assert m["Type"] == "aws-iam"
    assert m["Description"] == "AWS IAM auth method for ECS service tokens"
    assert m["Config"] == {
        "BoundIAMPrincipalARNs": [f"arn:aws:iam::{tb.ACCOUNT_ID}:role/consul-ecs/*"],
        "EnableIAMEntityDetails": True,
        "IAMEntityTags": [GATEWAY_KIND_TAG, NAMESPACE_TAG, SERVICE_TAG],
    }
    assert not m.get("NamespaceRules")

    rules = consul.must(consul.get(f"/v1/acl/binding-rules?authmethod={tb.AUTH_METHOD_NAME}"))
    assert sorted((r["BindType"], r["BindName"], r.get("Selector", "")) for r in rules) == [
        ("role", "consul-ecs-api-gateway-role", f'entity_tags["{GATEWAY_KIND_TAG}"] == "api-gateway"'),
        ("role", "consul-ecs-mesh-gateway-role", f'entity_tags["{GATEWAY_KIND_TAG}"] == "mesh-gateway"'),
        ("role", "consul-ecs-terminating-gateway-role", f'entity_tags["{GATEWAY_KIND_TAG}"] == "terminating-gateway"'),
        ("service", "${entity_tags.consul.hashicorp.com.service-name}", ""),
    ]

    policy = consul.must(consul.get("/v1/acl/policy/name/consul-ecs-mesh-gateway-policy"))
    assert policy["Rules"] == 'mesh = "write"\npeering = "read"'
    assert policy["Description"] == "Mesh Gateway token Policy"
    role = consul.must(consul.get("/v1/acl/role/name/consul-ecs-mesh-gateway-role"))
    assert [p["Name"] for p in role["Policies"]] == ["consul-ecs-mesh-gateway-policy"]
    assert role["Description"] == "Mesh Gateway Role for ECS"
    api_policy = consul.must(consul.get("/v1/acl/policy/name/consul-ecs-api-gateway-policy"))
    assert api_policy["Description"] == "API Gateway token Policy"
    assert api_policy["Rules"].startswith('mesh = "read"\n')
    api_role = consul.must(consul.get("/v1/acl/role/name/consul-ecs-api-gateway-role"))
    assert [p["Name"] for p in api_role["Policies"]] == ["consul-ecs-api-gateway-policy"]
    tgw_role = consul.must(consul.get("/v1/acl/role/name/consul-ecs-terminating-gateway-role"))
    assert tgw_role["Description"] == "Terminating Gateway Role for ECS"
    assert not tgw_role.get("Policies")

    anon_policy = consul.must(consul.get("/v1/acl/policy/name/anonymous-token-policy"))
    assert anon_policy["Description"] == "Anonymous token Policy"
    assert 'node_prefix "" {\n      policy = "read"' in anon_policy["Rules"]
    assert 'service_prefix "" {\n      policy = "read"' in anon_policy["Rules"]
    anon = consul.must(consul.get(f"/v1/acl/token/{ANON_TOKEN}"))
    assert [p["Name"] for p in anon["Policies"]] == ["anonymous-token-policy"]
    # ...which is what anonymous DNS / catalog reads now may do.
    r = consul.get("/v1/catalog/nodes", token="")
    assert r.status_code == 200 and any(n["Node"] == cluster for n in r.json()), r.text

    # The cluster's synthetic node, for the control-planes' registrations.
    node = consul.catalog_node(cluster)
    assert node is not None, ctl.describe()
    assert node["Node"]["Meta"] == {"synthetic-node": "true"}
    assert node["Node"]["Address"] == "10.9.8.7"

    # Later reconciles write nothing: every modify index stays.
    before = acl_indexes(consul)
    raft_index = int(consul.get("/v1/catalog/nodes").headers["X-Consul-Index"])
    ctl.wait_reconciles(4)
    assert acl_indexes(consul) == before
    assert consul.catalog_node(cluster)["Node"]["ModifyIndex"] == node["Node"]["ModifyIndex"]
    assert int(consul.get("/v1/catalog/nodes").headers["X-Consul-Index"]) == raft_index
    assert ctl.output().count("created ACL") == 11, ctl.describe()

    # A real control-plane logs in with the auth method the controller made
    # (once an operator pointed it at this test bed's STS) and registers on
    # the controller's node; the controller keeps the operator's endpoints.
    point_auth_method_at(consul, moto.url)
    patched = consul.must(consul.get(f"/v1/acl/auth-method/{tb.AUTH_METHOD_NAME}"))["ModifyIndex"]
    [task_id] = ecs_moto.run_tasks(cluster)
    task = emulator.add_task(cluster=cluster, task_id=task_id, role_arn=aws.roles[WEB_ROLE], containers=[
        ContainerSpec(CONTROL_PLANE), ContainerSpec(DATAPLANE, health="HEALTHY"),
        ContainerSpec(APP, health="HEALTHY")])
    cfg = base_config(consul, moto, bootstrap_dir)
    cp = run_control_plane(cfg, task)
    cp.wait_ready()
    me = consul.must(consul.get("/v1/acl/token/self", token=open(os.path.join(bootstrap_dir, "service-token")).read()))
    assert me["AuthMethod"] == tb.AUTH_METHOD_NAME
    assert me["ServiceIdentities"] == [{"ServiceName": "web"}]
    assert {cp.service_id, cp.proxy_id} <= node_services(consul, cluster)
    ctl.wait_reconciles(ctl.reconciles() + 2)
    # Running in ECS: left alone. The operator's endpoints are kept.
    assert {cp.service_id, cp.proxy_id} <= node_services(consul, cluster)
    assert me["AccessorID"] in token_ids(consul)
    after = consul.must(consul.get(f"/v1/acl/auth-method/{tb.AUTH_METHOD_NAME}"))
    assert after["ModifyIndex"] == patched and after["Config"]["STSEndpoint"] == moto.url

    # ECS stops the task but its control-plane never cleans up (think: the
    # container was killed): the controller does, within one interval.
    cp.proc.kill()
    cp.proc.wait(5)
    ecs_moto.stop_task(cluster, task_id)
    wait_for(lambda: not ({cp.service_id, cp.proxy_id} & node_services(consul, cluster))
             and me["AccessorID"] not in token_ids(consul), 3 * INTERVAL + 3, "stopped task cleaned up", None)


@pytest.mark.needs_binary
def test_merges_into_an_existing_auth_method(ctl_consul: tb.ConsulServer, ecs_moto: EcsMoto, start_controller,
                                             moto: tb.MotoServer):
    """The module Consul has an operator-made method (one tag, STS endpoints,
    its own service binding rule): the controller adds what it needs, keeps
    the rest, and does not duplicate the equivalent rule."""
    cluster = ecs_moto.new_cluster()
    ctl = start_controller(ctl_consul, ecs_moto, cluster)
    ctl.wait_reconciles(1)
    m = ctl_consul.must(ctl_consul.get(f"/v1/acl/auth-method/{tb.AUTH_METHOD_NAME}"))
    assert m["Config"]["STSEndpoint"] == moto.url
    assert m["Config"]["IAMEntityTags"] == [GATEWAY_KIND_TAG, NAMESPACE_TAG, SERVICE_TAG]
    assert m["Config"]["BoundIAMPrincipalARNs"] == [tb.BOUND_ARN_PATTERN]
    rules = ctl_consul.must(ctl_consul.get(f"/v1/acl/binding-rules?authmethod={tb.AUTH_METHOD_NAME}"))
    assert sorted(r["BindType"] for r in rules) == ["role", "role", "role", "service"]
    before = acl_indexes(ctl_consul)
    ctl.wait_reconciles(3)
    assert acl_indexes(ctl_consul) == before


@pytest.mark.needs_binary
@pytest.mark.parametrize("kind", ["mesh-gateway", "terminating-gateway", "api-gateway"])
def test_gateway_task_role_logs_in_with_its_kinds_role(fresh_ctl_consul: tb.ConsulServer, ecs_moto: EcsMoto,
                                                      start_controller, moto: tb.MotoServer, aws: tb.AwsWorld,
                                                      kind: str):
    """A gateway task's IAM role, tagged consul.hashicorp.com.gateway-kind as
    the official gateway-task module tags it, logs in through the
    controller's auth method and gets that kind's role (v0.10 kinds on the
    real Consul 1.15)."""
    consul = fresh_ctl_consul
    cluster = ecs_moto.new_cluster()
    ctl = start_controller(consul, ecs_moto, cluster)
    ctl.wait_reconciles(1)
    point_auth_method_at(consul, moto.url)
    creds = aws.assume(GATEWAY_ROLES[kind], f"gw-{kind}")
    r = consul.login(tb.build_login_bearer_token(creds, moto.url))
    assert r.status_code == 200, r.text
    token = r.json()
    assert [role["Name"] for role in token.get("Roles") or []] == [f"consul-ecs-{kind}-role"], token
    secret = token["SecretID"]
    me = consul.must(consul.get("/v1/acl/token/self", token=secret))
    assert [role["Name"] for role in me["Roles"]] == [f"consul-ecs-{kind}-role"]
    consul.must(consul.request("POST", "/v1/acl/logout", token=secret))


# --------------------------------------------------------------------------
# Clean-up of stopped tasks
# --------------------------------------------------------------------------

@pytest.mark.needs_binary
def test_stopped_tasks_are_cleaned_and_nothing_else(ctl_consul: tb.ConsulServer, ecs_moto: EcsMoto,
                                                    start_controller, moto: tb.MotoServer, aws: tb.AwsWorld):
    consul = ctl_consul
    cluster = ecs_moto.new_cluster()
    a, b, c = ecs_moto.run_tasks(cluster, count=3)
    [plain] = ecs_moto.run_tasks(cluster, tags=[])  # running, not tagged for the mesh
    gone = secrets.token_hex(16)                    # in Consul only: its task is long gone
    tokens = {}
    for t in (a, b, c, plain, gone):
        register_task(consul, cluster, t)
        tokens[t] = login(consul, moto, aws, t, cluster)
    # Not ours: a hand-registered service on the node, another cluster's task
    # and token (its task ID is in no ECS listing of ours), a login token with
    # other meta, and the management token.
    consul.must(consul.put("/v1/catalog/register", {
        "Node": cluster, "SkipNodeUpdate": True,
        "Service": {"ID": "manual-db", "Service": "db", "Port": 5432, "Meta": {"task-id": b}}}))
    other_cluster = cluster.replace(":cluster/ctl-", ":cluster/other-")
    register_task(consul, other_cluster, gone)
    other_token = login(consul, moto, aws, gone, other_cluster)
    no_meta = consul.login(tb.build_login_bearer_token(aws.assume(WEB_ROLE, "nometa"), moto.url)).json()["AccessorID"]

    ctl = start_controller(consul, ecs_moto, cluster)
    ctl.wait_reconciles(1)
    # The task gone from ECS is cleaned at once; running tasks are untouched,
    # the untagged one included.
    assert f"web-{gone}" not in node_services(consul, cluster), ctl.describe()
    assert tokens[gone] not in token_ids(consul)
    for t in (a, b, c, plain):
        assert {f"web-{t}", f"web-{t}-sidecar-proxy"} <= node_services(consul, cluster), ctl.describe()
        assert tokens[t] in token_ids(consul)

    ecs_moto.stop_task(cluster, b)
    stopped_at = time.monotonic()
    wait_for(lambda: f"web-{b}" not in node_services(consul, cluster)
             and f"web-{b}-sidecar-proxy" not in node_services(consul, cluster)
             and tokens[b] not in token_ids(consul), 2 * INTERVAL + 3, "stopped task cleaned up", None)
    assert time.monotonic() - stopped_at < 2 * INTERVAL + 3

    ctl.wait_reconciles(ctl.reconciles() + 2)
    services = node_services(consul, cluster)
    ids = token_ids(consul)
    for t in (a, c, plain):
        assert {f"web-{t}", f"web-{t}-sidecar-proxy"} <= services
        assert tokens[t] in ids
    assert "manual-db" in services
    assert {f"web-{gone}", f"web-{gone}-sidecar-proxy"} <= node_services(consul, other_cluster)
    assert {other_token, no_meta} <= ids
    assert consul.must(consul.get("/v1/acl/token/self"))["AccessorID"] in ids
    assert "error" not in ctl.output().lower(), ctl.describe()


@pytest.mark.needs_binary
def test_restart_converges(ctl_consul: tb.ConsulServer, ecs_moto: EcsMoto, start_controller,
                           moto: tb.MotoServer, aws: tb.AwsWorld):
    consul = ctl_consul
    cluster = ecs_moto.new_cluster()
    a, b = ecs_moto.run_tasks(cluster, count=2)
    for t in (a, b):
        register_task(consul, cluster, t)
    token_b = login(consul, moto, aws, b, cluster)
    ctl = start_controller(consul, ecs_moto, cluster)
    ctl.wait_reconciles(2)
    before = acl_indexes(consul)

    # SIGTERM ends it cleanly and quickly.
    t0 = time.monotonic()
    assert ctl.stop() == 0
    assert time.monotonic() - t0 < 3
    assert "controller stopped" in ctl.output()

    # A task stops while no controller runs; the next one cleans it up at
    # its first reconcile, and rewrites none of the ACL objects.
    ecs_moto.stop_task(cluster, b)
    ctl2 = start_controller(consul, ecs_moto, cluster)
    ctl2.wait_reconciles(1)
    assert f"web-{b}" not in node_services(consul, cluster), ctl2.describe()
    assert token_b not in token_ids(consul)
    assert {f"web-{a}", f"web-{a}-sidecar-proxy"} <= node_services(consul, cluster)
    assert acl_indexes(consul) == before
    assert "created ACL" not in ctl2.output()


# --------------------------------------------------------------------------
# ECS errors never delete
# --------------------------------------------------------------------------

@pytest.mark.needs_binary
def test_ecs_down_is_logged_retried_and_deletes_nothing(tmp_path, ctl_consul: tb.ConsulServer, start_controller):
    consul = ctl_consul
    ecs = start_ecs_moto(str(tmp_path / "moto-down"))
    try:
        cluster = ecs.new_cluster()
        [a] = ecs.run_tasks(cluster)
        register_task(consul, cluster, a)
        ctl = start_controller(consul, ecs, cluster)
        ctl.wait_reconciles(1)
        assert f"web-{a}" in node_services(consul, cluster)

        # ECS goes away. A task that (as far as ECS would say) is not running
        # appears in Consul: nothing may be deleted while ECS cannot answer.
        port = ecs.server.port
        ecs.server.stop()
        late = secrets.token_hex(16)
        register_task(consul, cluster, late)
        n = ctl.reconciles()
        ctl.wait_reconciles(n + 3, timeout=60)
        out = ctl.output()
        errors = [line for line in out.splitlines() if "[ERROR]" in line]
        assert any("listing the cluster's ECS tasks" in line and "will retry" in line
                   and "ECS ListTasks failed" in line for line in errors), ctl.describe()
        assert {f"web-{a}", f"web-{late}"} <= node_services(consul, cluster)
        assert "clean-up skipped" in out

        # ECS is back (empty: moto lost its state): first an unknown cluster,
        # which is an error too, then the cluster exists with no task, and the
        # controller resumes and cleans up.
        # (Without request auth: the controller's keys were users of the lost state.)
        ecs2 = start_ecs_moto(str(tmp_path / "moto-back"), port=port, auth=False)
        try:
            ctl.wait_reconciles(ctl.reconciles() + 2, timeout=60)
            assert {f"web-{a}", f"web-{late}"} <= node_services(consul, cluster)
            assert "ClusterNotFoundException" in ctl.output(), ctl.describe()
            ecs2.ecs().create_cluster(clusterName=cluster.rsplit("/", 1)[1])
            wait_for(lambda: not ({f"web-{a}", f"web-{late}"} & node_services(consul, cluster)), 15,
                     "clean-up after ECS recovered", None)
            assert "succeeded after" in ctl.output()
        finally:
            ecs2.server.stop()
    finally:
        ecs.server.stop()


@pytest.mark.needs_binary
def test_rejected_ecs_credentials_delete_nothing(ctl_consul: tb.ConsulServer, ecs_moto: EcsMoto,
                                                 start_controller):
    """moto checks the signature: a wrong secret is a 403, reported with
    AWS's error code, and the clean-up is skipped."""
    consul = ctl_consul
    cluster = ecs_moto.new_cluster()
    orphan = secrets.token_hex(16)
    register_task(consul, cluster, orphan)
    ctl = start_controller(consul, ecs_moto, cluster, env_extra={"AWS_SECRET_ACCESS_KEY": "wrong-secret"})
    ctl.wait_reconciles(2)
    out = ctl.output()
    assert "SignatureDoesNotMatch" in out or "InvalidSignature" in out, ctl.describe()
    assert f"web-{orphan}" in node_services(consul, cluster)


# --------------------------------------------------------------------------
# Configuration errors
# --------------------------------------------------------------------------

@pytest.mark.needs_binary
def test_partitions_on_consul_ce_fail_clearly(ctl_consul: tb.ConsulServer, ecs_moto: EcsMoto, start_controller,
                                              tmp_path):
    cluster = ecs_moto.new_cluster()
    cfg = controller_config(ctl_consul, str(tmp_path), partitionsEnabled=True)
    ctl = start_controller(ctl_consul, ecs_moto, cluster, config=cfg)
    assert ctl.proc.wait(20) == 1
    assert "does not support admin partitions" in ctl.output(), ctl.describe()
    assert ctl_consul.catalog_node(cluster) is None  # stopped before touching anything of the cluster


@pytest.mark.needs_binary
def test_partition_without_partitions_enabled_is_a_config_error(ctl_consul: tb.ConsulServer, ecs_moto: EcsMoto,
                                                                start_controller, tmp_path):
    cluster = ecs_moto.new_cluster()
    cfg = controller_config(ctl_consul, str(tmp_path), partition="team-a")
    ctl = start_controller(ctl_consul, ecs_moto, cluster, config=cfg)
    assert ctl.proc.wait(20) == 1
    assert "controller.partition" in ctl.output() and "partitionsEnabled" in ctl.output(), ctl.describe()


@pytest.mark.needs_binary
def test_bad_polling_interval(consul_ecs_bin: str):
    r = subprocess.run([consul_ecs_bin, "controller", "-polling-interval", "soon"], capture_output=True, text=True,
                       timeout=10, env={"PATH": os.environ.get("PATH", "")})
    assert r.returncode == 1
    assert "-polling-interval" in r.stderr
