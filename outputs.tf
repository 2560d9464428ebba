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
  description = "Log group of the $disconnect function: one JSON line per disconnect (see docs/operations.md, \"Logs, metrics, alarms\")."
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
  description = "Inline policy documents (JSON) of the execution roles, by function: disconnect, and sweeper / connect / presence (the checker) / events (the announcer) when enabled. For review and audits."
  value = merge(
    { disconnect = module.disconnect_function.policy_json },
    { for sweeper in module.sweeper_function : "sweeper" => sweeper.policy_json },
    { for connect in module.connect_function : "connect" => connect.policy_json },
    { for presence in module.presence_function : "presence" => presence.policy_json },
    { for events in module.events_function : "events" => events.policy_json },
  )
}

output "function_environment" {
  description = "Environment variables of the functions, by function (disconnect, sweeper, connect, presence, events): what the package reads at runtime."
  value = merge(
    { disconnect = module.disconnect_function.configuration.environment },
    { for sweeper in module.sweeper_function : "sweeper" => sweeper.configuration.environment },
    { for connect in module.connect_function : "connect" => connect.configuration.environment },
    { for presence in module.presence_function : "presence" => presence.configuration.environment },
    { for events in module.events_function : "events" => events.configuration.environment },
  )
}

output "metrics_namespace" {
  description = "CloudWatch namespace of the functions' metrics."
  value       = local.metrics_namespace
}

output "alarm_arns" {
  description = "ARNs of the alarms, by function and kind (e.g. disconnect.errors, sweeper.errors, presence.dead_letters, events.iterator_age)."
  value = merge(
    { disconnect = module.disconnect_function.alarm_arns },
    { for sweeper in module.sweeper_function : "sweeper" => sweeper.alarm_arns },
    { for connect in module.connect_function : "connect" => connect.alarm_arns },
    { for presence in module.presence_function : "presence" => merge(presence.alarm_arns, { for alarm in aws_cloudwatch_metric_alarm.presence_dlq : "dead_letters" => alarm.arn }) },
    { for events in module.events_function : "events" => merge(events.alarm_arns, { for alarm in aws_cloudwatch_metric_alarm.events_iterator_age : "iterator_age" => alarm.arn }) },
  )
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard, or null when create_dashboard is false."
  value       = one(aws_cloudwatch_dashboard.this[*].dashboard_name)
}

output "packages" {
  description = "The deployed packages by function (disconnect; sweeper, connect, presence and events when enabled): zip path, its base64 sha256 (the function's source_code_hash) and the hash of the sources it was built from."
  value = {
    for function, package in local.packages : function => {
      filename         = package.filename
      source_code_hash = package.source_code_hash
      source_sha256    = local.package_source_sha256
    } if contains(local.deployed_functions, function)
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

output "connect_identity" {
  description = "Where the $connect writer takes the client's identity from (authorizer | iam | query_string_insecure) and the route's authorization type (CUSTOM | AWS_IAM | NONE), or null when connect.enabled is false."
  value = local.connect.enabled ? {
    source             = local.connect.identity
    authorization_type = local.connect_authorization_type
  } : null
}

output "agent_policy_json" {
  description = "With connect.identity = \"iam\": an IAM policy (JSON) for agent roles, execute-api:Invoke on exactly this API's <stage>/$connect (and the heartbeat route with heartbeats): attach it to the roles in connect.iam.agent_role_arns (and dashboard_role_arns). Null otherwise."
  value       = local.agent_policy_json

  precondition {
    condition     = local.agent_policy_json == null || var.stage_name != null
    error_message = "connect.identity = \"iam\" needs stage_name: agents may invoke exactly <api>/<stage>/$connect, and the output agent_policy_json names that stage."
  }
}

output "presence_table_name" {
  description = "Name of the presence table (one item per agent, see docs/presence.md), or null when presence is disabled."
  value       = one(aws_dynamodb_table.presence[*].name)
}

output "presence_table_arn" {
  description = "ARN of the presence table, or null when presence is disabled."
  value       = one(aws_dynamodb_table.presence[*].arn)
}

output "presence_read_policy_json" {
  description = "An IAM policy (JSON) that lets a Dashboard read presence: dynamodb:GetItem (one agent) and dynamodb:Scan (all agents) on the presence table, and kms:Decrypt of its key through DynamoDB when the table key is customer-managed. Null when presence is disabled."
  value       = local.presence_read_policy_json
}

output "presence_queue_url" {
  description = "URL of the SQS queue of grace windows and liveness probes, or null when presence is disabled."
  value       = one(aws_sqs_queue.presence[*].id)
}

output "presence_queue_arn" {
  description = "ARN of the SQS queue of grace windows and liveness probes, or null when presence is disabled."
  value       = one(aws_sqs_queue.presence[*].arn)
}

output "presence_dlq_arn" {
  description = "ARN of the presence dead-letter queue (messages the checker failed on 10 times, and announcer batches that failed all their retries), or null when presence is disabled."
  value       = one(aws_sqs_queue.presence_dlq[*].arn)
}

output "presence_function_name" {
  description = "Name of the presence checker (grace windows, liveness probes, reconciler), or null when presence is disabled."
  value       = one(module.presence_function[*].function_name)
}

output "presence_schedule_rule_arn" {
  description = "ARN of the EventBridge rule that runs the presence reconciler, or null when presence is disabled."
  value       = one(aws_cloudwatch_event_rule.presence_reconcile[*].arn)
}

output "events_function_name" {
  description = "Name of the announcer that publishes agent events from the presence table's stream, or null when presence or its events are disabled."
  value       = one(module.events_function[*].function_name)
}

output "agent_events" {
  description = "Where agent online/offline events are published: event_bus_arn, event_bus_name, source, detail_types, and event_pattern (JSON) for an EventBridge rule matching exactly these events; null when presence or its events are disabled."
  value = local.events_enabled ? {
    event_bus_arn  = local.agent_bus_arn
    event_bus_name = local.create_agent_bus ? aws_cloudwatch_event_bus.agents[0].name : local.agent_bus_name
    source         = local.presence.events.source
    detail_types   = local.agent_event_detail_types
    event_pattern  = jsonencode({ source = [local.presence.events.source], "detail-type" = local.agent_event_detail_types })
  } : null
}

output "agent_events_bus_policy_json" {
  description = "The resource policy (JSON) of the module's agent-events bus (presence.events.create_bus): denies events:PutEvents with the module's source to every principal but the announcer's role. Null without a bus of the module's own."
  value       = local.agent_bus_policy_json
}

output "heartbeat_route_key" {
  description = "Route key agents send heartbeats to ({\"action\": \"<key>\"} with a route selection expression of $request.body.action), or null when heartbeats are disabled."
  value       = local.heartbeat_enabled ? local.presence.heartbeat.route_key : null
}

output "heartbeat_route_id" {
  description = "ID of the heartbeat route, or null when heartbeats are disabled or create_route is false."
  value       = one(aws_apigatewayv2_route.heartbeat[*].id)
}

output "heartbeat_integration_id" {
  description = "ID of the heartbeat route's MOCK integration (target \"integrations/<id>\" for a route managed elsewhere), or null when heartbeats are disabled."
  value       = one(aws_apigatewayv2_integration.heartbeat[*].id)
}
