"""scripts/live_stack.py wires what a stack applied: the functions' event source mappings and schedules,
the gateway, and the client helpers (IAM-signed, silent host), here with scripted functions in place of
the runtime emulator (the end-to-end tests run it with the real one)."""

from __future__ import annotations

import json
import time
from typing import Any, Dict, Iterator

import pytest

from scripts.live_stack import Refused, Stack, function_names, live_stack
from scripts.offline import client
from tests.support.dataplane import (
    Answer,
    ScriptedFunction,
    create_function,
    create_queue,
    create_stream_table,
    websocket_api,
)


@pytest.fixture
def fn() -> ScriptedFunction:
    return ScriptedFunction(Answer({"statusCode": 200}, None))


@pytest.fixture
def outputs(endpoint: str, name: str) -> Dict[str, Any]:
    """A stack shaped like the presence design: $connect / $disconnect functions, a MOCK heartbeat, a
    checker fed by SQS and ticked by a schedule, an announcer fed by the presence table's stream;
    plus another stack's mapping, which must not be polled."""
    api_id = websocket_api(
        endpoint,
        name,
        {"$connect": f"{name}-connect", "$disconnect": name, "heartbeat": "MOCK"},
        connect_authorization="AWS_IAM",
    )
    lam = client("lambda", endpoint)
    checker, announcer = create_function(endpoint, f"{name}-presence"), create_function(endpoint, f"{name}-events")
    url, queue_arn = create_queue(endpoint, f"{name}-presence", VisibilityTimeout="5")
    lam.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=checker, BatchSize=10)
    stream_arn = create_stream_table(endpoint, f"{name}-presence")
    lam.create_event_source_mapping(EventSourceArn=stream_arn, FunctionName=announcer, StartingPosition="LATEST")
    events = client("events", endpoint)
    events.put_rule(Name=f"{name}-reconcile", ScheduleExpression="rate(1 minute)")
    events.put_targets(Rule=f"{name}-reconcile", Targets=[{"Id": "checker", "Arn": checker}])
    other = create_function(endpoint, f"other-{name}")
    lam.create_event_source_mapping(EventSourceArn=create_queue(endpoint, f"other-{name}")[1], FunctionName=other)
    return {
        "api_id": api_id,
        "function_name": name,
        "connect_function_name": f"{name}-connect",
        "stage_name": "live",
        "presence_table_name": f"{name}-presence",
        "presence_queue_url": url,
        "agent_events_queue_url": create_queue(endpoint, f"{name}-agent-events")[0],
    }


@pytest.fixture
def stack(outputs: Dict[str, Any], endpoint: str, fn: ScriptedFunction) -> Iterator[Stack]:
    with live_stack(outputs, endpoint, invoke=fn, idle_timeout=2, close_timeout=0.5) as live:
        yield live


def allow_connect(endpoint: str, role_name: str, api_id: str) -> str:
    iam = client("iam", endpoint)
    arn = str(iam.create_role(RoleName=role_name, AssumeRolePolicyDocument="{}")["Role"]["Arn"])
    statement = {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": f"arn:aws:execute-api:*:*:{api_id}/*"}
    document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    iam.put_role_policy(RoleName=role_name, PolicyName="connect", PolicyDocument=document)
    return arn


def test_the_stacks_functions_mappings_and_schedules(stack: Stack, outputs: Dict[str, Any], endpoint: str) -> None:
    name = outputs["function_name"]
    names = function_names(outputs, stack.gateway.routes, endpoint)
    assert names == sorted([name, f"{name}-connect", f"{name}-events", f"{name}-presence"])
    polled = sorted((p.mapping.function_name, p.mapping.service) for p in stack.pollers.pollers)
    assert polled == [(f"{name}-events", "dynamodb"), (f"{name}-presence", "sqs")]
    assert stack.schedules is not None
    assert list(stack.schedules.schedules) == [f"{name}-reconcile"]


def test_queue_stream_and_schedule_reach_their_functions(
    stack: Stack, outputs: Dict[str, Any], endpoint: str, fn: ScriptedFunction
) -> None:
    name = outputs["function_name"]
    client("sqs", endpoint).send_message(QueueUrl=outputs["presence_queue_url"], MessageBody='{"kind":"probe"}')
    item = {"agentId": {"S": "agent-07"}, "state": {"S": "online"}, "connections": {"SS": ["b", "a"]}}
    client("dynamodb", endpoint).put_item(TableName=outputs["presence_table_name"], Item=item)
    stack.drain(timeout=30)
    [ticked] = stack.tick(f"{name}-presence")  # by the function's name: its one rule
    assert ticked.rule == f"{name}-reconcile"
    kinds = {(called, event.get("detail-type") or event["Records"][0]["eventSource"]) for called, event in fn.calls}
    assert kinds == {
        (f"{name}-presence", "aws:sqs"),
        (f"{name}-events", "aws:dynamodb"),
        (f"{name}-presence", "Scheduled Event"),
    }
    assert stack.presence() == {"agent-07": {"agentId": "agent-07", "state": "online", "connections": ["a", "b"]}}


def test_iam_client_and_silent_host(stack: Stack, outputs: Dict[str, Any], endpoint: str, fn: ScriptedFunction) -> None:
    role = allow_connect(endpoint, f"{outputs['function_name']}-agent", outputs["api_id"])
    with pytest.raises(Refused) as refused:
        stack.client(clientType="agent")  # unsigned
    assert refused.value.status == 403
    principal = stack.assume_role(role, "agent-07")
    before = stack.gateway.live_ids()
    ws = stack.iam_client(principal, silenceable=True, query={"v": "1"})
    cid = stack.connection_id(before)
    ws.send(json.dumps({"action": "heartbeat"}))
    deadline = time.monotonic() + 10
    while stack.gateway.stats[cid].received < 1 and time.monotonic() < deadline:
        time.sleep(0.01)  # the relay forwards it a moment after send() returns
    stack.silence(ws)
    ws.send(json.dumps({"action": "heartbeat"}))  # lost: the host is silent
    record = stack.gateway.wait_closed(cid)  # the idle timeout (2 s here) notices
    assert record.event["requestContext"]["disconnectStatusCode"] == 1001
    assert stack.gateway.stats[cid].received == 1
    [connect_event] = [e for called, e in fn.calls if called == f"{outputs['function_name']}-connect"]
    assert connect_event["requestContext"]["identity"]["userArn"].endswith("/agent-07")
    headers_ws = stack.iam_client(principal, in_headers=True)
    assert headers_ws.protocol.state.name == "OPEN"
