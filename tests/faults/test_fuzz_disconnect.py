"""Property test of handlers.disconnect over thousands of generated events (fake DynamoDB, no moto).

The Runtime is the real one (real settings, telemetry, presence) with its DynamoDB and SQS clients
replaced by recording fakes, so an example costs microseconds instead of a moto round trip. Presence is
on, so the whole path runs for every valid event: an agent's close opens a grace window (T2) and sends
its grace message.

Two input classes once crashed the handler and keep a property of their own at the end of this
file: non-decimal unicode digit strings such as "\u00b2" in integer metadata, and integers beyond
float range in the timestamps.
"""

from __future__ import annotations

import io
import json
import time
from typing import Any, Dict, List

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from remediation_registry import handlers
from remediation_registry.events import parse_disconnect

from tests.support.events import disconnect_event
from tests.support.fakes import FakeSQSClient
from tests.support.logs import parse_log_lines

EXAMPLES = 2000
OK = {"statusCode": 200, "body": "disconnected"}
PRINTABLE_ASCII = "".join(chr(code) for code in range(0x21, 0x7F))
SAFE_INT = 10**300  # beyond ~1.8e308, (end - start) / 1000.0 overflows: the known OverflowError bug
ABSENT = object()


class RecordingDynamoDB:
    """DeleteItem answers ALL_OLD for some keys (an agent item), nothing for others; UpdateItem (presence)
    succeeds: the closed connection was the agent's last, a grace window opens."""

    exceptions: Any = None

    def __init__(self) -> None:
        self.deleted_keys: List[Dict[str, Any]] = []
        self.updates: List[Dict[str, Any]] = []

    def delete_item(self, **kwargs: Any) -> Dict[str, Any]:
        self.deleted_keys.append(kwargs["Key"])
        assert kwargs["ReturnValues"] == "ALL_OLD"
        connection_id = kwargs["Key"]["connectionId"]["S"]
        if len(connection_id) % 2:
            return {}
        return {
            "Attributes": {
                "connectionId": {"S": connection_id},
                "clientType": {"S": "agent"},
                "agentId": {"S": "agent-" + connection_id[:8]},
                "connectedAt": {"N": "1795677000000"},
                "expiresAt": {"N": "1795684500"},
            }
        }

    def update_item(self, **kwargs: Any) -> Dict[str, Any]:
        self.updates.append(kwargs)
        return {}

    def batch_write_item(self, **kwargs: Any) -> Dict[str, Any]:
        raise AssertionError("the $disconnect handler never batches")

    def scan(self, **kwargs: Any) -> Dict[str, Any]:
        raise AssertionError("the $disconnect handler never scans")


def bug_free_text(text: str) -> bool:
    """Excludes the known ValueError bug's trigger: str.isdigit() but not int()-parsable."""
    return not (text.isdigit() and not text.isdecimal())


texts = st.text(max_size=40).filter(bug_free_text)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-SAFE_INT, max_value=SAFE_INT),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=True, allow_infinity=True),
    texts,
)
junk = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=8,
)
huge_strings = st.sampled_from(["x" * 100_000, "\u00e9" * 5000, "\U0001f600" * 300, "\x00" * 1000, "9" * 5000])
connection_ids = st.one_of(
    st.text(alphabet=PRINTABLE_ASCII, min_size=1, max_size=140),
    st.text(alphabet=PRINTABLE_ASCII + " \t\n\r\x0b\x0c\x00\x7f\u00a0\u2028\u00e9", min_size=0, max_size=130),
    st.from_regex(r"[A-Za-z0-9+/]{15}=", fullmatch=True),
    st.sampled_from(
        ["", " ", "L0SM9cOFvHcCIhw=", "a" * 128, "a" * 129, "L0SM9cOF\nvHcCIhw=", "~remediation-sweeper/scan-position"]
    ),
    texts,
    junk,
)
event_types = st.one_of(
    st.sampled_from(["DISCONNECT", "CONNECT", "MESSAGE", "disconnect", "", "DISCONNECT ", None, ABSENT]),
    junk,
)
int_like = st.one_of(
    st.sampled_from([True, False, 0, 1, -1, 1006, "1006", 1006.0, "", "0x3ee", "1e3", ABSENT]),
    st.integers(min_value=-SAFE_INT, max_value=SAFE_INT),
    texts,
    junk,
)
REQUEST_CONTEXT_KEYS = [*disconnect_event()["requestContext"], "unexpected"]
TOP_LEVEL_KEYS = [*disconnect_event(), "unexpected"]  # includes requestContext


def place(target: Dict[str, Any], key: str, value: object) -> None:
    if value is ABSENT:
        target.pop(key, None)
    else:
        target[key] = value


@st.composite
def near_valid_events(draw: st.DrawFn) -> Dict[str, Any]:
    """A real-shaped event (often with a valid id) with one or two fields mutated."""
    event = disconnect_event(draw(st.from_regex(r"[A-Za-z0-9+/]{15}=", fullmatch=True)))
    context = event["requestContext"]
    for _ in range(draw(st.integers(min_value=1, max_value=2))):
        target = draw(st.sampled_from(["context", "context", "connectionId", "eventType", "ints", "identity", "top"]))
        if target == "connectionId":
            place(context, "connectionId", draw(st.one_of(connection_ids, st.just(ABSENT))))
        elif target == "eventType":
            place(context, "eventType", draw(event_types))
        elif target == "ints":
            key = draw(st.sampled_from(["disconnectStatusCode", "connectedAt", "requestTimeEpoch"]))
            place(context, key, draw(int_like))
        elif target == "identity":
            value = draw(
                st.one_of(junk, st.just(ABSENT), st.dictionaries(st.sampled_from(["sourceIp", "userAgent"]), junk))
            )
            place(context, "identity", value)
        elif target == "top":
            key = draw(st.sampled_from(TOP_LEVEL_KEYS))
            place(event, key, draw(st.one_of(junk, st.just(ABSENT))))
            if key == "requestContext":
                return event
        else:
            key = draw(st.sampled_from(REQUEST_CONTEXT_KEYS))
            place(context, key, draw(st.one_of(junk, huge_strings, st.just(ABSENT))))
    return event


events = st.one_of(near_valid_events(), near_valid_events(), near_valid_events(), junk)


def valid_connection_id(value: object) -> bool:
    """The oracle: a non-empty printable-ASCII string of at most 128 characters, not starting with "~"
    (reserved for the registry's own items)."""
    return (
        isinstance(value, str)
        and 1 <= len(value) <= 128
        and all(0x21 <= ord(character) <= 0x7E for character in value)
        and not value.startswith("~")
    )


def expected_status(event: object) -> int:
    if not isinstance(event, dict) or not isinstance(event.get("requestContext"), dict):
        return 400
    context = event["requestContext"]
    if not valid_connection_id(context.get("connectionId")):
        return 400
    event_type = context.get("eventType")
    return 200 if event_type is None or (isinstance(event_type, str) and event_type == "DISCONNECT") else 400


@pytest.fixture
def fuzz_runtime(monkeypatch: pytest.MonkeyPatch) -> handlers.Runtime:
    monkeypatch.setenv("PRESENCE_TABLE", "remediation-presence")
    monkeypatch.setenv("PRESENCE_QUEUE_URL", "https://sqs.eu-west-1.amazonaws.com/123456789012/remediation-presence")
    monkeypatch.setenv("LOG_CLIENT_ADDRESS", "true")
    return handlers.runtime()


def install_fakes(rt: handlers.Runtime) -> tuple[RecordingDynamoDB, FakeSQSClient, io.StringIO]:
    dynamodb = RecordingDynamoDB()
    sqs = FakeSQSClient()
    buffer = io.StringIO()
    rt.store.client = dynamodb
    rt.dynamodb = dynamodb
    rt.presence = None  # rebuilt on the fake client
    rt._clients["sqs"] = sqs
    rt.telemetry.stream = buffer
    return dynamodb, sqs, buffer


def check_one(rt: handlers.Runtime, event: object) -> int:
    """Run one event through the handler and check every property; return the status code."""
    dynamodb, sqs, buffer = install_fakes(rt)
    before = repr(event)

    started = int(time.time() * 1000)
    response = handlers.disconnect(event, None)
    ended = int(time.time() * 1000)

    status = expected_status(event)
    assert repr(event) == before, "the handler must not modify the event"
    lines = parse_log_lines(buffer.getvalue())
    if status == 200:
        assert response == OK
        connection_id = event["requestContext"]["connectionId"]  # type: ignore[index]
        assert dynamodb.deleted_keys == [{"connectionId": {"S": connection_id}}]
        assert valid_connection_id(connection_id)
        [summary] = [line for line in lines if line["message"] in ("connection removed", "connection already gone")]
        assert summary["connectionId"] == connection_id
        agent = not len(connection_id) % 2
        # An agent's close: one presence write (T2 a: the grace window opens) and one grace message.
        assert len(dynamodb.updates) == len(sqs.sent) == (1 if agent else 0)
        if agent:
            assert dynamodb.updates[0]["Key"] == {"agentId": {"S": "agent-" + connection_id[:8]}}
            # Due when the grace is over, counted from the close API Gateway stamped (requestTimeEpoch; never
            # from later than now, never sooner than SQS's 1 s): a late `$disconnect` does not stretch it.
            message, delay = sqs.sent[0]["body"], sqs.sent[0]["delay"]
            closed = parse_disconnect(event).request_time_ms
            first, last = (min(started, closed), min(ended, closed)) if closed is not None else (started, ended)
            assert message["kind"] == "grace"
            assert first + 20_000 <= message["deadline"] <= last + 20_000
            assert (
                max(1, -((started - message["deadline"]) // 1000))
                >= delay
                >= max(1, -((ended - message["deadline"]) // 1000))
            )
            assert summary["presence"] == "grace"
    else:
        assert response == {"statusCode": 400, "body": response["body"]}
        assert isinstance(response["body"], str)
        assert dynamodb.deleted_keys == []
        assert dynamodb.updates == []
        assert sqs.sent == []
        [line] = lines
        assert (line["level"], line["message"]) == ("WARNING", "invalid $disconnect event ignored")
        assert len(line["error"]) < 200
    for line in lines:
        json.dumps(line, allow_nan=False)  # no NaN/Infinity: CloudWatch would not parse the line as EMF
    return status


def test_disconnect_handles_every_generated_event(fuzz_runtime: handlers.Runtime) -> None:
    outcomes: Dict[int, int] = {200: 0, 400: 0}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
    @given(events)
    def property_holds(event: object) -> None:
        outcomes[check_one(fuzz_runtime, event)] += 1

    property_holds()

    total = sum(outcomes.values())
    print(f"\nfuzz: {total} examples run ({outcomes[200]} answered 200, {outcomes[400]} answered 400), 0 exceptions")
    assert total >= EXAMPLES
    assert outcomes[200] >= EXAMPLES // 10, "the generator must reach the valid path often"
    assert outcomes[400] >= EXAMPLES // 10, "the generator must reach the invalid path often"


def test_disconnect_handles_unicode_digits_and_huge_integers(fuzz_runtime: handlers.Runtime) -> None:
    bad_values = st.one_of(
        st.text(alphabet="\u00b2\u00b3\u00b9\u2460\u2474\u2488\U0001f101", min_size=1, max_size=16),
        st.integers(min_value=10**309, max_value=10**400),
    )

    @settings(max_examples=50, deadline=None, database=None)
    @given(st.sampled_from(["connectedAt", "requestTimeEpoch", "disconnectStatusCode"]), bad_values)
    def property_holds(field: str, value: object) -> None:
        event = disconnect_event()
        event["requestContext"][field] = value
        check_one(fuzz_runtime, event)

    property_holds()
