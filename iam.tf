# Exact actions on exact ARNs; statements appear only when the feature that needs them is enabled.
# Every role also gets log writes on its own log group (and X-Ray writes when tracing is Active)
# from modules/lambda-function; the $connect role's statements are in connect.tf.

locals {
  offline_events  = var.agent_tracking.enabled && var.agent_tracking.offline_events
  event_bus_arn   = startswith(var.agent_tracking.event_bus_name, "arn:") ? var.agent_tracking.event_bus_name : "arn:${local.partition}:events:${local.region}:${local.account_id}:event-bus/${var.agent_tracking.event_bus_name}"
  probe           = var.sweeper.enabled && var.sweeper.probe_connections
  probe_stage     = coalesce(var.stage_name, "-")
  connections_arn = "${local.execution_arn}/${local.probe_stage}/GET/@connections/*"
  # Must equal POSITION_KEY in function/src/remediation_registry/contract.py (tests/unit/test_position.py checks).
  sweeper_position_key = "~remediation-sweeper/scan-position"

  # DynamoDB decrypts a customer-managed table key with the caller's credentials.
  table_key_statements = local.table_kms_key_arn == null ? [] : [{
    sid       = "DecryptTableKey"
    actions   = ["kms:Decrypt", "kms:DescribeKey"]
    resources = [local.table_kms_key_arn]
    conditions = [{
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${local.region}.amazonaws.com"]
    }]
  }]

  agent_statements = concat(
    var.agent_tracking.enabled ? [{
      sid        = "FindOtherAgentConnections"
      actions    = ["dynamodb:Query"]
      resources  = [local.agent_index_arn]
      conditions = []
    }] : [],
    local.offline_events ? [{
      sid        = "AnnounceAgentOffline"
      actions    = ["events:PutEvents"]
      resources  = [local.event_bus_arn]
      conditions = []
    }] : [],
  )

  disconnect_statements = concat(
    [{
      sid        = "DeleteClosedConnection"
      actions    = ["dynamodb:DeleteItem"]
      resources  = [local.table_arn]
      conditions = []
    }],
    local.agent_statements,
    local.table_key_statements,
  )

  sweeper_statements = concat(
    [{
      sid        = "RemoveStaleConnections"
      actions    = ["dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "dynamodb:Scan"]
      resources  = [local.table_arn]
      conditions = []
      }, {
      # The scan position (function/src/remediation_registry/sweep/position.py): one reserved item, read and
      # written conditionally; LeadingKeys keeps these two actions off every connection item.
      sid       = "KeepScanPosition"
      actions   = ["dynamodb:GetItem", "dynamodb:PutItem"]
      resources = [local.table_arn]
      conditions = [{
        test     = "ForAllValues:StringEquals"
        variable = "dynamodb:LeadingKeys"
        values   = [local.sweeper_position_key]
      }]
    }],
    local.probe ? [{
      sid        = "ProbeConnections"
      actions    = ["execute-api:ManageConnections"]
      resources  = [local.connections_arn]
      conditions = []
    }] : [],
    local.agent_statements,
    local.table_key_statements,
  )
}
