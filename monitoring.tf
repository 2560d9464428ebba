# Metrics are written by the functions as CloudWatch Embedded Metric Format log lines (no API calls):
#   Disconnects, ConnectionDurationSeconds          dimension ClientType (agent | dashboard | unknown | other)
#   StaleConnectionsRemoved                        dimension Reason (expired | gone)
#   ActiveConnections                              dimension ClientType, published by each complete sweep
#   DisconnectErrors, InvalidDisconnectEvents, ProbeErrors   no dimension
#   Connects (ClientType), RefusedConnects (Reason), InvalidConnectEvents, ConnectErrors   $connect writer
# With presence:
#   AgentWentOnline; AgentWentOffline              dimension Reason (client_closed | going_away |
#                                                  connection_lost | heartbeat_timeout | gone | expired | reconciled)
#   ReconnectsWithinGrace, LivenessProbes, PresenceErrors, InvalidPresenceItems, InvalidPresenceMessages,
#   IgnoredDownReports ($connect: a malformed downMs report)
#   AgentsOnline, AgentConnectionsOpen, AgentsPendingOffline   gauges, each reconciler tick
#   EventsPublished, EventsFailed                  the announcer
# Alarms on the functions' AWS/Lambda metrics are created by modules/lambda-function; the presence
# dead-letter queue's and the announcer's IteratorAge alarms by presence.tf / events.tf.

locals {
  offline_reasons = ["client_closed", "going_away", "connection_lost", "heartbeat_timeout", "gone", "expired", "reconciled"]
  # RefusedConnects is published only with its Reason dimension (identity.REASONS; the unit tests keep
  # this list in step with it): CloudWatch charts a metric by its exact dimensions, one line per reason.
  refused_reasons = ["no_identity", "unknown_client_type", "missing_agent_id", "invalid_agent_id", "pattern_mismatch", "unknown_principal"]
  dashboard_functions = concat(
    [var.name],
    local.sweeper.enabled ? [local.sweeper_name] : [],
    local.connect.enabled ? [local.connect_name] : [],
    local.presence_enabled ? [local.presence_name] : [],
    local.events_enabled ? [local.events_name] : [],
  )
  # The functions that make presence transitions, hence log "agent online" / "agent offline".
  presence_log_groups = [for fn in concat([var.name], local.sweeper.enabled ? [local.sweeper_name] : [], [local.connect_name, local.presence_name]) : "/aws/lambda/${fn}"]
  ns                  = local.metrics_namespace

  metric_widgets = concat(
    [
      {
        title   = "Disconnects by client type", region = local.region, stat = "Sum", period = 300, view = "timeSeries"
        metrics = [for type in ["agent", "dashboard", "unknown"] : [local.ns, "Disconnects", "ClientType", type]]
      },
      {
        title   = "Active connections (each complete sweep)", region = local.region, stat = "Maximum", period = 300, view = "timeSeries"
        metrics = [for type in ["agent", "dashboard"] : [local.ns, "ActiveConnections", "ClientType", type]]
      },
      {
        title   = "Stale connections removed by the sweeper", region = local.region, stat = "Sum", period = 300, view = "timeSeries"
        metrics = [for reason in ["expired", "gone"] : [local.ns, "StaleConnectionsRemoved", "Reason", reason]]
      },
      {
        title = "Connection duration (seconds, p50 / p90)", region = local.region, period = 300, view = "timeSeries"
        metrics = [
          [local.ns, "ConnectionDurationSeconds", "ClientType", "agent", { stat = "p50", label = "agent p50" }],
          [local.ns, "ConnectionDurationSeconds", "ClientType", "agent", { stat = "p90", label = "agent p90" }],
          [local.ns, "ConnectionDurationSeconds", "ClientType", "dashboard", { stat = "p50", label = "dashboard p50" }],
        ]
      },
    ],
    [for widget in [
      {
        title = "Agents online (reconciler census)", region = local.region, stat = "Maximum", period = 60, view = "timeSeries"
        metrics = [
          [local.ns, "AgentsOnline", { label = "agents online" }],
          [local.ns, "AgentsPendingOffline", { label = "in a grace window" }],
          [local.ns, "AgentConnectionsOpen", { label = "agent connections" }],
        ]
      },
      {
        title   = "Presence transitions by reason", region = local.region, stat = "Sum", period = 300, view = "timeSeries"
        metrics = concat([[local.ns, "AgentWentOnline", { label = "online" }]], [for reason in local.offline_reasons : [local.ns, "AgentWentOffline", "Reason", reason]])
      },
      {
        title   = "Reconnects within grace (no event)", region = local.region, stat = "Sum", period = 300, view = "timeSeries"
        metrics = [[local.ns, "ReconnectsWithinGrace"]]
      },
      {
        title = "Liveness: probes, gone connections, heartbeat timeouts", region = local.region, stat = "Sum", period = 300, view = "timeSeries"
        metrics = [
          [local.ns, "LivenessProbes"],
          [local.ns, "AgentWentOffline", "Reason", "gone", { label = "gone (lost $disconnect)" }],
          [local.ns, "AgentWentOffline", "Reason", "heartbeat_timeout", { label = "heartbeat timeouts" }],
        ]
      },
    ] : widget if local.presence_enabled],
    [for widget in [{
      title   = "Refused $connect by reason", region = local.region, stat = "Sum", period = 300, view = "timeSeries"
      metrics = [for reason in local.refused_reasons : [local.ns, "RefusedConnects", "Reason", reason]]
    }] : widget if local.connect.enabled],
    [{
      title = "Errors", region = local.region, stat = "Sum", period = 300, view = "timeSeries"
      metrics = concat(
        [[local.ns, "DisconnectErrors"], [local.ns, "InvalidDisconnectEvents"]],
        local.connect.enabled ? [[local.ns, "ConnectErrors"], [local.ns, "InvalidConnectEvents"]] : [],
        local.presence_enabled ? [[local.ns, "PresenceErrors"], [local.ns, "ProbeErrors"], [local.ns, "InvalidPresenceItems"], [local.ns, "InvalidPresenceMessages"]] : [],
        local.events_enabled ? [[local.ns, "EventsFailed"]] : [],
        [for fn in local.dashboard_functions : ["AWS/Lambda", "Errors", "FunctionName", fn]],
        [["AWS/Lambda", "Throttles", "FunctionName", var.name]],
      )
    }],
  )

  # Three 8-wide metric widgets per row, then (with presence) the latest transitions from the logs.
  dashboard_widgets = concat(
    [for i, properties in local.metric_widgets : {
      type = "metric", x = (i % 3) * 8, y = floor(i / 3) * 6, width = 8, height = 6, properties = properties
    }],
    [for widget in [{
      type = "log", x = 0, y = ceil(length(local.metric_widgets) / 3) * 6, width = 24, height = 6
      properties = {
        title  = "Agents that went online or offline (latest 50)"
        region = local.region
        view   = "table"
        query  = "SOURCE ${join(" | SOURCE ", [for group in local.presence_log_groups : "'${group}'"])} | filter message in ['agent online', 'agent offline'] | fields @timestamp, message, agentId, reason, sequence, connectionId, disconnectStatusCode | sort @timestamp desc | limit 50"
      }
    }] : widget if local.presence_enabled],
  )
}

resource "aws_cloudwatch_dashboard" "this" {
  count = var.create_dashboard ? 1 : 0

  dashboard_name = var.name
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })
}

# Alarms that notify nobody only change colour in the console: every plan warns (a warning, never a
# failure: stacks without on-call, such as examples/local, still apply).
check "alarms_notify_someone" {
  assert {
    condition     = !local.alarms.enabled || length(local.alarms.alarm_actions) > 0
    error_message = "alarms.enabled is true (the default) but alarms.alarm_actions is empty: the module's alarms (errors and throttles of its functions; with presence, the dead-letter queue and late agent events) go off and notify nobody. Set alarms.alarm_actions to the ARN of an SNS topic someone reads (on-call), or alarms = { enabled = false } to create none."
  }
}
