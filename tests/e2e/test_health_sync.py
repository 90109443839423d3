"""End-to-end tests of `consul-ecs health-sync` (the v0.10 layout's
long-running sidecar) against the real test bed: Consul 1.15 with ACLs, moto,
and the ECS agent emulator. Each test runs `mesh-init` first (as the official
mesh-task orders the containers), then health-sync on the same task.

The named cases are bugs the reference fixed in the release named: a synced
container missing from task metadata (still starting) counts as critical
(0.10.0), no catalog write per tick when nothing changed (0.10.0), the
dataplane check reflects the app's health, so an unhealthy app takes no
traffic (0.9.0), and nothing flips a check back to passing after SIGTERM
(0.9.2).
"""
from __future__ import annotations

import os
import signal

import pytest

from conftest import APP, DATAPLANE, ControlPlane, base_config, holds
from consul_ecs_testbed import bed as tb
from consul_ecs_testbed.ecs_agent_emulator import ContainerSpec
from consul_ecs_testbed.fault_proxy import FaultProxy
from consul_ecs_testbed.recording_proxy import HttpRecordingProxy

pytestmark = pytest.mark.needs_binary

class CountingProxy(HttpRecordingProxy):
    """The recording proxy in front of Consul, counting the catalog writes
    going through it (a write of identical checks leaves no trace in
    Consul's indexes, so counting at the wire is the only proof of no write)."""

    def count(self) -> int:
        return sum(1 for e in self.log.since(0)
                   if e.kind == "http" and e.method == "PUT" and e.path.startswith("/v1/catalog/register"))


@pytest.fixture
def counting_proxy(consul):
    p = CountingProxy("127.0.0.1", consul.http_port).start()
    yield p
    p.stop()


def split_config(consul, moto, bootstrap_dir: str, http_port: int | None = None) -> dict:
    cfg = base_config(consul, moto, bootstrap_dir)
    cfg["transparentProxy"] = {"enabled": False}
    if http_port is not None:
        cfg["consulServers"] = tb.plain_consul_servers(http_port, consul.grpc_port)
    return cfg


def start_split(run_control_plane, make_task, config: dict, task=None, **task_kw) -> ControlPlane:
    """mesh-init to completion, then health-sync on the same task."""
    task = task or make_task(**task_kw)
    init = run_control_plane(config, task, args=["mesh-init"])
    rc = init.wait(30)
    assert rc == 0, init.describe()
    return run_control_plane(config, task, args=["health-sync"])


def check_ids(cp: ControlPlane, containers=(APP,)) -> dict[str, str]:
    ids = {c: f"{cp.service_id}-{c}" for c in containers}
    ids["dp_service"] = f"{cp.service_id}-{DATAPLANE}"
    ids["dp_proxy"] = f"{cp.proxy_id}-{DATAPLANE}"
    return ids


def statuses(consul, cp: ControlPlane, containers=(APP,)) -> dict[str, str | None]:
    checks = consul.checks_by_id(cp.node)
    return {role: (checks.get(cid) or {}).get("Status") for role, cid in check_ids(cp, containers).items()}


def wait_status(consul, cp: ControlPlane, expected: dict[str, str], timeout: float, what: str,
                containers=(APP,)) -> None:
    def ok():
        if not cp.alive():
            raise AssertionError(f"health-sync exited with {cp.proc.returncode}\n{cp.describe()}")
        s = statuses(consul, cp, containers)
        return all(s[k] == v for k, v in expected.items())
    try:
        tb.wait_until(ok, timeout, 0.1, what)
    except TimeoutError as e:
        pytest.fail(f"{e}; statuses now {statuses(consul, cp, containers)}\n{cp.describe()}", pytrace=False)


ALL_PASSING = {APP: "passing", "dp_service": "passing", "dp_proxy": "passing"}
ALL_CRITICAL = {APP: "critical", "dp_service": "critical", "dp_proxy": "critical"}


# ------------------------------------------------------------------ sync

def test_syncs_health_and_writes_nothing_when_nothing_changed(run_control_plane, make_task, consul, moto,
                                                              bootstrap_dir, counting_proxy):
    cfg = split_config(consul, moto, bootstrap_dir, http_port=counting_proxy.port)
    cp = start_split(run_control_plane, make_task, cfg)
    wait_status(consul, cp, ALL_PASSING, 10, "all checks passing")
    before = tb.wait_stable(counting_proxy.count, 1.5, 15, what="catalog writes in flight")
    # Four sync ticks (1 s) with nothing new: not one write.
    holds(lambda: counting_proxy.count() == before, 4, "no catalog write while nothing changed", cp)
    assert not os.path.exists(os.path.join(bootstrap_dir, "service-token")), "health-sync writes no token file"


def test_one_change_is_one_write_and_app_unhealthy_makes_dataplane_critical(
        run_control_plane, make_task, consul, moto, bootstrap_dir, counting_proxy, emulator):
    cfg = split_config(consul, moto, bootstrap_dir, http_port=counting_proxy.port)
    cp = start_split(run_control_plane, make_task, cfg)
    wait_status(consul, cp, ALL_PASSING, 10, "all checks passing")
    before = tb.wait_stable(counting_proxy.count, 1.5, 15, what="catalog writes in flight")
    emulator.set_container(cp.task.task_id, APP, health="UNHEALTHY")
    # The app check and both dataplane checks: the proxy must not take
    # traffic for an unhealthy app (reference 0.9.0).
    wait_status(consul, cp, ALL_CRITICAL, 10, "app unhealthy -> app and dataplane checks critical")
    after = tb.wait_stable(counting_proxy.count, 1.5, 15, what="catalog writes in flight")
    assert after == before + 1, "all of one tick's changes go in one catalog write"
    dp = consul.checks_by_id(cp.node)[check_ids(cp)["dp_proxy"]]
    assert '"app"' in dp["Output"], dp
    emulator.set_container(cp.task.task_id, APP, health="HEALTHY")
    wait_status(consul, cp, ALL_PASSING, 10, "app healthy again -> all passing")


def test_synced_container_missing_from_metadata_is_critical(run_control_plane, make_task, consul, moto,
                                                            bootstrap_dir, emulator):
    cfg = split_config(consul, moto, bootstrap_dir)
    cfg["healthSyncContainers"] = [APP, "worker"]
    cp = start_split(run_control_plane, make_task, cfg)
    both = (APP, "worker")
    # worker is not in the task (yet): critical, and so is the dataplane.
    wait_status(consul, cp, {APP: "passing"}, 10, "app passing", containers=both)
    # Synced (the app's check passes) and over two more ticks: the missing
    # worker and so the dataplane stay critical.
    missing = {"worker": "critical", "dp_service": "critical", "dp_proxy": "critical"}
    holds(lambda: {k: statuses(consul, cp, both)[k] for k in missing} == missing, 2,
          "worker missing from metadata -> worker and dataplane checks critical", cp)
    emulator.add_container(cp.task.task_id, ContainerSpec("worker", health="HEALTHY"))
    wait_status(consul, cp, {APP: "passing", "worker": "passing", "dp_service": "passing",
                             "dp_proxy": "passing"}, 10, "worker started -> all passing", containers=both)


def test_registers_again_when_mesh_init_left_nothing(run_control_plane, make_task, consul, moto,
                                                     bootstrap_dir):
    """Anti-entropy from the start: no registration in Consul (a Consul that
    lost its data between mesh-init and health-sync) -> health-sync puts it
    back with the current health."""
    cfg = split_config(consul, moto, bootstrap_dir)
    task = make_task()
    cp = run_control_plane(cfg, task, args=["health-sync"])
    wait_status(consul, cp, ALL_PASSING, 15, "registered by health-sync, passing")
    assert "registering it again" in cp.output()


# -------------------------------------------------------------- shutdown

def test_sigterm_all_critical_no_flip_back_waits_for_dataplane_then_cleans_up(
        run_control_plane, make_task, consul, moto, bootstrap_dir, emulator):
    cfg = split_config(consul, moto, bootstrap_dir)
    cp = start_split(run_control_plane, make_task, cfg)
    wait_status(consul, cp, ALL_PASSING, 10, "all checks passing")
    assert consul.login_tokens(cp.task.task_id), "health-sync holds a login token"

    emulator.stop_task(cp.task.task_id)
    cp.signal(signal.SIGTERM)
    wait_status(consul, cp, ALL_CRITICAL, 5, "SIGTERM -> all critical")
    # ECS still reports every container HEALTHY and the dataplane running:
    # nothing may flip a check back (reference 0.9.2), nothing is removed yet.
    holds(lambda: cp.alive() and statuses(consul, cp) == ALL_CRITICAL, 3,
          "alive and every check critical while the dataplane runs", cp, interval=0.2)
    assert consul.service_instance(cp.node, cp.proxy_id) is not None
    assert consul.service_instance(cp.node, cp.service_id) is not None

    emulator.container_exited(cp.task.task_id, DATAPLANE)
    rc = cp.wait(10)
    assert rc == 0, cp.describe()
    assert consul.service_instance(cp.node, cp.proxy_id) is None
    assert consul.service_instance(cp.node, cp.service_id) is None
    out = cp.output()
    assert out.index(f"deregistered {cp.proxy_id}\n") < out.index(f"deregistered {cp.service_id}\n"), out
    assert "logged out of Consul" in out
    assert consul.login_tokens(cp.task.task_id) == []


def test_unexpected_argument(run_control_plane, make_task, consul, moto, bootstrap_dir):
    cp = run_control_plane(split_config(consul, moto, bootstrap_dir), make_task(),
                           args=["health-sync", "extra"])
    assert cp.wait(10) == 1
    assert "unexpected argument: extra" in cp.output()


# ------------------------------------------------------------------ servers

def test_follows_a_replaced_consul_server_fleet(run_control_plane, make_task, consul, moto, bootstrap_dir,
                                                emulator, tmp_path):
    """The reference's health-sync watches the servers; ours re-resolves
    `consulServers.hosts` when the known addresses stop answering. The
    fleet behind `exec=` is replaced by one at a new address (the old one
    refuses connections): the next health change still reaches Consul."""
    old = FaultProxy("127.0.0.1", consul.http_port, listen_host="127.0.0.2").start()
    new = None
    servers = tmp_path / "servers"
    servers.write_text("127.0.0.2\n")
    try:
        cfg = split_config(consul, moto, bootstrap_dir, http_port=old.port)
        cfg["consulServers"]["hosts"] = f"exec=cat {servers}"
        cp = start_split(run_control_plane, make_task, cfg)
        wait_status(consul, cp, ALL_PASSING, 10, "all checks passing through the first server")
        new = FaultProxy("127.0.0.1", consul.http_port, listen_host="127.0.0.3", listen_port=old.port).start()
        servers.write_text("127.0.0.3\n")
        old.stop()
        emulator.set_container(cp.task.task_id, APP, health="UNHEALTHY")
        wait_status(consul, cp, ALL_CRITICAL, 15, "health change written through the replacement server")
        assert new.accepted > 0, "nothing went to the replacement server"
    finally:
        old.stop()
        if new is not None:
            new.stop()
