"""app-entrypoint, envoy-entrypoint and net-dial against real processes (and
the ECS agent emulator for the task metadata). No Consul needed."""
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from ecs_agent_emulator import ContainerSpec, EcsAgentEmulator

BIN = os.environ.get("CONSUL_ECS_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build", "consul-ecs"))

# A child that records every signal it gets and exits on SIGTERM with code 7
# (or with the code given on its command line when it ends by itself).
CHILD = textwrap.dedent("""
    import os, signal, sys, time
    log = open(sys.argv[1], "a", buffering=1)
    def on_signal(sig, frame):
        log.write(f"{signal.Signals(sig).name} {time.monotonic()}\\n")
        if sig == signal.SIGTERM:
            sys.exit(7)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):
        signal.signal(s, on_signal)
    log.write(f"started {os.getpid()}\\n")
    if len(sys.argv) > 2:
        time.sleep(float(sys.argv[3]) if len(sys.argv) > 3 else 0)
        sys.exit(int(sys.argv[2]))
    while True:
        time.sleep(0.05)
""")


@pytest.fixture
def child_script(tmp_path):
    path = tmp_path / "child.py"
    path.write_text(CHILD)
    return str(path)


def wait_for_line(path, prefix, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            for line in open(path).read().splitlines():
                if line.startswith(prefix):
                    return line
        time.sleep(0.02)
    raise AssertionError(f"{prefix!r} not seen in {path}")


def lines(path):
    return open(path).read().splitlines() if os.path.exists(path) else []


# ---------------------------------------------------------------- app-entrypoint

def test_app_entrypoint_forwards_signals_and_delays_sigterm(tmp_path, child_script):
    log = str(tmp_path / "signals.log")
    proc = subprocess.Popen([BIN, "app-entrypoint", "-shutdown-delay", "1s", "--", sys.executable, child_script, log])
    wait_for_line(log, "started")
    proc.send_signal(signal.SIGHUP)
    wait_for_line(log, "SIGHUP")
    proc.send_signal(signal.SIGUSR1)
    wait_for_line(log, "SIGUSR1")

    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.6)
    assert proc.poll() is None, "app must keep running during the shutdown delay"
    assert not any(l.startswith("SIGTERM") for l in lines(log)), "SIGTERM must not be forwarded at once"
    code = proc.wait(timeout=5)
    term_at = float(wait_for_line(log, "SIGTERM").split()[1])
    assert term_at - sent >= 0.9, "the app got SIGTERM before the shutdown delay ended"
    assert code == 7, "exit code of the app must be propagated"


def test_app_entrypoint_app_exiting_early_exits_at_once(tmp_path, child_script):
    log = str(tmp_path / "signals.log")
    start = time.monotonic()
    code = subprocess.run([BIN, "app-entrypoint", "-shutdown-delay", "30s", "--", sys.executable, child_script, log, "3"],
                          timeout=10).returncode
    assert code == 3
    assert time.monotonic() - start < 5


def test_app_entrypoint_reports_death_by_signal(tmp_path):
    code = subprocess.run([BIN, "app-entrypoint", "--", "sh", "-c", "kill -KILL $$"], timeout=10).returncode
    assert code == 128 + signal.SIGKILL


def test_app_entrypoint_without_command_is_an_error():
    result = subprocess.run([BIN, "app-entrypoint", "-shutdown-delay", "1s"], capture_output=True, text=True, timeout=10)
    assert result.returncode != 0
    assert "command" in result.stderr.lower()


def test_app_entrypoint_bad_delay_is_an_error(child_script, tmp_path):
    result = subprocess.run([BIN, "app-entrypoint", "-shutdown-delay", "soon", "--", "true"],
                            capture_output=True, text=True, timeout=10)
    assert result.returncode == 1
    assert "shutdown-delay" in result.stderr


# ---------------------------------------------------------------- envoy-entrypoint

@pytest.fixture
def emulator():
    with EcsAgentEmulator() as emu:
        yield emu


def test_envoy_entrypoint_waits_for_app_containers(tmp_path, child_script, emulator):
    task = emulator.add_task(containers=[
        ContainerSpec("app", health="HEALTHY"),
        ContainerSpec("worker"),
        ContainerSpec("consul-dataplane", health="HEALTHY"),
        ContainerSpec("consul-ecs-control-plane"),
    ])
    env = {**os.environ, **emulator.env_for(task, "consul-dataplane")}
    log = str(tmp_path / "signals.log")
    proc = subprocess.Popen([BIN, "envoy-entrypoint", sys.executable, child_script, log], env=env)
    wait_for_line(log, "started")
    proc.send_signal(signal.SIGINT)
    wait_for_line(log, "SIGINT")  # other signals are forwarded

    proc.send_signal(signal.SIGTERM)
    time.sleep(1.5)
    assert proc.poll() is None and not any(l.startswith("SIGTERM") for l in lines(log)), \
        "the proxy must keep running while app containers run"

    emulator.set_container(task.task_id, "app", known_status="STOPPED", desired_status="STOPPED")
    time.sleep(1.5)
    assert proc.poll() is None, "one application container (worker) is still running"

    emulator.set_container(task.task_id, "worker", known_status="STOPPED", desired_status="STOPPED")
    code = proc.wait(timeout=5)
    assert code == 7
    wait_for_line(log, "SIGTERM")


def test_envoy_entrypoint_exits_when_child_exits(tmp_path, child_script, emulator):
    task = emulator.add_task(containers=[ContainerSpec("app"), ContainerSpec("consul-dataplane")])
    env = {**os.environ, **emulator.env_for(task, "consul-dataplane")}
    log = str(tmp_path / "signals.log")
    code = subprocess.run([BIN, "envoy-entrypoint", sys.executable, child_script, log, "5"], env=env, timeout=10).returncode
    assert code == 5


# ---------------------------------------------------------------- net-dial

def test_net_dial_open_port():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert subprocess.run([BIN, "net-dial", f"127.0.0.1:{port}"], timeout=10).returncode == 0


def test_net_dial_closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = subprocess.run([BIN, "net-dial", f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=10)
    assert result.returncode == 2
    assert "refused" in result.stderr.lower()


def test_net_dial_unresolvable_host():
    result = subprocess.run([BIN, "net-dial", "no-such-host.invalid:80"], capture_output=True, text=True, timeout=10)
    assert result.returncode == 2
    assert "cannot resolve" in result.stderr
    assert result.stderr.count("\n") == 1


def test_net_dial_bad_argument():
    result = subprocess.run([BIN, "net-dial", "localhost"], capture_output=True, text=True, timeout=10)
    assert result.returncode == 2
    assert "host:port" in result.stderr


# ---------------------------------------------------------------- dispatch

def test_unknown_command_prints_usage():
    result = subprocess.run([BIN, "frobnicate"], capture_output=True, text=True, timeout=10)
    assert result.returncode == 1
    assert "unknown command" in result.stderr
    assert "control-plane" in result.stderr


def test_version():
    result = subprocess.run([BIN, "version"], capture_output=True, text=True, timeout=10)
    assert result.returncode == 0
    assert result.stdout.startswith("consul-ecs v")
