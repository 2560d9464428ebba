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
    creates an aws_apigatewayv2_deployment, replaced (create_before_destroy) whenever the $disconnect
    route or its integration changes or any value in triggers changes (add the ids of the routes you
    manage elsewhere), and outputs deployment_id. Point your stage at it:
    aws_apigatewayv2_stage.<name>.deployment_id = module.<this>.deployment_id.
  EOT
  type = object({
    enabled     = optional(bool, false)
    description = optional(string, "Remediation WebSocket $disconnect route")
    triggers    = optional(map(string), {})
  })
  default  = {}
  nullable = false

  validation {
    condition     = length(var.deployment.description) <= 1024
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
  description = "Settings of the table the module creates: billing_mode PAY_PER_REQUEST (default) or PROVISIONED with read/write capacity, point-in-time recovery, and an optional customer-managed KMS key ARN (key ARNs only, never an alias: IAM matches keys by ARN; default: the AWS managed key aws/dynamodb). The presence table (presence.enabled) follows the same settings and is encrypted with the same key. With create_table = false only kms_key_arn is used for the connections table, and may be omitted: the roles are then granted the key the existing table reports (the presence table is then encrypted with that key too); when given, it must be that key."
  type = object({
    billing_mode           = optional(string, "PAY_PER_REQUEST")
    read_capacity          = optional(number, 5)
    write_capacity         = optional(number, 5)
    point_in_time_recovery = optional(bool, true)
    kms_key_arn            = optional(string)
  })
  default  = {}
  nullable = false

  validation {
    condition     = contains(["PAY_PER_REQUEST", "PROVISIONED"], var.table.billing_mode)
    error_message = "table.billing_mode must be \"PAY_PER_REQUEST\" or \"PROVISIONED\"."
  }

  validation {
    condition     = floor(var.table.read_capacity) == var.table.read_capacity && floor(var.table.write_capacity) == var.table.write_capacity && var.table.read_capacity >= 1 && var.table.write_capacity >= 1
    error_message = "table.read_capacity and table.write_capacity must be whole numbers >= 1."
  }

  validation {
    condition     = var.table.kms_key_arn == null || !can(regex(":alias/", coalesce(var.table.kms_key_arn, "-")))
    error_message = "table.kms_key_arn must be the key's ARN, not an alias ARN: IAM matches kms:Decrypt against key ARNs only, so with an alias every table call of the functions would be denied. Use arn:aws:kms:<region>:<account>:key/<key id> (aws kms describe-key --key-id alias/<name> shows it)."
  }

  validation {
    condition     = var.table.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]{1,128}$", coalesce(var.table.kms_key_arn, "-")))
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
# Functions (the $disconnect handler; runtime, tracing, logs and role settings also apply to the sweeper
# and the $connect writer)
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

variable "memory_size" {
  description = "Memory (MB) of the $disconnect function. It does one DynamoDB write: 128 MB is enough and the cheapest."
  type        = number
  default     = 128

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be a whole number of MB between 128 and 10240."
  }
}

variable "timeout" {
  description = "Timeout (seconds) of the $disconnect function. The DynamoDB client gives up after 3 attempts of at most 3 s each, so 10 s lets it log its own error."
  type        = number
  default     = 10

  validation {
    condition     = var.timeout >= 3 && var.timeout <= 900 && floor(var.timeout) == var.timeout
    error_message = "timeout must be a whole number of seconds between 3 and 900."
  }
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency of the $disconnect function; -1 (default) leaves it unreserved. Reserving protects disconnect processing from other functions in the account."
  type        = number
  default     = -1

  validation {
    condition     = (var.reserved_concurrent_executions == -1 || var.reserved_concurrent_executions >= 1) && floor(var.reserved_concurrent_executions) == var.reserved_concurrent_executions
    error_message = "reserved_concurrent_executions must be -1 (unreserved) or a whole number >= 1. 0 would throttle every invocation: no disconnect would ever be processed and every connection would stay in the table until the sweeper removes it."
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
    The sweeper removes connections whose $disconnect never arrived (API Gateway delivers it only
    best-effort). Every rate_minutes it scans the table and deletes items past their TTL or older
    than 2 hours + connection_grace_seconds; with probe_connections it also asks the API's
    @connections endpoint about items older than probe_min_age_seconds and deletes those reported
    gone (requires stage_name). max_items_per_run and the function timeout bound each run; each run
    continues the pass where the previous one stopped (a saved position), so every item is examined
    at least once every ceil(items / max_items_per_run) runs. scan_segments > 1 scans a pass's
    segments concurrently within a run.
    probe_endpoint overrides the @connections URL (default `https://<api>.execute-api.<region>.<dns suffix>/<stage>`).
  EOT
  type = object({
    enabled                        = optional(bool, true)
    rate_minutes                   = optional(number, 5)
    probe_connections              = optional(bool, false)
    probe_min_age_seconds          = optional(number, 600)
    probe_concurrency              = optional(number, 8)
    probe_endpoint                 = optional(string)
    max_items_per_run              = optional(number, 100000)
    scan_segments                  = optional(number, 1)
    memory_size                    = optional(number, 256)
    timeout                        = optional(number, 120)
    reserved_concurrent_executions = optional(number, -1)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.sweeper.rate_minutes >= 1 && var.sweeper.rate_minutes <= 1440 && floor(var.sweeper.rate_minutes) == var.sweeper.rate_minutes
    error_message = "sweeper.rate_minutes must be a whole number of minutes between 1 and 1440."
  }

  validation {
    condition     = var.sweeper.probe_min_age_seconds >= 0 && var.sweeper.probe_min_age_seconds <= 7200 && var.sweeper.probe_concurrency >= 1 && var.sweeper.probe_concurrency <= 64
    error_message = "sweeper.probe_min_age_seconds must be between 0 and 7200, and sweeper.probe_concurrency between 1 and 64."
  }

  validation {
    condition = var.sweeper.probe_endpoint == null || (length(coalesce(var.sweeper.probe_endpoint, "-")) <= 1024 && (
      can(regex("^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\\s?#]*)?$", coalesce(var.sweeper.probe_endpoint, "-"))) ||
      can(regex("^http://(127\\.0\\.0\\.1|localhost|\\[::1\\])(:[0-9]{1,5})?(/[^\\s?#]*)?$", coalesce(var.sweeper.probe_endpoint, "-")))
    ))
    error_message = "sweeper.probe_endpoint must be an https URL of at most 1024 characters without query or fragment, such as https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod (the @connections API is served over TLS only; the URL goes into the sweeper's environment, which Lambda limits to 4 KB in total). Plain http is accepted only on loopback (127.0.0.1, localhost, [::1]), for a local emulator of API Gateway such as the one make demo runs."
  }

  validation {
    condition     = var.sweeper.max_items_per_run >= 100 && var.sweeper.max_items_per_run <= 10000000 && var.sweeper.scan_segments >= 1 && var.sweeper.scan_segments <= 1000 && floor(var.sweeper.scan_segments) == var.sweeper.scan_segments
    error_message = "sweeper.max_items_per_run must be between 100 and 10000000, and sweeper.scan_segments a whole number between 1 and 1000."
  }

  validation {
    condition     = var.sweeper.memory_size >= 128 && var.sweeper.memory_size <= 10240 && var.sweeper.timeout >= 10 && var.sweeper.timeout <= 900 && var.sweeper.timeout < var.sweeper.rate_minutes * 60
    error_message = "sweeper.memory_size must be 128-10240 MB, and sweeper.timeout 10-900 seconds and shorter than the schedule's period (rate_minutes * 60) so runs do not pile up."
  }

  validation {
    condition     = (var.sweeper.reserved_concurrent_executions == -1 || var.sweeper.reserved_concurrent_executions >= 1) && floor(var.sweeper.reserved_concurrent_executions) == var.sweeper.reserved_concurrent_executions
    error_message = "sweeper.reserved_concurrent_executions must be -1 (unreserved) or a whole number >= 1. 0 would throttle every scheduled run: stale connections would never be removed (disable the sweeper with sweeper.enabled = false instead)."
  }
}

################################################################################
# Monitoring
################################################################################

variable "metrics_namespace" {
  description = "CloudWatch namespace of the functions' metrics (Embedded Metric Format, no PutMetricData calls). Use one namespace per deployment of the module to keep their metrics apart."
  type        = string
  default     = "Remediation/WebSocket"

  validation {
    condition     = can(regex("^[A-Za-z0-9 ._/#:-]{1,255}$", var.metrics_namespace)) && !startswith(var.metrics_namespace, "AWS/")
    error_message = "metrics_namespace must be 1-255 letters, digits, spaces or . _ / # : - and must not start with \"AWS/\"."
  }
}

variable "alarms" {
  description = "CloudWatch alarms: Errors and Throttles of the $disconnect function (and of the $connect writer when enabled), Errors of the sweeper; with presence, Errors of the checker and the announcer, the announcer's IteratorAge (events more than a minute late) and messages in the presence dead-letter queue. alarm_actions / ok_actions are SNS topic ARNs (or other alarm action ARNs); an alarm fires when the sum over `period` seconds reaches `threshold` in `evaluation_periods` consecutive periods."
  type = object({
    enabled            = optional(bool, true)
    alarm_actions      = optional(list(string), [])
    ok_actions         = optional(list(string), [])
    period             = optional(number, 300)
    evaluation_periods = optional(number, 1)
    threshold          = optional(number, 1)
  })
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for arn in concat(var.alarms.alarm_actions, var.alarms.ok_actions) : can(regex("^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:[0-9]{0,12}:.+$", arn))])
    error_message = "alarms.alarm_actions and alarms.ok_actions must contain ARNs (e.g. arn:aws:sns:<region>:<account>:<topic>)."
  }

  validation {
    condition     = var.alarms.period >= 60 && var.alarms.period % 60 == 0 && var.alarms.period <= 86400
    error_message = "alarms.period must be a multiple of 60 seconds between 60 and 86400: AWS/Lambda publishes Errors and Throttles once a minute, so a 10 or 30 second alarm would stay INSUFFICIENT_DATA and never fire."
  }

  validation {
    condition     = var.alarms.period * var.alarms.evaluation_periods <= (var.alarms.period < 3600 ? 86400 : 604800)
    error_message = "alarms.period * alarms.evaluation_periods must be at most 86400 seconds (one day) for periods under an hour, and at most 604800 (seven days) otherwise: CloudWatch refuses longer evaluation ranges (PutMetricAlarm)."
  }

  validation {
    condition     = var.alarms.evaluation_periods >= 1 && floor(var.alarms.evaluation_periods) == var.alarms.evaluation_periods && var.alarms.threshold >= 1
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
    Optional $connect route whose function writes the connection item the other functions rely on
    (see README, "The connection item contract"). Off by default: keep it off if your API already has
    a $connect that writes that item (presence then cannot be used). identity says where the client's
    identity (clientType "agent" | "dashboard", and agentId for agents) comes from, exactly one source:
    - "authorizer" (default): your REQUEST authorizer (authorizer_id, attached to the route as CUSTOM)
      returns them in its context under client_type_key / agent_id_key; nothing else is read.
    - "iam": the route is AWS_IAM-authorized (clients SigV4-sign the handshake); a caller whose role is in
      iam.agent_role_arns is an agent, in iam.dashboard_role_arns the Dashboard, anything else is
      refused. The agent id is the assumed-role session name (iam.agent_id_from = "session_name"), the
      role name ("role_name") or the IAM user name ("user_name"). Give agent roles the policy in the
      output agent_policy_json (needs stage_name).
    - "query_string_insecure": ?clientType=...&agentId=... from the URL, no authorization at all: ANYONE
      CAN CLAIM ANY AGENT ID. Demo stacks only; every plan warns.
    agent_id_pattern: optional regular expression every agent id must match in full, checked by the
    function with Python's `re.fullmatch` (besides the built-in rule: 1-256 printable characters, NFC,
    no surrounding whitespace); the plan checks that Terraform can compile it, so write it in the
    syntax both understand (no look-arounds or back-references), e.g. "agent-[0-9]{1,6}".
    A connection without usable identity is refused (HTTP 403 to the handshake) and nothing is written.
  EOT
  type = object({
    enabled       = optional(bool, false)
    identity      = optional(string, "authorizer")
    authorizer_id = optional(string)
    iam = optional(object({
      agent_role_arns     = optional(list(string), [])
      dashboard_role_arns = optional(list(string), [])
      agent_id_from       = optional(string, "session_name")
    }), {})
    agent_id_pattern               = optional(string)
    client_type_key                = optional(string, "clientType")
    agent_id_key                   = optional(string, "agentId")
    memory_size                    = optional(number, 128)
    timeout                        = optional(number, 10)
    reserved_concurrent_executions = optional(number, -1)
  })
  default  = {}
  nullable = false

  validation {
    condition     = contains(["authorizer", "iam", "query_string_insecure"], var.connect.identity)
    error_message = "connect.identity must be \"authorizer\" (a REQUEST authorizer's context), \"iam\" (AWS_IAM on the route, identity from the caller's role) or \"query_string_insecure\" (demo stacks only: the query string, spoofable by anyone)."
  }

  validation {
    condition     = var.connect.authorizer_id == null || can(regex("^[a-z0-9]{1,32}$", coalesce(var.connect.authorizer_id, "-")))
    error_message = "connect.authorizer_id must be an API Gateway authorizer id: lowercase letters and digits, such as \"abc123\" (not its name or ARN)."
  }

  validation {
    condition     = !var.connect.enabled || var.connect.identity != "authorizer" || var.connect.authorizer_id != null
    error_message = "connect.identity = \"authorizer\" (the default) needs connect.authorizer_id, the REQUEST authorizer that returns clientType/agentId in its context: without it the route would have no authorizer and every connection would be refused. Or choose identity = \"iam\" (SigV4-signed handshakes), or \"query_string_insecure\" for demo stacks (it replaces allow_query_string_identity = true)."
  }

  validation {
    condition     = var.connect.authorizer_id == null || var.connect.identity == "authorizer"
    error_message = "connect.authorizer_id is used only with connect.identity = \"authorizer\": with \"iam\" the route is AWS_IAM-authorized (a route has one authorization type), and with \"query_string_insecure\" the authorizer's context would never be read. Remove authorizer_id or set identity = \"authorizer\"."
  }

  validation {
    condition     = length(var.connect.iam.agent_role_arns) + length(var.connect.iam.dashboard_role_arns) == 0 || var.connect.identity == "iam"
    error_message = "connect.iam (agent_role_arns, dashboard_role_arns) is used only with connect.identity = \"iam\": with any other identity source the role lists would be ignored."
  }

  validation {
    condition     = !var.connect.enabled || var.connect.identity != "iam" || length(var.connect.iam.agent_role_arns) + length(var.connect.iam.dashboard_role_arns) > 0
    error_message = "connect.identity = \"iam\" needs at least one role in connect.iam.agent_role_arns or connect.iam.dashboard_role_arns: a signed caller whose role is in neither list is refused, so with both empty every connection would be."
  }

  validation {
    condition = alltrue([for arn in concat(var.connect.iam.agent_role_arns, var.connect.iam.dashboard_role_arns) :
      can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/([A-Za-z0-9+=.@_-]+/)*[A-Za-z0-9+=.@_-]{1,64}$", arn))
    ])
    error_message = "connect.iam.agent_role_arns and connect.iam.dashboard_role_arns must hold IAM role ARNs, arn:aws:iam::<account>:role/<path/><name>, not assumed-role session ARNs (arn:aws:sts::...), and without ',' (the lists reach the function comma-separated)."
  }

  validation {
    condition     = length(setintersection(var.connect.iam.agent_role_arns, var.connect.iam.dashboard_role_arns)) == 0
    error_message = "connect.iam: a role cannot be in both agent_role_arns and dashboard_role_arns: its callers would be both an agent and the Dashboard."
  }

  validation {
    condition     = length(join(",", var.connect.iam.agent_role_arns)) + length(join(",", var.connect.iam.dashboard_role_arns)) <= 2048
    error_message = "connect.iam.agent_role_arns and dashboard_role_arns together must fit in 2048 characters (comma-separated): they go into the $connect function's environment, which Lambda limits to 4 KB in total. Use fewer roles (one role per fleet, the agent id from the session name)."
  }

  validation {
    condition     = contains(["session_name", "role_name", "user_name"], var.connect.iam.agent_id_from)
    error_message = "connect.iam.agent_id_from must be \"session_name\" (the assumed-role session name: one role for all agents, each assuming it with its id as session name), \"role_name\" (one role per agent) or \"user_name\" (IAM users)."
  }

  validation {
    condition     = var.connect.agent_id_pattern == null || try(length(var.connect.agent_id_pattern) >= 1 && length(var.connect.agent_id_pattern) <= 512 && can(regexall(var.connect.agent_id_pattern, "")), false)
    error_message = "connect.agent_id_pattern must be a regular expression Terraform can compile (RE2 syntax: no look-arounds or back-references; the function applies it with Python's re.fullmatch, so use what both understand), of 1-512 characters (it goes into the function's environment)."
  }

  validation {
    condition     = alltrue([for key in [var.connect.client_type_key, var.connect.agent_id_key] : can(regex("^[A-Za-z0-9_.:-]{1,128}$", key))]) && var.connect.client_type_key != var.connect.agent_id_key
    error_message = "connect.client_type_key and connect.agent_id_key must be two different authorizer context keys of 1-128 letters, digits, '_', '.', ':' or '-'."
  }

  validation {
    condition     = var.connect.memory_size >= 128 && var.connect.memory_size <= 10240 && floor(var.connect.memory_size) == var.connect.memory_size && var.connect.timeout >= 3 && var.connect.timeout <= 29 && floor(var.connect.timeout) == var.connect.timeout
    error_message = "connect.memory_size must be a whole number of MB between 128 and 10240, and connect.timeout a whole number of seconds between 3 and 29 (API Gateway's integration timeout)."
  }

  validation {
    condition     = (var.connect.reserved_concurrent_executions == -1 || var.connect.reserved_concurrent_executions >= 1) && floor(var.connect.reserved_concurrent_executions) == var.connect.reserved_concurrent_executions
    error_message = "connect.reserved_concurrent_executions must be -1 (unreserved) or a whole number >= 1. 0 would throttle every $connect: API Gateway would refuse every handshake and no agent could connect."
  }
}

################################################################################
# Agent presence (needs the $connect writer: connect.enabled)
################################################################################

variable "presence" {
  description = <<-EOT
    Agent presence: one item per agent in a presence table (`<name>-presence`, or table_name), whose
    every online <-> offline transition is one conditional write and is announced once, in order, on
    EventBridge (detail-types "Remediation Agent Online" / "Remediation Agent Offline", source
    events.source) by the announcer `<name>-events` reading the table's stream. Requires
    connect.enabled (the $connect writer brings agents online) and stage_name (liveness probes call the
    stage's @connections endpoint). See README, "Agent presence".
    grace_seconds: the agent's last connection closing opens a grace window; the offline transition
    happens only if no connection of the agent arrives within it (0 = at once). A checker `<name>-presence`
    resolves the windows and probes every agent connection through a chain of delayed SQS messages
    (GetConnection every probe_interval_seconds when heartbeats are off), and reconciles the table every
    reconcile_minutes.
    heartbeat: a `route_key` route with a MOCK integration (no Lambda invoked, no reply; each heartbeat is
    one billed WebSocket message). Agents send {"action": "<route_key>"} (with a route selection
    expression of $request.body.action) every interval_seconds; a connection silent for longer than
    timeout_seconds (>= 2 x interval) is closed and its agent announced offline (reason heartbeat_timeout).
    events: create_bus creates the bus `<name>-agents` whose resource policy denies events:PutEvents with
    source events.source to every principal but the announcer's role, so a consumer can trust who
    published; with create_bus = false set bus_name (an existing bus name or ARN; "default" works but
    anyone in the account allowed events:PutEvents could then publish look-alike events).
    probe_endpoint overrides the @connections URL the checker calls (default
    `https://<api>.execute-api.<region>.<dns suffix>/<stage>`; plain http on loopback only, for a local emulator).
    checker / announcer: memory (MB), timeout (seconds) and reserved concurrency of the two functions;
    the queue's visibility timeout is 6 x checker.timeout. announcer.parallelization_factor (1-10)
    batches per stream shard processed at once (records of one agent stay in order);
    announcer.maximum_retry_attempts bounds the retries of a failing batch (bisected on error) before it
    goes to the dead-letter queue `<name>-presence-dlq`.
  EOT
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
    checker = optional(object({
      memory_size                    = optional(number, 128)
      timeout                        = optional(number, 30)
      reserved_concurrent_executions = optional(number, -1)
    }), {})
    announcer = optional(object({
      memory_size                    = optional(number, 128)
      timeout                        = optional(number, 30)
      reserved_concurrent_executions = optional(number, -1)
      parallelization_factor         = optional(number, 1)
      maximum_retry_attempts         = optional(number, 10)
    }), {})
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.presence.table_name == null || can(regex("^[A-Za-z0-9_.-]{3,255}$", coalesce(var.presence.table_name, "-")))
    error_message = "presence.table_name must be 3-255 letters, digits, '_', '-' or '.' (a DynamoDB table name, not an ARN); omit it for \"<name>-presence\"."
  }

  validation {
    condition     = var.presence.grace_seconds >= 0 && var.presence.grace_seconds <= 900 && floor(var.presence.grace_seconds) == var.presence.grace_seconds
    error_message = "presence.grace_seconds must be a whole number of seconds between 0 and 900: the grace window is one delayed SQS message, and SQS delays a message by at most 900 seconds (0 announces an agent offline as soon as its last connection closes)."
  }

  validation {
    condition     = var.presence.probe_interval_seconds >= 30 && var.presence.probe_interval_seconds <= 900 && floor(var.presence.probe_interval_seconds) == var.presence.probe_interval_seconds
    error_message = "presence.probe_interval_seconds must be a whole number of seconds between 30 and 900: each probe is a delayed SQS message (at most 900 s), and probing a connection more often than every 30 s costs a GetConnection call and a checker invocation per connection for little gain (turn on heartbeats for faster detection)."
  }

  validation {
    condition     = var.presence.reconcile_minutes >= 1 && var.presence.reconcile_minutes <= 60 && floor(var.presence.reconcile_minutes) == var.presence.reconcile_minutes
    error_message = "presence.reconcile_minutes must be a whole number of minutes between 1 and 60: EventBridge schedules run at most once a minute, and a lost grace message or a function that failed between two writes is repaired only by the reconciler, so it should run at least hourly."
  }

  validation {
    condition     = can(regex("^[^$\\s][^\\s]{0,127}$", var.presence.heartbeat.route_key))
    error_message = "presence.heartbeat.route_key must be 1-128 characters without whitespace and must not start with '$' ($connect, $disconnect and $default are API Gateway's own routes), such as \"heartbeat\"."
  }

  validation {
    condition     = var.presence.heartbeat.interval_seconds >= 1 && var.presence.heartbeat.interval_seconds <= 300 && floor(var.presence.heartbeat.interval_seconds) == var.presence.heartbeat.interval_seconds
    error_message = "presence.heartbeat.interval_seconds must be a whole number of seconds between 1 and 300 (API Gateway closes a connection idle for 10 minutes, and heartbeats are what keeps it open)."
  }

  validation {
    condition     = var.presence.heartbeat.timeout_seconds >= 2 * var.presence.heartbeat.interval_seconds && var.presence.heartbeat.timeout_seconds <= 899 && floor(var.presence.heartbeat.timeout_seconds) == var.presence.heartbeat.timeout_seconds
    error_message = "presence.heartbeat.timeout_seconds must be a whole number of seconds, at least 2 x presence.heartbeat.interval_seconds (one late or lost heartbeat must not make an agent offline) and at most 899 (the liveness check is an SQS message delayed by timeout + 1 seconds, and SQS delays at most 900)."
  }

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{1,256}$", var.presence.events.source)) && !startswith(var.presence.events.source, "aws.")
    error_message = "presence.events.source must be 1-256 letters, digits, '.', '_' or '-', and must not start with \"aws.\" (EventBridge reserves it for AWS services)."
  }

  validation {
    condition     = !var.presence.events.create_bus || var.presence.events.bus_name == null
    error_message = "presence.events.bus_name names an existing bus, so it is used only with presence.events.create_bus = false: with create_bus = true the module creates the bus \"<name>-agents\" (with the policy that lets only the announcer publish the module's source) and would ignore bus_name."
  }

  validation {
    condition     = !var.presence.enabled || !var.presence.events.enabled || var.presence.events.create_bus || var.presence.events.bus_name != null
    error_message = "presence.events.create_bus = false needs presence.events.bus_name (the name or ARN of an existing event bus): the announcer must know where to publish. Keep create_bus = true for a bus of the module's own, or set events.enabled = false to publish no events."
  }

  validation {
    condition     = var.presence.events.bus_name == null || can(regex("^([A-Za-z0-9/_.-]{1,256}|arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus/[A-Za-z0-9/_.-]{1,256})$", coalesce(var.presence.events.bus_name, "-")))
    error_message = "presence.events.bus_name must be an event bus name (such as \"default\") or an event bus ARN (arn:aws:events:<region>:<account>:event-bus/<name>)."
  }

  validation {
    condition = var.presence.probe_endpoint == null || (length(coalesce(var.presence.probe_endpoint, "-")) <= 1024 && (
      can(regex("^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\\s?#]*)?$", coalesce(var.presence.probe_endpoint, "-"))) ||
      can(regex("^http://(127\\.0\\.0\\.1|localhost|\\[::1\\])(:[0-9]{1,5})?(/[^\\s?#]*)?$", coalesce(var.presence.probe_endpoint, "-")))
    ))
    error_message = "presence.probe_endpoint must be an https URL of at most 1024 characters without query or fragment, such as https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod (the @connections API is served over TLS only). Plain http is accepted only on loopback (127.0.0.1, localhost, [::1]), for a local emulator of API Gateway such as the one make demo runs."
  }

  validation {
    condition = alltrue([for fn in [var.presence.checker, var.presence.announcer] :
      fn.memory_size >= 128 && fn.memory_size <= 10240 && floor(fn.memory_size) == fn.memory_size &&
      fn.timeout >= 3 && fn.timeout <= 900 && floor(fn.timeout) == fn.timeout
    ])
    error_message = "presence.checker and presence.announcer: memory_size must be a whole number of MB between 128 and 10240, and timeout a whole number of seconds between 3 and 900."
  }

  validation {
    condition = alltrue([for fn in [var.presence.checker, var.presence.announcer] :
      (fn.reserved_concurrent_executions == -1 || fn.reserved_concurrent_executions >= 1) && floor(fn.reserved_concurrent_executions) == fn.reserved_concurrent_executions
    ])
    error_message = "presence.checker.reserved_concurrent_executions and presence.announcer.reserved_concurrent_executions must be -1 (unreserved) or a whole number >= 1. 0 would throttle every invocation: no grace window would close, no probe run and no event be published (turn presence off with presence.enabled = false instead)."
  }

  validation {
    condition = (
      var.presence.announcer.parallelization_factor >= 1 && var.presence.announcer.parallelization_factor <= 10 && floor(var.presence.announcer.parallelization_factor) == var.presence.announcer.parallelization_factor &&
      var.presence.announcer.maximum_retry_attempts >= 0 && var.presence.announcer.maximum_retry_attempts <= 10000 && floor(var.presence.announcer.maximum_retry_attempts) == var.presence.announcer.maximum_retry_attempts
    )
    error_message = "presence.announcer.parallelization_factor must be a whole number between 1 and 10 (Lambda's limit per stream shard), and presence.announcer.maximum_retry_attempts a whole number between 0 and 10000 (a finite number: an endlessly failing batch would block the agent's later events for up to 24 hours)."
  }
}
