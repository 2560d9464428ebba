output "table_arn" {
  description = "ARN of the existing table the functions use."
  value       = module.remediation_disconnect.table_arn
}

output "function_name" {
  description = "The $disconnect function."
  value       = module.remediation_disconnect.function_name
}

output "iam_policies" {
  description = "The functions' inline policies, scoped to the existing table."
  value       = module.remediation_disconnect.iam_policies
}

output "table_kms_key_arn" {
  description = "The customer-managed key of the existing table (the roles may decrypt it via DynamoDB)."
  value       = aws_kms_key.table.arn
}
