"""examples/complete's `$connect` token authorizer (connect_identity = "token_authorizer"), live: applied on
a moto server, its committed zip run by AWS's Lambda runtime emulator behind the local gateway (which plays
API Gateway's REQUEST authorizer flow from the authorizer Terraform applied: identity sources, invocation,
the policy's verdict, the context passed on), together with the module's `$connect` and `$disconnect`
functions.

Proves, through real WebSocket handshakes: a forged token (another KMS key), a token-less handshake and
an expired one are refused with 401 and nothing is written (the `$connect` writer is never invoked);
a genuine token of another API is denied (403); a valid agent token registers exactly the agent id it
claims, whatever the query string says; a Dashboard token in the query string registers a Dashboard;
and the stack converges (no-change plan), switches to the example's default "iam" and back in one
apply each way, and destroys.
"""

from __future__ import annotations

import json
import shutil
import time
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

import pytest
import websockets.exceptions
import websockets.sync.client
from connect_token import Claims
from mint_token import mint

from scripts.iam_lint import lint_policy
from scripts.lambda_rie import LambdaRuntime
from scripts.offline import REGION, ROOT, Terraform, client, copy_tree, scan_table
from scripts.ws_events import Routes
from scripts.ws_gateway import Gateway
from tests.support.servers import complete_example_variables, moto_override_with_runtime, moto_server, token_key

pytestmark = pytest.mark.e2e

if shutil.which("terraform") is None:
    pytest.skip("terraform is not on PATH: run through `make e2e` (it installs the toolchain)", allow_module_level=True)

AUTHORIZER_ZIP = ROOT / "examples" / "complete" / "authorizer" / "authorizer.zip"


@pytest.fixture(scope="module")
def complete(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Any]]:
    """examples/complete applied on a moto server; its authorizer, $connect and $disconnect running."""
    workdir = tmp_path_factory.mktemp("complete-authorizer")
    tree = copy_tree(workdir / "tree")
    directory = tree / "examples" / "complete"
    with moto_server(workdir / "moto.log") as endpoint:
        (directory / "moto_override.tf").write_text(moto_override_with_runtime(endpoint, REGION))
        variables = complete_example_variables(endpoint, REGION, identity="token_authorizer")
        terraform = Terraform(directory, variables)
        terraform.init()
        terraform.apply()
        runtimes: List[LambdaRuntime] = []
        gateway: Optional[Gateway] = None
        try:
            out = terraform.outputs()
            names = {
                out["authorizer_function_name"]: AUTHORIZER_ZIP,
                out["connect_function_name"]: None,  # the committed function/dist zip that is deployed
                out["function_name"]: None,
            }
            for name, zip_path in names.items():
                runtimes.append(LambdaRuntime(name, endpoint, workdir / "runtimes", zip_path=zip_path).start())
            by_name = {runtime.function_name: runtime for runtime in runtimes}

            def invoke(name: str, event: Dict[str, Any]) -> Any:
                return by_name[name].invoke(event)

            gateway = Gateway(Routes.load(out["api_id"], endpoint), "live", invoke).start()
            yield {
                "endpoint": endpoint,
                "outputs": out,
                "gateway": gateway,
                "terraform": terraform,
                "authorizer": by_name[out["authorizer_function_name"]],
                "variables": variables,
                "other_key": token_key(endpoint, REGION),
            }
        finally:
            if gateway is not None:
                gateway.stop()
            for runtime in runtimes:
                runtime.stop()
            terraform.destroy()


def token(stack: Dict[str, Any], sub: str, typ: str = "agent", key: str = "", **claims: Any) -> str:
    now = int(time.time())
    fields: Dict[str, Any] = {"sub": sub, "typ": typ, "aud": stack["outputs"]["api_id"], "iat": now, "exp": now + 120}
    fields.update(claims)
    kms = client("kms", stack["endpoint"])
    return mint(kms, key or stack["outputs"]["token_key_arn"], Claims(**fields))


def refused_with(stack: Dict[str, Any], query: str = "", headers: Optional[Dict[str, str]] = None) -> int:
    url = f"{stack['gateway'].url}{query}"
    with pytest.raises(websockets.exceptions.InvalidStatus) as rejected:
        websockets.sync.client.connect(url, additional_headers=headers or {}, open_timeout=60)
    return int(rejected.value.response.status_code)


def connect_records(stack: Dict[str, Any]) -> List[Any]:
    return [r for r in stack["gateway"].records if r.route_key == "$connect"]


def registered(stack: Dict[str, Any], ws: Any) -> Dict[str, Any]:
    """The connection item written for the gateway's newest live connection."""
    gateway = stack["gateway"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        records = connect_records(stack)
        if records and records[-1].connection_id in gateway.live_ids():
            cid = records[-1].connection_id
            [item] = [
                i for i in scan_table(stack["outputs"]["table_name"], stack["endpoint"]) if i["connectionId"] == cid
            ]
            return dict(item)
        time.sleep(0.01)
    raise AssertionError("no connection registered")


def test_forged_missing_and_expired_tokens_are_refused_and_nothing_is_written(complete: Dict[str, Any]) -> None:
    spoof = "?clientType=agent&agentId=agent-07"
    forged = token(complete, "agent-07", key=complete["other_key"])
    expired = token(complete, "agent-07", iat=int(time.time()) - 3600, exp=int(time.time()) - 600)
    gateway, authorizer = complete["gateway"], complete["authorizer"]
    records_before, lines_before = len(gateway.records), len(authorizer.lines)
    assert refused_with(complete, spoof, {"Authorization": f"Bearer {forged}"}) == 401
    assert refused_with(complete, spoof) == 401
    assert refused_with(complete, spoof, {"Authorization": f"Bearer {expired}"}) == 401
    # Every handshake reached the authorizer (identity source: Sec-WebSocket-Key), none the writer.
    assert [(r.route_key, r.status) for r in gateway.records[records_before:]] == [("$connect authorizer", 401)] * 3
    assert scan_table(complete["outputs"]["table_name"], complete["endpoint"]) == []
    refusals = [json.loads(line) for line in authorizer.lines[lines_before:] if '"token refused"' in line]
    assert [line["reason"] for line in refusals] == ["bad_signature", "missing", "expired"]
    assert not any(forged in line or expired in line for line in authorizer.lines)


def test_genuine_token_of_another_api_is_denied(complete: Dict[str, Any]) -> None:
    other = token(complete, "agent-07", aud="otherapi01")
    assert refused_with(complete, "", {"Authorization": f"Bearer {other}"}) == 403
    assert scan_table(complete["outputs"]["table_name"], complete["endpoint"]) == []


def test_valid_agent_token_registers_exactly_the_claimed_agent(complete: Dict[str, Any]) -> None:
    agent = token(complete, "agent-07")
    url = f"{complete['gateway'].url}?clientType=dashboard&agentId=agent-99"  # ignored: identity is the token's
    with websockets.sync.client.connect(url, additional_headers={"Authorization": f"Bearer {agent}"}) as ws:
        item = registered(complete, ws)
        assert (item["clientType"], item["agentId"]) == ("agent", "agent-07")
        record = connect_records(complete)[-1]
        assert record.event["requestContext"]["authorizer"] == {
            "clientType": "agent",
            "agentId": "agent-07",
            "principalId": "agent-07",
        }
        ws.close(1000)
    closed = complete["gateway"].wait_closed(item["connectionId"])
    assert closed.invocation.payload == {"statusCode": 200, "body": "disconnected"}


def test_dashboard_token_in_the_query_string_registers_a_dashboard(complete: Dict[str, Any]) -> None:
    dashboard = token(complete, "alice@example.com", typ="dashboard")
    with websockets.sync.client.connect(f"{complete['gateway'].url}?token={dashboard}") as ws:
        item = registered(complete, ws)
        assert item["clientType"] == "dashboard"
        assert "agentId" not in item
        ws.close(1000)
    # An agent token where only Dashboard tokens belong is refused: long-lived tokens stay out of URLs.
    assert refused_with(complete, f"?token={token(complete, 'agent-07')}") == 401


def test_token_authorizer_is_the_only_identity_and_no_client_role_exists(complete: Dict[str, Any]) -> None:
    """connect_identity = "token_authorizer": the module's source is "authorizer", on a CUSTOM $connect
    route with the example's authorizer, and nothing of the IAM option (client roles, their policy) exists."""
    out = complete["outputs"]
    assert out["connect_identity"] == {"source": "authorizer", "authorization_type": "CUSTOM"}
    # Null outputs are left out of `terraform output -json`.
    assert not {"agent_role_arn", "dashboard_role_arn", "agent_policy_json"} & set(out)
    api = client("apigatewayv2", complete["endpoint"])
    routes = {route["RouteKey"]: route for route in api.get_routes(ApiId=out["api_id"])["Items"]}
    [authorizer_id] = complete["gateway"].routes.authorizers
    assert (routes["$connect"]["AuthorizationType"], routes["$connect"]["AuthorizerId"]) == ("CUSTOM", authorizer_id)
    roles = [role["RoleName"] for role in client("iam", complete["endpoint"]).list_roles()["Roles"]]
    assert not [role for role in roles if role.startswith(("remediation-agent-", "remediation-dashboard-"))]


def test_stack_converges(complete: Dict[str, Any]) -> None:
    terraform: Terraform = complete["terraform"]
    plan = terraform.plan_exit_code()
    assert plan.returncode == 0, plan.stdout + plan.stderr


def test_authorizer_zip_is_the_deployed_code(complete: Dict[str, Any]) -> None:
    runtime: LambdaRuntime = complete["authorizer"]
    assert runtime.zip_path == AUTHORIZER_ZIP
    assert runtime.config["Handler"] == "connect_authorizer.handler"
    env = runtime.config["Environment"]["Variables"]
    assert env["TOKEN_KEY_ID"] == complete["outputs"]["token_key_arn"]
    assert env["API_ID"] == complete["outputs"]["api_id"]
    assert (env["CLIENT_TYPE_KEY"], env["AGENT_ID_KEY"]) == ("clientType", "agentId")
    routes: Routes = complete["gateway"].routes  # as read back from the emulated API
    [authorizer_id] = routes.authorizers
    found = client("apigatewayv2", complete["endpoint"]).get_authorizer(
        ApiId=complete["outputs"]["api_id"], AuthorizerId=authorizer_id
    )
    assert (found["AuthorizerType"], found["IdentitySource"]) == ("REQUEST", ["route.request.header.Sec-WebSocket-Key"])
    assert not found.get("AuthorizerResultTtlInSeconds")  # WebSocket authorizers cannot cache
    assert routes.authorizers[authorizer_id].function_name == complete["outputs"]["authorizer_function_name"]


def test_authorizer_role_may_write_its_logs_and_verify_macs_with_exactly_the_key(complete: Dict[str, Any]) -> None:
    runtime: LambdaRuntime = complete["authorizer"]
    iam = client("iam", complete["endpoint"])
    role = runtime.config["Role"].rsplit("/", 1)[1]
    [name] = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    log_group = f"arn:aws:logs:{REGION}:123456789012:log-group:/aws/lambda/{runtime.function_name}:*"
    assert document["Statement"] == [
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [log_group],
        },
        {
            "Sid": "VerifyTokens",
            "Effect": "Allow",
            "Action": ["kms:VerifyMac"],
            "Resource": [complete["outputs"]["token_key_arn"]],
        },
    ]
    assert lint_policy(json.dumps(document)) == []
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []


AUTHORIZER_ROLE = f"remediation-connect-authorizer-{REGION}"
CLIENT_ROLES = {f"remediation-agent-{REGION}", f"remediation-dashboard-{REGION}"}


def _applied(terraform: Terraform, endpoint: str) -> Tuple[Dict[str, Any], Dict[str, Any], str]:
    """Apply, assert the stack converged, then (outputs, the $connect route as moto holds it, the
    $connect function's identity source)."""
    terraform.apply()
    plan = terraform.plan_exit_code()
    assert plan.returncode == 0, plan.stdout + plan.stderr
    out = terraform.outputs()
    routes = client("apigatewayv2", endpoint).get_routes(ApiId=out["api_id"])["Items"]
    [connect] = [route for route in routes if route["RouteKey"] == "$connect"]
    env = client("lambda", endpoint).get_function_configuration(FunctionName=out["connect_function_name"])
    return out, connect, env["Environment"]["Variables"]["CONNECT_IDENTITY_SOURCE"]


def _option_roles(endpoint: str) -> Set[str]:
    """Which of the two options' roles exist: the authorizer's execution role, the IAM clients' roles."""
    names = {role["RoleName"] for role in client("iam", endpoint).list_roles()["Roles"]}
    return names & {AUTHORIZER_ROLE, *CLIENT_ROLES}


def test_switching_identity_is_one_apply_each_way(complete: Dict[str, Any]) -> None:
    """Last in this module (it replaces the authorizer the tests above run): to the example's default,
    "iam", and back to the token authorizer, one apply each way on the same API. Each option's resources
    exist only while it is chosen, the module updates the `$connect` route's authorization in place
    (CUSTOM with the example's authorizer <-> AWS_IAM without one), and the functions learn the new
    identity source."""
    terraform: Terraform = complete["terraform"]
    endpoint = complete["endpoint"]
    api_id = complete["outputs"]["api_id"]
    assert _option_roles(endpoint) == {AUTHORIZER_ROLE}
    try:
        terraform.variables = complete_example_variables(endpoint, REGION)  # the default: "iam"
        out, route, source = _applied(terraform, endpoint)
        assert out["api_id"] == api_id  # the same API: clients keep their URL
        assert (route["AuthorizationType"], route.get("AuthorizerId") or None, source) == ("AWS_IAM", None, "iam")
        assert out["connect_identity"] == {"source": "iam", "authorization_type": "AWS_IAM"}
        assert _option_roles(endpoint) == CLIENT_ROLES
        assert not {"authorizer_function_name", "token_key_arn"} & set(out)  # null: left out of the JSON
        functions = {f["FunctionName"] for f in client("lambda", endpoint).list_functions()["Functions"]}
        assert "remediation-connect-authorizer" not in functions
    finally:
        terraform.variables = complete["variables"]
    out, route, source = _applied(terraform, endpoint)
    assert (out["api_id"], route["AuthorizationType"], source) == (api_id, "CUSTOM", "authorizer")
    assert _option_roles(endpoint) == {AUTHORIZER_ROLE}
