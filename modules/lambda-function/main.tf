locals {
  # Lambda writes to a log group that exists before the function (created here, with retention), so the
  # role needs no logs:CreateLogGroup and writes to its own group only.
  log_statement = {
    Sid      = "WriteOwnLogs"
    Effect   = "Allow"
    Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    Resource = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  # X-Ray's write actions support no resource-level permissions: "*" is the only valid resource.
  xray_statement = {
    Sid      = "WriteTraces"
    Effect   = "Allow"
    Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    Resource = ["*"]
  }

  work_statements = [
    for statement in var.policy_statements : merge(
      {
        Sid      = statement.sid
        Effect   = "Allow"
        Action   = statement.actions
        Resource = statement.resources
      },
      # Conditions grouped by operator: {"StringEquals": {"key1": [...], "key2": [...]}} (all must hold).
      {
        for key in ["Condition"] : key => {
          for test in distinct([for condition in statement.conditions : condition.test]) : test => {
            for condition in statement.conditions : condition.variable => condition.values if condition.test == test
          }
        } if length(statement.conditions) > 0
      }
    )
  ]

  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = concat([local.log_statement], var.tracing_mode == "Active" ? [local.xray_statement] : [], local.work_statements)
  })
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is an input (default 30 days); these are operational logs, and their metrics live on in CloudWatch.
  #checkov:skip=CKV_AWS_158:A customer-managed key is optional (log_kms_key_arn); the logs carry no secrets and are encrypted by CloudWatch Logs by default.
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

resource "aws_iam_role" "this" {
  name                 = coalesce(var.role_name, var.function_name)
  description          = "Execution role of Lambda function ${var.function_name}"
  path                 = var.role_path
  permissions_boundary = var.role_permissions_boundary
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "LambdaAssumeRole"
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "this" {
  name   = "${var.function_name}-least-privilege"
  role   = aws_iam_role.this.id
  policy = local.policy
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Errors are not lost without a DLQ: the $disconnect invocation is synchronous (API Gateway) and a failed sweep is superseded by the next scheduled one.
  #checkov:skip=CKV_AWS_117:The function calls only AWS APIs; a VPC would add NAT or endpoint costs and cold-start time for no isolation benefit.
  #checkov:skip=CKV_AWS_272:The package is built reproducibly and checked against its sources at plan; code signing needs a Signer profile the module cannot assume.
  #checkov:skip=CKV_AWS_173:Environment variables hold only resource names, no secrets; a customer-managed key is optional (kms_key_arn).
  function_name                  = var.function_name
  description                    = var.description
  role                           = aws_iam_role.this.arn
  handler                        = var.handler
  runtime                        = var.runtime
  filename                       = var.package.filename
  source_code_hash               = var.package.source_code_hash
  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrent_executions
  kms_key_arn                    = var.kms_key_arn
  tags                           = var.tags

  environment {
    variables = var.environment
  }

  tracing_config {
    mode = var.tracing_mode
  }

  # The log group must exist (with its retention) before Lambda's first write would create it
  # without one; the policy must exist before the first invocation.
  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this]

  lifecycle {
    precondition {
      condition     = var.package.current
      error_message = "The function package ${basename(var.package.filename)} (function/dist) does not match the sources in function/src (or the zip was edited by hand). Run `make package` in the module's repository and commit function/dist/."
    }
  }
}

# Code changed outside Terraform (console, CLI, another pipeline). Since hashicorp/aws 5.51
# `source_code_hash` is compared only with its own previous value, so a plan no longer shows such a
# change; the `code_sha256` argument that would is in hashicorp/aws 6.x only, above this module's
# floor. With detect_code_drift, every plan reads the deployed CodeSha256 (Lambda computes it as
# filebase64sha256 does) and warns, without failing, when it is not the committed package. The data
# source's attribute is `source_code_hash` in every supported provider (in 5.51+ a deprecated alias
# of its `code_sha256`). It depends on the function, so it is read only once that exists.
data "aws_lambda_function" "deployed" {
  count = var.detect_code_drift ? 1 : 0

  function_name = aws_lambda_function.this.function_name
}

check "deployed_code_is_the_package" {
  assert {
    condition     = alltrue([for deployed in data.aws_lambda_function.deployed : deployed.source_code_hash == var.package.source_code_hash])
    error_message = "Lambda function ${var.function_name} runs code that is not the module's package (its CodeSha256 is not ${var.package.source_code_hash}): it was changed outside Terraform. Redeploy the package with terraform apply -replace on this function."
  }
}

locals {
  alarm_descriptions = {
    Errors    = "failed at least ${var.alarms.threshold} time(s) in ${var.alarms.period} seconds: see its log group /aws/lambda/${var.function_name} (messages at level ERROR)."
    Throttles = "was throttled at least ${var.alarms.threshold} time(s) in ${var.alarms.period} seconds: disconnects were not processed until the sweeper catches up. Check account concurrency and reserved_concurrent_executions."
  }
  alarm_metrics = merge(
    var.alarms.errors ? { errors = "Errors" } : {},
    var.alarms.throttles ? { throttles = "Throttles" } : {},
  )
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarm_metrics

  alarm_name          = "${var.function_name}-${each.key}"
  alarm_description   = "Lambda function ${var.function_name} ${local.alarm_descriptions[each.value]}"
  namespace           = "AWS/Lambda"
  metric_name         = each.value
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = "Sum"
  period              = var.alarms.period
  evaluation_periods  = var.alarms.evaluation_periods
  threshold           = var.alarms.threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarms.alarm_actions
  ok_actions          = var.alarms.ok_actions
  tags                = var.tags
}
