"""`$connect`: register the new connection with one PutItem of the contract item, or refuse it.

Who is connecting is identity.py's decision (one source per deployment: the authorizer's context, the
AWS_IAM caller or, on demo stacks only, the query string). A `$connect` without usable identity is
refused: the handler answers 403 and API Gateway rejects the WebSocket handshake; a `connection refused`
line names the reason, RefusedConnects counts it by Reason, and nothing is written.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, Mapping, NamedTuple, Optional, Protocol, Tuple, cast

from botocore.exceptions import BotoCoreError, ClientError

from . import contract, identity
from .events import InvalidEvent, _integer, request_context
from .events import _text as _event_text
from .telemetry import MetricGroup

if TYPE_CHECKING:
    from .runtime import Runtime

OK = {"statusCode": 200, "body": "connected"}
BAD_REQUEST = {"statusCode": 400, "body": "invalid $connect event"}
FORBIDDEN = {"statusCode": 403, "body": "connection refused: no usable identity"}
UNAVAILABLE = {"statusCode": 500, "body": "connection refused: agent presence not recorded, try again"}


class PutItemClient(Protocol):
    def put_item(self, **kwargs: Any) -> Dict[str, Any]: ...


class ConnectEvent(NamedTuple):
    connection_id: str
    connected_at_ms: int
    api_id: Optional[str]
    stage: Optional[str]
    request_id: Optional[str]
    context: Mapping[str, Any]  # requestContext: the authorizer's context, the AWS_IAM caller
    query: Mapping[str, Any]


def parse_connect(event: object) -> ConnectEvent:
    """The fields of a `$connect` event, or InvalidEvent with a one-line reason."""
    event, context, connection_id = request_context(event)
    event_type = context.get("eventType")
    if event_type != "CONNECT":
        shown = event_type[:32] if isinstance(event_type, str) else type(event_type).__name__
        raise InvalidEvent(f"requestContext.eventType is {shown!r}, not 'CONNECT'")
    connected_at = _integer(context, "connectedAt")
    if connected_at is None:
        raise InvalidEvent("requestContext.connectedAt is missing or not epoch milliseconds")
    query = event.get("queryStringParameters")
    return ConnectEvent(
        connection_id=connection_id,
        connected_at_ms=connected_at,
        api_id=_event_text(context, "apiId"),
        stage=_event_text(context, "stage"),
        request_id=_event_text(context, "requestId"),
        context=context,
        query=query if isinstance(query, dict) else {},
    )


DOWN_MS = "downMs"  # the agent client's report: ms it had no connection when it opened this one
MAX_DOWN_MS = 10**10 - 1  # 10 digits


def down_ms(query: Mapping[str, Any]) -> Tuple[Optional[int], bool]:
    """The `downMs` query parameter: (its value, False) when absent or up to 10 ASCII digits, else (None, True)."""
    if DOWN_MS not in query:
        return None, False
    value = _integer(query, DOWN_MS)
    return (value, False) if value is not None and value <= MAX_DOWN_MS else (None, True)


# The identity settings, loaded once per container: per Runtime (handlers.reset() starts a new one).
_identity_settings: Optional[Tuple[object, identity.IdentitySettings]] = None


def identity_settings(rt: Runtime) -> identity.IdentitySettings:
    global _identity_settings
    if _identity_settings is None or _identity_settings[0] is not rt:
        _identity_settings = (rt, identity.load(os.environ))
    return _identity_settings[1]


def item(
    connection_id: str,
    client_type: str,
    agent_id: Optional[str],
    connected_at_ms: int,
    grace_seconds: int,
    ttl_attribute: str = contract.DEFAULT_TTL_ATTRIBUTE,
) -> Dict[str, Dict[str, str]]:
    """The contract item (contract.py) in DynamoDB's wire format (agentId only for an agent).

    Here, beside its only writer, rather than in contract.py: `$disconnect` and the sweeper never build one.
    """
    written: Dict[str, Dict[str, str]] = {
        contract.CONNECTION_ID: {"S": connection_id},
        contract.CLIENT_TYPE: {"S": client_type},
        contract.CONNECTED_AT: {"N": str(connected_at_ms)},
        ttl_attribute: {"N": str(contract.expires_at(connected_at_ms, grace_seconds))},
    }
    if contract.is_agent_connection(client_type, agent_id):
        written[contract.AGENT_ID] = {"S": str(agent_id)}
    return written


def handle(rt: Runtime, event: Any, request_id: Optional[str]) -> Dict[str, Any]:
    """The `$connect` route for handlers.connect (here, so that only `$connect` compiles it)."""
    telemetry = rt.telemetry
    telemetry.request_id = request_id
    options = identity_settings(rt)
    try:
        parsed = parse_connect(event)
    except InvalidEvent as exc:
        telemetry.log(
            "WARNING",
            "invalid $connect event refused",
            {"error": str(exc)},
            [MetricGroup({}, [("InvalidConnectEvents", "Count", 1)])],
        )
        return dict(BAD_REQUEST)
    fields: Dict[str, Any] = {
        "connectionId": parsed.connection_id,
        "connectedAt": parsed.connected_at_ms,
        "apiId": parsed.api_id,
        "stage": parsed.stage,
        "requestId": parsed.request_id,
    }
    try:
        who = identity.resolve(parsed.context, parsed.query, options)
    except identity.Refused as exc:
        fields.update(result="refused", identitySource=options.source, reason=exc.reason, detail=exc.message)
        refused = MetricGroup({"Reason": exc.reason}, [("RefusedConnects", "Count", 1)])
        telemetry.log("WARNING", "connection refused", fields, [refused])
        return dict(FORBIDDEN)
    client_type, agent_id = who.client_type, who.agent_id
    fields.update(clientType=client_type, identitySource=who.source)
    if agent_id is not None:
        fields["agentId"] = agent_id
    if who.principal is not None:
        fields["principal"] = who.principal
    settings = rt.settings
    written = item(
        parsed.connection_id,
        client_type,
        agent_id,
        parsed.connected_at_ms,
        settings.grace_seconds,
        settings.ttl_attribute,
    )
    try:
        # One PutItem, on the same botocore client; connection ids are never reused, so it is idempotent.
        cast(PutItemClient, rt.dynamodb).put_item(TableName=settings.table_name, Item=written)
    except (ClientError, BotoCoreError) as exc:
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else type(exc).__name__
        fields.update(result="error", error=str(exc)[:512], errorCode=code)
        telemetry.log("ERROR", "connection not registered", fields, [MetricGroup({}, [("ConnectErrors", "Count", 1)])])
        raise
    if agent_id is not None and settings.presence is not None:
        # Presence only: the connection's first liveness probe, then the agent online (T1); either failing
        # refuses the handshake (500; the item is left to the sweeper, as for any failed $connect).
        from .presence import hooks  # noqa: PLC0415

        down, bad = down_ms(parsed.query)
        if bad:  # a client's report is a hint: a malformed one is ignored, never a refusal
            ignored = {**fields, "agentId": agent_id, "parameter": DOWN_MS, "value": str(parsed.query[DOWN_MS])[:32]}
            metric = MetricGroup({}, [("IgnoredDownReports", "Count", 1)])
            telemetry.log("WARNING", "reconnect report ignored: downMs is not 1-10 digits", ignored, [metric])
        elif down is not None:
            fields["downMs"] = down
        outcome = hooks.connected(
            rt, agent_id, parsed.connection_id, parsed.connected_at_ms, parsed.api_id, parsed.stage, down
        )
        if outcome is None:
            return dict(UNAVAILABLE)
        fields["presence"] = outcome
    fields.update(result="registered", expiresAt=contract.expires_at(parsed.connected_at_ms, settings.grace_seconds))
    telemetry.log(
        "INFO",
        "connection registered",
        fields,
        [MetricGroup({"ClientType": client_type}, [("Connects", "Count", 1.0)])],
    )
    return dict(OK)
