"""What the end-to-end suite, the sandbox and the benchmarks share beyond the
servers: the task roles the bed creates in moto, the containers of a
control-plane task, the environment the binary under test must not see, the
base control-plane config and the cluster's synthetic node."""
from __future__ import annotations

import re
from typing import Any

from . import bed as tb
from .ecs_agent_emulator import Task

WEB_ROLE = "web-task-role"          # /consul-ecs/, tag service-name=web -> trusted
API_ROLE = "api-task-role"          # /consul-ecs/, tag service-name=api -> trusted
UNTRUSTED_ROLE = "rogue-task-role"  # /untrusted/, tag service-name=web -> not bound
# Gateway task roles, as the official gateway-task module tags them.
GATEWAY_ROLES = {kind: f"{kind}-task-role" for kind in ("mesh-gateway", "terminating-gateway", "api-gateway")}

CONTROL_PLANE = "consul-ecs-control-plane"
DATAPLANE = "consul-dataplane"
APP = "app"

# Environment the binary must not see: it would change how it authenticates.
SCRUBBED_ENV = re.compile(
    r"^(CONSUL_HTTP_.*|CONSUL_GRPC_.*|CONSUL_CACERT|CONSUL_ECS_CONFIG_JSON|"
    r"CONSUL_ECS_HEALTH_LISTEN_ADDR|CONSUL_ECS_CONTAINER_CREDENTIALS_HOST|AWS_.*|ECS_.*)$")


def register_cluster_node(consul: tb.ConsulServer, task: Task) -> None:
    """Creates the synthetic node named by the cluster ARN, as the consul-ecs
    controller does in a real deployment. The control-plane cannot: its
    login token (a service identity) has no node:write, so it registers with
    SkipNodeUpdate on an existing node."""
    consul.must(consul.put("/v1/catalog/register", {
        "Node": task.cluster_arn, "Address": "127.0.0.1",
        "NodeMeta": {"synthetic-node": "true"}}))


def base_config(consul: tb.ConsulServer, moto: tb.MotoServer, bootstrap_dir: str,
                service_name: str | None = "web") -> dict:
    cfg: dict[str, Any] = {
        "bootstrapDir": bootstrap_dir,
        "logLevel": "DEBUG",
        "consulServers": tb.plain_consul_servers(consul.http_port, consul.grpc_port),
        "consulLogin": {
            "enabled": True,
            "region": tb.REGION,
            "stsEndpoint": moto.url,
        },
        "service": {
            "port": 8080,
            "tags": ["e2e", "v1"],
            "meta": {"team": "mesh", "env": "test"},
        },
        "proxy": {"upstreams": [{"destinationName": "db", "localBindPort": 1234}]},
        "healthSyncContainers": [APP],
    }
    if service_name is not None:
        cfg["service"]["name"] = service_name
    return cfg
