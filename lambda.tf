locals {
  # What every function needs to read or write the item contract (connect.tf adds its identity keys).
  contract_environment = {
    CONNECTIONS_TABLE        = local.table_name
    TTL_ATTRIBUTE            = var.ttl_attribute
    CONNECTION_GRACE_SECONDS = tostring(var.connection_grace_seconds)
    METRICS_NAMESPACE        = local.metrics_namespace
    LOG_LEVEL                = var.log_level
  }

  # Where the client's identity comes from ($connect), and the authorizer context keys: $disconnect reads
  # them for its lost-answer fallback (the agent of a connection whose DeleteItem answer was lost).
  identity_environment = {
    CONNECT_IDENTITY_SOURCE = local.connect.identity
    CONNECT_CLIENT_TYPE_KEY = local.connect.client_type_key
    CONNECT_AGENT_ID_KEY    = local.connect.agent_id_key
  }

  disconnect_environment = merge(local.contract_environment, local.identity_environment, local.presence_environment, {
    LOG_CLIENT_ADDRESS = tostring(var.log_client_address)
  })

  default_probe_endpoint = "${replace(data.aws_apigatewayv2_api.this.api_endpoint, "wss://", "https://")}/${local.probe_stage}"

  sweeper_environment = merge(local.contract_environment, local.presence_environment, {
    SWEEP_PROBE_ENDPOINT        = local.probe ? coalesce(local.sweeper.probe_endpoint, local.default_probe_endpoint) : ""
    SWEEP_PROBE_MIN_AGE_SECONDS = tostring(local.sweeper.probe_min_age_seconds)
    SWEEP_PROBE_CONCURRENCY     = tostring(local.sweeper.probe_concurrency)
    SWEEP_MAX_ITEMS             = tostring(local.sweeper.max_items_per_run)
    SWEEP_SCAN_SEGMENTS         = tostring(local.sweeper.scan_segments)
  })

  # Lambda and API Gateway refuse descriptions over 256 characters, and the table name may be 255 long:
  # a description naming the table falls back to one that does not when it would be too long.
  descriptions = {
    for key, text in {
      disconnect             = "Remediation WebSocket $disconnect: removes closed connections of API ${var.api_id} from"
      connect                = "Remediation WebSocket $connect: registers new connections of API ${var.api_id} in"
      disconnect_integration = "Lambda ${var.name}: removes the closed connection from"
      connect_integration    = "Lambda ${local.connect_name}: registers the new connection in"
    } : key => length("${text} ${local.table_name}") <= 256 ? "${text} ${local.table_name}" : "${text} its connections table"
  }

  # IAM role names are global to the account: the same `name` deployed in two regions would collide
  # (EntityAlreadyExists). Roles are "<function>-<region>"; a name that would pass IAM's 64 characters
  # keeps its first characters and a hash of the whole, so it stays unique and within the limit.
  function_names = {
    disconnect = var.name
    sweeper    = local.sweeper_name
    connect    = local.connect_name
    presence   = local.presence_name
    events     = local.events_name
  }
  role_names = {
    for key, function in local.function_names : key => (
      length("${function}-${local.region}") <= 64
      ? "${function}-${local.region}"
      : "${substr(function, 0, 64 - length(local.region) - 10)}-${substr(sha256("${function}-${local.region}"), 0, 8)}-${local.region}"
    )
  }

  # Errors and Throttles for the route handlers; the sweeper, the presence checker and the announcer
  # drop Throttles (their invocations are retried by their schedule or event source).
  function_alarms = {
    errors             = local.alarms.enabled
    throttles          = local.alarms.enabled
    alarm_actions      = local.alarms.alarm_actions
    ok_actions         = local.alarms.ok_actions
    period             = local.alarms.period
    evaluation_periods = local.alarms.evaluation_periods
    threshold          = local.alarms.threshold
  }
}

module "disconnect_function" {
  source = "./modules/lambda-function"

  function_name                  = var.name
  role_name                      = local.role_names.disconnect
  description                    = local.descriptions.disconnect
  handler                        = "remediation_registry.lambda_entry.disconnect"
  package                        = local.packages.disconnect
  runtime                        = var.runtime
  memory_size                    = local.functions.disconnect.memory_size
  timeout                        = local.functions.disconnect.timeout
  environment                    = local.disconnect_environment
  policy_statements              = local.disconnect_statements
  reserved_concurrent_executions = local.functions.disconnect.reserved_concurrent_executions
  tracing_mode                   = var.tracing_mode
  kms_key_arn                    = var.lambda_kms_key_arn
  detect_code_drift              = var.detect_code_drift
  log_retention_in_days          = var.log_retention_in_days
  log_kms_key_arn                = var.log_kms_key_arn
  role_path                      = var.role_path
  role_permissions_boundary      = var.role_permissions_boundary
  alarms                         = local.function_alarms
  tags                           = var.tags
}

module "sweeper_function" {
  source = "./modules/lambda-function"
  count  = local.sweeper.enabled ? 1 : 0

  function_name                  = local.sweeper_name
  role_name                      = local.role_names.sweeper
  description                    = "Remediation WebSocket: removes connections of API ${var.api_id} whose $disconnect never arrived (expired or gone)"
  handler                        = "remediation_registry.lambda_entry.sweep"
  package                        = local.packages.sweeper
  runtime                        = var.runtime
  memory_size                    = local.functions.sweeper.memory_size
  timeout                        = local.functions.sweeper.timeout
  environment                    = local.sweeper_environment
  policy_statements              = local.sweeper_statements
  reserved_concurrent_executions = local.functions.sweeper.reserved_concurrent_executions
  tracing_mode                   = var.tracing_mode
  kms_key_arn                    = var.lambda_kms_key_arn
  detect_code_drift              = var.detect_code_drift
  log_retention_in_days          = var.log_retention_in_days
  log_kms_key_arn                = var.log_kms_key_arn
  role_path                      = var.role_path
  role_permissions_boundary      = var.role_permissions_boundary
  alarms                         = merge(local.function_alarms, { throttles = false })
  tags                           = var.tags
}
