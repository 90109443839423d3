"""terraform/modules/dev-server with real CLIs and the AWS, tls and random
providers against moto (tests/e2e/tf-roots/dev-server: three servers).

Per CLI (OpenTofu, Terraform 1.5.7): apply, read back with boto3 (task
definitions: containers, commands, secrets, dependencies; ECS services with
Cloud Map and load balancer; IAM roles and policies; the generated CA and
bootstrap token in Secrets Manager; Cloud Map namespaces and services; the
load balancer), a second plan that changes nothing but the one attribute moto
does not return, a destroy that leaves nothing in moto; with OpenTofu, bad
inputs fail at plan with the module's messages and the example applies. A
missing toolchain is a failure, not a skip.
"""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from consul_ecs_testbed import bed as tb
from consul_ecs_testbed import terraform_bed as tfb
from test_terraform_controller import MOTO_GAPS, assert_only_moto_gaps, env_of, policy_document  # noqa: F401

pytestmark = pytest.mark.timeout(600)

NAME = "tfdev"
SERVER = "consul-server"
DATA = {"sourceVolume": "consul-data", "containerPath": "/consul", "readOnly": False}
PORTS = [{"containerPort": p, "hostPort": p, "protocol": "tcp"} for p in (8301, 8300, 8500)]


def _apply(cli: tfb.Cli, workdir: Path, variables: dict) -> tuple[tfb.Root, dict]:
    a = tfb.apply_root(cli, workdir, variables)
    return a.root, a.out


EXAMPLE_NAME = "tfexdev"


def _apply_example(cli: tfb.Cli, tree: Path, tmp_path_factory: pytest.TempPathFactory,
                   motos: list) -> tuple[tb.MotoServer, tfb.Root, dict]:
    """terraform/examples/dev-server on a moto of its own (its Cloud Map
    namespace must not meet the test root's); once, with OpenTofu: both CLIs
    validate every example (test_terraform_mesh_task.py)."""
    moto = tb.MotoServer(str(tmp_path_factory.mktemp("moto-dev-example"))).start()
    motos.append(moto)
    root, out = _apply(cli, tree / "examples" / "dev-server",
                       {"aws_endpoint_url": moto.url, "name": EXAMPLE_NAME})
    return moto, root, out


def _bad_input_plans(cli: tfb.Cli, tree: Path) -> dict[str, subprocess.CompletedProcess]:
    root = tfb.Root(cli, tree / "test-roots" / "dev-server-invalid")
    root.init()
    return {"valid": root.plan({}, False), "bad": root.plan({"include_bad": True}, False),
            "empty_image": root.plan({"empty_consul_image": True}, False)}


@pytest.fixture(scope="module")
def stages(tf_toolchain: tfb.Toolchain, tmp_path_factory: pytest.TempPathFactory):
    """Per CLI, the slow steps in a background chain, both CLIs at once, each
    against a moto of its own (conftest.py; both roots use the same names,
    "server" included): the test root's apply, its second plan, the
    bad-input plans; OpenTofu also applies the example."""
    example_motos: list = []

    def chain(cli: tfb.Cli, tree: Path, moto: tb.MotoServer):
        box: dict = {}  # the applied root, for the plan stage
        steps = [
            ("applied", lambda: box.setdefault("applied", _apply(
                cli, tree / "test-roots" / "dev-server", {"aws_endpoint_url": moto.url}))),
            # plan reads only: it may run while the tests read the apply back
            ("second_plan", lambda: tfb.plan_changes(box["applied"][0], {"aws_endpoint_url": moto.url})),
        ]
        if cli.name == "tofu":  # (conftest.py: tofu_staged)
            steps.append(("bad_inputs", lambda: _bad_input_plans(cli, tree)))
            steps.append(("example", lambda: _apply_example(cli, tree, tmp_path_factory, example_motos)))
        return steps

    try:
        with tfb.per_cli_chains(tf_toolchain, tmp_path_factory.mktemp, chain) as out:
            yield out
    finally:
        for m in example_motos:
            m.stop()


@pytest.fixture(scope="module")
def applied(staged: dict):
    return staged["applied"].result()


def containers(moto: tb.MotoServer, arn: str) -> tuple[dict, dict[str, dict], dict[str, str]]:
    r = moto.client("ecs").describe_task_definition(taskDefinition=arn, include=["TAGS"])
    td = r["taskDefinition"]
    return (td, {c["name"]: c for c in td["containerDefinitions"]},
            {t["key"]: t["value"] for t in r.get("tags", [])})


def hcl_args(command: str) -> list[str]:
    """The -hcl snippets of the server command, in order."""
    return [a or b for a, b in re.findall(r"-hcl '((?:[^']|'\\'')*)'|-hcl \"((?:[^\"\\]|\\.)*)\"", command)]


def secret_value(moto: tb.MotoServer, arn: str) -> str:
    return moto.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]


def test_full_task_definition(applied, tf_moto: tb.MotoServer) -> None:
    _, out = applied
    m = out["modules"]["full"]
    td, c, tags = containers(tf_moto, m["task_definition_arn"])
    assert td["family"] == f"{NAME}-full" and tags == {"team": "e2e"}
    assert (td["cpu"], td["memory"], td["networkMode"]) == ("256", "512", "awsvpc")
    assert [v["name"] for v in td["volumes"]] == ["consul-data"]
    assert list(c) == ["tls-init", SERVER]
    log = {"logDriver": "awslogs", "options": {"awslogs-group": f"/ecs/{NAME}", "awslogs-region": "us-east-1",
                                               "awslogs-stream-prefix": "consul"}}

    init = c["tls-init"]
    assert init["image"] == "hashicorp/consul:2.0.1" and init["essential"] is False  # upstream v0.10.0's default
    assert init["entryPoint"] == ["/bin/sh", "-ec"] and init["mountPoints"] == [DATA]
    assert init["secrets"] == [{"name": "CONSUL_CACERT_PEM", "valueFrom": m["ca_cert_arn"]},
                               {"name": "CONSUL_CAKEY", "valueFrom": m["ca_key_arn"]}]
    assert init["logConfiguration"] == log
    cmd = init["command"][0]
    assert "consul tls cert create -server" in cmd
    for flag in ('-node="dev-server-0"', '-dc="dc1"', '-additional-ipaddress="$ECS_IPV4"',
                 f'-additional-dnsname="{NAME}-full.dc1"', '-additional-dnsname="consul.example.internal"'):
        assert flag in cmd, flag
    assert cmd.rstrip().endswith("rm -f ./consul-agent-ca-key.pem")

    srv = c[SERVER]
    assert srv["essential"] is True and srv["portMappings"] == PORTS
    assert srv["entryPoint"] == ["/bin/sh", "-ec"] and srv["mountPoints"] == [DATA]
    assert srv["dependsOn"] == [{"containerName": "tls-init", "condition": "SUCCESS"}]
    assert srv["linuxParameters"] == {"initProcessEnabled": True}
    assert srv["logConfiguration"] == log
    assert [s["name"] for s in srv["secrets"]] == ["CONSUL_HTTP_TOKEN", "CONSUL_LICENSE"]
    assert srv["secrets"][0]["valueFrom"] == m["bootstrap_token_secret_arn"]
    cmd = srv["command"][0]
    assert cmd.startswith("ECS_IPV4=$(curl -s \"$ECS_CONTAINER_METADATA_URI_V4\" | jq -r")
    assert "exec consul agent -server -bootstrap -ui -advertise \"$ECS_IPV4\" -client 0.0.0.0" in cmd
    assert hcl_args(cmd) == [
        'node_name = "dev-server-0"', 'datacenter = "dc1"', "connect { enabled = true }",
        "enable_central_service_config = true",
        'ca_file = "/consul/consul-agent-ca.pem"', 'cert_file = "/consul/dc1-server-consul-0.pem"',
        'key_file = "/consul/dc1-server-consul-0-key.pem"', "auto_encrypt = { allow_tls = true }",
        "ports { https = 8501, grpc_tls = 8503 }", "verify_incoming_rpc = true", "verify_outgoing = true",
        "verify_server_hostname = true",
        'acl { enabled = true, default_policy = "deny", down_policy = "extend-cache", '
        'enable_token_persistence = true }',
        "acl { enable_token_replication = true }",
        'primary_datacenter = "dc1"', "connect { enable_mesh_gateway_wan_federation = true }",
        "peering { enabled = true }",
        'acl { tokens { initial_management = \\"$CONSUL_HTTP_TOKEN\\", agent = \\"$CONSUL_HTTP_TOKEN\\" } }',
    ]
    # The token is read from the secret at run time, never written in the task definition.
    token = m["bootstrap_token_id"]
    assert re.fullmatch(r"[0-9a-f-]{36}", token)
    assert token not in json.dumps(td)
    assert secret_value(tf_moto, m["bootstrap_token_secret_arn"]) == token
    assert "BEGIN CERTIFICATE" in secret_value(tf_moto, m["ca_cert_arn"])
    assert "PRIVATE KEY" in secret_value(tf_moto, m["ca_key_arn"])
    lic = next(s["valueFrom"] for s in srv["secrets"] if s["name"] == "CONSUL_LICENSE")
    assert secret_value(tf_moto, lic) == "02MV4UU43BK5HGYYTOJZWFQMTMNNEWU33JJ"


def test_byo_and_defaults_task_definitions(applied, tf_moto: tb.MotoServer) -> None:
    _, out = applied
    own = out["own_secrets"]
    b = out["modules"]["byo"]
    td, c, _ = containers(tf_moto, b["task_definition_arn"])
    assert (td["cpu"], td["memory"], td["requiresCompatibilities"]) == ("512", "1024", ["FARGATE"])
    assert (b["ca_cert_arn"], b["ca_key_arn"]) == (own["ca_cert"], own["ca_key"])
    assert b["bootstrap_token_secret_arn"] == own["token"] and b["bootstrap_token_id"] is None
    assert b["server_dns"] == f"{NAME}-byo.consul.byo.internal"
    assert [s["valueFrom"] for s in c["tls-init"]["secrets"]] == [own["ca_cert"], own["ca_key"]]
    assert c[SERVER]["secrets"] == [{"name": "CONSUL_HTTP_TOKEN", "valueFrom": own["token"]}]
    assert '-additional-dnsname="tfdev-byo.consul.byo.internal"' in c["tls-init"]["command"][0]
    hcl = hcl_args(c[SERVER]["command"][0])
    assert "ports { https = 8501, grpc = 8502 }" in hcl  # Consul 1.13: no grpc_tls
    assert hcl[-1].startswith("acl { tokens { master = ")  # its name before 1.14 here
    for h in ('datacenter = "dc2"', 'primary_datacenter = "dc1"', "acl { enable_token_replication = true }",
              'acl { tokens { replication = "11111111-2222-3333-4444-555555555555" } }',
              "connect { enable_mesh_gateway_wan_federation = true }",
              'primary_gateways = ["10.0.0.1:8443","10.0.0.2:8443"]'):
        assert h in hcl, h

    d = out["modules"]["defaults"]
    td, c, tags = containers(tf_moto, d["task_definition_arn"])
    assert td["family"] == "server" and tags == {}
    assert list(c) == [SERVER]
    srv = c[SERVER]
    for key in ("logConfiguration", "secrets", "dependsOn"):
        assert key not in srv or not srv[key], key  # no null logConfiguration, no empty lists
    assert hcl_args(srv["command"][0]) == ['node_name = "server"', 'datacenter = "dc1"', "connect { enabled = true }",
                                           "enable_central_service_config = true", "ports { grpc = 8502 }"]
    assert d["server_dns"] == "server.dc1"
    for k in ("ca_cert_arn", "ca_key_arn", "bootstrap_token_secret_arn", "bootstrap_token_id", "lb_dns_name",
              "lb_security_group_id"):
        assert d[k] is None, k


def test_server_settings_pass_consul_validate(applied, tf_moto: tb.MotoServer, tmp_path: Path) -> None:
    """Every server's agent settings (its -hcl snippets, the token expanded
    as the shell would, plus what the command line sets) pass a real
    Consul's `consul validate`; so does not the secondary datacenter's
    without primary_datacenter (the module's plan-time rule)."""
    _, out = applied
    consul = tb.consul_binary()

    def validate(snippets: list[str], where: Path) -> subprocess.CompletedProcess:
        where.mkdir()
        base = ["server = true", "bootstrap = true", 'data_dir = "%s"' % (where / "data"),
                'advertise_addr = "10.0.0.5"', 'client_addr = "0.0.0.0"', "ui_config { enabled = true }"]
        for i, h in enumerate(base + snippets):
            (where / f"{i:02d}.hcl").write_text(h + "\n")
        return subprocess.run([consul, "validate", str(where)], capture_output=True, text=True, timeout=60)

    for key in ("full", "byo", "defaults"):
        _, c, _ = containers(tf_moto, out["modules"][key]["task_definition_arn"])
        snippets = [h.replace('\\"', '"').replace("$CONSUL_HTTP_TOKEN", "6f1c0e52-7d7e-4f0e-9a40-4d2c6b3a9e11")
                    for h in hcl_args(c[SERVER]["command"][0])]
        if key == "byo":
            # Its image is Consul 1.13; the test bed's Consul (>= 1.14) refuses
            # TLS on ports.grpc, so check the rest with the >= 1.14 port layout.
            snippets = ["ports { https = 8501, grpc_tls = 8503 }" if h.startswith("ports {") else h
                        for h in snippets]
        p = validate(snippets, tmp_path / key)
        assert p.returncode == 0, f"{key}: consul validate:\n{p.stdout}{p.stderr}\n{snippets}"
        if key == "byo":
            p = validate([h for h in snippets if not h.startswith("primary_datacenter")], tmp_path / "no-primary")
            assert p.returncode != 0 and "secondary datacenter" in p.stdout + p.stderr, p.stdout + p.stderr


def test_services_cloud_map_and_load_balancer(applied, tf_moto: tb.MotoServer) -> None:
    _, out = applied
    ecs, sd = tf_moto.client("ecs"), tf_moto.client("servicediscovery")
    namespaces = {n["Id"]: n for n in sd.list_namespaces()["Namespaces"]}
    sd_services = {s["Arn"]: s for s in sd.list_services()["Services"]}
    for key, launch in (("full", "EC2"), ("byo", "FARGATE"), ("defaults", "EC2")):
        m = out["modules"][key]
        svc = ecs.describe_services(cluster=out["cluster_arn"], services=[m["ecs_service_name"]])["services"][0]
        assert svc["taskDefinition"] == m["task_definition_arn"] and svc["desiredCount"] == 1
        assert svc["launchType"] == launch
        net = svc["networkConfiguration"]["awsvpcConfiguration"]
        assert net["securityGroups"] == [m["security_group_id"]] and net["assignPublicIp"] == "DISABLED"
        (reg,) = svc["serviceRegistries"]
        assert reg["containerName"] == SERVER
        name, ns_name = m["server_dns"].split(".", 1)
        assert sd_services[reg["registryArn"]]["Name"] == name
        ns = namespaces[m["service_discovery_namespace_id"]]
        assert ns["Name"] == ns_name and ns["Type"] == "DNS_PRIVATE"
        detail = sd.get_service(Id=sd_services[reg["registryArn"]]["Id"])["Service"]
        assert detail["DnsConfig"]["DnsRecords"] == [{"Type": "A", "TTL": 10}]
        # moto returns the namespace only inside DnsConfig (AWS: both places).
        assert detail.get("NamespaceId", detail["DnsConfig"].get("NamespaceId")) == \
            m["service_discovery_namespace_id"]
        lbs = svc.get("loadBalancers", [])
        if key == "full":
            (lb,) = lbs
            assert (lb["containerName"], lb["containerPort"]) == (SERVER, 8500)
        else:
            assert lbs == []

    full = out["modules"]["full"]
    elb = tf_moto.client("elbv2")
    (lb,) = elb.describe_load_balancers(Names=[f"{NAME}-full"])["LoadBalancers"]
    assert lb["DNSName"] == full["lb_dns_name"] and lb["Type"] == "application"
    # moto stores no scheme when the request leaves it out, as the provider
    # does for `internal = false` (AWS then reports internet-facing).
    assert lb.get("Scheme", "internet-facing") == "internet-facing"
    assert lb["SecurityGroups"] == [full["lb_security_group_id"]]
    (tg,) = elb.describe_target_groups(LoadBalancerArn=lb["LoadBalancerArn"])["TargetGroups"]
    assert (tg["Port"], tg["Protocol"], tg["TargetType"], tg["HealthCheckPath"]) == (8500, "HTTP", "ip",
                                                                                     "/v1/status/leader")
    (listener,) = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    assert listener["Port"] == 8500 and listener["DefaultActions"][0]["TargetGroupArn"] == tg["TargetGroupArn"]
    ec2 = tf_moto.client("ec2")
    (sg,) = ec2.describe_security_groups(GroupIds=[full["lb_security_group_id"]])["SecurityGroups"]
    (ingress,) = sg["IpPermissions"]
    assert (ingress["FromPort"], ingress["ToPort"]) == (8500, 8500)
    assert [r["CidrIp"] for r in ingress["IpRanges"]] == ["192.0.2.0/24"]
    (svc_sg,) = ec2.describe_security_groups(GroupIds=[full["security_group_id"]])["SecurityGroups"]
    assert [g["GroupId"] for p in svc_sg["IpPermissions"] for g in p["UserIdGroupPairs"]] == \
        [full["lb_security_group_id"]]


def test_roles(applied, tf_moto: tb.MotoServer) -> None:
    _, out = applied
    iam = tf_moto.client("iam")
    m = out["modules"]["full"]
    task = iam.get_role(RoleName=f"{NAME}-full_task")["Role"]
    assert task["Path"] == "/"
    assert {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=task["RoleName"])["Tags"]} == {"team": "e2e"}
    doc = policy_document(iam.get_role_policy(RoleName=task["RoleName"], PolicyName="exec")["PolicyDocument"])
    assert doc["Statement"][0]["Action"][0] == "ssmmessages:CreateControlChannel"
    execution = iam.get_role(RoleName=f"{NAME}-full_execution")["Role"]
    assert execution["Path"] == "/ecs/"
    (att,) = iam.list_attached_role_policies(RoleName=execution["RoleName"])["AttachedPolicies"]
    pol = iam.get_policy(PolicyArn=att["PolicyArn"])["Policy"]
    assert pol["Path"] == "/ecs/" and pol["PolicyName"] == f"{NAME}-full_execution"
    doc = policy_document(iam.get_policy_version(PolicyArn=pol["Arn"], VersionId=pol["DefaultVersionId"])
                          ["PolicyVersion"]["Document"])
    assert pol["Description"] == "Consul server execution"  # upstream's
    # Upstream's statements: the CA, the bootstrap token, the license, the logs.
    license_arn = tf_moto.client("secretsmanager").describe_secret(SecretId=f"{NAME}-full-consul-license")["ARN"]
    assert [s["Resource"] for s in doc["Statement"][:3]] == [
        [m["ca_cert_arn"], m["ca_key_arn"]], [m["bootstrap_token_secret_arn"]], [license_arn]]
    assert all(s["Action"] == ["secretsmanager:GetSecretValue"] for s in doc["Statement"][:3])
    assert doc["Statement"][3] == {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                                   "Resource": "*"}
    assert len(doc["Statement"]) == 4
    # Defaults: no secret to read, logs only.
    (att,) = iam.list_attached_role_policies(RoleName="server_execution")["AttachedPolicies"]
    pol = iam.get_policy(PolicyArn=att["PolicyArn"])["Policy"]
    doc = policy_document(iam.get_policy_version(PolicyArn=pol["Arn"], VersionId=pol["DefaultVersionId"])
                          ["PolicyVersion"]["Document"])
    assert [s["Action"] for s in doc["Statement"]] == [["logs:CreateLogStream", "logs:PutLogEvents"]]


def test_second_plan_changes_only_moto_gaps(staged: dict) -> None:
    changes = staged["second_plan"].result()
    assert_only_moto_gaps(changes)


def test_destroy_leaves_nothing(applied, tf_moto: tb.MotoServer) -> None:
    root, out = applied
    root.destroy({"aws_endpoint_url": tf_moto.url}, refresh=False)  # the second plan has refreshed
    assert root.state_resources() == []
    left = tfb.moto_leftovers(tf_moto, NAME)
    # "server" is the defaults' name: check it as well.
    left.update({f"server:{k}": v for k, v in tfb.moto_leftovers(tf_moto, "server").items()})
    sd = tf_moto.client("servicediscovery")
    left["cloud_map_namespaces"] = [n["Name"] for n in sd.list_namespaces()["Namespaces"]]
    left["cloud_map_services"] = [s["Name"] for s in sd.list_services()["Services"]]
    left["load_balancers"] = [lb["LoadBalancerName"] for lb in
                              tf_moto.client("elbv2").describe_load_balancers()["LoadBalancers"]]
    left["target_groups"] = [t["TargetGroupName"] for t in
                             tf_moto.client("elbv2").describe_target_groups()["TargetGroups"]]
    assert {k: v for k, v in left.items() if v} == {}


# ---- bad inputs ---------------------------------------------------------------------

BAD_INPUTS = [  # tf-roots/dev-server-invalid, one module instance each
    "retry_join_wan and primary_gateways cannot both be set",
    "With tls = true and generate_ca = false, ca_cert_arn and ca_key_arn must both be set",
    "With acls = true and generate_bootstrap_token = false, bootstrap_token_arn must be set",
    "lb_enabled = true needs lb_subnets",
    "primary_gateways (a secondary datacenter joined through the primary's mesh gateways) needs primary_datacenter",
]


def test_bad_inputs_fail_at_plan(tofu_staged: dict) -> None:
    plans = tofu_staged["bad_inputs"].result()
    assert plans["valid"].returncode == 0, plans["valid"].stderr  # the valid instance (TLS, ACLs) plans
    p = plans["bad"]
    text = " ".join((p.stdout + p.stderr).split())  # the CLI wraps long messages
    missing = [m for m in BAD_INPUTS if m not in text]
    assert p.returncode != 0 and not missing, f"exit {p.returncode}, missing {missing} in:\n{text[-3000:]}"
    # consul_image = "" (a root's default when it forgets to pass one): the
    # task would register with no image; fails at plan, naming the input.
    p = plans["empty_image"]
    text = " ".join((p.stdout + p.stderr).split())
    assert p.returncode != 0 and "consul_image must name an image" in text, text[-3000:]


# ---- the example ----------------------------------------------------------------------

def test_example_applies_and_destroys(stages: dict) -> None:
    """terraform/examples/dev-server (TLS with a generated CA, ACLs with a
    generated bootstrap token): applies, holds the server's task definition
    and secrets, plans empty but for the moto gap, destroys to nothing."""
    if isinstance(stages["tofu"], Exception):
        pytest.fail(str(stages["tofu"]), pytrace=False)
    moto, root, out = stages["tofu"]["example"].result()
    variables = {"aws_endpoint_url": moto.url, "name": EXAMPLE_NAME}
    td, c, _ = containers(moto, out["task_definition_arn"])
    assert SERVER in c and c[SERVER]["essential"] is True
    assert out["server_dns"] == f"{EXAMPLE_NAME}-server.dc1"
    sm = moto.client("secretsmanager")
    token = sm.get_secret_value(SecretId=out["bootstrap_token_secret_arn"])["SecretString"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", token), "bootstrap token"
    assert "BEGIN CERTIFICATE" in sm.get_secret_value(SecretId=out["ca_cert_arn"])["SecretString"]
    assert_only_moto_gaps(tfb.plan_changes(root, variables))
    root.destroy(variables, refresh=False)
    assert root.state_resources() == []
    assert tfb.moto_leftovers(moto, EXAMPLE_NAME) == {}
