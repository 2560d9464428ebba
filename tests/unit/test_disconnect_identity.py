"""Issue 16 item 4: `$disconnect` no longer trusts any requestContext.

Reserved ids (anything starting with "~", such as the sweeper's scan position) are refused with 400 and
nothing is deleted (on `$connect` too: nothing is written). The lost-answer fallback reads the agent from
the authorizer's context under the configured keys, only by the contract's agent rule, and only when
identity comes from an authorizer. Each test fails on the code before the fix.
"""

from __future__ import annotations

from typing import Any, Dict

import pytest
from remediation_registry import claims, contract, handlers

from tests.support.events import connect_event, disconnect_event
from tests.support.faults import SendInterceptor, lose_first_delete_response
from tests.support.logs import LogReader, emf_metrics
from tests.support.presence import PresenceStack
from tests.support.resources import Table

OLD = "old-connection="
AGENT = "agent-0042"


@pytest.mark.parametrize("connection_id", [contract.POSITION_KEY, "~", "~L0SM9cOFvHcCIhw="])
def test_item4_reserved_ids_are_refused_and_nothing_is_deleted(
    table: Table, logs: LogReader, connection_id: str
) -> None:
    table.put({"connectionId": {"S": connection_id}, "state": {"S": "the sweeper's position"}})

    assert handlers.disconnect(disconnect_event(connection_id)) == {
        "statusCode": 400,
        "body": "invalid $disconnect event",
    }

    assert table.ids() == {connection_id}
    line = logs.one("invalid $disconnect event ignored")
    assert line["level"] == "WARNING"
    assert "is reserved" in line["error"]
    assert emf_metrics(line)["InvalidDisconnectEvents"] == (1, "Count", [])


def test_item4_connect_never_writes_a_reserved_id(table: Table, logs: LogReader) -> None:
    table.put({"connectionId": {"S": contract.POSITION_KEY}, "state": {"S": "the sweeper's position"}})
    event = connect_event(contract.POSITION_KEY, authorizer={"clientType": "dashboard"})

    assert handlers.connect(event) == {"statusCode": 400, "body": "invalid $connect event"}

    assert table.items()[contract.POSITION_KEY]["state"] == {"S": "the sweeper's position"}
    assert "is reserved" in logs.one("invalid $connect event refused")["error"]


def test_the_position_key_is_reserved() -> None:
    assert contract.POSITION_KEY.startswith(contract.RESERVED_PREFIX)


# ---------------------------------------------------------------------------------------------------
# The lost-answer fallback
# ---------------------------------------------------------------------------------------------------


def lost_answer_disconnect(stack: PresenceStack, authorizer: Dict[str, Any]) -> Dict[str, Any]:
    """A `$disconnect` whose first DeleteItem deletes the agent's item and loses the answer (presence on:
    the agent the fallback names, if any, gets its close: T2)."""
    rt = stack.runtime()
    rt.presence = None
    SendInterceptor(rt.dynamodb, lambda operation, attempt: None, lose_first_delete_response)
    event = disconnect_event(OLD)
    event["requestContext"]["authorizer"] = {"principalId": "user", **authorizer}
    return handlers.disconnect(event)


def closed_for(stack: PresenceStack) -> bool:
    """Whether presence learnt of the close: the agent's last connection gone, its grace window open."""
    state = stack.presence.state(AGENT)
    return bool(state["connections"] == set() and state["pending"])


@pytest.mark.usefixtures("no_retry_delay")
def test_item4_the_fallback_reads_the_configured_keys(
    stack: PresenceStack, logs: LogReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.connect(AGENT, OLD)
    monkeypatch.setenv("CONNECT_CLIENT_TYPE_KEY", "role")
    monkeypatch.setenv("CONNECT_AGENT_ID_KEY", "sub")
    handlers.reset()  # a new container reads the keys

    assert (
        lost_answer_disconnect(stack, {"role": "agent", "sub": AGENT, "agentId": "not-this-key"})["statusCode"] == 200
    )

    assert closed_for(stack)
    line = logs.one("connection already gone")
    assert (line["deleteRetried"], line["presence"], line["ClientType"]) == (True, "grace", "agent")


@pytest.mark.usefixtures("no_retry_delay")
@pytest.mark.parametrize(
    "authorizer",
    [
        {"clientType": "dashboard", "agentId": AGENT},  # a Dashboard's context is not an agent's
        {"agentId": AGENT},  # no client type: not an agent by the contract's rule
        {"clientType": "Agent", "agentId": AGENT},
        {"clientType": "agent", "agentId": ""},
    ],
)
def test_item4_the_fallback_applies_the_contracts_agent_rule(
    stack: PresenceStack, logs: LogReader, authorizer: Dict[str, Any]
) -> None:
    stack.connect(AGENT, OLD)

    assert lost_answer_disconnect(stack, authorizer)["statusCode"] == 200

    assert stack.connections.ids() == set()
    assert not closed_for(stack)  # presence learns of it from the connection's next probe (gone)
    line = logs.one("connection already gone")
    assert line["deleteRetried"] is True
    assert "presence" not in line


@pytest.mark.usefixtures("no_retry_delay")
@pytest.mark.parametrize("source", ["iam", "query_string_insecure"])
def test_item4_without_an_authorizer_source_its_context_is_not_trusted(
    stack: PresenceStack, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    stack.connect(AGENT, OLD)
    monkeypatch.setenv("CONNECT_IDENTITY_SOURCE", source)
    handlers.reset()

    assert lost_answer_disconnect(stack, {"clientType": "agent", "agentId": AGENT})["statusCode"] == 200

    assert not closed_for(stack)


@pytest.mark.parametrize(
    ("env", "authorizer", "expected"),
    [
        ({}, {"clientType": "agent", "agentId": AGENT}, AGENT),
        ({}, {"clientType": "agent", "agentId": "x" * 400}, "x" * 400),  # an identity is kept whole
        ({}, {"clientType": "agent", "agentId": 42}, None),
        ({}, {"clientType": "dashboard", "agentId": AGENT}, None),
        ({}, {}, None),
        ({"CONNECT_AGENT_ID_KEY": "sub"}, {"clientType": "agent", "agentId": AGENT}, None),
        ({"CONNECT_AGENT_ID_KEY": "sub"}, {"clientType": "agent", "sub": AGENT}, AGENT),
        ({"CONNECT_CLIENT_TYPE_KEY": "kind"}, {"clientType": "agent", "agentId": AGENT}, None),
        ({"CONNECT_IDENTITY_SOURCE": "iam"}, {"clientType": "agent", "agentId": AGENT}, None),
    ],
)
def test_the_agent_an_authorizers_context_names(env: Dict[str, str], authorizer: Dict[str, Any], expected: Any) -> None:
    assert claims.agent_id(claims.load(env), authorizer) == expected
