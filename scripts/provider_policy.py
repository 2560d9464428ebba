"""What the newest hashicorp/aws deprecates and which Lambda runtimes it accepts, from machine-readable
sources shipped in registry packages (no list kept by hand):

* Deprecated arguments: the cdktn jsii assembly marks nothing deprecated, but PyPI's ``pulumi-aws``
  (7.51.1, October 2026, bridged from hashicorp/aws 6.x) is generated from the provider's schema and
  carries each argument's ``Deprecated`` message as ``@_utilities.deprecated("...")`` on the property
  of the generated ``<Resource>Args`` / ``<Resource><Block>Args`` classes. scripts/bootstrap.py reads
  the sha256-pinned wheel once and keeps a compact index (.tools/schema/pulumi-aws-*.deprecations.json).
* Runtime values: the provider validates ``runtime`` against the AWS SDK for Go v2 Lambda ``Runtime``
  enum, generated from the AWS Lambda API model; botocore (pinned in requirements/dev.txt) ships the
  same model (``lambda/2015-03-31/service-2.json``), whose ``Runtime`` shape lists the same values.

A deprecated argument fails the check unless ALLOW_LIST names it with a reason.
"""

from __future__ import annotations

import gzip
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, FrozenSet, List, Optional, Tuple

REPO_ROOT = Path(__file__).resolve().parent.parent
DEPRECATIONS_PACKAGE = "pulumi-aws 7.51.1"
DEFAULT_DEPRECATIONS = REPO_ROOT / ".tools" / "schema" / "pulumi-aws-7.51.1.deprecations-v2.json"

# (resource type, dotted argument path) -> why this module keeps a deprecated argument. Empty: the
# module uses none (global_secondary_index.hash_key left with the connections table's agentId index).
ALLOW_LIST: Dict[Tuple[str, str], str] = {}

_CLASS = re.compile(r"^class (\w+)\b")
_RESOURCE_CLASS = re.compile(r"^class (\w+)\(pulumi\.CustomResource\)")
_DEPRECATED = re.compile(r'^\s+@_utilities\.deprecated\("""(.*?)"""\)')
_DEF = re.compile(r"^\s+def (\w+)\(self\)")


class PolicyError(Exception):
    """The deprecation index or the Lambda model is missing or unreadable."""


def build_deprecation_index(wheel: Path) -> Dict[str, object]:
    """Scan pulumi-aws's generated Python for resource classes and deprecated properties."""
    resources: Dict[str, str] = {}
    deprecated: Dict[str, Dict[str, str]] = {}
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            parts = member.split("/")
            if len(parts) != 3 or parts[0] != "pulumi_aws" or not member.endswith(".py"):
                continue
            current, pending = "", None
            for line in archive.read(member).decode("utf-8").splitlines():
                if (found := _RESOURCE_CLASS.match(line)) is not None:
                    resources[f"{parts[1]}/{parts[2][:-3]}"] = f"{parts[1]}.{found.group(1)}"
                if (found := _CLASS.match(line)) is not None:  # class names repeat across modules
                    current, pending = f"{parts[1]}.{found.group(1)}", None
                elif (found := _DEPRECATED.match(line)) is not None:
                    pending = found.group(1)
                elif pending is not None and (found := _DEF.match(line)) is not None:
                    deprecated.setdefault(current, {})[found.group(1)] = pending
                    pending = None
    return {"package": DEPRECATIONS_PACKAGE, "resources": resources, "deprecated": deprecated}


def write_deprecation_index(wheel: Path, dest: Path) -> None:
    index = build_deprecation_index(wheel)
    if not index["resources"] or not index["deprecated"]:
        raise PolicyError(f"{wheel.name} yielded no resources or deprecations: its layout changed")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(index, indent=1, sort_keys=True), encoding="utf-8")


def lambda_runtimes() -> Tuple[FrozenSet[str], str]:
    """The Runtime enum of the AWS Lambda API model in the installed botocore, and its label."""
    try:
        import botocore  # noqa: PLC0415 - only the check needs it, not the schema index
    except ImportError as exc:
        raise PolicyError("botocore is not installed (run `make tools`)") from exc
    model = Path(botocore.__file__).parent / "data" / "lambda" / "2015-03-31" / "service-2.json.gz"
    try:
        with gzip.open(model, "rt", encoding="utf-8") as handle:
            enum = json.load(handle)["shapes"]["Runtime"]["enum"]
    except (OSError, ValueError, KeyError) as exc:
        raise PolicyError(f"cannot read the Lambda Runtime enum from {model}: {exc}") from exc
    return frozenset(str(value) for value in enum), f"botocore {botocore.__version__} Lambda API model"


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


@dataclass
class Policy:
    resources: Dict[str, str]  # "dynamodb/table" -> "dynamodb.Table"
    deprecated: Dict[str, Dict[str, str]]  # "dynamodb.TableGlobalSecondaryIndexArgs" -> {"hash_key": message}
    runtimes: FrozenSet[str]
    runtimes_label: str
    allow: Dict[Tuple[str, str], str] = field(default_factory=lambda: dict(ALLOW_LIST))
    unmapped: List[str] = field(default_factory=list)  # resource types with no deprecation data

    def resource_class(self, type_name: str) -> Optional[str]:
        """aws_dynamodb_table -> dynamodb.Table (module dynamodb, file table.py); lambda_ for keywords;
        aws_api_gateway_account -> apigateway.Account (module names without the provider's underscores)."""
        tokens = type_name.split("_")[1:]
        for split in range(1, len(tokens)):
            module, name = "_".join(tokens[:split]), "_".join(tokens[split:])
            for candidate in (f"{module}/{name}", f"{module}_/{name}", f"{module.replace('_', '')}/{name}"):
                if candidate in self.resources:
                    return self.resources[candidate]
        if type_name not in self.unmapped:
            self.unmapped.append(type_name)
        return None

    def deprecation(self, type_name: str, path: str) -> Optional[Tuple[str, Optional[str]]]:
        """(message, allow-list reason or None) when `path` of resource `type_name` is deprecated."""
        resource = self.resource_class(type_name)
        if resource is None:
            return None
        *blocks, leaf = path.split(".")
        message = self.deprecated.get(f"{resource}{''.join(_camel(b) for b in blocks)}Args", {}).get(leaf)
        if message is None:
            return None
        return message, self.allow.get((type_name, path))

    def runtime_problem(self, value: str) -> Optional[str]:
        if value in self.runtimes:
            return None
        python = sorted((v for v in self.runtimes if v.startswith("python")), key=lambda v: int(v.split(".")[-1]))
        return f'runtime "{value}" is not accepted ({self.runtimes_label}; Python values: {", ".join(python)})'


def load_policy(path: Path = DEFAULT_DEPRECATIONS) -> Policy:
    if not path.is_file():
        raise PolicyError(f"deprecation index {path} not found; run `make tools` to build it")
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
        resources, deprecated = dict(index["resources"]), dict(index["deprecated"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PolicyError(f"cannot read deprecation index {path}: {exc}") from exc
    runtimes, label = lambda_runtimes()
    return Policy(resources, deprecated, runtimes, label)
