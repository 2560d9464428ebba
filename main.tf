# Remediation WebSocket connection registry: keeps the DynamoDB registry of connections accurate and,
# optionally, the presence of every agent, announced on EventBridge.
#
#   client closes ──> API Gateway $disconnect route ──> Lambda <name> ──> DeleteItem(connectionId)
#                                                           └─ agent's last connection? ──> presence (grace window)
#   (no $disconnect: network loss) <── EventBridge schedule ──> Lambda <name>-sweeper ──> Scan + BatchWriteItem
#   presence: SQS (grace windows, liveness probes) ──> Lambda <name>-presence ──> presence table
#             presence table stream ──> Lambda <name>-events ──> EventBridge "Remediation Agent Online/Offline"
#
# Files: apigateway.tf (route, integration, permission), dynamodb.tf (table or lookup), lambda.tf and
# connect.tf (the functions via modules/lambda-function), presence.tf (presence table, queues, checker,
# heartbeat route), events.tf (announcer, bus) and eventbus_policy.tf (the bus policy, alone: see
# standin/eventbus_policy.tf), iam.tf (exact statements), sweeper.tf (schedule), monitoring.tf
# (dashboard). This file: shared lookups and the package checks.

# The object inputs, converted to their object types with every optional() default filled in. Their
# variables are `type = any` and hold every rule (variables.tf, "Object inputs"); the module reads
# these locals, never var.<input>.
module "settings" {
  source = "./modules/settings"

  table      = var.table
  deployment = var.deployment
  sweeper    = var.sweeper
  alarms     = var.alarms
  connect    = var.connect
  presence   = var.presence
  functions  = var.functions
}

locals {
  table      = module.settings.table
  deployment = module.settings.deployment
  sweeper    = module.settings.sweeper
  alarms     = module.settings.alarms
  connect    = module.settings.connect
  presence   = module.settings.presence
  functions  = module.settings.functions

  # Two deployments in one account must not mix their metrics: the default namespace is per name.
  metrics_namespace = coalesce(var.metrics_namespace, "Remediation/${var.name}")
}

data "aws_apigatewayv2_api" "this" {
  api_id = var.api_id

  lifecycle {
    postcondition {
      condition     = self.protocol_type == "WEBSOCKET"
      error_message = "api_id must name a WebSocket API: the $disconnect route exists only there (this API's protocol is not WEBSOCKET)."
    }
  }
}

# The account comes from STS, not from the API's execution_arn: the provider builds that ARN with
# its own notion of the account, which is empty when it is configured to skip the account lookup,
# and a permission on "arn:...:execute-api:<region>::<api>" would never match.
data "aws_caller_identity" "current" {}

locals {
  # arn:<partition>:execute-api:<region>:<account>:<api id>
  api_arn_parts = split(":", data.aws_apigatewayv2_api.this.execution_arn)
  partition     = local.api_arn_parts[1]
  region        = local.api_arn_parts[3]
  account_id    = data.aws_caller_identity.current.account_id
  execution_arn = "arn:${local.partition}:execute-api:${local.region}:${local.account_id}:${var.api_id}"

  sweeper_name = "${var.name}-sweeper"

  # The deployment packages are committed (function/dist, one zip per function), so consumers need no
  # Python, no build step and no extra provider at plan time. They must match the sources they claim
  # to be built from: the hash below is computed exactly as function/build.py computes it.
  package_manifest = jsondecode(file("${path.module}/function/dist/manifest.json"))
  package_source_sha256 = sha256(join("", [
    for source in sort(fileset("${path.module}/function/src", "**/*.py")) :
    "${source} ${filesha256("${path.module}/function/src/${source}")}\n"
  ]))
  package_zip_hashes = {
    for function, package in local.package_manifest.packages :
    function => filebase64sha256("${path.module}/function/dist/${package.zip}")
  }
  manifest_packages = {
    for function, package in local.package_manifest.packages : function => {
      filename         = "${path.module}/function/dist/${package.zip}"
      source_code_hash = local.package_zip_hashes[function]
      current = alltrue([
        local.package_source_sha256 == local.package_manifest.source_sha256,
        local.package_zip_hashes[function] == package.zip_base64sha256,
      ])
    }
  }
  # A function whose zip the manifest does not list (a package older than the feature) gets a package
  # that is never current: its function's precondition then names `make package`.
  deployed_functions = concat(
    ["disconnect"],
    local.sweeper.enabled ? ["sweeper"] : [],
    local.connect.enabled ? ["connect"] : [],
    local.presence_enabled ? ["presence"] : [],
    local.events_enabled ? ["events"] : [],
  )
  missing_packages = sort(setsubtract(local.deployed_functions, keys(local.manifest_packages)))
  packages = merge(
    { for function in local.missing_packages : function => {
      filename         = "${path.module}/function/dist/${function}.zip"
      source_code_hash = ""
      current          = false
    } },
    local.manifest_packages,
  )
}
