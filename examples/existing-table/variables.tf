variable "region" {
  description = "AWS region of the stack."
  type        = string
  default     = "eu-west-1"
}

variable "name" {
  description = "Name prefix of the stack's resources."
  type        = string
  default     = "remediation"
}
