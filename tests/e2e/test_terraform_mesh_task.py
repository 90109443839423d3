"""terraform/modules/mesh-task (and the repo's HCL at large) with real CLIs
and the AWS provider against moto.

Per CLI (OpenTofu, Terraform 1.5.7): `fmt -check` and `validate` of every
module and example; one apply of tests/e2e/tf-roots/mesh-task (three mesh
tasks per consul_ecs_layout, each naming its layout) read back with boto3
(container definitions, users, capabilities, proxyConfiguration, roles,
policies, tags), each rendered CONSUL_ECS_CONFIG_JSON through our own
validator (and, for the v0.10 configs, the v0.10.0 JSON schema), a second
`plan -detailed-exitcode` that must be empty, a destroy that leaves nothing
in moto. With OpenTofu only: bad inputs fail at plan with the module's own
messages, and the example (the module's default layout; Terraform validates
it) applies and destroys. Each CLI applies against a moto of its own;
the shared fixtures are in conftest.py. The toolchain comes from
scripts/setup.sh; a missing one is a failure, not a skip.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from consul_ecs_testbed import bed as tb
from consul_ecs_testbed import terraform_bed as tfb
from consul_ecs_testbed.podman_task import image_ref

pytestmark = pytest.mark.timeout(900)

CP = "consul-ecs-control-plane"
DP = "consul-dataplane"
MI = "consul-ecs-mesh-init"
HS = "consul-ecs-health-sync"
MESH_INIT_DONE = [{"containerName": MI, "condition": "SUCCESS"}]
SIDECARS_HEALTHY = [{"containerName": CP, "condition": "HEALTHY"},
                    {"containerName": DP, "condition": "HEALTHY"}]
DATA_RO = {"sourceVolume": "consul_data", "containerPath": "/consul", "readOnly": True}
DATA_RW = {"sourceVolume": "consul_data", "containerPath": "/consul", "readOnly": False}
BINARY_RO = {"sourceVolume": "consul_binary", "containerPath": "/bin/consul-inject", "readOnly": True}


def _validate_all(cli: tfb.Cli, tree: Path) -> list[str]:
    failures = []
    for d in tfb.hcl_dirs():
        root = tfb.Root(cli, tree / d.relative_to(tfb.terraform_dir()))
        try:
            root.init()
            root.validate()
        except tfb.TfError as e:
            failures.append(str(e))
    return failures


def _bad_input_plans(cli: tfb.Cli, tree: Path) -> dict[str, subprocess.CompletedProcess]:
    root = tfb.Root(cli, tree / "test-roots" / "mesh-task-invalid")
    root.init()
    return {g: root.plan({"group": g}, False, "-json") for g in sorted(BAD_INPUTS)}


@pytest.fixture(scope="module")
def stages(tf_toolchain: tfb.Toolchain, tmp_path_factory: pytest.TempPathFactory):
    """Per CLI, the slow steps in a background chain, both CLIs at once
    (conftest.py): validate, apply of the test root, the bad-input plans;
    OpenTofu also applies the example (both CLIs validate it). The tests
    below wait for the stage they check."""
    def chain(cli: tfb.Cli, tree: Path, moto: tb.MotoServer):
        steps = [
            ("validate", lambda: _validate_all(cli, tree)),
            ("applied", lambda: tfb.apply_root(cli, tree / "test-roots" / "mesh-task",
                                               {"aws_endpoint_url": moto.url, "name": f"{cli.name}e2e"})),
        ]
        if cli.name == "tofu":  # (conftest.py: tofu_staged)
            steps.append(("bad_inputs", lambda: _bad_input_plans(cli, tree)))
            steps.append(("example", lambda: tfb.apply_root(
                cli, tree / "examples" / "mesh-task", {"aws_endpoint_url": moto.url, "name": "tofu-example"})))
        return steps

    with tfb.per_cli_chains(tf_toolchain, tmp_path_factory.mktemp, chain) as out:
        yield out


@pytest.fixture(scope="module")
def applied(staged: dict) -> tfb.Applied:
    return staged["applied"].result()


def task_definition(moto: tb.MotoServer, arn: str) -> tuple[dict, dict[str, dict], list[dict]]:
    r = moto.client("ecs").describe_task_definition(taskDefinition=arn, include=["TAGS"])
    td = r["taskDefinition"]
    return td, {c["name"]: c for c in td["containerDefinitions"]}, r.get("tags", [])


def env_of(container: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("environment", [])}


def config_of(containers: dict[str, dict]) -> dict:
    return json.loads(env_of(containers[CP])["CONSUL_ECS_CONFIG_JSON"])


def role_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def attached_policy_documents(moto: tb.MotoServer, role: str) -> dict[str, dict]:
    iam = moto.client("iam")
    out = {}
    for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
        pol = iam.get_policy(PolicyArn=p["PolicyArn"])["Policy"]
        doc = iam.get_policy_version(PolicyArn=p["PolicyArn"], VersionId=pol["DefaultVersionId"])
        d = doc["PolicyVersion"]["Document"]
        out[p["PolicyName"]] = json.loads(d) if isinstance(d, str) else d
    return out


def assert_sidecars(containers: dict[str, dict], readiness_port: int = 22000) -> None:
    cp, dp = containers[CP], containers[DP]
    assert cp["command"] == ["control-plane"]
    assert "entryPoint" not in cp or not cp["entryPoint"]  # the image's ENTRYPOINT runs
    assert cp["essential"] is False
    assert cp["healthCheck"]["command"] == ["CMD-SHELL", "curl -f localhost:10000/consul-ecs/health"]
    assert (cp["healthCheck"]["interval"], cp["healthCheck"]["timeout"], cp["healthCheck"]["retries"]) == (5, 5, 10)
    assert cp["mountPoints"] == [DATA_RW, BINARY_RO]
    assert cp["linuxParameters"]["initProcessEnabled"] is True
    assert list(env_of(cp)) == ["CONSUL_ECS_CONFIG_JSON"]

    assert dp["entryPoint"] == ["/consul/consul-ecs", "envoy-entrypoint"]
    assert dp["command"] == ["consul-dataplane", "-config-file", "/consul/consul-dataplane.json"]
    assert dp["essential"] is True, "a dead dataplane must stop the task (upstream #325)"
    assert dp["healthCheck"]["command"] == ["/consul/consul-ecs", "net-dial", f"127.0.0.1:{readiness_port}"]
    assert (dp["healthCheck"]["interval"], dp["healthCheck"]["timeout"], dp["healthCheck"]["retries"]) == (5, 5, 10)
    assert dp["dependsOn"] == [{"containerName": CP, "condition": "HEALTHY"}]
    assert dp["mountPoints"] == [DATA_RO]
    assert dp["ulimits"] == [{"name": "nofile", "softLimit": 1048576, "hardLimit": 1048576}]
    assert dp["image"] == "hashicorp/consul-dataplane:1.3.3"
    for c in (cp, dp):
        assert not c.get("portMappings") and not c.get("volumesFrom")


# ---- static checks ---------------------------------------------------------------

def test_fmt_check(cli: tfb.Cli) -> None:
    for d in (tfb.terraform_dir(), tfb.tf_roots_dir()):
        p = subprocess.run([cli.path, "fmt", "-check", "-recursive", "-diff", "-no-color", str(d)],
                           env=cli.env(), capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, f"{cli.name} fmt -check {d}:\n{p.stdout}{p.stderr}"


def test_validate_every_module_and_example(staged: dict) -> None:
    """Each module on its own and each example (the test roots are checked by
    their apply / plan)."""
    dirs = tfb.hcl_dirs()
    assert tfb.terraform_dir() / "modules" / "mesh-task" in dirs
    assert tfb.terraform_dir() / "examples" / "mesh-task" in dirs
    failures = staged["validate"].result()
    assert not failures, "\n\n".join(failures)


# ---- apply against moto -------------------------------------------------------------

def test_web_task_definition(applied, tf_moto: tb.MotoServer) -> None:
    out, NAME = applied.out, applied.name
    m = out["modules"]["web"]
    td, c, tags = task_definition(tf_moto, m["task_definition_arn"])
    assert td["family"] == f"{NAME}-web"
    assert td["networkMode"] == "awsvpc"
    assert (td["cpu"], td["memory"]) == ("256", "512")
    assert sorted(td["requiresCompatibilities"]) == ["EC2", "FARGATE"]
    assert [x["name"] for x in td["containerDefinitions"]] == ["web", "helper", CP, DP]
    assert sorted(v["name"] for v in td["volumes"]) == ["consul_binary", "consul_data"]
    assert td["taskRoleArn"] == m["task_role_arn"]
    assert td["executionRoleArn"] == m["execution_role_arn"]

    web = c["web"]
    assert web["entryPoint"] == ["/consul/consul-ecs", "app-entrypoint", "-shutdown-delay", "10s"]
    assert web["command"] == ["/bin/web", "-listen", ":8080"]  # appended by ECS, no "--"
    assert web["mountPoints"] == [DATA_RO]
    assert web["dependsOn"] == SIDECARS_HEALTHY
    assert web["essential"] is True
    assert web["portMappings"][0]["containerPort"] == 8080

    helper = c["helper"]  # has its own entryPoint: left alone
    assert helper["entryPoint"] == ["/helper"]
    assert not helper.get("mountPoints")
    assert helper["dependsOn"] == [{"containerName": "web", "condition": "START"}] + SIDECARS_HEALTHY
    assert helper["essential"] is False

    assert_sidecars(c)
    secrets = {s["name"]: s["valueFrom"] for s in c[CP]["secrets"]}
    assert secrets == {"CONSUL_HTTPS_CACERT_PEM": out["secrets"]["ca"],
                       "CONSUL_GRPC_CACERT_PEM": out["secrets"]["grpc_ca"]}
    for name in ("web", CP, DP):
        assert c[name]["logConfiguration"]["logDriver"] == "awslogs"
        assert c[name]["logConfiguration"]["options"]["awslogs-group"] == f"/ecs/{NAME}"

    cfg = config_of(c)
    assert cfg["bootstrapDir"] == "/consul"
    assert cfg["healthSyncContainers"] == ["web"]
    assert cfg["consulLogin"] == {"enabled": True, "method": "iam-ecs-service-token", "region": "us-east-1"}
    assert cfg["service"] == {"name": f"{NAME}-web", "port": 8080, "tags": ["v1"], "meta": {"owner": "e2e"},
                              "namespace": "", "partition": "", "enableTagOverride": True,
                              "weights": {"passing": 3, "warning": 1}}
    assert cfg["proxy"] == {"publicListenerPort": 20000, "healthCheckPort": 22000,
                            "upstreams": [{"destinationName": "api", "localBindPort": 1234}],
                            "config": {"protocol": "http"}}
    assert cfg["consulServers"] == {
        "hosts": "consul.internal", "skipServerWatch": False,
        "defaults": {"tls": True, "tlsServerName": "server.dc1.consul", "caCertFile": ""},
        "http": {"port": 443, "https": True}, "grpc": {"port": 8503}}

    tag_map = {t["key"]: t["value"] for t in tags}
    assert tag_map["consul.hashicorp.com/mesh"] == "true"
    assert tag_map["consul.hashicorp.com/service-name"] == f"{NAME}-web"
    assert tag_map["team"] == "e2e"
    assert "consul.hashicorp.com/partition" not in tag_map
    assert m["task_tags"] == tag_map

    svc = tf_moto.client("ecs").describe_services(cluster=NAME, services=[f"{NAME}-web"])["services"][0]
    assert svc["status"] == "ACTIVE" and svc["propagateTags"] == "TASK_DEFINITION"
    assert svc["taskDefinition"] == m["task_definition_arn"]


def test_web_roles(applied, tf_moto: tb.MotoServer) -> None:
    out, NAME = applied.out, applied.name
    m = out["modules"]["web"]
    iam = tf_moto.client("iam")
    task = iam.get_role(RoleName=m["task_role_id"])["Role"]
    assert task["RoleName"] == f"{NAME}-web-task" and task["Path"] == "/consul-ecs/"
    assert task["Arn"] == m["task_role_arn"]
    tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=task["RoleName"])["Tags"]}
    assert tags == {"consul.hashicorp.com.service-name": f"{NAME}-web",
                    "consul.hashicorp.com.namespace": "", "team": "e2e"}
    trust = task["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}

    docs = attached_policy_documents(tf_moto, task["RoleName"])
    assert set(docs) == {f"{NAME}-web-task", f"{NAME}-extra"}
    stmt = docs[f"{NAME}-web-task"]["Statement"]
    assert stmt == [{"Effect": "Allow", "Action": ["iam:GetRole"], "Resource": [task["Arn"]]}]

    execution = iam.get_role(RoleName=m["execution_role_id"])["Role"]
    assert execution["RoleName"] == f"{NAME}-web-execution" and execution["Path"] == "/consul-ecs/"
    docs = attached_policy_documents(tf_moto, execution["RoleName"])
    assert list(docs) == [f"{NAME}-web-execution"]
    # Upstream's document: one statement per CA secret given (consul_ca_cert_arn,
    # then consul_grpc_ca_cert_arn), then the logs.
    assert docs[f"{NAME}-web-execution"]["Statement"] == [
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": [out["secrets"]["ca"]]},
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": [out["secrets"]["grpc_ca"]]},
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"},
    ]
    # Upstream's descriptions: another one forces a replacement after a switch.
    descriptions = {p["PolicyName"]: iam.get_policy(PolicyArn=p["Arn"])["Policy"].get("Description")
                    for p in iam.list_policies(Scope="Local", PathPrefix="/consul-ecs/")["Policies"]}
    assert descriptions[f"{NAME}-web-task"] == f"{NAME}-web mesh-task task policy"
    assert descriptions[f"{NAME}-web-execution"] == f"{NAME}-web mesh-task execution policy"


def test_defaults_task_definition(applied, tf_moto: tb.MotoServer) -> None:
    """All defaults: no log configuration anywhere (the 6.x provider rejects
    the null/empty one the v0.7.3 defaults send), no secrets, no wrapper."""
    out, NAME = applied.out, applied.name
    m = out["modules"]["api"]
    td, c, tags = task_definition(tf_moto, m["task_definition_arn"])
    assert td["family"] == f"{NAME.upper()}-API"
    assert [x["name"] for x in td["containerDefinitions"]] == ["api", CP, DP]
    for x in td["containerDefinitions"]:
        assert "logConfiguration" not in x, x["name"]
    api = c["api"]
    assert not api.get("entryPoint") and not api.get("mountPoints")
    assert api["dependsOn"] == SIDECARS_HEALTHY
    assert_sidecars(c)
    assert c[CP]["image"] == image_ref()
    assert not c[CP].get("secrets")
    cfg = config_of(c)
    assert cfg["service"]["name"] == f"{NAME}-api"  # the lower-cased family
    assert cfg["consulLogin"] == {}
    assert cfg["healthSyncContainers"] == []
    assert cfg["consulServers"]["http"] == {"port": 8500, "https": False}
    assert cfg["consulServers"]["grpc"] == {"port": 8502}
    tag_map = {t["key"]: t["value"] for t in tags}
    assert tag_map["consul.hashicorp.com/service-name"] == f"{NAME}-api"

    iam = tf_moto.client("iam")
    assert list(attached_policy_documents(tf_moto, m["task_role_id"])) == []  # no ACLs: no GetRole
    docs = attached_policy_documents(tf_moto, m["execution_role_id"])
    stmts = docs[f"{NAME.upper()}-API-execution"]["Statement"]
    assert [s["Action"] for s in stmts] == [["logs:CreateLogStream", "logs:PutLogEvents"]]
    assert iam.get_role(RoleName=m["task_role_id"])["Role"]["Path"] == "/consul-ecs/"


def test_bring_your_own_roles_first_apply(applied, tf_moto: tb.MotoServer) -> None:
    """Roles created in the same apply (ARNs unknown at plan) are used as is;
    the module creates no role or policy of its own for that task."""
    out, NAME = applied.out, applied.name
    m = out["modules"]["byo"]
    assert m["task_role_arn"] == out["byo_roles"]["task"]
    assert m["execution_role_arn"] == out["byo_roles"]["execution"]
    td, c, tags = task_definition(tf_moto, m["task_definition_arn"])
    assert td["taskRoleArn"] == out["byo_roles"]["task"]
    assert td["executionRoleArn"] == out["byo_roles"]["execution"]
    assert td["requiresCompatibilities"] == ["FARGATE"]
    vols = {v["name"]: v for v in td["volumes"]}
    assert sorted(vols) == ["consul_binary", "consul_data", "scratch", "shared"]
    efs = vols["shared"]["efsVolumeConfiguration"]
    assert (efs["fileSystemId"], efs["rootDirectory"], efs["transitEncryption"]) == \
        ("fs-0123456789abcdef0", "/data", "ENABLED")
    assert efs["authorizationConfig"]["iam"] == "ENABLED"
    tag_map = {t["key"]: t["value"] for t in tags}
    assert tag_map["consul.hashicorp.com/partition"] == "part1"
    assert tag_map["consul.hashicorp.com/namespace"] == "ns1"
    cfg = config_of(c)
    assert cfg["service"]["name"] == "byo" and cfg["service"]["port"] == 0
    assert (cfg["service"]["partition"], cfg["service"]["namespace"]) == ("part1", "ns1")
    assert cfg["consulLogin"] == {"enabled": True, "method": "iam-ecs-service-token"}
    assert cfg["consulServers"]["hosts"] == "exec=/bin/discover addrs provider=aws"
    iam = tf_moto.client("iam")
    names = {r["RoleName"] for r in iam.list_roles()["Roles"]}
    assert f"{NAME}-byo-task" not in names and f"{NAME}-byo-execution" not in names
    policies = {p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]}
    assert not any(p.startswith(f"{NAME}-byo") for p in policies)


def test_rendered_configs_pass_our_validator(applied, tf_moto: tb.MotoServer, consul_ecs_bin: str,
                                             tmp_path: Path) -> None:
    out = applied.out
    for name, m in out["modules"].items():
        _, c, _ = task_definition(tf_moto, m["task_definition_arn"])
        ok, log = tfb.validate_consul_ecs_config(consul_ecs_bin, env_of(c[CP])["CONSUL_ECS_CONFIG_JSON"],
                                                 str(tmp_path))
        assert ok, f"{name}: consul-ecs rejects the rendered config:\n{log}"
    # The check itself is not vacuous: a bad config is reported as such.
    ok, log = tfb.validate_consul_ecs_config(consul_ecs_bin, json.dumps(
        {"bootstrapDir": "/consul", "consulServers": {"hosts": "x"}, "service": {"name": "Web"}}), str(tmp_path))
    assert not ok and "service.name" in log


# ---- layout "split" (v0.10) ------------------------------------------------------------

def module_default_layout() -> str:
    text = (tfb.terraform_dir() / "modules" / "mesh-task" / "variables.tf").read_text()
    block = text[text.index('variable "consul_ecs_layout"'):]
    return re.search(r'^\s*default\s*=\s*"([^"]+)"', block, re.M).group(1)


def split_config_of(containers: dict[str, dict]) -> dict:
    """The v0.10 config: mesh-init and health-sync must get the same one."""
    mi, hs = (env_of(containers[n])["CONSUL_ECS_CONFIG_JSON"] for n in (MI, HS))
    assert mi == hs, "mesh-init and health-sync got different configs"
    return json.loads(mi)


def assert_split_sidecars(containers: dict[str, dict], tproxy: bool, readiness_port: int = 22000) -> None:
    assert CP not in containers
    mi, hs, dp = containers[MI], containers[HS], containers[DP]

    assert mi["command"] == ["mesh-init"]
    assert not mi.get("entryPoint")  # the image's ENTRYPOINT runs
    assert mi["essential"] is False   # one-shot: exits 0 when done
    assert mi["mountPoints"] == [DATA_RW, BINARY_RO]
    assert list(env_of(mi)) == ["CONSUL_ECS_CONFIG_JSON"]
    assert not mi.get("dependsOn") and not mi.get("healthCheck")
    assert mi["linuxParameters"]["initProcessEnabled"] is True
    if tproxy:  # iptables: root with NET_ADMIN
        assert mi["user"] == "0"
        assert mi["linuxParameters"]["capabilities"] == {"add": ["NET_ADMIN"]}
    else:       # nothing privileged, and no empty capabilities (perpetual diff, #318)
        assert "user" not in mi
        assert "capabilities" not in mi["linuxParameters"]

    assert hs["command"] == ["health-sync"]
    assert not hs.get("entryPoint")
    assert hs["essential"] is False, "health-sync stays non-essential (README: Layouts)"
    assert hs["user"] == "5996"
    assert hs["dependsOn"] == MESH_INIT_DONE
    assert hs["mountPoints"] == [DATA_RO]
    assert hs["linuxParameters"] == {"initProcessEnabled": True}
    assert list(env_of(hs)) == ["CONSUL_ECS_CONFIG_JSON"]
    assert not hs.get("healthCheck")

    assert dp["entryPoint"] == ["/consul/consul-ecs", "envoy-entrypoint"]
    assert dp["command"] == ["consul-dataplane", "-config-file", "/consul/consul-dataplane.json"]
    assert dp["essential"] is True, "a dead dataplane must stop the task (upstream #325)"
    assert dp["user"] == "5995"
    assert dp["dependsOn"] == MESH_INIT_DONE
    assert dp["healthCheck"]["command"] == ["/consul/consul-ecs", "net-dial", f"127.0.0.1:{readiness_port}"]
    assert (dp["healthCheck"]["interval"], dp["healthCheck"]["timeout"], dp["healthCheck"]["retries"]) == (5, 5, 10)
    assert dp["mountPoints"] == [DATA_RO]
    assert dp["ulimits"] == [{"name": "nofile", "softLimit": 1048576, "hardLimit": 1048576}]
    assert "user" not in containers.get(CP, {})
    for x in (mi, hs, dp):
        assert not x.get("portMappings") and not x.get("volumesFrom")


@pytest.fixture(scope="module")
def split(applied, tf_moto: tb.MotoServer) -> dict[str, tuple[dict, dict[str, dict], list[dict]]]:
    return {k: task_definition(tf_moto, m["task_definition_arn"])
            for k, m in applied.out["split_modules"].items()}


def test_split_ec2_transparent_proxy(applied, split) -> None:
    out, NAME = applied.out, applied.name
    td, c, tags = split["ec2"]
    assert td["family"] == f"{NAME}-ec2"
    assert td["requiresCompatibilities"] == ["EC2"] and td["networkMode"] == "awsvpc"
    assert [x["name"] for x in td["containerDefinitions"]] == ["app", MI, DP, HS]
    assert "proxyConfiguration" not in td  # iptables by mesh-init, not ECS
    assert_split_sidecars(c, tproxy=True)

    app = c["app"]
    assert app["dependsOn"] == [{"containerName": DP, "condition": "HEALTHY"}]
    assert app["entryPoint"] == ["/consul/consul-ecs", "app-entrypoint", "-shutdown-delay", "5s"]
    assert app["mountPoints"] == [DATA_RO]
    assert "user" not in app and "linuxParameters" not in app

    for name in (MI, HS):
        secrets = {s["name"]: s["valueFrom"] for s in c[name]["secrets"]}
        assert secrets == {"CONSUL_HTTPS_CACERT_PEM": out["secrets"]["ca"],
                           "CONSUL_GRPC_CACERT_PEM": out["secrets"]["grpc_ca"]}, name
    assert not c[DP].get("secrets")
    for name in (MI, HS, DP):
        assert c[name]["logConfiguration"]["options"]["awslogs-group"] == f"/ecs/{NAME}", name

    cfg = split_config_of(c)
    assert cfg["transparentProxy"] == {
        "enabled": True, "excludeInboundPorts": [9000], "excludeOutboundPorts": [5432, 6379],
        "excludeOutboundCIDRs": ["10.0.0.0/8", "192.168.1.10"],
        "excludeUIDs": ["1000"],  # the input wins over consul_ecs_config.transparentProxy, as upstream
        "consulDNS": {"enabled": True}}
    assert cfg["service"] == {
        "name": f"{NAME}-ec2", "port": 8080, "tags": [], "meta": {}, "namespace": "", "partition": "",
        "enableTagOverride": True,
        "networkResilienceConfig": {"enabled": True, "outlierDetection": {
            "interval": 5000000000, "maxFailures": 3, "consecutive5xx": 4}}}
    assert cfg["healthSyncContainers"] == ["app"]
    assert cfg["consulLogin"] == {"enabled": True, "method": "iam-ecs-service-token"}
    assert cfg["proxy"] == {"publicListenerPort": 20000, "healthCheckPort": 22000,
                            "upstreams": [{"destinationName": "api", "localBindPort": 1234}]}
    assert cfg["consulServers"]["http"] == {"port": 8501, "https": True}
    tag_map = {t["key"]: t["value"] for t in tags}
    assert tag_map["consul.hashicorp.com/mesh"] == "true" and tag_map["team"] == "e2e"


def test_split_fargate_ecs_proxy_configuration(applied, split, tf_moto: tb.MotoServer) -> None:
    """ECS's own redirection (type APPMESH), read back from moto (which keeps
    proxyConfiguration as registered)."""
    out, NAME = applied.out, applied.name
    td, c, _ = split["fargate"]
    assert td["requiresCompatibilities"] == ["FARGATE"] and td["networkMode"] == "awsvpc"
    assert [x["name"] for x in td["containerDefinitions"]] == ["fapp", MI, DP, HS]
    # No NET_ADMIN, no root on Fargate; readiness on 10000 (as v0.10.0 allows).
    assert_split_sidecars(c, tproxy=False, readiness_port=10000)
    pc = td["proxyConfiguration"]
    assert pc["type"] == "APPMESH" and pc["containerName"] == DP
    props = {p["name"]: p["value"] for p in pc["properties"]}
    assert props == {
        "IgnoredUID": "5995",                 # = consul-dataplane's user
        "AppPorts": "9090",
        "ProxyIngressPort": "20000",          # Envoy's public listener
        "ProxyEgressPort": "15001",           # Envoy's outbound listener
        "EgressIgnoredIPs": "169.254.170.2,169.254.169.254,10.1.0.0/16",
        "EgressIgnoredPorts": "8501,443",     # Consul HTTP(S) (mesh-init runs before Envoy) + exclude_outbound_ports
    }
    assert len(pc["properties"]) == len(props)
    assert c[DP]["user"] == props["IgnoredUID"]
    cfg = split_config_of(c)
    # mesh-init must not redirect too: ECS does.
    assert cfg["transparentProxy"]["enabled"] is False
    assert cfg["transparentProxy"]["consulDNS"] == {"enabled": False}
    assert cfg["consulServers"]["http"] == {"port": 8501, "https": True}
    assert c["fapp"]["dependsOn"] == [{"containerName": DP, "condition": "HEALTHY"}]
    assert not c["fapp"].get("entryPoint")
    svc = tf_moto.client("ecs").describe_services(cluster=NAME, services=[f"{NAME}-fargate"])["services"][0]
    assert svc["taskDefinition"] == out["split_modules"]["fargate"]["task_definition_arn"]


def test_split_minimal_defaults(applied, split) -> None:
    """Defaults but the layout and EC2: the transparent proxy is on (no
    FARGATE: the task can have NET_ADMIN), the dataplane is upstream v0.10.0's
    default, everything else empty; the whole config is pinned."""
    NAME = applied.name
    td, c, _ = split["minimal"]
    assert [x["name"] for x in td["containerDefinitions"]] == ["mini", MI, DP, HS]
    assert_split_sidecars(c, tproxy=True)
    assert "proxyConfiguration" not in td
    for x in td["containerDefinitions"]:
        assert "logConfiguration" not in x and not x.get("secrets"), x["name"]
    assert c[MI]["image"] == c[HS]["image"] == image_ref()
    assert c[DP]["image"] == "hashicorp/consul-dataplane:2.0.1"
    assert split_config_of(c) == {
        "bootstrapDir": "/consul",
        "healthSyncContainers": [],
        "consulLogin": {},
        "service": {"name": f"{NAME}-minimal", "port": 7070, "tags": [], "meta": {},
                    "namespace": "", "partition": ""},
        "proxy": {"publicListenerPort": 20000, "healthCheckPort": 22000, "upstreams": []},
        "consulServers": {"hosts": "10.0.0.10", "skipServerWatch": False,
                          "defaults": {"tls": False, "tlsServerName": "", "caCertFile": ""},
                          "http": {"port": 8500, "https": False}, "grpc": {"port": 8502}},
        "transparentProxy": {"enabled": True, "excludeInboundPorts": [], "excludeOutboundPorts": [],
                             "excludeOutboundCIDRs": [], "excludeUIDs": [], "consulDNS": {"enabled": False}},
    }


def test_control_plane_layout_ignores_the_v010_inputs(applied, tf_moto: tb.MotoServer) -> None:
    """web sets enable_transparent_proxy = true with FARGATE among its launch
    types: the control-plane layout ignores it (nothing of v0.10 in the task
    definitions of web, api, byo) instead of failing."""
    for name, m in applied.out["modules"].items():
        td, c, _ = task_definition(tf_moto, m["task_definition_arn"])
        assert MI not in c and HS not in c, name
        assert "proxyConfiguration" not in td, name
        assert "transparentProxy" not in config_of(c), name
        for x in (c[CP], c[DP]):
            assert "user" not in x and "capabilities" not in x.get("linuxParameters", {}), (name, x["name"])


def _v010_schema_errors(config: dict) -> list[str]:
    import jsonschema
    schema = json.loads((Path(tb.repo_root()) / "src" / "config" / "schema" / "schema-0.10.0.json").read_text())
    return [f"{'.'.join(map(str, e.path))}: {e.message}"
            for e in jsonschema.Draft7Validator(schema).iter_errors(config)]


def run_v010_command(binary: str, command: str, config_json: str, workdir: str) -> tuple[bool, str]:
    """Runs `consul-ecs mesh-init` or `health-sync` on a rendered config, as
    tfb.validate_consul_ecs_config() does with control-plane: each validates
    CONSUL_ECS_CONFIG_JSON against the v0.10.0 schema first (exit 1 with
    "invalid config:"); a valid config gets as far as the next step, which
    fails here: reading the task metadata (no ECS_CONTAINER_METADATA_URI_V4)
    or, for mesh-init with the transparent proxy, its NET_ADMIN check (which
    comes first and depends on this machine). Returns (accepted, output)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONSUL_", "AWS_", "ECS_"))}
    env["CONSUL_ECS_CONFIG_JSON"] = config_json
    p = subprocess.run([binary, command], env=env, cwd=workdir, capture_output=True, text=True, timeout=30)
    out = p.stdout + p.stderr
    next_step = "ECS_CONTAINER_METADATA_URI_V4 is not set" in out or (
        command == "mesh-init" and "NET_ADMIN" in out)
    return p.returncode != 0 and "invalid config" not in out and next_step, out


def test_split_configs_are_valid_v010_configs(applied, split, consul_ecs_bin: str, tmp_path: Path) -> None:
    """Each rendered v0.10 config (1) passes the v0.10.0 JSON schema (the
    repo's copy of the reference's, the one the binary embeds), checked with
    python jsonschema, and (2) is accepted by the two commands of our binary
    that read it in the split layout, mesh-init and health-sync."""
    for name, (_, c, _) in split.items():
        cfg_json = env_of(c[MI])["CONSUL_ECS_CONFIG_JSON"]
        assert _v010_schema_errors(json.loads(cfg_json)) == [], name
        for command in ("mesh-init", "health-sync"):
            ok, log = run_v010_command(consul_ecs_bin, command, cfg_json, str(tmp_path))
            assert ok, f"{name}: consul-ecs {command} rejects the rendered v0.10 config:\n{log}"
    # Neither check is vacuous: a v0.10-only mistake is reported by both.
    bad = json.loads(env_of(split["minimal"][1][MI])["CONSUL_ECS_CONFIG_JSON"])
    bad["transparentProxy"]["excludeInboundPorts"] = ["http"]
    assert _v010_schema_errors(bad)
    for command in ("mesh-init", "health-sync"):
        ok, log = run_v010_command(consul_ecs_bin, command, json.dumps(bad), str(tmp_path))
        assert not ok and "invalid config" in log and "excludeInboundPorts" in log, log

def test_second_plan_is_empty(applied, tf_moto: tb.MotoServer) -> None:
    """No perpetual diff (upstream #318): nothing ECS or IAM normalises may
    show as a change."""
    p = applied.root.plan_exitcode(applied.variables)
    assert p.returncode == 0, f"second plan is not empty (exit {p.returncode}):\n{p.stdout[-6000:]}{p.stderr[-3000:]}"


def test_destroy_leaves_nothing(applied, tf_moto: tb.MotoServer) -> None:
    applied.root.destroy(applied.variables, refresh=False)  # the second plan has just refreshed
    assert applied.root.state_resources() == []
    assert tfb.moto_leftovers(tf_moto, applied.name) == {}


# ---- the example ----------------------------------------------------------------------

def test_example_applies_and_destroys(stages: dict) -> None:
    """The example uses the module's default layout: its sidecars are those of
    the default declared in variables.tf (so the test follows a flip). Once,
    with OpenTofu (both CLIs validate it)."""
    if isinstance(stages["tofu"], Exception):
        pytest.fail(str(stages["tofu"]), pytrace=False)
    ex: tfb.Applied = stages["tofu"]["example"].result()
    tf_moto = stages["tofu"]["moto"]
    td, c, _ = task_definition(tf_moto, ex.out["task_definition_arn"])
    assert c["echo"]["entryPoint"][:2] == ["/consul/consul-ecs", "app-entrypoint"]
    layout = module_default_layout()
    if layout == "split":
        assert [x["name"] for x in td["containerDefinitions"]] == ["echo", MI, DP, HS]
        assert_split_sidecars(c, tproxy=False)  # Fargate: the example turns it off
    else:
        assert layout == "control-plane", layout
        assert_sidecars(c)
    p = ex.root.plan_exitcode(ex.variables)
    assert p.returncode == 0, f"second plan is not empty:\n{p.stdout[-6000:]}"
    ex.root.destroy(ex.variables, refresh=False)
    assert tfb.moto_leftovers(tf_moto, ex.name) == {}


# ---- bad inputs ---------------------------------------------------------------------

# group -> module call in tf-roots/mesh-task-invalid -> the message its one bad input must produce
BAD_INPUTS = {
    "variables": {
        "upper_case_service_name": "consul_service_name must be lower case",
        "relative_role_path": "iam_role_path must start and end with",
        "unknown_config_key": "consul_ecs_config accepts only the keys service, proxy and consulLogin",
        "reserved_listener_port": "envoy_public_listener_port cannot be a port Consul or the sidecars use",
        "upstream_without_port": "Every upstream needs destinationName and localBindPort",
        "unknown_layout": "consul_ecs_layout must be \"control-plane\"",
        "exclude_port_out_of_range": "exclude_inbound_ports must hold distinct ports between 1 and 65535",
        "exclude_uid_not_numeric": "exclude_uids must hold distinct numeric user IDs",
        "exclude_cidr_invalid": "exclude_outbound_cidrs must hold distinct CIDRs or IP addresses",
        "unknown_outlier_detection_key": "networkResilienceConfig.outlierDetection accepts only",
        "empty_dataplane_image": "consul_dataplane_image must name an image",
    },
    "rules": {
        "task_role_without_create_false": "set create_task_role = false to use task_role",
        "extra_policies_with_own_role": "additional_task_role_policies needs create_task_role = true",
        "acls_without_any_task_role": "With acls = true and create_task_role = false, task_role must be given",
        "no_port": "port must be set unless outbound_only = true",
        "partition_without_namespace": "consul_partition and consul_namespace must be set together",
        "tproxy_on_fargate": "enable_transparent_proxy = true needs the NET_ADMIN capability, which Fargate never",
        "split_listener_on_consul_port": ("envoy_public_listener_port cannot be one of Consul's ports 8300, 8301, "
                                          '8302, 8500, 8501, 8502 with consul_ecs_layout = "split"'),
        "control_plane_readiness_on_10000": 'envoy_readiness_port cannot be 10000 with consul_ecs_layout = "control',
        "consul_dns_without_tproxy": "enable_consul_dns needs enable_transparent_proxy = true",
        "ecs_proxy_with_tproxy": "enable_ecs_proxy_configuration and enable_transparent_proxy both redirect",
        "ecs_proxy_without_port": "enable_ecs_proxy_configuration needs port",
        "ecs_proxy_with_exclude_uids": ("exclude_inbound_ports and exclude_uids have no effect with "
                                        "enable_ecs_proxy_configuration"),
        "split_input_with_control_plane": ('need consul_ecs_layout = "split": the control-plane layout '
                                           "(consul-ecs v0.7) has no transparent proxy"),
    },
}


@pytest.mark.parametrize("group", sorted(BAD_INPUTS))
def test_bad_inputs_fail_at_plan(tofu_staged: dict, group: str) -> None:
    cases = BAD_INPUTS[group]
    p = tofu_staged["bad_inputs"].result()[group]
    assert p.returncode == 1, p.stdout[-3000:]
    # Exactly one error per module call, each with that call's message. (The
    # diagnostics of preconditions do not name the module instance, so the
    # errors are matched by message: every expected message exactly once,
    # nothing else.)
    errors = []
    for line in p.stdout.splitlines():
        d = json.loads(line).get("diagnostic") if line.startswith("{") else None
        if d and d.get("severity") == "error":
            errors.append(" ".join(f"{d.get('summary', '')}: {d.get('detail', '')}".split()))
    problems = [f"module.{call}: {message!r} found {n} times"
                for call, message in cases.items()
                if (n := sum(message in e for e in errors)) != 1]
    unexpected = [e for e in errors if not any(m in e for m in cases.values())]
    problems += [f"unexpected error: {e}" for e in unexpected]
    assert len(errors) == len(cases) or problems, f"{len(errors)} errors for {len(cases)} cases: {errors}"
    assert not problems, "\n\n".join(problems)
