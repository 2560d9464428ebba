# sweeper: toggle, rate, probing (stage, endpoint, ManageConnections scope), bounds.

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

run "disabled" {
  variables {
    sweeper = { enabled = false }
  }

  assert {
    condition     = length(module.sweeper_function) == 0 && length(aws_cloudwatch_event_rule.sweeper) == 0 && length(aws_cloudwatch_event_target.sweeper) == 0 && length(aws_lambda_permission.sweeper) == 0 && length(aws_lambda_function_event_invoke_config.sweeper) == 0
    error_message = "A disabled sweeper creates nothing."
  }

  assert {
    condition     = output.sweeper_function_name == null && output.sweeper_schedule_rule_arn == null && keys(output.iam_policies) == ["disconnect"] && keys(output.alarm_arns) == ["disconnect"]
    error_message = "Sweeper outputs are null and absent from the maps when disabled."
  }
}

run "every_minute" {
  variables {
    sweeper   = { rate_minutes = 1 }
    functions = { sweeper = { timeout = 50 } }
  }

  assert {
    condition     = aws_cloudwatch_event_rule.sweeper[0].schedule_expression == "rate(1 minute)"
    error_message = "rate(1 minute) is singular."
  }

  assert {
    condition     = aws_lambda_function_event_invoke_config.sweeper[0].maximum_event_age_in_seconds == 60
    error_message = "A queued sweep older than one period is dropped."
  }
}

run "probing_scoped_to_the_stage" {
  variables {
    stage_name = "live"
    sweeper = {
      probe_connections     = true
      probe_min_age_seconds = 900
      probe_concurrency     = 4
      scan_segments         = 8
      max_items_per_run     = 20000
    }
    functions = { sweeper = { memory_size = 512, timeout = 240 } }
  }

  assert {
    condition     = contains(jsondecode(output.iam_policies.sweeper).Statement, { Sid = "ProbeConnections", Effect = "Allow", Action = ["execute-api:ManageConnections"], Resource = ["arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/live/GET/@connections/*"] })
    error_message = "Probing may only GET @connections of this API's stage."
  }

  assert {
    condition     = !strcontains(output.iam_policies.disconnect, "execute-api")
    error_message = "The disconnect function never manages connections."
  }

  assert {
    condition     = output.function_environment.sweeper.SWEEP_PROBE_ENDPOINT == "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/live"
    error_message = "The probe endpoint is the stage's @connections URL, derived from the API endpoint."
  }

  assert {
    condition = (
      output.function_environment.sweeper.SWEEP_PROBE_MIN_AGE_SECONDS == "900" && output.function_environment.sweeper.SWEEP_PROBE_CONCURRENCY == "4" &&
      output.function_environment.sweeper.SWEEP_SCAN_SEGMENTS == "8" && output.function_environment.sweeper.SWEEP_MAX_ITEMS == "20000" &&
      module.sweeper_function[0].configuration.memory_size == 512 && module.sweeper_function[0].configuration.timeout == 240
    )
    error_message = "Sweeper settings reach the function."
  }
}

run "probe_endpoint_override" {
  variables {
    stage_name = "live"
    sweeper    = { probe_connections = true, probe_endpoint = "https://ws.example.com/live" }
  }

  assert {
    condition     = output.function_environment.sweeper.SWEEP_PROBE_ENDPOINT == "https://ws.example.com/live"
    error_message = "An explicit probe endpoint wins (e.g. when the execute-api endpoint is disabled)."
  }
}

run "probing_needs_a_stage" {
  command = plan

  variables {
    sweeper = { probe_connections = true }
  }

  expect_failures = [aws_cloudwatch_event_rule.sweeper]
}

# A run must end before the next one starts: functions.sweeper.timeout against sweeper.rate_minutes,
# two inputs, hence a precondition (variable validations see other variables only from Terraform 1.9).
run "timeout_longer_than_the_period" {
  command = plan

  variables {
    sweeper   = { rate_minutes = 1 }
    functions = { sweeper = { timeout = 60 } }
  }

  expect_failures = [aws_cloudwatch_event_rule.sweeper]
}

run "timeout_within_the_period_by_default" {
  command = plan

  variables {
    sweeper = { rate_minutes = 3 }
  }

  assert {
    condition     = module.sweeper_function[0].configuration.timeout == 120 && aws_cloudwatch_event_rule.sweeper[0].schedule_expression == "rate(3 minutes)"
    error_message = "The default 120 s timeout fits a 3-minute schedule."
  }
}
