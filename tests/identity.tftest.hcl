# connect.identity: where $connect takes the client's identity from, the route's authorization type,
# the functions' identity settings, the agents' policy, and the warning for query-string identity.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  api_id     = "a1b2c3d4e5"
  runtime    = "python3.8"
  stage_name = "live"

  # With alarm_actions, as a real stack has: alarms notifying nobody fail check alarms_notify_someone,
  # a warning on plan but a failed run in terraform test (defaults.tftest.hcl expects it).
  alarms = { alarm_actions = ["arn:aws:sns:eu-west-1:123456789012:oncall"] }
}

run "iam_identity" {
  variables {
    connect = {
      enabled  = true
      identity = "iam"
      iam = {
        agent_role_arns     = ["arn:aws:iam::123456789012:role/fleet/agents", "arn:aws:iam::123456789012:role/agents-eu"]
        dashboard_role_arns = ["arn:aws:iam::123456789012:role/dashboard"]
        agent_id_from       = "role_name"
      }
      agent_id_pattern = "agent-[0-9]{1,6}"
    }
  }

  assert {
    condition     = aws_apigatewayv2_route.connect[0].authorization_type == "AWS_IAM" && aws_apigatewayv2_route.connect[0].authorizer_id == null
    error_message = "IAM identity makes the $connect route AWS_IAM-authorized, without an authorizer."
  }

  assert {
    condition = (
      output.function_environment.connect.CONNECT_IDENTITY_SOURCE == "iam" &&
      output.function_environment.connect.CONNECT_IAM_AGENT_ROLES == "arn:aws:iam::123456789012:role/fleet/agents,arn:aws:iam::123456789012:role/agents-eu" &&
      output.function_environment.connect.CONNECT_IAM_DASHBOARD_ROLES == "arn:aws:iam::123456789012:role/dashboard" &&
      output.function_environment.connect.CONNECT_IAM_AGENT_ID_FROM == "role_name" &&
      output.function_environment.connect.CONNECT_AGENT_ID_PATTERN == "agent-[0-9]{1,6}"
    )
    error_message = "The role lists (comma-separated), the agent id rule and the pattern reach the $connect function."
  }

  assert {
    condition = (
      output.function_environment.disconnect.CONNECT_IDENTITY_SOURCE == "iam" &&
      !contains(keys(output.function_environment.disconnect), "CONNECT_IAM_AGENT_ROLES") &&
      !contains(keys(output.function_environment.disconnect), "CONNECT_AGENT_ID_PATTERN")
    )
    error_message = "$disconnect learns the identity source (its lost-answer fallback reads the authorizer's context only), not the role lists."
  }

  assert {
    condition = jsondecode(output.agent_policy_json) == {
      Version   = "2012-10-17"
      Statement = [{ Sid = "ConnectAsAgent", Effect = "Allow", Action = ["execute-api:Invoke"], Resource = ["arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/live/$connect"] }]
    }
    error_message = "agent_policy_json: execute-api:Invoke on exactly this API's <stage>/$connect."
  }

  assert {
    condition     = output.connect_identity == { source = "iam", authorization_type = "AWS_IAM" }
    error_message = "connect_identity says how the route is authorized."
  }
}

run "iam_identity_with_heartbeats" {
  variables {
    connect = {
      enabled  = true
      identity = "iam"
      # IAM users as agents, each named after its user (agent_id_from = "user_name" takes user ARNs only).
      iam = { agent_role_arns = ["arn:aws:iam::123456789012:user/agents/agent-7"], agent_id_from = "user_name" }
    }
    presence = { enabled = true, heartbeat = { enabled = true, route_key = "beat" } }
  }

  assert {
    condition = jsondecode(output.agent_policy_json).Statement[0].Resource == [
      "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/live/$connect",
      "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/live/beat",
    ]
    error_message = "With heartbeats the agents' policy also covers the heartbeat route, nothing else."
  }

  assert {
    condition     = output.function_environment.connect.CONNECT_IAM_AGENT_ID_FROM == "user_name" && output.function_environment.connect.CONNECT_IAM_AGENT_ROLES == "arn:aws:iam::123456789012:user/agents/agent-7" && output.function_environment.connect.CONNECT_IAM_DASHBOARD_ROLES == "" && output.function_environment.connect.PRESENCE_TABLE == "remediation-disconnect-presence"
    error_message = "An empty role list is an empty string; presence settings reach $connect too."
  }
}

run "iam_identity_needs_stage_name" {
  command = plan

  variables {
    stage_name = null
    connect    = { enabled = true, identity = "iam", iam = { agent_role_arns = ["arn:aws:iam::123456789012:role/agents"] } }
  }

  expect_failures = [output.agent_policy_json]
}

run "authorizer_identity" {
  command = plan

  variables {
    connect = { enabled = true, authorizer_id = "abc123", agent_id_pattern = "[A-Za-z0-9._-]{1,64}" }
  }

  assert {
    condition     = aws_apigatewayv2_route.connect[0].authorization_type == "CUSTOM" && aws_apigatewayv2_route.connect[0].authorizer_id == "abc123" && output.agent_policy_json == null
    error_message = "The default identity source is the REQUEST authorizer (CUSTOM); no agent policy."
  }

  assert {
    condition     = output.function_environment.connect.CONNECT_AGENT_ID_PATTERN == "[A-Za-z0-9._-]{1,64}" && output.function_environment.connect.CONNECT_IAM_AGENT_ROLES == ""
    error_message = "The agent id pattern applies to every identity source."
  }
}

run "query_string_identity_warns" {
  command = plan

  variables {
    connect = { enabled = true, identity = "query_string_insecure" }
  }

  # A warning on every plan (a check block), never a failure: demo stacks still apply.
  expect_failures = [check.connect_identity_is_verified]

  assert {
    condition     = aws_apigatewayv2_route.connect[0].authorization_type == "NONE" && output.connect_identity == { source = "query_string_insecure", authorization_type = "NONE" }
    error_message = "Query-string identity leaves the route unauthorized."
  }
}

run "query_string_identity_unused_while_connect_is_off" {
  command = plan

  variables {
    connect = { enabled = false, identity = "query_string_insecure" }
  }

  assert {
    condition     = length(aws_apigatewayv2_route.connect) == 0 && output.connect_identity == null
    error_message = "Without the writer there is no route (and the check has nothing to warn about)."
  }
}
