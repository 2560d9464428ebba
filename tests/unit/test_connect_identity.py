"""Issue 16 through the `$connect` handler: one identity source per deployment, verified agent ids, IAM
callers, and refusals that answer 403, name their reason, count it, and write nothing.

Each test named after an issue item fails on the code before the fix (it read the query string behind
an authorizer, had no `query_string_insecure` or `iam` source, accepted look-alike ids, ignored
CONNECT_AGENT_ID_PATTERN).
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import pytest
from remediation_registry import handlers

from tests.support.events import CONNECTION_ID, connect_event, iam_caller
from tests.support.logs import LogReader, emf_metrics
from tests.support.resources import Table

FORBIDDEN = {"statusCode": 403, "body": "connection refused: no usable identity"}
ACCOUNT = "123456789012"
AGENT_ROLE = f"arn:aws:iam::{ACCOUNT}:role/fleet/remediation-agent"  # with a path
DASHBOARD_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ops-dashboard"
INSTANCE = "i-0123456789abcdef0"  # an EC2 instance profile's session name


def refused(logs: LogReader, reason: str) -> Dict[str, Any]:
    line = logs.one("connection refused")
    assert (line["level"], line["result"], line["reason"], line["Reason"]) == ("WARNING", "refused", reason, reason)
    assert emf_metrics(line)["RefusedConnects"] == (1, "Count", ["Reason"])
    return line


def written_identity(table: Table) -> Dict[str, Optional[str]]:
    written = table.items()[CONNECTION_ID]
    return {key: written[key]["S"] if key in written else None for key in ("clientType", "agentId")}


# ---------------------------------------------------------------------------------------------------
# Item 1: with an authorizer, identity comes from its context only
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("authorizer", "reason"),
    [
        (None, "no_identity"),  # no authorizer context at all
        ({}, "no_identity"),
        ({"sub": "someone"}, "no_identity"),  # a context without the client type key
        ({"clientType": "agent"}, "missing_agent_id"),  # the agent id only in the query string
    ],
)
def test_item1_with_an_authorizer_the_query_string_is_never_read(
    table: Table, logs: LogReader, monkeypatch: pytest.MonkeyPatch, authorizer: Optional[Dict[str, Any]], reason: str
) -> None:
    # The old demo switch, as a stack upgraded from allow_query_string_identity would still carry it.
    monkeypatch.setenv("CONNECT_QUERY_STRING_IDENTITY", "true")
    event = connect_event(authorizer=authorizer, query={"clientType": "agent", "agentId": "agent-12"})

    assert handlers.connect(event) == FORBIDDEN

    assert table.items() == {}
    assert refused(logs, reason)["identitySource"] == "authorizer"


def test_item1_the_authorizers_values_are_used_never_the_query_strings(table: Table) -> None:
    event = connect_event(
        authorizer={"clientType": "agent", "agentId": "agent-real"},
        query={"clientType": "dashboard", "agentId": "spoof"},
    )
    assert handlers.connect(event)["statusCode"] == 200
    assert written_identity(table) == {"clientType": "agent", "agentId": "agent-real"}


# ---------------------------------------------------------------------------------------------------
# Item 2: the query string only as the named, insecure source
# ---------------------------------------------------------------------------------------------------


def test_item2_query_string_identity_is_the_query_string_insecure_source(
    table: Table, logs: LogReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONNECT_IDENTITY_SOURCE", "query_string_insecure")
    # An authorizer's context is not read either: exactly one source.
    event = connect_event(authorizer={"clientType": "dashboard"}, query={"clientType": "agent", "agentId": "agent-12"})

    assert handlers.connect(event)["statusCode"] == 200

    assert written_identity(table) == {"clientType": "agent", "agentId": "agent-12"}
    line = logs.one("connection registered")
    assert (line["identitySource"], line["agentId"]) == ("query_string_insecure", "agent-12")


def test_item2_query_string_identity_is_checked_like_any_other(
    table: Table, logs: LogReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONNECT_IDENTITY_SOURCE", "query_string_insecure")
    assert handlers.connect(connect_event(query={"clientType": "agent", "agentId": "agent-12 "})) == FORBIDDEN
    assert table.items() == {}
    assert refused(logs, "invalid_agent_id")["identitySource"] == "query_string_insecure"


# ---------------------------------------------------------------------------------------------------
# Item 5: look-alike agent ids, and CONNECT_AGENT_ID_PATTERN
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "agent_id",
    [
        " agent-7",  # leading space
        "agent-7 ",  # trailing space
        "agent-7\t",
        "caf\u0065\u0301",  # "café" with a combining accent: not NFC
        "\u212bngstr\u00f6m",  # ANGSTROM SIGN: NFC maps it to U+00C5
        "agent\u200b-7",  # zero-width space (Cf)
        "\u202eagent-7",  # right-to-left override (Cf)
        "\ufeffagent-7",  # byte order mark (Cf)
        "agent\u00a07",  # no-break space (Zs)
        "agent\u20287",  # line separator (Zl)
        "agent-7\x00",
    ],
)
def test_item5_look_alike_agent_ids_are_refused(table: Table, logs: LogReader, agent_id: str) -> None:
    event = connect_event(authorizer={"clientType": "agent", "agentId": agent_id})

    assert handlers.connect(event) == FORBIDDEN

    assert table.items() == {}
    refused(logs, "invalid_agent_id")


@pytest.mark.parametrize(
    "agent_id", ["agent-m\u00fcnchen", "\u30a8\u30fc\u30b8\u30a7\u30f3\u30c87", "build agent 7", "a"]
)
def test_item5_well_formed_non_ascii_ids_stay_accepted(table: Table, agent_id: str) -> None:
    assert handlers.connect(connect_event(authorizer={"clientType": "agent", "agentId": agent_id}))["statusCode"] == 200
    assert written_identity(table) == {"clientType": "agent", "agentId": agent_id}


@pytest.mark.parametrize(
    ("agent_id", "status"),
    [("agent-12", 200), ("agent-123456", 200), ("agent-12x", 403), ("xagent-12", 403), ("agent-1234567", 403)],
)
def test_item5_the_agent_id_pattern_must_match_the_whole_id(
    table: Table, logs: LogReader, monkeypatch: pytest.MonkeyPatch, agent_id: str, status: int
) -> None:
    monkeypatch.setenv("CONNECT_AGENT_ID_PATTERN", "agent-[0-9]{1,6}")

    assert (
        handlers.connect(connect_event(authorizer={"clientType": "agent", "agentId": agent_id}))["statusCode"] == status
    )

    if status == 403:
        assert table.items() == {}
        assert "does not match CONNECT_AGENT_ID_PATTERN" in refused(logs, "pattern_mismatch")["detail"]


def test_item5_the_pattern_is_read_once_per_container(table: Table, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECT_AGENT_ID_PATTERN", "agent-[0-9]+")
    assert (
        handlers.connect(connect_event(authorizer={"clientType": "agent", "agentId": "agent-1"}))["statusCode"] == 200
    )
    monkeypatch.setenv("CONNECT_AGENT_ID_PATTERN", "nothing-matches")  # a running container never sees this
    event = connect_event("second-connection=", authorizer={"clientType": "agent", "agentId": "agent-2"})
    assert handlers.connect(event)["statusCode"] == 200
    handlers.reset()  # a new container does
    event = connect_event("third-connection=", authorizer={"clientType": "agent", "agentId": "agent-3"})
    assert handlers.connect(event) == FORBIDDEN


def test_item5_dashboards_have_no_agent_id_to_check(table: Table, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECT_AGENT_ID_PATTERN", "agent-[0-9]+")
    event = connect_event(authorizer={"clientType": "dashboard", "agentId": " not\u200bchecked "})
    assert handlers.connect(event)["statusCode"] == 200
    assert written_identity(table) == {"clientType": "dashboard", "agentId": None}


# ---------------------------------------------------------------------------------------------------
# Item 7: IAM identity
# ---------------------------------------------------------------------------------------------------


@pytest.fixture
def iam(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECT_IDENTITY_SOURCE", "iam")
    monkeypatch.setenv("CONNECT_IAM_AGENT_ROLES", AGENT_ROLE)
    monkeypatch.setenv("CONNECT_IAM_DASHBOARD_ROLES", DASHBOARD_ROLE)


@pytest.mark.usefixtures("iam")
def test_item7_an_agent_roles_session_name_is_the_agent_id(table: Table, logs: LogReader) -> None:
    caller = f"arn:aws:sts::{ACCOUNT}:assumed-role/remediation-agent/{INSTANCE}"  # no path in a session ARN
    # Neither an authorizer's context nor the query string is read.
    event = connect_event(
        caller=iam_caller(caller), authorizer={"clientType": "dashboard"}, query={"clientType": "dashboard"}
    )

    assert handlers.connect(event)["statusCode"] == 200

    assert written_identity(table) == {"clientType": "agent", "agentId": INSTANCE}
    line = logs.one("connection registered")
    assert (line["identitySource"], line["agentId"], line["principal"]) == ("iam", INSTANCE, caller)


@pytest.mark.usefixtures("iam")
def test_item7_a_dashboard_role_is_the_dashboard(table: Table) -> None:
    event = connect_event(caller=iam_caller(f"arn:aws:sts::{ACCOUNT}:assumed-role/ops-dashboard/alice@example.com"))
    assert handlers.connect(event)["statusCode"] == 200
    assert written_identity(table) == {"clientType": "dashboard", "agentId": None}


@pytest.mark.usefixtures("iam")
def test_item7_the_role_name_can_be_the_agent_id(table: Table, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECT_IAM_AGENT_ID_FROM", "role_name")
    event = connect_event(caller=iam_caller(f"arn:aws:sts::{ACCOUNT}:assumed-role/remediation-agent/anything"))
    assert handlers.connect(event)["statusCode"] == 200
    assert written_identity(table) == {"clientType": "agent", "agentId": "remediation-agent"}


def test_item7_an_iam_users_name_can_be_the_agent_id(table: Table, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECT_IDENTITY_SOURCE", "iam")
    monkeypatch.setenv("CONNECT_IAM_AGENT_ROLES", f"arn:aws:iam::{ACCOUNT}:user/agents/host-17")
    monkeypatch.setenv("CONNECT_IAM_AGENT_ID_FROM", "user_name")
    event = connect_event(caller=iam_caller(f"arn:aws:iam::{ACCOUNT}:user/agents/host-17"))
    assert handlers.connect(event)["statusCode"] == 200
    assert written_identity(table) == {"clientType": "agent", "agentId": "host-17"}


@pytest.mark.usefixtures("iam")
@pytest.mark.parametrize(
    ("caller", "reason"),
    [
        (None, "no_identity"),  # the route is not AWS_IAM-authorized: no userArn
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/some-other-role/{INSTANCE}", "unknown_principal"),
        (f"arn:aws:sts::999999999999:assumed-role/remediation-agent/{INSTANCE}", "unknown_principal"),
        (f"arn:aws-cn:sts::{ACCOUNT}:assumed-role/remediation-agent/{INSTANCE}", "unknown_principal"),
        (f"arn:aws:iam::{ACCOUNT}:root", "unknown_principal"),
        (f"arn:aws:sts::{ACCOUNT}:federated-user/remediation-agent", "unknown_principal"),
        ("remediation-agent", "unknown_principal"),
    ],
)
def test_item7_everyone_else_is_refused(table: Table, logs: LogReader, caller: Optional[str], reason: str) -> None:
    event = connect_event(caller=iam_caller(caller) if caller else None, query={"clientType": "agent", "agentId": "x"})

    assert handlers.connect(event) == FORBIDDEN

    assert table.items() == {}
    assert refused(logs, reason)["identitySource"] == "iam"


@pytest.mark.usefixtures("iam")
def test_item7_the_agent_id_rules_apply_to_a_session_name(
    table: Table, logs: LogReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONNECT_AGENT_ID_PATTERN", "i-[0-9a-f]{8,17}")
    event = connect_event(caller=iam_caller(f"arn:aws:sts::{ACCOUNT}:assumed-role/remediation-agent/agent-12"))

    assert handlers.connect(event) == FORBIDDEN

    assert table.items() == {}
    refused(logs, "pattern_mismatch")
