locals {
  common_environment = {
    CONNECTIONS_TABLE        = local.table_name
    TTL_ATTRIBUTE            = var.ttl_attribute
    CONNECTION_GRACE_SECONDS = tostring(var.connection_grace_seconds)
    METRICS_NAMESPACE        = var.metrics_namespace
    LOG_LEVEL                = var.log_level
    AGENT_INDEX_NAME         = var.agent_tracking.enabled ? var.agent_tracking.index_name : ""
    OFFLINE_EVENT_BUS        = local.offline_events ? local.event_bus_arn : ""
    OFFLINE_EVENT_SOURCE     = var.agent_tracking.event_source
  }

  default_probe_endpoint = "${replace(data.aws_apigatewayv2_api.this.api_endpoint, "wss://", "https://")}/${local.probe_stage}"

  sweeper_environment = merge(local.common_environment, {
    SWEEP_PROBE_ENDPOINT        = local.probe ? coalesce(var.sweeper.probe_endpoint, local.default_probe_endpoint) : ""
    SWEEP_PROBE_MIN_AGE_SECONDS = tostring(var.sweeper.probe_min_age_seconds)
    SWEEP_PROBE_CONCURRENCY     = tostring(var.sweeper.probe_concurrency)
    SWEEP_MAX_ITEMS             = tostring(var.sweeper.max_items_per_run)
    SWEEP_SCAN_SEGMENTS         = tostring(var.sweeper.scan_segments)
    SWEEP_RATE_SECONDS          = tostring(var.sweeper.rate_minutes * 60)
  })

  function_alarms = {
    alarm_actions      = var.alarms.alarm_actions
    ok_actions         = var.alarms.ok_actions
    period             = var.alarms.period
    evaluation_periods = var.alarms.evaluation_periods
    threshold          = var.alarms.threshold
  }
}

module "disconnect_function" {
  source = "./modules/lambda-function"

  function_name = var.name
  description   = "Remediation WebSocket $disconnect: removes closed connections of API ${var.api_id} from ${local.table_name}"
  handler       = "remediation_disconnect.lambda_entry.disconnect"
  package       = local.package
  runtime       = var.runtime
  memory_size   = var.memory_size
  timeout       = var.timeout
  environment = merge(local.common_environment, {
    LOG_CLIENT_ADDRESS = tostring(var.log_client_address)
  })
  policy_statements              = local.disconnect_statements
  reserved_concurrent_executions = var.reserved_concurrent_executions
  tracing_mode                   = var.tracing_mode
  kms_key_arn                    = var.lambda_kms_key_arn
  log_retention_in_days          = var.log_retention_in_days
  log_kms_key_arn                = var.log_kms_key_arn
  role_path                      = var.role_path
  role_permissions_boundary      = var.role_permissions_boundary
  alarms                         = merge(local.function_alarms, { errors = var.alarms.enabled, throttles = var.alarms.enabled })
  tags                           = var.tags
}

module "sweeper_function" {
  source = "./modules/lambda-function"
  count  = var.sweeper.enabled ? 1 : 0

  function_name                  = local.sweeper_name
  description                    = "Remediation WebSocket: removes connections of API ${var.api_id} whose $disconnect never arrived (expired or gone)"
  handler                        = "remediation_disconnect.lambda_entry.sweep"
  package                        = local.package
  runtime                        = var.runtime
  memory_size                    = var.sweeper.memory_size
  timeout                        = var.sweeper.timeout
  environment                    = local.sweeper_environment
  policy_statements              = local.sweeper_statements
  reserved_concurrent_executions = var.sweeper.reserved_concurrent_executions
  tracing_mode                   = var.tracing_mode
  kms_key_arn                    = var.lambda_kms_key_arn
  log_retention_in_days          = var.log_retention_in_days
  log_kms_key_arn                = var.log_kms_key_arn
  role_path                      = var.role_path
  role_permissions_boundary      = var.role_permissions_boundary
  alarms                         = merge(local.function_alarms, { errors = var.alarms.enabled, throttles = false })
  tags                           = var.tags
}
