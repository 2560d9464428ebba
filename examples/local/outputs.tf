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

output "agent_events_queue_url" {
  description = "SQS queue receiving the agent online/offline events (the rule on the module's bus)."
  value       = aws_sqs_queue.agent_events.id
}

output "agent_events" {
  description = "Bus, source, detail-types and event pattern of agent events."
  value       = module.remediation_disconnect.agent_events
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

output "presence_table_name" {
  description = "The presence table (one item per agent)."
  value       = module.remediation_disconnect.presence_table_name
}

output "presence_queue_url" {
  description = "SQS queue of grace windows and liveness probes (the checker's event source)."
  value       = module.remediation_disconnect.presence_queue_url
}

output "presence_dlq_arn" {
  description = "The presence dead-letter queue."
  value       = module.remediation_disconnect.presence_dlq_arn
}

output "presence_function_name" {
  description = "The presence checker (grace windows, liveness probes, reconciler)."
  value       = module.remediation_disconnect.presence_function_name
}

output "presence_schedule_rule_arn" {
  description = "The EventBridge rule of the presence reconciler."
  value       = module.remediation_disconnect.presence_schedule_rule_arn
}

output "events_function_name" {
  description = "The announcer (presence table stream -> EventBridge)."
  value       = module.remediation_disconnect.events_function_name
}

output "heartbeat_route_key" {
  description = "Route key of the heartbeat messages ({\"action\": \"heartbeat\"})."
  value       = module.remediation_disconnect.heartbeat_route_key
}

output "connect_identity" {
  description = "Identity source and authorization type of the $connect route."
  value       = module.remediation_disconnect.connect_identity
}

output "agent_role_arn" {
  description = "With connect_identity = \"iam\": the role agents assume (session name = agent id) to sign the handshake; null otherwise."
  value       = try(aws_iam_role.signed["agent"].arn, null)
}

output "dashboard_role_arn" {
  description = "With connect_identity = \"iam\": the role the Dashboard assumes to sign the handshake; null otherwise."
  value       = try(aws_iam_role.signed["dashboard"].arn, null)
}

output "agent_policy_json" {
  description = "With connect_identity = \"iam\": the policy both roles carry (execute-api:Invoke on $connect and heartbeat); null otherwise."
  value       = module.remediation_disconnect.agent_policy_json
}
