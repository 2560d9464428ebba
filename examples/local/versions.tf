terraform {
  required_version = ">= 1.6.6"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # Written for the current major (every endpoint below exists in 5.76+ and 6.x). Offline, `make demo`
      # runs hashicorp/aws 3.39.0 in its place through offline_standin_override.tf (see that file).
      version = "~> 6.30"
    }
  }
}
