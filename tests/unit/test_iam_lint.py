"""The IAM policy linter behind `make iam-lint`: it must catch what IAM would silently never match
(issue 9: a KMS alias ARN as a kms:Decrypt resource), pass the module's real statement shapes, and
find the rendered policies in `terraform test -json -verbose` output."""

from __future__ import annotations

import json
from typing import Any, Dict, List

from scripts.iam_lint import Progress, lint_policy, policies_from_test_log


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


def _message(kind: str, text: str, run: str = "", **extra: Any) -> str:
    message: Dict[str, Any] = {"type": kind, "@message": text, "@testfile": "tests/a.tftest.hcl", **extra}
    if run:
        message["@testrun"] = run
    return json.dumps(message)


def _diagnostic(run: str, summary: str) -> str:
    return _message("diagnostic", f"Error: {summary}", run, diagnostic={"summary": summary, "detail": "why"})


def test_suite_progress_shows_runs_and_only_the_diagnostics_of_runs_that_failed() -> None:
    progress = Progress()
    lines = [
        _message("test_file", "tests/a.tftest.hcl... in progress"),
        _message("test_run", '  "bad"... in progress', "bad", test_run={"progress": "starting"}),
        _message("test_run", '  "bad"... fail', "bad", test_run={"status": "fail"}),
        _diagnostic("bad", "Test assertion failed"),
        _diagnostic("refused", "Invalid value for variable"),  # an expected failure: before its status
        _message("test_run", '  "refused"... pass', "refused", test_run={"status": "pass"}),
        _message("test_state", "-verbose flag enabled, printing state", "refused"),
        _message("test_summary", "Failure! 1 passed, 1 failed."),
    ]

    shown = [text for line in lines for text in progress.show(line)]

    assert shown == [
        "tests/a.tftest.hcl... in progress",
        '  "bad"... fail',
        "error: Test assertion failed\n  why",
        '  "refused"... pass',
        "Failure! 1 passed, 1 failed.",
    ]
