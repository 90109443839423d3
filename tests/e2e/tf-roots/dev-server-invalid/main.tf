# Test root for bad inputs (tests/e2e/test_terraform_dev_server.py): one
# valid server, and with include_bad = true one more per bad input; a single
# plan must then fail with each of the module's messages (one plan instead of
# one per input: a plan costs seconds). The empty consul_image has a plan of
# its own (empty_consul_image = true). No AWS call is made (the endpoint is
# never reached).

variable "include_bad" {
  description = "false: only the valid instance (plan must pass); true: also one instance per bad input (plan must fail with every message)."
  type        = bool
  default     = false
}

variable "empty_consul_image" {
  description = "true: the empty_consul_image instance gets consul_image = \"\" (a variable validation: it stops the plan before the preconditions above are evaluated, hence a plan of its own)."
  type        = bool
  default     = false
}

locals {
  bad = var.include_bad ? 1 : 0
}

module "valid" {
  source = "../../modules/dev-server"

  name            = "valid"
  ecs_cluster_arn = "arn:aws:ecs:us-east-1:123456789012:cluster/invalid"
  vpc_id          = "vpc-12345678"
  subnet_ids      = ["subnet-12345678"]
  tls             = true
  acls            = true
}

module "wan_join_and_gateways" {
  source = "../../modules/dev-server"
  count  = local.bad

  name               = "wan-join-and-gateways"
  ecs_cluster_arn    = "arn:aws:ecs:us-east-1:123456789012:cluster/invalid"
  vpc_id             = "vpc-12345678"
  subnet_ids         = ["subnet-12345678"]
  retry_join_wan     = ["10.1.0.10"]
  primary_gateways   = ["10.0.0.1:8443"]
  primary_datacenter = "dc1"
}

module "own_ca_missing" {
  source = "../../modules/dev-server"
  count  = local.bad

  name            = "own-ca-missing"
  ecs_cluster_arn = "arn:aws:ecs:us-east-1:123456789012:cluster/invalid"
  vpc_id          = "vpc-12345678"
  subnet_ids      = ["subnet-12345678"]
  tls             = true
  generate_ca     = false
}

module "own_token_missing" {
  source = "../../modules/dev-server"
  count  = local.bad

  name                     = "own-token-missing"
  ecs_cluster_arn          = "arn:aws:ecs:us-east-1:123456789012:cluster/invalid"
  vpc_id                   = "vpc-12345678"
  subnet_ids               = ["subnet-12345678"]
  acls                     = true
  generate_bootstrap_token = false
}

module "lb_without_subnets" {
  source = "../../modules/dev-server"
  count  = local.bad

  name            = "lb-without-subnets"
  ecs_cluster_arn = "arn:aws:ecs:us-east-1:123456789012:cluster/invalid"
  vpc_id          = "vpc-12345678"
  subnet_ids      = ["subnet-12345678"]
  lb_enabled      = true
}

module "gateways_without_primary" {
  source = "../../modules/dev-server"
  count  = local.bad

  name             = "gateways-without-primary"
  ecs_cluster_arn  = "arn:aws:ecs:us-east-1:123456789012:cluster/invalid"
  vpc_id           = "vpc-12345678"
  subnet_ids       = ["subnet-12345678"]
  primary_gateways = ["10.0.0.1:8443"]
}

# A root that forgets to pass its image variable hands the module "".
module "empty_consul_image" {
  source = "../../modules/dev-server"

  name            = "empty-consul-image"
  ecs_cluster_arn = "arn:aws:ecs:us-east-1:123456789012:cluster/invalid"
  vpc_id          = "vpc-12345678"
  subnet_ids      = ["subnet-12345678"]
  consul_image    = var.empty_consul_image ? "" : "hashicorp/consul:2.0.1"
}
