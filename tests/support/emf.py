"""Validation of log lines against the CloudWatch Embedded Metric Format (EMF) specification.

The structure is checked by tests/support/emf_schema.json (written from the spec; see its $comment);
this module adds the rules a JSON Schema cannot express:

- the event is exactly one JSON object (RFC 8259: no NaN/Infinity, nothing before or after it) and at
  most 1 MB, the CloudWatch Logs event limit the spec applies to EMF documents;
- every dimension key of every DimensionSet is a member of the root with a string value;
- every metric Name is a member of the root with a number, or an array of at most 100 numbers
  (booleans are JSON `true`/`false`, not numbers).

Changes when the published specification does, never because the function's output changed.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any, List, Mapping

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]  # ships no type hints

SCHEMA_PATH = Path(__file__).resolve().parent / "emf_schema.json"
MAX_EVENT_BYTES = 1024 * 1024
MAX_VALUES_PER_METRIC = 100


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON (RFC 8259)")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def document_problems(document: Mapping[str, Any]) -> List[str]:
    """Every way one parsed document breaks the EMF specification (empty when it conforms)."""
    problems = [
        f"{'/'.join(str(part) for part in error.absolute_path) or '(root)'}: {error.message}"
        for error in sorted(
            _validator().iter_errors(document), key=lambda error: [str(part) for part in error.absolute_path]
        )
    ]
    if problems:
        return problems  # the cross-references below assume the structure is right
    for directive in document["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            for key in dimension_set:
                if key not in document:
                    problems.append(f"dimension {key!r} is not a member of the root")
                elif not isinstance(document[key], str):
                    problems.append(f"dimension {key!r} must have a string value, not {document[key]!r}")
        for metric in directive["Metrics"]:
            name = metric["Name"]
            value = document.get(name)
            if name not in document:
                problems.append(f"metric {name!r} is not a member of the root")
            elif isinstance(value, list):
                if len(value) > MAX_VALUES_PER_METRIC:
                    problems.append(f"metric {name!r} has {len(value)} values; at most {MAX_VALUES_PER_METRIC}")
                if not all(_is_number(entry) for entry in value):
                    problems.append(f"metric {name!r} must be an array of numbers, not {value!r}")
            elif not _is_number(value):
                problems.append(f"metric {name!r} must be a number or an array of numbers, not {value!r}")
    return problems


def line_problems(line: str) -> List[str]:
    """Every way one log event (a line of text) breaks the EMF specification."""
    size = len(line.encode("utf-8"))
    if size > MAX_EVENT_BYTES:
        return [f"event is {size} bytes; CloudWatch Logs (and so EMF) allows {MAX_EVENT_BYTES}"]
    try:
        document = json.loads(line, parse_constant=_reject_constant)
    except ValueError as exc:
        return [f"event is not one JSON object: {exc}"]
    if not isinstance(document, dict):
        return [f"event is a JSON {type(document).__name__}, not an object"]
    return document_problems(document)


def encoded(document: Mapping[str, Any]) -> str:
    """The line a parsed document was written as (telemetry.py writes compact JSON)."""
    return json.dumps(document, separators=(",", ":"), default=str)


def assert_emf_line(line: str) -> None:
    problems = line_problems(line)
    assert not problems, "not a valid EMF document:\n  " + "\n  ".join(problems) + f"\nline: {line[:2000]}"


def assert_emf_document(document: Mapping[str, Any]) -> None:
    assert_emf_line(encoded(document))
