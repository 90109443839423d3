# The consul-ecs config (CONSUL_ECS_CONFIG_JSON) of the gateway task, built
# from the inputs and merged with var.consul_ecs_config. The field set is the
# one the upstream module writes (including empty strings and lists), so the
# gateway registers the same way after a switch of module source; "split"
# adds the v0.10 transparentProxy block, which the v0.7 config rejects.

locals {
  bootstrap_dir = "/consul"

  # Gateways live in the "default" namespace of their partition (Enterprise),
  # or in none.
  consul_namespace = var.consul_partition != "" ? "default" : ""

  lan_port    = var.lan_port != 0 ? var.lan_port : 8443
  wan_port    = var.wan_port != 0 ? var.wan_port : local.lan_port
  wan_address = var.lb_enabled ? aws_lb.this[0].dns_name : var.wan_address

  # (A for expression, not `acls ? {...} : {}`: a conditional would unify both
  # sides to map(string) and turn `enabled` into the string "true".)
  login_from_inputs = {
    for k, v in { enabled = true, method = var.service_token_auth_method_name } : k => v if var.acls
  }

  # Consul routes server traffic between datacenters through the gateways
  # whose registration carries this meta.
  gateway_meta = merge(
    var.consul_service_meta,
    var.enable_mesh_gateway_wan_federation ? { "consul-wan-federation" = "1" } : {},
  )

  transparent_proxy = merge(try(var.consul_ecs_config.transparentProxy, {}), {
    # Written out in full: the v0.10 schema's default for enabled is true.
    enabled              = local.tproxy
    excludeInboundPorts  = var.exclude_inbound_ports
    excludeOutboundPorts = var.exclude_outbound_ports
    excludeOutboundCIDRs = var.exclude_outbound_cidrs
    excludeUIDs          = var.exclude_uids
    consulDNS            = { enabled = var.enable_consul_dns }
  })

  consul_ecs_config = merge(
    {
      bootstrapDir         = local.bootstrap_dir
      healthSyncContainers = []
      consulLogin          = merge(local.login_from_inputs, try(var.consul_ecs_config.consulLogin, {}))

      gateway = {
        kind       = var.kind
        name       = local.service_name
        tags       = var.consul_service_tags
        meta       = local.gateway_meta
        namespace  = local.consul_namespace
        partition  = var.consul_partition
        lanAddress = { address = var.lan_address, port = local.lan_port }
        wanAddress = { address = local.wan_address, port = local.wan_port }
      }

      consulServers = {
        hosts           = var.consul_server_hosts
        skipServerWatch = var.skip_server_watch
        defaults = {
          tls           = var.tls
          tlsServerName = var.tls_server_name
        }
        http = merge({ port = var.tls ? 8501 : 8500, https = var.tls }, var.http_config)
        grpc = merge({ port = var.tls ? 8503 : 8502 }, var.grpc_config)
      }
    },
    { for k, v in { transparentProxy = local.transparent_proxy } : k => v if local.split },
  )

  consul_ecs_config_json = jsonencode(local.consul_ecs_config)
}
