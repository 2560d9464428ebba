"""End to end against a moto server: apply -> what AWS now holds -> the deployed code at work ->
no-change plan (also from a second tree that rebuilt the package) -> destroy -> nothing left.

examples/local targets the emulator itself; examples/complete and examples/existing-table are run
with a Terraform override file that points their provider at the emulator (and sets the runtime
label hashicorp/aws 3.39 accepts), so every example is proven to apply, converge and destroy.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from scripts.offline import (
    PACKAGE_ZIP,
    ROOT,
    Terraform,
    client,
    connection_id,
    connection_item,
    copy_tree,
    deployed_function,
    disconnect_event,
    drain_queue,
    invoke_local,
    invoke_sweep,
    moto_override,
    now_ms,
    scan_table,
)
from tests.support.servers import fake_connections_endpoint, moto_server

pytestmark = pytest.mark.e2e

if shutil.which("terraform") is None:
    pytest.skip("terraform is not on PATH: run through `make e2e` (it installs the toolchain)", allow_module_level=True)

ACCOUNT = "123456789012"
REGION = "us-east-1"


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
    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as endpoint:
        terraform = Terraform(tree / "examples" / "local", {"aws_endpoint": endpoint})
        terraform.init()
        terraform.apply()
        stack = {"endpoint": endpoint, "terraform": terraform, "tree": tree, "outputs": terraform.outputs()}
        yield stack
        if not stack.get("destroyed"):
            terraform.destroy()


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


def test_table_settings(local_stack: Dict[str, Any]) -> None:
    endpoint, table = local_stack["endpoint"], local_stack["outputs"]["table_name"]
    dynamodb = client("dynamodb", endpoint)
    described = dynamodb.describe_table(TableName=table)["Table"]
    assert described["KeySchema"] == [{"AttributeName": "connectionId", "KeyType": "HASH"}]
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert described["SSEDescription"]["Status"] == "ENABLED"
    [index] = described["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "agentId-index"
    assert index["KeySchema"] == [{"AttributeName": "agentId", "KeyType": "HASH"}]
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

    disconnect = statements(out["function_name"])
    assert disconnect["DeleteClosedConnection"] == (["dynamodb:DeleteItem"], [table_arn])
    assert disconnect["FindOtherAgentConnections"] == (["dynamodb:Query"], [f"{table_arn}/index/agentId-index"])
    assert disconnect["AnnounceAgentOffline"] == (["events:PutEvents"], [out["offline_event"]["event_bus_arn"]])
    assert set(disconnect) == {
        "WriteOwnLogs",
        "DeleteClosedConnection",
        "FindOtherAgentConnections",
        "AnnounceAgentOffline",
    }
    assert iam.list_attached_role_policies(RoleName=out["function_name"])["AttachedPolicies"] == []

    sweeper = statements(out["sweeper_function_name"])
    assert sweeper["RemoveStaleConnections"] == (
        ["dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "dynamodb:Scan"],
        [table_arn],
    )
    assert sweeper["ProbeConnections"] == (
        ["execute-api:ManageConnections"],
        [f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{out['api_id']}/live/GET/@connections/*"],
    )


def test_deployed_functions_run_the_committed_package(local_stack: Dict[str, Any]) -> None:
    endpoint, out = local_stack["endpoint"], local_stack["outputs"]
    manifest = json.loads((ROOT / "function" / "dist" / "manifest.json").read_text())
    for name in (out["function_name"], out["sweeper_function_name"]):
        function = deployed_function(name, endpoint)
        assert function["code_sha256"] == manifest["zip_base64sha256"]
        assert function["env"]["CONNECTIONS_TABLE"] == out["table_name"]
    rules = client("events", endpoint).list_rules(NamePrefix=out["sweeper_function_name"])["Rules"]
    assert [rule["ScheduleExpression"] for rule in rules] == ["rate(5 minutes)"]


def test_disconnect_and_sweep_through_the_deployed_code(local_stack: Dict[str, Any]) -> None:
    endpoint, out = local_stack["endpoint"], local_stack["outputs"]
    table, api_id = out["table_name"], out["api_id"]
    dynamodb = client("dynamodb", endpoint)
    now = now_ms()
    live, closing, expired, dead = connection_id(), connection_id(), connection_id(), connection_id()
    seeds = {
        live: connection_item(live, "agent", "agent-live", now - 60_000),
        closing: connection_item(closing, "agent", "agent-closing", now - 600_000),
        expired: connection_item(expired, "agent", "agent-expired", now - 3 * 3600 * 1000),
        dead: connection_item(dead, "dashboard", None, now - 1800 * 1000),
    }
    for item in seeds.values():
        dynamodb.put_item(TableName=table, Item=item)

    disconnect = deployed_function(out["function_name"], endpoint)
    result = invoke_local(
        disconnect,
        out["function_name"],
        [disconnect_event(closing, api_id, "live", now - 600_000, 1006, "Connection lost")],
        endpoint,
    )
    assert result["loaded_from"].startswith(str(PACKAGE_ZIP)), "the handler must come from the zip"
    assert result["results"] == [{"statusCode": 200, "body": "disconnected"}]
    [line] = [log for log in result["logs"] if log["message"] == "connection removed"]
    assert line["connectionId"] == closing
    assert line["disconnectStatusCode"] == 1006
    assert line["abnormal"] is True
    assert line["durationSeconds"] == pytest.approx(600, abs=5)
    assert "sourceIp" not in json.dumps(result["logs"])

    with fake_connections_endpoint("live") as (probe_url, state):
        state.gone.add(dead)
        swept = invoke_sweep(out["sweeper_function_name"], endpoint, probe_url)
    assert swept["errors"] == []
    report = swept["results"][0]
    assert (report["removedExpired"], report["removedGone"], report["complete"]) == (1, 1, True)
    assert {item["connectionId"] for item in scan_table(table, endpoint)} == {live}

    events = drain_queue(out["agent_offline_queue_url"], endpoint)
    details = sorted((e["detail"]["agentId"], e["detail"]["reason"]) for e in events)
    assert details == [("agent-closing", "disconnect"), ("agent-expired", "expired")]
    assert all(e["source"] == "remediation.websocket" for e in events)


def test_second_tree_rebuilds_the_same_zip_and_plans_no_changes(local_stack: Dict[str, Any], tmp_path: Path) -> None:
    """Apply from one checkout, plan from another that rebuilt the package: no diff anywhere."""
    terraform: Terraform = local_stack["terraform"]
    assert terraform.plan_exit_code().returncode == 0, terraform.transcript[-1]

    tree_b = copy_tree(tmp_path / "tree-b")
    shutil.rmtree(tree_b / "function" / "dist")
    subprocess.run([sys.executable, str(tree_b / "function" / "build.py")], check=True, capture_output=True)
    assert (tree_b / "function" / "dist" / PACKAGE_ZIP.name).read_bytes() == PACKAGE_ZIP.read_bytes()

    local_b = tree_b / "examples" / "local"
    terraform_b = Terraform(local_b, {"aws_endpoint": local_stack["endpoint"]})
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


def _lifecycle(example: str, workdir: Path) -> Dict[str, Any]:
    """apply -> plan (no changes) -> destroy of one example on its own moto server."""
    tree = copy_tree(workdir)
    directory = tree / "examples" / example
    with moto_server(workdir / "moto.log") as endpoint:
        override = moto_override(endpoint, REGION)
        override += '\nmodule "remediation_disconnect" {\n  runtime = "python3.8"\n}\n'
        (directory / "moto_override.tf").write_text(override)
        terraform = Terraform(directory, {"region": REGION})
        terraform.init()
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
    with ThreadPoolExecutor(max_workers=len(examples)) as pool:
        results = dict(zip(examples, pool.map(lambda e: _lifecycle(e, tmp_path / e), examples)))
    for example, result in results.items():
        assert result["plan"] == 0, f"{example}: plan after apply is not empty:\n{result['plan_output']}"
        assert result["left"] == [], f"{example}: left behind {result['left']}"
    assert results["complete"]["outputs"]["table_name"] == "RemediationWebSocketConnections"
    assert results["complete"]["outputs"]["dashboard_name"] == "remediation-disconnect"
    policies = results["existing-table"]["outputs"]["iam_policies"]
    assert f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/RemediationWebSocketConnections" in policies["disconnect"]
