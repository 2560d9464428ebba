"""The presence checker's batches: malformed messages, partial failure without ReportBatchItemFailures,
the scheduled tick told apart from SQS records, and what its configuration must name."""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, Optional

import pytest
from remediation_registry import handlers
from remediation_registry.checker import BatchIncomplete
from remediation_registry.config import ConfigError

from tests.support.events import FakeContext, connect_event
from tests.support.logs import LogReader, emf_metrics
from tests.support.presence import PresenceStack
from tests.support.servers import FakeConnections

AGENT = "agent-3"


def record(body: Any, message_id: str = "m-1") -> Dict[str, Any]:
    """An SQS record as Lambda delivers it (receipt handle unknown to the queue: never deleted for real)."""
    text = body if isinstance(body, str) or body is None else json.dumps(body)
    return {"messageId": message_id, "receiptHandle": f"receipt-{message_id}", "body": text, "eventSource": "aws:sqs"}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("not json", "not a JSON object"),
        ("[1, 2]", "not a JSON object"),
        (None, "not a JSON object"),
        ({"v": 2, "kind": "grace", "agentId": AGENT, "token": "t", "deadline": 1}, "unknown version"),
        ({"v": 1, "kind": "ping", "agentId": AGENT}, "unknown kind"),
        ({"v": 1, "kind": "grace", "agentId": AGENT, "deadline": 1}, "token is missing"),
        ({"v": 1, "kind": "grace", "agentId": "", "token": "t", "deadline": 1}, "agentId is missing"),
        ({"v": 1, "kind": "grace", "agentId": AGENT, "token": "t", "deadline": "soon"}, "deadline is missing"),
        (
            {"v": 1, "kind": "probe", "agentId": AGENT, "connectionId": "C1", "connectedAt": True, "lastSeenAt": 1},
            "connectedAt",
        ),
        ({"v": 1, "kind": "probe", "agentId": AGENT, "connectedAt": 1, "lastSeenAt": 1}, "connectionId is missing"),
    ],
)
def test_a_malformed_message_is_logged_counted_and_acknowledged(
    stack: PresenceStack, logs: LogReader, body: Any, error: str
) -> None:
    result = stack.deliver([record(body)])

    assert result == {"messages": 1, "results": {}, "failed": 0, "probes": 0}  # success: the mapping deletes it
    line = logs.one("invalid presence message")
    assert (line["level"], line["messageId"]) == ("WARNING", "m-1")
    assert error in line["error"]
    assert emf_metrics(line)["InvalidPresenceMessages"] == (1, "Count", [])
    assert stack.presence.records() == []


def test_a_batch_with_a_failed_message_deletes_the_others_itself_and_raises(
    stack: PresenceStack, connections_api: tuple[str, FakeConnections], logs: LogReader
) -> None:
    """No ReportBatchItemFailures on the stand-in provider: the checker deletes what it handled, then
    raises, so only the failed message comes back after its visibility timeout."""
    stack.connect(AGENT, "C1")
    stack.connect("agent-4", "D1")
    connections_api[1].throttled.add("C1")  # 429 on GetConnection
    stack.queue.sqs.send_message(QueueUrl=stack.queue.url, MessageBody="garbage")
    batch = stack.messages()
    assert len(batch) == 3

    result = stack.deliver(batch)

    assert isinstance(result, BatchIncomplete)
    failed = logs.one("presence message failed")
    assert (failed["level"], failed["agentId"], failed["kind"]) == ("ERROR", AGENT, "probe")
    assert "LimitExceededException" in failed["error"]
    summary = logs.one("presence messages processed")
    assert (summary["level"], summary["failed"], summary["results"]) == ("WARNING", 1, {"alive": 1})
    assert emf_metrics(summary)["ProbeErrors"] == (1, "Count", [])
    assert len(stack.queue.deleted) == 2  # the garbage and D1's probe, in one DeleteMessageBatch
    queued = stack.messages("probe")  # C1's probe, redelivered, and D1's next probe
    assert sorted(json.loads(message["body"])["connectionId"] for message in queued) == ["C1", "D1"]
    connections_api[1].throttled.clear()
    assert stack.deliver(queued)["results"] == {"alive": 2}


def test_a_successful_batch_is_left_to_the_mapping_to_delete(stack: PresenceStack) -> None:
    stack.connect(AGENT, "C1")

    assert stack.deliver(kind="probe")["results"] == {"alive": 1}

    assert stack.queue.deleted == []  # one request saved per batch: Lambda deletes a successful batch


def test_the_scheduled_event_runs_the_reconciler(stack: PresenceStack, logs: LogReader) -> None:
    result = stack.tick()

    assert result["complete"] is True
    assert logs.one("presence census")["level"] == "INFO"


@pytest.mark.parametrize("event", [{}, {"detail-type": "Object Created"}, [], "x", {"Records": "no"}])
def test_an_event_that_is_neither_sqs_nor_scheduled_is_ignored_and_counted(
    stack: PresenceStack, logs: LogReader, event: Any
) -> None:
    stack.runtime()

    assert handlers.presence(event, FakeContext()) == {"ignored": True}

    line = logs.one("invalid presence event ignored")
    assert emf_metrics(line)["InvalidPresenceMessages"] == (1, "Count", [])


@pytest.mark.parametrize(
    ("variable", "call"),
    [
        ("PRESENCE_PROBE_ENDPOINT", lambda stack: stack.deliver([record("x")])),
        ("PRESENCE_QUEUE_URL", lambda stack: stack.connect(AGENT, "C1")),
    ],
)
def test_a_missing_setting_fails_the_function_naming_it(
    stack: PresenceStack, monkeypatch: pytest.MonkeyPatch, variable: str, call: Callable[[PresenceStack], Any]
) -> None:
    monkeypatch.delenv(variable)

    outcome: Optional[BaseException] = None
    try:
        result = call(stack)
        outcome = result if isinstance(result, BaseException) else None
    except ConfigError as exc:
        outcome = exc
    assert isinstance(outcome, ConfigError)
    assert f"{variable} is not set" in str(outcome)


def test_a_dashboard_connect_needs_no_queue(stack: PresenceStack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRESENCE_QUEUE_URL")
    stack.runtime()

    assert (
        handlers.connect(connect_event("D1", authorizer={"clientType": "dashboard"}), FakeContext())["statusCode"]
        == 200
    )
