# Test root of tests/e2e/test_terraform_gateway_task.py (the provider set-up
# comes from ../_shared, copied in by terraform_bed.copy_tree).
#   mesh      mesh gateway, "control-plane" layout: TLS with CA secrets, ACLs,
#             WAN federation, an NLB with the module's security group, logs,
#             tags, a mixed-case family (the gateway name is lower-cased)
#   term      terminating gateway, "split" layout: an NLB whose ingress rule
#             goes into an existing security group, extra containers,
#             volumes (one mounted into the dataplane), a partition
#   api       API gateway, "split" layout on EC2 with transparent proxy and
#             Consul DNS, behind an ALB target group of the caller's
#             (custom_load_balancer_config), explicit LAN/WAN addresses
#   defaults  a mesh gateway with only the required inputs (the default
#             launch types include FARGATE: no transparent proxy; the test
#             follows the module's default layout)
# The other calls name their layout.

variable "name" {
  type    = string
  default = "tfgw"
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
  availability_zone = "us-east-1a"
  tags              = { Name = "${var.name}-a" }
}

resource "aws_subnet" "b" {
  vpc_id            = aws_vpc.this.id
  cidr_block        = "10.79.2.0/24"
  availability_zone = "us-east-1b"
  tags              = { Name = "${var.name}-b" }
}

resource "aws_security_group" "existing" {
  name   = "${var.name}-existing"
  vpc_id = aws_vpc.this.id
}

resource "aws_cloudwatch_log_group" "this" {
  name = "/ecs/${var.name}"
}

resource "aws_secretsmanager_secret" "ca" {
  name                    = "${var.name}-consul-ca"
  recovery_window_in_days = 0
}

resource "aws_secretsmanager_secret" "grpc_ca" {
  name                    = "${var.name}-consul-grpc-ca"
  recovery_window_in_days = 0
}

resource "aws_iam_policy" "extra" {
  name = "${var.name}-extra"
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["ecr:GetAuthorizationToken"], Resource = "*" }]
  })
}

# The caller's own load balancer in front of the API gateway.
resource "aws_lb" "api" {
  name               = "${var.name}-api-alb"
  load_balancer_type = "application"
  subnets            = [aws_subnet.a.id, aws_subnet.b.id]
}

resource "aws_lb_target_group" "api" {
  name        = "${var.name}-api-tg"
  port        = 8080
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = aws_vpc.this.id
}

resource "aws_lb_listener" "api" {
  load_balancer_arn = aws_lb.api.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api.arn
  }
}

module "mesh" {
  source = "../../modules/gateway-task"

  kind                               = "mesh-gateway"
  consul_ecs_layout                  = "control-plane"
  family                             = "${upper(var.name)}-Mesh-GW"
  ecs_cluster_arn                    = aws_ecs_cluster.this.arn
  subnets                            = [aws_subnet.a.id]
  security_groups                    = [aws_security_group.existing.id]
  consul_server_hosts                = "consul.dc1.internal"
  tls                                = true
  tls_server_name                    = "server.dc1.consul"
  consul_ca_cert_arn                 = aws_secretsmanager_secret.ca.arn
  consul_grpc_ca_cert_arn            = aws_secretsmanager_secret.grpc_ca.arn
  acls                               = true
  enable_mesh_gateway_wan_federation = true
  consul_service_tags                = ["dc1"]
  consul_service_meta                = { owner = "e2e" }
  lb_enabled                         = true
  lb_vpc_id                          = aws_vpc.this.id
  lb_subnets                         = [aws_subnet.a.id, aws_subnet.b.id]
  lb_ingress_rule_cidr_blocks        = ["10.0.0.0/8"]
  additional_task_role_policies      = [aws_iam_policy.extra.arn]
  http_config                        = { port = 443 }
  tags                               = { team = "e2e" }
  log_configuration = {
    logDriver = "awslogs"
    options = {
      awslogs-group         = aws_cloudwatch_log_group.this.name
      awslogs-region        = "us-east-1"
      awslogs-stream-prefix = "mesh-gw"
    }
  }
}

module "term" {
  source = "../../modules/gateway-task"

  kind                        = "terminating-gateway"
  consul_ecs_layout           = "split"
  enable_transparent_proxy    = false
  family                      = "${var.name}-term-gw"
  consul_service_name         = "${var.name}-terminating"
  ecs_cluster_arn             = aws_ecs_cluster.this.arn
  subnets                     = [aws_subnet.a.id]
  consul_server_hosts         = "exec=/bin/discover addrs provider=aws"
  consul_partition            = "part1"
  acls                        = true
  lan_port                    = 9443
  wan_port                    = 443
  gateway_count               = 2
  lb_enabled                  = true
  lb_vpc_id                   = aws_vpc.this.id
  lb_subnets                  = [aws_subnet.a.id]
  lb_create_security_group    = false
  lb_modify_security_group    = true
  lb_modify_security_group_id = aws_security_group.existing.id
  extra_container_definitions = [{
    name      = "sidecar"
    image     = "docker.io/library/busybox:1"
    essential = false
    command   = ["sleep", "infinity"]
  }]
  volumes = [
    { name = "certs", host_path = "/etc/certs", container_path = "/certs" },
    { name = "scratch" },
  ]
  consul_ecs_config = {
    consulLogin = { region = "us-east-1" }
  }
}

module "api" {
  source = "../../modules/gateway-task"

  kind                        = "api-gateway"
  consul_ecs_layout           = "split"
  family                      = "${var.name}-api-gw"
  ecs_cluster_arn             = aws_ecs_cluster.this.arn
  subnets                     = [aws_subnet.a.id]
  consul_server_hosts         = "10.0.0.10"
  requires_compatibilities    = ["EC2"]
  launch_type                 = "EC2"
  enable_transparent_proxy    = true
  enable_consul_dns           = true
  exclude_inbound_ports       = [9100]
  exclude_outbound_cidrs      = ["169.254.0.0/16"]
  exclude_uids                = ["1337"]
  lan_address                 = "10.79.1.10"
  lan_port                    = 8080
  wan_address                 = "api.example.com"
  wan_port                    = 80
  envoy_readiness_port        = 21000
  custom_load_balancer_config = [{ target_group_arn = aws_lb_target_group.api.arn, container_name = "consul-dataplane", container_port = 8080 }]

  depends_on = [aws_lb_listener.api]
}

module "defaults" {
  source = "../../modules/gateway-task"

  kind                = "mesh-gateway"
  family              = "${var.name}-defaults"
  ecs_cluster_arn     = aws_ecs_cluster.this.arn
  subnets             = [aws_subnet.a.id]
  consul_server_hosts = "10.0.0.10"
}

output "modules" {
  value = {
    for k, m in { mesh       = module.mesh, term = module.term, api = module.api, defaults = module.defaults } : k => {
      task_definition_arn    = m.task_definition_arn
      task_role_id           = m.task_role_id
      task_role_arn          = m.task_role_arn
      execution_role_id      = m.execution_role_id
      execution_role_arn     = m.execution_role_arn
      task_tags              = m.task_tags
      wan_address            = m.wan_address
      wan_port               = m.wan_port
      lb_security_group_id   = m.lb_security_group_id
      ecs_service_name       = m.ecs_service_name
      consul_ecs_config_json = m.consul_ecs_config_json
    }
  }
}

output "cluster" {
  value = aws_ecs_cluster.this.arn
}

output "secrets" {
  value = { ca = aws_secretsmanager_secret.ca.arn, grpc_ca = aws_secretsmanager_secret.grpc_ca.arn }
}

output "existing_security_group" {
  value = aws_security_group.existing.id
}

output "api_target_group" {
  value = aws_lb_target_group.api.arn
}

output "extra_policy_arn" {
  value = aws_iam_policy.extra.arn
}
