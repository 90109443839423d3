output "datacenters" {
  description = "Per datacenter: the server's DNS name, the mesh gateway (task definition, task role, WAN address and port), the application's task definition, and the primary gateways the server joins through."
  value = {
    dc1 = {
      server_dns                  = module.dc1_server.server_dns
      gateway_task_definition_arn = module.dc1_gateway.task_definition_arn
      gateway_task_role_id        = module.dc1_gateway.task_role_id
      gateway_wan_address         = module.dc1_gateway.wan_address
      gateway_wan_port            = module.dc1_gateway.wan_port
      app_task_definition_arn     = module.dc1_web.task_definition_arn
      primary_gateways            = []
    }
    dc2 = {
      server_dns                  = module.dc2_server.server_dns
      gateway_task_definition_arn = module.dc2_gateway.task_definition_arn
      gateway_task_role_id        = module.dc2_gateway.task_role_id
      gateway_wan_address         = module.dc2_gateway.wan_address
      gateway_wan_port            = module.dc2_gateway.wan_port
      app_task_definition_arn     = module.dc2_api.task_definition_arn
      primary_gateways            = ["${module.dc1_gateway.wan_address}:${module.dc1_gateway.wan_port}"]
    }
  }
}
