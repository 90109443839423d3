"""The emulated ECS cluster of the sandbox (sandbox/ecs_sandbox.py) on its
own: dependsOn ordering, health checks, the stop sequence, essential
containers, and that a container's whole process tree goes with it. Plain
shell commands as containers; only the ECS agent emulator, no Consul/moto."""
from __future__ import annotations

import os
import signal
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sandbox"))

import testbed as tb  # noqa: E402
from ecs_agent_emulator import EcsAgentEmulator  # noqa: E402
from ecs_sandbox import (ContainerDefinition, Dependency, EcsCluster, HealthCheck,  # noqa: E402
                         TaskDefinition, leftover_processes, session_pids)


@pytest.fixture
def cluster(tmp_path):
    emu = EcsAgentEmulator().start()
    c = EcsCluster("unit", emu, str(tmp_path), default_stop_timeout=5)
    yield c
    c.shutdown(timeout=0)
    emu.stop()
    assert not leftover_processes()


def sh(script: str) -> list[str]:
    return ["/bin/sh", "-c", script]


def hc(cmd: list[str], **kw) -> HealthCheck:
    kw.setdefault("interval", 0.2)
    kw.setdefault("retries", 2)
    kw.setdefault("timeout", 2)
    return HealthCheck(cmd, **kw)


def alive(pid: int) -> bool:
    """Running (a zombie waiting for whatever reaps orphans here is not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def started(task, name: str) -> float:
    t = task.container(name).started_at
    assert t is not None, f"{name} never started: {task.snapshot()}"
    return t


def test_depends_on_order_and_metadata(cluster: EcsCluster, tmp_path) -> None:
    flag = tmp_path / "ready"
    td = TaskDefinition("order", [
        ContainerDefinition("init", sh("sleep 0.3"), essential=False),
        ContainerDefinition("db", sh(f"sleep 0.5; touch {flag}; sleep 30"), essential=False,
                            depends_on=[Dependency("init", "SUCCESS")],
                            health_check=hc(["test", "-e", str(flag)])),
        ContainerDefinition("app", sh("sleep 30"), depends_on=[Dependency("db", "HEALTHY")]),
        ContainerDefinition("logger", sh("sleep 30"), essential=False,
                            depends_on=[Dependency("app", "START")]),
    ])
    task = cluster.run_task(td)
    tb.wait_until(lambda: task.container("logger").status == "RUNNING", 15, 0.05, "logger running")
    init = task.container("init")
    assert init.status == "STOPPED" and init.exit_code == 0
    assert started(task, "db") >= init.stopped_at
    assert task.health("db") == "HEALTHY"
    assert started(task, "app") > started(task, "db") + 0.4  # waited for the health check
    assert started(task, "logger") >= started(task, "app")
    # What the task metadata endpoint says.
    meta = {c["Name"]: c for c in cluster.emulator.tasks[task.task_id].task_json()["Containers"]}
    assert meta["init"]["KnownStatus"] == "STOPPED" and meta["init"]["ExitCode"] == 0
    assert meta["db"]["Health"]["status"] == "HEALTHY"
    assert meta["app"]["KnownStatus"] == "RUNNING" and "Health" not in meta["app"]


def test_failed_dependency_stops_the_task(cluster: EcsCluster) -> None:
    td = TaskDefinition("faildep", [
        ContainerDefinition("init", sh("exit 3"), essential=False),
        ContainerDefinition("app", sh("sleep 30"), depends_on=[Dependency("init", "SUCCESS")]),
    ])
    task = cluster.run_task(td)
    assert task.wait_stopped(10)
    assert "init" in task.stop_reason and "SUCCESS" in task.stop_reason
    assert task.container("app").started_at is None
    assert task.container("app").status == "STOPPED"


def test_health_unhealthy_after_retries(cluster: EcsCluster, tmp_path) -> None:
    flag = tmp_path / "ok"
    flag.touch()
    td = TaskDefinition("health", [
        ContainerDefinition("app", sh("sleep 30"), health_check=hc(["test", "-e", str(flag)], retries=3)),
    ])
    task = cluster.run_task(td)
    tb.wait_until(lambda: task.health("app") == "HEALTHY", 10, 0.05, "HEALTHY")
    flag.unlink()
    t = time.time()
    tb.wait_until(lambda: task.health("app") == "UNHEALTHY", 10, 0.05, "UNHEALTHY")
    assert time.time() - t >= 0.4  # three failed checks 0.2 s apart, not the first one
    emu_c = cluster.emulator.container(task.task_id, "app")
    assert emu_c.health == "UNHEALTHY"


def test_stop_sequence_sigterm_then_sigkill_after_stop_timeout(cluster: EcsCluster) -> None:
    td = TaskDefinition("stop", [
        ContainerDefinition("polite", sh("trap 'exit 7' TERM; while :; do sleep 0.05; done"),
                            stop_timeout=5),
        ContainerDefinition("stubborn", sh("trap '' TERM; while :; do sleep 0.05; done"),
                            essential=False, stop_timeout=1),
    ])
    task = cluster.run_task(td)
    tb.wait_until(lambda: all(c.status == "RUNNING" for c in task.containers.values()), 10, 0.05, "running")
    time.sleep(0.3)
    t = time.time()
    task.stop("test")
    assert cluster.emulator.tasks[task.task_id].desired_status == "STOPPED"
    assert task.wait_stopped(10)
    polite, stubborn = task.container("polite"), task.container("stubborn")
    assert polite.exit_code == 7 and not polite.killed and polite.stopped_at - t < 1.0
    assert stubborn.killed and stubborn.exit_code == 137
    assert 0.9 <= stubborn.stopped_at - t < 3.0
    assert cluster.emulator.tasks[task.task_id].known_status == "STOPPED"


def test_essential_exit_stops_task_and_process_tree_goes_with_it(cluster: EcsCluster, tmp_path) -> None:
    pidfile = tmp_path / "child.pid"
    td = TaskDefinition("tree", [
        ContainerDefinition("app", sh("sleep 0.8; exit 4")),
        # A shell that leaves a grandchild behind when it exits on SIGTERM.
        ContainerDefinition("sidecar", sh(f"sleep 300 & echo $! > {pidfile}; wait"), essential=False),
    ])
    task = cluster.run_task(td)
    tb.wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), 10, 0.05, "grandchild pid")
    child = int(pidfile.read_text())
    sid = task.container("sidecar").sid
    assert child in session_pids(sid)
    assert task.wait_stopped(10)
    assert task.stop_reason.startswith("Essential container in task exited")
    assert task.container("app").exit_code == 4
    tb.wait_until(lambda: not session_pids(sid), 5, 0.05, "the sidecar's session to be empty")
    assert not alive(child), f"grandchild {child} survived its container"


def test_kill_is_sigkill_to_every_container(cluster: EcsCluster) -> None:
    td = TaskDefinition("kill", [
        ContainerDefinition("app", sh("trap '' TERM; sleep 30")),
        ContainerDefinition("side", sh("trap '' TERM; sleep 30"), essential=False),
    ])
    task = cluster.run_task(td)
    tb.wait_until(lambda: all(c.status == "RUNNING" for c in task.containers.values()), 10, 0.05, "running")
    task.kill()
    assert task.wait_stopped(5)
    for c in task.containers.values():
        assert c.killed and c.exit_code == 128 + signal.SIGKILL


def test_task_definition_validation() -> None:
    with pytest.raises(ValueError, match="cycle"):
        TaskDefinition("c", [
            ContainerDefinition("a", ["true"], depends_on=[Dependency("b", "START")]),
            ContainerDefinition("b", ["true"], depends_on=[Dependency("a", "START")]),
        ]).validate()
    with pytest.raises(ValueError, match="no healthCheck"):
        TaskDefinition("h", [
            ContainerDefinition("a", ["true"]),
            ContainerDefinition("b", ["true"], depends_on=[Dependency("a", "HEALTHY")]),
        ]).validate()
    with pytest.raises(ValueError, match="essential"):
        TaskDefinition("e", [ContainerDefinition("a", ["true"], essential=False)]).validate()
    # The JSON shape of an ECS task definition round-trips.
    td = TaskDefinition.from_json({
        "family": "j", "containerDefinitions": [
            {"name": "a", "command": ["sleep", "1"], "environment": [{"name": "X", "value": "1"}],
             "healthCheck": {"command": ["CMD-SHELL", "true"], "interval": 2, "retries": 1},
             "essential": True, "stopTimeout": 3}]})
    assert td.containers[0].environment == {"X": "1"}
    assert td.containers[0].health_check.argv() == ["/bin/sh", "-c", "true"]
    assert TaskDefinition.from_json(td.to_json()).to_json() == td.to_json()
