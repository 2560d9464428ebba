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

data "aws_caller_identity" "current" {}

locals {
  iam_identity = var.connect_identity == "iam"
  # Roles are global to the account: the two-region end-to-end test applies this twice in one account.
  signed_roles = {
    for role, name in {
      agent     = "${var.name}-agent-${var.region}"
      dashboard = "${var.name}-dashboard-${var.region}"
    } : role => name if local.iam_identity
  }
  signed_role_arns = { for role, name in local.signed_roles : role => "arn:aws:iam::${data.aws_caller_identity.current.account_id}:role/${name}" }
}

# connect_identity = "iam": the roles signed clients assume (a SigV4-presigned handshake), trusted by
# the account; the agent role's session name is the agent id. Both may invoke exactly this stage's
# $connect and heartbeat routes (the module's agent_policy_json).
resource "aws_iam_role" "signed" {
  for_each = local.signed_roles

  name = each.value
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "ClientsOfThisAccount"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "signed" {
  for_each = local.signed_roles

  name   = "connect-to-${var.name}"
  role   = aws_iam_role.signed[each.key].id
  policy = module.remediation_disconnect.agent_policy_json
}

module "remediation_disconnect" {
  source = "../.."

  name       = var.name
  api_id     = aws_apigatewayv2_api.remediation.id
  stage_name = aws_apigatewayv2_stage.live.name

  # The module's own $connect writer. The default identity source here is the query string
  # (?clientType=agent&agentId=...): SPOOFABLE by anyone, acceptable on this emulator-only demo stack
  # and never on a real one (every plan warns). connect_identity = "iam" makes the route AWS_IAM:
  # clients sign the handshake with the roles above (see examples/complete for a real stack).
  connect = {
    enabled  = true
    identity = var.connect_identity
    iam = {
      agent_role_arns     = [for role, arn in local.signed_role_arns : arn if role == "agent"]
      dashboard_role_arns = [for role, arn in local.signed_role_arns : arn if role == "dashboard"]
      agent_id_from       = "session_name"
    }
  }

  # Presence on a demo's time scale: seconds instead of the defaults' 20 s grace and 30 s / 75 s
  # heartbeats, so the story shows a reconnect within grace, a heartbeat timeout and a grace expiry
  # in a few seconds each.
  presence = {
    enabled       = true
    grace_seconds = 2
    heartbeat = {
      enabled          = true
      interval_seconds = 1
      timeout_seconds  = 3
    }
    # The module's own bus (<name>-agents), its events routed to the demo's queue below.
    events         = { create_bus = true }
    probe_endpoint = var.connections_endpoint
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

  # Alarms stay on (the default), so the demo shows them, but notify nobody: on an emulator there is
  # no on-call. Every plan warns about that (check alarms_notify_someone); a real stack sets
  # alarms = { alarm_actions = [<SNS topic ARN>] } (examples/complete).
  create_dashboard = true
  tags             = { Example = "local", Purpose = "demo" }
}

# Agent events (online and offline) from the module's bus, routed to a queue the demo reads.
resource "aws_sqs_queue" "agent_events" {
  #checkov:skip=CKV2_AWS_73:Emulator demo queue holding only demo events; the AWS managed SQS key is enough.
  name                      = "${var.name}-agent-events"
  message_retention_seconds = 3600
  kms_master_key_id         = "alias/aws/sqs"
}

resource "aws_cloudwatch_event_rule" "agent_events" {
  name           = "${var.name}-agent-events"
  description    = "Agent online/offline events of the Remediation channel, to the demo's queue"
  event_bus_name = module.remediation_disconnect.agent_events.event_bus_name
  event_pattern  = module.remediation_disconnect.agent_events.event_pattern
}

resource "aws_cloudwatch_event_target" "agent_events" {
  rule           = aws_cloudwatch_event_rule.agent_events.name
  event_bus_name = module.remediation_disconnect.agent_events.event_bus_name
  target_id      = "queue"
  arn            = aws_sqs_queue.agent_events.arn
}

resource "aws_sqs_queue_policy" "agent_events" {
  queue_url = aws_sqs_queue.agent_events.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "FromTheAgentEventsRule"
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = aws_sqs_queue.agent_events.arn
      Condition = { ArnEquals = { "aws:SourceArn" = aws_cloudwatch_event_rule.agent_events.arn } }
    }]
  })
}
