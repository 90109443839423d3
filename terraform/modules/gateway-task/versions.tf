terraform {
  # 1.4: terraform_data and lifecycle preconditions on every CLI we test
  # (OpenTofu >= 1.6, Terraform 1.5.7).
  required_version = ">= 1.4.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 4.0"
    }
  }
}
