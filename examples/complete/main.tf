# A Remediation WebSocket channel with everything the module offers: agent status with offline
# events routed to on-call, probing of silent connections, alarms and a dashboard.
# The module's $connect writer registers each connection, with identity from the REQUEST authorizer of
# authorizer.tf (KMS-signed tokens, nothing the client can choose): see README.md, "Connecting an agent".

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

module "remediation_disconnect" {
  source = "../.."

  name       = "${var.name}-disconnect"
  api_id     = aws_apigatewayv2_api.remediation.id
  stage_name = aws_apigatewayv2_stage.live.name
  table_name = "RemediationWebSocketConnections"

  # Identity from the REQUEST authorizer of authorizer.tf, under the keys it writes its context with.
  connect = {
    enabled         = true
    identity        = "authorizer"
    authorizer_id   = aws_apigatewayv2_authorizer.connect.id
    client_type_key = local.connect_context_keys.client_type
    agent_id_key    = local.connect_context_keys.agent_id
  }

  agent_tracking = {
    enabled = true
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

# Agent offline -> on-call topic.
resource "aws_cloudwatch_event_rule" "agent_offline" {
  name        = "${var.name}-agent-offline"
  description = "A Remediation agent has no live WebSocket connection left"
  event_pattern = jsonencode({
    source        = [module.remediation_disconnect.offline_event.source]
    "detail-type" = [module.remediation_disconnect.offline_event.detail_type]
  })
}

resource "aws_cloudwatch_event_target" "agent_offline" {
  rule      = aws_cloudwatch_event_rule.agent_offline.name
  target_id = "oncall"
  arn       = aws_sns_topic.oncall.arn
}

resource "aws_sns_topic_policy" "oncall" {
  arn = aws_sns_topic.oncall.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AgentOfflineEvents"
        Effect    = "Allow"
        Principal = { Service = "events.amazonaws.com" }
        Action    = "sns:Publish"
        Resource  = aws_sns_topic.oncall.arn
        Condition = { ArnEquals = { "aws:SourceArn" = aws_cloudwatch_event_rule.agent_offline.arn } }
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
