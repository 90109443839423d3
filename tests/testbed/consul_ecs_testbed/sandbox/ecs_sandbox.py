"""An emulated ECS cluster on one machine: task definitions run as local
processes, with the ECS agent emulator (consul_ecs_testbed.ecs_agent_emulator)
serving their task metadata and credentials.

What it does, the way the ECS agent does it for a Fargate task:

- **Containers** are process trees. Each container's command starts in a new
  session (`setsid`), so the session ID names the container: every process
  the command forks stays in it (consul-ecs's entrypoints put their child in
  its own process group, which stays in the session). Stopping a container
  kills every process of its session, like the end of a PID namespace.
- **dependsOn** with the conditions START, COMPLETE, SUCCESS and HEALTHY.
  A dependency that can no longer be met (it exited, or exited non-zero for
  SUCCESS, or stopped before becoming HEALTHY) stops the task.
- **healthCheck** {command, interval, timeout, retries, startPeriod}: the
  command runs in the container's environment every `interval` seconds;
  `retries` consecutive failures make the container UNHEALTHY, a success
  HEALTHY; failures during `startPeriod` do not count. `["CMD-SHELL", s]`
  runs `s` with /bin/sh, `["CMD", ...]` or a plain list runs it directly.
- **Stop** (StopTask, or an essential container exiting): the task's desired
  status becomes STOPPED at once (in the emulator and in the ECS API), every
  running container gets SIGTERM at the same moment, and each one still
  running `stopTimeout` seconds later is killed (SIGKILL to its whole
  session). Containers that never started are marked STOPPED.
- **Status**: known/desired status, exit codes and health of every container
  are written to the emulator as they change, so the task metadata endpoint
  answers what ECS would.
- **ECS API** (optional, moto): task definitions are registered, each task is
  started with RunTask (its task ID is the one the API returns) and stopped
  with StopTask once its containers have exited (moto jumps straight to
  STOPPED, where ECS reports a stopping task until then), so
  ListTasks/DescribeTasks (the consul-ecs controller's view of the cluster)
  match what ECS would say.

Nothing here knows about Consul: sandbox/demo.py and `mesh` build the mesh
tasks on top of it.
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..ecs_agent_emulator import ContainerSpec, EcsAgentEmulator

CONDITIONS = ("START", "COMPLETE", "SUCCESS", "HEALTHY")
DEFAULT_STOP_TIMEOUT = 30.0  # ECS's default per-container stopTimeout


# --------------------------------------------------------------------------
# Task definitions
# --------------------------------------------------------------------------

@dataclass
class HealthCheck:
    command: list[str]
    interval: float = 30.0
    timeout: float = 5.0
    retries: int = 3
    start_period: float = 0.0

    @staticmethod
    def from_json(d: dict[str, Any] | None) -> HealthCheck | None:
        if not d:
            return None
        return HealthCheck(command=list(d["command"]), interval=float(d.get("interval", 30)),
                           timeout=float(d.get("timeout", 5)), retries=int(d.get("retries", 3)),
                           start_period=float(d.get("startPeriod", 0)))

    def argv(self) -> list[str]:
        if self.command and self.command[0] == "CMD-SHELL":
            return ["/bin/sh", "-c", " ".join(self.command[1:])]
        if self.command and self.command[0] == "CMD":
            return self.command[1:]
        return list(self.command)

    def to_json(self) -> dict[str, Any]:
        return {"command": self.command, "interval": self.interval, "timeout": self.timeout,
                "retries": self.retries, "startPeriod": self.start_period}


@dataclass
class Dependency:
    container_name: str
    condition: str

    def __post_init__(self) -> None:
        if self.condition not in CONDITIONS:
            raise ValueError(f"dependsOn condition must be one of {CONDITIONS}, not {self.condition!r}")


@dataclass
class ContainerDefinition:
    name: str
    command: list[str]
    environment: dict[str, str] = field(default_factory=dict)
    depends_on: list[Dependency] = field(default_factory=list)
    health_check: HealthCheck | None = None
    essential: bool = True
    stop_timeout: float | None = None  # None: the cluster default
    image: str | None = None           # only shown in the metadata / ECS API (without a runtime)
    cwd: str | None = None
    raw: dict[str, Any] | None = None  # the ECS API's containerDefinition, as given

    @staticmethod
    def from_json(d: dict[str, Any]) -> ContainerDefinition:
        env = d.get("environment") or {}
        if isinstance(env, list):  # ECS shape: [{"name": ..., "value": ...}]
            env = {e["name"]: e["value"] for e in env}
        cmd = list(d.get("entryPoint") or []) + list(d.get("command") or [])
        return ContainerDefinition(
            name=d["name"], command=cmd, environment=dict(env),
            depends_on=[Dependency(x["containerName"], x["condition"]) for x in d.get("dependsOn") or []],
            health_check=HealthCheck.from_json(d.get("healthCheck")),
            essential=bool(d.get("essential", True)),
            stop_timeout=float(d["stopTimeout"]) if d.get("stopTimeout") is not None else None,
            image=d.get("image"), cwd=d.get("workingDirectory"), raw=d)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name, "image": self.image or f"local/{self.name}",
            "essential": self.essential, "command": self.command,
            "environment": [{"name": k, "value": v} for k, v in sorted(self.environment.items())],
            "dependsOn": [{"containerName": x.container_name, "condition": x.condition}
                          for x in self.depends_on],
        }
        if self.health_check:
            d["healthCheck"] = self.health_check.to_json()
        if self.stop_timeout is not None:
            d["stopTimeout"] = self.stop_timeout
        return d


@dataclass
class TaskDefinition:
    family: str
    containers: list[ContainerDefinition]
    task_role_arn: str | None = None
    tags: dict[str, str] = field(default_factory=dict)  # propagated to the tasks
    revision: int = 1
    arn: str | None = None             # set when it comes from the ECS API
    raw: dict[str, Any] | None = None  # DescribeTaskDefinition's taskDefinition, as given

    @staticmethod
    def from_json(d: dict[str, Any]) -> TaskDefinition:
        tags = d.get("tags") or {}
        if isinstance(tags, list):
            tags = {t["key"]: t["value"] for t in tags}
        return TaskDefinition(family=d["family"],
                              containers=[ContainerDefinition.from_json(c)
                                          for c in d["containerDefinitions"]],
                              task_role_arn=d.get("taskRoleArn"), tags=dict(tags),
                              revision=int(d.get("revision", 1)),
                              arn=d.get("taskDefinitionArn"), raw=d)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"family": self.family,
                             "containerDefinitions": [c.to_json() for c in self.containers],
                             "tags": [{"key": k, "value": v} for k, v in sorted(self.tags.items())]}
        if self.task_role_arn:
            d["taskRoleArn"] = self.task_role_arn
        return d

    def validate(self) -> None:
        names = [c.name for c in self.containers]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.family}: duplicate container names {names}")
        if not any(c.essential for c in self.containers):
            raise ValueError(f"{self.family}: at least one container must be essential")
        by_name = {c.name: c for c in self.containers}
        for c in self.containers:
            for dep in c.depends_on:
                if dep.container_name not in by_name:
                    raise ValueError(f"{self.family}: {c.name} depends on unknown {dep.container_name}")
                if dep.condition == "HEALTHY" and by_name[dep.container_name].health_check is None:
                    raise ValueError(f"{self.family}: {c.name} waits for {dep.container_name} "
                                     "to be HEALTHY but it has no healthCheck")
        # No cycles (depth-first search).
        state: dict[str, int] = {}

        def visit(n: str, path: list[str]) -> None:
            if state.get(n) == 1:
                raise ValueError(f"{self.family}: dependency cycle {' -> '.join(path + [n])}")
            if state.get(n) == 2:
                return
            state[n] = 1
            for dep in by_name[n].depends_on:
                visit(dep.container_name, path + [n])
            state[n] = 2

        for n in names:
            visit(n, [])


# --------------------------------------------------------------------------
# Processes: a container is a session
# --------------------------------------------------------------------------

def session_pids(sid: int) -> list[int]:
    """Every live process whose session ID is `sid` (from /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
        except OSError:
            continue
        # pid (comm) state ppid pgrp session ...; comm may hold spaces/parens.
        rest = stat[stat.rfind(")") + 2:].split()
        if len(rest) > 3 and rest[0] != "Z" and int(rest[3]) == sid:
            out.append(int(entry))
    return out


def kill_session(sid: int, sig: int = signal.SIGKILL) -> int:
    """Sends `sig` to every process of the session; returns how many."""
    n = 0
    for pid in session_pids(sid):
        try:
            os.kill(pid, sig)
            n += 1
        except ProcessLookupError:
            pass
    return n


# Every session this module started, so that a crash of the caller can still
# kill them all (see kill_all_sessions, which demo.py calls at exit).
_ALL_SESSIONS: set[int] = set()
_STARTED_SESSIONS: set[int] = set()  # every session ever started, for leak checks
_ALL_LOCK = threading.Lock()


def leftover_processes() -> list[int]:
    """PIDs still alive in any session this module ever started."""
    with _ALL_LOCK:
        sids = list(_STARTED_SESSIONS)
    return [pid for sid in sids for pid in session_pids(sid)]


def kill_all_sessions() -> int:
    with _ALL_LOCK:
        sids = list(_ALL_SESSIONS)
    n = 0
    for sid in sids:
        n += kill_session(sid)
    return n


# --------------------------------------------------------------------------
# Running tasks
# --------------------------------------------------------------------------

@dataclass
class ContainerRuntime:
    defn: ContainerDefinition
    log_path: str
    status: str = "PENDING"          # PENDING, RUNNING, STOPPED
    proc: subprocess.Popen | None = None
    exit_code: int | None = None
    health: str | None = None        # None (no check), UNKNOWN, HEALTHY, UNHEALTHY
    started_at: float | None = None
    stopped_at: float | None = None
    sigterm_at: float | None = None
    killed: bool = False             # SIGKILLed (stopTimeout or kill())
    health_thread: threading.Thread | None = None
    env: dict[str, str] | None = None   # as started (with a runtime: image PATH, secrets)

    @property
    def sid(self) -> int | None:
        return self.proc.pid if self.proc else None


class SandboxTask:
    """One running task. A supervisor thread starts containers in dependency
    order, watches them exit, and runs the stop sequence."""

    POLL = 0.05

    def __init__(self, cluster: EcsCluster, td: TaskDefinition, task_id: str, task_arn: str,
                 env: Callable[[str], dict[str, str]], logdir: str, name: str,
                 ip: str = "127.0.0.1") -> None:
        self.cluster = cluster
        self.ip = ip
        self.td = td
        self.task_id = task_id
        self.task_arn = task_arn
        self.name = name  # a short label for logs and the demo
        self._env = env
        self.logdir = logdir
        os.makedirs(logdir, exist_ok=True)
        self.containers = {c.name: ContainerRuntime(c, os.path.join(logdir, f"{c.name}.log"),
                                                    health="UNKNOWN" if c.health_check else None)
                           for c in td.containers}
        self.lock = threading.RLock()
        self.last_status = "PENDING"
        self.desired_status = "RUNNING"
        self.stop_reason: str | None = None
        self.stop_requested_at: float | None = None
        self.stopped_at: float | None = None
        self.events: list[tuple[float, str]] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._supervise, name=f"task-{name}", daemon=True)

    # ---- public ----
    def start(self) -> SandboxTask:
        self._event("task started (PENDING)")
        if self.cluster.runtime is not None:
            try:
                self.cluster.runtime.setup_task(self)
            except Exception as e:
                self._event(f"cannot set up the task: {e}")
                self.stop(f"task set-up failed: {e}")
        self._thread.start()
        return self

    def stop(self, reason: str = "Task stopped by user") -> None:
        """StopTask: desired STOPPED now, SIGTERM to every running container,
        SIGKILL after its stopTimeout. Returns at once (see wait_stopped)."""
        with self.lock:
            if self.desired_status == "STOPPED":
                return
            self.desired_status = "STOPPED"
            self.stop_reason = reason
            self.stop_requested_at = time.time()
            self._event(f"stopping: {reason}")
            self.cluster._task_desired_stopped(self)
            # As ECS: the task's and every container's desired status turn
            # STOPPED before any container gets its SIGTERM, so a sidecar
            # woken by the signal already reads a stopping task.
            self.cluster.emulator.stop_task(self.task_id)
            now = time.time()
            for c in self.containers.values():
                if c.status == "RUNNING":
                    c.sigterm_at = now
                    self._signal_root(c, signal.SIGTERM)

    def kill(self) -> None:
        """Every process of every container gets SIGKILL at once (a host
        crash, an OOM kill of the whole task): nothing can clean up. The
        supervisor then sees the essential container exit and stops the task."""
        with self.lock:
            self._event("SIGKILL to every container")
            for c in self.containers.values():
                if c.status == "RUNNING" and c.sid:
                    c.killed = True
                    kill_session(c.sid)

    def wait_stopped(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    @property
    def stopped(self) -> bool:
        return self._done.is_set()

    def container(self, name: str) -> ContainerRuntime:
        return self.containers[name]

    def health(self, name: str) -> str | None:
        return self.containers[name].health

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"taskId": self.task_id, "family": self.td.family, "name": self.name,
                    "lastStatus": self.last_status, "desiredStatus": self.desired_status,
                    "stopReason": self.stop_reason,
                    "containers": {n: {"status": c.status, "health": c.health,
                                       "exitCode": c.exit_code, "killed": c.killed}
                                   for n, c in self.containers.items()}}

    # ---- internals ----
    def _event(self, text: str) -> None:
        self.events.append((time.time(), text))
        self.cluster._log(f"[{self.name}] {text}")

    def _signal_root(self, c: ContainerRuntime, sig: int) -> None:
        # docker stop / docker kill -s: the signal goes to the container's PID 1.
        if c.proc and c.proc.poll() is None:
            try:
                c.proc.send_signal(sig)
            except ProcessLookupError:
                pass

    def _dependency_state(self, dep: Dependency) -> str:
        """'met', 'wait' or 'failed'."""
        d = self.containers[dep.container_name]
        if dep.condition == "START":
            return "met" if d.status in ("RUNNING", "STOPPED") and d.started_at else "wait"
        if dep.condition == "COMPLETE":
            return "met" if d.status == "STOPPED" and d.started_at else "wait"
        if dep.condition == "SUCCESS":
            if d.status == "STOPPED" and d.started_at:
                return "met" if d.exit_code == 0 else "failed"
            return "wait"
        # HEALTHY
        if d.health == "HEALTHY" and d.status == "RUNNING":
            return "met"
        if d.status == "STOPPED" and d.started_at:
            return "failed"
        return "wait"

    def _container_env(self, c: ContainerRuntime) -> dict[str, str]:
        # The host's own AWS/ECS/Consul settings must not leak into a task.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ECS_", "CONSUL_"))}
        env.update(self._env(c.defn.name))
        env.update(c.defn.environment)
        return env

    def _start_container(self, c: ContainerRuntime) -> None:
        env = self._container_env(c)
        argv = c.defn.command
        log = open(c.log_path, "ab")
        try:
            if self.cluster.runtime is not None:
                argv, extra = self.cluster.runtime.container(self, c.defn.name)
                env.update(extra)
                c.env = env
            c.proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, cwd=c.defn.cwd or self.logdir,
                                      start_new_session=True)
        except (OSError, LookupError, RuntimeError) as e:
            log.write(f"cannot start {c.defn.command!r}: {e}\n".encode())
            log.close()
            c.status, c.exit_code, c.stopped_at = "STOPPED", 127, time.time()
            c.started_at = None
            self.cluster.emulator.set_container(self.task_id, c.defn.name, known_status="STOPPED",
                                                exit_code=127)
            self._event(f"{c.defn.name}: cannot start: {e}")
            if c.defn.essential and self.desired_status != "STOPPED":
                # As ECS (CannotStartContainerError): the task stops.
                self.stop(f"CannotStartContainerError: {c.defn.name}: {e}")
            return
        log.close()
        with _ALL_LOCK:
            _ALL_SESSIONS.add(c.proc.pid)
            _STARTED_SESSIONS.add(c.proc.pid)
        c.status = "RUNNING"
        c.started_at = time.time()
        self.cluster.emulator.set_container(self.task_id, c.defn.name, known_status="RUNNING")
        if self.last_status == "PENDING":
            self.last_status = "RUNNING"
            self.cluster.emulator.set_task_status(self.task_id, known_status="RUNNING")
        self._event(f"{c.defn.name}: started (pid {c.proc.pid})")
        if c.defn.health_check:
            c.health_thread = threading.Thread(target=self._health_loop, args=(c,),
                                               name=f"health-{self.name}-{c.defn.name}", daemon=True)
            c.health_thread.start()

    def _container_exited(self, c: ContainerRuntime, code: int) -> None:
        c.exit_code = code if code >= 0 else 128 - code  # Popen: -N for signal N
        c.status = "STOPPED"
        c.stopped_at = time.time()
        # The end of PID 1 ends the container: nothing of it survives.
        if c.sid:
            kill_session(c.sid)
            with _ALL_LOCK:
                _ALL_SESSIONS.discard(c.sid)
        self.cluster.emulator.set_container(self.task_id, c.defn.name, known_status="STOPPED",
                                            exit_code=c.exit_code)
        how = " (SIGKILL)" if c.killed else ""
        self._event(f"{c.defn.name}: exited with {c.exit_code}{how}")

    def _set_health(self, c: ContainerRuntime, health: str) -> None:
        with self.lock:
            if c.health == health or c.status != "RUNNING":
                return
            c.health = health
            self.cluster.emulator.set_container(self.task_id, c.defn.name, health=health)
            self._event(f"{c.defn.name}: {health}")

    def _health_loop(self, c: ContainerRuntime) -> None:
        hc = c.defn.health_check
        assert hc is not None
        failures = 0
        started = time.monotonic()
        env = c.env or self._container_env(c)
        argv = hc.argv()
        if self.cluster.runtime is not None and c.proc is not None:
            argv = self.cluster.runtime.health_argv(c.proc.pid, argv)
        while c.status == "RUNNING" and not self._done.is_set():
            # Docker runs the first check `interval` after the start; a short
            # first wait keeps sandbox start-up snappy without changing the
            # meaning of interval/retries.
            time.sleep(min(hc.interval, 0.5) if c.health == "UNKNOWN" else hc.interval)
            if c.status != "RUNNING":
                return
            try:
                r = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                   timeout=hc.timeout, cwd=c.defn.cwd or self.logdir)
                ok = r.returncode == 0
            except (subprocess.TimeoutExpired, OSError):
                ok = False
            if ok:
                failures = 0
                self._set_health(c, "HEALTHY")
            else:
                in_start_period = time.monotonic() - started < hc.start_period
                if not in_start_period:
                    failures += 1
                if failures >= hc.retries:
                    self._set_health(c, "UNHEALTHY")

    def _supervise(self) -> None:
        try:
            while True:
                with self.lock:
                    if self._step():
                        break
                time.sleep(self.POLL)
        except Exception as e:
            self._event(f"supervisor error: {type(e).__name__}: {e}; killing the task")
            for c in self.containers.values():
                if c.sid:
                    kill_session(c.sid)
            self._finish()

    def _step(self) -> bool:
        """One supervisor pass; True when the task is STOPPED."""
        now = time.time()
        # 1. exits
        for c in self.containers.values():
            if c.status == "RUNNING" and c.proc is not None:
                code = c.proc.poll()
                if code is not None:
                    self._container_exited(c, code)
                    if c.defn.essential and self.desired_status != "STOPPED":
                        self.stop(f"Essential container in task exited ({c.defn.name})")
        # 2. start what may start
        if self.desired_status == "RUNNING":
            for c in self.containers.values():
                if c.status != "PENDING":
                    continue
                states = [self._dependency_state(d) for d in c.defn.depends_on]
                if "failed" in states:
                    bad = [d for d, s in zip(c.defn.depends_on, states, strict=True) if s == "failed"]
                    self.stop(f"{c.defn.name}: dependency {bad[0].container_name} "
                              f"can no longer be {bad[0].condition}")
                    break
                if all(s == "met" for s in states):
                    self._start_container(c)
        # 3. stop sequence
        if self.desired_status == "STOPPED":
            for c in self.containers.values():
                if c.status == "PENDING":
                    c.status = "STOPPED"
                    c.stopped_at = now
                    self.cluster.emulator.set_container(self.task_id, c.defn.name, known_status="STOPPED")
                elif c.status == "RUNNING" and c.sigterm_at is None:
                    # Started during the stop (cannot happen: step 2 is skipped) or
                    # stop() raced with a start: terminate it too.
                    c.sigterm_at = now
                    self._signal_root(c, signal.SIGTERM)
                elif c.status == "RUNNING" and not c.killed:
                    timeout = c.defn.stop_timeout
                    if timeout is None:
                        timeout = self.cluster.default_stop_timeout
                    if c.sigterm_at is not None and now - c.sigterm_at >= timeout:
                        c.killed = True
                        self._event(f"{c.defn.name}: still running {timeout:g}s after SIGTERM, SIGKILL")
                        if c.sid:
                            kill_session(c.sid)
            if all(c.status == "STOPPED" for c in self.containers.values()):
                self._finish()
                return True
        return False

    def _finish(self) -> None:
        self.last_status = "STOPPED"
        self.stopped_at = time.time()
        if self.cluster.runtime is not None:
            try:
                self.cluster.runtime.teardown_task(self)
            except Exception as e:
                self._event(f"task tear-down failed: {e}")
        try:
            self.cluster.emulator.set_task_status(self.task_id, known_status="STOPPED",
                                                  desired_status="STOPPED")
        except KeyError:
            pass
        self.cluster._task_stopped(self)
        self._event("task STOPPED")
        self._done.set()


class EcsCluster:
    """A cluster: runs tasks from task definitions on this machine.

    `ecs_api`: a boto3 ECS client (moto) or None. With it, the cluster,
    task definitions and tasks also exist in the ECS API."""

    def __init__(self, name: str, emulator: EcsAgentEmulator, workdir: str,
                 ecs_api: Any = None, region: str = "us-east-1", account_id: str = "123456789012",
                 default_stop_timeout: float = DEFAULT_STOP_TIMEOUT,
                 network_configuration: dict[str, Any] | None = None,
                 log: Callable[[str], None] | None = None, runtime: Any = None) -> None:
        self.name = name
        # Runs containers of ECS task definitions unchanged (sandbox.runtime);
        # None: a container's command is a plain local process.
        self.runtime = runtime
        # RunTask's networkConfiguration (Fargate tasks are awsvpc).
        self.network_configuration = network_configuration
        self.emulator = emulator
        self.workdir = workdir
        self.ecs_api = ecs_api
        self.region = region
        self.account_id = account_id
        self.default_stop_timeout = default_stop_timeout
        self._logger = log
        self.tasks: dict[str, SandboxTask] = {}
        self._lock = threading.Lock()
        self.arn = f"arn:aws:ecs:{region}:{account_id}:cluster/{name}"
        os.makedirs(workdir, exist_ok=True)

    def _log(self, text: str) -> None:
        if self._logger:
            self._logger(text)

    def create(self) -> EcsCluster:
        if self.ecs_api is not None:
            self.arn = self.ecs_api.create_cluster(clusterName=self.name)["cluster"]["clusterArn"]
        return self

    def register_task_definition(self, td: TaskDefinition) -> TaskDefinition:
        td.validate()
        if self.ecs_api is not None and td.arn is None:
            kw: dict[str, Any] = {
                "family": td.family,
                "requiresCompatibilities": ["FARGATE"],
                "cpu": "256", "memory": "512",
                "containerDefinitions": [
                    {"name": c.name, "image": c.image or f"local/{c.name}:sandbox",
                     "essential": c.essential, "cpu": 0, "memory": 64,
                     "dependsOn": [{"containerName": d.container_name, "condition": d.condition}
                                   for d in c.depends_on]}
                    for c in td.containers],
            }
            if td.task_role_arn:
                kw["taskRoleArn"] = td.task_role_arn
            if td.tags:
                kw["tags"] = [{"key": k, "value": v} for k, v in td.tags.items()]
            out = self.ecs_api.register_task_definition(**kw)["taskDefinition"]
            td.revision = int(out["revision"])
        return td

    def run_task(self, td: TaskDefinition, name: str | None = None, ip: str | None = None,
                 env: Callable[[str, str], dict[str, str]] | None = None,
                 network_configuration: dict[str, Any] | None = None,
                 started_by: str = "ecs-sandbox", group: str | None = None) -> SandboxTask:
        """Starts one task of `td`. `env(task_id, container_name)` may add
        environment per container (e.g. what depends on the task ID). The
        task's address: `ip`, else its ENI's in the ECS API, else 127.0.0.1."""
        td.validate()
        net = network_configuration or self.network_configuration
        if self.ecs_api is not None:
            out = self.ecs_api.run_task(
                cluster=self.arn, taskDefinition=td.arn or f"{td.family}:{td.revision}",
                launchType="FARGATE",
                count=1, tags=[{"key": k, "value": v} for k, v in td.tags.items()],
                startedBy=started_by, **({"group": group} if group else {}),
                **({"networkConfiguration": net} if net else {}))
            if out.get("failures"):
                raise RuntimeError(f"RunTask {td.family}: {out['failures']}")
            task_arn = out["tasks"][0]["taskArn"]
            task_id = task_arn.rsplit("/", 1)[-1]
            if ip is None:
                for att in out["tasks"][0].get("attachments") or []:
                    for d in att.get("details") or []:
                        if d.get("name") == "privateIPv4Address":
                            ip = d["value"]
        else:
            task_id = secrets.token_hex(16)
            task_arn = f"arn:aws:ecs:{self.region}:{self.account_id}:task/{self.name}/{task_id}"
        ip = ip or "127.0.0.1"
        emu_task = self.emulator.add_task(
            cluster=self.arn, task_id=task_id, family=td.family, revision=str(td.revision),
            launch_type="FARGATE", ip=ip, role_arn=td.task_role_arn, region=self.region,
            account_id=self.account_id,
            containers=[ContainerSpec(c.name, health="UNKNOWN" if c.health_check else None,
                                      known_status="PENDING", desired_status="RUNNING",
                                      image=c.image)
                        for c in td.containers])
        emu_task.known_status = "PENDING"

        def container_env(container: str) -> dict[str, str]:
            e = self.emulator.env_for(emu_task, container)
            if env:
                e.update(env(task_id, container))
            return e

        label = name or f"{td.family}-{task_id[:8]}"
        task = SandboxTask(self, td, task_id, emu_task.task_arn, container_env,
                           os.path.join(self.workdir, label), label, ip=ip)
        with self._lock:
            self.tasks[task_id] = task
        return task.start()

    def _task_desired_stopped(self, task: SandboxTask) -> None:
        pass

    def _task_stopped(self, task: SandboxTask) -> None:
        # Real ECS keeps a stopping task's last status RUNNING (then
        # DEACTIVATING/STOPPING) until its containers have exited, and the
        # controller spares such tasks. moto's StopTask jumps to STOPPED at
        # once, so it is called when the task has really stopped: the
        # controller sees what it would see on AWS.
        if self.ecs_api is not None:
            try:
                self.ecs_api.stop_task(cluster=self.arn, task=task.task_arn,
                                       reason=task.stop_reason or "stopped")
            except Exception as e:
                self._log(f"[{task.name}] ECS StopTask failed: {e}")

    def running_tasks(self) -> list[SandboxTask]:
        with self._lock:
            return [t for t in self.tasks.values() if not t.stopped]

    def shutdown(self, timeout: float = 0.0) -> None:
        """Stops every task (SIGTERM, then SIGKILL after `timeout`) and waits."""
        tasks = self.running_tasks()
        for t in tasks:
            if timeout > 0:
                t.stop("cluster shutdown")
            else:
                t.stop("cluster shutdown")
                t.kill()
        deadline = time.time() + max(timeout, 0) + 5
        for t in tasks:
            if not t.wait_stopped(max(0.1, deadline - time.time())):
                t.kill()
                t.wait_stopped(2)
        kill_all_sessions()
