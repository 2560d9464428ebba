# create_table = false: an existing table is looked up, checked, and IAM is scoped to its ARN.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  api_id       = "a1b2c3d4e5"
  runtime      = "python3.8"
  create_table = false
  table_name   = "RemediationWebSocketConnections"

  # With alarm_actions, as a real stack has: alarms notifying nobody fail check alarms_notify_someone,
  # a warning on plan but a failed run in terraform test (defaults.tftest.hcl expects it).
  alarms = { alarm_actions = ["arn:aws:sns:eu-west-1:123456789012:oncall"] }
}

run "uses_the_existing_table" {
  override_data {
    target = data.aws_dynamodb_table.existing
    values = {
      arn                    = "arn:aws:dynamodb:eu-west-1:123456789012:table/RemediationWebSocketConnections"
      hash_key               = "connectionId"
      range_key              = ""
      global_secondary_index = []
    }
  }

  assert {
    condition     = length(aws_dynamodb_table.this) == 0
    error_message = "No table is created when create_table is false."
  }

  assert {
    condition     = output.table_name == "RemediationWebSocketConnections" && output.table_arn == "arn:aws:dynamodb:eu-west-1:123456789012:table/RemediationWebSocketConnections"
    error_message = "The outputs name the existing table."
  }

  assert {
    condition     = contains(jsondecode(output.iam_policies.disconnect).Statement, { Sid = "DeleteClosedConnection", Effect = "Allow", Action = ["dynamodb:DeleteItem"], Resource = ["arn:aws:dynamodb:eu-west-1:123456789012:table/RemediationWebSocketConnections"] })
    error_message = "IAM is scoped to the existing table's ARN."
  }

  assert {
    condition     = output.function_environment.disconnect.CONNECTIONS_TABLE == "RemediationWebSocketConnections" && output.function_environment.sweeper.CONNECTIONS_TABLE == "RemediationWebSocketConnections"
    error_message = "Both functions use the existing table."
  }
}

run "existing_table_with_customer_managed_key" {
  variables {
    table = { kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/existing" }
  }

  assert {
    condition     = strcontains(output.iam_policies.disconnect, "arn:aws:kms:eu-west-1:123456789012:key/existing") && strcontains(output.iam_policies.sweeper, "DecryptTableKey")
    error_message = "The existing table's key may be decrypted (via DynamoDB) when it is given."
  }
}

run "existing_table_key_encrypts_the_presence_table" {
  variables {
    stage_name = "live"
    table      = { kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/existing" }
    connect    = { enabled = true, identity = "iam", iam = { agent_role_arns = ["arn:aws:iam::123456789012:role/agents"] } }
    presence   = { enabled = true }
  }

  assert {
    condition     = aws_dynamodb_table.presence[0].server_side_encryption[0].kms_key_arn == "arn:aws:kms:eu-west-1:123456789012:key/existing"
    error_message = "The presence table is encrypted with the existing connections table's key."
  }

  assert {
    condition = contains(jsondecode(output.iam_policies.presence).Statement, {
      Sid = "DecryptTableKey", Effect = "Allow", Action = ["kms:Decrypt"], Resource = ["arn:aws:kms:eu-west-1:123456789012:key/existing"]
      Condition = { StringEquals = {
        "kms:ViaService"                               = ["dynamodb.eu-west-1.amazonaws.com"]
        "kms:EncryptionContext:aws:dynamodb:tableName" = ["RemediationWebSocketConnections", "remediation-disconnect-presence"]
      } }
    })
    error_message = "The roles may decrypt the key for the existing table and the presence table only."
  }
}

run "table_name_is_required" {
  command = plan

  variables {
    table_name = null
  }

  expect_failures = [data.aws_dynamodb_table.existing]
}

run "wrong_key_is_refused" {
  command = plan

  override_data {
    target = data.aws_dynamodb_table.existing
    values = {
      arn                    = "arn:aws:dynamodb:eu-west-1:123456789012:table/RemediationWebSocketConnections"
      hash_key               = "id"
      range_key              = ""
      global_secondary_index = []
    }
  }

  expect_failures = [data.aws_dynamodb_table.existing]
}
