terraform {
  # 1.4: terraform_data and lifecycle preconditions on every CLI we test
  # (OpenTofu >= 1.6, Terraform 1.5.7).
  required_version = ">= 1.4.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # The oldest release with all this module uses: tags on IAM policies
      # (3.35.0) and ECS Exec on the service (3.34.0). Not 4.0: roots that pin
      # a 3.x release, as upstream's examples do (3.63.0, 3.73.0), switch
      # without changing it. Tested with the 6.x provider; see README.md,
      # "Provider versions".
      version = ">= 3.35.0"
    }
  }
}
