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
