"""The top-level command line and the commands without a run-time: exit
codes and streams as the reference's v0.7.3 (deployment.md, "Exit codes and
streams"). No Consul needed."""
import json
import os
import re
import subprocess

import pytest

BIN = os.environ.get("CONSUL_ECS_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build", "consul-ecs"))
COMMANDS = ["control-plane", "mesh-init", "health-sync", "controller", "app-entrypoint", "envoy-entrypoint",
            "net-dial", "version"]
# The commands that read a config, and the schema each reads.
CONFIG_COMMANDS = {"control-plane": "v0.7.3", "mesh-init": "v0.10.0", "health-sync": "v0.10.0",
                   "controller": "v0.10.0"}
# go-hclog's plain line: "<timestamp> [LEVEL] <message>", one more space after [INFO] and [WARN].
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[(TRACE|DEBUG|INFO|WARN|ERROR)\] {1,2}(\S.*)$")
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
    doc = json.loads(run("version", "-json").stdout)
    assert "v" + doc["version"] == our_version()


def test_flag_before_the_command_exits_1():
    r = run("-x", "version")
    assert r.returncode == 1
    assert "-x" in r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize("command", CONFIG_COMMANDS)
def test_config_commands_reject_arguments(command):
    r = run(command, "extra")
    assert r.returncode == 1
    assert "unexpected argument: extra" in r.stderr
    r = run(command, "-frobnicate")
    assert r.returncode == 1
    assert "flag provided but not defined: -frobnicate" in r.stderr
    r = run(command, "--config-file")
    assert r.returncode == 1
    assert "flag needs an argument: -config-file" in r.stderr


@pytest.mark.parametrize("command", CONFIG_COMMANDS)
@pytest.mark.parametrize("form", [["-config-file", "{}"], ["--config-file={}"], ["-config-file={}"]])
def test_config_file_flag_forms(tmp_path, command, form):
    # Every command that reads a config takes -config-file (mesh-init and
    # health-sync too: their "pass -config-file" hint must be true), and the
    # file is read (and rejected as invalid) whichever form names it.
    path = tmp_path / "bad.json"
    path.write_text('{"bootstrapDir": 7}')
    r = run(command, *[a.format(path) for a in form])
    assert r.returncode == 1
    assert "invalid config" in r.stderr
    assert f"source={path}" in r.stderr
    assert "config: bootstrapDir: must be string, got integer" in r.stderr
    assert "flag provided but not defined" not in r.stderr


BAD_CONFIG = ('{"bootstrapDir": "", "consulServers": {"hosts": "127.0.0.1"}, "logLevl": "DEBUG", '
              '"service": {"port": 8080, "name": "Web"}}')


@pytest.mark.parametrize("command", CONFIG_COMMANDS)
def test_config_errors_are_one_log_line_each_after_a_summary(tmp_path, command):
    """In CloudWatch every line is an event: each problem is a line with its
    own timestamp and level, after one summary line."""
    path = tmp_path / "bad.json"
    path.write_text(BAD_CONFIG)
    for args, env, source in (([command, "-config-file", str(path)], ENV, str(path)),
                              ([command], dict(ENV, CONSUL_ECS_CONFIG_JSON=BAD_CONFIG), "CONSUL_ECS_CONFIG_JSON")):
        r = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=10, env=env)
        assert r.returncode == 1, r.stderr
        lines = r.stderr.splitlines()
        assert all(LOG_LINE.match(line) for line in lines), r.stderr
        messages = [LOG_LINE.match(line).group(2) for line in lines]
        assert messages == [
            f"invalid config: errors=3 schema={CONFIG_COMMANDS[command]} source={source}",
            "config: bootstrapDir: must be at least 1 character(s) long, got 0",
            'config: logLevl: additional property not allowed (did you mean "logLevel"?)',
            "config: service.name: must be lower case alphanumeric, '-' or '_', starting and ending with "
            'alphanumeric (got "Web")',
        ], r.stderr


@pytest.mark.parametrize("command", CONFIG_COMMANDS)
def test_missing_config_names_both_sources(command):
    r = run(command)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert len(lines) == 2 and all(LOG_LINE.match(line) for line in lines), r.stderr
    assert lines[0].endswith(f"[ERROR] invalid config: errors=1 schema={CONFIG_COMMANDS[command]} "
                             "source=CONSUL_ECS_CONFIG_JSON")
    assert lines[1].endswith("[ERROR] config: no configuration: set the CONSUL_ECS_CONFIG_JSON environment "
                             "variable or pass -config-file")


@pytest.mark.parametrize("command", ["mesh-init", "health-sync"])
def test_v010_config_file_wins_over_the_environment(tmp_path, command):
    """A valid file is used even when the environment holds a broken config:
    the command gets past validation to the task metadata, which is not there."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"bootstrapDir": str(tmp_path / "bootstrap"),
                                "consulServers": {"hosts": "127.0.0.1"},
                                "service": {"port": 8080}, "transparentProxy": {"enabled": False}}))
    env = dict(ENV, CONSUL_ECS_CONFIG_JSON="{not json", CONSUL_ECS_HEALTH_LISTEN_ADDR="127.0.0.1:0")
    r = subprocess.run([BIN, command, "-config-file", str(path)], capture_output=True, text=True, timeout=30, env=env)
    assert r.returncode == 1
    assert "invalid config" not in r.stderr, r.stderr
    assert "ECS_CONTAINER_METADATA_URI_V4 is not set" in r.stderr, r.stderr
    assert not (tmp_path / "bootstrap").exists()


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
