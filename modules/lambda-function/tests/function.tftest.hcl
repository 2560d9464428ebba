# The private submodule on its own: role, policy composition, log group, function, alarms.

mock_provider "aws" {
  mock_resource "aws_lambda_function" {
    defaults = {
      arn        = "arn:aws:lambda:eu-west-1:123456789012:function:unit"
      invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:unit/invocations"
    }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/unit" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/unit" }
  }
  mock_resource "aws_cloudwatch_metric_alarm" {
    defaults = { arn = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:unit" }
  }
}

variables {
  function_name = "unit"
  handler       = "pkg.handlers.main"
  package = {
    filename         = "unit.zip"
    source_code_hash = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    current          = true
  }
  runtime               = "python3.8"
  memory_size           = 128
  timeout               = 10
  log_retention_in_days = 30
  policy_statements = [{
    sid       = "Work"
    actions   = ["dynamodb:DeleteItem"]
    resources = ["arn:aws:dynamodb:eu-west-1:123456789012:table/t"]
  }]
  alarms = {
    errors             = true
    throttles          = true
    alarm_actions      = ["arn:aws:sns:eu-west-1:123456789012:oncall"]
    ok_actions         = []
    period             = 300
    evaluation_periods = 1
    threshold          = 1
  }
}

run "role_policy_and_function" {
  assert {
    condition     = jsondecode(aws_iam_role.this.assume_role_policy).Statement == [{ Sid = "LambdaAssumeRole", Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }]
    error_message = "Only Lambda may assume the execution role."
  }

  assert {
    condition = jsondecode(output.policy_json).Statement == [
      { Sid = "WriteOwnLogs", Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = ["arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/unit:*"] },
      { Sid = "Work", Effect = "Allow", Action = ["dynamodb:DeleteItem"], Resource = ["arn:aws:dynamodb:eu-west-1:123456789012:table/t"] },
    ]
    error_message = "The policy must be the log statement on the function's own log group plus the caller's statements, nothing else (no X-Ray without Active tracing)."
  }

  assert {
    condition     = aws_cloudwatch_log_group.this.name == "/aws/lambda/unit" && aws_cloudwatch_log_group.this.retention_in_days == 30
    error_message = "The log group must be Lambda's own name, with retention."
  }

  assert {
    condition     = aws_lambda_function.this.handler == "pkg.handlers.main" && aws_lambda_function.this.source_code_hash == var.package.source_code_hash && aws_lambda_function.this.role == aws_iam_role.this.arn
    error_message = "The function must run the given handler from the given package with its own role."
  }

  assert {
    condition     = aws_lambda_function.this.tracing_config[0].mode == "PassThrough"
    error_message = "Tracing defaults to PassThrough."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["errors"].metric_name == "Errors" && aws_cloudwatch_metric_alarm.this["errors"].dimensions.FunctionName == "unit" && aws_cloudwatch_metric_alarm.this["errors"].alarm_actions == toset(["arn:aws:sns:eu-west-1:123456789012:oncall"])
    error_message = "The Errors alarm must watch this function and notify the given actions."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["throttles"].metric_name == "Throttles" && aws_cloudwatch_metric_alarm.this["throttles"].namespace == "AWS/Lambda"
    error_message = "The Throttles alarm must watch AWS/Lambda Throttles."
  }
}

run "active_tracing_grants_xray_and_conditions_render" {
  variables {
    tracing_mode = "Active"
    policy_statements = [{
      sid       = "Key"
      actions   = ["kms:Decrypt"]
      resources = ["arn:aws:kms:eu-west-1:123456789012:key/abc"]
      conditions = [{
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["dynamodb.eu-west-1.amazonaws.com"]
      }]
    }]
    alarms = {
      errors             = false
      throttles          = false
      alarm_actions      = []
      ok_actions         = []
      period             = 60
      evaluation_periods = 1
      threshold          = 1
    }
  }

  assert {
    condition     = jsondecode(output.policy_json).Statement[1] == { Sid = "WriteTraces", Effect = "Allow", Action = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], Resource = ["*"] }
    error_message = "Active tracing must add exactly the two X-Ray write actions."
  }

  assert {
    condition     = jsondecode(output.policy_json).Statement[2].Condition == { StringEquals = { "kms:ViaService" = ["dynamodb.eu-west-1.amazonaws.com"] } }
    error_message = "Statement conditions must render as IAM Condition blocks."
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.this) == 0 && output.alarm_arns == {}
    error_message = "Disabled alarms must not be created."
  }
}

run "stale_package_refuses_to_plan" {
  command = plan

  variables {
    package = {
      filename         = "unit.zip"
      source_code_hash = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
      current          = false
    }
  }

  expect_failures = [aws_lambda_function.this]
}

run "function_name_is_validated" {
  command = plan

  variables {
    function_name = "has spaces"
  }

  expect_failures = [var.function_name]
}

run "conditions_with_one_operator_are_grouped" {
  variables {
    policy_statements = [{
      sid       = "Key"
      actions   = ["kms:Decrypt"]
      resources = ["arn:aws:kms:eu-west-1:123456789012:key/abc"]
      conditions = [
        { test = "StringEquals", variable = "kms:ViaService", values = ["dynamodb.eu-west-1.amazonaws.com"] },
        { test = "StringEquals", variable = "kms:EncryptionContext:aws:dynamodb:tableName", values = ["a", "b"] },
        { test = "ArnNotEquals", variable = "aws:PrincipalArn", values = ["arn:aws:iam::123456789012:role/x"] },
      ]
    }]
  }

  assert {
    condition = jsondecode(output.policy_json).Statement[1].Condition == {
      StringEquals = { "kms:ViaService" = ["dynamodb.eu-west-1.amazonaws.com"], "kms:EncryptionContext:aws:dynamodb:tableName" = ["a", "b"] }
      ArnNotEquals = { "aws:PrincipalArn" = ["arn:aws:iam::123456789012:role/x"] }
    }
    error_message = "Conditions with the same operator must share one block (IAM requires every key to hold), not collide."
  }
}
