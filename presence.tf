# Agent presence (presence.enabled; needs the $connect writer): one item per agent in the presence
# table, a transition online <-> offline = one conditional write (the package's presence.py). Grace
# windows and per-connection liveness probes are delayed SQS messages resolved by the checker
# `<name>-presence`, which also reconciles the table on a schedule. The announcer and the event bus
# are in events.tf; heartbeats are a MOCK route below (no function runs for them).
#
#   $connect / $disconnect / sweeper ──> presence table (UpdateItem) ──stream──> <name>-events ──> EventBridge
#            └──> SQS <name>-presence (grace, probe; DelaySeconds) ──> <name>-presence ──> GetConnection / presence
#   EventBridge rate(reconcile_minutes) ──> <name>-presence (reconciler tick: Scan, repair, census)

locals {
  presence_enabled  = local.presence.enabled
  heartbeat_enabled = local.presence_enabled && local.presence.heartbeat.enabled
  presence_name     = "${var.name}-presence"

  presence_table_name = local.presence.table_name == null ? local.presence_name : local.presence.table_name
  presence_dlq_name   = "${local.presence_name}-dlq"
  # Built from names (as AWS forms them) so the policies are known at plan and reviewable there.
  presence_table_arn = "arn:${local.partition}:dynamodb:${local.region}:${local.account_id}:table/${local.presence_table_name}"
  presence_queue_arn = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.presence_name}"
  presence_dlq_arn   = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.presence_dlq_name}"

  # A message the checker failed on is redelivered after the visibility timeout; after this many
  # receives it goes to the dead-letter queue. AWS recommends at least 5 (a throttled function's poller
  # also counts receives); 10 leaves room for throttling bursts, and a poison message costs 10 runs.
  presence_max_receive_count = 10

  # What the package reads to write presence (spec: absent = presence off). HEARTBEAT_TIMEOUT_SECONDS
  # 0 = heartbeats off (probes every PRESENCE_PROBE_INTERVAL_SECONDS instead).
  presence_environment = local.presence_enabled ? {
    PRESENCE_TABLE                  = local.presence_table_name
    PRESENCE_QUEUE_URL              = aws_sqs_queue.presence[0].id
    PRESENCE_GRACE_SECONDS          = tostring(local.presence.grace_seconds)
    PRESENCE_PROBE_INTERVAL_SECONDS = tostring(local.presence.probe_interval_seconds)
    HEARTBEAT_TIMEOUT_SECONDS       = local.heartbeat_enabled ? tostring(local.presence.heartbeat.timeout_seconds) : "0"
    HEARTBEAT_INTERVAL_SECONDS      = local.heartbeat_enabled ? tostring(local.presence.heartbeat.interval_seconds) : "0"
  } : {}

  checker_environment = merge(local.contract_environment, local.presence_environment, {
    PRESENCE_PROBE_ENDPOINT = coalesce(local.presence.probe_endpoint, local.default_probe_endpoint)
  })
}

resource "aws_dynamodb_table" "presence" {
  count = local.presence_enabled ? 1 : 0

  #checkov:skip=CKV_AWS_119:Encrypted with KMS always: the connections table's key (table.kms_key_arn or the existing table's), else the AWS managed key aws/dynamodb.
  #checkov:skip=CKV_AWS_28:PITR follows table.point_in_time_recovery, on by default; checkov cannot resolve optional() attribute defaults.
  #checkov:skip=CKV2_AWS_16:On-demand billing is the default and needs no autoscaling; PROVISIONED users attach their own scaling policy.
  name           = local.presence_table_name
  billing_mode   = local.table.billing_mode
  read_capacity  = local.provisioned ? local.table.read_capacity : null
  write_capacity = local.provisioned ? local.table.write_capacity : null
  hash_key       = "agentId"

  attribute {
    name = "agentId"
    type = "S"
  }

  # Every successful transition appears once, in order per agent: the announcer publishes from here.
  stream_enabled   = true
  stream_view_type = "NEW_AND_OLD_IMAGES"

  point_in_time_recovery {
    enabled = local.table.point_in_time_recovery
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = local.table_kms_key_arn
  }

  tags = var.tags

  lifecycle {
    # Cross-variable rules are preconditions: variable validations may refer to other variables only
    # from Terraform 1.9, and this module supports 1.6.6.
    precondition {
      condition     = local.connect.enabled
      error_message = "presence.enabled needs connect.enabled: the module's $connect writer brings agents online (and starts their liveness probes); without it no agent would ever be online. If your API's own $connect writes the connection item, presence cannot be used."
    }

    precondition {
      condition     = var.stage_name != null
      error_message = "presence.enabled needs stage_name: the checker calls the stage's @connections endpoint (GetConnection, and DeleteConnection with heartbeats), and its role is granted exactly that stage's @connections ARNs."
    }

    precondition {
      condition     = local.presence_table_name != local.table_name
      error_message = "presence.table_name must differ from the connections table's name: presence items are keyed by agentId, connection items by connectionId."
    }

    precondition {
      condition     = length(local.missing_packages) == 0
      error_message = "function/dist/manifest.json lists no package for: ${join(", ", local.missing_packages)}. This checkout's package predates the feature: run `make package` in the module's repository and commit function/dist/."
    }
  }
}

resource "aws_sqs_queue" "presence_dlq" {
  count = local.presence_enabled ? 1 : 0

  #checkov:skip=CKV2_AWS_73:Encrypted with the AWS managed key alias/aws/sqs: the messages hold only agent and connection ids and timestamps (as the tables do), and only the module's roles use the queue, which that key's policy allows without grants.
  name                      = local.presence_dlq_name
  message_retention_seconds = 1209600 # 14 days, SQS's maximum: time to look at what failed
  kms_master_key_id         = "alias/aws/sqs"
  tags                      = var.tags
}

resource "aws_sqs_queue" "presence" {
  count = local.presence_enabled ? 1 : 0

  #checkov:skip=CKV2_AWS_73:Encrypted with the AWS managed key alias/aws/sqs: the messages hold only agent and connection ids and timestamps (as the tables do), and only the module's roles use the queue, which that key's policy allows without grants.
  name = local.presence_name
  # Lambda requires at least the function's timeout and recommends 6x: a batch that is retried by
  # the poller must not become visible again while a run still holds it.
  visibility_timeout_seconds = 6 * local.functions.presence.timeout
  # Grace and probe messages are useless after a day: the reconciler repairs what they would have.
  message_retention_seconds = 86400
  kms_master_key_id         = "alias/aws/sqs"
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.presence_dlq[0].arn
    maxReceiveCount     = local.presence_max_receive_count
  })
  tags = var.tags
}

module "presence_function" {
  source = "./modules/lambda-function"
  count  = local.presence_enabled ? 1 : 0

  function_name                  = local.presence_name
  role_name                      = local.role_names.presence
  description                    = "Remediation WebSocket presence of API ${var.api_id}: grace windows, liveness probes, reconciler"
  handler                        = "remediation_registry.lambda_entry.presence"
  package                        = local.packages["presence"]
  runtime                        = var.runtime
  memory_size                    = local.functions.presence.memory_size
  timeout                        = local.functions.presence.timeout
  environment                    = local.checker_environment
  policy_statements              = local.checker_statements
  reserved_concurrent_executions = local.functions.presence.reserved_concurrent_executions
  tracing_mode                   = var.tracing_mode
  kms_key_arn                    = var.lambda_kms_key_arn
  detect_code_drift              = var.detect_code_drift
  log_retention_in_days          = var.log_retention_in_days
  log_kms_key_arn                = var.log_kms_key_arn
  role_path                      = var.role_path
  role_permissions_boundary      = var.role_permissions_boundary
  alarms                         = merge(local.function_alarms, { throttles = false })
  tags                           = var.tags
}

# Batches of up to 10 grace/probe messages. hashicorp/aws 3.39 (the offline stand-in) has no
# function_response_types, so the checker does not report batch item failures: it deletes each
# message it processed itself and raises at the end if any failed (only those are redelivered).
resource "aws_lambda_event_source_mapping" "presence_queue" {
  count = local.presence_enabled ? 1 : 0

  event_source_arn = aws_sqs_queue.presence[0].arn
  function_name    = module.presence_function[0].function_arn
  batch_size       = 10
}

# The reconciler tick: the same function, invoked by a schedule (a lost grace message, a function
# that failed between two writes; the AgentsOnline census).
resource "aws_cloudwatch_event_rule" "presence_reconcile" {
  count = local.presence_enabled ? 1 : 0

  name                = "${local.presence_name}-reconcile"
  description         = "Every ${local.presence.reconcile_minutes} minute(s): reconcile the agent presence of API ${var.api_id}"
  schedule_expression = local.presence.reconcile_minutes == 1 ? "rate(1 minute)" : "rate(${local.presence.reconcile_minutes} minutes)"
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "presence_reconcile" {
  count = local.presence_enabled ? 1 : 0

  rule      = aws_cloudwatch_event_rule.presence_reconcile[0].name
  target_id = "reconcile"
  arn       = module.presence_function[0].function_arn
}

resource "aws_lambda_permission" "presence_reconcile" {
  count = local.presence_enabled ? 1 : 0

  statement_id  = "AllowPresenceReconcileSchedule"
  action        = "lambda:InvokeFunction"
  function_name = module.presence_function[0].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.presence_reconcile[0].arn
}

# A failed or late tick is superseded by the next one: retrying it would only overlap.
resource "aws_lambda_function_event_invoke_config" "presence_reconcile" {
  count = local.presence_enabled ? 1 : 0

  function_name                = module.presence_function[0].function_name
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = min(21600, max(60, local.presence.reconcile_minutes * 60))
}

resource "aws_cloudwatch_metric_alarm" "presence_dlq" {
  count = local.presence_enabled && local.alarms.enabled ? 1 : 0

  alarm_name          = local.presence_dlq_name
  alarm_description   = "Presence messages or announcer batches failed repeatedly and landed in the dead-letter queue ${local.presence_dlq_name}: grace windows not resolved, connections not probed, or agent events not published. The reconciler repairs presence within ${local.presence.reconcile_minutes} minute(s); see the logs of ${local.presence_name} and ${local.events_name} (level ERROR)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = local.presence_dlq_name }
  statistic           = "Maximum"
  period              = local.alarms.period
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarms.alarm_actions
  ok_actions          = local.alarms.ok_actions
  tags                = var.tags
}

# Heartbeats (presence.heartbeat.enabled): API Gateway answers them itself. One-way (no route
# response), so each heartbeat is one billed message and nothing runs; a client message is what
# updates the connection's LastActiveAt, which the checker's liveness probe reads.
resource "aws_apigatewayv2_integration" "heartbeat" {
  count = local.heartbeat_enabled ? 1 : 0

  api_id                        = var.api_id
  description                   = "Agent heartbeats: answered by API Gateway (MOCK), no function invoked, no reply"
  integration_type              = "MOCK"
  template_selection_expression = "\\$default"
  request_templates = {
    "$default" = "{\"statusCode\": 200}"
  }
}

resource "aws_apigatewayv2_route" "heartbeat" {
  count = local.heartbeat_enabled && var.create_route ? 1 : 0

  #checkov:skip=CKV_AWS_309:WebSocket APIs authorize only the $connect route; a heartbeat arrives on a connection that $connect already authorized.
  api_id         = var.api_id
  route_key      = local.presence.heartbeat.route_key
  operation_name = "Heartbeat"
  target         = "integrations/${aws_apigatewayv2_integration.heartbeat[0].id}"
}
