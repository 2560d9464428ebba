"""Fault injection on a real botocore client under moto: error responses, throttling, call counting.

Changes when botocore's or moto's request pipeline changes (how `before-send` is dispatched).
"""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, Iterator, List, Optional, cast

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.client import BaseClient
from botocore.compat import HTTPHeaders
from moto.core.models import botocore_stubber

from tests.support.environment import REGION


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


def lose_first_delete_response(operation: str, attempt: int) -> Optional[AWSResponse]:
    """For SendInterceptor's `lose_response`: the first DeleteItem reaches the table, but its answer is
    lost (500), so botocore retries it and the retry finds nothing to return."""
    if operation == "DeleteItem" and attempt == 1:
        return error_response(f"https://dynamodb.{REGION}.amazonaws.com/", 500, "InternalServerError", "lost")
    return None
