# The provider set-up every test root shares: terraform_bed.copy_tree() copies
# this file (as _shared_providers.tf) into each root of tf-roots/ that has no
# provider "aws" block of its own. Roots drop their own terraform block,
# provider "aws" and variable "aws_endpoint_url" when they adopt it.
#
# The roots that apply pass aws_endpoint_url = <moto's URL>; the bad-input
# roots never set it: their plans must fail before any AWS call, and the
# default (a closed port) would make a stray call fail rather than reach AWS.
# Credentials come from the environment (terraform_bed.FAKE_AWS_ENV).

terraform {
  required_version = ">= 1.4.0"
  required_providers {
    aws = {
      source = "hashicorp/aws"
    }
  }
}

variable "aws_endpoint_url" {
  description = "Endpoint of every AWS service the modules use (moto's URL)."
  type        = string
  default     = "http://127.0.0.1:9"
}

provider "aws" {
  region                      = "us-east-1"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true

  endpoints {
    ec2              = var.aws_endpoint_url
    ecs              = var.aws_endpoint_url
    elbv2            = var.aws_endpoint_url
    iam              = var.aws_endpoint_url
    logs             = var.aws_endpoint_url
    secretsmanager   = var.aws_endpoint_url
    servicediscovery = var.aws_endpoint_url
    sts              = var.aws_endpoint_url
  }
}
