output "server_dns" {
  description = "Cloud Map name of the Consul server."
  value       = module.dev_server.server_dns
}

output "bootstrap_token_secret_arn" {
  description = "Secrets Manager ARN of the bootstrap token."
  value       = module.dev_server.bootstrap_token_secret_arn
}

output "ca_cert_arn" {
  description = "Secrets Manager ARN of the generated CA certificate."
  value       = module.dev_server.ca_cert_arn
}

output "task_definition_arn" {
  description = "The Consul server's task definition."
  value       = module.dev_server.task_definition_arn
}
