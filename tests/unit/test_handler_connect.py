"""The optional `$connect` writer: exactly the contract item, or a refused handshake and nothing written."""

from __future__ import annotations

import copy
from typing import Any, Dict, Optional

import pytest
from remediation_registry import contract, handlers
from remediation_registry.config import ConfigError

from tests.support.events import CONNECTED_AT, CONNECTION_ID, FakeContext, connect_event, disconnect_event
from tests.support.logs import LogReader, emf_metrics
from tests.support.resources import Table


def test_agent_from_the_authorizer_is_written_exactly_per_contract(table: Table, logs: LogReader) -> None:
    event = connect_event(authorizer={"clientType": "agent", "agentId": "agent-07"})
    assert handlers.connect(event, FakeContext()) == {"statusCode": 200, "body": "connected"}
    assert table.items() == {
        CONNECTION_ID: {
            "connectionId": {"S": CONNECTION_ID},
            "clientType": {"S": "agent"},
            "agentId": {"S": "agent-07"},
            "connectedAt": {"N": str(CONNECTED_AT)},
            # seconds: 1_795_000_000 + 7200 + the default 300 s grace
            "expiresAt": {"N": str(1_795_000_000 + 7200 + 300)},
        }
    }
    line = logs.one("connection registered")
    assert (line["clientType"], line["agentId"], line["identitySource"]) == ("agent", "agent-07", "authorizer")
    assert line["expiresAt"] == 1_795_007_500
    assert line["awsRequestId"] == FakeContext().aws_request_id


def test_dashboard_gets_no_agent_id_and_grace_and_ttl_name_come_from_the_environment(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TTL_ATTRIBUTE", "ttl")
    monkeypatch.setenv("CONNECTION_GRACE_SECONDS", "60")
    table = Table(ttl_attribute="ttl")
    event = connect_event(authorizer={"clientType": "dashboard", "agentId": "ignored"})
    assert handlers.connect(event)["statusCode"] == 200
    written = table.items()[CONNECTION_ID]
    assert written == {
        "connectionId": {"S": CONNECTION_ID},
        "clientType": {"S": "dashboard"},
        "connectedAt": {"N": str(CONNECTED_AT)},
        "ttl": {"N": str(1_795_000_000 + 7200 + 60)},
    }


def test_authorizer_keys_are_configurable(table: Table, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECT_CLIENT_TYPE_KEY", "role")
    monkeypatch.setenv("CONNECT_AGENT_ID_KEY", "sub")
    event = connect_event(authorizer={"role": "agent", "sub": "agent-99", "clientType": "dashboard"})
    assert handlers.connect(event)["statusCode"] == 200
    written = table.items()[CONNECTION_ID]
    assert (written["clientType"], written["agentId"]) == ({"S": "agent"}, {"S": "agent-99"})


@pytest.mark.parametrize(
    ("authorizer", "reason", "detail"),
    [
        ({"agentId": "agent-07"}, "no_identity", "the authorizer's context has no 'clientType'"),
        ({"clientType": "", "agentId": "a"}, "no_identity", "the authorizer's context has no 'clientType'"),
        (
            {"clientType": "robot", "agentId": "a"},
            "unknown_client_type",
            "the authorizer's context 'clientType' is 'robot', not one of ['agent', 'dashboard']",
        ),
        (
            {"clientType": "Agent", "agentId": "a"},
            "unknown_client_type",
            "the authorizer's context 'clientType' is 'Agent', not one of ['agent', 'dashboard']",
        ),
        ({"clientType": "agent"}, "missing_agent_id", "the authorizer's context says 'agent' but has no 'agentId'"),
        (
            {"clientType": "agent", "agentId": ""},
            "missing_agent_id",
            "the authorizer's context says 'agent' but has no 'agentId'",
        ),
        (
            {"clientType": "agent", "agentId": 7},
            "invalid_agent_id",
            "the authorizer's context 'agentId' is a int, not text",
        ),
        (
            {"clientType": "agent", "agentId": "a" * 257},
            "invalid_agent_id",
            f"the authorizer's context 'agentId' {'a' * 64!r}... is 257 characters long (1-256)",
        ),
        (
            {"clientType": "agent", "agentId": "agent\n07"},
            "invalid_agent_id",
            "the authorizer's context 'agentId' 'agent\\n07' contains U+000A (category Cc: control, format,"
            " separator or unassigned)",
        ),
    ],
)
def test_unusable_identity_is_refused_and_nothing_is_written(
    table: Table, logs: LogReader, authorizer: Dict[str, Any], reason: str, detail: str
) -> None:
    response = handlers.connect(connect_event(authorizer=authorizer))
    assert response == {"statusCode": 403, "body": "connection refused: no usable identity"}
    assert table.items() == {}
    line = logs.one("connection refused")
    assert (line["level"], line["reason"], line["detail"], line["connectionId"]) == (
        "WARNING",
        reason,
        detail,
        CONNECTION_ID,
    )
    assert (line["result"], line["identitySource"]) == ("refused", "authorizer")
    assert emf_metrics(line)["RefusedConnects"] == (1, "Count", ["Reason"])
    assert line["Reason"] == reason


def _malformed() -> Any:
    base = connect_event(authorizer={"clientType": "agent", "agentId": "agent-07"})
    cases = []
    for path, value in (
        (("requestContext", "connectionId"), ""),
        (("requestContext", "connectionId"), "has space"),
        (("requestContext", "eventType"), "DISCONNECT"),
        (("requestContext", "connectedAt"), None),
        (("requestContext", "connectedAt"), "soon"),
        (("requestContext",), "not an object"),
    ):
        event = copy.deepcopy(base)
        target = event
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        cases.append(event)
    return [*cases, None, [], "text"]


@pytest.mark.parametrize("event", _malformed())
def test_malformed_events_are_refused_like_on_disconnect(table: Table, logs: LogReader, event: Any) -> None:
    assert handlers.connect(event) == {"statusCode": 400, "body": "invalid $connect event"}
    assert table.items() == {}
    line = logs.one("invalid $connect event refused")
    assert line["InvalidConnectEvents"] == 1
    assert line["error"]


def test_a_write_failure_fails_the_invocation_and_is_logged(aws: None, logs: LogReader) -> None:
    # No table: PutItem answers ResourceNotFoundException; Lambda's error makes API Gateway refuse.
    with pytest.raises(Exception, match=r"ResourceNotFoundException|non-existent table"):
        handlers.connect(connect_event(authorizer={"clientType": "dashboard"}))
    line = logs.one("connection not registered")
    assert line["errorCode"] == "ResourceNotFoundException"
    assert line["ConnectErrors"] == 1


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"CONNECT_AGENT_ID_KEY": "agent id"}, "CONNECT_AGENT_ID_KEY"),
        ({"CONNECT_CLIENT_TYPE_KEY": "client/type"}, "CONNECT_CLIENT_TYPE_KEY"),
        ({"CONNECT_CLIENT_TYPE_KEY": "sub", "CONNECT_AGENT_ID_KEY": "sub"}, "CONNECT_CLIENT_TYPE_KEY and"),
        ({"CONNECT_IDENTITY_SOURCE": "query_string"}, "CONNECT_IDENTITY_SOURCE"),
        ({"CONNECT_AGENT_ID_PATTERN": "agent-[0-9"}, "CONNECT_AGENT_ID_PATTERN"),
        ({"CONNECT_IDENTITY_SOURCE": "iam"}, "CONNECT_IAM_AGENT_ROLES and CONNECT_IAM_DASHBOARD_ROLES"),
        (
            {"CONNECT_IDENTITY_SOURCE": "iam", "CONNECT_IAM_AGENT_ROLES": "arn:aws:sts::123456789012:assumed-role/a/b"},
            "CONNECT_IAM_AGENT_ROLES",
        ),
        (
            {
                "CONNECT_IDENTITY_SOURCE": "iam",
                "CONNECT_IAM_AGENT_ROLES": "arn:aws:iam::123456789012:role/agents",
                "CONNECT_IAM_AGENT_ID_FROM": "instance_id",
            },
            "CONNECT_IAM_AGENT_ID_FROM",
        ),
    ],
)
def test_bad_configuration_names_the_variable(
    table: Table, monkeypatch: pytest.MonkeyPatch, variables: Dict[str, str], named: str
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=named):
        handlers.connect(connect_event(authorizer={"clientType": "agent", "agentId": "a"}))
    assert table.items() == {}


def test_what_connect_writes_disconnect_reads_as_an_agent(table: Table, logs: LogReader) -> None:
    """One contract: the item from $connect is what $disconnect reads as an agent's connection."""
    assert (
        handlers.connect(connect_event(authorizer={"clientType": "agent", "agentId": "agent-07"}))["statusCode"] == 200
    )
    assert handlers.disconnect(disconnect_event(connected_at=CONNECTED_AT))["statusCode"] == 200
    removed = logs.one("connection removed")
    assert removed["item"] == {
        "clientType": "agent",
        "agentId": "agent-07",
        "connectedAt": CONNECTED_AT,
        "expiresAt": contract.expires_at(CONNECTED_AT, 300),
    }
    assert "presence" not in removed  # presence is off: nothing more than the delete
    assert table.items() == {}


@pytest.mark.parametrize(
    ("client_type", "agent_id", "expected"),
    [("agent", "a", True), ("agent", "", False), ("agent", None, False), ("dashboard", "a", False), (None, "a", False)],
)
def test_what_counts_as_an_agent_connection(
    client_type: Optional[str], agent_id: Optional[str], expected: bool
) -> None:
    assert contract.is_agent_connection(client_type, agent_id) is expected


def test_expiry_is_whole_seconds_from_milliseconds() -> None:
    assert contract.expires_at(1_795_000_000_999, 0) == 1_795_007_200
    assert contract.expires_at(1_795_000_000_999, 300) == 1_795_007_500
