# Exact actions on exact ARNs; statements appear only when the feature that needs them is enabled.
# Every role also gets log writes on its own log group (and X-Ray writes when tracing is Active)
# from modules/lambda-function; the $connect role's statements are in connect.tf.

locals {
  probe                  = local.sweeper.enabled && local.sweeper.probe_connections
  probe_stage            = coalesce(var.stage_name, "-")
  connections_arn        = "${local.execution_arn}/${local.probe_stage}/GET/@connections/*"
  connections_delete_arn = "${local.execution_arn}/${local.probe_stage}/DELETE/@connections/*"
  # Must equal POSITION_KEY in function/src/remediation_registry/contract.py (tests/unit/test_position.py checks).
  sweeper_position_key = "~remediation-sweeper/scan-position"

  # The module's tables, as KMS's encryption context names them (aws:dynamodb:tableName).
  module_table_names = concat([local.table_name], local.presence_enabled ? [local.presence_table_name] : [])

  # DynamoDB decrypts a customer-managed table key with the caller's credentials, for the module's
  # tables only (the presence table shares the connections table's key). DescribeKey carries no
  # encryption context, so it is a statement of its own.
  table_key_statements = local.table_kms_key_arn == null ? [] : [
    {
      sid       = "DecryptTableKey"
      actions   = ["kms:Decrypt"]
      resources = [local.table_kms_key_arn]
      conditions = [
        {
          test     = "StringEquals"
          variable = "kms:ViaService"
          values   = ["dynamodb.${local.region}.amazonaws.com"]
        },
        {
          test     = "StringEquals"
          variable = "kms:EncryptionContext:aws:dynamodb:tableName"
          values   = local.module_table_names
        },
      ]
    },
    {
      sid       = "DescribeTableKey"
      actions   = ["kms:DescribeKey"]
      resources = [local.table_kms_key_arn]
      conditions = [{
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["dynamodb.${local.region}.amazonaws.com"]
      }]
    },
  ]

  # $connect, $disconnect and the sweeper make presence transitions (UpdateItem); an item another
  # writer left invalid is repaired with one conditional PutItem (see docs/presence.md).
  presence_write_statements = local.presence_enabled ? [{
    sid        = "TrackAgentPresence"
    actions    = ["dynamodb:PutItem", "dynamodb:UpdateItem"]
    resources  = [local.presence_table_arn]
    conditions = []
  }] : []

  # $connect starts a connection's probe chain, $disconnect opens grace windows.
  presence_send_statements = local.presence_enabled ? [{
    sid        = "SchedulePresenceChecks"
    actions    = ["sqs:SendMessage"]
    resources  = [local.presence_queue_arn]
    conditions = []
  }] : []

  disconnect_statements = concat(
    [{
      sid        = "DeleteClosedConnection"
      actions    = ["dynamodb:DeleteItem"]
      resources  = [local.table_arn]
      conditions = []
    }],
    local.presence_write_statements,
    local.presence_send_statements,
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
    local.presence_write_statements,
    local.table_key_statements,
  )

  # The checker: grace windows and probes from the queue (it deletes what it processed and re-sends
  # the next probe itself), the reconciler's Scan, dead connections removed from the registry, and
  # @connections GetConnection (DeleteConnection only to close connections silent past the heartbeat
  # timeout).
  checker_statements = concat(
    [
      {
        sid        = "ResolveAgentPresence"
        actions    = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan", "dynamodb:UpdateItem"]
        resources  = [local.presence_table_arn]
        conditions = []
      },
      {
        sid        = "RemoveDeadConnections"
        actions    = ["dynamodb:DeleteItem"]
        resources  = [local.table_arn]
        conditions = []
      },
      {
        sid        = "ProcessPresenceQueue"
        actions    = ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:SendMessage"]
        resources  = [local.presence_queue_arn]
        conditions = []
      },
      {
        sid        = "ProbeAgentConnections"
        actions    = ["execute-api:ManageConnections"]
        resources  = concat([local.connections_arn], local.heartbeat_enabled ? [local.connections_delete_arn] : [])
        conditions = []
      },
    ],
    local.table_key_statements,
  )

  # The announcer: the stream's records (any stream of the presence table: its label changes when
  # the stream is re-enabled), its `announced` mark on the presence item, PutEvents of exactly the
  # module's source and two detail-types, and the dead-letter queue the mapping sends failed batches
  # to (with the function's role).
  events_statements = concat(
    [
      {
        sid        = "ReadPresenceStream"
        actions    = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"]
        resources  = ["${local.presence_table_arn}/stream/*"]
        conditions = []
      },
      {
        # ListStreams supports no resource-level permission ("*" only, like X-Ray's writes); Lambda's
        # stream poller checks for it.
        sid        = "ListStreams"
        actions    = ["dynamodb:ListStreams"]
        resources  = ["*"]
        conditions = []
      },
      {
        sid        = "MarkEventsAnnounced"
        actions    = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
        resources  = [local.presence_table_arn]
        conditions = []
      },
      {
        sid       = "PublishAgentEvents"
        actions   = ["events:PutEvents"]
        resources = [local.agent_bus_arn]
        conditions = [
          {
            test     = "StringEquals"
            variable = "events:source"
            values   = [local.presence.events.source]
          },
          {
            test     = "StringEquals"
            variable = "events:detail-type"
            values   = local.agent_event_detail_types
          },
        ]
      },
      {
        sid        = "DeadLetterFailedBatches"
        actions    = ["sqs:SendMessage"]
        resources  = [local.presence_dlq_arn]
        conditions = []
      },
    ],
    local.table_key_statements,
  )

  # For the caller's Dashboard: read one agent (GetItem) or all agents (Scan), nothing else.
  presence_read_policy_json = local.presence_enabled ? jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [{
        Sid      = "ReadAgentPresence"
        Effect   = "Allow"
        Action   = ["dynamodb:GetItem", "dynamodb:Scan"]
        Resource = [local.presence_table_arn]
      }],
      local.table_kms_key_arn == null ? [] : [{
        Sid      = "DecryptPresenceTable"
        Effect   = "Allow"
        Action   = ["kms:Decrypt"]
        Resource = [local.table_kms_key_arn]
        Condition = {
          StringEquals = {
            "kms:ViaService"                               = ["dynamodb.${local.region}.amazonaws.com"]
            "kms:EncryptionContext:aws:dynamodb:tableName" = [local.presence_table_name]
          }
        }
      }],
    )
  }) : null

  # For agent roles with connect.identity = "iam": sign and open the WebSocket ($connect) and send
  # heartbeats on this API's stage, nothing else.
  agent_policy_json = local.connect.enabled && local.connect.identity == "iam" ? jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid    = "ConnectAsAgent"
      Effect = "Allow"
      Action = ["execute-api:Invoke"]
      Resource = concat(
        ["${local.execution_arn}/${local.probe_stage}/$connect"],
        local.heartbeat_enabled ? ["${local.execution_arn}/${local.probe_stage}/${local.presence.heartbeat.route_key}"] : [],
      )
    }]
  }) : null
}
