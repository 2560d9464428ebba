# Private submodule: one Lambda function with its execution role, inline policy, log group and alarms.
# Used up to five times by the root module ($disconnect, the sweeper, the $connect writer, the presence
# checker and the announcer), so the shape lives once.
# Inputs are validated by the root module; the checks here guard only what the root cannot express.

variable "function_name" {
  description = "Name of the Lambda function; also names its role (`<name>`) and log group (`/aws/lambda/<name>`)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.function_name))
    error_message = "function_name must be 1-64 letters, digits, hyphens or underscores."
  }
}

variable "description" {
  description = "Description of the function (Lambda accepts at most 256 characters)."
  type        = string
  default     = ""

  validation {
    condition     = length(var.description) <= 256
    error_message = "description must be at most 256 characters: Lambda's CreateFunction refuses longer ones."
  }
}

variable "handler" {
  description = "Handler inside the package, as module.function."
  type        = string
}

variable "package" {
  description = "The deployment package: zip path, its base64 sha256, and whether it matches the sources it was built from (checked at plan)."
  type = object({
    filename         = string
    source_code_hash = string
    current          = bool
  })
}

variable "runtime" {
  description = "Lambda runtime identifier."
  type        = string
}

variable "memory_size" {
  description = "Memory in MB."
  type        = number
}

variable "timeout" {
  description = "Timeout in seconds."
  type        = number
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency; -1 leaves the function unreserved."
  type        = number
  default     = -1
}

variable "tracing_mode" {
  description = "X-Ray tracing mode: \"PassThrough\" or \"Active\" (Active also grants the X-Ray write actions)."
  type        = string
  default     = "PassThrough"
}

variable "kms_key_arn" {
  description = "KMS key to encrypt the function's environment variables; null uses the AWS managed key."
  type        = string
  default     = null
}

variable "detect_code_drift" {
  description = "Read the deployed function on every plan (lambda:GetFunction) and warn when its code is not the package."
  type        = bool
  default     = false
}

variable "environment" {
  description = "Environment variables of the function."
  type        = map(string)
  default     = {}
}

variable "policy_statements" {
  description = "IAM statements of the function's own work (besides writing its logs); each an exact action list on exact resources."
  type = list(object({
    sid       = string
    actions   = list(string)
    resources = list(string)
    conditions = optional(list(object({
      test     = string
      variable = string
      values   = list(string)
    })), [])
  }))
  default = []
}

variable "log_retention_in_days" {
  description = "Retention of the function's log group."
  type        = number
}

variable "log_kms_key_arn" {
  description = "KMS key to encrypt the log group; null for CloudWatch Logs' default encryption."
  type        = string
  default     = null
}

variable "role_name" {
  description = "Name of the IAM execution role; null names it after the function. IAM role names are global to the account, so a caller deploying the same function name in several regions must make this unique per region."
  type        = string
  default     = null

  validation {
    condition     = var.role_name == null || can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", coalesce(var.role_name, "-")))
    error_message = "role_name must be 1-64 letters, digits or + = , . @ _ - (IAM's limit)."
  }
}

variable "role_path" {
  description = "Path of the IAM role."
  type        = string
  default     = "/"
}

variable "role_permissions_boundary" {
  description = "ARN of the permissions boundary of the IAM role, or null."
  type        = string
  default     = null
}

variable "alarms" {
  description = "CloudWatch alarms on the function's Errors and Throttles metrics (AWS/Lambda)."
  type = object({
    errors             = bool
    throttles          = bool
    alarm_actions      = list(string)
    ok_actions         = list(string)
    period             = number
    evaluation_periods = number
    threshold          = number
  })
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
