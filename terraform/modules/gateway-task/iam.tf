# Task role and execution role of the gateway task (always created, as
# upstream's gateway-task).

locals {
  ecs_tasks_trust = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
    }]
  })

  # One statement per CA secret given, in this order (with or without tls),
  # as upstream's policy: the same document means no policy change when a
  # user switches module source.
  ca_secret_arns = [for arn in [var.consul_ca_cert_arn, var.consul_https_ca_cert_arn, var.consul_grpc_ca_cert_arn] : arn if arn != ""]
}

resource "aws_iam_role" "task" {
  name               = "${var.family}-task"
  path               = var.iam_role_path
  assume_role_policy = local.ecs_tasks_trust

  # Consul's aws-iam auth method reads these tags of the logged-in role: the
  # controller's binding rules turn gateway-kind into the ACL role of that
  # kind (consul-ecs-mesh-gateway-role, ...) and service-name into the
  # gateway's name.
  tags = merge(var.tags, {
    "consul.hashicorp.com.service-name" = local.service_name
    "consul.hashicorp.com.namespace"    = local.consul_namespace
    "consul.hashicorp.com.gateway-kind" = var.kind
  })
}

# With ACLs the login makes Consul call iam:GetRole on the task role (with the
# role's own credentials).
# The descriptions of both policies are upstream's: a different one forces a
# replacement when a user switches module source, and while it is replaced
# the task cannot log in to Consul (no iam:GetRole) or read its secrets.
resource "aws_iam_policy" "task" {
  count       = var.acls ? 1 : 0
  name        = "${var.family}-task"
  path        = var.iam_role_path
  description = "${var.family} gateway-task task policy"
  tags        = var.tags
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["iam:GetRole"]
      Resource = [aws_iam_role.task.arn]
    }]
  })
}

resource "aws_iam_role_policy_attachment" "task" {
  count      = var.acls ? 1 : 0
  role       = aws_iam_role.task.id
  policy_arn = aws_iam_policy.task[0].arn
}

resource "aws_iam_role_policy_attachment" "additional_task_policies" {
  count      = length(var.additional_task_role_policies)
  role       = aws_iam_role.task.id
  policy_arn = var.additional_task_role_policies[count.index]
}

resource "aws_iam_role" "execution" {
  name               = "${var.family}-execution"
  path               = var.iam_role_path
  assume_role_policy = local.ecs_tasks_trust
  tags               = var.tags
}

# ECS itself (the execution role) reads the CA secrets into the consul-ecs
# containers and writes the containers' logs.
resource "aws_iam_policy" "execution" {
  name        = "${var.family}-execution"
  path        = var.iam_role_path
  description = "${var.family} gateway-task execution policy"
  tags        = var.tags
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [for arn in local.ca_secret_arns : {
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue"]
        Resource = [arn]
      }],
      [{
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "*"
      }],
    )
  })
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.id
  policy_arn = aws_iam_policy.execution.arn
}

resource "aws_iam_role_policy_attachment" "additional_execution_policies" {
  count      = length(var.additional_execution_role_policies)
  role       = aws_iam_role.execution.id
  policy_arn = var.additional_execution_role_policies[count.index]
}
