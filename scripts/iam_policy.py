"""A small evaluator of identity-based IAM policies, for the local gateway's AWS_IAM `$connect`.

After the signature, API Gateway authorizes: the caller's policies must allow `execute-api:Invoke` on
`arn:aws:execute-api:<region>:<account>:<api>/<stage>/$connect`
(https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-control-access-iam.html).
`identity_policies` reads the caller's policies back from moto's IAM: for an assumed role, the role's
inline policies (ListRolePolicies / GetRolePolicy) and managed policies (ListAttachedRolePolicies,
the default version of each); for an IAM user, its inline, attached and groups' policies.
`evaluate` decides as IAM does within one account for these statements: an explicit Deny wins, else
an Allow is needed, else the request is implicitly denied
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).
Supported: Effect, Action and Resource (a string or a list), with `*` and `?` wildcards; actions
compare case-insensitively, resources case-sensitively. Not supported, and said so in the decision's
notes: NotAction, NotResource, Condition, policy variables (`${...}`), Principal: a statement using
one does not match (an Allow then grants nothing, a Deny then denies nothing). Not evaluated:
permissions boundaries, session policies, SCPs, resource policies (WebSocket APIs have none).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any, Dict, List, NamedTuple, Sequence

from scripts.offline import REGION, client

UNSUPPORTED = ("NotAction", "NotResource", "Condition", "Principal", "NotPrincipal")


class Decision(NamedTuple):
    effect: str  # "Allow" | "Deny" | "ImplicitDeny"
    notes: List[str]  # statements skipped and why

    @property
    def allowed(self) -> bool:
        return self.effect == "Allow"


def _pattern(text: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _values(value: Any) -> List[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    return []


def _statements(document: Any) -> List[Dict[str, Any]]:
    if isinstance(document, str):
        document = json.loads(urllib.parse.unquote(document))
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    statements = statements if isinstance(statements, list) else [statements]
    return [statement for statement in statements if isinstance(statement, dict)]


def evaluate(documents: Sequence[Any], action: str, resource: str) -> Decision:
    """The effect of these policies on one action and resource."""
    notes: List[str] = []
    allowed = False
    for number, statement in enumerate(s for document in documents for s in _statements(document)):
        label = statement.get("Sid") or f"statement {number + 1}"
        unsupported = [key for key in UNSUPPORTED if key in statement]
        if unsupported:
            notes.append(f"{label}: {', '.join(unsupported)} not supported: the statement does not match")
            continue
        actions, resources = _values(statement.get("Action")), _values(statement.get("Resource"))
        if any("${" in value for value in actions + resources):
            notes.append(f"{label}: policy variables not supported: the statement does not match")
            continue
        if not any(_pattern(pattern, True).match(action) for pattern in actions):
            continue
        if not any(_pattern(pattern, False).match(resource) for pattern in resources):
            continue
        if statement.get("Effect") == "Deny":
            return Decision("Deny", notes)
        allowed = allowed or statement.get("Effect") == "Allow"
    return Decision("Allow" if allowed else "ImplicitDeny", notes)


def _managed(iam: Any, attached: List[Dict[str, str]]) -> List[Any]:
    documents = []
    for policy in attached:
        version = iam.get_policy(PolicyArn=policy["PolicyArn"])["Policy"]["DefaultVersionId"]
        documents.append(
            iam.get_policy_version(PolicyArn=policy["PolicyArn"], VersionId=version)["PolicyVersion"]["Document"]
        )
    return documents


def identity_policies(endpoint: str, principal_arn: str, region: str = REGION) -> List[Any]:
    """The identity-based policy documents of an assumed role's role or of an IAM user, from moto's IAM."""
    iam = client("iam", endpoint, region)
    resource = principal_arn.split(":", 5)[5]
    if resource.startswith("assumed-role/"):
        role = resource.split("/")[1]
        names = iam.list_role_policies(RoleName=role)["PolicyNames"]
        documents = [iam.get_role_policy(RoleName=role, PolicyName=n)["PolicyDocument"] for n in names]
        return documents + _managed(iam, iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"])
    if resource.startswith("user/"):
        user = resource.rsplit("/", 1)[1]
        names = iam.list_user_policies(UserName=user)["PolicyNames"]
        documents = [iam.get_user_policy(UserName=user, PolicyName=n)["PolicyDocument"] for n in names]
        documents += _managed(iam, iam.list_attached_user_policies(UserName=user)["AttachedPolicies"])
        for group in iam.list_groups_for_user(UserName=user)["Groups"]:
            name = group["GroupName"]
            inline = iam.list_group_policies(GroupName=name)["PolicyNames"]
            documents += [iam.get_group_policy(GroupName=name, PolicyName=n)["PolicyDocument"] for n in inline]
            documents += _managed(iam, iam.list_attached_group_policies(GroupName=name)["AttachedPolicies"])
        return documents
    return []  # any other principal: no policy found, implicitly denied
