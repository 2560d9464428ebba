# Metrics are written by the functions as CloudWatch Embedded Metric Format log lines (no API calls):
#   Disconnects, ConnectionDurationSeconds          dimension ClientType (agent | dashboard | unknown | other)
#   AgentsOffline                                  dimension Reason (disconnect | expired | gone)
#   StaleConnectionsRemoved                        dimension Reason (expired | gone)
#   ActiveConnections                              dimension ClientType, published by each complete sweep
#   DisconnectErrors, InvalidDisconnectEvents, ProbeErrors   no dimension
# Alarms on the functions' AWS/Lambda metrics are created by modules/lambda-function.

locals {
  dashboard_log_groups = concat(
    ["/aws/lambda/${var.name}"],
    var.sweeper.enabled ? ["/aws/lambda/${local.sweeper_name}"] : [],
  )
  functions = concat([var.name], var.sweeper.enabled ? [local.sweeper_name] : [], var.connect.enabled ? [local.connect_name] : [])
  ns        = var.metrics_namespace

  dashboard_widgets = [
    {
      type = "metric", x = 0, y = 0, width = 8, height = 6
      properties = {
        title   = "Disconnects by client type", region = local.region, stat = "Sum", period = 300, view = "timeSeries"
        metrics = [for type in ["agent", "dashboard", "unknown"] : [local.ns, "Disconnects", "ClientType", type]]
      }
    },
    {
      type = "metric", x = 8, y = 0, width = 8, height = 6
      properties = {
        title   = "Agents offline by reason", region = local.region, stat = "Sum", period = 300, view = "timeSeries"
        metrics = [for reason in ["disconnect", "expired", "gone"] : [local.ns, "AgentsOffline", "Reason", reason]]
      }
    },
    {
      type = "metric", x = 16, y = 0, width = 8, height = 6
      properties = {
        title   = "Active connections (each complete sweep)", region = local.region, stat = "Maximum", period = 300, view = "timeSeries"
        metrics = [for type in ["agent", "dashboard"] : [local.ns, "ActiveConnections", "ClientType", type]]
      }
    },
    {
      type = "metric", x = 0, y = 6, width = 8, height = 6
      properties = {
        title   = "Stale connections removed by the sweeper", region = local.region, stat = "Sum", period = 300, view = "timeSeries"
        metrics = [for reason in ["expired", "gone"] : [local.ns, "StaleConnectionsRemoved", "Reason", reason]]
      }
    },
    {
      type = "metric", x = 8, y = 6, width = 8, height = 6
      properties = {
        title = "Connection duration (seconds, p50 / p90)", region = local.region, period = 300, view = "timeSeries"
        metrics = [
          [local.ns, "ConnectionDurationSeconds", "ClientType", "agent", { stat = "p50", label = "agent p50" }],
          [local.ns, "ConnectionDurationSeconds", "ClientType", "agent", { stat = "p90", label = "agent p90" }],
          [local.ns, "ConnectionDurationSeconds", "ClientType", "dashboard", { stat = "p50", label = "dashboard p50" }],
        ]
      }
    },
    {
      type = "metric", x = 16, y = 6, width = 8, height = 6
      properties = {
        title = "Errors", region = local.region, stat = "Sum", period = 300, view = "timeSeries"
        metrics = concat(
          [[local.ns, "DisconnectErrors"], [local.ns, "InvalidDisconnectEvents"]],
          var.connect.enabled ? [[local.ns, "ConnectErrors"], [local.ns, "RefusedConnects"]] : [],
          [for fn in local.functions : ["AWS/Lambda", "Errors", "FunctionName", fn]],
          [["AWS/Lambda", "Throttles", "FunctionName", var.name]],
        )
      }
    },
    {
      type = "log", x = 0, y = 12, width = 24, height = 6
      properties = {
        title  = "Agents that went offline (latest 50)"
        region = local.region
        view   = "table"
        query  = "SOURCE ${join(" | SOURCE ", [for group in local.dashboard_log_groups : "'${group}'"])} | filter message = 'agent offline' | fields @timestamp, agentId, connectionId, reason, disconnectStatusCode, disconnectReason, durationSeconds | sort @timestamp desc | limit 50"
      }
    },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  count = var.create_dashboard ? 1 : 0

  dashboard_name = var.name
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })
}
