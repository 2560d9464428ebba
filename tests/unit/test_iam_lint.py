"""The IAM policy linter behind `make iam-lint`: it must catch what IAM would silently never match
(issue 9: a KMS alias ARN as a kms:Decrypt resource), pass the module's real statement shapes, and
find the rendered policies in `terraform test -json -verbose` output."""

from __future__ import annotations

import json
from typing import Any, Dict, List

from scripts.iam_lint import lint_policy, policies_from_test_log


def _policy(key_resource: str) -> str:
    """The module's table-key statement (iam.tf) beside its table statement, with `key_resource`."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DeleteClosedConnection",
                    "Effect": "Allow",
                    "Action": ["dynamodb:DeleteItem"],
                    "Resource": ["arn:aws:dynamodb:eu-west-1:123456789012:table/connections"],
                },
                {
                    "Sid": "DecryptTableKey",
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:DescribeKey"],
                    "Resource": [key_resource],
                    "Condition": {"StringEquals": {"kms:ViaService": ["dynamodb.eu-west-1.amazonaws.com"]}},
                },
            ],
        }
    )


def test_kms_alias_as_resource_is_a_resource_mismatch() -> None:
    findings = lint_policy(_policy("arn:aws:kms:eu-west-1:123456789012:alias/remediation"))
    assert [finding.split(":", 1)[0] for finding in findings] == ["RESOURCE_MISMATCH"]


def test_kms_key_arn_as_resource_is_clean() -> None:
    assert lint_policy(_policy("arn:aws:kms:eu-west-1:123456789012:key/5e1f2a3b-1111-2222-3333-444455556666")) == []


def test_unknown_action_is_reported() -> None:
    document = json.loads(_policy("arn:aws:kms:eu-west-1:123456789012:key/5e1f2a3b-1111-2222-3333-444455556666"))
    document["Statement"][0]["Action"] = ["dynamodb:RemoveItem"]
    assert [finding.split(":", 1)[0] for finding in lint_policy(json.dumps(document))] == ["UNKNOWN_ACTION"]


def test_policies_are_read_from_every_applied_run_of_the_test_log() -> None:
    def state(run: str, policies: Dict[str, str]) -> str:
        message: Dict[str, Any] = {
            "@testfile": "tests/x.tftest.hcl",
            "@testrun": run,
            "type": "test_state",
            "test_state": {"outputs": {"iam_policies": {"sensitive": False, "value": policies}}},
        }
        return json.dumps(message)

    lines: List[str] = [
        json.dumps({"type": "test_run", "@testrun": "a"}),
        state("a", {"disconnect": "D1", "sweeper": "S1"}),
        "not json",
        state("b", {"disconnect": "D2"}),
        json.dumps({"type": "test_state", "@testrun": "c", "test_state": {"outputs": {}}}),
    ]
    assert list(policies_from_test_log(lines)) == [
        ("tests/x.tftest.hcl/a", "disconnect", "D1"),
        ("tests/x.tftest.hcl/a", "sweeper", "S1"),
        ("tests/x.tftest.hcl/b", "disconnect", "D2"),
    ]
