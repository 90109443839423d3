# The controller's CONSUL_ECS_CONFIG_JSON, with the field set upstream v0.7.3
# writes. bootstrapDir is required by the schema, unused by the controller.

locals {
  consul_ecs_config = {
    bootstrapDir = "/consul"
    controller = {
      iamRolePath       = var.iam_role_path
      partitionsEnabled = var.consul_partitions_enabled
      partition         = var.consul_partitions_enabled ? var.consul_partition : ""
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
  }

  consul_ecs_config_json = jsonencode(local.consul_ecs_config)
}
