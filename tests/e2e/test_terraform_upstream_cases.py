"""The plan-only validation cases of HashiCorp's terraform-aws-consul-ecs
v0.10.0 acceptance suite (its test/acceptance/tests/validation): every case
upstream expects to pass plans here, every case it expects to fail fails
here, with our message. The cases are module calls of
tests/e2e/tf-roots/upstream-cases (see its header for the a_ / v_ / r_
naming); three plans with OpenTofu (accept, variables, rules: a variable
validation stops a plan before any precondition is evaluated).

Deliberate differences from upstream's expectations: none among these
cases. (The transparent proxy's default differs, but upstream's cases set
enable_transparent_proxy explicitly; see test_terraform_switch.py for the
default.) The toolchain comes from scripts/setup.sh; a missing one is a
failure, not a skip.
"""
from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from collections import Counter

import pytest

from consul_ecs_testbed import terraform_bed as tfb

pytestmark = pytest.mark.timeout(900)

ROOT = "upstream-cases"

# Module calls whose variable validation must fail in the "variables" plan
# (for_each calls: every instance), with the message each gives.
VARIABLE_CASES = {
    "v_upstreams_invalid_key": "Upstream keys can only be",
    "v_upstreams_missing_destination_name": "Every upstream needs destinationName and localBindPort",
    "v_upstreams_missing_local_bind_port": "Every upstream needs destinationName and localBindPort",
    "v_listener_port_too_high": "envoy_public_listener_port must be between 1 and 65535",
    "v_listener_port_reserved": "envoy_public_listener_port cannot be a port Consul or the sidecars use",
    "v_readiness_port_too_high": "envoy_readiness_port must be between 1 and 65535",
    "v_readiness_port_reserved": "envoy_readiness_port cannot be a port Consul or the sidecars use",
    "v_service_name_uppercase": "consul_service_name must be lower case",
    "v_consul_ecs_config_invalid": "consul_ecs_config accepts only the keys",
    "v_http_config_invalid": "http_config accepts only",
    "v_grpc_config_invalid": "grpc_config accepts only",
    "v_role_path": "iam_role_path must start and end with",
    "v_mesh_gateway_wrong_kind": "kind must be one of mesh-gateway, terminating-gateway or api-gateway",
    "v_api_gateway_wrong_kind": "kind must be one of mesh-gateway, terminating-gateway or api-gateway",
    "v_terminating_gateway_wrong_kind": "kind must be one of mesh-gateway, terminating-gateway or api-gateway",
}
FOR_EACH_VARIABLE_CASES = {"v_role_path": 3}   # empty, relative, no trailing slash

# Module instances whose precondition must fail in the "rules" plan, and the
# messages each gives (a case upstream rejects for one reason may break
# more than one of our rules: all are listed). Preconditions are reported in
# the module's file, so the plan's errors are matched by message count.
RULE_CASES = {
    "r_additional_task_policies": ["additional_task_role_policies needs create_task_role = true"],
    "r_additional_execution_policies": ["additional_execution_role_policies needs create_execution_role = true"],
    "r_readiness_port_is_listener_port": ["envoy_public_listener_port and envoy_readiness_port must differ"],
    "r_partition_without_namespace": ["consul_partition and consul_namespace must be set together"],
    "r_namespace_without_partition": ["consul_partition and consul_namespace must be set together"],
    'r_tproxy_fargate["fargate"]': ["enable_transparent_proxy = true needs the NET_ADMIN capability"],
    'r_tproxy_fargate["fargate_and_ec2"]': ["enable_transparent_proxy = true needs the NET_ADMIN capability"],
    "r_consul_dns_without_tproxy": ["enable_consul_dns needs enable_transparent_proxy = true"],
    'r_mesh_gateway["wan_federation_without_tls"]': ["enable_mesh_gateway_wan_federation needs tls = true"],
    'r_mesh_gateway["wan_address_and_lb"]': ["Set either wan_address or lb_enabled, not both",
                                             "lb_subnets is required when lb_enabled = true",
                                             "lb_vpc_id is required when lb_enabled = true"],
    'r_mesh_gateway["lb_without_subnets"]': ["lb_subnets is required when lb_enabled = true"],
    'r_mesh_gateway["lb_without_vpc"]': ["lb_vpc_id is required when lb_enabled = true"],
    'r_mesh_gateway["create_and_modify"]': ["Set at most one of lb_create_security_group and lb_modify_security_group",
                                            "lb_modify_security_group_id is required"],
    'r_mesh_gateway["modify_without_id"]': ["lb_modify_security_group_id is required"],
    "r_api_gateway_custom_lb_with_lb_enabled": ["custom_load_balancer_config is only for lb_enabled = false"],
    'r_gateway_tproxy_fargate["fargate"]': ["enable_transparent_proxy = true needs the NET_ADMIN capability"],
    'r_gateway_tproxy_fargate["fargate_and_ec2"]': ["enable_transparent_proxy = true needs the NET_ADMIN capability"],
    "r_gateway_consul_dns_without_tproxy": ["enable_consul_dns needs enable_transparent_proxy = true"],
}


@pytest.fixture(scope="module")
def plans(tf_toolchain: tfb.Toolchain, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The three plans, in one background chain (tfb.run_stages)."""
    tree = tfb.copy_tree(tmp_path_factory.mktemp("upstream-cases"))
    root = tfb.Root(tf_toolchain.cli("tofu"), tree / "test-roots" / ROOT)

    def plan(which: str) -> subprocess.CompletedProcess:
        return root.plan({"plan": which}, False, "-json")

    stages = tfb.run_stages([("init", root.init),
                             *[(p, lambda p=p: plan(p)) for p in ("accept", "variables", "rules")]])
    stages["init"].result()
    return {"stages": stages, "main_tf": (tree / "test-roots" / ROOT / "main.tf").read_text()}


def errors_of(p: subprocess.CompletedProcess) -> list[dict]:
    out = []
    for line in p.stdout.splitlines():
        d = json.loads(line).get("diagnostic") if line.startswith("{") else None
        if d and d.get("severity") == "error":
            out.append(d)
    return out


def text_of(d: dict) -> str:
    return " ".join(f"{d.get('summary', '')}: {d.get('detail', '')}".split())


def module_at_line(main_tf: str) -> dict[int, str]:
    """Line number (1-based) -> the module call whose block holds it."""
    owner, current = {}, None
    for n, line in enumerate(main_tf.splitlines(), start=1):
        m = re.match(r'^module "([^"]+)"', line)
        if m:
            current = m.group(1)
        if current:
            owner[n] = current
        if line == "}":
            current = None
    return owner


def test_every_case_upstream_accepts_plans(plans: dict) -> None:
    p = plans["stages"]["accept"].result()
    assert p.returncode == 0, "\n".join(text_of(d) for d in errors_of(p)) or p.stderr[-3000:]
    calls = set(re.findall(r'^module "(a_[^"]+)"', plans["main_tf"], re.M))
    # 17 calls, 37 instances (for_each): upstream's 37 passing cases.
    assert len(calls) == 17, sorted(calls)


def test_every_case_upstream_rejects_at_variable_validation_fails(plans: dict) -> None:
    p = plans["stages"]["variables"].result()
    assert p.returncode == 1
    owner = module_at_line(plans["main_tf"])
    by_call: dict[str, list[str]] = {}
    for d in errors_of(p):
        r = d.get("range") or {}
        call = owner.get(r.get("start", {}).get("line")) if r.get("filename") == "main.tf" else None
        by_call.setdefault(call or "?", []).append(text_of(d))
    problems = []
    for call, message in VARIABLE_CASES.items():
        got = by_call.pop(call, [])
        want = FOR_EACH_VARIABLE_CASES.get(call, 1)
        if len(got) < want or not all(message in g for g in got):
            problems.append(f"module.{call}: want {want}x {message!r}, got {got}")
    problems += [f"unexpected errors of {call}: {msgs}" for call, msgs in by_call.items()]
    assert not problems, "\n".join(problems)


def test_every_case_upstream_rejects_at_a_rule_fails(plans: dict) -> None:
    p = plans["stages"]["rules"].result()
    assert p.returncode == 1
    errors = [text_of(d) for d in errors_of(p)]
    want = Counter(m for messages in RULE_CASES.values() for m in messages)
    got = Counter()
    unexpected = []
    for e in errors:
        hits = [m for m in want if m in e]
        if len(hits) != 1:
            unexpected.append(e)
        else:
            got[hits[0]] += 1
    assert not unexpected, "errors no case explains:\n" + "\n".join(unexpected)
    assert got == want, f"want {dict(want)}\ngot  {dict(got)}"
    # Every r_ call of the root is a case above (for_each calls by instance).
    calls = set(re.findall(r'^module "(r_[^"]+)"', plans["main_tf"], re.M))
    assert calls == {c.split("[")[0] for c in RULE_CASES}


def test_kind_is_required() -> None:
    """Upstream's "kind is required" cases (mesh, API, terminating gateway):
    a call without `kind` cannot plan. A required input has no default."""
    spec = importlib.util.spec_from_file_location(
        "check_readme_tables", tfb.terraform_dir() / "tools" / "check_readme_tables.py")
    readme_check = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = readme_check   # (its dataclasses look themselves up there)
    spec.loader.exec_module(readme_check)
    variables, _ = readme_check.parse_module(tfb.terraform_dir() / "modules" / "gateway-task")
    assert variables["kind"].default is None and variables["kind"].type == "string"
