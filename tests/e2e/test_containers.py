"""The image and the static binary in real containers (podman).

One mesh task runs as a pod, laid out as HashiCorp's mesh-task module
(v0.7.3) writes it: our image runs `control-plane` with the module's health
check, and the control-plane's copy of itself (/consul/consul-ecs) runs
`envoy-entrypoint`, `net-dial` and `app-entrypoint` inside an image that is
not ours and has no glibc (busybox-static only). Consul (HTTPS, ACLs on) and
the ECS agent emulator listen on the gateway of a podman network the test
creates; the control-plane finds Consul by a DNS name served by a DNS server
of the test, and verifies Consul's certificate against the CA bundle at the
path the image provides. Everything the test creates is removed afterwards.
"""
from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from conftest import APP, CONTROL_PLANE, DATAPLANE, WEB_ROLE, register_cluster_node
from consul_ecs_testbed import bed as tb
from consul_ecs_testbed.dns_server import DnsServer
from consul_ecs_testbed.ecs_agent_emulator import ContainerSpec, EcsAgentEmulator, Task
from consul_ecs_testbed.podman_task import (
    PREFIX,
    ContainerDef,
    HealthCheck,
    PodmanNetwork,
    PodTask,
    busybox_image,
    image_ref,
    podman,
    podman_env,
    remove_leftovers,
    require_image,
)

CONSUL_NAME = "consul.ecs.test"
APP_PORT = 9090


@pytest.fixture(scope="module")
def network():
    remove_leftovers()
    net = PodmanNetwork(tb.pick_subnet())  # a /24 nothing on the host uses
    # A container keeps the bridge (and so the gateway address the host
    # services bind to) up for the whole module.
    anchor = f"{net.name}-anchor"
    try:
        podman("run", "-d", "--name", anchor, "--network", net.name, busybox_image(), "sleep", "3600")
        yield net
    finally:
        podman("rm", "--force", "--time", "0", anchor, check=False)
        net.remove()


@pytest.fixture(scope="module")
def image() -> str:
    return require_image(image_ref())


@pytest.fixture(scope="module")
def dns(network):
    server = DnsServer(network.gateway, {CONSUL_NAME: network.gateway}).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def net_consul(tmp_path_factory, network, moto, aws):
    # HTTPS only to the task; its certificate also names CONSUL_NAME.
    c = tb.TlsConsulServer(str(tmp_path_factory.mktemp("consul-net")), node_name="consul-containers",
                           host=network.gateway, dns_names=(CONSUL_NAME,)).start()
    tb.setup_auth_method(c, moto.url)
    yield c
    c.stop()


@pytest.fixture(scope="module")
def net_emulator(network, aws):
    def provide(task: Task) -> dict:
        c = aws.assume(task.role_arn.rsplit("/", 1)[-1], task.task_id)
        return {"RoleArn": c.role_arn, "AccessKeyId": c.access_key_id,
                "SecretAccessKey": c.secret_access_key, "Token": c.session_token,
                "Expiration": c.expiration}

    emu = EcsAgentEmulator(host=network.gateway, credentials_provider=provide).start()
    yield emu
    emu.stop()


def run_in(image: str, *command: str, entrypoint: str | None = None, network: str | None = None,
           dns: str | None = None, volumes: list[str] = ()) -> subprocess.CompletedProcess:
    args = ["run", "--rm"]
    if network:
        args += ["--network", network]
    if dns:
        args += ["--dns", dns]
    for v in volumes:
        args += ["--volume", v]
    if entrypoint is not None:
        args += ["--entrypoint", entrypoint]
    return podman(*args, image, *command, check=False)


def test_image_serves_the_official_health_check_shell_and_user(image):
    """The control-plane health check is `CMD-SHELL curl -f ...` run inside our
    image: it needs /bin/sh and a curl with -f; the process runs as consul-ecs
    and owns /consul."""
    p = run_in(image, "-c", "id -un; echo $PATH; curl --version | head -n 1; stat -c %U /consul 2>/dev/null "
               "|| ls -ld /consul; curl -f -s localhost:10000/consul-ecs/health; echo curl=$?",
               entrypoint="/bin/sh")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "consul-ecs"
    assert lines[1].startswith("/bin/consul-inject:")
    assert lines[2].startswith("curl ") and "OpenSSL" in lines[2]
    assert "consul-ecs" in lines[3]
    assert lines[-1] == "curl=7"  # nothing listens: curl -f fails as a health check must
    labels = json.loads(podman("image", "inspect", "--format", "{{json .Config.Labels}}", image).stdout)
    for key in ("title", "version", "revision", "source"):
        assert labels.get(f"org.opencontainers.image.{key}"), key
    config = json.loads(podman("image", "inspect", "--format", "{{json .Config}}", image).stdout)
    assert config["Entrypoint"] == ["/bin/consul-ecs"]
    assert "/consul" in config["Volumes"]


def test_static_binary_runs_in_an_image_without_libc(consul_ecs_bin, network, dns, net_consul):
    """The copied binary alone, in a busybox-static image: version, net-dial,
    a DNS lookup through /etc/resolv.conf (no NSS), and the exit codes."""
    out = subprocess.run(["file", consul_ecs_bin], capture_output=True, text=True).stdout
    assert "statically linked" in out, out
    img = busybox_image()
    mount = [f"{consul_ecs_bin}:/consul/consul-ecs:ro"]
    p = run_in(img, "/consul/consul-ecs", "version", volumes=mount)
    assert p.returncode == 0 and p.stdout.startswith("consul-ecs v"), (p.returncode, p.stdout, p.stderr)
    # DNS name -> Consul's HTTPS port on the gateway: resolved by c-ares from
    # the resolv.conf podman writes for --dns.
    target = f"{CONSUL_NAME}:{net_consul.https_port}"
    p = run_in(img, "/consul/consul-ecs", "net-dial", target, network=network.name, dns=network.gateway,
               volumes=mount)
    assert p.returncode == 0, p.stderr
    assert (CONSUL_NAME, 1) in dns.queries
    p = run_in(img, "/consul/consul-ecs", "net-dial", f"no-such-name.ecs.test:{net_consul.https_port}",
               network=network.name, dns=network.gateway, volumes=mount)
    assert p.returncode == 2 and "no-such-name.ecs.test" in p.stderr
    p = run_in(img, "/consul/consul-ecs", "net-dial", "127.0.0.1:1", volumes=mount)
    assert p.returncode == 2


def mesh_task_containers(image: str, foreign: str, config: dict, ca_file: str) -> list[ContainerDef]:
    """The containers of a mesh task as the official mesh-task module (v0.7.3)
    writes them, with stand-ins from the foreign image for the dataplane (a
    listener on 22000) and the app (httpd). In the module: the app is the one
    essential container, its own command appended without `--` to the
    entryPoint `consul-ecs app-entrypoint -shutdown-delay <N>s`, /consul
    mounted read-only; the control-plane runs `control-plane`, owns /consul
    (read-write) and is checked with `curl -f localhost:10000/consul-ecs/health`;
    consul-dataplane runs behind `consul-ecs envoy-entrypoint`, /consul
    read-only, checked with `consul-ecs net-dial 127.0.0.1:22000`. The app
    waits for both to be HEALTHY, the dataplane for the control-plane."""
    return [
        ContainerDef(
            name=APP, image=foreign,
            entry_point=["/consul/consul-ecs", "app-entrypoint", "-shutdown-delay", "2s"],
            # The app's own command and flags, appended without `--`.
            command=["httpd", "-f", "-v", "-p", str(APP_PORT), "-h", "/www"],
            mounts=[("consul", "/consul", True)],
            health_check=HealthCheck(["CMD", "/consul/consul-ecs", "net-dial", f"127.0.0.1:{APP_PORT}"],
                                     interval=1, retries=3),
            depends_on=[(CONTROL_PLANE, "HEALTHY"), (DATAPLANE, "HEALTHY")],
            essential=True),
        ContainerDef(
            name=CONTROL_PLANE, image=image, command=["control-plane"],
            environment={"CONSUL_ECS_CONFIG_JSON": json.dumps(config)},
            mounts=[("consul", "/consul", False)],
            # The test CA stands in for the public CAs of the image's bundle.
            files=[(ca_file, "/etc/ssl/certs/ca-certificates.crt")],
            health_check=HealthCheck(["CMD-SHELL", "curl -f localhost:10000/consul-ecs/health"],
                                     interval=1, retries=10),
            essential=False),
        ContainerDef(
            name=DATAPLANE, image=foreign,
            entry_point=["/consul/consul-ecs", "envoy-entrypoint"],
            # Stand-in for `consul-dataplane -config-file /consul/consul-dataplane.json`:
            # it needs the file the control-plane wrote, then listens on 22000.
            command=["sh", "-c", "test -s /consul/consul-dataplane.json && "
                                 "exec httpd -f -p 127.0.0.1:22000 -h /www"],
            mounts=[("consul", "/consul", True)],
            health_check=HealthCheck(["CMD", "/consul/consul-ecs", "net-dial", "127.0.0.1:22000"],
                                     interval=1, retries=10),
            depends_on=[(CONTROL_PLANE, "HEALTHY")],
            essential=False),
    ]


def test_mesh_task_as_a_pod_registers_and_stops_gracefully(image, network, dns, net_consul, net_emulator,
                                                           moto, aws, tmp_path):
    cluster = f"arn:aws:ecs:{tb.REGION}:{tb.ACCOUNT_ID}:cluster/containers"
    task = net_emulator.add_task(cluster=cluster, ip=network.next_ip(), role_arn=aws.roles[WEB_ROLE],
                                 containers=[ContainerSpec(APP, known_status="PENDING"),
                                             ContainerSpec(CONTROL_PLANE, known_status="PENDING"),
                                             ContainerSpec(DATAPLANE, known_status="PENDING")])
    register_cluster_node(net_consul, task)
    config = {
        "bootstrapDir": "/consul",
        "logLevel": "DEBUG",
        "consulServers": {
            "hosts": CONSUL_NAME,
            "skipServerWatch": True,
            "defaults": {"tls": True},
            "http": {"port": net_consul.https_port, "https": True},
            "grpc": {"port": net_consul.grpc_port},
        },
        "consulLogin": {"enabled": True, "region": tb.REGION, "stsEndpoint": moto.url},
        "service": {"name": "web", "port": APP_PORT},
        "healthSyncContainers": [APP],
    }
    pod = PodTask(net_emulator, task, network,
                  mesh_task_containers(image, busybox_image(), config, net_consul.ca_file),
                  dns=network.gateway)
    service_id = f"web-{task.task_id}"
    proxy_id = f"{service_id}-sidecar-proxy"
    node = task.cluster_arn
    try:
        pod.create().start(timeout=120)

        def all_passing() -> bool:
            checks = net_consul.checks_by_id(node)
            mine = [c for c in checks.values() if c.get("ServiceID") in (service_id, proxy_id)]
            return len(mine) >= 3 and all(c["Status"] == "passing" for c in mine)

        try:
            tb.wait_until(all_passing, 60, 0.5, "service and proxy checks passing")
        except TimeoutError as e:
            pytest.fail(f"{e}\nstates: {pod.describe()}\n--- control-plane ---\n"
                        f"{pod.logs(CONTROL_PLANE)[-4000:]}", pytrace=False)
        instance = net_consul.service_instance(node, service_id)
        assert instance["Address"] == task.ip and instance["Port"] == APP_PORT
        assert net_consul.service_instance(node, proxy_id)["Kind"] == "connect-proxy"
        # The app runs with its own flags: it listens where -p told it.
        assert pod.state[APP].health == "HEALTHY"
        tokens = [t for t in net_consul.must(net_consul.get("/v1/acl/tokens"))
                  if task.task_id in t.get("Description", "")]
        assert len(tokens) == 1, "exactly one login token for the task"

        # StopTask: SIGTERM to every container at once.
        t0 = time.monotonic()
        pod.stop(stop_timeout=30)
        pod.wait_stopped(45)
        elapsed = time.monotonic() - t0
        assert elapsed < 30, f"stop took {elapsed:.1f}s: something waited for SIGKILL ({pod.events})"

        assert net_consul.service_instance(node, service_id) is None
        assert net_consul.service_instance(node, proxy_id) is None
        tokens = [t for t in net_consul.must(net_consul.get("/v1/acl/tokens"))
                  if task.task_id in t.get("Description", "")]
        assert tokens == [], "the login token was logged out"
        # Exit codes as documented (docs/architecture.md): the control-plane 0
        # after a clean deregistration; the app and the proxy were ended by
        # SIGTERM from their entrypoints, which report a signal death as 255.
        codes = {n: pod.exit_code(n) for n in (CONTROL_PLANE, DATAPLANE, APP)}
        assert codes == {CONTROL_PLANE: 0, DATAPLANE: 255, APP: 255}, (codes, pod.events)
        # Order of the graceful stop: the app went first (after its 2 s
        # delay), the proxy only once the app had stopped.
        exits = [text for _, text in pod.events if " exited " in text]
        assert exits.index(f"{APP} exited 255") < exits.index(f"{DATAPLANE} exited 255"), exits
        cp_log = pod.logs(CONTROL_PLANE)
        assert "Traceback" not in cp_log
    finally:
        pod.cleanup()
    assert podman("pod", "exists", pod.pod, check=False).returncode != 0


def test_control_plane_refuses_a_certificate_the_image_bundle_does_not_trust(
        image, network, dns, net_consul, net_emulator, moto, aws):
    """Without the test CA mounted, the image's own bundle (Debian's public
    CAs) must not trust Consul's certificate: no login, nothing registered,
    never ready."""
    cluster = f"arn:aws:ecs:{tb.REGION}:{tb.ACCOUNT_ID}:cluster/untrusted-ca"
    task = net_emulator.add_task(cluster=cluster, ip=network.next_ip(), role_arn=aws.roles[WEB_ROLE],
                                 containers=[ContainerSpec(CONTROL_PLANE, known_status="PENDING")])
    register_cluster_node(net_consul, task)
    config = {
        "bootstrapDir": "/consul",
        "consulServers": {"hosts": CONSUL_NAME, "skipServerWatch": True, "defaults": {"tls": True},
                          "http": {"port": net_consul.https_port, "https": True}},
        "consulLogin": {"enabled": True, "region": tb.REGION, "stsEndpoint": moto.url},
        "service": {"name": "web", "port": APP_PORT},
    }
    cp = mesh_task_containers(image, busybox_image(), config, net_consul.ca_file)[1]
    cp.files = []  # the image's own CA bundle
    pod = PodTask(net_emulator, task, network, [cp], dns=network.gateway)
    try:
        pod.create().start(timeout=30)
        # It found Consul (by DNS) and tried: the TLS verification is what failed.
        tb.wait_until(lambda: "certificate" in pod.logs(CONTROL_PLANE), 30, 0.5,
                      "a certificate verification error from the control-plane")
        assert (CONSUL_NAME, 1) in dns.queries
        assert pod.state[CONTROL_PLANE].health != "HEALTHY"
        assert net_consul.catalog_node(task.cluster_arn)["Services"] in ({}, None)
        tokens = [t for t in net_consul.must(net_consul.get("/v1/acl/tokens"))
                  if task.task_id in t.get("Description", "")]
        assert tokens == []
    finally:
        pod.cleanup()


# The rule shapes src/tproxy/rules.cpp writes (owner match, REDIRECT, DNAT of
# DNS, RETURN for a CIDR): every extension the applier needs must load from
# the image's own xtables directory.
TPROXY_LIKE_RULES = """*nat
:CONSUL_TEST_OUTPUT - [0:0]
:CONSUL_TEST_REDIRECT - [0:0]
-A CONSUL_TEST_REDIRECT -p tcp -j REDIRECT --to-ports 15001
-A CONSUL_TEST_OUTPUT -m owner --uid-owner 5995 -j RETURN
-A CONSUL_TEST_OUTPUT -d 169.254.170.2/32 -j RETURN
-A CONSUL_TEST_OUTPUT -p tcp --dport 22000 -j RETURN
-A CONSUL_TEST_OUTPUT -j CONSUL_TEST_REDIRECT
-A CONSUL_TEST_OUTPUT -p udp -d 127.0.0.1/32 --dport 53 -j DNAT --to-destination 127.0.0.1:8600
-A OUTPUT -p tcp -j CONSUL_TEST_OUTPUT
COMMIT
"""


def test_image_iptables_changes_the_pods_nat_table(image, network):
    """mesh-init (root, NET_ADMIN) applies the transparent proxy with
    `iptables-save -t nat` and `iptables-restore --noflush` from the image's
    PATH; the rules land in the pod's shared network namespace, where another
    container of the task sees them. Both backends run; without NET_ADMIN
    iptables fails (the applier turns that into its NET_ADMIN error)."""
    pod = f"{PREFIX}iptables-{os.getpid()}"
    podman("pod", "create", "--name", pod, "--infra-name", f"{pod}-infra", "--network", network.name,
           "--ip", network.next_ip())
    try:
        podman("start", f"{pod}-infra")

        def in_pod(*command: str, cap: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess:
            args = ["podman", "run", "--rm", "-i", "--pod", pod, "--user", "0", "--entrypoint", command[0]]
            if cap:
                args += ["--cap-add", "NET_ADMIN"]
            return subprocess.run([*args, image, *command[1:]], input=stdin or "", capture_output=True, text=True,
                                  env=podman_env(), timeout=60)

        which = in_pod("/bin/sh", "-c", "command -v iptables-save; command -v iptables-restore; iptables --version")
        assert which.returncode == 0, which.stderr
        assert which.stdout.splitlines()[:2] == ["/usr/sbin/iptables-save", "/usr/sbin/iptables-restore"]
        assert "(nf_tables)" in which.stdout

        restored = in_pod("iptables-restore", "--noflush", stdin=TPROXY_LIKE_RULES)
        assert restored.returncode == 0, restored.stderr
        saved = in_pod("iptables-save", "-t", "nat")  # a second container of the same pod
        assert saved.returncode == 0, saved.stderr
        lines = saved.stdout.splitlines()
        for expected in (":CONSUL_TEST_OUTPUT - [0:0]",
                         "-A OUTPUT -p tcp -j CONSUL_TEST_OUTPUT",
                         "-A CONSUL_TEST_OUTPUT -m owner --uid-owner 5995 -j RETURN",
                         "-A CONSUL_TEST_OUTPUT -d 169.254.170.2/32 -j RETURN",
                         "-A CONSUL_TEST_OUTPUT -p tcp -m tcp --dport 22000 -j RETURN",
                         "-A CONSUL_TEST_OUTPUT -d 127.0.0.1/32 -p udp -m udp --dport 53 -j DNAT "
                         "--to-destination 127.0.0.1:8600",
                         "-A CONSUL_TEST_REDIRECT -p tcp -j REDIRECT --to-ports 15001"):
            assert expected in lines, saved.stdout
        # --noflush keeps what was there: a second restore adds, does not replace.
        again = in_pod("iptables-restore", "--noflush",
                       stdin="*nat\n:CONSUL_TEST_MORE - [0:0]\nCOMMIT\n")
        assert again.returncode == 0, again.stderr
        both = in_pod("iptables-save", "-t", "nat").stdout
        assert ":CONSUL_TEST_MORE - [0:0]" in both and "-A OUTPUT -p tcp -j CONSUL_TEST_OUTPUT" in both

        legacy = in_pod("iptables-legacy-save", "-t", "nat")
        assert legacy.returncode == 0, legacy.stderr
        assert "*nat" in legacy.stdout

        denied = in_pod("iptables-save", "-t", "nat", cap=False)
        assert denied.returncode != 0
        assert "Permission denied" in denied.stderr, denied.stderr
    finally:
        podman("pod", "rm", "--force", "--time", "0", pod, check=False)
