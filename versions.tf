terraform {
  # The oldest Terraform on which `make matrix` proves init + validate of this module and every
  # example, and apply -> no-change plan -> destroy of examples/local (OpenTofu: >= 1.12.6, proven the
  # same way). The module's own tests need >= 1.7 (mock_provider); see README "Requirements".
  required_version = ">= 1.6.6"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.76.0 is the first release whose plan accepts the default runtime python3.13: 5.75.1 refuses
      # it (hashicorp/terraform-provider-aws#40107); the provider validates `runtime` against the AWS
      # SDK for Go v2 Lambda enum, which gained python3.13 on 2024-11-11, and #40277 documents the
      # support in the provider's CHANGELOG. (6.29.0 was excluded while the connections table had a
      # dynamic agentId index, which its aws_dynamodb_table panicked on, #46192; no table has an index now.)
      version = ">= 5.76.0"
    }
  }
}
