"""Real containers for the test bed: ECS tasks run as podman pods.

A pod's containers share one network namespace, as an awsvpc task's do. This
module plays the ECS agent's part only (what cannot exist off AWS): it starts
a task's containers in dependsOn order, runs their health checks the way ECS
does (interval, retries, CMD / CMD-SHELL), reports every container's real
state to the ECS agent emulator (KnownStatus, exit code, Health) and stops a
task as ECS's StopTask does (DesiredStatus STOPPED, SIGTERM to every
container at once, SIGKILL after stopTimeout). Everything it creates carries
the prefix `consul-ecs-test-` and is removed by cleanup(), also on failure.

Podman runs with image/containers.conf (CONTAINERS_CONF): runc, cgroupfs.
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import secrets
import shutil
import subprocess
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from . import bed as tb
from .ecs_agent_emulator import EcsAgentEmulator, Task

PREFIX = "consul-ecs-test-"


def podman_env() -> dict[str, str]:
    env = dict(os.environ)
    env["CONTAINERS_CONF"] = os.path.join(tb.repo_root(), "image", "containers.conf")
    return env


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    p = subprocess.run(["podman", *args], capture_output=True, text=True, env=podman_env(),
                       timeout=timeout, stdin=subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args)} exited {p.returncode}: {p.stderr.strip()}")
    return p


def image_ref() -> str:
    """The image `make image` built (image/image.env)."""
    with open(os.path.join(tb.repo_root(), "image", "image.env")) as f:
        for line in f:
            if line.startswith("IMAGE_REF="):
                return line.split("=", 1)[1].strip()
    raise RuntimeError("image/image.env has no IMAGE_REF")


def require_image(ref: str) -> str:
    if podman("image", "exists", ref, check=False).returncode != 0:
        raise RuntimeError(f"image {ref} is missing: build it with `make image` (scripts/test.sh does)")
    return ref


def busybox_image() -> str:
    """A foreign image with no glibc and nothing of ours: only Debian's
    busybox-static and its applets, imported from a root file system tar (no
    registry is reachable). Tagged by the busybox binary's hash."""
    busybox = shutil.which("busybox") or "/bin/busybox"
    with open(busybox, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:12]
    ref = f"localhost/{PREFIX}busybox:{digest}"
    if podman("image", "exists", ref, check=False).returncode == 0:
        return ref
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    with tempfile.TemporaryDirectory() as d:
        tar_path = os.path.join(d, "rootfs.tar")
        with tarfile.open(tar_path, "w") as tar:
            def add_dir(name: str, mode: int = 0o755) -> None:
                info = tarfile.TarInfo(name)
                info.type, info.mode = tarfile.DIRTYPE, mode
                tar.addfile(info)
            for name in ("bin", "etc", "tmp", "www"):
                add_dir(name, 0o1777 if name == "tmp" else 0o755)
            tar.add(busybox, arcname="bin/busybox")
            for applet in applets:
                if applet == "busybox":
                    continue
                info = tarfile.TarInfo(f"bin/{applet}")
                info.type, info.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(info)
        podman("import", "--change", "ENV=PATH=/bin", tar_path, ref)
    return ref


@dataclass
class HealthCheck:
    command: list[str]  # ECS form: ["CMD-SHELL", "..."] or ["CMD", exe, args...]
    interval: float = 1.0
    timeout: float = 5.0
    retries: int = 3

    def exec_args(self) -> list[str]:
        kind, rest = self.command[0], self.command[1:]
        if kind == "CMD-SHELL":
            return ["/bin/sh", "-c", rest[0]]
        if kind == "CMD":
            return rest
        raise ValueError(f"health check must start with CMD or CMD-SHELL, not {kind!r}")


@dataclass
class ContainerDef:
    """The part of an ECS container definition the runner needs."""
    name: str
    image: str
    entry_point: list[str] | None = None
    command: list[str] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)
    mounts: list[tuple[str, str, bool]] = field(default_factory=list)  # (volume, path, read_only)
    files: list[tuple[str, str]] = field(default_factory=list)  # (host file, path), read-only
    health_check: HealthCheck | None = None
    depends_on: list[tuple[str, str]] = field(default_factory=list)  # (container, START|HEALTHY|SUCCESS|COMPLETE)
    essential: bool = True
    user: str | None = None


@dataclass
class _State:
    started: bool = False
    known: str = "PENDING"
    exit_code: int | None = None
    health: str | None = None
    failures: int = 0
    next_check: float = 0.0


def remove_leftovers() -> None:
    """Removes what an earlier run that was killed mid-test left behind (all
    of it carries PREFIX), so its network's subnet is free again."""
    for _kind, listing, remove in (
            ("pod", ["pod", "ps", "-q", "--filter", f"name={PREFIX}"], ["pod", "rm", "--force", "--time", "0"]),
            ("container", ["ps", "-aq", "--filter", f"name={PREFIX}"], ["rm", "--force", "--time", "0"]),
            ("volume", ["volume", "ls", "-q", "--filter", f"name={PREFIX}"], ["volume", "rm", "--force"]),
    ):
        ids = podman(*listing, check=False).stdout.split()
        if ids:
            podman(*remove, *ids, check=False)
    names = podman("network", "ls", "--format", "{{.Name}}", check=False).stdout.split()
    stale = [n for n in names if n.startswith(PREFIX)]
    if stale:
        podman("network", "rm", "--force", *stale, check=False)


class PodmanNetwork:
    """A podman network with a subnet the test picks; removed by remove()."""

    def __init__(self, subnet: str) -> None:
        self.name = PREFIX + secrets.token_hex(4)
        self.subnet = ipaddress.ip_network(subnet)
        hosts = list(self.subnet.hosts())
        self.gateway = str(hosts[0])
        self._next = 9
        self._hosts = hosts
        podman("network", "create", "--subnet", str(self.subnet), "--gateway", self.gateway, self.name)

    def next_ip(self) -> str:
        self._next += 1
        return str(self._hosts[self._next])

    def remove(self) -> None:
        podman("network", "rm", "-f", self.name, check=False)


class PodTask:
    """One ECS task as a podman pod (see the module docstring)."""

    def __init__(self, emulator: EcsAgentEmulator, task: Task, network: PodmanNetwork,
                 containers: list[ContainerDef], dns: str | None = None,
                 volumes: list[str] = ("consul",)) -> None:
        self.emulator, self.task, self.network = emulator, task, network
        self.defs = {c.name: c for c in containers}
        self.order = [c.name for c in containers]
        self.pod = f"{PREFIX}{task.task_id[:12]}"
        self.volumes = {v: f"{self.pod}-{v}" for v in volumes}
        self.dns = dns
        self.state = {c.name: _State() for c in containers}
        self.stopping = False
        self.events: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._stop_agent = threading.Event()
        self._agent: threading.Thread | None = None

    # ---- lifecycle ----
    def create(self) -> PodTask:
        args = ["pod", "create", "--name", self.pod, "--infra-name", f"{self.pod}-infra",
                "--network", self.network.name, "--ip", self.task.ip]
        if self.dns:
            args += ["--dns", self.dns]
        podman(*args)
        for volume in self.volumes.values():
            podman("volume", "create", volume)
        for name in self.order:
            podman(*self._create_args(self.defs[name]))
        # The infra container brings the pod's network namespace (and the
        # bridge's gateway address) up before any container runs.
        podman("start", f"{self.pod}-infra")
        return self

    def _create_args(self, c: ContainerDef) -> list[str]:
        args = ["create", "--pod", self.pod, "--name", self.cname(c.name)]
        for key, value in {**self.emulator.env_for(self.task, c.name), **c.environment}.items():
            args += ["--env", f"{key}={value}"]
        for volume, path, ro in c.mounts:
            args += ["--volume", f"{self.volumes[volume]}:{path}{':ro' if ro else ''}"]
        for host_file, path in c.files:
            args += ["--volume", f"{host_file}:{path}:ro"]
        if c.user is not None:
            args += ["--user", c.user]
        if c.entry_point is not None:
            args += ["--entrypoint", json.dumps(c.entry_point)]
        args.append(c.image)
        args += c.command
        return args

    def cname(self, name: str) -> str:
        return f"{self.pod}-{name}"

    def start(self, timeout: float = 90.0) -> PodTask:
        """Starts the containers as ECS does: each once its dependsOn
        conditions hold. Raises if that does not happen within timeout."""
        self._agent = threading.Thread(target=self._agent_loop, daemon=True)
        self._agent.start()
        pending = list(self.order)
        deadline = time.monotonic() + timeout
        while pending:
            for name in list(pending):
                if all(self._condition_met(dep, cond) for dep, cond in self.defs[name].depends_on):
                    podman("start", self.cname(name))
                    with self._lock:
                        self.state[name].started = True
                    self._event(f"started {name}")
                    pending.remove(name)
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"containers {pending} never had their dependsOn conditions met; "
                                   f"states: {self.describe()}")
            time.sleep(0.2)
        return self

    def _condition_met(self, name: str, condition: str) -> bool:
        with self._lock:
            s = self.state[name]
            if condition == "START":
                return s.started
            if condition == "HEALTHY":
                return s.health == "HEALTHY"
            if condition == "COMPLETE":
                return s.known == "STOPPED"
            if condition == "SUCCESS":
                return s.known == "STOPPED" and s.exit_code == 0
        raise ValueError(f"unknown dependsOn condition {condition}")

    def stop(self, stop_timeout: float = 30.0) -> None:
        """ECS StopTask: DesiredStatus STOPPED on the task and every container,
        SIGTERM to all running containers at once, SIGKILL after stopTimeout."""
        with self._lock:
            if self.stopping:
                return
            self.stopping = True
        self.emulator.set_task_status(self.task.task_id, desired_status="STOPPED")
        for name in self.order:
            self.emulator.set_container(self.task.task_id, name, desired_status="STOPPED")
        running = [self.cname(n) for n in self.order if self.state[n].known == "RUNNING"]
        self._event("SIGTERM to all containers")
        if running:
            podman("kill", "--signal", "TERM", *running, check=False)
        deadline = time.monotonic() + stop_timeout
        while time.monotonic() < deadline:
            if all(self.state[n].known in ("STOPPED", "PENDING") or not self.state[n].started for n in self.order):
                break
            time.sleep(0.2)
        else:
            left = [self.cname(n) for n in self.order if self.state[n].known == "RUNNING"]
            self._event(f"SIGKILL after stopTimeout: {left}")
            if left:
                podman("kill", "--signal", "KILL", *left, check=False)
        tb.wait_until(lambda: all(self.state[n].known != "RUNNING" for n in self.order), 15, 0.2,
                      "all containers stopped")
        self.emulator.set_task_status(self.task.task_id, known_status="STOPPED")

    def wait_stopped(self, timeout: float) -> None:
        tb.wait_until(lambda: all(s.known == "STOPPED" or not s.started for s in self.state.values()),
                      timeout, 0.2, "task stopped")

    def cleanup(self) -> None:
        self._stop_agent.set()
        if self._agent is not None:
            self._agent.join(timeout=10)
        podman("pod", "rm", "--force", "--time", "0", self.pod, check=False)
        for volume in self.volumes.values():
            podman("volume", "rm", "--force", volume, check=False)

    # ---- observation ----
    def logs(self, name: str) -> str:
        p = podman("logs", self.cname(name), check=False)
        return p.stdout + p.stderr

    def exit_code(self, name: str) -> int | None:
        with self._lock:
            return self.state[name].exit_code

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {n: {"known": s.known, "health": s.health, "exit": s.exit_code} for n, s in self.state.items()}

    def _event(self, text: str) -> None:
        self.events.append((time.monotonic(), text))

    # ---- the agent ----
    def _inspect(self) -> dict[str, dict]:
        names = [self.cname(n) for n in self.order]
        p = podman("inspect", "--type", "container", *names, check=False, timeout=30)
        out = {}
        try:
            for item in json.loads(p.stdout or "[]"):
                out[item["Name"]] = item["State"]
        except json.JSONDecodeError:
            pass
        return out

    def _agent_loop(self) -> None:
        while not self._stop_agent.is_set():
            states = self._inspect()
            now = time.monotonic()
            for name in self.order:
                st = states.get(self.cname(name))
                s = self.state[name]
                if st is None or not s.started:
                    continue
                status = st.get("Status", "")
                if status == "running" and s.known != "RUNNING":
                    with self._lock:
                        s.known = "RUNNING"
                        if self.defs[name].health_check is not None and s.health is None:
                            s.health = "UNKNOWN"
                    self.emulator.set_container(self.task.task_id, name, known_status="RUNNING",
                                                health=s.health if s.health else ...)
                elif status in ("exited", "stopped") and s.known != "STOPPED":
                    code = int(st.get("ExitCode", 0))
                    with self._lock:
                        s.known, s.exit_code = "STOPPED", code
                    self.emulator.set_container(self.task.task_id, name, known_status="STOPPED", exit_code=code)
                    self._event(f"{name} exited {code}")
                    if self.defs[name].essential and not self.stopping:
                        threading.Thread(target=self.stop, daemon=True).start()
                hc = self.defs[name].health_check
                if hc is not None and s.known == "RUNNING" and now >= s.next_check:
                    s.next_check = now + hc.interval
                    self._run_health_check(name, hc)
            self._stop_agent.wait(0.3)

    def _run_health_check(self, name: str, hc: HealthCheck) -> None:
        try:
            ok = podman("exec", self.cname(name), *hc.exec_args(), check=False,
                        timeout=hc.timeout).returncode == 0
        except subprocess.TimeoutExpired:
            ok = False
        s = self.state[name]
        with self._lock:
            if s.known != "RUNNING":
                return
            if ok:
                s.failures, new = 0, "HEALTHY"
            else:
                s.failures += 1
                new = "UNHEALTHY" if s.failures >= hc.retries else s.health
            changed = new != s.health
            s.health = new
        if changed:
            self.emulator.set_container(self.task.task_id, name, health=new)
            self._event(f"{name} {new}")
