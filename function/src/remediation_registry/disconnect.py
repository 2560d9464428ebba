"""`$disconnect`: remove the connection from the registry; with presence, the agent's connection closes.

The route's whole logic, for handlers.disconnect: only the `$disconnect` function's zip ships it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from botocore.exceptions import BotoCoreError, ClientError

from . import contract
from .events import InvalidEvent, duration_seconds, parse_disconnect
from .store import Connection
from .telemetry import MetricGroup

if TYPE_CHECKING:
    from .runtime import Runtime

OK = {"statusCode": 200, "body": "disconnected"}
BAD_REQUEST = {"statusCode": 400, "body": "invalid $disconnect event"}


def handle(rt: Runtime, event: Any, request_id: Optional[str]) -> Dict[str, Any]:
    """Remove the connection from the registry and answer 200 "disconnected" (400: not a `$disconnect`)."""
    telemetry = rt.telemetry
    telemetry.request_id = request_id
    try:
        parsed = parse_disconnect(event)
    except InvalidEvent as exc:
        telemetry.log(
            "WARNING",
            "invalid $disconnect event ignored",
            {"error": str(exc)},
            [MetricGroup({}, [("InvalidDisconnectEvents", "Count", 1)])],
        )
        return dict(BAD_REQUEST)

    fields: Dict[str, Any] = {
        "connectionId": parsed.connection_id,
        "eventType": parsed.event_type,
        "routeKey": parsed.route_key,
        "disconnectStatusCode": parsed.status_code,
        "disconnectReason": parsed.reason,
        "connectedAt": parsed.connected_at_ms,
        "apiId": parsed.api_id,
        "stage": parsed.stage,
        "requestId": parsed.request_id,
        "abnormal": parsed.abnormal,
    }
    if rt.settings.log_client_address:
        fields["sourceIp"] = parsed.source_ip
        fields["userAgent"] = parsed.user_agent

    try:
        deleted = rt.store.delete(parsed.connection_id)
    except (ClientError, BotoCoreError) as exc:
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else type(exc).__name__
        fields.update(result="error", error=str(exc)[:512], errorCode=code)
        telemetry.log("ERROR", "connection not removed", fields, [MetricGroup({}, [("DisconnectErrors", "Count", 1)])])
        raise

    old = deleted.previous
    if old is None and deleted.retried:
        # An earlier attempt may have deleted the item and lost its answer: what it said is gone.
        # The $connect authorizer's context (repeated in this event) may still name the agent.
        fields["deleteRetried"] = True
        from .claims import agent_from_authorizer  # noqa: PLC0415 - this rare path only

        agent_id = agent_from_authorizer(rt, parsed.authorizer)
        if agent_id is not None:
            old = Connection(parsed.connection_id, contract.AGENT, agent_id, parsed.connected_at_ms, None)
    end_ms = parsed.request_time_ms if parsed.request_time_ms is not None else time.time() * 1000
    connected_at = parsed.connected_at_ms
    if connected_at is None and old is not None:
        connected_at = old.connected_at_ms
    duration = duration_seconds(connected_at, end_ms)
    fields["durationSeconds"] = duration
    fields["result"] = "deleted" if deleted.previous is not None else "already_gone"
    if deleted.previous is not None:
        fields["item"] = deleted.previous.to_log()
    client_label = old.client_label if old is not None else "unknown"

    metrics: List[MetricGroup] = []
    values = [("Disconnects", "Count", 1.0)]
    if duration is not None:
        values.append(("ConnectionDurationSeconds", "Seconds", duration))
    metrics.append(MetricGroup({"ClientType": client_label}, values))

    if rt.settings.presence is not None and old is not None and old.is_agent and old.agent_id:
        # Presence only (compiled and run only then): T2, and the grace message if a window opens.
        from .presence import track  # noqa: PLC0415

        fields["presence"] = track.closed(rt, old.agent_id, parsed, duration)

    message = "connection removed" if deleted.previous is not None else "connection already gone"
    telemetry.log("INFO", message, fields, metrics)
    return dict(OK)
