# The module with only api_id set (plus the runtime label hashicorp/aws 3.x accepts at plan time:
# python3.8; the module's default python3.13 is validated by terraform validate and the 6.x check).

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  api_id  = "a1b2c3d4e5"
  runtime = "python3.8"
}

run "disconnect_route_integration_and_permission" {
  expect_failures = [check.alarms_notify_someone] # alarms on, no alarm_actions: see alarms_and_no_dashboard

  assert {
    condition     = aws_apigatewayv2_route.disconnect[0].route_key == "$disconnect" && aws_apigatewayv2_route.disconnect[0].api_id == "a1b2c3d4e5"
    error_message = "The module must create the $disconnect route on the given API."
  }

  assert {
    condition     = aws_apigatewayv2_route.disconnect[0].target == "integrations/${aws_apigatewayv2_integration.disconnect.id}"
    error_message = "The route must target the module's integration."
  }

  assert {
    condition     = aws_apigatewayv2_integration.disconnect.integration_type == "AWS_PROXY" && aws_apigatewayv2_integration.disconnect.integration_method == "POST"
    error_message = "The integration must be a Lambda proxy integration (AWS_PROXY, POST)."
  }

  assert {
    condition     = aws_apigatewayv2_integration.disconnect.integration_uri == output.function_invoke_arn
    error_message = "The integration must invoke the disconnect function."
  }

  assert {
    condition     = aws_lambda_permission.disconnect.source_arn == "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/*/$disconnect"
    error_message = "The invoke permission must be scoped to this API's $disconnect route (any stage), not /*/*."
  }

  assert {
    condition     = aws_lambda_permission.disconnect.principal == "apigateway.amazonaws.com" && aws_lambda_permission.disconnect.action == "lambda:InvokeFunction" && aws_lambda_permission.disconnect.function_name == output.function_name
    error_message = "Only API Gateway may invoke the disconnect function."
  }

  assert {
    condition     = output.route_id == aws_apigatewayv2_route.disconnect[0].id && output.integration_id == aws_apigatewayv2_integration.disconnect.id
    error_message = "route_id and integration_id outputs must name the created route and integration."
  }
}

run "connections_table" {
  expect_failures = [check.alarms_notify_someone] # alarms on, no alarm_actions: see alarms_and_no_dashboard

  assert {
    condition     = aws_dynamodb_table.this[0].name == "remediation-disconnect-connections" && output.table_name == "remediation-disconnect-connections"
    error_message = "The table defaults to <name>-connections."
  }

  assert {
    condition     = aws_dynamodb_table.this[0].hash_key == "connectionId" && aws_dynamodb_table.this[0].attribute == toset([{ name = "connectionId", type = "S" }])
    error_message = "The partition key must be connectionId (S), the only attribute declared."
  }

  assert {
    condition     = aws_dynamodb_table.this[0].billing_mode == "PAY_PER_REQUEST" && aws_dynamodb_table.this[0].read_capacity == null
    error_message = "On-demand billing by default."
  }

  assert {
    condition     = aws_dynamodb_table.this[0].ttl[0].enabled && aws_dynamodb_table.this[0].ttl[0].attribute_name == "expiresAt"
    error_message = "TTL must be enabled on expiresAt."
  }

  assert {
    condition     = aws_dynamodb_table.this[0].point_in_time_recovery[0].enabled && aws_dynamodb_table.this[0].server_side_encryption[0].enabled
    error_message = "PITR and KMS encryption are on by default."
  }

  assert {
    condition     = length(aws_dynamodb_table.this[0].global_secondary_index) == 0 && aws_dynamodb_table.this[0].stream_enabled != true
    error_message = "The connections table has no index and no stream (presence has a table of its own)."
  }

  assert {
    condition     = output.table_arn == aws_dynamodb_table.this[0].arn
    error_message = "table_arn must be the created table's ARN."
  }
}

run "disconnect_function" {
  expect_failures = [check.alarms_notify_someone] # alarms on, no alarm_actions: see alarms_and_no_dashboard

  assert {
    condition     = output.function_name == "remediation-disconnect" && output.log_group_name == "/aws/lambda/remediation-disconnect"
    error_message = "The function and its log group are named after var.name."
  }

  assert {
    condition     = module.disconnect_function.configuration.handler == "remediation_registry.lambda_entry.disconnect" && module.disconnect_function.configuration.memory_size == 128 && module.disconnect_function.configuration.timeout == 10
    error_message = "The disconnect function runs the packaged handler with 128 MB and a 10 s timeout by default."
  }

  assert {
    condition     = module.disconnect_function.configuration.source_code_hash == filebase64sha256("function/dist/disconnect.zip")
    error_message = "The function must deploy its own committed zip."
  }

  assert {
    condition     = keys(output.packages) == ["disconnect", "sweeper"] && output.packages.disconnect.filename == "./function/dist/disconnect.zip"
    error_message = "The packages output lists the deployed functions' zips (connect is off by default)."
  }

  assert {
    condition = output.function_environment.disconnect == tomap({
      CONNECTIONS_TABLE        = "remediation-disconnect-connections"
      TTL_ATTRIBUTE            = "expiresAt"
      CONNECTION_GRACE_SECONDS = "300"
      METRICS_NAMESPACE        = "Remediation/remediation-disconnect"
      LOG_LEVEL                = "INFO"
      CONNECT_IDENTITY_SOURCE  = "authorizer"
      CONNECT_CLIENT_TYPE_KEY  = "clientType"
      CONNECT_AGENT_ID_KEY     = "agentId"
      LOG_CLIENT_ADDRESS       = "false"
    })
    error_message = "The disconnect function gets the contract settings and the authorizer's identity keys (its lost-answer fallback); client addresses are not logged; no presence variable (absent = presence off)."
  }

  assert {
    condition = jsondecode(output.iam_policies.disconnect).Statement == [
      { Sid = "WriteOwnLogs", Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = ["arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/mocked:*"] },
      { Sid = "DeleteClosedConnection", Effect = "Allow", Action = ["dynamodb:DeleteItem"], Resource = [aws_dynamodb_table.this[0].arn] },
    ]
    error_message = "The disconnect role may write its own logs and DeleteItem on the table: nothing else."
  }
}

run "sweeper_on_a_schedule" {
  expect_failures = [check.alarms_notify_someone] # alarms on, no alarm_actions: see alarms_and_no_dashboard

  assert {
    condition     = output.sweeper_function_name == "remediation-disconnect-sweeper" && module.sweeper_function[0].configuration.handler == "remediation_registry.lambda_entry.sweep"
    error_message = "The sweeper runs the sweep handler."
  }

  assert {
    condition     = module.sweeper_function[0].configuration.source_code_hash == filebase64sha256("function/dist/sweeper.zip")
    error_message = "The sweeper deploys its own zip (with the sweep subpackage and management.py, which the other functions do not ship)."
  }

  assert {
    condition     = aws_cloudwatch_event_rule.sweeper[0].schedule_expression == "rate(5 minutes)"
    error_message = "The sweeper runs every 5 minutes by default."
  }

  assert {
    condition     = aws_cloudwatch_event_target.sweeper[0].arn == output.sweeper_function_arn && aws_cloudwatch_event_target.sweeper[0].rule == aws_cloudwatch_event_rule.sweeper[0].name
    error_message = "The schedule must target the sweeper."
  }

  assert {
    condition     = aws_lambda_permission.sweeper[0].principal == "events.amazonaws.com" && aws_lambda_permission.sweeper[0].source_arn == aws_cloudwatch_event_rule.sweeper[0].arn
    error_message = "Only the sweeper's schedule rule may invoke it."
  }

  assert {
    condition     = aws_lambda_function_event_invoke_config.sweeper[0].maximum_retry_attempts == 0
    error_message = "A failed sweep is not retried: the next scheduled run supersedes it."
  }

  assert {
    condition = jsondecode(output.iam_policies.sweeper).Statement[1] == {
      Sid = "RemoveStaleConnections", Effect = "Allow", Action = ["dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "dynamodb:Scan"], Resource = [aws_dynamodb_table.this[0].arn]
      } && jsondecode(output.iam_policies.sweeper).Statement[2] == {
      Sid       = "KeepScanPosition", Effect = "Allow", Action = ["dynamodb:GetItem", "dynamodb:PutItem"], Resource = [aws_dynamodb_table.this[0].arn]
      Condition = { "ForAllValues:StringEquals" = { "dynamodb:LeadingKeys" = ["~remediation-sweeper/scan-position"] } }
    } && length(jsondecode(output.iam_policies.sweeper).Statement) == 3
    error_message = "Without probing or agent tracking the sweeper may only Scan, BatchWriteItem and DeleteItem on the table, and GetItem/PutItem on its one position item (besides its logs)."
  }

  assert {
    condition     = output.function_environment.sweeper.SWEEP_PROBE_ENDPOINT == "" && output.function_environment.sweeper.SWEEP_SCAN_SEGMENTS == "1"
    error_message = "No probing by default; the sweeper scans one segment at a time."
  }
}

run "alarms_and_no_dashboard" {
  # Alarms on by default and no alarm_actions: every plan warns that they notify nobody (a check
  # block: a warning, never a failure).
  expect_failures = [check.alarms_notify_someone]

  assert {
    condition     = keys(output.alarm_arns.disconnect) == ["errors", "throttles"] && keys(output.alarm_arns.sweeper) == ["errors"]
    error_message = "Alarms: disconnect Errors and Throttles, sweeper Errors."
  }

  assert {
    condition     = length(aws_cloudwatch_dashboard.this) == 0 && output.dashboard_name == null
    error_message = "No dashboard unless asked for."
  }

  assert {
    condition = alltrue([for name in [
      output.presence_table_name, output.presence_table_arn, output.presence_read_policy_json, output.presence_queue_url,
      output.presence_queue_arn, output.presence_dlq_arn, output.presence_function_name, output.presence_schedule_rule_arn,
      output.events_function_name, output.agent_events, output.agent_events_bus_policy_json, output.heartbeat_route_key,
      output.heartbeat_route_id, output.heartbeat_integration_id, output.agent_policy_json, output.connect_identity,
    ] : name == null])
    error_message = "Presence, agent events, heartbeats and the $connect identity outputs are null when those features are off."
  }

  assert {
    condition     = length(aws_dynamodb_table.presence) + length(aws_sqs_queue.presence) + length(aws_sqs_queue.presence_dlq) + length(module.presence_function) + length(module.events_function) + length(aws_cloudwatch_event_bus.agents) + length(aws_apigatewayv2_route.heartbeat) == 0
    error_message = "Presence is off by default: no presence table, queues, functions, bus or heartbeat route."
  }
}
