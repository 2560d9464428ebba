# Optional settings: KMS keys, tracing, role path and boundary, tags, route ownership, dashboard,
# logging of client addresses, sizing.

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

run "keys_tracing_role_and_tags" {
  variables {
    name                      = "rem-prod"
    table                     = { kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/1111-2222", point_in_time_recovery = false }
    lambda_kms_key_arn        = "arn:aws:kms:eu-west-1:123456789012:key/3333"
    log_kms_key_arn           = "arn:aws:kms:eu-west-1:123456789012:key/4444"
    log_retention_in_days     = 365
    tracing_mode              = "Active"
    role_path                 = "/remediation/"
    role_permissions_boundary = "arn:aws:iam::123456789012:policy/boundary"
    tags                      = { Team = "platform", CostCenter = "42" }
    functions                 = { disconnect = { memory_size = 256, timeout = 6 } }
    log_client_address        = true
  }

  assert {
    condition     = aws_dynamodb_table.this[0].server_side_encryption[0].kms_key_arn == "arn:aws:kms:eu-west-1:123456789012:key/1111-2222" && !aws_dynamodb_table.this[0].point_in_time_recovery[0].enabled
    error_message = "The table uses the given key; PITR can be turned off."
  }

  assert {
    condition = contains(jsondecode(output.iam_policies.disconnect).Statement, {
      Sid = "DecryptTableKey", Effect = "Allow", Action = ["kms:Decrypt"], Resource = ["arn:aws:kms:eu-west-1:123456789012:key/1111-2222"]
      Condition = { StringEquals = {
        "kms:ViaService"                               = ["dynamodb.eu-west-1.amazonaws.com"]
        "kms:EncryptionContext:aws:dynamodb:tableName" = ["rem-prod-connections"]
      } }
      }) && contains(jsondecode(output.iam_policies.disconnect).Statement, {
      Sid       = "DescribeTableKey", Effect = "Allow", Action = ["kms:DescribeKey"], Resource = ["arn:aws:kms:eu-west-1:123456789012:key/1111-2222"]
      Condition = { StringEquals = { "kms:ViaService" = ["dynamodb.eu-west-1.amazonaws.com"] } }
    }) && strcontains(output.iam_policies.sweeper, "DecryptTableKey")
    error_message = "With a customer-managed table key both roles may decrypt it, through DynamoDB only and for the module's table only (DescribeKey carries no encryption context: a statement of its own)."
  }

  assert {
    condition     = contains(jsondecode(output.iam_policies.disconnect).Statement, { Sid = "WriteTraces", Effect = "Allow", Action = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], Resource = ["*"] })
    error_message = "Active tracing grants the X-Ray write actions."
  }

  assert {
    condition = alltrue([for fn in [module.disconnect_function.configuration, module.sweeper_function[0].configuration] :
      fn.tracing_mode == "Active" && fn.kms_key_arn == "arn:aws:kms:eu-west-1:123456789012:key/3333" && fn.role_path == "/remediation/" &&
      fn.role_permissions_boundary == "arn:aws:iam::123456789012:policy/boundary" && fn.log_retention_in_days == 365 &&
      fn.log_kms_key_arn == "arn:aws:kms:eu-west-1:123456789012:key/4444" && fn.tags == tomap({ Team = "platform", CostCenter = "42" })
    ])
    error_message = "Function, role and log settings apply to both functions."
  }

  assert {
    condition     = module.disconnect_function.configuration.memory_size == 256 && module.disconnect_function.configuration.timeout == 6 && module.sweeper_function[0].configuration.memory_size == 256
    error_message = "functions.disconnect sizes the disconnect function; the sweeper keeps its own (256 MB default)."
  }

  assert {
    condition     = aws_dynamodb_table.this[0].tags == tomap({ Team = "platform", CostCenter = "42" }) && aws_cloudwatch_event_rule.sweeper[0].tags == tomap({ Team = "platform", CostCenter = "42" })
    error_message = "Tags reach every resource."
  }

  assert {
    condition     = output.function_environment.disconnect.LOG_CLIENT_ADDRESS == "true" && output.table_name == "rem-prod-connections" && output.sweeper_function_name == "rem-prod-sweeper"
    error_message = "Names derive from var.name; client address logging is opt-in."
  }

  assert {
    condition     = output.metrics_namespace == "Remediation/rem-prod" && output.function_environment.disconnect.METRICS_NAMESPACE == "Remediation/rem-prod" && output.function_environment.sweeper.METRICS_NAMESPACE == "Remediation/rem-prod"
    error_message = "The default metrics namespace is Remediation/<name>: two deployments in one account never mix their metrics."
  }
}

run "route_managed_elsewhere" {
  variables {
    create_route = false
  }

  assert {
    condition     = length(aws_apigatewayv2_route.disconnect) == 0 && output.route_id == null && output.integration_id == aws_apigatewayv2_integration.disconnect.id
    error_message = "Without create_route the integration (and its permission) still exist for the caller's route."
  }
}

run "dashboard_and_namespace" {
  variables {
    create_dashboard  = true
    metrics_namespace = "Acme/Remediation"
    alarms            = { enabled = false }
  }

  assert {
    condition     = output.dashboard_name == "remediation-disconnect" && strcontains(aws_cloudwatch_dashboard.this[0].dashboard_body, "\"Acme/Remediation\"") && !strcontains(aws_cloudwatch_dashboard.this[0].dashboard_body, "agent offline")
    error_message = "The dashboard charts the namespace's metrics (the presence widgets only with presence)."
  }

  assert {
    condition = [for widget in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : [widget.properties.title, widget.x, widget.y, widget.width]] == [
      ["Disconnects by client type", 0, 0, 8], ["Active connections (each complete sweep)", 8, 0, 8], ["Stale connections removed by the sweeper", 16, 0, 8],
      ["Connection duration (seconds, p50 / p90)", 0, 6, 8], ["Errors", 8, 6, 8],
    ]
    error_message = "Without presence the dashboard keeps its five metric widgets, three to a row."
  }

  assert {
    condition     = output.function_environment.disconnect.METRICS_NAMESPACE == "Acme/Remediation" && output.alarm_arns == { disconnect = {}, sweeper = {} }
    error_message = "The namespace reaches the functions; alarms can be turned off."
  }
}

run "alarm_actions" {
  variables {
    alarms = {
      alarm_actions      = ["arn:aws:sns:eu-west-1:123456789012:oncall"]
      ok_actions         = ["arn:aws:sns:eu-west-1:123456789012:oncall"]
      period             = 60
      evaluation_periods = 3
      threshold          = 2
    }
  }

  assert {
    condition     = length(output.alarm_arns.disconnect) == 2 && length(output.alarm_arns.sweeper) == 1
    error_message = "Three alarms with actions."
  }
}

run "non_websocket_api_is_refused" {
  command = plan

  override_data {
    target = data.aws_apigatewayv2_api.this
    values = {
      execution_arn = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5"
      api_endpoint  = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"
      protocol_type = "HTTP"
    }
  }

  expect_failures = [data.aws_apigatewayv2_api.this]
}

run "account_comes_from_sts_not_from_the_api_arn" {
  # A provider configured with skip_requesting_account_id builds execution ARNs without the account.
  override_data {
    target = data.aws_apigatewayv2_api.this
    values = {
      execution_arn = "arn:aws:execute-api:eu-west-1::a1b2c3d4e5"
      api_endpoint  = "wss://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"
      protocol_type = "WEBSOCKET"
    }
  }

  assert {
    condition     = aws_lambda_permission.disconnect.source_arn == "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/*/$disconnect"
    error_message = "The permission's source ARN must carry the account even when the API's execution_arn does not."
  }
}
