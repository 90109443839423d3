"""A gateway task's registration in the real Consul 1.15.4 (ACLs on), made
by the binary: `control-plane` with a v0.7.3 config whose gateway.kind is
mesh-gateway (the only kind that schema has), logging in with the gateway
task role the official gateway-task module creates (tagged service-name and
consul.hashicorp.com.gateway-kind). The 0.10-only kinds (terminating-gateway,
api-gateway) are registered by mesh-init (tests/e2e/test_mesh_init.py);
tests/unit/mesh/registration_test.cpp covers their bodies.
"""
from __future__ import annotations

import json
import os

import pytest

from conftest import DATAPLANE, GATEWAY_ROLES, base_config, wait_for
from consul_ecs_testbed import bed as tb

pytestmark = pytest.mark.needs_binary


def gateway_config(consul: tb.ConsulServer, moto: tb.MotoServer, bootstrap_dir: str, gateway: dict) -> dict:
    cfg = base_config(consul, moto, bootstrap_dir)
    for key in ("service", "proxy", "healthSyncContainers"):
        cfg.pop(key, None)
    cfg["gateway"] = gateway
    return cfg


def test_mesh_gateway_registers_with_lan_and_wan_addresses(run_control_plane, make_task, consul, moto,
                                                           bootstrap_dir):
    # The service-name tag names the gateway's service identity: the
    # gateway's name must match it to be allowed to register.
    cfg = gateway_config(consul, moto, bootstrap_dir, {
        "kind": "mesh-gateway", "name": "mesh-gateway",
        "lanAddress": {"address": "10.20.30.40", "port": 9443},
        "wanAddress": {"address": "203.0.113.7"},
        "tags": ["gw"], "meta": {"team": "edge"},
        "healthCheckPort": 22111,
        "proxy": {"config": {"envoy_prometheus_bind_addr": "0.0.0.0:9102"}},
    })
    task = make_task(role=GATEWAY_ROLES["mesh-gateway"], app_health=None, ip="10.20.30.41")
    cp = run_control_plane(cfg, task)
    gw_id = f"mesh-gateway-{task.task_id}"

    def registered():
        if not cp.alive():
            raise AssertionError(cp.describe())
        return consul.service_instance(cp.node, gw_id)

    svc = wait_for(registered, 30, "the mesh gateway in the catalog", cp)
    assert svc["Kind"] == "mesh-gateway"
    assert svc["Service"] == "mesh-gateway"
    assert svc["Address"] == "10.20.30.40"
    assert svc["Port"] == 9443
    assert svc["TaggedAddresses"]["lan"] == {"Address": "10.20.30.40", "Port": 9443}
    assert svc["TaggedAddresses"]["wan"] == {"Address": "203.0.113.7", "Port": 9443}
    assert svc["Tags"] == ["gw"]
    assert svc["Meta"] == {"task-id": task.task_id, "task-arn": task.task_arn, "source": "consul-ecs", "team": "edge"}
    assert svc["Proxy"]["Config"] == {"envoy_prometheus_bind_addr": "0.0.0.0:9102"}

    # One check: the dataplane's readiness, passing once ECS says the
    # dataplane container is healthy (make_task's default).
    checks = {cid: c for cid, c in consul.checks_by_id(cp.node).items() if c["ServiceID"] == gw_id}
    assert set(checks) == {f"{gw_id}-{DATAPLANE}"}
    wait_for(lambda: consul.checks_by_id(cp.node)[f"{gw_id}-{DATAPLANE}"]["Status"] == "passing", 30,
             "the gateway's dataplane check passing", cp)

    # The dataplane is pointed at the gateway, its readiness port at
    # gateway.healthCheckPort.
    with open(os.path.join(bootstrap_dir, "consul-dataplane.json")) as f:
        dataplane = json.load(f)
    assert dataplane["proxy"]["id"] == gw_id
    assert dataplane["envoy"]["readyBindPort"] == 22111

    # Discoverable the way peers and other gateways find mesh gateways.
    found = consul.must(consul.get("/v1/catalog/service/mesh-gateway"))
    assert [s["ServiceID"] for s in found if s["Node"] == cp.node] == [gw_id]
