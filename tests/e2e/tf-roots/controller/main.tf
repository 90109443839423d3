# Test root of tests/e2e/test_terraform_controller.py. consul_ecs_testbed/terraform_bed.py copies
# it to <tmp>/terraform/test-roots/controller next to a copy of the repo's
# terraform/ tree, hence the module source below.
#   full      TLS with CA secrets, partitions, log configuration, http/grpc
#             config, an extra execution policy, tags, a short destroy grace;
#             an application ECS service depends on it (destroy ordering)
#   defaults  every optional input at its default but the destroy grace (0),
#             in a cluster of its own

variable "name" {
  type    = string
  default = "tfctl"
}

resource "aws_ecs_cluster" "this" {
  name = var.name
}

resource "aws_ecs_cluster" "other" {
  name = "${var.name}-other"
}

resource "aws_vpc" "this" {
  cidr_block = "10.78.0.0/16"
  tags       = { Name = var.name }
}

resource "aws_subnet" "this" {
  vpc_id     = aws_vpc.this.id
  cidr_block = "10.78.1.0/24"
  tags       = { Name = var.name }
}

resource "aws_security_group" "controller" {
  name   = "${var.name}-controller"
  vpc_id = aws_vpc.this.id
}

resource "aws_cloudwatch_log_group" "this" {
  name = "/ecs/${var.name}"
}

resource "aws_secretsmanager_secret" "token" {
  name                    = "${var.name}-bootstrap-token"
  recovery_window_in_days = 0
}

resource "aws_secretsmanager_secret_version" "token" {
  secret_id     = aws_secretsmanager_secret.token.id
  secret_string = "3c1e6f36-5b0e-4a39-9d51-000000000001"
}

resource "aws_secretsmanager_secret" "ca" {
  name                    = "${var.name}-consul-ca"
  recovery_window_in_days = 0
}

resource "aws_secretsmanager_secret" "https_ca" {
  name                    = "${var.name}-consul-https-ca"
  recovery_window_in_days = 0
}

resource "aws_iam_policy" "extra" {
  name = "${var.name}-extra"
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["ecr:GetAuthorizationToken"], Resource = "*" }]
  })
}

module "full" {
  source = "../../modules/controller"

  name_prefix                        = var.name
  ecs_cluster_arn                    = aws_ecs_cluster.this.arn
  region                             = "us-east-1"
  subnets                            = [aws_subnet.this.id]
  security_groups                    = [aws_security_group.controller.id]
  assign_public_ip                   = true
  consul_server_hosts                = "consul.dc1.internal"
  skip_server_watch                  = true
  consul_bootstrap_token_secret_arn  = aws_secretsmanager_secret.token.arn
  tls                                = true
  tls_server_name                    = "server.dc1.consul"
  consul_ca_cert_arn                 = aws_secretsmanager_secret.ca.arn
  consul_https_ca_cert_arn           = aws_secretsmanager_secret.https_ca.arn
  http_config                        = { port = 443 }
  grpc_config                        = { tlsServerName = "grpc.dc1.consul" }
  iam_role_path                      = "/mesh/"
  consul_partitions_enabled          = true
  consul_partition                   = "part1"
  requires_compatibilities           = ["FARGATE"]
  additional_execution_role_policies = [aws_iam_policy.extra.arn]
  destroy_grace_period_seconds       = 2
  tags                               = { team = "e2e" }

  log_configuration = {
    logDriver = "awslogs"
    options = {
      awslogs-group         = aws_cloudwatch_log_group.this.name
      awslogs-region        = "us-east-1"
      awslogs-stream-prefix = "controller"
    }
  }
}

module "defaults" {
  source = "../../modules/controller"

  name_prefix                       = "${var.name}-defaults"
  ecs_cluster_arn                   = aws_ecs_cluster.other.arn
  region                            = "us-east-1"
  subnets                           = [aws_subnet.this.id]
  consul_server_hosts               = "10.0.0.10"
  consul_bootstrap_token_secret_arn = aws_secretsmanager_secret.token.arn

  # The one non-default: the 30 s default grace would only slow the test.
  destroy_grace_period_seconds = 0
}

# A stand-in for a mesh task's ECS service: ordered after the controller on
# create and before it on destroy.
resource "aws_ecs_task_definition" "app" {
  family       = "${var.name}-app"
  network_mode = "awsvpc"
  cpu          = 256
  memory       = 512
  container_definitions = jsonencode([{
    name      = "app"
    image     = "docker.io/library/app:1"
    essential = true
  }])
}

resource "aws_ecs_service" "app" {
  name            = "${var.name}-app"
  cluster         = aws_ecs_cluster.this.arn
  task_definition = aws_ecs_task_definition.app.arn
  desired_count   = 1
  launch_type     = "FARGATE"

  network_configuration {
    subnets = [aws_subnet.this.id]
  }

  depends_on = [module.full.ready]
}

output "modules" {
  value = {
    for k, m in { full       = module.full, defaults = module.defaults } : k => {
      ready                  = m.ready
      ecs_service_name       = m.ecs_service_name
      ecs_service_id         = m.ecs_service_id
      task_definition_arn    = m.task_definition_arn
      task_role_arn          = m.task_role_arn
      execution_role_arn     = m.execution_role_arn
      consul_ecs_config_json = m.consul_ecs_config_json
    }
  }
}

output "clusters" {
  value = { full = aws_ecs_cluster.this.arn, defaults = aws_ecs_cluster.other.arn }
}

output "secrets" {
  value = {
    token    = aws_secretsmanager_secret.token.arn
    ca       = aws_secretsmanager_secret.ca.arn
    https_ca = aws_secretsmanager_secret.https_ca.arn
  }
}

output "extra_policy_arn" {
  value = aws_iam_policy.extra.arn
}
