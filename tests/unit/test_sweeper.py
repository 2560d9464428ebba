"""The scheduled sweeper: expired and gone connections removed, budgets, segments, agent presence (T4)."""

from __future__ import annotations

import io
import math
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Set, Tuple

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.stub import Stubber
from remediation_registry import config, handlers
from remediation_registry.contract import POSITION_KEY
from remediation_registry.management import ALIVE, ERROR, GONE, Prober
from remediation_registry.store import ConnectionStore
from remediation_registry.sweep.report import SweepReport
from remediation_registry.sweep.run import Sweeper
from remediation_registry.sweep.store import Page, SweepStore
from remediation_registry.telemetry import Telemetry

from tests.support.events import FakeContext, now_ms, scheduled_event
from tests.support.fakes import WrappedDynamoDB
from tests.support.faults import SendInterceptor, fail_first
from tests.support.logs import LogReader, emf_dimension_names, emf_metrics, parse_log_lines
from tests.support.presence import PresenceStack
from tests.support.resources import MAX_AGE_SECONDS, TABLE, Table, aws_client, item, live_item
from tests.support.servers import FakeConnections, fake_connections_endpoint

AGENT = "agent-0042"


def expired_by_ttl(connection_id: str, **kwargs: Any) -> Dict[str, Dict[str, str]]:
    return item(connection_id, connected_at=now_ms() - 600_000, expires_at=now_ms() // 1000 - 10, **kwargs)


def expired_by_age(connection_id: str, **kwargs: Any) -> Dict[str, Dict[str, str]]:
    return item(connection_id, connected_at=now_ms() - (MAX_AGE_SECONDS + 120) * 1000, **kwargs)


def ids_of(table: Table) -> Set[str]:
    """The connections in the table: the sweeper's reserved position item is not one."""
    return table.ids() - {POSITION_KEY}


def run_sweep(event: Optional[Dict[str, Any]] = None, remaining: Optional[Callable[[], int]] = None) -> Dict[str, Any]:
    return handlers.sweep(event if event is not None else scheduled_event(), FakeContext(remaining))


@pytest.fixture
def batch_sleeps() -> List[float]:
    """Build the Runtime now and record (not sleep) the BatchWriteItem backoff."""
    sleeps: List[float] = []
    handlers.runtime().store.sleep = sleeps.append
    return sleeps


@pytest.fixture
def probe_endpoint(monkeypatch: pytest.MonkeyPatch, no_retry_delay: None) -> Iterator[FakeConnections]:
    with fake_connections_endpoint() as (url, state):
        monkeypatch.setenv("SWEEP_PROBE_ENDPOINT", url)
        yield state


def active_connections(logs: LogReader) -> Dict[str, float]:
    return {
        line["ClientType"]: emf_metrics(line)["ActiveConnections"][0]
        for line in logs.with_message("active connections")
    }


def stale_metrics(logs: LogReader) -> Dict[str, Dict[str, float]]:
    found: Dict[str, Dict[str, float]] = {}
    for line in logs.with_message("sweep metrics"):
        metrics = emf_metrics(line)
        assert all(dimensions == ["Reason"] for _, _, dimensions in metrics.values())
        found[line["Reason"]] = {name: value for name, (value, _, _) in metrics.items()}
    return found


def removed_lines(logs: LogReader) -> Dict[str, str]:
    return {line["connectionId"]: line["reason"] for line in logs.with_message("stale connection removed")}


# ---------------------------------------------------------------------------------------------------
# Expired connections
# ---------------------------------------------------------------------------------------------------


def test_sweep_removes_only_expired_connections(table: Table, logs: LogReader, batch_sleeps: List[float]) -> None:
    live = {
        table.put(live_item("live-agent", client_type="agent", agent_id="a-1")),
        table.put(live_item("live-dashboard", client_type="dashboard")),
        table.put(live_item("live-untyped")),
        table.put(item("no-timestamps", client_type="dashboard")),
    }
    table.put(expired_by_ttl("expired-ttl", client_type="dashboard"))
    table.put(expired_by_age("expired-age", client_type="agent", agent_id="a-2"))

    report = run_sweep()

    assert ids_of(table) == live
    assert report["removedExpired"] == 2
    assert report["examined"] == 6
    assert (report["complete"], report["stoppedBy"], report["position"]) == (True, None, "none saved")
    assert (report["pass"]["number"], report["pass"]["segmentsDone"], report["pass"]["runs"]) == (1, "1/1", 1)
    assert report["activeConnections"] == {"agent": 1, "dashboard": 2, "unknown": 1}
    assert removed_lines(logs) == {"expired-ttl": "expired", "expired-age": "expired"}
    for line in logs.with_message("stale connection removed"):
        assert line["abnormal"] is True
    assert logs.one("sweep finished")["level"] == "INFO"
    assert stale_metrics(logs) == {"expired": {"StaleConnectionsRemoved": 2}}
    assert active_connections(logs) == {"agent": 1, "dashboard": 2, "unknown": 1}
    assert emf_dimension_names(logs.lines()) <= {"ClientType", "Reason"}
    assert batch_sleeps == []


def test_sweep_finished_line_carries_the_report(table: Table, logs: LogReader) -> None:
    table.put(expired_by_ttl("x"))

    report = run_sweep()

    line = logs.one("sweep finished")
    assert {key: line[key] for key in report} == report


def test_sweep_uses_the_configured_ttl_attribute(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTL_ATTRIBUTE", "ttl")
    table = Table(ttl_attribute="ttl")
    table.put(item("expired", expires_at=now_ms() // 1000 - 1, ttl_attribute="ttl"))
    table.put(item("decoy", expires_at=now_ms() // 1000 - 1))  # expiresAt is not the TTL attribute here

    assert run_sweep()["removedExpired"] == 1
    assert ids_of(table) == {"decoy"}


def test_sweep_removes_more_than_one_batch(table: Table, batch_sleeps: List[float]) -> None:
    table.put_many(expired_by_ttl(f"expired-{n:03d}") for n in range(60))
    table.put(live_item("live"))
    wrapped = WrappedDynamoDB(handlers.runtime().dynamodb)
    handlers.runtime().store.client = wrapped

    report = run_sweep()

    assert report["removedExpired"] == 60
    assert ids_of(table) == {"live"}
    assert sorted(len(batch) for batch in wrapped.batch_requests) == [10, 25, 25]


def test_sweep_retries_unprocessed_items(table: Table, batch_sleeps: List[float]) -> None:
    ids = table.put_many(expired_by_ttl(f"expired-{n:02d}") for n in range(30))
    handlers.runtime().store.client = WrappedDynamoDB(handlers.runtime().dynamodb, stuck=ids[::7], stuck_times=2)

    report = run_sweep()

    assert (report["removedExpired"], report["unprocessed"]) == (30, 0)
    assert ids_of(table) == set()
    assert batch_sleeps
    assert all(0 <= delay <= 2.0 for delay in batch_sleeps)


def test_sweep_counts_items_left_unprocessed_after_the_attempt_budget(
    table: Table, logs: LogReader, batch_sleeps: List[float]
) -> None:
    ids = table.put_many(expired_by_ttl(f"expired-{n:02d}", client_type="dashboard") for n in range(30))
    stuck = set(ids[::10])
    handlers.runtime().store.client = WrappedDynamoDB(handlers.runtime().dynamodb, stuck=stuck)

    report = run_sweep()

    assert report["unprocessed"] == len(stuck) == 3
    assert report["removedExpired"] == 27
    assert ids_of(table) == stuck
    assert set(removed_lines(logs)) == set(ids) - stuck
    assert stale_metrics(logs)["expired"]["StaleConnectionsRemoved"] == 27


def test_a_later_sweep_removes_what_an_earlier_one_left(table: Table, batch_sleeps: List[float]) -> None:
    ids = table.put_many(expired_by_ttl(f"expired-{n:02d}") for n in range(5))
    handlers.runtime().store.client = WrappedDynamoDB(handlers.runtime().dynamodb, stuck=ids[:2])
    assert run_sweep()["unprocessed"] == 2
    handlers.runtime().store.client = handlers.runtime().dynamodb

    assert run_sweep()["removedExpired"] == 2
    assert ids_of(table) == set()


def test_sweep_without_a_context_or_a_schedule_time_still_runs(table: Table) -> None:
    table.put(expired_by_ttl("x"))

    report = handlers.sweep(None)

    assert report["removedExpired"] == 1
    assert report["complete"] is True


def test_sweep_with_missing_connections_table_raises_config_error(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONNECTIONS_TABLE")

    with pytest.raises(config.ConfigError, match="CONNECTIONS_TABLE"):
        run_sweep()


# ---------------------------------------------------------------------------------------------------
# Probing @connections
# ---------------------------------------------------------------------------------------------------


def test_probe_removes_gone_connections_and_keeps_live_and_young_ones(
    table: Table, logs: LogReader, probe_endpoint: FakeConnections, batch_sleeps: List[float]
) -> None:
    table.put(live_item("old-gone", age_seconds=1200, client_type="dashboard"))
    table.put(live_item("old-alive", age_seconds=1200, client_type="dashboard"))
    table.put(live_item("young-gone", age_seconds=60, client_type="dashboard"))
    table.put(item("no-timestamps-gone"))
    table.put(item("no-timestamps-alive"))
    table.put(expired_by_ttl("expired-gone"))
    probe_endpoint.gone.update({"old-gone", "young-gone", "no-timestamps-gone", "expired-gone"})

    report = run_sweep()

    assert ids_of(table) == {"old-alive", "young-gone", "no-timestamps-alive"}
    assert set(probe_endpoint.calls) == {"old-gone", "old-alive", "no-timestamps-gone", "no-timestamps-alive"}
    assert (report["removedGone"], report["removedExpired"], report["probed"], report["probeErrors"]) == (2, 1, 4, 0)
    assert report["activeConnections"] == {"dashboard": 2, "unknown": 1}
    assert removed_lines(logs) == {"old-gone": "gone", "no-timestamps-gone": "gone", "expired-gone": "expired"}
    assert stale_metrics(logs) == {"expired": {"StaleConnectionsRemoved": 1}, "gone": {"StaleConnectionsRemoved": 2}}
    assert emf_metrics(logs.one("sweep finished")) == {"ProbeErrors": (0, "Count", [])}


def test_probe_min_age_is_configurable(
    table: Table, probe_endpoint: FakeConnections, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWEEP_PROBE_MIN_AGE_SECONDS", "0")
    table.put(live_item("brand-new", age_seconds=1))
    probe_endpoint.gone.add("brand-new")

    assert run_sweep()["removedGone"] == 1
    assert ids_of(table) == set()


def test_throttled_probe_keeps_the_item_and_counts_a_probe_error(
    table: Table, logs: LogReader, probe_endpoint: FakeConnections
) -> None:
    table.put(live_item("throttled", age_seconds=1200, client_type="agent", agent_id="a"))
    table.put(live_item("gone", age_seconds=1200))
    probe_endpoint.throttled.add("throttled")
    probe_endpoint.gone.add("gone")

    report = run_sweep()

    assert ids_of(table) == {"throttled"}
    assert (report["probeErrors"], report["removedGone"]) == (1, 1)
    assert report["activeConnections"] == {"agent": 1}
    warning = logs.one("connection probes failed; items kept")
    assert warning["level"] == "WARNING"
    assert warning["errors"] == {"LimitExceededException": 1}
    assert emf_metrics(logs.one("sweep finished"))["ProbeErrors"][0] == 1


def test_unreachable_probe_endpoint_keeps_everything(
    table: Table, logs: LogReader, monkeypatch: pytest.MonkeyPatch, no_retry_delay: None
) -> None:
    with fake_connections_endpoint() as (url, _state):
        pass  # stopped: nothing listens on that port any more
    monkeypatch.setenv("SWEEP_PROBE_ENDPOINT", url)
    table.put(live_item("old", age_seconds=1200))

    report = run_sweep()

    assert ids_of(table) == {"old"}
    assert (report["probeErrors"], report["removedGone"]) == (1, 0)
    assert logs.one("connection probes failed; items kept")["errors"] == {"EndpointConnectionError": 1}


def test_gone_item_changed_between_scan_and_delete_is_not_deleted(
    table: Table, probe_endpoint: FakeConnections
) -> None:
    table.put(live_item("gone", age_seconds=1200))
    probe_endpoint.gone.add("gone")
    changed_at = str(now_ms())

    def rewrite(connection_id: str) -> None:
        table.client.update_item(
            TableName=TABLE,
            Key={"connectionId": {"S": connection_id}},
            UpdateExpression="SET connectedAt = :at",
            ExpressionAttributeValues={":at": {"N": changed_at}},
        )

    wrapped = WrappedDynamoDB(handlers.runtime().dynamodb, before_conditional_delete=rewrite)
    handlers.runtime().store.client = wrapped

    report = run_sweep()

    assert (report["alreadyRemoved"], report["removedGone"]) == (1, 0)
    stored = table.get("gone")
    assert stored is not None
    assert stored["connectedAt"] == {"N": changed_at}
    assert [delete["ConditionExpression"] for delete in wrapped.deletes] == [
        "attribute_exists(connectionId) AND #connectedAt = :connectedAt"
    ]


def test_gone_item_deleted_by_disconnect_meanwhile_counts_as_already_removed(
    table: Table, logs: LogReader, probe_endpoint: FakeConnections
) -> None:
    table.put(live_item("gone", age_seconds=1200))
    probe_endpoint.gone.add("gone")

    def disconnect_first(connection_id: str) -> None:
        table.client.delete_item(TableName=TABLE, Key={"connectionId": {"S": connection_id}})

    handlers.runtime().store.client = WrappedDynamoDB(
        handlers.runtime().dynamodb, before_conditional_delete=disconnect_first
    )

    report = run_sweep()

    assert (report["alreadyRemoved"], report["removedGone"]) == (1, 0)
    assert removed_lines(logs) == {}


def test_prober_catches_gone_exception_before_client_error() -> None:
    client = aws_client(
        "apigatewaymanagementapi", endpoint_url="https://abc123.execute-api.eu-west-1.amazonaws.com/live"
    )
    with Stubber(client) as stubber:
        stubber.add_client_error(
            "get_connection",
            service_error_code="GoneException",
            http_status_code=410,
            expected_params={"ConnectionId": "g="},
        )
        stubber.add_response("get_connection", {"ConnectedAt": "2026-11-26T06:00:00Z"}, {"ConnectionId": "a="})
        stubber.add_client_error("get_connection", service_error_code="LimitExceededException", http_status_code=429)
        stubber.add_client_error("get_connection", service_error_code="ForbiddenException", http_status_code=403)
        prober = Prober(client, concurrency=1)

        outcomes = [prober.probe("g="), prober.probe("a="), prober.probe("t="), prober.probe("f=")]

        stubber.assert_no_pending_responses()
    assert outcomes == [(GONE, None), (ALIVE, None), (ERROR, "LimitExceededException"), (ERROR, "ForbiddenException")]


def test_prober_reports_transport_errors_by_class_name() -> None:
    class Unreachable:
        exceptions = aws_client(
            "apigatewaymanagementapi", endpoint_url="https://abc123.execute-api.eu-west-1.amazonaws.com/live"
        ).exceptions

        def get_connection(self, **kwargs: Any) -> Dict[str, Any]:
            raise EndpointConnectionError(endpoint_url="https://abc123.execute-api.eu-west-1.amazonaws.com")

        delete_connection = get_connection

    prober = Prober(Unreachable(), 4)
    assert prober.probe_all(["a", "b"]) == [(ERROR, "EndpointConnectionError")] * 2
    assert (prober.inspect("a").error, prober.close("a")) == ("EndpointConnectionError", "EndpointConnectionError")


def test_prober_keeps_results_in_order_when_probing_concurrently() -> None:
    class Echo:
        exceptions = aws_client(
            "apigatewaymanagementapi", endpoint_url="https://abc123.execute-api.eu-west-1.amazonaws.com/live"
        ).exceptions

        def get_connection(self, **kwargs: Any) -> Dict[str, Any]:
            if int(kwargs["ConnectionId"]) % 3 == 0:
                raise self.exceptions.GoneException({"Error": {"Code": "GoneException"}}, "GetConnection")
            return {}

        delete_connection = get_connection

    ids = [str(n) for n in range(40)]

    outcomes = Prober(Echo(), 8).probe_all(ids)

    assert [status for status, _ in outcomes] == [GONE if n % 3 == 0 else ALIVE for n in range(40)]


# ---------------------------------------------------------------------------------------------------
# Agent presence: connections the sweep removes go through T4
# ---------------------------------------------------------------------------------------------------

HOURS_AGO_3 = 3 * 3600 * 1000


def offline_events(stack: PresenceStack) -> List[Dict[str, Any]]:
    stack.announce()
    events = [event for event in stack.published() if event["detail-type"] == "Remediation Agent Offline"]
    assert all(event["source"] == "remediation.websocket" for event in events)
    return [event["detail"] for event in events]


def test_agent_whose_only_connection_expired_goes_offline(stack: PresenceStack, logs: LogReader) -> None:
    connected = now_ms() - HOURS_AGO_3
    stack.connect(AGENT, "stale", connected_at=connected)
    stack.connect("agent-0043", "other-agent")

    report = run_sweep()

    [detail] = offline_events(stack)
    assert (detail["agentId"], detail["connectionId"], detail["reason"], detail["abnormal"]) == (
        AGENT,
        "stale",
        "expired",
        True,
    )
    # The last moment the connection can have lived: API Gateway's 2-hour limit.
    assert (detail["since"], detail["connectedAt"], detail["sequence"]) == (connected + 7_200_000, connected, 2)
    assert detail["disconnectStatusCode"] is None
    assert report["agentsOffline"] == {"expired": 1, "gone": 0}
    assert report["presenceErrors"] == 0
    assert stack.presence.state(AGENT)["state"] == "offline"
    assert stack.presence.state("agent-0043")["connections"] == {"other-agent"}
    warning = logs.one("agent offline")
    assert (warning["level"], warning["agentId"], warning["reason"]) == ("WARNING", AGENT, "expired")
    assert emf_metrics(warning)["AgentWentOffline"] == (1, "Count", ["Reason"])
    assert stale_metrics(logs)["expired"] == {"StaleConnectionsRemoved": 1}


def test_agent_whose_only_connection_is_gone_goes_offline(
    stack: PresenceStack, logs: LogReader, probe_endpoint: FakeConnections
) -> None:
    connected = now_ms() - 1_800_000
    stack.connect(AGENT, "vanished", connected_at=connected)
    probe_endpoint.gone.add("vanished")

    report = run_sweep()

    [detail] = offline_events(stack)
    assert (detail["agentId"], detail["reason"], detail["abnormal"], detail["since"]) == (
        AGENT,
        "gone",
        True,
        connected,
    )
    assert report["agentsOffline"] == {"expired": 0, "gone": 1}
    assert stale_metrics(logs)["gone"] == {"StaleConnectionsRemoved": 1}


def test_agent_with_two_stale_connections_gets_exactly_one_event(stack: PresenceStack) -> None:
    stack.connect(AGENT, "stale-1", connected_at=now_ms() - HOURS_AGO_3)
    stack.connect(AGENT, "stale-2", connected_at=now_ms() - HOURS_AGO_3 - 60_000)

    report = run_sweep()

    assert ids_of(stack.connections) == set()
    assert [detail["agentId"] for detail in offline_events(stack)] == [AGENT]
    assert report["agentsOffline"] == {"expired": 1, "gone": 0}
    assert stack.presence.state(AGENT) == {**stack.presence.state(AGENT), "state": "offline", "connections": set()}


def test_agent_with_two_gone_connections_on_different_pages_gets_exactly_one_event(
    stack: PresenceStack, probe_endpoint: FakeConnections, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(4):
        stack.connect(AGENT, f"gone-{n}", connected_at=now_ms() - 1_800_000)
        probe_endpoint.gone.add(f"gone-{n}")
    store = handlers.runtime().store
    monkeypatch.setattr(handlers.runtime(), "store", SmallPages(store.client, store.table_name, page_size=1))

    report = run_sweep()

    assert report["removedGone"] == 4
    assert [detail["agentId"] for detail in offline_events(stack)] == [AGENT]
    assert report["agentsOffline"] == {"expired": 0, "gone": 1}


def test_agent_with_a_stale_and_a_live_connection_stays_online(stack: PresenceStack, logs: LogReader) -> None:
    stack.connect(AGENT, "stale", connected_at=now_ms() - HOURS_AGO_3)
    stack.connect(AGENT, "live")

    report = run_sweep()

    assert ids_of(stack.connections) == {"live"}
    assert offline_events(stack) == []
    assert report["agentsOffline"] == {"expired": 0, "gone": 0}
    assert logs.with_message("agent offline") == []
    assert (stack.presence.state(AGENT)["state"], stack.presence.state(AGENT)["connections"]) == ("online", {"live"})


def test_agent_with_a_long_id_keeps_its_whole_id_in_presence_and_events(stack: PresenceStack, logs: LogReader) -> None:
    """Issue 9 finding 11: identities are used whole (the id was once cut to 256 characters, giving a false
    offline)."""
    long_id = "agent-" + "y" * 250
    stack.connect(long_id, "stale", connected_at=now_ms() - HOURS_AGO_3)
    stack.connect(long_id, "live")

    run_sweep()

    assert stack.presence.state(long_id)["connections"] == {"live"}
    assert logs.one("stale connection removed")["agentId"] == long_id
    stack.disconnect("live")
    stack.advance(21)
    stack.deliver(kind="grace")
    assert [detail["agentId"] for detail in offline_events(stack)] == [long_id]


def test_agent_unknown_to_presence_is_removed_without_a_presence_item(stack: PresenceStack) -> None:
    """Connected before presence was enabled: the registry is cleaned, presence is not invented."""
    stack.connections.put(expired_by_ttl("legacy", client_type="agent", agent_id=AGENT))

    report = run_sweep()

    assert ids_of(stack.connections) == set()
    assert report["agentsOffline"] == {"expired": 0, "gone": 0}
    assert stack.presence.get(AGENT) is None


def test_a_presence_failure_is_logged_and_the_sweep_completes(stack: PresenceStack, logs: LogReader) -> None:
    stack.connect(AGENT, "stale", connected_at=now_ms() - HOURS_AGO_3)
    SendInterceptor(handlers.runtime().dynamodb, fail_first("UpdateItem", 99, 500, "InternalServerError", "down"))

    report = run_sweep()

    assert report["removedExpired"] == 1
    assert report["complete"] is True
    assert report["presenceErrors"] == 1
    line = logs.one("agent presence not recorded")
    assert (line["level"], line["agentId"], line["errorCode"]) == ("ERROR", AGENT, "InternalServerError")
    assert emf_metrics(line)["PresenceErrors"] == (1, "Count", [])
    # Presence still lists the connection: its probe chain (or the reconciler) makes the agent offline.
    assert stack.presence.state(AGENT)["connections"] == {"stale"}


def test_gone_item_with_a_fractional_connected_at_is_removed(
    table: Table, probe_endpoint: FakeConnections, logs: LogReader
) -> None:
    """Issue 9 finding 11: the conditional delete compared the truncated value and failed on every run."""
    connected = now_ms() - 1_200_000
    table.put({"connectionId": {"S": "fraction"}, "connectedAt": {"N": f"{connected}.5"}})
    probe_endpoint.gone.add("fraction")

    report = run_sweep()

    assert (report["removedGone"], report["alreadyRemoved"]) == (1, 0)
    assert ids_of(table) == set()


# ---------------------------------------------------------------------------------------------------
# Budgets and segments (Sweeper driven directly)
# ---------------------------------------------------------------------------------------------------


class SmallPages(SweepStore):
    """A store whose scans return small pages, so budgets are checked between pages of a small table."""

    def __init__(self, client: Any, table_name: str, page_size: int) -> None:
        super().__init__(client, table_name, sleep=lambda _delay: None)
        self.page_size = page_size

    def scan_segment(
        self,
        segment: int,
        total_segments: int,
        page_size: Callable[[], int] = lambda: 1000,
        start_key: Optional[Dict[str, Any]] = None,
    ) -> Iterator[Page]:
        return super().scan_segment(segment, total_segments, lambda: min(self.page_size, page_size()), start_key)


def direct_sweeper(table: Table, page_size: int, **env: str) -> Tuple[Sweeper, io.StringIO]:
    settings = config.load({"CONNECTIONS_TABLE": table.name, **env})
    buffer = io.StringIO()
    sweeper = Sweeper(SmallPages(table.client, table.name, page_size), settings, Telemetry("NS", stream=buffer))
    return sweeper, buffer


def active_lines(buffer: io.StringIO) -> List[Dict[str, Any]]:
    return [line for line in parse_log_lines(buffer.getvalue()) if line["message"] == "active connections"]


def test_item_budget_stops_the_run_between_pages(table: Table) -> None:
    table.put_many(expired_by_ttl(f"expired-{n:02d}", client_type="dashboard") for n in range(40))
    sweeper, buffer = direct_sweeper(table, page_size=5, SWEEP_MAX_ITEMS="10")

    report = sweeper.run(now_ms() / 1000, lambda: 600_000).as_dict()

    assert (report["stoppedBy"], report["complete"]) == ("item budget", False)
    assert report["examined"] == 10
    assert report["removedExpired"] == 10
    assert len(ids_of(table)) == 30
    lines = parse_log_lines(buffer.getvalue())
    assert [line for line in lines if line["message"] == "active connections"] == []
    [finished] = [line for line in lines if line["message"] == "sweep finished"]
    # Stopping at the budget is how a large table is swept (the next run continues): not a warning.
    assert finished["level"] == "INFO"
    assert (finished["pass"]["examined"], finished["pass"]["complete"]) == (10, False)


def test_time_budget_stops_the_run_between_pages(table: Table) -> None:
    table.put_many(expired_by_ttl(f"expired-{n:02d}") for n in range(40))
    sweeper, buffer = direct_sweeper(table, page_size=5)
    clock = iter([60_000])  # first reading sets a 6 s reserve; afterwards only 5 s are left

    report = sweeper.run(now_ms() / 1000, lambda: next(clock, 5_000)).as_dict()

    assert (report["stoppedBy"], report["complete"]) == ("time budget", False)
    assert report["examined"] == 5
    assert len(ids_of(table)) == 35
    assert not active_lines(buffer)


def test_time_budget_through_the_handler_uses_the_lambda_context(
    table: Table, logs: LogReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    table.put_many(expired_by_ttl(f"expired-{n:02d}") for n in range(12))
    store = handlers.runtime().store
    monkeypatch.setattr(handlers.runtime(), "store", SmallPages(store.client, store.table_name, page_size=4))
    readings = iter([30_000, 20_000])
    context = FakeContext(lambda: next(readings, 2_000))

    report = handlers.sweep(scheduled_event(), context)

    assert report["stoppedBy"] == "time budget"
    assert report["examined"] == 8
    assert context.remaining_calls >= 3
    assert logs.with_message("active connections") == []


def test_a_run_that_fits_its_budget_reports_active_connections(table: Table) -> None:
    table.put_many(live_item(f"live-{n:02d}", client_type="agent", agent_id=f"a{n}") for n in range(12))
    sweeper, buffer = direct_sweeper(table, page_size=5)

    report = sweeper.run(now_ms() / 1000, lambda: 600_000).as_dict()

    assert (report["complete"], report["stoppedBy"], report["examined"]) == (True, None, 12)
    lines = active_lines(buffer)
    assert {line["ClientType"]: line["ActiveConnections"] for line in lines} == {"agent": 12, "dashboard": 0}


def test_item_budget_is_never_overshot_even_with_full_pages(table: Table) -> None:
    """Scan pages shrink to the budget left: a 300-item budget reads 300 items, not a 1,000-item page."""
    table.put_many(live_item(f"c{n:04d}", client_type="agent") for n in range(1200))
    settings = config.load({"CONNECTIONS_TABLE": table.name, "SWEEP_MAX_ITEMS": "300"})
    store = ConnectionStore(table.client, table.name, sleep=lambda _delay: None)
    sweeper = Sweeper(store, settings, Telemetry("NS", stream=io.StringIO()))

    report = sweeper.run(time.time(), lambda: 60_000)

    assert (report.examined, report.stopped_by, report.complete) == (300, "item budget", False)
    assert len(ids_of(table)) == 1200


# ---------------------------------------------------------------------------------------------------
# Passes: the scan position kept between runs (sweeper.PositionStore)
# ---------------------------------------------------------------------------------------------------


class Recording(SmallPages):
    """SmallPages that remember every connection id a scan returned, and can run code before a page."""

    def __init__(self, client: Any, table_name: str, page_size: int) -> None:
        super().__init__(client, table_name, page_size)
        self.seen: List[str] = []
        self.before_first_page: Optional[Callable[[], None]] = None

    def scan_segment(
        self,
        segment: int,
        total_segments: int,
        page_size: Callable[[], int] = lambda: 1000,
        start_key: Optional[Dict[str, Any]] = None,
    ) -> Iterator[Page]:
        for page in super().scan_segment(segment, total_segments, page_size, start_key):
            hook, self.before_first_page = self.before_first_page, None
            if hook is not None:
                hook()
            self.seen.extend(connection.connection_id for connection in page.connections)
            yield page


def pass_sweeper(
    table: Table, budget: int, page_size: int = 5, segments: int = 1
) -> Tuple[Sweeper, Recording, io.StringIO]:
    settings = config.load(
        {"CONNECTIONS_TABLE": table.name, "SWEEP_MAX_ITEMS": str(budget), "SWEEP_SCAN_SEGMENTS": str(segments)}
    )
    buffer = io.StringIO()
    store = Recording(table.client, table.name, page_size)
    return Sweeper(store, settings, Telemetry("NS", stream=buffer)), store, buffer


def run_pass(sweeper: Sweeper, limit: int) -> List[SweepReport]:
    """Runs until one completes a pass (at most `limit`)."""
    reports: List[SweepReport] = []
    for _ in range(limit):
        reports.append(sweeper.run(now_ms() / 1000, lambda: 600_000))
        if reports[-1].complete:
            return reports
    raise AssertionError(f"no pass completed in {limit} runs: {[r.as_dict()['pass'] for r in reports]}")


def test_a_table_far_larger_than_the_budget_is_covered_in_ceil_items_over_budget_runs(table: Table) -> None:
    live = set(table.put_many(live_item(f"live-{n:03d}", client_type="agent", agent_id=f"a{n}") for n in range(45)))
    live |= set(table.put_many(live_item(f"dash-{n:03d}", client_type="dashboard") for n in range(30)))
    expired = set(table.put_many(expired_by_ttl(f"expired-{n:03d}") for n in range(25)))
    sweeper, store, buffer = pass_sweeper(table, budget=7)
    bound = math.ceil((len(live) + len(expired) + 1) / 7)  # + 1: the position item is read too

    first = run_pass(sweeper, limit=3 * bound)

    assert len(first) <= bound
    assert sorted(store.seen) == sorted(live | expired), "every item examined exactly once in the pass"
    assert all(report.examined <= 7 for report in first)
    assert all(report.stopped_by == "item budget" for report in first[:-1])
    assert ids_of(table) == live
    assert POSITION_KEY in table.ids()
    # ActiveConnections: once, from the complete pass, with what the whole pass counted.
    assert {line["ClientType"]: line["ActiveConnections"] for line in active_lines(buffer)} == {
        "agent": 45,
        "dashboard": 30,
    }
    assert first[-1].pass_progress == {
        "number": 1,
        "segmentsDone": "1/1",
        "examined": 100,
        "runs": len(first),
        "complete": True,
    }
    assert first[1].as_dict()["position"] == "continued"

    store.seen.clear()
    buffer.truncate(0)
    buffer.seek(0)
    second = run_pass(sweeper, limit=3 * bound)

    assert len(second) <= math.ceil((len(live) + 1) / 7)
    assert sorted(store.seen) == sorted(live)
    assert second[0].pass_progress["number"] == 2
    assert second[0].pass_progress["previousPass"]["items"] == 100
    assert len(active_lines(buffer)) == 2


def test_the_position_item_is_never_examined_probed_or_removed(
    table: Table, probe_endpoint: FakeConnections, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWEEP_PROBE_MIN_AGE_SECONDS", "0")
    table.put_many(live_item(f"c{n}", client_type="dashboard") for n in range(6))
    probe_endpoint.gone.update({"c0", POSITION_KEY})

    first, second = run_sweep(), run_sweep()

    assert POSITION_KEY in table.ids()
    assert POSITION_KEY not in probe_endpoint.calls
    assert (first["examined"], second["examined"], second["removedGone"]) == (6, 5, 0)


def test_overlapping_runs_never_corrupt_the_position(table: Table) -> None:
    items = set(table.put_many(live_item(f"c{n:03d}", client_type="dashboard") for n in range(40)))
    outer, outer_store, outer_log = pass_sweeper(table, budget=6)
    inner, inner_store, _ = pass_sweeper(table, budget=6)
    inner_reports: List[SweepReport] = []
    # The inner run starts and finishes while the outer one is between reading the position and saving it.
    outer_store.before_first_page = lambda: inner_reports.append(inner.run(now_ms() / 1000, lambda: 600_000))

    outer_report = outer.run(now_ms() / 1000, lambda: 600_000)

    assert [r.position for r in inner_reports] == ["none saved"]
    lines = parse_log_lines(outer_log.getvalue())
    assert [line["level"] for line in lines if "overlapping run" in line["message"]] == ["WARNING"]
    assert outer_report.examined == 6
    # The saved position is the inner run's: the next run continues after the inner run's 6 items.
    follow, follow_store, _ = pass_sweeper(table, budget=100)
    reports = run_pass(follow, limit=1)
    assert reports[0].pass_progress["examined"] == 40
    assert reports[0].pass_progress["runs"] == 2
    assert set(inner_store.seen) | set(follow_store.seen) == items
    assert not set(inner_store.seen) & set(follow_store.seen)


@pytest.mark.parametrize("damage", ["deleted", "unreadable", "segments changed"])
def test_a_lost_or_stale_position_restarts_the_pass(table: Table, damage: str) -> None:
    items = set(table.put_many(live_item(f"c{n:03d}", client_type="dashboard") for n in range(30)))
    sweeper, store, _ = pass_sweeper(table, budget=8)
    sweeper.run(now_ms() / 1000, lambda: 600_000)
    sweeper.run(now_ms() / 1000, lambda: 600_000)
    key = {"connectionId": {"S": POSITION_KEY}}
    if damage == "deleted":
        table.client.delete_item(TableName=table.name, Key=key)
    elif damage == "unreadable":
        table.client.update_item(
            TableName=table.name,
            Key=key,
            UpdateExpression="SET #s = :s",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={":s": {"S": "{not json"}},
        )
    else:
        sweeper, store, _ = pass_sweeper(table, budget=8, segments=3)
    store.seen.clear()

    reports = run_pass(sweeper, limit=10)

    assert reports[0].position == {"deleted": "none saved"}.get(damage, damage)
    assert reports[0].pass_progress["runs"] == 1
    assert set(store.seen) == items, "the restarted pass examines everything"
    assert len(reports) <= math.ceil(31 / 8)


def test_items_deleted_and_added_mid_pass(table: Table) -> None:
    first_items = set(table.put_many(live_item(f"c{n:03d}", client_type="dashboard") for n in range(40)))
    sweeper, store, _ = pass_sweeper(table, budget=10)
    sweeper.run(now_ms() / 1000, lambda: 600_000)
    examined = set(store.seen)
    cursor = store.seen[-1]
    # Delete the item the saved position points at, one more already examined and two not yet examined;
    # add ten new ones.
    not_yet = sorted(first_items - examined)[:2]
    removed = {cursor, sorted(examined - {cursor})[0], *not_yet}
    for connection_id in removed:
        table.client.delete_item(TableName=table.name, Key={"connectionId": {"S": connection_id}})
    added = set(table.put_many(live_item(f"new-{n}", client_type="agent", agent_id=f"n{n}") for n in range(10)))

    rest = run_pass(sweeper, limit=10)

    assert first_items - removed <= set(store.seen), "every item present during the whole pass was examined"
    assert not set(not_yet) & set(store.seen)
    assert len(store.seen) == len(set(store.seen)), "no item examined twice in one pass"
    assert len(rest) + 1 <= math.ceil((40 + 10 + 1) / 10)
    store.seen.clear()
    run_pass(sweeper, limit=10)
    assert added <= set(store.seen), "items added mid-pass are examined by the next pass at the latest"


def test_segments_are_scanned_concurrently_within_the_shared_budget(table: Table) -> None:
    items = set(table.put_many(live_item(f"c{n:03d}", client_type="dashboard") for n in range(60)))
    sweeper, store, _ = pass_sweeper(table, budget=10, page_size=3, segments=4)

    reports = run_pass(sweeper, limit=20)

    assert all(report.scanned <= 10 for report in reports)
    assert sorted(store.seen) == sorted(items)
    assert len(reports) <= math.ceil(61 / 10)
    assert reports[-1].pass_progress["segmentsDone"] == "4/4"


def test_an_unreadable_position_store_still_sweeps_and_saves_nothing(
    table: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    table.put_many(expired_by_ttl(f"x{n}") for n in range(3))
    sweeper, _store, buffer = pass_sweeper(table, budget=100)

    def denied(**_kwargs: Any) -> Dict[str, Any]:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetItem")

    monkeypatch.setattr(table.client, "get_item", denied)
    report = sweeper.run(now_ms() / 1000, lambda: 600_000)

    assert (report.expired, report.position) == (3, "unavailable")
    assert POSITION_KEY not in table.ids()
    lines = parse_log_lines(buffer.getvalue())
    assert [line["error"] for line in lines if line["message"] == "scan position not read"] == ["ClientError"]
    assert active_lines(buffer) == []


def test_a_failed_position_save_keeps_the_runs_work_and_the_next_run_repeats_its_part(
    table: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    table.put_many(live_item(f"c{n:02d}", client_type="dashboard") for n in range(20))
    sweeper, store, buffer = pass_sweeper(table, budget=8)

    def throttled(**_kwargs: Any) -> Dict[str, Any]:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "PutItem")

    with monkeypatch.context() as patch:
        patch.setattr(table.client, "put_item", throttled)
        report = sweeper.run(now_ms() / 1000, lambda: 600_000)
    first = list(store.seen)
    again = sweeper.run(now_ms() / 1000, lambda: 600_000)

    assert (report.examined, report.position) == (8, "not saved")
    lines = parse_log_lines(buffer.getvalue())
    assert [line["error"] for line in lines if line["message"] == "scan position not saved"] == ["ClientError"]
    assert [line["level"] for line in lines if line["message"] == "sweep finished"] == ["WARNING", "INFO"]
    assert again.position == "none saved"
    assert store.seen[8:] == first, "the next run starts where the unsaved run started"
