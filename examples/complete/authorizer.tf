# connect_identity = "token_authorizer": the $connect REQUEST authorizer (root README "REQUEST authorizer
# contract"): identity only from a token whose MAC an HMAC KMS key computed (mint_token.py,
# kms:GenerateMac) and verifies (kms:VerifyMac). Every resource here has count = 0 with "iam".
# Agents send it as "Authorization: Bearer <token>"; the Dashboard, a browser that cannot set headers
# on a WebSocket handshake, as ?token=<token>, short-lived. The function's code is the committed
# authorizer/authorizer.zip (authorizer/package.py rebuilds it; `make package-check` checks it).
# Its inputs are at the end of variables.tf, its outputs at the end of outputs.tf.

locals {
  # The keys under which the authorizer returns identity and the module's $connect writer reads it.
  connect_context_keys = { client_type = "clientType", agent_id = "agentId" }

  authorizer_name  = "${var.name}-connect-authorizer"
  authorizers      = local.authorizer_identity ? 1 : 0
  create_token_key = local.authorizer_identity && var.token_key_arn == null
  # null with connect_identity = "iam".
  token_key_arn = local.create_token_key ? one(aws_kms_key.token[*].arn) : (local.authorizer_identity ? var.token_key_arn : null)

  # API Gateway invokes the authorizer only when every identity source is present (sources are
  # ANDed) and answers 401 itself otherwise. Agents and the Dashboard carry their tokens in different
  # places, so with Dashboard tokens the only source is one every WebSocket handshake has
  # (RFC 6455's Sec-WebSocket-Key): every handshake then invokes the function, which refuses the rest.
  authorizer_identity_sources = var.dashboard_tokens ? ["route.request.header.Sec-WebSocket-Key"] : ["route.request.header.Authorization"]
}

# An HMAC key: GenerateMac / VerifyMac only, its material never leaves KMS. KMS does not rotate HMAC
# keys: rotate by creating a new key (token_key_arn), re-minting, then retiring the old one.
# key_usage and the key spec are written as conditionals only so that the offline stand-in provider
# (hashicorp/aws 3.39.0, which predates HMAC keys: they arrived in 4.12.0) can validate this file; with
# count = 1 they are always "GENERATE_VERIFY_MAC" and "HMAC_256".
resource "aws_kms_key" "token" {
  #checkov:skip=CKV_AWS_7:KMS cannot rotate HMAC keys automatically; rotate by replacing the key (see above).
  count = local.create_token_key ? 1 : 0

  description              = "Signs and verifies the $connect tokens of ${var.name}-channel (GenerateMac / VerifyMac)"
  key_usage                = local.create_token_key ? "GENERATE_VERIFY_MAC" : null
  customer_master_key_spec = local.create_token_key ? "HMAC_256" : null
  # The account administers the key; IAM policies grant its use: kms:VerifyMac to the authorizer's
  # role below, kms:GenerateMac to whoever mints tokens (operators, the Dashboard's backend).
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AccountAdministersTheKey"
      Effect    = "Allow"
      Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })
}

resource "aws_cloudwatch_log_group" "authorizer" {
  #checkov:skip=CKV_AWS_158:One line per decision, never the token; CloudWatch Logs encrypts them by default.
  #checkov:skip=CKV_AWS_338:A month of authorizer logs is enough for an example; raise it for production.
  count = local.authorizers

  name              = "/aws/lambda/${local.authorizer_name}"
  retention_in_days = 30
}

resource "aws_iam_role" "authorizer" {
  count = local.authorizers

  name        = "${local.authorizer_name}-${var.region}"
  description = "Execution role of the $connect authorizer ${local.authorizer_name}"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "LambdaAssumeRole"
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

# Exactly what the function does: write its own log group, and ask KMS whether a MAC is valid.
resource "aws_iam_role_policy" "authorizer" {
  count = local.authorizers

  name = "${local.authorizer_name}-least-privilege"
  role = aws_iam_role.authorizer[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "WriteOwnLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["${aws_cloudwatch_log_group.authorizer[0].arn}:*"]
      },
      {
        Sid      = "VerifyTokens"
        Effect   = "Allow"
        Action   = ["kms:VerifyMac"]
        Resource = [local.token_key_arn]
      },
    ]
  })
}

resource "aws_lambda_function" "authorizer" {
  #checkov:skip=CKV_AWS_116:API Gateway invokes the authorizer synchronously: a failure fails that handshake, there is nothing to redeliver.
  #checkov:skip=CKV_AWS_117:The function calls only KMS; a VPC would add NAT or endpoint costs and cold-start time to every handshake.
  #checkov:skip=CKV_AWS_272:The zip is built reproducibly and checked against its sources (make package-check); code signing needs a Signer profile.
  #checkov:skip=CKV_AWS_173:The environment holds a key ARN, the API id and limits, no secrets: the key material never leaves KMS.
  #checkov:skip=CKV_AWS_115:Unreserved like the module's functions; reserve concurrency if a flood of handshakes must not take the account's.
  count = local.authorizers

  function_name    = local.authorizer_name
  description      = "$connect REQUEST authorizer of ${var.name}-channel: identity from KMS-verified tokens only"
  role             = aws_iam_role.authorizer[0].arn
  handler          = "connect_authorizer.handler"
  runtime          = var.authorizer_runtime
  filename         = "${path.module}/authorizer/authorizer.zip"
  source_code_hash = filebase64sha256("${path.module}/authorizer/authorizer.zip")
  memory_size      = 128
  # Two KMS attempts of at most 1 s to connect and 1 s to read (connect_authorizer.py), then a log line.
  timeout = 5

  environment {
    variables = {
      TOKEN_KEY_ID                = local.token_key_arn
      API_ID                      = aws_apigatewayv2_api.remediation.id
      CLIENT_TYPE_KEY             = local.connect_context_keys.client_type
      AGENT_ID_KEY                = local.connect_context_keys.agent_id
      AGENT_TOKEN_HEADER          = "Authorization"
      DASHBOARD_TOKEN_PARAMETER   = var.dashboard_tokens ? "token" : ""
      AGENT_TOKEN_MAX_SECONDS     = tostring(var.agent_token_max_lifetime_seconds)
      DASHBOARD_TOKEN_MAX_SECONDS = tostring(var.dashboard_token_max_lifetime_seconds)
      CLOCK_SKEW_SECONDS          = "60"
    }
  }

  tracing_config {
    mode = "PassThrough"
  }

  depends_on = [aws_cloudwatch_log_group.authorizer, aws_iam_role_policy.authorizer]
}

# WebSocket authorizers cannot cache results (authorizer_result_ttl_in_seconds is for HTTP APIs
# only): API Gateway invokes the function on every handshake.
resource "aws_apigatewayv2_authorizer" "connect" {
  count = local.authorizers

  api_id           = aws_apigatewayv2_api.remediation.id
  name             = "${var.name}-connect"
  authorizer_type  = "REQUEST"
  authorizer_uri   = aws_lambda_function.authorizer[0].invoke_arn
  identity_sources = local.authorizer_identity_sources
}

# Only this authorizer of this API may invoke the function.
resource "aws_lambda_permission" "connect_authorizer" {
  count = local.authorizers

  statement_id  = "AllowConnectAuthorizerOfApi${aws_apigatewayv2_api.remediation.id}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.authorizer[0].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.remediation.execution_arn}/authorizers/${aws_apigatewayv2_authorizer.connect[0].id}"
}

# A refused token is a Lambda error too (the error "Unauthorized" is how a Lambda authorizer answers
# 401), so the function's Errors metric counts every bad handshake: alarm on what the function could
# not check instead (its "token check failed" lines: KMS unreachable, throttled, key disabled), when
# every handshake fails.
resource "aws_cloudwatch_log_metric_filter" "authorizer_failures" {
  count = local.authorizers

  name           = "${local.authorizer_name}-token-check-failures"
  log_group_name = aws_cloudwatch_log_group.authorizer[0].name
  pattern        = "{ $.message = \"token check failed\" }"

  metric_transformation {
    name      = "TokenCheckFailures"
    namespace = module.remediation_disconnect.metrics_namespace
    value     = "1"
  }
}

resource "aws_cloudwatch_metric_alarm" "authorizer_failures" {
  count = local.authorizers

  alarm_name          = "${local.authorizer_name}-token-check-failures"
  alarm_description   = "The $connect authorizer ${local.authorizer_name} could not check tokens, so handshakes failed: see its log group (message \"token check failed\": KMS throttling, access or key state)."
  namespace           = module.remediation_disconnect.metrics_namespace
  metric_name         = "TokenCheckFailures"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.oncall.arn]
  ok_actions          = [aws_sns_topic.oncall.arn]

  depends_on = [aws_cloudwatch_log_metric_filter.authorizer_failures]
}
