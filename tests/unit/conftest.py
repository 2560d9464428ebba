"""Fixtures for the unit tests: a clean environment, moto, the connections table, logs, presence."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator, Tuple

import botocore.retries.standard
import pytest
from moto import mock_aws
from remediation_registry import handlers

from tests.support.environment import AWS_VARIABLES_TO_CLEAR, CONFIG_VARIABLES, FAKE_AWS_ENV
from tests.support.logs import LogReader
from tests.support.presence import PresenceStack
from tests.support.resources import TABLE, Table
from tests.support.servers import FakeConnections, fake_connections_endpoint


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
def connections_api(no_retry_delay: None) -> Iterator[Tuple[str, FakeConnections]]:
    """A local @connections endpoint with scripted connections (gone, throttled, last active)."""
    with fake_connections_endpoint() as served:
        yield served


@pytest.fixture
def make_stack(
    aws: None, monkeypatch: pytest.MonkeyPatch, connections_api: Tuple[str, FakeConnections]
) -> Callable[..., PresenceStack]:
    """Presence on with other settings: make_stack(grace_seconds=0, heartbeat_timeout=75, probe_interval=60)."""
    return lambda **settings: PresenceStack(monkeypatch, connections_api[0], **settings)


@pytest.fixture
def stack(make_stack: Callable[..., PresenceStack]) -> PresenceStack:
    """Presence on (grace 20 s, heartbeats off): connections and presence tables, queue, agents' bus."""
    return make_stack()


@pytest.fixture
def logs(capsys: pytest.CaptureFixture[str]) -> LogReader:
    return LogReader(lambda: capsys.readouterr().out)


@pytest.fixture
def no_retry_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's standard retry mode sleeps between attempts; tests keep the attempts, drop the sleep."""
    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)
