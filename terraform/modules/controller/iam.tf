# The controller's task role (what the controller itself calls: ECS) and
# execution role (what ECS does for it: read the secrets, write logs).
# Names and paths as upstream v0.7.3: the task role is deliberately NOT under
# iam_role_path, which is the path the auth method trusts for mesh tasks.

locals {
  ecs_tasks_trust = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
    }]
  })

  secret_arns = distinct(compact([
    var.consul_bootstrap_token_secret_arn,
    var.consul_ca_cert_arn,
    var.consul_https_ca_cert_arn,
    var.consul_grpc_ca_cert_arn,
  ]))
}

resource "aws_iam_role" "this_task" {
  name               = "${var.name_prefix}-consul-ecs-controller-task"
  assume_role_policy = local.ecs_tasks_trust
  tags               = var.tags
}

# Inline, as upstream's (same name "exec"), but as its own resource: the
# role's inline_policy argument is deprecated in the 5.x/6.x AWS provider.
resource "aws_iam_role_policy" "this_task" {
  name = "exec"
  role = aws_iam_role.this_task.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # Stale-task clean-up: the cluster's running tasks and their tags.
        Sid      = "ClusterTasks"
        Effect   = "Allow"
        Action   = ["ecs:ListTasks", "ecs:DescribeTasks"]
        Resource = "*"
      },
      {
        # ECS Exec (enable_execute_command on the service).
        Sid    = "EcsExec"
        Effect = "Allow"
        Action = [
          "ssmmessages:CreateControlChannel",
          "ssmmessages:CreateDataChannel",
          "ssmmessages:OpenControlChannel",
          "ssmmessages:OpenDataChannel",
        ]
        Resource = "*"
      },
    ]
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
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue"]
        Resource = local.secret_arns
      },
      {
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "*"
      },
    ]
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
