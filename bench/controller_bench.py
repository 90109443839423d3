#!/usr/bin/env python3
"""Benchmark of `consul-ecs controller` at fleet scale (not a test).

A cluster of --tasks mesh tasks in moto (ECS), the same tasks in a real
Consul as the control-plane leaves them (service + sidecar proxy on the
cluster's synthetic node, meta source=consul-ecs) and --tokens login tokens
(real aws-iam logins). Then the controller runs:

  first reconcile   creates the ACL objects, finds nothing to clean
  steady state      --steady reconciles with nothing changed
  churn             --churn tasks are stopped in ECS; the next reconcile
                    deregisters their instances and deletes their tokens

Measured per phase, from outside the process so that any implementation
can be run (`--binary`; -polling-interval is passed only if the binary has
it): a reconcile is a burst of requests that lists ECS tasks; its wall time
runs from its first request to its last response. CPU time and RSS come
from /proc. Requests are counted at proxies: to Consul through
tests/e2e/recording_proxy.py (HTTP, and gRPC calls, which the reference uses for
server discovery), to ECS through a proxy here that counts ListTasks /
DescribeTasks and serves ListTasks in pages of maxResults (moto returns
every ARN at once; AWS pages by 100), so the count is what AWS would see.
When the binary logs "reconcile took N ms" (ours, at DEBUG), that figure is
shown too.

    python bench/controller_bench.py [--tasks 2000] [--tokens 2000] [--steady 5] [--churn 100]
                                     [--binary build/consul-ecs] [--out bench/results/controller.md]

Needs the e2e test bed (scripts/setup.sh: venv with moto, a Consul binary).
"""
from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import http.client
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from consul_ecs_testbed import bed as tb
from consul_ecs_testbed.ecs_agent_emulator import ContainerSpec, EcsAgentEmulator
from consul_ecs_testbed.recording_proxy import GrpcCountingProxy, HttpRecordingProxy, RequestLog, summarize
from consul_ecs_testbed.suite import SCRUBBED_ENV as _SCRUBBED_ENV
from consul_ecs_testbed.suite import WEB_ROLE

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

CLK_TCK = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------
# ECS: a counting, paging proxy in front of moto
# --------------------------------------------------------------------------

class EcsPagingProxy:
    """127.0.0.1:<port> -> moto. Records every request (start, end,
    X-Amz-Target operation, status, and whether it is a first ListTasks page,
    i.e. the start of a listing). ListTasks: the first page is fetched from
    moto in full and served in pages of the request's maxResults with a
    nextToken; later pages come from that snapshot, as a real paginated
    listing would."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.lock = threading.Lock()
        self.ops: list[tuple[float, float, str, int, bool]] = []
        self.snapshots: dict[str, list[str]] = {}
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                t = time.monotonic()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                op = (self.headers.get("X-Amz-Target") or "").rsplit(".", 1)[-1]
                first = op == "ListTasks" and not json.loads(body or b"{}").get("nextToken")
                status, payload, ctype = proxy.handle(op, body, dict(self.headers))
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                with proxy.lock:
                    proxy.ops.append((t, time.monotonic(), op, status, first))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def forward(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=300)
        try:
            fwd = {k: v for k, v in headers.items() if k.lower() not in ("host", "content-length", "connection")}
            conn.request("POST", "/", body=body, headers=fwd)
            r = conn.getresponse()
            return r.status, r.read(), r.getheader("Content-Type") or "application/x-amz-json-1.1"
        finally:
            conn.close()

    def handle(self, op: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, str]:
        if op != "ListTasks":
            return self.forward(body, headers)
        req = json.loads(body or b"{}")
        size = int(req.get("maxResults") or 100)
        token = req.get("nextToken")
        if token:
            key, _, offset = token.rpartition(":")
            with self.lock:
                arns = self.snapshots.get(key)
            if arns is None:
                return 400, json.dumps({"__type": "InvalidParameterException",
                                        "message": "bad nextToken"}).encode(), "application/x-amz-json-1.1"
            start = int(offset)
        else:
            status, payload, ctype = self.forward(body, headers)
            if status != 200:
                return status, payload, ctype
            arns = json.loads(payload).get("taskArns", [])
            key = uuid.uuid4().hex
            with self.lock:
                self.snapshots[key] = arns
            start = 0
        out: dict[str, Any] = {"taskArns": arns[start:start + size]}
        if start + size < len(arns):
            out["nextToken"] = f"{key}:{start + size}"
        return 200, json.dumps(out).encode(), "application/x-amz-json-1.1"

    def events(self) -> list[tuple[float, float, str, int, bool]]:
        with self.lock:
            return list(self.ops)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Burst:
    """Requests sent back to back: one reconcile when it lists ECS tasks."""
    start: float
    end: float
    ecs: dict[str, int] = field(default_factory=dict)
    consul: list = field(default_factory=list)  # recording_proxy Events
    listings: int = 0                           # first ListTasks pages
    ecs_s: float = 0.0                          # time spent waiting for ECS (moto) answers


def bursts(ecs_ops: list, consul_events: list, gap: float) -> list[Burst]:
    """Groups every request to ECS and Consul into bursts separated by at
    least `gap` seconds of silence. Works for any implementation: it needs
    nothing from the process but its requests."""
    timeline = [(s, e, ("ecs", op, first)) for s, e, op, _, first in ecs_ops]
    timeline += [(ev.t, ev.t, ("consul", ev)) for ev in consul_events if ev.is_request]
    timeline.sort(key=lambda x: x[0])
    out: list[Burst] = []
    for s, e, what in timeline:
        if not out or s > out[-1].end + gap:
            out.append(Burst(s, e))
        b = out[-1]
        b.end = max(b.end, e)
        if what[0] == "ecs":
            b.ecs[what[1]] = b.ecs.get(what[1], 0) + 1
            b.ecs_s += e - s
            b.listings += 1 if what[2] else 0
        else:
            b.consul.append(what[1])
    return out


# --------------------------------------------------------------------------
# Process measurements
# --------------------------------------------------------------------------

def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def mem_kb(pid: int) -> dict[str, int]:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


# --------------------------------------------------------------------------
# The bed
# --------------------------------------------------------------------------

@dataclass
class Phase:
    name: str
    reconciles: int
    wall_ms: list[float]          # burst spans: first request to last response
    self_ms: list[int]            # the controller's own "reconcile took N ms", when it logs it
    ecs_ms: list[float]           # of the wall time: waiting for ECS answers
    cpu_s: float
    consul: dict[str, int]
    ecs: dict[str, int]
    note: str = ""


def log_reconcile_times(text: str) -> list[int]:
    return [int(m) for m in re.findall(r"reconcile took (\d+) ms", text)]


def supports_polling_interval(binary: str) -> bool:
    try:
        r = subprocess.run([binary, "controller", "-help"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "polling-interval" in r.stdout + r.stderr


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", type=int, default=2000)
    ap.add_argument("--tokens", type=int, default=2000, help="login tokens, one per task (<= --tasks)")
    ap.add_argument("--steady", type=int, default=5, help="steady-state reconciles to measure")
    ap.add_argument("--churn", type=int, default=100, help="tasks stopped for the churn phase")
    ap.add_argument("--interval", default="3s", help="the controller's -polling-interval")
    ap.add_argument("--binary", default=os.environ.get("CONSUL_ECS_BIN") or os.path.join(ROOT, "build", "consul-ecs"))
    ap.add_argument("--workers", type=int, default=8, help="threads for the set-up (registrations, logins)")
    ap.add_argument("--gap", type=float, default=0.5,
                    help="seconds of silence that separate two reconciles (must be < the interval)")
    ap.add_argument("--out", help="also write the Markdown report here")
    args = ap.parse_args(argv)
    args.tokens = min(args.tokens, args.tasks)
    args.churn = min(args.churn, args.tasks)
    if not os.access(args.binary, os.X_OK):
        print(f"no binary at {args.binary} (build it or pass --binary)", file=sys.stderr)
        return 2

    work = tempfile.mkdtemp(prefix="controller-bench-")
    moto = consul = emulator = ecs_proxy = consul_proxy = grpc_proxy = proc = None
    try:
        t_setup = time.monotonic()
        print(f"set-up in {work}: moto, Consul, {args.tasks} tasks, {args.tokens} tokens ...", flush=True)
        # moto without request auth: the paging proxy re-sends requests with
        # another Host, which would break their signatures.
        moto = tb.MotoServer(os.path.join(work, "moto")).start()
        aws = tb.aws_setup(moto, {WEB_ROLE: (tb.TRUSTED_ROLE_PATH, {tb.SERVICE_NAME_TAG: "web"})})
        consul = tb.ConsulServer(os.path.join(work, "consul")).start()
        tb.setup_auth_method(consul, moto.url)
        emulator = EcsAgentEmulator().start()

        ecs = moto.client("ecs")
        cluster = ecs.create_cluster(clusterName="bench")["cluster"]["clusterArn"]
        ecs.register_task_definition(family="web", containerDefinitions=[
            {"name": "app", "image": "app:latest", "memory": 128}])
        task_ids: list[str] = []
        while len(task_ids) < args.tasks:
            n = min(100, args.tasks - len(task_ids))
            out = ecs.run_task(cluster=cluster, taskDefinition="web", launchType="FARGATE", count=n,
                               tags=[{"key": "consul.hashicorp.com/mesh", "value": "true"}])
            task_ids += [t["taskArn"].rsplit("/", 1)[1] for t in out["tasks"]]

        consul.must(consul.put("/v1/catalog/register", {
            "Node": cluster, "Address": "127.0.0.1", "NodeMeta": {"synthetic-node": "true"}}))
        session_local = threading.local()

        def session() -> requests.Session:
            if not hasattr(session_local, "s"):
                session_local.s = requests.Session()
                session_local.s.headers["X-Consul-Token"] = consul.token
            return session_local.s

        def register(task_id: str) -> None:
            sid = f"web-{task_id}"
            meta = {"task-id": task_id, "source": "consul-ecs",
                    "task-arn": cluster.replace(":cluster/", ":task/") + "/" + task_id}
            for svc in ({"ID": sid, "Service": "web", "Port": 8080, "Meta": meta},
                        {"ID": f"{sid}-sidecar-proxy", "Service": "web-sidecar-proxy", "Kind": "connect-proxy",
                         "Port": 20000, "Meta": meta,
                         "Proxy": {"DestinationServiceName": "web", "DestinationServiceID": sid}}):
                r = session().put(f"{consul.http_addr}/v1/catalog/register", timeout=30,
                                  json={"Node": cluster, "SkipNodeUpdate": True, "Service": svc})
                r.raise_for_status()

        creds = aws.assume(WEB_ROLE, "bench")

        def login(task_id: str) -> None:
            token = tb.build_login_bearer_token(creds, moto.url, role_name=WEB_ROLE)
            r = session().post(f"{consul.http_addr}/v1/acl/login", timeout=60, headers={"X-Consul-Token": ""},
                               json={"AuthMethod": tb.AUTH_METHOD_NAME, "BearerToken": token,
                                     "Meta": {"consul.hashicorp.com/task-id": task_id,
                                              "consul.hashicorp.com/cluster": cluster}})
            r.raise_for_status()

        with concurrent.futures.ThreadPoolExecutor(args.workers) as pool:
            list(pool.map(register, task_ids))
            list(pool.map(login, task_ids[:args.tokens]))
        print(f"set-up done in {time.monotonic() - t_setup:.0f} s", flush=True)

        # Proxies, then the controller.
        consul_log = RequestLog()
        consul_proxy = HttpRecordingProxy("127.0.0.1", consul.http_port, log=consul_log).start()
        # gRPC is not used by ours; the reference discovers servers over it.
        grpc_proxy = GrpcCountingProxy("127.0.0.1", consul.grpc_port, log=consul_log).start()
        ecs_proxy = EcsPagingProxy(moto.port)
        own = emulator.add_task(cluster=cluster, containers=[ContainerSpec("consul-ecs-controller")],
                                family="consul-ecs-controller")
        env = {k: v for k, v in os.environ.items() if not _SCRUBBED_ENV.match(k)}
        env.update(emulator.env_for(own, "consul-ecs-controller"))
        env.update({
            "AWS_ACCESS_KEY_ID": "AKIABENCHCONTROLLER0", "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_ENDPOINT_URL_ECS": ecs_proxy.url, "AWS_ENDPOINT_URL": ecs_proxy.url,
            "CONSUL_HTTP_TOKEN": consul.token,
            "CONSUL_ECS_CONFIG_JSON": json.dumps({
                "bootstrapDir": work, "logLevel": "DEBUG",
                "consulServers": tb.plain_consul_servers(consul_proxy.port, grpc_proxy.port)}),
        })
        cmd = [args.binary, "controller"]
        if supports_polling_interval(args.binary):
            cmd += ["-polling-interval", args.interval]
            interval_note = f"-polling-interval {args.interval}"
        else:
            interval_note = "no -polling-interval flag: the binary's own interval (reference: 10 s)"
        log_path = os.path.join(work, "controller.log")
        logf = open(log_path, "wb")
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        logf.close()

        def text() -> str:
            with open(log_path, errors="replace") as f:
                return f.read()

        def reconciles() -> list[Burst]:
            """Completed reconciles: bursts that list ECS tasks and have been
            quiet for `gap` since."""
            now = time.monotonic()
            return [b for b in bursts(ecs_proxy.events(), consul_log.since(0), args.gap)
                    if b.listings > 0 and b.end < now - args.gap]

        def wait_reconciles(n: int, timeout: float = 900) -> list[Burst]:
            deadline = time.monotonic() + timeout
            while True:
                done = reconciles()
                if len(done) >= n:
                    return done
                if proc.poll() is not None:
                    raise RuntimeError(f"controller exited with {proc.returncode}:\n{text()[-3000:]}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{len(done)} of {n} reconciles seen at the ECS proxy after {timeout} s "
                                       f"(does the binary honour AWS_ENDPOINT_URL_ECS?):\n{text()[-3000:]}")
                time.sleep(0.05)

        phases: list[Phase] = []

        def phase(name: str, done: list[Burst], first: int, last: int, cpu0: float, since: float | None = None,
                  note: str = "") -> Phase:
            """Reconciles first..last (1-based, inclusive). With `since`, every
            request from then to the end of reconcile `last` counts (start-up)."""
            chosen = done[first - 1:last]
            consul_ev = [e for b in chosen for e in b.consul]
            ecs_ops: dict[str, int] = {}
            for b in chosen:
                for op, c in b.ecs.items():
                    ecs_ops[op] = ecs_ops.get(op, 0) + c
            if since is not None:
                end = chosen[-1].end
                consul_ev = [e for e in consul_log.since(0) if since <= e.t <= end]
                ecs_ops = {}
                for s_, _, op, _, _ in ecs_proxy.events():
                    if since <= s_ <= end:
                        ecs_ops[op] = ecs_ops.get(op, 0) + 1
            p = Phase(name, last - first + 1, [(b.end - b.start) * 1000 for b in chosen],
                      log_reconcile_times(text())[first - 1:last], [b.ecs_s * 1000 for b in chosen],
                      cpu_s(proc.pid) - cpu0,
                      summarize(consul_ev), ecs_ops, note)
            phases.append(p)
            return p

        # Start-up and first reconcile (ACL objects created).
        done = wait_reconciles(1)
        phase("start-up + first reconcile (creates the ACL objects)", done, 1, 1, 0.0, since=t0,
              note=f"process start to the end of the first reconcile: {(done[0].end - t0) * 1000:.0f} ms")

        # Steady state.
        cpu0 = cpu_s(proc.pid)
        done = wait_reconciles(1 + args.steady)
        phase(f"steady state ({args.steady} reconciles, nothing changed)", done, 2, 1 + args.steady, cpu0)
        mem_steady = mem_kb(proc.pid)

        # Churn: right after a reconcile, stop tasks in ECS; the next
        # reconcile cleans them up.
        n = len(wait_reconciles(len(reconciles()) + 1))
        stopped = task_ids[:args.churn]
        for t in stopped:
            ecs.stop_task(cluster=cluster, task=t, reason="bench")
        cpu0 = cpu_s(proc.pid)
        n = max(n, len(reconciles()))
        done = wait_reconciles(n + 1)
        p = phase(f"churn ({args.churn} tasks stopped)", done, n + 1, n + 1, cpu0)
        expected = 2 * args.churn + min(args.tokens, args.churn)
        if p.consul.get("writes", 0) != expected:
            p.note = (f"{p.consul.get('writes', 0)} writes instead of {expected}: a reconcile overlapped the "
                      "StopTask calls; the rest was cleaned by another one")
        wait_reconciles(n + 2)
        remaining = consul.must(consul.get(f"/v1/catalog/node/{requests.utils.quote(cluster, safe='')}"))
        gone = set(stopped)
        left = sum(1 for svc in remaining["Services"].values() if svc.get("Meta", {}).get("task-id") in gone)
        mem_end = mem_kb(proc.pid)

        proc.send_signal(signal.SIGTERM)
        _, status, rusage = os.wait4(proc.pid, 0)
        exit_code = os.waitstatus_to_exitcode(status)

        report = render(args, interval_note, phases, mem_steady, mem_end, rusage, exit_code, left)
        print(report)
        if args.out:
            os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
            with open(args.out, "w") as f:
                f.write(report)
        return 0 if exit_code == 0 and left == 0 else 1
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        for thing in (ecs_proxy, consul_proxy, grpc_proxy, emulator, consul, moto):
            try:
                if thing is not None:
                    thing.stop()
            except Exception:
                pass


def render(args, interval_note: str, phases: list[Phase], mem_steady: dict, mem_end: dict, rusage,
           exit_code: int, left: int) -> str:
    lines = [
        f"### controller: {args.tasks} tasks, {args.tasks * 2} instances, {args.tokens} login tokens",
        "",
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} CPU(s), "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; binary `{args.binary}`, {interval_note}",
        "",
        "| phase | reconcile wall, median / max (self-reported) | of which waiting for ECS (moto) | "
        "CPU per reconcile | Consul requests per reconcile: reads / writes | ECS requests per reconcile |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for p in phases:
        n = max(p.reconciles, 1)
        wall = f"{statistics.median(p.wall_ms):.0f} / {max(p.wall_ms):.0f} ms" if p.wall_ms else "-"
        if p.self_ms:
            wall += f" ({statistics.median(p.self_ms):.0f} / {max(p.self_ms)} ms)"
        ecs = ", ".join(f"{op} {c / n:g}" for op, c in sorted(p.ecs.items())) or "0"
        consul = f"{p.consul.get('reads', 0) / n:g} / {p.consul.get('writes', 0) / n:g}"
        if p.consul.get("grpc_streams"):
            consul += f" (+{p.consul['grpc_streams'] / n:g} gRPC)"
        ecs_wait = f"{statistics.median(p.ecs_ms):.0f} ms" if p.ecs_ms else "-"
        lines.append(f"| {p.name} | {wall} | {ecs_wait} | {p.cpu_s / n * 1000:.0f} ms | {consul} | {ecs} |")
    lines += [""]
    for p in phases:
        if p.note:
            lines.append(f"- {p.name}: {p.note}")
    lines += [
        f"- RSS: {mem_steady.get('VmRSS', 0) / 1024:.1f} MiB in steady state, peak (VmHWM) "
        f"{mem_end.get('VmHWM', 0) / 1024:.1f} MiB",
        f"- CPU over the whole run: {rusage.ru_utime + rusage.ru_stime:.2f} s "
        f"(user {rusage.ru_utime:.2f}, system {rusage.ru_stime:.2f})",
        f"- instances of stopped tasks left after churn: {left}; exit code on SIGTERM: {exit_code}",
        "- a reconcile is a burst of requests that lists ECS tasks (quiet gaps >= "
        f"{args.gap:g} s between bursts); wall = its first request to its last response, measured at the "
        "proxies. ECS requests at a proxy that pages ListTasks by 100 as AWS does; Consul requests at "
        "tests/e2e/recording_proxy.py.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
