output "websocket_url" {
  description = "URL agents and the Dashboard connect to."
  value       = "${aws_apigatewayv2_api.remediation.api_endpoint}/${aws_apigatewayv2_stage.live.name}"
}

output "table_name" {
  description = "Connections table."
  value       = module.remediation_disconnect.table_name
}

output "function_name" {
  description = "The $disconnect function."
  value       = module.remediation_disconnect.function_name
}

output "sweeper_function_name" {
  description = "The sweeper function."
  value       = module.remediation_disconnect.sweeper_function_name
}

output "dashboard_name" {
  description = "CloudWatch dashboard."
  value       = module.remediation_disconnect.dashboard_name
}

output "oncall_topic_arn" {
  description = "SNS topic receiving alarms and agent-offline events."
  value       = aws_sns_topic.oncall.arn
}

output "connect_function_name" {
  description = "The $connect function (writes the connection item)."
  value       = module.remediation_disconnect.connect_function_name
}

# The $connect authorizer (authorizer.tf).
output "api_id" {
  description = "ID of the WebSocket API: the audience (aud) of its $connect tokens."
  value       = aws_apigatewayv2_api.remediation.id
}

output "token_key_arn" {
  description = "KMS HMAC key of the $connect tokens: mint with kms:GenerateMac on it (authorizer/mint_token.py --key-id)."
  value       = local.token_key_arn
}

output "authorizer_function_name" {
  description = "The $connect REQUEST authorizer function (one log line per accepted, refused or denied token)."
  value       = aws_lambda_function.authorizer.function_name
}
