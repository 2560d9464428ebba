output "function_name" {
  description = "Name of the $disconnect Lambda function."
  value       = module.disconnect_function.function_name
}

output "function_arn" {
  description = "ARN of the $disconnect Lambda function."
  value       = module.disconnect_function.function_arn
}

output "function_invoke_arn" {
  description = "Invoke ARN of the $disconnect Lambda function (the integration's URI)."
  value       = module.disconnect_function.invoke_arn
}

output "role_name" {
  description = "Name of the $disconnect function's execution role."
  value       = module.disconnect_function.role_name
}

output "role_arn" {
  description = "ARN of the $disconnect function's execution role."
  value       = module.disconnect_function.role_arn
}

output "log_group_name" {
  description = "Log group of the $disconnect function: one JSON line per disconnect (see README, \"Logs\")."
  value       = module.disconnect_function.log_group_name
}

output "table_name" {
  description = "Name of the connections table (created or existing)."
  value       = local.table_name
}

output "table_arn" {
  description = "ARN of the connections table (created or existing)."
  value       = local.table_arn
}

output "agent_index_name" {
  description = "Name of the agentId index the functions query, or null when agent_tracking is disabled."
  value       = var.agent_tracking.enabled ? var.agent_tracking.index_name : null
}

output "route_id" {
  description = "ID of the $disconnect route, or null when create_route is false."
  value       = one(aws_apigatewayv2_route.disconnect[*].id)
}

output "integration_id" {
  description = "ID of the Lambda proxy integration of the $disconnect route (target `integrations/<id>`)."
  value       = aws_apigatewayv2_integration.disconnect.id
}

output "deployment_id" {
  description = "ID of the API deployment carrying the $disconnect route (set it as your stage's deployment_id), or null unless deployment.enabled."
  value       = one(aws_apigatewayv2_deployment.this[*].id)
}

output "sweeper_function_name" {
  description = "Name of the sweeper Lambda function, or null when the sweeper is disabled."
  value       = one(module.sweeper_function[*].function_name)
}

output "sweeper_function_arn" {
  description = "ARN of the sweeper Lambda function, or null when the sweeper is disabled."
  value       = one(module.sweeper_function[*].function_arn)
}

output "sweeper_role_arn" {
  description = "ARN of the sweeper's execution role, or null when the sweeper is disabled."
  value       = one(module.sweeper_function[*].role_arn)
}

output "sweeper_log_group_name" {
  description = "Log group of the sweeper: one summary line per run, one line per removed connection."
  value       = one(module.sweeper_function[*].log_group_name)
}

output "sweeper_schedule_rule_arn" {
  description = "ARN of the EventBridge rule that runs the sweeper, or null when the sweeper is disabled."
  value       = one(aws_cloudwatch_event_rule.sweeper[*].arn)
}

output "iam_policies" {
  description = "Inline policy documents (JSON) of the execution roles, by function: disconnect, and sweeper / connect when enabled. For review and audits."
  value = merge(
    { disconnect = module.disconnect_function.policy_json },
    { for sweeper in module.sweeper_function : "sweeper" => sweeper.policy_json },
    { for connect in module.connect_function : "connect" => connect.policy_json },
  )
}

output "function_environment" {
  description = "Environment variables of the functions, by function (disconnect, sweeper, connect): what the package reads at runtime."
  value = merge(
    { disconnect = module.disconnect_function.configuration.environment },
    { for sweeper in module.sweeper_function : "sweeper" => sweeper.configuration.environment },
    { for connect in module.connect_function : "connect" => connect.configuration.environment },
  )
}

output "offline_event" {
  description = "How agent-offline events are published: bus ARN, source and detail-type to match in an EventBridge rule (null when offline events are disabled)."
  value = local.offline_events ? {
    event_bus_arn = local.event_bus_arn
    source        = var.agent_tracking.event_source
    detail_type   = "Remediation Agent Offline"
  } : null
}

output "metrics_namespace" {
  description = "CloudWatch namespace of the functions' metrics."
  value       = var.metrics_namespace
}

output "alarm_arns" {
  description = "ARNs of the alarms, by function and kind (e.g. disconnect.errors, sweeper.errors)."
  value = merge(
    { disconnect = module.disconnect_function.alarm_arns },
    { for sweeper in module.sweeper_function : "sweeper" => sweeper.alarm_arns },
    { for connect in module.connect_function : "connect" => connect.alarm_arns },
  )
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard, or null when create_dashboard is false."
  value       = one(aws_cloudwatch_dashboard.this[*].dashboard_name)
}

output "packages" {
  description = "The deployed packages by function (disconnect; sweeper and connect when enabled): zip path, its base64 sha256 (the function's source_code_hash) and the hash of the sources it was built from."
  value = {
    for function, package in local.packages : function => {
      filename         = package.filename
      source_code_hash = package.source_code_hash
      source_sha256    = local.package_source_sha256
    } if function == "disconnect" || (function == "sweeper" && var.sweeper.enabled) || (function == "connect" && var.connect.enabled)
  }
}

output "connect_function_name" {
  description = "Name of the $connect Lambda function, or null when connect.enabled is false."
  value       = one(module.connect_function[*].function_name)
}

output "connect_function_arn" {
  description = "ARN of the $connect Lambda function, or null when connect.enabled is false."
  value       = one(module.connect_function[*].function_arn)
}

output "connect_route_id" {
  description = "ID of the $connect route, or null when connect.enabled or create_route is false."
  value       = one(aws_apigatewayv2_route.connect[*].id)
}

output "connect_integration_id" {
  description = "ID of the $connect Lambda proxy integration (target \"integrations/<id>\"), or null when connect.enabled is false."
  value       = one(aws_apigatewayv2_integration.connect[*].id)
}

output "connect_log_group_name" {
  description = "Log group of the $connect function (one JSON line per registered or refused connection), or null."
  value       = one(module.connect_function[*].log_group_name)
}
