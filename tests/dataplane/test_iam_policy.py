"""The identity-policy evaluator behind the local gateway's AWS_IAM `$connect` (scripts/iam_policy.py)."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any, Dict, List

import pytest

from scripts.iam_policy import evaluate, identity_policies
from scripts.offline import client

ACTION = "execute-api:Invoke"
CONNECT = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/live/$connect"


def policy(*statements: Dict[str, Any]) -> Dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any = ACTION, resource: Any = CONNECT, **extra: Any) -> Dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any = ACTION, resource: Any = CONNECT) -> Dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource}


@pytest.mark.parametrize(
    "statement",
    [
        allow(),
        allow(action="execute-api:*"),
        allow(action="*"),
        allow(action="EXECUTE-API:invoke"),  # actions compare case-insensitively
        allow(action=["s3:GetObject", ACTION]),
        allow(resource="*"),
        allow(resource="arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/*/$connect"),
        allow(resource="arn:aws:execute-api:*:*:a1b2c3d4e5/liv?/$connect"),
        allow(resource=["arn:aws:s3:::x", CONNECT]),
    ],
)
def test_allowed(statement: Dict[str, Any]) -> None:
    assert evaluate([policy(statement)], ACTION, CONNECT).effect == "Allow"


@pytest.mark.parametrize(
    "statement",
    [
        allow(action="execute-api:ManageConnections"),
        allow(resource="arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/live/heartbeat"),
        allow(resource="arn:aws:execute-api:us-east-1:123456789012:A1B2C3D4E5/live/$connect"),  # case-sensitive
        allow(resource="arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/li?/$connect"),
        {"Effect": "Allow", "Action": ACTION},  # no Resource
    ],
)
def test_implicitly_denied(statement: Dict[str, Any]) -> None:
    assert evaluate([policy(statement)], ACTION, CONNECT).effect == "ImplicitDeny"


def test_an_explicit_deny_wins_over_any_allow() -> None:
    documents: List[Any] = [policy(allow(action="*", resource="*")), policy(deny(resource="*/live/*"))]
    assert evaluate(documents, ACTION, CONNECT).effect == "Deny"


@pytest.mark.parametrize("element", ["Condition", "NotAction", "NotResource"])
def test_unsupported_elements_make_a_statement_not_match_and_say_so(element: str) -> None:
    statement = allow(**{element: {"Bool": {"aws:SecureTransport": "true"}} if element == "Condition" else "s3:*"})
    decision = evaluate([policy(statement)], ACTION, CONNECT)
    assert decision.effect == "ImplicitDeny"
    assert decision.notes == [f"statement 1: {element} not supported: the statement does not match"]
    deny_statement = {**deny(), element: "x"}
    assert evaluate([policy(allow(), deny_statement)], ACTION, CONNECT).effect == "Allow"


def test_policy_variables_are_not_supported() -> None:
    decision = evaluate([policy(allow(resource="arn:aws:execute-api:*:*:*/${aws:username}/*"))], ACTION, CONNECT)
    assert decision.effect == "ImplicitDeny"
    assert "policy variables" in decision.notes[0]


def test_a_single_statement_object_and_an_encoded_document_are_read() -> None:
    encoded = urllib.parse.quote(json.dumps({"Version": "2012-10-17", "Statement": allow()}))
    assert evaluate([encoded], ACTION, CONNECT).allowed


def test_a_roles_inline_and_attached_policies_are_read_from_moto(endpoint: str, name: str) -> None:
    iam = client("iam", endpoint)
    iam.create_role(RoleName=name, Path="/agents/", AssumeRolePolicyDocument="{}")
    iam.put_role_policy(RoleName=name, PolicyName="invoke", PolicyDocument=json.dumps(policy(allow())))
    managed = iam.create_policy(PolicyName=f"{name}-deny", PolicyDocument=json.dumps(policy(deny(resource="*"))))
    arn = f"arn:aws:sts::123456789012:assumed-role/{name}/agent-07"
    assert evaluate(identity_policies(endpoint, arn), ACTION, CONNECT).allowed
    iam.attach_role_policy(RoleName=name, PolicyArn=managed["Policy"]["Arn"])
    assert evaluate(identity_policies(endpoint, arn), ACTION, CONNECT).effect == "Deny"


def test_a_users_own_and_groups_policies_are_read_from_moto(endpoint: str, name: str) -> None:
    iam = client("iam", endpoint)
    iam.create_user(UserName=name)
    iam.create_group(GroupName=name)
    iam.add_user_to_group(GroupName=name, UserName=name)
    arn = f"arn:aws:iam::123456789012:user/{name}"
    assert not evaluate(identity_policies(endpoint, arn), ACTION, CONNECT).allowed
    iam.put_group_policy(GroupName=name, PolicyName="invoke", PolicyDocument=json.dumps(policy(allow())))
    assert evaluate(identity_policies(endpoint, arn), ACTION, CONNECT).allowed
