# Test root for bad inputs (tests/e2e/test_terraform_gateway_task.py): every
# module call below gets one bad input; a `plan` must fail with exactly one
# error per call, each the module's own message. Variable validations stop a
# plan before any precondition is evaluated, so the calls come in two groups
# (var.group), one plan each:
#   "variables"  validation blocks: the bad value only when the group is
#                selected (validations run even in a call with count = 0);
#   "rules"      cross-input preconditions: calls with count = 1 only then.
# Every call names its consul_ecs_layout (a change of the module's default
# must not add errors: the count-less "variables" calls are planned in the
# "rules" plan too). The provider set-up comes from
# ../_shared; no AWS call is made (the endpoint is never reached).

variable "group" {
  type = string
}

locals {
  v       = var.group == "variables"
  r       = var.group == "rules" ? 1 : 0
  cluster = "arn:aws:ecs:us-east-1:123456789012:cluster/invalid"
  subnets = ["subnet-12345678"]
  hosts   = "consul.internal"
}

module "unknown_kind" {
  consul_ecs_layout   = "control-plane"
  source              = "../../modules/gateway-task"
  family              = "bad1"
  ecs_cluster_arn     = local.cluster
  subnets             = local.subnets
  consul_server_hosts = local.hosts
  kind                = local.v ? "ingress-gateway" : "mesh-gateway"
}

module "upper_case_name" {
  consul_ecs_layout   = "control-plane"
  source              = "../../modules/gateway-task"
  family              = "bad2"
  ecs_cluster_arn     = local.cluster
  subnets             = local.subnets
  consul_server_hosts = local.hosts
  kind                = "mesh-gateway"
  consul_service_name = local.v ? "Mesh-GW" : "mesh-gw"
}

module "role_path_without_trailing_slash" {
  consul_ecs_layout   = "control-plane"
  source              = "../../modules/gateway-task"
  family              = "bad3"
  ecs_cluster_arn     = local.cluster
  subnets             = local.subnets
  consul_server_hosts = local.hosts
  kind                = "mesh-gateway"
  iam_role_path       = local.v ? "/consul-ecs" : "/consul-ecs/"
}

module "unknown_layout" {
  source              = "../../modules/gateway-task"
  family              = "bad4"
  ecs_cluster_arn     = local.cluster
  subnets             = local.subnets
  consul_server_hosts = local.hosts
  kind                = "mesh-gateway"
  consul_ecs_layout   = local.v ? "sidecar" : "control-plane"
}

module "unknown_config_key" {
  consul_ecs_layout   = "control-plane"
  source              = "../../modules/gateway-task"
  family              = "bad5"
  ecs_cluster_arn     = local.cluster
  subnets             = local.subnets
  consul_server_hosts = local.hosts
  kind                = "mesh-gateway"
  consul_ecs_config   = local.v ? { service = { name = "x" } } : {}
}

module "reserved_readiness_port" {
  consul_ecs_layout    = "control-plane"
  source               = "../../modules/gateway-task"
  family               = "bad6"
  ecs_cluster_arn      = local.cluster
  subnets              = local.subnets
  consul_server_hosts  = local.hosts
  kind                 = "mesh-gateway"
  envoy_readiness_port = local.v ? 19000 : 22000
}

module "api_gateway_with_control_plane" {
  count               = local.r
  source              = "../../modules/gateway-task"
  family              = "bad7"
  ecs_cluster_arn     = local.cluster
  subnets             = local.subnets
  consul_server_hosts = local.hosts
  kind                = "api-gateway"
  consul_ecs_layout   = "control-plane"
}

module "wan_federation_without_tls" {
  count                              = local.r
  source                             = "../../modules/gateway-task"
  family                             = "bad8"
  ecs_cluster_arn                    = local.cluster
  subnets                            = local.subnets
  consul_server_hosts                = local.hosts
  kind                               = "mesh-gateway"
  consul_ecs_layout                  = "control-plane"
  enable_mesh_gateway_wan_federation = true
}

module "wan_address_and_lb" {
  count               = local.r
  source              = "../../modules/gateway-task"
  family              = "bad9"
  ecs_cluster_arn     = local.cluster
  subnets             = local.subnets
  consul_server_hosts = local.hosts
  kind                = "mesh-gateway"
  consul_ecs_layout   = "control-plane"
  wan_address         = "gw.example.com"
  lb_enabled          = true
  lb_vpc_id           = "vpc-12345678"
  lb_subnets          = local.subnets
}

module "lb_without_vpc" {
  count               = local.r
  source              = "../../modules/gateway-task"
  family              = "bad10"
  ecs_cluster_arn     = local.cluster
  subnets             = local.subnets
  consul_server_hosts = local.hosts
  kind                = "mesh-gateway"
  consul_ecs_layout   = "control-plane"
  lb_enabled          = true
  lb_subnets          = local.subnets
}

module "create_and_modify_security_group" {
  count                       = local.r
  source                      = "../../modules/gateway-task"
  family                      = "bad11"
  ecs_cluster_arn             = local.cluster
  subnets                     = local.subnets
  consul_server_hosts         = local.hosts
  kind                        = "mesh-gateway"
  consul_ecs_layout           = "control-plane"
  lb_modify_security_group    = true
  lb_modify_security_group_id = "sg-12345678"
}

module "custom_lb_with_lb_enabled" {
  count                       = local.r
  source                      = "../../modules/gateway-task"
  family                      = "bad12"
  ecs_cluster_arn             = local.cluster
  subnets                     = local.subnets
  consul_server_hosts         = local.hosts
  kind                        = "mesh-gateway"
  consul_ecs_layout           = "control-plane"
  lb_enabled                  = true
  lb_vpc_id                   = "vpc-12345678"
  lb_subnets                  = local.subnets
  custom_load_balancer_config = [{ target_group_arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/x/0123456789abcdef", container_name = "consul-dataplane", container_port = 8443 }]
}

module "transparent_proxy_on_fargate" {
  count                    = local.r
  source                   = "../../modules/gateway-task"
  family                   = "bad13"
  ecs_cluster_arn          = local.cluster
  subnets                  = local.subnets
  consul_server_hosts      = local.hosts
  kind                     = "mesh-gateway"
  consul_ecs_layout        = "split"
  enable_transparent_proxy = true
  requires_compatibilities = ["EC2", "FARGATE"]
}

module "consul_dns_without_transparent_proxy" {
  count                    = local.r
  source                   = "../../modules/gateway-task"
  family                   = "bad14"
  ecs_cluster_arn          = local.cluster
  subnets                  = local.subnets
  consul_server_hosts      = local.hosts
  kind                     = "mesh-gateway"
  consul_ecs_layout        = "split"
  requires_compatibilities = ["EC2"]
  enable_transparent_proxy = false
  enable_consul_dns        = true
}

module "v010_inputs_with_control_plane" {
  count                 = local.r
  source                = "../../modules/gateway-task"
  family                = "bad15"
  ecs_cluster_arn       = local.cluster
  subnets               = local.subnets
  consul_server_hosts   = local.hosts
  kind                  = "mesh-gateway"
  consul_ecs_layout     = "control-plane"
  exclude_inbound_ports = [9100]
}

module "control_plane_readiness_on_10000" {
  count                = local.r
  consul_ecs_layout    = "control-plane"
  source               = "../../modules/gateway-task"
  family               = "bad20"
  ecs_cluster_arn      = local.cluster
  subnets              = local.subnets
  consul_server_hosts  = local.hosts
  kind                 = "mesh-gateway"
  envoy_readiness_port = 10000
}

module "empty_dataplane_image" {
  consul_ecs_layout      = "control-plane"
  source                 = "../../modules/gateway-task"
  family                 = "bad21"
  ecs_cluster_arn        = local.cluster
  subnets                = local.subnets
  consul_server_hosts    = local.hosts
  kind                   = "mesh-gateway"
  consul_dataplane_image = local.v ? " " : null
}
