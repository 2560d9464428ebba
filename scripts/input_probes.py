"""Probes of the module's object inputs: every misspelt attribute and every wrong type must fail at
`terraform validate`, each with one error that names the input path (and, for a name, the accepted
attributes, which must be exactly those of the object type in modules/settings).

The object inputs are `type = any` in variables.tf, converted to their object types by the private
submodule modules/settings (see the comment at the top of variables.tf). This module reads those
object types from modules/settings/variables.tf and derives one probe per object path (an unknown
attribute `zz_typo`, a value that is no object) and per attribute (a value of the wrong type). The
probes become module calls of a consumer root module; `terraform validate` of that consumer must fail
once per call, with the expected message.

Used by tests/validation/test_object_inputs.py (`make tf-test`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, NamedTuple, Tuple, Union

Node = Dict[str, Union[str, "Node"]]  # attribute -> type ("bool", "list(string)", ...) or nested object
TYPO = "zz_typo"
# A value Terraform's conversion cannot turn into each type.
WRONG_VALUE = {
    "bool": '"maybe"',
    "number": '"many"',
    "string": '["x"]',
    "list(string)": '"x"',
    "map(string)": '"x"',
    "object": '"x"',
}
# Variables every call must set (the module's required input).
REQUIRED = 'api_id = "a1b2c3d4e5"'


class Probe(NamedTuple):
    name: str  # e.g. "typo presence.heartbeat", "type presence.heartbeat.interval_seconds"
    variable: str  # the root module variable the call sets
    value: str  # its HCL value
    expected: str  # the message the call must fail with (whitespace-normalised, a prefix is enough)
    accepted: Tuple[str, ...]  # for a name probe: the attributes the message must list (any order)


def settings_types(module_root: Path) -> Dict[str, Node]:
    """The object type of every variable of modules/settings/variables.tf, as nested dicts."""
    types: Dict[str, Node] = {}
    stack: List[Node] = []
    for line in (module_root / "modules" / "settings" / "variables.tf").read_text().splitlines():
        declared = re.match(r'^variable "([a-z_]+)"', line)
        opening = re.match(r"^\s+([a-z_]+)\s*=\s*optional\(object\(\{$", line)
        leaf = re.match(r"^\s+([a-z_]+)\s*=\s*optional\(([a-z]+(?:\([a-z]+\))?)[,)]", line)
        if declared:
            types[declared.group(1)] = {}
            stack = [types[declared.group(1)]]
        elif re.match(r"^  type = object\(\{$", line):
            continue
        elif opening and stack:
            nested: Node = {}
            stack[-1][opening.group(1)] = nested
            stack.append(nested)
        elif leaf and stack:
            stack[-1][leaf.group(1)] = leaf.group(2)
        elif re.match(r"^\s+\}\)(, \{\}\))?\)?$", line) and len(stack) > 1:
            stack.pop()
    if not types or any(not node for node in types.values()):
        raise ValueError(f"modules/settings/variables.tf: no object types parsed ({sorted(types)})")
    return types


def _nest(path: List[str], inner: str) -> str:
    """The HCL value that sets the attribute path (below the variable) to `inner`."""
    for attribute in reversed(path):
        inner = f"{{ {attribute} = {inner} }}"
    return inner


def probes(types: Dict[str, Node]) -> List[Probe]:
    found: List[Probe] = []

    def walk(variable: str, path: List[str], node: Node) -> None:
        where = ".".join([variable, *path])
        found.append(
            Probe(
                f"typo {where}",
                variable,
                _nest(path, f"{{ {TYPO} = true }}"),
                f"{where}: unknown attribute(s) {TYPO}. Accepted attributes: ",
                tuple(node),
            )
        )
        for attribute, kind in node.items():
            relative = ".".join([*path, attribute])
            wrong = WRONG_VALUE["object" if isinstance(kind, dict) else kind]
            found.append(
                Probe(
                    f"type {variable}.{relative}",
                    variable,
                    _nest([*path, attribute], wrong),
                    f"{variable}: wrong type for {relative} ({'object' if isinstance(kind, dict) else kind}).",
                    (),
                )
            )
            if isinstance(kind, dict):
                walk(variable, [*path, attribute], kind)

    for variable, node in types.items():
        found.append(Probe(f"not an object {variable}", variable, '"yes"', f"{variable}: must be an object.", ()))
        walk(variable, [], node)
    return found


def consumer(source: str, calls: List[Probe]) -> str:
    """A root module calling the module once per probe (module "probe_<index>")."""
    return "\n".join(
        f'module "probe_{index}" {{\n  source = "{source}"\n  {REQUIRED}\n  {probe.variable} = {probe.value}\n}}\n'
        for index, probe in enumerate(calls)
    )


def diagnostics(output: str) -> Dict[int, List[str]]:
    """The errors of each probe call (by index), each whitespace-normalised."""
    found: Dict[int, List[str]] = {}
    for block in re.split(r"\n(?=Error: |Warning: )", output):
        call = re.search(r'in module "probe_(\d+)"', block)
        if block.startswith("Error: ") and call:
            found.setdefault(int(call.group(1)), []).append(" ".join(block.split()))
    return found


def problems(calls: List[Probe], output: str) -> List[str]:
    """What went wrong: a call without its one expected error, or a names message whose accepted
    attributes differ from the object type's."""
    errors = diagnostics(output)
    wrong: List[str] = []
    for index, probe in enumerate(calls):
        got = errors.get(index, [])
        matching = [e for e in got if probe.expected in e]
        if len(got) != 1 or not matching:
            call = f"{probe.variable} = {probe.value}"
            wrong.append(f"{probe.name} ({call}): expected one error with {probe.expected!r}, got {got}")
            continue
        if probe.accepted:
            listed = matching[0].split(probe.expected, 1)[1].split(".", 1)[0]
            names = sorted(name.strip() for name in listed.split(","))
            if names != sorted(probe.accepted):
                typed = sorted(probe.accepted)
                wrong.append(f"{probe.name}: accepted attributes {names}, but modules/settings has {typed}")
    return wrong
