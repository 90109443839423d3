"""terraform/modules/gateway-task with real CLIs and the AWS provider
against moto.

Per CLI (OpenTofu, Terraform 1.5.7): an apply of tests/e2e/tf-roots/gateway-task
(four gateways: mesh gateway with an NLB and WAN federation in the
"control-plane" layout, terminating and API gateways in the "split" layout,
one with only the required inputs), read back with boto3 (containers,
commands, essential flags, health checks, environment, secrets, roles, tags,
ECS services, load balancers), each rendered CONSUL_ECS_CONFIG_JSON through
our own validator, a second plan that changes nothing but moto's named gap, a
destroy that leaves nothing in moto; with OpenTofu only, bad inputs fail at
plan with the module's own messages and the mesh-gateways example applies
and destroys. Each CLI against a moto of its own. (fmt -check
and validate of every module and example: test_terraform_mesh_task.py.) The
toolchain comes from scripts/setup.sh; a missing one is a failure, not a skip.
"""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from consul_ecs_testbed import bed as tb
from consul_ecs_testbed import terraform_bed as tfb
from consul_ecs_testbed.podman_task import image_ref

pytestmark = pytest.mark.timeout(900)

CP = "consul-ecs-control-plane"
MI = "consul-ecs-mesh-init"
HS = "consul-ecs-health-sync"
DP = "consul-dataplane"
DATA_RO = {"sourceVolume": "consul_data", "containerPath": "/consul", "readOnly": True}
DATA_RW = {"sourceVolume": "consul_data", "containerPath": "/consul", "readOnly": False}
BINARY_RO = {"sourceVolume": "consul_binary", "containerPath": "/bin/consul-inject", "readOnly": True}
# DescribeServices of moto returns no enableExecuteCommand: the module sets it,
# so the second plan shows it as a change against moto only.
MOTO_GAPS = {"aws_ecs_service": {"enable_execute_command"}}


def module_default_layout() -> str:
    """The default of consul_ecs_layout declared in the module's variables.tf."""
    text = (tfb.terraform_dir() / "modules" / "gateway-task" / "variables.tf").read_text()
    block = text[text.index('variable "consul_ecs_layout"'):]
    return re.search(r'default\s*=\s*"([^"]+)"', block).group(1)


def _bad_input_plans(cli: tfb.Cli, tree: Path) -> dict[str, subprocess.CompletedProcess]:
    root = tfb.Root(cli, tree / "test-roots" / "gateway-task-invalid")
    root.init()
    return {g: root.plan({"group": g}, False, "-json") for g in sorted(BAD_INPUTS)}


@pytest.fixture(scope="module")
def stages(tf_toolchain: tfb.Toolchain, tmp_path_factory: pytest.TempPathFactory):
    """Per CLI, the slow steps in a background chain, both CLIs at once
    (conftest.py): the test root's apply, the bad-input plans; OpenTofu also
    applies the two-datacenter example (both CLIs validate it,
    test_terraform_mesh_task.py)."""
    def chain(cli: tfb.Cli, tree: Path, moto: tb.MotoServer):
        steps = [
            ("applied", lambda: tfb.apply_root(cli, tree / "test-roots" / "gateway-task",
                                               {"aws_endpoint_url": moto.url, "name": f"{cli.name}gw"})),
        ]
        if cli.name == "tofu":  # (conftest.py: tofu_staged)
            steps.append(("bad_inputs", lambda: _bad_input_plans(cli, tree)))
            steps.append(("example", lambda: tfb.apply_root(
                cli, tree / "examples" / "mesh-gateways", {"aws_endpoint_url": moto.url, "name": "tofu-mgw"})))
        return steps

    with tfb.per_cli_chains(tf_toolchain, tmp_path_factory.mktemp, chain) as out:
        yield out


@pytest.fixture(scope="module")
def applied(staged: dict) -> tfb.Applied:
    return staged["applied"].result()


@pytest.fixture(scope="module")
def gw_moto(staged: dict) -> tb.MotoServer:
    return staged["moto"]


def task_definition(moto: tb.MotoServer, arn: str) -> tuple[dict, dict[str, dict], dict[str, str]]:
    r = moto.client("ecs").describe_task_definition(taskDefinition=arn, include=["TAGS"])
    td = r["taskDefinition"]
    return td, {c["name"]: c for c in td["containerDefinitions"]}, {t["key"]: t["value"] for t in r.get("tags", [])}


def env_of(container: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("environment", [])}


def service(moto: tb.MotoServer, cluster: str, name: str) -> dict:
    return moto.client("ecs").describe_services(cluster=cluster, services=[name])["services"][0]


def attached_policy_documents(moto: tb.MotoServer, role: str) -> dict[str, dict]:
    iam = moto.client("iam")
    out = {}
    for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
        pol = iam.get_policy(PolicyArn=p["PolicyArn"])["Policy"]
        doc = iam.get_policy_version(PolicyArn=p["PolicyArn"], VersionId=pol["DefaultVersionId"])
        d = doc["PolicyVersion"]["Document"]
        out[p["PolicyName"]] = json.loads(d) if isinstance(d, str) else d
    return out


def role_tags(moto: tb.MotoServer, role: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in moto.client("iam").list_role_tags(RoleName=role)["Tags"]}


def assert_dataplane(dp: dict, lan_port: int, split: bool, readiness_port: int = 22000) -> None:
    assert dp["essential"] is True, "a gateway task without its proxy serves nothing"
    assert dp["entryPoint"] == ["/consul/consul-ecs", "envoy-entrypoint"]
    assert dp["command"] == ["consul-dataplane", "-config-file", "/consul/consul-dataplane.json"]
    assert dp["portMappings"] == [{"containerPort": lan_port, "hostPort": lan_port, "protocol": "tcp"}]
    assert dp["healthCheck"]["command"] == ["/consul/consul-ecs", "net-dial", f"127.0.0.1:{readiness_port}"]
    assert (dp["healthCheck"]["interval"], dp["healthCheck"]["timeout"], dp["healthCheck"]["retries"]) == (5, 5, 10)
    assert dp["ulimits"] == [{"name": "nofile", "softLimit": 1048576, "hardLimit": 1048576}]
    # Upstream's default of the release whose layout this is: v0.10.0's
    # gateway-task (split), v0.7.3's (control-plane).
    assert dp["image"] == ("hashicorp/consul-dataplane:1.9.6" if split else "hashicorp/consul-dataplane:1.3.3")
    assert not env_of(dp) and not dp.get("secrets")
    if split:
        assert dp["dependsOn"] == [{"containerName": MI, "condition": "SUCCESS"}]
        assert dp["user"] == "5995"
    else:
        assert dp["dependsOn"] == [{"containerName": CP, "condition": "HEALTHY"}]
        assert not dp.get("user")


def assert_control_plane(c: dict[str, dict]) -> dict:
    """The v0.7 layout: [control-plane, dataplane]; returns the config."""
    cp = c[CP]
    assert MI not in c and HS not in c
    assert cp["command"] == ["control-plane"] and not cp.get("entryPoint")
    assert cp["essential"] is False
    assert cp["image"] == image_ref()
    assert cp["healthCheck"]["command"] == ["CMD-SHELL", "curl -f localhost:10000/consul-ecs/health"]
    assert (cp["healthCheck"]["interval"], cp["healthCheck"]["timeout"], cp["healthCheck"]["retries"]) == (5, 5, 10)
    assert cp["mountPoints"] == [DATA_RW, BINARY_RO]
    assert cp["linuxParameters"] == {"initProcessEnabled": True}
    assert list(env_of(cp)) == ["CONSUL_ECS_CONFIG_JSON"]
    cfg = json.loads(env_of(cp)["CONSUL_ECS_CONFIG_JSON"])
    assert "transparentProxy" not in cfg  # the v0.7 schema has no such field
    return cfg


def assert_split(c: dict[str, dict], tproxy: bool) -> dict:
    """The v0.10 layout: mesh-init (one-shot) and health-sync; returns the
    config (the same document in both)."""
    mi, hs = c[MI], c[HS]
    assert CP not in c
    for x in (mi, hs):
        assert x["essential"] is False and not x.get("entryPoint") and not x.get("healthCheck")
        assert x["image"] == image_ref()
        assert list(env_of(x)) == ["CONSUL_ECS_CONFIG_JSON"]
    assert mi["command"] == ["mesh-init"] and hs["command"] == ["health-sync"]
    assert mi["mountPoints"] == [DATA_RW, BINARY_RO]
    assert hs["mountPoints"] == [DATA_RO]
    assert not mi.get("dependsOn")
    assert hs["dependsOn"] == [{"containerName": MI, "condition": "SUCCESS"}]
    assert hs["user"] == "5996"
    assert hs["linuxParameters"] == {"initProcessEnabled": True}
    if tproxy:
        assert mi["user"] == "0"
        assert mi["linuxParameters"] == {"initProcessEnabled": True, "capabilities": {"add": ["NET_ADMIN"]}}
    else:
        assert not mi.get("user")
        assert mi["linuxParameters"] == {"initProcessEnabled": True}
    assert env_of(mi) == env_of(hs)
    return json.loads(env_of(mi)["CONSUL_ECS_CONFIG_JSON"])


# ---- apply against moto -------------------------------------------------------------

def test_mesh_gateway_with_nlb(applied: tfb.Applied, gw_moto: tb.MotoServer) -> None:
    out, NAME = applied.out, applied.name
    m = out["modules"]["mesh"]
    td, c, tags = task_definition(gw_moto, m["task_definition_arn"])
    assert td["family"] == f"{NAME.upper()}-Mesh-GW"
    assert (td["networkMode"], td["cpu"], td["memory"]) == ("awsvpc", "256", "512")
    assert td["taskRoleArn"] == m["task_role_arn"] and td["executionRoleArn"] == m["execution_role_arn"]
    assert [x["name"] for x in td["containerDefinitions"]] == [CP, DP]
    assert sorted(v["name"] for v in td["volumes"]) == ["consul_binary", "consul_data"]
    cfg = assert_control_plane(c)
    assert_dataplane(c[DP], 8443, split=False)
    assert c[DP]["mountPoints"] == [DATA_RO]
    assert {s["name"]: s["valueFrom"] for s in c[CP]["secrets"]} == {
        "CONSUL_HTTPS_CACERT_PEM": out["secrets"]["ca"], "CONSUL_GRPC_CACERT_PEM": out["secrets"]["grpc_ca"]}
    for name in (CP, DP):
        assert c[name]["logConfiguration"]["options"]["awslogs-group"] == f"/ecs/{NAME}"

    # The load balancer: an NLB, TCP listener on the WAN port,
    # IP target group; its DNS name is the WAN address.
    elb = gw_moto.client("elbv2")
    lb = elb.describe_load_balancers(Names=[f"{NAME}-mesh-gw"])["LoadBalancers"][0]
    assert lb["Type"] == "network"  # (moto returns no Scheme)
    assert m["wan_address"] == lb["DNSName"] and m["wan_port"] == 8443
    tg = elb.describe_target_groups(Names=[f"{NAME}-mesh-gw"])["TargetGroups"][0]
    assert (tg["Protocol"], tg["Port"], tg["TargetType"]) == ("TCP", 8443, "ip")
    listener = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"][0]
    assert (listener["Protocol"], listener["Port"]) == ("TCP", 8443)
    assert listener["DefaultActions"][0]["TargetGroupArn"] == tg["TargetGroupArn"]
    attrs = {a["Key"]: a["Value"] for a in elb.describe_target_group_attributes(
        TargetGroupArn=tg["TargetGroupArn"])["Attributes"]}
    assert attrs["deregistration_delay.timeout_seconds"] == "120"

    # The gateway name is the lower-cased family, everywhere.
    gw = f"{NAME}-mesh-gw"
    assert cfg["gateway"] == {
        "kind": "mesh-gateway", "name": gw, "tags": ["dc1"],
        "meta": {"owner": "e2e", "consul-wan-federation": "1"}, "namespace": "", "partition": "",
        "lanAddress": {"address": "", "port": 8443},
        "wanAddress": {"address": lb["DNSName"], "port": 8443}}
    assert cfg["bootstrapDir"] == "/consul" and cfg["healthSyncContainers"] == []
    assert cfg["consulLogin"] == {"enabled": True, "method": "iam-ecs-service-token"}
    assert cfg["consulServers"] == {
        "hosts": "consul.dc1.internal", "skipServerWatch": False,
        "defaults": {"tls": True, "tlsServerName": "server.dc1.consul"},
        "http": {"port": 443, "https": True}, "grpc": {"port": 8503}}
    assert m["ecs_service_name"] == gw
    assert tags["consul.hashicorp.com/service-name"] == gw and tags["consul.hashicorp.com/mesh"] == "true"
    assert tags["team"] == "e2e" and "consul.hashicorp.com/partition" not in tags
    assert m["task_tags"] == tags

    svc = service(gw_moto, out["cluster"], gw)
    assert svc["status"] == "ACTIVE" and svc["desiredCount"] == 1 and svc["launchType"] == "FARGATE"
    assert svc["propagateTags"] == "TASK_DEFINITION" and svc["taskDefinition"] == m["task_definition_arn"]
    assert svc["loadBalancers"] == [
        {"targetGroupArn": tg["TargetGroupArn"], "containerName": DP, "containerPort": 8443}]
    net = svc["networkConfiguration"]["awsvpcConfiguration"]
    assert sorted(net["securityGroups"]) == sorted([out["existing_security_group"], m["lb_security_group_id"]])

    # The module's security group: the LAN port from the given CIDRs, all egress.
    sg = gw_moto.client("ec2").describe_security_groups(GroupIds=[m["lb_security_group_id"]])["SecurityGroups"][0]
    assert [(p["IpProtocol"], p["FromPort"], p["ToPort"], [r["CidrIp"] for r in p["IpRanges"]])
            for p in sg["IpPermissions"]] == [("tcp", 8443, 8443, ["10.0.0.0/8"])]
    egress = sg["IpPermissionsEgress"]
    assert any(p["IpProtocol"] == "-1" and {"CidrIp": "0.0.0.0/0"} in [{"CidrIp": r["CidrIp"]} for r in p["IpRanges"]]
               for p in egress)
    # Upstream's descriptions (v0.7.3 and v0.10.0): a different one replaces the
    # group or rule when a user switches module source.
    assert (sg["GroupName"], sg["Description"]) == (gw, f"Security group for {gw}")
    assert [r.get("Description") for p in sg["IpPermissions"] for r in p["IpRanges"]] == [f"Ingress rule for {gw}"]
    assert [r.get("Description") for p in egress for r in p["IpRanges"]] == [f"Egress rule for {gw}"]


def test_mesh_gateway_roles(applied: tfb.Applied, gw_moto: tb.MotoServer) -> None:
    out, NAME = applied.out, applied.name
    m = out["modules"]["mesh"]
    iam = gw_moto.client("iam")
    task = iam.get_role(RoleName=m["task_role_id"])["Role"]
    assert task["RoleName"] == f"{NAME.upper()}-Mesh-GW-task" and task["Path"] == "/consul-ecs/"
    assert role_tags(gw_moto, task["RoleName"]) == {
        "consul.hashicorp.com.service-name": f"{NAME}-mesh-gw", "consul.hashicorp.com.namespace": "",
        "consul.hashicorp.com.gateway-kind": "mesh-gateway", "team": "e2e"}
    docs = attached_policy_documents(gw_moto, task["RoleName"])
    assert set(docs) == {f"{NAME.upper()}-Mesh-GW-task", f"{NAME}-extra"}
    assert docs[f"{NAME.upper()}-Mesh-GW-task"]["Statement"] == [
        {"Effect": "Allow", "Action": ["iam:GetRole"], "Resource": [task["Arn"]]}]
    execution = iam.get_role(RoleName=m["execution_role_id"])["Role"]
    assert execution["Path"] == "/consul-ecs/"
    docs = attached_policy_documents(gw_moto, execution["RoleName"])
    # Upstream's document: one statement per CA secret given, then the logs.
    assert docs[f"{NAME.upper()}-Mesh-GW-execution"]["Statement"] == [
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": [arn]}
        for arn in (out["secrets"]["ca"], out["secrets"]["grpc_ca"])
    ] + [{"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}]
    family = f"{NAME.upper()}-Mesh-GW"
    descriptions = {p["PolicyName"]: iam.get_policy(PolicyArn=p["Arn"])["Policy"].get("Description")
                    for p in iam.list_policies(Scope="Local", PathPrefix="/consul-ecs/")["Policies"]}
    assert descriptions[f"{family}-task"] == f"{family} gateway-task task policy"
    assert descriptions[f"{family}-execution"] == f"{family} gateway-task execution policy"


def test_terminating_gateway_split(applied: tfb.Applied, gw_moto: tb.MotoServer) -> None:
    out, NAME = applied.out, applied.name
    m = out["modules"]["term"]
    td, c, tags = task_definition(gw_moto, m["task_definition_arn"])
    assert [x["name"] for x in td["containerDefinitions"]] == ["sidecar", MI, DP, HS]
    assert c["sidecar"]["command"] == ["sleep", "infinity"] and c["sidecar"]["essential"] is False
    assert not c["sidecar"].get("dependsOn") and not c["sidecar"].get("mountPoints")
    cfg = assert_split(c, tproxy=False)
    assert_dataplane(c[DP], 9443, split=True)
    # Only the volume with a path is mounted into the dataplane.
    assert c[DP]["mountPoints"] == [DATA_RO, {"sourceVolume": "certs", "containerPath": "/certs", "readOnly": True}]
    vols = {v["name"]: v for v in td["volumes"]}
    assert sorted(vols) == ["certs", "consul_binary", "consul_data", "scratch"]
    assert vols["certs"]["host"]["sourcePath"] == "/etc/certs"
    for x in td["containerDefinitions"]:
        assert "logConfiguration" not in x and not x.get("secrets"), x["name"]

    gw = f"{NAME}-terminating"
    elb = gw_moto.client("elbv2")
    lb = elb.describe_load_balancers(Names=[gw])["LoadBalancers"][0]
    assert m["wan_address"] == lb["DNSName"] and m["wan_port"] == 443
    assert cfg["gateway"] == {
        "kind": "terminating-gateway", "name": gw, "tags": [], "meta": {},
        "namespace": "default", "partition": "part1",
        "lanAddress": {"address": "", "port": 9443}, "wanAddress": {"address": lb["DNSName"], "port": 443}}
    assert cfg["consulLogin"] == {"enabled": True, "method": "iam-ecs-service-token", "region": "us-east-1"}
    assert cfg["transparentProxy"] == {
        "enabled": False, "excludeInboundPorts": [], "excludeOutboundPorts": [], "excludeOutboundCIDRs": [],
        "excludeUIDs": [], "consulDNS": {"enabled": False}}
    assert cfg["consulServers"]["hosts"] == "exec=/bin/discover addrs provider=aws"
    assert tags["consul.hashicorp.com/partition"] == "part1" and tags["consul.hashicorp.com/namespace"] == "default"
    assert role_tags(gw_moto, m["task_role_id"])["consul.hashicorp.com.gateway-kind"] == "terminating-gateway"

    svc = service(gw_moto, out["cluster"], gw)
    assert svc["desiredCount"] == 2
    tg = elb.describe_target_groups(Names=[gw])["TargetGroups"][0]
    assert tg["Port"] == 443
    assert svc["loadBalancers"] == [
        {"targetGroupArn": tg["TargetGroupArn"], "containerName": DP, "containerPort": 9443}]
    # No security group of the module's: the rule went into the existing one.
    assert m["lb_security_group_id"] is None
    assert svc["networkConfiguration"]["awsvpcConfiguration"].get("securityGroups", []) == []
    sg = gw_moto.client("ec2").describe_security_groups(GroupIds=[out["existing_security_group"]])["SecurityGroups"][0]
    assert [(p["IpProtocol"], p["FromPort"], [r["CidrIp"] for r in p["IpRanges"]]) for p in sg["IpPermissions"]] == \
        [("tcp", 9443, ["0.0.0.0/0"])]


def test_api_gateway_split_transparent_proxy(applied: tfb.Applied, gw_moto: tb.MotoServer) -> None:
    out, NAME = applied.out, applied.name
    m = out["modules"]["api"]
    td, c, _ = task_definition(gw_moto, m["task_definition_arn"])
    assert td["requiresCompatibilities"] == ["EC2"]
    assert [x["name"] for x in td["containerDefinitions"]] == [MI, DP, HS]
    cfg = assert_split(c, tproxy=True)
    assert_dataplane(c[DP], 8080, split=True, readiness_port=21000)
    assert cfg["gateway"]["kind"] == "api-gateway" and cfg["gateway"]["name"] == f"{NAME}-api-gw"
    assert cfg["gateway"]["lanAddress"] == {"address": "10.79.1.10", "port": 8080}
    assert cfg["gateway"]["wanAddress"] == {"address": "api.example.com", "port": 80}
    assert (m["wan_address"], m["wan_port"]) == ("api.example.com", 80)
    assert cfg["transparentProxy"] == {
        "enabled": True, "excludeInboundPorts": [9100], "excludeOutboundPorts": [],
        "excludeOutboundCIDRs": ["169.254.0.0/16"], "excludeUIDs": ["1337"], "consulDNS": {"enabled": True}}
    assert cfg["consulLogin"] == {}
    svc = service(gw_moto, out["cluster"], f"{NAME}-api-gw")
    assert svc["launchType"] == "EC2"
    assert svc["loadBalancers"] == [{"targetGroupArn": out["api_target_group"], "containerName": DP,
                                     "containerPort": 8080}]
    assert role_tags(gw_moto, m["task_role_id"])["consul.hashicorp.com.gateway-kind"] == "api-gateway"
    # No NLB of the module's.
    names = [lb["LoadBalancerName"] for lb in gw_moto.client("elbv2").describe_load_balancers()["LoadBalancers"]]
    assert f"{NAME}-api-gw" not in names


def test_defaults(applied: tfb.Applied, gw_moto: tb.MotoServer) -> None:
    out, NAME = applied.out, applied.name
    m = out["modules"]["defaults"]
    td, c, tags = task_definition(gw_moto, m["task_definition_arn"])
    assert sorted(td["requiresCompatibilities"]) == ["EC2", "FARGATE"]
    layout = module_default_layout()  # follows a flip of the default
    if layout == "split":
        assert [x["name"] for x in td["containerDefinitions"]] == [MI, DP, HS]
        cfg = assert_split(c, tproxy=False)
    else:
        assert layout == "control-plane", layout
        assert [x["name"] for x in td["containerDefinitions"]] == [CP, DP]
        cfg = assert_control_plane(c)
    assert_dataplane(c[DP], 8443, split=layout == "split")
    for x in td["containerDefinitions"]:
        assert "logConfiguration" not in x and not x.get("secrets"), x["name"]
    assert cfg["gateway"] == {
        "kind": "mesh-gateway", "name": f"{NAME}-defaults", "tags": [], "meta": {}, "namespace": "",
        "partition": "", "lanAddress": {"address": "", "port": 8443}, "wanAddress": {"address": "", "port": 8443}}
    assert cfg["consulLogin"] == {}
    assert cfg["consulServers"]["http"] == {"port": 8500, "https": False}
    assert cfg["consulServers"]["grpc"] == {"port": 8502}
    assert (m["wan_address"], m["wan_port"], m["lb_security_group_id"]) == ("", 8443, None)
    svc = service(gw_moto, out["cluster"], f"{NAME}-defaults")
    assert svc["desiredCount"] == 1 and svc["launchType"] == "FARGATE" and not svc.get("loadBalancers")
    assert svc["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == "DISABLED"
    assert list(attached_policy_documents(gw_moto, m["task_role_id"])) == []  # no ACLs: no GetRole
    stmts = attached_policy_documents(gw_moto, m["execution_role_id"])[f"{NAME}-defaults-execution"]["Statement"]
    assert [s["Action"] for s in stmts] == [["logs:CreateLogStream", "logs:PutLogEvents"]]


def test_rendered_configs_pass_our_validator(applied: tfb.Applied, gw_moto: tb.MotoServer, consul_ecs_bin: str,
                                             tmp_path: Path) -> None:
    """Each config through the commands of our binary that read it: the
    v0.7.3 schema (`control-plane`) for the "control-plane" layout; the
    v0.10.0 one (`mesh-init` and `health-sync`) for "split"."""
    for name, m in applied.out["modules"].items():
        _, c, _ = task_definition(gw_moto, m["task_definition_arn"])
        if CP in c:
            cfg_json = env_of(c[CP])["CONSUL_ECS_CONFIG_JSON"]
            ok, log = tfb.validate_consul_ecs_config(consul_ecs_bin, cfg_json, str(tmp_path))
            assert ok, f"{name}: consul-ecs control-plane rejects the rendered config:\n{log}"
        else:
            cfg_json = env_of(c[MI])["CONSUL_ECS_CONFIG_JSON"]
            for command in ("mesh-init", "health-sync"):
                ok, log = tfb.validate_v010_config(consul_ecs_bin, command, cfg_json, str(tmp_path))
                assert ok, f"{name}: consul-ecs {command} rejects the rendered config:\n{log}"
        assert cfg_json == m["consul_ecs_config_json"]
    # Not vacuous: each validator rejects what it must (an upper-case gateway
    # name in the v0.10 schema; the v0.10 kinds in the v0.7 one).
    cfg = json.loads(applied.out["modules"]["term"]["consul_ecs_config_json"])
    cfg["gateway"]["name"] = "Term"
    for command in ("mesh-init", "health-sync"):
        ok, log = tfb.validate_v010_config(consul_ecs_bin, command, json.dumps(cfg), str(tmp_path))
        assert not ok and "gateway.name" in log, log
    cfg = json.loads(applied.out["modules"]["mesh"]["consul_ecs_config_json"])
    cfg["gateway"]["kind"] = "api-gateway"
    ok, log = tfb.validate_consul_ecs_config(consul_ecs_bin, json.dumps(cfg), str(tmp_path))
    assert not ok and "gateway.kind" in log, log


def _assert_second_plan_clean(a: tfb.Applied) -> None:
    changes = tfb.plan_changes(a.root, a.variables)
    unexpected = [c for c in changes
                  if c["actions"] != ["update"]
                  or not set(c["changed"]) <= MOTO_GAPS.get(c["address"].rsplit(".", 2)[-2], set())]
    assert not unexpected, f"second plan changes more than the named moto gaps: {unexpected}"


def test_second_plan_changes_nothing_but_moto_gaps(applied: tfb.Applied) -> None:
    _assert_second_plan_clean(applied)


def test_destroy_leaves_nothing(applied: tfb.Applied, gw_moto: tb.MotoServer) -> None:
    applied.root.destroy(applied.variables, refresh=False)  # the second plan has just refreshed
    assert applied.root.state_resources() == []
    assert tfb.moto_leftovers(gw_moto, applied.name) == {}
    elb = gw_moto.client("elbv2")
    assert not [x for x in elb.describe_load_balancers()["LoadBalancers"]
                if x["LoadBalancerName"].startswith(applied.name)]
    assert not [x for x in elb.describe_target_groups()["TargetGroups"]
                if x["TargetGroupName"].startswith(applied.name)]


# ---- the example: two datacenters joined by mesh gateways ---------------------------

def test_mesh_gateways_example(stages: dict) -> None:
    """Once, with OpenTofu (both CLIs validate the example)."""
    if isinstance(stages["tofu"], Exception):
        pytest.fail(str(stages["tofu"]), pytrace=False)
    ex: tfb.Applied = stages["tofu"]["example"].result()
    gw_moto = stages["tofu"]["moto"]
    out = ex.out
    for dc in ("dc1", "dc2"):
        d = out["datacenters"][dc]
        _, c, _ = task_definition(gw_moto, d["gateway_task_definition_arn"])
        cfg = json.loads(env_of(c.get(CP) or c[MI])["CONSUL_ECS_CONFIG_JSON"])
        assert cfg["gateway"]["kind"] == "mesh-gateway"
        assert cfg["gateway"]["meta"]["consul-wan-federation"] == "1"
        assert cfg["gateway"]["wanAddress"]["address"] == d["gateway_wan_address"] != ""
        assert cfg["consulServers"]["defaults"]["tls"] is True
        assert role_tags(gw_moto, d["gateway_task_role_id"])["consul.hashicorp.com.gateway-kind"] == "mesh-gateway"
        _, app, _ = task_definition(gw_moto, d["app_task_definition_arn"])
        app_cfg = json.loads(env_of(app.get(CP) or app[MI])["CONSUL_ECS_CONFIG_JSON"])
        assert app_cfg["consulServers"]["hosts"] == d["server_dns"]
    # dc2's server joins dc1 through dc1's mesh gateway.
    assert out["datacenters"]["dc2"]["primary_gateways"] == [
        f'{out["datacenters"]["dc1"]["gateway_wan_address"]}:{out["datacenters"]["dc1"]["gateway_wan_port"]}']
    _assert_second_plan_clean(ex)
    ex.root.destroy(ex.variables, refresh=False)
    assert ex.root.state_resources() == []
    assert tfb.moto_leftovers(gw_moto, ex.name) == {}


# ---- bad inputs ---------------------------------------------------------------------

# group -> module call in tf-roots/gateway-task-invalid -> the message its one bad input must produce
BAD_INPUTS = {
    "variables": {
        "unknown_kind": "kind must be one of mesh-gateway, terminating-gateway or api-gateway",
        "upper_case_name": "consul_service_name must be lower case",
        "role_path_without_trailing_slash": "iam_role_path must start and end with",
        "unknown_layout": "consul_ecs_layout must be",
        "unknown_config_key": "consul_ecs_config accepts only the keys consulLogin and transparentProxy",
        "reserved_readiness_port": "envoy_readiness_port cannot be a port Consul or the sidecars use",
        "empty_dataplane_image": "consul_dataplane_image must name an image",
    },
    "rules": {
        "api_gateway_with_control_plane": 'kind = "api-gateway" needs consul_ecs_layout = "split"',
        "wan_federation_without_tls": "enable_mesh_gateway_wan_federation needs tls = true",
        "wan_address_and_lb": "Set either wan_address or lb_enabled, not both",
        "lb_without_vpc": "lb_vpc_id is required when lb_enabled = true",
        "create_and_modify_security_group": "Set at most one of lb_create_security_group and lb_modify_security_group",
        "custom_lb_with_lb_enabled": "custom_load_balancer_config is only for lb_enabled = false",
        "transparent_proxy_on_fargate": "enable_transparent_proxy = true needs the NET_ADMIN capability, which Fargate",
        "control_plane_readiness_on_10000": 'envoy_readiness_port cannot be 10000 with consul_ecs_layout = "control',
        "v010_inputs_with_control_plane": 'need consul_ecs_layout = "split": the control-plane layout (consul-ecs v0.7',
        "consul_dns_without_transparent_proxy": "enable_consul_dns needs enable_transparent_proxy = true",
    },
}


@pytest.mark.parametrize("group", sorted(BAD_INPUTS))
def test_bad_inputs_fail_at_plan(tofu_staged: dict, group: str) -> None:
    cases = BAD_INPUTS[group]
    p = tofu_staged["bad_inputs"].result()[group]
    assert p.returncode == 1, p.stdout[-3000:]
    errors = []
    for line in p.stdout.splitlines():
        d = json.loads(line).get("diagnostic") if line.startswith("{") else None
        if d and d.get("severity") == "error":
            errors.append(" ".join(f"{d.get('summary', '')}: {d.get('detail', '')}".split()))
    problems = [f"module.{call}: {message!r} found {n} times"
                for call, message in cases.items()
                if (n := sum(message in e for e in errors)) != 1]
    problems += [f"unexpected error: {e}" for e in errors if not any(m in e for m in cases.values())]
    assert not problems, "\n\n".join(problems)
