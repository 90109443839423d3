# Test root of tests/e2e/test_terraform_upstream_cases.py: the plan-only
# validation cases of HashiCorp's terraform-aws-consul-ecs v0.10.0 acceptance
# suite (test/acceptance/tests/validation), each as one module call with that
# case's inputs (and the fixed inputs of the upstream case's root), named
#   a_<case>  upstream expects the plan to pass: present in every plan;
#   v_<case>  upstream expects an error, ours is a variable validation: the
#             bad value only in the "variables" plan (validations run even
#             in a call with count = 0, and stop a plan before any
#             precondition is evaluated);
#   r_<case>  upstream expects an error, ours is a precondition: count = 1
#             only in the "rules" plan.
# The test runs the three plans and matches every error to a case. The cases
# "kind is required" (a required input without a default) cannot be a call
# in this root: the test checks that `kind` has no default instead.
# The provider set-up comes from ../_shared; no AWS call is made.

variable "plan" {
  description = "\"accept\", \"variables\" or \"rules\"."
  type        = string
}

locals {
  v     = var.plan == "variables"
  r     = var.plan == "rules" ? 1 : 0
  basic = [{ name = "basic" }]
  hosts = "consul.dc1"
  role  = { id = "my-task-role", arn = "arn:aws:iam::000000000000:role/some-role" }

  complete_config = {
    service = { enableTagOverride = false, weights = { passing = 1, warning = 1 } }
    proxy = {
      config      = { some = "data" }
      meshGateway = { mode = "remote" }
      expose = {
        checks = true
        paths  = [{ listenerPort = 1234, path = "/path", localPathPort = 2345, protocol = "http" }]
      }
    }
    consulLogin = {
      enabled             = true, method = "my-method", includeEntity = false, meta = { tag-1 = "val-1" },
      region              = "bogus-east-1", stsEndpoint = "https://sts.bogus-east-1.example.com",
      serverIdHeaderValue = "my.consul.example.com"
    }
  }
  partial_config = {
    service     = { weights = { passing = 1, warning = 1 } }
    proxy       = { meshGateway = { mode = "remote" } }
    consulLogin = { method = "my-method", region = "bogus-east-1" }
  }
  invalid_config = {
    invalid-key = ""
    service     = { invalid-key = "" }
    proxy = {
      invalid-key = "", meshGateway = { invalid-key = "" },
      expose      = { invalid-key = "", paths = [{ invalid-key = "" }] }
    }
    consulLogin = { invalid-key = "" }
  }
  volumes = [
    { name = "my-vol1" },
    { name = "my-vol2", host_path = "/tmp/fake/path" },
    { name = "no-optional-fields", docker_volume_configuration = {}, efs_volume_configuration = { file_system_id = "fakeid123" } },
    {
      name = "all-the-fields"
      docker_volume_configuration = {
        scope = "shared", autoprovision = true, driver = "local"
        driver_opts = {
          type = "nfs", device = "host.example.com:/",
          o    = "addr=host.example.com,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport"
        }
      }
      fsx_windows_file_server_volume_configuration = {
        file_system_id = "fakeid456", root_directory = "\\data"
        authorization_config = {
          credentials_parameter = "arn:aws:secretsmanager:us-east-1:000000000000:secret:fake-fake-fake-fake"
          domain                = "domain-name"
        }
      }
    },
  ]
}

# ---- mesh-task ---------------------------------------------------------------

# TestValidation_AdditionalPolicies
module "r_additional_task_policies" {
  count                         = local.r
  source                        = "../../modules/mesh-task"
  family                        = "family-1"
  container_definitions         = [{ name = "basic", image = "fake" }]
  consul_server_hosts           = local.hosts
  outbound_only                 = true
  create_task_role              = false
  additional_task_role_policies = ["arn:aws:iam::000000000000:policy/some-policy"]
  task_role                     = local.role
}

module "r_additional_execution_policies" {
  count                              = local.r
  source                             = "../../modules/mesh-task"
  family                             = "family-2"
  container_definitions              = [{ name = "basic", image = "fake" }]
  consul_server_hosts                = local.hosts
  outbound_only                      = true
  create_execution_role              = false
  additional_execution_role_policies = ["arn:aws:iam::000000000000:policy/some-policy"]
  execution_role                     = local.role
  enable_transparent_proxy           = false
}

# TestPassingAppEntrypoint
module "a_app_entrypoint" {
  for_each                           = { null = null, negative = -1, zero = 0, one = 1, five = 5 }
  source                             = "../../modules/mesh-task"
  family                             = "family-entrypoint-${replace(each.key, "_", "-")}"
  container_definitions              = local.basic
  consul_server_hosts                = local.hosts
  outbound_only                      = true
  application_shutdown_delay_seconds = each.value
  enable_transparent_proxy           = false
}

# TestValidation_UpstreamsVariable
module "a_upstreams" {
  for_each = {
    none = []
    valid = [
      { destinationName = "backend", localBindPort = 1234 },
      {
        destinationType = "service", destinationNamespace = "test-ns", destinationName = "backend",
        datacenter      = "dc2", localBindAddress = "localhost", localBindPort = 1234,
        config          = { data = "some-upstream-config-data" }, meshGateway = { mode = "local" }
      },
    ]
  }
  source                   = "../../modules/mesh-task"
  family                   = "family-upstreams-${replace(each.key, "_", "-")}"
  container_definitions    = local.basic
  consul_server_hosts      = local.hosts
  outbound_only            = true
  upstreams                = each.value
  enable_transparent_proxy = false
}

module "v_upstreams_invalid_key" {
  source                   = "../../modules/mesh-task"
  family                   = "family-upstreams-invalid"
  container_definitions    = local.basic
  consul_server_hosts      = local.hosts
  outbound_only            = true
  upstreams                = local.v ? [{ invalid-key = "", destinationName = "backend", localBindPort = 1234 }] : []
  enable_transparent_proxy = false
}

module "v_upstreams_missing_destination_name" {
  source                   = "../../modules/mesh-task"
  family                   = "family-upstreams-no-name"
  container_definitions    = local.basic
  consul_server_hosts      = local.hosts
  outbound_only            = true
  upstreams                = local.v ? [{ localBindPort = 1234 }] : []
  enable_transparent_proxy = false
}

module "v_upstreams_missing_local_bind_port" {
  source                   = "../../modules/mesh-task"
  family                   = "family-upstreams-no-port"
  container_definitions    = local.basic
  consul_server_hosts      = local.hosts
  outbound_only            = true
  upstreams                = local.v ? [{ destinationName = "backend" }] : []
  enable_transparent_proxy = false
}

# TestValidation_EnvoyPublicListenerPort
module "a_listener_port_21000" {
  source                     = "../../modules/mesh-task"
  family                     = "family-listener-21000"
  container_definitions      = local.basic
  consul_server_hosts        = local.hosts
  outbound_only              = true
  envoy_public_listener_port = 21000
  enable_transparent_proxy   = false
}

module "v_listener_port_too_high" {
  source                     = "../../modules/mesh-task"
  family                     = "family-listener-too-high"
  container_definitions      = local.basic
  consul_server_hosts        = local.hosts
  outbound_only              = true
  envoy_public_listener_port = local.v ? 65536 : 20000
  enable_transparent_proxy   = false
}

module "v_listener_port_reserved" {
  source                     = "../../modules/mesh-task"
  family                     = "family-listener-reserved"
  container_definitions      = local.basic
  consul_server_hosts        = local.hosts
  outbound_only              = true
  envoy_public_listener_port = local.v ? 19000 : 20000
  enable_transparent_proxy   = false
}

# TestValidation_EnvoyReadinessPort
module "a_readiness_port_23000" {
  source                   = "../../modules/mesh-task"
  family                   = "family-readiness-23000"
  container_definitions    = local.basic
  consul_server_hosts      = local.hosts
  outbound_only            = true
  envoy_readiness_port     = 23000
  enable_transparent_proxy = false
}

module "v_readiness_port_too_high" {
  source                   = "../../modules/mesh-task"
  family                   = "family-readiness-too-high"
  container_definitions    = local.basic
  consul_server_hosts      = local.hosts
  outbound_only            = true
  envoy_readiness_port     = local.v ? 65536 : 22000
  enable_transparent_proxy = false
}

module "v_readiness_port_reserved" {
  source                   = "../../modules/mesh-task"
  family                   = "family-readiness-reserved"
  container_definitions    = local.basic
  consul_server_hosts      = local.hosts
  outbound_only            = true
  envoy_readiness_port     = local.v ? 19000 : 22000
  enable_transparent_proxy = false
}

module "r_readiness_port_is_listener_port" {
  count                    = local.r
  source                   = "../../modules/mesh-task"
  family                   = "family-readiness-listener"
  container_definitions    = local.basic
  consul_server_hosts      = local.hosts
  outbound_only            = true
  envoy_readiness_port     = 20000
  enable_transparent_proxy = false
}

# TestValidation_ConsulServiceName
module "a_service_name" {
  for_each                 = { empty = "", lowercase = "lower-case-name" }
  source                   = "../../modules/mesh-task"
  family                   = "family-name-${replace(each.key, "_", "-")}"
  container_definitions    = local.basic
  consul_server_hosts      = local.hosts
  outbound_only            = true
  consul_service_name      = each.value
  enable_transparent_proxy = false
}

module "v_service_name_uppercase" {
  source                   = "../../modules/mesh-task"
  family                   = "family-name-upper"
  container_definitions    = local.basic
  consul_server_hosts      = local.hosts
  outbound_only            = true
  consul_service_name      = local.v ? "UPPER-CASE-NAME" : ""
  enable_transparent_proxy = false
}

# TestValidation_ConsulEcsConfigVariable
module "a_consul_ecs_config" {
  for_each                 = { empty = {}, complete = local.complete_config, partial = local.partial_config }
  source                   = "../../modules/mesh-task"
  family                   = "family-config-${replace(each.key, "_", "-")}"
  container_definitions    = local.basic
  consul_server_hosts      = "consul.dc1.host"
  outbound_only            = true
  consul_ecs_config        = each.value
  enable_transparent_proxy = false
}

module "v_consul_ecs_config_invalid" {
  source                = "../../modules/mesh-task"
  family                = "family-config-invalid"
  container_definitions = local.basic
  consul_server_hosts   = "consul.dc1.host"
  outbound_only         = true
  # (A for expression: a conditional needs one type on both sides.)
  consul_ecs_config        = { for k, v in local.invalid_config : k => v if local.v }
  enable_transparent_proxy = false
}

# TestValidation_HTTPConfig and TestValidation_GRPCConfig
module "a_http_config" {
  for_each = {
    empty    = {}
    complete = { port = 8501, https = true, tls = true, tlsServerName = "consul.dc1.name", caCertFile = "cert.pem" }
    partial  = { tls = true, tlsServerName = "consul.dc1.name" }
  }
  source                   = "../../modules/mesh-task"
  family                   = "family-http-${replace(each.key, "_", "-")}"
  container_definitions    = local.basic
  consul_server_hosts      = local.hosts
  outbound_only            = true
  http_config              = each.value
  enable_transparent_proxy = false
}

module "v_http_config_invalid" {
  source                   = "../../modules/mesh-task"
  family                   = "family-http-invalid"
  container_definitions    = local.basic
  consul_server_hosts      = local.hosts
  outbound_only            = true
  http_config              = { for k, v in { invalid-field = "invalid-value", tls = true, tlsServerName = "consul.dc1.name" } : k => v if local.v }
  enable_transparent_proxy = false
}

module "a_grpc_config" {
  for_each = {
    empty    = {}
    complete = { port = 8503, tls = true, tlsServerName = "consul.dc1.name", caCertFile = "cert.pem" }
    partial  = { tls = true, tlsServerName = "consul.dc1.name" }
  }
  source                   = "../../modules/mesh-task"
  family                   = "family-grpc-${replace(each.key, "_", "-")}"
  container_definitions    = local.basic
  consul_server_hosts      = local.hosts
  outbound_only            = true
  grpc_config              = each.value
  enable_transparent_proxy = false
}

module "v_grpc_config_invalid" {
  source                   = "../../modules/mesh-task"
  family                   = "family-grpc-invalid"
  container_definitions    = local.basic
  consul_server_hosts      = local.hosts
  outbound_only            = true
  grpc_config              = { for k, v in { invalid-field = "invalid-value", tls = true, tlsServerName = "consul.dc1.name" } : k => v if local.v }
  enable_transparent_proxy = false
}

# TestValidation_NamespaceAndPartitionRequired
module "a_partition_and_namespace" {
  for_each                 = { neither = ["", ""], both = ["default", "default"] }
  source                   = "../../modules/mesh-task"
  family                   = "family-ap-${replace(each.key, "_", "-")}"
  container_definitions    = local.basic
  consul_server_hosts      = "consul.dc1.host"
  outbound_only            = true
  consul_partition         = each.value[0]
  consul_namespace         = each.value[1]
  enable_transparent_proxy = false
}

module "r_partition_without_namespace" {
  count                    = local.r
  source                   = "../../modules/mesh-task"
  family                   = "family-ap-partition"
  container_definitions    = local.basic
  consul_server_hosts      = "consul.dc1.host"
  outbound_only            = true
  consul_partition         = "default"
  enable_transparent_proxy = false
}

module "r_namespace_without_partition" {
  count                    = local.r
  source                   = "../../modules/mesh-task"
  family                   = "family-ap-namespace"
  container_definitions    = local.basic
  consul_server_hosts      = "consul.dc1.host"
  outbound_only            = true
  consul_namespace         = "default"
  enable_transparent_proxy = false
}

# TestValidation_RolePath
module "a_role_path" {
  source                   = "../../modules/mesh-task"
  family                   = "family-path-ok"
  container_definitions    = local.basic
  consul_server_hosts      = local.hosts
  outbound_only            = true
  iam_role_path            = "/test/"
  enable_transparent_proxy = false
}

module "v_role_path" {
  for_each                 = { empty = "", relative = "test", no_trailing_slash = "/test" }
  source                   = "../../modules/mesh-task"
  family                   = "family-path-${replace(each.key, "_", "-")}"
  container_definitions    = local.basic
  consul_server_hosts      = local.hosts
  outbound_only            = true
  iam_role_path            = local.v ? each.value : "/test/"
  enable_transparent_proxy = false
}

# TestValidation_TProxy (the root sets enable_transparent_proxy and
# enable_consul_dns, both true unless the case turns the proxy off)
module "a_tproxy_ec2" {
  source                   = "../../modules/mesh-task"
  family                   = "family-tproxy-ec2"
  container_definitions    = local.basic
  consul_server_hosts      = "consul.dc1.host"
  outbound_only            = true
  requires_compatibilities = ["EC2"]
  enable_transparent_proxy = true
  enable_consul_dns        = true
}

module "r_tproxy_fargate" {
  for_each                 = var.plan == "rules" ? { fargate = ["FARGATE"], fargate_and_ec2 = ["FARGATE", "EC2"] } : {}
  source                   = "../../modules/mesh-task"
  family                   = "family-tproxy-${replace(each.key, "_", "-")}"
  container_definitions    = local.basic
  consul_server_hosts      = "consul.dc1.host"
  outbound_only            = true
  requires_compatibilities = each.value
  enable_transparent_proxy = true
  enable_consul_dns        = true
}

module "r_consul_dns_without_tproxy" {
  count                    = local.r
  source                   = "../../modules/mesh-task"
  family                   = "family-dns"
  container_definitions    = local.basic
  consul_server_hosts      = "consul.dc1.host"
  outbound_only            = true
  requires_compatibilities = ["FARGATE", "EC2"]
  enable_transparent_proxy = false
  enable_consul_dns        = true
}

# TestVolumeVariable
module "a_volumes" {
  source                   = "../../modules/mesh-task"
  family                   = "family-volumes"
  volumes                  = local.volumes
  container_definitions    = local.basic
  consul_server_hosts      = local.hosts
  outbound_only            = true
  enable_transparent_proxy = false
}

# ---- gateway-task --------------------------------------------------------------

# TestValidation_MeshGateway (root: enable_transparent_proxy = false, the
# lb_* inputs and security_groups from the case)
module "v_mesh_gateway_wrong_kind" {
  source                   = "../../modules/gateway-task"
  family                   = "gw-mesh-wrong-kind"
  ecs_cluster_arn          = "cluster"
  subnets                  = ["subnets"]
  consul_server_hosts      = "localhost:8500"
  enable_transparent_proxy = false
  kind                     = local.v ? "not-mesh-gateway" : "mesh-gateway"
}

module "a_mesh_gateway" {
  for_each = {
    no_wan_federation     = { wan_fed = false, tls = false, lb = false, create = true, modify = false, modify_id = "", sgs = [], count = 1 }
    wan_federation        = { wan_fed = true, tls = true, lb = false, create = true, modify = false, modify_id = "", sgs = [], count = 1 }
    lb_enabled            = { wan_fed = false, tls = false, lb = true, create = true, modify = false, modify_id = "", sgs = [], count = 1 }
    modify_security_group = { wan_fed = false, tls = false, lb = true, create = false, modify = true, modify_id = "mod-sg", sgs = ["sg"], count = 1 }
    multiple_gateways     = { wan_fed = false, tls = false, lb = true, create = true, modify = false, modify_id = "", sgs = [], count = 2 }
  }
  source                             = "../../modules/gateway-task"
  family                             = "gw-mesh-${replace(each.key, "_", "-")}"
  ecs_cluster_arn                    = "cluster"
  subnets                            = ["subnets"]
  security_groups                    = each.value.sgs
  consul_server_hosts                = "localhost:8500"
  enable_transparent_proxy           = false
  kind                               = "mesh-gateway"
  gateway_count                      = each.value.count
  enable_mesh_gateway_wan_federation = each.value.wan_fed
  tls                                = each.value.tls
  lb_enabled                         = each.value.lb
  lb_vpc_id                          = each.value.lb ? "vpc" : ""
  lb_subnets                         = each.value.lb ? ["subnet"] : []
  lb_create_security_group           = each.value.create
  lb_modify_security_group           = each.value.modify
  lb_modify_security_group_id        = each.value.modify_id
}

module "r_mesh_gateway" {
  for_each = var.plan == "rules" ? {
    wan_federation_without_tls = { wan_fed = true, tls = false, wan_address = "", lb = false, vpc = "", subnets = [], create = true, modify = false, modify_id = "", sgs = [] }
    wan_address_and_lb         = { wan_fed = false, tls = false, wan_address = "10.1.2.3", lb = true, vpc = "", subnets = [], create = true, modify = false, modify_id = "", sgs = [] }
    lb_without_subnets         = { wan_fed = false, tls = false, wan_address = "", lb = true, vpc = "vpc", subnets = [], create = true, modify = false, modify_id = "", sgs = [] }
    lb_without_vpc             = { wan_fed = false, tls = false, wan_address = "", lb = true, vpc = "", subnets = ["subnet"], create = true, modify = false, modify_id = "", sgs = [] }
    create_and_modify          = { wan_fed = false, tls = false, wan_address = "", lb = true, vpc = "vpc", subnets = ["subnet"], create = true, modify = true, modify_id = "", sgs = ["sg"] }
    modify_without_id          = { wan_fed = false, tls = false, wan_address = "", lb = true, vpc = "vpc", subnets = ["subnet"], create = false, modify = true, modify_id = "", sgs = ["sg"] }
  } : {}
  source                             = "../../modules/gateway-task"
  family                             = "gw-mesh-${replace(each.key, "_", "-")}"
  ecs_cluster_arn                    = "cluster"
  subnets                            = ["subnets"]
  security_groups                    = each.value.sgs
  consul_server_hosts                = "localhost:8500"
  enable_transparent_proxy           = false
  kind                               = "mesh-gateway"
  enable_mesh_gateway_wan_federation = each.value.wan_fed
  tls                                = each.value.tls
  wan_address                        = each.value.wan_address
  lb_enabled                         = each.value.lb
  lb_vpc_id                          = each.value.vpc
  lb_subnets                         = each.value.subnets
  lb_create_security_group           = each.value.create
  lb_modify_security_group           = each.value.modify
  lb_modify_security_group_id        = each.value.modify_id
}

# TestValidation_APIGateway (root: tls = true, lb_create_security_group =
# lb_enabled, enable_transparent_proxy = false)
module "v_api_gateway_wrong_kind" {
  source                   = "../../modules/gateway-task"
  family                   = "gw-api-wrong-kind"
  ecs_cluster_arn          = "cluster"
  subnets                  = ["subnets"]
  consul_server_hosts      = "localhost:8500"
  tls                      = true
  lb_create_security_group = false
  enable_transparent_proxy = false
  kind                     = local.v ? "not-api-gateway" : "api-gateway"
}

module "a_api_gateway" {
  for_each = {
    lb_enabled = { lb = true, custom = [], count = 1 }
    custom_lb_config = {
      lb = false, count = 1
      custom = [
        { target_group_arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/consul-ecs-api-gateway/3c01bdfe223245c9", container_name = "test-container-1", container_port = 9090 },
        { target_group_arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/consul-ecs-api-gateway/3c01bdfe223245r4", container_name = "test-container-2", container_port = 9090 },
      ]
    }
    multiple_gateways = { lb = true, custom = [], count = 2 }
  }
  source                      = "../../modules/gateway-task"
  family                      = "gw-api-${replace(each.key, "_", "-")}"
  ecs_cluster_arn             = "cluster"
  subnets                     = ["subnets"]
  consul_server_hosts         = "localhost:8500"
  tls                         = true
  enable_transparent_proxy    = false
  kind                        = "api-gateway"
  gateway_count               = each.value.count
  lb_enabled                  = each.value.lb
  lb_vpc_id                   = each.value.lb ? "test-lb-vpc-id" : ""
  lb_subnets                  = each.value.lb ? ["subnet-1"] : []
  lb_create_security_group    = each.value.lb
  custom_load_balancer_config = each.value.custom
}

module "r_api_gateway_custom_lb_with_lb_enabled" {
  count                    = local.r
  source                   = "../../modules/gateway-task"
  family                   = "gw-api-custom-and-lb"
  ecs_cluster_arn          = "cluster"
  subnets                  = ["subnets"]
  consul_server_hosts      = "localhost:8500"
  tls                      = true
  enable_transparent_proxy = false
  kind                     = "api-gateway"
  lb_enabled               = true
  lb_vpc_id                = "test-lb-vpc-id"
  lb_subnets               = ["subnet-1"]
  lb_create_security_group = true
  custom_load_balancer_config = [
    { target_group_arn = "test-arn-1", container_name = "test-container-1", container_port = 9090 },
    { target_group_arn = "test-arn-2", container_name = "test-container-2", container_port = 9090 },
  ]
}

# TestValidation_TerminatingGateway (root: tls = true,
# lb_create_security_group = false, enable_transparent_proxy = false)
module "v_terminating_gateway_wrong_kind" {
  source                   = "../../modules/gateway-task"
  family                   = "gw-term-wrong-kind"
  ecs_cluster_arn          = "cluster"
  subnets                  = ["subnets"]
  consul_server_hosts      = "localhost:8500"
  tls                      = true
  lb_create_security_group = false
  enable_transparent_proxy = false
  kind                     = local.v ? "not-api-gateway" : "terminating-gateway"
}

module "a_terminating_gateway" {
  for_each                 = { single = 1, multiple = 2 }
  source                   = "../../modules/gateway-task"
  family                   = "gw-term-${replace(each.key, "_", "-")}"
  ecs_cluster_arn          = "cluster"
  subnets                  = ["subnets"]
  consul_server_hosts      = "localhost:8500"
  tls                      = true
  lb_create_security_group = false
  enable_transparent_proxy = false
  kind                     = "terminating-gateway"
  gateway_count            = each.value
}

# TestValidation_TProxy_Gateway (root: a terminating gateway with its own
# security group, enable_transparent_proxy and enable_consul_dns true unless
# the case turns the proxy off)
module "a_gateway_tproxy_ec2" {
  source                   = "../../modules/gateway-task"
  family                   = "gw-tproxy-ec2"
  subnets                  = ["test-subnet"]
  kind                     = "terminating-gateway"
  ecs_cluster_arn          = "test-cluster-arn"
  consul_server_hosts      = "consul.dc1.host"
  lb_create_security_group = false
  security_groups          = ["test-security-group"]
  requires_compatibilities = ["EC2"]
  enable_transparent_proxy = true
  enable_consul_dns        = true
}

module "r_gateway_tproxy_fargate" {
  for_each                 = var.plan == "rules" ? { fargate = ["FARGATE"], fargate_and_ec2 = ["FARGATE", "EC2"] } : {}
  source                   = "../../modules/gateway-task"
  family                   = "gw-tproxy-${replace(each.key, "_", "-")}"
  subnets                  = ["test-subnet"]
  kind                     = "terminating-gateway"
  ecs_cluster_arn          = "test-cluster-arn"
  consul_server_hosts      = "consul.dc1.host"
  lb_create_security_group = false
  security_groups          = ["test-security-group"]
  requires_compatibilities = each.value
  enable_transparent_proxy = true
  enable_consul_dns        = true
}

module "r_gateway_consul_dns_without_tproxy" {
  count                    = local.r
  source                   = "../../modules/gateway-task"
  family                   = "gw-dns"
  subnets                  = ["test-subnet"]
  kind                     = "terminating-gateway"
  ecs_cluster_arn          = "test-cluster-arn"
  consul_server_hosts      = "consul.dc1.host"
  lb_create_security_group = false
  security_groups          = ["test-security-group"]
  requires_compatibilities = ["FARGATE", "EC2"]
  enable_transparent_proxy = false
  enable_consul_dns        = true
}

# TestVolumeVariableForGatewayModule
module "a_gateway_volumes" {
  source                   = "../../modules/gateway-task"
  family                   = "gw-volumes"
  kind                     = "terminating-gateway"
  ecs_cluster_arn          = "cluster"
  subnets                  = ["subnets"]
  volumes                  = local.volumes
  consul_server_hosts      = local.hosts
  lb_create_security_group = false
  enable_transparent_proxy = false
}
