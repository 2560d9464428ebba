# Values that Terraform's own checks and moto accept but real AWS refuses or silently mishandles
# (issue 9). Each run pins one rule; none of them failed on the module before these validations.

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

# IAM matches kms:Decrypt against key ARNs: an alias ARN in the statement's Resource denies every call.
run "table_kms_key_given_as_alias_arn" {
  command = plan

  variables {
    table = { kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:alias/remediation" }
  }

  expect_failures = [var.table]
}

run "lambda_kms_key_given_as_alias_arn" {
  command = plan

  variables {
    lambda_kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:alias/remediation"
  }

  expect_failures = [var.lambda_kms_key_arn]
}

run "log_kms_key_given_as_alias_arn" {
  command = plan

  variables {
    log_kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:alias/remediation"
  }

  expect_failures = [var.log_kms_key_arn]
}

run "table_kms_key_id_with_a_path" {
  command = plan

  variables {
    table = { kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab/extra" }
  }

  expect_failures = [var.table]
}

# CreateFunction refuses descriptions over 256 characters; a 200-character table name is valid.
run "long_table_name_keeps_descriptions_within_limits" {
  variables {
    table_name = "t2345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890"
    connect    = { enabled = true, authorizer_id = "abc123" }
  }

  assert {
    condition     = length(var.table_name) == 200 && output.table_name == var.table_name
    error_message = "The 200-character table name is used as given."
  }

  assert {
    condition     = length(aws_apigatewayv2_integration.disconnect.description) <= 256
    error_message = "The integration's description stays within 256 characters."
  }

  assert {
    condition     = length(module.disconnect_function.configuration.description) <= 256
    error_message = "The function's description stays within Lambda's 256 characters."
  }

  assert {
    condition = alltrue([
      length(module.connect_function[0].configuration.description) <= 256,
      length(aws_apigatewayv2_integration.connect[0].description) <= 256,
      endswith(module.connect_function[0].configuration.description, "in its connections table"),
    ])
    error_message = "The $connect function's and integration's descriptions stay within 256 characters too."
  }
}

# AWS/Lambda metrics are per minute: 10 s and 30 s alarms never leave INSUFFICIENT_DATA.
run "alarm_period_10_seconds" {
  command = plan

  variables {
    alarms = { period = 10 }
  }

  expect_failures = [var.alarms]
}

run "alarm_period_30_seconds" {
  command = plan

  variables {
    alarms = { period = 30 }
  }

  expect_failures = [var.alarms]
}

# PutMetricAlarm: period * evaluation_periods <= 86400 for periods under an hour.
run "alarm_evaluation_range_over_a_day" {
  command = plan

  variables {
    alarms = { period = 300, evaluation_periods = 289 }
  }

  expect_failures = [var.alarms]
}

run "alarm_evaluation_range_of_exactly_a_day" {
  command = plan

  variables {
    alarms = { period = 300, evaluation_periods = 288, alarm_actions = ["arn:aws:sns:eu-west-1:123456789012:oncall"] }
  }

  assert {
    condition     = length(output.alarm_arns.disconnect) == 2
    error_message = "One day of 5-minute periods is accepted."
  }
}

run "alarm_evaluation_range_over_seven_days" {
  command = plan

  variables {
    alarms = { period = 3600, evaluation_periods = 169 }
  }

  expect_failures = [var.alarms]
}

# Reserved concurrency 0 throttles every invocation.
run "disconnect_reserved_concurrency_zero" {
  command = plan

  variables {
    functions = { disconnect = { reserved_concurrent_executions = 0 } }
  }

  expect_failures = [var.functions]
}

run "sweeper_reserved_concurrency_zero" {
  command = plan

  variables {
    functions = { sweeper = { reserved_concurrent_executions = 0 } }
  }

  expect_failures = [var.functions]
}

# The @connections API is TLS only, and the URL lands in the sweeper's 4 KB environment.
run "sweeper_probe_endpoint_plain_http" {
  command = plan

  variables {
    sweeper = { probe_connections = true, probe_endpoint = "http://ws.example.com/live" }
  }

  expect_failures = [var.sweeper]
}

run "sweeper_probe_endpoint_plain_http_only_on_loopback" {
  command = plan

  variables {
    stage_name = "live"
    sweeper    = { probe_connections = true, probe_endpoint = "http://127.0.0.1:56743/live" }
  }

  assert {
    condition     = output.function_environment.sweeper.SWEEP_PROBE_ENDPOINT == "http://127.0.0.1:56743/live"
    error_message = "A local API Gateway emulator on loopback may be probed over plain http (make demo, e2e)."
  }
}

run "sweeper_probe_endpoint_too_long" {
  command = plan

  variables {
    sweeper = { probe_connections = true, probe_endpoint = "https://ws.example.com/${join("", [for i in range(100) : "segment-${i}/"])}" }
  }

  expect_failures = [var.sweeper]
}

# IAM role names are global to the account: "<function>-<region>", within IAM's 64 characters.
run "role_names_per_region_within_iam_limit" {
  command = plan

  variables {
    name = "a23456789012345678901234567890123456789012345678"
  }

  assert {
    condition     = output.role_name == "${var.name}-eu-west-1"
    error_message = "The handler's role is named after the function and the region."
  }

  assert {
    condition = (
      length(module.sweeper_function[0].role_name) == 64 &&
      startswith(module.sweeper_function[0].role_name, substr(var.name, 0, 45)) &&
      endswith(module.sweeper_function[0].role_name, "-eu-west-1") &&
      module.sweeper_function[0].role_name != "${substr("${var.name}-sweeper", 0, 54)}-eu-west-1"
    )
    error_message = "A sweeper role name that would exceed 64 characters keeps its start, a hash and the region, within 64 characters."
  }
}
