"""Fixtures for the fault tests: a clean environment, moto, logs, and botocore retries without the sleep."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import botocore.retries.standard
import pytest
from hypothesis.configuration import set_hypothesis_home_dir
from moto import mock_aws
from remediation_disconnect import handlers

from tests.unit.helpers import AWS_VARIABLES_TO_CLEAR, CONFIG_VARIABLES, FAKE_AWS_ENV, TABLE, LogReader

# Hypothesis keeps caches (unicode tables, source constants) in .hypothesis/ under the working directory;
# keep them beside these tests instead (gitignored). The example database is off (database=None).
set_hypothesis_home_dir(Path(__file__).resolve().parent / ".hypothesis")


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
def logs(capsys: pytest.CaptureFixture[str]) -> LogReader:
    return LogReader(lambda: capsys.readouterr().out)


@pytest.fixture
def no_retry_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's standard retry mode sleeps (jittered, up to seconds) between attempts. The attempts are
    what these tests observe, the sleep only costs time: ExponentialBackoff.delay_amount returns 0 here."""
    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)
