output "task_definition_arn" {
  description = "ARN (with revision) of the task definition."
  value       = aws_ecs_task_definition.this.arn
}

output "task_role_id" {
  description = "Name of the task role (created or passed in)."
  value       = local.task_role_id
}

output "task_role_arn" {
  description = "ARN of the task role (created or passed in)."
  value       = local.task_role_arn
}

output "execution_role_id" {
  description = "Name of the execution role (created or passed in)."
  value       = local.execution_role_id
}

output "execution_role_arn" {
  description = "ARN of the execution role (created or passed in)."
  value       = local.execution_role_arn
}

output "task_tags" {
  description = "All tags of the task definition (including the provider's default_tags); pass them to the ECS service with propagate_tags = \"TASK_DEFINITION\"."
  value       = aws_ecs_task_definition.this.tags_all
}
