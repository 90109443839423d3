"""The linux/arm64 binary (scripts/build.sh --arch arm64: build-arm64/consul-ecs,
or $CONSUL_ECS_ARM64_BIN) through whole lifecycles under qemu-user-static,
against the same real Consul (ACLs, aws-iam login via moto) and ECS agent
emulator as the amd64 suite:

- control-plane: login, service + proxy registered, health synced from ECS,
  SIGTERM -> critical, waits for consul-dataplane, deregisters, logs out;
- mesh-init then health-sync (the v0.10 layout): mesh-init registers and
  exits 0 (the copied binary is arm64 too), health-sync syncs to passing,
  SIGTERM -> critical, deregistered, token gone.

The module overrides the session's `consul_ecs_bin`: the binary is checked
to be an ARM aarch64 static ELF first, and run through binfmt_misc when a
qemu-aarch64 handler is registered, else through qemu-aarch64-static
directly (a one-line exec wrapper, so signals reach the emulated process).
"""
from __future__ import annotations

import os
import signal
import stat
import subprocess

import pytest

from conftest import APP, DATAPLANE
from consul_ecs_testbed import bed as tb
from test_control_plane import service_token, start_ready
from test_control_plane import wait_status as cp_wait_status
from test_health_sync import ALL_CRITICAL, ALL_PASSING, split_config, start_split, wait_status

pytestmark = pytest.mark.needs_binary

EM_AARCH64 = 183


def arm64_binary() -> str:
    return os.environ.get("CONSUL_ECS_ARM64_BIN") or os.path.join(tb.repo_root(), "build-arm64", "consul-ecs")


def elf_machine(path: str) -> int:
    with open(path, "rb") as f:
        header = f.read(20)
    assert header[:4] == b"\x7fELF", f"{path} is not an ELF file"
    return int.from_bytes(header[18:20], "little")


def binfmt_aarch64_registered() -> bool:
    try:
        with open("/proc/sys/fs/binfmt_misc/qemu-aarch64") as f:
            return f.readline().strip() == "enabled"
    except OSError:
        return False


@pytest.fixture(scope="module")
def consul_ecs_bin(tmp_path_factory) -> str:
    path = arm64_binary()
    if not os.access(path, os.X_OK):
        pytest.fail(f"no arm64 binary at {path} (scripts/build.sh --arch arm64)", pytrace=False)
    described = subprocess.run(["file", "-b", path], capture_output=True, text=True, check=True).stdout
    assert "ARM aarch64" in described and "statically linked" in described, described
    assert elf_machine(path) == EM_AARCH64
    if binfmt_aarch64_registered():
        return path
    qemu = subprocess.run(["sh", "-c", "command -v qemu-aarch64-static"], capture_output=True, text=True).stdout.strip()
    assert qemu, "neither a binfmt_misc qemu-aarch64 handler nor qemu-aarch64-static (scripts/setup.sh installs it)"
    wrapper = tmp_path_factory.mktemp("arm64") / "consul-ecs"
    wrapper.write_text(f"#!/bin/sh\nexec {qemu} {path} \"$@\"\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return str(wrapper)


def test_arm64_version_runs_under_qemu(consul_ecs_bin):
    p = subprocess.run([consul_ecs_bin, "version"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    with open(os.path.join(tb.repo_root(), "VERSION")) as f:
        assert p.stdout.splitlines()[0] == f"consul-ecs v{f.read().strip()}"


def test_arm64_control_plane_lifecycle(run_control_plane, make_task, cp_config, consul, emulator):
    cp = start_ready(run_control_plane, make_task, cp_config)
    tid = cp.task.task_id
    cp_wait_status(consul, cp, {"app": "passing", "dp_service": "passing", "dp_proxy": "passing"},
                   15, "all checks passing (arm64 control-plane)")
    secret = service_token(cp)
    assert consul.token_self(secret).status_code == 200
    assert consul.service_instance(cp.node, cp.proxy_id)["Kind"] == "connect-proxy"

    emulator.set_container(tid, APP, health="UNHEALTHY")
    cp_wait_status(consul, cp, {"app": "critical"}, 10, "app check critical after UNHEALTHY")
    emulator.set_container(tid, APP, health="HEALTHY")
    cp_wait_status(consul, cp, {"app": "passing"}, 10, "app check passing again")

    cp.signal(signal.SIGTERM)
    cp_wait_status(consul, cp, {"app": "critical", "dp_service": "critical", "dp_proxy": "critical"},
                   10, "every check critical after SIGTERM")
    assert cp.alive(), cp.describe()
    emulator.set_container(tid, DATAPLANE, known_status="STOPPED")
    assert cp.wait(30) == 0, cp.describe()
    assert consul.service_instance(cp.node, cp.service_id) is None
    assert consul.service_instance(cp.node, cp.proxy_id) is None
    assert consul.token_self(secret).status_code == 403


def test_arm64_mesh_init_then_health_sync_lifecycle(run_control_plane, make_task, consul, moto,
                                                    bootstrap_dir, emulator):
    cfg = split_config(consul, moto, bootstrap_dir)
    cp = start_split(run_control_plane, make_task, cfg)
    copied = os.path.join(bootstrap_dir, "consul-ecs")
    assert elf_machine(copied) == EM_AARCH64, "mesh-init copied the arm64 binary to the shared volume"
    wait_status(consul, cp, ALL_PASSING, 20, "all checks passing (arm64 health-sync)")
    assert consul.login_tokens(cp.task.task_id), "health-sync holds a login token"

    emulator.stop_task(cp.task.task_id)
    cp.signal(signal.SIGTERM)
    wait_status(consul, cp, ALL_CRITICAL, 10, "SIGTERM -> all critical")
    emulator.container_exited(cp.task.task_id, DATAPLANE)
    assert cp.wait(30) == 0, cp.describe()
    assert consul.service_instance(cp.node, cp.proxy_id) is None
    assert consul.service_instance(cp.node, cp.service_id) is None
    assert "logged out of Consul" in cp.output()
    assert consul.login_tokens(cp.task.task_id) == []
