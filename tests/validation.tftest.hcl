# Every validation block refuses a wrong value with its own message, before anything is planned.
# Each run violates exactly one rule of one variable.

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

run "name_with_spaces" {
  command = plan

  variables {
    name = "has spaces"
  }

  expect_failures = [var.name]
}

run "name_too_long" {
  command = plan

  variables {
    name = "a234567890123456789012345678901234567890123456789"
  }

  expect_failures = [var.name]
}

run "tag_key_reserved" {
  command = plan

  variables {
    tags = { "aws:owner" = "x" }
  }

  expect_failures = [var.tags]
}

run "api_id_is_an_arn" {
  command = plan

  variables {
    api_id = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5"
  }

  expect_failures = [var.api_id]
}

run "deployment_description_too_long" {
  command = plan

  variables {
    deployment = { enabled = true, description = format("%01025d", 0) }
  }

  expect_failures = [var.deployment]
}

run "stage_name_with_slash" {
  command = plan

  variables {
    stage_name = "prod/v1"
  }

  expect_failures = [var.stage_name]
}

run "table_name_is_an_arn" {
  command = plan

  variables {
    table_name = "arn:aws:dynamodb:eu-west-1:123456789012:table/x"
  }

  expect_failures = [var.table_name]
}

run "billing_mode_unknown" {
  command = plan

  variables {
    table = { billing_mode = "ON_DEMAND" }
  }

  expect_failures = [var.table]
}

run "capacity_fractional" {
  command = plan

  variables {
    table = { billing_mode = "PROVISIONED", read_capacity = 2.5 }
  }

  expect_failures = [var.table]
}

run "table_key_not_kms" {
  command = plan

  variables {
    table = { kms_key_arn = "arn:aws:s3:::bucket" }
  }

  expect_failures = [var.table]
}

run "ttl_attribute_is_the_key" {
  command = plan

  variables {
    ttl_attribute = "connectionId"
  }

  expect_failures = [var.ttl_attribute]
}

run "grace_negative" {
  command = plan

  variables {
    connection_grace_seconds = -1
  }

  expect_failures = [var.connection_grace_seconds]
}

run "runtime_not_python" {
  command = plan

  variables {
    runtime = "nodejs20.x"
  }

  expect_failures = [var.runtime]
}

run "runtime_python37" {
  command = plan

  variables {
    runtime = "python3.7"
  }

  expect_failures = [var.runtime]
}

run "memory_too_small" {
  command = plan

  variables {
    functions = { disconnect = { memory_size = 64 } }
  }

  expect_failures = [var.functions]
}

run "timeout_too_long" {
  command = plan

  variables {
    functions = { disconnect = { timeout = 901 } }
  }

  expect_failures = [var.functions]
}

run "reserved_concurrency_below_minus_one" {
  command = plan

  variables {
    functions = { disconnect = { reserved_concurrent_executions = -2 } }
  }

  expect_failures = [var.functions]
}

run "tracing_mode_unknown" {
  command = plan

  variables {
    tracing_mode = "On"
  }

  expect_failures = [var.tracing_mode]
}

run "lambda_key_not_kms" {
  command = plan

  variables {
    lambda_kms_key_arn = "alias/aws/lambda"
  }

  expect_failures = [var.lambda_kms_key_arn]
}

run "log_level_unknown" {
  command = plan

  variables {
    log_level = "TRACE"
  }

  expect_failures = [var.log_level]
}

run "log_retention_not_allowed" {
  command = plan

  variables {
    log_retention_in_days = 10
  }

  expect_failures = [var.log_retention_in_days]
}

run "log_key_not_kms" {
  command = plan

  variables {
    log_kms_key_arn = "key-id"
  }

  expect_failures = [var.log_kms_key_arn]
}

run "role_path_without_slashes" {
  command = plan

  variables {
    role_path = "remediation"
  }

  expect_failures = [var.role_path]
}

run "boundary_not_a_policy" {
  command = plan

  variables {
    role_permissions_boundary = "arn:aws:iam::123456789012:role/x"
  }

  expect_failures = [var.role_permissions_boundary]
}

run "sweeper_rate_beyond_a_day" {
  command = plan

  variables {
    sweeper = { rate_minutes = 1441 }
  }

  expect_failures = [var.sweeper]
}

run "sweeper_probe_concurrency_too_high" {
  command = plan

  variables {
    sweeper = { probe_concurrency = 100 }
  }

  expect_failures = [var.sweeper]
}

run "sweeper_probe_endpoint_not_url" {
  command = plan

  variables {
    sweeper = { probe_endpoint = "ws.example.com" }
  }

  expect_failures = [var.sweeper]
}

run "sweeper_segments_zero" {
  command = plan

  variables {
    sweeper = { scan_segments = 0 }
  }

  expect_failures = [var.sweeper]
}

run "sweeper_reserved_concurrency_below_minus_one" {
  command = plan

  variables {
    functions = { sweeper = { reserved_concurrent_executions = -5 } }
  }

  expect_failures = [var.functions]
}

run "namespace_reserved" {
  command = plan

  variables {
    metrics_namespace = "AWS/Lambda"
  }

  expect_failures = [var.metrics_namespace]
}

run "alarm_action_not_arn" {
  command = plan

  variables {
    alarms = { alarm_actions = ["oncall-topic"] }
  }

  expect_failures = [var.alarms]
}

run "alarm_period_not_minute_multiple" {
  command = plan

  variables {
    alarms = { period = 90 }
  }

  expect_failures = [var.alarms]
}

run "alarm_evaluation_periods_zero" {
  command = plan

  variables {
    alarms = { evaluation_periods = 0 }
  }

  expect_failures = [var.alarms]
}

run "presence_table_name_is_an_arn" {
  command = plan

  variables {
    presence = { table_name = "arn:aws:dynamodb:eu-west-1:123456789012:table/p" }
  }

  expect_failures = [var.presence]
}

run "presence_grace_beyond_sqs_delay" {
  command = plan

  variables {
    presence = { grace_seconds = 901 }
  }

  expect_failures = [var.presence]
}

run "presence_grace_fractional" {
  command = plan

  variables {
    presence = { grace_seconds = 2.5 }
  }

  expect_failures = [var.presence]
}

run "presence_probe_interval_too_short" {
  command = plan

  variables {
    presence = { probe_interval_seconds = 29 }
  }

  expect_failures = [var.presence]
}

run "presence_probe_interval_beyond_sqs_delay" {
  command = plan

  variables {
    presence = { probe_interval_seconds = 901 }
  }

  expect_failures = [var.presence]
}

run "presence_reconcile_zero" {
  command = plan

  variables {
    presence = { reconcile_minutes = 0 }
  }

  expect_failures = [var.presence]
}

run "presence_reconcile_beyond_an_hour" {
  command = plan

  variables {
    presence = { reconcile_minutes = 61 }
  }

  expect_failures = [var.presence]
}

run "heartbeat_route_key_reserved" {
  command = plan

  variables {
    presence = { heartbeat = { route_key = "$default" } }
  }

  expect_failures = [var.presence]
}

run "heartbeat_route_key_with_space" {
  command = plan

  variables {
    presence = { heartbeat = { route_key = "heart beat" } }
  }

  expect_failures = [var.presence]
}

run "heartbeat_interval_zero" {
  command = plan

  variables {
    presence = { heartbeat = { interval_seconds = 0, timeout_seconds = 10 } }
  }

  expect_failures = [var.presence]
}

run "heartbeat_interval_beyond_idle_timeout" {
  command = plan

  variables {
    presence = { heartbeat = { interval_seconds = 301, timeout_seconds = 800 } }
  }

  expect_failures = [var.presence]
}

run "heartbeat_timeout_below_two_intervals" {
  command = plan

  variables {
    presence = { heartbeat = { interval_seconds = 30, timeout_seconds = 59 } }
  }

  expect_failures = [var.presence]
}

run "heartbeat_timeout_beyond_sqs_delay" {
  command = plan

  variables {
    presence = { heartbeat = { interval_seconds = 30, timeout_seconds = 900 } }
  }

  expect_failures = [var.presence]
}

run "events_source_reserved" {
  command = plan

  variables {
    presence = { events = { source = "aws.remediation" } }
  }

  expect_failures = [var.presence]
}

run "events_source_with_space" {
  command = plan

  variables {
    presence = { events = { source = "remediation websocket" } }
  }

  expect_failures = [var.presence]
}

run "events_bus_name_with_create_bus" {
  command = plan

  variables {
    presence = { events = { create_bus = true, bus_name = "central" } }
  }

  expect_failures = [var.presence]
}

run "events_existing_bus_without_name" {
  command = plan

  variables {
    presence = { enabled = true, events = { create_bus = false } }
  }

  expect_failures = [var.presence]
}

run "events_bus_name_not_a_name_or_arn" {
  command = plan

  variables {
    presence = { events = { create_bus = false, bus_name = "my bus" } }
  }

  expect_failures = [var.presence]
}

run "presence_probe_endpoint_plain_http" {
  command = plan

  variables {
    presence = { probe_endpoint = "http://example.com/live" }
  }

  expect_failures = [var.presence]
}

run "checker_timeout_too_long" {
  command = plan

  variables {
    functions = { presence = { timeout = 901 } }
  }

  expect_failures = [var.functions]
}

run "announcer_memory_too_small" {
  command = plan

  variables {
    functions = { events = { memory_size = 64 } }
  }

  expect_failures = [var.functions]
}

run "checker_reserved_concurrency_zero" {
  command = plan

  variables {
    functions = { presence = { reserved_concurrent_executions = 0 } }
  }

  expect_failures = [var.functions]
}

run "presence_parallelization_beyond_ten" {
  command = plan

  variables {
    presence = { announcer = { parallelization_factor = 11 } }
  }

  expect_failures = [var.presence]
}

run "presence_retries_infinite" {
  command = plan

  variables {
    presence = { announcer = { maximum_retry_attempts = -1 } }
  }

  expect_failures = [var.presence]
}

run "identity_unknown" {
  command = plan

  variables {
    connect = { enabled = true, identity = "cognito" }
  }

  expect_failures = [var.connect]
}

run "identity_authorizer_without_authorizer_id" {
  command = plan

  variables {
    connect = { enabled = true, identity = "authorizer" }
  }

  expect_failures = [var.connect]
}

run "authorizer_id_with_iam_identity" {
  command = plan

  variables {
    connect = { enabled = true, identity = "iam", authorizer_id = "abc123", iam = { agent_role_arns = ["arn:aws:iam::123456789012:role/agents"] } }
  }

  expect_failures = [var.connect]
}

run "authorizer_id_with_query_string_identity" {
  command = plan

  variables {
    connect = { enabled = true, identity = "query_string_insecure", authorizer_id = "abc123" }
  }

  expect_failures = [var.connect]
}

run "iam_roles_without_iam_identity" {
  command = plan

  variables {
    connect = { enabled = true, authorizer_id = "abc123", iam = { agent_role_arns = ["arn:aws:iam::123456789012:role/agents"] } }
  }

  expect_failures = [var.connect]
}

run "iam_identity_without_roles" {
  command = plan

  variables {
    connect = { enabled = true, identity = "iam" }
  }

  expect_failures = [var.connect]
}

run "iam_role_is_a_session_arn" {
  command = plan

  variables {
    connect = { enabled = true, identity = "iam", iam = { agent_role_arns = ["arn:aws:sts::123456789012:assumed-role/agents/agent-7"] } }
  }

  expect_failures = [var.connect]
}

run "iam_role_name_with_comma" {
  command = plan

  variables {
    connect = { enabled = true, identity = "iam", iam = { agent_role_arns = ["arn:aws:iam::123456789012:role/a,b"] } }
  }

  expect_failures = [var.connect]
}

run "iam_role_in_both_lists" {
  command = plan

  variables {
    connect = { enabled = true, identity = "iam", iam = { agent_role_arns = ["arn:aws:iam::123456789012:role/x"], dashboard_role_arns = ["arn:aws:iam::123456789012:role/x"] } }
  }

  expect_failures = [var.connect]
}

run "iam_roles_beyond_the_environment_limit" {
  command = plan

  variables {
    connect = { enabled = true, identity = "iam", iam = { agent_role_arns = [for i in range(40) : "arn:aws:iam::123456789012:role/remediation-agents-of-fleet-number-${i}"] } }
  }

  expect_failures = [var.connect]
}

run "iam_agent_users_named_after_their_role" {
  command = plan

  variables {
    connect = { enabled = true, identity = "iam", iam = { agent_role_arns = ["arn:aws:iam::123456789012:user/agent-7"] } }
  }

  expect_failures = [var.connect]
}

run "iam_agent_roles_with_user_name" {
  command = plan

  variables {
    connect = { enabled = true, identity = "iam", iam = { agent_role_arns = ["arn:aws:iam::123456789012:role/agents"], agent_id_from = "user_name" } }
  }

  expect_failures = [var.connect]
}

run "iam_agent_id_from_unknown" {
  command = plan

  variables {
    connect = { enabled = true, identity = "iam", iam = { agent_role_arns = ["arn:aws:iam::123456789012:role/agents"], agent_id_from = "tag" } }
  }

  expect_failures = [var.connect]
}

run "agent_id_pattern_does_not_compile" {
  command = plan

  variables {
    connect = { enabled = true, authorizer_id = "abc123", agent_id_pattern = "agent-(" }
  }

  expect_failures = [var.connect]
}

run "agent_id_pattern_with_lookahead" {
  command = plan

  variables {
    connect = { enabled = true, authorizer_id = "abc123", agent_id_pattern = "(?=agent)agent-[0-9]+" }
  }

  expect_failures = [var.connect]
}

run "agent_id_pattern_empty" {
  command = plan

  variables {
    connect = { enabled = true, authorizer_id = "abc123", agent_id_pattern = "" }
  }

  expect_failures = [var.connect]
}
