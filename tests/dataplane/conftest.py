"""Fixtures for the tests of the local stand-ins: one moto server (launched as the demo launches it,
scripts/moto_launch.py) for the whole suite; each test names its own resources."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Iterator

import pytest

from tests.support.servers import moto_server

_names = itertools.count()


@pytest.fixture(scope="session")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_server(Path(tmp_path_factory.mktemp("moto")) / "moto.log") as url:
        yield url


@pytest.fixture
def name(request: pytest.FixtureRequest) -> str:
    """A resource name unique in the session (moto is shared)."""
    return f"{request.node.name[:40].replace('[', '-').replace(']', '')}-{next(_names)}".replace("_", "-")
