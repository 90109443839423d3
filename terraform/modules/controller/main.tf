# controller: one consul-ecs controller per ECS cluster, as an ECS service.
# It keeps the Consul ACL objects the mesh tasks log in with (the aws-iam
# auth method, binding rules, policies) and removes what stopped tasks left in
# Consul (service instances, login tokens).

locals {
  container_name = "consul-ecs-controller"

  https_ca_cert_arn = var.consul_https_ca_cert_arn != "" ? var.consul_https_ca_cert_arn : var.consul_ca_cert_arn
  grpc_ca_cert_arn  = var.consul_grpc_ca_cert_arn != "" ? var.consul_grpc_ca_cert_arn : var.consul_ca_cert_arn

  # The Consul token comes from Secrets Manager (ECS injects it; it never
  # appears in the task definition); the CAs too, when given.
  secrets = concat(
    [{ name = "CONSUL_HTTP_TOKEN", valueFrom = var.consul_bootstrap_token_secret_arn }],
    local.grpc_ca_cert_arn != "" ? [{ name = "CONSUL_GRPC_CACERT_PEM", valueFrom = local.grpc_ca_cert_arn }] : [],
    local.https_ca_cert_arn != "" ? [{ name = "CONSUL_HTTPS_CACERT_PEM", valueFrom = local.https_ca_cert_arn }] : [],
  )

  # A null or empty log configuration is left out (the 6.x AWS provider
  # rejects a null one: "missing required field ... LogDriver").
  log_configuration = { for k, v in { logConfiguration = var.log_configuration } : k => v if try(length(v), 0) > 0 }

  controller_container = merge(
    {
      name        = local.container_name
      image       = var.consul_ecs_image
      essential   = true
      command     = ["controller"]
      environment = [{ name = "CONSUL_ECS_CONFIG_JSON", value = local.consul_ecs_config_json }]
      secrets     = local.secrets
      # The controller writes no file; tini as PID 1 reaps and forwards SIGTERM.
      readonlyRootFilesystem = true
      linuxParameters        = { initProcessEnabled = true }
    },
    local.log_configuration,
  )
}

resource "aws_ecs_task_definition" "this" {
  family                   = "${var.name_prefix}-consul-ecs-controller"
  requires_compatibilities = var.requires_compatibilities
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  task_role_arn            = aws_iam_role.this_task.arn
  execution_role_arn       = aws_iam_role.this_execution.arn
  container_definitions    = jsonencode([local.controller_container])
  tags                     = var.tags

  lifecycle {
    precondition {
      condition     = var.consul_partitions_enabled || var.consul_partition == "default" || var.consul_partition == ""
      error_message = "consul_partition is set but consul_partitions_enabled = false: enable partitions (Consul Enterprise) or leave consul_partition at its default."
    }
  }
}

resource "aws_ecs_service" "this" {
  name            = "consul-ecs-controller"
  cluster         = var.ecs_cluster_arn
  task_definition = aws_ecs_task_definition.this.arn
  desired_count   = 1
  launch_type     = var.launch_type
  # ECS Exec into the controller, as upstream (the task role allows the
  # ssmmessages channels).
  enable_execute_command = true
  tags                   = var.tags

  network_configuration {
    subnets          = var.subnets
    security_groups  = var.security_groups
    assign_public_ip = var.assign_public_ip
  }

  # The task role's policy must exist before the controller's first
  # ListTasks, or its first reconcile fails.
  depends_on = [aws_iam_role_policy.this_task]
}

# Destroy ordering (hashicorp/consul#21212). Whatever depends on this module
# (depends_on = [module.controller]) or on its `ready` output is destroyed
# before this resource, and this resource before the controller's service;
# its destroy-time sleep gives the still-running controller time to remove
# the Consul services and tokens of the tasks that were just stopped.
resource "terraform_data" "destroy_grace" {
  input = var.destroy_grace_period_seconds

  provisioner "local-exec" {
    when    = destroy
    command = self.input > 0 ? "sleep ${self.input}" : "true"
  }

  depends_on = [aws_ecs_service.this]
}
