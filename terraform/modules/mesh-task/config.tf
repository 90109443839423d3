# The consul-ecs config (CONSUL_ECS_CONFIG_JSON) of the control-plane
# container, built from the inputs and merged with var.consul_ecs_config.
# The JSON keeps the field set the v0.7.3 module writes (including empty
# strings and lists), so the control-plane sees the same config after a
# switch of module source.

locals {
  bootstrap_dir = "/consul"

  extra_service = try(var.consul_ecs_config.service, {})
  extra_proxy   = try(var.consul_ecs_config.proxy, {})
  extra_login   = try(var.consul_ecs_config.consulLogin, {})

  # (A for expression, not `acls ? {...} : {}`: a conditional would unify both
  # sides to map(string) and turn `enabled` into the string "true".)
  login_from_inputs = {
    for k, v in { enabled = true, method = var.service_token_auth_method_name } : k => v if var.acls
  }

  consul_ecs_config = {
    bootstrapDir         = local.bootstrap_dir
    healthSyncContainers = local.health_sync_containers

    consulLogin = merge(local.login_from_inputs, local.extra_login)

    service = merge({
      name      = local.service_name
      port      = var.port
      tags      = var.consul_service_tags
      meta      = var.consul_service_meta
      namespace = var.consul_namespace
      partition = var.consul_partition
    }, local.extra_service)

    proxy = merge({
      publicListenerPort = var.envoy_public_listener_port
      healthCheckPort    = var.envoy_readiness_port
      upstreams          = var.upstreams
    }, local.extra_proxy)

    consulServers = {
      hosts           = var.consul_server_hosts
      skipServerWatch = var.skip_server_watch
      defaults = {
        tls           = var.tls
        tlsServerName = var.tls_server_name
        caCertFile    = var.ca_cert_file
      }
      http = merge({ port = var.tls ? 8501 : 8500, https = var.tls }, var.http_config)
      grpc = merge({ port = var.tls ? 8503 : 8502 }, var.grpc_config)
    }
  }

  consul_ecs_config_json = jsonencode(local.consul_ecs_config)

  # The split layout's config (v0.10 schema): the same fields plus
  # transparentProxy. As upstream, the dedicated inputs win over
  # consul_ecs_config.transparentProxy. With enable_ecs_proxy_configuration
  # ECS does the redirection, so mesh-init must not (enabled = false).
  transparent_proxy_config = merge(try(var.consul_ecs_config.transparentProxy, {}), {
    enabled              = local.tproxy
    excludeInboundPorts  = var.exclude_inbound_ports
    excludeOutboundPorts = var.exclude_outbound_ports
    excludeOutboundCIDRs = var.exclude_outbound_cidrs
    excludeUIDs          = var.exclude_uids
    consulDNS            = { enabled = var.enable_consul_dns }
  })

  split_config_json = jsonencode(merge(local.consul_ecs_config, {
    transparentProxy = local.transparent_proxy_config
  }))
}
