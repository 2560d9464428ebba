"""Lambda entry points. Clients are created on first use and reused for the container's lifetime.

Importing this module touches no network and reads no environment: a broken configuration surfaces
as a clear error on the first invocation, naming the variable.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional, cast

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.session import get_session

from . import config, contract
from .events import DisconnectEvent, InvalidEvent, duration_seconds, parse_disconnect
from .store import Connection, ConnectionStore, DynamoDBClient, for_log, keep_attributes_unparsed
from .telemetry import MetricGroup, Telemetry

if TYPE_CHECKING:
    from .agents import OfflineNotice, OfflinePublisher
    from .sweeper import Prober

# One attempt is bounded by connect + read timeouts; "standard" retries add jittered backoff and stop
# early when the client-side retry quota is drained. total_max_attempts counts the first attempt
# (botocore's "max_attempts" would count retries only): 3 attempts of at most 3 s plus backoff stay
# inside the 10 s default timeout, so a failure is logged by us rather than cut off by Lambda.
# No client-side parameter validation: requests are built here from checked values, the service validates
# anyway (ValidationException is a ClientError), and walking the shapes costs ~2% of a warm invocation.
DYNAMODB_CONFIG = Config(
    connect_timeout=1, read_timeout=2, retries={"total_max_attempts": 3, "mode": "standard"}, parameter_validation=False
)
EVENTS_CONFIG = DYNAMODB_CONFIG  # the same bounds; botocore never modifies a Config it is given

OK = {"statusCode": 200, "body": "disconnected"}
BAD_REQUEST = {"statusCode": 400, "body": "invalid $disconnect event"}


class Runtime:
    """Per-container state: settings and clients, built once on the first invocation."""

    def __init__(self, settings: config.Settings) -> None:
        self.settings = settings
        session = get_session()
        self.dynamodb = cast(DynamoDBClient, session.create_client("dynamodb", config=DYNAMODB_CONFIG))
        keep_attributes_unparsed(self.dynamodb)
        self.store = ConnectionStore(self.dynamodb, settings.table_name, settings.ttl_attribute)
        self.telemetry = Telemetry(
            settings.metrics_namespace, settings.log_level, function=os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        )
        self.publisher: Optional[OfflinePublisher] = None
        if settings.agent_index and settings.event_bus:
            # Agent tracking only: the default $disconnect path never compiles agents.py.
            from .agents import EventsClient, OfflinePublisher  # noqa: PLC0415

            events = session.create_client("events", config=EVENTS_CONFIG)
            self.publisher = OfflinePublisher(cast(EventsClient, events), settings.event_bus, settings.event_source)
        self._session = session
        self._prober: Optional[Prober] = None

    @property
    def prober(self) -> Optional[Prober]:
        if self.settings.probe_endpoint and self._prober is None:
            # Imported here: the sweeper's modules (concurrent.futures, ...) stay off the cold-start
            # path of the $disconnect handler, which never sweeps.
            from .sweeper import new_prober  # noqa: PLC0415

            self._prober = new_prober(self._session, self.settings.probe_endpoint, self.settings.probe_concurrency)
        return self._prober


_runtime: Optional[Runtime] = None


def runtime() -> Runtime:
    global _runtime
    if _runtime is None:
        _runtime = Runtime(config.load())
    return _runtime


def reset() -> None:
    """Forget the cached settings and clients (tests; a new container does this implicitly)."""
    global _runtime
    _runtime = None


def _request_id(context: Any) -> Optional[str]:
    return getattr(context, "aws_request_id", None)


def disconnect(event: Any, context: Any = None) -> Dict[str, Any]:
    """`$disconnect` route: remove the connection from the registry and answer 200 "disconnected"."""
    rt = runtime()
    telemetry = rt.telemetry
    telemetry.request_id = _request_id(context)
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
        # The $connect authorizer's agentId (repeated in this event), if any, still names the agent.
        fields["deleteRetried"] = True
        if parsed.authorizer_agent_id:
            old = Connection(
                parsed.connection_id, contract.AGENT, parsed.authorizer_agent_id, parsed.connected_at_ms, None
            )
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
    from .agents import OfflineNotice, has_live_connection  # noqa: PLC0415 - see Runtime

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


def sweep(event: Any, context: Any = None) -> Dict[str, Any]:
    """Scheduled cleanup of connections whose `$disconnect` never arrived."""
    from .sweeper import handle  # noqa: PLC0415 - see Runtime.prober

    return handle(runtime(), context, _request_id(context))


def connect(event: Any, context: Any = None) -> Dict[str, Any]:
    """`$connect` route (optional): write the contract item, or refuse the handshake (non-2xx)."""
    from . import connect as registration  # noqa: PLC0415 - the $disconnect and sweeper paths never need it

    return registration.handle(runtime(), event, _request_id(context))
