"""Parsing of API Gateway WebSocket `$disconnect` events: strict on the key, lenient on metadata."""

from typing import Any, Dict, Mapping, NamedTuple, Optional, Tuple

from .contract import RESERVED_PREFIX

# Real ids are 16 base64 characters ("L0SM9cOFvHcCIhw="); allow any printable ASCII up to 128 so a
# future format still works, and refuse what could only be garbage (whitespace, control, 10 kB).
MAX_CONNECTION_ID_LENGTH = 128
MAX_TEXT_LENGTH = 256

# WebSocket close codes that mean an orderly close (RFC 6455 §7.4.1): normal, going away (a client
# navigating away, or API Gateway's own idle/2-hour limits) and "no status received" (close frame
# without a code). Anything else, e.g. 1006 (connection lost), is an abnormal termination.
ORDERLY_CLOSE_CODES = frozenset({1000, 1001, 1005})


class InvalidEvent(ValueError):
    """The event is not a `$disconnect` event this function can act on; nothing is deleted."""


class DisconnectEvent(NamedTuple):
    connection_id: str
    event_type: Optional[str]
    route_key: Optional[str]
    status_code: Optional[int]
    reason: Optional[str]
    connected_at_ms: Optional[int]
    request_time_ms: Optional[int]
    api_id: Optional[str]
    stage: Optional[str]
    request_id: Optional[str]
    source_ip: Optional[str]
    user_agent: Optional[str]
    # What the $connect authorizer returned in its context ({} without one): the lost-answer fallback's
    # source (disconnect.py reads it under the configured keys).
    authorizer: Mapping[str, Any]

    @property
    def abnormal(self) -> bool:
        """True when the close code says the connection was lost rather than closed."""
        return self.status_code is not None and self.status_code not in ORDERLY_CLOSE_CODES


def _text(mapping: Mapping[str, Any], key: str) -> Optional[str]:
    value = mapping.get(key)
    if isinstance(value, str):
        return value[:MAX_TEXT_LENGTH]
    return None


MAX_INTEGER = 10**16  # epoch milliseconds until the year 318857: anything larger is garbage


def _integer(mapping: Mapping[str, Any], key: str) -> Optional[int]:
    """A non-negative integer (or a string of ASCII digits) below MAX_INTEGER, else None."""
    value = mapping.get(key)
    # bool is an int subclass; a JSON `true` is not a timestamp or a close code. str.isdigit() alone
    # would accept "²", which int() refuses: ASCII digits only, at most 16 (str methods, not a regex: no
    # pattern compiled at every cold start).
    if isinstance(value, str) and 0 < len(value) <= 16 and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < MAX_INTEGER:
        return value
    return None


def request_context(event: object) -> Tuple[Dict[str, Any], Dict[str, Any], str]:
    """The event, its requestContext and its connectionId, checked as every route's handler needs them
    (InvalidEvent with a one-line reason otherwise)."""
    if not isinstance(event, dict):
        raise InvalidEvent(f"event is a {type(event).__name__}, not an object")
    context = event.get("requestContext")
    if not isinstance(context, dict):
        raise InvalidEvent("event has no requestContext object")
    connection_id = context.get("connectionId")
    if not isinstance(connection_id, str) or not connection_id:
        raise InvalidEvent("requestContext.connectionId is missing or empty")
    if len(connection_id) > MAX_CONNECTION_ID_LENGTH:
        raise InvalidEvent(
            f"requestContext.connectionId is {len(connection_id)} characters long (at most {MAX_CONNECTION_ID_LENGTH})"
        )
    if not (connection_id.isascii() and connection_id.isprintable()) or " " in connection_id:  # [!-~]+
        raise InvalidEvent("requestContext.connectionId contains whitespace or non-printable characters")
    if connection_id.startswith(RESERVED_PREFIX):  # e.g. the sweeper's scan position: never a connection
        raise InvalidEvent(f"requestContext.connectionId {connection_id[:64]!r} is reserved, not a connection id")
    return event, context, connection_id


def parse_disconnect(event: object) -> DisconnectEvent:
    """Return the event's fields, or raise InvalidEvent with a one-line reason."""
    _, context, connection_id = request_context(event)
    event_type = context.get("eventType")
    if event_type is not None and event_type != "DISCONNECT":
        shown = event_type[:32] if isinstance(event_type, str) else type(event_type).__name__
        raise InvalidEvent(f"requestContext.eventType is {shown!r}, not 'DISCONNECT'")
    identity = context.get("identity")
    if not isinstance(identity, dict):
        identity = {}
    # What the $connect authorizer returned in its context is repeated in every later event.
    authorizer = context.get("authorizer")
    return DisconnectEvent(
        connection_id=connection_id,
        event_type=event_type,
        route_key=_text(context, "routeKey"),
        status_code=_integer(context, "disconnectStatusCode"),
        reason=_text(context, "disconnectReason"),
        connected_at_ms=_integer(context, "connectedAt"),
        request_time_ms=_integer(context, "requestTimeEpoch"),
        api_id=_text(context, "apiId"),
        stage=_text(context, "stage"),
        request_id=_text(context, "requestId"),
        source_ip=_text(identity, "sourceIp"),
        user_agent=_text(identity, "userAgent"),
        authorizer=authorizer if isinstance(authorizer, dict) else {},
    )


def duration_seconds(connected_at_ms: Optional[int], end_ms: Optional[float]) -> Optional[float]:
    if connected_at_ms is None or end_ms is None or end_ms < connected_at_ms:
        return None
    return round((end_ms - connected_at_ms) / 1000.0, 3)
