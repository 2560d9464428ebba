# The object types of the root module's inputs (see main.tf). No validations: the root module's
# variables hold every rule. Defaults are written once, here; the root module's descriptions and its
# cross-attribute rules repeat them (tests/inputs.tftest.hcl, run defaults_as_documented, keeps them in step).

variable "table" {
  description = "The root module's var.table (validated there)."
  type = object({
    billing_mode           = optional(string, "PAY_PER_REQUEST")
    read_capacity          = optional(number, 5)
    write_capacity         = optional(number, 5)
    point_in_time_recovery = optional(bool, true)
    kms_key_arn            = optional(string)
  })
  nullable = false
}

variable "deployment" {
  description = "The root module's var.deployment (validated there)."
  type = object({
    enabled     = optional(bool, false)
    description = optional(string, "Remediation WebSocket $disconnect route")
    triggers    = optional(map(string), {})
  })
  nullable = false
}

variable "sweeper" {
  description = "The root module's var.sweeper (validated there)."
  type = object({
    enabled               = optional(bool, true)
    rate_minutes          = optional(number, 5)
    probe_connections     = optional(bool, false)
    probe_min_age_seconds = optional(number, 600)
    probe_concurrency     = optional(number, 8)
    probe_endpoint        = optional(string)
    max_items_per_run     = optional(number, 100000)
    scan_segments         = optional(number, 1)
  })
  nullable = false
}

variable "alarms" {
  description = "The root module's var.alarms (validated there)."
  type = object({
    enabled            = optional(bool, true)
    alarm_actions      = optional(list(string), [])
    ok_actions         = optional(list(string), [])
    period             = optional(number, 300)
    evaluation_periods = optional(number, 1)
    threshold          = optional(number, 1)
  })
  nullable = false
}

variable "connect" {
  description = "The root module's var.connect (validated there)."
  type = object({
    enabled       = optional(bool, false)
    identity      = optional(string, "authorizer")
    authorizer_id = optional(string)
    iam = optional(object({
      agent_role_arns     = optional(list(string), [])
      dashboard_role_arns = optional(list(string), [])
      agent_id_from       = optional(string, "session_name")
    }), {})
    agent_id_pattern = optional(string)
    client_type_key  = optional(string, "clientType")
    agent_id_key     = optional(string, "agentId")
  })
  nullable = false
}

variable "presence" {
  description = "The root module's var.presence (validated there)."
  type = object({
    enabled                = optional(bool, false)
    table_name             = optional(string)
    grace_seconds          = optional(number, 20)
    probe_interval_seconds = optional(number, 300)
    reconcile_minutes      = optional(number, 1)
    heartbeat = optional(object({
      enabled          = optional(bool, false)
      route_key        = optional(string, "heartbeat")
      interval_seconds = optional(number, 30)
      timeout_seconds  = optional(number, 75)
    }), {})
    events = optional(object({
      enabled    = optional(bool, true)
      create_bus = optional(bool, true)
      bus_name   = optional(string)
      source     = optional(string, "remediation.websocket")
    }), {})
    probe_endpoint = optional(string)
    announcer = optional(object({
      parallelization_factor = optional(number, 1)
      maximum_retry_attempts = optional(number, 10)
    }), {})
  })
  nullable = false
}

variable "functions" {
  description = "The root module's var.functions (validated there)."
  type = object({
    disconnect = optional(object({
      memory_size                    = optional(number, 128)
      timeout                        = optional(number, 10)
      reserved_concurrent_executions = optional(number, -1)
    }), {})
    connect = optional(object({
      memory_size                    = optional(number, 128)
      timeout                        = optional(number, 10)
      reserved_concurrent_executions = optional(number, -1)
    }), {})
    sweeper = optional(object({
      memory_size                    = optional(number, 256)
      timeout                        = optional(number, 120)
      reserved_concurrent_executions = optional(number, -1)
    }), {})
    presence = optional(object({
      memory_size                    = optional(number, 128)
      timeout                        = optional(number, 30)
      reserved_concurrent_executions = optional(number, -1)
    }), {})
    events = optional(object({
      memory_size                    = optional(number, 128)
      timeout                        = optional(number, 30)
      reserved_concurrent_executions = optional(number, -1)
    }), {})
  })
  nullable = false
}
