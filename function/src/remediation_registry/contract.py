"""The connection item contract: the one place that says what a registry item holds.

Written by the `$connect` handler (or the user's own `$connect`), read by `$disconnect` and the sweeper:

  connectionId  S  partition key: API Gateway's requestContext.connectionId (never reused)
  clientType    S  "agent" | "dashboard"
  agentId       S  the agent's stable id (agents only; absent for a dashboard)
  connectedAt   N  epoch MILLISECONDS, exactly requestContext.connectedAt of the `$connect` event
  expiresAt     N  epoch SECONDS (the TTL attribute, name configurable):
                   connectedAt // 1000 + 7200 (API Gateway's connection limit) + grace seconds

Only connectionId is required of other writers; readers tolerate any optional attribute missing and
keep identities whole (only log lines shorten them). An item counts as an agent connection only if
clientType is exactly "agent" and agentId is non-empty: only such items keep an agent online, and only
their removal asks whether the agent went offline.

One item is not a connection: the sweeper's saved scan position (POSITION_KEY), which every reader skips.
Its key starts with RESERVED_PREFIX ("~"), which no connection id does: `$connect` and `$disconnect`
refuse such ids.
"""

from __future__ import annotations

from typing import Optional

# Attribute names.
CONNECTION_ID = "connectionId"
CLIENT_TYPE = "clientType"
AGENT_ID = "agentId"
CONNECTED_AT = "connectedAt"
DEFAULT_TTL_ATTRIBUTE = "expiresAt"

# clientType values.
AGENT = "agent"
DASHBOARD = "dashboard"
CLIENT_TYPES = (AGENT, DASHBOARD)

# API Gateway closes every WebSocket connection after at most two hours.
MAX_CONNECTION_SECONDS = 7200
# Longest agentId the `$connect` writer accepts (it refuses longer ones); readers keep any length whole.
MAX_IDENTITY_LENGTH = 256

# Keys starting with "~" are reserved for the registry's own items: no API Gateway connection id
# ("L0SM9cOFvHcCIhw=", base64 text) contains "~", so none can name a connection, and both routes refuse
# an event whose connectionId starts with it (400) rather than write or delete such an item.
RESERVED_PREFIX = "~"
# The sweeper's reserved item (sweep/position.py).
POSITION_KEY = "~remediation-sweeper/scan-position"


def expires_at(connected_at_ms: int, grace_seconds: int) -> int:
    """The TTL value (epoch seconds) of a connection that started at `connected_at_ms` (epoch ms)."""
    return connected_at_ms // 1000 + MAX_CONNECTION_SECONDS + grace_seconds


def is_agent_connection(client_type: Optional[str], agent_id: Optional[str]) -> bool:
    """The rule for what counts as an agent's connection (and so for agent status)."""
    return client_type == AGENT and bool(agent_id)
