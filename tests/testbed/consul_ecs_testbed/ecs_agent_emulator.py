#!/usr/bin/env python3
"""Emulator of the parts of the Amazon ECS container agent that consul-ecs uses.

It is the only emulated piece of the test bed (Consul and AWS IAM/STS are
real servers: Consul itself and moto). It serves, over plain HTTP:

  GET /v4/<container-id>              the container's metadata (Task Metadata
                                      Endpoint v4, as $ECS_CONTAINER_METADATA_URI_V4)
  GET /v4/<container-id>/task         the task's metadata, all containers
  GET /v4/<container-id>/stats        {} (present for completeness)
  GET /v4/<container-id>/task/stats   {}
  GET /v2/credentials/<uuid>          the task role credentials, as the agent
                                      serves them at 169.254.170.2 for
                                      $AWS_CONTAINER_CREDENTIALS_RELATIVE_URI

and a control API for tests and demos:

  GET  /_emulator/tasks                          all tasks (task JSON, by task ID)
  POST /_emulator/tasks                          create a task (JSON as Task.from_spec)
  GET  /_emulator/tasks/<task-id>/env/<name>     the env a container of the task sees
  POST /_emulator/tasks/<task-id>/containers/<name>
        {"health": "HEALTHY"|"UNHEALTHY"|"UNKNOWN"|null, "knownStatus": "RUNNING"|"STOPPED"|...,
         "desiredStatus": ..., "exitCode": int}
  POST /_emulator/tasks/<task-id>/status         {"knownStatus": ..., "desiredStatus": ...}
  POST /_emulator/tasks/<task-id>/stop           StopTask: desired STOPPED on the task and
                                                 every container (see stop_task)
  GET  /_emulator/requests                       the request log (method, path, time)

Response shapes follow the AWS documentation of the Task Metadata Endpoint v4
(Fargate and EC2 variants) and of the container credentials provider.

In-process use (pytest):

    emu = EcsAgentEmulator(credentials_provider=lambda task: creds).start()
    task = emu.add_task(cluster="arn:aws:ecs:us-east-1:123456789012:cluster/c1",
                        containers=[ContainerSpec("app", health="HEALTHY"), ...])
    env = emu.env_for(task, "consul-ecs-control-plane")
    emu.set_container(task.task_id, "app", health="UNHEALTHY")

CLI use (local demo):

    python -m consul_ecs_testbed.ecs_agent_emulator --port 8000 --task-file task.json

where task.json holds one task spec or a list of them (see Task.from_spec);
credentials come from a static "credentials" object in the spec, or from an
"assumeRole" object {"stsEndpoint", "accessKeyId", "secretAccessKey",
"roleArn"} (sts:AssumeRole with the task ID as session name, as ECS does).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import re
import secrets
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HEALTH_STATUSES = ("HEALTHY", "UNHEALTHY", "UNKNOWN")
KNOWN_STATUSES = ("PENDING", "PULLED", "CREATED", "RUNNING", "RESOURCES_PROVISIONED", "STOPPED")


def _now() -> str:
    """RFC 3339 with nanoseconds and Z, like the agent's Go time marshalling."""
    t = _dt.datetime.now(_dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}123Z"


@dataclass
class ContainerSpec:
    name: str
    # None: the container has no ECS health check (no "Health" object at all).
    health: str | None = None
    known_status: str = "RUNNING"
    desired_status: str = "RUNNING"
    image: str | None = None
    exit_code: int | None = None


@dataclass
class Container:
    name: str
    docker_id: str
    docker_name: str
    image: str
    image_id: str
    container_arn: str
    known_status: str
    desired_status: str
    health: str | None
    health_since: str | None
    health_output: str
    exit_code: int | None
    created_at: str
    started_at: str | None
    finished_at: str | None = None


@dataclass
class Task:
    task_id: str
    task_arn: str
    cluster: str  # cluster ARN (Fargate shape) or short name (EC2 shape)
    region: str
    account_id: str
    family: str
    revision: str
    launch_type: str  # "FARGATE" or "EC2"
    availability_zone: str
    ip: str
    service_name: str | None
    containers: dict[str, Container] = field(default_factory=dict)
    known_status: str = "RUNNING"
    desired_status: str = "RUNNING"
    credentials_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    role_arn: str | None = None
    # From a JSON spec: {"credentials": {...}} or {"assumeRole": {...}}.
    credentials_spec: dict[str, Any] | None = None
    pull_started_at: str = field(default_factory=_now)
    pull_stopped_at: str = field(default_factory=_now)

    # ---- JSON shapes of the Task Metadata Endpoint v4 ----
    def labels(self, c: Container) -> dict[str, str]:
        return {
            "com.amazonaws.ecs.cluster": self.cluster,
            "com.amazonaws.ecs.container-name": c.name,
            "com.amazonaws.ecs.task-arn": self.task_arn,
            "com.amazonaws.ecs.task-definition-family": self.family,
            "com.amazonaws.ecs.task-definition-version": self.revision,
        }

    def network(self) -> dict[str, Any]:
        octets = self.ip.split(".")
        subnet = ".".join(octets[:3] + ["0"]) + "/24"
        gateway = ".".join(octets[:3] + ["1"])
        n: dict[str, Any] = {
            "NetworkMode": "awsvpc",
            "IPv4Addresses": [self.ip],
            "AttachmentIndex": 0,
            "MACAddress": "0a:de:f6:10:51:e5",
            "IPv4SubnetCIDRBlock": subnet,
            "PrivateDNSName": f"ip-{self.ip.replace('.', '-')}.{self.region}.compute.internal",
            "SubnetGatewayIpv4Address": f"{gateway}/24",
        }
        if self.launch_type == "FARGATE":
            n["DomainNameServers"] = [".".join(octets[:3] + ["2"])]
            n["DomainNameSearchList"] = [f"{self.region}.compute.internal"]
        return n

    def container_json(self, c: Container) -> dict[str, Any]:
        d: dict[str, Any] = {
            "DockerId": c.docker_id,
            "Name": c.name,
            "DockerName": c.docker_name,
            "Image": c.image,
            "ImageID": c.image_id,
            "Labels": self.labels(c),
            "DesiredStatus": c.desired_status,
            "KnownStatus": c.known_status,
            "Limits": {"CPU": 2, "Memory": 128},
            "CreatedAt": c.created_at,
            "Type": "NORMAL",
            "ContainerARN": c.container_arn,
            "LogDriver": "awslogs",
            "LogOptions": {
                "awslogs-group": f"/ecs/{self.family}",
                "awslogs-region": self.region,
                "awslogs-stream": f"ecs/{c.name}/{self.task_id}",
            },
            "Networks": [self.network()],
        }
        if c.started_at:
            d["StartedAt"] = c.started_at
        if c.finished_at:
            d["FinishedAt"] = c.finished_at
        if c.exit_code is not None:
            d["ExitCode"] = c.exit_code
        if c.health is not None:
            h: dict[str, Any] = {"status": c.health}
            if c.health_since:
                h["statusSince"] = c.health_since
            if c.health != "UNKNOWN":
                h["exitCode"] = 0 if c.health == "HEALTHY" else 1
                h["output"] = c.health_output
            d["Health"] = h
        return d

    def task_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "Cluster": self.cluster,
            "TaskARN": self.task_arn,
            "Family": self.family,
            "Revision": self.revision,
            "DesiredStatus": self.desired_status,
            "KnownStatus": self.known_status,
            "Limits": {"CPU": 0.25, "Memory": 512},
            "PullStartedAt": self.pull_started_at,
            "PullStoppedAt": self.pull_stopped_at,
            "AvailabilityZone": self.availability_zone,
            "LaunchType": self.launch_type,
            "Containers": [self.container_json(c) for c in self.containers.values()],
        }
        if self.launch_type == "FARGATE":
            d["ClockDrift"] = {
                "ClockErrorBound": 0.5,
                "ReferenceTimestamp": _now()[:19] + "Z",
                "ClockSynchronizationStatus": "SYNCHRONIZED",
            }
            d["EphemeralStorageMetrics"] = {"Utilized": 261, "Reserved": 20496}
        else:
            d["VPCID"] = "vpc-0123456789abcdef0"
            if self.service_name:
                d["ServiceName"] = self.service_name
        return d

    @property
    def cluster_arn(self) -> str:
        if self.cluster.startswith("arn:"):
            return self.cluster
        return f"arn:aws:ecs:{self.region}:{self.account_id}:cluster/{self.cluster}"

    @property
    def cluster_name(self) -> str:
        return self.cluster.rsplit("/", 1)[-1]

    # ---- construction from a JSON spec (CLI and control API) ----
    @staticmethod
    def from_spec(spec: dict[str, Any]) -> dict[str, Any]:
        """Normalises a JSON task spec into EcsAgentEmulator.add_task kwargs.
        Keys: cluster, region, accountId, taskId, family, revision, launchType,
        availabilityZone, ip, serviceName, containers: [{name, health,
        knownStatus, desiredStatus, image}], credentials / assumeRole."""
        containers = [ContainerSpec(name=c["name"], health=c.get("health"),
                                    known_status=c.get("knownStatus", "RUNNING"),
                                    desired_status=c.get("desiredStatus", "RUNNING"),
                                    image=c.get("image"))
                      for c in spec.get("containers", [])]
        kw: dict[str, Any] = {"containers": containers}
        mapping = {"cluster": "cluster", "region": "region", "accountId": "account_id",
                   "taskId": "task_id", "family": "family", "revision": "revision",
                   "launchType": "launch_type", "availabilityZone": "availability_zone",
                   "ip": "ip", "serviceName": "service_name", "roleArn": "role_arn"}
        for k, v in mapping.items():
            if k in spec:
                kw[v] = spec[k]
        creds = {k: spec[k] for k in ("credentials", "assumeRole") if k in spec}
        if creds:
            kw["credentials_spec"] = creds
        return kw


CredentialsProvider = Callable[[Task], dict[str, Any]]


class EcsAgentEmulator:
    """The emulator. Thread-safe; serves on a background thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 credentials_provider: CredentialsProvider | None = None) -> None:
        self._lock = threading.RLock()
        self.tasks: dict[str, Task] = {}
        self._by_container_id: dict[str, tuple[str, str]] = {}  # v4 id -> (task id, name)
        self._by_cred_id: dict[str, str] = {}  # credentials uuid -> task id
        self._creds_cache: dict[str, dict[str, Any]] = {}
        self.credentials_provider = credentials_provider
        self.request_log: list[dict[str, Any]] = []
        self._fail: dict[str, int] = {}  # path prefix -> HTTP status to answer with
        self._faults: dict[str, str] = {}  # path prefix -> "hang" | "truncate"
        self._faults_changed = threading.Condition(self._lock)
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "ECSAgentEmulator/1.0"

            def log_message(self, fmt: str, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                emulator._dispatch(self, "GET")

            def do_POST(self) -> None:
                emulator._dispatch(self, "POST")

            def do_PUT(self) -> None:
                emulator._dispatch(self, "PUT")

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # ---- lifecycle ----
    @property
    def host(self) -> str:
        return self._server.server_address[0]

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> EcsAgentEmulator:
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="ecs-agent-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> EcsAgentEmulator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---- Python API ----
    def add_task(self, cluster: str = "test-cluster", containers: list[ContainerSpec] | None = None,
                 region: str = "us-east-1", account_id: str = "123456789012",
                 task_id: str | None = None, family: str = "web-task", revision: str = "1",
                 launch_type: str | None = None, availability_zone: str | None = None,
                 ip: str = "10.1.2.3", service_name: str | None = None,
                 role_arn: str | None = None,
                 credentials_spec: dict[str, Any] | None = None) -> Task:
        """Creates a task. `cluster` is either a cluster ARN (the Fargate shape
        of the metadata) or a short name (the EC2 shape). launch_type defaults
        to FARGATE for an ARN and EC2 for a name."""
        if launch_type is None:
            launch_type = "FARGATE" if cluster.startswith("arn:") else "EC2"
        if launch_type not in ("FARGATE", "EC2"):
            raise ValueError(f"launch_type must be FARGATE or EC2, not {launch_type!r}")
        task_id = task_id or secrets.token_hex(16)
        cluster_name = cluster.rsplit("/", 1)[-1]
        task_arn = f"arn:aws:ecs:{region}:{account_id}:task/{cluster_name}/{task_id}"
        task = Task(task_id=task_id, task_arn=task_arn, cluster=cluster, region=region,
                    account_id=account_id, family=family, revision=str(revision),
                    launch_type=launch_type,
                    availability_zone=availability_zone or f"{region}a", ip=ip,
                    service_name=service_name, role_arn=role_arn,
                    credentials_spec=credentials_spec)
        for spec in containers or []:
            self._add_container(task, spec)
        with self._lock:
            if task_id in self.tasks:
                raise ValueError(f"task {task_id} exists")
            self.tasks[task_id] = task
            self._by_cred_id[task.credentials_id] = task_id
        return task

    def _add_container(self, task: Task, spec: ContainerSpec) -> Container:
        if spec.health is not None and spec.health not in HEALTH_STATUSES:
            raise ValueError(f"health must be one of {HEALTH_STATUSES} or None")
        if task.launch_type == "FARGATE":
            # Fargate: "<task id>-<10 digits>"
            docker_id = f"{task.task_id}-{secrets.randbelow(9_000_000_000) + 1_000_000_000}"
            docker_name = spec.name
        else:
            docker_id = secrets.token_hex(32)
            plain_name = re.sub("[^a-zA-Z0-9]", "", spec.name)
            docker_name = f"ecs-{task.family}-{task.revision}-{plain_name}-{secrets.token_hex(8)}"
        now = _now()
        running = spec.known_status in ("RUNNING", "STOPPED")
        c = Container(
            name=spec.name, docker_id=docker_id, docker_name=docker_name,
            image=spec.image or f"public.ecr.aws/example/{spec.name}:latest",
            image_id="sha256:" + secrets.token_hex(32),
            container_arn=f"arn:aws:ecs:{task.region}:{task.account_id}:container/{task.cluster_name}/{task.task_id}/{uuid.uuid4()}",
            known_status=spec.known_status, desired_status=spec.desired_status,
            health=spec.health, health_since=now if spec.health else None,
            health_output="", exit_code=spec.exit_code, created_at=now,
            started_at=now if running else None,
            finished_at=now if spec.known_status == "STOPPED" else None)
        task.containers[spec.name] = c
        with self._lock:
            self._by_container_id[docker_id] = (task.task_id, spec.name)
        return c

    def add_container(self, task_id: str, spec: ContainerSpec) -> Container:
        with self._lock:
            return self._add_container(self.tasks[task_id], spec)

    def remove_container(self, task_id: str, name: str) -> None:
        with self._lock:
            c = self.tasks[task_id].containers.pop(name)
            self._by_container_id.pop(c.docker_id, None)

    def set_container(self, task_id: str, name: str, health: str | None | type(...) = ...,
                      known_status: str | None = None, desired_status: str | None = None,
                      exit_code: int | None = None) -> None:
        """Changes a container. health=None removes the Health object; leave it
        out (Ellipsis) to keep the current one."""
        with self._lock:
            c = self.tasks[task_id].containers[name]
            now = _now()
            if health is not ...:
                if health is not None and health not in HEALTH_STATUSES:
                    raise ValueError(f"health must be one of {HEALTH_STATUSES} or None")
                if health != c.health:
                    c.health_since = now if health else None
                c.health = health
                c.health_output = "" if health in (None, "HEALTHY") else "health check failed"
            if known_status is not None:
                if known_status not in KNOWN_STATUSES:
                    raise ValueError(f"knownStatus must be one of {KNOWN_STATUSES}")
                if known_status == "STOPPED" and c.known_status != "STOPPED":
                    c.finished_at = now
                    if c.exit_code is None and exit_code is None:
                        c.exit_code = 0
                if known_status == "RUNNING" and not c.started_at:
                    c.started_at = now
                c.known_status = known_status
            if desired_status is not None:
                c.desired_status = desired_status
            if exit_code is not None:
                c.exit_code = exit_code

    def stop_task(self, task_id: str) -> None:
        """What ECS does at StopTask before any container exits: the task's
        desired status, then every container's, turn STOPPED (the agent then
        sends SIGTERM to each container; the caller does that). Each
        container's KnownStatus turns STOPPED only as it exits: call
        container_exited() for that."""
        with self._lock:
            t = self.tasks[task_id]
            t.desired_status = "STOPPED"
            for c in t.containers.values():
                c.desired_status = "STOPPED"

    def container_exited(self, task_id: str, name: str, exit_code: int = 0) -> None:
        """A container's process ended: KnownStatus STOPPED (its last Health
        is kept, as the agent does); once every container has stopped, the
        task's KnownStatus turns STOPPED too."""
        with self._lock:
            self.set_container(task_id, name, known_status="STOPPED", exit_code=exit_code)
            t = self.tasks[task_id]
            if all(c.known_status == "STOPPED" for c in t.containers.values()):
                t.known_status = "STOPPED"

    def set_task_status(self, task_id: str, known_status: str | None = None,
                        desired_status: str | None = None) -> None:
        with self._lock:
            t = self.tasks[task_id]
            if known_status:
                t.known_status = known_status
            if desired_status:
                t.desired_status = desired_status

    def container(self, task_id: str, name: str) -> Container:
        return self.tasks[task_id].containers[name]

    def metadata_uri(self, task: Task | str, container_name: str) -> str:
        t = self.tasks[task] if isinstance(task, str) else task
        return f"{self.url}/v4/{t.containers[container_name].docker_id}"

    def env_for(self, task: Task | str, container_name: str) -> dict[str, str]:
        """The environment the agent gives a container of the task, plus the
        test-only CONSUL_ECS_CONTAINER_CREDENTIALS_HOST that points the binary
        at this emulator instead of 169.254.170.2."""
        t = self.tasks[task] if isinstance(task, str) else task
        return {
            "ECS_CONTAINER_METADATA_URI_V4": self.metadata_uri(t, container_name),
            "ECS_CONTAINER_METADATA_URI": self.metadata_uri(t, container_name).replace("/v4/", "/v3/"),
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": f"/v2/credentials/{t.credentials_id}",
            "CONSUL_ECS_CONTAINER_CREDENTIALS_HOST": f"{self.host}:{self.port}",
            "AWS_EXECUTION_ENV": "AWS_ECS_FARGATE" if t.launch_type == "FARGATE" else "AWS_ECS_EC2",
            "AWS_REGION": t.region,
            "AWS_DEFAULT_REGION": t.region,
        }

    def fail_path(self, prefix: str, status: int | None) -> None:
        """Makes every request whose path starts with prefix answer `status`
        (None to stop), to test error handling."""
        with self._lock:
            if status is None:
                self._fail.pop(prefix, None)
            else:
                self._fail[prefix] = status

    def fault_path(self, prefix: str, mode: str | None) -> None:
        """Makes requests whose path starts with prefix misbehave: "hang"
        (read the request, never answer, until the fault is cleared; then
        the connection is closed without a response), "truncate" (the
        status, a Content-Length for the whole document, half of it sent,
        then the connection closed), "truncated_json" (a complete HTTP
        answer whose body is the first half of the JSON document). None
        clears it."""
        if mode not in (None, "hang", "truncate", "truncated_json"):
            raise ValueError(f"unknown fault mode {mode!r}")
        with self._lock:
            if mode is None:
                self._faults.pop(prefix, None)
            else:
                self._faults[prefix] = mode
            self._faults_changed.notify_all()

    def requests_matching(self, pattern: str) -> list[dict[str, Any]]:
        rx = re.compile(pattern)
        with self._lock:
            return [r for r in self.request_log if rx.search(r["path"])]

    # ---- HTTP ----
    def _dispatch(self, h: BaseHTTPRequestHandler, method: str) -> None:
        path = h.path.split("?", 1)[0]
        with self._lock:
            self.request_log.append({"method": method, "path": path, "time": time.time()})
            if len(self.request_log) > 20000:
                del self.request_log[:10000]
            fail = next((s for p, s in self._fail.items() if path.startswith(p)), None)
            fault = next((m for p, m in self._faults.items() if path.startswith(p)), None)
        body = b""
        n = int(h.headers.get("Content-Length") or 0)
        if n:
            body = h.rfile.read(n)
        if fault == "hang":
            with self._lock:
                while any(path.startswith(p) and m == "hang" for p, m in self._faults.items()):
                    self._faults_changed.wait(1.0)
            h.close_connection = True
            return
        if fail is not None:
            return self._send(h, fail, {"error": "injected failure"})
        try:
            status, payload = self._route(method, path, body)
        except KeyError as e:
            status, payload = 404, {"error": f"not found: {e}"}
        except ValueError as e:
            status, payload = 400, {"error": str(e)}
        except Exception as e:
            status, payload = 500, {"error": f"{type(e).__name__}: {e}"}
        if fault in ("truncate", "truncated_json"):
            data = json.dumps(payload).encode()
            half = data[: len(data) // 2]
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data) if fault == "truncate" else len(half)))
            h.end_headers()
            h.wfile.write(half)
            h.wfile.flush()
            h.close_connection = True
            return
        self._send(h, status, payload)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _route(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        parts = [p for p in path.split("/") if p]
        if method == "GET" and len(parts) >= 2 and parts[0] in ("v4", "v3"):
            with self._lock:
                ref = self._by_container_id.get(parts[1])
                if ref is None:
                    return 404, {"error": f"unknown container {parts[1]}"}
                task = self.tasks[ref[0]]
                rest = parts[2:]
                if rest == []:
                    return 200, task.container_json(task.containers[ref[1]])
                if rest == ["task"]:
                    return 200, task.task_json()
                if rest in (["stats"], ["task", "stats"]):
                    return 200, {}
            return 404, {"error": "unknown path"}
        if method == "GET" and len(parts) == 3 and parts[:2] == ["v2", "credentials"]:
            return self._credentials(parts[2])
        if parts[:1] == ["_emulator"]:
            return self._control(method, parts[1:], body)
        return 404, {"error": f"unknown path {path}"}

    def _credentials(self, cred_id: str) -> tuple[int, Any]:
        with self._lock:
            task_id = self._by_cred_id.get(cred_id)
            task = self.tasks.get(task_id) if task_id else None
            cached = self._creds_cache.get(cred_id)
        if task is None:
            # The agent's answer for an unknown ID.
            return 400, {"code": "InvalidIdInRequest",
                         "message": "CredentialsV2Request: Credentials not found",
                         "HTTPErrorCode": 400}
        provider = self.credentials_provider
        if provider is None and task.credentials_spec:
            provider = spec_credentials_provider
        if provider is None:
            return 400, {"code": "InvalidIdInRequest",
                         "message": "CredentialsV2Request: no task role",
                         "HTTPErrorCode": 400}
        if cached is None or _expires_within(cached.get("Expiration"), 300):
            c = dict(provider(task))
            cached = {
                "RoleArn": c.get("RoleArn") or task.role_arn or "",
                "AccessKeyId": c["AccessKeyId"],
                "SecretAccessKey": c["SecretAccessKey"],
                "Token": c.get("Token") or "",
                "Expiration": c.get("Expiration") or
                (_dt.datetime.now(_dt.UTC) + _dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            with self._lock:
                self._creds_cache[cred_id] = cached
        return 200, cached

    def _control(self, method: str, parts: list[str], body: bytes) -> tuple[int, Any]:
        data = json.loads(body) if body else {}
        with self._lock:
            if parts == ["tasks"] and method == "GET":
                return 200, {tid: t.task_json() for tid, t in self.tasks.items()}
            if parts == ["requests"] and method == "GET":
                return 200, list(self.request_log)
        if parts == ["tasks"] and method == "POST":
            t = self.add_task(**Task.from_spec(data))
            return 200, {"taskId": t.task_id, "task": t.task_json(),
                         "env": {n: self.env_for(t, n) for n in t.containers}}
        if len(parts) == 4 and parts[0] == "tasks" and parts[2] == "env" and method == "GET":
            return 200, self.env_for(parts[1], parts[3])
        if len(parts) == 3 and parts[0] == "tasks" and parts[2] == "stop" and method == "POST":
            self.stop_task(parts[1])
            return 200, self.tasks[parts[1]].task_json()
        if len(parts) == 3 and parts[0] == "tasks" and parts[2] == "status" and method == "POST":
            self.set_task_status(parts[1], data.get("knownStatus"), data.get("desiredStatus"))
            return 200, self.tasks[parts[1]].task_json()
        if len(parts) == 4 and parts[0] == "tasks" and parts[2] == "containers" and method in ("POST", "PUT"):
            kw: dict[str, Any] = {}
            if "health" in data:
                kw["health"] = data["health"]
            if "knownStatus" in data:
                kw["known_status"] = data["knownStatus"]
            if "desiredStatus" in data:
                kw["desired_status"] = data["desiredStatus"]
            if "exitCode" in data:
                kw["exit_code"] = data["exitCode"]
            self.set_container(parts[1], parts[3], **kw)
            with self._lock:
                t = self.tasks[parts[1]]
                return 200, t.container_json(t.containers[parts[3]])
        return 404, {"error": "unknown control path"}


def _expires_within(expiration: str | None, seconds: int) -> bool:
    if not expiration:
        return True
    try:
        exp = _dt.datetime.strptime(expiration, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=_dt.UTC)
    except ValueError:
        return True
    return exp - _dt.datetime.now(_dt.UTC) < _dt.timedelta(seconds=seconds)


def assume_role_provider(sts_endpoint: str, access_key_id: str, secret_access_key: str,
                         role_arn: str | None = None, region: str = "us-east-1") -> CredentialsProvider:
    """Credentials by sts:AssumeRole of the task's role (task.role_arn, or
    role_arn), session name = task ID, as ECS does for task roles."""
    def provide(task: Task) -> dict[str, Any]:
        import boto3  # only needed when this provider is used
        sts = boto3.client("sts", region_name=region, endpoint_url=sts_endpoint,
                           aws_access_key_id=access_key_id,
                           aws_secret_access_key=secret_access_key)
        arn = task.role_arn or role_arn
        if not arn:
            raise ValueError(f"task {task.task_id} has no role ARN")
        c = sts.assume_role(RoleArn=arn, RoleSessionName=task.task_id,
                            DurationSeconds=3600)["Credentials"]
        return {"RoleArn": arn, "AccessKeyId": c["AccessKeyId"],
                "SecretAccessKey": c["SecretAccessKey"], "Token": c["SessionToken"],
                "Expiration": c["Expiration"].strftime("%Y-%m-%dT%H:%M:%SZ")}
    return provide


def spec_credentials_provider(task: Task) -> dict[str, Any]:
    """Credentials from the task's JSON spec: static "credentials"
    {AccessKeyId, SecretAccessKey, Token?, Expiration?} or "assumeRole"
    {stsEndpoint, accessKeyId, secretAccessKey, roleArn?, region?}."""
    spec = task.credentials_spec or {}
    if "credentials" in spec:
        return spec["credentials"]
    if "assumeRole" in spec:
        a = spec["assumeRole"]
        return assume_role_provider(a["stsEndpoint"], a["accessKeyId"], a["secretAccessKey"],
                                    a.get("roleArn"), a.get("region", task.region))(task)
    raise ValueError(f"task {task.task_id} has no credentials in its spec")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--task-file", action="append", default=[],
                   help="JSON file with a task spec or a list of them (repeatable)")
    p.add_argument("--env-file", help="write the env of every container (JSON) here")
    args = p.parse_args(argv)

    emu = EcsAgentEmulator(args.host, args.port)
    created = []
    for path in args.task_file:
        with open(path) as f:
            data = json.load(f)
        for spec in data if isinstance(data, list) else [data]:
            created.append(emu.add_task(**Task.from_spec(spec)))
    emu.start()
    out = {"url": emu.url,
           "tasks": {t.task_id: {n: emu.env_for(t, n) for n in t.containers} for t in created}}
    if args.env_file:
        with open(args.env_file, "w") as f:
            json.dump(out, f, indent=2)
    print(json.dumps(out, indent=2), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
