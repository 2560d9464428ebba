"""Lambda's SQS poller (scripts/esm_sqs.py) against the moto server: what the function receives, what is
deleted, what comes back and when a message ends in the dead-letter queue."""

from __future__ import annotations

import json
from typing import Any, Dict, Iterator, List, Optional

import pytest

from scripts.esm import Mapping, Pollers, load_mappings
from scripts.esm_sqs import SqsPoller
from scripts.offline import client
from tests.support.dataplane import Answer, ScriptedFunction, create_function, create_queue, raised


def mapping_for(endpoint: str, function: str, queue_arn: str, **extra: Any) -> Mapping:
    created = client("lambda", endpoint).create_event_source_mapping(
        EventSourceArn=queue_arn, FunctionName=function, **{"BatchSize": 10, **extra}
    )
    [mapping] = [m for m in load_mappings(endpoint) if m.uuid == created["UUID"]]
    return mapping


class Setup:
    def __init__(self, endpoint: str, name: str, **queue_attributes: str) -> None:
        self.endpoint = endpoint
        self.function = name
        create_function(endpoint, name)
        self.url, self.arn = create_queue(endpoint, name, **{"VisibilityTimeout": "1", **queue_attributes})
        self.sqs = client("sqs", endpoint)
        self.fn = ScriptedFunction()
        self.pollers: Optional[Pollers] = None

    def send(self, *bodies: str, delay: int = 0) -> List[str]:
        return [
            self.sqs.send_message(QueueUrl=self.url, MessageBody=body, DelaySeconds=delay)["MessageId"]
            for body in bodies
        ]

    def start(self, **mapping: Any) -> SqsPoller:
        poller = SqsPoller(mapping_for(self.endpoint, self.function, self.arn, **mapping), self.fn, self.endpoint)
        self.pollers = Pollers([poller]).start()
        return poller

    def records(self) -> List[List[Dict[str, Any]]]:
        return [event["Records"] for event in self.fn.events()]

    def left(self) -> int:
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["All"])["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


@pytest.fixture
def setup(endpoint: str, name: str) -> Iterator[Setup]:
    made = Setup(endpoint, name)
    yield made
    if made.pollers is not None:
        made.pollers.stop()


def test_the_mapping_is_read_back_as_applied(setup: Setup) -> None:
    mapping = mapping_for(
        setup.endpoint,
        setup.function,
        setup.arn,
        BatchSize=7,
        MaximumBatchingWindowInSeconds=2,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    assert (mapping.function_name, mapping.source_arn, mapping.service) == (setup.function, setup.arn, "sqs")
    assert (mapping.batch_size, mapping.batching_window, mapping.reports_item_failures) == (7, 2, True)


def test_a_batch_arrives_in_lambdas_sqs_event_shape_and_is_deleted(setup: Setup) -> None:
    ids = setup.send("one", "two")
    poller = setup.start()
    setup.fn.wait_calls(1)
    poller.drain()
    records = [record for batch in setup.records() for record in batch]
    assert sorted(record["messageId"] for record in records) == sorted(ids)
    record = records[0]
    assert set(record) == {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert (record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == ("aws:sqs", setup.arn, "us-east-1")
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert setup.left() == 0
    assert [d.outcome for d in poller.deliveries] == ["ok"] * len(poller.deliveries)


def test_delay_seconds_hold_a_message_back(setup: Setup) -> None:
    setup.send("later", delay=2)
    poller = setup.start()
    poller.drain()
    [[record]] = setup.records()
    attributes = record["attributes"]
    assert int(attributes["ApproximateFirstReceiveTimestamp"]) - int(attributes["SentTimestamp"]) >= 2000


def test_drain_can_leave_delayed_messages_for_later(setup: Setup) -> None:
    """A probe chain always holds a delayed message: drain(delayed=False) does not wait for it."""
    setup.send("in a minute", delay=60)
    poller = setup.start()
    poller.drain(delayed=False)
    assert setup.fn.calls == []
    assert poller.pending(delayed=True)
    setup.sqs.purge_queue(QueueUrl=setup.url)


def test_batch_size_limits_each_invocation(setup: Setup) -> None:
    setup.send(*[f"m{i}" for i in range(5)])
    poller = setup.start(BatchSize=2)
    poller.drain()
    sizes = [len(batch) for batch in setup.records()]
    assert sum(sizes) == 5
    assert max(sizes) <= 2


def test_a_batching_window_gathers_messages_sent_while_it_is_open(endpoint: str, name: str) -> None:
    setup = Setup(endpoint, name, VisibilityTimeout="30")
    setup.send("first")
    poller = setup.start(MaximumBatchingWindowInSeconds=3)
    setup.send("second")  # sent while the poller waits for more (the window is 3 s)
    try:
        poller.drain()
    finally:
        assert setup.pollers is not None
        setup.pollers.stop()
    assert [sorted(r["body"] for r in batch) for batch in setup.records()] == [["first", "second"]]


def test_report_batch_item_failures_deletes_only_the_others(setup: Setup) -> None:
    setup.send("keep", "fail")

    def answer(event: Dict[str, Any]) -> Answer:
        failed = [
            r["messageId"]
            for r in event["Records"]
            if r["body"] == "fail" and r["attributes"]["ApproximateReceiveCount"] == "1"
        ]
        return Answer({"batchItemFailures": [{"itemIdentifier": i} for i in failed]}, None)

    setup.fn.default = answer
    poller = setup.start(FunctionResponseTypes=["ReportBatchItemFailures"])
    poller.drain()
    bodies = [(r["body"], r["attributes"]["ApproximateReceiveCount"]) for batch in setup.records() for r in batch]
    assert sorted(bodies) == [("fail", "1"), ("fail", "2"), ("keep", "1")]
    assert "partial" in [d.outcome for d in poller.deliveries]
    assert setup.left() == 0


def test_without_report_batch_item_failures_the_response_is_ignored(setup: Setup) -> None:
    [sent] = setup.send("x")
    setup.fn.default = Answer({"batchItemFailures": [{"itemIdentifier": sent}]}, None)
    poller = setup.start()
    poller.drain()
    assert len(setup.fn.calls) == 1
    assert setup.left() == 0


@pytest.mark.parametrize(
    "response",
    [
        {"batchItemFailures": [{"itemIdentifier": "not-a-message-of-the-batch"}]},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"id": "bad key name"}]},
        "not an object",
    ],
)
def test_an_invalid_partial_response_fails_the_whole_batch(setup: Setup, response: Any) -> None:
    setup.send("a", "b")
    setup.fn.script = [Answer(response, None)]
    poller = setup.start(FunctionResponseTypes=["ReportBatchItemFailures"])
    poller.drain()
    assert poller.deliveries[0].outcome == "error"
    again = [r["attributes"]["ApproximateReceiveCount"] for batch in setup.records()[1:] for r in batch]
    assert sorted(again) == ["2", "2"]  # both came back: nothing was deleted


@pytest.mark.parametrize("response", [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}])
def test_an_empty_partial_response_is_a_complete_success(setup: Setup, response: Any) -> None:
    setup.send("a", "b")
    setup.fn.default = Answer(response, None)
    poller = setup.start(FunctionResponseTypes=["ReportBatchItemFailures"])
    poller.drain()
    assert len(setup.fn.calls) == 1
    assert setup.left() == 0


def test_a_function_error_deletes_nothing_and_the_batch_comes_back(setup: Setup) -> None:
    setup.send("a")
    setup.fn.script = [raised()]
    poller = setup.start()
    poller.drain()
    counts = [r["attributes"]["ApproximateReceiveCount"] for batch in setup.records() for r in batch]
    assert counts == ["1", "2"]  # redelivered after the visibility timeout (1 s)
    assert [d.outcome for d in poller.deliveries] == ["error", "ok"]


def test_messages_the_function_deletes_itself_stay_deleted(setup: Setup) -> None:
    """The checker of the spec acknowledges what it processed itself, then raises for the rest."""
    setup.send("done", "failed")

    def answer(event: Dict[str, Any]) -> Answer:
        for record in event["Records"]:
            if record["body"] == "done":
                setup.sqs.delete_message(QueueUrl=setup.url, ReceiptHandle=record["receiptHandle"])
        if any(r["body"] == "failed" and r["attributes"]["ApproximateReceiveCount"] == "1" for r in event["Records"]):
            return raised()
        return Answer(None, None)

    setup.fn.default = answer
    poller = setup.start()
    poller.drain()
    second = [r["body"] for r in setup.records()[-1]]
    assert second == ["failed"]


def test_redrive_moves_a_message_to_the_dlq_after_max_receive_count(endpoint: str, name: str) -> None:
    dlq_url, dlq_arn = create_queue(endpoint, f"{name}-dlq")
    setup = Setup(endpoint, name, RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}))
    setup.send("poison")
    setup.fn.default = raised()
    poller = setup.start()
    try:
        poller.drain(timeout=30)
    finally:
        assert setup.pollers is not None
        setup.pollers.stop()
    assert len(setup.fn.calls) == 2  # maxReceiveCount receives, then SQS moves it
    moved = client("sqs", endpoint).receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in moved] == ["poison"]
