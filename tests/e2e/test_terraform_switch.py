"""Switching to these modules on a live state: roots written the way users
of HashiCorp's terraform-aws-consul-ecs v0.7.3 and v0.10.0 write them
(tests/e2e/tf-roots/switch-v073, switch-v010: only inputs of that release,
only `source` ours) against moto, with real CLIs.

Each root is first applied with the modules as of BASELINE_COMMIT (taken
from the repository's history with `git archive`), then the modules are
swapped for the current ones in the same working directory, as a user
changes the module version on a live state:

* the plan may replace task definitions (and update the ECS services that
  point at them), nothing else: no IAM policy, role, security group or rule
  is replaced or changed;
* the current modules apply, and a second plan is empty (but moto's named
  gap);
* a plan that changes only `tags` updates resources in place and replaces
  nothing;
* the names, descriptions and policy documents that would force a
  replacement after a switch from upstream's modules hold upstream's values
  (UPSTREAM_* below, the same in v0.7.3 and v0.10.0): a different
  description replaces a policy, and while it is replaced the task role has
  no iam:GetRole (no Consul login) and the execution role cannot read the
  secrets;
* destroy leaves nothing in moto.

OpenTofu runs both roots; Terraform 1.5.7 the v0.7.3 one (it holds all four
modules; the per-module test files apply everything with both CLIs). The
toolchain comes from scripts/setup.sh; a missing one is a failure, not a
skip.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from consul_ecs_testbed import bed as tb
from consul_ecs_testbed import terraform_bed as tfb

pytestmark = pytest.mark.timeout(1200)

# The modules a live state was last applied with, in this test: a commit of
# this repository's history (after the switch-compatibility fixes). Move it
# to each release's commit when releasing, so the test checks what a user
# who upgrades from the last release sees.
BASELINE_COMMIT = "d3d1d899e9cd0d19251d16dcd50f36ba6244dadf"

# (cli, root) pairs: see the module docstring.
CASES = [("tofu", "switch-v073"), ("tofu", "switch-v010"), ("terraform", "switch-v073")]

# moto's DescribeServices returns no enableExecuteCommand: a service that sets
# it shows it as changed against moto only.
MOTO_GAPS = {"aws_ecs_service": {"enable_execute_command"}}

# Upstream's descriptions (terraform-aws-consul-ecs v0.7.3 and v0.10.0): a
# change of any of them forces the replacement of the resource.
UPSTREAM_POLICY_DESCRIPTIONS = {
    "mesh-task task": "{family} mesh-task task policy",
    "mesh-task execution": "{family} mesh-task execution policy",
    "gateway-task task": "{family} gateway-task task policy",
    "gateway-task execution": "{family} gateway-task execution policy",
    "controller execution": "Consul controller execution",
    "dev-server execution": "Consul server execution",
}
UPSTREAM_GATEWAY_SG_DESCRIPTIONS = {
    "group": "Security group for {name}",
    "egress": "Egress rule for {name}",
    "ingress": "Ingress rule for {name}",
}
# The inline policy "exec" of upstream's controller task role.
UPSTREAM_CONTROLLER_EXEC_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Action": ["ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
                   "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel",
                   "ecs:ListTasks", "ecs:DescribeTasks"],
        "Resource": "*",
    }],
}
LOGS_STATEMENT = {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}


def _secret_statement(arn: str) -> dict:
    return {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": [arn]}


@pytest.fixture(scope="session")
def motos(tmp_path_factory: pytest.TempPathFactory):
    """A moto per CLI (each case's names carry its own prefix too): one
    moto serving both chains at once answers slowly enough under load that
    the provider retries a RegisterTaskDefinition moto did register, and
    the orphaned revision then reads as a leftover."""
    started = {}
    try:
        for cli_name in dict.fromkeys(c for c, _ in CASES):
            started[cli_name] = tb.MotoServer(str(tmp_path_factory.mktemp(f"switch-moto-{cli_name}"))).start()
        yield started
    finally:
        for m in started.values():
            m.stop()


def baseline_tree(dest: Path) -> Path:
    """terraform/ as of BASELINE_COMMIT under dest, with the current test
    roots beside it (as tfb.copy_tree lays them out)."""
    repo = tb.repo_root()
    probe = subprocess.run(["git", "-C", repo, "cat-file", "-e", f"{BASELINE_COMMIT}^{{commit}}"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        raise AssertionError(
            f"commit {BASELINE_COMMIT} (the modules this test upgrades from) is not in {repo}: "
            f"this test needs the repository's history (git fetch --unshallow).\n{probe.stderr}")
    archive = subprocess.run(["git", "-C", repo, "archive", "--format=tar", BASELINE_COMMIT, "terraform"],
                             capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")
    current = tfb.copy_tree(dest / "current")
    out = dest / "terraform"
    shutil.copytree(current / "test-roots", out / "test-roots")
    return out


def swap_in_current_modules(tree: Path) -> None:
    modules = tree / "modules"
    shutil.rmtree(modules)
    shutil.copytree(tfb.terraform_dir() / "modules", modules,
                    ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*"))


def _any_unknown(value: Any) -> bool:
    """after_unknown mirrors the value's shape with true at unknown leaves."""
    if isinstance(value, dict):
        return any(_any_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_any_unknown(v) for v in value)
    return value is True


def plan_json(root: tfb.Root, variables: dict, name: str, refresh: bool = True) -> list[dict[str, Any]]:
    """The saved plan's resource changes other than no-ops and reads, each
    {address, type, actions, changed} (changed: the top-level attributes
    whose planned value differs or is unknown). refresh=False plans from the
    state as it is (what a change of configuration alone does), without
    reading every resource back."""
    plan_file = os.path.join(root.workdir, f"{name}.tfplan")
    root.run("plan", "-input=false", "-no-color", f"-out={plan_file}", *([] if refresh else ["-refresh=false"]),
             *tfb.Root.var_args(variables))
    shown = json.loads(root.run("show", "-json", "-no-color", plan_file).stdout)
    out = []
    for rc in shown.get("resource_changes", []):
        change = rc["change"]
        if change["actions"] in (["no-op"], ["read"]):
            continue
        before, after = change.get("before") or {}, change.get("after") or {}
        unknown = change.get("after_unknown") or {}
        changed = sorted(k for k in set(before) | set(after)
                         if before.get(k) != after.get(k) or _any_unknown(unknown.get(k)))
        out.append({"address": rc["address"], "type": rc["type"], "actions": change["actions"], "changed": changed})
    return out


def beyond_moto_gaps(changes: list[dict]) -> list[dict]:
    return [c for c in changes
            if not (c["actions"] == ["update"] and set(c["changed"]) <= MOTO_GAPS.get(c["type"], set()))]


@dataclass
class Run:
    cli: str
    root_name: str
    name: str
    root: tfb.Root
    variables: dict
    upgrade_plan: list[dict] = field(default_factory=list)
    out: dict = field(default_factory=dict)
    second_plan: list[dict] = field(default_factory=list)
    tags_plan: list[dict] = field(default_factory=list)


def _run_case(tc: tfb.Toolchain, cli_name: str, root_name: str, moto: tb.MotoServer, workdir: Path) -> Run:
    cli = tc.cli(cli_name)
    tree = baseline_tree(workdir)
    name = f"{'tf' if cli_name == 'terraform' else 'ot'}{root_name.rsplit('-', 1)[-1]}"
    root = tfb.Root(cli, tree / "test-roots" / root_name)
    variables = {"aws_endpoint_url": moto.url, "name": name}
    root.init()
    root.apply(variables)
    swap_in_current_modules(tree)
    root.init()
    run = Run(cli_name, root_name, name, root, variables)
    # The state is the baseline apply's: what changes is the configuration.
    run.upgrade_plan = plan_json(root, variables, "upgrade", refresh=False)
    root.apply(variables)
    run.out = root.outputs()
    run.second_plan = plan_json(root, variables, "second")
    # Just refreshed by the second plan.
    run.tags_plan = plan_json(root, dict(variables, tags={"team": "switch", "cost-center": "42"}), "tags",
                              refresh=False)
    return run


@pytest.fixture(scope="session")
def switch_runs(tf_toolchain: tfb.Toolchain, motos: dict[str, tb.MotoServer],
                tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One background chain per CLI (tfb.run_stages), both CLIs at once: each
    case's baseline apply, upgrade plan, apply, second plan and tags plan."""
    by_cli: dict[str, list] = {}
    for cli_name, root_name in CASES:
        by_cli.setdefault(cli_name, []).append(root_name)
    out = {}
    for cli_name, roots in by_cli.items():
        stages = [(f"{cli_name}:{r}",
                   lambda c=cli_name, r=r: _run_case(tf_toolchain, c, r, motos[c],
                                                     tmp_path_factory.mktemp(f"switch-{c}-{r}")))
                  for r in roots]
        out.update(tfb.run_stages(stages))
    return out


@pytest.fixture(params=CASES, ids=[f"{c}-{r}" for c, r in CASES])
def run(request, switch_runs: dict) -> Run:
    cli_name, root_name = request.param
    return switch_runs[f"{cli_name}:{root_name}"].result()


@pytest.fixture
def switch_moto(run: Run, motos: dict[str, tb.MotoServer]) -> tb.MotoServer:
    """The moto the case's CLI applied against."""
    return motos[run.cli]


def test_upgrade_replaces_only_task_definitions(run: Run) -> None:
    """The modules' change since BASELINE_COMMIT, on a live state: task
    definitions are replaced and the services that use them updated, nothing
    else is touched."""
    replaced = [c["address"] for c in run.upgrade_plan
                if c["type"] == "aws_ecs_task_definition" and sorted(c["actions"]) == ["create", "delete"]]
    others = [c for c in run.upgrade_plan if c["address"] not in replaced and not (
        c["type"] == "aws_ecs_service" and c["actions"] == ["update"]
        and set(c["changed"]) <= {"task_definition"} | MOTO_GAPS["aws_ecs_service"])]
    assert not others, "the upgrade plans more than task definitions:\n" + json.dumps(others, indent=1)
    # Not vacuous: the baseline's default dataplane and Consul images differ
    # from today's, so those task definitions change.
    assert replaced, "no task definition changed between the baseline and the current modules"


def test_current_modules_apply_and_second_plan_is_empty(run: Run) -> None:
    assert beyond_moto_gaps(run.second_plan) == [], json.dumps(run.second_plan, indent=1)


def test_tag_change_updates_in_place(run: Run) -> None:
    """Changing only `tags` (tags of every resource) replaces nothing."""
    assert run.tags_plan, "changing tags planned no change at all"
    not_in_place = [c for c in run.tags_plan if c["actions"] != ["update"]]
    assert not not_in_place, json.dumps(not_in_place, indent=1)
    assert any(c["type"] == "aws_ecs_task_definition" for c in run.tags_plan)
    assert any(c["type"] == "aws_iam_role" for c in run.tags_plan)


def _policy(moto: tb.MotoServer, path_prefix: str, name: str) -> tuple[dict, dict]:
    iam = moto.client("iam")
    for p in iam.list_policies(Scope="Local", PathPrefix=path_prefix)["Policies"]:
        if p["PolicyName"] == name:
            pol = iam.get_policy(PolicyArn=p["Arn"])["Policy"]
            doc = iam.get_policy_version(PolicyArn=p["Arn"], VersionId=pol["DefaultVersionId"])
            d = doc["PolicyVersion"]["Document"]
            return pol, (json.loads(d) if isinstance(d, str) else d)
    raise AssertionError(f"no policy {name} under {path_prefix}")


def test_upstream_names_and_descriptions(run: Run, switch_moto: tb.MotoServer) -> None:
    """Read back from moto after the current modules' apply."""
    n = run.name
    d = UPSTREAM_POLICY_DESCRIPTIONS
    iam = switch_moto.client("iam")
    if run.root_name == "switch-v073":
        family = f"{n}-client"
        pol, _ = _policy(switch_moto, "/consul-ecs/", f"{family}-task")
        assert pol["Description"] == d["mesh-task task"].format(family=family)
        pol, _ = _policy(switch_moto, "/consul-ecs/", f"{family}-execution")
        assert pol["Description"] == d["mesh-task execution"].format(family=family)
        pol, _ = _policy(switch_moto, "/ecs/", f"{n}-consul-ecs-controller-execution")
        assert pol["Description"] == d["controller execution"]
        pol, _ = _policy(switch_moto, "/ecs/", f"{n}-consul-server_execution")
        assert pol["Description"] == d["dev-server execution"]
        inline = iam.get_role_policy(RoleName=f"{n}-consul-ecs-controller-task", PolicyName="exec")
        doc = inline["PolicyDocument"]
        assert (json.loads(doc) if isinstance(doc, str) else doc) == UPSTREAM_CONTROLLER_EXEC_POLICY
    else:
        family = f"{n}-mgw"
        pol, _ = _policy(switch_moto, "/consul-ecs/", f"{family}-task")
        assert pol["Description"] == d["gateway-task task"].format(family=family)
        pol, _ = _policy(switch_moto, "/consul-ecs/", f"{family}-execution")
        assert pol["Description"] == d["gateway-task execution"].format(family=family)
        ec2 = switch_moto.client("ec2")
        group = ec2.describe_security_groups(GroupIds=[run.out["mesh_gateway_security_group_id"]])["SecurityGroups"][0]
        s = UPSTREAM_GATEWAY_SG_DESCRIPTIONS
        assert group["GroupName"] == family
        assert group["Description"] == s["group"].format(name=family)
        egress = [r.get("Description") for p in group["IpPermissionsEgress"] for r in p.get("IpRanges", [])]
        ingress = [r.get("Description") for p in group["IpPermissions"] for r in p.get("IpRanges", [])]
        assert egress == [s["egress"].format(name=family)]
        assert ingress == [s["ingress"].format(name=family)]


def test_upstream_policy_documents(run: Run, switch_moto: tb.MotoServer) -> None:
    """One statement per secret, in upstream's order, then the logs
    statement: the same documents mean no policy change after a switch."""
    n = run.name
    sm = switch_moto.client("secretsmanager")
    if run.root_name == "switch-v073":
        ca = sm.describe_secret(SecretId=f"{n}-consul-server-ca-cert")["ARN"]
        token = sm.describe_secret(SecretId=f"{n}-consul-server-bootstrap-token")["ARN"]
        _, doc = _policy(switch_moto, "/consul-ecs/", f"{n}-client-execution")
        # TLS, consul_https_ca_cert_arn then consul_grpc_ca_cert_arn.
        assert doc["Statement"] == [_secret_statement(ca), _secret_statement(ca), LOGS_STATEMENT]
        _, doc = _policy(switch_moto, "/ecs/", f"{n}-consul-ecs-controller-execution")
        assert doc["Statement"] == [_secret_statement(token), _secret_statement(ca), _secret_statement(ca),
                                    LOGS_STATEMENT]
    else:
        ca = sm.describe_secret(SecretId=f"{n}-consul-ca")["ARN"]
        token = sm.describe_secret(SecretId=f"{n}-bootstrap-token")["ARN"]
        _, doc = _policy(switch_moto, "/consul-ecs/", f"{n}-ec2-app-execution")
        assert doc["Statement"] == [_secret_statement(ca), LOGS_STATEMENT]
        _, doc = _policy(switch_moto, "/consul-ecs/", f"{n}-mgw-execution")
        assert doc["Statement"] == [_secret_statement(ca), LOGS_STATEMENT]
        _, doc = _policy(switch_moto, "/ecs/", f"{n}-consul-ecs-controller-execution")
        assert doc["Statement"] == [_secret_statement(token), _secret_statement(ca), LOGS_STATEMENT]


def test_v073_root_on_fargate_gets_the_split_layout_without_transparent_proxy(
        run: Run, switch_moto: tb.MotoServer) -> None:
    """A v0.7.3 root sets neither consul_ecs_layout nor
    enable_transparent_proxy, and its tasks may run on Fargate: the split
    layout with the proxy off (upstream v0.10.0 fails such a root at plan)."""
    ecs = switch_moto.client("ecs")
    if run.root_name == "switch-v073":
        expect = {"client": False, "server": False}
    else:
        expect = {"ec2_app": True, "fargate_app": False}
    for key, tproxy in expect.items():
        td = ecs.describe_task_definition(taskDefinition=run.out["task_definitions"][key])["taskDefinition"]
        c = {x["name"]: x for x in td["containerDefinitions"]}
        assert "consul-ecs-mesh-init" in c and "consul-ecs-health-sync" in c, (key, list(c))
        mi = c["consul-ecs-mesh-init"]
        cfg = json.loads({e["name"]: e["value"] for e in mi["environment"]}["CONSUL_ECS_CONFIG_JSON"])
        assert cfg["transparentProxy"]["enabled"] is tproxy, key
        assert ("capabilities" in mi["linuxParameters"]) is tproxy, key
        assert c["consul-dataplane"]["image"] == "hashicorp/consul-dataplane:2.0.1", key


def test_destroy_leaves_nothing(run: Run, switch_moto: tb.MotoServer) -> None:
    run.root.destroy(run.variables, refresh=False)
    assert run.root.state_resources() == []
    assert tfb.moto_leftovers(switch_moto, run.name) == {}
