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

variable "manage_api_gateway_account" {
  description = "Create API Gateway's CloudWatch Logs role and set it for the account (aws_api_gateway_account). ACCOUNT-WIDE: it replaces the role every API of the account and region logs with; leave false where it is already set (the stage's access logs need it)."
  type        = bool
  default     = false
}

variable "connect_authorizer_function_arn" {
  description = "ARN of your Lambda REQUEST authorizer for $connect: it validates the client's Authorization header and returns context.clientType (\"agent\" or \"dashboard\") and, for agents, context.agentId."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]+)?$", var.connect_authorizer_function_arn))
    error_message = "connect_authorizer_function_arn must be a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>)."
  }
}
