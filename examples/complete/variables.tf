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

variable "oncall_email" {
  description = "E-mail address subscribed to alarms and agent-offline notifications, or null for none (the subscription must be confirmed from the mailbox)."
  type        = string
  default     = null
}
