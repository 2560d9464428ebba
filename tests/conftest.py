"""Checks for every suite: each EMF line the function writes must follow the published specification.

In process (unit, faults), every line `Telemetry.log` writes with metrics is validated against
tests/support/emf_schema.json and the rules the schema cannot express (tests/support/emf.py), whether
or not the test reads the line, with or without output capture. Problems are collected and fail the
test at teardown, so handler code that catches exceptions cannot swallow them. Out of process (e2e),
tests/e2e/conftest.py checks the log lines of every invocation of the deployed code.
"""

from __future__ import annotations

import inspect
from typing import Any, Iterator, List

import pytest
from remediation_registry.telemetry import Telemetry

from tests.support.emf import line_problems


@pytest.fixture(autouse=True)
def emf_lines_follow_the_spec(monkeypatch: pytest.MonkeyPatch) -> Iterator[List[str]]:
    original = Telemetry.log
    signature = inspect.signature(original)
    problems: List[str] = []

    def checked(self: Telemetry, *args: Any, **kwargs: Any) -> str:
        line = original(self, *args, **kwargs)
        call = signature.bind(self, *args, **kwargs).arguments
        if call.get("metrics") or '"_aws":' in line:
            found = line_problems(line) if line else ["metrics given, but no line written"]
            problems.extend(f"{call.get('message')!r}: {problem}" for problem in found)
        return line

    monkeypatch.setattr(Telemetry, "log", checked)
    yield problems
    assert not problems, "EMF lines that break the specification:\n  " + "\n  ".join(problems)
