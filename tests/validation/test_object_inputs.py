"""Every misspelt attribute and every wrong type in an object input fails `terraform validate` of a
consumer's root module, with one error naming the path (and, for a name, the accepted attributes).

The probes come from scripts/input_probes.py: one per object path (an unknown attribute `zz_typo`,
at every nesting level, and a value that is no object) and one per attribute (a value of the wrong
type), derived from the object types in modules/settings/variables.tf. All of them are module calls of
one consumer root module whose source is the stand-in tree (scripts/standin_tree.py); one
`terraform validate` checks them all.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Dict, List

import pytest

from scripts import input_probes, standin_tree

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    subprocess.run(["which", "terraform"], capture_output=True, check=False).returncode != 0,
    reason="terraform is not on PATH: run through `make tf-test`",
)

TYPES = input_probes.settings_types(ROOT)
PROBES = input_probes.probes(TYPES)


def _paths(node: input_probes.Node, prefix: str) -> List[str]:
    found = [prefix]
    for attribute, kind in node.items():
        if isinstance(kind, dict):
            found += _paths(kind, f"{prefix}.{attribute}")
    return found


def test_every_object_input_and_level_is_probed() -> None:
    """The parser found every object input of the root module and each nested object."""
    assert sorted(TYPES) == ["alarms", "connect", "deployment", "functions", "presence", "sweeper", "table"]
    paths = sorted(path for variable, node in TYPES.items() for path in _paths(node, variable))
    assert paths == sorted(
        [
            "alarms",
            "connect",
            "connect.iam",
            "deployment",
            "functions",
            "functions.connect",
            "functions.disconnect",
            "functions.events",
            "functions.presence",
            "functions.sweeper",
            "presence",
            "presence.announcer",
            "presence.events",
            "presence.heartbeat",
            "sweeper",
            "table",
        ]
    )
    typos = {probe.name for probe in PROBES if probe.name.startswith("typo ")}
    assert typos == {f"typo {path}" for path in paths}
    assert TYPES["functions"]["disconnect"] == {
        "memory_size": "number",
        "timeout": "number",
        "reserved_concurrent_executions": "number",
    }


def test_every_attribute_is_in_the_root_variables_description() -> None:
    """terraform-docs shows `any` for these inputs: their descriptions document each attribute."""
    text = (ROOT / "variables.tf").read_text()
    missing: List[str] = []
    for variable, node in TYPES.items():
        start = text.index(f'variable "{variable}" {{')
        description = text[start : text.index("\n  EOT\n", start)]

        def walk(node: input_probes.Node, path: str, description: str = description) -> None:
            for attribute, kind in node.items():
                if f"- {attribute} (" not in description:
                    missing.append(f"{path}.{attribute}")
                if isinstance(kind, dict):
                    walk(kind, f"{path}.{attribute}")

        walk(node, variable)
    assert missing == [], f"attributes missing from their variable's description: {missing}"


def test_every_attribute_is_read_by_the_module() -> None:
    """An accepted attribute that no resource reads would be a setting that silently does nothing."""
    text = "\n".join(p.read_text() for p in sorted(ROOT.glob("*.tf")) if p.name != "variables.tf")

    def leaves(node: input_probes.Node, path: str) -> List[str]:
        found: List[str] = []
        for attribute, kind in node.items():
            found += leaves(kind, f"{path}.{attribute}") if isinstance(kind, dict) else [f"{path}.{attribute}"]
        return found

    unread = [ref for variable, node in TYPES.items() for ref in leaves(node, f"local.{variable}") if ref not in text]
    assert unread == [], f"attributes the root module never reads: {unread}"


@pytest.fixture(scope="module")
def validate_output(tmp_path_factory: pytest.TempPathFactory) -> str:
    workdir: Path = tmp_path_factory.mktemp("input-probes")
    (workdir / "main.tf").write_text(input_probes.consumer(str(standin_tree.shared_tree()), PROBES))
    subprocess.run(
        ["terraform", f"-chdir={workdir}", "init", "-backend=false", "-input=false", "-no-color"],
        check=True,
        capture_output=True,
    )
    out = subprocess.run(
        ["terraform", f"-chdir={workdir}", "validate", "-no-color"], capture_output=True, text=True, check=False
    )
    assert out.returncode != 0, "terraform validate accepted every probe"
    return out.stdout + out.stderr


def test_each_probe_fails_validate_with_its_message(validate_output: str) -> None:
    assert input_probes.problems(PROBES, validate_output) == []


def test_no_error_outside_the_probe_calls(validate_output: str) -> None:
    errors: Dict[int, List[str]] = input_probes.diagnostics(validate_output)
    total = validate_output.count("\nError: ") + validate_output.startswith("Error: ")
    assert total == sum(len(found) for found in errors.values()), validate_output


def test_a_consumer_with_valid_inputs_validates(tmp_path: Path) -> None:
    """The rules refuse nothing that is right, also when attribute values are unknown at validate."""
    (tmp_path / "main.tf").write_text(
        f"""
variable "flag" {{
  type    = bool
  default = true
}}

module "ok" {{
  source     = "{standin_tree.shared_tree()}"
  api_id     = "a1b2c3d4e5"
  stage_name = "live"
  sweeper    = {{ enabled = var.flag, rate_minutes = "7", probe_connections = false }}
  functions  = {{ disconnect = {{ memory_size = 256 }}, sweeper = {{ timeout = 60 }} }}
  connect = {{
    enabled  = true
    identity = "iam"
    iam      = {{ agent_role_arns = ["arn:aws:iam::123456789012:user/agent-1"], agent_id_from = "user_name" }}
  }}
  presence   = {{ enabled = true, heartbeat = {{ enabled = var.flag }} }}
  alarms     = {{ alarm_actions = ["arn:aws:sns:eu-west-1:123456789012:oncall"] }}
}}
"""
    )
    subprocess.run(
        ["terraform", f"-chdir={tmp_path}", "init", "-backend=false", "-input=false", "-no-color"],
        check=True,
        capture_output=True,
    )
    out = subprocess.run(
        ["terraform", f"-chdir={tmp_path}", "validate", "-no-color"], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr
