"""Stand-ins for AWS clients with scripted misbehaviour (partial EventBridge failures, stuck batch items,
SQS sends that fail, DynamoDB writes interleaved with another function's).

Changes when the function calls a new operation on these clients or a new failure mode needs scripting.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, cast


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


class FakeSQSClient:
    """send_message recorded (body parsed, DelaySeconds); `errors` scripts failures of the next sends."""

    def __init__(self, errors: Sequence[Exception] = ()) -> None:
        self.errors = list(errors)
        self.sent: List[Dict[str, Any]] = []

    def send_message(self, **kwargs: Any) -> Dict[str, Any]:
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append({"body": json.loads(kwargs["MessageBody"]), "delay": kwargs.get("DelaySeconds")})
        return {"MessageId": f"message-{len(self.sent)}"}


class Interleaved:
    """A client (moto's) that runs `before(operation, n, kwargs)` just before its n-th call of `operation`
    ("update_item", "delete_item", ...; n from 1): another function's requests landing between two of
    this one's. The calls themselves pass through."""

    def __init__(self, client: Any, before: Callable[[str, int, Dict[str, Any]], None]) -> None:
        self.client = client
        self.exceptions = client.exceptions
        self.meta = client.meta
        self.before = before
        self.calls: Dict[str, int] = {}

    def __getattr__(self, operation: str) -> Any:
        method = getattr(self.client, operation)

        def call(**kwargs: Any) -> Any:
            count = self.calls[operation] = self.calls.get(operation, 0) + 1
            self.before(operation, count, kwargs)
            return method(**kwargs)

        return call


class WrappedDynamoDB:
    """Delegates to a real (moto) DynamoDB client, with scripted misbehaviour on top.

    batch_write_item leaves the ids in `stuck` unprocessed (really not deleted) on its first
    `stuck_times` calls (every call when None); `before_conditional_delete(key_id)` runs just before a
    conditional DeleteItem reaches the table (to change the item between the sweeper's scan and delete).
    Scan, Query and the sweeper's position item (GetItem / PutItem) pass through unchanged.
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

    def get_item(self, **kwargs: Any) -> Dict[str, Any]:
        return cast(Dict[str, Any], self.client.get_item(**kwargs))

    def put_item(self, **kwargs: Any) -> Dict[str, Any]:
        return cast(Dict[str, Any], self.client.put_item(**kwargs))
