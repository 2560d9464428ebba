"""The announcer: the presence table's stream -> one EventBridge event per transition, exactly once.

Retried batches (the event source mapping retries a failed batch, bisecting it) publish nothing twice:
each published transition is marked on the item (`announced`), and a failed PutEvents entry is retried,
then raised, without holding up other agents' events.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest
from remediation_registry import announce
from remediation_registry.announce import NotPublished
from remediation_registry.config import ConfigError

from tests.support.fakes import FakeEventsClient
from tests.support.logs import LogReader, emf_metrics
from tests.support.presence import AGENTS_BUS, PresenceStack, client_error

AGENT = "agent-5"


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("remediation_registry.announce.random.uniform", lambda low, high: 0.0)


def online_then_offline(stack: PresenceStack, agent_id: str = AGENT) -> List[Dict[str, Any]]:
    """Records of an agent's first two transitions (plus the writes between them, which are not)."""
    stack.connect(agent_id, f"{agent_id}-C1")
    stack.disconnect(f"{agent_id}-C1", 1006, "Connection lost")
    stack.advance(21)
    stack.deliver(kind="grace")
    return stack.presence.records()


def test_each_transition_is_one_event_with_the_detail_and_entry_of_the_spec(
    stack: PresenceStack, logs: LogReader
) -> None:
    records = online_then_offline(stack)
    fake = FakeEventsClient()
    stack.runtime()._clients["events"] = fake

    counts = stack.announce(records)

    assert counts == {
        "records": len(records),
        "published": 2,
        "alreadyPublished": 0,
        "failed": 0,
        "deferred": 0,
        "invalid": 0,
    }
    assert [len(call) for call in fake.calls] == [1, 1]  # one entry per PutEvents
    online, offline = (call[0] for call in fake.calls)
    assert {key: online[key] for key in ("Source", "DetailType", "EventBusName")} == {
        "Source": "remediation.websocket",
        "DetailType": "Remediation Agent Online",
        "EventBusName": AGENTS_BUS,
    }
    assert offline["DetailType"] == "Remediation Agent Offline"
    assert list(json.loads(offline["Detail"])) == [  # the order of the spec's example
        "agentId", "state", "reason", "since", "sequence", "eventId", "connections", "connectionId",
        "disconnectStatusCode", "disconnectReason", "connectedAt", "durationSeconds", "abnormal", "apiId",
        "stage", "detectedAt", "previous",
    ]  # fmt: skip
    assert ", " not in offline["Detail"]  # compact JSON
    line = logs.with_message("agent events batch")[-1]
    assert (emf_metrics(line)["EventsPublished"][0], emf_metrics(line)["EventsFailed"][0]) == (2, 0)
    assert [entry["eventId"] for entry in logs.with_message("agent event published")] == ["agent-5/1", "agent-5/2"]


def test_a_retried_batch_publishes_nothing_twice(stack: PresenceStack) -> None:
    records = online_then_offline(stack)
    stack.announce(records)

    counts = stack.announce(records)

    assert (counts["published"], counts["alreadyPublished"]) == (0, 2)
    assert [detail["sequence"] for detail in stack.details()] == [1, 2]


def test_writes_that_are_not_transitions_publish_nothing(stack: PresenceStack) -> None:
    stack.connect(AGENT, "C1")
    stack.announce()
    stack.connect(AGENT, "C2")  # joins: same sequence
    stack.disconnect("C1", 1000, "bye")  # one connection left: same sequence

    counts = stack.announce()

    assert counts["published"] == 0
    assert counts["records"] >= 3  # the two writes and the first announcement's mark


def test_an_invalid_item_on_the_stream_is_not_announced(stack: PresenceStack, logs: LogReader) -> None:
    stack.presence.put({"agentId": {"S": AGENT}, "state": {"S": "zombie"}, "sequence": {"N": "9"}})

    counts = stack.announce()

    assert (counts["published"], counts["invalid"]) == (0, 1)
    line = logs.one("presence record not announced: invalid item")
    assert line["attribute"] == "state"
    assert emf_metrics(line)["InvalidPresenceItems"] == (1, "Count", [])


def test_a_failed_entry_is_retried_in_process(stack: PresenceStack) -> None:
    records = online_then_offline(stack)
    fake = FakeEventsClient(fail_entries=[1, 1])  # the first two calls fail their entry (200, FailedEntryCount)
    stack.runtime()._clients["events"] = fake

    counts = stack.announce(records)

    assert counts["published"] == 2
    assert [json.loads(call[0]["Detail"])["sequence"] for call in fake.calls] == [1, 1, 1, 2]


def test_a_throttled_put_events_is_retried_in_process(stack: PresenceStack) -> None:
    records = online_then_offline(stack)
    fake = FakeEventsClient()
    calls: List[int] = []

    def put_events(**kwargs: Any) -> Dict[str, Any]:
        calls.append(1)
        if len(calls) == 1:
            raise client_error("PutEvents", "ThrottlingException")
        return FakeEventsClient.put_events(fake, **kwargs)

    fake.put_events = put_events  # type: ignore[method-assign]
    stack.runtime()._clients["events"] = fake

    assert stack.announce(records)["published"] == 2
    assert len(calls) == 3


def test_a_persistent_failure_raises_after_the_other_agents_events_and_the_retry_publishes_the_rest_once(
    stack: PresenceStack, logs: LogReader
) -> None:
    records = online_then_offline(stack, "agent-a") + online_then_offline(stack, "agent-b")
    failing = FakeEventsClient(fail_entries=[1, 1, 1])  # agent-a's first event fails 3 times
    stack.runtime()._clients["events"] = failing

    result = stack.announce(records)

    assert isinstance(result, NotPublished)
    published = [json.loads(call[0]["Detail"]) for call in failing.calls[3:]]
    assert [(d["agentId"], d["sequence"]) for d in published] == [("agent-b", 1), ("agent-b", 2)]
    line = logs.one("agent event not published")
    assert (line["level"], line["agentId"], line["sequence"], line["errorCode"]) == (
        "ERROR",
        "agent-a",
        1,
        "InternalFailure",
    )
    batch = logs.one("agent events batch")
    assert (batch["failed"], batch["deferred"], emf_metrics(batch)["EventsFailed"][0]) == (1, 1, 1)

    working = FakeEventsClient()
    stack.runtime()._clients["events"] = working
    counts = stack.announce(records)  # the mapping retries the batch

    assert [(d["agentId"], d["sequence"]) for d in working.details()] == [("agent-a", 1), ("agent-a", 2)]
    assert counts["alreadyPublished"] == 2


def test_a_failed_mark_read_raises_and_the_retry_publishes_once(stack: PresenceStack) -> None:
    records = online_then_offline(stack)
    rt = stack.runtime()
    real = rt.dynamodb

    class FailingReads:
        exceptions = real.exceptions

        def get_item(self, **kwargs: Any) -> Dict[str, Any]:
            raise client_error("GetItem", "ProvisionedThroughputExceededException")

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

    rt.dynamodb = FailingReads()
    assert isinstance(stack.announce(records), NotPublished)
    rt.dynamodb = real

    assert stack.announce(records)["published"] == 2
    assert [detail["sequence"] for detail in stack.details()] == [1, 2]


def test_a_failed_mark_is_logged_and_only_a_later_retry_could_repeat_the_event_with_its_id(
    stack: PresenceStack, logs: LogReader
) -> None:
    records = [r for r in online_then_offline(stack) if "sequence" in r["dynamodb"].get("NewImage", {})][:1]
    rt = stack.runtime()
    real = rt.dynamodb

    class FailingMarks:
        exceptions = real.exceptions

        def update_item(self, **kwargs: Any) -> Dict[str, Any]:
            raise client_error("UpdateItem", "InternalServerError", 500)

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

    rt.dynamodb = FailingMarks()
    assert stack.announce(records)["published"] == 1
    assert logs.one("agent event published")["markError"] == "ClientError"
    rt.dynamodb = real

    stack.announce(records)

    assert [detail["eventId"] for detail in stack.details()] == ["agent-5/1", "agent-5/1"]


def test_the_announcer_needs_its_bus(stack: PresenceStack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVENT_BUS")

    rt = stack.runtime()
    with pytest.raises(ConfigError, match="EVENT_BUS is not set"):
        announce.handle(rt, {"Records": []}, None)
