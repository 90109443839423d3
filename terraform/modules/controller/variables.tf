# Inputs of the controller module. Names, types, defaults and accepted values
# are those of HashiCorp's terraform-aws-consul-ecs v0.7.3 controller module,
# so switching is a change of `source`; README.md lists the deliberate
# differences (the inputs marked "added" below are two of them).

# ---- Where it runs ---------------------------------------------------------------

variable "name_prefix" {
  description = "Prefix of the names of everything the module creates (task definition family, IAM roles and policy). Must not be empty."
  type        = string

  validation {
    condition     = var.name_prefix != ""
    error_message = "name_prefix must not be empty: it prefixes the task definition family and the IAM role names."
  }
}

variable "ecs_cluster_arn" {
  description = "ARN of the ECS cluster the controller runs in and whose tasks it manages (one controller per cluster)."
  type        = string
}

variable "region" {
  description = "AWS region of the ECS cluster. Accepted for compatibility; the controller takes its region from its own task (as upstream, nothing reads this input)."
  type        = string
}

variable "subnets" {
  description = "Subnet IDs of the controller task. Private subnets need a NAT gateway (or VPC endpoints) to pull the image; public ones need assign_public_ip = true."
  type        = list(string)
}

variable "security_groups" {
  description = "Security group IDs of the controller task. Empty: the VPC's default security group."
  type        = list(string)
  default     = []
}

variable "assign_public_ip" {
  description = "Give the controller task a public IP (needed in public subnets to pull the image)."
  type        = bool
  default     = false
}

variable "launch_type" {
  description = "Launch type of the controller's ECS service: EC2 or FARGATE."
  type        = string
  default     = "FARGATE"
}

variable "requires_compatibilities" {
  description = "Launch types the task definition is compatible with."
  type        = list(string)
  default     = ["EC2", "FARGATE"]
}

variable "consul_ecs_image" {
  description = "Image of the controller container (this project's consul-ecs image)."
  type        = string
  default     = "ghcr.io/consul-ecs-cpp/consul-ecs:0.1.0"
}

variable "log_configuration" {
  description = "logConfiguration of the controller container, as in the ECS API. null or empty (the default): the container gets no logConfiguration key at all."
  type        = any
  default     = null
}

variable "additional_execution_role_policies" {
  description = "ARNs of extra IAM policies to attach to the execution role."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags of every resource the module creates (added: upstream v0.7.3 tags nothing)."
  type        = map(string)
  default     = {}
}

variable "destroy_grace_period_seconds" {
  description = "Added. On destroy, seconds the controller keeps running after everything that depends on module.controller (or its `ready` output) has been destroyed, so that it removes what the stopped tasks left in Consul before it goes itself (hashicorp/consul#21212). 0: no wait. Needs `sleep` on the machine running Terraform."
  type        = number
  default     = 30

  validation {
    condition     = var.destroy_grace_period_seconds >= 0 && floor(var.destroy_grace_period_seconds) == var.destroy_grace_period_seconds
    error_message = "destroy_grace_period_seconds must be a whole number of seconds, 0 or more."
  }
}

# ---- Consul ------------------------------------------------------------------------

variable "consul_bootstrap_token_secret_arn" {
  description = "Secrets Manager secret ARN of the Consul token the controller uses (CONSUL_HTTP_TOKEN). It needs acl:write, node:write, service:write and agent:read, plus operator:write with Consul Enterprise partitions; the bootstrap token has them all."
  type        = string
}

variable "consul_server_hosts" {
  description = "Consul servers: an IP address, a DNS name, or `exec=<command>` printing addresses (go-netaddrs). No port here: see http_config / grpc_config."
  type        = string
}

variable "skip_server_watch" {
  description = "Do not watch the Consul servers for changes (for servers behind a load balancer)."
  type        = bool
  default     = false
}

variable "iam_role_path" {
  description = "IAM path of the task roles allowed to log in with the aws-iam auth method the controller maintains (the mesh-task module's iam_role_path)."
  type        = string
  default     = "/consul-ecs/"

  validation {
    condition     = can(regex("^/(.*/)?$", var.iam_role_path))
    error_message = "iam_role_path must start and end with \"/\" (an IAM path, e.g. /consul-ecs/)."
  }
}

variable "tls" {
  description = "Use TLS to Consul's HTTP (and gRPC) interfaces."
  type        = bool
  default     = false
}

variable "tls_server_name" {
  description = "Default TLS server name (SNI) for Consul's HTTP and gRPC interfaces, when http_config / grpc_config set none."
  type        = string
  default     = ""
}

variable "consul_ca_cert_arn" {
  description = "Secrets Manager secret ARN of the Consul CA certificate (HTTP and gRPC); the default of the two below."
  type        = string
  default     = ""
}

variable "consul_grpc_ca_cert_arn" {
  description = "Secrets Manager secret ARN of the CA certificate for gRPC; overrides consul_ca_cert_arn."
  type        = string
  default     = ""
}

variable "consul_https_ca_cert_arn" {
  description = "Secrets Manager secret ARN of the CA certificate for HTTPS; overrides consul_ca_cert_arn."
  type        = string
  default     = ""
}

variable "http_config" {
  description = "consulServers.http of the consul-ecs config: port, https, tls, tlsServerName. Unset fields follow tls / tls_server_name; the port defaults to 8501 with TLS, else 8500."
  type        = any
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.http_config) : contains(["port", "https", "tls", "tlsServerName"], k)])
    error_message = "http_config accepts only port, https, tls and tlsServerName."
  }
}

variable "grpc_config" {
  description = "consulServers.grpc of the consul-ecs config: port, tls, tlsServerName. Unset fields follow tls / tls_server_name; the port defaults to 8503 with TLS, else 8502."
  type        = any
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.grpc_config) : contains(["port", "tls", "tlsServerName"], k)])
    error_message = "grpc_config accepts only port, tls and tlsServerName."
  }
}

# ---- Consul Enterprise ---------------------------------------------------------------

variable "consul_partitions_enabled" {
  description = "Consul Enterprise admin partitions: the controller creates the partition and the namespaces of the mesh tasks."
  type        = bool
  default     = false
}

variable "consul_partition" {
  description = "Admin partition the controller manages (Consul Enterprise); used only with consul_partitions_enabled = true."
  type        = string
  default     = "default"
}
