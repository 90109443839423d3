# Inputs of the mesh-task module. Names, types, defaults and accepted values
# are those of HashiCorp's terraform-aws-consul-ecs v0.7.3 mesh-task module, so
# switching is a change of `source`; see README.md for the few deliberate
# differences.

# ---- Layout ----------------------------------------------------------------------

variable "consul_ecs_layout" {
  description = "Sidecar layout of the task. \"control-plane\": consul-ecs v0.7's one long-running consul-ecs-control-plane container next to consul-dataplane. \"split\": consul-ecs v0.10's consul-ecs-mesh-init (one-shot, runs first), consul-ecs-health-sync (long-running) and consul-dataplane, with the v0.10 config (transparentProxy, consulDNS). The v0.10 inputs (enable_transparent_proxy, enable_consul_dns, exclude_*) only take effect with \"split\"."
  type        = string
  # The v0.10 layout by default, as the current official module; the 0.7
  # layout stays one input away.
  default = "split"

  validation {
    condition     = contains(["control-plane", "split"], var.consul_ecs_layout)
    error_message = "consul_ecs_layout must be \"control-plane\" (the v0.7 layout: one consul-ecs-control-plane container) or \"split\" (the v0.10 layout: consul-ecs-mesh-init + consul-ecs-health-sync)."
  }
}

# ---- Task definition ---------------------------------------------------------

variable "family" {
  description = "Family of the ECS task definition. Lower-cased, it is the Consul service name unless consul_service_name is set."
  type        = string
}

variable "container_definitions" {
  description = "The application's container definitions, as in the ECS RegisterTaskDefinition API (camelCase keys). The module adds the sidecars and dependencies."
  # Deliberately `any`: list(any) would force every container map to the same keys and value types.
  type = any
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

variable "volumes" {
  description = "Extra task volumes: objects with `name` and optionally `host_path`, `docker_volume_configuration`, `efs_volume_configuration` or `fsx_windows_file_server_volume_configuration` (the attribute names of aws_ecs_task_definition's volume block)."
  type        = any
  default     = []
}

variable "log_configuration" {
  description = "logConfiguration of the sidecar containers (consul-ecs-control-plane, consul-dataplane), as in the ECS API. Empty (the default) means none: the containers get no logConfiguration key at all."
  type        = any
  default     = {}
}

variable "tags" {
  description = "Tags for every resource the module creates."
  type        = map(string)
  default     = {}
}

variable "application_shutdown_delay_seconds" {
  description = "Seconds by which the application's SIGTERM is delayed when the task stops, so that traffic drains first (keep it below the container's stopTimeout: ECS's SIGKILL cannot be delayed). When > 0, each application container that has no entryPoint of its own gets `/consul/consul-ecs app-entrypoint -shutdown-delay <N>s` as entryPoint, so its `command` must be complete (the image's own entrypoint is no longer used), and mounts /consul read-only. 0 or null: no delay."
  type        = number
  default     = 0
}

# ---- IAM -------------------------------------------------------------------------

variable "create_task_role" {
  description = "Whether the module creates the task role. Set it to false to pass your own in task_role."
  type        = bool
  default     = true
}

variable "task_role" {
  description = "Your own task role (id and arn), used when create_task_role = false. With ACLs, Consul's aws-iam login needs it to allow iam:GetRole on itself and to carry the tags consul.hashicorp.com.service-name (the Consul service name) and, with Consul Enterprise, consul.hashicorp.com.namespace."
  type = object({
    id  = string
    arn = string
  })
  default = {
    id  = null
    arn = null
  }
}

variable "create_execution_role" {
  description = "Whether the module creates the task execution role. Set it to false to pass your own in execution_role."
  type        = bool
  default     = true
}

variable "execution_role" {
  description = "Your own task execution role (id and arn), used when create_execution_role = false."
  type = object({
    id  = string
    arn = string
  })
  default = {
    id  = null
    arn = null
  }
}

variable "iam_role_path" {
  description = "IAM path of the roles and policies the module creates. The controller's auth method trusts task roles under this path."
  type        = string
  default     = "/consul-ecs/"

  # As upstream v0.10.0 (v0.7.3 checked the start only; IAM itself rejects a
  # path that does not end with "/", at apply).
  validation {
    condition     = var.iam_role_path != "" && substr(var.iam_role_path, 0, 1) == "/" && substr(var.iam_role_path, -1, 1) == "/"
    error_message = "iam_role_path must start and end with \"/\"."
  }
}

variable "additional_task_role_policies" {
  description = "ARNs of extra IAM policies to attach to the task role the module creates."
  type        = list(string)
  default     = []
}

variable "additional_execution_role_policies" {
  description = "ARNs of extra IAM policies to attach to the execution role the module creates."
  type        = list(string)
  default     = []
}

# ---- Images -------------------------------------------------------------------

variable "consul_ecs_image" {
  description = "Image of the consul-ecs-control-plane container (the consul-ecs binary; a copy of it is also run from /consul in the other containers)."
  type        = string
  default     = "ghcr.io/consul-ecs-cpp/consul-ecs:0.1.0"
}

variable "consul_dataplane_image" {
  description = "Image of the consul-dataplane container. null (the default): the image of the upstream release whose layout the task uses, hashicorp/consul-dataplane:2.0.1 (v0.10.0) with consul_ecs_layout = \"split\", hashicorp/consul-dataplane:1.3.3 (v0.7.3) with \"control-plane\"."
  type        = string
  default     = null

  validation {
    condition     = var.consul_dataplane_image == null || try(trimspace(var.consul_dataplane_image) != "", false)
    error_message = "consul_dataplane_image must name an image (or be null for the layout's default); it is empty."
  }
}

# ---- Consul service -----------------------------------------------------------

variable "consul_service_name" {
  description = "Consul service name. Empty: the lower-cased family."
  type        = string
  default     = ""

  validation {
    condition     = var.consul_service_name == "" || can(regex("^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$", var.consul_service_name))
    error_message = "consul_service_name must be lower case: letters a-z, digits, '-' and '_', starting and ending with a letter or digit (^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$)."
  }
}

variable "consul_service_tags" {
  description = "Tags of the Consul service registration."
  type        = list(string)
  default     = []
}

variable "consul_service_meta" {
  description = "Metadata of the Consul service registration."
  type        = map(string)
  default     = {}
}

variable "consul_namespace" {
  description = "Consul Enterprise namespace of the service (requires consul_partition)."
  type        = string
  default     = ""
}

variable "consul_partition" {
  description = "Consul Enterprise admin partition of the service (requires consul_namespace)."
  type        = string
  default     = ""
}

variable "port" {
  description = "Port the application listens on. 0 only with outbound_only = true."
  type        = number
  default     = 0
}

variable "outbound_only" {
  description = "True when the application only calls other services and accepts no requests (then port may be 0)."
  type        = bool
  default     = false
}

variable "upstreams" {
  description = "Upstreams of the sidecar proxy: the consul-ecs config's proxy.upstreams (each needs destinationName and localBindPort)."
  type        = any
  default     = []

  validation {
    condition = alltrue([
      for u in var.upstreams : can(u["destinationName"]) && can(u["localBindPort"])
    ])
    error_message = "Every upstream needs destinationName and localBindPort."
  }

  validation {
    condition = alltrue(flatten([
      for u in var.upstreams : [
        for k in keys(u) : contains([
          "destinationType", "destinationNamespace", "destinationPartition", "destinationName",
          "destinationPeer", "datacenter", "localBindAddress", "localBindPort", "config", "meshGateway",
        ], k)
      ]
    ]))
    error_message = "Upstream keys can only be destinationType, destinationNamespace, destinationPartition, destinationName, destinationPeer, datacenter, localBindAddress, localBindPort, config and meshGateway."
  }
}

variable "envoy_public_listener_port" {
  description = "Port of Envoy's public listener (mesh traffic into the service)."
  type        = number
  default     = 20000

  validation {
    condition     = var.envoy_public_listener_port > 0 && var.envoy_public_listener_port <= 65535
    error_message = "envoy_public_listener_port must be between 1 and 65535."
  }

  # Ports reserved in both layouts (upstream v0.7.3 and v0.10.0); the split
  # layout also reserves Consul's own ports 8300-8302 and 8500-8502, as
  # v0.10.0 (a precondition in main.tf: a variable cannot see the layout).
  validation {
    condition     = !contains([8600, 10000, 19000], var.envoy_public_listener_port)
    error_message = "envoy_public_listener_port cannot be a port Consul or the sidecars use: 8600 (DNS), 10000 (control-plane readiness) or 19000 (Envoy admin)."
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

variable "consul_ecs_config" {
  description = "Extra consul-ecs config merged over what the other inputs produce. Allowed: service.enableTagOverride, service.weights (passing, warning), proxy.meshGateway (mode), proxy.expose (checks, paths[listenerPort, path, localPathPort, protocol]), proxy.config, and consulLogin (enabled, method, includeEntity, meta, region, stsEndpoint, serverIdHeaderValue)."
  type        = any
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.consul_ecs_config) : contains(["service", "proxy", "consulLogin", "transparentProxy"], k)])
    error_message = "consul_ecs_config accepts only the keys service, proxy and consulLogin (and transparentProxy with consul_ecs_layout = \"split\")."
  }

  validation {
    condition     = alltrue([for k in keys(try(var.consul_ecs_config.service, {})) : contains(["enableTagOverride", "weights", "networkResilienceConfig"], k)])
    error_message = "consul_ecs_config.service accepts only enableTagOverride and weights (and networkResilienceConfig with consul_ecs_layout = \"split\")."
  }

  validation {
    condition     = alltrue([for k in keys(try(var.consul_ecs_config.service.networkResilienceConfig, {})) : contains(["enabled", "outlierDetection"], k)])
    error_message = "consul_ecs_config.service.networkResilienceConfig accepts only enabled and outlierDetection."
  }

  validation {
    condition = alltrue([
      for k in keys(try(var.consul_ecs_config.service.networkResilienceConfig.outlierDetection, {})) : contains([
        "interval", "maxFailures", "enforcingConsecutive5xx", "consecutive5xx",
        "enforcingConsecutiveGatewayFailure", "consecutiveGatewayFailure", "maxEjectionPercent",
      ], k)
    ])
    error_message = "consul_ecs_config.service.networkResilienceConfig.outlierDetection accepts only interval (nanoseconds), maxFailures, enforcingConsecutive5xx, consecutive5xx, enforcingConsecutiveGatewayFailure, consecutiveGatewayFailure and maxEjectionPercent."
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

  validation {
    condition     = alltrue([for k in keys(try(var.consul_ecs_config.service.weights, {})) : contains(["passing", "warning"], k)])
    error_message = "consul_ecs_config.service.weights accepts only passing and warning."
  }

  validation {
    condition     = alltrue([for k in keys(try(var.consul_ecs_config.proxy, {})) : contains(["meshGateway", "expose", "config"], k)])
    error_message = "consul_ecs_config.proxy accepts only meshGateway, expose and config."
  }

  validation {
    condition     = alltrue([for k in keys(try(var.consul_ecs_config.proxy.meshGateway, {})) : k == "mode"])
    error_message = "consul_ecs_config.proxy.meshGateway accepts only mode."
  }

  validation {
    condition     = alltrue([for k in keys(try(var.consul_ecs_config.proxy.expose, {})) : contains(["checks", "paths"], k)])
    error_message = "consul_ecs_config.proxy.expose accepts only checks and paths."
  }

  validation {
    condition = alltrue(flatten([
      for p in try(var.consul_ecs_config.proxy.expose.paths, []) : [
        for k in keys(p) : contains(["listenerPort", "path", "localPathPort", "protocol"], k)
      ]
    ]))
    error_message = "Each consul_ecs_config.proxy.expose.paths item accepts only listenerPort, path, localPathPort and protocol."
  }

  validation {
    condition = alltrue([
      for k in keys(try(var.consul_ecs_config.consulLogin, {})) :
      contains(["enabled", "method", "includeEntity", "meta", "region", "stsEndpoint", "serverIdHeaderValue"], k)
    ])
    error_message = "consul_ecs_config.consulLogin accepts only enabled, method, includeEntity, meta, region, stsEndpoint and serverIdHeaderValue."
  }
}

# ---- Consul servers, TLS, ACLs --------------------------------------------------

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
  description = "consulServers.http of the consul-ecs config: port, https, tls, tlsServerName, caCertFile. Unset fields follow tls / tls_server_name / ca_cert_file; the port defaults to 8501 with TLS, else 8500."
  type        = any
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.http_config) : contains(["port", "https", "tls", "tlsServerName", "caCertFile"], k)])
    error_message = "http_config accepts only port, https, tls, tlsServerName and caCertFile."
  }
}

variable "grpc_config" {
  description = "consulServers.grpc of the consul-ecs config: port, tls, tlsServerName, caCertFile. Unset fields follow tls / tls_server_name / ca_cert_file; the port defaults to 8503 with TLS, else 8502."
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

variable "ca_cert_file" {
  description = "Path, inside the control-plane container, of the CA certificate of Consul's HTTP and gRPC interfaces. The CONSUL_HTTPS_CACERT_PEM / CONSUL_GRPC_CACERT_PEM secrets take precedence."
  type        = string
  default     = ""
}

variable "consul_ca_cert_arn" {
  description = "Secrets Manager secret ARN of the Consul CA certificate (HTTP and gRPC), injected when tls = true."
  type        = string
  default     = ""
}

variable "consul_grpc_ca_cert_arn" {
  description = "Secrets Manager secret ARN of the CA certificate for gRPC; overrides consul_ca_cert_arn for gRPC."
  type        = string
  default     = ""
}

variable "consul_https_ca_cert_arn" {
  description = "Secrets Manager secret ARN of the CA certificate for HTTPS; overrides consul_ca_cert_arn for HTTP."
  type        = string
  default     = ""
}

variable "acls" {
  description = "Consul ACLs are on: the control-plane logs in with the AWS IAM auth method (the task role gets iam:GetRole on itself)."
  type        = bool
  default     = false
}

variable "service_token_auth_method_name" {
  description = "Name of the Consul auth method the control-plane logs in with."
  type        = string
  default     = "iam-ecs-service-token"
}

# ---- v0.10 (consul_ecs_layout = "split" only) -------------------------------------
# Names and types of the v0.10.0 mesh-task module. With the "control-plane"
# layout enable_transparent_proxy is ignored (v0.7 has no transparent
# proxy); the others must stay at their defaults there (checked at plan).

variable "enable_transparent_proxy" {
  description = "Transparent proxy (split layout): consul-ecs-mesh-init, as root with NET_ADMIN, redirects the task's inbound and outbound TCP through Envoy with iptables, and the proxy is registered in transparent mode. Needs NET_ADMIN, which Fargate never grants: true with FARGATE in requires_compatibilities fails at plan. null (the default): on where the task can have NET_ADMIN, i.e. unless requires_compatibilities contains FARGATE or enable_ecs_proxy_configuration = true. Ignored with consul_ecs_layout = \"control-plane\"."
  type        = bool
  # Upstream v0.10.0's default is true, which fails every task that may run
  # on Fargate, including all v0.7.3 roots (their default launch types are
  # EC2 and FARGATE): null picks true only where it can work.
  default = null
}

variable "enable_consul_dns" {
  description = "Consul DNS in the task (split layout, needs enable_transparent_proxy): /etc/resolv.conf lists the dataplane's DNS server (127.0.0.1) first."
  type        = bool
  default     = false
}

variable "exclude_inbound_ports" {
  description = "Inbound ports not redirected to the proxy (split layout)."
  type        = list(number)
  default     = []

  validation {
    condition     = alltrue([for p in var.exclude_inbound_ports : p >= 1 && p <= 65535 && floor(p) == p]) && length(distinct(var.exclude_inbound_ports)) == length(var.exclude_inbound_ports)
    error_message = "exclude_inbound_ports must hold distinct ports between 1 and 65535."
  }
}

variable "exclude_outbound_ports" {
  description = "Outbound ports not redirected to the proxy (split layout)."
  type        = list(number)
  default     = []

  validation {
    condition     = alltrue([for p in var.exclude_outbound_ports : p >= 1 && p <= 65535 && floor(p) == p]) && length(distinct(var.exclude_outbound_ports)) == length(var.exclude_outbound_ports)
    error_message = "exclude_outbound_ports must hold distinct ports between 1 and 65535."
  }
}

variable "exclude_outbound_cidrs" {
  description = "Outbound destination CIDRs (or addresses) not redirected to the proxy (split layout)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.exclude_outbound_cidrs : can(cidrhost(can(regex("/", c)) ? c : "${c}/32", 0))]) && length(distinct(var.exclude_outbound_cidrs)) == length(var.exclude_outbound_cidrs)
    error_message = "exclude_outbound_cidrs must hold distinct CIDRs or IP addresses, e.g. \"10.0.0.0/16\"."
  }
}

variable "exclude_uids" {
  description = "Further user IDs whose outbound traffic is not redirected (split layout; the dataplane's 5995 and health-sync's 5996 always are)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for u in var.exclude_uids : can(regex("^[0-9]+$", u))]) && length(distinct(var.exclude_uids)) == length(var.exclude_uids)
    error_message = "exclude_uids must hold distinct numeric user IDs, as strings (e.g. \"1000\")."
  }
}

# Beyond the reference.
variable "enable_ecs_proxy_configuration" {
  description = "Split layout, without enable_transparent_proxy: the task definition gets ECS's own proxyConfiguration (type APPMESH) so that ECS, not mesh-init, redirects the task's TCP through consul-dataplane: inbound to `port` -> envoy_public_listener_port, outbound -> 15001 (Envoy's outbound listener). Works on Fargate (no NET_ADMIN). Needs `port` and a Consul proxy-defaults or service-defaults entry with mode = \"transparent\" for outbound traffic; see README.md."
  type        = bool
  default     = false
}
