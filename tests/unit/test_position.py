"""position: the sweeper's saved pass (format, damage, conditional writes) and its one IAM-scoped key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from remediation_registry.contract import POSITION_KEY
from remediation_registry.sweep.position import PassState, PositionStore

from tests.support.resources import Table

ROOT = Path(__file__).resolve().parents[2]


def test_iam_scopes_the_position_actions_to_the_same_key() -> None:
    match = re.search(r'sweeper_position_key\s*=\s*"([^"]+)"', (ROOT / "iam.tf").read_text())

    assert match is not None
    assert match.group(1) == POSITION_KEY


def test_no_api_gateway_connection_id_can_be_the_position_key() -> None:
    # API Gateway connection ids are base64 text ("L0SM9cOFvHcCIhw="): no "~", no "/".
    assert re.fullmatch(r"[A-Za-z0-9+=_-]+", POSITION_KEY) is None


def test_a_state_survives_its_text_form() -> None:
    state = PassState(7, 4, 1795677000.0, {"number": 6, "items": 10, "runs": 2, "seconds": 600})
    state.cursors = {1: {"connectionId": {"S": "abc"}}}
    state.done = {0, 3}
    state.examined, state.runs, state.active = 123, 3, {"agent": 5}

    again = PassState.from_text(state.to_text())

    assert again.to_text() == state.to_text()
    assert again.pending() == [1, 2]
    assert not again.complete


@pytest.mark.parametrize(
    "text",
    ["{", "[]", '{"format": 2}', PassState(1, 2, 0.0, None).to_text().replace('"done":[]', '"done":[5]')],
)
def test_damaged_state_text_is_refused(text: str) -> None:
    with pytest.raises((ValueError, KeyError, TypeError)):
        PassState.from_text(text)


def test_saves_are_conditional_on_the_version_read(table: Table) -> None:
    positions = PositionStore(table.client, table.name)
    loaded = positions.load(1, 1795677000.0)
    assert (loaded.origin, loaded.version) == ("none saved", None)

    assert positions.save(loaded.state, loaded.version) is True
    assert positions.save(loaded.state, loaded.version) is False  # someone saved since: refused
    again = positions.load(1, 1795677000.0)
    assert (again.origin, again.version) == ("continued", "1")
    assert positions.save(again.state, again.version) is True
    assert positions.load(1, 1795677000.0).version == "2"
