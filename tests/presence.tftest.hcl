# presence: the presence table, the queue and its dead-letter queue, the checker (SQS batches and the
# reconciler schedule), the announcer (the table's stream) with the agent-events bus and its policy,
# heartbeats, every role's statements, the functions' environment, alarms, dashboard and outputs.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  api_id     = "a1b2c3d4e5"
  runtime    = "python3.8"
  stage_name = "live"
  connect    = { enabled = true, authorizer_id = "abc123" }
  presence   = { enabled = true }

  # With alarm_actions, as a real stack has: alarms notifying nobody fail check alarms_notify_someone,
  # a warning on plan but a failed run in terraform test (defaults.tftest.hcl expects it).
  alarms = { alarm_actions = ["arn:aws:sns:eu-west-1:123456789012:oncall"] }
}

# The mocks give every table and queue the same ARN: the presence table's and the dead-letter queue's
# are set apart here (the presence queue keeps the mock's remediation-disconnect-presence).
override_resource {
  target = aws_dynamodb_table.presence
  values = {
    arn        = "arn:aws:dynamodb:eu-west-1:123456789012:table/remediation-disconnect-presence"
    stream_arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/remediation-disconnect-presence/stream/2026-11-20T10:00:00.000"
  }
}

override_resource {
  target = aws_sqs_queue.presence_dlq
  values = {
    id  = "https://sqs.eu-west-1.amazonaws.com/123456789012/remediation-disconnect-presence-dlq"
    arn = "arn:aws:sqs:eu-west-1:123456789012:remediation-disconnect-presence-dlq"
  }
}

run "presence_table" {
  assert {
    condition = (
      aws_dynamodb_table.presence[0].name == "remediation-disconnect-presence" &&
      aws_dynamodb_table.presence[0].hash_key == "agentId" && aws_dynamodb_table.presence[0].range_key == null &&
      aws_dynamodb_table.presence[0].attribute == toset([{ name = "agentId", type = "S" }]) &&
      length(aws_dynamodb_table.presence[0].global_secondary_index) == 0
    )
    error_message = "The presence table is <name>-presence, keyed by agentId (S) alone, without indexes."
  }

  assert {
    condition     = aws_dynamodb_table.presence[0].stream_enabled && aws_dynamodb_table.presence[0].stream_view_type == "NEW_AND_OLD_IMAGES"
    error_message = "The announcer reads transitions from the table's stream with both images (it compares sequences)."
  }

  assert {
    condition = (
      aws_dynamodb_table.presence[0].billing_mode == "PAY_PER_REQUEST" && aws_dynamodb_table.presence[0].read_capacity == null &&
      aws_dynamodb_table.presence[0].point_in_time_recovery[0].enabled &&
      aws_dynamodb_table.presence[0].server_side_encryption[0].enabled
    )
    error_message = "On-demand, PITR and KMS encryption (the connections table's key: the AWS managed one by default), as the connections table."
  }

  assert {
    condition     = output.presence_table_name == "remediation-disconnect-presence" && output.presence_table_arn == "arn:aws:dynamodb:eu-west-1:123456789012:table/remediation-disconnect-presence"
    error_message = "The presence table outputs name the created table."
  }

  assert {
    condition     = aws_dynamodb_table.this[0].stream_enabled != true && length(aws_dynamodb_table.this[0].global_secondary_index) == 0
    error_message = "The connections table needs no index and no stream for presence."
  }
}

run "queue_and_dead_letter_queue" {
  assert {
    condition = (
      aws_sqs_queue.presence[0].name == "remediation-disconnect-presence" &&
      aws_sqs_queue.presence[0].visibility_timeout_seconds == 180 &&
      aws_sqs_queue.presence[0].message_retention_seconds == 86400 &&
      aws_sqs_queue.presence[0].kms_master_key_id == "alias/aws/sqs" &&
      aws_sqs_queue.presence[0].fifo_queue != true
    )
    error_message = "A standard queue (per-message delays), visibility 6 x the checker's 30 s timeout, one day of retention, encrypted."
  }

  assert {
    condition = jsondecode(aws_sqs_queue.presence[0].redrive_policy) == {
      deadLetterTargetArn = "arn:aws:sqs:eu-west-1:123456789012:remediation-disconnect-presence-dlq"
      maxReceiveCount     = 10
    }
    error_message = "A message that failed 10 receives goes to the dead-letter queue."
  }

  assert {
    condition     = aws_sqs_queue.presence_dlq[0].name == "remediation-disconnect-presence-dlq" && aws_sqs_queue.presence_dlq[0].message_retention_seconds == 1209600 && aws_sqs_queue.presence_dlq[0].kms_master_key_id == "alias/aws/sqs"
    error_message = "The dead-letter queue keeps failures 14 days, encrypted."
  }

  assert {
    condition = (
      output.presence_queue_url == "https://sqs.eu-west-1.amazonaws.com/123456789012/remediation-disconnect-presence" &&
      output.presence_queue_arn == "arn:aws:sqs:eu-west-1:123456789012:remediation-disconnect-presence" &&
      output.presence_dlq_arn == "arn:aws:sqs:eu-west-1:123456789012:remediation-disconnect-presence-dlq"
    )
    error_message = "The queue outputs name the created queues."
  }
}

run "checker_function_queue_mapping_and_schedule" {
  assert {
    condition = (
      module.presence_function[0].function_name == "remediation-disconnect-presence" && output.presence_function_name == "remediation-disconnect-presence" &&
      module.presence_function[0].configuration.handler == "remediation_registry.lambda_entry.presence" &&
      module.presence_function[0].configuration.memory_size == 128 && module.presence_function[0].configuration.timeout == 30 &&
      module.presence_function[0].configuration.source_code_hash == filebase64sha256("function/dist/presence.zip")
    )
    error_message = "The checker <name>-presence runs lambda_entry.presence from presence.zip, 128 MB, 30 s by default."
  }

  assert {
    condition = output.function_environment.presence == tomap({
      CONNECTIONS_TABLE               = "remediation-disconnect-connections"
      TTL_ATTRIBUTE                   = "expiresAt"
      CONNECTION_GRACE_SECONDS        = "300"
      METRICS_NAMESPACE               = "Remediation/remediation-disconnect"
      LOG_LEVEL                       = "INFO"
      PRESENCE_TABLE                  = "remediation-disconnect-presence"
      PRESENCE_QUEUE_URL              = "https://sqs.eu-west-1.amazonaws.com/123456789012/remediation-disconnect-presence"
      PRESENCE_GRACE_SECONDS          = "20"
      PRESENCE_PROBE_INTERVAL_SECONDS = "300"
      HEARTBEAT_TIMEOUT_SECONDS       = "0"
      HEARTBEAT_INTERVAL_SECONDS      = "0"
      PRESENCE_PROBE_ENDPOINT         = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/live"
    })
    error_message = "The checker gets the contract settings, the presence settings (heartbeats off: 0) and the stage's @connections URL."
  }

  assert {
    condition = (
      aws_lambda_event_source_mapping.presence_queue[0].event_source_arn == "arn:aws:sqs:eu-west-1:123456789012:remediation-disconnect-presence" &&
      aws_lambda_event_source_mapping.presence_queue[0].function_name == module.presence_function[0].function_arn &&
      aws_lambda_event_source_mapping.presence_queue[0].batch_size == 10
    )
    error_message = "The checker consumes the presence queue in batches of 10."
  }

  assert {
    condition = (
      aws_cloudwatch_event_rule.presence_reconcile[0].name == "remediation-disconnect-presence-reconcile" &&
      aws_cloudwatch_event_rule.presence_reconcile[0].schedule_expression == "rate(1 minute)" &&
      aws_cloudwatch_event_target.presence_reconcile[0].arn == module.presence_function[0].function_arn &&
      aws_lambda_permission.presence_reconcile[0].principal == "events.amazonaws.com" &&
      aws_lambda_permission.presence_reconcile[0].source_arn == aws_cloudwatch_event_rule.presence_reconcile[0].arn &&
      output.presence_schedule_rule_arn == aws_cloudwatch_event_rule.presence_reconcile[0].arn
    )
    error_message = "The reconciler runs every minute, invoked by its rule only."
  }

  assert {
    condition     = aws_lambda_function_event_invoke_config.presence_reconcile[0].maximum_retry_attempts == 0 && aws_lambda_function_event_invoke_config.presence_reconcile[0].maximum_event_age_in_seconds == 60
    error_message = "A failed tick is not retried: the next one supersedes it."
  }
}

run "checker_statements" {
  assert {
    condition = jsondecode(output.iam_policies.presence).Statement == [
      { Sid = "WriteOwnLogs", Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = ["arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/mocked:*"] },
      { Sid = "ResolveAgentPresence", Effect = "Allow", Action = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan", "dynamodb:UpdateItem"], Resource = ["arn:aws:dynamodb:eu-west-1:123456789012:table/remediation-disconnect-presence"] },
      { Sid = "RemoveDeadConnections", Effect = "Allow", Action = ["dynamodb:DeleteItem"], Resource = [aws_dynamodb_table.this[0].arn] },
      { Sid = "ProcessPresenceQueue", Effect = "Allow", Action = ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:SendMessage"], Resource = ["arn:aws:sqs:eu-west-1:123456789012:remediation-disconnect-presence"] },
      { Sid = "ProbeAgentConnections", Effect = "Allow", Action = ["execute-api:ManageConnections"], Resource = ["arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/live/GET/@connections/*"] },
    ]
    error_message = "The checker: presence items, DeleteItem of dead connections, its queue, and GetConnection on the stage only (no DELETE without heartbeats)."
  }
}

run "announcer_stream_mapping_and_statements" {
  assert {
    condition = (
      module.events_function[0].function_name == "remediation-disconnect-events" && output.events_function_name == "remediation-disconnect-events" &&
      module.events_function[0].configuration.handler == "remediation_registry.lambda_entry.announce" &&
      module.events_function[0].configuration.source_code_hash == filebase64sha256("function/dist/events.zip")
    )
    error_message = "The announcer <name>-events runs lambda_entry.announce from events.zip."
  }

  assert {
    condition = output.function_environment.events == tomap({
      CONNECTIONS_TABLE        = "remediation-disconnect-connections"
      TTL_ATTRIBUTE            = "expiresAt"
      CONNECTION_GRACE_SECONDS = "300"
      METRICS_NAMESPACE        = "Remediation/remediation-disconnect"
      LOG_LEVEL                = "INFO"
      PRESENCE_TABLE           = "remediation-disconnect-presence"
      EVENT_BUS                = "arn:aws:events:eu-west-1:123456789012:event-bus/remediation-disconnect-agents"
      EVENT_SOURCE             = "remediation.websocket"
    })
    error_message = "The announcer gets the bus ARN, the source and the presence table (its announced mark)."
  }

  assert {
    condition = (
      aws_lambda_event_source_mapping.presence_stream[0].event_source_arn == "arn:aws:dynamodb:eu-west-1:123456789012:table/remediation-disconnect-presence/stream/2026-11-20T10:00:00.000" &&
      aws_lambda_event_source_mapping.presence_stream[0].function_name == module.events_function[0].function_arn &&
      aws_lambda_event_source_mapping.presence_stream[0].starting_position == "LATEST" &&
      aws_lambda_event_source_mapping.presence_stream[0].batch_size == 100 &&
      aws_lambda_event_source_mapping.presence_stream[0].maximum_batching_window_in_seconds == 1 &&
      aws_lambda_event_source_mapping.presence_stream[0].parallelization_factor == 1 &&
      aws_lambda_event_source_mapping.presence_stream[0].bisect_batch_on_function_error &&
      aws_lambda_event_source_mapping.presence_stream[0].maximum_retry_attempts == 10 &&
      aws_lambda_event_source_mapping.presence_stream[0].maximum_record_age_in_seconds == -1 &&
      aws_lambda_event_source_mapping.presence_stream[0].destination_config[0].on_failure[0].destination_arn == "arn:aws:sqs:eu-west-1:123456789012:remediation-disconnect-presence-dlq"
    )
    error_message = "The stream mapping: LATEST, batches of 100 within 1 s, one lane per shard, bisect on error, 10 retries, then the dead-letter queue."
  }

  assert {
    condition = jsondecode(output.iam_policies.events).Statement == [
      { Sid = "WriteOwnLogs", Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = ["arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/mocked:*"] },
      { Sid = "ReadPresenceStream", Effect = "Allow", Action = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"], Resource = ["arn:aws:dynamodb:eu-west-1:123456789012:table/remediation-disconnect-presence/stream/*"] },
      { Sid = "ListStreams", Effect = "Allow", Action = ["dynamodb:ListStreams"], Resource = ["*"] },
      { Sid = "MarkEventsAnnounced", Effect = "Allow", Action = ["dynamodb:GetItem", "dynamodb:UpdateItem"], Resource = ["arn:aws:dynamodb:eu-west-1:123456789012:table/remediation-disconnect-presence"] },
      {
        Sid = "PublishAgentEvents", Effect = "Allow", Action = ["events:PutEvents"], Resource = ["arn:aws:events:eu-west-1:123456789012:event-bus/remediation-disconnect-agents"]
        Condition = { StringEquals = {
          "events:source"      = ["remediation.websocket"]
          "events:detail-type" = ["Remediation Agent Online", "Remediation Agent Offline"]
        } }
      },
      { Sid = "DeadLetterFailedBatches", Effect = "Allow", Action = ["sqs:SendMessage"], Resource = ["arn:aws:sqs:eu-west-1:123456789012:remediation-disconnect-presence-dlq"] },
    ]
    error_message = "The announcer: the presence table's streams, its mark, PutEvents of exactly the module's source and two detail-types on the bus, and the dead-letter queue."
  }
}

run "bus_policy_and_agent_events" {
  assert {
    condition     = aws_cloudwatch_event_bus.agents[0].name == "remediation-disconnect-agents"
    error_message = "create_bus (default) creates <name>-agents."
  }

  assert {
    condition = jsondecode(output.agent_events_bus_policy_json) == {
      Version = "2012-10-17"
      Statement = [{
        Sid       = "OnlyTheAnnouncerPublishesAgentEvents"
        Effect    = "Deny"
        Principal = "*"
        Action    = "events:PutEvents"
        Resource  = "arn:aws:events:eu-west-1:123456789012:event-bus/remediation-disconnect-agents"
        Condition = {
          StringEquals = { "events:source" = "remediation.websocket" }
          ArnNotEquals = { "aws:PrincipalArn" = "arn:aws:iam::123456789012:role/remediation-disconnect-events-eu-west-1" }
        }
      }]
    }
    error_message = "The bus policy denies PutEvents with the module's source to every principal but the announcer's role (an IAM Allow suffices in one account, so only a Deny restricts)."
  }

  assert {
    condition     = module.events_function[0].role_name == "remediation-disconnect-events-eu-west-1"
    error_message = "The announcer's role is the one the bus policy exempts."
  }

  assert {
    condition = output.agent_events == {
      event_bus_arn  = "arn:aws:events:eu-west-1:123456789012:event-bus/remediation-disconnect-agents"
      event_bus_name = "remediation-disconnect-agents"
      source         = "remediation.websocket"
      detail_types   = ["Remediation Agent Online", "Remediation Agent Offline"]
      event_pattern  = jsonencode({ "detail-type" = ["Remediation Agent Online", "Remediation Agent Offline"], source = ["remediation.websocket"] })
    }
    error_message = "agent_events says where events are published and gives a rule's event pattern for exactly them."
  }
}

run "role_path_reaches_the_bus_policy" {
  variables {
    role_path = "/remediation/"
  }

  assert {
    condition     = jsondecode(output.agent_events_bus_policy_json).Statement[0].Condition.ArnNotEquals["aws:PrincipalArn"] == "arn:aws:iam::123456789012:role/remediation/remediation-disconnect-events-eu-west-1"
    error_message = "aws:PrincipalArn is the role's ARN with its path: the exemption must name it so."
  }
}

run "route_writers_with_presence" {
  assert {
    condition = alltrue([for fn in ["connect", "disconnect", "sweeper"] : alltrue([
      output.function_environment[fn].PRESENCE_TABLE == "remediation-disconnect-presence",
      output.function_environment[fn].PRESENCE_QUEUE_URL == "https://sqs.eu-west-1.amazonaws.com/123456789012/remediation-disconnect-presence",
      output.function_environment[fn].PRESENCE_GRACE_SECONDS == "20",
      output.function_environment[fn].PRESENCE_PROBE_INTERVAL_SECONDS == "300",
      output.function_environment[fn].HEARTBEAT_TIMEOUT_SECONDS == "0",
      output.function_environment[fn].HEARTBEAT_INTERVAL_SECONDS == "0",
    ])])
    error_message = "$connect, $disconnect and the sweeper get the presence settings."
  }

  assert {
    condition = jsondecode(output.iam_policies.connect).Statement == [
      { Sid = "WriteOwnLogs", Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = ["arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/mocked:*"] },
      { Sid = "RegisterConnection", Effect = "Allow", Action = ["dynamodb:PutItem"], Resource = [aws_dynamodb_table.this[0].arn] },
      { Sid = "TrackAgentPresence", Effect = "Allow", Action = ["dynamodb:PutItem", "dynamodb:UpdateItem"], Resource = ["arn:aws:dynamodb:eu-west-1:123456789012:table/remediation-disconnect-presence"] },
      { Sid = "SchedulePresenceChecks", Effect = "Allow", Action = ["sqs:SendMessage"], Resource = ["arn:aws:sqs:eu-west-1:123456789012:remediation-disconnect-presence"] },
    ]
    error_message = "$connect: its PutItem, the agent's presence item (transition; repair of an invalid item) and the first probe message."
  }

  assert {
    condition = jsondecode(output.iam_policies.disconnect).Statement == [
      { Sid = "WriteOwnLogs", Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = ["arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/mocked:*"] },
      { Sid = "DeleteClosedConnection", Effect = "Allow", Action = ["dynamodb:DeleteItem"], Resource = [aws_dynamodb_table.this[0].arn] },
      { Sid = "TrackAgentPresence", Effect = "Allow", Action = ["dynamodb:PutItem", "dynamodb:UpdateItem"], Resource = ["arn:aws:dynamodb:eu-west-1:123456789012:table/remediation-disconnect-presence"] },
      { Sid = "SchedulePresenceChecks", Effect = "Allow", Action = ["sqs:SendMessage"], Resource = ["arn:aws:sqs:eu-west-1:123456789012:remediation-disconnect-presence"] },
    ]
    error_message = "$disconnect: its DeleteItem, the agent's presence item and the grace message."
  }

  assert {
    condition = (
      [for s in jsondecode(output.iam_policies.sweeper).Statement : s.Sid] == ["WriteOwnLogs", "RemoveStaleConnections", "KeepScanPosition", "TrackAgentPresence"] &&
      jsondecode(output.iam_policies.sweeper).Statement[3].Resource == ["arn:aws:dynamodb:eu-west-1:123456789012:table/remediation-disconnect-presence"]
    )
    error_message = "The sweeper: its own statements and the presence item of agents whose connection it removes (no queue)."
  }

  assert {
    condition     = keys(output.packages) == ["connect", "disconnect", "events", "presence", "sweeper"]
    error_message = "The packages output lists the presence and events zips."
  }
}

run "heartbeats" {
  variables {
    presence = { enabled = true, heartbeat = { enabled = true, interval_seconds = 20, timeout_seconds = 50 } }
  }

  assert {
    condition = (
      aws_apigatewayv2_integration.heartbeat[0].integration_type == "MOCK" &&
      aws_apigatewayv2_integration.heartbeat[0].template_selection_expression == "\\$default" &&
      aws_apigatewayv2_integration.heartbeat[0].request_templates == tomap({ "$default" = "{\"statusCode\": 200}" })
    )
    error_message = "Heartbeats are answered by a MOCK integration: the template {\"statusCode\": 200} under $default, selected by \\$default."
  }

  assert {
    condition = (
      aws_apigatewayv2_route.heartbeat[0].route_key == "heartbeat" &&
      aws_apigatewayv2_route.heartbeat[0].target == "integrations/${aws_apigatewayv2_integration.heartbeat[0].id}" &&
      aws_apigatewayv2_route.heartbeat[0].route_response_selection_expression == null
    )
    error_message = "The heartbeat route targets the MOCK integration and has no route response (one-way: no reply, one billed message)."
  }

  assert {
    condition = alltrue([for fn in ["connect", "disconnect", "sweeper", "presence"] :
      output.function_environment[fn].HEARTBEAT_TIMEOUT_SECONDS == "50" && output.function_environment[fn].HEARTBEAT_INTERVAL_SECONDS == "20"
    ])
    error_message = "The heartbeat timeout and interval reach every function that writes presence."
  }

  assert {
    condition = jsondecode(output.iam_policies.presence).Statement[4] == {
      Sid = "ProbeAgentConnections", Effect = "Allow", Action = ["execute-api:ManageConnections"]
      Resource = [
        "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/live/GET/@connections/*",
        "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/live/DELETE/@connections/*",
      ]
    }
    error_message = "With heartbeats the checker may also close (DeleteConnection) a silent connection, on the stage only."
  }

  assert {
    condition     = output.heartbeat_route_key == "heartbeat" && output.heartbeat_route_id == aws_apigatewayv2_route.heartbeat[0].id && output.heartbeat_integration_id == aws_apigatewayv2_integration.heartbeat[0].id
    error_message = "The heartbeat outputs name the route key, the route and the integration."
  }
}

run "heartbeat_route_managed_elsewhere" {
  command = plan

  variables {
    create_route = false
    presence     = { enabled = true, heartbeat = { enabled = true, route_key = "ping" } }
  }

  assert {
    condition     = length(aws_apigatewayv2_route.heartbeat) == 0 && length(aws_apigatewayv2_integration.heartbeat) == 1 && output.heartbeat_route_key == "ping"
    error_message = "With create_route = false the caller routes heartbeats to the module's MOCK integration."
  }
}

run "customer_managed_table_key" {
  variables {
    table = { kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/1111-2222" }
  }

  assert {
    condition     = aws_dynamodb_table.presence[0].server_side_encryption[0].kms_key_arn == "arn:aws:kms:eu-west-1:123456789012:key/1111-2222"
    error_message = "The presence table is encrypted with the connections table's key."
  }

  assert {
    condition = alltrue([for fn in ["connect", "disconnect", "sweeper", "presence", "events"] : contains(jsondecode(output.iam_policies[fn]).Statement, {
      Sid = "DecryptTableKey", Effect = "Allow", Action = ["kms:Decrypt"], Resource = ["arn:aws:kms:eu-west-1:123456789012:key/1111-2222"]
      Condition = { StringEquals = {
        "kms:ViaService"                               = ["dynamodb.eu-west-1.amazonaws.com"]
        "kms:EncryptionContext:aws:dynamodb:tableName" = ["remediation-disconnect-connections", "remediation-disconnect-presence"]
      } }
    })])
    error_message = "Every role may decrypt the key through DynamoDB, for the module's two tables only."
  }

  assert {
    condition = jsondecode(output.presence_read_policy_json) == {
      Version = "2012-10-17"
      Statement = [
        { Sid = "ReadAgentPresence", Effect = "Allow", Action = ["dynamodb:GetItem", "dynamodb:Scan"], Resource = ["arn:aws:dynamodb:eu-west-1:123456789012:table/remediation-disconnect-presence"] },
        {
          Sid = "DecryptPresenceTable", Effect = "Allow", Action = ["kms:Decrypt"], Resource = ["arn:aws:kms:eu-west-1:123456789012:key/1111-2222"]
          Condition = { StringEquals = {
            "kms:ViaService"                               = ["dynamodb.eu-west-1.amazonaws.com"]
            "kms:EncryptionContext:aws:dynamodb:tableName" = ["remediation-disconnect-presence"]
          } }
        },
      ]
    }
    error_message = "A Dashboard's read policy: GetItem and Scan on the presence table, and decrypt of its key via DynamoDB for that table only."
  }
}

run "read_policy_with_the_aws_managed_key" {
  assert {
    condition = jsondecode(output.presence_read_policy_json) == {
      Version   = "2012-10-17"
      Statement = [{ Sid = "ReadAgentPresence", Effect = "Allow", Action = ["dynamodb:GetItem", "dynamodb:Scan"], Resource = ["arn:aws:dynamodb:eu-west-1:123456789012:table/remediation-disconnect-presence"] }]
    }
    error_message = "Without a customer-managed key the read policy is GetItem and Scan on the presence table, nothing else."
  }
}

run "existing_bus" {
  variables {
    presence = { enabled = true, events = { create_bus = false, bus_name = "central", source = "acme.agents" } }
  }

  assert {
    condition     = length(aws_cloudwatch_event_bus.agents) == 0 && output.agent_events_bus_policy_json == null
    error_message = "With create_bus = false the module creates no bus and no bus policy."
  }

  assert {
    condition = (
      output.agent_events.event_bus_arn == "arn:aws:events:eu-west-1:123456789012:event-bus/central" && output.agent_events.event_bus_name == "central" &&
      output.function_environment.events.EVENT_BUS == "arn:aws:events:eu-west-1:123456789012:event-bus/central" && output.function_environment.events.EVENT_SOURCE == "acme.agents" &&
      jsondecode(output.iam_policies.events).Statement[4].Resource == ["arn:aws:events:eu-west-1:123456789012:event-bus/central"] &&
      jsondecode(output.iam_policies.events).Statement[4].Condition.StringEquals["events:source"] == ["acme.agents"]
    )
    error_message = "An existing bus by name: its ARN in this account and region, the given source."
  }
}

run "existing_bus_by_arn" {
  command = plan

  variables {
    presence = { enabled = true, events = { create_bus = false, bus_name = "arn:aws:events:eu-west-1:210987654321:event-bus/central" } }
  }

  assert {
    condition     = output.agent_events.event_bus_arn == "arn:aws:events:eu-west-1:210987654321:event-bus/central"
    error_message = "A bus given by ARN (e.g. another account's) is used as is."
  }
}

run "events_disabled" {
  variables {
    presence = { enabled = true, events = { enabled = false } }
  }

  assert {
    condition = (
      length(module.events_function) == 0 && length(aws_lambda_event_source_mapping.presence_stream) == 0 &&
      length(aws_cloudwatch_event_bus.agents) == 0 && output.agent_events == null && output.agent_events_bus_policy_json == null &&
      output.events_function_name == null && !contains(keys(output.iam_policies), "events")
    )
    error_message = "Without events: no announcer, no stream mapping, no bus; presence itself stays."
  }

  assert {
    condition     = length(module.presence_function) == 1 && aws_dynamodb_table.presence[0].stream_enabled
    error_message = "The checker and the table (with its stream, for a later consumer) stay."
  }
}

run "sizing_names_and_schedule" {
  variables {
    name  = "rem"
    table = { billing_mode = "PROVISIONED", read_capacity = 7, write_capacity = 3 }
    presence = {
      enabled                = true
      table_name             = "AgentPresence"
      grace_seconds          = 0
      probe_interval_seconds = 30
      reconcile_minutes      = 5
      announcer              = { parallelization_factor = 4, maximum_retry_attempts = 3 }
      probe_endpoint         = "http://127.0.0.1:8123/live"
    }
    functions = {
      presence = { memory_size = 256, timeout = 60, reserved_concurrent_executions = 5 }
      events   = { memory_size = 192, timeout = 20 }
    }
  }

  override_resource {
    target = aws_dynamodb_table.presence
    values = {
      arn        = "arn:aws:dynamodb:eu-west-1:123456789012:table/AgentPresence"
      stream_arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/AgentPresence/stream/2026-11-20T10:00:00.000"
    }
  }

  assert {
    condition     = aws_dynamodb_table.presence[0].name == "AgentPresence" && aws_dynamodb_table.presence[0].read_capacity == 7 && aws_dynamodb_table.presence[0].write_capacity == 3 && aws_dynamodb_table.presence[0].billing_mode == "PROVISIONED"
    error_message = "presence.table_name names the table; provisioned capacity follows the table input."
  }

  assert {
    condition = (
      module.presence_function[0].function_name == "rem-presence" && module.presence_function[0].configuration.memory_size == 256 &&
      module.presence_function[0].configuration.timeout == 60 && module.presence_function[0].configuration.reserved_concurrent_executions == 5 &&
      aws_sqs_queue.presence[0].visibility_timeout_seconds == 360 &&
      module.events_function[0].function_name == "rem-events" && module.events_function[0].configuration.memory_size == 192 && module.events_function[0].configuration.timeout == 20 &&
      aws_lambda_event_source_mapping.presence_stream[0].parallelization_factor == 4 && aws_lambda_event_source_mapping.presence_stream[0].maximum_retry_attempts == 3
    )
    error_message = "Function sizing, the queue's visibility (6 x the checker's timeout) and the stream mapping follow the inputs."
  }

  assert {
    condition = (
      aws_cloudwatch_event_rule.presence_reconcile[0].schedule_expression == "rate(5 minutes)" &&
      aws_lambda_function_event_invoke_config.presence_reconcile[0].maximum_event_age_in_seconds == 300 &&
      output.function_environment.presence.PRESENCE_GRACE_SECONDS == "0" && output.function_environment.presence.PRESENCE_PROBE_INTERVAL_SECONDS == "30" &&
      output.function_environment.presence.PRESENCE_PROBE_ENDPOINT == "http://127.0.0.1:8123/live" && output.function_environment.presence.PRESENCE_TABLE == "AgentPresence"
    )
    error_message = "Schedule, grace, probe interval, probe endpoint and table name reach the checker."
  }

  assert {
    condition     = jsondecode(output.iam_policies.presence).Statement[1].Resource == ["arn:aws:dynamodb:eu-west-1:123456789012:table/AgentPresence"] && output.agent_events.event_bus_name == "rem-agents"
    error_message = "Statements follow the table's name; the bus is <name>-agents."
  }
}

run "alarms" {
  assert {
    condition = (
      keys(output.alarm_arns.presence) == ["dead_letters", "errors"] && keys(output.alarm_arns.events) == ["errors", "iterator_age"] &&
      aws_cloudwatch_metric_alarm.presence_dlq[0].namespace == "AWS/SQS" &&
      aws_cloudwatch_metric_alarm.presence_dlq[0].metric_name == "ApproximateNumberOfMessagesVisible" &&
      aws_cloudwatch_metric_alarm.presence_dlq[0].dimensions == tomap({ QueueName = "remediation-disconnect-presence-dlq" }) &&
      aws_cloudwatch_metric_alarm.presence_dlq[0].threshold == 1
    )
    error_message = "Alarms: the checker's and announcer's Errors, any message in the dead-letter queue."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.events_iterator_age[0].namespace == "AWS/Lambda" && aws_cloudwatch_metric_alarm.events_iterator_age[0].metric_name == "IteratorAge" &&
      aws_cloudwatch_metric_alarm.events_iterator_age[0].statistic == "Maximum" && aws_cloudwatch_metric_alarm.events_iterator_age[0].threshold == 60000 &&
      aws_cloudwatch_metric_alarm.events_iterator_age[0].dimensions == tomap({ FunctionName = module.events_function[0].function_name })
    )
    error_message = "The announcer's IteratorAge alarm fires when events are a minute late."
  }
}

run "alarms_disabled" {
  variables {
    alarms = { enabled = false }
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.presence_dlq) == 0 && length(aws_cloudwatch_metric_alarm.events_iterator_age) == 0 && output.alarm_arns.presence == {} && output.alarm_arns.events == {}
    error_message = "alarms.enabled = false removes the presence alarms too."
  }
}

run "dashboard" {
  command = plan

  variables {
    create_dashboard = true
  }

  assert {
    condition = [for widget in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : widget.properties.title] == [
      "Disconnects by client type", "Active connections (each complete sweep)", "Stale connections removed by the sweeper",
      "Connection duration (seconds, p50 / p90)", "Agents online (reconciler census)", "Presence transitions by reason",
      "Reconnects within grace (no event)", "Liveness: probes, gone connections, heartbeat timeouts", "Refused $connect by reason",
      "Errors", "Agents that went online or offline (latest 50)",
    ]
    error_message = "With presence the dashboard adds agents online, transitions by reason, reconnects within grace, liveness/heartbeat timeouts and a log table (and, for the $connect writer presence needs, refusals by reason)."
  }

  assert {
    condition = contains(
      one([for w in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : w if w.properties.title == "Presence transitions by reason"]).properties.metrics,
      ["Remediation/remediation-disconnect", "AgentWentOffline", "Reason", "heartbeat_timeout"]
      ) && contains(
      one([for w in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : w if w.properties.title == "Errors"]).properties.metrics,
      ["AWS/Lambda", "Errors", "FunctionName", "remediation-disconnect-events"]
    )
    error_message = "Transitions by every offline reason; the announcer's errors on the Errors widget."
  }

  assert {
    condition     = one([for w in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : w if w.type == "log"]).y == 24 && strcontains(aws_cloudwatch_dashboard.this[0].dashboard_body, "/aws/lambda/remediation-disconnect-presence")
    error_message = "The log table sits below the ten metric widgets (four rows) and reads the checker's log group too."
  }
}

run "needs_the_connect_writer" {
  command = plan

  variables {
    connect = { enabled = false }
  }

  expect_failures = [aws_dynamodb_table.presence]
}

run "needs_stage_name" {
  command = plan

  variables {
    stage_name = null
  }

  expect_failures = [aws_dynamodb_table.presence]
}

run "presence_table_name_is_the_connections_table" {
  command = plan

  variables {
    presence = { enabled = true, table_name = "remediation-disconnect-connections" }
  }

  expect_failures = [aws_dynamodb_table.presence]
}
