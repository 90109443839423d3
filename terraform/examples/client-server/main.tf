# Example (a): a client and a server on the Consul service mesh, ACLs and TLS
# on, in one root: a development Consul server (generated CA, bootstrap token
# in Secrets Manager), the consul-ecs controller, and two mesh tasks with
# their ECS services: `client` (upstream `server` on 127.0.0.1:1234) and
# `server`; and a terminating gateway (gateway-task, split layout) with its
# ECS service. Every AWS endpoint can be pointed at one URL
# (var.aws_endpoint_url) so it also runs against moto; `make demo` applies
# it there and runs what it registered (docs/sandbox.md).

provider "aws" {
  region = var.region

  skip_credentials_validation = var.aws_endpoint_url != null
  skip_requesting_account_id  = var.aws_endpoint_url != null
  skip_metadata_api_check     = var.aws_endpoint_url != null

  endpoints {
    ec2              = var.aws_endpoint_url
    ecs              = var.aws_endpoint_url
    elbv2            = var.aws_endpoint_url
    iam              = var.aws_endpoint_url
    logs             = var.aws_endpoint_url
    secretsmanager   = var.aws_endpoint_url
    servicediscovery = var.aws_endpoint_url
    sts              = var.aws_endpoint_url
  }
}

resource "aws_ecs_cluster" "this" {
  name = var.name
}

# DNS on: the Consul server is found by its Cloud Map name.
resource "aws_vpc" "this" {
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = { Name = var.name }
}

resource "aws_subnet" "this" {
  vpc_id     = aws_vpc.this.id
  cidr_block = var.subnet_cidr
  tags       = { Name = var.name }
}

# Tasks of the mesh reach each other (client -> server's public listener) and
# the Consul server inside the VPC.
resource "aws_security_group" "tasks" {
  name   = "${var.name}-tasks"
  vpc_id = aws_vpc.this.id
}

resource "aws_security_group_rule" "tasks_ingress" {
  type              = "ingress"
  security_group_id = aws_security_group.tasks.id
  protocol          = "-1"
  from_port         = 0
  to_port           = 0
  cidr_blocks       = [var.vpc_cidr]
}

resource "aws_security_group_rule" "tasks_egress" {
  type              = "egress"
  security_group_id = aws_security_group.tasks.id
  protocol          = "-1"
  from_port         = 0
  to_port           = 0
  cidr_blocks       = ["0.0.0.0/0"]
}

resource "aws_cloudwatch_log_group" "this" {
  name = "/ecs/${var.name}"
}

locals {
  log_configuration = {
    logDriver = "awslogs"
    options = {
      awslogs-group         = aws_cloudwatch_log_group.this.name
      awslogs-region        = var.region
      awslogs-stream-prefix = "consul"
    }
  }

  # Against a stand-in AWS, the control-plane's aws-iam login must be signed
  # for that STS too. (A for expression, not a conditional: both sides of a
  # conditional would have to be of one type.)
  login_endpoint = {
    for k, v in { consulLogin = { stsEndpoint = var.aws_endpoint_url, region = var.region } } : k => v
    if var.aws_endpoint_url != null
  }

  health_checks = { for k in ["server", "client"] : k => try(var.app_health_checks[k], null) }

  server_container = merge(
    {
      name      = "server"
      image     = var.server_image
      essential = true
      command   = var.server_command
      logConfiguration = merge(local.log_configuration, {
        options = merge(local.log_configuration.options, { awslogs-stream-prefix = "server" })
      })
    },
    { for k, v in { healthCheck = local.health_checks.server } : k => v if v != null },
  )

  client_container = merge(
    {
      name      = "client"
      image     = var.client_image
      essential = true
      command   = var.client_command
      logConfiguration = merge(local.log_configuration, {
        options = merge(local.log_configuration.options, { awslogs-stream-prefix = "client" })
      })
    },
    { for k, v in { healthCheck = local.health_checks.client } : k => v if v != null },
  )
}

# A development Consul server, TLS (generated CA in Secrets Manager) and ACLs
# (generated bootstrap token in Secrets Manager), reachable in the VPC as
# module.dev_server.server_dns (Cloud Map).
module "dev_server" {
  source = "../../modules/dev-server"

  name              = "${var.name}-consul-server"
  ecs_cluster_arn   = aws_ecs_cluster.this.arn
  vpc_id            = aws_vpc.this.id
  subnet_ids        = [aws_subnet.this.id]
  launch_type       = "FARGATE"
  tls               = true
  acls              = true
  log_configuration = local.log_configuration
}

module "controller" {
  source = "../../modules/controller"

  name_prefix                       = var.name
  ecs_cluster_arn                   = aws_ecs_cluster.this.arn
  region                            = var.region
  subnets                           = [aws_subnet.this.id]
  security_groups                   = [aws_security_group.tasks.id]
  consul_ecs_image                  = var.consul_ecs_image
  consul_server_hosts               = module.dev_server.server_dns
  consul_bootstrap_token_secret_arn = module.dev_server.bootstrap_token_secret_arn
  tls                               = true
  consul_ca_cert_arn                = module.dev_server.ca_cert_arn
  log_configuration                 = local.log_configuration
  destroy_grace_period_seconds      = var.destroy_grace_period_seconds
}

module "server" {
  source = "../../modules/mesh-task"

  family = "${var.name}-server"
  # Fargate grants no NET_ADMIN (used by the split layout only).
  enable_transparent_proxy           = false
  consul_service_name                = "server"
  port                               = 9090
  consul_server_hosts                = module.dev_server.server_dns
  consul_ecs_image                   = var.consul_ecs_image
  acls                               = true
  tls                                = true
  consul_ca_cert_arn                 = module.dev_server.ca_cert_arn
  consul_ecs_config                  = local.login_endpoint
  application_shutdown_delay_seconds = var.application_shutdown_delay_seconds
  container_definitions              = [local.server_container]
  log_configuration                  = local.log_configuration
}

module "client" {
  source = "../../modules/mesh-task"

  family = "${var.name}-client"
  # Fargate grants no NET_ADMIN (used by the split layout only).
  enable_transparent_proxy           = false
  consul_service_name                = "client"
  port                               = 8080
  upstreams                          = [{ destinationName = "server", localBindPort = 1234 }]
  consul_server_hosts                = module.dev_server.server_dns
  consul_ecs_image                   = var.consul_ecs_image
  acls                               = true
  tls                                = true
  consul_ca_cert_arn                 = module.dev_server.ca_cert_arn
  consul_ecs_config                  = local.login_endpoint
  application_shutdown_delay_seconds = var.application_shutdown_delay_seconds
  container_definitions              = [local.client_container]
  log_configuration                  = local.log_configuration
}

# Both mesh services start after the controller (it creates the ACL binding
# rules their login needs) and, on destroy, go before it, so that it can
# remove what their tasks left in Consul.
resource "aws_ecs_service" "server" {
  name            = "server"
  cluster         = aws_ecs_cluster.this.arn
  task_definition = module.server.task_definition_arn
  desired_count   = 3
  launch_type     = "FARGATE"
  propagate_tags  = "TASK_DEFINITION"

  network_configuration {
    subnets         = [aws_subnet.this.id]
    security_groups = [aws_security_group.tasks.id]
  }

  depends_on = [module.controller.ready]
}

resource "aws_ecs_service" "client" {
  name            = "client"
  cluster         = aws_ecs_cluster.this.arn
  task_definition = module.client.task_definition_arn
  desired_count   = 1
  launch_type     = "FARGATE"
  propagate_tags  = "TASK_DEFINITION"

  network_configuration {
    subnets         = [aws_subnet.this.id]
    security_groups = [aws_security_group.tasks.id]
  }

  depends_on = [module.controller.ready]
}

# A terminating gateway (v0.10 kind: split layout only) with its own ECS
# service of one task in the same cluster, no load balancer. Its task role
# carries the gateway-kind tag, which the controller's binding rule turns
# into consul-ecs-terminating-gateway-role at login. It fronts no service
# yet: which external services it links (and their policies on that role)
# is the operator's choice. After the controller, as the mesh services.
module "gateway" {
  source = "../../modules/gateway-task"

  kind              = "terminating-gateway"
  family            = "${var.name}-terminating-gateway"
  consul_ecs_layout = "split"
  # Fargate grants no NET_ADMIN.
  enable_transparent_proxy = false
  ecs_cluster_arn          = aws_ecs_cluster.this.arn
  launch_type              = "FARGATE"
  gateway_count            = 1
  subnets                  = [aws_subnet.this.id]
  security_groups          = [aws_security_group.tasks.id]
  lb_enabled               = false
  consul_server_hosts      = module.dev_server.server_dns
  consul_ecs_image         = var.consul_ecs_image
  acls                     = true
  tls                      = true
  consul_ca_cert_arn       = module.dev_server.ca_cert_arn
  consul_ecs_config        = local.login_endpoint
  log_configuration        = local.log_configuration

  depends_on = [module.controller.ready]
}
