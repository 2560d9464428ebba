"""Agent status on `$disconnect`: offline decided from the agentId index, announced on EventBridge."""

from __future__ import annotations

import json
from typing import Any, Dict, Optional

import pytest
from botocore.exceptions import ClientError
from remediation_registry import handlers
from remediation_registry.agents import (
    DETAIL_TYPE,
    OfflineNotice,
    OfflinePublisher,
    has_live_connection,
)
from remediation_registry.events import duration_seconds
from remediation_registry.store import ConnectionStore

from tests.support.events import disconnect_event, now_ms
from tests.support.fakes import FakeEventsClient
from tests.support.faults import SendInterceptor, lose_first_delete_response
from tests.support.logs import LogReader, emf_dimension_names, emf_metrics
from tests.support.resources import BUS, INDEX, MAX_AGE_SECONDS, EventsSink, Table, item, live_item

OK = {"statusCode": 200, "body": "disconnected"}
OLD = "old-connection="
NEW = "new-connection="
AGENT = "agent-0042"


def agent_item(connection_id: str, agent_id: str = AGENT, **kwargs: Any) -> Dict[str, Dict[str, str]]:
    return live_item(connection_id, client_type="agent", agent_id=agent_id, **kwargs)


def publisher() -> OfflinePublisher:
    found = handlers.runtime().publisher
    assert found is not None, "OFFLINE_EVENT_BUS and AGENT_INDEX_NAME are set, so a publisher exists"
    return found


def disconnect_line(logs: LogReader) -> Dict[str, Any]:
    [line] = [line for line in logs.lines() if line["message"] in ("connection removed", "connection already gone")]
    return line


# ---------------------------------------------------------------------------------------------------
# Offline
# ---------------------------------------------------------------------------------------------------


def test_agents_only_connection_closing_announces_the_agent_offline(
    offline_events: EventsSink, agent_table: Table, logs: LogReader
) -> None:
    connected = now_ms() - 600_000
    agent_table.put(agent_item(OLD, age_seconds=600))
    agent_table.put(agent_item("other-agent=", agent_id="agent-0043"))
    event = disconnect_event(OLD, status_code=1006, reason="", connected_at=connected, request_time=connected + 600_000)

    assert handlers.disconnect(event) == OK

    assert agent_table.ids() == {"other-agent="}
    warning = logs.one("agent offline")
    assert warning["level"] == "WARNING"
    assert (warning["agentId"], warning["connectionId"], warning["reason"]) == (AGENT, OLD, "disconnect")
    assert warning["abnormal"] is True
    line = disconnect_line(logs)
    assert line["agentOffline"] is True
    assert line["offlineEventSent"] is True
    assert emf_metrics(line)["AgentsOffline"] == (1, "Count", ["Reason"])
    assert line["Reason"] == "disconnect"
    assert not emf_dimension_names(logs.lines()) & {"agentId", "connectionId", "requestId"}
    [delivered] = offline_events.received()
    assert delivered["source"] == "remediation.websocket"
    assert delivered["detail-type"] == DETAIL_TYPE == "Remediation Agent Offline"
    detail = delivered["detail"]
    assert {key: detail[key] for key in ("agentId", "connectionId", "reason", "disconnectStatusCode", "abnormal")} == {
        "agentId": AGENT,
        "connectionId": OLD,
        "reason": "disconnect",
        "disconnectStatusCode": 1006,
        "abnormal": True,
    }
    assert detail["connectedAt"] == connected
    assert detail["durationSeconds"] == 600.0
    assert (detail["apiId"], detail["stage"]) == ("abc123", "live")
    assert abs(detail["detectedAt"] - now_ms()) < 60_000


def test_orderly_close_is_announced_as_not_abnormal(offline_events: EventsSink, agent_table: Table) -> None:
    agent_table.put(agent_item(OLD))

    handlers.disconnect(disconnect_event(OLD, status_code=1000))

    [delivered] = offline_events.received()
    assert delivered["detail"]["abnormal"] is False
    assert delivered["detail"]["disconnectStatusCode"] == 1000


def test_offline_event_source_is_configurable(agent_table: Table, monkeypatch: pytest.MonkeyPatch) -> None:
    sink = EventsSink(source="acme.remediation")
    monkeypatch.setenv("OFFLINE_EVENT_BUS", sink.bus)
    monkeypatch.setenv("OFFLINE_EVENT_SOURCE", "acme.remediation")
    agent_table.put(agent_item(OLD))

    handlers.disconnect(disconnect_event(OLD))

    assert [event["source"] for event in sink.received()] == ["acme.remediation"]


def test_offline_is_logged_and_counted_without_an_event_bus(agent_table: Table, logs: LogReader) -> None:
    agent_table.put(agent_item(OLD))

    assert handlers.disconnect(disconnect_event(OLD)) == OK

    assert handlers.runtime().publisher is None
    assert logs.one("agent offline")["agentId"] == AGENT
    line = disconnect_line(logs)
    assert line["agentOffline"] is True
    assert "offlineEventSent" not in line
    assert emf_metrics(line)["AgentsOffline"][0] == 1


# ---------------------------------------------------------------------------------------------------
# Not offline
# ---------------------------------------------------------------------------------------------------


def assert_no_offline(logs: LogReader, events: Optional[EventsSink]) -> Dict[str, Any]:
    assert logs.with_message("agent offline") == []
    line = disconnect_line(logs)
    assert "AgentsOffline" not in emf_metrics(line)
    assert "Reason" not in line
    if events is not None:
        assert events.received() == []
    return line


def test_reconnected_agent_is_not_announced_offline_by_the_old_connections_late_disconnect(
    offline_events: EventsSink, agent_table: Table, logs: LogReader
) -> None:
    agent_table.put(agent_item(OLD, age_seconds=900))
    agent_table.put(agent_item(NEW, age_seconds=5))

    assert handlers.disconnect(disconnect_event(OLD, status_code=1006)) == OK

    assert agent_table.ids() == {NEW}
    line = assert_no_offline(logs, offline_events)
    assert line["agentOffline"] is False
    assert line["result"] == "deleted"


@pytest.mark.parametrize(
    "other",
    [
        item(NEW, client_type="agent", agent_id=AGENT, connected_at=now_ms() - 60_000, expires_at=now_ms() // 1000 - 1),
        item(NEW, client_type="agent", agent_id=AGENT, connected_at=now_ms() - (MAX_AGE_SECONDS + 60) * 1000),
    ],
    ids=["past-its-ttl", "older-than-2h-plus-grace"],
)
def test_an_expired_but_undeleted_other_connection_counts_as_gone(
    offline_events: EventsSink, agent_table: Table, logs: LogReader, other: Dict[str, Any]
) -> None:
    agent_table.put(agent_item(OLD))
    agent_table.put(other)

    handlers.disconnect(disconnect_event(OLD))

    assert disconnect_line(logs)["agentOffline"] is True
    assert [event["detail"]["agentId"] for event in offline_events.received()] == [AGENT]


def test_another_connection_without_timestamps_counts_as_live(
    offline_events: EventsSink, agent_table: Table, logs: LogReader
) -> None:
    agent_table.put(agent_item(OLD))
    agent_table.put(item(NEW, client_type="agent", agent_id=AGENT))

    handlers.disconnect(disconnect_event(OLD))

    assert assert_no_offline(logs, offline_events)["agentOffline"] is False


@pytest.mark.parametrize("client_type", ["dashboard", "Agent", None], ids=["dashboard", "wrong-case", "no-client-type"])
def test_an_item_with_the_agents_id_but_another_client_type_does_not_keep_the_agent_online(
    offline_events: EventsSink, agent_table: Table, logs: LogReader, client_type: Optional[str]
) -> None:
    """Issue 9 finding 11: one rule for both sides. Such an item's own removal never asks whether the agent
    went offline (test_items_lacking_optional_attributes_are_deleted_without_agent_logic), so it must not
    count as the agent's live connection either."""
    agent_table.put(agent_item(OLD))
    agent_table.put(live_item(NEW, client_type=client_type, agent_id=AGENT))

    handlers.disconnect(disconnect_event(OLD))

    assert disconnect_line(logs)["agentOffline"] is True
    assert [event["detail"]["agentId"] for event in offline_events.received()] == [AGENT]


@pytest.mark.usefixtures("no_retry_delay")
def test_lost_delete_response_announces_the_authorizers_agent_id_whole(
    offline_events: EventsSink, agent_table: Table, logs: LogReader
) -> None:
    """Issue 9 finding 11: the authorizer's agentId was cut to 256 characters like free text."""
    long_id = "agent-" + "z" * 400
    agent_table.put(agent_item(OLD, agent_id=long_id))
    SendInterceptor(handlers.runtime().dynamodb, lambda operation, attempt: None, lose_first_delete_response)
    event = disconnect_event(OLD)
    event["requestContext"]["authorizer"] = {"clientType": "agent", "agentId": long_id}

    assert handlers.disconnect(event) == OK

    assert [event["detail"]["agentId"] for event in offline_events.received()] == [long_id]
    assert logs.one("agent offline")["agentId"] == long_id[:256] + "..."


def test_a_dashboard_disconnect_never_announces_anything(
    offline_events: EventsSink, agent_table: Table, logs: LogReader
) -> None:
    agent_table.put(live_item("dash=", client_type="dashboard"))

    assert handlers.disconnect(disconnect_event("dash=")) == OK

    line = assert_no_offline(logs, offline_events)
    assert "agentOffline" not in line
    assert agent_table.ids() == set()


@pytest.mark.parametrize(
    "stored",
    [
        item(OLD, agent_id=AGENT, connected_at=now_ms()),
        item(OLD, client_type="agent", connected_at=now_ms()),
        item(OLD),
        item(OLD, client_type="Agent", agent_id=AGENT),
    ],
    ids=["no-client-type", "agent-without-agent-id", "bare-key", "wrong-case"],
)
def test_items_lacking_optional_attributes_are_deleted_without_agent_logic(
    offline_events: EventsSink, agent_table: Table, logs: LogReader, stored: Dict[str, Any]
) -> None:
    agent_table.put(stored)

    assert handlers.disconnect(disconnect_event(OLD)) == OK

    assert agent_table.ids() == set()
    line = assert_no_offline(logs, offline_events)
    assert "agentOffline" not in line
    assert line["result"] == "deleted"


def test_agent_item_without_timestamps_is_deleted_and_announced(
    offline_events: EventsSink, agent_table: Table, logs: LogReader
) -> None:
    agent_table.put(item(OLD, client_type="agent", agent_id=AGENT))
    event = disconnect_event(OLD)
    del event["requestContext"]["connectedAt"]

    assert handlers.disconnect(event) == OK

    [delivered] = offline_events.received()
    assert delivered["detail"]["connectedAt"] is None
    assert delivered["detail"]["durationSeconds"] is None
    assert disconnect_line(logs)["item"] == {"clientType": "agent", "agentId": AGENT}


def test_already_gone_connection_does_not_query_the_index(
    offline_events: EventsSink, agent_table: Table, logs: LogReader
) -> None:
    agent_table.put(agent_item(NEW))

    assert handlers.disconnect(disconnect_event(OLD)) == OK

    line = assert_no_offline(logs, offline_events)
    assert line["result"] == "already_gone"
    assert "agentOffline" not in line


# ---------------------------------------------------------------------------------------------------
# Failures in the agent-status path never fail the disconnect
# ---------------------------------------------------------------------------------------------------


def test_index_query_failure_still_deletes_and_answers_200(
    offline_events: EventsSink, agent_table: Table, logs: LogReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENT_INDEX_NAME", "no-such-index")
    agent_table.put(agent_item(OLD))

    assert handlers.disconnect(disconnect_event(OLD)) == OK

    assert agent_table.ids() == set()
    line = assert_no_offline(logs, offline_events)
    assert line["agentOffline"] is None
    assert line["agentStatusError"]
    assert line["level"] == "INFO"


def test_put_events_partial_failure_is_retried_once_then_reported(
    agent_table: Table, logs: LogReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OFFLINE_EVENT_BUS", BUS)
    agent_table.put(agent_item(OLD))
    fake = FakeEventsClient(fail_entries=[1, 1, 1])
    publisher().client = fake

    assert handlers.disconnect(disconnect_event(OLD)) == OK

    assert len(fake.calls) == 2
    assert fake.calls[0] == fake.calls[1]
    line = disconnect_line(logs)
    assert line["offlineEventSent"] is False
    assert line["agentOffline"] is True
    assert agent_table.ids() == set()


def test_put_events_partial_failure_recovers_on_the_retry(
    agent_table: Table, logs: LogReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OFFLINE_EVENT_BUS", BUS)
    agent_table.put(agent_item(OLD))
    fake = FakeEventsClient(fail_entries=[1, 0])
    publisher().client = fake

    handlers.disconnect(disconnect_event(OLD))

    assert len(fake.calls) == 2
    assert disconnect_line(logs)["offlineEventSent"] is True
    assert [detail["agentId"] for detail in fake.details()] == [AGENT, AGENT]
    entry = fake.calls[0][0]
    assert (entry["Source"], entry["DetailType"], entry["EventBusName"]) == ("remediation.websocket", DETAIL_TYPE, BUS)


def test_put_events_exception_is_reported_not_raised(
    agent_table: Table, logs: LogReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OFFLINE_EVENT_BUS", BUS)
    agent_table.put(agent_item(OLD))
    error = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "PutEvents")
    publisher().client = FakeEventsClient(error=error)

    assert handlers.disconnect(disconnect_event(OLD)) == OK

    line = disconnect_line(logs)
    assert line["offlineEventSent"] is False
    assert line["offlineEventError"] == "ClientError"
    assert agent_table.ids() == set()


def test_missing_event_bus_is_reported_not_raised(
    agent_table: Table, logs: LogReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OFFLINE_EVENT_BUS", "no-such-bus")
    agent_table.put(agent_item(OLD))

    assert handlers.disconnect(disconnect_event(OLD)) == OK

    assert disconnect_line(logs)["offlineEventSent"] is False
    assert agent_table.ids() == set()


@pytest.mark.usefixtures("no_retry_delay")
def test_lost_delete_response_still_announces_the_agent_named_by_the_authorizer(
    offline_events: EventsSink, agent_table: Table, logs: LogReader
) -> None:
    """The retry finds nothing (ALL_OLD is empty); the $connect authorizer's agentId still names the agent."""
    agent_table.put(agent_item(OLD))
    interceptor = SendInterceptor(
        handlers.runtime().dynamodb, lambda operation, attempt: None, lose_first_delete_response
    )
    event = disconnect_event(OLD)
    event["requestContext"]["authorizer"] = {"clientType": "agent", "agentId": AGENT, "principalId": AGENT}

    assert handlers.disconnect(event) == OK

    assert interceptor.attempts["DeleteItem"] == 2
    assert agent_table.ids() == set()
    assert [event["detail"]["agentId"] for event in offline_events.received()] == [AGENT]
    line = logs.one("connection already gone")
    assert (line["deleteRetried"], line["agentOffline"]) == (True, True)


@pytest.mark.usefixtures("no_retry_delay")
def test_lost_delete_response_without_authorizer_context_is_logged_as_ambiguous(
    offline_events: EventsSink, agent_table: Table, logs: LogReader
) -> None:
    """Without the authorizer's agentId nothing names the agent any more: say so, announce nothing."""
    agent_table.put(agent_item(OLD))
    SendInterceptor(handlers.runtime().dynamodb, lambda operation, attempt: None, lose_first_delete_response)

    assert handlers.disconnect(disconnect_event(OLD)) == OK

    assert agent_table.ids() == set()
    assert offline_events.received() == []
    line = logs.one("connection already gone")
    assert line["deleteRetried"] is True
    assert "agentOffline" not in line


# ---------------------------------------------------------------------------------------------------
# agents module
# ---------------------------------------------------------------------------------------------------


def notice(agent_id: str) -> OfflineNotice:
    return OfflineNotice(agent_id, f"{agent_id}-c=", "expired", None, 1795677000000, None, True, None, None)


def test_publisher_sends_batches_of_ten() -> None:
    fake = FakeEventsClient()

    failed = OfflinePublisher(fake, BUS, "remediation.websocket").publish([notice(f"a{n:02d}") for n in range(23)])

    assert failed == []
    assert [len(call) for call in fake.calls] == [10, 10, 3]
    assert [detail["agentId"] for detail in fake.details()] == [f"a{n:02d}" for n in range(23)]


def test_publisher_retries_only_the_failed_entries_once() -> None:
    fake = FakeEventsClient(fail_entries=[2, 1])

    failed = OfflinePublisher(fake, BUS, "src").publish([notice("a"), notice("b"), notice("c")])

    assert [[json.loads(entry["Detail"])["agentId"] for entry in call] for call in fake.calls] == [
        ["a", "b", "c"],
        ["a", "b"],
    ]
    assert failed == ["a"]


def test_publisher_propagates_client_errors_for_the_caller_to_report() -> None:
    error = ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "PutEvents")

    with pytest.raises(ClientError):
        OfflinePublisher(FakeEventsClient(error=error), BUS, "src").publish([notice("a")])


@pytest.mark.parametrize(
    ("connected_at", "end", "expected"),
    [
        (1000, 2500, 1.5),
        (1000, 1000, 0.0),
        (1000, 999, None),
        (None, 5000, None),
        (1000, None, None),
        (0, 1234.5678, 1.235),
    ],
)
def test_duration_seconds(connected_at: Optional[int], end: Optional[float], expected: Optional[float]) -> None:
    assert duration_seconds(connected_at, end) == expected


def test_has_live_connection_ignores_excluded_and_expired_items(agent_table: Table) -> None:
    now = now_ms()
    agent_table.put(agent_item("just-removed="))
    agent_table.put(item("expired=", client_type="agent", agent_id=AGENT, expires_at=now // 1000 - 10))
    store = ConnectionStore(agent_table.client, agent_table.name)

    assert not has_live_connection(store, INDEX, AGENT, {"just-removed="}, now / 1000, MAX_AGE_SECONDS)
    assert has_live_connection(store, INDEX, AGENT, set(), now / 1000, MAX_AGE_SECONDS)
    assert not has_live_connection(store, INDEX, "unknown-agent", set(), now / 1000, MAX_AGE_SECONDS)
