"""control-plane against a Consul whose HTTP API is served over TLS: CA from
a file or from CONSUL_HTTPS_CACERT_PEM, and the configured TLS server name
is what the certificate is verified against."""
from __future__ import annotations

import signal

import pytest

from conftest import base_config, holds, register_cluster_node, wait_for
from consul_ecs_testbed import bed as tb


@pytest.fixture(scope="module")
def tls_consul(tmp_path_factory, moto):
    c = tb.TlsConsulServer(str(tmp_path_factory.mktemp("consul-tls"))).start()
    tb.setup_auth_method(c, moto.url)
    yield c
    c.stop()


def tls_config(consul: tb.TlsConsulServer, moto, bootstrap_dir: str, **http: object) -> dict:
    cfg = base_config(consul, moto, bootstrap_dir)
    cfg["consulServers"]["http"] = {"port": consul.https_port, "https": True, "tls": True, **http}
    return cfg


def test_https_with_ca_file_and_server_name(run_control_plane, make_task, tls_consul, moto, tmp_path, emulator):
    task = make_task(register_node=False)
    register_cluster_node(tls_consul, task)
    cfg = tls_config(tls_consul, moto, str(tmp_path), caCertFile=tls_consul.ca_file,
                     tlsServerName="server.dc1.consul")
    cp = run_control_plane(cfg, task)
    cp.wait_ready(timeout=30)
    assert tls_consul.service_instance(cp.node, cp.service_id) is not None
    emulator.set_container(task.task_id, "consul-dataplane", known_status="STOPPED")
    cp.signal(signal.SIGTERM)
    assert cp.wait(15) == 0, cp.describe()
    assert tls_consul.service_instance(cp.node, cp.service_id) is None


def test_https_ca_from_environment(run_control_plane, make_task, tls_consul, moto, tmp_path):
    task = make_task(register_node=False)
    register_cluster_node(tls_consul, task)
    cfg = tls_config(tls_consul, moto, str(tmp_path))
    with open(tls_consul.ca_file) as f:
        pem = f.read()
    cp = run_control_plane(cfg, task, env_extra={"CONSUL_HTTPS_CACERT_PEM": pem})
    cp.wait_ready(timeout=30)
    assert tls_consul.service_instance(cp.node, cp.service_id) is not None


def test_wrong_server_name_is_refused(run_control_plane, make_task, tls_consul, moto, tmp_path):
    task = make_task(register_node=False)
    register_cluster_node(tls_consul, task)
    # 127.0.0.1 is in the certificate, but the configured name is what must match.
    cfg = tls_config(tls_consul, moto, str(tmp_path), caCertFile=tls_consul.ca_file,
                     tlsServerName="server.dc9.consul")
    cp = run_control_plane(cfg, task)
    wait_for(lambda: "server.dc9.consul" in cp.output(), 20, "the refused server name in the log", cp)
    wait_for(lambda: cp.health() == 500, 10, "readiness endpoint answering 500", cp)
    holds(lambda: cp.alive() and cp.health() == 500, 1, "alive and not ready", cp)
    assert tls_consul.service_instance(cp.node, cp.service_id) is None
    cp.signal(signal.SIGTERM)
    assert cp.wait(10) == 0, cp.describe()


def test_untrusted_ca_is_refused(run_control_plane, make_task, tls_consul, moto, tmp_path):
    task = make_task(register_node=False)
    register_cluster_node(tls_consul, task)
    cfg = tls_config(tls_consul, moto, str(tmp_path))  # no CA: the system store does not know it
    cp = run_control_plane(cfg, task)
    wait_for(lambda: "certificate" in cp.output().lower(), 20, "a certificate error in the log", cp)
    wait_for(lambda: cp.health() == 500, 10, "readiness endpoint answering 500", cp)
    holds(lambda: cp.alive() and cp.health() == 500, 1, "alive and not ready", cp)
    cp.signal(signal.SIGTERM)
    assert cp.wait(10) == 0, cp.describe()
