# Test root of tests/e2e/test_terraform_mesh_task.py. consul_ecs_testbed/terraform_bed.py copies
# it to <tmp>/terraform/test-roots/mesh-task next to a copy of the repo's
# terraform/ tree, hence the module source below.
# Six mesh tasks cover the module's main paths in one apply. Every call names
# its consul_ecs_layout, so a change of the module's default changes nothing
# here. Layout "control-plane" (v0.7):
#   web  ACLs, TLS with CA secrets, shutdown delay, upstreams, consul_ecs_config,
#        log configuration, extra task policy, two app containers, an ECS service,
#        enable_transparent_proxy = true on Fargate (ignored by this layout)
#   api  all defaults but the layout (no log configuration at all), upper-case family
#   byo  its own task and execution roles, created in the same apply (their
#        ARNs are unknown at plan: the first apply must work), outbound only,
#        partition + namespace, extra volumes
# Layout "split" (v0.10):
#   ec2       EC2 only, transparent proxy (default: on without FARGATE) +
#             Consul DNS + every exclude_*, ACLs, TLS, outlier detection,
#             shutdown delay, logs
#   fargate   Fargate: no iptables proxy (the default there, not set);
#             ECS's proxyConfiguration instead; readiness port 10000 (v0.10.0
#             accepts it: no control-plane listens there in this layout)
#   minimal   all defaults but the layout and requires_compatibilities = ["EC2"]

# The terraform block, the AWS provider and variable aws_endpoint_url come from
# tf-roots/_shared (copied in by terraform_bed.copy_tree).

variable "name" {
  type    = string
  default = "tfe2e"
}

resource "aws_ecs_cluster" "this" {
  name = var.name
}

resource "aws_vpc" "this" {
  cidr_block = "10.77.0.0/16"
  tags       = { Name = var.name }
}

resource "aws_subnet" "this" {
  vpc_id     = aws_vpc.this.id
  cidr_block = "10.77.1.0/24"
  tags       = { Name = var.name }
}

resource "aws_cloudwatch_log_group" "this" {
  name = "/ecs/${var.name}"
}

resource "aws_secretsmanager_secret" "ca" {
  name = "${var.name}-consul-ca"
}

resource "aws_secretsmanager_secret" "grpc_ca" {
  name = "${var.name}-consul-grpc-ca"
}

resource "aws_iam_policy" "extra" {
  name = "${var.name}-extra"
  path = "/"
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["s3:ListAllMyBuckets"], Resource = "*" }]
  })
}

locals {
  log_configuration = {
    logDriver = "awslogs"
    options = {
      awslogs-group         = aws_cloudwatch_log_group.this.name
      awslogs-region        = "us-east-1"
      awslogs-stream-prefix = "mesh"
    }
  }
}

module "web" {
  source = "../../modules/mesh-task"

  consul_ecs_layout   = "control-plane"
  family              = "${var.name}-web"
  port                = 8080
  consul_server_hosts = "consul.internal"
  tags                = { team = "e2e" }

  # Set as for v0.10.0 on a Fargate task: the 0.7 layout ignores it.
  enable_transparent_proxy = true

  acls                          = true
  tls                           = true
  tls_server_name               = "server.dc1.consul"
  consul_ca_cert_arn            = aws_secretsmanager_secret.ca.arn
  consul_grpc_ca_cert_arn       = aws_secretsmanager_secret.grpc_ca.arn
  http_config                   = { port = 443 }
  log_configuration             = local.log_configuration
  consul_service_tags           = ["v1"]
  consul_service_meta           = { owner = "e2e" }
  upstreams                     = [{ destinationName = "api", localBindPort = 1234 }]
  additional_task_role_policies = [aws_iam_policy.extra.arn]

  application_shutdown_delay_seconds = 10

  consul_ecs_config = {
    service     = { enableTagOverride = true, weights = { passing = 3, warning = 1 } }
    proxy       = { config = { protocol = "http" } }
    consulLogin = { region = "us-east-1" }
  }

  container_definitions = [
    {
      name         = "web"
      image        = "docker.io/library/web:1"
      essential    = true
      command      = ["/bin/web", "-listen", ":8080"]
      portMappings = [{ containerPort = 8080, protocol = "tcp" }]
      healthCheck = {
        command  = ["CMD-SHELL", "wget -q -O /dev/null localhost:8080/health"]
        interval = 10
        timeout  = 5
        retries  = 3
      }
      logConfiguration = local.log_configuration
    },
    {
      name       = "helper"
      image      = "docker.io/library/helper:1"
      essential  = false
      entryPoint = ["/helper"]
      dependsOn  = [{ containerName = "web", condition = "START" }]
    },
  ]
}

module "api" {
  source = "../../modules/mesh-task"

  consul_ecs_layout   = "control-plane"
  family              = "${upper(var.name)}-API"
  port                = 9090
  consul_server_hosts = "10.0.0.10"

  container_definitions = [{
    name  = "api"
    image = "docker.io/library/api:1"
  }]
}

resource "aws_iam_role" "byo_task" {
  name = "${var.name}-own-task"
  path = "/consul-ecs/"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "ecs-tasks.amazonaws.com" } }]
  })
  tags = { "consul.hashicorp.com.service-name" = "byo" }
}

resource "aws_iam_role" "byo_execution" {
  name = "${var.name}-own-execution"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "ecs-tasks.amazonaws.com" } }]
  })
}

module "byo" {
  source = "../../modules/mesh-task"

  consul_ecs_layout        = "control-plane"
  family                   = "${var.name}-byo"
  consul_service_name      = "byo"
  outbound_only            = true
  acls                     = true
  consul_server_hosts      = "exec=/bin/discover addrs provider=aws"
  create_task_role         = false
  task_role                = { id = aws_iam_role.byo_task.id, arn = aws_iam_role.byo_task.arn }
  create_execution_role    = false
  execution_role           = { id = aws_iam_role.byo_execution.id, arn = aws_iam_role.byo_execution.arn }
  requires_compatibilities = ["FARGATE"]
  consul_partition         = "part1"
  consul_namespace         = "ns1"

  volumes = [
    { name = "scratch" },
    {
      name = "shared"
      efs_volume_configuration = {
        file_system_id     = "fs-0123456789abcdef0"
        root_directory     = "/data"
        transit_encryption = "ENABLED"
        authorization_config = {
          iam = "ENABLED"
        }
      }
    },
  ]

  container_definitions = [{
    name      = "client"
    image     = "docker.io/library/client:1"
    essential = true
  }]
}

resource "aws_ecs_service" "web" {
  name            = "${var.name}-web"
  cluster         = aws_ecs_cluster.this.arn
  task_definition = module.web.task_definition_arn
  desired_count   = 1
  launch_type     = "FARGATE"
  propagate_tags  = "TASK_DEFINITION"

  network_configuration {
    subnets = [aws_subnet.this.id]
  }
}

# ---- layout "split" -------------------------------------------------------------------

module "ec2" {
  source = "../../modules/mesh-task"

  consul_ecs_layout        = "split"
  family                   = "${var.name}-ec2"
  requires_compatibilities = ["EC2"]
  port                     = 8080
  consul_server_hosts      = "consul.internal"
  tags                     = { team = "e2e" }

  acls                    = true
  tls                     = true
  consul_ca_cert_arn      = aws_secretsmanager_secret.ca.arn
  consul_grpc_ca_cert_arn = aws_secretsmanager_secret.grpc_ca.arn
  log_configuration       = local.log_configuration
  upstreams               = [{ destinationName = "api", localBindPort = 1234 }]

  application_shutdown_delay_seconds = 5

  enable_consul_dns      = true
  exclude_inbound_ports  = [9000]
  exclude_outbound_ports = [5432, 6379]
  exclude_outbound_cidrs = ["10.0.0.0/8", "192.168.1.10"]
  exclude_uids           = ["1000"]

  consul_ecs_config = {
    service = {
      enableTagOverride = true
      networkResilienceConfig = {
        enabled          = true
        outlierDetection = { interval = 5000000000, maxFailures = 3, consecutive5xx = 4 }
      }
    }
    # Overridden by exclude_uids, as upstream (the dedicated inputs win).
    transparentProxy = { excludeUIDs = ["7"] }
  }

  container_definitions = [{
    name         = "app"
    image        = "docker.io/library/app:1"
    essential    = true
    command      = ["/bin/app"]
    portMappings = [{ containerPort = 8080, protocol = "tcp" }]
    healthCheck = {
      command  = ["CMD-SHELL", "wget -q -O /dev/null localhost:8080/health"]
      interval = 10
      timeout  = 5
      retries  = 3
    }
  }]
}

module "fargate" {
  source = "../../modules/mesh-task"

  consul_ecs_layout        = "split"
  family                   = "${var.name}-fargate"
  requires_compatibilities = ["FARGATE"]
  port                     = 9090
  consul_server_hosts      = "consul.internal"
  http_config              = { port = 8501, https = true }

  # enable_transparent_proxy unset: off on Fargate (and with ECS's redirection).
  enable_ecs_proxy_configuration = true
  exclude_outbound_ports         = [443]
  exclude_outbound_cidrs         = ["10.1.0.0/16"]
  envoy_readiness_port           = 10000

  container_definitions = [{
    name  = "fapp"
    image = "docker.io/library/fapp:1"
  }]
}

module "minimal" {
  source = "../../modules/mesh-task"

  consul_ecs_layout        = "split"
  family                   = "${var.name}-minimal"
  requires_compatibilities = ["EC2"]
  port                     = 7070
  consul_server_hosts      = "10.0.0.10"

  container_definitions = [{
    name  = "mini"
    image = "docker.io/library/mini:1"
  }]
}

resource "aws_ecs_service" "fargate" {
  name            = "${var.name}-fargate"
  cluster         = aws_ecs_cluster.this.arn
  task_definition = module.fargate.task_definition_arn
  desired_count   = 1
  launch_type     = "FARGATE"
  propagate_tags  = "TASK_DEFINITION"

  network_configuration {
    subnets = [aws_subnet.this.id]
  }
}

output "split_modules" {
  value = {
    for k, m in { ec2     = module.ec2, fargate = module.fargate, minimal = module.minimal } : k => {
      task_definition_arn = m.task_definition_arn
      task_role_arn       = m.task_role_arn
      execution_role_arn  = m.execution_role_arn
    }
  }
}

output "modules" {
  value = {
    for k, m in { web     = module.web, api = module.api, byo = module.byo } : k => {
      task_definition_arn = m.task_definition_arn
      task_role_arn       = m.task_role_arn
      task_role_id        = m.task_role_id
      execution_role_arn  = m.execution_role_arn
      execution_role_id   = m.execution_role_id
      task_tags           = m.task_tags
    }
  }
}

output "secrets" {
  value = { ca = aws_secretsmanager_secret.ca.arn, grpc_ca = aws_secretsmanager_secret.grpc_ca.arn }
}

output "extra_policy_arn" {
  value = aws_iam_policy.extra.arn
}

output "byo_roles" {
  value = { task = aws_iam_role.byo_task.arn, execution = aws_iam_role.byo_execution.arn }
}
