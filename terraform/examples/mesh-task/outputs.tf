output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = aws_ecs_cluster.this.arn
}

output "task_definition_arn" {
  description = "Task definition registered by mesh-task."
  value       = module.echo.task_definition_arn
}

output "task_role_arn" {
  description = "Task role of the echo service (the identity it logs in to Consul with)."
  value       = module.echo.task_role_arn
}
