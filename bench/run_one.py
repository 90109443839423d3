#!/usr/bin/env python3
"""One control-plane lifecycle on the bench's test bed, under a profiler.

For chasing what bench.py reports: the same bed, task, config and
environment as a bench trial, with the command wrapped, e.g.

    python bench/run_one.py --wrap "valgrind --tool=massif --massif-out-file=/tmp/massif.out"
    python bench/run_one.py --wrap "heaptrack -o /tmp/ht" --steady 5
    python bench/run_one.py --wrap "perf record -g -o /tmp/perf.data" --steady 10
    python bench/run_one.py --wrap "strace -f -tt -o /tmp/strace.txt"

Start -> ready, steady state for --steady s, SIGTERM to the control-plane
(the innermost descendant running the binary, not the wrapper), dataplane
STOPPED after --stop-delay s, then wait for the wrapper to exit. Prints the
timings and where the logs are. Needs 127.0.0.1:10000 free.
"""
from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time

import requests

import bench  # bench/bench.py: run as `python bench/run_one.py`, bench/ is on sys.path
from consul_ecs_testbed import bed as tb
from consul_ecs_testbed.ecs_agent_emulator import ContainerSpec
from consul_ecs_testbed.suite import APP, CONTROL_PLANE, DATAPLANE, WEB_ROLE, base_config, register_cluster_node


def descendants(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                for c in f.read().split():
                    out.append(int(c))
                    out.extend(descendants(int(c)))
    except OSError:
        pass
    return out


def target_pid(root: int, binary: str) -> int:
    """The process actually running `binary` (the wrapper may fork)."""
    real = os.path.realpath(binary)
    for pid in [root] + descendants(root):
        try:
            if os.path.realpath(f"/proc/{pid}/exe") == real:
                return pid
        except OSError:
            continue
    return root


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--binary", default=os.environ.get("CONSUL_ECS_BIN") or
                   os.path.join(bench.ROOT, "build", "consul-ecs"))
    p.add_argument("--wrap", default="", help="command prefix, e.g. 'heaptrack -o /tmp/ht'")
    p.add_argument("--steady", type=float, default=5.0)
    p.add_argument("--stop-delay", type=float, default=1.0)
    p.add_argument("--ready-timeout", type=float, default=120.0)
    p.add_argument("--workdir", default=None)
    args = p.parse_args()

    workdir = args.workdir or tempfile.mkdtemp(prefix="consul-ecs-run-one-")
    print(f"work dir {workdir}", file=sys.stderr)
    bed = bench.Bed(os.path.join(workdir, "bed"))
    try:
        task = bed.emulator.add_task(
            cluster=f"arn:aws:ecs:{tb.REGION}:{tb.ACCOUNT_ID}:cluster/run-one",
            role_arn=bed.aws.roles[WEB_ROLE],
            containers=[ContainerSpec(CONTROL_PLANE), ContainerSpec(DATAPLANE, health="HEALTHY"),
                        ContainerSpec(APP, health="HEALTHY")])
        register_cluster_node(bed.consul, task)
        requests.get(f"{bed.emulator.url}/v2/credentials/{task.credentials_id}", timeout=30)
        bootstrap = os.path.join(workdir, "bootstrap")
        os.makedirs(bootstrap, exist_ok=True)
        cfg = base_config(bed.consul, bed.moto, bootstrap)
        cfg["logLevel"] = "INFO"
        cfg["consulServers"]["http"]["port"] = bed.http_proxy.port
        cfg["consulServers"]["grpc"]["port"] = bed.grpc_proxy.port
        env = bench.trial_env(bed, task, cfg)
        cmd = shlex.split(args.wrap) + [os.path.abspath(args.binary), "control-plane"]
        log = open(os.path.join(workdir, "output.log"), "wb")
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=workdir)
        tb.wait_until(lambda: bench.probe_health() == 200 or proc.poll() is not None,
                      args.ready_timeout, 0.003, "ready")
        print(f"start -> ready {1000 * (time.monotonic() - t0):.0f} ms", file=sys.stderr)
        time.sleep(args.steady)
        pid = target_pid(proc.pid, args.binary)
        os.kill(pid, signal.SIGTERM)
        bed.emulator.set_container(task.task_id, APP, known_status="STOPPED")
        time.sleep(args.stop_delay)
        bed.emulator.set_container(task.task_id, DATAPLANE, known_status="STOPPED")
        code = proc.wait(120)
        print(f"exit {code}; events: {bench.summarize(bed.log.since(0))}", file=sys.stderr)
        print(f"output: {os.path.join(workdir, 'output.log')}", file=sys.stderr)
    finally:
        bed.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
