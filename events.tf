# Agent events (presence.events.enabled): the announcer `<name>-events` reads the presence table's
# stream and publishes one EventBridge event per transition, in order per agent. With
# presence.events.create_bus the bus `<name>-agents` is the module's own, and its resource policy
# (eventbus_policy.tf) denies events:PutEvents with the module's source to every principal but the
# announcer's role: in the same account an IAM Allow is enough to publish, so only a Deny in the bus
# policy can make the source trustworthy.

locals {
  events_enabled   = local.presence_enabled && local.presence.events.enabled
  create_agent_bus = local.events_enabled && local.presence.events.create_bus
  events_name      = "${var.name}-events"

  agent_bus_name = local.create_agent_bus ? "${var.name}-agents" : (local.presence.events.bus_name == null ? "default" : local.presence.events.bus_name)
  agent_bus_arn = (
    startswith(local.agent_bus_name, "arn:")
    ? local.agent_bus_name
    : "arn:${local.partition}:events:${local.region}:${local.account_id}:event-bus/${local.agent_bus_name}"
  )
  agent_event_detail_types = ["Remediation Agent Online", "Remediation Agent Offline"]

  # The announcer's role ARN as IAM's aws:PrincipalArn reports it for its sessions (the role, with its
  # path, not the assumed-role session).
  events_role_arn = "arn:${local.partition}:iam::${local.account_id}:role${var.role_path}${local.role_names.events}"

  # The bus policy's document, here and not in eventbus_policy.tf: that file is swapped for a stand-in
  # offline (standin/eventbus_policy.tf), and the tests assert the document through an output.
  agent_bus_policy_json = local.create_agent_bus ? jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "OnlyTheAnnouncerPublishesAgentEvents"
      Effect    = "Deny"
      Principal = "*"
      Action    = "events:PutEvents"
      Resource  = local.agent_bus_arn
      Condition = {
        StringEquals = { "events:source" = local.presence.events.source }
        ArnNotEquals = { "aws:PrincipalArn" = local.events_role_arn }
      }
    }]
  }) : null

  events_environment = merge(local.contract_environment, {
    PRESENCE_TABLE = local.presence_table_name
    EVENT_BUS      = local.agent_bus_arn
    EVENT_SOURCE   = local.presence.events.source
  })
}

resource "aws_cloudwatch_event_bus" "agents" {
  count = local.create_agent_bus ? 1 : 0

  name = local.agent_bus_name
  tags = var.tags
}

module "events_function" {
  source = "./modules/lambda-function"
  count  = local.events_enabled ? 1 : 0

  function_name                  = local.events_name
  role_name                      = local.role_names.events
  description                    = "Remediation WebSocket presence of API ${var.api_id}: publishes agent online/offline events from the presence table's stream"
  handler                        = "remediation_registry.lambda_entry.announce"
  package                        = local.packages["events"]
  runtime                        = var.runtime
  memory_size                    = local.functions.events.memory_size
  timeout                        = local.functions.events.timeout
  environment                    = local.events_environment
  policy_statements              = local.events_statements
  reserved_concurrent_executions = local.functions.events.reserved_concurrent_executions
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

# In stream order, per agent in one lane even with a parallelization factor > 1. A failing batch is
# bisected and retried maximum_retry_attempts times (finite: the default -1 would block the agent's
# later events for up to 24 h), then described in the dead-letter queue. hashicorp/aws 3.39 has no
# function_response_types: the announcer de-duplicates with its `announced` mark instead.
resource "aws_lambda_event_source_mapping" "presence_stream" {
  count = local.events_enabled ? 1 : 0

  event_source_arn                   = aws_dynamodb_table.presence[0].stream_arn
  function_name                      = module.events_function[0].function_arn
  starting_position                  = "LATEST"
  batch_size                         = 100
  maximum_batching_window_in_seconds = 1
  parallelization_factor             = local.presence.announcer.parallelization_factor
  bisect_batch_on_function_error     = true
  maximum_retry_attempts             = local.presence.announcer.maximum_retry_attempts
  maximum_record_age_in_seconds      = -1

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.presence_dlq[0].arn
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "events_iterator_age" {
  count = local.events_enabled && local.alarms.enabled ? 1 : 0

  alarm_name          = "${local.events_name}-iterator-age"
  alarm_description   = "Agent events are published more than a minute late: the announcer ${local.events_name} is failing and retrying a batch, or throttled. See its log group /aws/lambda/${local.events_name} (level ERROR) and the dead-letter queue ${local.presence_dlq_name}."
  namespace           = "AWS/Lambda"
  metric_name         = "IteratorAge"
  dimensions          = { FunctionName = module.events_function[0].function_name }
  statistic           = "Maximum"
  period              = local.alarms.period
  evaluation_periods  = local.alarms.evaluation_periods
  threshold           = 60000 # milliseconds
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarms.alarm_actions
  ok_actions          = local.alarms.ok_actions
  tags                = var.tags
}
