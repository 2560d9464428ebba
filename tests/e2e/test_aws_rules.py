"""End to end on moto: what real AWS enforces and the emulator alone would have let slip (issue 9).

- IAM role names are global to an account: examples/local applied with the same `name` in two regions
  of ONE moto server must not collide (it failed with EntityAlreadyExists when roles were named after
  the function); the rendered policies of both pass the IAM policy linter (parliament) with 0 findings.
- Code changed outside Terraform: the next plan warns that the deployed code is not the package
  (hashicorp/aws >= 5.51 no longer shows such a change as a diff of `source_code_hash`).
- examples/existing-table: the table's customer-managed key is read from the table.
- examples/complete with its default connect_identity, "iam": the on-call topic's key lets CloudWatch
  and EventBridge publish; the optional account-wide API Gateway logging role; the client roles carry
  exactly the module's agent policy. (Its other option, the token authorizer, is test_authorizer.py's.)
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from scripts.iam_lint import lint_policy
from scripts.offline import Terraform, client, copy_tree
from tests.support.servers import complete_example_variables, moto_override_with_runtime, moto_server

pytestmark = pytest.mark.e2e

if shutil.which("terraform") is None:
    pytest.skip("terraform is not on PATH: run through `make e2e` (it installs the toolchain)", allow_module_level=True)

REGIONS = ("us-east-1", "eu-west-1")
NAME = "remediation-regions"


@pytest.fixture(scope="module")
def two_regions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Any]]:
    """examples/local with one name applied in two regions of one emulated account."""
    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as endpoint:
        stacks: List[Terraform] = []
        try:
            for region in REGIONS:
                tree = copy_tree(tmp_path_factory.mktemp(f"tree-{region}"))
                terraform = Terraform(
                    tree / "examples" / "local", {"aws_endpoint": endpoint, "region": region, "name": NAME}
                )
                terraform.init()
                stacks.append(terraform)
                terraform.apply()
            yield {"endpoint": endpoint, "stacks": stacks, "outputs": [t.outputs() for t in stacks]}
        finally:
            for terraform in reversed(stacks):
                terraform.destroy()


def test_same_name_applies_in_two_regions_with_distinct_roles(two_regions: Dict[str, Any]) -> None:
    iam = client("iam", two_regions["endpoint"])
    roles = sorted(role["RoleName"] for role in iam.list_roles()["Roles"] if role["RoleName"].startswith(NAME))
    # examples/local enables the $connect writer and presence (the checker and the announcer).
    functions = (NAME, f"{NAME}-sweeper", f"{NAME}-connect", f"{NAME}-presence", f"{NAME}-events")
    assert roles == sorted(f"{function}-{region}" for region in REGIONS for function in functions)
    assert all(len(role) <= 64 for role in roles)
    for region, outputs in zip(REGIONS, two_regions["outputs"]):
        config = client("lambda", two_regions["endpoint"], region).get_function_configuration(
            FunctionName=outputs["function_name"]
        )
        assert config["Role"].endswith(f":role/{NAME}-{region}")


def test_rendered_policies_lint_clean(two_regions: Dict[str, Any]) -> None:
    iam = client("iam", two_regions["endpoint"])
    documents = []
    for region in REGIONS:
        for function in (NAME, f"{NAME}-sweeper", f"{NAME}-connect", f"{NAME}-presence", f"{NAME}-events"):
            role = f"{function}-{region}"
            [policy_name] = iam.list_role_policies(RoleName=role)["PolicyNames"]
            document = iam.get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"]
            documents.append(document if isinstance(document, str) else json.dumps(document))
    assert len(documents) == 10
    assert [lint_policy(document) for document in documents] == [[]] * 10


def test_code_changed_outside_terraform_is_reported(two_regions: Dict[str, Any]) -> None:
    """hashicorp/aws >= 5.51 keeps the function's state as applied, so its plan shows no diff for code
    changed behind Terraform's back; `plan -refresh=false` gives 3.39.0 the same blind spot. The
    module's check reads the deployed code hash anyway and warns. (Refreshed, 3.39.0 itself also
    plans the function's update, and the check then waits for it: "known after apply".)"""
    terraform: Terraform = two_regions["stacks"][0]
    function = two_regions["outputs"][0]["function_name"]
    warning = f"Lambda function {function} runs code that is not the module's package"

    def plan_without_refresh() -> str:
        proc = terraform.run(
            "plan", "-refresh=false", "-detailed-exitcode", "-input=false", "-no-color", *terraform._vars(), check=False
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr  # no change planned either way
        return " ".join((proc.stdout + proc.stderr).replace("│", " ").split())

    assert warning not in plan_without_refresh()

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("remediation_registry/handlers.py", "def disconnect(event, context):\n    return None\n")
    client("lambda", two_regions["endpoint"], REGIONS[0]).update_function_code(
        FunctionName=function, ZipFile=buffer.getvalue()
    )

    assert warning in plan_without_refresh()
    refreshed = terraform.plan_exit_code()
    assert refreshed.returncode == 2, refreshed.stdout + refreshed.stderr
    assert "module.remediation_disconnect.module.disconnect_function.aws_lambda_function.this will be updated" in (
        refreshed.stdout
    )


def test_complete_example_iam_identity_topic_key_and_account_logging_role(tmp_path: Path) -> None:
    """examples/complete with its default connect_identity ("iam") and manage_api_gateway_account: the
    on-call topic's key lets alarms and EventBridge publish (alias/aws/sns would not), API Gateway has its
    CloudWatch Logs role, $connect is AWS_IAM with no authorizer, the agent and Dashboard roles carry
    exactly the module's agent policy, and the stack converges. (The other option, "token_authorizer", is
    test_authorizer.py's.)"""
    tree = copy_tree(tmp_path / "tree")
    directory = tree / "examples" / "complete"
    region = REGIONS[0]
    with moto_server(tmp_path / "moto.log") as endpoint:
        (directory / "moto_override.tf").write_text(moto_override_with_runtime(endpoint, region))
        terraform = Terraform(
            directory,
            {**complete_example_variables(endpoint, region), "manage_api_gateway_account": "true"},
        )
        terraform.init()
        try:
            terraform.apply()
            topic_arn = terraform.outputs()["oncall_topic_arn"]
            attributes = client("sns", endpoint, region).get_topic_attributes(TopicArn=topic_arn)["Attributes"]
            key_id = attributes["KmsMasterKeyId"]
            assert not key_id.startswith("alias/aws/")
            kms = client("kms", endpoint, region)
            assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyManager"] == "CUSTOMER"
            policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
            grants = {
                service
                for statement in policy["Statement"]
                if statement["Effect"] == "Allow"
                and {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(statement["Action"])
                for service in statement["Principal"].get("Service", [])
            }
            assert grants == {"cloudwatch.amazonaws.com", "events.amazonaws.com"}

            account = client("apigateway", endpoint, region).get_account()
            assert account["cloudwatchRoleArn"].endswith(f":role/remediation-apigateway-logs-{region}")

            out = terraform.outputs()
            assert out["connect_identity"] == {"source": "iam", "authorization_type": "AWS_IAM"}
            assert not {"token_key_arn", "authorizer_function_name"} & set(out)  # null: left out of the JSON
            api = client("apigatewayv2", endpoint, region)
            routes = {route["RouteKey"]: route for route in api.get_routes(ApiId=out["api_id"])["Items"]}
            assert routes["$connect"]["AuthorizationType"] == "AWS_IAM"
            assert not routes["$connect"].get("AuthorizerId")  # (moto cannot list authorizers)
            functions = client("lambda", endpoint, region).list_functions()["Functions"]
            assert not [f["FunctionName"] for f in functions if "authorizer" in f["FunctionName"]]
            iam = client("iam", endpoint, region)
            agent_policy = json.loads(out["agent_policy_json"])
            assert [statement["Resource"] for statement in agent_policy["Statement"]] == [
                [
                    f"arn:aws:execute-api:{region}:123456789012:{out['api_id']}/live/$connect",
                    f"arn:aws:execute-api:{region}:123456789012:{out['api_id']}/live/heartbeat",
                ]
            ]
            for role_arn in (out["agent_role_arn"], out["dashboard_role_arn"]):
                role = role_arn.rsplit("/", 1)[1]
                [name] = iam.list_role_policies(RoleName=role)["PolicyNames"]
                document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
                assert (json.loads(document) if isinstance(document, str) else document) == agent_policy
                assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
            assert lint_policy(out["agent_policy_json"]) == []
            env = client("lambda", endpoint, region).get_function_configuration(
                FunctionName=out["connect_function_name"]
            )["Environment"]["Variables"]
            assert (
                env["CONNECT_IDENTITY_SOURCE"],
                env["CONNECT_IAM_AGENT_ROLES"],
                env["CONNECT_IAM_DASHBOARD_ROLES"],
            ) == (
                "iam",
                out["agent_role_arn"],
                out["dashboard_role_arn"],
            )
            plan = terraform.plan_exit_code()
            assert plan.returncode == 0, plan.stdout + plan.stderr
        finally:
            terraform.destroy()


def test_existing_table_key_is_read_from_the_table(tmp_path: Path) -> None:
    """examples/existing-table: the table has a customer-managed key and table.kms_key_arn is not set;
    both roles may decrypt exactly that key, through DynamoDB only."""
    tree = copy_tree(tmp_path / "tree")
    directory = tree / "examples" / "existing-table"
    region = REGIONS[0]
    with moto_server(tmp_path / "moto.log") as endpoint:
        (directory / "moto_override.tf").write_text(moto_override_with_runtime(endpoint, region))
        terraform = Terraform(directory, {"region": region})
        terraform.init()
        try:
            terraform.apply()
            outputs = terraform.outputs()
            key_arn = outputs["table_kms_key_arn"]
            described = client("dynamodb", endpoint, region).describe_table(TableName="RemediationWebSocketConnections")
            assert described["Table"]["SSEDescription"]["KMSMasterKeyArn"] == key_arn
            for function, document in outputs["iam_policies"].items():
                statements = {s["Sid"]: s for s in json.loads(document)["Statement"]}
                assert statements["DecryptTableKey"] == {
                    "Sid": "DecryptTableKey",
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt"],
                    "Resource": [key_arn],
                    "Condition": {
                        "StringEquals": {
                            "kms:ViaService": [f"dynamodb.{region}.amazonaws.com"],
                            "kms:EncryptionContext:aws:dynamodb:tableName": ["RemediationWebSocketConnections"],
                        }
                    },
                }, function
                assert statements["DescribeTableKey"] == {
                    "Sid": "DescribeTableKey",
                    "Effect": "Allow",
                    "Action": ["kms:DescribeKey"],
                    "Resource": [key_arn],
                    "Condition": {"StringEquals": {"kms:ViaService": [f"dynamodb.{region}.amazonaws.com"]}},
                }, function
                assert lint_policy(document) == [], function
        finally:
            terraform.destroy()
