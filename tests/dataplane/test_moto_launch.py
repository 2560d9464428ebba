"""The moto gaps scripts/moto_launch.py corrects: shown on moto as released (in process), and corrected on
the server the stand-ins use. If a moto upgrade closes a gap, its "released" test fails: drop the
correction then."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models import dynamodb_backends

from scripts import moto_launch
from scripts.offline import client
from tests.support.dataplane import create_function, create_queue, create_stream_table


def _records(dynamodb_streams: Any, stream_arn: str) -> List[Dict[str, Any]]:
    shard = dynamodb_streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = dynamodb_streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records: List[Dict[str, Any]] = dynamodb_streams.get_records(ShardIterator=iterator)["Records"]
    return records


def _writes(dynamodb: Any, table: str) -> None:
    """Create "a" with UpdateItem, write it again unchanged, then change it."""
    update = {
        "TableName": table,
        "Key": {"agentId": {"S": "a"}},
        "UpdateExpression": "SET n = :n",
        "ExpressionAttributeValues": {":n": {"N": "1"}},
    }
    dynamodb.update_item(**update)
    dynamodb.put_item(TableName=table, Item={"agentId": {"S": "a"}, "n": {"N": "1"}})
    dynamodb.update_item(**{**update, "ExpressionAttributeValues": {":n": {"N": "2"}}})


def test_released_moto_writes_extra_stream_records() -> None:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "agentId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "agentId", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        _writes(dynamodb, "t")
        # In process, moto does not route dynamodbstreams requests: read its shard directly.
        shard = dynamodb_backends["123456789012"]["us-east-1"].get_table("t").stream_shard
        assert shard is not None
        names = [record.record["eventName"] for record in shard.items]
    # two INSERTs for one UpdateItem, a MODIFY for the write that changed nothing
    assert names == ["INSERT", "INSERT", "MODIFY", "MODIFY"]


def test_released_moto_plays_a_mapped_queues_poller_itself() -> None:
    """Without Docker, moto's own poller takes every message sent to a mapped queue. (Without a Docker
    daemon and in moto's default mode, it receives them and puts them back, ApproximateReceiveCount 2:
    the case of the offline runs; the Docker-free mode used here behaves the same with or without a
    daemon on the machine.)"""
    with mock_aws(config={"lambda": {"use_docker": False}}):
        iam = boto3.client("iam", region_name="us-east-1")
        role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        lam = boto3.client("lambda", region_name="us-east-1")
        code = (Path(__file__).parents[2] / "function" / "dist" / "disconnect.zip").read_bytes()
        lam.create_function(FunctionName="f", Runtime="python3.12", Role=role, Handler="h.h", Code={"ZipFile": code})
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="q")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="f")
        sqs.send_message(QueueUrl=url, MessageBody="x")
        assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []


def test_the_server_writes_one_record_per_change(endpoint: str, name: str) -> None:
    arn = create_stream_table(endpoint, name)
    _writes(client("dynamodb", endpoint), name)
    records = _records(client("dynamodbstreams", endpoint), arn)
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY"]
    assert records[0]["dynamodb"]["NewImage"] == {"agentId": {"S": "a"}, "n": {"N": "1"}}
    first, second = (int(r["dynamodb"]["SequenceNumber"]) for r in records)
    assert second == first + 1


# Corrections 3 and 6 under the interleavings a threaded server allows, played deterministically in
# process: `between` runs inside an UpdateItem, after moto stored the bare key and before it applies the
# update (what another request thread can do there).


def _between(monkeypatch: pytest.MonkeyPatch, between: Callable[[], None]) -> None:
    from moto.dynamodb import models

    executor = models.UpdateExpressionExecutor  # type: ignore[attr-defined]

    class Paused(executor):  # type: ignore[misc,valid-type]
        def execute(self, *args: Any, **kwargs: Any) -> Any:
            between()
            return super().execute(*args, **kwargs)

    monkeypatch.setattr(models, "UpdateExpressionExecutor", Paused)


def _corrected(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's moto with the server's corrections 3 and 6 (undone after the test)."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import StreamShard

    monkeypatch.setattr(StreamShard, "add", StreamShard.add)
    for name in moto_launch.ITEM_OPERATIONS:
        monkeypatch.setattr(DynamoDBBackend, name, getattr(DynamoDBBackend, name))
    moto_launch._faithful_stream_records()
    moto_launch._atomic_item_writes()


def _create_agent(dynamodb: Any, number: int = 0) -> None:
    dynamodb.update_item(
        TableName="t",
        Key={"agentId": {"S": f"agent-{number}"}},
        UpdateExpression="SET #s = :online, #q = if_not_exists(#q, :zero) + :one",
        ConditionExpression="attribute_not_exists(#s)",
        ExpressionAttributeNames={"#s": "state", "#q": "sequence"},
        ExpressionAttributeValues={":online": {"S": "online"}, ":zero": {"N": "0"}, ":one": {"N": "1"}},
    )


def _stream_table() -> Tuple[Any, Any]:
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    dynamodb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "agentId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "agentId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    shard = dynamodb_backends["123456789012"]["us-east-1"].get_table("t").stream_shard
    return dynamodb, shard


def _poll(shard: Any, position: List[int]) -> List[Dict[str, Any]]:
    """One GetRecords from the reader's position (a sequence number), moving it past what it read."""
    records = shard.get(position[0], 1000)
    if records:
        position[0] = max(int(r["dynamodb"]["SequenceNumber"]) for r in records) + 1
    return [r for r in records if r["eventName"] == "INSERT"]


@pytest.mark.parametrize("corrected", [False, True], ids=["released", "corrected"])
def test_a_read_between_moto_s_two_steps_of_an_update_still_gets_the_insert(
    monkeypatch: pytest.MonkeyPatch, corrected: bool
) -> None:
    """The announcer's poller reads while `$connect` creates an agent's item: the item's INSERT, with its
    whole image, reaches the poller once. (An earlier correction 3 replaced the bare-key record in place
    after the read had passed it: the INSERT was lost, 3-8 agents' first online event per 1,000.)"""
    with mock_aws():
        dynamodb, shard = _stream_table()
        position = [shard.starting_sequence_number]
        read: List[Dict[str, Any]] = []
        _between(monkeypatch, lambda: read.extend(_poll(shard, position)))
        if corrected:
            _corrected(monkeypatch)
        _create_agent(dynamodb)
        read.extend(_poll(shard, position))
    images = [record["dynamodb"].get("NewImage") for record in read]
    whole = {"agentId": {"S": "agent-0"}, "state": {"S": "online"}, "sequence": {"N": "1"}}
    assert images == ([whole] if corrected else [{"agentId": {"S": "agent-0"}}, whole])


@pytest.mark.parametrize("corrected", [False, True], ids=["released", "corrected"])
def test_two_conditional_writes_racing_on_one_item_succeed_once(
    monkeypatch: pytest.MonkeyPatch, corrected: bool
) -> None:
    """Two `$connect`s of one agent bring it online at once: released moto lets the second request's
    condition pass while the first is between its check and its write (both win); corrected, the second
    waits and fails its condition, as in DynamoDB."""
    outcomes: List[str] = []
    with mock_aws():
        dynamodb, _ = _stream_table()
        first = threading.current_thread()

        def second() -> None:
            try:
                _create_agent(dynamodb)
                outcomes.append("won")
            except dynamodb.exceptions.ConditionalCheckFailedException:
                outcomes.append("lost")

        other = threading.Thread(target=second)

        def race() -> None:
            if threading.current_thread() is first and not other.is_alive() and not outcomes:
                other.start()
                other.join(1.0)  # done, unless it waits for this write (corrected)

        _between(monkeypatch, race)
        if corrected:
            _corrected(monkeypatch)
        _create_agent(dynamodb)
        outcomes.append("won")
        other.join(10)
        [item] = dynamodb.scan(TableName="t")["Items"]
    assert sorted(outcomes) == (["lost", "won"] if corrected else ["won", "won"])
    assert item["sequence"] == {"N": "1"}  # released: two "transitions" to the same sequence


def test_a_mapping_leaves_the_stream_and_the_queue_to_the_pollers(endpoint: str, name: str) -> None:
    """moto (without Docker) empties the shard after each write and receives each queue's messages on
    every SendMessage once a mapping exists; on this server a mapping is a control-plane record only."""
    create_function(endpoint, name)
    stream_arn = create_stream_table(endpoint, name)
    url, queue_arn = create_queue(endpoint, name)
    lam = client("lambda", endpoint)
    lam.create_event_source_mapping(EventSourceArn=stream_arn, FunctionName=name, StartingPosition="LATEST")
    lam.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=name)
    client("dynamodb", endpoint).put_item(TableName=name, Item={"agentId": {"S": "a"}})
    sqs = client("sqs", endpoint)
    sqs.send_message(QueueUrl=url, MessageBody="one")
    sqs.send_message(QueueUrl=url, MessageBody="two")
    assert [r["eventName"] for r in _records(client("dynamodbstreams", endpoint), stream_arn)] == ["INSERT"]
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    assert sorted(m["Attributes"]["ApproximateReceiveCount"] for m in received) == ["1", "1"]
    mapped = {m["EventSourceArn"] for m in lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]}
    assert mapped == {stream_arn, queue_arn}


def _queue_with_dead_letters(sqs: Any) -> str:
    dead = sqs.create_queue(QueueName="dead")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": 10}, separators=(",", ":"))
    url: str = sqs.create_queue(QueueName="work", Attributes={"RedrivePolicy": policy})["QueueUrl"]
    return url


def test_released_moto_answers_a_redrive_policy_with_spaces() -> None:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = _queue_with_dead_letters(sqs)
        policy = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"]
    assert '", "maxReceiveCount": 10' in policy


def test_the_server_answers_a_redrive_policy_as_compact_json(endpoint: str) -> None:
    sqs = client("sqs", endpoint)
    url = _queue_with_dead_letters(sqs)
    policy = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"]
    assert policy.endswith('","maxReceiveCount":10}')
    assert " " not in policy
