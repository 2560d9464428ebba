terraform {
  required_version = ">= 1.6.6"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # Same floor as the root module (see ../../versions.tf): python3.13 needs >= 5.76.0.
      version = ">= 5.76.0"
    }
  }
}
