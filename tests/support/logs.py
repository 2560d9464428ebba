"""Reading the function's output: one JSON object per line, and the EMF metrics inside a line.

Every line parsed here that carries EMF metadata (`_aws`) is also checked against the specification
(tests/support/emf.py), as written, byte for byte. Changes when the log line format (telemetry.py) changes.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, Iterable, List, Mapping, Set, Tuple

from tests.support.emf import assert_emf_document, assert_emf_line
from tests.support.events import now_ms


def parse_log_lines(text: str) -> List[Dict[str, Any]]:
    """Every line must be one JSON object (CloudWatch Logs splits on newlines)."""
    lines: List[Dict[str, Any]] = []
    for raw in text.splitlines():
        assert raw.strip(), "blank log line"
        document = json.loads(raw)
        assert isinstance(document, dict), f"log line is not a JSON object: {raw!r}"
        if "_aws" in document:
            assert_emf_line(raw)
        lines.append(document)
    return lines


def emf_metrics(line: Mapping[str, Any]) -> Dict[str, Tuple[float, str, List[str]]]:
    """EMF metrics in a log line: name -> (value from the root, unit, the directive's dimension set)."""
    found: Dict[str, Tuple[float, str, List[str]]] = {}
    for directive in line.get("_aws", {}).get("CloudWatchMetrics", []):
        dimension_sets = directive["Dimensions"]
        assert len(dimension_sets) == 1
        for metric in directive["Metrics"]:
            found[metric["Name"]] = (line[metric["Name"]], metric["Unit"], list(dimension_sets[0]))
    return found


def emf_dimension_names(lines: Iterable[Mapping[str, Any]]) -> Set[str]:
    names: Set[str] = set()
    for line in lines:
        for directive in line.get("_aws", {}).get("CloudWatchMetrics", []):
            for dimension_set in directive["Dimensions"]:
                names.update(dimension_set)
    return names


def assert_valid_emf(line: Mapping[str, Any], namespace: str) -> None:
    """A valid EMF document (the specification's rules) in `namespace`, stamped within the last hour."""
    assert_emf_document(line)
    assert abs(line["_aws"]["Timestamp"] - now_ms()) < 3_600_000
    assert {directive["Namespace"] for directive in line["_aws"]["CloudWatchMetrics"]} == {namespace}


class LogReader:
    """Accumulates the function's stdout (via capsys) as parsed JSON lines."""

    def __init__(self, read: Callable[[], str]) -> None:
        self._read = read
        self._lines: List[Dict[str, Any]] = []
        self.raw = ""

    def lines(self) -> List[Dict[str, Any]]:
        text = self._read()
        self.raw += text
        self._lines.extend(parse_log_lines(text))
        return list(self._lines)

    def with_message(self, message: str) -> List[Dict[str, Any]]:
        return [line for line in self.lines() if line.get("message") == message]

    def one(self, message: str) -> Dict[str, Any]:
        found = self.with_message(message)
        assert len(found) == 1, f"expected one {message!r} line, got {found}"
        return found[0]

    def clear(self) -> None:
        self.lines()
        self._lines.clear()
        self.raw = ""
