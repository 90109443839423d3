output "server_dns" {
  description = "Cloud Map name of the Consul server."
  value       = module.dev_server.server_dns
}

output "controller_task_definition_arn" {
  description = "The controller's task definition."
  value       = module.controller.task_definition_arn
}

output "controller_ready" {
  description = "Reference it (depends_on) from mesh tasks' ECS services."
  value       = module.controller.ready
}
