"""Helpers for the tests of the local stand-ins (tests/dataplane): functions in moto, scripted answers.

`ScriptedFunction` stands where AWS's Lambda runtime stands in the demo (scripts/lambda_rie.py): the
pollers, the schedules and the gateway call `invoke(function_name, event)` and read `.payload` and
`.error` of what it returns. Answers are scripted per call; every call is kept.
"""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence, Set, Union

from scripts.offline import client
from scripts.ws_events import Routes
from scripts.ws_gateway import Gateway


class Answer(NamedTuple):
    payload: Any
    error: Optional[Dict[str, Any]]
    request_id: str = "req"


def raised(message: str = "boom") -> Answer:
    """What an unhandled exception of the function looks like to its caller."""
    document = {"errorType": "RuntimeError", "errorMessage": message}
    return Answer(document, document)


Script = Union[Answer, Callable[[Dict[str, Any]], Answer]]


class ScriptedFunction:
    """invoke(name, event) -> the next scripted answer (the last one repeats), or `default`."""

    def __init__(self, default: Optional[Script] = None) -> None:
        self.calls: List[tuple[str, Dict[str, Any]]] = []
        self.script: List[Script] = []
        self.default: Script = default if default is not None else Answer(None, None)
        self._lock = threading.Lock()
        self.called = threading.Condition(self._lock)

    def __call__(self, name: str, event: Dict[str, Any]) -> Answer:
        with self._lock:
            self.calls.append((name, json.loads(json.dumps(event))))
            script = self.script.pop(0) if self.script else self.default
            self.called.notify_all()
        return script(event) if callable(script) else script

    def events(self, name: Optional[str] = None) -> List[Dict[str, Any]]:
        with self._lock:
            return [event for called, event in self.calls if name is None or called == name]

    def wait_calls(self, count: int, timeout: float = 15) -> None:
        with self._lock:
            if not self.called.wait_for(lambda: len(self.calls) >= count, timeout):
                raise TimeoutError(f"{len(self.calls)} call(s), expected {count}")


def create_function(endpoint: str, name: str, region: str = "us-east-1") -> str:
    """A function in moto (code never runs: the tests invoke a ScriptedFunction in its place); its ARN."""
    iam = client("iam", endpoint, region)
    role_name = f"{name}-role"
    try:
        role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        role = iam.get_role(RoleName=role_name)["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return None\n")
    code = {"ZipFile": buffer.getvalue()}
    created = client("lambda", endpoint, region).create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="handler.handler", Code=code
    )
    return str(created["FunctionArn"])


def create_queue(endpoint: str, name: str, region: str = "us-east-1", **attributes: str) -> tuple[str, str]:
    """An SQS queue; (its URL, its ARN)."""
    sqs = client("sqs", endpoint, region)
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return str(url), str(arn)


def create_stream_table(endpoint: str, name: str, region: str = "us-east-1") -> str:
    """A table keyed by agentId (S) with a NEW_AND_OLD_IMAGES stream, like the presence table; the stream ARN."""
    dynamodb = client("dynamodb", endpoint, region)
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "agentId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "agentId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return str(dynamodb.describe_table(TableName=name)["Table"]["LatestStreamArn"])


def websocket_api(
    endpoint: str,
    name: str,
    routes: Dict[str, str],
    connect_authorization: str = "NONE",
    two_way: Sequence[str] = (),
    region: str = "us-east-1",
) -> str:
    """A WebSocket API in moto; its id. `routes`: route key -> a function name (a Lambda proxy
    integration; the function is created) or "MOCK" (request template {"statusCode": 200}, as the
    module's heartbeat route). Routes in `two_way` get a `$default` route response; a MOCK one also an
    integration response /200/ whose template is {"action":"pong"}."""
    api = client("apigatewayv2", endpoint, region)
    api_id = str(
        api.create_api(Name=name, ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action")["ApiId"]
    )
    for route_key, target in routes.items():
        if target == "MOCK":
            integration = api.create_integration(
                ApiId=api_id,
                IntegrationType="MOCK",
                RequestTemplates={"$default": '{"statusCode": 200}'},
                TemplateSelectionExpression="\\$default",
            )
            if route_key in two_way:
                api.create_integration_response(
                    ApiId=api_id,
                    IntegrationId=integration["IntegrationId"],
                    IntegrationResponseKey="/200/",
                    ResponseTemplates={"$default": '{"action":"pong"}'},
                    TemplateSelectionExpression="\\$default",
                )
        else:
            try:
                arn = create_function(endpoint, target, region)
            except client("lambda", endpoint, region).exceptions.ResourceConflictException:
                arn = f"arn:aws:lambda:{region}:123456789012:function:{target}"
            uri = f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations"
            integration = api.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=uri)
        extra: Dict[str, Any] = {}
        if route_key == "$connect":
            extra["AuthorizationType"] = connect_authorization
        if route_key in two_way:
            extra["RouteResponseSelectionExpression"] = "$default"
        route = api.create_route(
            ApiId=api_id, RouteKey=route_key, Target=f"integrations/{integration['IntegrationId']}", **extra
        )
        if route_key in two_way:
            api.create_route_response(ApiId=api_id, RouteId=route["RouteId"], RouteResponseKey="$default")
    return api_id


@contextmanager
def running_gateway(endpoint: str, api_id: str, invoke: Any, **options: Any) -> Iterator[Gateway]:
    """The local gateway in front of an API of the moto server."""
    gateway = Gateway(Routes.load(api_id, endpoint), "live", invoke, **options).start()
    try:
        yield gateway
    finally:
        gateway.stop()


def new_connection(gateway: Gateway, before: Set[str], timeout: float = 10) -> str:
    """The id of the one connection opened since `before` was taken."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = gateway.live_ids() - before
        if new:
            [cid] = new
            return cid
        time.sleep(0.01)
    raise TimeoutError("no new connection")
