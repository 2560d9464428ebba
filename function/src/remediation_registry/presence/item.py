"""The presence formats: the item (format 1: names, states, reasons, validation) and the queue's messages.

One item per agent in the presence table (partition key agentId):

  state      S   "online" | "offline"
  sequence   N   announced transitions so far: +1 per transition, first online = 1; only grows
  since      N   epoch ms: when the current state began (see docs/presence.md)
  reason     S   online: "connected"; offline: one of OFFLINE_REASONS
  connections SS live connection ids (absent when none: DynamoDB has no empty sets)
  pending    M   only while a grace window is open: {token S, deadline N, reason S, since N, event M}
  event      M   the last transition's event detail fields that are not item attributes (EVENT_FIELDS)
  updatedAt  N   epoch ms of the last write
  announced  N   highest sequence whose event the announcer published (its de-duplication mark)
  format     N   1

and the presence queue's messages (JSON, compact), sent with DelaySeconds (the checker reads them back
with liveness.parse):

  grace {"v":1,"kind":"grace","agentId":..,"token":..,"deadline":<ms>}
        sent by `$disconnect` when a grace window opens, delayed by the grace; the checker makes the
        offline transition if the window (token) is still open (T3)
  probe {"v":1,"kind":"probe","agentId":..,"connectionId":..,"connectedAt":<ms>,"lastSeenAt":<ms>}
        the first sent by `$connect`, each next by the checker before it acknowledges the current one;
        a chain per agent connection, ending when the connection is gone (its last message, when
        GetConnection found it gone while presence still listed it, adds "goneAt":<ms>)
"""

from __future__ import annotations

import json
from typing import Any, Dict, Mapping, Optional

AGENT_ID = "agentId"
STATE = "state"
SEQUENCE = "sequence"
SINCE = "since"
REASON = "reason"
CONNECTIONS = "connections"
PENDING = "pending"
EVENT = "event"
UPDATED_AT = "updatedAt"
ANNOUNCED = "announced"
FORMAT = "format"
TOKEN = "token"  # noqa: S105 - an attribute name
DEADLINE = "deadline"
FORMAT_VERSION = 1

ONLINE, OFFLINE = "online", "offline"
CONNECTED = "connected"
CLIENT_CLOSED = "client_closed"  # close 1000 / 1005
GOING_AWAY = "going_away"  # 1001: navigated away, API Gateway's idle timeout or 2-hour limit
CONNECTION_LOST = "connection_lost"  # 1006 or any other code
HEARTBEAT_TIMEOUT = "heartbeat_timeout"  # silent longer than the heartbeat timeout: closed by the checker
GONE = "gone"  # API Gateway no longer knows the connection: its `$disconnect` was lost
EXPIRED = "expired"  # older than API Gateway's 2-hour limit + grace
RECONCILED = "reconciled"  # found online without a live connection (a function failed between writes)
OFFLINE_REASONS = (CLIENT_CLOSED, GOING_AWAY, CONNECTION_LOST, HEARTBEAT_TIMEOUT, GONE, EXPIRED, RECONCILED)
ABNORMAL_REASONS = frozenset((CONNECTION_LOST, HEARTBEAT_TIMEOUT, GONE, EXPIRED, RECONCILED))


def close_reason(status_code: Optional[int]) -> str:
    """The offline reason a `$disconnect`'s close code stands for."""
    if status_code in (1000, 1005):
        return CLIENT_CLOSED
    return GOING_AWAY if status_code == 1001 else CONNECTION_LOST


def to_map(fields: Mapping[str, Any]) -> Dict[str, Any]:
    """Detail fields as a DynamoDB M value; None values are left out."""
    return {"M": {name: value for name, value in ((n, _value(v)) for n, v in fields.items()) if value is not None}}


def _value(value: Any) -> Optional[Dict[str, Any]]:
    if value is None:
        return None
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, float)):
        return {"N": repr(value)}
    return {"S": str(value)}


def integer(item: Mapping[str, Any], name: str) -> Optional[int]:
    """A whole N attribute as an int; None when absent, not N or not whole."""
    value = item.get(name)
    if isinstance(value, dict) and isinstance(value.get("N"), str) and value["N"].lstrip("-").isdigit():
        return int(value["N"])
    return None


MESSAGE_VERSION = 1
GRACE_KIND, PROBE_KIND = "grace", "probe"
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def encode_message(kind: str, agent_id: str, **fields: Any) -> str:
    """A message body: grace (token, deadline) or probe (connectionId, connectedAt, lastSeenAt)."""
    return _encode({"v": MESSAGE_VERSION, "kind": kind, "agentId": agent_id, **fields})
