"""terraform/modules/controller with real CLIs and the AWS provider against
moto (tests/e2e/tf-roots/controller: two controllers and an application
service that depends on one of them).

Per CLI (OpenTofu, Terraform 1.5.7): apply, read back with boto3 (task
definition, container, CONSUL_ECS_CONFIG_JSON through `consul-ecs
controller`'s own validator, secrets, ECS service, IAM roles and policies),
a second plan that changes nothing but the one attribute moto does not
return, a destroy that removes the application service before the
controller and leaves nothing in moto; with OpenTofu, bad inputs fail at
plan with the module's messages and the example applies. fmt -check / validate of every module: see
test_terraform_mesh_task.py. A missing toolchain is a failure, not a skip.
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

pytestmark = pytest.mark.timeout(600)

NAME = "tfctl"
CONTROLLER = "consul-ecs-controller"
# moto's DescribeServices does not return enableExecuteCommand (real ECS
# does), so a service that sets it shows `false -> true` on every plan
# against moto only. Every other attribute must be unchanged.
MOTO_GAPS = {"aws_ecs_service": {"enable_execute_command"}}


def _apply(cli: tfb.Cli, workdir: Path, variables: dict) -> tuple[tfb.Root, dict]:
    a = tfb.apply_root(cli, workdir, variables)
    return a.root, a.out


def _bad_input_plans(cli: tfb.Cli, tree: Path) -> dict[str, subprocess.CompletedProcess]:
    root = tfb.Root(cli, tree / "test-roots" / "controller-invalid")
    root.init()
    return {kind: root.plan({"include_bad": kind} if kind else {}, False)
            for kind in ("", "variables", "preconditions")}


@pytest.fixture(scope="module")
def stages(tf_toolchain: tfb.Toolchain, tmp_path_factory: pytest.TempPathFactory):
    """Per CLI, the slow steps in a background chain, both CLIs at once, each
    against a moto of its own (conftest.py): the test root's apply, its
    second plan, the bad-input plans; OpenTofu also applies the example
    (names tfexctl-*, apart from the root's tfctl-*)."""
    def chain(cli: tfb.Cli, tree: Path, moto: tb.MotoServer):
        box: dict = {}  # the applied root, for the plan stage
        steps = [
            ("applied", lambda: box.setdefault("applied", _apply(
                cli, tree / "test-roots" / "controller", {"aws_endpoint_url": moto.url}))),
            # plan reads only: it may run while the tests read the apply back
            ("second_plan", lambda: tfb.plan_changes(box["applied"][0], {"aws_endpoint_url": moto.url})),
        ]
        if cli.name == "tofu":  # the bad inputs and the example: once (conftest.py: tofu_staged)
            steps.append(("bad_inputs", lambda: _bad_input_plans(cli, tree)))
            steps.append(("example", lambda: (moto, *_apply(
                cli, tree / "examples" / "controller", {"aws_endpoint_url": moto.url, "name": "tfexctl"}))))
        return steps

    with tfb.per_cli_chains(tf_toolchain, tmp_path_factory.mktemp, chain) as out:
        yield out


@pytest.fixture(scope="module")
def applied(staged: dict):
    return staged["applied"].result()


def task_definition(moto: tb.MotoServer, arn: str) -> tuple[dict, dict[str, dict], dict[str, str]]:
    r = moto.client("ecs").describe_task_definition(taskDefinition=arn, include=["TAGS"])
    td = r["taskDefinition"]
    return (td, {c["name"]: c for c in td["containerDefinitions"]},
            {t["key"]: t["value"] for t in r.get("tags", [])})


def env_of(container: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("environment", [])}


def policy_document(doc) -> dict:
    return json.loads(doc) if isinstance(doc, str) else doc


def assert_only_moto_gaps(changes: list[dict]) -> None:
    unexpected = []
    for c in changes:
        rtype = re.sub(r"\[.*\]$", "", c["address"]).split(".")[-2]
        if c["actions"] != ["update"] or not set(c["changed"]) <= MOTO_GAPS.get(rtype, set()):
            unexpected.append(c)
    assert not unexpected, f"second plan changes more than the named moto gaps: {unexpected}"


# ---- apply against moto -------------------------------------------------------------

def test_full_task_definition(applied, tf_moto: tb.MotoServer, consul_ecs_bin: str, tmp_path: Path) -> None:
    _, out = applied
    m, secrets = out["modules"]["full"], out["secrets"]
    td, c, tags = task_definition(tf_moto, m["task_definition_arn"])
    assert td["family"] == f"{NAME}-consul-ecs-controller"
    assert td["networkMode"] == "awsvpc"
    assert (td["cpu"], td["memory"]) == ("256", "512")
    assert td["requiresCompatibilities"] == ["FARGATE"]
    assert td["taskRoleArn"] == m["task_role_arn"]
    assert td["executionRoleArn"] == m["execution_role_arn"]
    assert tags == {"team": "e2e"}
    assert list(c) == [CONTROLLER]

    ctl = c[CONTROLLER]
    assert ctl["image"] == image_ref()
    assert ctl["command"] == ["controller"]
    assert not ctl.get("entryPoint")  # the image's ENTRYPOINT runs
    assert ctl["essential"] is True
    assert ctl["readonlyRootFilesystem"] is True
    assert ctl["linuxParameters"]["initProcessEnabled"] is True
    assert not ctl.get("portMappings") and not ctl.get("mountPoints") and not ctl.get("healthCheck")
    assert ctl["logConfiguration"] == {"logDriver": "awslogs", "options": {
        "awslogs-group": f"/ecs/{NAME}", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "controller"}}
    assert [(s["name"], s["valueFrom"]) for s in ctl["secrets"]] == [
        ("CONSUL_HTTP_TOKEN", secrets["token"]),
        ("CONSUL_GRPC_CACERT_PEM", secrets["ca"]),            # consul_ca_cert_arn
        ("CONSUL_HTTPS_CACERT_PEM", secrets["https_ca"]),     # its override
    ]
    env = env_of(ctl)
    assert list(env) == ["CONSUL_ECS_CONFIG_JSON"]
    cfg = json.loads(env["CONSUL_ECS_CONFIG_JSON"])
    assert cfg == {
        "bootstrapDir": "/consul",
        "controller": {"iamRolePath": "/mesh/", "partitionsEnabled": True, "partition": "part1"},
        "consulServers": {
            "hosts": "consul.dc1.internal", "skipServerWatch": True,
            "defaults": {"tls": True, "tlsServerName": "server.dc1.consul"},
            "http": {"port": 443, "https": True},
            "grpc": {"port": 8503, "tlsServerName": "grpc.dc1.consul"}}}
    assert json.loads(m["consul_ecs_config_json"]) == cfg
    ok, log = tfb.validate_controller_config(consul_ecs_bin, env["CONSUL_ECS_CONFIG_JSON"], str(tmp_path))
    assert ok, f"consul-ecs controller rejects the rendered config:\n{log}"


def test_defaults_task_definition(applied, tf_moto: tb.MotoServer, consul_ecs_bin: str, tmp_path: Path) -> None:
    """All defaults: no log configuration key (the 6.x provider rejects the
    null one upstream sends), only the token secret, plain HTTP."""
    _, out = applied
    m = out["modules"]["defaults"]
    td, c, tags = task_definition(tf_moto, m["task_definition_arn"])
    assert td["family"] == f"{NAME}-defaults-consul-ecs-controller"
    assert sorted(td["requiresCompatibilities"]) == ["EC2", "FARGATE"]
    assert tags == {}
    ctl = c[CONTROLLER]
    assert "logConfiguration" not in ctl
    assert [s["name"] for s in ctl["secrets"]] == ["CONSUL_HTTP_TOKEN"]
    cfg = json.loads(env_of(ctl)["CONSUL_ECS_CONFIG_JSON"])
    assert cfg["controller"] == {"iamRolePath": "/consul-ecs/", "partitionsEnabled": False, "partition": ""}
    assert cfg["consulServers"] == {"hosts": "10.0.0.10", "skipServerWatch": False,
                                    "defaults": {"tls": False, "tlsServerName": ""},
                                    "http": {"port": 8500, "https": False}, "grpc": {"port": 8502}}
    ok, log = tfb.validate_controller_config(consul_ecs_bin, env_of(ctl)["CONSUL_ECS_CONFIG_JSON"], str(tmp_path))
    assert ok, log
    # The check is not vacuous: a bad config is reported as such.
    ok, log = tfb.validate_controller_config(consul_ecs_bin, json.dumps(
        {"bootstrapDir": "/consul", "consulServers": {"hosts": "x"}, "controller": {"iamRolePath": 5}}),
        str(tmp_path))
    assert not ok and "controller.iamRolePath" in log, log


def test_services(applied, tf_moto: tb.MotoServer) -> None:
    _, out = applied
    ecs = tf_moto.client("ecs")
    for key, cluster in out["clusters"].items():
        m = out["modules"][key]
        svc = ecs.describe_services(cluster=cluster, services=[CONTROLLER], include=["TAGS"])["services"][0]
        assert svc["serviceArn"] == m["ecs_service_id"] and m["ecs_service_name"] == CONTROLLER
        assert svc["taskDefinition"] == m["task_definition_arn"]
        assert svc["desiredCount"] == 1
        assert svc["launchType"] == "FARGATE"
        vpc = svc["networkConfiguration"]["awsvpcConfiguration"]
        assert len(vpc["subnets"]) == 1
        if key == "full":
            assert vpc["assignPublicIp"] == "ENABLED" and len(vpc["securityGroups"]) == 1
            assert {t["key"]: t["value"] for t in svc.get("tags", [])} == {"team": "e2e"}
        else:
            assert vpc["assignPublicIp"] == "DISABLED" and not vpc.get("securityGroups")


def test_roles(applied, tf_moto: tb.MotoServer) -> None:
    _, out = applied
    iam = tf_moto.client("iam")
    m, secrets = out["modules"]["full"], out["secrets"]

    task = iam.get_role(RoleName=f"{NAME}-consul-ecs-controller-task")["Role"]
    assert task["Arn"] == m["task_role_arn"]
    assert task["Path"] == "/", "the controller's role must not be under the path the auth method trusts"
    assert {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=task["RoleName"])["Tags"]} == {"team": "e2e"}
    trust = policy_document(task["AssumeRolePolicyDocument"])
    # Upstream's documents, to the empty Sid: no IAM change after a switch.
    assert trust["Statement"] == [{"Sid": "", "Effect": "Allow", "Action": "sts:AssumeRole",
                                   "Principal": {"Service": "ecs-tasks.amazonaws.com"}}]
    assert iam.list_role_policies(RoleName=task["RoleName"])["PolicyNames"] == ["exec"]
    assert iam.list_attached_role_policies(RoleName=task["RoleName"])["AttachedPolicies"] == []
    doc = policy_document(iam.get_role_policy(RoleName=task["RoleName"], PolicyName="exec")["PolicyDocument"])
    assert doc == {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Resource": "*",
        "Action": ["ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
                   "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel",
                   "ecs:ListTasks", "ecs:DescribeTasks"]}]}

    execution = iam.get_role(RoleName=f"{NAME}-consul-ecs-controller-execution")["Role"]
    assert execution["Arn"] == m["execution_role_arn"] and execution["Path"] == "/ecs/"
    attached = {p["PolicyName"]: p["PolicyArn"]
                for p in iam.list_attached_role_policies(RoleName=execution["RoleName"])["AttachedPolicies"]}
    assert attached.keys() == {f"{NAME}-consul-ecs-controller-execution", f"{NAME}-extra"}
    pol = iam.get_policy(PolicyArn=attached[f"{NAME}-consul-ecs-controller-execution"])["Policy"]
    assert pol["Path"] == "/ecs/"
    doc = policy_document(iam.get_policy_version(PolicyArn=pol["Arn"], VersionId=pol["DefaultVersionId"])
                          ["PolicyVersion"]["Document"])
    assert pol["Description"] == "Consul controller execution"  # upstream's
    # One statement per secret (token, CA, HTTPS CA), then the logs.
    assert doc["Statement"] == [
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": [secrets[k]]}
        for k in ("token", "ca", "https_ca")
    ] + [{"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}]

    d = out["modules"]["defaults"]
    pol_arn = next(p["PolicyArn"] for p in iam.list_attached_role_policies(
        RoleName=f"{NAME}-defaults-consul-ecs-controller-execution")["AttachedPolicies"])
    pol = iam.get_policy(PolicyArn=pol_arn)["Policy"]
    doc = policy_document(iam.get_policy_version(PolicyArn=pol_arn, VersionId=pol["DefaultVersionId"])
                          ["PolicyVersion"]["Document"])
    assert doc["Statement"][0]["Resource"] == [secrets["token"]]
    assert d["task_role_arn"].endswith(f":role/{NAME}-defaults-consul-ecs-controller-task")


def test_second_plan_changes_only_moto_gaps(staged: dict) -> None:
    changes = staged["second_plan"].result()
    assert_only_moto_gaps(changes)
    assert {c["address"] for c in changes} <= {"module.full.aws_ecs_service.this",
                                                "module.defaults.aws_ecs_service.this"}


def test_destroy_orders_tasks_before_controller_and_leaves_nothing(applied, tf_moto: tb.MotoServer,
                                                                   tree: Path) -> None:
    """hashicorp/consul#21212: what depends on the controller (here an app
    service, via the `ready` output) is destroyed first, then the grace
    period runs while the controller still exists, then the controller."""
    root, _ = applied
    log = Path(root.log_dir) / f"{root.cli.name}.log"
    start = len(log.read_text()) if log.exists() else 0
    root.destroy({"aws_endpoint_url": tf_moto.url}, refresh=False)  # the second plan has refreshed
    text = log.read_text()[start:]

    def line_of(pattern: str) -> int:
        for i, line in enumerate(text.splitlines()):
            if re.search(pattern, line):
                return i
        raise AssertionError(f"{pattern!r} not in the destroy output:\n{text[-4000:]}")

    app_gone = line_of(r"^aws_ecs_service\.app: Destruction complete")
    grace_start = line_of(r"^module\.full\.terraform_data\.destroy_grace: Destroying")
    grace_done = line_of(r"^module\.full\.terraform_data\.destroy_grace: Destruction complete")
    controller_start = line_of(r"^module\.full\.aws_ecs_service\.this: Destroying")
    assert app_gone < grace_start < grace_done < controller_start
    assert re.search(r"destroy_grace \(local-exec\): Executing: .*sleep 2", text)
    assert root.state_resources() == []
    assert tfb.moto_leftovers(tf_moto, NAME) == {}


# ---- the examples -----------------------------------------------------------------

def test_example_applies_and_destroys(stages: dict) -> None:
    """terraform/examples/controller (a dev server with TLS and ACLs, and the
    controller reading its token and CA): applies, plans empty but for the
    moto gap, destroys to nothing. terraform/examples/dev-server is the same
    server alone. Applied once, with OpenTofu (it takes a minute); both CLIs
    validate every example (test_terraform_mesh_task.py)."""
    if isinstance(stages["tofu"], Exception):
        pytest.fail(str(stages["tofu"]), pytrace=False)
    moto, root, out = stages["tofu"]["example"].result()
    variables = {"aws_endpoint_url": moto.url, "name": "tfexctl"}
    td = moto.client("ecs").describe_task_definition(taskDefinition=out["controller_task_definition_arn"])
    (ctl,) = td["taskDefinition"]["containerDefinitions"]
    cfg = json.loads(env_of(ctl)["CONSUL_ECS_CONFIG_JSON"])
    assert cfg["consulServers"]["hosts"] == out["server_dns"] == "tfexctl-server.dc1"
    assert [s["name"] for s in ctl["secrets"]] == ["CONSUL_HTTP_TOKEN", "CONSUL_GRPC_CACERT_PEM",
                                                   "CONSUL_HTTPS_CACERT_PEM"]
    assert_only_moto_gaps(tfb.plan_changes(root, variables))
    root.destroy(variables, refresh=False)
    assert tfb.moto_leftovers(moto, "tfexctl") == {}


# ---- bad inputs ---------------------------------------------------------------------

BAD_VARIABLES = [  # tf-roots/controller-invalid, one module instance each
    "name_prefix must not be empty",
    "iam_role_path must start and end with",
    "http_config accepts only port, https, tls and tlsServerName",
    "grpc_config accepts only port, tls and tlsServerName",
    "destroy_grace_period_seconds must be a whole number",
]
BAD_PRECONDITIONS = [
    "consul_partition is set but consul_partitions_enabled = false",
]


def test_bad_inputs_fail_at_plan(tofu_staged: dict) -> None:
    plans = tofu_staged["bad_inputs"].result()
    assert plans[""].returncode == 0, plans[""].stderr  # the valid instance (partitions on) plans
    failures = []
    for kind, messages in (("variables", BAD_VARIABLES), ("preconditions", BAD_PRECONDITIONS)):
        p = plans[kind]
        text = " ".join((p.stdout + p.stderr).split())  # the CLI wraps long messages
        missing = [m for m in messages if m not in text]
        if p.returncode == 0 or missing:
            failures.append(f"{kind}: exit {p.returncode}, missing {missing} in:\n{text[-3000:]}")
    assert not failures, "\n\n".join(failures)
