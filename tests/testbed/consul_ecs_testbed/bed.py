"""The real test bed: a real Consul server, moto (AWS IAM/STS) in server mode,
and the pure-Python aws-iam login that serves as the oracle for the C++ signer.

Used by tests/e2e/conftest.py (pytest fixtures), the sandbox and the
benchmarks; `python -m consul_ecs_testbed up` runs it in the foreground for a
local demo. Nothing here imports pytest.
"""
from __future__ import annotations

import base64
import ipaddress
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

ACCOUNT_ID = "123456789012"  # moto's default account
REGION = "us-east-1"
AUTH_METHOD_NAME = "iam-ecs-service-token"  # the default of consulLogin.method
SERVICE_NAME_TAG = "consul.hashicorp.com.service-name"
TRUSTED_ROLE_PATH = "/consul-ecs/"
BOUND_ARN_PATTERN = f"arn:aws:iam::{ACCOUNT_ID}:role/consul-ecs/*"

# Header names the Consul aws-iam auth method uses (agent/consul/authmethod/awsauth).
HDR_SERVER_ID = "X-Consul-IAM-ServerID"
HDR_ENTITY_METHOD = "X-Consul-IAM-GetEntity-Method"
HDR_ENTITY_URL = "X-Consul-IAM-GetEntity-URL"
HDR_ENTITY_HEADERS = "X-Consul-IAM-GetEntity-Headers"
HDR_ENTITY_BODY = "X-Consul-IAM-GetEntity-Body"

STS_BODY = "Action=GetCallerIdentity&Version=2011-06-15"
# aws-sdk-go v1 (used by the reference through consul-awsauth) builds the
# iam:GetRole request against the global IAM endpoint, whatever stsEndpoint is;
# the Consul server replays it to its configured IAMEndpoint with this Host.
IAM_GLOBAL_URL = "https://iam.amazonaws.com/"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"


def cache_dir() -> str:
    return os.environ.get("CONSUL_ECS_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "consul-ecs-cpp")


def repo_root() -> str:
    """The checkout this package is installed from (editable, by
    scripts/setup.sh): tests/testbed/consul_ecs_testbed/ is three levels down."""
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    if not os.path.isfile(os.path.join(root, "scripts", "setup.sh")):
        raise RuntimeError(f"consul_ecs_testbed at {os.path.dirname(__file__)} is not inside a "
                           "consul-ecs checkout: install it editable (scripts/setup.sh)")
    return root


def worker_index() -> tuple[int, int]:
    """(index, count) of this pytest-xdist worker; (0, 1) outside xdist."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if name.startswith("gw") and name[2:].isdigit():
        return int(name[2:]) % max(count, 1), max(count, 1)
    return 0, 1


_PORTS_LOW = 10000
_handed_out: set[int] = set()
_ports_lock = threading.Lock()


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("0.0.0.0", port))  # any address: clashes with a listener on any of them
        except OSError:
            return False
    return True


def free_port() -> int:
    """A TCP port free on every address right now, for a server the bed starts.

    Picked below the kernel's ephemeral range (ip_local_port_range), so no
    outgoing connection can take it between now and the server's bind (with
    the OS picking, one from the ephemeral range could); from this pytest-xdist
    worker's own slice of it, so two workers never pick the same; at random
    within the slice and never twice in a process, so concurrent runs rarely
    meet."""
    high = _ephemeral_low()
    index, count = worker_index()
    size = max((high - _PORTS_LOW) // count, 1)
    lo = _PORTS_LOW + index * size
    with _ports_lock:
        for _ in range(4 * size):
            port = random.randrange(lo, lo + size)
            if port in _handed_out:
                continue
            if _port_is_free(port):
                _handed_out.add(port)
                return port
    raise RuntimeError(f"no free TCP port in {lo}-{lo + size - 1}")


def free_ports(n: int) -> list[int]:
    """n distinct free ports (free_port)."""
    return [free_port() for _ in range(n)]


def subnet_in_use(cidr: str) -> bool:
    """Whether any address or route of the host overlaps `cidr`."""
    net = ipaddress.ip_network(cidr)
    out = ""
    for what in (["route", "show", "table", "all"], ["addr", "show"]):
        out += subprocess.run(["ip", "-4", "-o", *what], capture_output=True, text=True).stdout
    for word in out.split():
        try:
            other = ipaddress.ip_network(word, strict=False)
        except ValueError:
            continue
        if other.version == 4 and other.prefixlen > 0 and other.overlaps(net):
            return True
    return False


def pick_subnet() -> str:
    """A random 10.150-199.x.0/24 that nothing on this host uses, x from this
    pytest-xdist worker's share of 0-255 (so two workers never pick the same)."""
    index, count = worker_index()
    size = max(256 // count, 1)
    for _ in range(50):
        cidr = f"10.{random.randint(150, 199)}.{index * size + random.randrange(size)}.0/24"
        if not subnet_in_use(cidr):
            return cidr
    raise RuntimeError("no free 10.150-199.x.0/24 subnet on this host")


def wait_until(pred: Callable[[], Any], timeout: float, interval: float = 0.1,
               what: str = "condition") -> Any:
    """Polls pred until it returns a truthy value; returns it. Raises
    TimeoutError naming `what` (and the last exception, if any) on timeout."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while True:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:
            last_exc = e
        if time.monotonic() >= deadline:
            msg = f"timed out after {timeout:.1f}s waiting for {what}"
            if last_exc is not None:
                msg += f" (last error: {last_exc!r})"
            raise TimeoutError(msg)
        time.sleep(interval)


def holds_for(pred: Callable[[], Any], duration: float, interval: float = 0.1,
              what: str = "condition") -> None:
    """Checks pred every `interval` for `duration` seconds (and once more at
    the end); raises AssertionError naming `what` the first time it is falsy.
    For what must stay true over a window (nothing flips back, nothing is
    written, the process keeps waiting), where a sleep and one look would
    miss a change in between."""
    deadline = time.monotonic() + duration
    while True:
        if not pred():
            raise AssertionError(f"no longer true after {duration - (deadline - time.monotonic()):.1f}s "
                                 f"of {duration:.1f}s: {what}")
        if time.monotonic() >= deadline:
            return
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


def wait_stable(value: Callable[[], Any], quiet: float, timeout: float, interval: float = 0.1,
                what: str = "value") -> Any:
    """Polls value() until it has not changed for `quiet` seconds; returns it.
    For "whatever was in flight has landed" (a counter of writes, a log),
    where a fixed sleep is too short on a loaded machine. Raises TimeoutError
    naming `what` if it keeps changing for `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = value()
    since = time.monotonic()
    while True:
        time.sleep(interval)
        now_value, now = value(), time.monotonic()
        if now_value != last:
            last, since = now_value, now
        elif now - since >= quiet:
            return last
        if now >= deadline:
            raise TimeoutError(f"{what} still changing after {timeout:.1f}s (last {last!r})")


def stop_process(proc: subprocess.Popen | None, timeout: float = 10.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


# --------------------------------------------------------------------------
# Consul
# --------------------------------------------------------------------------

def consul_binary() -> str:
    """$CONSUL_BIN, else the binary scripts/build-consul.sh caches, else PATH."""
    env = os.environ.get("CONSUL_BIN")
    if env:
        return env
    d = cache_dir()
    if os.path.isdir(d):
        for name in sorted(os.listdir(d), reverse=True):
            cand = os.path.join(d, name, "consul")
            if name.startswith("consul-") and os.access(cand, os.X_OK):
                return cand
    found = shutil.which("consul")
    if found:
        return found
    raise FileNotFoundError(
        "no Consul binary: run scripts/build-consul.sh or set CONSUL_BIN")


def plain_consul_servers(http_port: int, grpc_port: int) -> dict:
    """The `consulServers` config section for a Consul on loopback without TLS."""
    return {
        "hosts": "127.0.0.1",
        "http": {"port": http_port, "https": False},
        "grpc": {"port": grpc_port},
        "defaults": {"tls": False},
    }


class LoggedProcess:
    """A server process of the bed whose output goes to `log_path`."""
    log_path: str
    proc: subprocess.Popen | None
    _log: Any

    def log_tail(self, n: int = 60) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode(errors="replace")
        except OSError:
            return "<no log>"

    def stop(self) -> None:
        stop_process(self.proc)
        if self._log:
            self._log.close()
            self._log = None


class ConsulServer(LoggedProcess):
    """`consul agent -dev` on free ports with ACLs on (default deny) and a
    management token made up by the test bed."""

    def __init__(self, workdir: str, binary: str | None = None,
                 management_token: str | None = None, node_name: str = "consul-server",
                 http_port: int | None = None, host: str = "127.0.0.1") -> None:
        self.binary = binary or consul_binary()
        self.host = host  # client and bind address (a container network's gateway, say)
        self.workdir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.token = management_token or str(uuid.uuid4())
        self.node_name = node_name
        ports = free_ports(6)
        self.http_port = http_port or ports[0]
        self.grpc_port, self.dns_port, self.serf_lan_port, self.serf_wan_port, self.server_port = ports[1:]
        self.proc: subprocess.Popen | None = None
        self.log_path = os.path.join(workdir, "consul.log")
        self._log = None

    @property
    def http_addr(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    def config(self) -> dict:
        return {
            "node_name": self.node_name,
            "datacenter": "dc1",
            "data_dir": os.path.join(self.workdir, "data"),
            "log_level": "DEBUG",
            "acl": {
                "enabled": True,
                "default_policy": "deny",
                "enable_token_persistence": True,
                "tokens": {
                    "initial_management": self.token,
                    # The dev agent registers itself in the catalog; with
                    # default deny it needs a token for that.
                    "agent": self.token,
                },
            },
            "connect": {"enabled": True},
            "ports": {
                "http": self.http_port,
                "https": -1,
                "grpc": self.grpc_port,
                "grpc_tls": -1,
                "dns": self.dns_port,
                "serf_lan": self.serf_lan_port,
                "serf_wan": self.serf_wan_port,
                "server": self.server_port,
            },
        }

    def start(self, wait: bool = True, timeout: float = 60.0) -> ConsulServer:
        cfg_path = os.path.join(self.workdir, "consul.json")
        with open(cfg_path, "w") as f:
            json.dump(self.config(), f, indent=2)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.binary, "agent", "-dev", "-client", self.host, "-bind", self.host,
             "-config-file", cfg_path],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(
                    f"consul exited with {self.proc.returncode}; log:\n{self.log_tail()}")
            r = requests.get(f"{self.http_addr}/v1/status/leader", timeout=2)
            if r.status_code != 200 or r.json() in ("", None):
                return False
            # ACL bootstrap of the initial management token happens after
            # leadership; it is usable once token/self answers 200.
            r = self.get("/v1/acl/token/self")
            return r.status_code == 200

        try:
            wait_until(ready, timeout, 0.2, "consul leader and ACL bootstrap")
        except TimeoutError as e:
            raise TimeoutError(f"{e}\nconsul log:\n{self.log_tail()}") from None

    # -- HTTP API (management token unless told otherwise) --
    def request(self, method: str, path: str, token: str | None = None,
                **kw: Any) -> requests.Response:
        headers = kw.pop("headers", {})
        tok = self.token if token is None else token
        if tok:
            headers["X-Consul-Token"] = tok
        kw.setdefault("timeout", 10)
        return requests.request(method, f"{self.http_addr}{path}", headers=headers, **kw)

    def get(self, path: str, token: str | None = None, **kw: Any) -> requests.Response:
        return self.request("GET", path, token=token, **kw)

    def put(self, path: str, body: Any = None, token: str | None = None,
            **kw: Any) -> requests.Response:
        return self.request("PUT", path, token=token, json=body, **kw)

    def must(self, r: requests.Response) -> Any:
        if r.status_code != 200:
            raise AssertionError(f"{r.request.method} {r.url} -> {r.status_code}: {r.text}")
        return r.json() if r.content else None

    # -- catalog helpers --
    def catalog_services(self) -> dict:
        return self.must(self.get("/v1/catalog/services"))

    def catalog_service(self, name: str) -> list[dict]:
        return self.must(self.get(f"/v1/catalog/service/{name}"))

    def catalog_node(self, node: str) -> dict | None:
        r = self.get(f"/v1/catalog/node/{requests.utils.quote(node, safe='')}")
        if r.status_code == 404:
            return None
        return self.must(r)

    def node_checks(self, node: str) -> list[dict]:
        return self.must(self.get(f"/v1/health/node/{requests.utils.quote(node, safe='')}"))

    def checks_by_id(self, node: str) -> dict[str, dict]:
        return {c["CheckID"]: c for c in self.node_checks(node)}

    def service_instance(self, node: str, service_id: str) -> dict | None:
        n = self.catalog_node(node)
        if not n or not n.get("Services"):
            return None
        return n["Services"].get(service_id)

    def login_tokens(self, task_id: str) -> list[dict]:
        """The tokens of the aws-iam auth method logged in for a task, by the
        login meta Consul writes into their description."""
        prefix = "token created via login: "
        tokens = self.must(self.get(f"/v1/acl/tokens?authmethod={AUTH_METHOD_NAME}"))
        return [t for t in tokens if t.get("Description", "").startswith(prefix) and
                json.loads(t["Description"][len(prefix):]).get("consul.hashicorp.com/task-id") == task_id]

    def token_self(self, secret: str) -> requests.Response:
        return self.get("/v1/acl/token/self", token=secret)

    def login(self, bearer_token: str, method: str = AUTH_METHOD_NAME,
              meta: dict | None = None) -> requests.Response:
        body = {"AuthMethod": method, "BearerToken": bearer_token}
        if meta:
            body["Meta"] = meta
        return self.request("POST", "/v1/acl/login", token="", json=body)

    def logout(self, secret: str) -> requests.Response:
        return self.request("POST", "/v1/acl/logout", token=secret)

    def version(self) -> str:
        r = self.must(self.get("/v1/agent/self"))
        return r["Config"]["Version"]


class TlsConsulServer(ConsulServer):
    """The test bed's Consul plus an HTTPS listener with a server certificate
    made by `consul tls` (SANs server.dc1.consul, localhost, 127.0.0.1 and
    any `dns_names`)."""

    def __init__(self, workdir: str, node_name: str = "consul-tls", host: str = "127.0.0.1",
                 dns_names: tuple[str, ...] = ()) -> None:
        super().__init__(workdir, node_name=node_name, host=host)
        self.https_port = free_port()
        extra = [a for name in dns_names for a in ("-additional-dnsname", name)]
        for args in (["ca", "create"], ["cert", "create", "-server", "-dc", "dc1", *extra]):
            subprocess.run([self.binary, "tls", *args], cwd=workdir, check=True, capture_output=True)
        self.ca_file = os.path.join(workdir, "consul-agent-ca.pem")

    def config(self) -> dict:
        cfg = super().config()
        cfg["ports"]["https"] = self.https_port
        cfg["tls"] = {"defaults": {
            "ca_file": self.ca_file,
            "cert_file": os.path.join(self.workdir, "dc1-server-consul-0.pem"),
            "key_file": os.path.join(self.workdir, "dc1-server-consul-0-key.pem"),
            "verify_incoming": False,
        }}
        return cfg


def setup_auth_method(consul: ConsulServer, moto_url: str,
                      name: str = AUTH_METHOD_NAME,
                      server_id_header_value: str | None = None,
                      binding_rule: bool = True) -> None:
    """Creates the aws-iam auth method and (unless binding_rule=False, e.g.
    when the consul-ecs controller is to create it) the service binding rule
    the way the consul-ecs docs describe, pointing STS and IAM at moto.

    Consul 1.15's aws-iam config has no STSRegion field (unknown keys are
    rejected); plain-http STSEndpoint/IAMEndpoint are accepted as they are."""
    cfg: dict[str, Any] = {
        "BoundIAMPrincipalARNs": [BOUND_ARN_PATTERN],
        "EnableIAMEntityDetails": True,
        "IAMEntityTags": [SERVICE_NAME_TAG],
        "STSEndpoint": moto_url,
        "IAMEndpoint": moto_url,
        # moto answers in well under a second; Consul's default is retries
        # with backoff, which would only slow down the negative tests.
        "MaxRetries": 0,
    }
    if server_id_header_value:
        cfg["ServerIDHeaderValue"] = server_id_header_value
    consul.must(consul.put("/v1/acl/auth-method", {
        "Name": name,
        "Type": "aws-iam",
        "Description": "AWS IAM auth method for ECS tasks (test bed)",
        "Config": cfg,
    }))
    if not binding_rule:
        return
    consul.must(consul.put("/v1/acl/binding-rule", {
        "AuthMethod": name,
        "BindType": "service",
        "BindName": "${entity_tags." + SERVICE_NAME_TAG + "}",
        "Description": "service identity from the task role's tag",
    }))


def ensure_auth_method(consul: ConsulServer, moto_url: str, name: str,
                       server_id_header_value: str | None = None) -> None:
    """setup_auth_method unless a method of that name exists."""
    if consul.get(f"/v1/acl/auth-method/{name}").status_code != 200:
        setup_auth_method(consul, moto_url, name=name,
                          server_id_header_value=server_id_header_value)


# --------------------------------------------------------------------------
# moto (IAM + STS)
# --------------------------------------------------------------------------

class MotoServer(LoggedProcess):
    """moto in server mode as a subprocess (consul_ecs_testbed.moto_server:
    moto with the bed's fixes). Request authentication (SigV4
    signature check + IAM policy evaluation) is switched on with
    enable_auth(): from then on a request with a wrong signature, an unknown
    key or a missing permission gets a 403, as real AWS would answer."""

    def __init__(self, workdir: str, port: int | None = None, host: str = "127.0.0.1",
                 env: dict[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.host = host  # bind address (a bridge's, for the sandbox)
        self.extra_env = env or {}
        self.workdir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.log_path = os.path.join(workdir, "moto.log")
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 60.0) -> MotoServer:
        env = dict(os.environ)
        # Auth off during set-up; enable_auth() turns it on over the moto API.
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = "inf"
        env.setdefault("MOTO_ALLOW_NONEXISTENT_REGION", "false")
        env.update(self.extra_env)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            # moto with the bed's fixes (moto_server.py), e.g. ListTasks' default
            [sys.executable, "-m", "consul_ecs_testbed.moto_server", "-H", self.host, "-p", str(self.port)],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, start_new_session=True)

        def up() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto exited with {self.proc.returncode}: {self.log_tail()}")
            return requests.get(f"{self.url}/moto-api/data.json", timeout=2).status_code == 200

        wait_until(up, timeout, 0.2, "moto server")
        return self

    def set_auth(self, on: bool) -> None:
        r = requests.post(f"{self.url}/moto-api/reset-auth",
                          data=b"0" if on else b"inf", timeout=5)
        r.raise_for_status()

    def enable_auth(self) -> None:
        self.set_auth(True)

    def disable_auth(self) -> None:
        self.set_auth(False)

    def log_tail(self, n: int = 40) -> str:
        return super().log_tail(n)

    def client(self, service: str, creds: AwsCreds | None = None):
        import boto3
        kw: dict[str, Any] = {}
        if creds is not None:
            kw = dict(aws_access_key_id=creds.access_key_id,
                      aws_secret_access_key=creds.secret_access_key,
                      aws_session_token=creds.session_token)
        else:
            kw = dict(aws_access_key_id="AKIAADMINSETUP00000", aws_secret_access_key="setup")
        return boto3.client(service, region_name=REGION, endpoint_url=self.url, **kw)


@dataclass
class AwsCreds:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None
    expiration: str | None = None
    role_arn: str | None = None


@dataclass
class AwsWorld:
    """What aws_setup() created in moto."""
    moto: MotoServer
    user_name: str
    user_creds: AwsCreds  # an IAM user (think: the ECS agent) allowed to assume the roles
    roles: dict[str, str] = field(default_factory=dict)  # role name -> role ARN

    def assume(self, role_name: str, session_name: str) -> AwsCreds:
        """sts:AssumeRole as the IAM user, like ECS does for a task role."""
        sts = self.moto.client("sts", self.user_creds)
        out = sts.assume_role(RoleArn=self.roles[role_name], RoleSessionName=session_name,
                              DurationSeconds=3600)
        c = out["Credentials"]
        return AwsCreds(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"],
                        c["Expiration"].strftime("%Y-%m-%dT%H:%M:%SZ"), self.roles[role_name])


def aws_setup(moto: MotoServer, roles: dict[str, tuple[str, dict[str, str]]]) -> AwsWorld:
    """Creates an IAM user with an access key and, per role name, a role
    (path, tags) that the user may assume. Each role may call iam:GetRole
    (the login with includeEntity needs it, as in a real deployment).
    Must run while moto's auth is off."""
    iam = moto.client("iam")
    user = "ecs-agent"
    iam.create_user(UserName=user)
    user_arn = f"arn:aws:iam::{ACCOUNT_ID}:user/{user}"
    key = iam.create_access_key(UserName=user)["AccessKey"]
    iam.put_user_policy(UserName=user, PolicyName="assume-task-roles", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
    }))
    world = AwsWorld(moto=moto, user_name=user,
                     user_creds=AwsCreds(key["AccessKeyId"], key["SecretAccessKey"]))
    trust = json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": user_arn},
                       "Action": "sts:AssumeRole"}],
    })
    for name, (path, tags) in roles.items():
        role = iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=trust,
                               Tags=[{"Key": k, "Value": v} for k, v in tags.items()])["Role"]
        iam.put_role_policy(RoleName=name, PolicyName="get-own-role", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "iam:GetRole", "Resource": role["Arn"]}],
        }))
        world.roles[name] = role["Arn"]
    return world


# --------------------------------------------------------------------------
# The oracle: the aws-iam bearer token, built like hashicorp/consul-awsauth
# (GenerateLoginData) does with aws-sdk-go, here with botocore's SigV4 signer.
# --------------------------------------------------------------------------

def _sign(method: str, url: str, body: str, headers: dict[str, str], creds: AwsCreds,
          service: str, region: str):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method=method, url=url, data=body.encode(), headers=dict(headers))
    SigV4Auth(Credentials(creds.access_key_id, creds.secret_access_key, creds.session_token),
              service, region).add_auth(req)
    return req


def _go_header_json(headers) -> dict[str, list[str]]:
    """Go's http.Header marshals as {CanonicalKey: [values]}."""
    out: dict[str, list[str]] = {}
    for k, v in headers.items():
        canon = "-".join(p[:1].upper() + p[1:].lower() for p in k.split("-"))
        out.setdefault(canon, []).append(v)
    return out


def caller_identity(creds: AwsCreds, sts_endpoint: str, region: str = REGION) -> dict:
    """A real sts:GetCallerIdentity; consul-awsauth makes this call first to
    learn the role name for the embedded iam:GetRole request."""
    import boto3
    sts = boto3.client("sts", region_name=region, endpoint_url=sts_endpoint,
                       aws_access_key_id=creds.access_key_id,
                       aws_secret_access_key=creds.secret_access_key,
                       aws_session_token=creds.session_token)
    return sts.get_caller_identity()


def role_name_from_arn(arn: str) -> str:
    # arn:aws:sts::123:assumed-role/NAME/session or arn:aws:iam::123:role/path/NAME
    res = arn.split(":", 5)[5]
    typ, _, rest = res.partition("/")
    if typ == "assumed-role":
        return rest.split("/")[0]
    if typ in ("role", "user"):
        return rest.split("/")[-1]
    raise ValueError(f"not a role ARN: {arn}")


def build_login_bearer_token(creds: AwsCreds, sts_endpoint: str, region: str = REGION,
                             include_entity: bool = True, server_id: str | None = None,
                             role_name: str | None = None,
                             tamper: Callable[[dict], None] | None = None) -> str:
    """The bearer token for POST /v1/acl/login with an aws-iam auth method.

    The signed sts:GetCallerIdentity request is sent to `sts_endpoint` (as
    aws-sdk-go does with a custom Endpoint: URL = endpoint + "/"), signed for
    service sts in `region`. With include_entity the signed iam:GetRole request
    travels in the X-Consul-IAM-GetEntity-* headers of the STS request, so
    the STS signature covers it; the server ID header is added to both before
    signing. `tamper(parts)` may alter the four token fields (decoded) after
    signing, for negative tests."""
    sts_url = sts_endpoint.rstrip("/") + "/"
    headers: dict[str, str] = {"Content-Type": FORM_CONTENT_TYPE}
    if include_entity:
        if role_name is None:
            role_name = role_name_from_arn(caller_identity(creds, sts_endpoint, region)["Arn"])
        iam_body = f"Action=GetRole&RoleName={role_name}&Version=2010-05-08"
        iam_headers = {"Content-Type": FORM_CONTENT_TYPE}
        if server_id:
            iam_headers[HDR_SERVER_ID] = server_id
        # IAM is global: aws-sdk-go signs it for us-east-1 whatever the region.
        iam_req = _sign("POST", IAM_GLOBAL_URL, iam_body, iam_headers, creds, "iam", "us-east-1")
        headers[HDR_ENTITY_METHOD] = "POST"
        headers[HDR_ENTITY_URL] = IAM_GLOBAL_URL
        headers[HDR_ENTITY_HEADERS] = json.dumps(_go_header_json(iam_req.headers),
                                                 separators=(",", ":"))
        headers[HDR_ENTITY_BODY] = iam_body
    if server_id:
        headers[HDR_SERVER_ID] = server_id
    sts_req = _sign("POST", sts_url, STS_BODY, headers, creds, "sts", region)
    parts = {
        "method": "POST",
        "url": sts_url,
        "headers": _go_header_json(sts_req.headers),
        "body": STS_BODY,
    }
    if tamper:
        tamper(parts)
    b64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
    return json.dumps({
        "iam_http_request_method": parts["method"],
        "iam_request_url": b64(parts["url"]),
        "iam_request_headers": b64(json.dumps(parts["headers"], separators=(",", ":"))),
        "iam_request_body": b64(parts["body"]),
    })


def decode_bearer_token(token: str) -> dict:
    """Inverse of build_login_bearer_token, for assertions and debugging."""
    t = json.loads(token)
    return {
        "method": t["iam_http_request_method"],
        "url": base64.b64decode(t["iam_request_url"]).decode(),
        "headers": json.loads(base64.b64decode(t["iam_request_headers"])),
        "body": base64.b64decode(t["iam_request_body"]).decode(),
    }


def tempdir(prefix: str) -> str:
    return tempfile.mkdtemp(prefix=prefix)
