"""Every validation rule of the module's variables is proven by a `terraform test` run, and each such run
breaks exactly the rule it is named after, with a message that names the input.

`terraform test` can only expect a failure of a variable (`expect_failures = [var.connect]`), not of
one rule or message, so a run could pass because another rule of the same variable fired. Here every
run of tests/*.tftest.hcl that expects a variable to fail is replayed as a module call of the stand-in
tree (scripts/standin_tree.py) with the run's variables, all in one `terraform console` session, and
the diagnostics are read per call: which validation rule (variables.tf line) fired, and its message.
"""

from __future__ import annotations

import re
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Dict, Iterator, List, NamedTuple, Set, Tuple

import pytest

from scripts import standin_tree

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    subprocess.run(["which", "terraform"], capture_output=True, check=False).returncode != 0,
    reason="terraform is not on PATH: run through `make tf-test`",
)


class Run(NamedTuple):
    file: str
    name: str
    variables: str  # the body of the run's `variables { }` block, as written
    target: str  # the variable the run expects to fail


def _block(text: str, start: int) -> Tuple[str, int]:
    """The body of the block whose "{" is at text[start], and the index after its "}"."""
    depth, i, quoted = 0, start, False
    while i < len(text):
        char = text[i]
        if quoted:
            if char == "\\":
                i += 1
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i], i + 1
        i += 1
    raise ValueError("unbalanced braces")


def _runs(path: Path) -> Iterator[Run]:
    text = path.read_text()
    for match in re.finditer(r'^run "([^"]+)" \{', text, re.MULTILINE):
        body, _ = _block(text, match.end() - 1)
        target = re.search(r"expect_failures = \[var\.([a-z_]+)\]", body)
        variables = re.search(r"^  variables \{", body, re.MULTILINE)
        if target and variables:
            yield Run(path.name, match.group(1), _block(body, variables.end() - 1)[0], target.group(1))


def _file_variables(path: Path) -> str:
    match = re.search(r"^variables \{", path.read_text(), re.MULTILINE)
    return _block(path.read_text(), match.end() - 1)[0] if match else ""


def _names(body: str) -> Set[str]:
    return set(re.findall(r"^\s*([a-z_]+)\s*=", body, re.MULTILINE))


def validation_rules() -> Dict[int, str]:
    """Line of every `validation {` block in variables.tf -> the variable it belongs to."""
    rules: Dict[int, str] = {}
    variable = ""
    for number, line in enumerate((ROOT / "variables.tf").read_text().splitlines(), start=1):
        declared = re.match(r'^variable "([a-z_]+)"', line)
        if declared:
            variable = declared.group(1)
        elif re.match(r"^  validation \{", line):
            rules[number] = variable
    return rules


class Fired(NamedTuple):
    rules: Set[int]  # variables.tf lines of the validation rules that fired
    variables: Set[str]
    messages: List[str]


def replay(runs: List[Run], workdir: Path) -> Dict[str, Fired]:
    """Each run as a call of the stand-in module; the validation failures of each call."""
    tree = standin_tree.shared_tree()
    calls = []
    for index, run in enumerate(runs):
        defaults = _file_variables(ROOT / "tests" / run.file)
        kept = "\n".join(line for line in defaults.splitlines() if not (_names(line) & _names(run.variables)))
        calls.append(f'module "run_{index}" {{\n  source = "{tree}"\n{kept}\n{run.variables}\n}}\n')
    (workdir / "main.tf").write_text("\n".join(calls))
    subprocess.run(
        ["terraform", f"-chdir={workdir}", "init", "-backend=false", "-no-color"], check=True, capture_output=True
    )
    out = subprocess.run(
        ["terraform", f"-chdir={workdir}", "console", "-no-color"],
        input="1\n",
        capture_output=True,
        text=True,
        check=False,
    )
    fired: Dict[str, Fired] = defaultdict(lambda: Fired(set(), set(), []))
    for diagnostic in re.split(r"\n(?=Error: |Warning: )", out.stdout + out.stderr):
        call = re.search(r'in module "run_(\d+)"', diagnostic)
        rule = re.search(r"checked by the validation rule at\s+.*?variables\.tf:(\d+),", diagnostic, re.DOTALL)
        if not (diagnostic.startswith("Error: Invalid value for variable") and call and rule):
            continue
        run = runs[int(call.group(1))]
        key = f"{run.file}/{run.name}"
        fired[key].rules.add(int(rule.group(1)))
        fired[key].variables.add(validation_rules().get(int(rule.group(1)), "?"))
        paragraphs = [" ".join(p.split()) for p in diagnostic.split("\n\n")]
        checked = next(i for i, p in enumerate(paragraphs) if p.startswith("This was checked by"))
        fired[key].messages.append(paragraphs[checked - 1])
    return dict(fired)


RUNS = [run for path in sorted((ROOT / "tests").glob("*.tftest.hcl")) for run in _runs(path)]


@pytest.fixture(scope="module")
def fired(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Fired]:
    return replay(RUNS, tmp_path_factory.mktemp("validation-replay"))


@pytest.mark.parametrize("run", RUNS, ids=[f"{r.file}/{r.name}" for r in RUNS])
def test_run_breaks_rules_of_its_variable_only(run: Run, fired: Dict[str, Fired]) -> None:
    """validation.tftest.hcl promises one broken rule per run; elsewhere (e.g. an alias ARN that is
    also no key ARN, refused with the alias-specific message too) a run may break more, of its variable."""
    result = fired.get(f"{run.file}/{run.name}")
    assert result is not None, f"no validation rule fired for {run.name}"
    assert result.variables == {run.target}, result.messages
    if run.file == "validation.tftest.hcl":
        assert len(result.rules) == 1, f"{run.name} breaks several rules: {result.messages}"
    assert all(run.target in message for message in result.messages), result.messages


def test_every_validation_rule_is_proven_by_a_run(fired: Dict[str, Fired]) -> None:
    proven = {rule for result in fired.values() for rule in result.rules}
    missing = {line: variable for line, variable in validation_rules().items() if line not in proven}
    assert missing == {}, f"validation rules (variables.tf line: variable) no terraform test run breaks: {missing}"
