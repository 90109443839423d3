# gateway-task: an ECS task definition and service running a Consul gateway
# (mesh, terminating or API gateway) as consul-dataplane plus the consul-ecs
# container(s) that register it, optionally behind a network load balancer.

locals {
  module_version = "0.1.0"

  split = var.consul_ecs_layout == "split"
  # Unset, the transparent proxy is on only where the task can have
  # NET_ADMIN (as mesh-task); split layout only.
  enable_transparent_proxy = (var.enable_transparent_proxy != null ? var.enable_transparent_proxy
  : !contains(var.requires_compatibilities, "FARGATE"))
  tproxy = local.split && local.enable_transparent_proxy

  control_plane_name = "consul-ecs-control-plane"
  mesh_init_name     = "consul-ecs-mesh-init"
  health_sync_name   = "consul-ecs-health-sync"
  dataplane_name     = "consul-dataplane"
  data_volume        = "consul_data"
  binary_volume      = "consul_binary"

  # Lower-cased like mesh-task's service names: Consul rejects upper case in
  # a gateway name, and the failure would only show when the task starts.
  service_name = var.consul_service_name != "" ? var.consul_service_name : lower(var.family)

  mount_data_ro = { sourceVolume = local.data_volume, containerPath = local.bootstrap_dir, readOnly = true }
  mount_data_rw = { sourceVolume = local.data_volume, containerPath = local.bootstrap_dir, readOnly = false }
  mount_binary  = { sourceVolume = local.binary_volume, containerPath = "/bin/consul-inject", readOnly = true }

  # Extra volumes with a path are mounted into the dataplane (e.g. an API
  # gateway's certificates).
  volume_mounts = [
    for v in var.volumes : {
      sourceVolume  = v.name
      containerPath = try(v.container_path, v.host_path)
      readOnly      = try(v.read_only, true)
    } if try(coalesce(try(v.container_path, null), try(v.host_path, null)), null) != null
  ]

  https_ca_cert_arn = var.consul_https_ca_cert_arn != "" ? var.consul_https_ca_cert_arn : var.consul_ca_cert_arn
  grpc_ca_cert_arn  = var.consul_grpc_ca_cert_arn != "" ? var.consul_grpc_ca_cert_arn : var.consul_ca_cert_arn
  ca_secrets = [
    for s in [
      { name = "CONSUL_HTTPS_CACERT_PEM", valueFrom = local.https_ca_cert_arn },
      { name = "CONSUL_GRPC_CACERT_PEM", valueFrom = local.grpc_ca_cert_arn },
    ] : s if var.tls && s.valueFrom != ""
  ]

  # Keys whose value is empty are left out rather than sent as null, {} or []:
  # the AWS provider (6.x) rejects a null or empty logConfiguration, and ECS
  # drops empty lists, which would show as a change on every plan.
  log_configuration = { for k, v in { logConfiguration = var.log_configuration } : k => v if try(length(v), 0) > 0 }
  secrets           = { for k, v in { secrets = local.ca_secrets } : k => v if length(v) > 0 }
  config_env        = [{ name = "CONSUL_ECS_CONFIG_JSON", value = local.consul_ecs_config_json }]

  # ---- "control-plane" layout (consul-ecs v0.7) ----
  control_plane = merge(
    {
      name            = local.control_plane_name
      image           = var.consul_ecs_image
      essential       = false
      command         = ["control-plane"]
      mountPoints     = [local.mount_data_rw, local.mount_binary]
      environment     = local.config_env
      linuxParameters = { initProcessEnabled = true }
      healthCheck = {
        # 200 on :10000 once the gateway is registered and the dataplane
        # config is written.
        command  = ["CMD-SHELL", "curl -f localhost:10000/consul-ecs/health"]
        interval = 5
        timeout  = 5
        retries  = 10
      }
    },
    local.secrets,
    local.log_configuration,
  )

  # ---- "split" layout (consul-ecs v0.10) ----
  mesh_init = merge(
    {
      name        = local.mesh_init_name
      image       = var.consul_ecs_image
      essential   = false
      command     = ["mesh-init"]
      mountPoints = [local.mount_data_rw, local.mount_binary]
      environment = local.config_env
      linuxParameters = merge(
        { initProcessEnabled = true },
        # iptables needs NET_ADMIN, and root.
        { for k, v in { capabilities = { add = ["NET_ADMIN"] } } : k => v if local.tproxy },
      )
    },
    { for k, v in { user = "0" } : k => v if local.tproxy },
    local.secrets,
    local.log_configuration,
  )

  health_sync = merge(
    {
      name      = local.health_sync_name
      image     = var.consul_ecs_image
      essential = false
      command   = ["health-sync"]
      # Its own UID: the transparent proxy's rules exempt it.
      user            = "5996"
      mountPoints     = [local.mount_data_ro]
      dependsOn       = [{ containerName = local.mesh_init_name, condition = "SUCCESS" }]
      environment     = local.config_env
      linuxParameters = { initProcessEnabled = true }
    },
    local.secrets,
    local.log_configuration,
  )

  # The consul-dataplane image of the upstream gateway-task release whose
  # layout this is, unless given.
  dataplane_image = (var.consul_dataplane_image != null ? var.consul_dataplane_image
  : local.split ? "hashicorp/consul-dataplane:1.9.6" : "hashicorp/consul-dataplane:1.3.3")

  dataplane = merge(
    {
      name = local.dataplane_name
      # Essential (as upstream's gateway-task): a gateway task without its
      # proxy serves nothing, so ECS must replace it.
      essential    = true
      image        = local.dataplane_image
      entryPoint   = ["${local.bootstrap_dir}/consul-ecs", "envoy-entrypoint"]
      command      = ["consul-dataplane", "-config-file", "${local.bootstrap_dir}/consul-dataplane.json"]
      portMappings = [{ containerPort = local.lan_port, hostPort = local.lan_port, protocol = "tcp" }]
      mountPoints  = concat([local.mount_data_ro], local.volume_mounts)
      dependsOn = local.split ? [{ containerName = local.mesh_init_name, condition = "SUCCESS" }] : [
        { containerName = local.control_plane_name, condition = "HEALTHY" }
      ]
      healthCheck = {
        command  = ["${local.bootstrap_dir}/consul-ecs", "net-dial", "127.0.0.1:${var.envoy_readiness_port}"]
        interval = 5
        timeout  = 5
        retries  = 10
      }
      # 2^20 is the kernel's default maximum; ECS accepts more and fails at run time.
      ulimits = [{ name = "nofile", softLimit = 1048576, hardLimit = 1048576 }]
    },
    # The proxy's own UID, which the transparent proxy's rules exempt.
    { for k, v in { user = "5995" } : k => v if local.split },
    local.log_configuration,
  )

  containers = concat(
    var.extra_container_definitions,
    # (for expressions: a conditional needs both sides of one type.)
    [for c in [local.control_plane] : c if !local.split],
    [for c in [local.mesh_init] : c if local.split],
    [local.dataplane],
    [for c in [local.health_sync] : c if local.split],
  )

  task_tags = merge(
    var.tags,
    {
      "consul.hashicorp.com/mesh"           = "true"
      "consul.hashicorp.com/service-name"   = local.service_name
      "consul.hashicorp.com/module"         = "consul-ecs-cpp"
      "consul.hashicorp.com/module-version" = local.module_version
    },
    var.consul_partition != "" ? { "consul.hashicorp.com/partition" = var.consul_partition } : {},
    local.consul_namespace != "" ? { "consul.hashicorp.com/namespace" = local.consul_namespace } : {},
  )

  lb_security_group = var.lb_enabled && var.lb_create_security_group
  security_groups   = concat(var.security_groups, aws_security_group.this[*].id)

  load_balancers = var.lb_enabled ? [{
    target_group_arn = aws_lb_target_group.this[0].arn
    container_name   = local.dataplane_name
    container_port   = local.lan_port
  }] : var.custom_load_balancer_config
}

resource "aws_ecs_task_definition" "this" {
  family                   = var.family
  requires_compatibilities = var.requires_compatibilities
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  task_role_arn            = aws_iam_role.task.arn
  execution_role_arn       = aws_iam_role.execution.arn
  container_definitions    = jsonencode(local.containers)
  tags                     = local.task_tags

  # Shared with every container: the consul-ecs container copies its binary
  # and writes consul-dataplane.json here.
  volume {
    name = local.data_volume
  }

  volume {
    name = local.binary_volume
  }

  dynamic "volume" {
    for_each = var.volumes
    content {
      name      = volume.value.name
      host_path = try(volume.value.host_path, null)

      dynamic "docker_volume_configuration" {
        for_each = try([volume.value.docker_volume_configuration], [])
        iterator = docker
        content {
          scope         = try(docker.value.scope, null)
          autoprovision = try(docker.value.autoprovision, null)
          driver        = try(docker.value.driver, null)
          driver_opts   = try(docker.value.driver_opts, null)
          labels        = try(docker.value.labels, null)
        }
      }

      dynamic "efs_volume_configuration" {
        for_each = try([volume.value.efs_volume_configuration], [])
        iterator = efs
        content {
          file_system_id          = efs.value.file_system_id
          root_directory          = try(efs.value.root_directory, null)
          transit_encryption      = try(efs.value.transit_encryption, null)
          transit_encryption_port = try(efs.value.transit_encryption_port, null)

          dynamic "authorization_config" {
            for_each = try([efs.value.authorization_config], [])
            iterator = auth
            content {
              access_point_id = try(auth.value.access_point_id, null)
              iam             = try(auth.value.iam, null)
            }
          }
        }
      }

      dynamic "fsx_windows_file_server_volume_configuration" {
        for_each = try([volume.value.fsx_windows_file_server_volume_configuration], [])
        iterator = fsx
        content {
          file_system_id = fsx.value.file_system_id
          root_directory = fsx.value.root_directory

          dynamic "authorization_config" {
            for_each = try([fsx.value.authorization_config], [])
            iterator = auth
            content {
              credentials_parameter = auth.value.credentials_parameter
              domain                = auth.value.domain
            }
          }
        }
      }
    }
  }

  lifecycle {
    # Rules across several inputs (variable validations can only see their own
    # variable on Terraform 1.5). They fail at plan, with these messages.
    precondition {
      condition     = var.kind == "mesh-gateway" || local.split
      error_message = "kind = \"${var.kind}\" needs consul_ecs_layout = \"split\": the v0.7 control-plane config only knows mesh-gateway."
    }
    precondition {
      condition     = !var.enable_mesh_gateway_wan_federation || var.tls
      error_message = "enable_mesh_gateway_wan_federation needs tls = true."
    }
    precondition {
      condition     = !var.enable_mesh_gateway_wan_federation || var.kind == "mesh-gateway"
      error_message = "enable_mesh_gateway_wan_federation is for kind = \"mesh-gateway\" only."
    }
    precondition {
      condition     = !(var.lb_enabled && var.wan_address != "")
      error_message = "Set either wan_address or lb_enabled, not both: with lb_enabled the WAN address is the load balancer's DNS name."
    }
    precondition {
      condition     = !var.lb_enabled || length(var.lb_subnets) > 0
      error_message = "lb_subnets is required when lb_enabled = true."
    }
    precondition {
      condition     = !var.lb_enabled || var.lb_vpc_id != ""
      error_message = "lb_vpc_id is required when lb_enabled = true."
    }
    precondition {
      condition     = !(var.lb_create_security_group && var.lb_modify_security_group)
      error_message = "Set at most one of lb_create_security_group and lb_modify_security_group."
    }
    precondition {
      condition     = !var.lb_modify_security_group || var.lb_modify_security_group_id != ""
      error_message = "lb_modify_security_group_id is required when lb_modify_security_group = true."
    }
    precondition {
      condition     = !(var.lb_enabled && length(var.custom_load_balancer_config) > 0)
      error_message = "custom_load_balancer_config is only for lb_enabled = false: with lb_enabled the module attaches its own load balancer."
    }
    precondition {
      condition     = local.split || var.envoy_readiness_port != 10000
      error_message = "envoy_readiness_port cannot be 10000 with consul_ecs_layout = \"control-plane\": the control-plane container's health check listens there."
    }
    # The v0.10 inputs, as in mesh-task: set on purpose, they would silently
    # do nothing in the v0.7 layout (enable_transparent_proxy is ignored
    # there instead).
    precondition {
      condition = local.split || !(var.enable_consul_dns || length(var.exclude_inbound_ports) > 0 || length(var.exclude_outbound_ports) > 0 ||
      length(var.exclude_outbound_cidrs) > 0 || length(var.exclude_uids) > 0 || try(var.consul_ecs_config.transparentProxy, null) != null)
      error_message = "enable_consul_dns, exclude_inbound_ports, exclude_outbound_ports, exclude_outbound_cidrs, exclude_uids and consul_ecs_config.transparentProxy need consul_ecs_layout = \"split\": the control-plane layout (consul-ecs v0.7) has no transparent proxy or Consul DNS."
    }
    precondition {
      condition     = !local.tproxy || !contains(var.requires_compatibilities, "FARGATE")
      error_message = "enable_transparent_proxy = true needs the NET_ADMIN capability, which Fargate never grants: with \"FARGATE\" in requires_compatibilities set enable_transparent_proxy = false, or requires_compatibilities = [\"EC2\"]."
    }
    precondition {
      condition     = !local.split || !var.enable_consul_dns || local.enable_transparent_proxy
      error_message = "enable_consul_dns needs enable_transparent_proxy = true (mesh-init redirects the task's DNS to the dataplane)."
    }
  }
}

resource "aws_ecs_service" "this" {
  name                   = local.service_name
  cluster                = var.ecs_cluster_arn
  task_definition        = aws_ecs_task_definition.this.arn
  desired_count          = var.gateway_count
  launch_type            = var.launch_type
  propagate_tags         = "TASK_DEFINITION"
  enable_execute_command = true

  network_configuration {
    subnets          = var.subnets
    security_groups  = local.security_groups
    assign_public_ip = var.assign_public_ip
  }

  dynamic "load_balancer" {
    for_each = local.load_balancers
    content {
      target_group_arn = load_balancer.value.target_group_arn
      container_name   = load_balancer.value.container_name
      container_port   = load_balancer.value.container_port
    }
  }

  # The listener must exist before ECS registers targets in its group.
  depends_on = [aws_lb_listener.this]
}
