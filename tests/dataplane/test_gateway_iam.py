"""AWS_IAM on `$connect` through the local gateway: SigV4 against the key store, IAM policies from moto,
requestContext.identity as API Gateway fills it; a refusal is HTTP 403 with nothing invoked."""

from __future__ import annotations

import json
from typing import Any, Dict, Iterator, List

import pytest
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from scripts.offline import client
from scripts.sigv4_presign import presign, signed_headers
from scripts.ws_credentials import Principal, assume_role
from scripts.ws_gateway import Gateway
from tests.support.dataplane import Answer, ScriptedFunction, new_connection, running_gateway, websocket_api


def role(endpoint: str, name: str, statements: List[Dict[str, Any]]) -> str:
    iam = client("iam", endpoint)
    arn = str(iam.create_role(RoleName=name, Path="/agents/", AssumeRolePolicyDocument="{}")["Role"]["Arn"])
    if statements:
        document = {"Version": "2012-10-17", "Statement": statements}
        iam.put_role_policy(RoleName=name, PolicyName="connect", PolicyDocument=json.dumps(document))
    return arn


def invoke_connect(api_id: str) -> Dict[str, Any]:
    return {
        "Effect": "Allow",
        "Action": "execute-api:Invoke",
        "Resource": f"arn:aws:execute-api:*:*:{api_id}/live/$connect",
    }


@pytest.fixture
def fn() -> ScriptedFunction:
    return ScriptedFunction(Answer({"statusCode": 200}, None))


@pytest.fixture
def api(endpoint: str, name: str) -> str:
    routes = {"$connect": name, "$disconnect": name, "$default": name, "heartbeat": "MOCK"}
    return websocket_api(endpoint, name, routes, connect_authorization="AWS_IAM")


@pytest.fixture
def gateway(endpoint: str, api: str, fn: ScriptedFunction) -> Iterator[Gateway]:
    with running_gateway(endpoint, api, fn) as started:
        yield started


def agent(gateway: Gateway, endpoint: str, name: str, statements: List[Dict[str, Any]]) -> Principal:
    return assume_role(gateway.credentials, endpoint, role(endpoint, name, statements), "agent-07")


def refused(url: str, **options: Any) -> int:
    with pytest.raises(InvalidStatus) as caught:
        connect(url, open_timeout=30, **options)
    return int(caught.value.response.status_code)


def test_an_allowed_role_connects_with_its_identity(
    gateway: Gateway, endpoint: str, name: str, api: str, fn: ScriptedFunction
) -> None:
    principal = agent(gateway, endpoint, name, [invoke_connect(api)])
    before = gateway.live_ids()
    url = presign(gateway.url + "?v=2", principal.credentials, "us-east-1")
    with connect(url, open_timeout=30, user_agent_header="agent/1.0") as ws:
        cid = new_connection(gateway, before)
        ws.send(json.dumps({"action": "something"}))  # -> $default
        ws.send(json.dumps({"action": "heartbeat"}))
        management = client("apigatewaymanagementapi", gateway.connections_api.endpoint)
        # GetConnection's Identity has SourceIp and UserAgent only: no IAM identity (botocore's model)
        assert management.get_connection(ConnectionId=cid)["Identity"] == {
            "SourceIp": "127.0.0.1",
            "UserAgent": "agent/1.0",
        }
    gateway.wait_closed(cid)
    connect_event, message_event, disconnect_event = fn.events()
    role_id = client("iam", endpoint).get_role(RoleName=name)["Role"]["RoleId"]
    assert connect_event["requestContext"]["identity"] == {
        "accountId": "123456789012",
        "caller": f"{role_id}:agent-07",
        "sourceIp": "127.0.0.1",
        "accessKey": principal.access_key_id,
        "user": f"{role_id}:agent-07",
        "userArn": f"arn:aws:sts::123456789012:assumed-role/{name}/agent-07",  # no role path
        "userAgent": "agent/1.0",
    }
    assert connect_event["queryStringParameters"]["v"] == "2"
    # Later events: what an unauthenticated connection's events show (the IAM identity is not repeated).
    for later in (message_event, disconnect_event):
        assert later["requestContext"]["identity"] == {"userAgent": "agent/1.0", "sourceIp": "127.0.0.1"}


def test_later_events_can_repeat_the_identity(endpoint: str, api: str, name: str, fn: ScriptedFunction) -> None:
    """Undocumented either way (/work/notes/aws-facts.md section 4): an option, off by default."""
    with running_gateway(endpoint, api, fn, repeat_iam_identity=True) as gateway:
        principal = agent(gateway, endpoint, name, [invoke_connect(api)])
        before = gateway.live_ids()
        with connect(presign(gateway.url, principal.credentials, "us-east-1"), open_timeout=30):
            cid = new_connection(gateway, before)
        gateway.wait_closed(cid)
    [_, disconnect_event] = fn.events()
    assert disconnect_event["requestContext"]["identity"]["userArn"].endswith(f"assumed-role/{name}/agent-07")


def test_a_url_presigned_by_botocore_is_accepted(gateway: Gateway, endpoint: str, name: str, api: str) -> None:
    principal = agent(gateway, endpoint, name, [invoke_connect(api)])
    request = AWSRequest(method="GET", url=gateway.url.replace("ws://", "https://"))
    SigV4QueryAuth(principal.credentials, "execute-api", "us-east-1", 300).add_auth(request)
    with connect(str(request.url).replace("https://", "ws://"), open_timeout=30) as ws:
        assert ws.protocol.state.name == "OPEN"


def test_a_header_signed_handshake_is_accepted(gateway: Gateway, endpoint: str, name: str, api: str) -> None:
    principal = agent(gateway, endpoint, name, [invoke_connect(api)])
    headers = signed_headers(gateway.url, principal.credentials, "us-east-1")
    with connect(gateway.url, open_timeout=30, additional_headers=headers) as ws:
        assert ws.protocol.state.name == "OPEN"


@pytest.mark.parametrize(
    "case",
    ["unsigned", "no policy", "denied", "other stage", "wrong secret", "wrong region", "unknown key", "tampered"],
)
def test_refusals_are_403_and_invoke_nothing(
    gateway: Gateway, endpoint: str, name: str, api: str, fn: ScriptedFunction, case: str
) -> None:
    statements = {
        "no policy": [],
        "denied": [invoke_connect(api), {"Effect": "Deny", "Action": "execute-api:*", "Resource": "*"}],
        "other stage": [
            {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": f"arn:aws:execute-api:*:*:{api}/test/*"}
        ],
    }.get(case, [invoke_connect(api)])
    principal = agent(gateway, endpoint, name, statements)
    credentials = principal.credentials
    region = "eu-west-1" if case == "wrong region" else "us-east-1"
    if case == "wrong secret":
        credentials = principal._replace(secret_access_key="x" * 40).credentials
    if case == "unknown key":
        gateway.credentials.revoke(principal.access_key_id)
    url = gateway.url + "?clientType=agent"
    if case != "unsigned":
        url = presign(url, credentials, region)
    if case == "tampered":
        url = url.replace("clientType=agent", "clientType=dashboard")
    assert refused(url) == 403
    assert fn.calls == []
    [record] = gateway.records
    assert (record.route_key, record.status, record.invocation) == ("$connect AWS_IAM", 403, None)
    assert record.note.startswith("refused: ")
