output "function_name" {
  description = "Name of the Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the Lambda function."
  value       = aws_lambda_function.this.arn
}

output "invoke_arn" {
  description = "ARN for API Gateway to invoke the function."
  value       = aws_lambda_function.this.invoke_arn
}

output "role_name" {
  description = "Name of the execution role."
  value       = aws_iam_role.this.name
}

output "role_arn" {
  description = "ARN of the execution role."
  value       = aws_iam_role.this.arn
}

output "policy_json" {
  description = "The execution role's inline policy document (JSON)."
  value       = aws_iam_role_policy.this.policy
}

output "log_group_name" {
  description = "Name of the function's log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "alarm_arns" {
  description = "ARNs of the function's alarms, by kind (errors, throttles); absent kinds are omitted."
  value       = { for kind, alarm in aws_cloudwatch_metric_alarm.this : kind => alarm.arn }
}

output "configuration" {
  description = "The function's settings as configured (runtime, handler, sizing, tracing, environment, role path and boundary, log retention), for callers' checks and tests."
  value = {
    description                    = aws_lambda_function.this.description
    runtime                        = aws_lambda_function.this.runtime
    handler                        = aws_lambda_function.this.handler
    memory_size                    = aws_lambda_function.this.memory_size
    timeout                        = aws_lambda_function.this.timeout
    reserved_concurrent_executions = aws_lambda_function.this.reserved_concurrent_executions
    tracing_mode                   = var.tracing_mode
    kms_key_arn                    = var.kms_key_arn
    environment                    = var.environment
    source_code_hash               = aws_lambda_function.this.source_code_hash
    role_path                      = aws_iam_role.this.path
    role_permissions_boundary      = aws_iam_role.this.permissions_boundary
    log_retention_in_days          = aws_cloudwatch_log_group.this.retention_in_days
    log_kms_key_arn                = aws_cloudwatch_log_group.this.kms_key_id
    tags                           = aws_lambda_function.this.tags
  }
}
