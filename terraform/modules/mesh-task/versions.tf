terraform {
  # 1.4: terraform_data and lifecycle preconditions on every CLI we test
  # (OpenTofu >= 1.6, Terraform 1.5.7).
  required_version = ">= 1.4.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # The oldest release with all this module uses: the task definition's
      # tags_all (the task_tags output; 3.38.0, with default_tags) and tags on
      # IAM policies (3.35.0). Not 4.0: roots that pin a 3.x release, as
      # upstream's examples do (3.63.0, 3.73.0), switch without changing it.
      # Tested with the 6.x provider; see README.md, "Provider versions".
      version = ">= 3.38.0"
    }
  }
}
