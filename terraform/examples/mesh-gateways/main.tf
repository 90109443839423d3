# Two Consul datacenters, dc1 (primary) and dc2, federated over the WAN
# through mesh gateways: a development server per datacenter (TLS, one CA for
# both), a mesh gateway per datacenter behind its own NLB (the NLB's DNS name
# is the gateway's WAN address), and one mesh task per datacenter: web in
# dc1 calls api in dc2 through the gateways. Every AWS endpoint can be
# pointed at one URL (var.aws_endpoint_url), so it also applies against moto.
#
# ACLs are off to keep the example small: with ACLs each datacenter also needs
# the controller module (the auth method the gateways log in with) and dc2 a
# replication token.

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

locals {
  # One VPC per datacenter: the datacenters reach each other only through the
  # mesh gateways' load balancers.
  datacenters = {
    dc1 = { cidr = "10.44.0.0/16", subnet = "10.44.1.0/24" }
    dc2 = { cidr = "10.45.0.0/16", subnet = "10.45.1.0/24" }
  }
}

resource "aws_vpc" "dc" {
  for_each   = local.datacenters
  cidr_block = each.value.cidr
  tags       = { Name = "${var.name}-${each.key}" }
}

resource "aws_subnet" "dc" {
  for_each   = local.datacenters
  vpc_id     = aws_vpc.dc[each.key].id
  cidr_block = each.value.subnet
  tags       = { Name = "${var.name}-${each.key}" }
}

resource "aws_security_group" "tasks" {
  for_each = local.datacenters
  name     = "${var.name}-${each.key}-tasks"
  vpc_id   = aws_vpc.dc[each.key].id
}

resource "aws_ecs_cluster" "dc" {
  for_each = local.datacenters
  name     = "${var.name}-${each.key}"
}

resource "aws_cloudwatch_log_group" "this" {
  name = "/ecs/${var.name}"
}

locals {
  logs = {
    for dc in keys(local.datacenters) : dc => {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this.name
        awslogs-region        = var.region
        awslogs-stream-prefix = dc
      }
    }
  }
}

# ---- dc1: the primary ----------------------------------------------------------------

module "dc1_server" {
  source = "../../modules/dev-server"

  name                               = "${var.name}-dc1-server"
  ecs_cluster_arn                    = aws_ecs_cluster.dc["dc1"].arn
  vpc_id                             = aws_vpc.dc["dc1"].id
  subnet_ids                         = [aws_subnet.dc["dc1"].id]
  launch_type                        = "FARGATE"
  datacenter                         = "dc1"
  primary_datacenter                 = "dc1"
  enable_mesh_gateway_wan_federation = true
  tls                                = true
  log_configuration                  = local.logs["dc1"]
}

module "dc1_gateway" {
  source = "../../modules/gateway-task"

  kind                               = "mesh-gateway"
  family                             = "${var.name}-dc1-mesh-gateway"
  ecs_cluster_arn                    = aws_ecs_cluster.dc["dc1"].arn
  subnets                            = [aws_subnet.dc["dc1"].id]
  consul_server_hosts                = module.dc1_server.server_dns
  tls                                = true
  consul_ca_cert_arn                 = module.dc1_server.ca_cert_arn
  enable_mesh_gateway_wan_federation = true
  lb_enabled                         = true
  lb_vpc_id                          = aws_vpc.dc["dc1"].id
  lb_subnets                         = [aws_subnet.dc["dc1"].id]
  lb_ingress_rule_cidr_blocks        = var.lb_ingress_rule_cidr_blocks
  log_configuration                  = local.logs["dc1"]
  enable_transparent_proxy           = false
}

module "dc1_web" {
  source = "../../modules/mesh-task"

  family              = "${var.name}-dc1-web"
  port                = 8080
  consul_server_hosts = module.dc1_server.server_dns
  tls                 = true
  consul_ca_cert_arn  = module.dc1_server.ca_cert_arn
  log_configuration   = local.logs["dc1"]
  # Fargate: no iptables (only matters with consul_ecs_layout = "split").
  enable_transparent_proxy = false

  # api runs in dc2: reached through the local mesh gateway.
  upstreams = [{
    destinationName = "${var.name}-dc2-api"
    datacenter      = "dc2"
    localBindPort   = 1234
    meshGateway     = { mode = "local" }
  }]

  container_definitions = [{
    name      = "web"
    image     = "hashicorp/http-echo:1.0"
    essential = true
    command   = ["/http-echo", "-listen=:8080", "-text=web in dc1"]
  }]
}

# ---- dc2: joins dc1 through dc1's mesh gateway -------------------------------------

module "dc2_server" {
  source = "../../modules/dev-server"

  name               = "${var.name}-dc2-server"
  ecs_cluster_arn    = aws_ecs_cluster.dc["dc2"].arn
  vpc_id             = aws_vpc.dc["dc2"].id
  subnet_ids         = [aws_subnet.dc["dc2"].id]
  launch_type        = "FARGATE"
  datacenter         = "dc2"
  primary_datacenter = "dc1"
  primary_gateways   = ["${module.dc1_gateway.wan_address}:${module.dc1_gateway.wan_port}"]
  tls                = true
  # Federated servers must share one CA: dc1's.
  generate_ca       = false
  ca_cert_arn       = module.dc1_server.ca_cert_arn
  ca_key_arn        = module.dc1_server.ca_key_arn
  log_configuration = local.logs["dc2"]
}

module "dc2_gateway" {
  source = "../../modules/gateway-task"

  kind                               = "mesh-gateway"
  family                             = "${var.name}-dc2-mesh-gateway"
  ecs_cluster_arn                    = aws_ecs_cluster.dc["dc2"].arn
  subnets                            = [aws_subnet.dc["dc2"].id]
  consul_server_hosts                = module.dc2_server.server_dns
  tls                                = true
  consul_ca_cert_arn                 = module.dc1_server.ca_cert_arn
  enable_mesh_gateway_wan_federation = true
  lb_enabled                         = true
  lb_vpc_id                          = aws_vpc.dc["dc2"].id
  lb_subnets                         = [aws_subnet.dc["dc2"].id]
  lb_ingress_rule_cidr_blocks        = var.lb_ingress_rule_cidr_blocks
  log_configuration                  = local.logs["dc2"]
  enable_transparent_proxy           = false
}

module "dc2_api" {
  source = "../../modules/mesh-task"

  family                   = "${var.name}-dc2-api"
  port                     = 9090
  consul_server_hosts      = module.dc2_server.server_dns
  tls                      = true
  consul_ca_cert_arn       = module.dc1_server.ca_cert_arn
  log_configuration        = local.logs["dc2"]
  enable_transparent_proxy = false

  container_definitions = [{
    name      = "api"
    image     = "hashicorp/http-echo:1.0"
    essential = true
    command   = ["/http-echo", "-listen=:9090", "-text=api in dc2"]
  }]
}

# ---- the applications' ECS services ---------------------------------------------------

locals {
  apps = {
    dc1 = module.dc1_web
    dc2 = module.dc2_api
  }
}

resource "aws_ecs_service" "app" {
  for_each        = local.apps
  name            = each.key == "dc1" ? "${var.name}-dc1-web" : "${var.name}-dc2-api"
  cluster         = aws_ecs_cluster.dc[each.key].arn
  task_definition = each.value.task_definition_arn
  desired_count   = 1
  launch_type     = "FARGATE"
  propagate_tags  = "TASK_DEFINITION"

  network_configuration {
    subnets         = [aws_subnet.dc[each.key].id]
    security_groups = [aws_security_group.tasks[each.key].id]
  }
}
