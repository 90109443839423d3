# mesh-task: an ECS task definition with the application's containers plus
# the mesh sidecars: consul-ecs-control-plane and consul-dataplane (layout
# "control-plane", v0.7), or consul-ecs-mesh-init, consul-ecs-health-sync and
# consul-dataplane (layout "split", v0.10).

locals {
  module_version = "0.1.0"

  control_plane_name = "consul-ecs-control-plane"
  mesh_init_name     = "consul-ecs-mesh-init"
  health_sync_name   = "consul-ecs-health-sync"
  dataplane_name     = "consul-dataplane"
  data_volume        = "consul_data"
  binary_volume      = "consul_binary"

  service_name = var.consul_service_name != "" ? var.consul_service_name : lower(var.family)

  mount_data_ro = { sourceVolume = local.data_volume, containerPath = local.bootstrap_dir, readOnly = true }
  mount_data_rw = { sourceVolume = local.data_volume, containerPath = local.bootstrap_dir, readOnly = false }

  shutdown_delay = var.application_shutdown_delay_seconds == null ? 0 : var.application_shutdown_delay_seconds
  app_entrypoint = ["${local.bootstrap_dir}/consul-ecs", "app-entrypoint", "-shutdown-delay", "${local.shutdown_delay}s"]

  split = var.consul_ecs_layout == "split"
  # Transparent proxy by mesh-init's iptables: split layout only (the input is
  # ignored with "control-plane", see variables.tf). Unset, it is on only
  # where the task can have NET_ADMIN and ECS does not redirect instead.
  enable_transparent_proxy = (var.enable_transparent_proxy != null ? var.enable_transparent_proxy
  : !contains(var.requires_compatibilities, "FARGATE") && !var.enable_ecs_proxy_configuration)
  tproxy    = local.split && local.enable_transparent_proxy
  ecs_proxy = local.split && var.enable_ecs_proxy_configuration

  # UIDs of the split layout's sidecars (fixed by the reference: mesh-init's
  # redirection exempts them).
  dataplane_uid   = "5995"
  health_sync_uid = "5996"

  # The split layout's health-sync has no health check (as upstream): there
  # the apps wait for the proxy only.
  sidecars_healthy = [
    for c in(local.split ? tolist([local.dataplane_name]) : tolist([local.control_plane_name, local.dataplane_name])) :
    { containerName = c, condition = "HEALTHY" }
  ]

  # The application's containers: start once both sidecars are healthy; with a
  # shutdown delay, those without an entryPoint of their own run under
  # app-entrypoint (their command is appended to it by ECS), which needs the
  # consul-ecs binary from the shared volume.
  app_containers = [
    for def in var.container_definitions : merge(
      def,
      {
        dependsOn = concat(try([for d in def.dependsOn : d], []), local.sidecars_healthy)
      },
      {
        for k, v in {
          entryPoint  = local.app_entrypoint
          mountPoints = concat(try([for m in def.mountPoints : m], []), [local.mount_data_ro])
        } : k => v if local.shutdown_delay > 0 && try(def.entryPoint, null) == null
      },
    )
  ]

  # Containers whose ECS health the control-plane mirrors into Consul checks:
  # those that declare both `essential` and a non-null `healthCheck` (the
  # v0.7.3 module's rule, kept so that the same checks appear after a switch).
  health_sync_containers = [
    for def in var.container_definitions : def.name
    if contains(keys(def), "essential") && try(def.healthCheck, null) != null
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

  control_plane = merge(
    {
      name      = local.control_plane_name
      image     = var.consul_ecs_image
      essential = false
      command   = ["control-plane"]
      mountPoints = [
        local.mount_data_rw,
        { sourceVolume = local.binary_volume, containerPath = "/bin/consul-inject", readOnly = true },
      ]
      environment     = [{ name = "CONSUL_ECS_CONFIG_JSON", value = local.consul_ecs_config_json }]
      linuxParameters = { initProcessEnabled = true }
      healthCheck = {
        # The control-plane answers 200 on :10000 once the service is registered
        # and the dataplane config is written.
        command  = ["CMD-SHELL", "curl -f localhost:10000/consul-ecs/health"]
        interval = 5
        timeout  = 5
        retries  = 10
      }
    },
    { for k, v in { secrets = local.ca_secrets } : k => v if length(v) > 0 },
    local.log_configuration,
  )

  # The consul-dataplane image of the upstream release whose layout this is,
  # unless given.
  dataplane_image = (var.consul_dataplane_image != null ? var.consul_dataplane_image
  : local.split ? "hashicorp/consul-dataplane:2.0.1" : "hashicorp/consul-dataplane:1.3.3")

  dataplane = merge(
    {
      name = local.dataplane_name
      # Essential (the v0.7.3 module: false): a dataplane that dies takes the
      # task down so that ECS replaces it, instead of leaving it running off
      # the mesh. The graceful stop is unaffected: envoy-entrypoint keeps the
      # proxy up until the application containers have exited. README.md.
      essential   = true
      image       = local.dataplane_image
      entryPoint  = ["${local.bootstrap_dir}/consul-ecs", "envoy-entrypoint"]
      command     = ["consul-dataplane", "-config-file", "${local.bootstrap_dir}/consul-dataplane.json"]
      mountPoints = [local.mount_data_ro]
      dependsOn   = [{ containerName = local.control_plane_name, condition = "HEALTHY" }]
      healthCheck = {
        command  = ["${local.bootstrap_dir}/consul-ecs", "net-dial", "127.0.0.1:${var.envoy_readiness_port}"]
        interval = 5
        timeout  = 5
        retries  = 10
      }
      # 2^20 is the kernel's default maximum; ECS accepts more and fails at run time.
      ulimits = [{ name = "nofile", softLimit = 1048576, hardLimit = 1048576 }]
    },
    local.log_configuration,
  )

  # ---- layout "split" (v0.10) ----

  mesh_init_done = [{ containerName = local.mesh_init_name, condition = "SUCCESS" }]

  # One-shot: registers the service and proxy, writes consul-dataplane.json,
  # copies the binary to /consul, applies the redirection, exits 0. Root with
  # NET_ADMIN only when it has iptables work to do.
  mesh_init = merge(
    {
      name      = local.mesh_init_name
      image     = var.consul_ecs_image
      essential = false
      command   = ["mesh-init"]
      mountPoints = [
        local.mount_data_rw,
        { sourceVolume = local.binary_volume, containerPath = "/bin/consul-inject", readOnly = true },
      ]
      environment = [{ name = "CONSUL_ECS_CONFIG_JSON", value = local.split_config_json }]
      linuxParameters = merge(
        { initProcessEnabled = true },
        { for k, v in { capabilities = { add = ["NET_ADMIN"] } } : k => v if local.tproxy },
      )
    },
    { for k, v in { user = "0" } : k => v if local.tproxy },
    { for k, v in { secrets = local.ca_secrets } : k => v if length(v) > 0 },
    local.log_configuration,
  )

  # Long-running: mirrors container health into the Consul checks; on stop
  # marks them critical, waits for the dataplane to exit, deregisters.
  # Non-essential (as upstream and as the control-plane): see README.md.
  health_sync = merge(
    {
      name            = local.health_sync_name
      image           = var.consul_ecs_image
      essential       = false
      command         = ["health-sync"]
      user            = local.health_sync_uid
      mountPoints     = [local.mount_data_ro]
      dependsOn       = local.mesh_init_done
      environment     = [{ name = "CONSUL_ECS_CONFIG_JSON", value = local.split_config_json }]
      linuxParameters = { initProcessEnabled = true }
    },
    { for k, v in { secrets = local.ca_secrets } : k => v if length(v) > 0 },
    local.log_configuration,
  )

  # The same dataplane (still essential: README.md), started once mesh-init
  # has succeeded, as the UID the redirection exempts.
  split_dataplane = merge(local.dataplane, {
    user      = local.dataplane_uid
    dependsOn = local.mesh_init_done
  })

  # v0.10 inputs that are not at their defaults (rejected with "control-plane").
  split_only_inputs_set = anytrue([
    var.enable_consul_dns, var.enable_ecs_proxy_configuration,
    length(var.exclude_inbound_ports) > 0, length(var.exclude_outbound_ports) > 0,
    length(var.exclude_outbound_cidrs) > 0, length(var.exclude_uids) > 0,
    can(var.consul_ecs_config.transparentProxy), can(var.consul_ecs_config.service.networkResilienceConfig),
  ])

  # (Two JSON strings: the two lists of sidecars have different types.)
  container_definitions_json = (local.split
    ? jsonencode(concat(local.app_containers, [local.mesh_init, local.split_dataplane, local.health_sync]))
    : jsonencode(concat(local.app_containers, [local.control_plane, local.dataplane]))
  )

  # ECS's own redirection (enable_ecs_proxy_configuration). Exempt besides the
  # dataplane's UID: the task metadata / credentials endpoints and Consul's
  # HTTP port, which mesh-init (before any proxy runs) and health-sync use.
  consul_http_port = merge({ port = var.tls ? 8501 : 8500 }, var.http_config).port
  ecs_proxy_properties = {
    IgnoredUID         = local.dataplane_uid
    AppPorts           = tostring(var.port)
    ProxyIngressPort   = tostring(var.envoy_public_listener_port)
    ProxyEgressPort    = "15001"
    EgressIgnoredIPs   = join(",", concat(["169.254.170.2", "169.254.169.254"], var.exclude_outbound_cidrs))
    EgressIgnoredPorts = join(",", distinct(concat([tostring(local.consul_http_port)], [for p in var.exclude_outbound_ports : tostring(p)])))
  }

  task_tags = merge(
    var.tags,
    {
      "consul.hashicorp.com/mesh"           = "true"
      "consul.hashicorp.com/service-name"   = local.service_name
      "consul.hashicorp.com/module"         = "consul-ecs-cpp"
      "consul.hashicorp.com/module-version" = local.module_version
    },
    var.consul_partition != "" ? { "consul.hashicorp.com/partition" = var.consul_partition } : {},
    var.consul_namespace != "" ? { "consul.hashicorp.com/namespace" = var.consul_namespace } : {},
  )
}

resource "aws_ecs_task_definition" "this" {
  family                   = var.family
  requires_compatibilities = var.requires_compatibilities
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  task_role_arn            = local.task_role_arn
  execution_role_arn       = local.execution_role_arn
  container_definitions    = local.container_definitions_json
  tags                     = local.task_tags

  dynamic "proxy_configuration" {
    for_each = local.ecs_proxy ? [local.ecs_proxy_properties] : []
    content {
      type           = "APPMESH"
      container_name = local.dataplane_name
      properties     = proxy_configuration.value
    }
  }

  # Shared with every container: the control-plane (or mesh-init) copies
  # consul-ecs and writes consul-dataplane.json here.
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
      condition     = var.outbound_only || var.port != 0
      error_message = "port must be set unless outbound_only = true."
    }
    precondition {
      condition     = var.envoy_public_listener_port != var.envoy_readiness_port
      error_message = "envoy_public_listener_port and envoy_readiness_port must differ."
    }
    # Each layout reserves the ports of the upstream release it comes from.
    precondition {
      condition     = !local.split || !contains([8300, 8301, 8302, 8500, 8501, 8502], var.envoy_public_listener_port)
      error_message = "envoy_public_listener_port cannot be one of Consul's ports 8300, 8301, 8302, 8500, 8501, 8502 with consul_ecs_layout = \"split\" (as upstream v0.10.0)."
    }
    precondition {
      condition     = local.split || var.envoy_readiness_port != 10000
      error_message = "envoy_readiness_port cannot be 10000 with consul_ecs_layout = \"control-plane\": the control-plane container's health check listens there."
    }
    precondition {
      condition     = (var.consul_partition == "") == (var.consul_namespace == "")
      error_message = "consul_partition and consul_namespace must be set together (Consul Enterprise)."
    }
    precondition {
      condition     = var.create_task_role || length(var.additional_task_role_policies) == 0
      error_message = "additional_task_role_policies needs create_task_role = true: attach policies to your own task role yourself."
    }
    precondition {
      condition     = var.create_execution_role || length(var.additional_execution_role_policies) == 0
      error_message = "additional_execution_role_policies needs create_execution_role = true: attach policies to your own execution role yourself."
    }
    precondition {
      condition     = !var.create_task_role || try(var.task_role.arn, null) == null
      error_message = "task_role is set but create_task_role = true would create another role: set create_task_role = false to use task_role."
    }
    precondition {
      condition     = !var.create_execution_role || try(var.execution_role.arn, null) == null
      error_message = "execution_role is set but create_execution_role = true would create another role: set create_execution_role = false to use execution_role."
    }
    precondition {
      condition     = var.create_task_role || !var.acls || try(var.task_role.arn, null) != null
      error_message = "With acls = true and create_task_role = false, task_role must be given: the control-plane logs in to Consul with the task role."
    }

    # The v0.10 inputs. (enable_transparent_proxy is ignored by the
    # control-plane layout.)
    precondition {
      condition     = local.split || !local.split_only_inputs_set
      error_message = "enable_consul_dns, enable_ecs_proxy_configuration, exclude_inbound_ports, exclude_outbound_ports, exclude_outbound_cidrs, exclude_uids, consul_ecs_config.transparentProxy and consul_ecs_config.service.networkResilienceConfig need consul_ecs_layout = \"split\": the control-plane layout (consul-ecs v0.7) has no transparent proxy, Consul DNS or outlier detection."
    }
    precondition {
      condition     = !local.tproxy || !contains(var.requires_compatibilities, "FARGATE")
      error_message = "enable_transparent_proxy = true needs the NET_ADMIN capability, which Fargate never grants: with \"FARGATE\" in requires_compatibilities set enable_transparent_proxy = false (enable_ecs_proxy_configuration = true redirects without NET_ADMIN), or requires_compatibilities = [\"EC2\"]."
    }
    precondition {
      condition     = !local.split || !var.enable_consul_dns || local.enable_transparent_proxy
      error_message = "enable_consul_dns needs enable_transparent_proxy = true (mesh-init redirects the task's DNS to the dataplane)."
    }
    precondition {
      condition     = !local.ecs_proxy || !local.enable_transparent_proxy
      error_message = "enable_ecs_proxy_configuration and enable_transparent_proxy both redirect the task's traffic: set enable_transparent_proxy = false with enable_ecs_proxy_configuration = true."
    }
    precondition {
      condition     = !local.ecs_proxy || var.port != 0
      error_message = "enable_ecs_proxy_configuration needs port: ECS's proxyConfiguration requires the application's ports (AppPorts)."
    }
    precondition {
      condition     = !local.ecs_proxy || length(var.exclude_inbound_ports) + length(var.exclude_uids) == 0
      error_message = "exclude_inbound_ports and exclude_uids have no effect with enable_ecs_proxy_configuration (ECS redirects inbound traffic to port only and exempts the dataplane's UID only): leave them empty."
    }
  }
}
