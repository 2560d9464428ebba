"""Helpers for the tests of the local stand-ins (tests/dataplane): functions in moto, scripted answers.

`ScriptedFunction` stands where AWS's Lambda runtime stands in the demo (scripts/lambda_rie.py): the
pollers, the schedules and the gateway call `invoke(function_name, event)` and read `.payload` and
`.error` of what it returns. Answers are scripted per call; every call is kept.
"""

from __future__ import annotations

import io
import json
import threading
import zipfile
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Union

from scripts.offline import client


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
