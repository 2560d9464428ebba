locals {
  # Never null: with create_table = false and no table_name, the lookup's precondition explains.
  table_name  = var.create_table ? coalesce(var.table_name, "${var.name}-connections") : (var.table_name == null ? "" : var.table_name)
  table_arn   = var.create_table ? aws_dynamodb_table.this[0].arn : data.aws_dynamodb_table.existing[0].arn
  provisioned = local.table.billing_mode == "PROVISIONED"
  # An existing table encrypted with a KMS key reports it (AWS-owned encryption reports none). When
  # table.kms_key_arn is omitted the roles are granted the key the table reports.
  existing_table_kms_key_arn = var.create_table ? null : one([
    for sse in data.aws_dynamodb_table.existing[0].server_side_encryption : sse.kms_key_arn
    if sse.enabled && sse.kms_key_arn != null && sse.kms_key_arn != ""
  ])
  table_kms_key_arn = local.table.kms_key_arn != null ? local.table.kms_key_arn : local.existing_table_kms_key_arn
}

resource "aws_dynamodb_table" "this" {
  count = var.create_table ? 1 : 0

  #checkov:skip=CKV_AWS_119:Encrypted with KMS always: the AWS managed key aws/dynamodb by default, a customer-managed key when table.kms_key_arn is set.
  #checkov:skip=CKV_AWS_28:PITR is on by default (table.point_in_time_recovery = true); checkov cannot resolve optional() attribute defaults.
  #checkov:skip=CKV2_AWS_16:On-demand billing is the default and needs no autoscaling; PROVISIONED users attach their own scaling policy.
  name           = local.table_name
  billing_mode   = local.table.billing_mode
  read_capacity  = local.provisioned ? local.table.read_capacity : null
  write_capacity = local.provisioned ? local.table.write_capacity : null
  hash_key       = "connectionId"

  attribute {
    name = "connectionId"
    type = "S"
  }

  # DynamoDB deletes expired items within about two days, at no cost; the functions treat expired
  # items as gone in the meantime, and the sweeper removes them sooner.
  ttl {
    enabled        = true
    attribute_name = var.ttl_attribute
  }

  point_in_time_recovery {
    enabled = local.table.point_in_time_recovery
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = local.table.kms_key_arn
  }

  tags = var.tags
}

data "aws_dynamodb_table" "existing" {
  count = var.create_table ? 0 : 1

  name = var.table_name

  lifecycle {
    precondition {
      condition     = var.table_name != null
      error_message = "table_name is required when create_table is false: it names the existing connections table."
    }

    postcondition {
      condition     = self.hash_key == "connectionId" && self.range_key == null || self.hash_key == "connectionId" && self.range_key == ""
      error_message = "The existing table's key must be the partition key connectionId alone (API Gateway's requestContext.connectionId); the functions delete by that key."
    }

    postcondition {
      condition = local.table.kms_key_arn == null || alltrue([
        for sse in self.server_side_encryption : !sse.enabled || sse.kms_key_arn == null || sse.kms_key_arn == "" || sse.kms_key_arn == local.table.kms_key_arn
      ])
      error_message = "table.kms_key_arn differs from the KMS key the existing table is encrypted with: the roles would be granted the wrong key. Omit table.kms_key_arn (the module then takes the table's key) or set it to the key ARN the table reports."
    }
  }
}
