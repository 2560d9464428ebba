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

output "api_id" {
  description = "ID of the WebSocket API (with connect_identity = \"token_authorizer\", the audience (aud) of its $connect tokens)."
  value       = aws_apigatewayv2_api.remediation.id
}

output "connect_identity" {
  description = "Where $connect takes identity from, as the module names it (source: \"iam\", or \"authorizer\" with connect_identity = \"token_authorizer\") and the $connect route's authorization type (AWS_IAM | CUSTOM)."
  value       = module.remediation_disconnect.connect_identity
}

# connect_identity = "iam" (iam_identity.tf); null with "token_authorizer".
output "agent_role_arn" {
  description = "With connect_identity = \"iam\": the role agents assume (session name = the agent id, \"agent-...\") to sign the $connect handshake; null otherwise."
  value       = try(aws_iam_role.client["agent"].arn, null)
}

output "dashboard_role_arn" {
  description = "With connect_identity = \"iam\": the role the Dashboard assumes to sign the $connect handshake; null otherwise."
  value       = try(aws_iam_role.client["dashboard"].arn, null)
}

output "agent_policy_json" {
  description = "With connect_identity = \"iam\": the policy both roles carry (execute-api:Invoke on this stage's $connect and heartbeat routes); null otherwise."
  value       = module.remediation_disconnect.agent_policy_json
}

# connect_identity = "token_authorizer" (authorizer.tf); null with "iam".
output "token_key_arn" {
  description = "With connect_identity = \"token_authorizer\": the KMS HMAC key of the $connect tokens (mint with kms:GenerateMac on it: authorizer/mint_token.py --key-id); null otherwise."
  value       = local.token_key_arn
}

output "authorizer_function_name" {
  description = "With connect_identity = \"token_authorizer\": the $connect REQUEST authorizer function (one log line per accepted, refused or denied token); null otherwise."
  value       = one(aws_lambda_function.authorizer[*].function_name)
}
