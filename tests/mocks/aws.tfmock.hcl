# Realistic computed values for the mock AWS provider: the provider still validates ARNs and the
# module derives region, account and partition from the API's execution ARN.

mock_data "aws_apigatewayv2_api" {
  defaults = {
    execution_arn = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5"
    api_endpoint  = "wss://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"
    protocol_type = "WEBSOCKET"
  }
}

mock_data "aws_caller_identity" {
  defaults = {
    account_id = "123456789012"
  }
}

mock_data "aws_dynamodb_table" {
  defaults = {
    arn                    = "arn:aws:dynamodb:eu-west-1:123456789012:table/existing-connections"
    hash_key               = "connectionId"
    range_key              = ""
    global_secondary_index = []
  }
}

# Every table of a run gets these: presence tests override the presence table's (override_resource).
mock_resource "aws_dynamodb_table" {
  defaults = {
    arn        = "arn:aws:dynamodb:eu-west-1:123456789012:table/remediation-disconnect-connections"
    stream_arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/remediation-disconnect-connections/stream/2026-11-20T10:00:00.000"
  }
}

# Likewise for the presence queue and its dead-letter queue (the queue URL is the resource id).
mock_resource "aws_sqs_queue" {
  defaults = {
    id  = "https://sqs.eu-west-1.amazonaws.com/123456789012/remediation-disconnect-presence"
    arn = "arn:aws:sqs:eu-west-1:123456789012:remediation-disconnect-presence"
  }
}

mock_resource "aws_cloudwatch_event_bus" {
  defaults = {
    arn = "arn:aws:events:eu-west-1:123456789012:event-bus/remediation-disconnect-agents"
  }
}

mock_resource "aws_lambda_function" {
  defaults = {
    arn        = "arn:aws:lambda:eu-west-1:123456789012:function:mocked"
    invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:mocked/invocations"
  }
}

mock_resource "aws_iam_role" {
  defaults = {
    arn = "arn:aws:iam::123456789012:role/mocked"
  }
}

mock_resource "aws_cloudwatch_log_group" {
  defaults = {
    arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/mocked"
  }
}

mock_resource "aws_cloudwatch_event_rule" {
  defaults = {
    arn = "arn:aws:events:eu-west-1:123456789012:rule/mocked-sweeper"
  }
}

mock_resource "aws_cloudwatch_metric_alarm" {
  defaults = {
    arn = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:mocked"
  }
}
