#!/usr/bin/env python3
"""The sandbox's `consul-dataplane`: Consul's built-in Connect proxy,
configured from what the control-plane wrote and registered.

In a real task, consul-dataplane reads <bootstrapDir>/consul-dataplane.json
(written by `consul-ecs control-plane`), fetches its proxy registration from
the Consul servers and runs Envoy with it. There is no Envoy here; the real
data plane that exists is `consul connect proxy` (mTLS with leaf
certificates from Consul's CA, intentions checked on every inbound
connection through /v1/agent/connect/authorize).

`consul connect proxy -sidecar-for/-proxy-id` only reads proxies registered
with the *local agent* (/v1/agent/services), while consul-ecs registers
through the catalog on the cluster's synthetic node. So this program does
what consul-dataplane does:

  1. read consul-dataplane.json: proxy.id, proxy.nodeName (the synthetic
     node), the proxy's ACL token;
  2. read that proxy's registration from the catalog
     (GET /v1/catalog/node-services/<node>), with that token;
  3. exec `consul connect proxy` in flags mode with exactly that
     registration: -service <DestinationServiceName>
     -listen <Address>:<Port> -service-addr <LocalServiceAddress>:<LocalServicePort>
     -upstream <DestinationName>:<LocalBindAddress>:<LocalBindPort> ...

exec keeps the PID, so `consul-ecs envoy-entrypoint` supervises and signals
the proxy itself.

Usage: dataplane.py -config-file <bootstrapDir>/consul-dataplane.json
                    -http-addr 127.0.0.1:8500 [-consul /path/to/consul]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def log(msg: str) -> None:
    print(f"dataplane: {msg}", flush=True)


def fetch_registration(http_addr: str, node: str, proxy_id: str, token: str) -> dict:
    flt = urllib.parse.quote('ID == "%s"' % proxy_id)
    url = f"http://{http_addr}/v1/catalog/node-services/{urllib.parse.quote(node, safe='')}?filter={flt}"
    req = urllib.request.Request(url, headers={"X-Consul-Token": token})
    with urllib.request.urlopen(req, timeout=5) as r:
        body = json.load(r)
    for svc in (body or {}).get("Services") or []:
        if svc.get("ID") == proxy_id:
            return svc
    raise LookupError(f"proxy {proxy_id} is not registered on node {node}")


def proxy_argv(consul: str, http_addr: str, token_file: str | None, token: str,
               reg: dict) -> list[str]:
    if reg.get("Kind") != "connect-proxy":
        raise ValueError(f"{reg.get('ID')} is a {reg.get('Kind')!r}, not a connect-proxy "
                         "(gateways are not supported by the built-in proxy)")
    p = reg.get("Proxy") or {}
    address = reg.get("Address") or "127.0.0.1"
    argv = [consul, "connect", "proxy", "-http-addr", http_addr, "-log-level", "INFO",
            "-service", p["DestinationServiceName"]]
    argv += ["-token-file", token_file] if token_file else ["-token", token]
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


def main() -> int:
    ap = argparse.ArgumentParser(description="consul-dataplane stand-in (built-in Connect proxy)")
    ap.add_argument("-config-file", required=True)
    ap.add_argument("-http-addr", required=True)
    ap.add_argument("-consul", default=shutil.which("consul") or "consul")
    ap.add_argument("-timeout", type=float, default=60.0)
    args = ap.parse_args()

    with open(args.config_file) as f:
        cfg = json.load(f)
    proxy_id = cfg["proxy"]["id"]
    node = cfg["proxy"]["nodeName"]
    token = (((cfg.get("consul") or {}).get("credentials") or {}).get("static") or {}).get("token", "")
    token_file = os.path.join(os.path.dirname(os.path.abspath(args.config_file)), "service-token")
    if not os.path.exists(token_file):
        token_file = None

    deadline = time.monotonic() + args.timeout
    while True:
        try:
            reg = fetch_registration(args.http_addr, node, proxy_id, token)
            break
        except (urllib.error.URLError, OSError, LookupError) as e:
            if time.monotonic() > deadline:
                log(f"giving up: {e}")
                return 1
            log(f"waiting for the registration of {proxy_id}: {e}")
            time.sleep(0.5)

    argv = proxy_argv(args.consul, args.http_addr, token_file, token, reg)
    shown = [a if i == 0 or argv[i - 1] != "-token" else "<token>" for i, a in enumerate(argv)]
    log(f"proxy {proxy_id} on node {node}")
    log("exec " + " ".join(shown))
    os.execv(argv[0], argv)
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main())
