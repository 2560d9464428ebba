"""The reconciler tick (the checker, on its schedule): repair what a lost message or a failed write left.

One paginated Scan of the presence table; per agent:
  invalid item                                   repaired (transitions.py), `presence item invalid`
  grace window past its deadline by over 60 s    T3 with its token (the grace message was lost)
  online, no connection, no window, idle > 60 s  offline, reason "reconciled" (a function failed
                                                 between two writes)
  online, connections, idle > 2 h + grace        every listed connection is past API Gateway's 2-hour
                                                 limit (each `$connect` writes the item): T4 expired
Then the census: `presence census` with the gauges AgentsOnline, AgentConnectionsOpen, AgentsPendingOffline
(only when the scan completed within the time budget).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, List

from botocore.exceptions import BotoCoreError, ClientError

from .. import contract
from ..store import for_log
from ..telemetry import MetricGroup
from . import hooks
from .item import DEADLINE, EXPIRED, ONLINE, RECONCILED, TOKEN, integer
from .store import Outcome
from .transitions import Contended, view
from .valid import problem

if TYPE_CHECKING:
    from .track import Presence

OVERDUE_MS = 60_000
RESERVE_MS = 3000


class Census:
    def __init__(self) -> None:
        self.agents = 0
        self.online = 0
        self.connections = 0
        self.pending = 0
        self.repaired: Dict[str, int] = {}  # what was done, by kind
        self.errors = 0
        self.complete = False

    def count(self, what: str) -> None:
        self.repaired[what] = self.repaired.get(what, 0) + 1


def tick(presence: Presence, remaining_ms: Callable[[], int]) -> Dict[str, Any]:
    """Scan, repair and count; log the census (with its gauges when the scan completed)."""
    census = Census()
    now = presence.clock()
    client: Any = presence.store.client
    request: Dict[str, Any] = {"TableName": presence.settings.table_name, "ConsistentRead": True}
    while remaining_ms() > RESERVE_MS:
        page = client.scan(**request)
        for item in page.get("Items", []):
            _reconcile(presence, item, now, census)
        if not page.get("LastEvaluatedKey"):
            census.complete = True
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    fields = {
        "agents": census.agents,
        "online": census.online,
        "connections": census.connections,
        "pendingOffline": census.pending,
        "actions": census.repaired,
        "errors": census.errors,
        "complete": census.complete,
    }
    gauges: List[MetricGroup] = []
    if census.complete:
        counts = [("AgentsOnline", census.online), ("AgentConnectionsOpen", census.connections)]
        counts.append(("AgentsPendingOffline", census.pending))
        gauges.append(MetricGroup({}, [(name, "Count", float(value)) for name, value in counts]))
    presence.telemetry.log("INFO" if census.complete else "WARNING", "presence census", fields, gauges)
    return fields


def _reconcile(presence: Presence, item: Dict[str, Any], now: int, census: Census) -> None:
    agent_id = str(item.get("agentId", {}).get("S", ""))
    if not agent_id:
        return
    census.agents += 1
    store = hooks.store(presence)
    try:
        if problem(item) is not None:
            _done(presence, agent_id, None, store.repair(agent_id, item), census, "repaired")
            return
        found = view(item)
        idle = now - (found.updated_at or 0)
        online = found.state == ONLINE
        census.online += online
        census.connections += len(found.connections)
        if found.pending is not None:
            census.pending += 1
            if (integer(found.pending, DEADLINE) or 0) < now - OVERDUE_MS:
                outcome = store.grace_expired(agent_id, str(found.pending[TOKEN]["S"]))
                _done(presence, agent_id, None, outcome, census, "graceResolved")
        elif online and not found.connections and idle > OVERDUE_MS:
            since = found.updated_at or now
            detail: Dict[str, Any] = {"abnormal": True, "detectedAt": now}
            outcome = store.offline_if_empty(agent_id, RECONCILED, since, detail, found.updated_at)
            _done(presence, agent_id, None, outcome, census, "reconciled")
        elif online and idle > (contract.MAX_CONNECTION_SECONDS + presence.rt.settings.grace_seconds) * 1000:
            for connection_id in sorted(found.connections):
                detail = {"abnormal": True, "connectionId": connection_id, "detectedAt": now}
                outcome = store.dead(agent_id, connection_id, EXPIRED, found.updated_at or now, detail)
                _done(presence, agent_id, connection_id, outcome, census, "expired")
    except (ClientError, BotoCoreError, Contended) as exc:
        census.errors += 1
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else type(exc).__name__
        fields: Dict[str, Any] = {"agentId": for_log(agent_id), "errorCode": code, "step": "reconcile"}
        presence.telemetry.log(
            "ERROR", "agent presence not recorded", fields, [MetricGroup({}, [("PresenceErrors", "Count", 1)])]
        )


def _done(presence: Presence, agent_id: str, connection_id: Any, outcome: Outcome, census: Census, what: str) -> None:
    hooks.report(presence, agent_id, connection_id, outcome)
    census.count(what if outcome.sequence is not None else f"{what}Superseded")
