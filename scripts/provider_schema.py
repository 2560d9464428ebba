"""The hashicorp/aws 6.69.1 schema, indexed by Terraform names, from the cdktn-provider-aws jsii assembly.

Terraform names are taken from the assembly's own data, never guessed from camelCase:

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

The assembly carries no deprecation markers of the provider (every property is "stable"): those come
from scripts/provider_policy.py.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

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

# `{@link https://registry.terraform.io/providers/hashicorp/aws/6.69.1/docs/resources/lambda_function#role ...}`
_PROPERTY_LINK = re.compile(r"\{@link https://registry\.terraform\.io/providers/[^\s}#]+#([A-Za-z0-9_]+)\s")
# `Represents a {@link https://registry.terraform.io/providers/hashicorp/aws/6.69.1/docs/resources/x aws_x}.`
_CLASS_LINK = re.compile(
    r"\{@link https://registry\.terraform\.io/providers/([^/\s]+/[^/\s]+)/([^/\s]+)/\S*\s+([^}\s]+)\}"
)


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


class SchemaError(Exception):
    """The schema file is missing or not a cdktn provider assembly."""


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
