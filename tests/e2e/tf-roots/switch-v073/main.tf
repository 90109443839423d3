# Test root of tests/e2e/test_terraform_switch.py: the module calls a user of
# HashiCorp's terraform-aws-consul-ecs v0.7.3 writes (a dev server with TLS,
# ACLs and a load balancer, the controller, a client and a server mesh task
# on Fargate, the server with roles of its own), using only inputs v0.7.3
# has: no consul_ecs_layout, no enable_transparent_proxy, the default
# requires_compatibilities (EC2 and FARGATE). Only the `source` lines are
# ours. terraform_bed.py copies it next to a copy of terraform/ (hence the
# relative sources) and adds the provider set-up of tf-roots/_shared.

variable "name" {
  type    = string
  default = "tfv073"
}

# Changed by the test to check that a tag change plans in-place updates only.
variable "tags" {
  type    = map(string)
  default = { team = "switch" }
}

locals {
  region = "us-east-1"
  log_configuration = {
    logDriver = "awslogs"
    options = {
      awslogs-group         = aws_cloudwatch_log_group.this.name
      awslogs-region        = local.region
      awslogs-stream-prefix = "app"
    }
  }
}

resource "aws_ecs_cluster" "this" {
  name = var.name
}

resource "aws_vpc" "this" {
  cidr_block = "10.73.0.0/16"
  tags       = { Name = var.name }
}

resource "aws_subnet" "private" {
  vpc_id     = aws_vpc.this.id
  cidr_block = "10.73.1.0/24"
  tags       = { Name = "${var.name}-private" }
}

resource "aws_subnet" "public" {
  vpc_id     = aws_vpc.this.id
  cidr_block = "10.73.2.0/24"
  tags       = { Name = "${var.name}-public" }
}

resource "aws_cloudwatch_log_group" "this" {
  name = "/ecs/${var.name}"
}

module "consul_server" {
  source = "../../modules/dev-server"

  name                          = "${var.name}-consul-server"
  ecs_cluster_arn               = aws_ecs_cluster.this.arn
  subnet_ids                    = [aws_subnet.private.id]
  vpc_id                        = aws_vpc.this.id
  launch_type                   = "FARGATE"
  lb_enabled                    = true
  lb_subnets                    = [aws_subnet.public.id]
  lb_ingress_rule_cidr_blocks   = ["0.0.0.0/0"]
  consul_server_startup_timeout = 1
  service_discovery_namespace   = "${var.name}.consul"
  datacenter                    = "dc1"
  tls                           = true
  acls                          = true
  log_configuration             = local.log_configuration
  tags                          = var.tags
}

module "controller" {
  source = "../../modules/controller"

  name_prefix                       = var.name
  ecs_cluster_arn                   = aws_ecs_cluster.this.arn
  region                            = local.region
  subnets                           = [aws_subnet.private.id]
  launch_type                       = "FARGATE"
  consul_server_hosts               = module.consul_server.server_dns
  consul_bootstrap_token_secret_arn = module.consul_server.bootstrap_token_secret_arn
  tls                               = true
  consul_grpc_ca_cert_arn           = module.consul_server.ca_cert_arn
  consul_https_ca_cert_arn          = module.consul_server.ca_cert_arn
  log_configuration                 = local.log_configuration
}

resource "aws_iam_policy" "execute_command" {
  name = "${var.name}-execute-command"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["ssmmessages:CreateControlChannel", "ssmmessages:OpenControlChannel"]
      Resource = "*"
    }]
  })
}

module "client" {
  source = "../../modules/mesh-task"

  family = "${var.name}-client"
  container_definitions = [{
    name             = "basic"
    image            = "nicholasjackson/fake-service:v0.21.0"
    essential        = true
    logConfiguration = local.log_configuration
    environment      = [{ name = "UPSTREAM_URIS", value = "http://localhost:1234" }]
    healthCheck = {
      command  = ["CMD-SHELL", "echo 1"]
      interval = 30
      retries  = 3
      timeout  = 5
    }
  }]
  consul_server_hosts                = module.consul_server.server_dns
  upstreams                          = [{ destinationName = "${var.name}-server", localBindPort = 1234 }]
  outbound_only                      = true
  application_shutdown_delay_seconds = 10
  envoy_public_listener_port         = 21000
  tls                                = true
  consul_grpc_ca_cert_arn            = module.consul_server.ca_cert_arn
  consul_https_ca_cert_arn           = module.consul_server.ca_cert_arn
  acls                               = true
  additional_task_role_policies      = [aws_iam_policy.execute_command.arn]
  log_configuration                  = local.log_configuration
  tags                               = var.tags
}

resource "aws_iam_role" "server_task" {
  name = "${var.name}-server-own-task"
  path = "/consul-ecs/"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "ecs-tasks.amazonaws.com" } }]
  })
  tags = { "consul.hashicorp.com.service-name" = "${var.name}-server" }
}

resource "aws_iam_role" "server_execution" {
  name = "${var.name}-server-own-execution"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "ecs-tasks.amazonaws.com" } }]
  })
}

module "server" {
  source = "../../modules/mesh-task"

  family              = "${var.name}-server"
  consul_service_name = "${var.name}-server"
  container_definitions = [{
    name             = "basic"
    image            = "nicholasjackson/fake-service:v0.21.0"
    essential        = true
    logConfiguration = local.log_configuration
  }]
  consul_server_hosts      = module.consul_server.server_dns
  port                     = 9090
  tls                      = true
  consul_grpc_ca_cert_arn  = module.consul_server.ca_cert_arn
  consul_https_ca_cert_arn = module.consul_server.ca_cert_arn
  acls                     = true
  create_task_role         = false
  create_execution_role    = false
  task_role                = aws_iam_role.server_task
  execution_role           = aws_iam_role.server_execution
  log_configuration        = local.log_configuration
}

resource "aws_ecs_service" "client" {
  name            = "${var.name}-client"
  cluster         = aws_ecs_cluster.this.arn
  task_definition = module.client.task_definition_arn
  desired_count   = 1
  launch_type     = "FARGATE"
  propagate_tags  = "TASK_DEFINITION"
  tags            = var.tags
  network_configuration {
    subnets = [aws_subnet.private.id]
  }
}

resource "aws_ecs_service" "server" {
  name            = "${var.name}-server"
  cluster         = aws_ecs_cluster.this.arn
  task_definition = module.server.task_definition_arn
  desired_count   = 1
  launch_type     = "FARGATE"
  propagate_tags  = "TASK_DEFINITION"
  network_configuration {
    subnets = [aws_subnet.private.id]
  }
}

output "task_definitions" {
  value = {
    client     = module.client.task_definition_arn
    server     = module.server.task_definition_arn
    controller = module.controller.task_definition_arn
    dev_server = module.consul_server.task_definition_arn
  }
}

output "roles" {
  value = {
    client_task      = module.client.task_role_id
    client_execution = module.client.execution_role_id
  }
}
