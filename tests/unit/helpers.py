"""Shared test helpers: event factory, table seeding, log/EMF parsing, fault injection, fakes.

Imported by tests/unit and tests/faults (conftest.py files hold the fixtures built on these).
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Set, Tuple, cast

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.client import BaseClient
from botocore.compat import HTTPHeaders
from botocore.session import get_session
from moto.core.models import botocore_stubber
from remediation_disconnect import handlers

REGION = "eu-west-1"
TABLE = "remediation-connections"
INDEX = "agentId-index"
BUS = "remediation-offline"
QUEUE = "offline-events"
CONNECTION_ID = "L0SM9cOFvHcCIhw="
SOURCE_IP = "203.0.113.7"
USER_AGENT = "RemediationAgent/4.2.1 (linux; amd64) websocket-client/1.8"
MAX_AGE_SECONDS = 7200 + 300  # API Gateway's 2-hour limit + the default grace

# Every variable config.load() reads, plus what would redirect or reconfigure botocore.
CONFIG_VARIABLES = (
    "CONNECTIONS_TABLE",
    "TTL_ATTRIBUTE",
    "CONNECTION_GRACE_SECONDS",
    "AGENT_INDEX_NAME",
    "OFFLINE_EVENT_BUS",
    "OFFLINE_EVENT_SOURCE",
    "METRICS_NAMESPACE",
    "LOG_CLIENT_ADDRESS",
    "LOG_LEVEL",
    "SWEEP_PROBE_ENDPOINT",
    "SWEEP_PROBE_MIN_AGE_SECONDS",
    "SWEEP_PROBE_CONCURRENCY",
    "SWEEP_MAX_ITEMS",
    "SWEEP_SCAN_SEGMENTS",
    "SWEEP_RATE_SECONDS",
)
AWS_VARIABLES_TO_CLEAR = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_EVENTBRIDGE",
    "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_RETRY_MODE",
    "AWS_MAX_ATTEMPTS",
    "AWS_LAMBDA_FUNCTION_NAME",
)
FAKE_AWS_ENV = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}


def now_ms() -> int:
    return int(time.time() * 1000)


# ---------------------------------------------------------------------------------------------------
# Events and contexts
# ---------------------------------------------------------------------------------------------------


def disconnect_event(
    connection_id: str = CONNECTION_ID,
    *,
    status_code: int = 1001,
    reason: str = "Going away",
    connected_at: Optional[int] = None,
    request_time: Optional[int] = None,
    duration_ms: int = 754_321,
) -> Dict[str, Any]:
    """A `$disconnect` event shaped exactly like API Gateway's (WebSocket API, Lambda proxy)."""
    end = request_time if request_time is not None else now_ms()
    start = connected_at if connected_at is not None else end - duration_ms
    headers = {
        "Host": "abc123.execute-api.eu-west-1.amazonaws.com",
        "x-api-key": "",
        "X-Forwarded-For": "",
        "x-restapi": "",
    }
    return {
        "headers": dict(headers),
        "multiValueHeaders": {key: [value] for key, value in headers.items()},
        "isBase64Encoded": False,
        "requestContext": {
            "routeKey": "$disconnect",
            "disconnectStatusCode": status_code,
            "eventType": "DISCONNECT",
            "extendedRequestId": "QSdpnFzRjoEFQjA=",
            "requestTime": "26/Nov/2026:06:45:12 +0000",
            "messageDirection": "IN",
            "disconnectReason": reason,
            "stage": "live",
            "connectedAt": start,
            "requestTimeEpoch": end,
            "identity": {"userAgent": USER_AGENT, "sourceIp": SOURCE_IP},
            "requestId": "QSdpnFzRjoEFQjA=",
            "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "connectionId": connection_id,
            "apiId": "abc123",
        },
    }


class FakeContext:
    """The slice of the Lambda context object the handlers use; remaining time is scripted."""

    def __init__(
        self, remaining: Optional[Callable[[], int]] = None, request_id: str = "c0ffee00-1111-2222-3333-444455556666"
    ) -> None:
        self.aws_request_id = request_id
        self.function_name = "remediation-disconnect"
        self._remaining = remaining or (lambda: 120_000)
        self.remaining_calls = 0

    def get_remaining_time_in_millis(self) -> int:
        self.remaining_calls += 1
        return self._remaining()


def scheduled_event(time_text: str = "2026-11-26T06:45:00Z") -> Dict[str, Any]:
    """An EventBridge scheduled event (rate(5 minutes))."""
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": time_text,
        "region": REGION,
        "resources": ["arn:aws:events:eu-west-1:123456789012:rule/remediation-sweeper"],
        "detail": {},
    }


# ---------------------------------------------------------------------------------------------------
# AWS resources (under moto)
# ---------------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------------
# Logs and EMF
# ---------------------------------------------------------------------------------------------------


def parse_log_lines(text: str) -> List[Dict[str, Any]]:
    """Every line must be one JSON object (CloudWatch Logs splits on newlines)."""
    lines: List[Dict[str, Any]] = []
    for raw in text.splitlines():
        assert raw.strip(), "blank log line"
        document = json.loads(raw)
        assert isinstance(document, dict), f"log line is not a JSON object: {raw!r}"
        lines.append(document)
    return lines


def emf_metrics(line: Mapping[str, Any]) -> Dict[str, Tuple[float, str, List[str]]]:
    """EMF metrics in a log line: name -> (value from the root, unit, the directive's dimension set)."""
    found: Dict[str, Tuple[float, str, List[str]]] = {}
    for directive in line.get("_aws", {}).get("CloudWatchMetrics", []):
        dimension_sets = directive["Dimensions"]
        assert len(dimension_sets) == 1
        for metric in directive["Metrics"]:
            found[metric["Name"]] = (line[metric["Name"]], metric["Unit"], list(dimension_sets[0]))
    return found


def emf_dimension_names(lines: Iterable[Mapping[str, Any]]) -> Set[str]:
    names: Set[str] = set()
    for line in lines:
        for directive in line.get("_aws", {}).get("CloudWatchMetrics", []):
            for dimension_set in directive["Dimensions"]:
                names.update(dimension_set)
    return names


def assert_valid_emf(line: Mapping[str, Any], namespace: str) -> None:
    """The EMF specification's structural rules for the parts the function writes."""
    metadata = line["_aws"]
    assert isinstance(metadata["Timestamp"], int)
    assert abs(metadata["Timestamp"] - now_ms()) < 3_600_000
    for directive in metadata["CloudWatchMetrics"]:
        assert directive["Namespace"] == namespace
        for dimension_set in directive["Dimensions"]:
            for dimension in dimension_set:
                assert isinstance(line[dimension], str), f"dimension {dimension} must be a string at the root"
        for metric in directive["Metrics"]:
            value = line[metric["Name"]]
            assert isinstance(value, (int, float))
            assert not isinstance(value, bool)
            assert metric["Unit"] in ("Count", "Seconds")


class LogReader:
    """Accumulates the function's stdout (via capsys) as parsed JSON lines."""

    def __init__(self, read: Callable[[], str]) -> None:
        self._read = read
        self._lines: List[Dict[str, Any]] = []
        self.raw = ""

    def lines(self) -> List[Dict[str, Any]]:
        text = self._read()
        self.raw += text
        self._lines.extend(parse_log_lines(text))
        return list(self._lines)

    def with_message(self, message: str) -> List[Dict[str, Any]]:
        return [line for line in self.lines() if line.get("message") == message]

    def one(self, message: str) -> Dict[str, Any]:
        found = self.with_message(message)
        assert len(found) == 1, f"expected one {message!r} line, got {found}"
        return found[0]

    def clear(self) -> None:
        self.lines()
        self._lines.clear()
        self.raw = ""


# ---------------------------------------------------------------------------------------------------
# Fault injection on a real botocore client
# ---------------------------------------------------------------------------------------------------


class _RawBody:
    """What botocore reads an HTTP body from (urllib3-like `stream()`)."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_kwargs: Any) -> Iterator[bytes]:
        yield self._body


def error_response(url: str, status: int, code: str, message: str) -> AWSResponse:
    """An AWS JSON-protocol (DynamoDB) error response as the service would send it."""
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}).encode()
    headers = HTTPHeaders()
    headers["Content-Type"] = "application/x-amz-json-1.0"
    headers["x-amzn-RequestId"] = "INJECTED0000000000000000000000000000000000000000000"
    return AWSResponse(url, status, headers, _RawBody(body))


Decision = Callable[[str, int], Optional[AWSResponse]]


class SendInterceptor:
    """Owns the `before-send` step of one client under mock_aws, one attempt at a time.

    botocore *emits* before-send to every handler and uses the first response, so a handler merely
    registered before moto's still lets moto execute the request: an injected "throttled" DeleteItem
    would really delete the item. This replaces moto's handler on this client only (each client has its
    own copy of the emitter) and calls it only when the decision for an attempt is "let it through".

    `decide(operation, attempt)` (attempt counts from 1 per operation name) returns a response to send
    instead of reaching moto, or None to let moto answer. `lose_response` may instead run the request
    on moto and then replace moto's answer (the write happened, the response was lost).
    """

    def __init__(
        self,
        client: Any,
        decide: Decision,
        lose_response: Optional[Callable[[str, int], Optional[AWSResponse]]] = None,
    ) -> None:
        self.decide = decide
        self.lose_response = lose_response
        self.attempts: Dict[str, int] = {}
        events = cast(BaseClient, client).meta.events
        events.unregister("before-send", cast(Callable[..., None], botocore_stubber))
        events.register("before-send", cast(Callable[..., None], self._send))

    def _send(self, request: AWSPreparedRequest, event_name: str, **kwargs: Any) -> Optional[AWSResponse]:
        operation = event_name.rsplit(".", 1)[-1]
        attempt = self.attempts[operation] = self.attempts.get(operation, 0) + 1
        injected = self.decide(operation, attempt)
        if injected is not None:
            return injected
        response: Optional[AWSResponse] = botocore_stubber(event_name=event_name, request=request, **kwargs)
        if self.lose_response is not None:
            replaced = self.lose_response(operation, attempt)
            if replaced is not None:
                return replaced
        return response


def fail_first(operation: str, count: int, status: int, code: str, message: str) -> Decision:
    """A decision that answers the first `count` attempts of `operation` with an error."""

    def decide(name: str, attempt: int) -> Optional[AWSResponse]:
        if name == operation and attempt <= count:
            return error_response(f"https://dynamodb.{REGION}.amazonaws.com/", status, code, message)
        return None

    return decide


def throttle_first(operation: str, count: int) -> Decision:
    return fail_first(operation, count, 400, "ThrottlingException", "Rate exceeded")


def count_calls(client: Any) -> List[str]:
    """Record the operation name of every API call (not HTTP attempt) the client makes."""
    calls: List[str] = []

    def before_call(model: Any, **_kwargs: Any) -> None:
        calls.append(str(model.name))

    cast(BaseClient, client).meta.events.register("before-call", before_call)
    return calls


def runtime_dynamodb(rt: Optional[handlers.Runtime] = None) -> Any:
    """The Runtime's own DynamoDB client (typed as the store's protocol in the package)."""
    return (rt or handlers.runtime()).dynamodb


# ---------------------------------------------------------------------------------------------------
# Fakes
# ---------------------------------------------------------------------------------------------------


class FakeEventsClient:
    """put_events with scripted FailedEntryCount: `fail_entries[n]` entries fail on the n-th call."""

    def __init__(self, fail_entries: Sequence[int] = (), error: Optional[Exception] = None) -> None:
        self.fail_entries = list(fail_entries)
        self.error = error
        self.calls: List[List[Dict[str, Any]]] = []

    def put_events(self, **kwargs: Any) -> Dict[str, Any]:
        entries: List[Dict[str, Any]] = list(kwargs["Entries"])
        self.calls.append(entries)
        if self.error is not None:
            raise self.error
        failing = self.fail_entries[len(self.calls) - 1] if len(self.calls) <= len(self.fail_entries) else 0
        results: List[Dict[str, Any]] = []
        for position in range(len(entries)):
            if position < failing:
                results.append({"ErrorCode": "InternalFailure", "ErrorMessage": "injected"})
            else:
                results.append({"EventId": f"event-{len(self.calls)}-{position}"})
        return {"FailedEntryCount": min(failing, len(entries)), "Entries": results}

    def details(self) -> List[Dict[str, Any]]:
        return [json.loads(entry["Detail"]) for call in self.calls for entry in call]


class WrappedDynamoDB:
    """Delegates to a real (moto) DynamoDB client, with scripted misbehaviour on top.

    batch_write_item leaves the ids in `stuck` unprocessed (really not deleted) on its first
    `stuck_times` calls (every call when None); `before_conditional_delete(key_id)` runs just before a
    conditional DeleteItem reaches the table (to change the item between the sweeper's scan and delete).
    """

    def __init__(
        self,
        client: Any,
        *,
        stuck: Iterable[str] = (),
        stuck_times: Optional[int] = None,
        before_conditional_delete: Optional[Callable[[str], None]] = None,
    ) -> None:
        self.client = client
        self.exceptions = client.exceptions
        self.stuck = set(stuck)
        self.stuck_times = stuck_times
        self.before_conditional_delete = before_conditional_delete
        self.batch_requests: List[List[str]] = []
        self.deletes: List[Dict[str, Any]] = []

    def delete_item(self, **kwargs: Any) -> Dict[str, Any]:
        self.deletes.append(kwargs)
        if "ConditionExpression" in kwargs and self.before_conditional_delete is not None:
            self.before_conditional_delete(kwargs["Key"]["connectionId"]["S"])
        return cast(Dict[str, Any], self.client.delete_item(**kwargs))

    def batch_write_item(self, **kwargs: Any) -> Dict[str, Any]:
        [(table, requests)] = kwargs["RequestItems"].items()
        self.batch_requests.append([request["DeleteRequest"]["Key"]["connectionId"]["S"] for request in requests])
        holding = self.stuck_times is None or len(self.batch_requests) <= self.stuck_times
        held = [r for r in requests if holding and r["DeleteRequest"]["Key"]["connectionId"]["S"] in self.stuck]
        sent = [r for r in requests if r not in held]
        if sent:
            left = self.client.batch_write_item(RequestItems={table: sent}).get("UnprocessedItems") or {}
            assert not left, "moto does not throttle"
        return {"UnprocessedItems": {table: held} if held else {}}

    def scan(self, **kwargs: Any) -> Dict[str, Any]:
        return cast(Dict[str, Any], self.client.scan(**kwargs))

    def query(self, **kwargs: Any) -> Dict[str, Any]:
        return cast(Dict[str, Any], self.client.query(**kwargs))
