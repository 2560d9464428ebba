"""Agent presence under moto: the presence table and its stream, the presence queue, the agents' bus.

`PresenceStack` sets the environment of spec section 12, builds the (shared, in-process) Runtime and
plays the functions as their event sources would: `$connect` / `$disconnect` events, the presence
queue's messages to the checker (delivered when the test says their delay has passed), the scheduled
reconciler tick, and the presence table's stream to the announcer. Events land on an EventBridge bus
whose rule forwards them to SQS (EventsSink), so `published()` is what a consumer would receive.

Changes when the presence table, the messages, the stream records or the event delivery change.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional

import pytest
from botocore.exceptions import ClientError
from remediation_registry import handlers
from remediation_registry.runtime import Runtime

from tests.support.environment import REGION
from tests.support.events import FakeContext, connect_event, disconnect_event, now_ms, scheduled_event
from tests.support.resources import EventsSink, Table, aws_client

PRESENCE_TABLE = "remediation-presence"
QUEUE = "remediation-presence"
AGENTS_BUS = "remediation-agents"
SOURCE = "remediation.websocket"
STREAMS_ENDPOINT = f"https://streams.dynamodb.{REGION}.amazonaws.com"  # moto serves dynamodbstreams here


def client_error(operation: str, code: str, status: int = 400) -> ClientError:
    """The error a botocore client raises for an AWS error response (after its own retries)."""
    response: Any = {"Error": {"Code": code, "Message": "injected"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, operation)


class PresenceTable:
    """The presence table (key agentId, stream NEW_AND_OLD_IMAGES), read through its own client."""

    def __init__(self, name: str = PRESENCE_TABLE) -> None:
        self.name = name
        self.client = aws_client("dynamodb")
        self.client.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "agentId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "agentId", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        self.streams = aws_client("dynamodbstreams", STREAMS_ENDPOINT)
        self.stream_arn = self.client.describe_table(TableName=name)["Table"]["LatestStreamArn"]
        self._iterator: Optional[str] = None

    def get(self, agent_id: str) -> Optional[Dict[str, Any]]:
        found = self.client.get_item(TableName=self.name, Key={"agentId": {"S": agent_id}}, ConsistentRead=True)
        item: Optional[Dict[str, Any]] = found.get("Item")
        return item

    def put(self, item: Dict[str, Any]) -> None:
        self.client.put_item(TableName=self.name, Item=item)

    def state(self, agent_id: str) -> Dict[str, Any]:
        """The item as plain values: state, sequence, connections (a set), pending (bool), reason, since..."""
        item = self.get(agent_id) or {}
        plain: Dict[str, Any] = {"connections": set(item.get("connections", {}).get("SS", ()))}
        for name in ("state", "reason"):
            if name in item:
                plain[name] = item[name].get("S")
        for name in ("sequence", "since", "updatedAt", "announced"):
            if name in item and "N" in item[name]:
                plain[name] = int(item[name]["N"])
        plain["pending"] = "pending" in item
        return plain

    def records(self) -> List[Dict[str, Any]]:
        """Stream records written since the last call, as records of Lambda's DynamoDB event."""
        if self._iterator is None:
            shard = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"][0]
            self._iterator = self.streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
        found: List[Dict[str, Any]] = []
        while True:
            answer = self.streams.get_records(ShardIterator=self._iterator)
            self._iterator = answer["NextShardIterator"]
            if not answer["Records"]:
                return found
            for record in answer["Records"]:
                images = dict(record["dynamodb"])
                images.pop("ApproximateCreationDateTime", None)
                found.append(
                    {
                        "eventID": record["eventID"],
                        "eventName": record["eventName"],
                        "eventSource": "aws:dynamodb",
                        "awsRegion": REGION,
                        "dynamodb": images,
                        "eventSourceARN": self.stream_arn,
                    }
                )


class Sent(NamedTuple):
    body: Dict[str, Any]
    delay: int


class RecordingQueue:
    """The presence queue under moto, in front of the Runtime's SQS client.

    SendMessage is recorded with its DelaySeconds and forwarded without the delay, so that the test
    decides when a message is due (`deliverable()`); `fail_sends` scripts failures of the next sends
    (an exception each); DeleteMessageBatch is recorded and forwarded.
    """

    def __init__(self) -> None:
        self.sqs = aws_client("sqs")
        self.url = self.sqs.create_queue(QueueName=QUEUE, Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
        self.arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self.sent: List[Sent] = []
        self.deleted: List[str] = []  # receipt handles
        self.fail_sends: List[Exception] = []

    def send_message(self, **kwargs: Any) -> Dict[str, Any]:
        if self.fail_sends:
            raise self.fail_sends.pop(0)
        self.sent.append(Sent(json.loads(kwargs["MessageBody"]), int(kwargs.get("DelaySeconds", 0))))
        forwarded = {key: value for key, value in kwargs.items() if key != "DelaySeconds"}
        return dict(self.sqs.send_message(**forwarded))

    def delete_message_batch(self, **kwargs: Any) -> Dict[str, Any]:
        self.deleted.extend(entry["ReceiptHandle"] for entry in kwargs["Entries"])
        return dict(self.sqs.delete_message_batch(**kwargs))

    def receive(self) -> List[Dict[str, Any]]:
        """Every visible message now, as records of Lambda's SQS event (received: hidden for a minute)."""
        records: List[Dict[str, Any]] = []
        while True:
            answer = self.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, VisibilityTimeout=60, AttributeNames=["All"]
            )
            messages = answer.get("Messages", [])
            if not messages:
                return records
            records.extend(
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": message.get("Attributes", {}),
                    "messageAttributes": {},
                    "md5OfBody": message.get("MD5OfBody", ""),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.arn,
                    "awsRegion": REGION,
                }
                for message in messages
            )

    def release(self, records: Iterable[Dict[str, Any]]) -> None:
        """Make received messages visible again (their visibility timeout has passed)."""
        for record in records:
            with contextlib.suppress(ClientError):  # not a message of this queue (a test's own record)
                self.sqs.change_message_visibility(
                    QueueUrl=self.url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0
                )

    def remove(self, records: Iterable[Dict[str, Any]]) -> None:
        """Delete received messages, as the event source mapping does after a successful invocation."""
        for record in records:
            with contextlib.suppress(ClientError):  # deleted already (by the checker, or a duplicate delivery)
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=record["receiptHandle"])

    def purge(self) -> None:
        self.sqs.purge_queue(QueueUrl=self.url)


def kind_of(record: Dict[str, Any]) -> Optional[str]:
    try:
        body = json.loads(record["body"])
    except ValueError:
        return None
    return body.get("kind") if isinstance(body, dict) else None


class PresenceStack:
    """Presence on (spec section 12): tables, queue, bus, the environment, and the functions played."""

    def __init__(
        self,
        monkeypatch: pytest.MonkeyPatch,
        connections_endpoint: str,
        grace_seconds: int = 20,
        heartbeat_timeout: int = 0,
        probe_interval: int = 300,
    ) -> None:
        self.connections = Table()
        self.presence = PresenceTable()
        self.queue = RecordingQueue()
        self.events = EventsSink(bus=AGENTS_BUS)
        env = {
            "PRESENCE_TABLE": PRESENCE_TABLE,
            "PRESENCE_QUEUE_URL": self.queue.url,
            "PRESENCE_GRACE_SECONDS": str(grace_seconds),
            "PRESENCE_PROBE_INTERVAL_SECONDS": str(probe_interval),
            "HEARTBEAT_TIMEOUT_SECONDS": str(heartbeat_timeout),
            "HEARTBEAT_INTERVAL_SECONDS": str(heartbeat_timeout * 2 // 5),
            "PRESENCE_PROBE_ENDPOINT": connections_endpoint,
            "EVENT_BUS": self.events.bus,
            "EVENT_SOURCE": SOURCE,
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        self.offset = 0.0
        self.monkeypatch = monkeypatch

    def runtime(self) -> Runtime:
        """The in-process Runtime every function shares here, with the recording queue in front of SQS."""
        rt = handlers.runtime()
        rt._clients["sqs"] = self.queue
        return rt

    def advance(self, seconds: float) -> None:
        """Move the functions' presence clock `seconds` ahead (what SQS's delay and the reconciler see as
        time passing); negative: behind. Cumulative."""
        from remediation_registry.presence import store

        self.offset += seconds
        self.monkeypatch.setattr(store, "now_ms", lambda: int((time.time() + self.offset) * 1000))

    # -- the functions, as their event sources invoke them -------------------------------------------------
    def connect(
        self,
        agent_id: str,
        connection_id: str,
        connected_at: Optional[int] = None,
        query: Optional[Dict[str, str]] = None,
    ) -> Dict[str, Any]:
        """`$connect` of an agent (identity from the authorizer); `query`: the URL's query string."""
        self.runtime()
        event = connect_event(
            connection_id,
            authorizer={"clientType": "agent", "agentId": agent_id},
            connected_at=connected_at if connected_at is not None else now_ms(),
            query=query,
        )
        return handlers.connect(event, FakeContext())

    def disconnect(
        self, connection_id: str, status_code: int = 1000, reason: str = "Connection Closed Normally", **event: Any
    ) -> Dict[str, Any]:
        """API Gateway's `$disconnect` (disconnect_event's keywords: connected_at, request_time...), with the
        presence the `$disconnect` function has (T2 only: no repair)."""
        self.runtime().presence = None
        closed = disconnect_event(connection_id, status_code=status_code, reason=reason, **event)
        return handlers.disconnect(closed, FakeContext())

    def messages(self, kind: Optional[str] = None) -> List[Dict[str, Any]]:
        """The queue's messages now (received: the others of another kind are released again)."""
        records = self.queue.receive()
        chosen = [record for record in records if kind is None or kind_of(record) == kind]
        self.queue.release(record for record in records if record not in chosen)
        return chosen

    def deliver(self, records: Optional[Iterable[Dict[str, Any]]] = None, kind: Optional[str] = None) -> Any:
        """One checker invocation with these SQS records (default: every queued message of `kind`), then
        delete what the mapping deletes after a successful invocation. Returns the result or the exception."""
        batch = list(records) if records is not None else self.messages(kind)
        self.runtime()
        try:
            result = handlers.presence({"Records": batch}, FakeContext())
        except Exception as exc:
            # The mapping deletes nothing; what the checker did not delete comes back after the timeout.
            self.queue.release(record for record in batch if record["receiptHandle"] not in self.queue.deleted)
            return exc
        self.queue.remove(batch)
        return result

    def tick(self) -> Dict[str, Any]:
        self.runtime()
        return handlers.presence(scheduled_event(), FakeContext())

    def announce(self, records: Optional[List[Dict[str, Any]]] = None) -> Any:
        """One announcer invocation with the stream records written since the last call (or these)."""
        batch = records if records is not None else self.presence.records()
        self.runtime()
        try:
            return handlers.announce({"Records": batch}, FakeContext())
        except Exception as exc:
            return exc

    def published(self) -> List[Dict[str, Any]]:
        """Every agent event delivered so far (EventBridge envelope with its detail)."""
        return self.events.received()

    def details(self) -> List[Dict[str, Any]]:
        return [event["detail"] for event in self.published()]


def transitions(details: List[Dict[str, Any]], agent_id: str) -> List[tuple[int, str, str]]:
    """(sequence, state, reason) of an agent's events, in the order published."""
    return [(d["sequence"], d["state"], d["reason"]) for d in details if d["agentId"] == agent_id]


def settle(stack: PresenceStack, rounds: int = 5, until: Optional[Callable[[], bool]] = None) -> None:
    """Deliver every queued grace message and announce, a few rounds (probes are left alone)."""
    for _ in range(rounds):
        stack.deliver(kind="grace")
        stack.announce()
        if until is not None and until():
            return
