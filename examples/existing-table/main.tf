# The module on a table that already exists (here created beside it, as it would be by another
# stack): create_table = false, IAM scoped to that table's ARN. The module checks at plan time that
# the table's key is connectionId and that the agent index exists.

provider "aws" {
  region = var.region
}

# Stands in for the table your platform already has (the design document's
# RemediationWebSocketConnections), with the agentId index agent tracking needs.
resource "aws_dynamodb_table" "connections" {
  #checkov:skip=CKV_AWS_119:Stands in for an existing table; encrypted with the AWS managed key.
  #checkov:skip=CKV2_AWS_16:On-demand table: no autoscaling needed.
  name         = "RemediationWebSocketConnections"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "connectionId"

  attribute {
    name = "connectionId"
    type = "S"
  }

  attribute {
    name = "agentId"
    type = "S"
  }

  global_secondary_index {
    name               = "agentId-index"
    hash_key           = "agentId"
    projection_type    = "INCLUDE"
    non_key_attributes = ["connectedAt", "expiresAt", "clientType"]
  }

  ttl {
    enabled        = true
    attribute_name = "expiresAt"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}

resource "aws_apigatewayv2_api" "remediation" {
  name                       = "${var.name}-channel"
  protocol_type              = "WEBSOCKET"
  route_selection_expression = "$request.body.action"
}

module "remediation_disconnect" {
  source = "../.."

  name         = "${var.name}-disconnect"
  api_id       = aws_apigatewayv2_api.remediation.id
  create_table = false
  table_name   = aws_dynamodb_table.connections.name

  agent_tracking = {
    enabled        = true
    index_name     = "agentId-index"
    offline_events = false # count AgentsOffline in CloudWatch only
  }
}
