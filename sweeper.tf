# Abnormal-termination cleanup on a schedule (aws_cloudwatch_event_rule: EventBridge Scheduler is
# not available in every provider version this module supports).

resource "aws_cloudwatch_event_rule" "sweeper" {
  count = local.sweeper.enabled ? 1 : 0

  name                = local.sweeper_name
  description         = "Every ${local.sweeper.rate_minutes} minute(s): remove connections of API ${var.api_id} whose $disconnect never arrived"
  schedule_expression = local.sweeper.rate_minutes == 1 ? "rate(1 minute)" : "rate(${local.sweeper.rate_minutes} minutes)"
  tags                = var.tags

  lifecycle {
    precondition {
      condition     = !local.probe || var.stage_name != null
      error_message = "sweeper.probe_connections needs stage_name: the @connections endpoint belongs to a stage of the API."
    }

    # Across two inputs (sweeper, functions): a precondition, as variable validations may refer to
    # other variables only from Terraform 1.9.
    precondition {
      condition     = local.functions.sweeper.timeout < local.sweeper.rate_minutes * 60
      error_message = "functions.sweeper.timeout (${local.functions.sweeper.timeout} s) must be shorter than the sweeper's schedule period, sweeper.rate_minutes * 60 (${local.sweeper.rate_minutes * 60} s), so runs do not pile up: lower functions.sweeper.timeout or raise sweeper.rate_minutes."
    }
  }
}

resource "aws_cloudwatch_event_target" "sweeper" {
  count = local.sweeper.enabled ? 1 : 0

  rule      = aws_cloudwatch_event_rule.sweeper[0].name
  target_id = "sweeper"
  arn       = module.sweeper_function[0].function_arn
}

resource "aws_lambda_permission" "sweeper" {
  count = local.sweeper.enabled ? 1 : 0

  statement_id  = "AllowSweeperSchedule"
  action        = "lambda:InvokeFunction"
  function_name = module.sweeper_function[0].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.sweeper[0].arn
}

# A failed or late sweep is superseded by the next scheduled one: retrying it would only overlap.
resource "aws_lambda_function_event_invoke_config" "sweeper" {
  count = local.sweeper.enabled ? 1 : 0

  function_name                = module.sweeper_function[0].function_name
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = min(21600, max(60, local.sweeper.rate_minutes * 60))
}
