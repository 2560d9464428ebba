resource "aws_apigatewayv2_integration" "disconnect" {
  api_id             = var.api_id
  description        = local.descriptions.disconnect_integration
  integration_type   = "AWS_PROXY"
  integration_method = "POST"
  integration_uri    = module.disconnect_function.invoke_arn
}

resource "aws_apigatewayv2_route" "disconnect" {
  count = var.create_route ? 1 : 0

  #checkov:skip=CKV_AWS_309:WebSocket APIs authorize only the $connect route; $disconnect cannot carry an authorizer.
  api_id         = var.api_id
  route_key      = "$disconnect"
  operation_name = "Disconnect"
  target         = "integrations/${aws_apigatewayv2_integration.disconnect.id}"
}

resource "aws_lambda_permission" "disconnect" {
  statement_id  = "AllowDisconnectRouteOfApi${var.api_id}"
  action        = "lambda:InvokeFunction"
  function_name = module.disconnect_function.function_name
  principal     = "apigateway.amazonaws.com"
  # This API's $disconnect route only, on any of its stages.
  source_arn = "${local.execution_arn}/*/$disconnect"
}

# Stages without auto_deploy serve the API as of their last deployment: without a new deployment the
# route above would exist but never receive a disconnect. The deployment snapshots the whole API,
# so it is replaced whenever anything it must carry changes; create_before_destroy keeps the old one
# until the stage has moved to the new one. Extend deployment_triggers for routes added here.
locals {
  deployment_triggers = concat(
    [aws_apigatewayv2_integration.disconnect.id, aws_apigatewayv2_integration.disconnect.integration_uri],
    aws_apigatewayv2_route.disconnect[*].id,
    aws_apigatewayv2_route.disconnect[*].target,
    aws_apigatewayv2_integration.connect[*].id,
    aws_apigatewayv2_integration.connect[*].integration_uri,
    aws_apigatewayv2_route.connect[*].id,
    aws_apigatewayv2_route.connect[*].target,
    aws_apigatewayv2_route.connect[*].authorizer_id,
    aws_apigatewayv2_route.connect[*].authorization_type,
    aws_apigatewayv2_integration.heartbeat[*].id,
    [for integration in aws_apigatewayv2_integration.heartbeat : jsonencode(integration.request_templates)],
    aws_apigatewayv2_route.heartbeat[*].id,
    aws_apigatewayv2_route.heartbeat[*].route_key,
    aws_apigatewayv2_route.heartbeat[*].target,
    [for key in sort(keys(local.deployment.triggers)) : "${key}=${local.deployment.triggers[key]}"],
  )
}

resource "aws_apigatewayv2_deployment" "this" {
  count = local.deployment.enabled ? 1 : 0

  api_id      = var.api_id
  description = local.deployment.description

  triggers = {
    redeployment = sha1(jsonencode(local.deployment_triggers))
  }

  lifecycle {
    create_before_destroy = true
  }

  depends_on = [aws_apigatewayv2_route.disconnect, aws_lambda_permission.disconnect, aws_apigatewayv2_route.connect, aws_lambda_permission.connect, aws_apigatewayv2_route.heartbeat]
}
