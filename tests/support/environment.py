"""The process environment the function sees in tests: region, fake credentials, variables to clear.

Changes when the function reads a new environment variable (config.load(), claims.load(), identity.load()) or
botocore gains one that could redirect or reconfigure it.
"""

from __future__ import annotations

REGION = "eu-west-1"

# Every variable config.load(), claims.load() and identity.load() read, plus what would redirect or reconfigure
# botocore.
CONFIG_VARIABLES = (
    "CONNECTIONS_TABLE",
    "TTL_ATTRIBUTE",
    "CONNECTION_GRACE_SECONDS",
    "EVENT_BUS",
    "EVENT_SOURCE",
    "METRICS_NAMESPACE",
    "LOG_CLIENT_ADDRESS",
    "LOG_LEVEL",
    "SWEEP_PROBE_ENDPOINT",
    "SWEEP_PROBE_MIN_AGE_SECONDS",
    "SWEEP_PROBE_CONCURRENCY",
    "SWEEP_MAX_ITEMS",
    "SWEEP_SCAN_SEGMENTS",
    "PRESENCE_TABLE",
    "PRESENCE_QUEUE_URL",
    "PRESENCE_GRACE_SECONDS",
    "PRESENCE_PROBE_INTERVAL_SECONDS",
    "HEARTBEAT_TIMEOUT_SECONDS",
    "HEARTBEAT_INTERVAL_SECONDS",
    "PRESENCE_PROBE_ENDPOINT",
    "AGENT_INDEX_NAME",  # no longer read (agent_tracking was replaced by presence): cleared all the same
    "OFFLINE_EVENT_BUS",
    "OFFLINE_EVENT_SOURCE",
    "CONNECT_IDENTITY_SOURCE",
    "CONNECT_CLIENT_TYPE_KEY",
    "CONNECT_AGENT_ID_KEY",
    "CONNECT_IAM_AGENT_ROLES",
    "CONNECT_IAM_DASHBOARD_ROLES",
    "CONNECT_IAM_AGENT_ID_FROM",
    "CONNECT_AGENT_ID_PATTERN",
    "CONNECT_QUERY_STRING_IDENTITY",  # no longer read: cleared so that no test depends on it
)
AWS_VARIABLES_TO_CLEAR = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_EVENTBRIDGE",
    "AWS_ENDPOINT_URL_SQS",
    "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_RETRY_MODE",
    "AWS_MAX_ATTEMPTS",
    "AWS_LAMBDA_FUNCTION_NAME",
)
FAKE_AWS_ENV = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}
