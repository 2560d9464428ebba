"""Lambda's DynamoDB stream poller (scripts/esm_streams.py) against moto's dynamodbstreams: order, event
shape, checkpoints on partial failures, retries, bisection, the on-failure destination."""

from __future__ import annotations

import json
import time
from typing import Any, Dict, Iterator, List, Optional

import pytest

from scripts.esm import Pollers, load_mappings
from scripts.esm_streams import StreamPoller
from scripts.offline import client
from tests.support.dataplane import Answer, ScriptedFunction, create_function, create_queue, create_stream_table, raised


class Setup:
    def __init__(self, endpoint: str, name: str) -> None:
        self.endpoint = endpoint
        self.table = self.function = name
        create_function(endpoint, name)
        self.stream_arn = create_stream_table(endpoint, name)
        self.dynamodb = client("dynamodb", endpoint)
        self.fn = ScriptedFunction()
        self.pollers: Optional[Pollers] = None

    def put(self, agent: str, **numbers: int) -> None:
        item = {"agentId": {"S": agent}, **{key: {"N": str(value)} for key, value in numbers.items()}}
        self.dynamodb.put_item(TableName=self.table, Item=item)

    def start(self, **mapping: Any) -> StreamPoller:
        created = client("lambda", self.endpoint).create_event_source_mapping(
            EventSourceArn=self.stream_arn,
            FunctionName=self.function,
            **{"StartingPosition": "TRIM_HORIZON", "BatchSize": 100, **mapping},
        )
        [found] = [m for m in load_mappings(self.endpoint) if m.uuid == created["UUID"]]
        poller = StreamPoller(found, self.fn, self.endpoint, retry_delay=0.01)
        self.pollers = Pollers([poller]).start()
        return poller

    def delivered(self) -> List[List[str]]:
        """Per invocation: eventName:agentId of each record."""
        return [
            [f"{r['eventName']}:{r['dynamodb']['Keys']['agentId']['S']}" for r in event["Records"]]
            for event in self.fn.events()
        ]


@pytest.fixture
def setup(endpoint: str, name: str) -> Iterator[Setup]:
    made = Setup(endpoint, name)
    yield made
    if made.pollers is not None:
        made.pollers.stop()


def test_put_update_delete_arrive_in_order_in_lambdas_dynamodb_event_shape(setup: Setup) -> None:
    setup.put("a", sequence=1)
    setup.dynamodb.update_item(
        TableName=setup.table,
        Key={"agentId": {"S": "a"}},
        UpdateExpression="SET #s = #s + :one",
        ExpressionAttributeNames={"#s": "sequence"},
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    setup.dynamodb.update_item(  # creates "b": one INSERT (scripts/moto_launch.py, correction 3)
        TableName=setup.table,
        Key={"agentId": {"S": "b"}},
        UpdateExpression="SET #s = :one",
        ExpressionAttributeNames={"#s": "sequence"},
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    setup.put("a", sequence=2)  # changes nothing: no record (correction 2)
    setup.dynamodb.delete_item(TableName=setup.table, Key={"agentId": {"S": "a"}})
    poller = setup.start()
    poller.drain()
    assert setup.delivered() == [["INSERT:a", "MODIFY:a", "INSERT:b", "REMOVE:a"]]
    insert, modify, created, remove = setup.fn.events()[0]["Records"]
    fields = {"eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "dynamodb", "eventSourceARN"}
    assert set(modify) == fields
    assert (modify["eventSource"], modify["eventSourceARN"], modify["awsRegion"]) == (
        "aws:dynamodb",
        setup.stream_arn,
        "us-east-1",
    )
    assert modify["dynamodb"]["OldImage"]["sequence"] == {"N": "1"}
    assert modify["dynamodb"]["NewImage"]["sequence"] == {"N": "2"}
    assert modify["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert isinstance(modify["dynamodb"]["ApproximateCreationDateTime"], int)
    assert isinstance(modify["dynamodb"]["SizeBytes"], int)
    assert "OldImage" not in insert["dynamodb"]
    assert created["dynamodb"]["NewImage"] == {"agentId": {"S": "b"}, "sequence": {"N": "1"}}
    assert "NewImage" not in remove["dynamodb"]
    sequences = [int(r["dynamodb"]["SequenceNumber"]) for r in setup.fn.events()[0]["Records"]]
    assert sequences == sorted(sequences)


def test_a_checkpoint_is_not_replayed_by_a_later_poller(setup: Setup) -> None:
    setup.put("a", n=1)
    first = setup.start()
    first.drain()
    assert setup.pollers is not None
    setup.pollers.stop()
    setup.put("a", n=2)
    second = StreamPoller(first.mapping, setup.fn, setup.endpoint)
    setup.pollers = Pollers([second]).start()
    second.drain()
    assert setup.delivered() == [["INSERT:a"], ["MODIFY:a"]]


def test_latest_starts_after_the_records_written_before_the_mapping(setup: Setup) -> None:
    setup.put("before", n=1)
    time.sleep(1.1)  # the mapping's LastModified has whole seconds: create it in the next second
    poller = setup.start(StartingPosition="LATEST")
    setup.put("after", n=1)
    poller.drain()
    assert setup.delivered() == [["INSERT:after"]]


def test_batch_item_failures_resume_from_the_lowest_failed_sequence_number(setup: Setup) -> None:
    for agent in ("a", "b", "c", "d"):
        setup.put(agent, n=1)

    def answer(event: Dict[str, Any]) -> Answer:
        records = event["Records"]
        if len(setup.fn.calls) > 1:
            return Answer({"batchItemFailures": []}, None)
        failed = [r["dynamodb"]["SequenceNumber"] for r in records if r["dynamodb"]["Keys"]["agentId"]["S"] in "db"]
        return Answer({"batchItemFailures": [{"itemIdentifier": s} for s in failed]}, None)

    setup.fn.default = answer
    poller = setup.start(FunctionResponseTypes=["ReportBatchItemFailures"])
    poller.drain()
    assert setup.delivered() == [["INSERT:a", "INSERT:b", "INSERT:c", "INSERT:d"], ["INSERT:b", "INSERT:c", "INSERT:d"]]
    assert [d.outcome for d in poller.deliveries] == ["partial", "ok"]


def test_a_function_error_retries_the_batch_until_it_succeeds(setup: Setup) -> None:
    setup.put("a", n=1)
    setup.put("b", n=1)
    setup.fn.script = [raised(), raised()]
    poller = setup.start()
    poller.drain()
    assert setup.delivered() == [["INSERT:a", "INSERT:b"]] * 3
    assert [d.outcome for d in poller.deliveries] == ["error", "error", "ok"]


def test_bisect_on_error_isolates_the_failing_record(setup: Setup) -> None:
    for agent in ("a", "b", "c", "d"):
        setup.put(agent, n=1)
    attempts: Dict[str, int] = {}

    def answer(event: Dict[str, Any]) -> Answer:
        agents = [r["dynamodb"]["Keys"]["agentId"]["S"] for r in event["Records"]]
        if "c" in agents:
            attempts["c"] = attempts.get("c", 0) + 1
            if attempts["c"] < 3:
                return raised()
        return Answer(None, None)

    setup.fn.default = answer
    poller = setup.start(BisectBatchOnFunctionError=True)
    poller.drain()
    delivered = setup.delivered()
    assert delivered[0] == ["INSERT:a", "INSERT:b", "INSERT:c", "INSERT:d"]
    assert delivered[1] == ["INSERT:a", "INSERT:b"]  # the first half, alone
    assert delivered[-1] in (["INSERT:c"], ["INSERT:d"])
    assert sorted({a for batch in delivered[1:] for a in batch}) == ["INSERT:a", "INSERT:b", "INSERT:c", "INSERT:d"]


def test_exhausted_retries_send_the_invocation_record_to_the_on_failure_destination(setup: Setup) -> None:
    dlq_url, dlq_arn = create_queue(setup.endpoint, f"{setup.table}-dlq")
    setup.put("a", n=1)
    setup.put("b", n=1)
    setup.fn.script = [raised(), raised()]  # then ok
    poller = setup.start(MaximumRetryAttempts=1, DestinationConfig={"OnFailure": {"Destination": dlq_arn}})
    poller.drain()
    setup.put("c", n=1)  # the stream goes on after the discarded batch
    poller.drain()
    assert setup.delivered() == [["INSERT:a", "INSERT:b"], ["INSERT:a", "INSERT:b"], ["INSERT:c"]]
    [message] = client("sqs", setup.endpoint).receive_message(QueueUrl=dlq_url)["Messages"]
    document = json.loads(message["Body"])
    assert document["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert document["requestContext"]["approximateInvokeCount"] == 2
    assert document["requestContext"]["functionArn"] == poller.mapping.function_arn
    info = document["DDBStreamBatchInfo"]
    first, second = (r["dynamodb"]["SequenceNumber"] for r in setup.fn.events()[0]["Records"])
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (first, second, 2)
    assert info["streamArn"] == setup.stream_arn
    assert "Records" not in document  # the records themselves are not in it


def test_batch_size_splits_the_stream(setup: Setup) -> None:
    for agent in ("a", "b", "c"):
        setup.put(agent, n=1)
    poller = setup.start(BatchSize=2)
    poller.drain()
    assert setup.delivered() == [["INSERT:a", "INSERT:b"], ["INSERT:c"]]
