"""Forward-compatibility check of the module's Terraform code against the newest hashicorp/aws.

1. Every aws_* resource / data source / provider argument and block exists in hashicorp/aws 6.69.1
   (schema: the cdktn-provider-aws jsii assembly, scripts/provider_schema.py; walking the HCL:
   scripts/hcl_check.py).
2. No argument is deprecated in the newest provider (pulumi-aws's generated schema messages), unless
   scripts/provider_policy.py's ALLOW_LIST keeps it with a reason (printed on every run).
3. Every literal Lambda runtime (aws_lambda_function, the `runtime` variable's default, module calls)
   is a value the provider accepts (the AWS Lambda API model's Runtime enum, via botocore).

Usage: ``python scripts/schema_compat.py [--schema PATH] [--deprecations PATH] DIR [DIR ...]``; exit 0
when all is well, 1 with one line per problem, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.hcl_check import Problem, Report, check_dirs, check_dirs_report, check_files, check_text, tf_files
from scripts.provider_policy import DEFAULT_DEPRECATIONS, Policy, PolicyError, load_policy
from scripts.provider_schema import DEFAULT_SCHEMA, PROVIDER_VERSION, Schema, SchemaError, load_schema

__all__ = [
    "DEFAULT_DEPRECATIONS",
    "DEFAULT_SCHEMA",
    "Policy",
    "Problem",
    "Report",
    "Schema",
    "check_dirs",
    "check_dirs_report",
    "check_files",
    "check_text",
    "load_policy",
    "load_schema",
    "tf_files",
]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="schema_compat",
        description=f"Check that every aws_* argument and block exists in hashicorp/aws {PROVIDER_VERSION}, "
        "none is deprecated (unless allow-listed) and every literal Lambda runtime is accepted.",
    )
    parser.add_argument("--schema", type=Path, default=DEFAULT_SCHEMA, help=f"default: {DEFAULT_SCHEMA}")
    parser.add_argument(
        "--deprecations", type=Path, default=DEFAULT_DEPRECATIONS, help=f"default: {DEFAULT_DEPRECATIONS}"
    )
    parser.add_argument("--timing", action="store_true", help="print load/check durations to stderr")
    parser.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="directory with *.tf files (not recursive)")
    args = parser.parse_args(argv)

    missing = [str(d) for d in args.dirs if not Path(d).is_dir()]
    if missing:
        print(f"schema_compat: not a directory: {', '.join(missing)}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    try:
        schema = load_schema(args.schema)
        policy = load_policy(args.deprecations)
    except (SchemaError, PolicyError) as exc:
        print(f"schema_compat: {exc}", file=sys.stderr)
        return 2
    loaded = time.perf_counter()

    report = Report()
    for directory in args.dirs:
        files = tf_files(directory)
        if not files:
            print(f"schema_compat: warning: no *.tf files in {directory}", file=sys.stderr)
        check_files(schema, files, report, policy)
    if args.timing:
        print(
            f"schema_compat: schema loaded in {loaded - started:.2f}s, "
            f"{report.files} files checked in {time.perf_counter() - loaded:.3f}s",
            file=sys.stderr,
        )

    for problem in report.problems:
        print(problem)
    for allowed in report.allowed:
        print(f"schema_compat: allow-listed deprecated argument: {allowed}", file=sys.stderr)
    if policy.unmapped:
        print(
            f"schema_compat: no deprecation data for {', '.join(sorted(policy.unmapped))} "
            "(not found in pulumi-aws by name); existence checked only",
            file=sys.stderr,
        )
    counted = f"{report.objects} resources/data sources"
    if report.providers:
        counted += f" and {report.providers} provider blocks"
    if report.problems:
        print(
            f"schema_compat: {len(report.problems)} problem(s) in {counted} checked against {schema.label}",
            file=sys.stderr,
        )
        return 1
    print(
        f"schema_compat: {counted}, {report.arguments} arguments and blocks checked against {schema.label}: all exist; "
        f"no deprecated argument outside the allow-list; runtimes accepted ({policy.runtimes_label})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
