"""End-to-end tests of `consul-ecs mesh-init` (the v0.10 layout's init
container) against the real test bed: Consul 1.15 with ACLs, moto with
signature checking, and the ECS agent emulator.

mesh-init logs in, registers the service then the proxy (checks critical),
optionally writes the service-defaults entry of service.networkResilienceConfig
with compare-and-set, copies itself, writes consul-dataplane.json with login
credentials for the dataplane, logs out of its own token and exits 0. Any
failure: non-zero exit and nothing left in Consul.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import threading
import time
import uuid

import pytest
from requests.utils import quote

from conftest import _SCRUBBED_ENV, APP, CONTROL_PLANE, DATAPLANE, GATEWAY_ROLES, ControlPlane, base_config, wait_for
from consul_ecs_testbed import bed as tb
from consul_ecs_testbed.fault_proxy import FaultProxy

pytestmark = pytest.mark.needs_binary


def mesh_config(consul, moto, bootstrap_dir: str, **service_extra) -> dict:
    cfg = base_config(consul, moto, bootstrap_dir)
    # The 0.10 schema turns the transparent proxy on by default; most tests
    # here are not about it (the last section is).
    cfg["transparentProxy"] = {"enabled": False}
    cfg["service"].update(service_extra)
    return cfg


def run_mesh_init(run_control_plane, config: dict, task, env_extra=None) -> ControlPlane:
    env = {"CONSUL_ECS_INIT_TIMEOUT": "20s"}
    env.update(env_extra or {})
    return run_control_plane(config, task, env_extra=env, args=["mesh-init"])


def finish(cp: ControlPlane, timeout: float = 30) -> int:
    try:
        return cp.wait(timeout)
    except Exception:
        pytest.fail(f"mesh-init still running after {timeout} s\n{cp.describe()}", pytrace=False)


def check_statuses(consul: tb.ConsulServer, cp: ControlPlane) -> dict[str, str | None]:
    checks = consul.checks_by_id(cp.node)
    ids = {"app": f"{cp.service_id}-{APP}", "dp_service": f"{cp.service_id}-{DATAPLANE}",
           "dp_proxy": f"{cp.proxy_id}-{DATAPLANE}"}
    return {role: (checks.get(cid) or {}).get("Status") for role, cid in ids.items()}


def dataplane_json(cp: ControlPlane) -> dict:
    with open(os.path.join(cp.bootstrap_dir, "consul-dataplane.json")) as f:
        return json.load(f)


# --------------------------------------------------------------- success

def test_registers_critical_writes_login_credentials_and_exits_0(run_control_plane, make_task,
                                                                  consul, moto, bootstrap_dir):
    cfg = mesh_config(consul, moto, bootstrap_dir)
    cp = run_mesh_init(run_control_plane, cfg, make_task())
    assert finish(cp) == 0, cp.describe()

    service = consul.service_instance(cp.node, cp.service_id)
    proxy = consul.service_instance(cp.node, cp.proxy_id)
    assert service and service["Service"] == "web" and service["Port"] == 8080, cp.describe()
    assert proxy and proxy["Kind"] == "connect-proxy"
    assert proxy["Proxy"]["DestinationServiceID"] == cp.service_id
    assert "Mode" not in proxy["Proxy"] or proxy["Proxy"]["Mode"] in ("", "direct")
    assert check_statuses(consul, cp) == {"app": "critical", "dp_service": "critical",
                                          "dp_proxy": "critical"}

    # The bootstrap volume: the binary, the dataplane config, no token file.
    binary = os.path.join(bootstrap_dir, "consul-ecs")
    assert os.access(binary, os.X_OK)
    assert not os.path.exists(os.path.join(bootstrap_dir, "service-token"))
    path = os.path.join(bootstrap_dir, "consul-dataplane.json")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o444
    dp = dataplane_json(cp)
    assert dp["proxy"] == {"nodeName": cp.node, "id": cp.proxy_id, "namespace": "", "partition": ""}
    creds = dp["consul"]["credentials"]
    assert creds["type"] == "login", creds
    login = creds["login"]
    assert login["authMethod"] == tb.AUTH_METHOD_NAME
    assert "datacenter" in login
    assert login["meta"] == {"consul.hashicorp.com/task-id": cp.task.task_id,
                             "consul.hashicorp.com/cluster": cp.task.cluster_arn}
    assert "dnsServer" not in dp
    assert login["bearerToken"] not in cp.output(), "the bearer token must not be logged"

    # mesh-init logged out of its own token before exiting.
    assert consul.login_tokens(cp.task.task_id) == [], cp.describe()

    # The dataplane's credentials work: Consul accepts a login with them.
    r = consul.login(login["bearerToken"], method=login["authMethod"], meta=login["meta"])
    assert r.status_code == 200, r.text
    secret = r.json()["SecretID"]
    try:
        me = consul.token_self(secret).json()
        assert me["ServiceIdentities"] == [{"ServiceName": "web"}]
    finally:
        consul.logout(secret)


def test_consul_dns_sets_dataplane_dns_server_and_resolv_conf(run_control_plane, make_task, consul,
                                                              moto, bootstrap_dir, tmp_path):
    cfg = mesh_config(consul, moto, bootstrap_dir)
    # consulDNS needs transparentProxy on in the schema; rules are applied by
    # iptables, which needs NET_ADMIN: give it a fake iptables on PATH that
    # accepts everything, so this test is about DNS only.
    cfg["transparentProxy"] = {"enabled": True, "consulDNS": {"enabled": True}}
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("search ec2.internal\nnameserver 10.0.0.2\n")
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    for name in ("iptables-save", "iptables-restore"):
        p = fake_bin / name
        p.write_text("#!/bin/sh\ncat >/dev/null\nexit 0\n")
        p.chmod(0o755)
    cp = run_mesh_init(run_control_plane, cfg, make_task(), env_extra={
        "CONSUL_ECS_RESOLV_CONF": str(resolv),
        "PATH": f"{fake_bin}:{os.environ.get('PATH', '')}"})
    rc = finish(cp)
    if rc != 0 and "NET_ADMIN" in cp.output():
        pytest.fail("this test must run as root (CAP_NET_ADMIN) for the capability check", pytrace=False)
    assert rc == 0, cp.describe()
    assert dataplane_json(cp)["dnsServer"] == {"bindAddress": "127.0.0.1", "bindPort": 8600}
    assert resolv.read_text().splitlines()[:3] == ["search ec2.internal", "nameserver 127.0.0.1",
                                                   "nameserver 10.0.0.2"]
    proxy = consul.service_instance(cp.node, cp.proxy_id)
    assert proxy["Proxy"]["Mode"] == "transparent"
    assert proxy["TaggedAddresses"]["virtual"]["Port"] == 8080


# --------------------------------------------------------------- failures

def test_bad_auth_method_fails_and_leaves_nothing(run_control_plane, make_task, consul, moto,
                                                  bootstrap_dir):
    cfg = mesh_config(consul, moto, bootstrap_dir)
    cfg["consulLogin"]["method"] = "no-such-method"
    cp = run_mesh_init(run_control_plane, cfg, make_task(), env_extra={"CONSUL_ECS_INIT_TIMEOUT": "3s"})
    rc = finish(cp, 20)
    assert rc != 0
    out = cp.output()
    assert "no-such-method" in out and "mesh-init failed" in out, out
    assert consul.service_instance(cp.node, cp.service_id) is None
    assert consul.service_instance(cp.node, cp.proxy_id) is None
    assert not os.path.exists(os.path.join(bootstrap_dir, "consul-dataplane.json"))


def test_failure_after_registration_deregisters_and_logs_out(run_control_plane, make_task, consul,
                                                             moto, tmp_path):
    # The bootstrap directory does not exist: the registrations land, then
    # copying the binary fails.
    missing = str(tmp_path / "no-such-dir" / "bootstrap")
    cfg = mesh_config(consul, moto, missing)
    task = make_task()
    cp = run_mesh_init(run_control_plane, cfg, task)
    rc = finish(cp)
    assert rc != 0
    out = cp.output()
    assert "registered " + cp.proxy_id in out, out   # it did get that far
    assert "no-such-dir" in out, out
    assert consul.service_instance(cp.node, cp.service_id) is None, out
    assert consul.service_instance(cp.node, cp.proxy_id) is None, out
    assert consul.login_tokens(task.task_id) == [], out


def test_unexpected_argument_and_0_7_3_only_fields(run_control_plane, make_task, consul, moto,
                                                   bootstrap_dir):
    cfg = mesh_config(consul, moto, bootstrap_dir)
    cp = run_control_plane(cfg, make_task(), args=["mesh-init", "extra"])
    assert finish(cp, 10) == 1
    assert "unexpected argument: extra" in cp.output()
    # The 0.10 schema: networkResilienceConfig is known to mesh-init but not
    # to control-plane (0.7.3).
    cfg["service"]["networkResilienceConfig"] = {"enabled": False}
    cp2 = run_control_plane(cfg, make_task(), args=["control-plane"])
    assert finish(cp2, 10) == 1
    assert "networkResilienceConfig" in cp2.output()


# ----------------------------------------------------- service-defaults CAS

def service_defaults(consul: tb.ConsulServer, name: str) -> dict | None:
    r = consul.get(f"/v1/config/service-defaults/{name}")
    if r.status_code == 404:
        return None
    return consul.must(r)


@pytest.fixture
def clean_web_defaults(consul):
    consul.request("DELETE", "/v1/config/service-defaults/web")
    yield
    consul.request("DELETE", "/v1/config/service-defaults/web")


def test_concurrent_mesh_inits_keep_one_entry_and_a_later_change_applies(
        run_control_plane, make_task, consul, moto, tmp_path, clean_web_defaults):
    # An operator's entry is there first: its fields must survive.
    consul.must(consul.put("/v1/config", {"Kind": "service-defaults", "Name": "web", "Protocol": "http"}))
    resilience = {"enabled": True, "outlierDetection": {"maxFailures": 3, "interval": 2000000000}}
    procs = []
    for i in range(3):
        d = tmp_path / f"bootstrap-{i}"
        d.mkdir()
        cfg = mesh_config(consul, moto, str(d), networkResilienceConfig=resilience)
        procs.append(run_mesh_init(run_control_plane, cfg, make_task()))
    for cp in procs:
        assert finish(cp, 40) == 0, cp.describe()
    entry = service_defaults(consul, "web")
    assert entry is not None
    assert entry["Protocol"] == "http", entry
    phc = entry["UpstreamConfig"]["Defaults"]["PassiveHealthCheck"]
    assert phc["MaxFailures"] == 3, entry
    assert phc["Interval"] in (2000000000, "2s"), entry

    # A later mesh-init with other settings updates the entry (the reference
    # keeps the first one for ever).
    d = tmp_path / "bootstrap-later"
    d.mkdir()
    later = {"enabled": True, "outlierDetection": {"maxFailures": 7, "interval": 2000000000}}
    cp = run_mesh_init(run_control_plane, mesh_config(consul, moto, str(d), networkResilienceConfig=later),
                       make_task())
    assert finish(cp, 40) == 0, cp.describe()
    entry = service_defaults(consul, "web")
    assert entry["UpstreamConfig"]["Defaults"]["PassiveHealthCheck"]["MaxFailures"] == 7, entry
    assert entry["Protocol"] == "http"
    modify_index = entry["ModifyIndex"]

    # The same settings again: nothing to write.
    d2 = tmp_path / "bootstrap-same"
    d2.mkdir()
    cp = run_mesh_init(run_control_plane, mesh_config(consul, moto, str(d2), networkResilienceConfig=later),
                       make_task())
    assert finish(cp, 40) == 0, cp.describe()
    assert service_defaults(consul, "web")["ModifyIndex"] == modify_index
    assert "up to date" in cp.output()


def test_concurrent_operator_write_is_not_lost(run_control_plane, make_task, consul, moto, tmp_path,
                                               clean_web_defaults):
    """While mesh-inits upsert, an operator keeps changing another field with
    CAS writes of their own; in the end both the operator's last value and the
    passive health check are in the entry."""
    consul.must(consul.put("/v1/config", {"Kind": "service-defaults", "Name": "web", "Protocol": "tcp"}))
    stop = threading.Event()
    last = {"value": "tcp"}

    def operator():
        n = 0
        while not stop.is_set():
            cur = service_defaults(consul, "web")
            value = "http" if n % 2 == 0 else "grpc"
            cur["Protocol"] = value
            r = consul.put(f"/v1/config?cas={cur['ModifyIndex']}", cur)
            if r.status_code == 200 and r.json() is True:
                last["value"] = value
                n += 1
            time.sleep(0.05)

    t = threading.Thread(target=operator, daemon=True)
    t.start()
    try:
        procs = []
        for i in range(3):
            d = tmp_path / f"bootstrap-{i}"
            d.mkdir()
            cfg = mesh_config(consul, moto, str(d), networkResilienceConfig={"enabled": True})
            procs.append(run_mesh_init(run_control_plane, cfg, make_task()))
        for cp in procs:
            assert finish(cp, 40) == 0, cp.describe()
    finally:
        stop.set()
        t.join(10)
    entry = service_defaults(consul, "web")
    assert entry["Protocol"] == last["value"], entry
    assert entry["UpstreamConfig"]["Defaults"]["PassiveHealthCheck"]["MaxFailures"] == 5, entry


# ------------------------------------------------------- transparent proxy

def popen(argv: list[str], config: dict, task, emulator, logdir, env_extra=None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not _SCRUBBED_ENV.match(k)}
    env.update(emulator.env_for(task, CONTROL_PLANE))
    env["CONSUL_ECS_CONFIG_JSON"] = json.dumps(config)
    env["CONSUL_ECS_INIT_TIMEOUT"] = "20s"
    env.update(env_extra or {})
    logdir.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(argv, env=env, stdout=open(logdir / "out.log", "wb"),
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def test_without_net_admin_fails_at_once_naming_it(consul_ecs_bin, make_task, emulator, consul, moto,
                                                   bootstrap_dir, tmp_path):
    if shutil.which("capsh") is None:
        pytest.fail("capsh not found (libcap2-bin)", pytrace=False)
    cfg = mesh_config(consul, moto, bootstrap_dir)
    cfg["transparentProxy"] = {"enabled": True}
    task = make_task()
    p = popen(["capsh", "--drop=cap_net_admin", "--", "-c", 'exec "$0" mesh-init', consul_ecs_bin],
              cfg, task, emulator, tmp_path / "log")
    rc = p.wait(20)
    out = (tmp_path / "log" / "out.log").read_text()
    assert rc == 1, out
    assert "NET_ADMIN" in out and "transparentProxy.enabled" in out, out
    # Nothing was registered, nothing written.
    node = task.cluster_arn
    service_id = f"web-{task.task_id}"
    assert consul.service_instance(node, service_id) is None
    assert consul.service_instance(node, service_id + "-sidecar-proxy") is None
    assert os.listdir(bootstrap_dir) == []


@pytest.fixture
def task_netns(tmp_path):
    """A network namespace joined to this one by a veth pair (<subnet>.1 here,
    .2 there, a /24 nothing on the host uses), removed afterwards."""
    if os.geteuid() != 0:
        pytest.fail("network namespaces need root", pytrace=False)
    for tool in ("ip", "iptables", "iptables-save", "iptables-restore"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} not found (scripts/setup.sh installs iproute2 and iptables)", pytrace=False)
    tag = uuid.uuid4().hex[:6]
    ns, host_dev, ns_dev = f"mi-task-{tag}", f"mih{tag}", f"mit{tag}"
    subnet = tb.pick_subnet().rsplit(".", 1)[0]  # "10.x.y"

    def sh(*cmd, check=True):
        return subprocess.run(list(cmd), check=check, capture_output=True, text=True, timeout=30)

    sh("ip", "netns", "add", ns)
    try:
        sh("ip", "link", "add", host_dev, "type", "veth", "peer", "name", ns_dev)
        sh("ip", "link", "set", ns_dev, "netns", ns)
        sh("ip", "addr", "add", f"{subnet}.1/24", "dev", host_dev)
        sh("ip", "link", "set", host_dev, "up")
        sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{subnet}.2/24", "dev", ns_dev)
        sh("ip", "netns", "exec", ns, "ip", "link", "set", ns_dev, "up")
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        yield {"name": ns, "host_ip": f"{subnet}.1", "sh": sh}
    finally:
        sh("ip", "link", "delete", host_dev, check=False)
        sh("ip", "netns", "delete", ns, check=False)


def test_applies_the_redirection_in_its_network_namespace(consul_ecs_bin, make_task, emulator, consul,
                                                         moto, bootstrap_dir, tmp_path, task_netns):
    """mesh-init itself, as root with NET_ADMIN in a namespace of its own,
    reaching Consul, moto and the emulator through forwarders on the veth:
    registers, applies the iptables rules built from the catalog's proxy
    service, and logs out before they take effect."""
    host = task_netns["host_ip"]
    fwd = {name: FaultProxy("127.0.0.1", port, listen_host=host).start()
           for name, port in (("consul", consul.http_port), ("moto", moto.port),
                              ("emulator", emulator.port))}
    try:
        cfg = mesh_config(consul, moto, bootstrap_dir)
        cfg["consulServers"] = tb.plain_consul_servers(fwd["consul"].port, consul.grpc_port)
        cfg["consulServers"]["hosts"] = host
        cfg["consulLogin"]["stsEndpoint"] = f"http://{host}:{fwd['moto'].port}"
        cfg["transparentProxy"] = {"enabled": True, "excludeInboundPorts": [1234]}
        cfg["proxy"]["config"] = {"bind_port": 21000}
        task = make_task()
        env = emulator.env_for(task, CONTROL_PLANE)
        local = f"127.0.0.1:{emulator.port}"
        remote = f"{host}:{fwd['emulator'].port}"
        extra = {k: v.replace(local, remote) for k, v in env.items()}
        p = popen(["ip", "netns", "exec", task_netns["name"], consul_ecs_bin, "mesh-init"],
                  cfg, task, emulator, tmp_path / "log", env_extra=extra)
        rc = p.wait(40)
        out = (tmp_path / "log" / "out.log").read_text()
        assert rc == 0, out
        rules = task_netns["sh"]("ip", "netns", "exec", task_netns["name"], "iptables", "-t", "nat", "-S").stdout
        # Inbound to the proxy's bind_port from its registered Proxy.Config,
        # outbound to 15001, the proxy's and health-sync's users exempt.
        assert "-A CONSUL_PROXY_IN_REDIRECT -p tcp -j REDIRECT --to-ports 21000" in rules, rules
        assert "-A CONSUL_PROXY_REDIRECT -p tcp -j REDIRECT --to-ports 15001" in rules, rules
        assert "--uid-owner 5995 -j RETURN" in rules and "--uid-owner 5996 -j RETURN" in rules, rules
        assert "--dport 1234 -j RETURN" in rules, rules
        assert "-A PREROUTING -p tcp -j CONSUL_PROXY_INBOUND" in rules, rules
        service_id = f"web-{task.task_id}"
        proxy = consul.service_instance(task.cluster_arn, service_id + "-sidecar-proxy")
        assert proxy["Proxy"]["Mode"] == "transparent", proxy
        assert consul.login_tokens(task.task_id) == [], out
    finally:
        for f in fwd.values():
            f.stop()


# ---------------------------------------------------------------- gateways

@pytest.mark.parametrize("kind", ["mesh-gateway", "terminating-gateway", "api-gateway"])
def test_gateway_kinds_through_mesh_init_and_health_sync(kind, run_control_plane, make_task, consul, moto,
                                                          bootstrap_dir, emulator):
    """Each 0.10 gateway kind: mesh-init registers the one gateway service
    (its dataplane check critical, no sidecar), writes login credentials,
    exits 0; health-sync turns the check passing, and at SIGTERM marks it
    critical, waits for the dataplane, deregisters and logs out."""
    cfg = base_config(consul, moto, bootstrap_dir)
    for key in ("service", "proxy", "healthSyncContainers"):
        cfg.pop(key, None)
    cfg["gateway"] = {"kind": kind, "name": kind}
    # The gateway-task module's role for the kind: tagged service-name=<kind>.
    task = make_task(role=GATEWAY_ROLES[kind], app_health=None)
    gw_id = f"{kind}-{task.task_id}"
    check_id = f"{gw_id}-{DATAPLANE}"

    init = run_control_plane(cfg, task, env_extra={"CONSUL_ECS_INIT_TIMEOUT": "20s"}, args=["mesh-init"])
    assert finish(init) == 0, init.describe()
    svc = consul.service_instance(task.cluster_arn, gw_id)
    assert svc and svc["Kind"] == kind and svc["Service"] == kind, svc
    assert [s for s in consul.must(consul.get(
        f"/v1/catalog/node/{quote(task.cluster_arn, safe='')}"))["Services"] if s.endswith("-sidecar-proxy")] == []
    assert consul.checks_by_id(task.cluster_arn)[check_id]["Status"] == "critical"
    with open(os.path.join(bootstrap_dir, "consul-dataplane.json")) as f:
        dp = json.load(f)
    assert dp["proxy"]["id"] == gw_id
    assert dp["consul"]["credentials"]["type"] == "login"
    assert consul.login_tokens(task.task_id) == []

    hs = run_control_plane(cfg, task, args=["health-sync"])
    wait_for(lambda: consul.checks_by_id(task.cluster_arn)[check_id]["Status"] == "passing", 15,
             "the gateway's dataplane check passing", hs)
    emulator.stop_task(task.task_id)
    hs.signal(signal.SIGTERM)
    wait_for(lambda: consul.checks_by_id(task.cluster_arn)[check_id]["Status"] == "critical", 5,
             "SIGTERM -> critical", hs)
    emulator.container_exited(task.task_id, DATAPLANE)
    assert hs.wait(10) == 0, hs.describe()
    assert consul.service_instance(task.cluster_arn, gw_id) is None
    assert consul.login_tokens(task.task_id) == []


# ------------------------------------------------------------- robustness

@pytest.mark.parametrize("command", ["mesh-init", "health-sync"])
def test_deep_task_metadata_ends_start_up_with_exit_1(command, consul_ecs_bin, tmp_path):
    """A 100,000-deep metadata document will not get better by asking again:
    exit 1 with the nesting limit's message at once, never a crash."""
    import http.server
    depth = 100_000
    doc = ('{"Cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/deep", "TaskARN": '
           '"arn:aws:ecs:us-east-1:123456789012:task/deep/0123456789abcdef", "Family": "web", '
           '"Containers": [' + '{"a":' * depth + "1" + "}" * depth + "]}").encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(doc)))
            self.end_headers()
            self.wfile.write(doc)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cfg = {"bootstrapDir": str(tmp_path), "transparentProxy": {"enabled": False},
           "consulServers": {"hosts": "127.0.0.1", "http": {"port": 9, "https": False}}}
    env = {"PATH": os.environ.get("PATH", ""), "CONSUL_ECS_CONFIG_JSON": json.dumps(cfg),
           "ECS_CONTAINER_METADATA_URI_V4": f"http://127.0.0.1:{server.server_address[1]}/v4/x",
           "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_REGION": "us-east-1"}
    try:
        r = subprocess.run([consul_ecs_bin, command], capture_output=True, text=True, timeout=30, env=env)
    finally:
        server.shutdown()
    assert r.returncode == 1, f"exit {r.returncode}\n{r.stderr[-2000:]}"
    assert "nesting deeper than 256" in r.stdout + r.stderr, (r.stdout + r.stderr)[-2000:]
    assert os.listdir(tmp_path) == []


def test_failed_iptables_apply_removes_the_registration(run_control_plane, make_task, consul, moto,
                                                        bootstrap_dir, tmp_path):
    """iptables-restore refuses the rules (after mesh-init logged out, as it
    does before applying them): mesh-init logs in again, deregisters, logs
    out, exits 1 with iptables' message."""
    cfg = mesh_config(consul, moto, bootstrap_dir)
    cfg["transparentProxy"] = {"enabled": True}
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "iptables-save").write_text("#!/bin/sh\nexit 0\n")
    (fake_bin / "iptables-restore").write_text(
        "#!/bin/sh\ncat >/dev/null\necho 'iptables-restore: line 3 failed (test)' >&2\nexit 1\n")
    for p in fake_bin.iterdir():
        p.chmod(0o755)
    task = make_task()
    cp = run_mesh_init(run_control_plane, cfg, task,
                       env_extra={"PATH": f"{fake_bin}:{os.environ.get('PATH', '')}"})
    rc = finish(cp)
    out = cp.output()
    assert rc == 1, out
    assert "line 3 failed (test)" in out, out
    assert consul.service_instance(cp.node, cp.service_id) is None, out
    assert consul.service_instance(cp.node, cp.proxy_id) is None, out
    assert consul.login_tokens(task.task_id) == [], out
