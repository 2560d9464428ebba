# The object inputs (table, deployment, sweeper, alarms, connect, presence, functions) are `type = any`
# and converted to their object types by modules/settings (variables.tf, "Object inputs"). Here:
# - every attribute at every level is accepted and reaches the module unchanged (a name missing from
#   a validation list would be refused; one missing from the object type in modules/settings dropped),
# - omitted inputs get the defaults the descriptions document,
# - each names rule (each nesting level) and each types rule refuses what it is about.
# tests/validation/test_object_inputs.py probes every path and every attribute through a consumer's
# `terraform validate` (scripts/input_probes.py).

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  api_id  = "a1b2c3d4e5"
  runtime = "python3.8"

  # With alarm_actions, as a real stack has: alarms notifying nobody fail check alarms_notify_someone,
  # a warning on plan but a failed run in terraform test.
  alarms = { alarm_actions = ["arn:aws:sns:eu-west-1:123456789012:oncall"] }
}

run "defaults_as_documented" {
  command = plan

  variables {
    alarms = {}
  }

  expect_failures = [check.alarms_notify_someone]

  assert {
    condition = jsonencode(module.settings.table) == jsonencode({
      billing_mode = "PAY_PER_REQUEST", read_capacity = 5, write_capacity = 5, point_in_time_recovery = true, kms_key_arn = null
    })
    error_message = "table defaults: ${jsonencode(module.settings.table)}"
  }

  assert {
    condition     = jsonencode(module.settings.deployment) == jsonencode({ enabled = false, description = "Remediation WebSocket $disconnect route", triggers = {} })
    error_message = "deployment defaults: ${jsonencode(module.settings.deployment)}"
  }

  assert {
    condition = jsonencode(module.settings.sweeper) == jsonencode({
      enabled        = true, rate_minutes = 5, probe_connections = false, probe_min_age_seconds = 600, probe_concurrency = 8,
      probe_endpoint = null, max_items_per_run = 100000, scan_segments = 1
    })
    error_message = "sweeper defaults: ${jsonencode(module.settings.sweeper)}"
  }

  assert {
    condition = jsonencode(module.settings.alarms) == jsonencode({
      enabled = true, alarm_actions = [], ok_actions = [], period = 300, evaluation_periods = 1, threshold = 1
    })
    error_message = "alarms defaults: ${jsonencode(module.settings.alarms)}"
  }

  assert {
    condition = jsonencode(module.settings.connect) == jsonencode({
      enabled = false, identity = "authorizer", authorizer_id = null,
      iam     = { agent_role_arns = [], dashboard_role_arns = [], agent_id_from = "session_name" },
    agent_id_pattern = null, client_type_key = "clientType", agent_id_key = "agentId" })
    error_message = "connect defaults: ${jsonencode(module.settings.connect)}"
  }

  assert {
    condition = jsonencode(module.settings.presence) == jsonencode({
      enabled        = false, table_name = null, grace_seconds = 20, probe_interval_seconds = 300, reconcile_minutes = 1,
      heartbeat      = { enabled = false, route_key = "heartbeat", interval_seconds = 30, timeout_seconds = 75 },
      events         = { enabled = true, create_bus = true, bus_name = null, source = "remediation.websocket" },
      probe_endpoint = null,
      announcer      = { parallelization_factor = 1, maximum_retry_attempts = 10 },
    })
    error_message = "presence defaults: ${jsonencode(module.settings.presence)}"
  }

  assert {
    condition = jsonencode(module.settings.functions) == jsonencode({
      disconnect = { memory_size = 128, timeout = 10, reserved_concurrent_executions = -1 },
      connect    = { memory_size = 128, timeout = 10, reserved_concurrent_executions = -1 },
      sweeper    = { memory_size = 256, timeout = 120, reserved_concurrent_executions = -1 },
      presence   = { memory_size = 128, timeout = 30, reserved_concurrent_executions = -1 },
      events     = { memory_size = 128, timeout = 30, reserved_concurrent_executions = -1 },
    })
    error_message = "functions defaults: ${jsonencode(module.settings.functions)}"
  }
}

# Every attribute set, at every level, to a value other than its default: each must be accepted (by
# the names, types and value rules) and kept (by the object type of modules/settings).
run "every_attribute_is_accepted_and_kept" {
  command = plan

  variables {
    stage_name = "live"
    table = {
      billing_mode = "PROVISIONED", read_capacity = 3, write_capacity = 4, point_in_time_recovery = false
      kms_key_arn  = "arn:aws:kms:eu-west-1:123456789012:key/1111-2222"
    }
    deployment = { enabled = true, description = "redeploy", triggers = { routes = "r1" } }
    sweeper = {
      enabled        = true, rate_minutes = 10, probe_connections = true, probe_min_age_seconds = 300, probe_concurrency = 4
      probe_endpoint = "https://example.com/live", max_items_per_run = 5000, scan_segments = 2
    }
    alarms = {
      enabled       = true, period = 60, evaluation_periods = 2, threshold = 3
      alarm_actions = ["arn:aws:sns:eu-west-1:123456789012:oncall"], ok_actions = ["arn:aws:sns:eu-west-1:123456789012:ok"]
    }
    connect = {
      enabled          = true, identity = "authorizer", authorizer_id = "abc123"
      iam              = { agent_role_arns = [], dashboard_role_arns = [], agent_id_from = "role_name" }
      agent_id_pattern = "agent-[0-9]{1,6}", client_type_key = "ct", agent_id_key = "aid"
    }
    presence = {
      enabled        = true, table_name = "rem-agents", grace_seconds = 30, probe_interval_seconds = 60, reconcile_minutes = 2
      heartbeat      = { enabled = true, route_key = "hb", interval_seconds = 10, timeout_seconds = 30 }
      events         = { enabled = true, create_bus = false, bus_name = "default", source = "acme.remediation" }
      probe_endpoint = "https://example.com/live"
      announcer      = { parallelization_factor = 2, maximum_retry_attempts = 5 }
    }
    functions = {
      disconnect = { memory_size = 192, timeout = 6, reserved_concurrent_executions = 10 }
      connect    = { memory_size = 160, timeout = 7, reserved_concurrent_executions = 11 }
      sweeper    = { memory_size = 512, timeout = 300, reserved_concurrent_executions = 1 }
      presence   = { memory_size = 224, timeout = 20, reserved_concurrent_executions = 12 }
      events     = { memory_size = 320, timeout = 25, reserved_concurrent_executions = 13 }
    }
  }

  assert {
    condition = alltrue([
      jsonencode(module.settings.table) == jsonencode(var.table),
      jsonencode(module.settings.deployment) == jsonencode(var.deployment),
      jsonencode(module.settings.sweeper) == jsonencode(var.sweeper),
      jsonencode(module.settings.alarms) == jsonencode(var.alarms),
      jsonencode(module.settings.connect) == jsonencode(var.connect),
      jsonencode(module.settings.presence) == jsonencode(var.presence),
      jsonencode(module.settings.functions) == jsonencode(var.functions),
    ])
    error_message = "An attribute was dropped or changed on the way through modules/settings: ${jsonencode(module.settings)}"
  }

  assert {
    condition = alltrue([
      module.disconnect_function.configuration.memory_size == 192, module.disconnect_function.configuration.timeout == 6,
      module.disconnect_function.configuration.reserved_concurrent_executions == 10,
      module.connect_function[0].configuration.memory_size == 160, module.connect_function[0].configuration.timeout == 7,
      module.connect_function[0].configuration.reserved_concurrent_executions == 11,
      module.sweeper_function[0].configuration.memory_size == 512, module.sweeper_function[0].configuration.timeout == 300,
      module.sweeper_function[0].configuration.reserved_concurrent_executions == 1,
      module.presence_function[0].configuration.memory_size == 224, module.presence_function[0].configuration.timeout == 20,
      module.presence_function[0].configuration.reserved_concurrent_executions == 12,
      module.events_function[0].configuration.memory_size == 320, module.events_function[0].configuration.timeout == 25,
      module.events_function[0].configuration.reserved_concurrent_executions == 13,
    ])
    error_message = "Each function takes its memory, timeout and reserved concurrency from its own functions.<name>."
  }
}

# What Terraform's own conversion accepts is still accepted: "7" for 7, "false" for false.
run "convertible_strings_are_converted" {
  command = plan

  variables {
    sweeper   = { enabled = "false", rate_minutes = "7" }
    functions = { disconnect = { memory_size = "256" } }
  }

  assert {
    condition     = module.settings.sweeper.enabled == false && module.settings.sweeper.rate_minutes == 7 && module.disconnect_function.configuration.memory_size == 256
    error_message = "Strings that convert are converted: ${jsonencode(module.settings.sweeper)}"
  }
}

# Names, top level: the issue's example, and one per object input.
run "typo_sweeper" {
  command = plan

  variables {
    sweeper = { probe_connection = true }
  }

  expect_failures = [var.sweeper]
}

run "typo_table" {
  command = plan

  variables {
    table = { billing = "PROVISIONED" }
  }

  expect_failures = [var.table]
}

run "typo_deployment" {
  command = plan

  variables {
    deployment = { enable = true }
  }

  expect_failures = [var.deployment]
}

run "typo_alarms" {
  command = plan

  variables {
    alarms = { alarm_action = ["arn:aws:sns:eu-west-1:123456789012:oncall"] }
  }

  expect_failures = [var.alarms]
}

run "typo_connect" {
  command = plan

  variables {
    connect = { identiy = "iam" }
  }

  expect_failures = [var.connect]
}

run "typo_presence" {
  command = plan

  variables {
    presence = { grace = 30 }
  }

  expect_failures = [var.presence]
}

run "typo_functions" {
  command = plan

  variables {
    functions = { disconect = { memory_size = 256 } }
  }

  expect_failures = [var.functions]
}

# The old places of memory_size, timeout and reserved_concurrent_executions are refused (with a
# pointer to functions.<name>), not ignored.
run "moved_sweeper_timeout" {
  command = plan

  variables {
    sweeper = { timeout = 60 }
  }

  expect_failures = [var.sweeper]
}

# Names, nested objects.
run "typo_connect_iam" {
  command = plan

  variables {
    connect = { iam = { agent_role_arn = [] } }
  }

  expect_failures = [var.connect]
}

run "typo_presence_heartbeat" {
  command = plan

  variables {
    presence = { heartbeat = { interval_second = 20 } }
  }

  expect_failures = [var.presence]
}

run "typo_functions_sweeper" {
  command = plan

  variables {
    functions = { sweeper = { memory = 512 } }
  }

  expect_failures = [var.functions]
}

# Types: the message names the attribute and the type it must have.
run "wrong_type_table" {
  command = plan

  variables {
    table = { point_in_time_recovery = "yes" }
  }

  expect_failures = [var.table]
}

run "wrong_type_deployment" {
  command = plan

  variables {
    deployment = { triggers = "always" }
  }

  expect_failures = [var.deployment]
}

run "wrong_type_sweeper" {
  command = plan

  variables {
    sweeper = { enabled = "yes" }
  }

  expect_failures = [var.sweeper]
}

run "wrong_type_alarms" {
  command = plan

  variables {
    alarms = { alarm_actions = "arn:aws:sns:eu-west-1:123456789012:oncall" }
  }

  expect_failures = [var.alarms]
}

run "wrong_type_connect" {
  command = plan

  variables {
    connect = { iam = { dashboard_role_arns = "arn:aws:iam::123456789012:role/dashboard" } }
  }

  expect_failures = [var.connect]
}

run "wrong_type_presence" {
  command = plan

  variables {
    presence = { heartbeat = { interval_seconds = "fast" } }
  }

  expect_failures = [var.presence]
}

run "wrong_type_functions" {
  command = plan

  variables {
    functions = { events = { timeout = "long" } }
  }

  expect_failures = [var.functions]
}

# A null that arrives typed (from a consumer's `variable "x" { type = string }` left unset) means the
# default, as an omitted attribute does: every rule on an optional string attribute accepts it.
run "typed_nulls_mean_defaults" {
  command = plan

  variables {
    table   = { kms_key_arn = tostring(null) }
    sweeper = { probe_endpoint = tostring(null) }
    connect = { authorizer_id = tostring(null), agent_id_pattern = tostring(null), client_type_key = tostring(null) }
    presence = {
      table_name = tostring(null), probe_endpoint = tostring(null)
      heartbeat  = { route_key = tostring(null) }
      events     = { bus_name = tostring(null), source = tostring(null) }
    }
  }

  assert {
    condition     = module.settings.sweeper.probe_endpoint == null && module.settings.presence.probe_endpoint == null
    error_message = "typed nulls: ${jsonencode(module.settings.sweeper)} ${jsonencode(module.settings.presence)}"
  }

  assert {
    condition     = module.settings.presence.heartbeat.route_key == "heartbeat" && module.settings.connect.client_type_key == "clientType"
    error_message = "typed nulls take the defaults: ${jsonencode(module.settings.presence.heartbeat)} ${jsonencode(module.settings.connect)}"
  }
}
