# Optional $connect writer (connect.enabled): registers each new connection with one PutItem of the
# item contract (function/src/remediation_registry/contract.py), or refuses the handshake when the
# connection carries no usable identity. Off by default: many APIs already own their $connect route.
# With presence it also brings the agent online and starts the connection's liveness probes.
#
#   client connects ──> $connect route [CUSTOM authorizer | AWS_IAM | NONE] ──> Lambda <name>-connect ──> PutItem
#                                                                                   └─ agents: SendMessage(probe), presence UpdateItem

locals {
  connect_name = "${var.name}-connect"

  # One identity source per deployment; the route's authorization follows it.
  connect_authorization_type = {
    authorizer            = "CUSTOM"
    iam                   = "AWS_IAM"
    query_string_insecure = "NONE"
  }[local.connect.identity]

  connect_environment = merge(local.contract_environment, local.identity_environment, local.presence_environment, {
    CONNECT_IAM_AGENT_ROLES     = join(",", local.connect.iam.agent_role_arns)
    CONNECT_IAM_DASHBOARD_ROLES = join(",", local.connect.iam.dashboard_role_arns)
    CONNECT_IAM_AGENT_ID_FROM   = local.connect.iam.agent_id_from
    CONNECT_AGENT_ID_PATTERN    = local.connect.agent_id_pattern == null ? "" : local.connect.agent_id_pattern
  })

  # PutItem on the table (the writer never reads, updates or deletes a connection); with presence,
  # the agent's presence item and the first probe of its connection.
  connect_statements = concat(
    [{
      sid        = "RegisterConnection"
      actions    = ["dynamodb:PutItem"]
      resources  = [local.table_arn]
      conditions = []
    }],
    local.presence_write_statements,
    local.presence_send_statements,
    local.table_key_statements,
  )
}

# Every plan warns while the $connect route takes identity from the query string: a warning, never a
# failure, so demo stacks still apply.
check "connect_identity_is_verified" {
  assert {
    condition     = !local.connect.enabled || local.connect.identity != "query_string_insecure"
    error_message = "connect.identity = \"query_string_insecure\": the $connect route has no authorization and takes clientType and agentId from the URL's query string, so ANYONE who can reach the API can claim ANY agent id (or be the Dashboard): register as an agent, make it look online, and its real connections' presence events become untrustworthy. Demo stacks only; use identity = \"authorizer\" or \"iam\" anywhere else."
  }
}

module "connect_function" {
  source = "./modules/lambda-function"
  count  = local.connect.enabled ? 1 : 0

  function_name                  = local.connect_name
  role_name                      = local.role_names.connect
  description                    = local.descriptions.connect
  handler                        = "remediation_registry.lambda_entry.connect"
  package                        = local.packages.connect
  runtime                        = var.runtime
  memory_size                    = local.functions.connect.memory_size
  timeout                        = local.functions.connect.timeout
  environment                    = local.connect_environment
  policy_statements              = local.connect_statements
  reserved_concurrent_executions = local.functions.connect.reserved_concurrent_executions
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
  count = local.connect.enabled ? 1 : 0

  api_id             = var.api_id
  description        = local.descriptions.connect_integration
  integration_type   = "AWS_PROXY"
  integration_method = "POST"
  integration_uri    = module.connect_function[0].invoke_arn
}

resource "aws_apigatewayv2_route" "connect" {
  count = local.connect.enabled && var.create_route ? 1 : 0

  #checkov:skip=CKV_AWS_309:Authorization follows connect.identity: CUSTOM (authorizer, the default, which requires authorizer_id) or AWS_IAM; NONE only with identity = query_string_insecure, for demo stacks, which every plan warns about (check connect_identity_is_verified).
  api_id             = var.api_id
  route_key          = "$connect"
  operation_name     = "Connect"
  target             = "integrations/${aws_apigatewayv2_integration.connect[0].id}"
  authorization_type = local.connect_authorization_type
  authorizer_id      = local.connect.identity == "authorizer" ? local.connect.authorizer_id : null
}

resource "aws_lambda_permission" "connect" {
  count = local.connect.enabled ? 1 : 0

  statement_id  = "AllowConnectRouteOfApi${var.api_id}"
  action        = "lambda:InvokeFunction"
  function_name = module.connect_function[0].function_name
  principal     = "apigateway.amazonaws.com"
  # This API's $connect route only, on any of its stages.
  source_arn = "${local.execution_arn}/*/$connect"
}
