# mesh-task: an ECS task definition with the application's containers plus
# the two mesh sidecars, consul-ecs-control-plane and consul-dataplane.

locals {
  module_version = "0.1.0"

  control_plane_name = "consul-ecs-control-plane"
  dataplane_name     = "consul-dataplane"
  data_volume        = "consul_data"
  binary_volume      = "consul_binary"

  service_name = var.consul_service_name != "" ? var.consul_service_name : lower(var.family)

  mount_data_ro = { sourceVolume = local.data_volume, containerPath = local.bootstrap_dir, readOnly = true }
  mount_data_rw = { sourceVolume = local.data_volume, containerPath = local.bootstrap_dir, readOnly = false }

  shutdown_delay = var.application_shutdown_delay_seconds == null ? 0 : var.application_shutdown_delay_seconds
  app_entrypoint = ["${local.bootstrap_dir}/consul-ecs", "app-entrypoint", "-shutdown-delay", "${local.shutdown_delay}s"]

  sidecars_healthy = [
    { containerName = local.control_plane_name, condition = "HEALTHY" },
    { containerName = local.dataplane_name, condition = "HEALTHY" },
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

  dataplane = merge(
    {
      name = local.dataplane_name
      # Essential (the v0.7.3 module: false): a dataplane that dies takes the
      # task down so that ECS replaces it, instead of leaving it running off
      # the mesh. The graceful stop is unaffected: envoy-entrypoint keeps the
      # proxy up until the application containers have exited. README.md.
      essential   = true
      image       = var.consul_dataplane_image
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
  container_definitions    = jsonencode(concat(local.app_containers, [local.control_plane, local.dataplane]))
  tags                     = local.task_tags

  # Shared with every container: the control-plane copies consul-ecs and
  # writes consul-dataplane.json here.
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
  }
}
