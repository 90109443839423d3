#!/usr/bin/env python3
"""moto's server (`python -m moto.server ...`) with the fixes the test bed
needs where moto answers otherwise than AWS; nothing else of moto changes.
Every moto of the bed runs this (bed.MotoServer, the sandbox, the benchmarks).

1. moto 5 adds up every container's `memory`/`memoryReservation` and fails
   with a TypeError (HTTP 500) when a container has neither. ECS accepts that
   on Fargate, where only the task-level memory is required, and the
   Terraform modules' sidecars set none: a missing value counts as 0.
2. An awsvpc task's ENI gets a random address anywhere in 10.0.0.0/8
   instead of one of its subnet. Here it gets the subnet's next free address
   (from .4: AWS keeps the first four and the last of every subnet), so the
   address the ECS API reports is one the sandbox can give the task's
   network namespace on that subnet.
3. A role trust statement whose principal is only a service
   (`{"Service": "ecs-tasks.amazonaws.com"}`, as every task role and
   execution role has) makes moto's trust check fail with a TypeError.
   Here a statement trusting the ECS tasks service accepts the caller named
   by $SANDBOX_ECS_AGENT_ARN (the IAM user the emulated ECS agent assumes
   task and execution roles as: moto cannot act as a service principal);
   any other caller, or a statement without an AWS principal, is refused
   instead of crashing.
4. moto authorizes a Secrets Manager call against the resource "*" only,
   so a policy that allows GetSecretValue on the secret's ARN (the
   execution roles' policies) is refused. Here a call naming a secret by
   its full ARN (SecretId, as ECS's valueFrom does) is authorized against
   that ARN, as AWS does.
5. ECS ListTasks without `desiredStatus` lists only the tasks whose desired
   status is RUNNING, as AWS documents ("The default status filter is
   RUNNING"); moto lists the STOPPED ones too, so a client relying on the
   default (the reference consul-ecs controller does) would never see a
   task go. `desiredStatus` given is moto's filter, unchanged.

Usage: python -m consul_ecs_testbed.moto_server [moto.server arguments, e.g. -H 10.1.2.1 -p 5000]
"""
import sys

from moto.ecs import models


def _patch() -> None:
    calc = models.EC2ContainerServiceBackend._calculate_task_resource_requirements

    def calculate(task_definition):
        # Only the sum is wrong: give moto a copy whose containers carry an explicit 0.
        defs = task_definition.container_definitions
        fixed = []
        for c in defs:
            has = any(c.get(k) is not None for k in ("memory", "memoryReservation", "Memory",
                                                       "MemoryReservation"))
            fixed.append(c if has else {**c, "memory": 0})
        task_definition.container_definitions = fixed
        try:
            return calc(task_definition)
        finally:
            task_definition.container_definitions = defs

    models.EC2ContainerServiceBackend._calculate_task_resource_requirements = staticmethod(calculate)

    import ipaddress

    from moto.ec2.models.elastic_network_interfaces import NetworkInterfaceBackend
    create = NetworkInterfaceBackend.create_network_interface

    def create_network_interface(self, subnet, private_ip_address, *args, **kwargs):
        if kwargs.get("description") == "moto ECS":
            sub = self.get_subnet(subnet) if isinstance(subnet, str) else subnet
            used = {e.private_ip_address for e in self.enis.values()}
            hosts = list(ipaddress.ip_network(sub.cidr_block).hosts())
            free = [str(ip) for ip in hosts[3:-1] if str(ip) not in used]
            if not free:
                raise RuntimeError(f"subnet {sub.cidr_block} has no free address")
            private_ip_address = free[0]
        return create(self, subnet, private_ip_address, *args, **kwargs)

    NetworkInterfaceBackend.create_network_interface = create_network_interface


def _patch_secrets_resource() -> None:
    import json

    from moto.secretsmanager.responses import SecretsManagerResponse

    def determine_resource(self) -> str:
        try:
            secret_id = json.loads(self.body or "{}").get("SecretId", "")
        except (ValueError, AttributeError):
            return "*"
        return secret_id if isinstance(secret_id, str) and secret_id.startswith("arn:") else "*"

    SecretsManagerResponse._determine_resource = determine_resource


def _patch_trust() -> None:
    import os

    from moto.iam.access_control import IAMPolicyStatement

    agent = os.environ.get("SANDBOX_ECS_AGENT_ARN", "")

    def check_principal(self, principal: str) -> bool:
        expected = self._statement.get("Principal")
        if not expected:
            return True
        if isinstance(expected, str):
            return expected == "*"
        services = expected.get("Service") or []
        services = [services] if isinstance(services, str) else services
        if agent and principal == agent and "ecs-tasks.amazonaws.com" in services:
            return True
        aws = expected.get("AWS")
        if aws is None:
            return False
        return aws == "*" or principal == aws or (isinstance(aws, list) and principal in aws)

    IAMPolicyStatement._check_principal = check_principal


def _patch_list_tasks_default() -> None:
    from moto.core.responses import ActionResult
    from moto.ecs.responses import EC2ContainerServiceResponse

    def list_tasks(self) -> ActionResult:  # moto's handler, self its response object
        # moto 5.2.5's handler with one change: no desiredStatus means
        # RUNNING. The backend's list_tasks() keeps listing every task when
        # called without a filter (moto looks up stopped tasks that way, e.g.
        # for their tags).
        tasks = self.ecs_backend.list_tasks(
            self._get_param("cluster", "default"),
            self._get_param("containerInstance"),
            self._get_param("family"),
            self._get_param("startedBy"),
            self._get_param("serviceName"),
            self._get_param("desiredStatus") or "RUNNING",
        )
        return ActionResult({"taskArns": [t.task_arn for t in tasks]})

    EC2ContainerServiceResponse.list_tasks = list_tasks


def apply_fixes() -> None:
    _patch()
    _patch_trust()
    _patch_secrets_resource()
    _patch_list_tasks_default()


if __name__ == "__main__":
    apply_fixes()
    from moto.server import main
    sys.exit(main(sys.argv[1:]))
