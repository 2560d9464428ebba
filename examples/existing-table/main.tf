# The module on a table that already exists (here created beside it, as it would be by another
# stack): create_table = false, IAM scoped to that table's ARN. The module checks at plan time that
# the table's key is connectionId.

provider "aws" {
  region = var.region
}

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

# Stands in for the customer-managed key of the existing table. Its policy is KMS's default one: the
# account administers the key and IAM policies decide who uses it (the module's roles get
# kms:Decrypt on it, through DynamoDB only).
resource "aws_kms_key" "table" {
  description         = "Encrypts the existing connections table"
  enable_key_rotation = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AccountAdministersTheKeyAndIamDecidesItsUse"
      Effect    = "Allow"
      Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })
}

# Stands in for the table your platform already has (the design document's
# RemediationWebSocketConnections). It is encrypted with a customer-managed key: the module reads that key from the table and lets both roles use it
# through DynamoDB, without table.kms_key_arn.
resource "aws_dynamodb_table" "connections" {
  #checkov:skip=CKV2_AWS_16:On-demand table: no autoscaling needed.
  name         = "RemediationWebSocketConnections"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "connectionId"

  attribute {
    name = "connectionId"
    type = "S"
  }

  ttl {
    enabled        = true
    attribute_name = "expiresAt"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.table.arn
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

  # Alarms are on by default. Without alarm_actions they notify nobody, and every plan says so (a
  # warning): give them your on-call topic, alarms = { alarm_actions = [<SNS topic ARN>] }, as
  # examples/complete does, or turn them off with alarms = { enabled = false }.
}
