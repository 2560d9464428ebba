# A Remediation WebSocket channel with everything the module offers: agents and the Dashboard connect
# with SigV4-signed handshakes (AWS_IAM on $connect: identity from the caller's role, no token to
# manage), agent presence with heartbeats and online/offline events on the module's own bus (only the
# module may publish its source there) routed to on-call, probing of silent connections, alarms and a
# dashboard. See README.md, "Connecting an agent".

provider "aws" {
  region = var.region
}

resource "aws_apigatewayv2_api" "remediation" {
  name                       = "${var.name}-channel"
  description                = "Remediation agents and the Dashboard"
  protocol_type              = "WEBSOCKET"
  route_selection_expression = "$request.body.action"
}

resource "aws_cloudwatch_log_group" "access" {
  #checkov:skip=CKV_AWS_158:Access logs carry no secrets; CloudWatch Logs encrypts them by default.
  #checkov:skip=CKV_AWS_338:A month of access logs is enough for an example; raise it for production.
  name              = "/aws/apigateway/${var.name}-channel"
  retention_in_days = 30
}

# Access logging needs API Gateway's CloudWatch Logs role, an ACCOUNT-WIDE setting (one per account
# and region, shared by every API there). Most accounts already have it: then leave
# manage_api_gateway_account false. Set it true only where this stack may own that setting.
data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

resource "aws_iam_role" "api_gateway_logs" {
  count = var.manage_api_gateway_account ? 1 : 0

  name = "${var.name}-apigateway-logs-${var.region}"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "apigateway.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

# The actions of AWS's managed policy AmazonAPIGatewayPushToCloudWatchLogs, limited to this account
# and region's log groups (API Gateway creates its execution log groups itself).
resource "aws_iam_role_policy" "api_gateway_logs" {
  count = var.manage_api_gateway_account ? 1 : 0

  name = "push-to-cloudwatch-logs"
  role = aws_iam_role.api_gateway_logs[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid    = "WriteApiGatewayLogs"
      Effect = "Allow"
      Action = [
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:DescribeLogGroups",
        "logs:DescribeLogStreams",
        "logs:PutLogEvents",
        "logs:GetLogEvents",
        "logs:FilterLogEvents",
      ]
      Resource = "arn:${data.aws_partition.current.partition}:logs:${var.region}:${data.aws_caller_identity.current.account_id}:log-group:*"
    }]
  })
}

resource "aws_api_gateway_account" "this" {
  count = var.manage_api_gateway_account ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.api_gateway_logs[0].arn
  depends_on          = [aws_iam_role_policy.api_gateway_logs]
}

resource "aws_apigatewayv2_stage" "live" {
  #checkov:skip=CKV2_AWS_51:WebSocket APIs do not support mutual TLS client certificates.
  api_id      = aws_apigatewayv2_api.remediation.id
  name        = "live"
  auto_deploy = true

  default_route_settings {
    throttling_burst_limit = 500
    throttling_rate_limit  = 1000
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId        = "$context.requestId"
      connectionId     = "$context.connectionId"
      eventType        = "$context.eventType"
      routeKey         = "$context.routeKey"
      status           = "$context.status"
      disconnectStatus = "$context.disconnectStatusCode"
      integrationError = "$context.integrationErrorMessage"
    })
  }

  depends_on = [aws_api_gateway_account.this]
}

# The topic is encrypted with a customer-managed key: the AWS managed key alias/aws/sns has a key
# policy nobody can change, and it does not let CloudWatch alarms or EventBridge use the key, so
# their publishes to an encrypted topic would fail (SNS documentation, "Enable compatibility
# between event sources from AWS services and encrypted topics").
resource "aws_kms_key" "oncall" {
  description         = "Encrypts the ${var.name}-oncall SNS topic; usable by CloudWatch alarms and EventBridge"
  enable_key_rotation = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministersTheKey"
        Effect    = "Allow"
        Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "AlarmsAndEventsPublishToTheTopic"
        Effect    = "Allow"
        Principal = { Service = ["cloudwatch.amazonaws.com", "events.amazonaws.com"] }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
      },
    ]
  })
}

resource "aws_sns_topic" "oncall" {
  name              = "${var.name}-oncall"
  kms_master_key_id = aws_kms_key.oncall.arn
}

resource "aws_sns_topic_subscription" "oncall" {
  count = var.oncall_email == null ? 0 : 1

  topic_arn = aws_sns_topic.oncall.arn
  protocol  = "email"
  endpoint  = var.oncall_email
}

# The roles clients assume to sign the $connect handshake: one for the whole agent fleet (each agent
# uses its agent id as the role session name, which becomes its identity) and one for the Dashboard.
# Who may assume them is yours to decide: here principals of this account (trusted_principal_arns
# narrows it). Both carry exactly the module's agent_policy_json: invoke $connect and heartbeat on
# this stage, nothing else.
locals {
  client_roles = {
    agent     = "${var.name}-agent-${var.region}"
    dashboard = "${var.name}-dashboard-${var.region}"
  }
  account_root = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"
}

resource "aws_iam_role" "client" {
  for_each = local.client_roles

  name = each.value
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [merge(
      {
        Sid       = "TrustedClients"
        Effect    = "Allow"
        Principal = { AWS = length(var.trusted_principal_arns) > 0 ? var.trusted_principal_arns : [local.account_root] }
        Action    = "sts:AssumeRole"
      },
      # Session names become agent ids: require a well-formed one.
      each.key == "agent" ? { Condition = { StringLike = { "sts:RoleSessionName" = "agent-*" } } } : {},
    )]
  })
}

resource "aws_iam_role_policy" "client" {
  for_each = local.client_roles

  name   = "connect-to-${var.name}-channel"
  role   = aws_iam_role.client[each.key].id
  policy = module.remediation_disconnect.agent_policy_json
}

module "remediation_disconnect" {
  source = "../.."

  name       = "${var.name}-disconnect"
  api_id     = aws_apigatewayv2_api.remediation.id
  stage_name = aws_apigatewayv2_stage.live.name
  table_name = "RemediationWebSocketConnections"

  connect = {
    enabled  = true
    identity = "iam"
    iam = {
      agent_role_arns     = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:role/${local.client_roles.agent}"]
      dashboard_role_arns = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:role/${local.client_roles.dashboard}"]
      agent_id_from       = "session_name"
    }
    agent_id_pattern = "agent-[A-Za-z0-9-]{1,58}"
  }

  presence = {
    enabled       = true
    grace_seconds = 20
    heartbeat     = { enabled = true, interval_seconds = 30, timeout_seconds = 75 }
    events        = { create_bus = true }
  }

  sweeper = {
    rate_minutes      = 5
    probe_connections = true
  }

  alarms = {
    alarm_actions = [aws_sns_topic.oncall.arn]
    ok_actions    = [aws_sns_topic.oncall.arn]
  }

  create_dashboard = true
  tags             = { Example = "complete" }
}

# Agent events -> on-call topic: the rule matches exactly the module's source and two detail-types
# on the module's bus, whose policy lets no one but the module's announcer publish them.
resource "aws_cloudwatch_event_rule" "agent_events" {
  name           = "${var.name}-agent-events"
  description    = "A Remediation agent went online or offline"
  event_bus_name = module.remediation_disconnect.agent_events.event_bus_name
  event_pattern  = module.remediation_disconnect.agent_events.event_pattern
}

resource "aws_cloudwatch_event_target" "agent_events" {
  rule           = aws_cloudwatch_event_rule.agent_events.name
  event_bus_name = module.remediation_disconnect.agent_events.event_bus_name
  target_id      = "oncall"
  arn            = aws_sns_topic.oncall.arn
}

resource "aws_sns_topic_policy" "oncall" {
  arn = aws_sns_topic.oncall.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AgentEvents"
        Effect    = "Allow"
        Principal = { Service = "events.amazonaws.com" }
        Action    = "sns:Publish"
        Resource  = aws_sns_topic.oncall.arn
        Condition = { ArnEquals = { "aws:SourceArn" = aws_cloudwatch_event_rule.agent_events.arn } }
      },
      {
        Sid       = "Alarms"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = "sns:Publish"
        Resource  = aws_sns_topic.oncall.arn
      },
    ]
  })
}
