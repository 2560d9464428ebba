"""One open connection of the local gateway (scripts/ws_gateway.py): its clocks and its counters; the
gateway's records.

- LastActiveAt (what GetConnection returns): the last message the client sent, else the connect time.
  AWS's own chat-app tutorial shows a client message moving it; what else does is not documented
  (/work/notes/aws-facts.md section 2), so only client messages do here (a Gateway option adds
  PostToConnection).
- The idle timeout counts from the last message in either direction: "if no message is sent on the
  socket for 10 minutes (direction agnostic) API Gateway will close it" (users' reports, section 3).
  Ping/pong control frames count for neither (API Gateway sends none; pings do not keep a connection).
- Close codes of `$disconnect` (disconnectStatusCode / disconnectReason): the client's close frame;
  1005 "Client-side close frame status not set" for a close frame without a code; 1006 when the TCP
  connection was cut; 1001 "Going away" when the gateway closed it (idle timeout, lifetime limit);
  1000 "Connection Closed Normally" after a DeleteConnection; 1009 for a message over 128 KB (observed
  values, /work/notes/aws-facts.md sections 2 and 3).
- Counters, for cost accounting: messages received from and sent to the client, also in billed units
  (WebSocket messages are "metered in 32 KB increments", API Gateway pricing), and Lambda invocations
  per route key (MOCK routes invoke nothing). They outlive the connection.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Dict, NamedTuple, Optional, Tuple

from scripts.ws_events import ConnectionInfo

BILLING_UNIT_BYTES = 32 * 1024
CLOSE_REASONS = {1005: "Client-side close frame status not set"}  # observed in $disconnect events


class Record(NamedTuple):
    """What the gateway did with one event: an invocation, a MOCK answer, a refusal, a dropped `$disconnect`."""

    route_key: str
    connection_id: str
    status: Optional[int]  # HTTP status derived from the answer; None when the event was not delivered
    note: str  # "delivered", "dropped", "held", "mock", "refused: <why>"
    invocation: Any
    event: Dict[str, Any]


def billed(size: int) -> int:
    """Billed messages for one message of `size` bytes (a 33 KB message counts as 2)."""
    return max(1, -(-size // BILLING_UNIT_BYTES))


@dataclass
class ConnectionStats:
    received: int = 0  # data frames from the client
    received_billed: int = 0
    sent: int = 0  # frames to the client: PostToConnection, route replies, error frames
    sent_billed: int = 0
    invocations: Dict[str, int] = field(default_factory=dict)  # route key -> Lambda invocations


class Live:
    def __init__(self, info: ConnectionInfo, ws: Any, stats: ConnectionStats) -> None:
        self.info = info
        self.ws = ws
        self.stats = stats
        self.started = time.monotonic()
        self.last_traffic = self.started  # idle timeout: either direction
        self.last_active_epoch = info.connected_at_ms / 1000  # LastActiveAt: client messages
        self.closing: Optional[Tuple[int, str]] = None  # (code, reason) when the gateway closes it

    def received(self, size: int) -> None:
        self.last_traffic = time.monotonic()
        self.last_active_epoch = time.time()
        self.stats.received += 1
        self.stats.received_billed += billed(size)

    def sent(self, size: int) -> None:
        self.last_traffic = time.monotonic()
        self.stats.sent += 1
        self.stats.sent_billed += billed(size)


def invocation_totals(stats: Dict[str, ConnectionStats]) -> Dict[str, int]:
    """Lambda invocations per route key over all connections."""
    totals: Dict[str, int] = {}
    for one in stats.values():
        for route_key, count in one.invocations.items():
            totals[route_key] = totals.get(route_key, 0) + count
    return totals
