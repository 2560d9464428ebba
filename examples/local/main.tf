# The whole stack against a moto server on loopback: no AWS account, no network.
# `make demo` starts moto on a free port, applies this, runs each deployed function under AWS's Lambda
# runtime emulator, connects a Dashboard and agents as real WebSocket clients through a local gateway
# that plays API Gateway's data plane ($connect, $disconnect, @connections), runs the sweeper, then
# destroys everything.

provider "aws" {
  region                      = var.region
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true

  # Every service the stack uses goes to the emulator. "ec2": the provider looks up EC2 details when
  # it starts; sent to the real endpoint, offline, that lookup costs ~40 seconds of retries.
  endpoints {
    apigatewayv2     = var.aws_endpoint
    cloudwatch       = var.aws_endpoint
    cloudwatchevents = var.aws_endpoint
    cloudwatchlogs   = var.aws_endpoint
    dynamodb         = var.aws_endpoint
    ec2              = var.aws_endpoint
    iam              = var.aws_endpoint
    lambda           = var.aws_endpoint
    sqs              = var.aws_endpoint
    sts              = var.aws_endpoint
  }
}

resource "aws_apigatewayv2_api" "remediation" {
  name                       = "${var.name}-channel"
  protocol_type              = "WEBSOCKET"
  route_selection_expression = "$request.body.action"
}

resource "aws_apigatewayv2_stage" "live" {
  #checkov:skip=CKV_AWS_76:Emulator demo stack: access logs would go to a moto log group nobody reads (examples/complete enables them).
  #checkov:skip=CKV2_AWS_51:WebSocket APIs do not support mutual TLS client certificates.
  api_id = aws_apigatewayv2_api.remediation.id
  name   = "live"
  # moto implements neither CreateDeployment nor UpdateStage: let the stage deploy itself.
  auto_deploy = true
}

# Agent-offline events land on a bus of their own and are routed to a queue the demo reads.
resource "aws_cloudwatch_event_bus" "remediation" {
  name = "${var.name}-events"
}

module "remediation_disconnect" {
  source = "../.."

  name       = var.name
  api_id     = aws_apigatewayv2_api.remediation.id
  stage_name = aws_apigatewayv2_stage.live.name
  agent_tracking = {
    enabled        = true
    event_bus_name = aws_cloudwatch_event_bus.remediation.name
  }

  # The module's own $connect writer. Identity from the query string (?clientType=agent&agentId=...)
  # is SPOOFABLE by anyone: acceptable on this emulator-only demo stack, never on a real one (see
  # examples/complete for an authorizer).
  connect = {
    enabled                     = true
    allow_query_string_identity = true
  }

  sweeper = {
    rate_minutes      = 5
    probe_connections = true
    # The demo's connections are seconds old: probe them all. The @connections endpoint is the local
    # WebSocket gateway's (scripts/ws_gateway.py) when given, else the API's own URL.
    probe_min_age_seconds = 0
    probe_endpoint        = var.connections_endpoint
  }

  # Warn on plan when the deployed code is not the package (the end-to-end tests change it behind
  # Terraform's back to prove it).
  detect_code_drift = true

  create_dashboard = true
  tags             = { Example = "local", Purpose = "demo" }
}

resource "aws_sqs_queue" "agent_offline" {
  #checkov:skip=CKV2_AWS_73:Emulator demo queue holding only demo events; the AWS managed SQS key is enough.
  name                      = "${var.name}-agent-offline"
  message_retention_seconds = 3600
  kms_master_key_id         = "alias/aws/sqs"
}

resource "aws_cloudwatch_event_rule" "agent_offline" {
  name           = "${var.name}-agent-offline"
  description    = "Agent-offline events of the Remediation channel, to the demo's queue"
  event_bus_name = aws_cloudwatch_event_bus.remediation.name
  event_pattern = jsonencode({
    source        = [module.remediation_disconnect.offline_event.source]
    "detail-type" = [module.remediation_disconnect.offline_event.detail_type]
  })
}

resource "aws_cloudwatch_event_target" "agent_offline" {
  rule           = aws_cloudwatch_event_rule.agent_offline.name
  event_bus_name = aws_cloudwatch_event_bus.remediation.name
  target_id      = "queue"
  arn            = aws_sqs_queue.agent_offline.arn
}

resource "aws_sqs_queue_policy" "agent_offline" {
  queue_url = aws_sqs_queue.agent_offline.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "FromTheAgentOfflineRule"
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = aws_sqs_queue.agent_offline.arn
      Condition = { ArnEquals = { "aws:SourceArn" = aws_cloudwatch_event_rule.agent_offline.arn } }
    }]
  })
}
