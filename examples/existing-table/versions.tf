terraform {
  required_version = ">= 1.6.6"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # What you would write today: the current major, within the module's own ">= 5.76.0".
      version = "~> 6.30"
    }
  }
}
