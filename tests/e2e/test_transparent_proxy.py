"""The transparent proxy's iptables rules and Consul DNS, for real, in network
namespaces this test creates (and removes, also when it fails).

Two namespaces joined by a veth pair: the *task* (10.99.0.1, where our rules
are applied by the test-only `tproxy_apply`, built beside consul-ecs) and a
*remote* host (10.99.0.2 and 10.99.0.3). In the task namespace small Python
servers stand in for the proxy: the outbound listener on 15001 answers with
the original destination it reads with SO_ORIGINAL_DST, the public listener
on 20000 likewise, a DNS server on 127.0.0.1:8600. Clients run under the
UIDs of the official mesh-task (app, 5995 dataplane, 5996 health-sync).
Needs root, iproute2 and iptables (scripts/setup.sh installs them).
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from conftest import binary_path

APP_UID = 1000
PROXY_UID = 5995
HEALTH_SYNC_UID = 5996
EXCLUDED_UID = 6000

TASK_IP = "10.99.0.1"
REMOTE_IP = "10.99.0.2"
REMOTE_EXCLUDED_IP = "10.99.0.3"  # in excludeOutboundCIDRs
SERVICE_PORT = 8080
EXCLUDED_OUT_PORT = 9999
EXCLUDED_IN_PORT = 1234

# Servers and clients, run inside a namespace with `ip netns exec`.
HELPER = textwrap.dedent(r'''
    import encodings.idna, os, socket, struct, sys, threading  # idna: loaded before dropping to another UID
    SO_ORIGINAL_DST = 80

    def original_dst(conn):
        raw = conn.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
        port, = struct.unpack("!H", raw[2:4])
        return "%s:%d" % (socket.inet_ntoa(raw[4:8]), port)

    def tcp_server(ip, port, label):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((ip, int(port)))
        s.listen(64)
        def serve(conn):
            with conn:
                try:
                    dst = original_dst(conn)
                except OSError:
                    dst = "-"
                conn.sendall(("%s %s\n" % (label, dst)).encode())
        while True:
            conn, _ = s.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    def udp_server(ip, port, label):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((ip, int(port)))
        while True:
            data, peer = s.recvfrom(2048)
            s.sendto(label.encode() + b" " + data, peer)

    def as_uid(uid):
        if int(uid) != 0:
            os.setgid(int(uid))
            os.setuid(int(uid))

    def tcp_client(uid, ip, port):
        as_uid(uid)
        c = socket.create_connection((ip, int(port)), timeout=3)
        print(c.makefile().readline().strip())

    def udp_client(uid, ip, port):
        as_uid(uid)
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.settimeout(3)
        c.sendto(b"query", (ip, int(port)))
        data, peer = c.recvfrom(2048)
        print(data.decode(), "%s:%d" % peer)

    if __name__ == "__main__":
        mode, *args = sys.argv[1:]
        if mode in ("tcp-server", "udp-server"):
            threads = []
            for spec in args:  # ip:port:label ...
                ip, port, label = spec.split(":")
                fn = tcp_server if mode == "tcp-server" else udp_server
                t = threading.Thread(target=fn, args=(ip, port, label), daemon=True)
                t.start()
                threads.append(t)
            print("ready", flush=True)
            for t in threads:
                t.join()
        elif mode == "tcp-client":
            tcp_client(*args)
        elif mode == "udp-client":
            udp_client(*args)
''')


def run(*cmd, check=True, **kw):
    return subprocess.run(list(cmd), check=check, capture_output=True, text=True, timeout=30, **kw)


def tproxy_apply_path() -> str:
    return os.environ.get("TPROXY_APPLY_BIN") or str(Path(binary_path()).parent / "tproxy_apply")


class Namespaces:
    """A task and a remote namespace joined by a veth pair; torn down by close()."""

    def __init__(self, tmp: Path):
        tag = uuid.uuid4().hex[:6]
        self.task = f"tp-task-{tag}"
        self.remote = f"tp-remote-{tag}"
        self.veth_task, self.veth_remote = f"tpt{tag}", f"tpr{tag}"
        self.tmp = tmp
        self.helper = tmp / "helper.py"
        self.helper.write_text(HELPER)
        self.helper.chmod(0o755)
        self.procs = []

    def create(self):
        run("ip", "netns", "add", self.task)
        run("ip", "netns", "add", self.remote)
        run("ip", "link", "add", self.veth_task, "type", "veth", "peer", "name", self.veth_remote)
        run("ip", "link", "set", self.veth_task, "netns", self.task)
        run("ip", "link", "set", self.veth_remote, "netns", self.remote)
        for ns, dev, addrs in ((self.task, self.veth_task, [TASK_IP]),
                               (self.remote, self.veth_remote, [REMOTE_IP, REMOTE_EXCLUDED_IP])):
            for addr in addrs:
                self.exec(ns, "ip", "addr", "add", f"{addr}/24", "dev", dev)
            self.exec(ns, "ip", "link", "set", dev, "up")
            self.exec(ns, "ip", "link", "set", "lo", "up")

    def exec(self, ns, *cmd, check=True, env=None):
        return run("ip", "netns", "exec", ns, *cmd, check=check, env=env)

    def start_servers(self, ns, mode, *specs):
        p = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, str(self.helper), mode, *specs],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        assert p.stdout.readline().strip() == "ready", p.stderr.read()

    def tcp(self, ns, uid, ip, port) -> str:
        r = self.exec(ns, sys.executable, str(self.helper), "tcp-client", str(uid), ip, str(port), check=False)
        return r.stdout.strip() or f"error: {r.stderr.strip().splitlines()[-1] if r.stderr else r.returncode}"

    def udp(self, ns, uid, ip, port) -> str:
        r = self.exec(ns, sys.executable, str(self.helper), "udp-client", str(uid), ip, str(port), check=False)
        return r.stdout.strip() or f"error: {r.stderr.strip().splitlines()[-1] if r.stderr else r.returncode}"

    def nat_rules(self) -> str:
        return self.exec(self.task, "iptables", "-t", "nat", "-S").stdout

    def close(self):
        for p in self.procs:
            p.kill()
            p.wait(timeout=10)
        # Deleting a namespace removes its veth end, which removes the pair.
        for ns in (self.task, self.remote):
            run("ip", "netns", "delete", ns, check=False)


CONFIG = {
    "bootstrapDir": "/consul",
    "consulServers": {"hosts": "consul.example"},
    "service": {"port": SERVICE_PORT},
    "transparentProxy": {
        "excludeInboundPorts": [EXCLUDED_IN_PORT],
        "excludeOutboundPorts": [EXCLUDED_OUT_PORT],
        "excludeOutboundCIDRs": [f"{REMOTE_EXCLUDED_IP}/32"],
        "excludeUIDs": [str(EXCLUDED_UID)],
        "consulDNS": {"enabled": True},
    },
}


@pytest.fixture
def netns(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    for tool in ("ip", "iptables", "iptables-save", "iptables-restore"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} not found (scripts/setup.sh installs iproute2 and iptables)", pytrace=False)
    if not os.access(tproxy_apply_path(), os.X_OK):
        pytest.fail(f"tproxy_apply not found at {tproxy_apply_path()} (built with the unit tests)", pytrace=False)
    n = Namespaces(tmp_path)
    try:
        n.create()
        yield n
    finally:
        n.close()


def apply(n: Namespaces, config: dict, resolv: Path, *extra, check=True):
    env = dict(os.environ, CONSUL_ECS_CONFIG_JSON=json.dumps(config))
    return n.exec(n.task, tproxy_apply_path(), "--resolv-conf", str(resolv), *extra, check=check, env=env)


@pytest.fixture
def applied(netns, tmp_path):
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("search ec2.internal\nnameserver 10.0.0.2\noptions timeout:2\n")
    apply(netns, CONFIG, resolv)
    # The proxy's listeners, and the app's own port (which inbound must not reach directly).
    netns.start_servers(netns.task, "tcp-server", "0.0.0.0:15001:outbound", "0.0.0.0:20000:public",
                        f"0.0.0.0:{SERVICE_PORT}:app", f"0.0.0.0:{EXCLUDED_IN_PORT}:excluded-in",
                        "0.0.0.0:22000:readiness", "127.0.0.1:7777:local", "127.0.0.1:8600:dns-tcp")
    netns.start_servers(netns.task, "udp-server", "127.0.0.1:8600:dns", "127.0.0.1:53:not-consul")
    netns.start_servers(netns.remote, "tcp-server", f"0.0.0.0:{SERVICE_PORT}:remote",
                        f"0.0.0.0:{EXCLUDED_OUT_PORT}:remote")
    netns.resolv = resolv
    return netns


def test_app_outbound_lands_on_15001_with_the_original_destination(applied):
    assert applied.tcp(applied.task, APP_UID, REMOTE_IP, SERVICE_PORT) == f"outbound {REMOTE_IP}:{SERVICE_PORT}"
    # root is an app user too (not exempt)
    assert applied.tcp(applied.task, 0, REMOTE_IP, SERVICE_PORT) == f"outbound {REMOTE_IP}:{SERVICE_PORT}"


def test_proxy_and_health_sync_users_go_straight_through(applied):
    assert applied.tcp(applied.task, PROXY_UID, REMOTE_IP, SERVICE_PORT).startswith("remote ")
    assert applied.tcp(applied.task, HEALTH_SYNC_UID, REMOTE_IP, SERVICE_PORT).startswith("remote ")
    assert applied.tcp(applied.task, EXCLUDED_UID, REMOTE_IP, SERVICE_PORT).startswith("remote ")


def test_excluded_ports_cidrs_and_localhost_go_straight_through(applied):
    assert applied.tcp(applied.task, APP_UID, REMOTE_IP, EXCLUDED_OUT_PORT).startswith("remote ")
    assert applied.tcp(applied.task, APP_UID, REMOTE_EXCLUDED_IP, SERVICE_PORT).startswith("remote ")
    assert applied.tcp(applied.task, APP_UID, "127.0.0.1", 7777).startswith("local ")


def test_inbound_to_the_service_port_lands_on_the_public_listener(applied):
    assert applied.tcp(applied.remote, 0, TASK_IP, SERVICE_PORT) == f"public {TASK_IP}:{SERVICE_PORT}"
    # Excluded inbound ports: transparentProxy.excludeInboundPorts and the readiness port (22000).
    assert applied.tcp(applied.remote, 0, TASK_IP, EXCLUDED_IN_PORT).startswith("excluded-in ")
    assert applied.tcp(applied.remote, 0, TASK_IP, 22000).startswith("readiness ")


def test_dns_to_localhost_reaches_consul_dns_on_8600(applied):
    # The reply comes back from 127.0.0.1:53 (conntrack undoes the DNAT).
    assert applied.udp(applied.task, APP_UID, "127.0.0.1", 53) == "dns query 127.0.0.1:53"
    assert applied.tcp(applied.task, APP_UID, "127.0.0.1", 53).startswith("dns-tcp ")
    assert applied.resolv.read_text() == ("search ec2.internal\nnameserver 127.0.0.1\nnameserver 10.0.0.2\n"
                                          "options timeout:2\n")


def test_reapplying_does_not_duplicate_rules(applied):
    before = applied.nat_rules()
    assert before.count("-A OUTPUT -p tcp -j CONSUL_PROXY_OUTPUT") == 1
    apply(applied, CONFIG, applied.resolv)
    apply(applied, CONFIG, applied.resolv)
    assert applied.nat_rules() == before
    assert applied.resolv.read_text().count("nameserver 127.0.0.1") == 1
    # ... and the redirection still works.
    assert applied.tcp(applied.task, APP_UID, REMOTE_IP, SERVICE_PORT) == f"outbound {REMOTE_IP}:{SERVICE_PORT}"


def test_reapplying_with_other_settings_replaces_ours_and_keeps_foreign_rules(netns, tmp_path):
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 10.0.0.2\n")
    netns.exec(netns.task, "iptables", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "--dport", "4444", "-j", "RETURN")
    apply(netns, CONFIG, resolv)
    without_dns = json.loads(json.dumps(CONFIG))
    without_dns["transparentProxy"] = {"excludeOutboundPorts": [5555]}
    apply(netns, without_dns, resolv)
    rules = netns.nat_rules()
    assert "-A OUTPUT -p tcp -m tcp --dport 4444 -j RETURN" in rules
    assert "CONSUL_DNS_REDIRECT" not in rules.replace("-N CONSUL_DNS_REDIRECT", "")
    assert "--dport 5555" in rules and "--dport 9999" not in rules
    assert rules.count("-j CONSUL_PROXY_OUTPUT") == 1


def test_without_net_admin_the_error_names_the_cause(netns, tmp_path):
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 10.0.0.2\n")
    # As on Fargate: root, but without CAP_NET_ADMIN.
    env = dict(os.environ, CONSUL_ECS_CONFIG_JSON=json.dumps(CONFIG))
    r = netns.exec(netns.task, "setpriv", "--inh-caps=-net_admin", "--bounding-set=-net_admin",
                   tproxy_apply_path(), "--resolv-conf", str(resolv), check=False, env=env)
    assert r.returncode == 1
    assert "NET_ADMIN" in r.stderr and "Fargate" in r.stderr, r.stderr
    assert "CONSUL_PROXY" not in netns.nat_rules()
    assert resolv.read_text() == "nameserver 10.0.0.2\n"  # nothing half-done
