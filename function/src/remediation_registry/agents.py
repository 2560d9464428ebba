"""Agent status: decide when an agent has no live connection left, and announce it on EventBridge.

Connections are keyed by connectionId, which API Gateway never reuses, so deleting one is race-free.
Agent status is keyed by agentId and is not: an agent may reconnect (new connectionId) before the old
connection's late `$disconnect` arrives. So "offline" is decided from the table, not from the event:
an agent is offline only when the agentId index shows no other unexpired connection for it.
"""

from __future__ import annotations

import json
import time
from typing import Any, Collection, Dict, List, Optional, Protocol, Sequence, Tuple

from botocore.exceptions import BotoCoreError, ClientError

from .store import ConnectionStore

DETAIL_TYPE = "Remediation Agent Offline"
PUT_EVENTS_BATCH = 10  # PutEvents' limit


class OfflineNotice:
    """One agent gone offline (a plain class: a NamedTuple costs ~1 M instructions at every cold start)."""

    def __init__(
        self,
        agent_id: str,
        connection_id: str,
        reason: str,  # "disconnect" | "expired" | "gone"
        status_code: Optional[int],
        connected_at_ms: Optional[int],
        duration_seconds: Optional[float],
        abnormal: bool,
        api_id: Optional[str],
        stage: Optional[str],
    ) -> None:
        self.agent_id = agent_id
        self.connection_id = connection_id
        self.reason = reason
        self.status_code = status_code
        self.connected_at_ms = connected_at_ms
        self.duration_seconds = duration_seconds
        self.abnormal = abnormal
        self.api_id = api_id
        self.stage = stage

    def detail(self, detected_at_ms: int) -> Dict[str, Any]:
        return {
            "agentId": self.agent_id,
            "connectionId": self.connection_id,
            "reason": self.reason,
            "disconnectStatusCode": self.status_code,
            "connectedAt": self.connected_at_ms,
            "durationSeconds": self.duration_seconds,
            "abnormal": self.abnormal,
            "apiId": self.api_id,
            "stage": self.stage,
            "detectedAt": detected_at_ms,
        }


def has_live_connection(
    store: ConnectionStore,
    index_name: str,
    agent_id: str,
    exclude: Collection[str],
    now: float,
    max_age_seconds: int,
) -> bool:
    """True if the index lists another unexpired connection of this agent.

    `exclude` holds the ids just removed: the index is eventually consistent and may still list them.
    Items whose index projection lacks the timestamps count as live (no false "offline"). Only agent
    connections count (Connection.is_agent: clientType "agent"), the same rule that decides whether a
    removal asks this question at all; the module's index projects clientType for this.
    """
    for connection in store.agent_connections(index_name, agent_id):
        if connection.connection_id in exclude or not connection.is_agent:
            continue
        if connection.expired(now, max_age_seconds):
            continue
        return True
    return False


class EventsClient(Protocol):
    def put_events(self, **kwargs: Any) -> Dict[str, Any]: ...


class OfflinePublisher:
    """PutEvents in batches of 10; failed entries are retried once, then reported (never raised)."""

    def __init__(self, client: EventsClient, bus: str, source: str) -> None:
        self.client = client
        self.bus = bus
        self.source = source

    def publish(self, notices: Sequence[OfflineNotice]) -> List[str]:
        """Send one event per notice; return the agent ids whose event could not be delivered."""
        detected_at = int(time.time() * 1000)
        failed: List[str] = []
        for start in range(0, len(notices), PUT_EVENTS_BATCH):
            batch = list(notices[start : start + PUT_EVENTS_BATCH])
            for _attempt in range(2):
                entries = [
                    {
                        "Source": self.source,
                        "DetailType": DETAIL_TYPE,
                        "Detail": json.dumps(notice.detail(detected_at), separators=(",", ":")),
                        "EventBusName": self.bus,
                    }
                    for notice in batch
                ]
                response = self.client.put_events(Entries=entries)
                if not response.get("FailedEntryCount"):
                    batch = []
                    break
                results = response.get("Entries", [])
                batch = [
                    notice
                    for notice, result in zip(batch, results)
                    if not isinstance(result, dict) or "EventId" not in result
                ]
                if not batch:
                    break
            failed.extend(notice.agent_id for notice in batch)
        return failed

    def deliver(self, notices: Sequence[OfflineNotice]) -> Tuple[List[str], Optional[str]]:
        """publish() for callers that must not fail: (undelivered agent ids, error name if the call failed)."""
        try:
            return self.publish(notices), None
        except (ClientError, BotoCoreError) as exc:
            return [notice.agent_id for notice in notices], type(exc).__name__
