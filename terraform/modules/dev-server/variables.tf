# Inputs of the dev-server module. Names, types, defaults and accepted values
# are those of HashiCorp's terraform-aws-consul-ecs v0.7.3 dev-server module,
# so switching is a change of `source`; README.md lists the deliberate
# differences.

# ---- Where it runs ---------------------------------------------------------------

variable "name" {
  description = "Name of the ECS service, task definition family and Cloud Map service, and prefix of the other resources."
  type        = string
  default     = "server"
}

variable "ecs_cluster_arn" {
  description = "ARN of the existing ECS cluster to run the server in."
  type        = string
}

variable "vpc_id" {
  description = "ID of the VPC (security groups, Cloud Map namespace, load balancer target group)."
  type        = string
}

variable "subnet_ids" {
  description = "Subnet IDs of the server task. Private subnets need a NAT gateway to pull images; public ones need assign_public_ip = true."
  type        = list(string)
}

variable "assign_public_ip" {
  description = "Give the server task a public IP (needed in public subnets to pull images)."
  type        = bool
  default     = false
}

variable "launch_type" {
  description = "Launch type of the ECS service: EC2 or FARGATE."
  type        = string
  default     = "EC2"
}

variable "requires_compatibilities" {
  description = "Launch types the task definition is compatible with."
  type        = list(string)
  default     = ["EC2", "FARGATE"]
}

variable "cpu" {
  description = "CPU units of the task."
  type        = number
  default     = 256
}

variable "memory" {
  description = "Memory of the task, in MiB."
  type        = number
  default     = 512
}

variable "consul_image" {
  description = "Consul image (it must carry sh, curl and jq, as hashicorp/consul does). Its tag's version (x.y.z) selects the gRPC TLS port setting of Consul >= 1.14; a tag without one counts as >= 1.14."
  type        = string
  # Upstream v0.10.0's default (v0.7.3: hashicorp/consul:1.17.3).
  default  = "hashicorp/consul:2.0.1"
  nullable = false

  validation {
    # An empty image would register containers ECS can never start; the
    # failure would show only when the task is launched.
    condition     = trimspace(var.consul_image) != "" && !can(regex("\\s", var.consul_image))
    error_message = "consul_image must name an image, e.g. \"hashicorp/consul:2.0.1\" (it is empty or holds spaces)."
  }
}

variable "consul_license" {
  description = "Consul Enterprise license (needs an Enterprise consul_image). Stored in Secrets Manager and injected as CONSUL_LICENSE."
  type        = string
  default     = ""
  sensitive   = true
}

variable "log_configuration" {
  description = "logConfiguration of the containers, as in the ECS API. null or empty (the default): no logConfiguration key at all."
  type        = any
  default     = null
}

variable "tags" {
  description = "Tags of every resource the module creates that takes tags."
  type        = map(string)
  default     = {}
}

variable "wait_for_steady_state" {
  description = "Make Terraform wait until the server's ECS service is steady (its task running)."
  type        = bool
  default     = false
}

# ---- Load balancer -----------------------------------------------------------------

variable "lb_enabled" {
  description = "Put an application load balancer in front of the server's HTTP API and UI (port 8500)."
  type        = bool
  default     = false
}

variable "lb_subnets" {
  description = "Subnet IDs of the load balancer (public subnets to reach it from outside). Required with lb_enabled."
  type        = list(string)
  default     = null
}

variable "lb_ingress_rule_cidr_blocks" {
  description = "CIDR blocks allowed to reach the load balancer."
  type        = list(string)
  default     = null
}

variable "lb_ingress_rule_security_groups" {
  description = "Security groups allowed to reach the load balancer."
  type        = list(string)
  default     = null
}

variable "consul_server_startup_timeout" {
  description = "With lb_enabled: seconds to wait, at create time, until the server answers through the load balancer (then Terraform goes on regardless). 0: no wait."
  type        = number
  # Upstream v0.10.0's default (v0.7.3: 300).
  default = 600
}

# ---- Service discovery ---------------------------------------------------------------

variable "service_discovery_namespace" {
  description = "Cloud Map private DNS namespace the server is registered in (created by the module). Empty: the datacenter name, so the server is <name>.<datacenter>."
  type        = string
  default     = ""
}

# ---- TLS -------------------------------------------------------------------------------

variable "tls" {
  description = "TLS on the server (HTTPS 8501, gRPC TLS 8503, verified RPC); the server certificate is made at start by a tls-init container from the CA."
  type        = bool
  default     = false
}

variable "generate_ca" {
  description = "With tls: generate a CA (tls provider) and store its certificate and key in Secrets Manager. false: pass ca_cert_arn and ca_key_arn."
  type        = bool
  default     = true
}

variable "ca_cert_arn" {
  description = "Secrets Manager secret ARN of your CA certificate (PEM), with tls and generate_ca = false."
  type        = string
  default     = ""
}

variable "ca_key_arn" {
  description = "Secrets Manager secret ARN of your CA private key (PEM), with tls and generate_ca = false."
  type        = string
  default     = ""
}

variable "additional_dns_names" {
  description = "Extra DNS names in the server certificate's SANs (besides the task IP and <name>.<namespace>)."
  type        = list(string)
  default     = []
}

# ---- ACLs ------------------------------------------------------------------------------

variable "acls" {
  description = "ACLs on the server (default policy deny)."
  type        = bool
  default     = false
}

variable "generate_bootstrap_token" {
  description = "With acls: create the Secrets Manager secret holding the bootstrap token (bootstrap_token, or a generated UUID). false: pass bootstrap_token_arn."
  type        = bool
  default     = true
}

variable "bootstrap_token" {
  description = "The bootstrap token's secret ID. Empty: a generated UUID."
  type        = string
  default     = ""
}

variable "bootstrap_token_arn" {
  description = "Secrets Manager secret ARN of your bootstrap token, with acls and generate_bootstrap_token = false."
  type        = string
  default     = ""
}

variable "replication_token" {
  description = "ACL replication token of a secondary datacenter (WAN federation with ACLs)."
  type        = string
  default     = ""
}

# ---- Datacenter, WAN federation, peering -------------------------------------------------

variable "datacenter" {
  description = "Consul datacenter."
  type        = string
  default     = "dc1"
}

variable "node_name" {
  description = "Consul node name of the server. Empty: name."
  type        = string
  default     = ""
}

variable "primary_datacenter" {
  description = "The primary datacenter (the same in every federated datacenter); needed for WAN federation through mesh gateways."
  type        = string
  default     = ""
}

variable "retry_join_wan" {
  description = "WAN addresses to join (classic WAN federation). Not with primary_gateways."
  type        = list(string)
  default     = []
}

variable "primary_gateways" {
  description = "WAN addresses of the primary datacenter's mesh gateways, for a secondary datacenter federated through mesh gateways. Not with retry_join_wan; implies enable_mesh_gateway_wan_federation."
  type        = list(string)
  default     = []
}

variable "enable_mesh_gateway_wan_federation" {
  description = "WAN federation through mesh gateways."
  type        = bool
  default     = false
}

variable "enable_cluster_peering" {
  description = "Cluster peering."
  type        = bool
  default     = false
}
