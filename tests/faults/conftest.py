"""Fixtures for the fault tests: the unit tests' (clean environment, moto, logs, retries without the
sleep), re-exported here so pytest finds them, plus a Hypothesis home beside these tests."""

from __future__ import annotations

from pathlib import Path

from hypothesis.configuration import set_hypothesis_home_dir

from tests.unit.conftest import aws, connections_api, environment, logs, make_stack, no_retry_delay, stack

__all__ = ["aws", "connections_api", "environment", "logs", "make_stack", "no_retry_delay", "stack"]

# Hypothesis keeps caches (unicode tables, source constants) in .hypothesis/ under the working directory;
# keep them beside these tests instead (gitignored). The example database is off (database=None).
set_hypothesis_home_dir(Path(__file__).resolve().parent / ".hypothesis")
