# Test root for bad inputs (tests/e2e/test_terraform_mesh_task.py): every
# module call below gets one bad input; a `plan` must fail with exactly one
# error per call, each the module's own message. Variable validations stop a
# plan before any precondition is evaluated, so the calls come in two groups
# (var.group), one plan each (instead of one per case: each plan costs
# seconds of provider start-up):
#   "variables"  validation blocks: the bad value only when the group is
#                selected (validations run even in a call with count = 0);
#   "rules"      cross-input preconditions: calls with count = 1 only then.
# Every call names its consul_ecs_layout (most: local.layout): a change of the
# module's default must not add errors (a split-layout call with the default
# EC2+FARGATE would fail on the transparent proxy).
# No AWS call is made: the endpoint is never reached.

# The terraform block and the AWS provider come from tf-roots/_shared (copied
# in by terraform_bed.copy_tree); its endpoint default is a closed port.

variable "group" {
  type = string
}

locals {
  layout = "control-plane"
  v      = var.group == "variables"
  app    = [{ name = "app", image = "app:1", essential = true }]
  hosts  = "consul.internal"
  role   = { id = "mine", arn = "arn:aws:iam::123456789012:role/mine" }
}

module "upper_case_service_name" {
  source                = "../../modules/mesh-task"
  consul_ecs_layout     = local.layout
  family                = "bad1"
  port                  = 8080
  consul_server_hosts   = local.hosts
  container_definitions = local.app
  consul_service_name   = local.v ? "Web" : "web"
}

module "task_role_without_create_false" {
  count                 = var.group == "rules" ? 1 : 0
  consul_ecs_layout     = local.layout
  source                = "../../modules/mesh-task"
  family                = "bad2"
  port                  = 8080
  consul_server_hosts   = local.hosts
  container_definitions = local.app
  task_role             = local.role
}

module "extra_policies_with_own_role" {
  count                         = var.group == "rules" ? 1 : 0
  consul_ecs_layout             = local.layout
  source                        = "../../modules/mesh-task"
  family                        = "bad3"
  port                          = 8080
  consul_server_hosts           = local.hosts
  container_definitions         = local.app
  create_task_role              = false
  task_role                     = local.role
  additional_task_role_policies = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
}

module "acls_without_any_task_role" {
  count                 = var.group == "rules" ? 1 : 0
  consul_ecs_layout     = local.layout
  source                = "../../modules/mesh-task"
  family                = "bad4"
  port                  = 8080
  consul_server_hosts   = local.hosts
  container_definitions = local.app
  acls                  = true
  create_task_role      = false
}

module "no_port" {
  count                 = var.group == "rules" ? 1 : 0
  consul_ecs_layout     = local.layout
  source                = "../../modules/mesh-task"
  family                = "bad5"
  consul_server_hosts   = local.hosts
  container_definitions = local.app
}

module "partition_without_namespace" {
  count                 = var.group == "rules" ? 1 : 0
  consul_ecs_layout     = local.layout
  source                = "../../modules/mesh-task"
  family                = "bad6"
  port                  = 8080
  consul_server_hosts   = local.hosts
  container_definitions = local.app
  consul_partition      = "part1"
}

module "relative_role_path" {
  source                = "../../modules/mesh-task"
  consul_ecs_layout     = local.layout
  family                = "bad7"
  port                  = 8080
  consul_server_hosts   = local.hosts
  container_definitions = local.app
  # Starts with "/" (enough for v0.7.3) but does not end with it (v0.10.0).
  iam_role_path = local.v ? "/consul-ecs" : "/consul-ecs/"
}

module "unknown_config_key" {
  source                = "../../modules/mesh-task"
  consul_ecs_layout     = local.layout
  family                = "bad8"
  port                  = 8080
  consul_server_hosts   = local.hosts
  container_definitions = local.app
  consul_ecs_config     = local.v ? { bootstrapDir = "/tmp" } : {}
}

module "reserved_listener_port" {
  source                     = "../../modules/mesh-task"
  consul_ecs_layout          = local.layout
  family                     = "bad9"
  port                       = 8080
  consul_server_hosts        = local.hosts
  container_definitions      = local.app
  envoy_public_listener_port = local.v ? 19000 : 20000
}

module "upstream_without_port" {
  source                = "../../modules/mesh-task"
  consul_ecs_layout     = local.layout
  family                = "bad10"
  port                  = 8080
  consul_server_hosts   = local.hosts
  container_definitions = local.app
  upstreams             = local.v ? [{ destinationName = "api" }] : []
}

module "unknown_layout" {
  source                = "../../modules/mesh-task"
  family                = "bad11"
  port                  = 8080
  consul_server_hosts   = local.hosts
  container_definitions = local.app
  consul_ecs_layout     = local.v ? "sidecar" : "control-plane"
}

# ---- v0.10 inputs (layout "split") ---------------------------------------------------

module "exclude_port_out_of_range" {
  source                = "../../modules/mesh-task"
  consul_ecs_layout     = local.layout
  family                = "bad12"
  port                  = 8080
  consul_server_hosts   = local.hosts
  container_definitions = local.app
  exclude_inbound_ports = local.v ? [0] : []
}

module "exclude_uid_not_numeric" {
  source                = "../../modules/mesh-task"
  consul_ecs_layout     = local.layout
  family                = "bad13"
  port                  = 8080
  consul_server_hosts   = local.hosts
  container_definitions = local.app
  exclude_uids          = local.v ? ["root"] : []
}

module "exclude_cidr_invalid" {
  source                 = "../../modules/mesh-task"
  consul_ecs_layout      = local.layout
  family                 = "bad14"
  port                   = 8080
  consul_server_hosts    = local.hosts
  container_definitions  = local.app
  exclude_outbound_cidrs = local.v ? ["10.0.0.0/33"] : []
}

module "unknown_outlier_detection_key" {
  source                = "../../modules/mesh-task"
  consul_ecs_layout     = local.layout
  family                = "bad15"
  port                  = 8080
  consul_server_hosts   = local.hosts
  container_definitions = local.app
  consul_ecs_config = local.v ? {
    service = { networkResilienceConfig = { outlierDetection = { baseEjectionTime = 1 } } }
  } : {}
}

module "tproxy_on_fargate" {
  count                 = var.group == "rules" ? 1 : 0
  source                = "../../modules/mesh-task"
  consul_ecs_layout     = "split"
  family                = "bad16"
  port                  = 8080
  consul_server_hosts   = local.hosts
  container_definitions = local.app
  # requires_compatibilities left at its default (EC2 + FARGATE).
  enable_transparent_proxy = true
}

module "consul_dns_without_tproxy" {
  count                    = var.group == "rules" ? 1 : 0
  source                   = "../../modules/mesh-task"
  consul_ecs_layout        = "split"
  family                   = "bad17"
  port                     = 8080
  consul_server_hosts      = local.hosts
  container_definitions    = local.app
  requires_compatibilities = ["FARGATE"]
  enable_transparent_proxy = false
  enable_consul_dns        = true
}

module "ecs_proxy_with_tproxy" {
  count                          = var.group == "rules" ? 1 : 0
  source                         = "../../modules/mesh-task"
  consul_ecs_layout              = "split"
  family                         = "bad18"
  port                           = 8080
  consul_server_hosts            = local.hosts
  container_definitions          = local.app
  requires_compatibilities       = ["EC2"]
  enable_ecs_proxy_configuration = true
  enable_transparent_proxy       = true
}

module "ecs_proxy_without_port" {
  count                          = var.group == "rules" ? 1 : 0
  source                         = "../../modules/mesh-task"
  consul_ecs_layout              = "split"
  family                         = "bad19"
  outbound_only                  = true
  consul_server_hosts            = local.hosts
  container_definitions          = local.app
  requires_compatibilities       = ["FARGATE"]
  enable_transparent_proxy       = false
  enable_ecs_proxy_configuration = true
}

module "ecs_proxy_with_exclude_uids" {
  count                          = var.group == "rules" ? 1 : 0
  source                         = "../../modules/mesh-task"
  consul_ecs_layout              = "split"
  family                         = "bad20"
  port                           = 8080
  consul_server_hosts            = local.hosts
  container_definitions          = local.app
  requires_compatibilities       = ["FARGATE"]
  enable_transparent_proxy       = false
  enable_ecs_proxy_configuration = true
  exclude_uids                   = ["1000"]
}

module "split_input_with_control_plane" {
  count                 = var.group == "rules" ? 1 : 0
  source                = "../../modules/mesh-task"
  consul_ecs_layout     = "control-plane"
  family                = "bad21"
  port                  = 8080
  consul_server_hosts   = local.hosts
  container_definitions = local.app
  enable_consul_dns     = true
}

module "split_listener_on_consul_port" {
  count                      = var.group == "rules" ? 1 : 0
  source                     = "../../modules/mesh-task"
  consul_ecs_layout          = "split"
  family                     = "bad22"
  port                       = 8080
  consul_server_hosts        = local.hosts
  container_definitions      = local.app
  requires_compatibilities   = ["EC2"]
  envoy_public_listener_port = 8502
}

module "control_plane_readiness_on_10000" {
  count                 = var.group == "rules" ? 1 : 0
  source                = "../../modules/mesh-task"
  consul_ecs_layout     = "control-plane"
  family                = "bad23"
  port                  = 8080
  consul_server_hosts   = local.hosts
  container_definitions = local.app
  envoy_readiness_port  = 10000
}

module "empty_dataplane_image" {
  source                 = "../../modules/mesh-task"
  consul_ecs_layout      = local.layout
  family                 = "bad24"
  port                   = 8080
  consul_server_hosts    = local.hosts
  container_definitions  = local.app
  consul_dataplane_image = local.v ? "" : null
}
