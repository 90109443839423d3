# The consul-ecs controller of a cluster, next to a development Consul server
# (TLS and ACLs on) whose bootstrap token and CA it reads from Secrets
# Manager. Every AWS endpoint can be pointed at one URL (var.aws_endpoint_url)
# so it also runs against moto.

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

resource "aws_vpc" "this" {
  cidr_block = "10.43.0.0/16"
  tags       = { Name = var.name }
}

resource "aws_subnet" "this" {
  vpc_id     = aws_vpc.this.id
  cidr_block = "10.43.1.0/24"
  tags       = { Name = var.name }
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
}

# A development Consul server with TLS (generated CA) and ACLs (generated
# bootstrap token in Secrets Manager), reachable as <name>-server.dc1.
module "dev_server" {
  source = "../../modules/dev-server"

  name              = "${var.name}-server"
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
  consul_server_hosts               = module.dev_server.server_dns
  consul_bootstrap_token_secret_arn = module.dev_server.bootstrap_token_secret_arn
  tls                               = true
  consul_ca_cert_arn                = module.dev_server.ca_cert_arn
  log_configuration                 = local.log_configuration
}

# Mesh tasks' ECS services go here, each with
#   depends_on = [module.controller.ready]
# so that they start after the controller and, on destroy, are gone (and
# cleaned up by the controller) before it stops.
