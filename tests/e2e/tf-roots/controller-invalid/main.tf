# Test root for bad inputs (tests/e2e/test_terraform_controller.py): one
# valid controller, and with include_bad set one more per bad input of that
# kind; a single plan must then fail with each of the module's messages (one
# plan per kind instead of one per input: a plan costs seconds). No AWS call
# is made (the endpoint is never reached).

variable "include_bad" {
  description = "\"\": only the valid instance (plan must pass); \"variables\": also one instance per input that fails its variable validation; \"preconditions\": one per rule across inputs. Separate plans: a failed variable validation stops the plan before any precondition is evaluated."
  type        = string
  default     = ""
}

locals {
  # A module input is validated even when the module has count = 0, so the
  # bad values themselves depend on include_bad; preconditions belong to
  # resources, which count = 0 removes.
  bad_vars = var.include_bad == "variables"
  bad_pre  = var.include_bad == "preconditions" ? 1 : 0
}

locals {
  common = {
    ecs_cluster_arn                   = "arn:aws:ecs:us-east-1:123456789012:cluster/invalid"
    consul_bootstrap_token_secret_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:token-AbCdEf"
  }
}

module "valid" {
  source = "../../modules/controller"

  name_prefix                       = "valid"
  ecs_cluster_arn                   = local.common.ecs_cluster_arn
  region                            = "us-east-1"
  subnets                           = ["subnet-12345678"]
  consul_server_hosts               = "consul.internal"
  consul_bootstrap_token_secret_arn = local.common.consul_bootstrap_token_secret_arn
  destroy_grace_period_seconds      = 0
  consul_partitions_enabled         = true
  consul_partition                  = "part1"
}

module "empty_name_prefix" {
  source = "../../modules/controller"

  name_prefix                       = local.bad_vars ? "" : "empty-name-prefix"
  ecs_cluster_arn                   = local.common.ecs_cluster_arn
  region                            = "us-east-1"
  subnets                           = ["subnet-12345678"]
  consul_server_hosts               = "consul.internal"
  consul_bootstrap_token_secret_arn = local.common.consul_bootstrap_token_secret_arn
  destroy_grace_period_seconds      = 0
}

module "relative_iam_role_path" {
  source = "../../modules/controller"

  name_prefix                       = "relative-iam-role-path"
  ecs_cluster_arn                   = local.common.ecs_cluster_arn
  region                            = "us-east-1"
  subnets                           = ["subnet-12345678"]
  consul_server_hosts               = "consul.internal"
  consul_bootstrap_token_secret_arn = local.common.consul_bootstrap_token_secret_arn
  destroy_grace_period_seconds      = 0
  iam_role_path                     = local.bad_vars ? "consul-ecs" : "/consul-ecs/"
}

module "http_config_key" {
  source = "../../modules/controller"

  name_prefix                       = "http-config-key"
  ecs_cluster_arn                   = local.common.ecs_cluster_arn
  region                            = "us-east-1"
  subnets                           = ["subnet-12345678"]
  consul_server_hosts               = "consul.internal"
  consul_bootstrap_token_secret_arn = local.common.consul_bootstrap_token_secret_arn
  destroy_grace_period_seconds      = 0
  http_config                       = local.bad_vars ? { caCertFile = "/ca.pem" } : {}
}

module "grpc_config_key" {
  source = "../../modules/controller"

  name_prefix                       = "grpc-config-key"
  ecs_cluster_arn                   = local.common.ecs_cluster_arn
  region                            = "us-east-1"
  subnets                           = ["subnet-12345678"]
  consul_server_hosts               = "consul.internal"
  consul_bootstrap_token_secret_arn = local.common.consul_bootstrap_token_secret_arn
  destroy_grace_period_seconds      = 0
  grpc_config                       = local.bad_vars ? { https = true } : {}
}

module "partition_without_partitions" {
  source = "../../modules/controller"
  count  = local.bad_pre

  name_prefix                       = "partition-without-partitions"
  ecs_cluster_arn                   = local.common.ecs_cluster_arn
  region                            = "us-east-1"
  subnets                           = ["subnet-12345678"]
  consul_server_hosts               = "consul.internal"
  consul_bootstrap_token_secret_arn = local.common.consul_bootstrap_token_secret_arn
  destroy_grace_period_seconds      = 0
  consul_partition                  = "part1"
}

module "negative_grace" {
  source = "../../modules/controller"

  name_prefix                       = "negative-grace"
  ecs_cluster_arn                   = local.common.ecs_cluster_arn
  region                            = "us-east-1"
  subnets                           = ["subnet-12345678"]
  consul_server_hosts               = "consul.internal"
  consul_bootstrap_token_secret_arn = local.common.consul_bootstrap_token_secret_arn
  destroy_grace_period_seconds      = local.bad_vars ? -1 : 0
}
