"""Generate the README's Inputs and Outputs tables from variables.tf and outputs.tf.

terraform-docs is not available offline here, so this renders the same information (name,
description, type, default, required) between the `<!-- BEGIN_TF_DOCS -->` / `<!-- END_TF_DOCS -->`
markers. `--check` exits 1 when README.md is out of date (run by `make lint`).
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, List

import hcl2

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- BEGIN_TF_DOCS -->", "<!-- END_TF_DOCS -->"


def _unquote(value: Any) -> str:
    """python-hcl2 keeps strings quoted ('"text"'), heredocs as '"<<-EOT\\n...\\nEOT"'."""
    if not isinstance(value, str):
        return json.dumps(value)
    text = value
    if text.startswith('"') and text.endswith('"'):
        text = text[1:-1]
    if text.startswith("<<-EOT") or text.startswith("<<EOT"):
        body = text.split("\n", 1)[1].rsplit("\n", 1)[0]
        return " ".join(textwrap.dedent(body).split())
    return text.replace('\\"', '"').replace("\\\\", "\\")


def _expression(value: Any) -> str:
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        return value[2:-1]
    if isinstance(value, str):
        return json.dumps(_unquote(value))
    return json.dumps(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;").replace(">", "&gt;")


def _blocks(path: Path, kind: str) -> List[Dict[str, Any]]:
    parsed = hcl2.load(path.open())
    blocks: List[Dict[str, Any]] = []
    for entry in parsed.get(kind, []):
        for quoted_name, body in entry.items():
            blocks.append({"name": quoted_name.strip('"'), **body})
    return blocks


def render() -> str:
    lines = ["## Inputs", "", "| Name | Description | Type | Default | Required |", "|---|---|---|---|:---:|"]
    for var in _blocks(ROOT / "variables.tf", "variable"):
        required = "default" not in var
        default = "n/a" if required else f"`{_expression(var['default'])}`"
        raw_type = var.get("type", "any")
        type_text = raw_type[2:-1] if raw_type.startswith("${") else raw_type
        lines.append(
            f'| <a name="input_{var["name"]}"></a>`{var["name"]}` | {_cell(_unquote(var.get("description", "")))} '
            f"| `{_cell(type_text)}` | {_cell(default)} | {'yes' if required else 'no'} |"
        )
    lines += ["", "## Outputs", "", "| Name | Description |", "|---|---|"]
    for out in _blocks(ROOT / "outputs.tf", "output"):
        lines.append(
            f'| <a name="output_{out["name"]}"></a>`{out["name"]}` | {_cell(_unquote(out.get("description", "")))} |'
        )
    return "\n".join(lines)


def main(argv: List[str]) -> int:
    readme = ROOT / "README.md"
    text = readme.read_text()
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        print(f"tfdocs: README.md has no {BEGIN} ... {END} section", file=sys.stderr)
        return 2
    updated = pattern.sub(lambda _: f"{BEGIN}\n{render()}\n{END}", text)
    if "--check" in argv:
        if updated != text:
            print("tfdocs: README.md Inputs/Outputs are out of date: run `python3 scripts/tfdocs.py`")
            return 1
        print("tfdocs: README.md Inputs/Outputs match variables.tf and outputs.tf")
        return 0
    readme.write_text(updated)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
