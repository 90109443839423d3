"""End-to-end tests of `consul-ecs control-plane` (the C++ binary) against
the real test bed: Consul 1.15 with ACLs, moto with signature checking, and
the ECS agent emulator.

The binary is found at $CONSUL_ECS_BIN (default build/consul-ecs) and gets:
  CONSUL_ECS_CONFIG_JSON, ECS_CONTAINER_METADATA_URI_V4,
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI,
  CONSUL_ECS_CONTAINER_CREDENTIALS_HOST (test-only, instead of 169.254.170.2),
  CONSUL_ECS_HEALTH_LISTEN_ADDR (test-only, instead of 127.0.0.1:10000),
and no CONSUL_HTTP_TOKEN: its only way into Consul is the aws-iam login.
"""
from __future__ import annotations

import filecmp
import json
import os
import re
import signal
import stat

import pytest
import requests

from conftest import (
    APP,
    DATAPLANE,
    UNTRUSTED_ROLE,
    ControlPlane,
    base_config,
    holds,
    register_cluster_node,
    wait_for,
    wait_polled,
)
from consul_ecs_testbed import bed as tb

pytestmark = pytest.mark.needs_binary

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
CHECK_TYPE = "consul-ecs-health-check"
LOGIN_DESC_PREFIX = "token created via login: "


# ------------------------------------------------------------------ helpers

def start_ready(run_control_plane, make_task, config: dict, **task_kw) -> ControlPlane:
    task = make_task(**task_kw)
    cp = run_control_plane(config, task)
    cp.wait_ready(timeout=30)
    return cp


def check_ids(cp: ControlPlane) -> dict[str, str]:
    """Our three checks, by role."""
    return {
        "app": f"{cp.service_id}-{APP}",
        "dp_service": f"{cp.service_id}-{DATAPLANE}",
        "dp_proxy": f"{cp.proxy_id}-{DATAPLANE}",
    }


def statuses(consul: tb.ConsulServer, cp: ControlPlane) -> dict[str, str | None]:
    checks = consul.checks_by_id(cp.node)
    return {role: (checks.get(cid) or {}).get("Status") for role, cid in check_ids(cp).items()}


def wait_status(consul: tb.ConsulServer, cp: ControlPlane, expected: dict[str, str],
                timeout: float, what: str) -> None:
    def ok():
        s = statuses(consul, cp)
        return all(s[k] == v for k, v in expected.items())
    try:
        tb.wait_until(ok, timeout, 0.1, what)
    except TimeoutError as e:
        pytest.fail(f"{e}; statuses now {statuses(consul, cp)}\n{cp.describe()}", pytrace=False)


def service_token(cp: ControlPlane) -> str:
    with open(os.path.join(cp.bootstrap_dir, "service-token")) as f:
        return f.read()


def login_meta(description: str) -> dict:
    assert description.startswith(LOGIN_DESC_PREFIX), description
    return json.loads(description[len(LOGIN_DESC_PREFIX):])


def consul_supports_locality(consul: tb.ConsulServer) -> bool:
    major, minor = (int(x) for x in consul.version().split(".")[:2])
    return (major, minor) >= (1, 16)


def stop_gracefully(cp: ControlPlane, emulator, timeout: float = 15) -> int:
    """ECS's stop sequence: desired STOPPED, SIGTERM, the dataplane exits."""
    emulator.stop_task(cp.task.task_id)
    cp.signal(signal.SIGTERM)
    emulator.container_exited(cp.task.task_id, DATAPLANE)
    return cp.wait(timeout)


# ------------------------------------------------------------------ (a) login

def test_login_writes_service_token(run_control_plane, make_task, cp_config, consul):
    cp = start_ready(run_control_plane, make_task, cp_config)
    path = os.path.join(cp.bootstrap_dir, "service-token")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    secret = service_token(cp)
    assert UUID.match(secret), f"service-token must hold just the token, got {secret!r}"
    r = consul.token_self(secret)
    assert r.status_code == 200, r.text
    me = r.json()
    assert me["ServiceIdentities"] == [{"ServiceName": "web"}]
    assert me["AuthMethod"] == tb.AUTH_METHOD_NAME
    meta = login_meta(me["Description"])
    assert meta["consul.hashicorp.com/task-id"] == cp.task.task_id
    assert meta["consul.hashicorp.com/cluster"] == cp.task.cluster_arn


def test_login_meta_from_config_is_sent(run_control_plane, make_task, cp_config, consul):
    cp_config["consulLogin"]["meta"] = {"owner": "team-a"}
    cp = start_ready(run_control_plane, make_task, cp_config)
    meta = login_meta(consul.token_self(service_token(cp)).json()["Description"])
    assert meta == {"owner": "team-a",
                    "consul.hashicorp.com/task-id": cp.task.task_id,
                    "consul.hashicorp.com/cluster": cp.task.cluster_arn}


def test_login_with_server_id_header(run_control_plane, make_task, cp_config, consul, moto):
    """consulLogin.method / serverIdHeaderValue: the X-Consul-IAM-ServerID
    header must be sent and signed in both embedded requests."""
    tb.ensure_auth_method(consul, moto.url, "iam-ecs-server-id",
                          server_id_header_value="consul.test.local")
    cp_config["consulLogin"].update(method="iam-ecs-server-id",
                                    serverIdHeaderValue="consul.test.local")
    cp = start_ready(run_control_plane, make_task, cp_config)
    me = consul.token_self(service_token(cp)).json()
    assert me["AuthMethod"] == "iam-ecs-server-id"
    assert me["ServiceIdentities"] == [{"ServiceName": "web"}]


def test_login_with_wrong_server_id_is_refused(run_control_plane, make_task, cp_config,
                                               consul, moto):
    tb.ensure_auth_method(consul, moto.url, "iam-ecs-server-id",
                          server_id_header_value="consul.test.local")
    cp_config["consulLogin"].update(method="iam-ecs-server-id",
                                    serverIdHeaderValue="someone-else")
    cp = run_control_plane(cp_config, make_task(dataplane_status="PENDING", dataplane_health=None))
    wait_for(lambda: "someone-else" in cp.output() or "X-Consul-IAM-ServerID" in cp.output(), 15,
             "the server ID mismatch reported", cp)
    assert cp.alive() and cp.health() == 500
    assert consul.service_instance(cp.node, cp.service_id) is None


# ----------------------------------------------------------- (b) registration

def test_registers_service_and_proxy(run_control_plane, make_task, cp_config, consul):
    cp = start_ready(run_control_plane, make_task, cp_config, ip="10.11.12.13",
                     availability_zone="us-east-1c")
    t = cp.task
    node = consul.catalog_node(cp.node)
    assert node is not None, f"no node {cp.node}"
    services = node["Services"]
    assert set(services) >= {cp.service_id, cp.proxy_id}

    svc = services[cp.service_id]
    assert svc["Service"] == "web"
    assert svc["Port"] == 8080
    assert svc["Address"] == "10.11.12.13"
    assert sorted(svc["Tags"]) == ["e2e", "v1"]
    assert svc["Meta"] == {"task-id": t.task_id, "task-arn": t.task_arn, "source": "consul-ecs",
                           "team": "mesh", "env": "test"}
    assert svc.get("Kind", "") == ""

    px = services[cp.proxy_id]
    assert px["Service"] == "web-sidecar-proxy"
    assert px["Kind"] == "connect-proxy"
    assert px["Port"] == 20000
    assert px["Address"] == "10.11.12.13"
    assert px["Meta"] == svc["Meta"]
    assert sorted(px["Tags"]) == ["e2e", "v1"]
    proxy = px["Proxy"]
    assert proxy["DestinationServiceName"] == "web"
    assert proxy["DestinationServiceID"] == cp.service_id
    assert proxy["LocalServicePort"] == 8080
    ups = proxy.get("Upstreams") or []
    assert len(ups) == 1
    assert ups[0]["DestinationName"] == "db" and ups[0]["LocalBindPort"] == 1234
    assert ups[0].get("DestinationType", "service") in ("service", "")

    checks = consul.checks_by_id(cp.node)
    ids = check_ids(cp)
    assert set(ids.values()) <= set(checks), sorted(checks)
    ours = {c for c in checks if c.startswith(cp.service_id)}
    assert ours == set(ids.values()), f"unexpected checks: {sorted(ours)}"
    for role, cid in ids.items():
        c = checks[cid]
        assert c["Type"] == CHECK_TYPE, (cid, c)
        assert c["ServiceID"] == (cp.proxy_id if role == "dp_proxy" else cp.service_id)

    # The service is discoverable by name, as consumers find it.
    instances = [s for s in consul.catalog_service("web") if s["ServiceID"] == cp.service_id]
    assert len(instances) == 1 and instances[0]["Node"] == cp.node

    if consul_supports_locality(consul):
        assert svc.get("Locality") == {"Region": tb.REGION, "Zone": "us-east-1c"}
        assert px.get("Locality") == svc.get("Locality")
    # Consul 1.15 has no Locality: its catalog API rejects the unknown field
    # with a 400, so the binary must not send it to this version at all; the
    # successful registration above proves it did not.


def test_service_name_defaults_to_lowercased_family(run_control_plane, make_task, cp_config,
                                                    consul):
    del cp_config["service"]["name"]
    cp = start_ready(run_control_plane, make_task, cp_config, family="WEB")
    assert cp.service_id == f"web-{cp.task.task_id}"
    svc = consul.service_instance(cp.node, cp.service_id)
    assert svc is not None and svc["Service"] == "web"


# ------------------------------------------------- (c) readiness and files

def test_readiness_and_bootstrap_files(run_control_plane, make_task, cp_config, consul,
                                       emulator, consul_ecs_bin):
    task = make_task()
    # Hold the binary before login: credentials fail until released.
    emulator.fail_path(f"/v2/credentials/{task.credentials_id}", 500)
    try:
        cp = run_control_plane(cp_config, task)
        wait_for(lambda: cp.health() == 500, 10, "readiness endpoint answering 500", cp)
        holds(lambda: cp.alive() and cp.health() == 500, 1.0, "alive, not ready, while credentials fail", cp)
        assert not os.path.exists(os.path.join(cp.bootstrap_dir, "consul-dataplane.json"))
        assert consul.service_instance(cp.node, cp.service_id) is None
    finally:
        emulator.fail_path(f"/v2/credentials/{task.credentials_id}", None)
    cp.wait_ready(timeout=30)
    assert consul.service_instance(cp.node, cp.service_id) is not None
    assert consul.service_instance(cp.node, cp.proxy_id) is not None

    with open(os.path.join(cp.bootstrap_dir, "consul-dataplane.json")) as f:
        dp = json.load(f)
    c = dp["consul"]
    assert c["addresses"] == "127.0.0.1"
    assert c["grpcPort"] == consul.grpc_port
    assert c["serverWatchDisabled"] is False
    assert c["tls"]["disabled"] is True
    assert c["credentials"]["type"] == "static"
    assert c["credentials"]["static"]["token"] == service_token(cp)
    assert dp["proxy"]["id"] == cp.proxy_id
    assert dp["proxy"]["nodeName"] == cp.node
    assert dp["xdsServer"]["bindAddress"] == "127.0.0.1"
    assert dp["envoy"]["readyBindPort"] == 22000
    assert "logLevel" in dp["logging"]

    copy = os.path.join(cp.bootstrap_dir, "consul-ecs")
    assert stat.S_IMODE(os.stat(copy).st_mode) == 0o755
    assert filecmp.cmp(copy, consul_ecs_bin, shallow=False), "bootstrapDir/consul-ecs is not the binary"


# ------------------------------------------------------------ (d) health sync

def test_health_sync_follows_ecs_container_health(run_control_plane, make_task, cp_config,
                                                  consul, emulator):
    cp = start_ready(run_control_plane, make_task, cp_config)
    tid = cp.task.task_id
    wait_status(consul, cp, {"app": "passing", "dp_service": "passing", "dp_proxy": "passing"},
                5, "all checks passing with healthy containers")

    emulator.set_container(tid, APP, health="UNHEALTHY")
    wait_status(consul, cp, {"app": "critical"}, 3.5, "app check critical after UNHEALTHY")

    emulator.set_container(tid, APP, health="HEALTHY")
    wait_status(consul, cp, {"app": "passing"}, 3.5, "app check passing after HEALTHY")

    emulator.set_container(tid, APP, health="UNKNOWN")
    wait_status(consul, cp, {"app": "critical"}, 3.5, "app check critical after UNKNOWN")

    emulator.set_container(tid, APP, health="HEALTHY")
    wait_status(consul, cp, {"app": "passing"}, 3.5, "app check passing again")

    emulator.set_container(tid, DATAPLANE, health="UNHEALTHY")
    wait_status(consul, cp, {"dp_service": "critical", "dp_proxy": "critical"}, 3.5,
                "dataplane checks critical after consul-dataplane UNHEALTHY")
    emulator.set_container(tid, DATAPLANE, health="HEALTHY")
    wait_status(consul, cp, {"dp_service": "passing", "dp_proxy": "passing"}, 3.5,
                "dataplane checks passing after consul-dataplane HEALTHY")

    # A container missing from the task metadata is critical.
    emulator.remove_container(tid, APP)
    wait_status(consul, cp, {"app": "critical"}, 3.5, "app check critical when the container is gone")
    assert cp.alive(), cp.describe()


def test_health_sync_starts_critical_for_unhealthy_app(run_control_plane, make_task, cp_config,
                                                       consul):
    cp = start_ready(run_control_plane, make_task, cp_config, app_health="UNHEALTHY")
    wait_status(consul, cp, {"dp_service": "passing", "dp_proxy": "passing"}, 5,
                "dataplane checks passing")
    holds(lambda: statuses(consul, cp)["app"] == "critical", 1.5, "app check critical over a sync period", cp)


# ------------------------------------------------------------ (e) shutdown

def test_sigterm_graceful_shutdown(run_control_plane, make_task, cp_config, consul, emulator):
    cp = start_ready(run_control_plane, make_task, cp_config)
    wait_status(consul, cp, {"app": "passing", "dp_service": "passing", "dp_proxy": "passing"},
                5, "all checks passing before SIGTERM")
    secret = service_token(cp)

    cp.signal(signal.SIGTERM)
    wait_status(consul, cp, {"app": "critical", "dp_service": "critical", "dp_proxy": "critical"},
                2.5, "every check critical right after SIGTERM")

    # consul-dataplane is still RUNNING: the control-plane waits, keeps the
    # registration and keeps the checks critical though ECS says HEALTHY.
    holds(lambda: cp.alive() and statuses(consul, cp) == {"app": "critical", "dp_service": "critical",
                                                          "dp_proxy": "critical"},
          3.0, "alive with every check critical while consul-dataplane runs", cp)
    assert consul.service_instance(cp.node, cp.service_id) is not None
    assert consul.token_self(secret).status_code == 200

    emulator.set_container(cp.task.task_id, DATAPLANE, known_status="STOPPED")
    try:
        rc = cp.wait(10)
    except Exception:
        pytest.fail(f"still running 10 s after consul-dataplane stopped\n{cp.describe()}", pytrace=False)
    assert rc == 0, cp.describe()
    assert consul.service_instance(cp.node, cp.service_id) is None
    assert consul.service_instance(cp.node, cp.proxy_id) is None
    assert not any(c.startswith(cp.service_id) for c in consul.checks_by_id(cp.node))
    r = consul.token_self(secret)
    assert r.status_code == 403, f"token still valid after logout: {r.status_code} {r.text}"


def test_sigterm_when_dataplane_already_stopped(run_control_plane, make_task, cp_config,
                                                consul, emulator):
    cp = start_ready(run_control_plane, make_task, cp_config)
    emulator.set_container(cp.task.task_id, DATAPLANE, known_status="STOPPED")
    cp.signal(signal.SIGTERM)
    assert cp.wait(10) == 0, cp.describe()
    assert consul.service_instance(cp.node, cp.service_id) is None
    assert consul.service_instance(cp.node, cp.proxy_id) is None


def test_sigterm_after_controller_cleaned_up(run_control_plane, make_task, cp_config, consul, emulator):
    """The controller removes a stopped task's instances and login token; the
    task's own clean-up then finds the token gone and must end cleanly."""
    cp = start_ready(run_control_plane, make_task, cp_config)
    secret = service_token(cp)
    accessor = consul.token_self(secret).json()["AccessorID"]
    for sid in (cp.proxy_id, cp.service_id):
        consul.put("/v1/catalog/deregister", {"Node": cp.node, "ServiceID": sid})
    assert consul.request("DELETE", f"/v1/acl/token/{accessor}").status_code == 200
    emulator.set_container(cp.task.task_id, DATAPLANE, known_status="STOPPED")
    cp.signal(signal.SIGTERM)
    assert cp.wait(10) == 0, cp.describe()
    assert "token already deleted" in cp.output()
    assert "[ERROR]" not in cp.output(), cp.describe()


def test_secrets_never_logged(run_control_plane, make_task, cp_config, consul, emulator):
    """At TRACE level, over a whole lifecycle, neither the ACL token nor the
    AWS credentials appear in the output."""
    cfg = {**cp_config, "logLevel": "TRACE"}
    cp = start_ready(run_control_plane, make_task, cfg)
    secret = service_token(cp)
    creds = requests.get(f"{emulator.url}/v2/credentials/{cp.task.credentials_id}", timeout=5).json()
    wait_status(consul, cp, {"app": "passing", "dp_service": "passing", "dp_proxy": "passing"}, 5, "checks passing")
    assert stop_gracefully(cp, emulator) == 0, cp.describe()
    out = cp.output()
    assert "[TRACE]" in out or "[DEBUG]" in out, "the test must run with verbose logging to mean anything"
    for name, value in (("ACL token", secret), ("AWS secret key", creds["SecretAccessKey"]),
                        ("AWS session token", creds["Token"])):
        assert value and value not in out, f"{name} appears in the log"


# -------------------------------------------------------- (f) failed login

def test_untrusted_role_login_is_refused_and_retried(run_control_plane, make_task, cp_config,
                                                     consul):
    # consul-dataplane would not start before the control-plane is healthy.
    task = make_task(role=UNTRUSTED_ROLE, dataplane_status="PENDING", dataplane_health=None)
    cp = run_control_plane(cp_config, task)
    wait_for(lambda: len(re.findall(r"not trusted", cp.output())) >= 2, 25,
             "the login error ('... is not trusted') logged on two attempts", cp)
    assert cp.alive(), cp.describe()
    assert f"role/untrusted/{UNTRUSTED_ROLE}" in cp.output()
    assert cp.health() == 500
    assert consul.service_instance(cp.node, cp.service_id) is None
    assert consul.service_instance(cp.node, cp.proxy_id) is None
    assert not os.path.exists(os.path.join(cp.bootstrap_dir, "service-token"))
    assert not os.path.exists(os.path.join(cp.bootstrap_dir, "consul-dataplane.json"))

    cp.signal(signal.SIGTERM)
    try:
        rc = cp.wait(10)
    except Exception:
        pytest.fail(f"SIGTERM did not end a control-plane stuck in login\n{cp.describe()}", pytrace=False)
    assert rc == 0, cp.describe()


# ------------------------------------------------ (g) Consul comes up late

def test_waits_for_consul_to_come_up(run_control_plane, make_task, fresh_consul, moto,
                                     bootstrap_dir, emulator):
    task = make_task(register_node=False)
    cfg = base_config(fresh_consul, moto, bootstrap_dir)
    cp = run_control_plane(cfg, task)
    wait_polled(emulator, task, "consul-ecs-control-plane", 0, "started", polls=1, cp=cp)
    wait_for(lambda: cp.health() == 500, 10, "readiness endpoint answering 500", cp)
    holds(lambda: cp.alive() and cp.health() == 500, 3.0, "alive and not ready while Consul is down", cp)

    fresh_consul.start()
    register_cluster_node(fresh_consul, task)
    tb.setup_auth_method(fresh_consul, moto.url)
    cp.wait_ready(timeout=60)
    assert fresh_consul.service_instance(cp.node, cp.service_id) is not None
    assert fresh_consul.service_instance(cp.node, cp.proxy_id) is not None
    me = fresh_consul.token_self(service_token(cp))
    assert me.status_code == 200 and me.json()["ServiceIdentities"] == [{"ServiceName": "web"}]
    assert stop_gracefully(cp, emulator) == 0, cp.describe()
    assert fresh_consul.service_instance(cp.node, cp.service_id) is None


# ---------------------------------------------------- (h) invalid config

def _mutations():
    def name_int(c): c["service"]["name"] = 42
    def name_upper(c): c["service"]["name"] = "Web"
    def no_servers(c): del c["consulServers"]
    def unknown_top(c): c["bogusField"] = True
    def upstream_no_port(c): del c["proxy"]["upstreams"][0]["localBindPort"]
    def login_enabled_str(c): c["consulLogin"]["enabled"] = "yes"
    return [
        pytest.param(name_int, ["service.name"], id="service.name-type"),
        pytest.param(name_upper, ["service.name"], id="service.name-pattern"),
        pytest.param(no_servers, ["consulServers"], id="missing-consulServers"),
        pytest.param(unknown_top, ["bogusField"], id="unknown-field"),
        pytest.param(upstream_no_port, ["proxy.upstreams", "localBindPort"], id="upstream-required"),
        pytest.param(login_enabled_str, ["consulLogin.enabled"], id="consulLogin.enabled-type"),
    ]


@pytest.mark.parametrize("mutate,needles", _mutations())
def test_invalid_config_is_rejected(run_control_plane, make_task, cp_config, emulator,
                                    mutate, needles):
    task = make_task(register_node=False)
    mutate(cp_config)
    cp = run_control_plane(cp_config, task)
    rc = cp.wait(10)
    assert rc == 1, cp.describe()
    err = cp.stderr()
    for n in needles:
        assert n in err, f"stderr does not name {n!r}:\n{err}"
    assert os.listdir(cp.bootstrap_dir) == [], "nothing may be written for an invalid config"
    # Validation comes first: the task metadata was not even read.
    assert emulator.requests_matching(re.escape(task.containers["consul-ecs-control-plane"].docker_id)) == []


@pytest.mark.parametrize("raw", [pytest.param("{not json", id="not-json"),
                                 pytest.param(None, id="unset")])
def test_unparsable_or_missing_config(run_control_plane, make_task, raw):
    task = make_task(register_node=False)
    cp = run_control_plane(None, task, raw_config=raw)
    assert cp.wait(10) == 1, cp.describe()
    assert cp.stderr().strip() != ""


# ------------------------------------------------- (i) Fargate and EC2 shapes

@pytest.mark.parametrize("shape", ["fargate", "ec2"])
def test_cluster_arn_from_fargate_and_ec2_metadata(run_control_plane, make_task, cp_config,
                                                   consul, emulator, shape):
    suffix = os.urandom(3).hex()
    if shape == "fargate":
        cluster = f"arn:aws:ecs:{tb.REGION}:{tb.ACCOUNT_ID}:cluster/fg-{suffix}"
        kw = dict(cluster=cluster, launch_type="FARGATE")
        expected = cluster
    else:
        # EC2 metadata has the short cluster name; the ARN is derived from
        # the task ARN's region and account (here not the login region).
        kw = dict(cluster=f"ec2-{suffix}", launch_type="EC2", region="us-west-2")
        expected = f"arn:aws:ecs:us-west-2:{tb.ACCOUNT_ID}:cluster/ec2-{suffix}"
    cp = start_ready(run_control_plane, make_task, cp_config, **kw)
    assert cp.node == expected
    assert consul.service_instance(expected, cp.service_id) is not None
    assert consul.service_instance(expected, cp.proxy_id) is not None
    meta = login_meta(consul.token_self(service_token(cp)).json()["Description"])
    assert meta["consul.hashicorp.com/cluster"] == expected
    with open(os.path.join(cp.bootstrap_dir, "consul-dataplane.json")) as f:
        assert json.load(f)["proxy"]["nodeName"] == expected
    assert stop_gracefully(cp, emulator) == 0, cp.describe()
