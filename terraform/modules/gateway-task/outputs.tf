output "task_definition_arn" {
  description = "ARN (with revision) of the task definition."
  value       = aws_ecs_task_definition.this.arn
}

output "task_role_id" {
  description = "Name of the task role."
  value       = aws_iam_role.task.id
}

output "task_role_arn" {
  description = "ARN of the task role."
  value       = aws_iam_role.task.arn
}

output "execution_role_id" {
  description = "Name of the execution role."
  value       = aws_iam_role.execution.id
}

output "execution_role_arn" {
  description = "ARN of the execution role."
  value       = aws_iam_role.execution.arn
}

output "task_tags" {
  description = "All tags of the task definition (including the provider's default_tags)."
  value       = aws_ecs_task_definition.this.tags_all
}

output "wan_address" {
  description = "WAN address announced for the gateway: the load balancer's DNS name with lb_enabled, else wan_address (empty: the task's address)."
  value       = local.wan_address
}

output "wan_port" {
  description = "WAN port announced for the gateway."
  value       = local.wan_port
}

output "lb_security_group_id" {
  description = "The security group the module created for the gateway tasks (lb_enabled and lb_create_security_group), else null."
  value       = local.lb_security_group ? aws_security_group.this[0].id : null
}

output "ecs_service_name" {
  description = "Name of the gateway's ECS service (the Consul gateway name)."
  value       = aws_ecs_service.this.name
}

output "consul_ecs_config_json" {
  description = "The rendered CONSUL_ECS_CONFIG_JSON of the gateway's consul-ecs container(s)."
  value       = local.consul_ecs_config_json
}
