# A Remediation WebSocket channel with everything the module offers: the module's $connect writer with
# verified identity, agent presence with heartbeats and online/offline events on the module's own bus
# (only the module may publish its source there) routed to on-call, probing of silent connections,
# alarms and a dashboard.
#
# Identity, chosen with connect_identity (README.md, "Choosing the identity"); either way the client
# proves who it is instead of saying it:
# - "iam" (default; iam_identity.tf): agents and the Dashboard SigV4-sign the handshake with a role
#   (AWS_IAM on $connect), the agent id is the role session name: no token to mint or store,
#   credentials from STS.
# - "token_authorizer" (authorizer.tf): a REQUEST authorizer that takes identity only from a token
#   whose MAC a KMS HMAC key computed: each agent holds a token for exactly its own id, which nothing
#   the client sends can change.

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

# The one place the identity option becomes the module's connect input: exactly one source, and only
# the inputs that source reads (the module refuses authorizer_id with "iam" and role lists otherwise).
locals {
  iam_identity        = var.connect_identity == "iam"
  authorizer_identity = var.connect_identity == "token_authorizer"

  connect = {
    enabled = true
    # The module's sources: "iam", or "authorizer" (any REQUEST authorizer; here the token one).
    identity = local.authorizer_identity ? "authorizer" : "iam"
    # "token_authorizer": the REQUEST authorizer of authorizer.tf, under the keys it writes its context with
    # (the $disconnect function reads them too, for the lost-answer fallback).
    authorizer_id   = one(aws_apigatewayv2_authorizer.connect[*].id)
    client_type_key = local.connect_context_keys.client_type
    agent_id_key    = local.connect_context_keys.agent_id
    # "iam": the roles of iam_identity.tf (empty lists otherwise); the agent id is the session name.
    iam = {
      agent_role_arns     = [for role, arn in local.client_role_arns : arn if role == "agent"]
      dashboard_role_arns = [for role, arn in local.client_role_arns : arn if role == "dashboard"]
      agent_id_from       = "session_name"
    }
    # Every agent id, whichever source vouched for it (a token's sub, a session name), is checked again.
    # One rule for both options keeps a fleet's agent ids, and so its presence history, when it switches:
    # 64 characters at most, the longest role session name.
    agent_id_pattern = "agent-[A-Za-z0-9-]{1,58}"
  }
}

# An input of the option not chosen does nothing: say so on every plan instead of ignoring it silently.
check "identity_inputs" {
  assert {
    condition     = local.iam_identity || length(var.trusted_principal_arns) == 0
    error_message = "trusted_principal_arns is ignored with connect_identity = \"token_authorizer\": no client roles exist, identity comes from tokens (authorizer.tf). Remove it, or set connect_identity = \"iam\"."
  }
  assert {
    condition     = local.authorizer_identity || var.token_key_arn == null
    error_message = "token_key_arn is ignored with connect_identity = \"iam\": no authorizer exists and no token is checked; clients sign with the roles of iam_identity.tf. Remove it, or set connect_identity = \"token_authorizer\"."
  }
}

module "remediation_disconnect" {
  source = "../.."

  name       = "${var.name}-disconnect"
  api_id     = aws_apigatewayv2_api.remediation.id
  stage_name = aws_apigatewayv2_stage.live.name
  table_name = "RemediationWebSocketConnections"

  # connect_identity decides (above): "iam" or "token_authorizer".
  connect = local.connect

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
