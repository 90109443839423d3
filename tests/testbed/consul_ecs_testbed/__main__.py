"""`python -m consul_ecs_testbed up`: the whole bed (moto, Consul with the
aws-iam auth method, the ECS agent emulator with one task) in the
foreground, for a local demo; writes an env file for the control-plane."""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time

from .bed import (
    ACCOUNT_ID,
    REGION,
    SERVICE_NAME_TAG,
    TRUSTED_ROLE_PATH,
    ConsulServer,
    MotoServer,
    aws_setup,
    free_port,
    plain_consul_servers,
    setup_auth_method,
)
from .ecs_agent_emulator import ContainerSpec, EcsAgentEmulator

# --------------------------------------------------------------------------
# `python -m consul_ecs_testbed up`: the whole bed in the foreground, for a local demo.
# --------------------------------------------------------------------------

def _up(workdir: str, service: str) -> int:
    import signal as _signal

    os.makedirs(workdir, exist_ok=True)
    moto = MotoServer(os.path.join(workdir, "moto")).start()
    role = f"{service}-task-role"
    world = aws_setup(moto, {role: (TRUSTED_ROLE_PATH, {SERVICE_NAME_TAG: service})})
    moto.enable_auth()
    consul = ConsulServer(os.path.join(workdir, "consul")).start()
    setup_auth_method(consul, moto.url)

    def provide(task):
        c = world.assume(role, task.task_id)
        return {"RoleArn": c.role_arn, "AccessKeyId": c.access_key_id,
                "SecretAccessKey": c.secret_access_key, "Token": c.session_token,
                "Expiration": c.expiration}

    emu = EcsAgentEmulator(credentials_provider=provide).start()
    task = emu.add_task(
        cluster=f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:cluster/demo", role_arn=world.roles[role],
        containers=[ContainerSpec("consul-ecs-control-plane"),
                    ContainerSpec("consul-dataplane", health="HEALTHY"),
                    ContainerSpec("app", health="HEALTHY")])
    # The consul-ecs controller's part: the cluster's synthetic node.
    consul.must(consul.put("/v1/catalog/register", {
        "Node": task.cluster_arn, "Address": "127.0.0.1", "NodeMeta": {"synthetic-node": "true"}}))
    bootstrap = os.path.join(workdir, "bootstrap")
    os.makedirs(bootstrap, exist_ok=True)
    cfg = {
        "bootstrapDir": bootstrap,
        "consulServers": plain_consul_servers(consul.http_port, consul.grpc_port),
        "consulLogin": {"enabled": True, "region": REGION, "stsEndpoint": moto.url},
        "service": {"name": service, "port": 8080},
        "healthSyncContainers": ["app"],
    }
    env = dict(emu.env_for(task, "consul-ecs-control-plane"))
    env["CONSUL_ECS_CONFIG_JSON"] = json.dumps(cfg)
    env["CONSUL_ECS_HEALTH_LISTEN_ADDR"] = f"127.0.0.1:{free_port()}"
    env_path = os.path.join(workdir, "env.sh")
    with open(env_path, "w") as f:
        for k, v in env.items():
            f.write(f"export {k}='{v}'\n")
        f.write(f"export CONSUL_HTTP_ADDR='{consul.http_addr}'\n")
        f.write(f"export CONSUL_MGMT_TOKEN='{consul.token}'\n")
        f.write(f"export EMULATOR_URL='{emu.url}'\nexport TASK_ID='{task.task_id}'\n")
    print(json.dumps({"consul": consul.http_addr, "management_token": consul.token,
                      "moto": moto.url, "emulator": emu.url, "task_id": task.task_id,
                      "env_file": env_path}, indent=2), flush=True)
    print(f"source {env_path} && build/consul-ecs control-plane", flush=True)
    done = False

    def _stop(*_):
        nonlocal done
        done = True
    _signal.signal(_signal.SIGTERM, _stop)
    _signal.signal(_signal.SIGINT, _stop)
    try:
        while not done:
            time.sleep(0.5)
    finally:
        emu.stop()
        consul.stop()
        moto.stop()
    return 0


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="Run the e2e test bed in the foreground.")
    ap.add_argument("command", choices=["up"])
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "consul-ecs-testbed"))
    ap.add_argument("--service", default="web")
    a = ap.parse_args()
    sys.exit(_up(a.workdir, a.service))
