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

variable "connect_identity" {
  description = "Who vouches for a client's identity on $connect (README \"Choosing the identity\"): \"iam\" (default: the route is AWS_IAM, agents and the Dashboard SigV4-sign the handshake with the roles of iam_identity.tf, the agent id is the role session name) or \"token_authorizer\" (the REQUEST authorizer of authorizer.tf takes identity only from a token whose MAC a KMS HMAC key computed, one token per agent). The inputs of the other option are ignored (a check warns)."
  type        = string
  default     = "iam"

  validation {
    condition     = contains(["iam", "token_authorizer"], var.connect_identity)
    error_message = "connect_identity must be \"iam\" (SigV4-signed handshakes, identity from the caller's role) or \"token_authorizer\" (KMS-signed tokens checked by this example's REQUEST authorizer). The module's third source, \"query_string_insecure\", lets clients choose their identity: it is for demo stacks (examples/local), never this example."
  }
}

# connect_identity = "iam" (iam_identity.tf).
variable "trusted_principal_arns" {
  description = "Principals (IAM role or account ARNs) allowed to assume the agent and Dashboard roles whose signed handshakes $connect accepts; empty: any principal of this account that IAM allows sts:AssumeRole."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.trusted_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(root|role/.+|user/.+)$", arn))])
    error_message = "trusted_principal_arns must be IAM role, user or account root ARNs (arn:aws:iam::<account>:role/<name>)."
  }
}

# connect_identity = "token_authorizer" (authorizer.tf).
variable "token_key_arn" {
  description = "ARN of an existing KMS key (key_spec HMAC_256, key_usage GENERATE_VERIFY_MAC) that signs the $connect tokens, e.g. one shared by several stacks; null creates one for this stack."
  type        = string
  default     = null

  validation {
    condition     = var.token_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", coalesce(var.token_key_arn, "-")))
    error_message = "token_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not an alias: IAM grants kms:VerifyMac on key ARNs."
  }
}

variable "agent_token_max_lifetime_seconds" {
  description = "Longest lifetime (exp - iat) of an agent token the authorizer accepts. Agent tokens are credentials provisioned to hosts and cannot be revoked one by one (only all at once, with a new key): keep it as short as re-minting allows."
  type        = number
  default     = 604800

  validation {
    condition     = var.agent_token_max_lifetime_seconds >= 60 && var.agent_token_max_lifetime_seconds <= 2592000
    error_message = "agent_token_max_lifetime_seconds must be between 60 and 2592000 (30 days)."
  }
}

variable "dashboard_token_max_lifetime_seconds" {
  description = "Longest lifetime (exp - iat) of a Dashboard token the authorizer accepts. Dashboard tokens travel in the query string, which proxies and logs record: mint one per connect, seconds before it."
  type        = number
  default     = 300

  validation {
    condition     = var.dashboard_token_max_lifetime_seconds >= 30 && var.dashboard_token_max_lifetime_seconds <= 900
    error_message = "dashboard_token_max_lifetime_seconds must be between 30 and 900: a token in a URL must be short-lived."
  }
}

variable "dashboard_tokens" {
  description = "Accept Dashboard tokens from the query string (?token=). false: agents only; the authorizer's identity source is then the Authorization header, so a handshake without it is refused (401) without invoking the authorizer."
  type        = bool
  default     = true
}

variable "authorizer_runtime" {
  description = "Python runtime of the authorizer function (python3.8 or later)."
  type        = string
  default     = "python3.13"
}
