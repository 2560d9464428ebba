# agent_tracking: the agentId index, the Query and PutEvents statements, the functions' settings.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  api_id         = "a1b2c3d4e5"
  runtime        = "python3.8"
  agent_tracking = { enabled = true }
}

run "index_and_permissions" {
  assert {
    condition = (
      one(aws_dynamodb_table.this[0].global_secondary_index).name == "agentId-index" &&
      one(aws_dynamodb_table.this[0].global_secondary_index).hash_key == "agentId" &&
      one(aws_dynamodb_table.this[0].global_secondary_index).range_key == null &&
      one(aws_dynamodb_table.this[0].global_secondary_index).projection_type == "INCLUDE" &&
      toset(one(aws_dynamodb_table.this[0].global_secondary_index).non_key_attributes) == toset(["connectedAt", "expiresAt", "clientType"])
    )
    error_message = "The agentId index must project the timestamps so expired items can be ignored without a table read."
  }

  assert {
    condition     = contains(aws_dynamodb_table.this[0].attribute, { name = "agentId", type = "S" })
    error_message = "agentId must be declared as a string attribute."
  }

  assert {
    condition = slice(jsondecode(output.iam_policies.disconnect).Statement, 1, 4) == [
      { Sid = "DeleteClosedConnection", Effect = "Allow", Action = ["dynamodb:DeleteItem"], Resource = [aws_dynamodb_table.this[0].arn] },
      { Sid = "FindOtherAgentConnections", Effect = "Allow", Action = ["dynamodb:Query"], Resource = ["${aws_dynamodb_table.this[0].arn}/index/agentId-index"] },
      { Sid = "AnnounceAgentOffline", Effect = "Allow", Action = ["events:PutEvents"], Resource = ["arn:aws:events:eu-west-1:123456789012:event-bus/default"] },
    ] && length(jsondecode(output.iam_policies.disconnect).Statement) == 4
    error_message = "Agent tracking adds Query on the index only and PutEvents on the bus only."
  }

  assert {
    condition     = contains(jsondecode(output.iam_policies.sweeper).Statement, { Sid = "FindOtherAgentConnections", Effect = "Allow", Action = ["dynamodb:Query"], Resource = ["${aws_dynamodb_table.this[0].arn}/index/agentId-index"] })
    error_message = "The sweeper announces agents too, so it needs the same Query statement."
  }

  assert {
    condition     = output.function_environment.disconnect.AGENT_INDEX_NAME == "agentId-index" && output.function_environment.disconnect.OFFLINE_EVENT_BUS == "arn:aws:events:eu-west-1:123456789012:event-bus/default" && output.function_environment.sweeper.AGENT_INDEX_NAME == "agentId-index"
    error_message = "Both functions must know the index and the bus."
  }

  assert {
    condition     = output.offline_event == { event_bus_arn = "arn:aws:events:eu-west-1:123456789012:event-bus/default", source = "remediation.websocket", detail_type = "Remediation Agent Offline" }
    error_message = "offline_event must say what to match in an EventBridge rule."
  }
}

run "custom_index_bus_and_source" {
  variables {
    agent_tracking = {
      enabled        = true
      index_name     = "by-agent"
      event_bus_name = "arn:aws:events:eu-west-1:210987654321:event-bus/central"
      event_source   = "acme.remediation"
    }
    ttl_attribute = "ttl"
  }

  assert {
    condition     = one(aws_dynamodb_table.this[0].global_secondary_index).name == "by-agent" && toset(one(aws_dynamodb_table.this[0].global_secondary_index).non_key_attributes) == toset(["connectedAt", "ttl", "clientType"])
    error_message = "The index name and the TTL attribute projected follow the inputs."
  }

  assert {
    condition     = contains(jsondecode(output.iam_policies.disconnect).Statement, { Sid = "AnnounceAgentOffline", Effect = "Allow", Action = ["events:PutEvents"], Resource = ["arn:aws:events:eu-west-1:210987654321:event-bus/central"] })
    error_message = "A bus given by ARN (e.g. another account's) is used as is."
  }

  assert {
    condition     = output.function_environment.disconnect.OFFLINE_EVENT_SOURCE == "acme.remediation" && output.function_environment.disconnect.TTL_ATTRIBUTE == "ttl"
    error_message = "The event source and TTL attribute reach the functions."
  }
}

run "tracking_without_events" {
  variables {
    agent_tracking = { enabled = true, offline_events = false }
  }

  assert {
    condition     = !strcontains(output.iam_policies.disconnect, "events:PutEvents") && !strcontains(output.iam_policies.sweeper, "events:PutEvents")
    error_message = "No PutEvents permission when offline events are off."
  }

  assert {
    condition     = output.function_environment.disconnect.OFFLINE_EVENT_BUS == "" && output.offline_event == null
    error_message = "No bus configured when offline events are off (agents are still counted in AgentsOffline)."
  }
}

run "provisioned_table_sizes_the_index_too" {
  variables {
    table = { billing_mode = "PROVISIONED", read_capacity = 7, write_capacity = 3 }
  }

  assert {
    condition     = aws_dynamodb_table.this[0].read_capacity == 7 && aws_dynamodb_table.this[0].write_capacity == 3 && one(aws_dynamodb_table.this[0].global_secondary_index).read_capacity == 7 && one(aws_dynamodb_table.this[0].global_secondary_index).write_capacity == 3
    error_message = "Provisioned capacity applies to the table and its index."
  }
}
