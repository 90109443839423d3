# The controller's task role (what the controller itself calls: ECS) and
# execution role (what ECS does for it: read the secrets, write logs).
# Names and paths as upstream v0.7.3: the task role is deliberately NOT under
# iam_role_path, which is the path the auth method trusts for mesh tasks.

locals {
  # The documents below are upstream's, statement for statement (trust
  # policies with their empty Sid included): the same documents mean no IAM
  # change at all when a user switches module source.
  ecs_tasks_trust = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = ""
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
    }]
  })

  # One statement per secret: the bootstrap token, then each CA given.
  secret_arns = concat(
    [var.consul_bootstrap_token_secret_arn],
    [for arn in [var.consul_ca_cert_arn, var.consul_https_ca_cert_arn, var.consul_grpc_ca_cert_arn] : arn if arn != ""],
  )
}

resource "aws_iam_role" "this_task" {
  name               = "${var.name_prefix}-consul-ecs-controller-task"
  assume_role_policy = local.ecs_tasks_trust
  tags               = var.tags
}

# Upstream's inline policy "exec", same name and document, as its own
# resource: the role's inline_policy argument is deprecated since AWS
# provider 5.68 (a warning on every plan). After a switch from upstream's
# module the plan adds this resource, which rewrites the same policy in place
# (PutRolePolicy): the role's permissions never change.
resource "aws_iam_role_policy" "this_task" {
  name = "exec"
  role = aws_iam_role.this_task.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect = "Allow"
      Action = [
        # ECS Exec (enable_execute_command on the service).
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
        # Stale-task clean-up: the cluster's running tasks and their tags.
        "ecs:ListTasks",
        "ecs:DescribeTasks",
      ]
      Resource = "*"
    }]
  })
}

resource "aws_iam_role" "this_execution" {
  name               = "${var.name_prefix}-consul-ecs-controller-execution"
  path               = "/ecs/"
  assume_role_policy = local.ecs_tasks_trust
  tags               = var.tags
}

resource "aws_iam_policy" "this_execution" {
  name        = "${var.name_prefix}-consul-ecs-controller-execution"
  path        = "/ecs/"
  description = "Consul controller execution"
  tags        = var.tags
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [for arn in local.secret_arns : {
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

resource "aws_iam_role_policy_attachment" "consul-controller-execution" {
  role       = aws_iam_role.this_execution.id
  policy_arn = aws_iam_policy.this_execution.arn
}

resource "aws_iam_role_policy_attachment" "additional_execution_policies" {
  count      = length(var.additional_execution_role_policies)
  role       = aws_iam_role.this_execution.id
  policy_arn = var.additional_execution_role_policies[count.index]
}
