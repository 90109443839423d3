# Test root of tests/e2e/test_terraform_dev_server.py. consul_ecs_testbed/terraform_bed.py copies
# it to <tmp>/terraform/test-roots/dev-server next to a copy of the repo's
# terraform/ tree, hence the module source below.
#   full      the primary datacenter: TLS with a generated CA, ACLs with a
#             generated token, an Enterprise license, a load balancer (its
#             wait gives up after 1 s: moto runs no task), mesh-gateway WAN
#             federation, peering, tags, logs
#   byo       a secondary datacenter joined through the primary's mesh
#             gateways (ACL replication), its own CA and token secrets, its
#             own Cloud Map namespace name, Consul 1.13 (no grpc_tls), Fargate
#   defaults  every optional input at its default (its namespace is named
#             after the datacenter, dc1)

variable "name" {
  type    = string
  default = "tfdev"
}

resource "aws_ecs_cluster" "this" {
  name = var.name
}

resource "aws_vpc" "this" {
  cidr_block = "10.79.0.0/16"
  tags       = { Name = var.name }
}

resource "aws_subnet" "a" {
  vpc_id            = aws_vpc.this.id
  cidr_block        = "10.79.1.0/24"
  tags              = { Name = var.name }
  availability_zone = "us-east-1a"
}

resource "aws_subnet" "b" {
  vpc_id            = aws_vpc.this.id
  cidr_block        = "10.79.2.0/24"
  tags              = { Name = var.name }
  availability_zone = "us-east-1b"
}

# moto allows one Cloud Map private DNS namespace per VPC (AWS allows several
# with different names), so each server gets a VPC of its own.
resource "aws_vpc" "byo" {
  cidr_block = "10.81.0.0/16"
  tags       = { Name = var.name }
}

resource "aws_subnet" "byo" {
  vpc_id     = aws_vpc.byo.id
  cidr_block = "10.81.1.0/24"
  tags       = { Name = var.name }
}

resource "aws_vpc" "other" {
  cidr_block = "10.80.0.0/16"
  tags       = { Name = var.name }
}

resource "aws_subnet" "other" {
  vpc_id     = aws_vpc.other.id
  cidr_block = "10.80.1.0/24"
  tags       = { Name = var.name }
}

resource "aws_cloudwatch_log_group" "this" {
  name = "/ecs/${var.name}"
}

resource "aws_secretsmanager_secret" "own_ca_cert" {
  name                    = "${var.name}-own-ca-cert"
  recovery_window_in_days = 0
}

resource "aws_secretsmanager_secret" "own_ca_key" {
  name                    = "${var.name}-own-ca-key"
  recovery_window_in_days = 0
}

resource "aws_secretsmanager_secret" "own_token" {
  name                    = "${var.name}-own-token"
  recovery_window_in_days = 0
}

module "full" {
  source = "../../modules/dev-server"

  name            = "${var.name}-full"
  ecs_cluster_arn = aws_ecs_cluster.this.arn
  vpc_id          = aws_vpc.this.id
  subnet_ids      = [aws_subnet.a.id]
  tags            = { team = "e2e" }

  tls                  = true
  additional_dns_names = ["consul.example.internal"]
  acls                 = true
  consul_license       = "02MV4UU43BK5HGYYTOJZWFQMTMNNEWU33JJ"

  node_name                          = "dev-server-0"
  primary_datacenter                 = "dc1"
  enable_mesh_gateway_wan_federation = true
  enable_cluster_peering             = true

  lb_enabled                    = true
  lb_subnets                    = [aws_subnet.a.id, aws_subnet.b.id]
  lb_ingress_rule_cidr_blocks   = ["192.0.2.0/24"]
  consul_server_startup_timeout = 1

  log_configuration = {
    logDriver = "awslogs"
    options = {
      awslogs-group         = aws_cloudwatch_log_group.this.name
      awslogs-region        = "us-east-1"
      awslogs-stream-prefix = "consul"
    }
  }
}

module "byo" {
  source = "../../modules/dev-server"

  name                        = "${var.name}-byo"
  ecs_cluster_arn             = aws_ecs_cluster.this.arn
  vpc_id                      = aws_vpc.byo.id
  subnet_ids                  = [aws_subnet.byo.id]
  launch_type                 = "FARGATE"
  requires_compatibilities    = ["FARGATE"]
  cpu                         = 512
  memory                      = 1024
  consul_image                = "public.ecr.aws/hashicorp/consul:1.13.9"
  service_discovery_namespace = "consul.byo.internal"

  tls                      = true
  generate_ca              = false
  ca_cert_arn              = aws_secretsmanager_secret.own_ca_cert.arn
  ca_key_arn               = aws_secretsmanager_secret.own_ca_key.arn
  acls                     = true
  generate_bootstrap_token = false
  bootstrap_token_arn      = aws_secretsmanager_secret.own_token.arn

  datacenter         = "dc2"
  primary_datacenter = "dc1"
  primary_gateways   = ["10.0.0.1:8443", "10.0.0.2:8443"]
  replication_token  = "11111111-2222-3333-4444-555555555555"
}

module "defaults" {
  source = "../../modules/dev-server"

  ecs_cluster_arn = aws_ecs_cluster.this.arn
  vpc_id          = aws_vpc.other.id
  subnet_ids      = [aws_subnet.other.id]
}

output "modules" {
  value = {
    for k, m in { full               = module.full, byo = module.byo, defaults = module.defaults } : k => {
      ecs_service_name               = m.ecs_service_name
      security_group_id              = m.security_group_id
      lb_dns_name                    = m.lb_dns_name
      lb_security_group_id           = m.lb_security_group_id
      ca_cert_arn                    = m.ca_cert_arn
      ca_key_arn                     = m.ca_key_arn
      server_dns                     = m.server_dns
      bootstrap_token_secret_arn     = m.bootstrap_token_secret_arn
      bootstrap_token_id             = m.bootstrap_token_id
      task_definition_arn            = m.task_definition_arn
      service_discovery_namespace_id = m.service_discovery_namespace_id
    }
  }
}

output "own_secrets" {
  value = {
    ca_cert = aws_secretsmanager_secret.own_ca_cert.arn
    ca_key  = aws_secretsmanager_secret.own_ca_key.arn
    token   = aws_secretsmanager_secret.own_token.arn
  }
}

output "cluster_arn" {
  value = aws_ecs_cluster.this.arn
}
