# The optional $connect writer: absent by default; when enabled, its route, integration, permission,
# role (PutItem on the table only), environment, log group and alarms; and the connect input's checks.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  api_id  = "a1b2c3d4e5"
  runtime = "python3.8"

  # With alarm_actions, as a real stack has: alarms notifying nobody fail check alarms_notify_someone,
  # a warning on plan but a failed run in terraform test (defaults.tftest.hcl expects it).
  alarms = { alarm_actions = ["arn:aws:sns:eu-west-1:123456789012:oncall"] }
}

run "off_by_default" {
  command = plan

  assert {
    condition     = length(module.connect_function) == 0 && length(aws_apigatewayv2_route.connect) == 0 && length(aws_apigatewayv2_integration.connect) == 0 && length(aws_lambda_permission.connect) == 0
    error_message = "Without connect.enabled the module must create no $connect function, route, integration or permission."
  }

  assert {
    condition     = output.connect_function_name == null && output.connect_route_id == null && !contains(keys(output.iam_policies), "connect")
    error_message = "Connect outputs must be null when the writer is disabled."
  }
}

run "enabled_behind_an_authorizer" {
  variables {
    connect = {
      enabled       = true
      authorizer_id = "abc123"
    }
  }

  assert {
    condition     = aws_apigatewayv2_route.connect[0].route_key == "$connect" && aws_apigatewayv2_route.connect[0].api_id == "a1b2c3d4e5" && aws_apigatewayv2_route.connect[0].target == "integrations/${aws_apigatewayv2_integration.connect[0].id}"
    error_message = "The $connect route must target the connect integration on the given API."
  }

  assert {
    condition     = aws_apigatewayv2_route.connect[0].authorization_type == "CUSTOM" && aws_apigatewayv2_route.connect[0].authorizer_id == "abc123"
    error_message = "authorizer_id must attach the REQUEST authorizer (authorization_type CUSTOM) to the $connect route."
  }

  assert {
    condition     = aws_apigatewayv2_integration.connect[0].integration_type == "AWS_PROXY" && aws_apigatewayv2_integration.connect[0].integration_uri == module.connect_function[0].invoke_arn
    error_message = "The $connect integration must be a Lambda proxy integration of the connect function."
  }

  assert {
    condition     = aws_lambda_permission.connect[0].source_arn == "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/*/$connect" && aws_lambda_permission.connect[0].principal == "apigateway.amazonaws.com" && aws_lambda_permission.connect[0].function_name == "remediation-disconnect-connect"
    error_message = "The invoke permission must be scoped to this API's $connect route (any stage)."
  }

  assert {
    condition = jsondecode(output.iam_policies.connect).Statement == [
      { Sid = "WriteOwnLogs", Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = ["arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/mocked:*"] },
      { Sid = "RegisterConnection", Effect = "Allow", Action = ["dynamodb:PutItem"], Resource = [aws_dynamodb_table.this[0].arn] },
    ]
    error_message = "The connect role must be allowed exactly PutItem on the table (and its own log writes), nothing else."
  }

  assert {
    condition = output.function_environment.connect == tomap({
      CONNECTIONS_TABLE           = "remediation-disconnect-connections"
      TTL_ATTRIBUTE               = "expiresAt"
      CONNECTION_GRACE_SECONDS    = "300"
      METRICS_NAMESPACE           = "Remediation/remediation-disconnect"
      LOG_LEVEL                   = "INFO"
      CONNECT_IDENTITY_SOURCE     = "authorizer"
      CONNECT_CLIENT_TYPE_KEY     = "clientType"
      CONNECT_AGENT_ID_KEY        = "agentId"
      CONNECT_IAM_AGENT_ROLES     = ""
      CONNECT_IAM_DASHBOARD_ROLES = ""
      CONNECT_IAM_AGENT_ID_FROM   = "session_name"
      CONNECT_AGENT_ID_PATTERN    = ""
    })
    error_message = "The connect function must get exactly the contract settings and the identity settings (authorizer by default; no presence variable while presence is off)."
  }

  assert {
    condition     = output.connect_identity == { source = "authorizer", authorization_type = "CUSTOM" } && output.agent_policy_json == null
    error_message = "connect_identity says the route is authorized by the REQUEST authorizer; no agent policy without IAM identity."
  }

  assert {
    condition     = module.connect_function[0].configuration.handler == "remediation_registry.lambda_entry.connect" && module.connect_function[0].function_name == "remediation-disconnect-connect"
    error_message = "The connect function must run remediation_registry.handlers.connect and be named <name>-connect."
  }

  assert {
    condition     = module.connect_function[0].configuration.source_code_hash == filebase64sha256("function/dist/connect.zip") && keys(output.packages) == ["connect", "disconnect", "sweeper"]
    error_message = "The connect function deploys its own zip (with connect.py), and the packages output lists it."
  }

  assert {
    condition     = keys(output.alarm_arns.connect) == ["errors", "throttles"] && output.connect_log_group_name == "/aws/lambda/remediation-disconnect-connect"
    error_message = "The connect function must have its log group and its Errors/Throttles alarms."
  }

  assert {
    condition     = output.connect_route_id == aws_apigatewayv2_route.connect[0].id && output.connect_integration_id == aws_apigatewayv2_integration.connect[0].id
    error_message = "connect_route_id / connect_integration_id must name the created route and integration."
  }
}

run "dashboard_shows_the_writer" {
  command = plan

  variables {
    connect          = { enabled = true, authorizer_id = "abc123" }
    create_dashboard = true
  }

  assert {
    condition     = contains(one([for w in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : w if w.properties.title == "Errors"]).properties.metrics, ["AWS/Lambda", "Errors", "FunctionName", "remediation-disconnect-connect"]) && contains(one([for w in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : w if w.properties.title == "Errors"]).properties.metrics, ["Remediation/remediation-disconnect", "ConnectErrors"])
    error_message = "With the writer enabled, the dashboard's Errors widget shows its Lambda errors and its own."
  }

  # RefusedConnects exists only with its Reason dimension: a line without it would stay empty.
  assert {
    condition = one([for w in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : w.properties.metrics if w.properties.title == "Refused $connect by reason"]) == [
      for reason in ["no_identity", "unknown_client_type", "missing_agent_id", "invalid_agent_id", "pattern_mismatch", "unknown_principal"] :
      ["Remediation/remediation-disconnect", "RefusedConnects", "Reason", reason]
    ]
    error_message = "Refused connections are charted one line per reason (identity.REASONS), each with its Reason dimension."
  }

  assert {
    condition     = !strcontains(aws_cloudwatch_dashboard.this[0].dashboard_body, "[\"Remediation/remediation-disconnect\",\"RefusedConnects\"]")
    error_message = "No RefusedConnects line without its dimension."
  }
}

run "demo_identity_keys_and_table_key" {
  variables {
    connect = {
      enabled         = true
      identity        = "query_string_insecure"
      client_type_key = "role"
      agent_id_key    = "sub"
    }
    table = {
      kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/1111-2222"
    }
    connection_grace_seconds = 60
  }

  # The query string is spoofable: every plan warns (a check block, never a failure).
  expect_failures = [check.connect_identity_is_verified]

  assert {
    condition     = aws_apigatewayv2_route.connect[0].authorization_type == "NONE" && aws_apigatewayv2_route.connect[0].authorizer_id == null
    error_message = "With query-string identity the route has no authorization."
  }

  assert {
    condition     = output.function_environment.connect.CONNECT_IDENTITY_SOURCE == "query_string_insecure" && output.function_environment.connect.CONNECT_CLIENT_TYPE_KEY == "role" && output.function_environment.connect.CONNECT_AGENT_ID_KEY == "sub" && output.function_environment.connect.CONNECTION_GRACE_SECONDS == "60"
    error_message = "Identity source, keys and the grace must reach the function."
  }

  assert {
    condition     = output.function_environment.disconnect.CONNECT_IDENTITY_SOURCE == "query_string_insecure" && output.function_environment.disconnect.CONNECT_CLIENT_TYPE_KEY == "role" && output.function_environment.disconnect.CONNECT_AGENT_ID_KEY == "sub"
    error_message = "$disconnect gets the identity source and keys too (its lost-answer fallback)."
  }

  assert {
    condition     = [for s in jsondecode(output.iam_policies.connect).Statement : s.Sid] == ["WriteOwnLogs", "RegisterConnection", "DecryptTableKey", "DescribeTableKey"]
    error_message = "With a customer-managed table key the connect role also gets the key statements, and nothing else."
  }
}

run "no_route_when_routes_are_managed_elsewhere" {
  command = plan

  variables {
    create_route = false
    connect      = { enabled = true, authorizer_id = "abc123" }
  }

  assert {
    condition     = length(aws_apigatewayv2_route.connect) == 0 && length(aws_apigatewayv2_integration.connect) == 1 && output.connect_route_id == null
    error_message = "create_route = false must leave the $connect route to the caller but keep the integration."
  }
}

run "enabled_without_identity_source" {
  command = plan

  variables {
    connect = { enabled = true }
  }

  expect_failures = [var.connect]
}

run "authorizer_id_is_an_arn" {
  command = plan

  variables {
    connect = { enabled = true, authorizer_id = "arn:aws:apigateway:eu-west-1::/apis/a1/authorizers/x" }
  }

  expect_failures = [var.connect]
}

run "identity_keys_equal" {
  command = plan

  variables {
    connect = { enabled = true, authorizer_id = "abc123", client_type_key = "sub", agent_id_key = "sub" }
  }

  expect_failures = [var.connect]
}

run "identity_key_with_space" {
  command = plan

  variables {
    connect = { enabled = true, authorizer_id = "abc123", agent_id_key = "agent id" }
  }

  expect_failures = [var.connect]
}

run "timeout_beyond_api_gateway" {
  command = plan

  variables {
    connect   = { enabled = true, authorizer_id = "abc123" }
    functions = { connect = { timeout = 30 } }
  }

  expect_failures = [var.functions]
}

run "reserved_concurrency_below_minus_one" {
  command = plan

  variables {
    connect   = { enabled = true, authorizer_id = "abc123" }
    functions = { connect = { reserved_concurrent_executions = -2 } }
  }

  expect_failures = [var.functions]
}

run "reserved_concurrency_zero_would_refuse_every_handshake" {
  command = plan

  variables {
    connect   = { enabled = true, authorizer_id = "abc123" }
    functions = { connect = { reserved_concurrent_executions = 0 } }
  }

  expect_failures = [var.functions]
}
