#!/usr/bin/env python3
"""`make demo`: terraform/examples/client-server applied against moto, and
the task definitions it registered run on an emulated ECS cluster on this
machine, no AWS.

Real: OpenTofu + the AWS provider (against moto), Consul 1.15.4 (ACLs on,
default deny, TLS, Connect CA; in place of the dev server's task), moto as
AWS (SigV4 signatures checked, IAM policies enforced), the consul-ecs binary
(controller, control-plane, app-entrypoint, envoy-entrypoint, net-dial) and
Consul's built-in Connect proxy (mTLS, intentions). Emulated: the ECS agent
(network and mount namespaces per task, task metadata, credentials,
secrets, health checks, dependsOn, the stop sequence).

  python sandbox/demo.py [--keep] [--fast] [--workdir DIR] [--quiet]

--keep keeps everything running after the scripted part, until Ctrl-C.
Every process the demo starts is stopped when it ends, however it ends.
See docs/sandbox.md.
"""
from __future__ import annotations

import argparse
import atexit
import os
import shutil
import signal
import sys
import tempfile
import textwrap
import time
import traceback

from consul_ecs_testbed.sandbox.ecs_sandbox import kill_all_sessions, leftover_processes
from consul_ecs_testbed.sandbox.mesh import MeshSandbox
from consul_ecs_testbed.sandbox.scenario import Scenario
from consul_ecs_testbed.sandbox.taskdefs import Timings

COLOR = sys.stdout.isatty() and os.environ.get("NO_COLOR") is None


def c(code: str, text: str) -> str:
    return f"\033[{code}m{text}\033[0m" if COLOR else text


def bold(t: str) -> str:
    return c("1", t)


def dim(t: str) -> str:
    return c("2", t)


def green(t: str) -> str:
    return c("32", t)


def red(t: str) -> str:
    return c("31", t)


def yellow(t: str) -> str:
    return c("33", t)


def emit(text: str) -> None:
    """print that survives a closed stdout (`make demo | head`): the demo
    must still get to its clean-up."""
    try:
        print(text, flush=True)
    except (BrokenPipeError, OSError):
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass


class Out:
    def __init__(self, quiet: bool) -> None:
        self.t0 = time.time()
        self.quiet = quiet

    def ts(self) -> str:
        return f"[{time.time() - self.t0:6.1f}s]"

    def section(self, title: str) -> None:
        emit(f"\n{bold('== ' + title + ' ==')}")

    def say(self, text: str) -> None:
        emit(f"  {dim(self.ts())} {text}")

    def line(self, text: str = "") -> None:
        emit(f"  {text}")

    def event(self, text: str) -> None:
        # Events of the emulated ECS agent ("[server-1] app: HEALTHY").
        if not self.quiet:
            emit(f"  {dim(self.ts())} {dim('ecs ' + text)}")


def short(task_id: str) -> str:
    return task_id[:8]


def status_color(s: str) -> str:
    return green(s) if s == "passing" else red(s) if s == "critical" else yellow(s)


def print_status(out: Out, sc: Scenario, title: str) -> None:
    st = sc.status()
    out.section(title)
    rows = [("SERVICE", "TASK", "ADDRESS", "CHECKS")]
    for i in st.instances:
        checks = "  ".join(f"{k}={status_color(v)}" for k, v in sorted(i.checks.items()))
        rows.append((i.service, f"{i.task} ({short(i.task_id)})", i.address, checks))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    w2 = max(len(r[2]) for r in rows)
    for n, r in enumerate(rows):
        text = f"{r[0]:<{w0}}  {r[1]:<{w1}}  {r[2]:<{w2}}  {r[3]}"
        out.line(bold(text) if n == 0 else text)
    services = sorted({i.service for i in st.instances})
    out.line(dim(f"{len(st.instances)} instance(s) of {', '.join(services) or 'nothing'} on node "
                 f"{sc.sb.node}; {st.tokens} login token(s) of the aws-iam auth method"))
    if st.request_ok:
        out.line(f"request client -> server through the mesh: {green('OK')} {st.request_answer}")
    else:
        out.line(f"request client -> server through the mesh: {red('FAILED')} {st.request_answer}")


def run(args: argparse.Namespace) -> int:
    timings = Timings.fast() if args.fast else Timings()
    if args.shutdown_delay is not None:
        timings.shutdown_delay = args.shutdown_delay
    workdir = args.workdir or tempfile.mkdtemp(prefix="consul-ecs-sandbox-")
    os.makedirs(workdir, exist_ok=True)
    out = Out(args.quiet)
    sb = MeshSandbox(workdir, timings, consul_ecs_bin=args.binary, log=out.event, layout=args.layout,
                     cli=args.cli)
    sc = Scenario(sb, note=lambda text: out.say(yellow("> ") + text))
    ok = False

    def cleanup() -> None:
        sb.close()
        kill_all_sessions()

    atexit.register(cleanup)
    emit(bold("consul-ecs sandbox: an emulated ECS cluster on this machine, no AWS"))
    emit(dim(f"  binary {sb.bin}\n  consul {sb.consul_bin}\n  logs   {workdir}"))
    try:
        out.section("1. Infrastructure")
        sc.boot_infra()
        out.say(f"bridge {sb.network.bridge} {sb.network.gateway} = the example's subnet {sb.network.net}; "
                f"one network namespace per task")
        out.say(f"moto (IAM, STS, ECS, Secrets Manager, ...) at {sb.moto.url}")
        out.say(f"{sb.cli_name} apply of terraform/examples/client-server against moto: "
                f"{len(sb.tf_root.state_resources())} resources in {sb.terraform_seconds:.0f}s; "
                f"from here on SigV4 signatures and IAM policies are checked")
        for name, td in sorted(sb.task_definitions.items()):
            note = " (not run: Consul below stands in)" if name == sb.outputs["ecs_services"]["dev_server"] else ""
            out.say(dim(f"  ECS service {name}: {td.arn.rsplit('/', 1)[-1]} "
                        f"[{', '.join(c.name for c in td.containers)}]{note}"))
        out.say(f"Consul {sb.consul.version()} in place of the dev server's task, at "
                f"{sb.outputs['server_dns']} = {sb.network.gateway} (HTTPS 8501, gRPC TLS 8503; "
                f"the CA and bootstrap token Terraform generated)")
        out.say(f"ECS agent emulator at {sb.emulator.url}; cluster {sb.cluster.arn}")
        out.say("auth method iam-ecs-service-token -> moto's STS/IAM (the operator's part)")

        out.section("2. The controller")
        out.say(f"task of ECS service {sb.outputs['ecs_services']['controller']}: consul-ecs controller "
                f"(polling every {timings.controller_interval:g}s, the default; bootstrap token from "
                f"Secrets Manager in CONSUL_HTTP_TOKEN)")
        sc.boot_controller()
        for ln in sb.controller_log().splitlines():
            if "[INFO]" in ln and ("created" in ln or "registered" in ln or "attached" in ln
                                   or "updated" in ln):
                out.say("controller: " + ln.split("[INFO]", 1)[1].strip())

        out.section("3. Mesh tasks: 3 x server, 1 x client; 1 x terminating gateway")
        sv = sb.task_definitions[sb.outputs["ecs_services"]["server"]]
        def after(c) -> str:
            return f" (after {', '.join(f'{d.container_name} {d.condition}' for d in c.depends_on)})"
        order = ", ".join(c.name + (after(c) if c.depends_on else "") for c in sv.containers)
        out.say(f"containers, as the task definition says: {order}")
        sc.boot_tasks(3)
        out.say(green("all tasks registered in Consul with passing checks"))
        out.say(dim(f"gateway {sc.gateway.service}: {sc.gateway.gateway_kind}, split layout; "
                    "its traffic is not proxied in the sandbox (the built-in proxy is no gateway)"))
        first = sc.allow()
        out.say(f"intention client -> server: allow; first answer through the mesh: {first}")
        print_status(out, sc, "4. Status")

        out.section("5. Intentions are enforced (mTLS + /v1/agent/connect/authorize)")
        r = sc.intentions(hold=1.0)
        out.say(f"intention client -> server = {red('deny')}: request refused after "
                f"{r['deny_after']:.1f}s ({r['denied'].split(':', 1)[0]}: connection closed); kept 1s")
        if r["evidence"]:
            out.say(dim(f"server proxy: {r['evidence']}"))
        out.say(f"intention client -> server = {green('allow')}: answered after "
                f"{r['allow_after']:.1f}s: {r['allowed']}")

        s1, s2 = sc.servers[0], sc.servers[1]
        out.section(f"6. Graceful stop of {s1.name} ({short(s1.task_id)}) while the client keeps calling")
        out.say(f"StopTask {s1.name}: SIGTERM to every container at once; app-entrypoint holds the "
                f"app for -shutdown-delay {timings.shutdown_delay:g}s, envoy-entrypoint the proxy "
                f"until the app has stopped")
        g = sc.graceful_stop(s1)
        fmt = lambda v: "?" if v is None else f"{v:.1f}s"  # noqa: E731
        exits = ", ".join(f"{name} exit {code} at {fmt(after)}{' (SIGKILL)' if killed else ''}"
                          for name, (code, after, killed) in
                          sorted(g.container_exits.items(), key=lambda kv: kv[1][1] or 0))
        out.say(f"{s1.name} STOPPED after {fmt(g.stopped_after)}: {exits}")
        if g.deregistered_by == "controller":
            out.say("deregistered by the controller, not by its own control-plane (unexpected: the "
                    "controller spares tasks that are still stopping)")
        else:
            out.say("deregistered by its control-plane once consul-dataplane had stopped")
        verdict = green("0 failed") if g.failed == 0 else red(f"{g.failed} FAILED")
        out.say(f"client requests during the stop: {g.requests}, {verdict} "
                f"(the other servers answered them)")
        for f in g.failures:
            out.line(red(f"    failed at {f['t']:.2f}: {f.get('error')}"))

        out.section(f"7. SIGKILL of every container of {s2.name} ({short(s2.task_id)})")
        k = sc.sigkill(s2)
        if k.removed_after is not None:
            out.say(f"{'within' if k.within_interval else red('NOT within')} one {k.interval:g}s controller "
                    f"interval; its login token deleted: {k.token_deleted}")
        else:
            out.say(red("the controller did not remove the instances"))
        for ln in k.controller_lines:
            if "[INFO]" in ln and "reconcile:" not in ln:
                out.say(dim("controller: " + ln.split("[INFO]", 1)[1].strip()))
        out.say(f"client requests until then: {k.requests_until_removed}, "
                f"{k.failed_until_removed} failed (routed to the dead instance); "
                f"after the clean-up: {k.requests_after}, "
                f"{green('0 failed') if k.failed_after == 0 else red(str(k.failed_after) + ' failed')}")
        out.section(f"8. Graceful stop of the terminating gateway ({short(sc.gateway.task_id)})")
        gw = sc.gateway_stop()
        gexits = ", ".join(f"{name} exit {code}{' (SIGKILL)' if killed else ''}"
                           for name, (code, _, killed) in sorted(gw.stop.container_exits.items()))
        by = "its health-sync" if gw.stop.deregistered_by == "control-plane" else "the controller"
        out.say(f"STOPPED after {fmt(gw.stop.stopped_after)}: {gexits}; gone from the catalog after "
                f"{fmt(gw.stop.absent_after)} (deregistered by {by}); login tokens "
                f"{gw.tokens_before} -> {gw.tokens_left}")
        gw_ok = (gw.stop.absent_after is not None and gw.stop.deregistered_by == "control-plane"
                 and gw.tokens_left == 0 and gw.stop.failed == 0)
        print_status(out, sc, "9. Status")

        tot = sc.client_totals()
        unexplained = tot["by_window"]["unexplained"]
        ok = (gw_ok and g.failed == 0 and g.absent_after is not None and k.within_interval
              and k.failed_after == 0 and unexplained == 0)
        out.section("Summary")
        out.say(f"client requests in total: {tot['requests']}, failed: {tot['failed']}")
        for name, n in tot["by_window"].items():
            if name != "unexplained":
                out.say(f"  {n:5d} failed while {name}")
        out.say(f"  {unexplained:5d} failed at any other time"
                + (f" {red(str(tot['unexplained']))}" if unexplained else ""))
        out.say(green("sandbox flow OK") if ok else red("sandbox flow had problems (see above)"))

        if args.keep:
            out.section("Running until Ctrl-C (--keep)")
            out.line(f"Consul UI: {sb.consul.http_addr}/ui   token: {sb.consul.token}")
            out.line(f"through the mesh: ip netns exec {sb.runtime.tasks[sc.client.task_id].ns} "
                     f"curl http://127.0.0.1:{sc.client.upstream_port('server')}/")
            out.line(f"logs: {workdir}")
            last = time.time()
            while True:
                time.sleep(1)
                if time.time() - last >= 15:
                    last = time.time()
                    t = sc.client_totals()
                    out.say(f"client requests: {t['requests']}, failed: {t['failed']}")
    except KeyboardInterrupt:
        emit("\ninterrupted")
        ok = ok and args.keep
    except Exception as e:
        emit(red(f"\nsandbox error: {type(e).__name__}: {e}"))
        if os.environ.get("SANDBOX_TRACEBACK"):
            traceback.print_exc()
        ok = False
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # let the clean-up finish
        out.quiet = True
        cleanup()
        out.section("Cleaning up")
        left = leftover_processes() + [p.pid for p in (sb.consul and sb.consul.proc,
                                                         sb.moto and sb.moto.proc)
                                         if p is not None and p.poll() is None]
        out.say(f"stopped every task, the emulator, Consul and moto; "
                f"{'no process left' if not left else red(f'{len(left)} process(es) left: {left}')}")
        if ok and not args.workdir and not args.keep_logs:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            out.say(f"logs kept in {workdir}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="consul-ecs mesh sandbox (see docs/sandbox.md)",
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=textwrap.dedent(__doc__.split("\n\n", 2)[1]))
    p.add_argument("--keep", action="store_true", help="keep running after the flow until Ctrl-C")
    p.add_argument("--fast", action="store_true", help="the short timings of the CI test")
    p.add_argument("--quiet", action="store_true", help="hide the emulated ECS agent's events")
    p.add_argument("--workdir", help="where logs go (kept); default: a temp dir, removed on success")
    p.add_argument("--keep-logs", action="store_true", help="keep the temp dir even on success")
    p.add_argument("--cli", choices=["tofu", "terraform"], default="tofu",
                   help="the Terraform CLI that applies the example (default: OpenTofu)")
    p.add_argument("--layout", choices=["control-plane", "split"],
                   help="mesh-task's consul_ecs_layout for both apps (default: the module's default)")
    p.add_argument("--binary", help="consul-ecs binary (default: $CONSUL_ECS_BIN or build/consul-ecs)")
    p.add_argument("--shutdown-delay", type=int,
                   help="the example's application_shutdown_delay_seconds (whole seconds)")
    args = p.parse_args(argv)

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
