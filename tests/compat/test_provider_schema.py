"""Forward compatibility: every aws_* argument and block the module and its examples use exists in
hashicorp/aws 6.69.1 (schema: the cdktn-provider-aws jsii assembly, see scripts/schema_compat.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import List

import pytest

from scripts.schema_compat import DEFAULT_SCHEMA, Problem, Schema, check_dirs, check_dirs_report, tf_files

REPO = Path(__file__).resolve().parents[2]

if not DEFAULT_SCHEMA.is_file():  # `make compat` installs it first; a bare pytest run says why it skips
    pytest.skip(f"{DEFAULT_SCHEMA.relative_to(REPO)} is missing: run `make tools`", allow_module_level=True)

MODULE_DIRS = [
    REPO,
    *sorted(p for p in (REPO / "modules").glob("*") if p.is_dir()),
    *sorted(p for p in (REPO / "examples").glob("*") if p.is_dir()),
]


def check_hcl(schema: Schema, tmp_path: Path, hcl: str) -> List[Problem]:
    (tmp_path / "main.tf").write_text(textwrap.dedent(hcl), encoding="utf-8")
    return check_dirs(schema, [tmp_path])


def describe(problems: List[Problem]) -> str:
    return "\n".join(str(p) for p in problems)


# --- the real module -----------------------------------------------------------------------------


@pytest.mark.parametrize("directory", MODULE_DIRS, ids=lambda p: str(p.relative_to(REPO)) or ".")
def test_module_and_examples_exist_in_6_69_1(schema: Schema, directory: Path) -> None:
    if not tf_files(directory):
        pytest.skip(f"{directory.relative_to(REPO)} has no .tf files yet")
    report = check_dirs_report(schema, [directory])
    assert report.problems == [], describe(report.problems)
    # A module without resources, data sources or providers (modules/settings only converts inputs)
    # has nothing to check; any other module must have had something checked.
    lines = [line for f in tf_files(directory) for line in f.read_text().splitlines()]
    declares = any(line.startswith(("resource ", "data ", "provider ")) for line in lines)
    assert report.objects + report.providers > 0 or not declares


def test_cli_passes_on_the_module(tmp_path: Path) -> None:
    dirs = [d for d in MODULE_DIRS if tf_files(d)] or [tmp_path]
    if dirs == [tmp_path]:
        (tmp_path / "main.tf").write_text('resource "aws_sqs_queue" "q" {\n  name = "q"\n}\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "schema_compat.py"), *map(str, dirs)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "checked against hashicorp/aws 6.69.1: all exist" in result.stdout


# --- the schema index ----------------------------------------------------------------------------


def test_schema_index_uses_terraform_names(schema: Schema) -> None:
    assert schema.label == "hashicorp/aws 6.69.1"
    lambda_function = schema.root("resource", "aws_lambda_function")
    assert lambda_function is not None
    assert {"function_name", "source_code_hash", "tracing_config", "s3_bucket"} <= set(lambda_function)
    table = schema.root("resource", "aws_dynamodb_table")
    assert table is not None
    assert {"ttl", "point_in_time_recovery", "server_side_encryption", "global_secondary_index"} <= set(table)
    assert table["ttl"].is_block
    assert schema.root("resource", "aws_apigatewayv2_route") is not None
    assert schema.root("data", "aws_iam_policy_document") is not None
    assert schema.root("resource", "aws_iam_policy_document") is None
    # Names cdktn renames are indexed under their Terraform name, read from the registry anchors:
    # aws_instance's get_password_data is `fetchPasswordData` in jsii.
    instance = schema.root("resource", "aws_instance")
    assert instance is not None
    assert "get_password_data" in instance
    assert "fetch_password_data" not in instance


# --- it can fail ---------------------------------------------------------------------------------


def test_made_up_argument_is_reported(schema: Schema, tmp_path: Path) -> None:
    problems = check_hcl(
        schema,
        tmp_path,
        """
        resource "aws_lambda_function" "this" {
          function_name    = "f"
          role             = "arn:aws:iam::123456789012:role/r"
          made_up_argument = 1
        }
        """,
    )
    assert len(problems) == 1, describe(problems)
    problem = problems[0]
    assert problem.file == str(tmp_path / "main.tf")
    assert problem.address == "aws_lambda_function.this"
    assert problem.subject == "made_up_argument"
    assert str(problem) == (
        f"{tmp_path / 'main.tf'}: aws_lambda_function.this: "
        'argument "made_up_argument" does not exist in hashicorp/aws 6.69.1'
    )


def test_made_up_argument_in_a_real_nested_block_is_reported(schema: Schema, tmp_path: Path) -> None:
    problems = check_hcl(
        schema,
        tmp_path,
        """
        resource "aws_lambda_function" "this" {
          function_name = "f"
          role          = "r"
          tracing_config {
            mode  = "Active"
            bogus = "x"
          }
        }
        """,
    )
    assert [(p.address, p.subject) for p in problems] == [("aws_lambda_function.this", "tracing_config.bogus")]


def test_made_up_nested_block_is_reported(schema: Schema, tmp_path: Path) -> None:
    problems = check_hcl(
        schema,
        tmp_path,
        """
        resource "aws_dynamodb_table" "registry" {
          name     = "t"
          hash_key = "k"
          ttl {
            attribute_name = "expires_at"
            enabled        = true
            made_up_block {
              x = 1
            }
          }
        }
        """,
    )
    assert [(p.address, p.subject) for p in problems] == [("aws_dynamodb_table.registry", "ttl.made_up_block")]
    assert 'block "ttl.made_up_block" does not exist' in str(problems[0])


def test_made_up_types_are_reported(schema: Schema, tmp_path: Path) -> None:
    problems = check_hcl(
        schema,
        tmp_path,
        """
        resource "aws_lambda_functionz" "this" {
          function_name = "f"
        }
        data "aws_made_up_thing" "x" {}
        resource "aws_iam_policy_document" "wrong_kind" {}
        resource "null_resource" "not_aws" {}
        """,
    )
    assert [(p.address, p.subject) for p in problems] == [
        ("aws_lambda_functionz.this", "aws_lambda_functionz"),
        ("aws_iam_policy_document.wrong_kind", "aws_iam_policy_document"),
        ("data.aws_made_up_thing.x", "aws_made_up_thing"),
    ]
    assert 'resource type "aws_lambda_functionz" does not exist in hashicorp/aws 6.69.1' in str(problems[0])
    assert "(it is a data source)" in str(problems[1])


def test_arguments_removed_since_provider_3_are_reported(schema: Schema, tmp_path: Path) -> None:
    # Verified both ways: present in hashicorp/aws 3.39.0 (`terraform providers schema -json` with the
    # offline mirror's provider) and absent from the 6.69.1 schema (provider-aws-6.69.1.jsii.json):
    #   aws_api_gateway_deployment.stage_name (removed in 6.0; ApiGatewayDeploymentConfig has only
    #     description, id, region, rest_api_id, triggers, variables);
    #   provider s3_force_path_style (renamed s3_use_path_style in 4.0) and skip_get_ec2_platforms;
    #   provider endpoints.iotanalytics (IoT Analytics left the provider in 6.0). endpoints still has
    #     cloudwatchevents in 6.69.1, so it is used here as a control that must NOT be reported.
    problems = check_hcl(
        schema,
        tmp_path,
        """
        provider "aws" {
          region                 = "us-east-1"
          s3_force_path_style    = true
          skip_get_ec2_platforms = true
          endpoints {
            lambda           = "http://localhost:5000"
            cloudwatchevents = "http://localhost:5000"
            iotanalytics     = "http://localhost:5000"
          }
        }

        resource "aws_api_gateway_deployment" "this" {
          rest_api_id = "abc"
          stage_name  = "live"
        }
        """,
    )
    assert sorted((p.address, p.subject) for p in problems) == [
        ("aws_api_gateway_deployment.this", "stage_name"),
        ("provider.aws", "endpoints.iotanalytics"),
        ("provider.aws", "s3_force_path_style"),
        ("provider.aws", "skip_get_ec2_platforms"),
    ]
    assert any('(did you mean "s3_use_path_style"?)' in str(p) for p in problems)


def test_argument_used_as_block_is_reported(schema: Schema, tmp_path: Path) -> None:
    problems = check_hcl(
        schema,
        tmp_path,
        """
        resource "aws_sqs_queue" "q" {
          tags {
            Name = "q"
          }
        }
        """,
    )
    assert [(p.address, p.subject) for p in problems] == [("aws_sqs_queue.q", "tags")]


def test_made_up_arguments_inside_dynamic_blocks_and_check_blocks_are_reported(schema: Schema, tmp_path: Path) -> None:
    problems = check_hcl(
        schema,
        tmp_path,
        """
        data "aws_iam_policy_document" "p" {
          dynamic "statement" {
            for_each = var.statements
            content {
              actions = statement.value.actions
              dynamic "principals" {
                for_each = []
                content {
                  type        = "Service"
                  identifiers = []
                  made_up     = 1
                }
              }
            }
          }
          dynamic "made_up_block" {
            for_each = []
            content {}
          }
        }

        check "function" {
          data "aws_lambda_function" "this" {
            function_name = "f"
            made_up       = true
          }
          assert {
            condition     = true
            error_message = "x"
          }
        }
        """,
    )
    assert sorted((p.address, p.subject) for p in problems) == [
        ("data.aws_iam_policy_document.p", "made_up_block"),
        ("data.aws_iam_policy_document.p", "statement.principals.made_up"),
        ("data.aws_lambda_function.this", "made_up"),
    ]


def test_unparsable_file_is_a_problem(schema: Schema, tmp_path: Path) -> None:
    problems = check_hcl(schema, tmp_path, 'resource "aws_sqs_queue" "q" {\n  name = \n')
    assert len(problems) == 1
    assert "cannot be parsed" in problems[0].message


# --- no false positives --------------------------------------------------------------------------


def test_meta_arguments_and_dynamic_blocks_are_not_reported(schema: Schema, tmp_path: Path) -> None:
    problems = check_hcl(
        schema,
        tmp_path,
        """
        provider "aws" {
          alias                       = "moto"
          region                      = "us-east-1"
          s3_use_path_style           = true
          skip_credentials_validation = true
          skip_requesting_account_id  = true
          default_tags {
            tags = { Module = "x" }
          }
          endpoints {
            apigatewayv2   = "http://localhost:5000"
            dynamodb       = "http://localhost:5000"
            iam            = "http://localhost:5000"
            lambda         = "http://localhost:5000"
            cloudwatchlogs = "http://localhost:5000"
            sts            = "http://localhost:5000"
          }
        }

        resource "aws_dynamodb_table" "registry" {
          count        = var.create_table ? 1 : 0
          provider     = aws.moto
          name         = "registry"
          billing_mode = "PAY_PER_REQUEST"
          hash_key     = "connection_id"

          attribute {
            name = "connection_id"
            type = "S"
          }
          attribute {
            name = "agent_id"
            type = "S"
          }
          ttl {
            attribute_name = "expires_at"
            enabled        = true
          }
          point_in_time_recovery {
            enabled = true
          }
          server_side_encryption {
            enabled = true
          }
          global_secondary_index {
            name            = "agent"
            hash_key        = "agent_id"
            projection_type = "ALL"
          }
          dynamic "replica" {
            for_each = var.replica_regions
            iterator = region
            content {
              region_name = region.value
            }
          }

          lifecycle {
            prevent_destroy = false
            ignore_changes  = [read_capacity]
            precondition {
              condition     = var.create_table
              error_message = "x"
            }
            postcondition {
              condition     = self.arn != ""
              error_message = "x"
            }
          }
        }

        resource "aws_apigatewayv2_route" "disconnect" {
          for_each   = toset(["$disconnect"])
          api_id     = "abc"
          route_key  = each.value
          target     = "integrations/x"
          depends_on = [aws_dynamodb_table.registry]
        }

        resource "aws_lambda_function" "this" {
          function_name    = "f"
          role             = "r"
          handler          = "app.handler"
          runtime          = "python3.12"
          filename         = "f.zip"
          source_code_hash = filebase64sha256("f.zip")
          tags             = merge(var.tags, { "Name" = "f" })

          dynamic "environment" {
            for_each = length(var.env) > 0 ? [var.env] : []
            content {
              variables = environment.value
            }
          }
          dynamic "tracing_config" {
            for_each = []
            content {
              mode = "Active"
            }
          }
          provisioner "local-exec" {
            command = "echo"
          }
        }

        resource "aws_security_group" "sg" {
          name = "sg"
          ingress {
            from_port   = 443
            to_port     = 443
            protocol    = "tcp"
            cidr_blocks = ["10.0.0.0/8"]
          }
          egress = [{
            from_port        = 0
            to_port          = 0
            protocol         = "-1"
            cidr_blocks      = ["0.0.0.0/0"]
            ipv6_cidr_blocks = []
            prefix_list_ids  = []
            security_groups  = []
            self             = false
            description      = "all"
          }]
        }

        data "aws_iam_policy_document" "assume" {
          statement {
            actions = ["sts:AssumeRole"]
            principals {
              type        = "Service"
              identifiers = ["lambda.amazonaws.com"]
            }
            condition {
              test     = "StringEquals"
              variable = "aws:SourceAccount"
              values   = [data.aws_caller_identity.current.account_id]
            }
          }
        }

        data "aws_caller_identity" "current" {
          depends_on = [aws_lambda_function.this]
        }

        data "archive_file" "not_aws" {
          type        = "zip"
          source_dir  = "src"
          output_path = "f.zip"
        }

        resource "terraform_data" "not_aws" {
          input = 1
        }

        variable "tags" {
          type    = map(string)
          default = {}
        }

        output "arn" {
          value = aws_lambda_function.this.arn
        }
        """,
    )
    assert problems == [], describe(problems)


# --- CLI -----------------------------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / "schema_compat.py"), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )


def test_cli_reports_problems_with_exit_1(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'resource "aws_lambda_function" "this" {\n  function_name = "f"\n  foo = 1\n}\n', encoding="utf-8"
    )
    result = run_cli(str(tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        f'{tmp_path / "main.tf"}: aws_lambda_function.this: argument "foo" does not exist in hashicorp/aws 6.69.1'
    ]


def test_cli_usage_errors_exit_2(tmp_path: Path) -> None:
    missing_schema = run_cli("--schema", str(tmp_path / "nope.json"), str(tmp_path))
    assert missing_schema.returncode == 2
    assert "make tools" in missing_schema.stderr
    assert run_cli(str(tmp_path / "no-such-dir")).returncode == 2
    assert run_cli().returncode == 2
