# Object inputs (table, deployment, sweeper, alarms, connect, presence, functions) are declared
# `type = any`, not object(...): Terraform's conversion to an object type drops unknown attributes
# silently, before any validation could see them, so a misspelt attribute would pass. Instead:
#   - here, on the variable, every rule: one validation block for the names at the top level and one
#     for those of the nested objects (the message names the path and lists the accepted attributes),
#     one for the types (what the conversion to the object type accepts), then the value rules. Only
#     a variable's own validations see the caller's value during `terraform validate`.
#   - modules/settings converts the value to its object type, optional() filling in the defaults; the
#     module reads local.<input> = module.settings.<input>, never var.<input>.
# Value rules work on the raw value: each is wrapped in try(..., true), which passes an attribute
# that is absent or null (its default applies and is valid) and one of the wrong type (the type rule
# reports it); tonumber()/tobool()/tostring() normalise what the conversion accepts ("7", "false").
# A rule across attributes merges the defaults (copied from modules/settings) under the caller's
# values. The descriptions list each attribute with its type and default: terraform-docs shows `any`.
# tests/inputs.tftest.hcl and tests/validation/test_object_inputs.py keep names, types and defaults
# in step with modules/settings.

################################################################################
# General
################################################################################

variable "name" {
  description = "Name of the $disconnect function and prefix of everything else the module creates (`<name>-sweeper`, `<name>-connections`, alarms, dashboard). Letters, digits, hyphens and underscores; at most 48 characters so that derived names stay within AWS limits."
  type        = string
  default     = "remediation-disconnect"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_-]{0,47}$", var.name))
    error_message = "name must start with a letter and contain only letters, digits, '-' or '_', at most 48 characters."
  }
}

variable "tags" {
  description = "Tags added to every resource that supports them."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for key, value in var.tags : length(key) >= 1 && length(key) <= 128 && length(value) <= 256 && !startswith(lower(key), "aws:")])
    error_message = "tags keys must be 1-128 characters and not start with 'aws:'; values at most 256 characters."
  }
}

################################################################################
# API Gateway WebSocket API
################################################################################

variable "api_id" {
  description = "ID of the existing API Gateway v2 WebSocket API (e.g. aws_apigatewayv2_api.this.id) that gets the $disconnect route."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]{1,32}$", var.api_id))
    error_message = "api_id must be an API Gateway API id: lowercase letters and digits, such as \"a1b2c3d4e5\" (not the API's name or ARN)."
  }
}

variable "create_route" {
  description = "Create the $disconnect route. Set false when the API's routes are managed elsewhere: then point your route at the output integration_id (target `integrations/<id>`)."
  type        = bool
  default     = true
}

variable "deployment" {
  description = <<-EOT
    A new or changed route reaches clients only once the API is deployed to its stage. Stages with
    auto_deploy = true do that themselves; for a stage without it, set enabled = true: the module then
    creates an aws_apigatewayv2_deployment, replaced (create_before_destroy) whenever one of the
    module's routes or integrations changes or any value in triggers changes (add the ids of the routes
    you manage elsewhere), and outputs deployment_id. Point your stage at it:
    aws_apigatewayv2_stage.<name>.deployment_id = module.<this>.deployment_id.
    An object; unknown attribute names are refused:
    - enabled (bool, default false)
    - description (string, default "Remediation WebSocket $disconnect route"): at most 1024 characters
    - triggers (map(string), default {}): any change of a value redeploys
  EOT
  type        = any # an object: see "Object inputs" at the top of this file
  default     = {}
  nullable    = false

  # Names, top level: Terraform's conversion to the object type would drop an unknown attribute silently.
  validation {
    condition     = can(keys(var.deployment)) && length(setsubtract(try(keys(var.deployment), []), ["enabled", "description", "triggers"])) == 0
    error_message = "deployment: ${can(keys(var.deployment)) ? "unknown attribute(s) ${join(", ", try(sort(setsubtract(keys(var.deployment), ["enabled", "description", "triggers"])), []))}" : "must be an object"}. Accepted attributes: enabled, description, triggers."
  }

  # Types: what the conversion to the object type accepts ("7" for 7, "false" for false); null or
  # absent takes the default. A path is "attribute" or "object.attribute".
  validation {
    condition = alltrue([for path, want in {
      enabled = "bool", description = "string", triggers = "map(string)",
      } : alltrue([for v in [try(var.deployment[split(".", path)[0]][split(".", path)[1]], var.deployment[path], null)] :
        v == null || (want == "bool" ? can(tobool(v)) : want == "number" ? can(tonumber(v)) : want == "string" ? can(tostring(v)) : want == "list(string)" ? can([for e in tolist(v) : tostring(e)]) : want == "map(string)" ? can(keys(v)) && can([for e in values(v) : tostring(e)]) : can(keys(v)))
    ])])
    error_message = format("deployment: wrong type for %s.", join(", ", [for path, want in {
      enabled = "bool", description = "string", triggers = "map(string)",
      } : format("%s (%s)", path, want) if !alltrue([for v in [try(var.deployment[split(".", path)[0]][split(".", path)[1]], var.deployment[path], null)] :
        v == null || (want == "bool" ? can(tobool(v)) : want == "number" ? can(tonumber(v)) : want == "string" ? can(tostring(v)) : want == "list(string)" ? can([for e in tolist(v) : tostring(e)]) : want == "map(string)" ? can(keys(v)) && can([for e in values(v) : tostring(e)]) : can(keys(v)))
    ])]))
  }

  validation {
    condition     = try(length(tostring(var.deployment.description)) <= 1024, true)
    error_message = "deployment.description must be at most 1024 characters."
  }
}

variable "stage_name" {
  description = "Stage of the API whose @connections endpoint the sweeper and the presence checker call (GetConnection; DeleteConnection with heartbeats). Required when sweeper.probe_connections or presence.enabled is true, and for the output agent_policy_json (connect.identity = \"iam\")."
  type        = string
  default     = null

  validation {
    condition     = var.stage_name == null || can(regex("^[A-Za-z0-9_-]{1,128}$", var.stage_name))
    error_message = "stage_name must be 1-128 letters, digits, '-' or '_'."
  }
}

################################################################################
# Connections table
################################################################################

variable "create_table" {
  description = "Create the DynamoDB connections table. Set false to use an existing table named by table_name (its partition key must be connectionId, a string)."
  type        = bool
  default     = true
}

variable "table_name" {
  description = "Name of the connections table: the table to create (default `<name>-connections`), or the existing table to use when create_table is false (then required)."
  type        = string
  default     = null

  validation {
    condition     = var.table_name == null || can(regex("^[A-Za-z0-9_.-]{3,255}$", var.table_name))
    error_message = "table_name must be 3-255 letters, digits, '_', '-' or '.' (a table name, not an ARN)."
  }
}

variable "table" {
  description = <<-EOT
    Settings of the connections table the module creates. The presence table (presence.enabled)
    follows the same settings and is encrypted with the same key. With create_table = false only
    kms_key_arn is used for the connections table, and may be omitted: the roles are then granted the
    key the existing table reports (the presence table is then encrypted with that key too); when
    given, it must be that key.
    An object; unknown attribute names are refused:
    - billing_mode (string, default "PAY_PER_REQUEST"): "PAY_PER_REQUEST" or "PROVISIONED"
    - read_capacity (number, default 5): with PROVISIONED; a whole number >= 1
    - write_capacity (number, default 5): with PROVISIONED; a whole number >= 1
    - point_in_time_recovery (bool, default true)
    - kms_key_arn (string, default null: the AWS managed key aws/dynamodb): a customer-managed key's
      ARN, never an alias (IAM matches keys by ARN)
  EOT
  type        = any # an object: see "Object inputs" at the top of this file
  default     = {}
  nullable    = false

  # Names, top level: Terraform's conversion to the object type would drop an unknown attribute silently.
  validation {
    condition     = can(keys(var.table)) && length(setsubtract(try(keys(var.table), []), ["billing_mode", "read_capacity", "write_capacity", "point_in_time_recovery", "kms_key_arn"])) == 0
    error_message = "table: ${can(keys(var.table)) ? "unknown attribute(s) ${join(", ", try(sort(setsubtract(keys(var.table), ["billing_mode", "read_capacity", "write_capacity", "point_in_time_recovery", "kms_key_arn"])), []))}" : "must be an object"}. Accepted attributes: billing_mode, read_capacity, write_capacity, point_in_time_recovery, kms_key_arn."
  }

  # Types: what the conversion to the object type accepts ("7" for 7, "false" for false); null or
  # absent takes the default. A path is "attribute" or "object.attribute".
  validation {
    condition = alltrue([for path, want in {
      billing_mode = "string", read_capacity = "number", write_capacity = "number", point_in_time_recovery = "bool", kms_key_arn = "string",
      } : alltrue([for v in [try(var.table[split(".", path)[0]][split(".", path)[1]], var.table[path], null)] :
        v == null || (want == "bool" ? can(tobool(v)) : want == "number" ? can(tonumber(v)) : want == "string" ? can(tostring(v)) : want == "list(string)" ? can([for e in tolist(v) : tostring(e)]) : want == "map(string)" ? can(keys(v)) && can([for e in values(v) : tostring(e)]) : can(keys(v)))
    ])])
    error_message = format("table: wrong type for %s.", join(", ", [for path, want in {
      billing_mode = "string", read_capacity = "number", write_capacity = "number", point_in_time_recovery = "bool", kms_key_arn = "string",
      } : format("%s (%s)", path, want) if !alltrue([for v in [try(var.table[split(".", path)[0]][split(".", path)[1]], var.table[path], null)] :
        v == null || (want == "bool" ? can(tobool(v)) : want == "number" ? can(tonumber(v)) : want == "string" ? can(tostring(v)) : want == "list(string)" ? can([for e in tolist(v) : tostring(e)]) : want == "map(string)" ? can(keys(v)) && can([for e in values(v) : tostring(e)]) : can(keys(v)))
    ])]))
  }

  validation {
    condition     = try(var.table.billing_mode == null || contains(["PAY_PER_REQUEST", "PROVISIONED"], tostring(var.table.billing_mode)), true)
    error_message = "table.billing_mode must be \"PAY_PER_REQUEST\" or \"PROVISIONED\"."
  }

  validation {
    condition = alltrue([for attr in ["read_capacity", "write_capacity"] :
      try(alltrue([for c in [tonumber(var.table[attr])] : floor(c) == c && c >= 1]), true)
    ])
    error_message = "table.read_capacity and table.write_capacity must be whole numbers >= 1."
  }

  validation {
    condition     = try(var.table.kms_key_arn == null || alltrue([for arn in [tostring(var.table.kms_key_arn)] : !can(regex(":alias/", arn))]), true)
    error_message = "table.kms_key_arn must be the key's ARN, not an alias ARN: IAM matches kms:Decrypt against key ARNs only, so with an alias every table call of the functions would be denied. Use arn:aws:kms:<region>:<account>:key/<key id> (aws kms describe-key --key-id alias/<name> shows it)."
  }

  validation {
    condition     = try(var.table.kms_key_arn == null || alltrue([for arn in [tostring(var.table.kms_key_arn)] : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]{1,128}$", arn))]), true)
    error_message = "table.kms_key_arn must be a KMS key ARN: arn:<partition>:kms:<region>:<account>:key/<key id>."
  }
}

variable "ttl_attribute" {
  description = "Name of the item attribute holding the expiry in epoch seconds. TTL is enabled on it when the module creates the table; the functions treat items past it as gone."
  type        = string
  default     = "expiresAt"

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_.-]{0,254}$", var.ttl_attribute)) && !contains(["connectionId", "clientType", "agentId", "connectedAt"], var.ttl_attribute)
    error_message = "ttl_attribute must be an attribute name (letters, digits, '_', '-', '.') other than connectionId, clientType, agentId or connectedAt."
  }
}

variable "connection_grace_seconds" {
  description = "Grace added to API Gateway's 2-hour connection limit before an item counts as stale (clock skew, slow $connect writers). Must match what your $connect handler adds to expiresAt."
  type        = number
  default     = 300

  validation {
    condition     = var.connection_grace_seconds >= 0 && var.connection_grace_seconds <= 86400 && floor(var.connection_grace_seconds) == var.connection_grace_seconds
    error_message = "connection_grace_seconds must be a whole number of seconds between 0 and 86400."
  }
}

################################################################################
# Functions (runtime, tracing, logs and role settings apply to every function of the module; memory,
# timeout and reserved concurrency are set per function in `functions`)
################################################################################

variable "runtime" {
  description = "Python runtime of the module's functions (python3.N, N >= 8). The package runs on 3.8 and later; the default python3.13 is accepted by hashicorp/aws from 5.76.0 (see README, Requirements)."
  type        = string
  default     = "python3.13"

  validation {
    condition     = can(regex("^python3\\.[0-9]+$", var.runtime)) && try(tonumber(split(".", var.runtime)[1]) >= 8, false)
    error_message = "runtime must be a Python runtime identifier of the form python3.N with N >= 8, such as \"python3.13\"."
  }
}

variable "functions" {
  description = <<-EOT
    Memory, timeout and reserved concurrency of the module's functions: one object per function, each
    with the same three attributes and defaults of its own.
    An object; unknown attribute names are refused, at both levels:
    - disconnect (object, default {}): the $disconnect handler `<name>`
      - memory_size (number, default 128): one DynamoDB write, 128 MB is enough and the cheapest
      - timeout (number, default 10): the DynamoDB client gives up after 3 attempts of at most 3 s each, so 10 s lets it log its own error
      - reserved_concurrent_executions (number, default -1)
    - connect (object, default {}): the $connect writer `<name>-connect` (connect.enabled)
      - memory_size (number, default 128)
      - timeout (number, default 10): at most 29, API Gateway's integration timeout
      - reserved_concurrent_executions (number, default -1)
    - sweeper (object, default {}): the sweeper `<name>-sweeper` (sweeper.enabled)
      - memory_size (number, default 256)
      - timeout (number, default 120): at least 10, and shorter than sweeper.rate_minutes * 60 so runs do not pile up (checked at plan)
      - reserved_concurrent_executions (number, default -1)
    - presence (object, default {}): the presence checker `<name>-presence` (presence.enabled)
      - memory_size (number, default 128)
      - timeout (number, default 30): the presence queue's visibility timeout is 6 x this
      - reserved_concurrent_executions (number, default -1)
    - events (object, default {}): the announcer `<name>-events` (presence.events.enabled)
      - memory_size (number, default 128)
      - timeout (number, default 30)
      - reserved_concurrent_executions (number, default -1)
    Everywhere: memory_size in MB, 128-10240; timeout in seconds, 3-900 unless said above;
    reserved_concurrent_executions -1 (unreserved) or >= 1 (0, which throttles every call, is refused).
  EOT
  type        = any # an object: see "Object inputs" at the top of this file
  default     = {}
  nullable    = false

  # Names, top level: Terraform's conversion to the object type would drop an unknown attribute silently.
  validation {
    condition     = can(keys(var.functions)) && length(setsubtract(try(keys(var.functions), []), ["disconnect", "connect", "sweeper", "presence", "events"])) == 0
    error_message = "functions: ${can(keys(var.functions)) ? "unknown attribute(s) ${join(", ", try(sort(setsubtract(keys(var.functions), ["disconnect", "connect", "sweeper", "presence", "events"])), []))}" : "must be an object"}. Accepted attributes: disconnect, connect, sweeper, presence, events."
  }

  # Names, each function's object.
  validation {
    condition = alltrue([for fn in ["disconnect", "connect", "sweeper", "presence", "events"] :
      length(setsubtract(try(keys(var.functions[fn]), []), ["memory_size", "timeout", "reserved_concurrent_executions"])) == 0
    ])
    error_message = join(" ", [for fn in ["disconnect", "connect", "sweeper", "presence", "events"] :
      "functions.${fn}: unknown attribute(s) ${join(", ", sort(setsubtract(keys(var.functions[fn]), ["memory_size", "timeout", "reserved_concurrent_executions"])))}. Accepted attributes: memory_size, timeout, reserved_concurrent_executions."
      if length(setsubtract(try(keys(var.functions[fn]), []), ["memory_size", "timeout", "reserved_concurrent_executions"])) > 0
    ])
  }

  # Types: what the conversion to the object type accepts ("7" for 7, "false" for false); null or
  # absent takes the default. A path is "attribute" or "object.attribute".
  validation {
    condition = alltrue([for path, want in {
      disconnect = "object", "disconnect.memory_size" = "number", "disconnect.timeout" = "number", "disconnect.reserved_concurrent_executions" = "number",
      connect    = "object", "connect.memory_size" = "number", "connect.timeout" = "number", "connect.reserved_concurrent_executions" = "number",
      sweeper    = "object", "sweeper.memory_size" = "number", "sweeper.timeout" = "number", "sweeper.reserved_concurrent_executions" = "number",
      presence   = "object", "presence.memory_size" = "number", "presence.timeout" = "number", "presence.reserved_concurrent_executions" = "number",
      events     = "object", "events.memory_size" = "number", "events.timeout" = "number", "events.reserved_concurrent_executions" = "number",
      } : alltrue([for v in [try(var.functions[split(".", path)[0]][split(".", path)[1]], var.functions[path], null)] :
        v == null || (want == "bool" ? can(tobool(v)) : want == "number" ? can(tonumber(v)) : want == "string" ? can(tostring(v)) : want == "list(string)" ? can([for e in tolist(v) : tostring(e)]) : want == "map(string)" ? can(keys(v)) && can([for e in values(v) : tostring(e)]) : can(keys(v)))
    ])])
    error_message = format("functions: wrong type for %s.", join(", ", [for path, want in {
      disconnect = "object", "disconnect.memory_size" = "number", "disconnect.timeout" = "number", "disconnect.reserved_concurrent_executions" = "number",
      connect    = "object", "connect.memory_size" = "number", "connect.timeout" = "number", "connect.reserved_concurrent_executions" = "number",
      sweeper    = "object", "sweeper.memory_size" = "number", "sweeper.timeout" = "number", "sweeper.reserved_concurrent_executions" = "number",
      presence   = "object", "presence.memory_size" = "number", "presence.timeout" = "number", "presence.reserved_concurrent_executions" = "number",
      events     = "object", "events.memory_size" = "number", "events.timeout" = "number", "events.reserved_concurrent_executions" = "number",
      } : format("%s (%s)", path, want) if !alltrue([for v in [try(var.functions[split(".", path)[0]][split(".", path)[1]], var.functions[path], null)] :
        v == null || (want == "bool" ? can(tobool(v)) : want == "number" ? can(tonumber(v)) : want == "string" ? can(tostring(v)) : want == "list(string)" ? can([for e in tolist(v) : tostring(e)]) : want == "map(string)" ? can(keys(v)) && can([for e in values(v) : tostring(e)]) : can(keys(v)))
    ])]))
  }

  validation {
    condition = alltrue([for fn in ["disconnect", "connect", "sweeper", "presence", "events"] :
      try(alltrue([for m in [tonumber(var.functions[fn].memory_size)] : m >= 128 && m <= 10240 && floor(m) == m]), true)
    ])
    error_message = "${join(", ", [for fn in ["disconnect", "connect", "sweeper", "presence", "events"] : "functions.${fn}.memory_size"
    if !try(alltrue([for m in [tonumber(var.functions[fn].memory_size)] : m >= 128 && m <= 10240 && floor(m) == m]), true)])} must be a whole number of MB between 128 and 10240."
  }

  validation {
    condition = alltrue([for fn, limit in {
      disconnect = { min = 3, max = 900 }, connect = { min = 3, max = 29 }, sweeper = { min = 10, max = 900 }, presence = { min = 3, max = 900 }, events = { min = 3, max = 900 }
    } : try(alltrue([for t in [tonumber(var.functions[fn].timeout)] : t >= limit.min && t <= limit.max && floor(t) == t]), true)])
    error_message = join(" ", [for fn, limit in {
      disconnect = { min = 3, max = 900, why = "" }, connect = { min = 3, max = 29, why = " (API Gateway's integration timeout)" }, sweeper = { min = 10, max = 900, why = "" },
      presence   = { min = 3, max = 900, why = "" }, events = { min = 3, max = 900, why = "" }
      } : "functions.${fn}.timeout must be a whole number of seconds between ${limit.min} and ${limit.max}${limit.why}."
      if !try(alltrue([for t in [tonumber(var.functions[fn].timeout)] : t >= limit.min && t <= limit.max && floor(t) == t]), true)
    ])
  }

  validation {
    condition = alltrue([for fn in ["disconnect", "connect", "sweeper", "presence", "events"] :
      try(alltrue([for r in [tonumber(var.functions[fn].reserved_concurrent_executions)] : (r == -1 || r >= 1) && floor(r) == r]), true)
    ])
    error_message = join(" ", [for fn, zero in {
      disconnect = "every invocation: no disconnect would ever be processed and every connection would stay in the table until the sweeper removes it"
      connect    = "every $connect: API Gateway would refuse every handshake and no agent could connect"
      sweeper    = "every scheduled run: stale connections would never be removed (disable the sweeper with sweeper.enabled = false instead)"
      presence   = "every invocation of the checker: no grace window would close and no connection be probed (turn presence off with presence.enabled = false instead)"
      events     = "every invocation of the announcer: no agent event would be published (set presence.events.enabled = false instead)"
      } : "functions.${fn}.reserved_concurrent_executions must be -1 (unreserved) or a whole number >= 1. 0 would throttle ${zero}."
      if !try(alltrue([for r in [tonumber(var.functions[fn].reserved_concurrent_executions)] : (r == -1 || r >= 1) && floor(r) == r]), true)
    ])
  }
}

variable "tracing_mode" {
  description = "X-Ray tracing of the module's functions: \"PassThrough\" (default, no traces unless the caller samples) or \"Active\" (grants the X-Ray write actions)."
  type        = string
  default     = "PassThrough"

  validation {
    condition     = contains(["PassThrough", "Active"], var.tracing_mode)
    error_message = "tracing_mode must be \"PassThrough\" or \"Active\"."
  }
}

variable "lambda_kms_key_arn" {
  description = "Customer-managed KMS key to encrypt the functions' environment variables; null uses the AWS managed key."
  type        = string
  default     = null

  validation {
    condition     = var.lambda_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]{1,128}$", coalesce(var.lambda_kms_key_arn, "-")))
    error_message = "lambda_kms_key_arn must be a KMS key ARN, arn:<partition>:kms:<region>:<account>:key/<key id>, not an alias or alias ARN: Lambda needs the key's ARN."
  }
}

variable "detect_code_drift" {
  description = "Warn on every plan when a function runs code that is not the module's package (changed outside Terraform). hashicorp/aws 5.51+ no longer shows such a change as a diff; this reads every function of the module with lambda:GetFunction during plan and reports through a check block (a warning, never a failure)."
  type        = bool
  default     = false
}

variable "log_level" {
  description = "Lowest level the functions log: DEBUG, INFO, WARNING or ERROR. Metric lines are always written."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "log_client_address" {
  description = "Log the client's source IP and user agent with each disconnect. Off by default: they are personal data in many jurisdictions."
  type        = bool
  default     = false
}

variable "log_retention_in_days" {
  description = "Retention of the functions' log groups, in days (a value CloudWatch Logs accepts)."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

variable "log_kms_key_arn" {
  description = "Customer-managed KMS key for the functions' log groups; null for CloudWatch Logs' default encryption. The key policy must allow the logs service principal of the region."
  type        = string
  default     = null

  validation {
    condition     = var.log_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]{1,128}$", coalesce(var.log_kms_key_arn, "-")))
    error_message = "log_kms_key_arn must be a KMS key ARN, arn:<partition>:kms:<region>:<account>:key/<key id>, not an alias or alias ARN: CloudWatch Logs needs the key's ARN."
  }
}

variable "role_path" {
  description = "Path of the functions' IAM roles."
  type        = string
  default     = "/"

  validation {
    condition     = can(regex("^/([A-Za-z0-9+=,.@_-]+/)*$", var.role_path)) && length(var.role_path) <= 512
    error_message = "role_path must begin and end with '/', such as \"/\" or \"/remediation/\"."
  }
}

variable "role_permissions_boundary" {
  description = "ARN of an IAM policy to set as permissions boundary on the functions' roles, or null."
  type        = string
  default     = null

  validation {
    condition     = var.role_permissions_boundary == null || can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/.+$", var.role_permissions_boundary))
    error_message = "role_permissions_boundary must be an IAM policy ARN (arn:aws:iam::<account>:policy/<name>)."
  }
}

################################################################################
# Abnormal-termination cleanup (sweeper)
################################################################################

variable "sweeper" {
  description = <<-EOT
    The sweeper `<name>-sweeper` removes connections whose $disconnect never arrived: every rate_minutes
    it deletes items past their TTL or older than 2 hours + connection_grace_seconds, and with
    probe_connections those older than probe_min_age_seconds that @connections reports gone (requires
    stage_name). A run examines at most max_items_per_run items and continues where the last one stopped,
    so each item is examined at least once every ceil(items / max_items_per_run) runs; scan_segments > 1
    scans segments concurrently.
    An object; unknown attribute names are refused:
    - enabled (bool, default true)
    - rate_minutes (number, default 5): a whole number of minutes, 1-1440; longer than functions.sweeper.timeout
    - probe_connections (bool, default false)
    - probe_min_age_seconds (number, default 600): 0-7200
    - probe_concurrency (number, default 8): 1-64
    - probe_endpoint (string, default null: `https://<api>.execute-api.<region>.<dns suffix>/<stage>`):
      the @connections URL; https, or plain http on loopback only (a local emulator)
    - max_items_per_run (number, default 100000): 100-10000000
    - scan_segments (number, default 1): a whole number, 1-1000
    Memory, timeout and reserved concurrency: functions.sweeper.
  EOT
  type        = any # an object: see "Object inputs" at the top of this file
  default     = {}
  nullable    = false

  # Names, top level: Terraform's conversion to the object type would drop an unknown attribute silently.
  validation {
    condition     = can(keys(var.sweeper)) && length(setsubtract(try(keys(var.sweeper), []), ["enabled", "rate_minutes", "probe_connections", "probe_min_age_seconds", "probe_concurrency", "probe_endpoint", "max_items_per_run", "scan_segments"])) == 0
    error_message = "sweeper: ${can(keys(var.sweeper)) ? "unknown attribute(s) ${join(", ", try(sort(setsubtract(keys(var.sweeper), ["enabled", "rate_minutes", "probe_connections", "probe_min_age_seconds", "probe_concurrency", "probe_endpoint", "max_items_per_run", "scan_segments"])), []))}" : "must be an object"}. Accepted attributes: enabled, rate_minutes, probe_connections, probe_min_age_seconds, probe_concurrency, probe_endpoint, max_items_per_run, scan_segments.${length(setintersection(try(keys(var.sweeper), []), ["memory_size", "timeout", "reserved_concurrent_executions"])) > 0 ? " The sweeper's memory_size, timeout and reserved_concurrent_executions are set in functions.sweeper now." : ""}"
  }

  # Types: what the conversion to the object type accepts ("7" for 7, "false" for false); null or
  # absent takes the default. A path is "attribute" or "object.attribute".
  validation {
    condition = alltrue([for path, want in {
      enabled = "bool", rate_minutes = "number", probe_connections = "bool", probe_min_age_seconds = "number", probe_concurrency = "number", probe_endpoint = "string", max_items_per_run = "number", scan_segments = "number",
      } : alltrue([for v in [try(var.sweeper[split(".", path)[0]][split(".", path)[1]], var.sweeper[path], null)] :
        v == null || (want == "bool" ? can(tobool(v)) : want == "number" ? can(tonumber(v)) : want == "string" ? can(tostring(v)) : want == "list(string)" ? can([for e in tolist(v) : tostring(e)]) : want == "map(string)" ? can(keys(v)) && can([for e in values(v) : tostring(e)]) : can(keys(v)))
    ])])
    error_message = format("sweeper: wrong type for %s.", join(", ", [for path, want in {
      enabled = "bool", rate_minutes = "number", probe_connections = "bool", probe_min_age_seconds = "number", probe_concurrency = "number", probe_endpoint = "string", max_items_per_run = "number", scan_segments = "number",
      } : format("%s (%s)", path, want) if !alltrue([for v in [try(var.sweeper[split(".", path)[0]][split(".", path)[1]], var.sweeper[path], null)] :
        v == null || (want == "bool" ? can(tobool(v)) : want == "number" ? can(tonumber(v)) : want == "string" ? can(tostring(v)) : want == "list(string)" ? can([for e in tolist(v) : tostring(e)]) : want == "map(string)" ? can(keys(v)) && can([for e in values(v) : tostring(e)]) : can(keys(v)))
    ])]))
  }

  validation {
    condition     = try(alltrue([for r in [tonumber(var.sweeper.rate_minutes)] : r >= 1 && r <= 1440 && floor(r) == r]), true)
    error_message = "sweeper.rate_minutes must be a whole number of minutes between 1 and 1440."
  }

  validation {
    condition = alltrue([
      try(alltrue([for a in [tonumber(var.sweeper.probe_min_age_seconds)] : a >= 0 && a <= 7200]), true),
      try(alltrue([for c in [tonumber(var.sweeper.probe_concurrency)] : c >= 1 && c <= 64]), true),
    ])
    error_message = "sweeper.probe_min_age_seconds must be between 0 and 7200, and sweeper.probe_concurrency between 1 and 64."
  }

  validation {
    condition = try(var.sweeper.probe_endpoint == null || alltrue([for url in [tostring(var.sweeper.probe_endpoint)] : length(url) <= 1024 && (
      can(regex("^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\\s?#]*)?$", url)) ||
      can(regex("^http://(127\\.0\\.0\\.1|localhost|\\[::1\\])(:[0-9]{1,5})?(/[^\\s?#]*)?$", url))
    )]), true)
    error_message = "sweeper.probe_endpoint must be an https URL of at most 1024 characters without query or fragment, such as https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod (the @connections API is served over TLS only; the URL goes into the sweeper's environment, which Lambda limits to 4 KB in total). Plain http is accepted only on loopback (127.0.0.1, localhost, [::1]), for a local emulator of API Gateway such as the one make demo runs."
  }

  validation {
    condition = alltrue([
      try(alltrue([for m in [tonumber(var.sweeper.max_items_per_run)] : m >= 100 && m <= 10000000]), true),
      try(alltrue([for s in [tonumber(var.sweeper.scan_segments)] : s >= 1 && s <= 1000 && floor(s) == s]), true),
    ])
    error_message = "sweeper.max_items_per_run must be between 100 and 10000000, and sweeper.scan_segments a whole number between 1 and 1000."
  }
}

################################################################################
# Monitoring
################################################################################

variable "metrics_namespace" {
  description = "CloudWatch namespace of the functions' metrics (Embedded Metric Format, no PutMetricData calls). Default null: \"Remediation/<name>\", so two deployments of the module in one account never mix their metrics. Before 1.0.0 the default was \"Remediation/WebSocket\"; set that to keep a namespace your alarms or dashboards already read."
  type        = string
  default     = null

  validation {
    condition     = var.metrics_namespace == null || (can(regex("^[A-Za-z0-9 ._/#:-]{1,255}$", coalesce(var.metrics_namespace, "-"))) && !startswith(coalesce(var.metrics_namespace, "-"), "AWS/"))
    error_message = "metrics_namespace must be 1-255 letters, digits, spaces or . _ / # : - and must not start with \"AWS/\"."
  }
}

variable "alarms" {
  description = <<-EOT
    CloudWatch alarms: Errors and Throttles of the $disconnect function (and of the $connect writer
    when enabled), Errors of the sweeper; with presence, Errors of the checker and the announcer, the
    announcer's IteratorAge (events more than a minute late) and messages in the presence dead-letter
    queue. An alarm fires when the sum over period seconds reaches threshold in evaluation_periods
    consecutive periods. Every plan warns while alarms are enabled without alarm_actions (a check
    block): they would notify nobody.
    An object; unknown attribute names are refused:
    - enabled (bool, default true)
    - alarm_actions (list(string), default []): SNS topic ARNs (or other alarm action ARNs)
    - ok_actions (list(string), default []): the same, on return to OK
    - period (number, default 300): seconds, a multiple of 60 from 60 to 86400
    - evaluation_periods (number, default 1): a whole number >= 1; period * evaluation_periods at most
      one day (periods under an hour) or seven days
    - threshold (number, default 1): >= 1
  EOT
  type        = any # an object: see "Object inputs" at the top of this file
  default     = {}
  nullable    = false

  # Names, top level: Terraform's conversion to the object type would drop an unknown attribute silently.
  validation {
    condition     = can(keys(var.alarms)) && length(setsubtract(try(keys(var.alarms), []), ["enabled", "alarm_actions", "ok_actions", "period", "evaluation_periods", "threshold"])) == 0
    error_message = "alarms: ${can(keys(var.alarms)) ? "unknown attribute(s) ${join(", ", try(sort(setsubtract(keys(var.alarms), ["enabled", "alarm_actions", "ok_actions", "period", "evaluation_periods", "threshold"])), []))}" : "must be an object"}. Accepted attributes: enabled, alarm_actions, ok_actions, period, evaluation_periods, threshold."
  }

  # Types: what the conversion to the object type accepts ("7" for 7, "false" for false); null or
  # absent takes the default. A path is "attribute" or "object.attribute".
  validation {
    condition = alltrue([for path, want in {
      enabled = "bool", alarm_actions = "list(string)", ok_actions = "list(string)", period = "number", evaluation_periods = "number", threshold = "number",
      } : alltrue([for v in [try(var.alarms[split(".", path)[0]][split(".", path)[1]], var.alarms[path], null)] :
        v == null || (want == "bool" ? can(tobool(v)) : want == "number" ? can(tonumber(v)) : want == "string" ? can(tostring(v)) : want == "list(string)" ? can([for e in tolist(v) : tostring(e)]) : want == "map(string)" ? can(keys(v)) && can([for e in values(v) : tostring(e)]) : can(keys(v)))
    ])])
    error_message = format("alarms: wrong type for %s.", join(", ", [for path, want in {
      enabled = "bool", alarm_actions = "list(string)", ok_actions = "list(string)", period = "number", evaluation_periods = "number", threshold = "number",
      } : format("%s (%s)", path, want) if !alltrue([for v in [try(var.alarms[split(".", path)[0]][split(".", path)[1]], var.alarms[path], null)] :
        v == null || (want == "bool" ? can(tobool(v)) : want == "number" ? can(tonumber(v)) : want == "string" ? can(tostring(v)) : want == "list(string)" ? can([for e in tolist(v) : tostring(e)]) : want == "map(string)" ? can(keys(v)) && can([for e in values(v) : tostring(e)]) : can(keys(v)))
    ])]))
  }

  validation {
    condition = alltrue([for attr in ["alarm_actions", "ok_actions"] :
      try(alltrue([for arn in var.alarms[attr] : !can(tostring(arn)) || can(regex("^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:[0-9]{0,12}:.+$", tostring(arn)))]), true)
    ])
    error_message = "alarms.alarm_actions and alarms.ok_actions must contain ARNs (e.g. arn:aws:sns:<region>:<account>:<topic>)."
  }

  validation {
    condition     = try(alltrue([for p in [tonumber(var.alarms.period)] : p >= 60 && p % 60 == 0 && p <= 86400]), true)
    error_message = "alarms.period must be a multiple of 60 seconds between 60 and 86400: AWS/Lambda publishes Errors and Throttles once a minute, so a 10 or 30 second alarm would stay INSUFFICIENT_DATA and never fire."
  }

  # Defaults copied from modules/settings: period 300, evaluation_periods 1.
  validation {
    condition = try(alltrue([for a in [merge({ period = 300, evaluation_periods = 1 }, { for k, v in var.alarms : k => v if v != null })] :
      tonumber(a.period) * tonumber(a.evaluation_periods) <= (tonumber(a.period) < 3600 ? 86400 : 604800)
    ]), true)
    error_message = "alarms.period * alarms.evaluation_periods must be at most 86400 seconds (one day) for periods under an hour, and at most 604800 (seven days) otherwise: CloudWatch refuses longer evaluation ranges (PutMetricAlarm)."
  }

  validation {
    condition = alltrue([
      try(alltrue([for e in [tonumber(var.alarms.evaluation_periods)] : e >= 1 && floor(e) == e]), true),
      try(tonumber(var.alarms.threshold) >= 1, true),
    ])
    error_message = "alarms.evaluation_periods must be a whole number >= 1 and alarms.threshold >= 1."
  }
}

variable "create_dashboard" {
  description = "Create a CloudWatch dashboard `<name>` with the disconnect, sweeper and Lambda metrics, and with presence: agents online, transitions by reason, reconnects within grace, liveness probes and heartbeat timeouts."
  type        = bool
  default     = false
}

################################################################################
# $connect writer (optional)
################################################################################

variable "connect" {
  description = <<-EOT
    Optional $connect route whose function `<name>-connect` writes the connection item the other
    functions rely on (see docs/identity.md, "The connection item contract"). Off by default: keep it off if your
    API already has a $connect that writes that item (presence then cannot be used). identity says
    where the client's identity (clientType "agent" | "dashboard", and agentId for agents) comes from,
    exactly one source:
    - "authorizer" (default): your REQUEST authorizer (authorizer_id, attached to the route as CUSTOM)
      returns them in its context under client_type_key / agent_id_key; nothing else is read.
    - "iam": the route is AWS_IAM-authorized (clients SigV4-sign the handshake); a caller in
      iam.agent_role_arns is an agent, in iam.dashboard_role_arns the Dashboard, anything else is
      refused. The agent id is the assumed-role session name (iam.agent_id_from = "session_name") or
      the role name ("role_name"), for agent role ARNs, or the IAM user name ("user_name"), for agent
      IAM user ARNs; the Dashboard may be roles or users. Give agents the policy in the output
      agent_policy_json (needs stage_name).
    - "query_string_insecure": ?clientType=...&agentId=... from the URL, no authorization at all: ANYONE
      CAN CLAIM ANY AGENT ID. Demo stacks only; every plan warns.
    A connection without usable identity is refused (HTTP 403 to the handshake) and nothing is written.
    An object; unknown attribute names are refused, at both levels:
    - enabled (bool, default false)
    - identity (string, default "authorizer"): "authorizer", "iam" or "query_string_insecure"
    - authorizer_id (string, default null): the REQUEST authorizer's id; required with "authorizer",
      refused otherwise
    - iam (object, default {}): with identity = "iam", at least one ARN in the two lists
      - agent_role_arns (list(string), default []): IAM role ARNs, or IAM user ARNs with agent_id_from = "user_name"
      - dashboard_role_arns (list(string), default []): IAM role or user ARNs, none of them an agent's
      - agent_id_from (string, default "session_name"): "session_name", "role_name" or "user_name"
    - agent_id_pattern (string, default null): a regular expression every agent id must match in full,
      checked by the function with Python's `re.fullmatch` besides the built-in rule (1-256 printable
      characters, NFC, no surrounding whitespace); the plan checks that Terraform can compile it, so
      write it in the syntax both understand (no look-arounds or back-references), e.g. "agent-[0-9]{1,6}"
    - client_type_key (string, default "clientType"): the authorizer context key of the client type
    - agent_id_key (string, default "agentId"): the authorizer context key of the agent id
    Memory, timeout and reserved concurrency: functions.connect.
  EOT
  type        = any # an object: see "Object inputs" at the top of this file
  default     = {}
  nullable    = false

  # Names, top level: Terraform's conversion to the object type would drop an unknown attribute silently.
  validation {
    condition     = can(keys(var.connect)) && length(setsubtract(try(keys(var.connect), []), ["enabled", "identity", "authorizer_id", "iam", "agent_id_pattern", "client_type_key", "agent_id_key"])) == 0
    error_message = "connect: ${can(keys(var.connect)) ? "unknown attribute(s) ${join(", ", try(sort(setsubtract(keys(var.connect), ["enabled", "identity", "authorizer_id", "iam", "agent_id_pattern", "client_type_key", "agent_id_key"])), []))}" : "must be an object"}. Accepted attributes: enabled, identity, authorizer_id, iam, agent_id_pattern, client_type_key, agent_id_key.${length(setintersection(try(keys(var.connect), []), ["memory_size", "timeout", "reserved_concurrent_executions"])) > 0 ? " The $connect function's memory_size, timeout and reserved_concurrent_executions are set in functions.connect now." : ""}"
  }

  # Names, the nested object (iam).
  validation {
    condition = alltrue([for path, accepted in { iam = ["agent_role_arns", "dashboard_role_arns", "agent_id_from"] } :
      length(setsubtract(try(keys(var.connect[path]), []), accepted)) == 0
    ])
    error_message = join(" ", [for path, accepted in { iam = ["agent_role_arns", "dashboard_role_arns", "agent_id_from"] } :
      "connect.${path}: unknown attribute(s) ${join(", ", sort(setsubtract(keys(var.connect[path]), accepted)))}. Accepted attributes: ${join(", ", accepted)}."
      if length(setsubtract(try(keys(var.connect[path]), []), accepted)) > 0
    ])
  }

  # Types: what the conversion to the object type accepts ("7" for 7, "false" for false); null or
  # absent takes the default. A path is "attribute" or "object.attribute".
  validation {
    condition = alltrue([for path, want in {
      enabled          = "bool", identity = "string", authorizer_id = "string",
      iam              = "object", "iam.agent_role_arns" = "list(string)", "iam.dashboard_role_arns" = "list(string)", "iam.agent_id_from" = "string",
      agent_id_pattern = "string", client_type_key = "string", agent_id_key = "string",
      } : alltrue([for v in [try(var.connect[split(".", path)[0]][split(".", path)[1]], var.connect[path], null)] :
        v == null || (want == "bool" ? can(tobool(v)) : want == "number" ? can(tonumber(v)) : want == "string" ? can(tostring(v)) : want == "list(string)" ? can([for e in tolist(v) : tostring(e)]) : want == "map(string)" ? can(keys(v)) && can([for e in values(v) : tostring(e)]) : can(keys(v)))
    ])])
    error_message = format("connect: wrong type for %s.", join(", ", [for path, want in {
      enabled          = "bool", identity = "string", authorizer_id = "string",
      iam              = "object", "iam.agent_role_arns" = "list(string)", "iam.dashboard_role_arns" = "list(string)", "iam.agent_id_from" = "string",
      agent_id_pattern = "string", client_type_key = "string", agent_id_key = "string",
      } : format("%s (%s)", path, want) if !alltrue([for v in [try(var.connect[split(".", path)[0]][split(".", path)[1]], var.connect[path], null)] :
        v == null || (want == "bool" ? can(tobool(v)) : want == "number" ? can(tonumber(v)) : want == "string" ? can(tostring(v)) : want == "list(string)" ? can([for e in tolist(v) : tostring(e)]) : want == "map(string)" ? can(keys(v)) && can([for e in values(v) : tostring(e)]) : can(keys(v)))
    ])]))
  }

  validation {
    condition     = try(var.connect.identity == null || contains(["authorizer", "iam", "query_string_insecure"], tostring(var.connect.identity)), true)
    error_message = "connect.identity must be \"authorizer\" (a REQUEST authorizer's context), \"iam\" (AWS_IAM on the route, identity from the caller's role) or \"query_string_insecure\" (demo stacks only: the query string, spoofable by anyone)."
  }

  validation {
    condition     = try(var.connect.authorizer_id == null || alltrue([for id in [tostring(var.connect.authorizer_id)] : can(regex("^[a-z0-9]{1,32}$", id))]), true)
    error_message = "connect.authorizer_id must be an API Gateway authorizer id: lowercase letters and digits, such as \"abc123\" (not its name or ARN)."
  }

  # Cross-attribute rules take the defaults of what the caller left out (copied from modules/settings:
  # enabled false, identity "authorizer", authorizer_id null, empty role lists).
  validation {
    condition = try(alltrue([for c in [merge({ enabled = false, identity = "authorizer", authorizer_id = null }, { for k, v in var.connect : k => v if v != null })] :
      !tobool(c.enabled) || tostring(c.identity) != "authorizer" || tostring(c.authorizer_id) != null
    ]), true)
    error_message = "connect.identity = \"authorizer\" (the default) needs connect.authorizer_id, the REQUEST authorizer that returns clientType/agentId in its context: without it the route would have no authorizer and every connection would be refused. Or choose identity = \"iam\" (SigV4-signed handshakes), or \"query_string_insecure\" for demo stacks (it replaces allow_query_string_identity = true)."
  }

  validation {
    condition = try(alltrue([for c in [merge({ identity = "authorizer", authorizer_id = null }, { for k, v in var.connect : k => v if v != null })] :
      tostring(c.authorizer_id) == null || tostring(c.identity) == "authorizer"
    ]), true)
    error_message = "connect.authorizer_id is used only with connect.identity = \"authorizer\": with \"iam\" the route is AWS_IAM-authorized (a route has one authorization type), and with \"query_string_insecure\" the authorizer's context would never be read. Remove authorizer_id or set identity = \"authorizer\"."
  }

  validation {
    condition = try(alltrue([for c in [merge({ identity = "authorizer" }, { for k, v in var.connect : k => v if v != null })] :
      sum([for attr in ["agent_role_arns", "dashboard_role_arns"] : try(length(tolist(var.connect.iam[attr])), 0)]) == 0 || tostring(c.identity) == "iam"
    ]), true)
    error_message = "connect.iam (agent_role_arns, dashboard_role_arns) is used only with connect.identity = \"iam\": with any other identity source the lists would be ignored."
  }

  validation {
    condition = try(alltrue([for c in [merge({ enabled = false, identity = "authorizer" }, { for k, v in var.connect : k => v if v != null })] :
      !tobool(c.enabled) || tostring(c.identity) != "iam" || sum([for attr in ["agent_role_arns", "dashboard_role_arns"] : try(length(tolist(var.connect.iam[attr])), 0)]) > 0
    ]), true)
    error_message = "connect.identity = \"iam\" needs at least one ARN in connect.iam.agent_role_arns or connect.iam.dashboard_role_arns: a signed caller in neither list is refused, so with both empty every connection would be."
  }

  # The lists reach the function comma-separated (CONNECT_IAM_AGENT_ROLES, CONNECT_IAM_DASHBOARD_ROLES);
  # it accepts what identity.py's listed_principal() accepts: role or IAM user ARNs, with a path.
  validation {
    condition = alltrue([for attr in ["agent_role_arns", "dashboard_role_arns"] :
      try(alltrue([for arn in var.connect.iam[attr] :
        !can(tostring(arn)) || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/([A-Za-z0-9+=.@_-]+/)*[A-Za-z0-9+=.@_-]{1,64}$", tostring(arn)))
      ]), true)
    ])
    error_message = "connect.iam.agent_role_arns and connect.iam.dashboard_role_arns must hold IAM role ARNs, arn:aws:iam::<account>:role/<path/><name>, or IAM user ARNs, arn:aws:iam::<account>:user/<path/><name>: not assumed-role session ARNs (arn:aws:sts::...), and without ',' (the lists reach the function comma-separated)."
  }

  # identity.py names an agent by its session or role name when the agent list holds roles, by its
  # user name when it holds users, and refuses to start on a list of the other kind.
  validation {
    condition = alltrue([for from in [try(tostring(coalesce(var.connect.iam.agent_id_from)), "session_name")] :
      try(alltrue([for arn in var.connect.iam.agent_role_arns :
        !can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/", tostring(arn))) ||
        can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:${from == "user_name" ? "user" : "role"}/", tostring(arn)))
      ]), true)
    ])
    error_message = "connect.iam.agent_role_arns must hold IAM user ARNs (arn:aws:iam::<account>:user/<path/><name>) exactly when connect.iam.agent_id_from = \"user_name\" (the agent id is the user name), and IAM role ARNs otherwise (\"session_name\", the default, and \"role_name\" name the agent after its role session or role): the $connect function refuses to start with agents of the other kind, so every connection would fail. The Dashboard (dashboard_role_arns) may be roles or users either way."
  }

  # Compared as identity.py matches callers: partition, account, role or user, name (not the path).
  validation {
    condition = try(length(setintersection(
      [for arn in var.connect.iam.agent_role_arns : replace(tostring(arn), "/^arn:([^:]+):iam::([0-9]+):(role|user)/(?:.*/)?([^/]+)$/", "$1:$2:$3/$4")],
      [for arn in var.connect.iam.dashboard_role_arns : replace(tostring(arn), "/^arn:([^:]+):iam::([0-9]+):(role|user)/(?:.*/)?([^/]+)$/", "$1:$2:$3/$4")],
    )) == 0, true)
    error_message = "connect.iam: a role or user cannot be in both agent_role_arns and dashboard_role_arns (compared as the function compares callers: partition, account and name, whatever the path): its callers would be both an agent and the Dashboard."
  }

  validation {
    condition     = sum([for attr in ["agent_role_arns", "dashboard_role_arns"] : try(length(join(",", var.connect.iam[attr])), 0)]) <= 2048
    error_message = "connect.iam.agent_role_arns and dashboard_role_arns together must fit in 2048 characters (comma-separated): they go into the $connect function's environment, which Lambda limits to 4 KB in total. Use fewer roles (one role per fleet, the agent id from the session name)."
  }

  validation {
    condition     = try(var.connect.iam.agent_id_from == null || contains(["session_name", "role_name", "user_name"], tostring(var.connect.iam.agent_id_from)), true)
    error_message = "connect.iam.agent_id_from must be \"session_name\" (the assumed-role session name: one role for all agents, each assuming it with its id as session name), \"role_name\" (one role per agent) or \"user_name\" (IAM users)."
  }

  validation {
    condition = try(var.connect.agent_id_pattern == null || alltrue([for p in [tostring(var.connect.agent_id_pattern)] :
      length(p) >= 1 && length(p) <= 512 && can(regexall(p, ""))
    ]), true)
    error_message = "connect.agent_id_pattern must be a regular expression Terraform can compile (RE2 syntax: no look-arounds or back-references; the function applies it with Python's re.fullmatch, so use what both understand), of 1-512 characters (it goes into the function's environment)."
  }

  validation {
    condition = try(alltrue([for c in [merge({ client_type_key = "clientType", agent_id_key = "agentId" }, { for k, v in var.connect : k => v if v != null })] :
      alltrue([for key in [tostring(c.client_type_key), tostring(c.agent_id_key)] : can(regex("^[A-Za-z0-9_.:-]{1,128}$", key))]) && tostring(c.client_type_key) != tostring(c.agent_id_key)
    ]), true)
    error_message = "connect.client_type_key and connect.agent_id_key must be two different authorizer context keys of 1-128 letters, digits, '_', '.', ':' or '-'."
  }
}

################################################################################
# Agent presence (needs the $connect writer: connect.enabled)
################################################################################

variable "presence" {
  description = <<-EOT
    Agent presence (docs/presence.md): one item per agent in a presence table; each online <-> offline
    transition is one conditional write, announced once, in order, on EventBridge by `<name>-events`
    from the table's stream. Requires connect.enabled and stage_name. An agent whose last connection
    closes goes offline only if none of its connections arrives within grace_seconds; `<name>-presence`
    resolves those windows, probes agent connections (delayed SQS messages) and reconciles the table.
    Heartbeats: agents send {"action": "<route_key>"} every interval_seconds to a MOCK route (no Lambda
    invoked); a connection silent past timeout_seconds is closed, its agent offline (heartbeat_timeout).
    Events: create_bus makes the bus `<name>-agents`, where only the announcer's role may put events with
    events.source; with create_bus = false, any principal allowed events:PutEvents on bus_name can
    publish look-alikes.
    An object; unknown attribute names are refused, at both levels:
    - enabled (bool, default false)
    - table_name (string, default null: `<name>-presence`)
    - grace_seconds (number, default 20): a whole number 0-900 (0: offline as soon as the last connection closes)
    - probe_interval_seconds (number, default 300): a whole number 30-900; GetConnection per agent
      connection every so often while heartbeats are off
    - reconcile_minutes (number, default 1): a whole number 1-60
    - heartbeat (object, default {}):
      - enabled (bool, default false)
      - route_key (string, default "heartbeat"): 1-128 characters without whitespace, not starting with '$'
      - interval_seconds (number, default 30): a whole number 1-300
      - timeout_seconds (number, default 75): a whole number, at least 2 x interval_seconds, at most 899
    - events (object, default {}):
      - enabled (bool, default true)
      - create_bus (bool, default true)
      - bus_name (string, default null): an existing bus name or ARN, with create_bus = false only
      - source (string, default "remediation.websocket"): not starting with "aws."
    - probe_endpoint (string, default null: `https://<api>.execute-api.<region>.<dns suffix>/<stage>`): the
      @connections URL the checker calls; https, or plain http on loopback only (a local emulator)
    - announcer (object, default {}): the announcer's stream event source mapping
      - parallelization_factor (number, default 1): a whole number 1-10, batches per shard at once
        (records of one agent stay in order)
      - maximum_retry_attempts (number, default 10): a whole number 0-10000, retries of a failing batch
        (bisected on error) before it goes to the dead-letter queue `<name>-presence-dlq`
    Memory, timeout and reserved concurrency: functions.presence (the checker; the queue's visibility
    timeout is 6 x its timeout) and functions.events (the announcer).
  EOT
  type        = any # an object: see "Object inputs" at the top of this file
  default     = {}
  nullable    = false

  # Names, top level: Terraform's conversion to the object type would drop an unknown attribute silently.
  validation {
    condition     = can(keys(var.presence)) && length(setsubtract(try(keys(var.presence), []), ["enabled", "table_name", "grace_seconds", "probe_interval_seconds", "reconcile_minutes", "heartbeat", "events", "probe_endpoint", "announcer"])) == 0
    error_message = "presence: ${can(keys(var.presence)) ? "unknown attribute(s) ${join(", ", try(sort(setsubtract(keys(var.presence), ["enabled", "table_name", "grace_seconds", "probe_interval_seconds", "reconcile_minutes", "heartbeat", "events", "probe_endpoint", "announcer"])), []))}" : "must be an object"}. Accepted attributes: enabled, table_name, grace_seconds, probe_interval_seconds, reconcile_minutes, heartbeat, events, probe_endpoint, announcer.${contains(try(keys(var.presence), []), "checker") ? " presence.checker is gone: the checker's memory_size, timeout and reserved_concurrent_executions are set in functions.presence now." : ""}"
  }

  # Names, each nested object (heartbeat, events, announcer).
  validation {
    condition = alltrue([for path, accepted in { heartbeat = ["enabled", "route_key", "interval_seconds", "timeout_seconds"], events = ["enabled", "create_bus", "bus_name", "source"], announcer = ["parallelization_factor", "maximum_retry_attempts"] } :
      length(setsubtract(try(keys(var.presence[path]), []), accepted)) == 0
    ])
    error_message = join(" ", [for path, accepted in { heartbeat = ["enabled", "route_key", "interval_seconds", "timeout_seconds"], events = ["enabled", "create_bus", "bus_name", "source"], announcer = ["parallelization_factor", "maximum_retry_attempts"] } :
      "presence.${path}: unknown attribute(s) ${join(", ", sort(setsubtract(keys(var.presence[path]), accepted)))}. Accepted attributes: ${join(", ", accepted)}.${path == "announcer" && length(setintersection(try(keys(var.presence.announcer), []), ["memory_size", "timeout", "reserved_concurrent_executions"])) > 0 ? " The announcer's memory_size, timeout and reserved_concurrent_executions are set in functions.events now." : ""}"
      if length(setsubtract(try(keys(var.presence[path]), []), accepted)) > 0
    ])
  }

  # Types: what the conversion to the object type accepts ("7" for 7, "false" for false); null or
  # absent takes the default. A path is "attribute" or "object.attribute".
  validation {
    condition = alltrue([for path, want in {
      enabled        = "bool", table_name = "string", grace_seconds = "number", probe_interval_seconds = "number", reconcile_minutes = "number",
      heartbeat      = "object", "heartbeat.enabled" = "bool", "heartbeat.route_key" = "string", "heartbeat.interval_seconds" = "number", "heartbeat.timeout_seconds" = "number",
      events         = "object", "events.enabled" = "bool", "events.create_bus" = "bool", "events.bus_name" = "string", "events.source" = "string",
      probe_endpoint = "string",
      announcer      = "object", "announcer.parallelization_factor" = "number", "announcer.maximum_retry_attempts" = "number",
      } : alltrue([for v in [try(var.presence[split(".", path)[0]][split(".", path)[1]], var.presence[path], null)] :
        v == null || (want == "bool" ? can(tobool(v)) : want == "number" ? can(tonumber(v)) : want == "string" ? can(tostring(v)) : want == "list(string)" ? can([for e in tolist(v) : tostring(e)]) : want == "map(string)" ? can(keys(v)) && can([for e in values(v) : tostring(e)]) : can(keys(v)))
    ])])
    error_message = format("presence: wrong type for %s.", join(", ", [for path, want in {
      enabled        = "bool", table_name = "string", grace_seconds = "number", probe_interval_seconds = "number", reconcile_minutes = "number",
      heartbeat      = "object", "heartbeat.enabled" = "bool", "heartbeat.route_key" = "string", "heartbeat.interval_seconds" = "number", "heartbeat.timeout_seconds" = "number",
      events         = "object", "events.enabled" = "bool", "events.create_bus" = "bool", "events.bus_name" = "string", "events.source" = "string",
      probe_endpoint = "string",
      announcer      = "object", "announcer.parallelization_factor" = "number", "announcer.maximum_retry_attempts" = "number",
      } : format("%s (%s)", path, want) if !alltrue([for v in [try(var.presence[split(".", path)[0]][split(".", path)[1]], var.presence[path], null)] :
        v == null || (want == "bool" ? can(tobool(v)) : want == "number" ? can(tonumber(v)) : want == "string" ? can(tostring(v)) : want == "list(string)" ? can([for e in tolist(v) : tostring(e)]) : want == "map(string)" ? can(keys(v)) && can([for e in values(v) : tostring(e)]) : can(keys(v)))
    ])]))
  }

  validation {
    condition     = try(var.presence.table_name == null || alltrue([for name in [tostring(var.presence.table_name)] : can(regex("^[A-Za-z0-9_.-]{3,255}$", name))]), true)
    error_message = "presence.table_name must be 3-255 letters, digits, '_', '-' or '.' (a DynamoDB table name, not an ARN); omit it for \"<name>-presence\"."
  }

  validation {
    condition     = try(alltrue([for g in [tonumber(var.presence.grace_seconds)] : g >= 0 && g <= 900 && floor(g) == g]), true)
    error_message = "presence.grace_seconds must be a whole number of seconds between 0 and 900: the grace window is one delayed SQS message, and SQS delays a message by at most 900 seconds (0 announces an agent offline as soon as its last connection closes)."
  }

  validation {
    condition     = try(alltrue([for p in [tonumber(var.presence.probe_interval_seconds)] : p >= 30 && p <= 900 && floor(p) == p]), true)
    error_message = "presence.probe_interval_seconds must be a whole number of seconds between 30 and 900: each probe is a delayed SQS message (at most 900 s), and probing a connection more often than every 30 s costs a GetConnection call and a checker invocation per connection for little gain (turn on heartbeats for faster detection)."
  }

  validation {
    condition     = try(alltrue([for r in [tonumber(var.presence.reconcile_minutes)] : r >= 1 && r <= 60 && floor(r) == r]), true)
    error_message = "presence.reconcile_minutes must be a whole number of minutes between 1 and 60: EventBridge schedules run at most once a minute, and a lost grace message or a function that failed between two writes is repaired only by the reconciler, so it should run at least hourly."
  }

  validation {
    condition     = try(var.presence.heartbeat.route_key == null || alltrue([for key in [tostring(var.presence.heartbeat.route_key)] : can(regex("^[^$\\s][^\\s]{0,127}$", key))]), true)
    error_message = "presence.heartbeat.route_key must be 1-128 characters without whitespace and must not start with '$' ($connect, $disconnect and $default are API Gateway's own routes), such as \"heartbeat\"."
  }

  validation {
    condition     = try(alltrue([for i in [tonumber(var.presence.heartbeat.interval_seconds)] : i >= 1 && i <= 300 && floor(i) == i]), true)
    error_message = "presence.heartbeat.interval_seconds must be a whole number of seconds between 1 and 300 (API Gateway closes a connection idle for 10 minutes, and heartbeats are what keeps it open)."
  }

  # Defaults copied from modules/settings: interval_seconds 30, timeout_seconds 75.
  validation {
    condition = try(alltrue([for h in [merge({ interval_seconds = 30, timeout_seconds = 75 }, { for k, v in var.presence.heartbeat : k => v if v != null })] :
      tonumber(h.timeout_seconds) >= 2 * tonumber(h.interval_seconds) && tonumber(h.timeout_seconds) <= 899 && floor(tonumber(h.timeout_seconds)) == tonumber(h.timeout_seconds)
    ]), true)
    error_message = "presence.heartbeat.timeout_seconds must be a whole number of seconds, at least 2 x presence.heartbeat.interval_seconds (one late or lost heartbeat must not make an agent offline) and at most 899 (the liveness check is an SQS message delayed by timeout + 1 seconds, and SQS delays at most 900)."
  }

  validation {
    condition = try(var.presence.events.source == null || alltrue([for s in [tostring(var.presence.events.source)] :
      can(regex("^[A-Za-z0-9._-]{1,256}$", s)) && !startswith(s, "aws.")
    ]), true)
    error_message = "presence.events.source must be 1-256 letters, digits, '.', '_' or '-', and must not start with \"aws.\" (EventBridge reserves it for AWS services)."
  }

  # Defaults copied from modules/settings: events.enabled true, create_bus true, bus_name null; enabled false.
  validation {
    condition = try(alltrue([for e in [merge({ create_bus = true, bus_name = null }, { for k, v in var.presence.events : k => v if v != null })] :
      !tobool(e.create_bus) || tostring(e.bus_name) == null
    ]), true)
    error_message = "presence.events.bus_name names an existing bus, so it is used only with presence.events.create_bus = false: with create_bus = true the module creates the bus \"<name>-agents\" (with the policy that lets only the announcer publish the module's source) and would ignore bus_name."
  }

  validation {
    condition = try(alltrue([for e in [merge(
      { presence_enabled = false, enabled = true, create_bus = true, bus_name = null },
      { presence_enabled = try(coalesce(var.presence.enabled), false) },
      try({ for k, v in var.presence.events : k => v if v != null }, {}),
      )] :
      !tobool(e.presence_enabled) || !tobool(e.enabled) || tobool(e.create_bus) || tostring(e.bus_name) != null
    ]), true)
    error_message = "presence.events.create_bus = false needs presence.events.bus_name (the name or ARN of an existing event bus): the announcer must know where to publish. Keep create_bus = true for a bus of the module's own, or set events.enabled = false to publish no events."
  }

  validation {
    condition = try(var.presence.events.bus_name == null || alltrue([for name in [tostring(var.presence.events.bus_name)] :
      can(regex("^([A-Za-z0-9/_.-]{1,256}|arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus/[A-Za-z0-9/_.-]{1,256})$", name))
    ]), true)
    error_message = "presence.events.bus_name must be an event bus name (such as \"default\") or an event bus ARN (arn:aws:events:<region>:<account>:event-bus/<name>)."
  }

  validation {
    condition = try(var.presence.probe_endpoint == null || alltrue([for url in [tostring(var.presence.probe_endpoint)] : length(url) <= 1024 && (
      can(regex("^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\\s?#]*)?$", url)) ||
      can(regex("^http://(127\\.0\\.0\\.1|localhost|\\[::1\\])(:[0-9]{1,5})?(/[^\\s?#]*)?$", url))
    )]), true)
    error_message = "presence.probe_endpoint must be an https URL of at most 1024 characters without query or fragment, such as https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod (the @connections API is served over TLS only). Plain http is accepted only on loopback (127.0.0.1, localhost, [::1]), for a local emulator of API Gateway such as the one make demo runs."
  }

  validation {
    condition = alltrue([
      try(alltrue([for p in [tonumber(var.presence.announcer.parallelization_factor)] : p >= 1 && p <= 10 && floor(p) == p]), true),
      try(alltrue([for r in [tonumber(var.presence.announcer.maximum_retry_attempts)] : r >= 0 && r <= 10000 && floor(r) == r]), true),
    ])
    error_message = "presence.announcer.parallelization_factor must be a whole number between 1 and 10 (Lambda's limit per stream shard), and presence.announcer.maximum_retry_attempts a whole number between 0 and 10000 (a finite number: an endlessly failing batch would block the agent's later events for up to 24 hours)."
  }
}
