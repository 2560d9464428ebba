"""`$disconnect`: remove the connection from the registry; announce an agent whose last connection it was.

The route's whole logic, for handlers.disconnect: only the `$disconnect` function's zip ships it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from botocore.exceptions import BotoCoreError, ClientError

from . import contract
from .events import DisconnectEvent, InvalidEvent, duration_seconds, parse_disconnect
from .store import Connection, for_log
from .telemetry import MetricGroup

if TYPE_CHECKING:
    from .agents import OfflineNotice
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

    notice = _agent_offline(rt, old, parsed, duration, fields) if old is not None else None
    if notice is not None:
        metrics.append(MetricGroup({"Reason": "disconnect"}, [("AgentsOffline", "Count", 1.0)]))

    message = "connection removed" if deleted.previous is not None else "connection already gone"
    telemetry.log("INFO", message, fields, metrics)
    return dict(OK)


def _agent_offline(
    rt: Runtime, old: Connection, parsed: DisconnectEvent, duration: Optional[float], fields: Dict[str, Any]
) -> Optional[OfflineNotice]:
    """If this was the agent's last live connection, announce it; failures never fail the disconnect."""
    settings = rt.settings
    if not settings.agent_index or not old.is_agent or old.agent_id is None:
        return None
    from .agents import OfflineNotice, has_live_connection  # noqa: PLC0415 - agent tracking only (see runtime.Runtime)

    max_age = contract.MAX_CONNECTION_SECONDS + settings.grace_seconds
    try:
        if has_live_connection(
            rt.store, settings.agent_index, old.agent_id, {parsed.connection_id}, time.time(), max_age
        ):
            fields["agentOffline"] = False
            return None
    except (ClientError, BotoCoreError) as exc:
        fields["agentOffline"] = None
        fields["agentStatusError"] = type(exc).__name__
        return None
    fields["agentOffline"] = True
    rt.telemetry.log(
        "WARNING",
        "agent offline",
        {
            "agentId": for_log(old.agent_id),
            "connectionId": parsed.connection_id,
            "reason": "disconnect",
            "disconnectStatusCode": parsed.status_code,
            "disconnectReason": parsed.reason,
            "durationSeconds": duration,
            "abnormal": parsed.abnormal,
        },
    )
    notice = OfflineNotice(
        agent_id=old.agent_id,
        connection_id=parsed.connection_id,
        reason="disconnect",
        status_code=parsed.status_code,
        connected_at_ms=parsed.connected_at_ms if parsed.connected_at_ms is not None else old.connected_at_ms,
        duration_seconds=duration,
        abnormal=parsed.abnormal,
        api_id=parsed.api_id,
        stage=parsed.stage,
    )
    if rt.publisher is not None:
        failed, error = rt.publisher.deliver([notice])
        if error:
            fields["offlineEventError"] = error
        fields["offlineEventSent"] = not failed
    return notice
