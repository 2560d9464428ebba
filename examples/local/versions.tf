terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # Pinned to 3.x on purpose: this stack must send every call to the emulator, and 3.x routes
      # API Gateway v2 through the "apigateway" endpoint below, while 4.x+ need an "apigatewayv2"
      # key that 3.x rejects. With 4.x+ those calls would leave loopback. The module itself
      # supports >= 3.39 (see ../../versions.tf).
      version = ">= 3.39, < 4.0"
    }
  }
}
