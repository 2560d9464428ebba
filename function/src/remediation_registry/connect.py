"""`$connect`: register the new connection with one PutItem of the contract item, or refuse it.

Identity (clientType, agentId) comes from the `$connect` authorizer's context (API Gateway repeats it
in requestContext.authorizer), under configurable keys. Only when CONNECT_QUERY_STRING_IDENTITY is
true, and no authorizer supplied it, is it taken from the query string: anyone can write a query
string, so that switch is for demo stacks only. A `$connect` without usable identity is refused: the
handler answers 403 and API Gateway rejects the WebSocket handshake; nothing is written.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any, Dict, Mapping, NamedTuple, Optional, Protocol, Tuple, cast

from botocore.exceptions import BotoCoreError, ClientError

from . import contract
from .config import ConfigError, _bool, _text
from .events import InvalidEvent, _integer, request_context
from .events import _text as _event_text
from .telemetry import MetricGroup

if TYPE_CHECKING:
    from .runtime import Runtime

OK = {"statusCode": 200, "body": "connected"}
BAD_REQUEST = {"statusCode": 400, "body": "invalid $connect event"}
FORBIDDEN = {"statusCode": 403, "body": "connection refused: no usable identity"}
UNAVAILABLE = {"statusCode": 500, "body": "connection refused: agent presence not recorded, try again"}
_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,128}")


class PutItemClient(Protocol):
    def put_item(self, **kwargs: Any) -> Dict[str, Any]: ...


class ConnectSettings(NamedTuple):
    client_type_key: str
    agent_id_key: str
    query_string_identity: bool


class Refused(ValueError):
    """The `$connect` carries no usable identity; the handshake must be rejected."""


class ConnectEvent(NamedTuple):
    connection_id: str
    connected_at_ms: int
    api_id: Optional[str]
    stage: Optional[str]
    request_id: Optional[str]
    authorizer: Mapping[str, Any]
    query: Mapping[str, Any]


def load_settings(env: Mapping[str, str]) -> ConnectSettings:
    """The identity settings of the `$connect` function; a ConfigError names the variable at fault."""
    keys = {}
    for name, default in (
        ("CONNECT_CLIENT_TYPE_KEY", contract.CLIENT_TYPE),
        ("CONNECT_AGENT_ID_KEY", contract.AGENT_ID),
    ):
        value = _text(env, name, default) or default
        if not _KEY.fullmatch(value):
            raise ConfigError(f"{name} must be 1-128 letters, digits, '_', '.', ':' or '-', got {value[:64]!r}")
        keys[name] = value
    if keys["CONNECT_CLIENT_TYPE_KEY"] == keys["CONNECT_AGENT_ID_KEY"]:
        raise ConfigError("CONNECT_CLIENT_TYPE_KEY and CONNECT_AGENT_ID_KEY must name two different keys")
    return ConnectSettings(
        client_type_key=keys["CONNECT_CLIENT_TYPE_KEY"],
        agent_id_key=keys["CONNECT_AGENT_ID_KEY"],
        query_string_identity=_bool(env, "CONNECT_QUERY_STRING_IDENTITY"),
    )


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
    authorizer = context.get("authorizer")
    query = event.get("queryStringParameters")
    return ConnectEvent(
        connection_id=connection_id,
        connected_at_ms=connected_at,
        api_id=_event_text(context, "apiId"),
        stage=_event_text(context, "stage"),
        request_id=_event_text(context, "requestId"),
        authorizer=authorizer if isinstance(authorizer, dict) else {},
        query=query if isinstance(query, dict) else {},
    )


def identity(parsed: ConnectEvent, settings: ConnectSettings) -> Tuple[str, Optional[str], str]:
    """(clientType, agentId or None, where it came from), or Refused naming what is missing."""
    if settings.client_type_key in parsed.authorizer:
        source, values = "authorizer", parsed.authorizer
    elif settings.query_string_identity and settings.client_type_key in parsed.query:
        source, values = "queryString", parsed.query
    else:
        where = "the $connect authorizer's context"
        if settings.query_string_identity:
            where += " or the query string"
        raise Refused(f"{where} has no {settings.client_type_key!r}")
    client_type = values.get(settings.client_type_key)
    if client_type not in contract.CLIENT_TYPES:
        shown = client_type[:32] if isinstance(client_type, str) else type(client_type).__name__
        raise Refused(f"{source} {settings.client_type_key!r} is {shown!r}, not one of {list(contract.CLIENT_TYPES)}")
    if client_type == contract.DASHBOARD:
        return client_type, None, source
    agent_id = values.get(settings.agent_id_key)
    if not isinstance(agent_id, str) or not agent_id:
        raise Refused(f"an agent's {source} has no {settings.agent_id_key!r}")
    if len(agent_id) > contract.MAX_IDENTITY_LENGTH or not agent_id.isprintable():
        raise Refused(
            f"{source} {settings.agent_id_key!r} is longer than {contract.MAX_IDENTITY_LENGTH} characters"
            " or contains non-printable characters"
        )
    return client_type, agent_id, source


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
    options = load_settings(os.environ)
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
        client_type, agent_id, source = identity(parsed, options)
    except Refused as exc:
        fields.update(result="refused", reason=str(exc))
        telemetry.log("WARNING", "connection refused", fields, [MetricGroup({}, [("RefusedConnects", "Count", 1)])])
        return dict(FORBIDDEN)
    fields.update(clientType=client_type, identitySource=source)
    if agent_id is not None:
        fields["agentId"] = agent_id
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

        outcome = hooks.connected(
            rt, agent_id, parsed.connection_id, parsed.connected_at_ms, parsed.api_id, parsed.stage
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
