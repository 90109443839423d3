# Test root of tests/e2e/test_terraform_switch.py: the module calls a user of
# HashiCorp's terraform-aws-consul-ecs v0.10.0 writes, using only inputs
# v0.10.0 has: an EC2 task with the transparent proxy and Consul DNS (the
# v0.10.0 defaults), a Fargate task with enable_transparent_proxy = false (a
# v0.10.0 root must set it there), a mesh gateway with WAN federation behind
# an NLB with the module's security group, a terminating gateway, and the
# controller, against Consul servers outside the root. Only the `source`
# lines are ours. terraform_bed.py copies it next to a copy of terraform/
# (hence the relative sources) and adds the provider set-up of tf-roots/_shared.

variable "name" {
  type    = string
  default = "tfv010"
}

# Changed by the test to check that a tag change plans in-place updates only.
variable "tags" {
  type    = map(string)
  default = { team = "switch" }
}

locals {
  region       = "us-east-1"
  consul_hosts = "consul.dc1.internal"
}

resource "aws_ecs_cluster" "this" {
  name = var.name
}

resource "aws_vpc" "this" {
  cidr_block = "10.100.0.0/16"
  tags       = { Name = var.name }
}

resource "aws_subnet" "private" {
  vpc_id     = aws_vpc.this.id
  cidr_block = "10.100.1.0/24"
  tags       = { Name = "${var.name}-private" }
}

resource "aws_subnet" "public" {
  vpc_id     = aws_vpc.this.id
  cidr_block = "10.100.2.0/24"
  tags       = { Name = "${var.name}-public" }
}

resource "aws_secretsmanager_secret" "bootstrap_token" {
  name                    = "${var.name}-bootstrap-token"
  recovery_window_in_days = 0
}

resource "aws_secretsmanager_secret" "ca" {
  name                    = "${var.name}-consul-ca"
  recovery_window_in_days = 0
}

module "controller" {
  source = "../../modules/controller"

  name_prefix                       = var.name
  ecs_cluster_arn                   = aws_ecs_cluster.this.arn
  region                            = local.region
  subnets                           = [aws_subnet.private.id]
  consul_server_hosts               = local.consul_hosts
  consul_bootstrap_token_secret_arn = aws_secretsmanager_secret.bootstrap_token.arn
  tls                               = true
  consul_ca_cert_arn                = aws_secretsmanager_secret.ca.arn
}

module "ec2_app" {
  source = "../../modules/mesh-task"

  family                   = "${var.name}-ec2-app"
  requires_compatibilities = ["EC2"]
  container_definitions = [{
    name      = "app"
    image     = "nicholasjackson/fake-service:v0.21.0"
    essential = true
  }]
  port                  = 9090
  consul_server_hosts   = local.consul_hosts
  tls                   = true
  consul_ca_cert_arn    = aws_secretsmanager_secret.ca.arn
  acls                  = true
  enable_consul_dns     = true
  exclude_inbound_ports = [9091]
  tags                  = var.tags
}

module "fargate_app" {
  source = "../../modules/mesh-task"

  family = "${var.name}-fargate-app"
  container_definitions = [{
    name      = "app"
    image     = "nicholasjackson/fake-service:v0.21.0"
    essential = true
  }]
  outbound_only            = true
  upstreams                = [{ destinationName = "${var.name}-ec2-app", localBindPort = 1234 }]
  consul_server_hosts      = local.consul_hosts
  tls                      = true
  consul_ca_cert_arn       = aws_secretsmanager_secret.ca.arn
  acls                     = true
  enable_transparent_proxy = false
  tags                     = var.tags
}

module "mesh_gateway" {
  source = "../../modules/gateway-task"

  kind                               = "mesh-gateway"
  family                             = "${var.name}-mgw"
  ecs_cluster_arn                    = aws_ecs_cluster.this.arn
  subnets                            = [aws_subnet.private.id]
  consul_server_hosts                = local.consul_hosts
  tls                                = true
  consul_ca_cert_arn                 = aws_secretsmanager_secret.ca.arn
  acls                               = true
  enable_mesh_gateway_wan_federation = true
  enable_transparent_proxy           = false
  lb_enabled                         = true
  lb_vpc_id                          = aws_vpc.this.id
  lb_subnets                         = [aws_subnet.public.id]
  tags                               = var.tags
}

module "terminating_gateway" {
  source = "../../modules/gateway-task"

  kind            = "terminating-gateway"
  family          = "${var.name}-tgw"
  ecs_cluster_arn = aws_ecs_cluster.this.arn
  subnets         = [aws_subnet.private.id]
  security_groups = [aws_vpc.this.default_security_group_id]
  # Without a load balancer upstream's module needs this (else it indexes
  # a security group it did not create).
  lb_create_security_group = false
  consul_server_hosts      = local.consul_hosts
  acls                     = true
  requires_compatibilities = ["EC2"]
  launch_type              = "EC2"
  tags                     = var.tags
}

resource "aws_ecs_service" "ec2_app" {
  name            = "${var.name}-ec2-app"
  cluster         = aws_ecs_cluster.this.arn
  task_definition = module.ec2_app.task_definition_arn
  desired_count   = 1
  launch_type     = "EC2"
  propagate_tags  = "TASK_DEFINITION"
  network_configuration {
    subnets = [aws_subnet.private.id]
  }
}

resource "aws_ecs_service" "fargate_app" {
  name            = "${var.name}-fargate-app"
  cluster         = aws_ecs_cluster.this.arn
  task_definition = module.fargate_app.task_definition_arn
  desired_count   = 1
  launch_type     = "FARGATE"
  propagate_tags  = "TASK_DEFINITION"
  network_configuration {
    subnets = [aws_subnet.private.id]
  }
}

output "task_definitions" {
  value = {
    ec2_app             = module.ec2_app.task_definition_arn
    fargate_app         = module.fargate_app.task_definition_arn
    mesh_gateway        = module.mesh_gateway.task_definition_arn
    terminating_gateway = module.terminating_gateway.task_definition_arn
    controller          = module.controller.task_definition_arn
  }
}

output "mesh_gateway_security_group_id" {
  value = module.mesh_gateway.lb_security_group_id
}
