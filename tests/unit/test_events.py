"""events.parse_disconnect: strict on the connection id and event type, lenient on metadata."""

from __future__ import annotations

import copy
from typing import Any, Dict, Optional

import pytest
from remediation_registry.events import (
    MAX_CONNECTION_ID_LENGTH,
    MAX_TEXT_LENGTH,
    InvalidEvent,
    duration_seconds,
    parse_disconnect,
)

from tests.support.events import CONNECTION_ID, SOURCE_IP, USER_AGENT, disconnect_event

MISSING = object()


def with_context(**changes: Any) -> Dict[str, Any]:
    """A real-shaped event with requestContext fields replaced (or removed, with MISSING)."""
    event = disconnect_event()
    for key, value in changes.items():
        if value is MISSING:
            del event["requestContext"][key]
        else:
            event["requestContext"][key] = value
    return event


def test_parses_every_field_of_a_real_event() -> None:
    event = disconnect_event(status_code=1001, connected_at=1795677000000, request_time=1795677754321)

    parsed = parse_disconnect(event)

    assert parsed.connection_id == CONNECTION_ID
    assert parsed.event_type == "DISCONNECT"
    assert parsed.route_key == "$disconnect"
    assert parsed.status_code == 1001
    assert parsed.reason == "Going away"
    assert parsed.connected_at_ms == 1795677000000
    assert parsed.request_time_ms == 1795677754321
    assert parsed.api_id == "abc123"
    assert parsed.stage == "live"
    assert parsed.request_id == "QSdpnFzRjoEFQjA="
    assert parsed.source_ip == SOURCE_IP
    assert parsed.user_agent == USER_AGENT
    assert parsed.abnormal is False


def test_parsing_does_not_modify_the_event() -> None:
    event = disconnect_event()
    before = copy.deepcopy(event)

    parse_disconnect(event)

    assert event == before


def test_missing_event_type_is_accepted_for_console_test_events() -> None:
    parsed = parse_disconnect({"requestContext": {"connectionId": "abc="}})

    assert parsed.connection_id == "abc="
    assert parsed.event_type is None
    assert parsed.status_code is None
    assert parsed.abnormal is False


@pytest.mark.parametrize("event", [None, [], [disconnect_event()], "event", 42, 3.5, True, b"{}"])
def test_non_object_events_are_rejected(event: object) -> None:
    with pytest.raises(InvalidEvent, match="not an object"):
        parse_disconnect(event)


@pytest.mark.parametrize("context", [MISSING, None, "ctx", [], 7])
def test_missing_or_non_object_request_context_is_rejected(context: object) -> None:
    event: Dict[str, Any] = {"headers": {}}
    if context is not MISSING:
        event["requestContext"] = context

    with pytest.raises(InvalidEvent, match="requestContext"):
        parse_disconnect(event)


@pytest.mark.parametrize(
    ("connection_id", "reason"),
    [
        (MISSING, "missing or empty"),
        (None, "missing or empty"),
        ("", "missing or empty"),
        (12345, "missing or empty"),
        (["L0SM9cOFvHcCIhw="], "missing or empty"),
        ({"S": "L0SM9cOFvHcCIhw="}, "missing or empty"),
        (True, "missing or empty"),
        ("a" * (MAX_CONNECTION_ID_LENGTH + 1), "129 characters"),
        ("x" * 10_000, "10000 characters"),
        ("L0SM9cOF vHcCIhw=", "whitespace"),
        (" L0SM9cOFvHcCIhw=", "whitespace"),
        ("L0SM9cOFvHcCIhw=\n", "whitespace"),
        ("L0SM9cOF\tvHcCIhw=", "whitespace"),
        ("L0SM9cOF\x00vHcCIhw=", "whitespace"),
        ("L0SM9cOF\x7fvHcCIhw=", "whitespace"),
        ("L0SM9cOFvHcCIhw\u00e9", "whitespace"),
        ("L0SM9cOFvHcCIhw\u200b", "whitespace"),
        ("\u0661\u0662\u0663", "whitespace"),
        ("~", "reserved"),  # "~..." names the registry's own items (the sweeper's scan position)
        ("~remediation-sweeper/scan-position", "reserved"),
    ],
)
def test_bad_connection_ids_are_rejected_with_a_reason(connection_id: object, reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        parse_disconnect(with_context(connectionId=connection_id))


@pytest.mark.parametrize(
    "connection_id", ["a", "!", "a~", "a" * MAX_CONNECTION_ID_LENGTH, "L0SM9cOFvHcCIhw=", "a/b+c=="]
)
def test_printable_ascii_connection_ids_up_to_128_characters_are_accepted(connection_id: str) -> None:
    assert parse_disconnect(with_context(connectionId=connection_id)).connection_id == connection_id


@pytest.mark.parametrize("event_type", ["CONNECT", "MESSAGE", "disconnect", "DISCONNECT ", "", 1, True, ["DISCONNECT"]])
def test_other_event_types_are_rejected(event_type: object) -> None:
    with pytest.raises(InvalidEvent, match="eventType"):
        parse_disconnect(with_context(eventType=event_type))


def test_event_type_in_the_reason_is_truncated() -> None:
    with pytest.raises(InvalidEvent) as error:
        parse_disconnect(with_context(eventType="X" * 5000))

    assert len(str(error.value)) < 100


@pytest.mark.parametrize(
    ("code", "abnormal"), [(1000, False), (1001, False), (1005, False), (1006, True), (1011, True), (4000, True)]
)
def test_abnormal_is_true_only_for_non_orderly_close_codes(code: int, abnormal: bool) -> None:
    assert parse_disconnect(with_context(disconnectStatusCode=code)).abnormal is abnormal


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1795677000000, 1795677000000),
        ("1795677000000", 1795677000000),
        (0, 0),
        (True, None),
        (False, None),
        (1.5, None),
        ("-5", None),
        ("1.5", None),
        ("1" * 17, None),
        ("", None),
        (None, None),
        ([1], None),
        ({"N": "1"}, None),
    ],
)
def test_integer_metadata_accepts_ints_and_digit_strings_only(value: object, expected: Optional[int]) -> None:
    parsed = parse_disconnect(with_context(connectedAt=value, requestTimeEpoch=value, disconnectStatusCode=value))

    assert parsed.connected_at_ms == expected
    assert parsed.request_time_ms == expected
    assert parsed.status_code == expected


def test_text_metadata_is_truncated_and_wrong_types_are_dropped() -> None:
    parsed = parse_disconnect(
        with_context(disconnectReason="r" * 10_000, stage=["live"], apiId=7, routeKey=None, requestId={"x": 1})
    )

    assert parsed.reason == "r" * MAX_TEXT_LENGTH
    assert (parsed.stage, parsed.api_id, parsed.route_key, parsed.request_id) == (None, None, None, None)


@pytest.mark.parametrize("identity", [MISSING, None, "203.0.113.7", ["203.0.113.7"]])
def test_identity_that_is_not_an_object_is_ignored(identity: object) -> None:
    parsed = parse_disconnect(with_context(identity=identity))

    assert parsed.connection_id == CONNECTION_ID
    assert (parsed.source_ip, parsed.user_agent) == (None, None)


@pytest.mark.parametrize("value", ["\u00b2", "1795677000000\u00b2", "\u2460"])
def test_non_decimal_unicode_digit_strings_in_metadata_are_ignored(value: str) -> None:
    parsed = parse_disconnect(with_context(connectedAt=value))

    assert parsed.connected_at_ms is None


@pytest.mark.parametrize(
    ("connected_at", "end", "expected"),
    [
        (1000, 2500, 1.5),
        (1000, 1000, 0.0),
        (1000, 999, None),
        (None, 5000, None),
        (1000, None, None),
        (0, 1234.5678, 1.235),
    ],
)
def test_duration_seconds(connected_at: Optional[int], end: Optional[float], expected: Optional[float]) -> None:
    assert duration_seconds(connected_at, end) == expected
