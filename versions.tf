terraform {
  # 1.5: startswith() in validations, optional() object attributes with defaults.
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 3.39 is the oldest release this module is tested with (offline CI); nothing used here was
      # removed in 6.x (tests/compat checks every argument against the 6.69.1 schema).
      version = ">= 3.39"
    }
  }
}
