# Issue 9, finding 6: on a stage without auto_deploy the route is live only after a deployment.
# moto implements no CreateDeployment, so this is proven with the mock provider only.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  api_id  = "a1b2c3d4e5"
  runtime = "python3.8"

  # With alarm_actions, as a real stack has: alarms notifying nobody fail check alarms_notify_someone,
  # a warning on plan but a failed run in terraform test (defaults.tftest.hcl expects it).
  alarms = { alarm_actions = ["arn:aws:sns:eu-west-1:123456789012:oncall"] }
}

run "no_deployment_by_default" {
  command = plan

  assert {
    condition     = length(aws_apigatewayv2_deployment.this) == 0 && output.deployment_id == null
    error_message = "Stages with auto_deploy need no deployment from the module."
  }
}

run "deployment_carries_the_route" {
  variables {
    deployment = { enabled = true, triggers = { connect_route = "r-connect-1" } }
  }

  assert {
    condition     = output.deployment_id == aws_apigatewayv2_deployment.this[0].id && aws_apigatewayv2_deployment.this[0].api_id == "a1b2c3d4e5"
    error_message = "The deployment is created on the API and its id is output for the stage."
  }

  assert {
    condition = aws_apigatewayv2_deployment.this[0].triggers.redeployment == sha1(jsonencode([
      aws_apigatewayv2_integration.disconnect.id,
      aws_apigatewayv2_integration.disconnect.integration_uri,
      aws_apigatewayv2_route.disconnect[0].id,
      aws_apigatewayv2_route.disconnect[0].target,
      "connect_route=r-connect-1",
    ]))
    error_message = "The deployment is redeployed when the route, the integration or a caller's trigger changes."
  }
}

run "caller_trigger_change_redeploys" {
  variables {
    deployment = { enabled = true, triggers = { connect_route = "r-connect-2" } }
  }

  # triggers forces a new deployment (a replacement, created before the old one is destroyed).
  assert {
    condition = aws_apigatewayv2_deployment.this[0].triggers.redeployment == sha1(jsonencode([
      aws_apigatewayv2_integration.disconnect.id,
      aws_apigatewayv2_integration.disconnect.integration_uri,
      aws_apigatewayv2_route.disconnect[0].id,
      aws_apigatewayv2_route.disconnect[0].target,
      "connect_route=r-connect-2",
    ]))
    error_message = "A changed caller trigger changes the deployment's trigger, so the API is redeployed."
  }
}

run "deployment_without_the_modules_route" {
  variables {
    create_route = false
    deployment   = { enabled = true }
  }

  assert {
    condition = aws_apigatewayv2_deployment.this[0].triggers.redeployment == sha1(jsonencode([
      aws_apigatewayv2_integration.disconnect.id,
      aws_apigatewayv2_integration.disconnect.integration_uri,
    ]))
    error_message = "With the route managed elsewhere, the integration still triggers a redeployment."
  }
}

run "deployment_carries_the_connect_route" {
  variables {
    connect    = { enabled = true, authorizer_id = "abc123" }
    deployment = { enabled = true }
  }

  assert {
    condition = aws_apigatewayv2_deployment.this[0].triggers.redeployment == sha1(jsonencode([
      aws_apigatewayv2_integration.disconnect.id,
      aws_apigatewayv2_integration.disconnect.integration_uri,
      aws_apigatewayv2_route.disconnect[0].id,
      aws_apigatewayv2_route.disconnect[0].target,
      aws_apigatewayv2_integration.connect[0].id,
      aws_apigatewayv2_integration.connect[0].integration_uri,
      aws_apigatewayv2_route.connect[0].id,
      aws_apigatewayv2_route.connect[0].target,
      "abc123",
      "CUSTOM",
    ]))
    error_message = "With the $connect writer on, a change of its route, integration, authorizer or authorization type redeploys too."
  }
}

run "deployment_carries_the_heartbeat_route" {
  variables {
    stage_name = "live"
    connect    = { enabled = true, identity = "iam", iam = { agent_role_arns = ["arn:aws:iam::123456789012:role/agents"] } }
    presence   = { enabled = true, heartbeat = { enabled = true, route_key = "ping" } }
    deployment = { enabled = true }
  }

  assert {
    condition = aws_apigatewayv2_deployment.this[0].triggers.redeployment == sha1(jsonencode([
      aws_apigatewayv2_integration.disconnect.id,
      aws_apigatewayv2_integration.disconnect.integration_uri,
      aws_apigatewayv2_route.disconnect[0].id,
      aws_apigatewayv2_route.disconnect[0].target,
      aws_apigatewayv2_integration.connect[0].id,
      aws_apigatewayv2_integration.connect[0].integration_uri,
      aws_apigatewayv2_route.connect[0].id,
      aws_apigatewayv2_route.connect[0].target,
      null,
      "AWS_IAM",
      aws_apigatewayv2_integration.heartbeat[0].id,
      jsonencode({ "$default" = "{\"statusCode\": 200}" }),
      aws_apigatewayv2_route.heartbeat[0].id,
      "ping",
      aws_apigatewayv2_route.heartbeat[0].target,
    ]))
    error_message = "With heartbeats, a change of the heartbeat route (its key or target) or of its MOCK integration redeploys too."
  }
}
