"""consul-ecs invoked as `curl` (the image's /usr/bin/curl is a link to it):
the official health check's form `curl -f <url>` over plain HTTP, with
curl's exit codes, against a real HTTP server on loopback. The same command
inside the image, against a real control-plane, is test_containers.py's
mesh task (its control-plane health check is the module's exact
`CMD-SHELL curl -f localhost:10000/consul-ecs/health`)."""
from __future__ import annotations

import http.server
import os
import socket
import subprocess
import threading

import pytest

pytestmark = pytest.mark.needs_binary


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        status = int(self.path.rsplit("/", 1)[-1]) if self.path.rsplit("/", 1)[-1].isdigit() else 200
        body = f"status {status} for {self.path}\n".encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


@pytest.fixture(scope="module")
def curl(consul_ecs_bin, tmp_path_factory) -> str:
    link = tmp_path_factory.mktemp("curl") / "curl"
    os.symlink(os.path.abspath(consul_ecs_bin), link)
    return str(link)


def free_closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=30)


def test_health_check_form_passes_on_200_without_a_scheme(curl, server):
    p = run(curl, "-f", f"{server}/consul-ecs/health")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "status 200 for /consul-ecs/health\n"


def test_fail_flag_exits_22_on_an_http_error_and_prints_no_body(curl, server):
    p = run(curl, "-f", f"http://{server}/consul-ecs/500")
    assert p.returncode == 22
    assert p.stdout == ""
    assert "curl: (22)" in p.stderr and "500" in p.stderr
    silent = run(curl, "-fs", f"http://{server}/x/503")
    assert (silent.returncode, silent.stdout, silent.stderr) == (22, "", "")
    shown = run(curl, "-fsS", f"http://{server}/x/503")
    assert shown.returncode == 22 and "curl: (22)" in shown.stderr
    # Without -f an error status is a successful transfer, as curl's.
    p = run(curl, f"http://{server}/x/500")
    assert p.returncode == 0 and p.stdout == "status 500 for /x/500\n"


def test_connection_refused_is_7(curl):
    p = run(curl, "-f", "-s", f"127.0.0.1:{free_closed_port()}/consul-ecs/health")
    assert (p.returncode, p.stdout, p.stderr) == (7, "", "")


def test_output_file(curl, server, tmp_path):
    out = tmp_path / "body"
    p = run(curl, "-fsS", "-o", str(out), f"{server}/file")
    assert p.returncode == 0 and p.stdout == ""
    assert out.read_text() == "status 200 for /file\n"


def test_only_plain_http(curl, server):
    p = run(curl, "-f", f"https://{server}/consul-ecs/health")
    assert p.returncode == 1
    assert "https" in p.stderr.lower()


def test_bad_command_lines_exit_2_naming_the_cause(curl):
    p = run(curl, "-k", "http://127.0.0.1:1/")
    assert p.returncode == 2 and "option -k: is unknown" in p.stderr
    p = run(curl, "-f")
    assert p.returncode == 2 and "no URL specified" in p.stderr


def test_version_names_what_it_is(curl, consul_ecs_bin):
    p = run(curl, "--version")
    assert p.returncode == 0
    first = p.stdout.splitlines()[0]
    assert first.startswith("curl 7.88.1 (consul-ecs ") and "OpenSSL/" in first
    assert "Protocols: http\n" in p.stdout
    # The binary under its own name is still consul-ecs.
    assert run(consul_ecs_bin, "version").stdout.startswith("consul-ecs v")
