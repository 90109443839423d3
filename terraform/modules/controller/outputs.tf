# Upstream v0.7.3's controller module has no outputs; these are added.

output "ready" {
  description = "Known once the controller's ECS service exists; on destroy it goes only after everything that references it, plus destroy_grace_period_seconds. Reference it from the mesh tasks' ECS services (or use depends_on = [module.controller]) so that they start after the controller and are destroyed before it."
  value       = terraform_data.destroy_grace.id
}

output "ecs_service_name" {
  description = "Name of the controller's ECS service."
  value       = aws_ecs_service.this.name
}

output "ecs_service_id" {
  description = "ARN of the controller's ECS service."
  value       = aws_ecs_service.this.id
}

output "task_definition_arn" {
  description = "ARN (with revision) of the controller's task definition."
  value       = aws_ecs_task_definition.this.arn
}

output "task_role_arn" {
  description = "ARN of the controller's task role."
  value       = aws_iam_role.this_task.arn
}

output "execution_role_arn" {
  description = "ARN of the controller's execution role."
  value       = aws_iam_role.this_execution.arn
}

output "consul_ecs_config_json" {
  description = "The CONSUL_ECS_CONFIG_JSON given to the controller."
  value       = local.consul_ecs_config_json
}
