output "ecs_service_name" {
  description = "Name of the Consul server's ECS service."
  value       = aws_ecs_service.this.name
}

output "security_group_id" {
  description = "ID of the server task's security group (add your ingress rules to it)."
  value       = aws_security_group.ecs_service.id
}

output "lb_dns_name" {
  description = "DNS name of the load balancer in front of the server (null without lb_enabled)."
  value       = var.lb_enabled ? aws_lb.this[0].dns_name : null
}

output "lb_security_group_id" {
  description = "ID of the load balancer's security group (null without lb_enabled)."
  value       = var.lb_enabled ? aws_security_group.load_balancer[0].id : null
}

output "ca_cert_arn" {
  description = "Secrets Manager secret ARN of the CA certificate (null without one)."
  value       = local.ca_cert_arn != "" ? local.ca_cert_arn : null
}

output "ca_key_arn" {
  description = "Secrets Manager secret ARN of the CA key (null without one)."
  value       = local.ca_key_arn != "" ? local.ca_key_arn : null
}

output "server_dns" {
  description = "DNS name of the server in Cloud Map: <name>.<namespace>."
  value       = "${aws_service_discovery_service.server.name}.${aws_service_discovery_private_dns_namespace.server.name}"
}

output "bootstrap_token_secret_arn" {
  description = "Secrets Manager secret ARN of the ACL bootstrap token (null without acls)."
  value       = var.acls ? local.bootstrap_token_arn : null
}

output "bootstrap_token_id" {
  description = "Secret ID of the ACL bootstrap token (null without acls, and when the token is only in your bootstrap_token_arn secret)."
  value       = var.acls && (var.generate_bootstrap_token || var.bootstrap_token != "") ? local.bootstrap_token : null
}

# Added (not in upstream v0.7.3).

output "task_definition_arn" {
  description = "ARN (with revision) of the server's task definition."
  value       = aws_ecs_task_definition.this.arn
}

output "service_discovery_namespace_id" {
  description = "ID of the Cloud Map private DNS namespace the server is registered in."
  value       = aws_service_discovery_private_dns_namespace.server.id
}
