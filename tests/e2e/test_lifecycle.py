"""End to end against a moto server: apply -> what AWS now holds -> the deployed code at work, live (real
WebSocket clients through the local gateway, every function under AWS's Lambda runtime emulator) ->
no-change plan (also from a second tree that rebuilt the package) -> destroy -> nothing left.

examples/local targets the emulator itself; examples/complete and examples/existing-table are run
with a Terraform override file that points their provider at the emulator (and sets the runtime
label hashicorp/aws 3.39 accepts), so every example is proven to apply, converge and destroy.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
import websockets.exceptions
import websockets.sync.client

from scripts.lambda_rie import LambdaRuntime, RuntimeSetupError
from scripts.live_stack import Refused, Stack, cut, live_stack
from scripts.observe import OFFLINE, ONLINE, Events
from scripts.offline import (
    PACKAGE_ZIPS,
    REGION,
    ROOT,
    Terraform,
    client,
    copy_tree,
    deployed_function,
    scan_table,
)
from scripts.ws_events import Routes
from scripts.ws_gateway import Gateway
from tests.support.servers import free_port, moto_override_with_runtime, moto_server

pytestmark = pytest.mark.e2e

if shutil.which("terraform") is None:
    pytest.skip("terraform is not on PATH: run through `make e2e` (it installs the toolchain)", allow_module_level=True)

ACCOUNT = "123456789012"


def resources_left(endpoint: str, prefix: str) -> List[str]:
    """Everything in the emulator whose name starts with the stack's prefix."""
    left: List[str] = []
    left += [f["FunctionName"] for f in client("lambda", endpoint).list_functions()["Functions"]]
    left += [t for t in client("dynamodb", endpoint).list_tables()["TableNames"]]
    left += [r["RoleName"] for r in client("iam", endpoint).list_roles()["Roles"]]
    left += [r["Name"] for r in client("events", endpoint).list_rules()["Rules"]]
    left += [g["logGroupName"] for g in client("logs", endpoint).describe_log_groups()["logGroups"]]
    left += [a["AlarmName"] for a in client("cloudwatch", endpoint).describe_alarms()["MetricAlarms"]]
    left += [a["Name"] for a in client("apigatewayv2", endpoint).get_apis()["Items"]]
    left += [d["DashboardName"] for d in client("cloudwatch", endpoint).list_dashboards()["DashboardEntries"]]
    return sorted(name for name in left if prefix.lower() in name.lower())


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Any]]:
    """examples/local applied on a fresh moto server (from a copy of the tree); destroyed at the end."""
    tree = copy_tree(tmp_path_factory.mktemp("tree-a"))
    port = free_port()
    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as endpoint:
        variables = {"aws_endpoint": endpoint, "connections_endpoint": f"http://127.0.0.1:{port}/live"}
        terraform = Terraform(tree / "examples" / "local", variables)
        terraform.init()
        terraform.apply()
        stack = {
            "endpoint": endpoint,
            "terraform": terraform,
            "tree": tree,
            "outputs": terraform.outputs(),
            "port": port,
            "workdir": tmp_path_factory.mktemp("functions"),
        }
        yield stack
        if not stack.get("destroyed"):
            terraform.destroy()


@pytest.fixture(scope="module")
def live(local_stack: Dict[str, Any]) -> Iterator[Stack]:
    """The applied stack, live: functions under aws-lambda-rie, the gateway on the probed port."""
    with live_stack(
        local_stack["outputs"], local_stack["endpoint"], local_stack["port"], local_stack["workdir"]
    ) as stack:
        yield stack


def test_route_integration_and_permission_exist(local_stack: Dict[str, Any]) -> None:
    endpoint, out = local_stack["endpoint"], local_stack["outputs"]
    api = client("apigatewayv2", endpoint)
    routes = {route["RouteKey"]: route for route in api.get_routes(ApiId=out["api_id"])["Items"]}
    assert routes["$disconnect"]["Target"] == f"integrations/{out['integration_id']}"
    integration = api.get_integration(ApiId=out["api_id"], IntegrationId=out["integration_id"])
    assert integration["IntegrationType"] == "AWS_PROXY"
    function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{out['function_name']}"
    assert function_arn in integration["IntegrationUri"]

    policy = json.loads(client("lambda", endpoint).get_policy(FunctionName=out["function_name"])["Policy"])
    [statement] = policy["Statement"]
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == (
        f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{out['api_id']}/*/$disconnect"
    )

    connect = routes["$connect"]
    assert connect["RouteId"] == out["connect_route_id"]
    assert connect["AuthorizationType"] == "NONE"  # examples/local: query-string identity (demo only)
    integration_id = connect["Target"].split("/", 1)[1]
    connect_uri = api.get_integration(ApiId=out["api_id"], IntegrationId=integration_id)["IntegrationUri"]
    assert f"function:{out['connect_function_name']}/invocations" in connect_uri
    policy = json.loads(client("lambda", endpoint).get_policy(FunctionName=out["connect_function_name"])["Policy"])
    [statement] = policy["Statement"]
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == (
        f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{out['api_id']}/*/$connect"
    )


def test_table_settings(local_stack: Dict[str, Any]) -> None:
    endpoint, table = local_stack["endpoint"], local_stack["outputs"]["table_name"]
    dynamodb = client("dynamodb", endpoint)
    described = dynamodb.describe_table(TableName=table)["Table"]
    assert described["KeySchema"] == [{"AttributeName": "connectionId", "KeyType": "HASH"}]
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert described["SSEDescription"]["Status"] == "ENABLED"
    assert not described.get("GlobalSecondaryIndexes")  # presence keeps a table of its own
    ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiresAt"}
    backups = dynamodb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def test_roles_have_exactly_their_statements(local_stack: Dict[str, Any]) -> None:
    endpoint, out = local_stack["endpoint"], local_stack["outputs"]
    iam = client("iam", endpoint)
    table_arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{out['table_name']}"

    def statements(role: str) -> Dict[str, Any]:
        [name] = iam.list_role_policies(RoleName=role)["PolicyNames"]
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        if isinstance(document, str):
            document = json.loads(document)
        return {s["Sid"]: (s["Action"], s["Resource"]) for s in document["Statement"]}

    presence_arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{out['presence_table_name']}"
    queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{out['presence_function_name']}"
    presence_writes = (["dynamodb:PutItem", "dynamodb:UpdateItem"], [presence_arn])

    # Roles are named "<function>-<region>": IAM names are global to the account.
    disconnect = statements(f"{out['function_name']}-{REGION}")
    assert disconnect == {
        "WriteOwnLogs": disconnect["WriteOwnLogs"],
        "DeleteClosedConnection": (["dynamodb:DeleteItem"], [table_arn]),
        "TrackAgentPresence": presence_writes,
        "SchedulePresenceChecks": (["sqs:SendMessage"], [queue_arn]),
    }
    assert iam.list_attached_role_policies(RoleName=f"{out['function_name']}-{REGION}")["AttachedPolicies"] == []

    connect = statements(f"{out['connect_function_name']}-{REGION}")
    assert connect == {
        "WriteOwnLogs": connect["WriteOwnLogs"],
        "RegisterConnection": (["dynamodb:PutItem"], [table_arn]),
        "TrackAgentPresence": presence_writes,
        "SchedulePresenceChecks": (["sqs:SendMessage"], [queue_arn]),
    }

    checker = statements(f"{out['presence_function_name']}-{REGION}")
    assert checker["ProbeAgentConnections"] == (
        ["execute-api:ManageConnections"],
        [
            f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{out['api_id']}/live/GET/@connections/*",
            f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{out['api_id']}/live/DELETE/@connections/*",
        ],
    )
    assert set(checker) == {
        "WriteOwnLogs",
        "ResolveAgentPresence",
        "RemoveDeadConnections",
        "ProcessPresenceQueue",
        "ProbeAgentConnections",
    }

    announcer = statements(f"{out['events_function_name']}-{REGION}")
    assert announcer["PublishAgentEvents"] == (["events:PutEvents"], [out["agent_events"]["event_bus_arn"]])
    assert announcer["ReadPresenceStream"][1] == [f"{presence_arn}/stream/*"]
    assert set(announcer) == {
        "WriteOwnLogs",
        "ReadPresenceStream",
        "ListStreams",
        "MarkEventsAnnounced",
        "PublishAgentEvents",
        "DeadLetterFailedBatches",
    }

    sweeper = statements(f"{out['sweeper_function_name']}-{REGION}")
    assert sweeper["RemoveStaleConnections"] == (
        ["dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "dynamodb:Scan"],
        [table_arn],
    )
    assert sweeper["KeepScanPosition"] == (["dynamodb:GetItem", "dynamodb:PutItem"], [table_arn])
    assert sweeper["TrackAgentPresence"] == presence_writes
    assert sweeper["ProbeConnections"] == (
        ["execute-api:ManageConnections"],
        [f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{out['api_id']}/live/GET/@connections/*"],
    )


def test_presence_infrastructure_as_applied(local_stack: Dict[str, Any]) -> None:
    """What moto holds of presence: the table and its stream, the queues, both event source mappings
    with their settings, the reconciler's schedule, the bus with the demo's rule, the MOCK heartbeat
    route, the alarms. (moto runs none of the mappings or schedules: scripts/ plays them.)"""
    endpoint, out = local_stack["endpoint"], local_stack["outputs"]
    dynamodb, sqs, lam = client("dynamodb", endpoint), client("sqs", endpoint), client("lambda", endpoint)

    table = dynamodb.describe_table(TableName=out["presence_table_name"])["Table"]
    assert table["KeySchema"] == [{"AttributeName": "agentId", "KeyType": "HASH"}]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert table["SSEDescription"]["Status"] == "ENABLED"
    assert not table.get("GlobalSecondaryIndexes")
    backups = dynamodb.describe_continuous_backups(TableName=out["presence_table_name"])
    assert backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == (
        "ENABLED"
    )

    queue = sqs.get_queue_attributes(QueueUrl=out["presence_queue_url"], AttributeNames=["All"])["Attributes"]
    assert (queue["VisibilityTimeout"], queue["MessageRetentionPeriod"], queue["KmsMasterKeyId"]) == (
        "180",
        "86400",
        "alias/aws/sqs",
    )
    assert json.loads(queue["RedrivePolicy"]) == {"deadLetterTargetArn": out["presence_dlq_arn"], "maxReceiveCount": 10}

    mappings = lam.list_event_source_mappings()["EventSourceMappings"]

    def mappings_of(function: str) -> List[Dict[str, Any]]:
        return [m for m in mappings if m["FunctionArn"].endswith(f":function:{function}")]

    [from_queue] = mappings_of(out["presence_function_name"])
    assert (from_queue["EventSourceArn"], from_queue["BatchSize"]) == (queue["QueueArn"], 10)
    [from_stream] = mappings_of(out["events_function_name"])
    assert from_stream["EventSourceArn"] == table["LatestStreamArn"]
    expected = {
        "StartingPosition": "LATEST",
        "BatchSize": 100,
        "MaximumBatchingWindowInSeconds": 1,
        "ParallelizationFactor": 1,
        "BisectBatchOnFunctionError": True,
        "MaximumRetryAttempts": 10,
        "MaximumRecordAgeInSeconds": -1,
        "DestinationConfig": {"OnFailure": {"Destination": out["presence_dlq_arn"]}},
    }
    assert {key: from_stream.get(key) for key in expected} == expected

    events = client("events", endpoint)
    [tick] = events.list_rules(NamePrefix=f"{out['presence_function_name']}-reconcile")["Rules"]
    assert tick["ScheduleExpression"] == "rate(1 minute)"
    [target] = events.list_targets_by_rule(Rule=tick["Name"])["Targets"]
    assert target["Arn"].endswith(f":function:{out['presence_function_name']}")
    bus = out["agent_events"]["event_bus_name"]
    assert events.describe_event_bus(Name=bus)["Arn"] == out["agent_events"]["event_bus_arn"]
    [rule] = events.list_rules(EventBusName=bus)["Rules"]
    assert json.loads(rule["EventPattern"]) == json.loads(out["agent_events"]["event_pattern"])

    api = client("apigatewayv2", endpoint)
    routes = {route["RouteKey"]: route for route in api.get_routes(ApiId=out["api_id"])["Items"]}
    heartbeat = routes[out["heartbeat_route_key"]]
    integration = api.get_integration(ApiId=out["api_id"], IntegrationId=heartbeat["Target"].split("/", 1)[1])
    assert integration["IntegrationType"] == "MOCK"
    assert integration["RequestTemplates"] == {"$default": '{"statusCode": 200}'}
    assert integration["TemplateSelectionExpression"] == "\\$default"
    # One-way: no route response selection, hence no reply (moto cannot list route responses).
    assert not heartbeat.get("RouteResponseSelectionExpression")

    alarms = {a["AlarmName"]: a for a in client("cloudwatch", endpoint).describe_alarms()["MetricAlarms"]}
    assert alarms[f"{out['presence_function_name']}-dlq"]["Namespace"] == "AWS/SQS"
    assert alarms[f"{out['events_function_name']}-iterator-age"]["MetricName"] == "IteratorAge"


def test_deployed_functions_run_the_committed_package(local_stack: Dict[str, Any]) -> None:
    endpoint, out = local_stack["endpoint"], local_stack["outputs"]
    manifest = json.loads((ROOT / "function" / "dist" / "manifest.json").read_text())
    for kind, name in (
        ("disconnect", out["function_name"]),
        ("sweeper", out["sweeper_function_name"]),
        ("connect", out["connect_function_name"]),
        ("presence", out["presence_function_name"]),
        ("events", out["events_function_name"]),
    ):
        function = deployed_function(name, endpoint)
        assert function["code_sha256"] == manifest["packages"][kind]["zip_base64sha256"], f"{name} runs {kind}.zip"
        assert function["env"]["CONNECTIONS_TABLE"] == out["table_name"]
    rules = client("events", endpoint).list_rules(NamePrefix=out["sweeper_function_name"])["Rules"]
    assert [rule["ScheduleExpression"] for rule in rules] == ["rate(5 minutes)"]


CONNECTION_ID = re.compile(r"^[A-Za-z0-9+/]{15}=$")  # API Gateway's form, e.g. "L0SM9cOFvHcCIhw="


def _records(stack: Stack, cid: str, route: str) -> List[Any]:
    return [record for record in stack.gateway.records if record.connection_id == cid and record.route_key == route]


def _open(stack: Stack, **query: str) -> Tuple[Any, str]:
    before = stack.gateway.live_ids()
    ws = stack.client(**query)
    return ws, stack.connection_id(before)


def _log(invocation: Any, message: str) -> Dict[str, Any]:
    [line] = [log for log in invocation.logs if log.get("message") == message]
    return dict(line)


def test_connect_runs_in_the_runtime_emulator_and_writes_the_contract_item(
    local_stack: Dict[str, Any], live: Stack
) -> None:
    endpoint, out = local_stack["endpoint"], local_stack["outputs"]
    ws, cid = _open(live, clientType="agent", agentId="agent-e2e-1")
    assert CONNECTION_ID.match(cid), cid
    [record] = _records(live, cid, "$connect")
    context = record.event["requestContext"]
    assert (context["routeKey"], context["eventType"], context["apiId"], context["stage"]) == (
        "$connect",
        "CONNECT",
        out["api_id"],
        "live",
    )
    assert context["domainName"] == f"{out['api_id']}.execute-api.{REGION}.amazonaws.com"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert record.event["queryStringParameters"] == {"clientType": "agent", "agentId": "agent-e2e-1"}
    assert record.status == 200
    assert record.invocation.payload == {"statusCode": 200, "body": "connected"}
    # AWS's runtime ran it: its REPORT line, the configured memory, the function name in our log line.
    assert record.invocation.report["Memory Size"] == "128 MB"
    assert record.invocation.report["Duration"].endswith(" ms")
    line = _log(record.invocation, "connection registered")
    assert line["function"] == out["connect_function_name"]
    assert line["awsRequestId"] == record.invocation.request_id
    connected_at = context["connectedAt"]
    [item] = [item for item in scan_table(out["table_name"], endpoint) if item["connectionId"] == cid]
    assert item == {
        "connectionId": cid,
        "clientType": "agent",
        "agentId": "agent-e2e-1",
        "connectedAt": str(connected_at),
        "expiresAt": str(connected_at // 1000 + 7200 + 300),
    }
    ws.close(1000, "done")
    assert live.gateway.wait_closed(cid).status == 200


def test_connect_without_identity_rejects_the_handshake_and_writes_nothing(
    local_stack: Dict[str, Any], live: Stack
) -> None:
    before = {
        item["connectionId"] for item in scan_table(local_stack["outputs"]["table_name"], local_stack["endpoint"])
    }
    with pytest.raises(Refused) as refused:
        live.client(agentId="agent-without-type")
    assert refused.value.status == 403
    record = [r for r in live.gateway.records if r.route_key == "$connect"][-1]
    refusal = _log(record.invocation, "connection refused")
    # examples/local takes identity from the query string (connect.identity = "query_string_insecure").
    assert (refusal["reason"], refusal["detail"]) == ("no_identity", "the query string has no 'clientType'")
    assert record.connection_id not in live.gateway.live_ids()
    after = {item["connectionId"] for item in scan_table(local_stack["outputs"]["table_name"], local_stack["endpoint"])}
    assert after == before


def _heartbeats(ws: Any, every: float = 0.5) -> threading.Thread:
    """Send the contract's heartbeat data frame every `every` seconds until the connection closes (the
    stack's heartbeat check closes a connection silent for longer than its timeout: 3 s here)."""

    def beat() -> None:
        try:
            while True:
                ws.send('{"action":"heartbeat"}')
                time.sleep(every)
        except websockets.exceptions.ConnectionClosed:
            return

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    return thread


@pytest.fixture(scope="module")
def events(live: Stack) -> Events:
    """The agent events the stack published (its queue, consumed and kept), by agent."""
    return Events(live)


def test_closes_reach_disconnect_with_the_real_close_code(
    local_stack: Dict[str, Any], live: Stack, events: Events
) -> None:
    """Each close reaches `$disconnect` with its real code; an agent's last close opens a grace window
    (no event yet); once it has passed, the announcer publishes one offline event whose reason follows the
    close code; a dashboard has no presence."""
    endpoint, out = local_stack["endpoint"], local_stack["outputs"]
    grace = float(out["function_environment"]["presence"]["PRESENCE_GRACE_SECONDS"])
    normal, normal_id = _open(live, clientType="agent", agentId="agent-e2e-normal")
    lost, lost_id = _open(live, clientType="agent", agentId="agent-e2e-lost")
    dashboard, dashboard_id = _open(live, clientType="dashboard")
    for agent in ("agent-e2e-normal", "agent-e2e-lost"):
        assert events.wait_for(agent, ONLINE)["detail"]["sequence"] == 1

    closed_at = time.time()
    normal.close(1000, "agent shutting down")
    cut(lost)
    dashboard.close(4001, "custom code")
    expected = {normal_id: (1000, "agent shutting down"), lost_id: (1006, ""), dashboard_id: (4001, "custom code")}
    for cid, (code, reason) in expected.items():
        record = live.gateway.wait_closed(cid)
        context = record.event["requestContext"]
        assert (context["eventType"], context["disconnectStatusCode"], context["disconnectReason"]) == (
            "DISCONNECT",
            code,
            reason,
        )
        assert record.invocation.payload == {"statusCode": 200, "body": "disconnected"}
        line = _log(record.invocation, "connection removed")
        assert (line["disconnectStatusCode"], line["abnormal"]) == (code, code not in (1000, 1001, 1005))
        # the agents' last connection: a grace window opens; a dashboard is not tracked
        assert line.get("presence") == (None if cid == dashboard_id else "grace")
    remaining = {item["connectionId"] for item in scan_table(out["table_name"], endpoint)}
    assert remaining.isdisjoint(expected)

    for agent, cid, code, reason, abnormal in (
        ("agent-e2e-normal", normal_id, 1000, "client_closed", False),
        ("agent-e2e-lost", lost_id, 1006, "connection_lost", True),
    ):
        event = events.wait_for(agent, OFFLINE, timeout=30)
        detail = event["detail"]
        assert time.time() - closed_at >= grace  # not before the grace window has passed
        assert (detail["state"], detail["reason"], detail["abnormal"], detail["sequence"]) == (
            "offline",
            reason,
            abnormal,
            2,
        )
        assert (detail["connectionId"], detail["disconnectStatusCode"], detail["eventId"]) == (cid, code, f"{agent}/2")
        assert detail["previous"]["state"] == "online"
        item = live.presence()[agent]
        assert (item["state"], item["reason"], item["sequence"], "connections" in item) == ("offline", reason, 2, False)
    assert [e["detail-type"] for e in events.of("agent-e2e-normal")] == [ONLINE, OFFLINE]
    assert [e["detail-type"] for e in events.of("agent-e2e-lost")] == [ONLINE, OFFLINE]


def test_dropped_disconnect_is_found_gone_by_the_sweeper_probe(
    local_stack: Dict[str, Any], live: Stack, events: Events
) -> None:
    """The gateway drops a `$disconnect` (injected; API Gateway delivers it best-effort): the scheduled
    sweeper's @connections probe finds the connection gone, removes it and takes its agent offline
    (reason gone) at once; the checker's own probe of that connection, later, finds nothing left to do."""
    endpoint, out = local_stack["endpoint"], local_stack["outputs"]
    alive, alive_id = _open(live, clientType="agent", agentId="agent-e2e-alive")
    _heartbeats(alive)
    dropped, dropped_id = _open(live, clientType="agent", agentId="agent-e2e-dropped")
    events.wait_for("agent-e2e-dropped", ONLINE)
    live.gateway.drop_disconnect.add(dropped_id)
    dropped.close(1000, "bye")
    assert live.gateway.wait_closed(dropped_id).note == "dropped"
    assert dropped_id in {item["connectionId"] for item in scan_table(out["table_name"], endpoint)}

    sweep = live.sweep()
    assert sweep.error is None, sweep.error
    assert sweep.payload["probeErrors"] == 0
    assert sweep.report["Memory Size"] == "256 MB"
    # The deployed sweeper's probe endpoint is the gateway's @connections: it asked about both.
    assert live.gateway.connections_api.count("GET", dropped_id) >= 1
    assert live.gateway.connections_api.count("GET", alive_id) >= 1
    ids = {item["connectionId"] for item in scan_table(out["table_name"], endpoint)}
    assert dropped_id not in ids
    assert alive_id in ids
    # Whichever probe found it first (the sweeper's, normally; the checker's comes heartbeat timeout +
    # 1 s after the connect) removed it and made the one transition.
    assert sweep.payload["removedGone"] + sweep.payload["alreadyRemoved"] <= 1
    detail = events.wait_for("agent-e2e-dropped", OFFLINE)["detail"]
    assert (detail["reason"], detail["abnormal"], detail["sequence"], detail["connectionId"]) == (
        "gone",
        True,
        2,
        dropped_id,
    )
    time.sleep(2)  # the checker's probe of the dropped connection (due 4 s after its connect) has run
    assert [e["detail-type"] for e in events.of("agent-e2e-dropped")] == [ONLINE, OFFLINE]
    assert [e["detail-type"] for e in events.of("agent-e2e-alive")] == [ONLINE]
    alive.close()
    live.gateway.wait_closed(alive_id)


def test_reconnect_before_the_late_disconnect_keeps_the_agent_online(
    local_stack: Dict[str, Any], live: Stack, events: Events
) -> None:
    """The agent is back on a new connection before API Gateway delivers the old one's `$disconnect`:
    that late `$disconnect` removes only the old connection; the agent never went offline, no event."""
    endpoint, out = local_stack["endpoint"], local_stack["outputs"]
    grace = float(out["function_environment"]["presence"]["PRESENCE_GRACE_SECONDS"])
    first, first_id = _open(live, clientType="agent", agentId="agent-e2e-roaming")
    _heartbeats(first)
    events.wait_for("agent-e2e-roaming", ONLINE)
    live.gateway.hold_disconnect.add(first_id)
    cut(first)
    assert live.gateway.wait_closed(first_id).note == "held"
    second, second_id = _open(live, clientType="agent", agentId="agent-e2e-roaming")
    _heartbeats(second)
    late = live.gateway.release_disconnect(first_id)
    assert late.event["requestContext"]["disconnectStatusCode"] == 1006
    assert _log(late.invocation, "connection removed")["presence"] == "still_online"
    ids = {item["connectionId"] for item in scan_table(out["table_name"], endpoint)}
    assert second_id in ids
    assert first_id not in ids
    time.sleep(grace + 1)  # an offline would be announced by now
    item = live.presence()["agent-e2e-roaming"]
    assert (item["state"], item["sequence"], item["connections"]) == ("online", 1, [second_id])
    assert [e["detail-type"] for e in events.of("agent-e2e-roaming")] == [ONLINE]
    second.close()
    live.gateway.wait_closed(second_id)


def test_connections_api_get_post_delete_and_gone(live: Stack) -> None:
    ws, cid = _open(live, clientType="dashboard")
    api = client("apigatewaymanagementapi", live.gateway.connections_api.endpoint, REGION)
    described = api.get_connection(ConnectionId=cid)
    assert described["Identity"]["SourceIp"] == "127.0.0.1"
    api.post_to_connection(ConnectionId=cid, Data=b'{"command":"remediate"}')
    assert ws.recv(timeout=10) == '{"command":"remediate"}'
    api.delete_connection(ConnectionId=cid)
    record = live.gateway.wait_closed(cid)
    assert record.event["requestContext"]["disconnectStatusCode"] == 1000
    with pytest.raises(api.exceptions.GoneException):
        api.get_connection(ConnectionId=cid)
    with pytest.raises(api.exceptions.GoneException):
        api.post_to_connection(ConnectionId="AAAAAAAAAAAAAAA=", Data=b"x")


@pytest.mark.parametrize(("idle", "lifetime"), [(0.5, 600.0), (600.0, 0.5)])
def test_idle_timeout_and_lifetime_limit_close_with_going_away(live: Stack, idle: float, lifetime: float) -> None:
    """API Gateway's 10-minute idle timeout and 2-hour limit, scaled down: the gateway closes with 1001."""
    gateway = Gateway(live.gateway.routes, "live", live.invoke, idle_timeout=idle, max_lifetime=lifetime).start()
    try:
        before = gateway.live_ids()
        with websockets.sync.client.connect(f"{gateway.url}?clientType=dashboard", open_timeout=60) as ws:
            deadline = time.monotonic() + 30
            while gateway.live_ids() == before and time.monotonic() < deadline:
                time.sleep(0.01)
            [cid] = gateway.live_ids() - before
            record = gateway.wait_closed(cid)
            assert ws.close_code == 1001
        context = record.event["requestContext"]
        assert (context["disconnectStatusCode"], context["disconnectReason"]) == (1001, "Going away")
        assert record.invocation.payload == {"statusCode": 200, "body": "disconnected"}
    finally:
        gateway.stop()


def _broken_function(endpoint: str, name: str, zip_bytes: bytes, handler: str) -> None:
    """A function deployed with a given zip and handler, and an API whose $connect integrates it."""
    role = client("iam", endpoint).create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    arn = client("lambda", endpoint).create_function(
        FunctionName=name, Runtime="python3.8", Role=role, Handler=handler, Code={"ZipFile": zip_bytes}, Timeout=5
    )["FunctionArn"]
    api = client("apigatewayv2", endpoint)
    api_id = api.create_api(Name=name, ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action")[
        "ApiId"
    ]
    uri = f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{arn}/invocations"
    integration = api.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=uri)
    api.create_route(ApiId=api_id, RouteKey="$connect", Target=f"integrations/{integration['IntegrationId']}")


def _zip_without(member: str, dest: Path) -> Path:
    with zipfile.ZipFile(PACKAGE_ZIPS["connect"]) as source, zipfile.ZipFile(dest, "w") as target:
        for info in source.infolist():
            if info.filename != member:
                target.writestr(info, source.read(info))
    return dest


def _connect_through(endpoint: str, name: str, zip_path: Path, workdir: Path) -> Tuple[int, Dict[str, Any]]:
    """Open a WebSocket through a gateway for the broken function's API: (HTTP status, Lambda error)."""
    [api_id] = [a["ApiId"] for a in client("apigatewayv2", endpoint).get_apis()["Items"] if a["Name"] == name]
    with LambdaRuntime(name, endpoint, workdir, zip_path=zip_path) as runtime:
        gateway = Gateway(Routes.load(api_id, endpoint), "live", lambda _fn, event: runtime.invoke(event)).start()
        try:
            with pytest.raises(websockets.exceptions.InvalidStatus) as rejected:
                websockets.sync.client.connect(f"{gateway.url}?clientType=dashboard", open_timeout=60)
            [record] = gateway.records
            return rejected.value.response.status_code, record.invocation.error
        finally:
            gateway.stop()


def test_a_wrong_handler_string_fails_the_live_path(local_stack: Dict[str, Any], tmp_path: Path) -> None:
    endpoint = local_stack["endpoint"]
    connect_zip = PACKAGE_ZIPS["connect"]
    _broken_function(endpoint, "broken-handler", connect_zip.read_bytes(), "remediation_registry.handlers.conect")
    status, error = _connect_through(endpoint, "broken-handler", connect_zip, tmp_path)
    assert status == 500
    assert error["errorType"] == "Runtime.HandlerNotFound"
    assert "conect" in error["errorMessage"]


def test_a_module_missing_from_the_zip_fails_the_live_path(local_stack: Dict[str, Any], tmp_path: Path) -> None:
    endpoint, out = local_stack["endpoint"], local_stack["outputs"]
    broken = _zip_without("remediation_registry/contract.py", tmp_path / "broken.zip")
    # Not the deployed code: the runner refuses before running anything.
    with pytest.raises(RuntimeSetupError, match="is not the deployed code"):
        LambdaRuntime(out["connect_function_name"], endpoint, tmp_path, zip_path=broken).start()
    # Deployed that way, AWS's runtime cannot import the handler: the handshake is refused.
    _broken_function(endpoint, "broken-module", broken.read_bytes(), "remediation_registry.handlers.connect")
    status, error = _connect_through(endpoint, "broken-module", broken, tmp_path)
    assert status == 500
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert "remediation_registry.contract" in error["errorMessage"]


AUTHORIZER_SOURCE = """
def handler(event, context):
    if event["headers"].get("Authorization") != "Bearer agent-07-token":
        raise Exception("Unauthorized")
    statement = {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}
    return {
        "principalId": "agent-07",
        "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
        "context": {"clientType": "agent", "agentId": "agent-07"},
    }
"""


def test_identity_from_a_request_authorizer_wins_over_the_query_string(
    local_stack: Dict[str, Any], live: Stack, tmp_path: Path
) -> None:
    """examples/complete's shape: $connect behind a Lambda REQUEST authorizer, run by AWS's runtime too.
    Identity has one source per deployment: the deployed `$connect` function runs with the environment
    `connect.identity = "authorizer"` gives it (examples/local's reads the query string)."""
    endpoint, out = local_stack["endpoint"], local_stack["outputs"]
    authz_zip = tmp_path / "authz.zip"
    with zipfile.ZipFile(authz_zip, "w") as archive:
        archive.writestr("authz.py", AUTHORIZER_SOURCE)
    lam, api = client("lambda", endpoint), client("apigatewayv2", endpoint)
    role = client("iam", endpoint).create_role(RoleName="authz-e2e", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    authz_arn = lam.create_function(
        FunctionName="authz-e2e",
        Runtime="python3.8",
        Role=role,
        Handler="authz.handler",
        Code={"ZipFile": authz_zip.read_bytes()},
        Timeout=5,
    )["FunctionArn"]

    def uri(arn: str) -> str:
        return f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{arn}/invocations"

    api_id = api.create_api(
        Name="authz-e2e", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
    )["ApiId"]
    authorizer_id = api.create_authorizer(
        ApiId=api_id,
        AuthorizerType="REQUEST",
        AuthorizerUri=uri(authz_arn),
        Name="authz-e2e",
        IdentitySource=["route.request.header.Authorization"],
    )["AuthorizerId"]
    for key, name in (("$connect", out["connect_function_name"]), ("$disconnect", out["function_name"])):
        arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
        integration = api.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=uri(arn))
        extra = {"AuthorizationType": "CUSTOM", "AuthorizerId": authorizer_id} if key == "$connect" else {}
        api.create_route(ApiId=api_id, RouteKey=key, Target=f"integrations/{integration['IntegrationId']}", **extra)

    connect_dir = tmp_path / "connect"
    connect_dir.mkdir()
    with LambdaRuntime("authz-e2e", endpoint, tmp_path, zip_path=authz_zip) as authz, LambdaRuntime(
        out["connect_function_name"], endpoint, connect_dir, env_overrides={"CONNECT_IDENTITY_SOURCE": "authorizer"}
    ) as connect_function:

        def invoke(name: str, event: Dict[str, Any]) -> Any:
            if name == "authz-e2e":
                return authz.invoke(event)
            if name == out["connect_function_name"]:
                return connect_function.invoke(event)
            return live.invoke(name, event)

        gateway = Gateway(Routes.load(api_id, endpoint), "live", invoke).start()
        try:
            url = f"{gateway.url}?clientType=dashboard&agentId=spoofed"
            for headers, status in (({}, 401), ({"Authorization": "Bearer wrong"}, 401)):
                with pytest.raises(websockets.exceptions.InvalidStatus) as rejected:
                    websockets.sync.client.connect(url, additional_headers=headers, open_timeout=60)
                assert rejected.value.response.status_code == status
            # Without the header the authorizer is not even called; with a wrong token it says Unauthorized.
            assert [(r.route_key, r.status) for r in gateway.records] == [("$connect authorizer", 401)]
            with websockets.sync.client.connect(
                url, additional_headers={"Authorization": "Bearer agent-07-token"}, open_timeout=60
            ) as ws:
                deadline = time.monotonic() + 30
                while not gateway.live_ids() and time.monotonic() < deadline:
                    time.sleep(0.01)
                [cid] = gateway.live_ids()
                [item] = [i for i in scan_table(out["table_name"], endpoint) if i["connectionId"] == cid]
                assert (item["clientType"], item["agentId"]) == ("agent", "agent-07")
                connect_record = [r for r in gateway.records if r.route_key == "$connect"][-1]
                assert connect_record.event["requestContext"]["authorizer"] == {
                    "clientType": "agent",
                    "agentId": "agent-07",
                    "principalId": "agent-07",
                }
                assert _log(connect_record.invocation, "connection registered")["identitySource"] == "authorizer"
                assert authz.lines
                assert any(line.startswith("REPORT RequestId:") for line in authz.lines)
                ws.close(1000)
            record = gateway.wait_closed(cid)
            assert record.event["requestContext"]["authorizer"]["agentId"] == "agent-07"
            assert record.invocation.payload == {"statusCode": 200, "body": "disconnected"}
        finally:
            gateway.stop()
            client("apigatewayv2", endpoint).delete_api(ApiId=api_id)


def test_second_tree_rebuilds_the_same_zip_and_plans_no_changes(local_stack: Dict[str, Any], tmp_path: Path) -> None:
    """Apply from one checkout, plan from another that rebuilt the package: no diff anywhere."""
    terraform: Terraform = local_stack["terraform"]
    assert terraform.plan_exit_code().returncode == 0, terraform.transcript[-1]

    tree_b = copy_tree(tmp_path / "tree-b")
    shutil.rmtree(tree_b / "function" / "dist")
    subprocess.run([sys.executable, str(tree_b / "function" / "build.py")], check=True, capture_output=True)
    for package in PACKAGE_ZIPS.values():
        assert (tree_b / "function" / "dist" / package.name).read_bytes() == package.read_bytes()

    local_b = tree_b / "examples" / "local"
    terraform_b = Terraform(local_b, dict(terraform.variables))
    # init before the state arrives: Terraform 1.15's init step for providers found in state ignores
    # the stand-in's dev_overrides (see README, Requirements) and would ask a registry.
    terraform_b.init()
    shutil.copy2(local_stack["tree"] / "examples" / "local" / "terraform.tfstate", local_b / "terraform.tfstate")
    assert terraform_b.plan_exit_code().returncode == 0, terraform_b.transcript[-1]


def test_destroy_leaves_nothing(local_stack: Dict[str, Any]) -> None:
    terraform: Terraform = local_stack["terraform"]
    terraform.destroy()
    local_stack["destroyed"] = True
    assert resources_left(local_stack["endpoint"], "remediation-demo") == []


_INIT_LOCK = threading.Lock()


def _lifecycle(example: str, workdir: Path, ready: threading.Barrier) -> Dict[str, Any]:
    """apply -> plan (no changes) -> destroy of one example on its own moto server."""
    tree = copy_tree(workdir)
    directory = tree / "examples" / example
    with moto_server(workdir / "moto.log") as endpoint:
        (directory / "moto_override.tf").write_text(moto_override_with_runtime(endpoint, REGION))
        terraform = Terraform(directory, {"region": REGION})
        # `init` rewrites the provider in the shared plugin cache: one at a time, and no apply may verify
        # the cached provider while another init rewrites it, so every example inits before any applies.
        with _INIT_LOCK:
            terraform.init()
        ready.wait(timeout=300)
        terraform.apply()
        try:
            plan = terraform.plan_exit_code()
            outputs = terraform.outputs()
        finally:
            terraform.destroy()
        return {
            "plan": plan.returncode,
            "plan_output": plan.stdout,
            "outputs": outputs,
            "left": resources_left(endpoint, "remediation"),
        }


def test_every_other_example_applies_converges_and_destroys(tmp_path: Path) -> None:
    examples = ["complete", "existing-table"]
    ready = threading.Barrier(len(examples))
    with ThreadPoolExecutor(max_workers=len(examples)) as pool:
        results = dict(zip(examples, pool.map(lambda e: _lifecycle(e, tmp_path / e, ready), examples)))
    for example, result in results.items():
        assert result["plan"] == 0, f"{example}: plan after apply is not empty:\n{result['plan_output']}"
        assert result["left"] == [], f"{example}: left behind {result['left']}"
    assert results["complete"]["outputs"]["table_name"] == "RemediationWebSocketConnections"
    assert results["complete"]["outputs"]["dashboard_name"] == "remediation-disconnect"
    assert results["complete"]["outputs"]["connect_function_name"] == "remediation-disconnect-connect"
    policies = results["existing-table"]["outputs"]["iam_policies"]
    assert f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/RemediationWebSocketConnections" in policies["disconnect"]
