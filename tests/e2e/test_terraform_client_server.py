"""terraform/examples/client-server (example (a): dev server with ACLs and
TLS, the controller, a client and a server on the mesh) with real CLIs and
the AWS provider against moto.

With OpenTofu (the demo's CLI; Terraform 1.5.7 validates this example and
applies every module elsewhere), in the background against a moto of its
own: fmt -check, init, apply; read back with boto3
the ECS services (desired counts, network configuration, the controller
first) and the task definitions (containers, dependsOn, the mesh-init /
health-sync config through those commands' own validators, the secrets
pointing at what the dev server generated, the upstream of the client; the terminating gateway's split-layout task
and its role's gateway-kind tag);
a second plan that changes nothing but the one attribute moto does not
return; a destroy that leaves nothing in moto. That the sandbox runs these
task definitions unchanged is tests/e2e/test_sandbox.py. A missing
toolchain is a failure, not a skip.
"""
from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest

from consul_ecs_testbed import bed as tb
from consul_ecs_testbed import terraform_bed as tfb

pytestmark = pytest.mark.timeout(900)

NAME = "tfcs"
MOTO_GAPS = {"aws_ecs_service": {"enable_execute_command"}}  # see test_terraform_controller.py


# OpenTofu only: the demo (make demo) applies this example with it, and
# Terraform 1.5.7 applies every module in their own test files and in
# test_terraform_switch.py (both CLIs validate this example too).
CS_CLIS = ("tofu",)


@pytest.fixture(scope="module")
def stages(tf_toolchain: tfb.Toolchain, tmp_path_factory: pytest.TempPathFactory):
    """The example in a background chain against a moto of its own
    (conftest.py): fmt -check, init + apply, a second plan, and the destroy,
    which waits until the read-back tests are done (they open the gate)."""
    gates: dict[str, threading.Event] = {}

    def chain(cli: tfb.Cli, tree: Path, moto: tb.MotoServer):
        root = tfb.Root(cli, tree / "examples" / "client-server")
        variables = {"aws_endpoint_url": moto.url, "name": NAME, "destroy_grace_period_seconds": 0}
        gate = gates[cli.name] = threading.Event()
        return [
            ("fmt", lambda: root.run("fmt", "-check", "-diff", "-no-color", check=False)),
            ("applied", lambda: (root.init(), root.apply(variables), root.outputs())[-1]),
            ("second_plan", lambda: tfb.plan_changes(root, variables)),
            ("destroyed", lambda: (gate.wait(), root.destroy(variables, refresh=False),
                                   tfb.moto_leftovers(moto, NAME))[-1]),
        ]

    try:
        with tfb.per_cli_chains(tf_toolchain, tmp_path_factory.mktemp, chain, clis=CS_CLIS) as out:
            for name, gate in gates.items():
                out[name]["gate"] = gate
            yield out
    finally:
        for g in gates.values():
            g.set()  # a destroy never left waiting


@pytest.fixture(scope="module", params=CS_CLIS)
def staged(request, stages: dict) -> dict:
    s = stages[request.param]
    if isinstance(s, Exception):
        pytest.fail(str(s), pytrace=False)
    return s


def task_definition(moto: tb.MotoServer, arn: str) -> tuple[dict, dict[str, dict], dict[str, str]]:
    r = moto.client("ecs").describe_task_definition(taskDefinition=arn, include=["TAGS"])
    td = r["taskDefinition"]
    return (td, {c["name"]: c for c in td["containerDefinitions"]},
            {t["key"]: t["value"] for t in r.get("tags", [])})


def env_of(container: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("environment", [])}


def test_fmt(staged: dict) -> None:
    p = staged["fmt"].result()
    assert p.returncode == 0, f"fmt -check:\n{p.stdout}{p.stderr}"


def test_services(staged: dict) -> None:
    out = staged["applied"].result()
    moto = staged["moto"]
    ecs = moto.client("ecs")
    names = out["ecs_services"]
    assert set(names) == {"dev_server", "controller", "server", "client", "gateway"}
    svcs = {s["serviceName"]: s for s in ecs.describe_services(
        cluster=out["cluster_arn"], services=list(names.values()))["services"]}
    assert set(svcs) == set(names.values())
    assert svcs[names["server"]]["desiredCount"] == 3
    assert svcs[names["client"]]["desiredCount"] == 1
    assert svcs[names["controller"]]["desiredCount"] == 1
    assert svcs[names["gateway"]]["desiredCount"] == 1
    # Lower-cased family: the gateway-task module's service name.
    assert names["gateway"] == f"{NAME}-terminating-gateway"
    # No load balancer (lb_enabled = false).
    assert not svcs[names["gateway"]].get("loadBalancers")
    for key in ("server", "client", "gateway"):
        s = svcs[names[key]]
        assert s["launchType"] == "FARGATE" and s["propagateTags"] == "TASK_DEFINITION", s
        assert s["taskDefinition"] == out["task_definition_arns"][key]
        net = s["networkConfiguration"]["awsvpcConfiguration"]
        assert len(net["subnets"]) == 1 and len(net["securityGroups"]) == 1
    # The Cloud Map name every task is pointed at.
    assert out["server_dns"] == f"{NAME}-consul-server.dc1"
    assert out["bootstrap_token_secret_arn"] and out["ca_cert_arn"] and out["ca_key_arn"]


@pytest.mark.parametrize("key", ["server", "client"])
def test_mesh_task_definitions(staged: dict, key: str, consul_ecs_bin: str, tmp_path: Path) -> None:
    out = staged["applied"].result()
    td, c, tags = task_definition(staged["moto"], out["task_definition_arns"][key])
    assert td["family"] == f"{NAME}-{key}"
    assert td["networkMode"] == "awsvpc"
    assert tags["consul.hashicorp.com/mesh"] == "true"
    assert tags["consul.hashicorp.com/service-name"] == key
    assert td["taskRoleArn"].split("/")[-2] == "consul-ecs"  # under the auth method's bound path
    app = c[key]
    assert app["essential"] is True
    # application_shutdown_delay_seconds = 5: the app runs under app-entrypoint.
    assert app["entryPoint"] == ["/consul/consul-ecs", "app-entrypoint", "-shutdown-delay", "5s"]
    # The example takes mesh-task's default layout: the v0.10 split one
    # (mesh-init + health-sync, same config); `consul_ecs_layout =
    # "control-plane"` is covered by test_terraform_mesh_task.py.
    assert "consul-ecs-control-plane" not in c
    assert {(d["containerName"], d["condition"]) for d in app["dependsOn"]} == {("consul-dataplane", "HEALTHY")}
    assert c["consul-ecs-mesh-init"]["command"] == ["mesh-init"]
    assert c["consul-ecs-health-sync"]["command"] == ["health-sync"]
    for sidecar in ("consul-ecs-mesh-init", "consul-ecs-health-sync"):
        secrets = {s["name"]: s["valueFrom"] for s in c[sidecar]["secrets"]}
        assert secrets == {"CONSUL_HTTPS_CACERT_PEM": out["ca_cert_arn"],
                           "CONSUL_GRPC_CACERT_PEM": out["ca_cert_arn"]}, sidecar
    raw = env_of(c["consul-ecs-mesh-init"])["CONSUL_ECS_CONFIG_JSON"]
    assert env_of(c["consul-ecs-health-sync"])["CONSUL_ECS_CONFIG_JSON"] == raw
    cfg = json.loads(raw)
    assert cfg["service"]["name"] == key
    assert cfg["service"]["port"] == (9090 if key == "server" else 8080)
    assert cfg["consulServers"]["hosts"] == out["server_dns"]
    assert cfg["consulServers"]["defaults"]["tls"] is True
    assert cfg["consulServers"]["http"] == {"port": 8501, "https": True}
    assert cfg["consulServers"]["grpc"] == {"port": 8503}
    assert cfg["consulLogin"] == {"enabled": True, "method": "iam-ecs-service-token",
                                  "region": "us-east-1", "stsEndpoint": staged["moto"].url}
    ups = cfg["proxy"]["upstreams"]
    assert ups == ([{"destinationName": "server", "localBindPort": 1234}] if key == "client" else [])
    # Fargate: no NET_ADMIN, so the example turns the transparent proxy off.
    assert cfg["transparentProxy"]["enabled"] is False
    for command in ("mesh-init", "health-sync"):
        ok, log = tfb.validate_v010_config(consul_ecs_bin, command, raw, str(tmp_path))
        assert ok, f"consul-ecs {command} rejects the rendered config:\n{log}"


def test_controller_and_dev_server(staged: dict) -> None:
    out = staged["applied"].result()
    moto = staged["moto"]
    ecs = moto.client("ecs")
    svcs = {s["serviceName"]: s for s in ecs.describe_services(
        cluster=out["cluster_arn"], services=list(out["ecs_services"].values()))["services"]}
    _, c, _ = task_definition(moto, svcs[out["ecs_services"]["controller"]]["taskDefinition"])
    ctl = c["consul-ecs-controller"]
    assert {s["name"]: s["valueFrom"] for s in ctl["secrets"]} == {
        "CONSUL_HTTP_TOKEN": out["bootstrap_token_secret_arn"],
        "CONSUL_GRPC_CACERT_PEM": out["ca_cert_arn"], "CONSUL_HTTPS_CACERT_PEM": out["ca_cert_arn"]}
    cfg = json.loads(env_of(ctl)["CONSUL_ECS_CONFIG_JSON"])
    assert cfg["consulServers"]["hosts"] == out["server_dns"]
    # The dev server's generated secrets hold a CA certificate and a UUID token.
    sm = moto.client("secretsmanager")
    assert "BEGIN CERTIFICATE" in sm.get_secret_value(SecretId=out["ca_cert_arn"])["SecretString"]
    token = sm.get_secret_value(SecretId=out["bootstrap_token_secret_arn"])["SecretString"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", token)


def test_gateway_task_definition(staged: dict, consul_ecs_bin: str, tmp_path: Path) -> None:
    """The terminating gateway: gateway-task in the split layout, on Fargate."""
    out = staged["applied"].result()
    moto = staged["moto"]
    td, c, tags = task_definition(moto, out["task_definition_arns"]["gateway"])
    assert set(c) == {"consul-ecs-mesh-init", "consul-ecs-health-sync", "consul-dataplane"}, set(c)
    assert {k: v["essential"] for k, v in c.items()} == {
        "consul-ecs-mesh-init": False, "consul-ecs-health-sync": False, "consul-dataplane": True}
    assert c["consul-ecs-mesh-init"]["command"] == ["mesh-init"]
    assert c["consul-ecs-health-sync"]["command"] == ["health-sync"]
    dp = c["consul-dataplane"]
    assert dp["entryPoint"] == ["/consul/consul-ecs", "envoy-entrypoint"], dp
    assert dp["command"] == ["consul-dataplane", "-config-file", "/consul/consul-dataplane.json"], dp
    assert dp["healthCheck"]["command"] == ["/consul/consul-ecs", "net-dial", "127.0.0.1:22000"], dp
    for name in ("consul-dataplane", "consul-ecs-health-sync"):
        assert {(d["containerName"], d["condition"]) for d in c[name]["dependsOn"]} == {
            ("consul-ecs-mesh-init", "SUCCESS")}, name
    for sidecar in ("consul-ecs-mesh-init", "consul-ecs-health-sync"):
        secrets = {s["name"]: s["valueFrom"] for s in c[sidecar]["secrets"]}
        assert secrets == {"CONSUL_HTTPS_CACERT_PEM": out["ca_cert_arn"],
                           "CONSUL_GRPC_CACERT_PEM": out["ca_cert_arn"]}, sidecar
    raw = env_of(c["consul-ecs-mesh-init"])["CONSUL_ECS_CONFIG_JSON"]
    assert env_of(c["consul-ecs-health-sync"])["CONSUL_ECS_CONFIG_JSON"] == raw
    cfg = json.loads(raw)
    assert cfg["gateway"]["kind"] == "terminating-gateway"
    assert cfg["gateway"]["name"] == f"{NAME}-terminating-gateway"
    assert "service" not in cfg and cfg["healthSyncContainers"] == []
    assert cfg["consulServers"]["hosts"] == out["server_dns"]
    assert cfg["consulLogin"] == {"enabled": True, "method": "iam-ecs-service-token",
                                  "region": "us-east-1", "stsEndpoint": staged["moto"].url}
    assert cfg["transparentProxy"]["enabled"] is False
    for command in ("mesh-init", "health-sync"):
        ok, log = tfb.validate_v010_config(consul_ecs_bin, command, raw, str(tmp_path))
        assert ok, f"consul-ecs {command} rejects the gateway's config:\n{log}"
    # The controller's binding rule turns this tag into the gateway's ACL role.
    role = td["taskRoleArn"].rsplit("/", 1)[-1]
    role_tags = {t["Key"]: t["Value"] for t in moto.client("iam").list_role_tags(RoleName=role)["Tags"]}
    assert role_tags["consul.hashicorp.com.gateway-kind"] == "terminating-gateway"
    assert role_tags["consul.hashicorp.com.service-name"] == f"{NAME}-terminating-gateway"


def test_second_plan_changes_nothing(staged: dict) -> None:
    staged["applied"].result()
    unexpected = []
    for ch in staged["second_plan"].result():
        rtype = re.sub(r"\[.*\]$", "", ch["address"]).split(".")[-2]
        if ch["actions"] != ["update"] or not set(ch["changed"]) <= MOTO_GAPS.get(rtype, set()):
            unexpected.append(ch)
    assert not unexpected, f"second plan changes more than the named moto gaps: {unexpected}"


def test_destroy_leaves_nothing(staged: dict) -> None:
    staged["gate"].set()
    left = staged["destroyed"].result()
    assert left == {}, f"left in moto after destroy: {left}"
