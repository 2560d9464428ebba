"""Lint the module's rendered IAM policies with parliament, for every feature combination the
Terraform tests apply.

`make tf-test` (and `make iam-lint`) runs the root module's `terraform test` suite (mock provider) once,
here, in the stand-in tree (scripts/standin_tree.py: the copy hashicorp/aws 3.39.0 can run), with
`-json -verbose`, which prints the state after each run: the suite's progress, failures and summary are
printed as terraform prints them, and every policy document found is checked by parliament (action
names, resource ARN formats per action, condition keys): each role's policy (`iam_policies`, one
document per function and run) and the policies the module hands to its users (POLICY_OUTPUTS: the
Dashboard's presence read policy, the agents' policy, the agent-events bus's resource policy). A failing
test fails, any finding fails, and so does finding no policy at all.

    python scripts/iam_lint.py            # run the suite, lint every rendered policy
    python scripts/iam_lint.py FILE.json  # lint policy documents given as files
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

from parliament import analyze_policy_string  # type: ignore[import-untyped]  # ships no type hints

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scripts import standin_tree

ROOT = Path(__file__).resolve().parent.parent
# Outputs holding one policy document (JSON) or null, linted like the roles' policies.
POLICY_OUTPUTS = ("presence_read_policy_json", "agent_policy_json", "agent_events_bus_policy_json")


def lint_policy(document: str) -> List[str]:
    """parliament's findings for one policy document, as "ISSUE: detail" strings (empty: clean)."""
    policy = analyze_policy_string(document)
    findings: List[Any] = policy.findings
    return [f"{finding.issue}: {json.dumps(finding.detail, default=str)}" for finding in findings]


def _outputs_in(message: Dict[str, Any]) -> Dict[str, Any]:
    """Output values of a run from a `terraform test -json -verbose` message: the state after an apply
    run, the planned values after a plan run (unknown values are absent there)."""
    if "test_state" in message:
        outputs = message["test_state"].get("outputs") or {}
    elif "test_plan" in message:
        outputs = (message["test_plan"].get("planned_values") or {}).get("outputs") or {}
    else:
        return {}
    return {name: out.get("value") for name, out in outputs.items() if isinstance(out, dict)}


def policies_from_test_log(lines: Iterable[str]) -> Iterator[Tuple[str, str, str]]:
    """(run, function, policy JSON) for every known iam_policies value in a `terraform test -json -verbose` log."""
    for line in lines:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        outputs = _outputs_in(message)
        run = f"{message.get('@testfile', '?')}/{message.get('@testrun', '?')}"
        policies = outputs.get("iam_policies")
        if isinstance(policies, dict):  # else unknown at plan time, or the run failed before outputs existed
            for function, document in sorted(policies.items()):
                if isinstance(document, str):
                    yield run, function, document
        for name in POLICY_OUTPUTS:
            document = outputs.get(name)
            if isinstance(document, str):
                yield run, name, document


class Progress:
    """What terraform test prints without -json, from its JSON messages: files, runs, the summary, and
    the diagnostics of runs that did not pass (a run's expected failures are not shown). Terraform
    sends a run's diagnostics after its status, or before it when the run expected them."""

    def __init__(self) -> None:
        self.held: Dict[str, List[str]] = {}
        self.failed: Dict[str, bool] = {}

    def show(self, line: str) -> List[str]:
        try:
            message = json.loads(line)
        except ValueError:
            return [line.rstrip("\n")]
        kind, text = message.get("type"), str(message.get("@message", ""))
        run = f"{message.get('@testfile')}/{message['@testrun']}" if "@testrun" in message else None
        if kind == "diagnostic":
            return self._diagnostic(message, run, text)
        if kind == "test_run" and run is not None:
            return self._run_status(message, run, text)
        return [text] if kind in ("test_file", "test_summary") else []

    def _diagnostic(self, message: Dict[str, Any], run: Optional[str], text: str) -> List[str]:
        diagnostic = message.get("diagnostic") or {}
        shown = f"{message.get('@level', 'error')}: {diagnostic.get('summary', text)}\n  {diagnostic.get('detail', '')}"
        if run is None or self.failed.get(run):
            return [shown]
        if run not in self.failed:
            self.held.setdefault(run, []).append(shown)
        return []

    def _run_status(self, message: Dict[str, Any], run: str, text: str) -> List[str]:
        status = (message.get("test_run") or {}).get("status")
        if status is None:
            return []  # "in progress"
        self.failed[run] = status in ("fail", "error")
        held = self.held.pop(run, [])
        return [text] + (held if self.failed[run] else [])


def run_test_suite() -> List[str]:
    """The root module's terraform test suite in the stand-in tree, its progress printed; returns its JSON lines."""
    tree = standin_tree.shared_tree()
    for line in standin_tree.describe():
        print(f"iam-lint: in the stand-in tree {tree}: {line}", flush=True)
    subprocess.run(
        ["terraform", f"-chdir={tree}", "init", "-backend=false", "-input=false", "-no-color"],
        check=True,
        capture_output=True,
    )
    lines: List[str] = []
    shown = Progress()
    with subprocess.Popen(
        ["terraform", f"-chdir={tree}", "test", "-json", "-verbose", "-no-color"],
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        for line in proc.stdout or ():
            lines.append(line)
            for text in shown.show(line):
                print(text, flush=True)
    if proc.returncode != 0:
        raise SystemExit(f"iam-lint: terraform test failed (exit {proc.returncode})")
    return lines


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="policy documents to lint instead of the test suite's")
    args = parser.parse_args(argv)

    if args.files:
        documents = [(str(path), "-", path.read_text()) for path in args.files]
    else:
        documents = list(policies_from_test_log(run_test_suite()))
    if not documents:
        print("iam-lint: no rendered IAM policy found", file=sys.stderr)
        return 1

    distinct = {document for _, _, document in documents}
    failures = 0
    for run, function, document in documents:
        for finding in lint_policy(document):
            failures += 1
            print(f"{run} [{function}] {finding}")
    sids = sorted(
        {statement.get("Sid", "?") for document in distinct for statement in json.loads(document)["Statement"]}
    )
    print(
        f"iam-lint: {len(documents)} rendered policies ({len(distinct)} distinct) from "
        f"{len({run for run, _, _ in documents})} runs, statements {', '.join(sids)}: "
        f"{failures} parliament finding(s)"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
