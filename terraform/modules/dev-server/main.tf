# dev-server: one Consul server as an ECS service, for development and tests
# (no persistence, a single server). Optional TLS (generated CA), ACLs
# (generated bootstrap token), load balancer, WAN federation and peering;
# registered in Cloud Map as <name>.<namespace>.

locals {
  generate_ca              = var.tls && var.generate_ca
  generate_bootstrap_token = var.acls && var.generate_bootstrap_token

  ca_cert_arn         = local.generate_ca ? aws_secretsmanager_secret.ca_cert[0].arn : var.ca_cert_arn
  ca_key_arn          = local.generate_ca ? aws_secretsmanager_secret.ca_key[0].arn : var.ca_key_arn
  bootstrap_token_arn = local.generate_bootstrap_token ? aws_secretsmanager_secret.bootstrap_token[0].arn : var.bootstrap_token_arn
  bootstrap_token     = var.bootstrap_token != "" ? var.bootstrap_token : random_uuid.bootstrap_token.result

  # The license is sensitive; whether there is one is not.
  enterprise = nonsensitive(var.consul_license != "")

  mesh_gateway_wan_federation = var.enable_mesh_gateway_wan_federation || length(var.primary_gateways) > 0
  node_name                   = var.node_name != "" ? var.node_name : var.name
  service_discovery_namespace = var.service_discovery_namespace != "" ? var.service_discovery_namespace : var.datacenter

  server_container = "consul-server"
  data_volume      = "consul-data"
  data_mount       = { sourceVolume = local.data_volume, containerPath = "/consul", readOnly = false }

  # A null or empty log configuration is left out (the 6.x AWS provider
  # rejects a null one: "missing required field ... LogDriver").
  log_configuration = { for k, v in { logConfiguration = var.log_configuration } : k => v if try(length(v), 0) > 0 }

  # Consul >= 1.14 serves gRPC with TLS on its own port (grpc_tls). The
  # version comes from the image tag; a tag without x.y.z counts as recent.
  consul_version = try(regex(":[^0-9]*([0-9]+)[.]([0-9]+)[.]([0-9]+)", var.consul_image), ["1", "99", "0"])
  consul_1_14    = tonumber(local.consul_version[0]) > 1 || tonumber(local.consul_version[1]) >= 14

  load_balancer = var.lb_enabled ? [{
    target_group_arn = aws_lb_target_group.this[0].arn
    container_name   = local.server_container
    container_port   = 8500
  }] : []
}

# ---- CA (tls) and secrets -------------------------------------------------------------

resource "tls_private_key" "ca" {
  count       = local.generate_ca ? 1 : 0
  algorithm   = "ECDSA"
  ecdsa_curve = "P384"
}

resource "tls_self_signed_cert" "ca" {
  count           = local.generate_ca ? 1 : 0
  private_key_pem = tls_private_key.ca[0].private_key_pem

  subject {
    common_name  = "Consul Agent CA"
    organization = "HashiCorp Inc."
  }

  validity_period_hours = 5 * 365 * 24
  is_ca_certificate     = true
  set_subject_key_id    = true
  allowed_uses          = ["digital_signature", "cert_signing", "crl_signing"]
}

# Every secret is deleted at once on destroy (no recovery window), so that the
# same name can be created again by the next apply.
resource "aws_secretsmanager_secret" "ca_key" {
  count                   = local.generate_ca ? 1 : 0
  name                    = "${var.name}-ca-key"
  recovery_window_in_days = 0
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "ca_key" {
  count         = local.generate_ca ? 1 : 0
  secret_id     = aws_secretsmanager_secret.ca_key[0].id
  secret_string = tls_private_key.ca[0].private_key_pem
}

resource "aws_secretsmanager_secret" "ca_cert" {
  count                   = local.generate_ca ? 1 : 0
  name                    = "${var.name}-ca-cert"
  recovery_window_in_days = 0
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "ca_cert" {
  count         = local.generate_ca ? 1 : 0
  secret_id     = aws_secretsmanager_secret.ca_cert[0].id
  secret_string = tls_self_signed_cert.ca[0].cert_pem
}

resource "aws_secretsmanager_secret" "license" {
  count                   = local.enterprise ? 1 : 0
  name                    = "${var.name}-consul-license"
  recovery_window_in_days = 0
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "license" {
  count         = local.enterprise ? 1 : 0
  secret_id     = aws_secretsmanager_secret.license[0].id
  secret_string = chomp(var.consul_license)
}

# Kept unconditional (as upstream) so that switching module source keeps the
# generated token.
resource "random_uuid" "bootstrap_token" {}

resource "aws_secretsmanager_secret" "bootstrap_token" {
  count                   = local.generate_bootstrap_token ? 1 : 0
  name                    = "${var.name}-bootstrap-token"
  recovery_window_in_days = 0
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "bootstrap_token" {
  count         = local.generate_bootstrap_token ? 1 : 0
  secret_id     = aws_secretsmanager_secret.bootstrap_token[0].id
  secret_string = local.bootstrap_token
}

# ---- Task definition and service -----------------------------------------------------

locals {
  server_containers = [merge(
    {
      name      = local.server_container
      image     = var.consul_image
      essential = true
      # Written out in full (hostPort, protocol) as ECS returns them, so that
      # the next plan sees no change.
      portMappings = [
        for port in [8301, 8300, 8500] : { containerPort = port, hostPort = port, protocol = "tcp" }
      ]
      entryPoint      = ["/bin/sh", "-ec"]
      command         = [local.consul_server_command]
      mountPoints     = [local.data_mount]
      linuxParameters = { initProcessEnabled = true }
    },
    var.tls ? { dependsOn = [{ containerName = "tls-init", condition = "SUCCESS" }] } : {},
    { for k, v in { secrets = local.server_secrets } : k => v if length(v) > 0 },
    local.log_configuration,
  )]

  server_secrets = concat(
    var.acls ? [{ name = "CONSUL_HTTP_TOKEN", valueFrom = local.bootstrap_token_arn }] : [],
    local.enterprise ? [{ name = "CONSUL_LICENSE", valueFrom = aws_secretsmanager_secret.license[0].arn }] : [],
  )

  tls_init_containers = var.tls ? [merge(
    {
      name        = "tls-init"
      image       = var.consul_image
      essential   = false
      entryPoint  = ["/bin/sh", "-ec"]
      command     = [local.tls_init_command]
      mountPoints = [local.data_mount]
      secrets = [
        { name = "CONSUL_CACERT_PEM", valueFrom = local.ca_cert_arn },
        { name = "CONSUL_CAKEY", valueFrom = local.ca_key_arn },
      ]
    },
    local.log_configuration,
  )] : []
}

resource "aws_ecs_task_definition" "this" {
  family                   = var.name
  requires_compatibilities = var.requires_compatibilities
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.this_execution.arn
  task_role_arn            = aws_iam_role.this_task.arn
  container_definitions    = jsonencode(concat(local.tls_init_containers, local.server_containers))
  tags                     = var.tags

  volume {
    name = local.data_volume
  }

  lifecycle {
    # Rules across inputs (a variable validation sees only its own variable on
    # Terraform 1.5); they fail at plan with these messages.
    precondition {
      condition     = length(var.retry_join_wan) == 0 || length(var.primary_gateways) == 0
      error_message = "retry_join_wan and primary_gateways cannot both be set: join the WAN either directly (retry_join_wan) or through the primary datacenter's mesh gateways (primary_gateways)."
    }
    precondition {
      condition     = !var.tls || var.generate_ca || (var.ca_cert_arn != "" && var.ca_key_arn != "")
      error_message = "With tls = true and generate_ca = false, ca_cert_arn and ca_key_arn must both be set."
    }
    precondition {
      condition     = !var.acls || var.generate_bootstrap_token || var.bootstrap_token_arn != ""
      error_message = "With acls = true and generate_bootstrap_token = false, bootstrap_token_arn must be set."
    }
    precondition {
      condition     = !var.lb_enabled || length(coalesce(var.lb_subnets, [])) > 0
      error_message = "lb_enabled = true needs lb_subnets (the load balancer's subnets)."
    }
    precondition {
      condition     = length(var.primary_gateways) == 0 || var.primary_datacenter != ""
      error_message = "primary_gateways (a secondary datacenter joined through the primary's mesh gateways) needs primary_datacenter: without it Consul takes this datacenter for the primary and refuses to start."
    }
  }
}

resource "aws_ecs_service" "this" {
  name            = var.name
  cluster         = var.ecs_cluster_arn
  task_definition = aws_ecs_task_definition.this.arn
  desired_count   = 1
  launch_type     = var.launch_type
  # ECS Exec into the server, as upstream (the task role allows it).
  enable_execute_command = true
  wait_for_steady_state  = var.wait_for_steady_state
  tags                   = var.tags

  network_configuration {
    subnets          = var.subnet_ids
    assign_public_ip = var.assign_public_ip
    security_groups  = [aws_security_group.ecs_service.id]
  }

  service_registries {
    registry_arn   = aws_service_discovery_service.server.arn
    container_name = local.server_container
  }

  dynamic "load_balancer" {
    for_each = local.load_balancer
    content {
      target_group_arn = load_balancer.value.target_group_arn
      container_name   = load_balancer.value.container_name
      container_port   = load_balancer.value.container_port
    }
  }

  depends_on = [aws_iam_role_policy.this_task, aws_lb_listener.this]
}

# ---- IAM ---------------------------------------------------------------------------

locals {
  # The documents below are upstream's, statement for statement (trust
  # policies with their empty Sid included): the same documents mean no IAM
  # change when a user switches module source.
  ecs_tasks_trust = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = ""
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
    }]
  })

  # One statement per group of secrets: the CA (certificate and key), the
  # bootstrap token, the license.
  execution_secret_groups = [for arns in [
    var.tls ? [local.ca_cert_arn, local.ca_key_arn] : [],
    var.acls ? [local.bootstrap_token_arn] : [],
    local.enterprise ? [aws_secretsmanager_secret.license[0].arn] : [],
  ] : arns if length(arns) > 0]
}

resource "aws_iam_role" "this_execution" {
  name               = "${var.name}_execution"
  path               = "/ecs/"
  assume_role_policy = local.ecs_tasks_trust
  tags               = var.tags
}

resource "aws_iam_policy" "this_execution" {
  name        = "${var.name}_execution"
  path        = "/ecs/"
  description = "Consul server execution"
  tags        = var.tags
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [for arns in local.execution_secret_groups : {
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue"]
        Resource = arns
      }],
      [{
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "*"
      }],
    )
  })
}

resource "aws_iam_role_policy_attachment" "this_execution" {
  role       = aws_iam_role.this_execution.id
  policy_arn = aws_iam_policy.this_execution.arn
}

resource "aws_iam_role" "this_task" {
  name               = "${var.name}_task"
  assume_role_policy = local.ecs_tasks_trust
  tags               = var.tags
}

# Upstream's inline policy "exec", same name and document, as its own
# resource: the role's inline_policy argument is deprecated since AWS
# provider 5.68. After a switch from upstream's module the plan adds it, which
# rewrites the same policy in place: the role's permissions never change.
resource "aws_iam_role_policy" "this_task" {
  name = "exec"
  role = aws_iam_role.this_task.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect = "Allow"
      Action = [
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
      ]
      Resource = "*"
    }]
  })
}

# ---- Cloud Map ---------------------------------------------------------------------

resource "aws_service_discovery_private_dns_namespace" "server" {
  name        = local.service_discovery_namespace
  description = "The domain name for the Consul dev server in ${var.datacenter}."
  vpc         = var.vpc_id
  tags        = var.tags
}

resource "aws_service_discovery_service" "server" {
  name = var.name
  tags = var.tags

  dns_config {
    namespace_id = aws_service_discovery_private_dns_namespace.server.id

    dns_records {
      ttl  = 10
      type = "A"
    }
  }
}

# ---- Security groups ------------------------------------------------------------------

resource "aws_security_group" "ecs_service" {
  name   = "${var.name}-ecs-sg"
  vpc_id = var.vpc_id
  tags   = var.tags
}

resource "aws_security_group_rule" "egress_from_service" {
  type              = "egress"
  from_port         = 0
  to_port           = 0
  protocol          = "-1"
  cidr_blocks       = ["0.0.0.0/0"]
  security_group_id = aws_security_group.ecs_service.id
}

resource "aws_security_group_rule" "lb_ingress_to_service" {
  count                    = var.lb_enabled ? 1 : 0
  description              = "Access to Consul dev server from security group attached to load balancer"
  type                     = "ingress"
  from_port                = 0
  to_port                  = 0
  protocol                 = "-1"
  source_security_group_id = aws_security_group.load_balancer[0].id
  security_group_id        = aws_security_group.ecs_service.id
}

resource "aws_security_group" "load_balancer" {
  count  = var.lb_enabled ? 1 : 0
  name   = "${var.name}-lb-sg"
  vpc_id = var.vpc_id
  tags   = var.tags

  ingress {
    description     = "Access to Consul dev server HTTP API and UI."
    from_port       = 8500
    to_port         = 8500
    protocol        = "tcp"
    cidr_blocks     = var.lb_ingress_rule_cidr_blocks
    security_groups = var.lb_ingress_rule_security_groups
  }

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

# ---- Load balancer ------------------------------------------------------------------

resource "aws_lb_target_group" "this" {
  count                = var.lb_enabled ? 1 : 0
  name                 = var.name
  port                 = 8500
  protocol             = "HTTP"
  vpc_id               = var.vpc_id
  target_type          = "ip"
  deregistration_delay = 10
  tags                 = var.tags

  health_check {
    path                = "/v1/status/leader"
    healthy_threshold   = 2
    unhealthy_threshold = 10
    timeout             = 30
    interval            = 60
  }
}

resource "aws_lb" "this" {
  count              = var.lb_enabled ? 1 : 0
  name               = var.name
  internal           = false
  load_balancer_type = "application"
  security_groups    = [aws_security_group.load_balancer[0].id]
  subnets            = var.lb_subnets
  tags               = var.tags
}

resource "aws_lb_listener" "this" {
  count             = var.lb_enabled ? 1 : 0
  load_balancer_arn = aws_lb.this[0].arn
  port              = 8500
  protocol          = "HTTP"
  tags              = var.tags

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this[0].arn
  }
}

# Waits (once, when the load balancer is created or its DNS name changes)
# until the server answers through the load balancer, so that the caller can
# create Consul objects right after. Gives up quietly after
# consul_server_startup_timeout seconds, as upstream's null_resource did.
resource "terraform_data" "wait_for_consul_server" {
  count            = var.lb_enabled ? 1 : 0
  triggers_replace = { consul_server_lb_dns_name = aws_lb.this[0].dns_name }

  provisioner "local-exec" {
    command = <<-EOT
      url="http://${aws_lb.this[0].dns_name}:8500/v1/catalog/services"
      command -v curl >/dev/null 2>&1 || { echo "curl not found: not waiting for $url" >&2; exit 0; }
      deadline=$(( $(date +%s) + ${var.consul_server_startup_timeout} ))
      while [ "$(date +%s)" -lt "$deadline" ]; do
        code=$(curl -s -o /dev/null --max-time 5 -w '%%{http_code}' "$url" || true)
        [ "$code" = 200 ] && exit 0
        sleep 2
      done
      echo "the Consul server did not answer at $url within ${var.consul_server_startup_timeout}s; going on" >&2
    EOT
  }

  depends_on = [aws_ecs_service.this]
}
