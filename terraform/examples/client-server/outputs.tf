output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = aws_ecs_cluster.this.arn
}

output "server_dns" {
  description = "Cloud Map name of the Consul server (consul_server_hosts of every task)."
  value       = module.dev_server.server_dns
}

output "bootstrap_token_secret_arn" {
  description = "Secrets Manager secret holding the Consul bootstrap token."
  value       = module.dev_server.bootstrap_token_secret_arn
}

output "ca_cert_arn" {
  description = "Secrets Manager secret holding the generated Consul CA certificate."
  value       = module.dev_server.ca_cert_arn
}

output "ca_key_arn" {
  description = "Secrets Manager secret holding the generated CA's key (the dev server signs its certificate with it)."
  value       = module.dev_server.ca_key_arn
}

output "ecs_services" {
  description = "ECS service names: dev server, controller, server, client, terminating gateway."
  value = {
    dev_server = module.dev_server.ecs_service_name
    controller = module.controller.ecs_service_name
    server     = aws_ecs_service.server.name
    client     = aws_ecs_service.client.name
    gateway    = module.gateway.ecs_service_name
  }
}

output "task_definition_arns" {
  description = "Task definitions of the two mesh tasks and the gateway."
  value = {
    server  = module.server.task_definition_arn
    client  = module.client.task_definition_arn
    gateway = module.gateway.task_definition_arn
  }
}
