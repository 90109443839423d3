# Inputs of the gateway-task module: those of HashiCorp's terraform-aws-consul-ecs
# gateway-task module, v0.7.3 plus the v0.10.0 additions (kinds
# terminating-gateway and api-gateway, custom_load_balancer_config,
# extra_container_definitions, volumes, the transparent-proxy inputs), with
# the same names, types and accepted values. Deliberate differences: README.md.

# ---- Layout ----------------------------------------------------------------------

variable "consul_ecs_layout" {
  description = "Sidecar layout of the task, as in mesh-task. \"control-plane\": consul-ecs v0.7's one long-running consul-ecs-control-plane container next to consul-dataplane (mesh gateways only: the v0.7 config knows no other kind). \"split\": consul-ecs v0.10's consul-ecs-mesh-init (one-shot, runs first), consul-ecs-health-sync (long-running) and consul-dataplane, with the v0.10 config (transparentProxy). The v0.10 inputs (enable_transparent_proxy, enable_consul_dns, exclude_*) only take effect with \"split\"."
  type        = string
  # The v0.10 layout by default, as mesh-task and the current official module.
  default = "split"

  validation {
    condition     = contains(["control-plane", "split"], var.consul_ecs_layout)
    error_message = "consul_ecs_layout must be \"control-plane\" (the v0.7 layout: one consul-ecs-control-plane container) or \"split\" (the v0.10 layout: consul-ecs-mesh-init + consul-ecs-health-sync)."
  }
}

# ---- Gateway -------------------------------------------------------------------

variable "kind" {
  description = "Gateway kind: mesh-gateway, terminating-gateway or api-gateway (the last two need consul_ecs_layout = \"split\")."
  type        = string

  validation {
    condition     = contains(["mesh-gateway", "terminating-gateway", "api-gateway"], var.kind)
    error_message = "kind must be one of mesh-gateway, terminating-gateway or api-gateway."
  }
}

variable "family" {
  description = "Family of the ECS task definition. Lower-cased, it is the Consul gateway name (and the ECS service name) unless consul_service_name is set."
  type        = string
}

variable "consul_service_name" {
  description = "Consul name of the gateway (also the name of the ECS service and, with lb_enabled, of the load balancer and target group). Empty: the lower-cased family."
  type        = string
  default     = ""

  validation {
    condition     = var.consul_service_name == "" || can(regex("^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$", var.consul_service_name))
    error_message = "consul_service_name must be lower case: letters a-z, digits, '-' and '_', starting and ending with a letter or digit (^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$)."
  }
}

variable "consul_service_tags" {
  description = "Tags of the Consul gateway registration."
  type        = list(string)
  default     = []
}

variable "consul_service_meta" {
  description = "Metadata of the Consul gateway registration (with WAN federation the module adds consul-wan-federation = 1)."
  type        = map(string)
  default     = {}
}

variable "consul_partition" {
  description = "Consul Enterprise admin partition of the gateway (its namespace is then \"default\")."
  type        = string
  default     = ""
}

variable "lan_address" {
  description = "LAN address announced for the gateway. Empty: the task's address."
  type        = string
  default     = ""
}

variable "lan_port" {
  description = "LAN port of the gateway (the container port of consul-dataplane). 0: 8443."
  type        = number
  default     = 0

  validation {
    condition     = var.lan_port >= 0 && var.lan_port <= 65535
    error_message = "lan_port must be between 0 (the default, 8443) and 65535."
  }
}

variable "wan_address" {
  description = "WAN address announced for the gateway. Empty: the load balancer's DNS name with lb_enabled, else the task's address."
  type        = string
  default     = ""
}

variable "wan_port" {
  description = "WAN port of the gateway (the load balancer's listener port with lb_enabled). 0: lan_port."
  type        = number
  default     = 0

  validation {
    condition     = var.wan_port >= 0 && var.wan_port <= 65535
    error_message = "wan_port must be between 0 (the default, lan_port) and 65535."
  }
}

variable "enable_mesh_gateway_wan_federation" {
  description = "The gateway carries WAN federation between Consul datacenters: its registration gets the meta consul-wan-federation = 1 (Consul then routes server traffic through it). Needs tls = true."
  type        = bool
  default     = false
}

# ---- ECS task and service -----------------------------------------------------

variable "ecs_cluster_arn" {
  description = "ARN of the ECS cluster the gateway's service runs in."
  type        = string
}

variable "gateway_count" {
  description = "Number of gateway tasks (the ECS service's desired count)."
  type        = number
  default     = 1

  validation {
    condition     = var.gateway_count >= 0 && floor(var.gateway_count) == var.gateway_count
    error_message = "gateway_count must be a whole number >= 0."
  }
}

variable "launch_type" {
  description = "Launch type of the ECS service: EC2 or FARGATE."
  type        = string
  default     = "FARGATE"

  validation {
    condition     = contains(["EC2", "FARGATE"], var.launch_type)
    error_message = "launch_type must be EC2 or FARGATE."
  }
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

variable "subnets" {
  description = "Subnet IDs of the gateway tasks. Private subnets need a NAT gateway for image pulls; public ones need assign_public_ip."
  type        = list(string)
}

variable "security_groups" {
  description = "Security group IDs of the gateway tasks (the VPC's default when empty). With lb_enabled and lb_create_security_group the module adds one of its own."
  type        = list(string)
  default     = []
}

variable "assign_public_ip" {
  description = "Give the gateway tasks a public IP (needed in a public subnet)."
  type        = bool
  default     = false
}

variable "volumes" {
  description = "Extra task volumes: objects with `name` and optionally `host_path`, `docker_volume_configuration`, `efs_volume_configuration` or `fsx_windows_file_server_volume_configuration` (the attribute names of aws_ecs_task_definition's volume block). A volume with `container_path` (or, as upstream, only `host_path`) is also mounted into consul-dataplane there, read-only unless `read_only = false`."
  type        = any
  default     = []
}

variable "extra_container_definitions" {
  description = "Extra containers of the gateway task, as in the ECS RegisterTaskDefinition API (camelCase keys); they come first and are left as given."
  type        = any
  default     = []
}

variable "log_configuration" {
  description = "logConfiguration of the module's containers, as in the ECS API. Empty (the default) means none: the containers get no logConfiguration key at all."
  type        = any
  default     = {}
}

variable "tags" {
  description = "Tags for every resource the module creates."
  type        = map(string)
  default     = {}
}

# ---- Load balancer ----------------------------------------------------------------

variable "lb_enabled" {
  description = "Create a network load balancer (NLB, TCP listener on wan_port, IP target group) in front of the gateway; its DNS name becomes the WAN address."
  type        = bool
  default     = false
}

variable "lb_vpc_id" {
  description = "VPC of the load balancer's target group (and security group). Required with lb_enabled."
  type        = string
  default     = ""
}

variable "lb_subnets" {
  description = "Subnet IDs of the load balancer (public ones to reach it from outside). Required with lb_enabled."
  type        = list(string)
  default     = []
}

variable "lb_ingress_rule_cidr_blocks" {
  description = "CIDR blocks allowed to reach the gateway on wan_port (the ingress rule's sources)."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "lb_create_security_group" {
  description = "With lb_enabled: create a security group for the gateway tasks with an ingress rule on wan_port (and allow-all egress)."
  type        = bool
  default     = true
}

variable "lb_modify_security_group" {
  description = "With lb_enabled: add the ingress rule to an existing security group (lb_modify_security_group_id) instead; needs lb_create_security_group = false."
  type        = bool
  default     = false
}

variable "lb_modify_security_group_id" {
  description = "The security group lb_modify_security_group adds the ingress rule to."
  type        = string
  default     = ""
}

variable "custom_load_balancer_config" {
  description = "Load balancers of the gateway's ECS service when lb_enabled = false, e.g. an ALB target group in front of an API gateway: objects with target_group_arn, container_name and container_port."
  type = list(object({
    target_group_arn = string
    container_name   = string
    container_port   = number
  }))
  default = []
}

# ---- IAM -------------------------------------------------------------------------

variable "iam_role_path" {
  description = "IAM path of the roles and policies the module creates. The controller's auth method trusts task roles under this path."
  type        = string
  default     = "/consul-ecs/"

  validation {
    condition     = var.iam_role_path != "" && substr(var.iam_role_path, 0, 1) == "/" && substr(var.iam_role_path, -1, 1) == "/"
    error_message = "iam_role_path must start and end with \"/\"."
  }
}

variable "additional_task_role_policies" {
  description = "ARNs of extra IAM policies to attach to the task role."
  type        = list(string)
  default     = []
}

variable "additional_execution_role_policies" {
  description = "ARNs of extra IAM policies to attach to the execution role."
  type        = list(string)
  default     = []
}

# ---- Images -------------------------------------------------------------------

variable "consul_image" {
  description = "Consul image. Unused (kept so that calls written for upstream still plan)."
  type        = string
  default     = "hashicorp/consul:2.0.1" # upstream v0.10.0's (v0.7.3: 1.17.3)
}

variable "consul_ecs_image" {
  description = "Image of the consul-ecs containers (consul-ecs-control-plane, or consul-ecs-mesh-init and consul-ecs-health-sync)."
  type        = string
  default     = "ghcr.io/consul-ecs-cpp/consul-ecs:0.1.0"
}

variable "consul_dataplane_image" {
  description = "Image of the consul-dataplane container. null (the default): the image of the upstream gateway-task release whose layout the task uses, hashicorp/consul-dataplane:1.9.6 (v0.10.0) with consul_ecs_layout = \"split\", hashicorp/consul-dataplane:1.3.3 (v0.7.3) with \"control-plane\"."
  type        = string
  default     = null

  validation {
    condition     = var.consul_dataplane_image == null || try(trimspace(var.consul_dataplane_image) != "", false)
    error_message = "consul_dataplane_image must name an image (or be null for the layout's default); it is empty."
  }
}

variable "envoy_readiness_port" {
  description = "Port of Envoy's readiness listener; the consul-dataplane container's health check dials it."
  type        = number
  default     = 22000

  validation {
    condition     = var.envoy_readiness_port > 0 && var.envoy_readiness_port <= 65535
    error_message = "envoy_readiness_port must be between 1 and 65535."
  }

  # As upstream v0.10.0; the control-plane layout also reserves 10000, the
  # control-plane's own health port, as v0.7.3 (a precondition in main.tf).
  validation {
    condition     = !contains([8600, 19000], var.envoy_readiness_port)
    error_message = "envoy_readiness_port cannot be a port Consul or the sidecars use: 8600 (DNS) or 19000 (Envoy admin)."
  }
}

# ---- Transparent proxy (v0.10, consul_ecs_layout = "split" only) ----------------

variable "enable_transparent_proxy" {
  description = "Transparent proxy (split layout): consul-ecs-mesh-init, as root with NET_ADMIN, redirects the task's traffic through the gateway's Envoy with iptables. Needs NET_ADMIN, which Fargate never grants: true with FARGATE in requires_compatibilities fails at plan. null (the default): on unless requires_compatibilities contains FARGATE. Ignored with consul_ecs_layout = \"control-plane\" (as in mesh-task)."
  type        = bool
  # Upstream v0.10.0's default is true, which fails every gateway that may
  # run on Fargate: null picks true only where it can work (as mesh-task).
  default = null
}

variable "enable_consul_dns" {
  description = "Point the task's /etc/resolv.conf at the dataplane's Consul DNS. Needs enable_transparent_proxy."
  type        = bool
  default     = false
}

variable "exclude_inbound_ports" {
  description = "Inbound ports left out of the traffic redirection."
  type        = list(number)
  default     = []
}

variable "exclude_outbound_ports" {
  description = "Outbound ports left out of the traffic redirection."
  type        = list(number)
  default     = []
}

variable "exclude_outbound_cidrs" {
  description = "Outbound CIDRs left out of the traffic redirection."
  type        = list(string)
  default     = []
}

variable "exclude_uids" {
  description = "Process UIDs whose outbound traffic is left out of the redirection."
  type        = list(string)
  default     = []
}

# ---- consul-ecs config, Consul servers, TLS, ACLs ------------------------------

variable "consul_ecs_config" {
  description = "Extra consul-ecs config merged over what the other inputs produce. Allowed: consulLogin (enabled, method, includeEntity, meta, region, stsEndpoint, serverIdHeaderValue) and, with consul_ecs_layout = \"split\", transparentProxy (enabled, excludeInboundPorts, excludeOutboundPorts, excludeOutboundCIDRs, excludeUIDs, consulDNS.enabled); the inputs win over transparentProxy keys given here, as upstream."
  type        = any
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.consul_ecs_config) : contains(["consulLogin", "transparentProxy"], k)])
    error_message = "consul_ecs_config accepts only the keys consulLogin and transparentProxy (the latter with consul_ecs_layout = \"split\")."
  }

  validation {
    condition = alltrue([
      for k in keys(try(var.consul_ecs_config.consulLogin, {})) :
      contains(["enabled", "method", "includeEntity", "meta", "region", "stsEndpoint", "serverIdHeaderValue"], k)
    ])
    error_message = "consul_ecs_config.consulLogin accepts only enabled, method, includeEntity, meta, region, stsEndpoint and serverIdHeaderValue."
  }

  validation {
    condition = alltrue([
      for k in keys(try(var.consul_ecs_config.transparentProxy, {})) :
      contains(["enabled", "excludeInboundPorts", "excludeOutboundPorts", "excludeOutboundCIDRs", "excludeUIDs", "consulDNS"], k)
    ])
    error_message = "consul_ecs_config.transparentProxy accepts only enabled, excludeInboundPorts, excludeOutboundPorts, excludeOutboundCIDRs, excludeUIDs and consulDNS."
  }

  validation {
    condition     = alltrue([for k in keys(try(var.consul_ecs_config.transparentProxy.consulDNS, {})) : k == "enabled"])
    error_message = "consul_ecs_config.transparentProxy.consulDNS accepts only enabled."
  }
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

variable "http_config" {
  description = "consulServers.http of the consul-ecs config: port, https, tls, tlsServerName, caCertFile. Unset fields follow tls / tls_server_name; the port defaults to 8501 with TLS, else 8500."
  type        = any
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.http_config) : contains(["port", "https", "tls", "tlsServerName", "caCertFile"], k)])
    error_message = "http_config accepts only port, https, tls, tlsServerName and caCertFile."
  }
}

variable "grpc_config" {
  description = "consulServers.grpc of the consul-ecs config: port, tls, tlsServerName, caCertFile. Unset fields follow tls / tls_server_name; the port defaults to 8503 with TLS, else 8502."
  type        = any
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.grpc_config) : contains(["port", "tls", "tlsServerName", "caCertFile"], k)])
    error_message = "grpc_config accepts only port, tls, tlsServerName and caCertFile."
  }
}

variable "tls" {
  description = "Use TLS to Consul's HTTP and gRPC interfaces."
  type        = bool
  default     = false
}

variable "tls_server_name" {
  description = "Default TLS server name (SNI) for Consul's HTTP and gRPC interfaces, when http_config / grpc_config set none."
  type        = string
  default     = ""
}

variable "consul_ca_cert_arn" {
  description = "Secrets Manager secret ARN of the Consul CA certificate (HTTP and gRPC), injected when tls = true."
  type        = string
  default     = ""
}

variable "consul_https_ca_cert_arn" {
  description = "Secrets Manager secret ARN of the CA certificate for HTTPS; overrides consul_ca_cert_arn for HTTP."
  type        = string
  default     = ""
}

variable "consul_grpc_ca_cert_arn" {
  description = "Secrets Manager secret ARN of the CA certificate for gRPC; overrides consul_ca_cert_arn for gRPC."
  type        = string
  default     = ""
}

variable "acls" {
  description = "Consul ACLs are on: the gateway logs in with the AWS IAM auth method (the task role gets iam:GetRole on itself; the controller binds it to the ACL role of its kind through the tag consul.hashicorp.com.gateway-kind)."
  type        = bool
  default     = false
}

variable "service_token_auth_method_name" {
  description = "Name of the Consul auth method the gateway logs in with."
  type        = string
  default     = "iam-ecs-service-token"
}
