"""Task definitions of the sandbox, in the layout of the official Terraform
`mesh-task` module for consul-ecs v0.7 (control-plane variant):

  consul-ecs-control-plane   essential=false  `consul-ecs control-plane`,
                             healthy once GET /consul-ecs/health answers 200
  consul-dataplane           essential=false  dependsOn control-plane HEALTHY;
                             `<bootstrapDir>/consul-ecs envoy-entrypoint <proxy>`;
                             health: `consul-ecs net-dial 127.0.0.1:<port>`
  app                        essential=true   dependsOn consul-dataplane HEALTHY;
                             `<bootstrapDir>/consul-ecs app-entrypoint
                              -shutdown-delay <d> -- <app>`; HTTP health check

The task role is under /consul-ecs/ and tagged with the service name, the
task definition is tagged consul.hashicorp.com/mesh=true. Differences forced
by running on one host (documented in docs/sandbox.md): every port is
distinct per task (service port, public listener, upstream bind, readiness
address via the test-only CONSUL_ECS_HEALTH_LISTEN_ADDR), each task has its
own bootstrap directory, and the proxy is `consul connect proxy` started by
sandbox/dataplane.py instead of consul-dataplane + Envoy.

And the controller's task: one `consul-ecs controller` container with the
bootstrap (management) token in CONSUL_HTTP_TOKEN, as the Terraform
`controller` module runs it.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field

from ecs_sandbox import ContainerDefinition, Dependency, HealthCheck, TaskDefinition

import testbed as tb  # noqa: E402 (on sys.path through ecs_sandbox)

HERE = os.path.dirname(os.path.abspath(__file__))
APPS = os.path.join(HERE, "apps")
CONTROL_PLANE = "consul-ecs-control-plane"
DATAPLANE = "consul-dataplane"
APP = "app"
CONTROLLER = "consul-ecs-controller"
MESH_TAG = "consul.hashicorp.com/mesh"


def go_duration(seconds: float) -> str:
    return f"{int(round(seconds * 1000))}ms"


@dataclass
class Timings:
    """Every knob that sets how long the sandbox takes."""
    controller_interval: float = 5.0   # controller -polling-interval
    shutdown_delay: float = 5.0        # app-entrypoint -shutdown-delay
    health_interval: float = 1.0       # container health checks
    health_retries: int = 3
    stop_timeout: float = 20.0         # ECS stopTimeout of every container
    client_period: float = 0.1         # client app: time between requests
    client_timeout: float = 2.0        # client app: request timeout

    @staticmethod
    def fast() -> "Timings":
        """The CI flavour (tests/e2e/test_sandbox.py)."""
        return Timings(controller_interval=2.0, shutdown_delay=2.0, health_interval=0.5,
                       stop_timeout=12.0, client_period=0.05, client_timeout=2.0)


@dataclass
class ConsulTarget:
    http_port: int
    grpc_port: int
    moto_url: str
    region: str
    consul_bin: str


@dataclass
class MeshPorts:
    app: int
    public_listener: int
    readiness: int                      # CONSUL_ECS_HEALTH_LISTEN_ADDR
    upstreams: dict[str, int] = field(default_factory=dict)  # destination -> local bind port


def control_plane_config(service: str, bootstrap_dir: str, target: ConsulTarget,
                         ports: MeshPorts, tags: list[str] | None = None,
                         meta: dict[str, str] | None = None) -> dict:
    return {
        "bootstrapDir": bootstrap_dir,
        "logLevel": "INFO",
        "consulServers": tb.plain_consul_servers(target.http_port, target.grpc_port),
        "consulLogin": {"enabled": True, "region": target.region, "stsEndpoint": target.moto_url},
        "service": {"name": service, "port": ports.app, "tags": tags or ["sandbox"],
                    "meta": meta or {"demo": "consul-ecs-sandbox"}},
        "proxy": {
            "publicListenerPort": ports.public_listener,
            "upstreams": [{"destinationName": d, "localBindPort": p}
                          for d, p in sorted(ports.upstreams.items())],
        },
        "healthSyncContainers": [APP],
    }


def mesh_task(service: str, app_command: list[str], app_health_url: str, role_arn: str,
              consul_ecs_bin: str, bootstrap_dir: str, target: ConsulTarget, ports: MeshPorts,
              timings: Timings) -> TaskDefinition:
    """A mesh task (family = service name) around one app container."""
    py = sys.executable
    bd_bin = os.path.join(bootstrap_dir, "consul-ecs")  # copied there by the control-plane
    cfg = control_plane_config(service, bootstrap_dir, target, ports)
    hc = dict(interval=timings.health_interval, timeout=2.0, retries=timings.health_retries)
    control_plane = ContainerDefinition(
        name=CONTROL_PLANE, image="hashicorpdev/consul-ecs:local",
        command=[consul_ecs_bin, "control-plane"],
        environment={"CONSUL_ECS_CONFIG_JSON": json.dumps(cfg),
                     "CONSUL_ECS_HEALTH_LISTEN_ADDR": f"127.0.0.1:{ports.readiness}",
                     "AWS_EC2_METADATA_DISABLED": "true"},
        health_check=HealthCheck([py, os.path.join(APPS, "probe.py"),
                                  f"http://127.0.0.1:{ports.readiness}/consul-ecs/health"], **hc),
        essential=False, stop_timeout=timings.stop_timeout)
    dataplane = ContainerDefinition(
        name=DATAPLANE, image="consul-connect-proxy:local",
        command=[bd_bin, "envoy-entrypoint", py, os.path.join(HERE, "dataplane.py"),
                 "-config-file", os.path.join(bootstrap_dir, "consul-dataplane.json"),
                 "-http-addr", f"127.0.0.1:{target.http_port}", "-consul", target.consul_bin],
        depends_on=[Dependency(CONTROL_PLANE, "HEALTHY")],
        health_check=HealthCheck([bd_bin, "net-dial", f"127.0.0.1:{ports.public_listener}"], **hc),
        essential=False, stop_timeout=timings.stop_timeout)
    app = ContainerDefinition(
        name=APP, image=f"sandbox/{service}:local",
        command=[bd_bin, "app-entrypoint", "-shutdown-delay", go_duration(timings.shutdown_delay),
                 "--"] + app_command,
        depends_on=[Dependency(DATAPLANE, "HEALTHY")],
        health_check=HealthCheck([py, os.path.join(APPS, "probe.py"), app_health_url], **hc),
        essential=True, stop_timeout=timings.stop_timeout)
    return TaskDefinition(family=service, containers=[app, control_plane, dataplane],
                          task_role_arn=role_arn,
                          tags={MESH_TAG: "true", "consul.hashicorp.com/service-name": service})


def server_task(**kw) -> TaskDefinition:
    ports: MeshPorts = kw["ports"]
    return mesh_task(
        "server", [sys.executable, os.path.join(APPS, "server.py"), "--port", str(ports.app)],
        f"http://127.0.0.1:{ports.app}/health", **kw)


def client_task(log_path: str, **kw) -> TaskDefinition:
    ports: MeshPorts = kw["ports"]
    timings: Timings = kw["timings"]
    upstream = ports.upstreams["server"]
    return mesh_task(
        "client", [sys.executable, os.path.join(APPS, "client.py"), "--port", str(ports.app),
                   "--upstream", f"http://127.0.0.1:{upstream}/", "--log", log_path,
                   "--period", str(timings.client_period), "--timeout", str(timings.client_timeout)],
        f"http://127.0.0.1:{ports.app}/health", **kw)


def controller_task(consul_ecs_bin: str, workdir: str, target: ConsulTarget, bootstrap_token: str,
                    role_arn: str, timings: Timings) -> TaskDefinition:
    cfg = {
        "bootstrapDir": workdir,
        "logLevel": "INFO",
        "consulServers": tb.plain_consul_servers(target.http_port, target.grpc_port),
        "controller": {"iamRolePath": "/consul-ecs/"},
    }
    return TaskDefinition(family="consul-ecs-controller", task_role_arn=role_arn, containers=[
        ContainerDefinition(
            name=CONTROLLER, image="hashicorpdev/consul-ecs:local",
            command=[consul_ecs_bin, "controller", "-polling-interval",
                     go_duration(timings.controller_interval)],
            environment={"CONSUL_ECS_CONFIG_JSON": json.dumps(cfg),
                         "CONSUL_HTTP_TOKEN": bootstrap_token,
                         "AWS_ENDPOINT_URL_ECS": target.moto_url,
                         "AWS_EC2_METADATA_DISABLED": "true"},
            essential=True, stop_timeout=timings.stop_timeout)])
