#!/usr/bin/env python3
"""An executable Python model of `consul-ecs control-plane`, written only to
check the end-to-end suite itself: the tests must pass against a correct
implementation, and this one is small enough to reason about.

    CONSUL_ECS_BIN=tests/e2e/model_control_plane.py scripts/test.sh --e2e-only

It is NOT the product (that is the C++ binary) and it follows the same
contract the tests describe: config from CONSUL_ECS_CONFIG_JSON validated
against the reference schema, the aws-iam login with the test bed's oracle
signer, registration with SkipNodeUpdate, consul-dataplane.json, health sync
every second, and the SIGTERM sequence. It needs the test venv (requests,
botocore, jsonschema).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    import botocore  # noqa: F401
    import jsonschema  # noqa: F401
    import requests

    from consul_ecs_testbed import bed as tb
except ImportError:  # run by a python without the test venv: use the checkout's
    _py = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".venv", "bin", "python")
    os.execv(_py, [_py, os.path.abspath(__file__)] + sys.argv[1:])

SCHEMA = os.path.join(tb.repo_root(), "src", "config", "schema", "schema-0.7.3.json")
DATAPLANE = "consul-dataplane"
stop = threading.Event()
ready = threading.Event()


def log(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} [model] {msg}", flush=True)


def load_config() -> dict:
    raw = os.environ.get("CONSUL_ECS_CONFIG_JSON")
    if raw is None:
        sys.exit(fail("CONSUL_ECS_CONFIG_JSON is not set"))
    try:
        cfg = json.loads(raw)
    except ValueError as e:
        sys.exit(fail(f"invalid config: not JSON: {e}"))
    import jsonschema
    with open(SCHEMA) as f:
        schema = json.load(f)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(cfg), key=lambda e: list(e.path))
    if errors:
        for e in errors:
            path = ".".join(str(p) for p in e.path)
            if e.validator == "additionalProperties":
                extra = [k for k in e.instance if k not in e.schema.get("properties", {})]
                path = ".".join(filter(None, [path] + extra))
            if e.validator == "required":
                path = ".".join(filter(None, [path, e.message.split("'")[1]]))
            print(f"invalid config: {path}: {e.message}", file=sys.stderr)
        sys.exit(1)
    return cfg


def fail(msg: str) -> int:
    print(msg, file=sys.stderr)
    return 1


def health_server() -> None:
    addr = os.environ.get("CONSUL_ECS_HEALTH_LISTEN_ADDR", "127.0.0.1:10000")
    host, port = addr.rsplit(":", 1)

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            code = 200 if ready.is_set() else 500
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

    srv = ThreadingHTTPServer((host, int(port)), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()


def task_meta() -> dict:
    return requests.get(os.environ["ECS_CONTAINER_METADATA_URI_V4"] + "/task", timeout=5).json()


def cluster_arn(meta: dict) -> str:
    c = meta["Cluster"]
    if c.startswith("arn:"):
        return c
    parts = meta["TaskARN"].split(":")
    return f"arn:aws:ecs:{parts[3]}:{parts[4]}:cluster/{c}"


def sleep(s: float) -> bool:
    """False when SIGTERM arrived."""
    return not stop.wait(s)


def main() -> int:
    cfg = load_config()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    health_server()
    bdir = cfg["bootstrapDir"]
    servers = cfg["consulServers"]
    http = f"http://{servers['hosts']}:{(servers.get('http') or {}).get('port') or 8501}"
    grpc_port = (servers.get("grpc") or {}).get("port") or 8503
    login = cfg.get("consulLogin") or {}
    svc_cfg = cfg.get("service") or {}
    containers = list(cfg.get("healthSyncContainers") or [])

    meta = task_meta()
    task_arn = meta["TaskARN"]
    task_id = task_arn.rsplit("/", 1)[1]
    node = cluster_arn(meta)
    ip = meta["Containers"][0]["Networks"][0]["IPv4Addresses"][0]
    name = svc_cfg.get("name") or meta["Family"].lower()
    sid, pid = f"{name}-{task_id}", f"{name}-{task_id}-sidecar-proxy"

    # Login, retried until it works or SIGTERM.
    token = None
    while token is None:
        try:
            host = os.environ.get("CONSUL_ECS_CONTAINER_CREDENTIALS_HOST", "169.254.170.2")
            c = requests.get(f"http://{host}{os.environ['AWS_CONTAINER_CREDENTIALS_RELATIVE_URI']}",
                             timeout=5)
            c.raise_for_status()
            c = c.json()
            creds = tb.AwsCreds(c["AccessKeyId"], c["SecretAccessKey"], c.get("Token"))
            bearer = tb.build_login_bearer_token(creds, login["stsEndpoint"], login.get("region") or "us-east-1",
                                                 server_id=login.get("serverIdHeaderValue"))
            lmeta = dict(login.get("meta") or {})
            lmeta.update({"consul.hashicorp.com/task-id": task_id, "consul.hashicorp.com/cluster": node})
            r = requests.post(f"{http}/v1/acl/login", json={
                "AuthMethod": login.get("method") or tb.AUTH_METHOD_NAME,
                "BearerToken": bearer, "Meta": lmeta}, timeout=10)
            if r.status_code != 200:
                raise RuntimeError(f"login failed: {r.status_code} {r.text.strip()}")
            token = r.json()["SecretID"]
        except Exception as e:
            log(f"login: {e}")
            if not sleep(1):
                return 0
    fd = os.open(os.path.join(bdir, "service-token"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, token.encode())
    os.close(fd)
    H = {"X-Consul-Token": token}

    svc_meta = {"task-id": task_id, "task-arn": task_arn, "source": "consul-ecs"}
    svc_meta.update(svc_cfg.get("meta") or {})

    def check(cid, service_id, status="critical"):
        return {"Node": node, "CheckID": cid, "Name": "Consul ECS health check synced",
                "Type": "consul-ecs-health-check", "ServiceID": service_id, "Status": status,
                "Output": ""}

    checks = {f"{sid}-{c}": check(f"{sid}-{c}", sid) for c in containers}
    checks[f"{sid}-{DATAPLANE}"] = check(f"{sid}-{DATAPLANE}", sid)
    checks[f"{pid}-{DATAPLANE}"] = check(f"{pid}-{DATAPLANE}", pid)
    svc = {"ID": sid, "Service": name, "Port": svc_cfg.get("port", 0), "Address": ip,
           "Tags": svc_cfg.get("tags") or [], "Meta": svc_meta}
    proxy_cfg = cfg.get("proxy") or {}
    ups = [{"DestinationType": "service", "DestinationName": u["destinationName"],
            "LocalBindPort": u["localBindPort"]} for u in proxy_cfg.get("upstreams") or []]
    proxy = {"ID": pid, "Service": f"{name}-sidecar-proxy", "Kind": "connect-proxy",
             "Port": proxy_cfg.get("publicListenerPort") or 20000, "Address": ip,
             "Tags": svc["Tags"], "Meta": svc_meta,
             "Proxy": {"DestinationServiceName": name, "DestinationServiceID": sid,
                       "LocalServicePort": svc["Port"], "Upstreams": ups}}

    def register(service, ids):
        body = {"Node": node, "Address": ip, "SkipNodeUpdate": True, "Service": service,
                "Checks": [checks[i] for i in ids]}
        r = requests.put(f"{http}/v1/catalog/register", json=body, headers=H, timeout=10)
        if r.status_code != 200:
            raise RuntimeError(f"register {service['ID']}: {r.status_code} {r.text.strip()}")

    for service, ids in ((svc, [i for i in checks if not i.startswith(pid)]),
                         (proxy, [f"{pid}-{DATAPLANE}"])):
        while True:
            try:
                register(service, ids)
                break
            except Exception as e:
                log(str(e))
                if not sleep(1):
                    return 0

    me = os.path.abspath(sys.argv[0])
    shutil.copyfile(me, os.path.join(bdir, "consul-ecs"))
    os.chmod(os.path.join(bdir, "consul-ecs"), 0o755)
    with open(os.path.join(bdir, "consul-dataplane.json"), "w") as f:
        json.dump({"consul": {"addresses": servers["hosts"], "grpcPort": grpc_port,
                              "serverWatchDisabled": False, "tls": {"disabled": True},
                              "credentials": {"type": "static", "static": {"token": token}}},
                   "proxy": {"nodeName": node, "id": pid, "namespace": "", "partition": ""},
                   "xdsServer": {"bindAddress": "127.0.0.1"},
                   "envoy": {"readyBindAddress": "", "readyBindPort": 22000},
                   "logging": {"logLevel": "info"}}, f)
    ready.set()
    log("ready")

    def set_status(ids_status):
        body = {"Node": node, "SkipNodeUpdate": True,
                "Checks": [dict(checks[i], Status=s) for i, s in ids_status.items()]}
        requests.put(f"{http}/v1/catalog/register", json=body, headers=H, timeout=10)

    def ecs(meta):
        by = {c["Name"]: c for c in meta["Containers"]}
        st = {}
        for c in containers + [DATAPLANE]:
            h = (by.get(c) or {}).get("Health", {}).get("status")
            st[c] = "passing" if h == "HEALTHY" else "critical"
        return st

    while sleep(1):
        try:
            st = ecs(task_meta())
            upd = {f"{sid}-{c}": st[c] for c in containers}
            upd[f"{sid}-{DATAPLANE}"] = upd[f"{pid}-{DATAPLANE}"] = st[DATAPLANE]
            set_status(upd)
        except Exception as e:
            log(f"sync: {e}")

    log("SIGTERM")
    set_status({i: "critical" for i in checks})
    deadline = time.monotonic() + 120  # a model: never hang for ever
    while time.monotonic() < deadline:
        try:
            by = {c["Name"]: c for c in task_meta()["Containers"]}
            if (by.get(DATAPLANE) or {}).get("KnownStatus") in (None, "STOPPED"):
                break
        except Exception as e:
            log(f"meta: {e}")
        time.sleep(1)
    for i in (sid, pid):
        requests.put(f"{http}/v1/catalog/deregister", json={"Node": node, "ServiceID": i},
                     headers=H, timeout=10)
    requests.post(f"{http}/v1/acl/logout", headers=H, timeout=10)
    log("done")
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] != "control-plane":
        sys.exit(fail("usage: model_control_plane.py control-plane"))
    sys.exit(main())
