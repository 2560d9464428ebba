"""The newest provider's deprecations and runtime values (scripts/provider_policy.py): the module passes,
a deprecated argument or a runtime the provider refuses fails, and the allow-list is the only way out."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import List

import pytest

from scripts.schema_compat import Policy, Problem, Schema, check_dirs, check_dirs_report

REPO = Path(__file__).resolve().parents[2]
MODULE_DIRS = [
    REPO,
    REPO / "modules" / "lambda-function",
    *sorted(p for p in (REPO / "examples").glob("*") if p.is_dir()),
]

TABLE = """
resource "aws_dynamodb_table" "t" {
  name         = "t"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"
  attribute {
    name = "pk"
    type = "S"
  }
  dynamic "global_secondary_index" {
    for_each = ["by-agent"]
    content {
      name            = global_secondary_index.value
      hash_key        = "agentId"
      %s
      projection_type = "ALL"
    }
  }
}
"""


def check_hcl(schema: Schema, policy: Policy, tmp_path: Path, hcl: str) -> List[Problem]:
    (tmp_path / "main.tf").write_text(textwrap.dedent(hcl), encoding="utf-8")
    return check_dirs(schema, [tmp_path], policy)


def test_the_module_and_examples_pass_without_any_allow_list_entry(schema: Schema, policy: Policy) -> None:
    report = check_dirs_report(schema, MODULE_DIRS, policy)
    assert report.problems == [], "\n".join(map(str, report.problems))
    assert report.allowed == [], "the module uses no deprecated argument: nothing needs the allow-list"
    assert policy.unmapped == []  # every resource type the module uses has deprecation data


def test_deprecated_argument_fails_unless_allow_listed(schema: Schema, policy: Policy, tmp_path: Path) -> None:
    problems = check_hcl(schema, policy, tmp_path, TABLE % 'range_key = "connectedAt"')
    assert [(p.address, p.subject) for p in problems] == [
        ("aws_dynamodb_table.t", "global_secondary_index.hash_key"),
        ("aws_dynamodb_table.t", "global_secondary_index.range_key"),
    ]
    assert all("deprecated" in p.message and "key_schema" in p.message for p in problems)

    problems = check_hcl(schema, policy, tmp_path, TABLE % "")
    assert [p.subject for p in problems] == ["global_secondary_index.hash_key"]

    # An allow-list entry, with its reason, is the only way out.
    policy.allow[("aws_dynamodb_table", "global_secondary_index.hash_key")] = "a reason"
    assert check_hcl(schema, policy, tmp_path, TABLE % "") == []


def test_top_level_deprecated_argument_fails(schema: Schema, policy: Policy, tmp_path: Path) -> None:
    hcl = 'resource "aws_cloudwatch_event_rule" "r" {\n  name = "r"\n  schedule_expression = "rate(5 minutes)"\n'
    problems = check_hcl(schema, policy, tmp_path, hcl + "  is_enabled = true\n}\n")
    assert [(p.address, p.subject) for p in problems] == [("aws_cloudwatch_event_rule.r", "is_enabled")]
    assert "deprecated" in problems[0].message
    assert check_hcl(schema, policy, tmp_path, hcl + '  state = "ENABLED"\n}\n') == []


def test_runtime_the_provider_refuses_fails_everywhere_it_is_written(
    schema: Schema, policy: Policy, tmp_path: Path
) -> None:
    problems = check_hcl(
        schema,
        policy,
        tmp_path,
        """
        variable "runtime" {
          type    = string
          default = "python3.99"
        }
        module "m" {
          source  = "../.."
          runtime = "python2.99"
        }
        resource "aws_lambda_function" "f" {
          function_name = "f"
          role          = "r"
          runtime       = "pyhton3.13"
        }
        resource "aws_lambda_function" "g" {
          function_name = "g"
          role          = "r"
          runtime       = var.runtime
        }
        """,
    )
    assert sorted((p.address, p.subject) for p in problems) == [
        ("aws_lambda_function.f", "runtime"),
        ("module.m", "runtime"),
        ("var.runtime", "default"),
    ]
    assert all("is not accepted" in p.message and "python3.13" in p.message for p in problems)


def test_runtime_values_come_from_the_lambda_api_model(policy: Policy) -> None:
    assert {"python3.13", "python3.12", "nodejs22.x", "provided.al2023"} <= policy.runtimes
    assert "python3.99" not in policy.runtimes
    assert policy.runtimes_label.startswith("botocore ")
    assert policy.resource_class("aws_lambda_function") == "lambda_.Function"
    assert policy.resource_class("aws_cloudwatch_event_rule") == "cloudwatch.EventRule"


def test_cli_fails_on_a_deprecated_argument(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(textwrap.dedent(TABLE % 'range_key = "connectedAt"'), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "schema_compat.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "global_secondary_index.range_key" in result.stdout
    assert "deprecated" in result.stdout


@pytest.mark.parametrize("value", ["python3.13", "python3.8"])
def test_accepted_runtimes_pass(schema: Schema, policy: Policy, tmp_path: Path, value: str) -> None:
    hcl = f'resource "aws_lambda_function" "f" {{\n  function_name = "f"\n  role = "r"\n  runtime = "{value}"\n}}\n'
    assert check_hcl(schema, policy, tmp_path, hcl) == []
