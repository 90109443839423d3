"""The sandbox flow (`make demo`) as an end-to-end test, with short timings.

One sandbox for the module, its own Consul and moto (the controller writes
ACL objects; the session Consul of the other tests stays untouched):
terraform/examples/client-server applied against moto with OpenTofu, and
the tasks of its ECS services run from the task definitions moto holds,
each in its own network and mount namespaces (root needed). The tests run
in file order and each builds on the previous one's state:

  1. boot: the controller provisions ACLs and the cluster node; three
     `server` tasks, a `client` task and a terminating gateway (gateway-task,
     always the split layout) are registered with passing checks, at their
     ENI addresses, with the task definitions Terraform registered
  2. a request through the mesh succeeds (client sidecar -> mTLS -> server)
  3. a `deny` intention makes it fail, `allow` restores it
  4. graceful stop of a server: it leaves the catalog, no client request fails
  5. SIGKILL of a server: the controller removes its instances and login
     token within one polling interval; no request fails afterwards
  5b. graceful stop of the gateway: its health-sync deregisters it, its
     login tokens are logged out, no client request fails
  6. every client failure is explained by steps 1/3/5; clean-up leaves no
     process behind

See sandbox/scenario.py for the flow and docs/sandbox.md for the set-up.
"""
from __future__ import annotations

import ipaddress
import json
import os

import pytest

from consul_ecs_testbed import bed as tb
from consul_ecs_testbed.sandbox.ecs_sandbox import leftover_processes
from consul_ecs_testbed.sandbox.mesh import MeshSandbox
from consul_ecs_testbed.sandbox.scenario import RECONCILE_SLACK, Scenario
from consul_ecs_testbed.sandbox.taskdefs import Timings

pytestmark = [pytest.mark.needs_binary, pytest.mark.timeout(600)]

TIMINGS = Timings.fast()


# None: the mesh-task module's default (the v0.10 split layout); then the
# 0.7 layout, which stays selectable. Each runs the whole flow.
LAYOUTS = [None, "control-plane"]


@pytest.fixture(scope="module", params=LAYOUTS, ids=["default-layout", "control-plane-layout"])
def flow(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, consul_ecs_bin: str):
    workdir = str(tmp_path_factory.mktemp("sandbox"))
    events: list[str] = []
    sb = MeshSandbox(workdir, TIMINGS, consul_ecs_bin=consul_ecs_bin, log=events.append, layout=request.param)
    sc = Scenario(sb, note=events.append)
    sc.events = events  # type: ignore[attr-defined]
    try:
        yield sc
    finally:
        sb.close()
        left = leftover_processes()
        procs = [p for p in (sb.consul and sb.consul.proc, sb.moto and sb.moto.proc) if p is not None]
        assert not left, f"processes left after clean-up: {left}"
        assert all(p.poll() is not None for p in procs), "Consul or moto still running"


def diagnostics(sc: Scenario) -> str:
    parts = ["--- sandbox events ---", "\n".join(sc.events[-60:]),  # type: ignore[attr-defined]
             "--- controller log ---", sc.sb.controller_log()[-3000:]]
    for mt in sc.sb.mesh_tasks:
        parts.append(sc.sb.describe_task(mt, 1200))
    return "\n".join(parts)


def test_01_tasks_registered_and_healthy(flow: Scenario) -> None:
    try:
        flow.boot(servers=3)
    except Exception as e:
        pytest.fail(f"sandbox boot failed: {e}\n{diagnostics(flow)}", pytrace=False)
    st = flow.status()
    gw = flow.gateway
    gateways = [i for i in st.instances if i.kind not in ("service", "connect-proxy")]
    # The terminating gateway: one instance at its task's address, the
    # default gateway port, its one check (the dataplane container's ECS
    # health, synced by health-sync) passing.
    assert [(i.id, i.service, i.kind, i.task_id) for i in gateways] == [
        (gw.service_id, gw.service, "terminating-gateway", gw.task_id)], gateways
    assert gateways[0].address == f"{gw.task.ip}:8443", gateways[0]
    assert ipaddress.ip_address(gw.task.ip) in flow.sb.network.net
    assert gateways[0].checks == {"consul-dataplane": "passing"}, gateways[0].checks
    assert gw.service == f"{flow.sb.cluster_name}-terminating-gateway"
    assert flow.sb.consul.must(flow.sb.consul.get(f"/v1/health/checks/{gw.service}")), "no check"
    st.instances = [i for i in st.instances if i not in gateways]
    by_service: dict[str, list] = {}
    for inst in st.instances:
        by_service.setdefault(inst.service, []).append(inst)
    assert len(by_service.get("server", [])) == 3, st
    assert len(by_service.get("server-sidecar-proxy", [])) == 3, st
    assert len(by_service.get("client", [])) == 1, st
    assert len(by_service.get("client-sidecar-proxy", [])) == 1, st
    subnet = flow.sb.network.net
    by_task = {mt.task_id: mt for mt in flow.sb.mesh_tasks}
    for inst in st.instances:
        assert inst.passing, f"{inst.id} not passing: {inst.checks}"
        mt = by_task[inst.task_id]
        # Registered at the task's ENI address (moto's RunTask), which is
        # also its network namespace's address.
        assert inst.address.rsplit(":", 1)[0] == mt.task.ip, (inst, mt.task.ip)
        assert ipaddress.ip_address(mt.task.ip) in subnet
        if inst.kind == "service":
            # The health-synced container of the taskdef: the app's own name.
            assert set(inst.checks) == {mt.service, "consul-dataplane"}, inst.checks
            assert inst.address.endswith(":9090" if mt.service == "server" else ":8080"), inst
        else:
            assert inst.kind == "connect-proxy" and set(inst.checks) == {"consul-dataplane"}, inst
            assert inst.address.endswith(":20000"), inst  # the fixed port of the taskdef
    # Login tokens of the aws-iam auth method the controller completed with
    # its binding rule: one per mesh task (control-plane layout), or two
    # (split: health-sync's, and the dataplane's own login).
    agent_cmd = next(c.raw["command"][0] for c in flow.client.task.td.containers
                     if c.name == flow.client.agent_container)
    # The gateway always runs split: two more.
    assert st.tokens == 4 * (2 if agent_cmd == "health-sync" else 1) + 2, st.tokens
    assert sum(1 for t in flow.sb.login_tokens().values() if t == gw.task_id) == 2
    assert "created ACL binding rule" in flow.sb.controller_log()
    assert "registered the cluster's synthetic node" in flow.sb.controller_log()


def test_01b_tasks_run_the_task_definitions_terraform_registered(flow: Scenario) -> None:
    """What runs is what moto holds for each ECS service, unchanged."""
    sb = flow.sb
    # The layout's sidecars: split by default (mesh-init ran to completion
    # first), control-plane when asked for.
    names = {c.name for c in flow.client.task.td.containers}
    if sb.layout == "control-plane":
        assert {"consul-ecs-control-plane", "consul-dataplane"} <= names, names
        assert "consul-ecs-mesh-init" not in names, names
    else:
        assert {"consul-ecs-mesh-init", "consul-ecs-health-sync", "consul-dataplane"} <= names, names
        assert "consul-ecs-control-plane" not in names, names
        init = flow.client.task.container("consul-ecs-mesh-init")
        assert init.exit_code == 0, init
        dataplane = flow.client.task.container("consul-dataplane")
        assert dataplane.started_at is not None and init.stopped_at is not None
        assert dataplane.started_at >= init.stopped_at, "the dataplane started before mesh-init succeeded"
    # The gateway's task definition is gateway-task's split layout whatever
    # the mesh tasks use; its mesh-init ran to completion first too.
    gw = flow.gateway
    assert {c.name for c in gw.task.td.containers} == {
        "consul-ecs-mesh-init", "consul-ecs-health-sync", "consul-dataplane"}
    assert gw.gateway_kind == "terminating-gateway"
    assert gw.task.container("consul-ecs-mesh-init").exit_code == 0
    assert gw.agent_container == "consul-ecs-health-sync"
    # The dataplane stand-in logged in with mesh-init's login credentials and
    # serves only the readiness port: nothing listens on the gateway port.
    dp_log = gw.log("consul-dataplane")
    assert "logged in with auth method" in dp_log and "not proxied" in dp_log, dp_log
    for mt in [*flow.servers, flow.client, gw]:
        svc = sb.services[mt.ecs_service]
        assert mt.task.td.arn == svc["taskDefinition"], (mt.name, mt.task.td.arn)
        held = sb.task_definitions[mt.ecs_service].raw["containerDefinitions"]
        assert [c.raw for c in mt.task.td.containers] == held
        # The task exists in ECS (RunTask) with that definition and address.
        task = sb.cluster.ecs_api.describe_tasks(cluster=sb.cluster.arn, tasks=[mt.task.task_arn])["tasks"][0]
        assert task["taskDefinitionArn"] == svc["taskDefinition"]
        ips = [d["value"] for a in task.get("attachments") or [] for d in a["details"]
               if d["name"] == "privateIPv4Address"]
        assert ips == [mt.task.ip]
        # The task metadata the emulator serves names the same address.
        meta = sb.emulator.tasks[mt.task_id].network()
        assert meta["IPv4Addresses"] == [mt.task.ip]
        # The control-plane wrote its files into the task's own /consul.
        assert os.path.exists(os.path.join(mt.bootstrap_dir, "consul-dataplane.json")), mt.bootstrap_dir
    dirs = {mt.bootstrap_dir for mt in sb.mesh_tasks}
    assert len(dirs) == len(sb.mesh_tasks)


def test_02_request_through_the_mesh(flow: Scenario) -> None:
    st = flow.status()
    assert st.request_ok, f"request through the mesh failed: {st.request_answer}\n{diagnostics(flow)}"
    server_tasks = {mt.task_id for mt in flow.servers}
    answer = json.loads(st.request_answer)
    assert answer["service"] == "server" and answer["task"] in server_tasks
    # The client app's own calls go through too.
    since = flow.windows[0][2]
    try:
        tb.wait_until(lambda: any(r["ok"] for r in flow.sb.client_requests(since=since)), 10, 0.1,
                      "a successful call of the client app")
    except TimeoutError as e:
        pytest.fail(f"{e}: {flow.sb.client_requests(since=since)[-5:]}", pytrace=False)


def test_03_deny_intention_blocks_and_allow_restores(flow: Scenario) -> None:
    r = flow.intentions(hold=0.5)
    assert "Connection" in r["denied"] or "Remote" in r["denied"], r
    assert '"service": "server"' in r["allowed"], r
    # Refused by the intention, as the server's proxy logged it.
    assert "Action: DENY" in r["evidence"], r
    # The client app's calls failed during the deny window as well.
    _, start, end = flow.windows[-1]
    during = flow.sb.client_requests(since=start, until=end)
    assert any(not x["ok"] for x in during), during[-5:]


def test_04_graceful_stop_deregisters_without_failed_requests(flow: Scenario) -> None:
    target = flow.servers[0]
    g = flow.graceful_stop(target)
    assert g.critical_after is not None and g.critical_after < 3.0, g
    assert g.absent_after is not None, f"{target.name} still registered\n{diagnostics(flow)}"
    assert g.stopped_after is not None
    assert g.requests >= 10, g
    assert g.failed == 0, f"{g.failed} failed requests during the graceful stop: {g.failures}"
    # The stop sequence: the app exited by itself after its shutdown delay,
    # nothing needed SIGKILL.
    code, after, killed = g.container_exits[target.app_container]
    assert code == 0 and not killed and after >= TIMINGS.shutdown_delay - 0.2, g.container_exits
    for name, (code, _, killed) in g.container_exits.items():
        assert code == 0 and not killed, (name, g.container_exits)
    agent = target.log(target.agent_container)  # control-plane, or health-sync (split layout)
    assert "marking all checks critical" in agent
    # The controller spares a task that is still stopping: the task's own
    # control-plane deregisters it and logs out, without errors.
    assert g.deregistered_by == "control-plane", agent
    assert "[ERROR]" not in agent, agent


def test_05_sigkill_controller_removes_within_one_interval(flow: Scenario) -> None:
    target = flow.servers[1]
    assert flow.sb.instance_state(flow.servers[2]) == "passing", "need a server left"
    k = flow.sigkill(target)
    # Nothing of the task could clean up: it was still registered and passing.
    assert k.stale_state == "passing", k
    assert k.removed_after is not None, f"the controller did not remove {target.name}\n{diagnostics(flow)}"
    assert k.removed_after <= k.interval + RECONCILE_SLACK, (
        f"removed {k.removed_after:.1f}s after the task stopped; interval {k.interval}s")
    assert k.token_deleted, "the login token of the killed task is still there"
    assert k.requests_after >= 5 and k.failed_after == 0, k


def test_05b_gateway_graceful_stop_deregisters_and_logs_out(flow: Scenario) -> None:
    gw = flow.gateway
    r = flow.gateway_stop()
    g = r.stop
    assert r.tokens_before == 2, r
    assert g.absent_after is not None, f"the gateway is still registered\n{diagnostics(flow)}"
    assert g.stopped_after is not None, g
    # Its own health-sync deregistered it (the controller spares a stopping
    # task) and logged out; the dataplane stand-in logged its token out.
    assert g.deregistered_by == "control-plane", gw.log(gw.agent_container)
    agent = gw.log(gw.agent_container)
    assert "logged out of Consul" in agent and "[ERROR]" not in agent, agent
    assert "logged out" in gw.log("consul-dataplane"), gw.log("consul-dataplane")
    assert r.tokens_left == 0, flow.sb.login_tokens()
    for name, (code, _, killed) in g.container_exits.items():
        assert code == 0 and not killed, (name, g.container_exits)
    assert not flow.sb.consul.must(flow.sb.consul.get(f"/v1/health/checks/{gw.service}"))
    # The mesh did not notice.
    assert g.failed == 0, g.failures


def test_06_every_failed_request_is_explained(flow: Scenario) -> None:
    tot = flow.client_totals()
    assert tot["requests"] > 50, tot
    assert tot["by_window"]["unexplained"] == 0, tot
    st = flow.status()
    assert st.request_ok, st.request_answer
    assert {i.task for i in st.instances} == {"client", flow.servers[2].name}, st.instances
