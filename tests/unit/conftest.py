"""Fixtures for the unit tests: a clean environment, moto, the connections table, logs, EventBridge."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import botocore.retries.standard
import pytest
from moto import mock_aws
from remediation_registry import handlers

from tests.support.environment import AWS_VARIABLES_TO_CLEAR, CONFIG_VARIABLES, FAKE_AWS_ENV
from tests.support.logs import LogReader
from tests.support.resources import INDEX, TABLE, EventsSink, Table


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Only the variables a test sets; fake credentials; no profile or endpoint leaking in; fresh Runtime."""
    for name in CONFIG_VARIABLES + AWS_VARIABLES_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    for name, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("CONNECTIONS_TABLE", TABLE)
    handlers.reset()
    yield
    handlers.reset()


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def table(aws: None) -> Table:
    """The connections table without the agent index (agent tracking off)."""
    return Table()


@pytest.fixture
def agent_table(aws: None, monkeypatch: pytest.MonkeyPatch) -> Table:
    """The connections table with the agentId index, and AGENT_INDEX_NAME set (agent tracking on)."""
    monkeypatch.setenv("AGENT_INDEX_NAME", INDEX)
    return Table(with_index=True)


@pytest.fixture
def offline_events(agent_table: Table, monkeypatch: pytest.MonkeyPatch) -> EventsSink:
    """OFFLINE_EVENT_BUS set; every event on the bus with the default source lands in an SQS queue."""
    sink = EventsSink()
    monkeypatch.setenv("OFFLINE_EVENT_BUS", sink.bus)
    return sink


@pytest.fixture
def logs(capsys: pytest.CaptureFixture[str]) -> LogReader:
    return LogReader(lambda: capsys.readouterr().out)


@pytest.fixture
def no_retry_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's standard retry mode sleeps between attempts; tests keep the attempts, drop the sleep."""
    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)
