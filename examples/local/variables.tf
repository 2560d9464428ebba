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
  description = "URL of the @connections endpoint the sweeper and the presence checker call (the local WebSocket gateway's, e.g. http://127.0.0.1:8123/live), or null for the API's own."
  type        = string
  default     = null

  validation {
    condition     = var.connections_endpoint == null || can(regex("^http://127\\.0\\.0\\.1:[0-9]{1,5}/[A-Za-z0-9_-]+$", coalesce(var.connections_endpoint, "-")))
    error_message = "connections_endpoint must be a loopback URL with the stage, such as http://127.0.0.1:8123/live."
  }
}

variable "connect_identity" {
  description = "Where $connect takes the client's identity from: \"query_string_insecure\" (default: ?clientType=...&agentId=..., spoofable, demo only) or \"iam\" (the route is AWS_IAM: clients SigV4-presign the handshake with the roles this example creates, outputs agent_role_arn / dashboard_role_arn; the agent id is the assumed-role session name)."
  type        = string
  default     = "query_string_insecure"

  validation {
    condition     = contains(["query_string_insecure", "iam"], var.connect_identity)
    error_message = "connect_identity must be \"query_string_insecure\" or \"iam\" (this example has no REQUEST authorizer: see examples/complete)."
  }
}
