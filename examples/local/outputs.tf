output "api_id" {
  description = "ID of the WebSocket API in the emulator."
  value       = aws_apigatewayv2_api.remediation.id
}

output "region" {
  description = "Region of the stack."
  value       = var.region
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

output "route_id" {
  description = "ID of the $disconnect route."
  value       = module.remediation_disconnect.route_id
}

output "integration_id" {
  description = "ID of the $disconnect integration."
  value       = module.remediation_disconnect.integration_id
}

output "agent_offline_queue_url" {
  description = "SQS queue receiving agent-offline events."
  value       = aws_sqs_queue.agent_offline.id
}

output "offline_event" {
  description = "Bus, source and detail-type of agent-offline events."
  value       = module.remediation_disconnect.offline_event
}

output "function_environment" {
  description = "Environment of the deployed functions."
  value       = module.remediation_disconnect.function_environment
}

output "packages" {
  description = "The deployed packages, by function."
  value       = module.remediation_disconnect.packages
}

output "connect_function_name" {
  description = "The $connect function."
  value       = module.remediation_disconnect.connect_function_name
}

output "connect_route_id" {
  description = "ID of the $connect route."
  value       = module.remediation_disconnect.connect_route_id
}

output "stage_name" {
  description = "Stage clients connect to."
  value       = aws_apigatewayv2_stage.live.name
}
