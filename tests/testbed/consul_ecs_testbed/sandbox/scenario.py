"""The sandbox flow, step by step, shared by demo.py (which prints it) and
tests/e2e/test_sandbox.py (which asserts on it). Every step returns what it
observed; nothing here prints.

  boot()           Consul + moto + emulator, the controller task, then three
                   `server` tasks, a `client` task and the terminating
                   gateway's task; waits for all of them registered with
                   passing checks; intention client->server allow.
  status()         instances and checks on the cluster's node, login tokens,
                   one request through the mesh.
  intentions()     deny -> a request through the mesh fails; allow -> it works.
  graceful_stop()  StopTask on one server: its checks go critical at once, it
                   leaves the catalog, the client's requests during the stop
                   all succeed (the other servers answer them).
  sigkill()        SIGKILL to every container of another server: nothing
                   deregisters it, requests routed to it fail; the controller
                   removes its instances and login token at its next reconcile.
  gateway_stop()   StopTask on the gateway: deregistered by its health-sync,
                   both its login tokens (health-sync's, the dataplane's)
                   logged out, the mesh's requests unaffected.

Three servers so that one is left at the end. No task starts during the
flow on purpose: a starting task's proxy is routable before its app is up
(see docs/sandbox.md), which would fail a few requests that no stop caused.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..bed import wait_until
from .mesh import MeshSandbox, MeshTask


@dataclass
class Instance:
    id: str
    service: str
    kind: str
    address: str
    task: str          # sandbox label of the task (server-1, client, ...)
    task_id: str = ""
    checks: dict[str, str] = field(default_factory=dict)  # check suffix -> status

    @property
    def passing(self) -> bool:
        return bool(self.checks) and all(s == "passing" for s in self.checks.values())


@dataclass
class Status:
    instances: list[Instance]
    tokens: int
    request_ok: bool
    request_answer: str


@dataclass
class StopResult:
    task: MeshTask
    started: float
    critical_after: float | None     # seconds until its checks were not passing
    absent_after: float | None       # seconds until it left the catalog
    stopped_after: float | None      # seconds until the task was STOPPED
    deregistered_by: str             # "control-plane", "controller" or "?"
    requests: int                    # client requests during the stop
    failed: int
    served_by_stopping: int          # of those, answered by the stopping task
    failures: list[dict]
    container_exits: dict[str, tuple[int | None, float | None, bool]]  # name -> (code, after s, killed)
    control_plane_log: list[str]


# How late the controller may be, on top of one polling interval: the
# reconcile itself and the sandbox noticing the exit, on a loaded machine.
RECONCILE_SLACK = 2.0


@dataclass
class KillResult:
    task: MeshTask
    killed_at: float
    ecs_stopped_at: float            # desired STOPPED in ECS (moto)
    stale_state: str                 # the instance right after the kill: passing/critical/absent
    removed_after: float | None      # seconds from ECS STOPPED to gone from the catalog
    token_deleted: bool
    interval: float
    requests_until_removed: int
    failed_until_removed: int
    requests_after: int
    failed_after: int
    controller_lines: list[str]

    @property
    def within_interval(self) -> bool:
        return self.removed_after is not None and self.removed_after <= self.interval + RECONCILE_SLACK


@dataclass
class GatewayStopResult:
    stop: StopResult
    tokens_before: int               # login tokens of the gateway's task before the stop
    tokens_left: int                 # ... once it is STOPPED (logged out: 0)


class Scenario:
    def __init__(self, sb: MeshSandbox, note: Callable[[str], None] | None = None) -> None:
        self.sb = sb
        self.note = note or (lambda text: None)  # progress, as it happens
        self.client: MeshTask | None = None
        self.servers: list[MeshTask] = []
        self.gateway: MeshTask | None = None
        self.t0 = time.time()
        # Windows in which failed client requests are expected (name, start, end).
        self.windows: list[tuple[str, float, float]] = []

    # ------------------------------------------------------------------
    def boot(self, servers: int = 3) -> None:
        self.boot_infra()
        self.boot_controller()
        self.boot_tasks(servers)
        self.allow()

    def boot_infra(self) -> None:
        self.sb.start_infra()

    def boot_controller(self) -> None:
        self.sb.start_controller()
        self.sb.wait_controller_ready()

    def boot_tasks(self, servers: int = 3) -> None:
        sb = self.sb
        svc = sb.outputs["ecs_services"]
        desired = sb.services[svc["server"]]["desiredCount"]
        if desired < servers:
            raise RuntimeError(f"ECS service {svc['server']} wants {desired} tasks, the flow needs {servers}")
        self.servers = [sb.run_mesh_task(svc["server"], f"server-{i + 1}") for i in range(servers)]
        self.client = sb.run_mesh_task(svc["client"], "client")
        # The terminating gateway (gateway-task, split layout): registered
        # and health-synced like the others; its traffic is not proxied.
        self.gateway = sb.run_mesh_task(svc["gateway"], "gateway")
        sb.wait_healthy(self.servers + [self.client, self.gateway])

    def allow(self) -> str:
        """Intention client -> server allow; returns the first answer."""
        assert self.client
        t_allow = time.time()
        self.sb.set_intention("client", "server", "allow")
        answer = self.sb.wait_request(self.client, ok=True)
        # Until now the client's calls were refused: with ACLs in default-deny
        # mode, no intention means deny. The window ends with the client
        # app's own first success, not the sandbox's request: the app's
        # calls can still be refused for a moment after that (seen: one
        # failure 50 ms later, counted as unexplained).
        end = time.time()
        try:
            wait_until(lambda: any(r["ok"] for r in self.sb.client_requests(since=t_allow)), 10.0, 0.05,
                       "the client app's first successful call")
            end = max(end, min(r["t"] for r in self.sb.client_requests(since=t_allow) if r["ok"]))
        except TimeoutError:
            pass  # its failures from here on stay unexplained and fail the run
        self.windows.append(("no intention yet (default deny)", 0.0, end))
        return answer

    # ------------------------------------------------------------------
    def status(self) -> Status:
        sb = self.sb
        by_task = {mt.task_id: mt.name for mt in sb.mesh_tasks}
        checks = sb.checks()
        out = []
        def order(kv: tuple[str, dict]) -> tuple:
            svc = kv[1]
            label = by_task.get((svc.get("Meta") or {}).get("task-id", ""), "?")
            return (svc["Service"].replace("-sidecar-proxy", ""), svc.get("Kind", ""), label, kv[0])

        for sid, svc in sorted(sb.node_services().items(), key=order):
            inst = Instance(id=sid, service=svc["Service"], kind=svc.get("Kind") or "service",
                            address=f"{svc.get('Address')}:{svc.get('Port')}",
                            task=by_task.get((svc.get("Meta") or {}).get("task-id", ""), "?"),
                            task_id=(svc.get("Meta") or {}).get("task-id", ""))
            for cid, c in checks.items():
                if c.get("ServiceID") == sid:
                    inst.checks[cid[len(sid) + 1:] if cid.startswith(sid + "-") else cid] = c["Status"]
            out.append(inst)
        assert self.client
        ok, answer = sb.request_via(self.client)
        return Status(out, len(sb.login_tokens()), ok, answer)

    # ------------------------------------------------------------------
    def intentions(self, hold: float = 1.0) -> dict[str, Any]:
        """deny, keep it `hold` seconds (the client app's calls fail too),
        then allow again."""
        sb = self.sb
        assert self.client
        t_deny = time.time()
        sb.set_intention("client", "server", "deny")
        denied = sb.wait_request(self.client, ok=False)
        deny_after = time.time() - t_deny
        time.sleep(hold)
        sb.set_intention("client", "server", "allow")
        t = time.time()
        allowed = sb.wait_request(self.client, ok=True)
        allow_after = time.time() - t
        self.windows.append(("intention deny", t_deny, time.time()))
        # What the servers' proxies said about it.
        evidence = ""
        for mt in self.servers:
            for ln in mt.log("consul-dataplane").splitlines():
                if "authz call denied" in ln and "Action: DENY" in ln:
                    evidence = ln.split("[ERROR]", 1)[-1].strip()
        return {"denied": denied, "deny_after": deny_after, "evidence": evidence,
                "allowed": allowed, "allow_after": allow_after}

    # ------------------------------------------------------------------
    def graceful_stop(self, target: MeshTask) -> StopResult:
        sb = self.sb
        started = time.time()
        target.task.stop("StopTask: scaled in")
        critical = absent = None
        deadline = started + sb.timings.stop_timeout * 2 + 30
        while time.time() < deadline:
            state = sb.instance_state(target)
            now = time.time()
            if critical is None and state != "passing":
                critical = now - started
                self.note(f"{target.name}: checks {state} after {critical:.1f}s "
                          "(its control-plane, on SIGTERM)")
            if absent is None and state == "absent":
                absent = now - started
                self.note(f"{target.name}: gone from the catalog after {absent:.1f}s")
            if absent is not None and target.task.stopped:
                break
            time.sleep(0.05)
        stopped = (target.task.stopped_at - started) if target.task.stopped_at else None
        # Requests until the task was gone from both ECS and Consul, plus a
        # little, so a late failure would be counted.
        end = started + max(stopped or 0, absent or 0) + 1.0
        # A request is logged when it ends, and the client makes one at a
        # time: once one that started after `end` is logged, every one that
        # started before has ended (a late failure included).
        wait_until(lambda: sb.client_requests(since=end), end - time.time() + sb.timings.client_timeout + 30,
                   0.05, "a client request started after the stop window")
        reqs = sb.client_requests(since=started, until=end)
        failed = [r for r in reqs if not r["ok"]]
        cp_log = target.log(target.agent_container)
        # The controller spares a task that is still stopping; the task's own
        # control-plane deregisters it once consul-dataplane has exited.
        by = "control-plane" if f"deregistered {target.service_id}" in cp_log else "controller"
        exits = {}
        for name, c in target.task.containers.items():
            if c.stopped_at and c.stopped_at < started:
                continue  # a one-shot container that was done before the stop (mesh-init)
            after = (c.stopped_at - started) if c.stopped_at else None
            exits[name] = (c.exit_code, after, c.killed)
        cp_lines = [ln for ln in cp_log.splitlines()
                    if any(k in ln for k in ("SIGTERM", "critical", "deregister", "logged out",
                                             "logout", "stopped", "waiting"))]
        return StopResult(target, started, critical, absent, stopped, by, len(reqs),
                          len(failed), sum(1 for r in reqs if r.get("task") == target.task_id),
                          failed[:5], exits, cp_lines)

    # ------------------------------------------------------------------
    def sigkill(self, target: MeshTask) -> KillResult:
        sb = self.sb
        interval = sb.timings.controller_interval
        token_ids = {a for a, t in sb.login_tokens().items() if t == target.task_id}
        killed_at = time.time()
        target.task.kill()
        target.task.wait_stopped(10)
        ecs_stopped = target.task.stop_requested_at or time.time()
        stale = sb.instance_state(target)
        self.note(f"{target.name}: every process killed, nothing could clean up; task STOPPED "
                  f"in ECS; in Consul it is still {stale}")
        removed = None
        deadline = time.time() + interval * 3 + 20
        while time.time() < deadline:
            if sb.instance_state(target) == "absent":
                removed = time.time() - ecs_stopped
                self.note(f"{target.name}: removed from the catalog by the controller "
                          f"{removed:.1f}s after the task stopped")
                break
            time.sleep(0.05)
        if removed is not None:
            try:  # same reconcile as the instances, a moment later
                wait_until(lambda: not (token_ids & set(sb.login_tokens())), 3.0, 0.1, "token")
            except TimeoutError:
                pass
        remaining = set(sb.login_tokens())
        removed_at = ecs_stopped + (removed or 0)
        self.windows.append((f"{target.name} dead but registered", killed_at, removed_at + 0.2))
        before = sb.client_requests(since=killed_at, until=removed_at)
        # A run of traffic after the clean-up: 50 requests. The client is
        # sequential: a request its proxy sent to the dead task just before
        # the clean-up can hang until the kernel gives up on the address
        # (ARP, ~3 s); counting requests instead of seconds leaves room for
        # that and for a slow machine.
        wait_until(lambda: len(sb.client_requests(since=removed_at + 0.3)) >= 50,
                   50 * (sb.timings.client_period + sb.timings.client_timeout) + 10, 0.1,
                   "50 client requests after the clean-up")
        after = sb.client_requests(since=removed_at + 0.3)
        lines = [ln for ln in sb.controller_log().splitlines()
                 if "cleaned" in ln and "stopped tasks cleaned: 0" not in ln
                 or (target.task_id in ln)]
        return KillResult(target, killed_at, ecs_stopped, stale, removed,
                          bool(token_ids) and not (token_ids & remaining), interval,
                          len(before), sum(1 for r in before if not r["ok"]),
                          len(after), sum(1 for r in after if not r["ok"]), lines[-6:])

    # ------------------------------------------------------------------
    def gateway_stop(self) -> GatewayStopResult:
        """Graceful stop of the gateway's task; its tokens must be gone once
        it is STOPPED (health-sync and the dataplane log out on the way)."""
        assert self.gateway
        tid = self.gateway.task_id
        before = sum(1 for t in self.sb.login_tokens().values() if t == tid)
        g = self.graceful_stop(self.gateway)
        left = sum(1 for t in self.sb.login_tokens().values() if t == tid)
        if left:
            self.note(f"{self.gateway.name}: {left} login token(s) still there after the stop")
        return GatewayStopResult(g, before, left)

    # ------------------------------------------------------------------
    def client_totals(self) -> dict[str, Any]:
        """All client requests so far; failures by the window that explains
        them, "unexplained" for any other (there should be none)."""
        reqs = self.sb.client_requests()
        by: dict[str, int] = {name: 0 for name, _, _ in self.windows}
        by["unexplained"] = 0
        unexplained = []
        for r in reqs:
            if r["ok"]:
                continue
            for name, start, end in self.windows:
                if start <= r["t"] <= end:
                    by[name] += 1
                    break
            else:
                by["unexplained"] += 1
                unexplained.append(r)
        return {"requests": len(reqs), "failed": sum(by.values()), "by_window": by,
                "unexplained": unexplained[:10]}


def as_json(obj: Any) -> str:
    def default(o: Any) -> Any:
        if isinstance(o, MeshTask):
            return o.name
        if hasattr(o, "__dict__"):
            return o.__dict__
        return str(o)
    return json.dumps(obj, default=default, indent=2)
