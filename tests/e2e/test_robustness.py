"""Hostile input and hung servers, against the binary alone (no Consul, no
moto): a 100,000-deep JSON document is a clear error and a non-zero exit,
never a crash; SIGTERM interrupts a request to a server that never answers.
Run it against the ASan build too (CONSUL_ECS_BIN=build-asan/consul-ecs)."""
import json
import os
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

BIN = os.environ.get("CONSUL_ECS_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build", "consul-ecs"))
DEPTH = 100_000
LIMIT_MESSAGE = "nesting deeper than 256"
# Linux caps one environment string at 128 KiB (MAX_ARG_STRLEN).
ENV_STRING_MAX = 128 * 1024 - 1


def base_env(**extra: str) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", ""),
           # Nothing may reach real AWS.
           "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
           "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    for name in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        if name in os.environ:
            env[name] = os.environ[name]
    env.update(extra)
    return env


def nested_objects(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def config_with_proxy_config(proxy_config: str, consul_port: int = 8500) -> str:
    head = {"bootstrapDir": "/nonexistent/consul-ecs-robustness",
            "consulServers": {"hosts": "127.0.0.1", "http": {"port": consul_port, "https": False}}}
    return json.dumps(head)[:-1] + ', "proxy": {"config": ' + proxy_config + "}}"


def assert_limit_error(result: subprocess.CompletedProcess, path_prefix: str) -> None:
    assert result.returncode == 1, f"exit {result.returncode} (-11/139: stack overflow)\n{result.stderr[-2000:]}"
    assert LIMIT_MESSAGE in result.stderr, result.stderr[-2000:]
    line = next(line for line in result.stderr.splitlines() if LIMIT_MESSAGE in line)
    # A config problem is a log line of its own: "<time> [ERROR] config: <path>: <problem>".
    assert " [ERROR] config: " in line, line
    assert line.split(" [ERROR] config: ", 1)[1].startswith(path_prefix), line
    assert "AddressSanitizer" not in result.stderr and "runtime error" not in result.stderr


@pytest.mark.parametrize("command", ["control-plane", "controller"])
def test_deep_config_file_is_an_error_not_a_crash(tmp_path, command):
    path = tmp_path / "deep.json"
    path.write_text(config_with_proxy_config(nested_objects(DEPTH)))
    assert path.stat().st_size > 500_000
    r = subprocess.run([BIN, command, "-config-file", str(path)], capture_output=True, text=True,
                       timeout=60, env=base_env())
    assert_limit_error(r, "proxy.config.a.a.a.a.a.a.<246 more levels>.a.a")
    assert "[ERROR] invalid config: errors=1 " in r.stderr.splitlines()[0], r.stderr[:300]
    assert not os.path.exists("/nonexistent/consul-ecs-robustness")


@pytest.mark.parametrize("doc, prefix", [
    # 100,000 levels fit an environment string only unclosed (one byte a
    # level): the limit is hit long before the missing brackets would be.
    ("[" * DEPTH, "[0][0][0][0][0][0][0][0].<246 more levels>[0][0]"),
    (config_with_proxy_config("[" * DEPTH), "proxy.config[0][0]"),
    # Closed and well-formed, as deep as fits: 60,000 levels crashed before.
    (config_with_proxy_config("[" * 60_000 + "]" * 60_000), "proxy.config[0][0]"),
], ids=["unclosed-root", "unclosed-proxy-config", "closed-60000"])
def test_deep_config_in_the_environment_is_an_error_not_a_crash(doc, prefix):
    assert len("CONSUL_ECS_CONFIG_JSON=") + len(doc) <= ENV_STRING_MAX
    r = subprocess.run([BIN, "control-plane"], capture_output=True, text=True, timeout=60,
                       env=base_env(CONSUL_ECS_CONFIG_JSON=doc))
    assert_limit_error(r, prefix)


def test_config_at_the_limit_is_accepted_as_json():
    """254 levels inside proxy.config (256 with the two around it) parse;
    what follows is the missing metadata endpoint, not a JSON error."""
    doc = config_with_proxy_config(nested_objects(254))
    r = subprocess.run([BIN, "control-plane"], capture_output=True, text=True, timeout=30,
                       env=base_env(CONSUL_ECS_CONFIG_JSON=doc))
    assert "invalid config" not in r.stderr, r.stderr[-2000:]
    assert LIMIT_MESSAGE not in r.stderr
    assert r.returncode == 1, r.stderr[-2000:]  # no ECS_CONTAINER_METADATA_URI_V4


class Served:
    """A loopback HTTP server answering GET with `body` (bytes)."""

    def __init__(self, body: bytes):
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v4/robustness"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Silent:
    """Accepts TCP connections and never answers (a hung Consul)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        self.sock.settimeout(0.1)
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
                self.conns.append(conn)
            except OSError:
                continue

    def request_received(self) -> bool:
        """Whether a request's first bytes have arrived on a connection (left unread)."""
        for conn in list(self.conns):
            try:
                if conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT):
                    return True
            except BlockingIOError:
                continue
        return False

    def close(self):
        self.stop = True
        for conn in self.conns:
            conn.close()
        self.sock.close()


CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/robustness"
TASK = {"Cluster": CLUSTER, "TaskARN": "arn:aws:ecs:us-east-1:123456789012:task/robustness/0123456789abcdef",
        "Family": "consul-ecs-controller", "Revision": "1", "DesiredStatus": "RUNNING", "KnownStatus": "RUNNING",
        "Containers": []}


def controller_config(consul_port: int) -> str:
    return json.dumps({"bootstrapDir": "/nonexistent/consul-ecs-robustness",
                       "consulServers": {"hosts": "127.0.0.1", "http": {"port": consul_port, "https": False}}})


def test_deep_task_metadata_stops_the_controller():
    deep = json.dumps(TASK)[:-1] + ', "Labels": ' + nested_objects(DEPTH) + "}"
    served = Served(deep.encode())
    try:
        r = subprocess.run([BIN, "controller"], capture_output=True, text=True, timeout=60,
                           env=base_env(CONSUL_ECS_CONFIG_JSON=controller_config(9),
                                        ECS_CONTAINER_METADATA_URI_V4=served.url))
    finally:
        served.close()
    assert r.returncode == 1, f"exit {r.returncode}\n{r.stderr[-2000:]}"
    assert "task metadata: Labels.a.a.a.a.a.a.a.<246 more levels>.a.a: " + LIMIT_MESSAGE in r.stderr, r.stderr[-2000:]


def test_deep_task_metadata_stops_the_control_plane():
    """No ECS agent answers that, and asking again will not change it: the
    start-up fails with the limit's message and exit 1, never a crash."""
    deep = json.dumps(TASK)[:-1] + ', "Containers": [' + nested_objects(DEPTH) + "]}"
    served = Served(deep.encode())
    try:
        proc = subprocess.Popen([BIN, "control-plane"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=base_env(CONSUL_ECS_CONFIG_JSON=controller_config(9),
                                             ECS_CONTAINER_METADATA_URI_V4=served.url,
                                             CONSUL_ECS_HEALTH_LISTEN_ADDR="127.0.0.1:0"))
        deadline = time.monotonic() + 3
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        served.close()
    assert proc.returncode == 1, f"exit {proc.returncode}\n{err[-2000:]}"
    assert "task metadata: Containers[0].a.a.a.a.a.a.<246 more levels>.a.a: " + LIMIT_MESSAGE in err, err[-2000:]
    assert "AddressSanitizer" not in err


def test_sigterm_interrupts_a_hung_consul_request():
    """The controller's Consul calls may take 30 s; a SIGTERM while one
    hangs on a Consul that never answers ends the process at once."""
    silent = Silent()
    served = Served(json.dumps(TASK).encode())
    try:
        proc = subprocess.Popen([BIN, "controller"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=base_env(CONSUL_ECS_CONFIG_JSON=controller_config(silent.port),
                                             ECS_CONTAINER_METADATA_URI_V4=served.url,
                                             CONSUL_HTTP_TOKEN="robustness"))
        deadline = time.monotonic() + 20
        while not silent.conns and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        output = proc.stderr.read() if proc.poll() is not None else ""
        assert silent.conns, f"never called Consul; exit {proc.poll()}\n{output}"
        deadline = time.monotonic() + 10
        while not silent.request_received() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert silent.request_received(), "connected, but no request sent"
        assert proc.poll() is None  # the request is hanging now
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        elapsed = time.monotonic() - sent
    finally:
        served.close()
        silent.close()
    assert proc.returncode == 0, err[-2000:]
    assert elapsed < 2.0, f"exit took {elapsed:.1f} s after SIGTERM\n{err[-2000:]}"
