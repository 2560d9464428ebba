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
  description = "E-mail address subscribed to alarms and agent online/offline notifications, or null for none (the subscription must be confirmed from the mailbox)."
  type        = string
  default     = null
}

variable "manage_api_gateway_account" {
  description = "Create API Gateway's CloudWatch Logs role and set it for the account (aws_api_gateway_account). ACCOUNT-WIDE: it replaces the role every API of the account and region logs with; leave false where it is already set (the stage's access logs need it)."
  type        = bool
  default     = false
}

variable "trusted_principal_arns" {
  description = "Principals (IAM role or account ARNs) allowed to assume the agent and Dashboard roles whose signed handshakes $connect accepts; empty: any principal of this account that IAM allows sts:AssumeRole."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.trusted_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(root|role/.+|user/.+)$", arn))])
    error_message = "trusted_principal_arns must be IAM role, user or account root ARNs (arn:aws:iam::<account>:role/<name>)."
  }
}
