"""One load of the 6.69.1 schema (~150 MB of JSON) and of the provider policy for all compat tests."""

from __future__ import annotations

import pytest

from scripts.provider_policy import DEFAULT_DEPRECATIONS, Policy, load_policy
from scripts.provider_schema import DEFAULT_SCHEMA, Schema, load_schema


@pytest.fixture(scope="session")
def schema() -> Schema:
    if not DEFAULT_SCHEMA.is_file():
        pytest.skip(f"{DEFAULT_SCHEMA} is missing: run `make tools`")
    return load_schema(DEFAULT_SCHEMA)


@pytest.fixture
def policy() -> Policy:
    """A fresh policy per test (tests may empty its allow-list)."""
    if not DEFAULT_DEPRECATIONS.is_file():
        pytest.skip(f"{DEFAULT_DEPRECATIONS} is missing: run `make tools`")
    return load_policy(DEFAULT_DEPRECATIONS)
