"""app-entrypoint, envoy-entrypoint and net-dial against real processes (and
the ECS agent emulator for the task metadata). No Consul needed."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import holds, wait_polled
from consul_ecs_testbed.ecs_agent_emulator import ContainerSpec, EcsAgentEmulator

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
    code = proc.wait(timeout=5)
    # The app's own clock says when the SIGTERM reached it (exit 7: its
    # handler ran, so it kept running until then): not before the delay.
    term_at = float(wait_for_line(log, "SIGTERM").split()[1])
    assert term_at - sent >= 0.9, "the app got SIGTERM before the shutdown delay ended"
    assert code == 7, "exit code of the app must be propagated"


def test_app_entrypoint_app_exiting_early_exits_at_once(tmp_path, child_script):
    log = str(tmp_path / "signals.log")
    start = time.monotonic()
    code = subprocess.run([BIN, "app-entrypoint", "-shutdown-delay", "30s", "--",
                           sys.executable, child_script, log, "3"],
                          timeout=10).returncode
    assert code == 3
    assert time.monotonic() - start < 5


def test_app_entrypoint_reports_death_by_signal(tmp_path):
    # The reference exits with Go's ExitCode() of a signalled process, -1, i.e. 255.
    code = subprocess.run([BIN, "app-entrypoint", "--", "sh", "-c", "kill -KILL $$"], timeout=10).returncode
    assert code == 255


def test_app_entrypoint_terminates_the_apps_whole_process_group(tmp_path):
    """After the delay the SIGTERM goes to the app's process group, as the
    reference's: a shell's background child does not outlive the task."""
    pidfile = tmp_path / "grandchild.pid"
    p = subprocess.Popen([BIN, "app-entrypoint", "-shutdown-delay", "100ms", "sh", "-c",
                          f"sleep 300 & echo $! > {pidfile}; wait"])
    deadline = time.monotonic() + 5
    while not (pidfile.exists() and pidfile.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    grandchild = int(pidfile.read_text())
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=10) == 255  # sh was killed by the SIGTERM
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            break
        # A zombie reparented to a subreaper still answers kill(0): check its state.
        with open(f"/proc/{grandchild}/stat") as f:
            if f.read().split(")")[1].split()[0] == "Z":
                break
        time.sleep(0.05)
    else:
        os.kill(grandchild, signal.SIGKILL)
        pytest.fail("the app's background child survived the app-entrypoint's SIGTERM")


def test_app_entrypoint_without_command_is_an_error():
    result = subprocess.run([BIN, "app-entrypoint", "-shutdown-delay", "1s"], capture_output=True, text=True,
                            timeout=10)
    assert result.returncode == 1
    assert "command is required" in result.stderr


def test_app_entrypoint_bad_delay_is_an_error(child_script, tmp_path):
    result = subprocess.run([BIN, "app-entrypoint", "-shutdown-delay", "soon", "--", "true"],
                            capture_output=True, text=True, timeout=10)
    assert result.returncode == 1
    assert 'invalid value "soon" for flag -shutdown-delay' in result.stderr


# What the application receives: its argv as JSON on stdout.
PRINT_ARGV = "import json, sys; print(json.dumps(sys.argv[1:]))"


def run_app(*args, **kw):
    return subprocess.run([BIN, "app-entrypoint", *args], capture_output=True, text=True, timeout=10, **kw)


def test_app_entrypoint_official_module_command_line():
    # mesh-task v0.7.3: entryPoint ["/consul/consul-ecs", "app-entrypoint", "-shutdown-delay", "<N>s"]
    # followed by the app's own command, without "--"; the app's -flags are its own.
    r = run_app("-shutdown-delay", "2s", sys.executable, "-c", PRINT_ARGV, "-x", "--y", "-shutdown-delay", "9s",
                "-log-level", "error", "--", "-")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == ["-x", "--y", "-shutdown-delay", "9s", "-log-level", "error", "--", "-"]


def test_app_entrypoint_python_print_42():
    r = run_app("-shutdown-delay", "1s", "python3", "-c", "print(42)")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "42\n"


@pytest.mark.parametrize("flags", [
    ["-shutdown-delay=1s"], ["--shutdown-delay", "1s"], ["--shutdown-delay=1s"],
    ["-log-level", "debug", "-shutdown-delay", "1s"], ["-shutdown-delay", "1s", "--log-level=DEBUG"],
])
def test_app_entrypoint_flag_forms(flags):
    r = run_app(*flags, sys.executable, "-c", PRINT_ARGV, "a")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == ["a"]


def test_app_entrypoint_double_dash_is_consumed_once():
    r = run_app("-shutdown-delay", "1s", "--", sys.executable, "-c", PRINT_ARGV, "--", "-h")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == ["--", "-h"]


def test_app_entrypoint_delay_in_equals_form_is_applied(tmp_path, child_script):
    log = str(tmp_path / "signals.log")
    proc = subprocess.Popen([BIN, "app-entrypoint", "--shutdown-delay=1s", sys.executable, child_script, log])
    wait_for_line(log, "started")
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=5) == 7
    assert float(wait_for_line(log, "SIGTERM").split()[1]) - sent >= 0.9


def test_app_entrypoint_log_level(tmp_path, child_script):
    # INFO by default: the shutdown delay is logged; ERROR and OFF hide it.
    for flags, shown in (([], True), (["-log-level", "error"], False), (["-log-level=OFF"], False),
                         (["--log-level=Info"], True)):
        log = str(tmp_path / f"signals-{len(flags)}-{shown}.log")
        proc = subprocess.Popen([BIN, "app-entrypoint", *flags, "-shutdown-delay", "100ms", sys.executable,
                                 child_script, log], stderr=subprocess.PIPE, text=True)
        wait_for_line(log, "started")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 7
        assert ("[INFO]" in proc.stderr.read()) == shown, flags
    # DEBUG shows the forwarded signals.
    log = str(tmp_path / "signals.log")
    proc = subprocess.Popen([BIN, "app-entrypoint", "-log-level", "debug", sys.executable, child_script, log],
                            stderr=subprocess.PIPE, text=True)
    wait_for_line(log, "started")
    proc.send_signal(signal.SIGHUP)
    wait_for_line(log, "SIGHUP")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=5) == 7
    debug = [line for line in proc.stderr.read().splitlines() if "[DEBUG]" in line]
    assert len(debug) == 1 and re.search(r"\[DEBUG\] consul-ecs: forwarded signal: signal=SIGHUP pid=\d+$",
                                         debug[0]), debug


# go-hclog's plain line with the entrypoints' logger name, as the reference's.
HCLOG = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[(TRACE|DEBUG|INFO|WARN|ERROR)\] {1,2}consul-ecs: (.*)$")


def log_messages(stderr):
    """(level, message) of every line; each line must be an hclog line."""
    out = []
    for line in stderr.splitlines():
        m = HCLOG.match(line)
        assert m, f"not an hclog line of the consul-ecs logger: {line!r}"
        out.append((m.group(1), m.group(2)))
    return out


def test_app_entrypoint_logs_as_the_reference(tmp_path, child_script):
    """The reference's one INFO line on SIGTERM (its words and Go's duration
    format), and none of ours at start or exit."""
    log = str(tmp_path / "signals.log")
    proc = subprocess.Popen([BIN, "app-entrypoint", "-shutdown-delay", "1500ms", sys.executable, child_script, log],
                            stderr=subprocess.PIPE, text=True)
    wait_for_line(log, "started")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 7
    assert log_messages(proc.stderr.read()) == [
        ("INFO", "received sigterm. waiting 1.5s before terminating application.")]
    # No delay: the reference says nothing at all.
    log = str(tmp_path / "no-delay.log")
    proc = subprocess.Popen([BIN, "app-entrypoint", sys.executable, child_script, log],
                            stderr=subprocess.PIPE, text=True)
    wait_for_line(log, "started")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 7
    assert proc.stderr.read() == ""
    # An app that exits or is killed by itself: nothing either.
    assert run_app("true").stderr == ""
    r = run_app("sh", "-c", "exit 3")
    assert r.returncode == 3 and r.stderr == ""
    assert run_app("sh", "-c", "kill -KILL $$").stderr == ""


def test_app_entrypoint_logs_a_start_failure_as_the_reference(tmp_path):
    r = run_app("-shutdown-delay", "1s", str(tmp_path / "no-such-program"))
    assert r.returncode == 1
    [(level, message)] = log_messages(r.stderr)
    assert level == "ERROR"
    assert message.startswith('starting process: error="cannot run ') and "no-such-program" in message, message


@pytest.mark.parametrize("args, message", [
    (["-bogus", "true"], "flag provided but not defined: -bogus"),
    (["--shutdown-delay"], "flag needs an argument: -shutdown-delay"),
    (["-shutdown-delay", "10", "true"], 'invalid value "10" for flag -shutdown-delay'),
])
def test_app_entrypoint_bad_flags_exit_1_with_usage(args, message):
    r = run_app(*args)
    assert r.returncode == 1
    assert message in r.stderr
    assert "Usage: consul-ecs app-entrypoint" in r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize("help_flag", ["-h", "-help", "--help"])
def test_app_entrypoint_help(help_flag):
    r = run_app("-shutdown-delay", "1s", help_flag, "true")
    assert r.returncode == 0
    assert "-shutdown-delay" in r.stderr and "-log-level" in r.stderr
    assert r.stdout == ""


def test_app_entrypoint_command_that_cannot_start_exits_1(tmp_path):
    r = run_app("-shutdown-delay", "1s", str(tmp_path / "no-such-program"))
    assert r.returncode == 1
    assert "no-such-program" in r.stderr
    not_executable = tmp_path / "not-executable"
    not_executable.write_text("#!/bin/sh\n")
    assert run_app(str(not_executable)).returncode == 1


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

    sent = time.time()
    proc.send_signal(signal.SIGTERM)
    wait_polled(emulator, task, "consul-dataplane", sent, "waiting for the app containers")
    holds(lambda: proc.poll() is None and not any(line.startswith("SIGTERM") for line in lines(log)), 1.0,
          "the proxy must keep running while app containers run")

    changed = time.time()
    emulator.set_container(task.task_id, "app", known_status="STOPPED", desired_status="STOPPED")
    wait_polled(emulator, task, "consul-dataplane", changed, "the app's stop seen")
    holds(lambda: proc.poll() is None, 1.0, "one application container (worker) is still running")

    emulator.set_container(task.task_id, "worker", known_status="STOPPED", desired_status="STOPPED")
    code = proc.wait(timeout=5)
    assert code == 7
    wait_for_line(log, "SIGTERM")


@pytest.fixture
def fake_dataplane(tmp_path):
    """A `consul-dataplane` on PATH that prints its argv as JSON, then exits 0."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "consul-dataplane"
    exe.write_text(f"#!{sys.executable}\n{PRINT_ARGV}\n")
    exe.chmod(0o755)
    return {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}


def run_envoy(*args, env=None):
    return subprocess.run([BIN, "envoy-entrypoint", *args], capture_output=True, text=True, timeout=10, env=env)


def test_envoy_entrypoint_official_module_command_line(fake_dataplane):
    # mesh-task v0.7.3: entryPoint ["/consul/consul-ecs", "envoy-entrypoint"],
    # command ["consul-dataplane", "-config-file", "/consul/consul-dataplane.json"].
    r = run_envoy("consul-dataplane", "-config-file", "/consul/consul-dataplane.json", env=fake_dataplane)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == ["-config-file", "/consul/consul-dataplane.json"]


@pytest.mark.parametrize("flags", [["-log-level", "debug"], ["--log-level=debug"], ["-log-level=DEBUG", "--"]])
def test_envoy_entrypoint_log_level_before_the_command(flags, fake_dataplane):
    r = run_envoy(*flags, "consul-dataplane", "-config-file", "/x.json", "-log-level", "info", env=fake_dataplane)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == ["-config-file", "/x.json", "-log-level", "info"]
    assert r.stderr == ""  # the reference logs nothing when the proxy exits by itself


def test_envoy_entrypoint_errors():
    r = run_envoy()
    assert r.returncode == 1 and "command is required" in r.stderr
    r = run_envoy("-config-file", "/x.json", "consul-dataplane")
    assert r.returncode == 1 and "flag provided but not defined: -config-file" in r.stderr
    assert "Usage: consul-ecs envoy-entrypoint" in r.stderr
    r = run_envoy("-h")
    assert r.returncode == 0 and "-log-level" in r.stderr and r.stdout == ""
    assert run_envoy("/no/such/proxy").returncode == 1


def test_envoy_entrypoint_reports_death_by_signal():
    assert run_envoy("sh", "-c", "kill -KILL $$").returncode == 255


def test_envoy_entrypoint_exits_when_child_exits(tmp_path, child_script, emulator):
    task = emulator.add_task(containers=[ContainerSpec("app"), ContainerSpec("consul-dataplane")])
    env = {**os.environ, **emulator.env_for(task, "consul-dataplane")}
    log = str(tmp_path / "signals.log")
    r = subprocess.run([BIN, "envoy-entrypoint", sys.executable, child_script, log, "5"], env=env, timeout=10,
                       capture_output=True, text=True)
    assert r.returncode == 5
    assert r.stderr == ""


def wait_for_text(path, text, timeout=10.0, count=1):
    """Waits until `text` occurs `count` times in the file; returns its content."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = open(path).read() if os.path.exists(path) else ""
        if content.count(text) >= count:
            return content
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not seen {count} time(s) in {path}:\n{content}")


class StderrFile:
    """An envoy-entrypoint whose stderr goes to a file, to be read while it runs."""

    def __init__(self, tmp_path, args, env):
        self.path = str(tmp_path / "stderr.log")
        self.signals = str(tmp_path / "signals.log")
        with open(self.path, "w") as err:
            self.proc = subprocess.Popen([BIN, "envoy-entrypoint", *args], env=env, stderr=err)

    def text(self):
        return open(self.path).read()


def test_envoy_entrypoint_logs_as_the_reference(tmp_path, child_script, emulator):
    task = emulator.add_task(containers=[ContainerSpec("app"), ContainerSpec("consul-dataplane")])
    env = {**os.environ, **emulator.env_for(task, "consul-dataplane")}
    run = StderrFile(tmp_path, [sys.executable, child_script, str(tmp_path / "signals.log")], env)
    wait_for_line(run.signals, "started")
    run.proc.send_signal(signal.SIGTERM)
    wait_for_text(run.path, "waiting for application container(s) to stop")
    emulator.set_container(task.task_id, "app", known_status="STOPPED", desired_status="STOPPED")
    assert run.proc.wait(timeout=10) == 7
    assert log_messages(run.text()) == [
        ("INFO", "waiting for application container(s) to stop"),
        ("INFO", "application container(s) have stopped, terminating envoy"),
        ("INFO", "terminating Envoy with sigterm"),
    ]


def test_envoy_entrypoint_keeps_envoy_while_task_metadata_fails(tmp_path, child_script):
    """As the reference: a failed metadata read is an ERROR each second, and
    the proxy keeps running (ECS's SIGKILL is the bound)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    env = {**os.environ, "ECS_CONTAINER_METADATA_URI_V4": f"http://127.0.0.1:{closed_port}/v4/x"}
    run = StderrFile(tmp_path, [sys.executable, child_script, str(tmp_path / "signals.log")], env)
    child_pid = int(wait_for_line(run.signals, "started").split()[1])
    try:
        run.proc.send_signal(signal.SIGTERM)
        wait_for_text(run.path, "fetching task metadata: err=", count=2)
        assert run.proc.poll() is None, "the proxy must keep running"
        messages = log_messages(run.text())
        assert messages[0] == ("INFO", "waiting for application container(s) to stop")
        assert all(level == "ERROR" and message.startswith("fetching task metadata: err=")
                   for level, message in messages[1:]), messages
    finally:
        run.proc.kill()
        run.proc.wait(timeout=5)
        os.killpg(child_pid, signal.SIGKILL)


@pytest.mark.parametrize("flags, expected", [
    ([], [("ERROR", "fetching task metadata: err="), ("INFO", "terminating Envoy with sigterm")]),
    (["-log-level", "error"], [("ERROR", "fetching task metadata: err=")]),
])
def test_envoy_entrypoint_without_task_metadata_terminates_envoy_at_once(tmp_path, child_script, flags, expected):
    """Ours (CHANGELOG): with no metadata endpoint at all the wait could never
    end, so the proxy is terminated at once instead of at ECS's SIGKILL."""
    env = {k: v for k, v in os.environ.items() if k != "ECS_CONTAINER_METADATA_URI_V4"}
    run = StderrFile(tmp_path, [*flags, sys.executable, child_script, str(tmp_path / "signals.log")], env)
    wait_for_line(run.signals, "started")
    run.proc.send_signal(signal.SIGTERM)
    assert run.proc.wait(timeout=10) == 7
    messages = log_messages(run.text())
    assert len(messages) == len(expected), messages
    assert [(level, message[:len(prefix)])
            for (level, message), (_, prefix) in zip(messages, expected, strict=True)] == expected
    assert "ECS_CONTAINER_METADATA_URI_V4 is not set" in messages[0][1]


def test_envoy_entrypoint_logs_a_start_failure_as_the_reference():
    r = run_envoy("/no/such/proxy")
    assert r.returncode == 1
    messages = log_messages(r.stderr)
    assert [level for level, _ in messages] == ["ERROR", "ERROR"]
    assert messages[0][1].startswith('starting process: error="cannot run /no/such/proxy: ')
    assert messages[1][1] == "Envoy failed to start"


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


@pytest.mark.parametrize("args", [[], ["127.0.0.1:1", "127.0.0.1:2"], ["--", "127.0.0.1:1"]])
def test_net_dial_wrong_number_of_arguments_exits_1(args):
    # As the reference: no flag parsing, so "--" is an argument too.
    result = subprocess.run([BIN, "net-dial", *args], capture_output=True, text=True, timeout=10)
    assert result.returncode == 1
    assert "Usage: consul-ecs net-dial" in result.stderr


@pytest.mark.parametrize("args", [["-h"], ["--help"], ["127.0.0.1:1", "-help"]])
def test_net_dial_help(args):
    result = subprocess.run([BIN, "net-dial", *args], capture_output=True, text=True, timeout=10)
    assert result.returncode == 0
    assert "Usage: consul-ecs net-dial" in result.stderr
