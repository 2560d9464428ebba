"""Forward-compatibility check of the module's Terraform code against the hashicorp/aws 6.69.1 schema.

Every ``resource``, ``data``, ``ephemeral`` (also ``data`` nested in ``check``) block whose type starts
with ``aws_``, and every ``provider "aws"`` block, in the ``*.tf`` files directly inside the given
directories is parsed with python-hcl2; each argument and nested block (``dynamic "x"`` counts as
block ``x`` with the arguments of its ``content``) must exist in the provider schema.

The schema oracle is the ``.jsii`` assembly of ``cdktn-provider-aws`` generated from hashicorp/aws
6.69.1 (``make tools`` extracts it to ``.tools/schema/``). Terraform names are taken from the
assembly's own data, never guessed from camelCase:

* a resource / data source / ephemeral resource / provider is a class whose base is
  ``cdktn.Terraform{Resource,DataSource,EphemeralResource,Provider}``; its summary links the registry
  page with the Terraform type as link text (``{@link .../docs/resources/lambda_function
  aws_lambda_function}``) and its initializer's ``config`` parameter is the config struct;
* every struct property links ``.../docs/resources/lambda_function#source_code_hash``: the fragment is
  the exact Terraform name, which also covers names that cdktn renames (``self`` -> ``selfAttribute``,
  ``get_password_data`` -> ``fetchPasswordData``, ``address_line_1`` -> ``addressLine1``);
* a nested block or nested attribute is a property whose type (through unions and list/set
  collections) references another struct; properties documented as ``"<name> block."`` are blocks
  even when cdktn stopped generating their struct (very deep nesting), and their content is not
  checked.

Usage: ``python scripts/schema_compat.py [--schema PATH] DIR [DIR ...]``; exit 0 when everything
exists, 1 with one line per problem, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import hcl2

PathLike = Union[Path, str]

REPO_ROOT = Path(__file__).resolve().parent.parent
PROVIDER_VERSION = "6.69.1"
DEFAULT_SCHEMA = REPO_ROOT / ".tools" / "schema" / f"provider-aws-{PROVIDER_VERSION}.jsii.json"

# Kinds of top-level objects, as Terraform addresses name them.
RESOURCE = "resource"
DATA = "data"
EPHEMERAL = "ephemeral"
PROVIDER = "provider"

_BASE_KINDS: Dict[str, str] = {
    "cdktn.TerraformResource": RESOURCE,
    "cdktn.TerraformDataSource": DATA,
    "cdktn.TerraformEphemeralResource": EPHEMERAL,
    "cdktn.TerraformProvider": PROVIDER,
}
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

# Keys python-hcl2 adds to its output: `__is_block__` marks a block body, comments are switched off
# but ignored anyway should a version emit them regardless.
_IS_BLOCK = "__is_block__"
_HCL2_MARKERS = frozenset({_IS_BLOCK, "__comments__", "__inline_comments__", "__start_line__", "__end_line__"})

# `{@link https://registry.terraform.io/providers/hashicorp/aws/6.69.1/docs/resources/lambda_function#role ...}`
_PROPERTY_LINK = re.compile(r"\{@link https://registry\.terraform\.io/providers/[^\s}#]+#([A-Za-z0-9_]+)\s")
# `Represents a {@link https://registry.terraform.io/providers/hashicorp/aws/6.69.1/docs/resources/x aws_x}.`
_CLASS_LINK = re.compile(
    r"\{@link https://registry\.terraform\.io/providers/([^/\s]+/[^/\s]+)/([^/\s]+)/\S*\s+([^}\s]+)\}"
)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


@dataclass(frozen=True)
class Argument:
    """One argument or nested block of a schema struct, under its Terraform name."""

    name: str
    nested: Optional[str]  # fqn of the struct of a nested block / nested attribute, if any
    is_block: bool  # documented as a block (may still have no struct when cdktn cut the nesting)


@dataclass
class Schema:
    """Compact index of the provider's config types, keyed by Terraform names."""

    provider: str  # "hashicorp/aws"
    version: str  # "6.69.1"
    roots: Dict[Tuple[str, str], str]  # (kind, "aws_lambda_function") -> fqn of the config struct
    structs: Dict[str, Dict[str, Argument]]  # fqn -> Terraform name -> argument

    def root(self, kind: str, type_name: str) -> Optional[Dict[str, Argument]]:
        fqn = self.roots.get((kind, type_name))
        return None if fqn is None else self.structs[fqn]

    def types_of_kind(self, kind: str) -> List[str]:
        return [name for (k, name) in self.roots if k == kind]

    @property
    def label(self) -> str:
        return f"{self.provider} {self.version}"


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


class SchemaError(Exception):
    """The schema file is missing or not a cdktn provider assembly."""


# --------------------------------------------------------------------------------------------------
# Schema loading


def _terraform_name(prop: Dict[str, Any]) -> str:
    docs = prop.get("docs") or {}
    for text in (docs.get("summary", ""), docs.get("remarks", "")):
        match = _PROPERTY_LINK.search(text + " ")
        if match:
            return match.group(1)
    # Not seen in 6.69.1 (every property links its registry anchor); camelCase -> snake_case fallback.
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", str(prop["name"])).lower()


def _nested_struct(type_ref: Dict[str, Any], prefix: str, types: Dict[str, Any]) -> Optional[str]:
    """The struct a property's type refers to, through unions and array collections (not maps)."""
    if "fqn" in type_ref:
        fqn = str(type_ref["fqn"])
        target = types.get(fqn) if fqn.startswith(prefix) else None
        return fqn if target is not None and target.get("datatype") else None
    if "collection" in type_ref:
        collection = type_ref["collection"]
        if collection.get("kind") != "array":  # map(object): keys are user data, not arguments
            return None
        return _nested_struct(collection["elementtype"], prefix, types)
    if "union" in type_ref:
        for member in type_ref["union"].get("types", []):
            found = _nested_struct(member, prefix, types)
            if found is not None:
                return found
    return None


def _struct_properties(fqn: str, prefix: str, types: Dict[str, Any]) -> Iterator[Dict[str, Any]]:
    """Own and inherited (from structs in the same assembly) properties of a struct."""
    seen = set()
    pending = [fqn]
    while pending:
        current = pending.pop()
        if current in seen or current not in types:
            continue
        seen.add(current)
        spec = types[current]
        yield from spec.get("properties", [])
        pending.extend(i for i in spec.get("interfaces", []) if i.startswith(prefix))


def build_schema(assembly: Dict[str, Any]) -> Schema:
    """Index a parsed jsii assembly: the config structs of all roots and every struct they reach."""
    types: Dict[str, Any] = assembly.get("types") or {}
    name = assembly.get("name")
    if not types or not isinstance(name, str):
        raise SchemaError("not a jsii assembly (no name/types)")
    prefix = f"{name}."

    roots: Dict[Tuple[str, str], str] = {}
    provider, version = "", ""
    for fqn, spec in types.items():
        kind = _BASE_KINDS.get(spec.get("base", ""))
        if kind is None or not fqn.startswith(prefix):
            continue
        link = _CLASS_LINK.search(spec.get("docs", {}).get("summary", ""))
        params = spec.get("initializer", {}).get("parameters", [])
        config = next((p["type"].get("fqn") for p in params if p.get("name") == "config"), None)
        if link is None or config is None:
            continue
        roots[(kind, link.group(3))] = config
        if kind == PROVIDER:
            provider, version = link.group(1), link.group(2)
    if not provider:
        raise SchemaError(f"{name} has no provider class")

    structs: Dict[str, Dict[str, Argument]] = {}
    pending = list(roots.values())
    while pending:
        fqn = pending.pop()
        if fqn in structs:
            continue
        arguments: Dict[str, Argument] = {}
        for prop in _struct_properties(fqn, prefix, types):
            nested = _nested_struct(prop["type"], prefix, types)
            summary = (prop.get("docs") or {}).get("summary", "")
            tf_name = _terraform_name(prop)
            arguments[tf_name] = Argument(tf_name, nested, summary.endswith(" block."))
            if nested is not None and nested not in structs:
                pending.append(nested)
        structs[fqn] = arguments
    return Schema(provider=provider, version=version, roots=roots, structs=structs)


def load_schema(path: PathLike = DEFAULT_SCHEMA) -> Schema:
    """Load the jsii assembly once and keep only the compact index (the raw JSON is ~150 MB)."""
    schema_path = Path(path)
    if not schema_path.is_file():
        raise SchemaError(f"schema file {schema_path} not found; run `make tools` to install it")
    try:
        with schema_path.open("rb") as handle:
            assembly = json.load(handle)
    except (OSError, ValueError) as exc:
        raise SchemaError(f"cannot read schema file {schema_path}: {exc}") from exc
    if not isinstance(assembly, dict):
        raise SchemaError(f"{schema_path} is not a jsii assembly")
    return build_schema(assembly)


# --------------------------------------------------------------------------------------------------
# HCL walking


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
    def __init__(self, schema: Schema, report: Report) -> None:
        self.schema = schema
        self.report = report
        self.file = ""
        self.address = ""

    def _problem(self, subject: str, message: str) -> None:
        self.report.problems.append(Problem(self.file, self.address, subject, message))

    def check_document(self, file: str, document: Dict[str, Any]) -> None:
        self.file = file
        for provider_name, body in _labeled(document.get(PROVIDER, [])):
            if provider_name != "aws" or not isinstance(body, dict):
                continue
            alias = body.get("alias")
            self.address = f"provider.aws.{_unquote(alias)}" if isinstance(alias, str) else "provider.aws"
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

    def _check_object(self, kind: str, type_name: str, name: str, body: Any) -> None:
        if not type_name.startswith("aws_"):
            self.report.skipped_types[type_name] = self.report.skipped_types.get(type_name, 0) + 1
            return
        self.address = f"{type_name}.{name}" if kind == RESOURCE else f"{kind}.{type_name}.{name}"
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
        elif argument.nested is not None:
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


def check_text(schema: Schema, text: str, file: str, report: Optional[Report] = None) -> Report:
    """Check one file's HCL text; `file` is only used in messages."""
    report = report if report is not None else Report()
    report.files += 1
    try:
        document = _parse(text)
    except Exception as exc:  # lark raises a family of unrelated exceptions
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        report.problems.append(Problem(file, "", file, f"cannot be parsed by python-hcl2: {first_line}"))
        return report
    _Checker(schema, report).check_document(file, document)
    return report


def check_files(schema: Schema, files: Iterable[PathLike], report: Optional[Report] = None) -> Report:
    report = report if report is not None else Report()
    for file in files:
        path = Path(file)
        check_text(schema, path.read_text(encoding="utf-8"), str(path), report)
    return report


def check_dirs_report(schema: Schema, dirs: Iterable[PathLike]) -> Report:
    report = Report()
    for directory in dirs:
        check_files(schema, tf_files(directory), report)
    return report


def check_dirs(schema: Schema, dirs: Iterable[PathLike]) -> List[Problem]:
    """Problems in the `*.tf` files directly inside each directory (empty list: all exist)."""
    return check_dirs_report(schema, dirs).problems


# --------------------------------------------------------------------------------------------------
# CLI


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="schema_compat",
        description=f"Check that every aws_* resource/data source argument and block exists in "
        f"hashicorp/aws {PROVIDER_VERSION} (schema from the cdktn-provider-aws jsii assembly).",
    )
    parser.add_argument("--schema", type=Path, default=DEFAULT_SCHEMA, help=f"default: {DEFAULT_SCHEMA}")
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
    except SchemaError as exc:
        print(f"schema_compat: {exc}", file=sys.stderr)
        return 2
    loaded = time.perf_counter()

    report = Report()
    for directory in args.dirs:
        files = tf_files(directory)
        if not files:
            print(f"schema_compat: warning: no *.tf files in {directory}", file=sys.stderr)
        check_files(schema, files, report)
    if args.timing:
        print(
            f"schema_compat: schema loaded in {loaded - started:.2f}s, "
            f"{report.files} files checked in {time.perf_counter() - loaded:.3f}s",
            file=sys.stderr,
        )

    for problem in report.problems:
        print(problem)
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
        f"schema_compat: {counted}, {report.arguments} arguments and blocks checked against {schema.label}: all exist"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
