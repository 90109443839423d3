# Task role and execution role. Each is created unless the caller brings its
# own; `count` depends only on the create_* booleans (never on a role ARN that
# is unknown until apply), so bring-your-own roles work on the first apply.
# Resource addresses are those of the v0.7.3 module: switching the module
# source does not replace the roles.

locals {
  task_role_arn      = var.create_task_role ? aws_iam_role.task[0].arn : try(var.task_role.arn, null)
  task_role_id       = var.create_task_role ? aws_iam_role.task[0].id : try(var.task_role.id, null)
  execution_role_arn = var.create_execution_role ? aws_iam_role.execution[0].arn : try(var.execution_role.arn, null)
  execution_role_id  = var.create_execution_role ? aws_iam_role.execution[0].id : try(var.execution_role.id, null)

  ecs_tasks_trust = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
    }]
  })

  # One statement per CA secret, in this order, as upstream's policy: the
  # same document means no policy change when a user switches module source.
  ca_secret_arns = var.tls ? [for arn in [var.consul_ca_cert_arn, var.consul_https_ca_cert_arn, var.consul_grpc_ca_cert_arn] : arn if arn != ""] : []
}

resource "aws_iam_role" "task" {
  count              = var.create_task_role ? 1 : 0
  name               = "${var.family}-task"
  path               = var.iam_role_path
  assume_role_policy = local.ecs_tasks_trust

  # Consul's aws-iam auth method reads these tags of the logged-in role: the
  # binding rule turns service-name into the token's service identity.
  tags = merge(var.tags, {
    "consul.hashicorp.com.service-name" = local.service_name
    "consul.hashicorp.com.namespace"    = var.consul_namespace
  })
}

# With ACLs the control-plane's login makes Consul call iam:GetRole on the
# task role (with the role's own credentials).
# The descriptions of both policies are upstream's: a different one forces a
# replacement when a user switches module source, and while it is replaced
# the task cannot log in to Consul (no iam:GetRole) or read its secrets.
resource "aws_iam_policy" "task" {
  count       = var.acls && var.create_task_role ? 1 : 0
  name        = "${var.family}-task"
  path        = var.iam_role_path
  description = "${var.family} mesh-task task policy"
  tags        = var.tags
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["iam:GetRole"]
      Resource = [aws_iam_role.task[0].arn]
    }]
  })
}

resource "aws_iam_role_policy_attachment" "task" {
  count      = var.acls && var.create_task_role ? 1 : 0
  role       = aws_iam_role.task[0].id
  policy_arn = aws_iam_policy.task[0].arn
}

resource "aws_iam_role_policy_attachment" "additional_task_policies" {
  count      = var.create_task_role ? length(var.additional_task_role_policies) : 0
  role       = aws_iam_role.task[0].id
  policy_arn = var.additional_task_role_policies[count.index]
}

resource "aws_iam_role" "execution" {
  count              = var.create_execution_role ? 1 : 0
  name               = "${var.family}-execution"
  path               = var.iam_role_path
  assume_role_policy = local.ecs_tasks_trust
  tags               = var.tags
}

# ECS itself (the execution role) reads the CA secrets into the control-plane
# container and writes the containers' logs.
resource "aws_iam_policy" "execution" {
  count       = var.create_execution_role ? 1 : 0
  name        = "${var.family}-execution"
  path        = var.iam_role_path
  description = "${var.family} mesh-task execution policy"
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
  count      = var.create_execution_role ? 1 : 0
  role       = aws_iam_role.execution[0].id
  policy_arn = aws_iam_policy.execution[0].arn
}

resource "aws_iam_role_policy_attachment" "additional_execution_policies" {
  count      = var.create_execution_role ? length(var.additional_execution_role_policies) : 0
  role       = aws_iam_role.execution[0].id
  policy_arn = var.additional_execution_role_policies[count.index]
}
