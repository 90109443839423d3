#!/usr/bin/env python3
"""The sandbox's `consul-dataplane` (what the image hashicorp/consul-dataplane
maps to): Consul's built-in Connect proxy, configured from the task's
consul-dataplane.json and the proxy's catalog registration.

  consul-dataplane -config-file /consul/consul-dataplane.json

In a real task, consul-dataplane reads that file (written by the
control-plane, or by mesh-init in the split layout), gets its proxy's
configuration from the Consul servers over gRPC and runs Envoy. There is no
Envoy here; the data plane that exists is `consul connect proxy` (mTLS with
leaf certificates from Consul's CA, intentions checked on every inbound
connection). This program:

  1. reads the file: consul.addresses, consul.tls (CA file, server name),
     consul.credentials, proxy.id, proxy.nodeName, envoy.readyBindAddress/Port;
  2. gets an ACL token: `static` -> that token; `login` -> logs in itself
     with the bearer token (POST /v1/acl/login, the auth method, meta), as
     consul-dataplane does, and logs out when it exits;
  3. reads the proxy's registration from the catalog with that token
     (GET /v1/catalog/node-services/<node>), through Consul's HTTP API on the
     default port (8501 with TLS, 8500 without): the stand-in speaks HTTP
     where consul-dataplane speaks gRPC on consul.grpcPort;
  4. runs `consul connect proxy` in flags mode with exactly that
     registration (-service, -listen <Address>:<Port>, -service-addr,
     -upstream <name>:<bind address>:<bind port>), forwarding every signal
     to it, and answers TCP on the readiness address once the public
     listener accepts connections (Envoy's ready listener, which the task
     definition's net-dial health check dials);
  5. exits with the proxy's exit status, after the logout.

A gateway (the registration's Kind is mesh-, terminating- or api-gateway):
Consul's built-in proxy cannot be one, so no gateway traffic is proxied.
What the stand-in still does is the dataplane's part towards the task and
Consul: steps 1-3 as above (log in with the login credentials, find the
registration), then it answers TCP on the readiness address at once (the
task definition's net-dial health check, which health-sync turns into the
gateway's Consul check) until SIGTERM/SIGINT, and exits 0 after the logout.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request


def log(msg: str) -> None:
    print(f"dataplane: {msg}", flush=True)


class Consul:
    def __init__(self, cfg: dict) -> None:
        c = cfg.get("consul") or {}
        hosts = c.get("addresses") or ""
        if not hosts or hosts.startswith("exec="):
            raise ValueError(f"consul.addresses {hosts!r}: the stand-in needs a host name or address")
        tls = c.get("tls") or {}
        self.tls = not tls.get("disabled", False)
        self.ca_file = tls.get("caCertsPath") or None
        self.server_name = tls.get("tlsServerName") or None
        port = 8501 if self.tls else 8500
        self.base = f"{'https' if self.tls else 'http'}://{hosts}:{port}"
        self.ctx = None
        if self.tls:
            self.ctx = ssl.create_default_context(cafile=self.ca_file)
        self.token = ""

    def call(self, method: str, path: str, body: dict | None = None, token: str | None = None) -> object:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        tok = self.token if token is None else token
        if tok:
            req.add_header("X-Consul-Token", tok)
        with urllib.request.urlopen(req, timeout=5, context=self.ctx) as r:
            raw = r.read()
        return json.loads(raw) if raw else None


def login(consul: Consul, creds: dict) -> str:
    body = {"AuthMethod": creds.get("authMethod"), "BearerToken": creds.get("bearerToken")}
    if creds.get("meta"):
        body["Meta"] = creds["meta"]
    q = []
    if creds.get("datacenter"):
        q.append("dc=" + urllib.parse.quote(creds["datacenter"]))
    if creds.get("namespace"):
        q.append("ns=" + urllib.parse.quote(creds["namespace"]))
    out = consul.call("POST", "/v1/acl/login" + ("?" + "&".join(q) if q else ""), body, token="")
    return out["SecretID"]


def fetch_registration(consul: Consul, node: str, proxy_id: str) -> dict:
    flt = urllib.parse.quote(f'ID == "{proxy_id}"')
    body = consul.call("GET", f"/v1/catalog/node-services/{urllib.parse.quote(node, safe='')}?filter={flt}")
    for svc in (body or {}).get("Services") or []:
        if svc.get("ID") == proxy_id:
            return svc
    raise LookupError(f"proxy {proxy_id} is not registered on node {node}")


GATEWAY_KINDS = ("mesh-gateway", "terminating-gateway", "api-gateway")


def proxy_argv(consul_bin: str, consul: Consul, reg: dict) -> list[str]:
    if reg.get("Kind") != "connect-proxy":
        raise ValueError(f"{reg.get('ID')} is a {reg.get('Kind')!r}, not a connect-proxy "
                         "(gateways are not supported by the built-in proxy)")
    p = reg.get("Proxy") or {}
    address = reg.get("Address") or "127.0.0.1"
    argv = [consul_bin, "connect", "proxy", "-http-addr", consul.base, "-log-level", "INFO",
            "-service", p["DestinationServiceName"]]
    if consul.ca_file:
        argv += ["-ca-file", consul.ca_file]
    if consul.server_name:
        argv += ["-tls-server-name", consul.server_name]
    if reg.get("Port"):
        local = p.get("LocalServiceAddress") or "127.0.0.1"
        argv += ["-listen", f"{address}:{reg['Port']}",
                 "-service-addr", f"{local}:{p.get('LocalServicePort')}"]
    for up in p.get("Upstreams") or []:
        if up.get("DestinationType", "service") not in ("service", ""):
            log(f"skipping upstream {up}: only service upstreams are supported")
            continue
        bind = up.get("LocalBindAddress") or "127.0.0.1"
        argv += ["-upstream", f"{up['DestinationName']}:{bind}:{up['LocalBindPort']}"]
    return argv


def serve_readiness(public: tuple[str, int] | None, ready: tuple[str, int], stop: threading.Event) -> None:
    """Envoy's ready listener: opens once the public listener accepts."""
    while public and not stop.is_set():
        try:
            socket.create_connection(public, timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    if stop.is_set():
        return
    srv = socket.create_server(ready, reuse_port=False)
    srv.settimeout(0.2)
    log(f"ready on {ready[0]}:{ready[1]}")
    while not stop.is_set():
        try:
            conn, _ = srv.accept()
            conn.close()
        except (TimeoutError, OSError):
            continue
    srv.close()


def run_gateway(reg: dict, envoy: dict) -> int:
    """A gateway without a data plane: readiness only, until told to stop."""
    log(f"{reg.get('Kind')} {reg.get('ID')} at {reg.get('Address')}:{reg.get('Port')}: "
        "gateway traffic is not proxied in the sandbox (the built-in proxy cannot be a gateway)")
    stop = threading.Event()

    def on_signal(signum, frame):
        log(f"signal {signum}: stopping")
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, on_signal)
    ready = None
    if envoy.get("readyBindPort"):
        ready = threading.Thread(target=serve_readiness, daemon=True,
                                 args=(None, (envoy.get("readyBindAddress") or "127.0.0.1",
                                              int(envoy["readyBindPort"])), stop))
        ready.start()
    while not stop.wait(0.5):
        pass
    if ready:
        ready.join(2)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description="consul-dataplane stand-in (built-in Connect proxy)")
    ap.add_argument("-config-file", required=True)
    ap.add_argument("-consul", default=shutil.which("consul") or "consul")
    ap.add_argument("-timeout", type=float, default=60.0)
    args = ap.parse_args()

    with open(args.config_file) as f:
        cfg = json.load(f)
    proxy_id = cfg["proxy"]["id"]
    node = cfg["proxy"]["nodeName"]
    consul = Consul(cfg)
    creds = (cfg.get("consul") or {}).get("credentials") or {}
    logged_in = False
    if creds.get("type") == "login":
        consul.token = login(consul, creds.get("login") or {})
        logged_in = True
        log(f"logged in with auth method {creds['login'].get('authMethod')}")
    elif creds.get("type") == "static":
        consul.token = (creds.get("static") or {}).get("token", "")
    elif creds:
        raise ValueError(f"consul.credentials.type {creds.get('type')!r} is not supported")

    code = 1
    try:
        deadline = time.monotonic() + args.timeout
        while True:
            try:
                reg = fetch_registration(consul, node, proxy_id)
                break
            except (urllib.error.URLError, OSError, LookupError) as e:
                if time.monotonic() > deadline:
                    log(f"giving up: {e}")
                    return 1
                log(f"waiting for the registration of {proxy_id}: {e}")
                time.sleep(0.5)
        envoy = cfg.get("envoy") or {}
        if reg.get("Kind") in GATEWAY_KINDS:
            return run_gateway(reg, envoy)
        argv = proxy_argv(args.consul, consul, reg)
        log(f"proxy {proxy_id} on node {node}")
        log("run " + " ".join(argv))
        env = dict(os.environ, CONSUL_HTTP_TOKEN=consul.token)  # not in argv: ps shows argv
        child = subprocess.Popen(argv, env=env)

        def forward(signum, frame):
            if child.poll() is None:
                child.send_signal(signum)

        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
            signal.signal(sig, forward)
        stop = threading.Event()
        if envoy.get("readyBindPort"):
            public = (reg["Address"], int(reg["Port"])) if reg.get("Port") and reg.get("Address") else None
            threading.Thread(target=serve_readiness, daemon=True,
                             args=(public, (envoy.get("readyBindAddress") or "127.0.0.1",
                                            int(envoy["readyBindPort"])), stop)).start()
        code = child.wait()
        stop.set()
        log(f"proxy exited with {code}")
        return code if code >= 0 else 128 - code
    finally:
        if logged_in:
            try:
                consul.call("POST", "/v1/acl/logout")
                log("logged out")
            except (urllib.error.URLError, OSError) as e:
                log(f"logout failed: {e}")


if __name__ == "__main__":
    sys.exit(main())
