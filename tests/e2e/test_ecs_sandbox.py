"""The emulated ECS cluster of the sandbox (sandbox/ecs_sandbox.py) on its
own: dependsOn ordering, health checks, the stop sequence, essential
containers, and that a container's whole process tree goes with it. Plain
shell commands as containers; only the ECS agent emulator, no Consul/moto.

The last tests add the runtime (sandbox/runtime.py) that runs ECS task
definitions unchanged: two tasks of one taskdef with the same fixed port
and the same mount path do not collide (own network and mount namespaces),
health checks run inside the task, readOnly mounts, `user`, secrets, an
unmapped image. Root needed (network namespaces)."""
from __future__ import annotations

import os
import signal
import time

import pytest

from consul_ecs_testbed import bed as tb
from consul_ecs_testbed.ecs_agent_emulator import EcsAgentEmulator
from consul_ecs_testbed.sandbox.ecs_sandbox import (
    ContainerDefinition,
    Dependency,
    EcsCluster,
    HealthCheck,
    TaskDefinition,
    leftover_processes,
    session_pids,
)
from consul_ecs_testbed.sandbox.runtime import Image, ImageMap, Network, TaskRuntime, pick_subnet


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


def test_stop_sequence_sigterm_then_sigkill_after_stop_timeout(cluster: EcsCluster, tmp_path) -> None:
    # Each shell says when its trap is set: a SIGTERM before that would end it the default way.
    td = TaskDefinition("stop", [
        ContainerDefinition("polite", sh(f"trap 'exit 7' TERM; touch {tmp_path}/polite; while :; do sleep 0.05; done"),
                            stop_timeout=5),
        ContainerDefinition("stubborn", sh(f"trap '' TERM; touch {tmp_path}/stubborn; while :; do sleep 0.05; done"),
                            essential=False, stop_timeout=1),
    ])
    task = cluster.run_task(td)
    tb.wait_until(lambda: all(c.status == "RUNNING" for c in task.containers.values()), 10, 0.05, "running")
    tb.wait_until(lambda: (tmp_path / "polite").exists() and (tmp_path / "stubborn").exists(), 10, 0.05,
                  "both traps set")
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


# ---- the runtime: task definitions as ECS gives them ----------------------------------

@pytest.fixture
def runtime_cluster(tmp_path):
    net = Network(pick_subnet(), os.urandom(3).hex()).create()
    emu = EcsAgentEmulator(host=net.gateway).start()
    images = ImageMap()
    images.add("local/shell", Image([], ["/bin/sh", "-c"]))
    read = []

    def secret(role, arn):
        read.append((role, arn))
        if "missing" in arn:
            raise RuntimeError(f"secret {arn} not found")
        return f"value-of-{arn.rsplit(':', 1)[-1]}"

    rt = TaskRuntime(net, images, str(tmp_path / "rt"), secret, dns={"consul.example": net.gateway})
    c = EcsCluster("rt", emu, str(tmp_path / "tasks"), default_stop_timeout=5, runtime=rt)
    c.secrets_read = read  # type: ignore[attr-defined]
    try:
        yield c
    finally:
        c.shutdown(timeout=0)
        emu.stop()
        net.close()
        assert not leftover_processes()
        assert net.bridge not in tb_run("ip", "-o", "link").stdout


def tb_run(*cmd: str):
    import subprocess
    return subprocess.run(list(cmd), capture_output=True, text=True)


def addr(c: EcsCluster, host: int) -> str:
    """Host address number `host` of the cluster's subnet."""
    return str(c.runtime.network.net.network_address + host)


def ecs_taskdef(mount: str, containers: list[dict]) -> TaskDefinition:
    return TaskDefinition.from_json({
        "family": "rt", "revision": 1, "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/rt:1",
        "executionRoleArn": "arn:aws:iam::123456789012:role/exec", "networkMode": "awsvpc",
        "volumes": [{"name": "data"}], "containerDefinitions": containers})


def test_two_tasks_same_port_and_path_do_not_collide(runtime_cluster: EcsCluster, tmp_path) -> None:
    mount = str(tmp_path / "data-mount")  # stands for /consul; exists on the host, stays empty there
    os.makedirs(mount)
    web = {
        "name": "web", "image": "local/shell:1.0", "essential": True,
        "command": [f"hostname -I > {mount}/ip; echo \"$S\" > {mount}/secret; "
                    f"exec python3 -m http.server 7000 --bind 0.0.0.0 --directory {mount}"],
        "mountPoints": [{"sourceVolume": "data", "containerPath": mount, "readOnly": False}],
        "secrets": [{"name": "S", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:s1"}],
        # 127.0.0.1:7000 answers only inside the task's namespace.
        "healthCheck": {"command": ["CMD-SHELL", "curl -fs http://127.0.0.1:7000/ip >/dev/null"],
                        "interval": 1, "timeout": 2, "retries": 3},
    }
    ro = {"name": "ro", "image": "local/shell", "essential": False,
          "command": [f"touch {mount}/x"],
          "mountPoints": [{"sourceVolume": "data", "containerPath": mount, "readOnly": True}],
          "dependsOn": [{"containerName": "web", "condition": "HEALTHY"}]}
    user = {"name": "user", "image": "local/shell", "essential": False, "user": "4242",
            "command": ["id -u; cat /etc/hosts"], "dependsOn": [{"containerName": "web", "condition": "START"}]}
    td = ecs_taskdef(mount, [web, ro, user])
    t1 = runtime_cluster.run_task(td, name="one", ip=addr(runtime_cluster, 4))
    t2 = runtime_cluster.run_task(td, name="two", ip=addr(runtime_cluster, 5))
    for t in (t1, t2):
        tb.wait_until(lambda t=t: t.health("web") == "HEALTHY", 20, 0.1, f"{t.name} web healthy")
        tb.wait_until(lambda t=t: t.container("ro").status == "STOPPED"
                      and t.container("user").status == "STOPPED", 10, 0.1, "one-shot containers")
    import requests
    for t in (t1, t2):
        # Same port 7000 in both tasks, each at its own address; each task's
        # /data-mount is its own volume.
        r = requests.get(f"http://{t.ip}:7000/ip", timeout=3)
        assert r.status_code == 200 and r.text.split() == [t.ip], (t.name, r.text)
        vol = runtime_cluster.runtime.tasks[t.task_id].volumes["data"]
        assert open(os.path.join(vol, "ip")).read().split() == [t.ip]
        assert open(os.path.join(vol, "secret")).read().strip() == "value-of-s1"
        # readOnly: the write failed, nothing was written.
        assert t.container("ro").exit_code != 0
        assert not os.path.exists(os.path.join(vol, "x"))
        log = open(t.container("user").log_path).read()
        assert log.splitlines()[0] == "4242", log
        assert f"{runtime_cluster.runtime.network.gateway} consul.example" in log  # the task's /etc/hosts
    assert os.listdir(mount) == []  # the host's directory was never written
    # Secrets were read with the task's execution role.
    assert set(runtime_cluster.secrets_read) == {  # type: ignore[attr-defined]
        ("arn:aws:iam::123456789012:role/exec", "arn:aws:secretsmanager:us-east-1:123456789012:secret:s1")}
    # The emulator's task metadata has the namespace's address.
    assert runtime_cluster.emulator.tasks[t1.task_id].network()["IPv4Addresses"] == [addr(runtime_cluster, 4)]
    t1.stop()
    t2.stop()
    assert t1.wait_stopped(10) and t2.wait_stopped(10)
    assert tb_run("ip", "netns", "list").stdout.count(runtime_cluster.runtime.network.bridge) == 0


def test_unmapped_image_and_unreadable_secret_stop_the_task(runtime_cluster: EcsCluster, tmp_path) -> None:
    td = ecs_taskdef("/unused", [{"name": "app", "image": "hashicorp/consul:1.15", "essential": True,
                                  "command": ["agent"]}])
    t = runtime_cluster.run_task(td, name="img", ip=addr(runtime_cluster, 6))
    assert t.wait_stopped(10)
    assert t.container("app").exit_code == 127
    assert "no local mapping" in open(t.container("app").log_path).read()
    td = ecs_taskdef("/unused", [{"name": "app", "image": "local/shell", "essential": True,
                                  "command": ["sleep 30"], "secrets": [
                                      {"name": "S", "valueFrom": "arn:aws:secretsmanager:::secret:missing"}]}])
    t = runtime_cluster.run_task(td, name="sec", ip=addr(runtime_cluster, 7))
    assert t.wait_stopped(10)
    assert t.container("app").started_at is None  # no container started
    assert "task set-up failed" in (t.stop_reason or "") and "missing" in t.stop_reason
