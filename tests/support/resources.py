"""AWS resources under moto: the connections table and its items, the offline-events bus (to SQS).

Changes when the table's schema (keys, index, TTL attribute) or the offline-event delivery changes.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Iterable, List, Mapping, Optional, Set

from botocore.session import get_session

from tests.support.environment import REGION
from tests.support.events import now_ms

TABLE = "remediation-connections"
INDEX = "agentId-index"
BUS = "remediation-offline"
QUEUE = "offline-events"
MAX_AGE_SECONDS = 7200 + 300  # API Gateway's 2-hour limit + the default grace


def aws_client(service: str, endpoint_url: Optional[str] = None) -> Any:
    """A botocore client, typed Any: botocore-stubs does not describe per-service operations."""
    return get_session().create_client(service, region_name=REGION, endpoint_url=endpoint_url)


def item(
    connection_id: str,
    *,
    client_type: Optional[str] = None,
    agent_id: Optional[str] = None,
    connected_at: Optional[int] = None,
    expires_at: Optional[int] = None,
    ttl_attribute: str = "expiresAt",
    **extra: str,
) -> Dict[str, Dict[str, str]]:
    """A registry item in DynamoDB JSON (connectedAt: epoch ms; expiresAt: epoch s)."""
    attributes: Dict[str, Dict[str, str]] = {"connectionId": {"S": connection_id}}
    if client_type is not None:
        attributes["clientType"] = {"S": client_type}
    if agent_id is not None:
        attributes["agentId"] = {"S": agent_id}
    if connected_at is not None:
        attributes["connectedAt"] = {"N": str(connected_at)}
    if expires_at is not None:
        attributes[ttl_attribute] = {"N": str(expires_at)}
    for name, value in extra.items():
        attributes[name] = {"S": value}
    return attributes


def live_item(connection_id: str, *, age_seconds: int = 60, **kwargs: Any) -> Dict[str, Dict[str, str]]:
    """An item as a `$connect` handler writes it: recent connectedAt, expiresAt in the future."""
    connected = now_ms() - age_seconds * 1000
    return item(connection_id, connected_at=connected, expires_at=connected // 1000 + MAX_AGE_SECONDS, **kwargs)


class Table:
    """The connections table seen through its own client (so the Runtime's client stays unobserved)."""

    def __init__(self, name: str = TABLE, *, with_index: bool = False, ttl_attribute: str = "expiresAt") -> None:
        self.name = name
        self.ttl_attribute = ttl_attribute
        self.client = aws_client("dynamodb")
        definitions = [{"AttributeName": "connectionId", "AttributeType": "S"}]
        kwargs: Dict[str, Any] = {
            "TableName": name,
            "KeySchema": [{"AttributeName": "connectionId", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if with_index:
            definitions.append({"AttributeName": "agentId", "AttributeType": "S"})
            kwargs["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": INDEX,
                    "KeySchema": [{"AttributeName": "agentId", "KeyType": "HASH"}],
                    "Projection": {
                        "ProjectionType": "INCLUDE",
                        "NonKeyAttributes": ["connectedAt", ttl_attribute, "clientType"],
                    },
                }
            ]
        kwargs["AttributeDefinitions"] = definitions
        self.client.create_table(**kwargs)

    def put(self, attributes: Mapping[str, Any]) -> str:
        self.client.put_item(TableName=self.name, Item=dict(attributes))
        return str(attributes["connectionId"]["S"])

    def put_many(self, items: Iterable[Mapping[str, Any]]) -> List[str]:
        """BatchWriteItem in 25s (resending UnprocessedItems); return the ids."""
        ids: List[str] = []
        batch: List[Dict[str, Any]] = []
        for attributes in items:
            ids.append(str(attributes["connectionId"]["S"]))
            batch.append({"PutRequest": {"Item": dict(attributes)}})
            if len(batch) == 25:
                self._write(batch)
                batch = []
        if batch:
            self._write(batch)
        return ids

    def _write(self, batch: List[Dict[str, Any]]) -> None:
        request: Dict[str, Any] = {self.name: batch}
        while request:
            request = self.client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}

    def get(self, connection_id: str) -> Optional[Dict[str, Any]]:
        response = self.client.get_item(
            TableName=self.name, Key={"connectionId": {"S": connection_id}}, ConsistentRead=True
        )
        found = response.get("Item")
        return dict(found) if found else None

    def items(self) -> Dict[str, Dict[str, Any]]:
        found: Dict[str, Dict[str, Any]] = {}
        kwargs: Dict[str, Any] = {"TableName": self.name, "ConsistentRead": True}
        while True:
            response = self.client.scan(**kwargs)
            for entry in response.get("Items", []):
                found[entry["connectionId"]["S"]] = entry
            if not response.get("LastEvaluatedKey"):
                return found
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def ids(self) -> Set[str]:
        return set(self.items())


class EventsSink:
    """An EventBridge bus whose rule (source = the offline source) forwards every event to SQS."""

    def __init__(self, source: str = "remediation.websocket", bus: str = BUS) -> None:
        self.bus = bus
        self.events = aws_client("events")
        self.sqs = aws_client("sqs")
        self.events.create_event_bus(Name=bus)
        self.queue_url = self.sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self.events.put_rule(Name="all-offline", EventBusName=bus, EventPattern=json.dumps({"source": [source]}))
        self.events.put_targets(Rule="all-offline", EventBusName=bus, Targets=[{"Id": "queue", "Arn": arn}])
        self._received: List[Dict[str, Any]] = []

    def received(self) -> List[Dict[str, Any]]:
        """Every event delivered so far (the queue is drained into a running list)."""
        while True:
            response = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            messages = response.get("Messages", [])
            if not messages:
                return list(self._received)
            for message in messages:
                self._received.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
