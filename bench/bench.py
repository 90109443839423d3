#!/usr/bin/env python3
"""Side-by-side benchmark of `consul-ecs control-plane`: ours (C++) against the
reference (Go, v0.7.3), on the end-to-end test bed (tests/e2e/testbed.py:
real Consul with ACLs and the aws-iam auth method, moto with SigV4 checking,
our ECS agent emulator).

Each trial runs one task through the whole control-plane lifecycle:

  start ──► ready (200 on 127.0.0.1:10000/consul-ecs/health)
        ──► checks passing in Consul ──► quiet settle
        ──► steady state (--steady seconds, nothing changes)
        ──► SIGTERM (app container marked STOPPED as ECS would)
        ──► after --stop-delay, the dataplane container is marked STOPPED
        ──► the catalog no longer lists the service nor the proxy ──► exit

Implementations alternate A B A B ... after one warm-up pair. Requests to
Consul are counted at recording proxies on loopback (tests/e2e/recording_proxy.py)
that both implementations are pointed at (consulServers.http.port /
consulServers.grpc.port). Both get the same environment: the ECS metadata URI
and AWS_CONTAINER_CREDENTIALS_FULL_URI to the emulator (no test-only
variables), the default readiness address 127.0.0.1:10000, logLevel INFO.

    bench/run.sh [--quick] [bench.py options]     (setup + build + install + this)
    python bench/bench.py --help

Results: Markdown table printed and written to bench/results/<stamp>.md (plus
the raw numbers as .json and bench/results/latest.md).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from consul_ecs_testbed import bed as tb
from consul_ecs_testbed.ecs_agent_emulator import ContainerSpec, EcsAgentEmulator
from consul_ecs_testbed.recording_proxy import Event, GrpcCountingProxy, HttpRecordingProxy, RequestLog, summarize

# The e2e suite's building blocks, reused as they are.
from consul_ecs_testbed.suite import APP, CONTROL_PLANE, DATAPLANE, WEB_ROLE, base_config, register_cluster_node
from consul_ecs_testbed.suite import SCRUBBED_ENV as _SCRUBBED_ENV

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

HEALTH_ADDR = ("127.0.0.1", 10000)  # fixed in the reference; ours' default too
HEALTH_PATH = "/consul-ecs/health"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------
# The test bed, as the e2e session fixtures build it
# --------------------------------------------------------------------------

class Bed:
    def __init__(self, workdir: str) -> None:
        self.workdir = workdir
        self.moto = tb.MotoServer(os.path.join(workdir, "moto")).start()
        self.aws = tb.aws_setup(self.moto, {
            WEB_ROLE: (tb.TRUSTED_ROLE_PATH, {tb.SERVICE_NAME_TAG: "web"}),
        })
        self.moto.enable_auth()
        self.consul = tb.ConsulServer(os.path.join(workdir, "consul")).start()
        tb.setup_auth_method(self.consul, self.moto.url)
        self.emulator = EcsAgentEmulator(credentials_provider=self._credentials).start()
        self.log = RequestLog()
        self.http_proxy = HttpRecordingProxy("127.0.0.1", self.consul.http_port, log=self.log).start()
        self.grpc_proxy = GrpcCountingProxy("127.0.0.1", self.consul.grpc_port, log=self.log).start()
        self.session = requests.Session()
        self.session.headers["X-Consul-Token"] = self.consul.token
        self.consul_version = self.consul.version()

    def stop_task(self, task, containers: list[str]) -> None:
        """What ECS's StopTask does before the SIGTERMs: the task's and every
        container's DesiredStatus become STOPPED."""
        self.emulator.set_task_status(task.task_id, desired_status="STOPPED")
        for name in containers:
            self.emulator.set_container(task.task_id, name, desired_status="STOPPED")

    def _credentials(self, task) -> dict[str, Any]:
        # As the conftest `emulator` fixture: ECS assumes the task role with
        # the task ID as the session name.
        c = self.aws.assume(task.role_arn.rsplit("/", 1)[-1], task.task_id)
        return {"RoleArn": c.role_arn, "AccessKeyId": c.access_key_id,
                "SecretAccessKey": c.secret_access_key, "Token": c.session_token,
                "Expiration": c.expiration}

    def node_services(self, node: str) -> dict[str, Any] | None:
        r = self.session.get(
            f"{self.consul.http_addr}/v1/catalog/node/{requests.utils.quote(node, safe='')}",
            timeout=5)
        if r.status_code == 404:
            return {}
        r.raise_for_status()
        return (r.json() or {}).get("Services") or {}

    def checks(self, node: str) -> dict[str, str]:
        r = self.session.get(
            f"{self.consul.http_addr}/v1/health/node/{requests.utils.quote(node, safe='')}",
            timeout=5)
        r.raise_for_status()
        return {c["CheckID"]: c["Status"] for c in r.json()}

    def stop(self) -> None:
        for f in (self.http_proxy.stop, self.grpc_proxy.stop, self.emulator.stop,
                  self.consul.stop, self.moto.stop):
            try:
                f()
            except Exception:
                pass


# --------------------------------------------------------------------------
# Process measurements
# --------------------------------------------------------------------------

def proc_cpu_s(pid: int) -> float:
    """utime + stime of the whole process (all threads), seconds."""
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    # fields after the comm: state(3) ... utime(14) stime(15) -> index 11, 12
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def proc_status(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "Threads"):
                out[k] = int(v.split()[0])
    return out


def proc_ctx_switches(pid: int) -> int:
    """Context switches (voluntary + involuntary) summed over live threads:
    a proxy for wake-ups."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def probe_health() -> int | None:
    """Status code of GET /consul-ecs/health on 127.0.0.1:10000, None when
    nothing answers. A raw socket keeps the probe cheap and precise."""
    try:
        with socket.create_connection(HEALTH_ADDR, timeout=1) as s:
            s.sendall(f"GET {HEALTH_PATH} HTTP/1.1\r\nHost: 127.0.0.1:10000\r\n"
                      "Connection: close\r\n\r\n".encode())
            data = s.recv(64)
        parts = data.split(b" ", 2)
        return int(parts[1]) if len(parts) >= 2 and parts[0].startswith(b"HTTP/") else None
    except (OSError, ValueError):
        return None


def port_in_use(addr: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(addr, timeout=0.2):
            return True
    except OSError:
        return False


def wait4_timeout(proc: subprocess.Popen, timeout: float) -> tuple[int | None, Any]:
    """Reaps proc with os.wait4 (for its rusage); (exit code, rusage) or
    (None, None) on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, ru
        if time.monotonic() >= deadline:
            return None, None
        time.sleep(0.005)


# --------------------------------------------------------------------------
# One trial
# --------------------------------------------------------------------------

@dataclass
class Impl:
    key: str        # "ours" | "ref"
    label: str
    binary: str     # as built (sizes, version)
    run_binary: str = ""  # what runs: a stripped copy unless --as-built

    def __post_init__(self) -> None:
        self.run_binary = self.run_binary or self.binary


@dataclass
class Trial:
    impl: str
    index: int
    warmup: bool
    ok: bool = True
    error: str = ""
    m: dict[str, float] = field(default_factory=dict)
    requests: dict[str, dict[str, int]] = field(default_factory=dict)
    breakdown: dict[str, list[str]] = field(default_factory=dict)
    logdir: str = ""


_ID_RX = re.compile(r"[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _describe(events: list[Event]) -> list[str]:
    """'PUT /v1/catalog/register -> 200 x2' lines, IDs and ARNs normalised."""
    counts: dict[str, int] = {}
    for e in events:
        if not e.is_request:
            continue
        path = e.path.split("?", 1)[0]
        path = re.sub(r"arn(%3A|:)aws[^/?]*(%2F|/)[^/?]*", "<cluster-arn>", path)
        path = _ID_RX.sub("<id>", path)
        key = f"{e.method} {path}" + (f" -> {e.status}" if e.kind == "http" else "")
        counts[key] = counts.get(key, 0) + 1
    return [f"{k} x{n}" for k, n in sorted(counts.items())]


def consul_accepts_locality(version: str) -> bool:
    """Consul >= 1.17 accepts a service's Locality; older servers answer 400."""
    parts = [int(p) for p in re.findall(r"\d+", version)[:2]] + [0, 0]
    return (parts[0], parts[1]) >= (1, 17)


def trial_env(bed: Bed, task, config: dict) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not _SCRUBBED_ENV.match(k)}
    env.pop("GODEBUG", None)
    env.update({
        "ECS_CONTAINER_METADATA_URI_V4": bed.emulator.metadata_uri(task, CONTROL_PLANE),
        # The AWS SDK (reference) and ours both accept a loopback full URI;
        # no test-only variable, so both see exactly the same environment.
        "AWS_CONTAINER_CREDENTIALS_FULL_URI":
            f"{bed.emulator.url}/v2/credentials/{task.credentials_id}",
        "AWS_EXECUTION_ENV": "AWS_ECS_FARGATE",
        "AWS_REGION": task.region,
        "AWS_DEFAULT_REGION": task.region,
        "AWS_EC2_METADATA_DISABLED": "true",
        "CONSUL_ECS_CONFIG_JSON": json.dumps(config),
    })
    # With AWS_REGION the reference sends the service's Locality, which a
    # Consul before 1.17 rejects on every try: it would never become ready.
    # Neither implementation gets it then, so both run the same way (the
    # login's region comes from consulLogin.region).
    if not consul_accepts_locality(bed.consul_version):
        env.pop("AWS_REGION")
        env.pop("AWS_DEFAULT_REGION")
    return env


def run_trial(bed: Bed, impl: Impl, index: int, warmup: bool, args: argparse.Namespace,
              logroot: str, say: Callable[[str], None]) -> Trial:
    tr = Trial(impl=impl.key, index=index, warmup=warmup)
    logdir = os.path.join(logroot, f"{index:02d}-{impl.key}{'-warmup' if warmup else ''}")
    os.makedirs(logdir)
    tr.logdir = logdir
    cluster = f"arn:aws:ecs:{tb.REGION}:{tb.ACCOUNT_ID}:cluster/bench-{index:02d}-{impl.key}"
    task = bed.emulator.add_task(
        cluster=cluster, role_arn=bed.aws.roles[WEB_ROLE],
        containers=[ContainerSpec(CONTROL_PLANE),
                    ContainerSpec(DATAPLANE, health="HEALTHY"),
                    ContainerSpec(APP, health="HEALTHY")])
    register_cluster_node(bed.consul, task)
    # The ECS agent has the task role credentials before containers start;
    # fetch once so the emulator's sts:AssumeRole is not in anyone's start-up.
    requests.get(f"{bed.emulator.url}/v2/credentials/{task.credentials_id}",
                 timeout=30).raise_for_status()
    bootstrap = os.path.join(logdir, "bootstrap")
    os.makedirs(bootstrap)
    cfg = base_config(bed.consul, bed.moto, bootstrap)
    cfg["logLevel"] = "INFO"
    cfg["consulServers"]["http"]["port"] = bed.http_proxy.port
    cfg["consulServers"]["grpc"]["port"] = bed.grpc_proxy.port
    env = trial_env(bed, task, cfg)
    service_id = f"web-{task.task_id}"
    proxy_id = f"{service_id}-sidecar-proxy"

    out = open(os.path.join(logdir, "stdout.log"), "wb")
    err = open(os.path.join(logdir, "stderr.log"), "wb")
    proc: subprocess.Popen | None = None
    m = tr.m
    try:
        if port_in_use(HEALTH_ADDR):
            tb.wait_until(lambda: not port_in_use(HEALTH_ADDR), 15, 0.1,
                          "127.0.0.1:10000 to be free")
        pos0 = bed.log.mark()
        t0 = time.monotonic()
        proc = subprocess.Popen([impl.run_binary, "control-plane"], env=env, stdout=out,
                                stderr=err, stdin=subprocess.DEVNULL, cwd=logdir)
        # ---- start -> ready
        deadline = t0 + args.ready_timeout
        while True:
            if probe_health() == 200:
                t_ready = time.monotonic()
                break
            if proc.poll() is not None:
                raise RuntimeError(f"exited with {proc.returncode} before ready")
            if time.monotonic() > deadline:
                raise RuntimeError(f"not ready after {args.ready_timeout}s")
            time.sleep(args.probe_interval)
        cpu_ready = proc_cpu_s(proc.pid)
        pos_ready = bed.log.mark()
        m["start_ready_ms"] = (t_ready - t0) * 1000
        m["cpu_startup_ms"] = cpu_ready * 1000
        services = bed.node_services(task.cluster_arn) or {}
        if service_id not in services or proxy_id not in services:
            raise RuntimeError(f"ready but not registered: {sorted(services)}")

        # ---- first health sync: all checks passing, then a quiet settle
        def passing() -> bool:
            c = bed.checks(task.cluster_arn)
            return bool(c) and all(s == "passing" for s in c.values())
        tb.wait_until(passing, 30, 0.01, "all checks passing")
        m["ready_passing_ms"] = (time.monotonic() - t_ready) * 1000
        m["start_passing_ms"] = (time.monotonic() - t0) * 1000
        time.sleep(args.settle)

        # ---- steady state
        pos_steady = bed.log.mark()
        cpu_s0, t_s0 = proc_cpu_s(proc.pid), time.monotonic()
        cs0 = proc_ctx_switches(proc.pid)
        rss_max = 0
        while time.monotonic() - t_s0 < args.steady:
            time.sleep(min(1.0, max(0.0, args.steady - (time.monotonic() - t_s0))))
            if proc.poll() is not None:
                raise RuntimeError(f"exited with {proc.returncode} during steady state")
            rss_max = max(rss_max, proc_status(proc.pid)["VmRSS"])
        cpu_s1, t_s1 = proc_cpu_s(proc.pid), time.monotonic()
        cs1 = proc_ctx_switches(proc.pid)
        st = proc_status(proc.pid)
        pos_steady_end = bed.log.mark()
        steady_s = t_s1 - t_s0
        m["steady_s"] = steady_s
        m["cpu_steady_ms"] = (cpu_s1 - cpu_s0) * 1000
        m["cpu_steady_pct"] = (cpu_s1 - cpu_s0) / steady_s * 100
        m["wakeups_per_s"] = (cs1 - cs0) / steady_s
        m["rss_steady_kib"] = st["VmRSS"]
        m["rss_anon_kib"] = st.get("RssAnon", 0)
        m["rss_file_kib"] = st.get("RssFile", 0)
        m["rss_hwm_kib"] = st["VmHWM"]
        m["threads"] = st["Threads"]

        # ---- shutdown, as ECS's StopTask: DesiredStatus STOPPED everywhere,
        # SIGTERM to every container at once; the app exits first.
        bed.stop_task(task, [CONTROL_PLANE, DATAPLANE, APP])
        proc.send_signal(signal.SIGTERM)
        t_term = time.monotonic()
        bed.emulator.set_container(task.task_id, APP, known_status="STOPPED")
        time.sleep(args.stop_delay)
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode} before the dataplane stopped")
        still = bed.node_services(task.cluster_arn) or {}
        if service_id not in still or proxy_id not in still:
            m["deregistered_before_dataplane_stopped"] = 1
        t_stop = time.monotonic()
        bed.emulator.set_container(task.task_id, DATAPLANE, known_status="STOPPED")
        deadline = t_stop + args.dereg_timeout
        hwm_late = 0
        while True:
            s = bed.node_services(task.cluster_arn) or {}
            if service_id not in s and proxy_id not in s:
                t_dereg = time.monotonic()
                try:  # a last look at the peak, while it still runs
                    hwm_late = proc_status(proc.pid)["VmHWM"]
                except (OSError, KeyError):
                    pass
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"still registered {args.dereg_timeout}s after the dataplane stopped")
            time.sleep(args.probe_interval)
        code, ru = wait4_timeout(proc, 30)
        t_exit = time.monotonic()
        if code is None:
            raise RuntimeError("did not exit within 30 s of deregistering")
        pos_end = bed.log.mark()
        m["stopped_dereg_ms"] = (t_dereg - t_stop) * 1000
        m["sigterm_dereg_ms"] = (t_dereg - t_term) * 1000
        m["stopped_exit_ms"] = (t_exit - t_stop) * 1000
        m["exit_code"] = code
        m["cpu_total_ms"] = (ru.ru_utime + ru.ru_stime) * 1000
        # Peak RSS is the kernel's VmHWM of the process's own address space.
        # Not rusage's ru_maxrss: after fork/vfork + exec it also holds the
        # pre-exec peak, i.e. this Python parent's RSS (~60 MiB).
        m["rss_peak_kib"] = max(m["rss_hwm_kib"], hwm_late)

        phases = {
            "startup": bed.log.since(pos0, pos_ready),
            "settle": bed.log.since(pos_ready, pos_steady),
            "steady": bed.log.since(pos_steady, pos_steady_end),
            "shutdown": bed.log.since(pos_steady_end, pos_end),
        }
        for name, evs in phases.items():
            tr.requests[name] = summarize(evs)
            tr.breakdown[name] = _describe(evs)
        per_min = 60.0 / steady_s
        m["steady_req_per_min"] = tr.requests["steady"]["requests"] * per_min
        m["steady_writes_per_min"] = tr.requests["steady"]["writes"] * per_min
        # Start-up = process start -> all checks passing (+ the quiet settle):
        # the first health write lands a few ms after ready, so a cut at
        # "ready" would depend on the probe's timing.
        up = summarize(phases["startup"] + phases["settle"])
        tr.requests["startup+first-sync"] = up
        m["startup_requests"] = up["requests"]
        m["startup_writes"] = up["writes"]
        m["startup_grpc_streams"] = up["grpc_streams"]
        m["startup_errors"] = up["errors"]
        m["startup_connections"] = up["connections"]
        m["shutdown_requests"] = tr.requests["shutdown"]["requests"]
        m["total_connections"] = sum(r["connections"] for r in tr.requests.values())
    except Exception as e:
        tr.ok = False
        tr.error = f"{type(e).__name__}: {e}"
        say(f"  {impl.label} trial {index} FAILED: {tr.error}")
        if args.verbose:
            traceback.print_exc()
    finally:
        if proc is not None and proc.returncode is None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                bed.emulator.set_container(task.task_id, DATAPLANE, known_status="STOPPED")
            except KeyError:
                pass
            if wait4_timeout(proc, 15)[0] is None:
                proc.kill()
                proc.wait(5)
        out.close()
        err.close()
    if not tr.ok:
        try:
            with open(os.path.join(logdir, "stderr.log"), errors="replace") as f:
                tail = f.read()[-1500:]
            with open(os.path.join(logdir, "stdout.log"), errors="replace") as f:
                tail = f.read()[-1500:] + tail
            say("  output tail:\n" + "\n".join("    " + ln for ln in tail.splitlines()[-20:]))
        except OSError:
            pass
    return tr


# --------------------------------------------------------------------------
# Binaries
# --------------------------------------------------------------------------

def binary_facts(path: str) -> dict[str, Any]:
    facts: dict[str, Any] = {"path": path, "size": os.path.getsize(path)}
    with tempfile.TemporaryDirectory() as d:
        stripped = os.path.join(d, "stripped")
        r = subprocess.run(["strip", "-o", stripped, path], capture_output=True, text=True)
        facts["stripped_size"] = os.path.getsize(stripped) if r.returncode == 0 else None
        if r.returncode != 0:
            facts["strip_error"] = r.stderr.strip()
    try:
        facts["file"] = subprocess.run(["file", "-b", path], capture_output=True,
                                       text=True).stdout.strip()
    except FileNotFoundError:
        facts["file"] = ""
    r = subprocess.run(["ldd", path], capture_output=True, text=True)
    libs = []
    for line in r.stdout.splitlines():
        name = line.strip().split(" ", 1)[0]
        if name and "=>" in line or name.startswith("/"):
            libs.append(name)
    facts["static"] = "not a dynamic executable" in (r.stdout + r.stderr) or \
        "statically linked" in facts.get("file", "")
    facts["shared_libs"] = [] if facts["static"] else libs
    closure = 0
    for line in r.stdout.splitlines():
        m = re.search(r"=> (/\S+)", line) or re.match(r"\s*(/\S+)", line)
        if m and os.path.exists(m.group(1)):
            closure += os.path.getsize(os.path.realpath(m.group(1)))
    facts["shared_libs_bytes"] = closure
    return facts


def version_of(binary: str) -> str:
    try:
        r = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=10)
        return (r.stdout or r.stderr).strip().splitlines()[0]
    except (OSError, subprocess.TimeoutExpired, IndexError):
        return "?"


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------

def _fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "–"
    if unit == "MiB":
        return f"{v / 1024:.1f}"
    if unit == "%":
        return f"{v:.2f}"
    if abs(v - round(v)) < 0.05 or abs(v) >= 10:
        return f"{v:.0f}"
    return f"{v:.1f}"


def stat_cell(vals: list[float], unit: str) -> str:
    if not vals:
        return "n/a"
    med = statistics.median(vals)
    lo, hi = min(vals), max(vals)
    if lo == hi:
        return _fmt(med, unit)
    return f"{_fmt(med, unit)} ({_fmt(lo, unit)}–{_fmt(hi, unit)})"


def ratio_cell(pairs: list[tuple[float, float]]) -> tuple[str, float | None]:
    rs = [a / b for a, b in pairs if b not in (0, None) and a is not None]
    if not rs:
        if pairs and all(a == 0 and b == 0 for a, b in pairs):
            return "0 = 0", None
        return "n/a", None
    med = statistics.median(rs)
    if min(rs) == max(rs):
        return f"{med:.2f}×", med
    return f"{med:.2f}× ({min(rs):.2f}–{max(rs):.2f})", med


# (metric key, label, unit, target kind, target value)
# target kinds: "ratio<=" (ours/ref), "abs<=" (ours, absolute), "both==" (ours and ref)
METRICS = [
    ("start_ready_ms", "start → ready", "ms", "ratio<=", 0.5),
    ("rss_peak_kib", "peak RSS", "MiB", "ratio<=", 0.2),
    ("cpu_steady_ms", "CPU time over the steady state", "ms", None, None),
    ("cpu_steady_pct", "CPU use in steady state", "%", None, None),
    ("cpu_startup_ms", "CPU time, start → ready", "ms", None, None),
    ("threads", "threads", "", None, None),
    ("wakeups_per_s", "context switches / s in steady state (all threads)", "", None, None),
    ("rss_steady_kib", "RSS in steady state", "MiB", None, None),
    ("rss_anon_kib", "… of which anonymous (heap, stacks)", "MiB", None, None),
    ("rss_file_kib", "… of which file-backed (binary, shared libraries)", "MiB", None, None),
    ("start_passing_ms", "start → all checks passing in Consul", "ms", None, None),
    ("startup_requests", "Consul requests, start → checks passing (HTTP + gRPC calls)", "", None, None),
    ("startup_writes", "… of which HTTP writes", "", None, None),
    ("startup_grpc_streams", "… of which gRPC calls", "", None, None),
    ("startup_errors", "… answered ≥ 400", "", None, None),
    ("steady_req_per_min", "Consul requests / min, steady state", "", None, None),
    ("steady_writes_per_min", "Consul writes / min, steady state", "", "both==", 0),
    ("stopped_dereg_ms", "dataplane STOPPED → deregistered", "ms", "abs<=", 300),
    ("sigterm_dereg_ms", "SIGTERM → deregistered (incl. stop delay)", "ms", None, None),
    ("shutdown_requests", "Consul requests, SIGTERM → exit", "", None, None),
    ("total_connections", "TCP connections to Consul, whole life", "", None, None),
    ("cpu_total_ms", "CPU time, whole life", "ms", None, None),
]


def render(results: dict[str, Any]) -> str:
    impls: dict[str, Impl] = {k: Impl(**v) for k, v in results["impls"].items()}
    trials = [Trial(**t) for t in results["trials"]]
    measured = [t for t in trials if not t.warmup and t.ok]
    by = {k: [t for t in measured if t.impl == k] for k in impls}
    has_ref = "ref" in impls and bool(by.get("ref"))
    # Pairs: the i-th measured trial of each implementation.
    pairs = list(zip(by.get("ours", []), by.get("ref", []), strict=False)) if has_ref else []
    meta = results["meta"]
    L: list[str] = []
    L.append(f"## control-plane: ours vs reference ({meta['date']})")
    L.append("")
    L.append(f"- machine: {meta['machine']}")
    L.append(f"- commit: `{meta['commit']}`; ours: `{meta['ours_version']}`")
    ref_line = impls["ref"].label if "ref" in impls else "not run"
    L.append(f"- reference: {ref_line}" + (f" — `{meta.get('ref_version', '')}`" if "ref" in impls else ""))
    for v, st in meta.get("reference_install", {}).items():
        if st.startswith("ERROR"):
            L.append(f"- reference {v} not installed: `{st[6:].strip()}`")
    L.append(f"- Consul {meta['consul_version']}, moto {meta['moto_version']}; mode: "
             f"{meta['mode']}, steady state {meta['steady']:.0f} s, "
             f"{len(by.get('ours', []))} measured run(s) of ours"
             + (f", {len(pairs)} pair(s) A/B" if has_ref else "") + " after a warm-up")
    failed = [t for t in trials if not t.ok]
    if failed:
        L.append("- FAILED trials: " + "; ".join(f"{t.impl}#{t.index}: {t.error}" for t in failed))
    for t in trials:
        if t.ok and t.m.get("deregistered_before_dataplane_stopped"):
            L.append(f"- {impls[t.impl].label} run {t.index} deregistered BEFORE the dataplane "
                     "stopped: its STOPPED → deregistered time is not comparable")
        if t.ok and t.m.get("exit_code", 0) != 0:
            L.append(f"- {impls[t.impl].label} run {t.index} exited with {t.m['exit_code']:.0f}")
    if meta.get("load_note"):
        L.append(f"- load: {meta['load_note']}")
    L.append("")
    ref_col = impls["ref"].label if "ref" in impls else "reference"
    L.append(f"| metric | ours: median (min–max) | {ref_col}: median (min–max) | "
             "ours/ref, pair by pair: median (min–max) | target | met |")
    L.append("|---|---|---|---|---|---|")
    for key, label, unit, kind, tv in METRICS:
        ov = [t.m[key] for t in by.get("ours", []) if key in t.m]
        rv = [t.m[key] for t in by.get("ref", []) if key in t.m]
        rcell, rmed = ratio_cell([(a.m.get(key), b.m.get(key)) for a, b in pairs])
        lab = f"{label} ({unit})" if unit else label
        target, met = "", ""
        if kind == "ratio<=":
            target = f"≤ {tv}× ref"
            met = "n/a (no ref)" if rmed is None else ("yes" if rmed <= tv else "**no**")
        elif kind == "abs<=":
            target = f"≤ {tv} {unit}"
            met = "n/a" if not ov else ("yes" if statistics.median(ov) <= tv else "**no**")
            if ov and max(ov) > tv and statistics.median(ov) <= tv:
                met = "yes (median; max above)"
        elif kind == "both==":
            target = f"{tv} for both"
            okv = all(v == tv for v in ov) and (not has_ref or all(v == tv for v in rv))
            met = ("yes" if okv else "**no**") + ("" if has_ref else " (ours)")
        L.append(f"| {lab} | {stat_cell(ov, unit)} | {stat_cell(rv, unit) if has_ref else 'n/a'} | "
                 f"{rcell if has_ref else 'n/a'} | {target} | {met} |")
    # Binary size
    bo, br = results["binaries"].get("ours"), results["binaries"].get("ref")
    ratio = met = "n/a"
    if bo and br and bo.get("stripped_size") and br.get("stripped_size"):
        r = bo["stripped_size"] / br["stripped_size"]
        ratio, met = f"{r:.2f}×", ("yes" if r <= 0.25 else "**no**")
    elif bo:
        met = "n/a (no ref)"
    mib = lambda n: f"{n / 1048576:.2f}" if n else "–"  # noqa: E731
    L.append(f"| stripped binary (MiB) | {mib(bo and bo.get('stripped_size'))} "
             f"({'static' if bo and bo.get('static') else 'dynamic'}) | "
             f"{mib(br and br.get('stripped_size')) if br else 'n/a'} | {ratio} | ≤ 0.25× ref | {met} |")
    L.append("")
    if bo:
        L.append(f"Ours: {mib(bo['size'])} MiB as built, {mib(bo.get('stripped_size'))} MiB stripped, "
                 + ("static." if bo.get("static") else
                    f"dynamically linked against {len(bo['shared_libs'])} shared libraries "
                    f"({mib(bo['shared_libs_bytes'])} MiB on disk, all shipped by the base image): "
                    + ", ".join(f"`{os.path.basename(x)}`" for x in bo["shared_libs"]) + "."))
    if br:
        L.append(f"Reference: {mib(br['size'])} MiB as built, {mib(br.get('stripped_size'))} MiB stripped, "
                 + ("static." if br.get("static") else "dynamic."))
    L.append("")
    if pairs:
        L.append("Pair by pair (ours / reference):")
        L.append("")
        L.append("| pair | start → ready ms | peak RSS MiB | steady CPU ms | STOPPED → dereg ms |")
        L.append("|---|---|---|---|---|")
        for i, (a, b) in enumerate(pairs, 1):
            def cell(k: str, unit: str, a=a, b=b) -> str:
                return f"{_fmt(a.m.get(k), unit)} / {_fmt(b.m.get(k), unit)}"
            L.append(f"| {i} | {cell('start_ready_ms', 'ms')} | {cell('rss_peak_kib', 'MiB')} | "
                     f"{cell('cpu_steady_ms', 'ms')} | {cell('stopped_dereg_ms', 'ms')} |")
        L.append("")
    # Request breakdown of the first measured run of each implementation.
    for k, impl in impls.items():
        runs = by.get(k) or []
        if not runs:
            continue
        t = runs[0]
        L.append(f"<details><summary>Consul requests of {impl.label}, run {t.index}</summary>")
        L.append("")
        for phase in ("startup", "settle", "steady", "shutdown"):
            L.append(f"- {phase}: " + (", ".join(f"`{x}`" for x in t.breakdown.get(phase, []))
                                      or "none"))
        L.append("")
        L.append("</details>")
        L.append("")
    return "\n".join(L)


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def machine_desc() -> str:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = f"{kb / 1048576:.0f} GiB"
    except (OSError, ValueError):
        pass
    return (f"{socket.gethostname()}, {cpu}, {os.cpu_count()} CPUs, {mem}, "
            f"Linux {platform.release()}, Python {platform.python_version()}")


def git_commit() -> str:
    try:
        c = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True).stdout.strip()
        return c + ("-dirty" if dirty else "")
    except OSError:
        return "?"


def loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def parse_install_status(path: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    if path and os.path.exists(path):
        with open(path) as f:
            for line in f:
                parts = line.strip().split(" ", 1)
                if len(parts) == 2:
                    out[parts[0]] = parts[1]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ours", default=os.environ.get("CONSUL_ECS_BIN") or
                   os.path.join(ROOT, "build", "consul-ecs"), help="our binary")
    p.add_argument("--reference", default=os.environ.get("CONSUL_ECS_REF_BIN"),
                   help="reference binary (default: from --install-status)")
    p.add_argument("--reference-label", default=None)
    p.add_argument("--install-status", default=None,
                   help="status file written by bench/run.sh ('<version> <path|ERROR ...>')")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 2 pairs, 10 s steady state")
    p.add_argument("--pairs", type=int, default=None, help="measured A/B pairs (default 5)")
    p.add_argument("--steady", type=float, default=None, help="steady state seconds (default 60)")
    p.add_argument("--settle", type=float, default=2.0,
                   help="quiet seconds after all checks pass, before the steady state")
    p.add_argument("--stop-delay", type=float, default=2.0,
                   help="seconds between SIGTERM and marking the dataplane STOPPED")
    p.add_argument("--probe-interval", type=float, default=0.003)
    p.add_argument("--ready-timeout", type=float, default=60.0)
    p.add_argument("--dereg-timeout", type=float, default=20.0)
    p.add_argument("--as-built", action="store_true",
                   help="run the binaries as built (default: stripped copies of both, as a "
                        "release image ships them; the control-plane copies its own binary "
                        "into bootstrapDir, so its size is part of start-up)")
    p.add_argument("--no-warmup", action="store_true")
    p.add_argument("--ours-only", action="store_true")
    p.add_argument("--results-dir", default=os.path.join(HERE, "results"))
    p.add_argument("--workdir", default=None, help="keep logs here (default: a temp dir)")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    pairs = args.pairs if args.pairs is not None else (2 if args.quick else 5)
    args.steady = args.steady if args.steady is not None else (10.0 if args.quick else 60.0)

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    if not os.access(args.ours, os.X_OK):
        say(f"bench: our binary {args.ours} is missing: run `make build`")
        return 2
    install = parse_install_status(args.install_status)
    ref_bin, ref_label = args.reference, args.reference_label
    if not ref_bin and install.get("v0.7.3", "").startswith("/"):
        ref_bin = install["v0.7.3"]
        ref_label = ref_label or "reference v0.7.3"
    impls: dict[str, Impl] = {"ours": Impl("ours", "ours (C++)", os.path.abspath(args.ours))}
    if ref_bin and not args.ours_only:
        impls["ref"] = Impl("ref", ref_label or f"reference ({os.path.basename(ref_bin)})",
                            os.path.abspath(ref_bin))
    elif not args.ours_only:
        say("bench: no reference binary; measuring ours alone "
            f"({install.get('v0.7.3', 'install not attempted')})")

    if port_in_use(HEALTH_ADDR):
        say("bench: 127.0.0.1:10000 is in use by another process; both implementations "
            "need it (the reference's readiness address is fixed)")
        return 2

    workdir = args.workdir or tempfile.mkdtemp(prefix="consul-ecs-bench-")
    os.makedirs(workdir, exist_ok=True)
    say(f"bench: work dir {workdir}")
    if not args.as_built:
        for impl in impls.values():
            d = os.path.join(workdir, "bin", impl.key)
            os.makedirs(d, exist_ok=True)
            impl.run_binary = os.path.join(d, "consul-ecs")
            subprocess.run(["strip", "-o", impl.run_binary, impl.binary], check=True)
    t_start = time.monotonic()
    load_before = loadavg()
    say("bench: starting the test bed (moto, Consul, emulator, recording proxies)")
    bed = Bed(os.path.join(workdir, "bed"))
    trials: list[Trial] = []
    try:
        order: list[tuple[Impl, bool]] = []
        keys = list(impls)
        if not args.no_warmup:
            order += [(impls[k], True) for k in keys]
        for _ in range(pairs):
            order += [(impls[k], False) for k in keys]
        logroot = os.path.join(workdir, "runs")
        os.makedirs(logroot)
        for i, (impl, warm) in enumerate(order):
            say(f"bench: [{i + 1}/{len(order)}] {impl.label}{' (warm-up)' if warm else ''}")
            tr = run_trial(bed, impl, i, warm, args, logroot, say)
            trials.append(tr)
            if tr.ok:
                m = tr.m
                say(f"  ready {m['start_ready_ms']:.0f} ms, peak RSS {m['rss_peak_kib'] / 1024:.1f} MiB, "
                    f"steady CPU {m['cpu_steady_ms']:.0f} ms, steady req/min "
                    f"{m['steady_req_per_min']:.1f} (writes {m['steady_writes_per_min']:.1f}), "
                    f"STOPPED→dereg {m['stopped_dereg_ms']:.0f} ms, start-up requests "
                    f"{m['startup_requests']:.0f}")
        consul_version = bed.consul.version()
    finally:
        bed.stop()

    import moto
    results: dict[str, Any] = {
        "meta": {
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine_desc(),
            "commit": git_commit(),
            "ours_version": version_of(impls["ours"].binary),
            "ref_version": version_of(impls["ref"].binary) if "ref" in impls else "",
            "consul_version": consul_version,
            "moto_version": moto.__version__,
            "mode": ("quick" if args.quick else "full") +
                    (", binaries as built" if args.as_built else ", stripped copies of both binaries run"),
            "steady": args.steady,
            "pairs": pairs,
            "reference_install": install,
            "load_note": f"load average {load_before} before, {loadavg()} after; "
                         f"bench took {time.monotonic() - t_start:.0f} s",
            "workdir": workdir,
        },
        "impls": {k: vars(v) for k, v in impls.items()},
        "binaries": {k: binary_facts(v.binary) for k, v in impls.items()},
        "trials": [vars(t) for t in trials],
    }
    md = render(results)
    os.makedirs(args.results_dir, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = os.path.join(args.results_dir, f"control-plane-{stamp}{'-quick' if args.quick else ''}")
    with open(base + ".md", "w") as f:
        f.write(md + "\n")
    with open(base + ".json", "w") as f:
        json.dump(results, f, indent=1, default=str)
    shutil.copyfile(base + ".md", os.path.join(args.results_dir, "latest-control-plane.md"))
    print(md)
    say(f"bench: wrote {base}.md and .json")
    return 0 if all(t.ok for t in trials) else 1


if __name__ == "__main__":
    sys.exit(main())
