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
  description = "SNS topic receiving alarms and agent online/offline events."
  value       = aws_sns_topic.oncall.arn
}

output "connect_function_name" {
  description = "The $connect function (writes the connection item)."
  value       = module.remediation_disconnect.connect_function_name
}

output "agent_role_arn" {
  description = "Role agents assume (session name = the agent id, \"agent-...\") to sign the $connect handshake."
  value       = aws_iam_role.client["agent"].arn
}

output "dashboard_role_arn" {
  description = "Role the Dashboard assumes to sign the $connect handshake."
  value       = aws_iam_role.client["dashboard"].arn
}

output "agent_events" {
  description = "Bus, source, detail-types and event pattern of the agent online/offline events."
  value       = module.remediation_disconnect.agent_events
}

output "presence_table_name" {
  description = "Presence table (one item per agent)."
  value       = module.remediation_disconnect.presence_table_name
}

output "presence_read_policy_json" {
  description = "Least-privilege policy for the Dashboard's reads of the presence table."
  value       = module.remediation_disconnect.presence_read_policy_json
}
