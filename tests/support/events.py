"""What an invocation receives: API Gateway `$connect` / `$disconnect` events, scheduled events, the Lambda context.

Changes when the shape of an incoming event or of the context object the handlers use changes.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, Optional

from tests.support.environment import REGION

CONNECTION_ID = "L0SM9cOFvHcCIhw="
SOURCE_IP = "203.0.113.7"
USER_AGENT = "RemediationAgent/4.2.1 (linux; amd64) websocket-client/1.8"


def now_ms() -> int:
    return int(time.time() * 1000)


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


CONNECTED_AT = 1_795_000_000_123  # epoch ms, as API Gateway sends requestContext.connectedAt


def connect_event(
    connection_id: str = CONNECTION_ID,
    *,
    authorizer: Optional[Dict[str, Any]] = None,
    query: Optional[Dict[str, str]] = None,
    caller: Optional[Dict[str, Any]] = None,
    connected_at: int = CONNECTED_AT,
) -> Dict[str, Any]:
    """A `$connect` event shaped like API Gateway's (Lambda proxy integration): with `authorizer`, a
    REQUEST authorizer's context; with `caller`, the requestContext.identity fields of an AWS_IAM-signed
    handshake (userArn, caller, accountId, accessKey, user, as API Gateway fills them)."""
    context: Dict[str, Any] = {
        "routeKey": "$connect",
        "eventType": "CONNECT",
        "extendedRequestId": "QSdpnFzRjoEFQjA=",
        "requestTime": "26/Nov/2026:06:45:12 +0000",
        "messageDirection": "IN",
        "stage": "live",
        "connectedAt": connected_at,
        "requestTimeEpoch": connected_at + 12,
        "identity": {"userAgent": "RemediationAgent/4.2.1", "sourceIp": SOURCE_IP, **(caller or {})},
        "requestId": "QSdpnFzRjoEFQjA=",
        "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
        "connectionId": connection_id,
        "apiId": "abc123",
    }
    if authorizer is not None:
        context["authorizer"] = {"principalId": "user", "integrationLatency": 12, **authorizer}
    event: Dict[str, Any] = {
        "headers": {"Host": "abc123.execute-api.eu-west-1.amazonaws.com", "Sec-WebSocket-Version": "13"},
        "isBase64Encoded": False,
        "requestContext": context,
    }
    if query is not None:
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = {key: [value] for key, value in query.items()}
    return event


def iam_caller(user_arn: str, account: str = "123456789012") -> Dict[str, Any]:
    """requestContext.identity of an AWS_IAM-authorized `$connect`, as API Gateway fills it."""
    session = user_arn.rsplit("/", 1)[-1]
    return {
        "userArn": user_arn,
        "accountId": account,
        "caller": f"AROAEXAMPLEUNIQUEID01:{session}",
        "user": f"AROAEXAMPLEUNIQUEID01:{session}",
        "accessKey": "ASIAEXAMPLEACCESSKEY",
        "principalOrgId": "o-exampleorg",
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
