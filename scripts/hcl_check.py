"""Walk the Terraform files of a directory and check every aws_* argument against the provider schema
(scripts/provider_schema.py) and, when given, the provider policy (scripts/provider_policy.py:
deprecated arguments, runtime values).

Every ``resource``, ``data``, ``ephemeral`` (also ``data`` nested in ``check``) block whose type starts
with ``aws_``, and every ``provider "aws"`` block, in the ``*.tf`` files directly inside the given
directories is parsed with python-hcl2; each argument and nested block (``dynamic "x"`` counts as
block ``x`` with the arguments of its ``content``) must exist in the provider schema.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, Iterator, List, Optional, Tuple

import hcl2

from scripts.provider_policy import DEPRECATIONS_PACKAGE, Policy
from scripts.provider_schema import (
    DATA,
    EPHEMERAL,
    PROVIDER,
    RESOURCE,
    Argument,
    PathLike,
    Schema,
)

# Meta-arguments Terraform itself handles; they are not part of the provider schema. They are only
# meta-arguments at the top level of the block: nested blocks may have real arguments of these names
# (aws_eks_cluster's encryption_config has a `provider` block).
_META_ARGUMENTS: Dict[str, FrozenSet[str]] = {
    RESOURCE: frozenset({"count", "for_each", "depends_on", "provider", "lifecycle", "provisioner", "connection"}),
    DATA: frozenset({"count", "for_each", "depends_on", "provider", "lifecycle"}),
    EPHEMERAL: frozenset({"count", "for_each", "depends_on", "provider", "lifecycle"}),
    # `alias` is in the provider schema itself; `version` is the deprecated provider meta-argument.
    PROVIDER: frozenset({"version"}),
}
# How messages name each kind of top-level object.
_KIND_LABELS: Dict[str, str] = {
    RESOURCE: "resource type",
    DATA: "data source type",
    EPHEMERAL: "ephemeral resource type",
    PROVIDER: "provider",
}
_KIND_NOUNS: Dict[str, str] = {
    RESOURCE: "a managed resource",
    DATA: "a data source",
    EPHEMERAL: "an ephemeral resource",
}

# Keys python-hcl2 adds to its output: `__is_block__` marks a block body, comments are switched off
# but ignored anyway should a version emit them regardless.
_IS_BLOCK = "__is_block__"
_HCL2_MARKERS = frozenset({_IS_BLOCK, "__comments__", "__inline_comments__", "__start_line__", "__end_line__"})

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


@dataclass(frozen=True)
class Problem:
    """Something the configuration uses that the provider schema does not have."""

    file: str
    address: str  # "aws_lambda_function.this", "data.aws_iam_policy_document.x", "provider.aws"; "" for the file
    subject: str  # the offending type, or the dotted argument path ("tracing_config.bogus")
    message: str

    def __str__(self) -> str:
        if not self.address:
            return f"{self.file}: {self.message}"
        return f"{self.file}: {self.address}: {self.message}"


@dataclass
class Report:
    problems: List[Problem] = field(default_factory=list)
    files: int = 0
    objects: int = 0  # resources, data sources and ephemeral resources checked
    providers: int = 0  # provider "aws" blocks checked
    arguments: int = 0  # arguments and nested blocks checked
    skipped_types: Dict[str, int] = field(default_factory=dict)  # non-aws types, not in this schema
    allowed: List[str] = field(default_factory=list)  # deprecated arguments kept on purpose, with reasons


def _unquote(label: str) -> str:
    """python-hcl2 8 keeps the quotes of labels, strings and quoted object keys."""
    if len(label) >= 2 and label[0] == label[-1] == '"':
        return label[1:-1]
    return label


def _is_block_list(value: Any) -> bool:
    """Block syntax: python-hcl2 gives a list of bodies, each marked with `__is_block__`."""
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) and v.get(_IS_BLOCK) for v in value)


def _labeled(value: Any) -> Iterator[Tuple[str, Any]]:
    """(label, inner) pairs of labeled blocks: `[{'"label"': {...}}, ...]`."""
    entries = value if isinstance(value, list) else [value]
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        for label, inner in entry.items():
            if label not in _HCL2_MARKERS:
                yield _unquote(label), inner


def _suggest(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.75)
    return f' (did you mean "{close[0]}"?)' if close else ""


class _Checker:
    def __init__(self, schema: Schema, report: Report, policy: Optional[Policy] = None) -> None:
        self.schema = schema
        self.report = report
        self.policy = policy
        self.file = ""
        self.address = ""
        self.resource_type = ""  # the aws_* type of the resource being walked; "" elsewhere

    def _problem(self, subject: str, message: str) -> None:
        self.report.problems.append(Problem(self.file, self.address, subject, message))

    def check_document(self, file: str, document: Dict[str, Any]) -> None:
        self.file = file
        for provider_name, body in _labeled(document.get(PROVIDER, [])):
            if provider_name != "aws" or not isinstance(body, dict):
                continue
            alias = body.get("alias")
            self.address = f"provider.aws.{_unquote(alias)}" if isinstance(alias, str) else "provider.aws"
            self.resource_type = ""
            self.report.providers += 1
            self._check_body(self.schema.root(PROVIDER, "aws") or {}, body, "", _META_ARGUMENTS[PROVIDER])
        for kind in (RESOURCE, DATA, EPHEMERAL):
            for type_name, named in _labeled(document.get(kind, [])):
                for name, body in _labeled(named):
                    self._check_object(kind, type_name, name, body)
        for _check_name, check_body in _labeled(document.get("check", [])):
            for block in check_body if isinstance(check_body, list) else [check_body]:
                if not isinstance(block, dict):
                    continue
                for type_name, named in _labeled(block.get(DATA, [])):
                    for name, body in _labeled(named):
                        self._check_object(DATA, type_name, name, body)
        self._check_runtime_inputs(document)

    def _check_runtime_inputs(self, document: Dict[str, Any]) -> None:
        """The module's `runtime` variable default and `runtime = "..."` in module calls (examples)."""
        for name, body in _labeled(document.get("variable", [])):
            if name == "runtime" and isinstance(body, dict) and "default" in body:
                self.address = "var.runtime"
                self._check_runtime("default", body["default"])
        for name, body in _labeled(document.get("module", [])):
            if isinstance(body, dict) and "runtime" in body:
                self.address = f"module.{name}"
                self._check_runtime("runtime", body["runtime"])

    def _check_runtime(self, subject: str, value: Any) -> None:
        literal = _unquote(value) if isinstance(value, str) else None
        if self.policy is None or literal is None or "${" in literal or literal == value:
            return  # an expression (var.x, a conditional) is checked where its value is a literal
        problem = self.policy.runtime_problem(literal)
        if problem is not None:
            self._problem(subject, problem)

    def _check_deprecation(self, dotted: str) -> None:
        if self.policy is None or not self.resource_type:
            return
        found = self.policy.deprecation(self.resource_type, dotted)
        if found is None:
            return
        message, allowed = found
        if allowed is None:
            self._problem(
                dotted,
                f'"{dotted}" is deprecated in the newest hashicorp/aws ({message.rstrip(".")}); '
                f"source: {DEPRECATIONS_PACKAGE}. Replace it, or allow-list it with a reason in "
                "scripts/provider_policy.py",
            )
        else:
            self.report.allowed.append(f"{self.file}: {self.address}: {dotted}: {allowed}")

    def _check_object(self, kind: str, type_name: str, name: str, body: Any) -> None:
        if not type_name.startswith("aws_"):
            self.report.skipped_types[type_name] = self.report.skipped_types.get(type_name, 0) + 1
            return
        self.address = f"{type_name}.{name}" if kind == RESOURCE else f"{kind}.{type_name}.{name}"
        self.resource_type = type_name if kind == RESOURCE else ""
        self.report.objects += 1
        arguments = self.schema.root(kind, type_name)
        if arguments is None:
            others = [other for other in (RESOURCE, DATA, EPHEMERAL) if (other, type_name) in self.schema.roots]
            hint = (
                f" (it is {_KIND_NOUNS[others[0]]})" if others else _suggest(type_name, self.schema.types_of_kind(kind))
            )
            self._problem(
                type_name,
                f'{_KIND_LABELS[kind]} "{type_name}" does not exist in {self.schema.label}{hint}',
            )
            return
        if isinstance(body, dict):
            self._check_body(arguments, body, "", _META_ARGUMENTS[kind])

    def _check_body(
        self,
        arguments: Dict[str, Argument],
        body: Dict[str, Any],
        path: str,
        meta: FrozenSet[str] = frozenset(),
    ) -> None:
        for key, value in body.items():
            if key in _HCL2_MARKERS or key in meta:
                continue
            if key == "dynamic" and "dynamic" not in arguments:
                for block_name, dynamic_body in _labeled(value):
                    content: Any = dynamic_body.get("content") if isinstance(dynamic_body, dict) else None
                    bodies: List[Any] = content if _is_block_list(content) else [{_IS_BLOCK: True}]
                    self._check_block(arguments, block_name, bodies, path)
                continue
            if _is_block_list(value):
                self._check_block(arguments, key, value, path)
            else:
                self._check_attribute(arguments, key, value, path)

    def _check_block(self, arguments: Dict[str, Argument], key: str, bodies: List[Any], path: str) -> None:
        dotted = f"{path}{key}"
        self.report.arguments += len(bodies)
        argument = arguments.get(key)
        if argument is None:
            self._problem(
                dotted,
                f'block "{dotted}" does not exist in {self.schema.label}{_suggest(key, arguments)}',
            )
            return
        self._check_deprecation(dotted)
        if argument.nested is not None:
            for block_body in bodies:
                self._check_body(self.schema.structs[argument.nested], block_body, f"{dotted}.")
        elif not argument.is_block:
            self._problem(
                dotted,
                f'"{dotted}" is an argument in {self.schema.label}, not a block: write `{key} = ...`',
            )
        # else: a block whose content cdktn did not model (nesting too deep): exists, content unchecked

    def _check_attribute(self, arguments: Dict[str, Argument], key: str, value: Any, path: str) -> None:
        dotted = f"{path}{key}"
        self.report.arguments += 1
        argument = arguments.get(key)
        if argument is None:
            self._problem(
                dotted,
                f'argument "{dotted}" does not exist in {self.schema.label}{_suggest(key, arguments)}',
            )
            return
        self._check_deprecation(dotted)
        if self.resource_type == "aws_lambda_function" and dotted == "runtime":
            self._check_runtime(dotted, value)
        if argument.nested is None:
            return
        # A nested attribute (or an attributes-as-blocks list) written as an object literal: its keys
        # are arguments of the nested struct. Expressions (`var.x`) cannot be checked statically.
        objects = value if isinstance(value, list) else [value]
        nested = self.schema.structs[argument.nested]
        for item in objects:
            if not isinstance(item, dict) or item.get(_IS_BLOCK):
                continue
            for item_key, item_value in item.items():
                name = _unquote(item_key)
                if item_key in _HCL2_MARKERS or not _IDENTIFIER.fullmatch(name):
                    continue
                self._check_attribute(nested, name, item_value, f"{dotted}.")


# --------------------------------------------------------------------------------------------------
# Files and directories


def _parse(text: str) -> Dict[str, Any]:
    options = hcl2.SerializationOptions(with_comments=False, explicit_blocks=True)
    document = hcl2.loads(text, serialization_options=options)
    if not isinstance(document, dict):
        raise ValueError("python-hcl2 returned no document")
    return document


def tf_files(directory: PathLike) -> List[Path]:
    """The `*.tf` files directly inside a directory (Terraform does not recurse either)."""
    return sorted(p for p in Path(directory).glob("*.tf") if p.is_file())


def check_text(
    schema: Schema, text: str, file: str, report: Optional[Report] = None, policy: Optional[Policy] = None
) -> Report:
    """Check one file's HCL text; `file` is only used in messages. With a policy: deprecations, runtimes."""
    report = report if report is not None else Report()
    report.files += 1
    try:
        document = _parse(text)
    except Exception as exc:  # lark raises a family of unrelated exceptions
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        report.problems.append(Problem(file, "", file, f"cannot be parsed by python-hcl2: {first_line}"))
        return report
    _Checker(schema, report, policy).check_document(file, document)
    return report


def check_files(
    schema: Schema, files: Iterable[PathLike], report: Optional[Report] = None, policy: Optional[Policy] = None
) -> Report:
    report = report if report is not None else Report()
    for file in files:
        path = Path(file)
        check_text(schema, path.read_text(encoding="utf-8"), str(path), report, policy)
    return report


def check_dirs_report(schema: Schema, dirs: Iterable[PathLike], policy: Optional[Policy] = None) -> Report:
    report = Report()
    for directory in dirs:
        check_files(schema, tf_files(directory), report, policy)
    return report


def check_dirs(schema: Schema, dirs: Iterable[PathLike], policy: Optional[Policy] = None) -> List[Problem]:
    """Problems in the `*.tf` files directly inside each directory (empty list: none)."""
    return check_dirs_report(schema, dirs, policy).problems
