"""The top-level command line and the commands without a run-time: exit
codes and streams as the reference's v0.7.3 (deployment.md, "Exit codes and
streams"). No Consul needed."""
import os
import subprocess

import pytest

BIN = os.environ.get("CONSUL_ECS_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build", "consul-ecs"))
COMMANDS = ["control-plane", "controller", "app-entrypoint", "envoy-entrypoint", "net-dial", "version"]
# Nothing here may reach a real config, Consul or AWS.
ENV = {"PATH": os.environ.get("PATH", "")}


def run(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=10, env=ENV)


def our_version():
    first = run("version").stdout.splitlines()[0]
    assert first.startswith("consul-ecs v")
    return first[len("consul-ecs "):]


@pytest.mark.parametrize("args", [[], ["frobnicate"], ["help"], ["--", "version"], ["-x"]])
def test_unknown_or_missing_command_exits_127_with_usage_on_stderr(args):
    r = run(*args)
    assert r.returncode == 127
    assert r.stdout == ""
    for command in COMMANDS:
        assert command in r.stderr


def test_unknown_command_is_named():
    assert 'unknown command "frobnicate"' in run("frobnicate").stderr


@pytest.mark.parametrize("flag", ["-h", "-help", "--help"])
def test_help_exits_0_with_usage_on_stderr(flag):
    r = run(flag)
    assert r.returncode == 0
    assert r.stdout == ""
    for command in COMMANDS:
        assert command in r.stderr


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_of_each_command_exits_0_on_stderr(command, flag):
    for args in ([command, flag], [flag, command]):
        r = run(*args)
        assert r.returncode == 0, args
        assert r.stdout == "", args
        assert f"consul-ecs {command}" in r.stderr, args


@pytest.mark.parametrize("flag", ["-v", "-version", "--version"])
def test_version_flag_prints_version_on_stderr(flag):
    r = run(flag)
    assert r.returncode == 0
    assert r.stdout == ""
    assert r.stderr == our_version() + "\n"


def test_version_command_on_stdout_ignores_extra_arguments():
    r = run("version")
    assert r.returncode == 0
    assert r.stdout.splitlines()[0] == f"consul-ecs {our_version()}"
    assert r.stderr == ""
    extra = run("version", "extra", "-x")
    assert extra.returncode == 0
    assert extra.stdout == r.stdout


def test_version_json():
    import json
    doc = json.loads(run("version", "-json").stdout)
    assert "v" + doc["version"] == our_version()


def test_flag_before_the_command_exits_1():
    r = run("-x", "version")
    assert r.returncode == 1
    assert "-x" in r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize("command", ["control-plane", "controller"])
def test_control_plane_and_controller_reject_arguments(command):
    r = run(command, "extra")
    assert r.returncode == 1
    assert "unexpected argument: extra" in r.stderr
    r = run(command, "-frobnicate")
    assert r.returncode == 1
    assert "flag provided but not defined: -frobnicate" in r.stderr
    r = run(command, "--config-file")
    assert r.returncode == 1
    assert "flag needs an argument: -config-file" in r.stderr


@pytest.mark.parametrize("form", [["-config-file", "{}"], ["--config-file={}"], ["-config-file={}"]])
def test_control_plane_config_file_flag_forms(tmp_path, form):
    # The file is read (and rejected as invalid) whichever form names it.
    path = tmp_path / "bad.json"
    path.write_text('{"bootstrapDir": 7}')
    r = run("control-plane", *[a.format(path) for a in form])
    assert r.returncode == 1
    assert "invalid config" in r.stderr
    assert "bootstrapDir" in r.stderr


def test_control_plane_exits_1_when_the_readiness_port_is_taken(tmp_path):
    """A deliberate difference (CHANGELOG): the reference logs and carries on
    with no readiness endpoint, so its container never turns healthy."""
    import socket
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        addr = f"127.0.0.1:{busy.getsockname()[1]}"
        env = dict(ENV, CONSUL_ECS_HEALTH_LISTEN_ADDR=addr, CONSUL_ECS_CONFIG_JSON=(
            f'{{"bootstrapDir": "{tmp_path}", "consulServers": {{"hosts": "127.0.0.1"}}, '
            '"service": {"port": 8080}}'))
        p = subprocess.run([BIN, "control-plane"], capture_output=True, text=True, timeout=10, env=env)
    assert p.returncode == 1
    assert addr in p.stderr and "in use" in p.stderr
    assert os.listdir(tmp_path) == [], "nothing written before failing"
