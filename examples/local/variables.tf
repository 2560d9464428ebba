variable "aws_endpoint" {
  description = "URL of the AWS emulator (moto server) every AWS API call goes to, e.g. http://127.0.0.1:5000."
  type        = string
  default     = "http://127.0.0.1:5000"

  validation {
    condition     = can(regex("^http://(127\\.0\\.0\\.1|localhost):[0-9]{1,5}$", var.aws_endpoint))
    error_message = "aws_endpoint must be a loopback URL such as http://127.0.0.1:5000: this example must never reach a real AWS account."
  }
}

variable "region" {
  description = "Region name the emulator reports in ARNs."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name prefix of the demo stack."
  type        = string
  default     = "remediation-demo"
}

variable "connections_endpoint" {
  description = "URL of the @connections endpoint the sweeper probes (the local WebSocket gateway's, e.g. http://127.0.0.1:8123/live), or null for the API's own."
  type        = string
  default     = null

  validation {
    condition     = var.connections_endpoint == null || can(regex("^http://127\\.0\\.0\\.1:[0-9]{1,5}/[A-Za-z0-9_-]+$", coalesce(var.connections_endpoint, "-")))
    error_message = "connections_endpoint must be a loopback URL with the stage, such as http://127.0.0.1:8123/live."
  }
}
