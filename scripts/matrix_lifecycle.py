"""apply -> no-change plan -> destroy of an example on a fresh moto server, with any engine.

Used by scripts/matrix.py for the engines other than the newest Terraform (whose lifecycle, and much
more, is tests/e2e). What a user would notice is checked: the stack exists in the emulator after
apply, a second plan proposes nothing (exit 0 of `plan -detailed-exitcode`), and after destroy
nothing of it is left.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence

from scripts.offline import client
from tests.support.servers import moto_server

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


def stack_in_emulator(endpoint: str, prefix: str) -> List[str]:
    """Names of the functions, tables, APIs, rules, roles and alarms starting with the stack's prefix."""
    names: List[str] = []
    names += [f["FunctionName"] for f in client("lambda", endpoint).list_functions()["Functions"]]
    names += list(client("dynamodb", endpoint).list_tables()["TableNames"])
    names += [a["Name"] for a in client("apigatewayv2", endpoint).get_apis()["Items"]]
    names += [r["Name"] for r in client("events", endpoint).list_rules()["Rules"]]
    names += [r["RoleName"] for r in client("iam", endpoint).list_roles()["Roles"]]
    names += [a["AlarmName"] for a in client("cloudwatch", endpoint).describe_alarms()["MetricAlarms"]]
    return sorted(name for name in names if name.startswith(prefix))


def lifecycle(run: Runner, tree: Path, example: str, log: Path) -> str:
    """Raise on any failed step; return a one-line summary for the matrix."""
    with moto_server(log.with_suffix(".moto.log")) as endpoint:
        variables: Sequence[str] = (f"-var=aws_endpoint={endpoint}",)
        timings: Dict[str, float] = {}

        def timed(label: str, *args: str, ok: Sequence[int] = (0,)) -> subprocess.CompletedProcess[str]:
            started = time.monotonic()
            proc = run(example, *args, ok=ok)
            timings[label] = time.monotonic() - started
            return proc

        timed("apply", "apply", "-auto-approve", "-input=false", "-no-color", *variables)
        outputs: Dict[str, Any] = {
            name: value["value"] for name, value in json.loads(run(example, "output", "-json").stdout).items()
        }
        expected = {str(outputs[key]) for key in ("function_name", "sweeper_function_name", "table_name")}
        prefix = os.path.commonprefix(sorted(expected))  # noqa: RUF071 - names, not paths
        if len(prefix) < 3:
            raise AssertionError(f"the example's names share no prefix to look for: {sorted(expected)}")
        created = stack_in_emulator(endpoint, prefix)
        if not expected <= set(created):
            raise AssertionError(f"after apply, {sorted(expected - set(created))} are not in the emulator")
        plan = timed("plan", "plan", "-detailed-exitcode", "-input=false", "-no-color", *variables, ok=(0, 2))
        if plan.returncode != 0:
            changes = [line for line in plan.stdout.splitlines() if line.strip().startswith(("#", "~", "+", "-"))]
            raise AssertionError("the plan after apply is not empty:\n" + "\n".join(changes[:30]))
        timed("destroy", "destroy", "-auto-approve", "-input=false", "-no-color", *variables)
        left = stack_in_emulator(endpoint, prefix)
        if left:
            raise AssertionError(f"after destroy, still in the emulator: {left}")
    return (
        f"{len(created)} named resources; apply {timings['apply']:.0f}s, no-change plan "
        f"{timings['plan']:.0f}s, destroy {timings['destroy']:.0f}s"
    )
