# Optional $connect writer (connect.enabled): registers each new connection with one PutItem of the
# item contract (function/src/remediation_registry/contract.py), or refuses the handshake when the
# connection carries no usable identity. Off by default: many APIs already own their $connect route.
#
#   client connects ──> $connect route [REQUEST authorizer] ──> Lambda <name>-connect ──> PutItem

locals {
  connect_name = "${var.name}-connect"

  connect_environment = merge(local.contract_environment, {
    CONNECT_CLIENT_TYPE_KEY       = var.connect.client_type_key
    CONNECT_AGENT_ID_KEY          = var.connect.agent_id_key
    CONNECT_QUERY_STRING_IDENTITY = tostring(var.connect.allow_query_string_identity)
  })

  # PutItem on the table only: the writer never reads, updates or deletes.
  connect_statements = concat(
    [{
      sid        = "RegisterConnection"
      actions    = ["dynamodb:PutItem"]
      resources  = [local.table_arn]
      conditions = []
    }],
    local.table_key_statements,
  )
}

module "connect_function" {
  source = "./modules/lambda-function"
  count  = var.connect.enabled ? 1 : 0

  function_name                  = local.connect_name
  role_name                      = local.role_names.connect
  description                    = local.descriptions.connect
  handler                        = "remediation_registry.lambda_entry.connect"
  package                        = local.packages.connect
  runtime                        = var.runtime
  memory_size                    = var.connect.memory_size
  timeout                        = var.connect.timeout
  environment                    = local.connect_environment
  policy_statements              = local.connect_statements
  reserved_concurrent_executions = var.connect.reserved_concurrent_executions
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

resource "aws_apigatewayv2_integration" "connect" {
  count = var.connect.enabled ? 1 : 0

  api_id             = var.api_id
  description        = local.descriptions.connect_integration
  integration_type   = "AWS_PROXY"
  integration_method = "POST"
  integration_uri    = module.connect_function[0].invoke_arn
}

resource "aws_apigatewayv2_route" "connect" {
  count = var.connect.enabled && var.create_route ? 1 : 0

  #checkov:skip=CKV_AWS_309:The authorizer is an input (connect.authorizer_id, attached as CUSTOM when set); without one the route is for demo stacks with connect.allow_query_string_identity, and the handler refuses every connection without identity.
  api_id             = var.api_id
  route_key          = "$connect"
  operation_name     = "Connect"
  target             = "integrations/${aws_apigatewayv2_integration.connect[0].id}"
  authorization_type = var.connect.authorizer_id == null ? "NONE" : "CUSTOM"
  authorizer_id      = var.connect.authorizer_id
}

resource "aws_lambda_permission" "connect" {
  count = var.connect.enabled ? 1 : 0

  statement_id  = "AllowConnectRouteOfApi${var.api_id}"
  action        = "lambda:InvokeFunction"
  function_name = module.connect_function[0].function_name
  principal     = "apigateway.amazonaws.com"
  # This API's $connect route only, on any of its stages.
  source_arn = "${local.execution_arn}/*/$connect"
}
