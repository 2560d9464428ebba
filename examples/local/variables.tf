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
