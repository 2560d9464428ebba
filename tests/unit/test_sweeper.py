"""The scheduled sweeper: expired and gone connections removed, budgets, segments, agent offline."""

from __future__ import annotations

import io
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Set, Tuple

import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber
from remediation_disconnect import config, handlers
from remediation_disconnect.store import Connection, ConnectionStore
from remediation_disconnect.sweeper import ALIVE, ERROR, GONE, Prober, Sweeper
from remediation_disconnect.telemetry import Telemetry

from tests.support.events import FakeContext, now_ms, scheduled_event
from tests.support.fakes import WrappedDynamoDB
from tests.support.faults import runtime_dynamodb
from tests.support.logs import LogReader, emf_dimension_names, emf_metrics, parse_log_lines
from tests.support.resources import MAX_AGE_SECONDS, TABLE, EventsSink, Table, aws_client, item, live_item
from tests.support.servers import FakeConnections, fake_connections_endpoint

AGENT = "agent-0042"


def expired_by_ttl(connection_id: str, **kwargs: Any) -> Dict[str, Dict[str, str]]:
    return item(connection_id, connected_at=now_ms() - 600_000, expires_at=now_ms() // 1000 - 10, **kwargs)


def expired_by_age(connection_id: str, **kwargs: Any) -> Dict[str, Dict[str, str]]:
    return item(connection_id, connected_at=now_ms() - (MAX_AGE_SECONDS + 120) * 1000, **kwargs)


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

    assert table.ids() == live
    assert report["removedExpired"] == 2
    assert report["examined"] == 6
    assert (report["complete"], report["stoppedBy"], report["segments"]) == (True, None, "1/1")
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
    assert table.ids() == {"decoy"}


def test_sweep_removes_more_than_one_batch(table: Table, batch_sleeps: List[float]) -> None:
    table.put_many(expired_by_ttl(f"expired-{n:03d}") for n in range(60))
    table.put(live_item("live"))
    wrapped = WrappedDynamoDB(handlers.runtime().dynamodb)
    handlers.runtime().store.client = wrapped

    report = run_sweep()

    assert report["removedExpired"] == 60
    assert table.ids() == {"live"}
    assert sorted(len(batch) for batch in wrapped.batch_requests) == [10, 25, 25]


def test_sweep_retries_unprocessed_items(table: Table, batch_sleeps: List[float]) -> None:
    ids = table.put_many(expired_by_ttl(f"expired-{n:02d}") for n in range(30))
    handlers.runtime().store.client = WrappedDynamoDB(handlers.runtime().dynamodb, stuck=ids[::7], stuck_times=2)

    report = run_sweep()

    assert (report["removedExpired"], report["unprocessed"]) == (30, 0)
    assert table.ids() == set()
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
    assert table.ids() == stuck
    assert set(removed_lines(logs)) == set(ids) - stuck
    assert stale_metrics(logs)["expired"]["StaleConnectionsRemoved"] == 27


def test_a_later_sweep_removes_what_an_earlier_one_left(table: Table, batch_sleeps: List[float]) -> None:
    ids = table.put_many(expired_by_ttl(f"expired-{n:02d}") for n in range(5))
    handlers.runtime().store.client = WrappedDynamoDB(handlers.runtime().dynamodb, stuck=ids[:2])
    assert run_sweep()["unprocessed"] == 2
    handlers.runtime().store.client = handlers.runtime().dynamodb

    assert run_sweep()["removedExpired"] == 2
    assert table.ids() == set()


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

    assert table.ids() == {"old-alive", "young-gone", "no-timestamps-alive"}
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
    assert table.ids() == set()


def test_throttled_probe_keeps_the_item_and_counts_a_probe_error(
    table: Table, logs: LogReader, probe_endpoint: FakeConnections
) -> None:
    table.put(live_item("throttled", age_seconds=1200, client_type="agent", agent_id="a"))
    table.put(live_item("gone", age_seconds=1200))
    probe_endpoint.throttled.add("throttled")
    probe_endpoint.gone.add("gone")

    report = run_sweep()

    assert table.ids() == {"throttled"}
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

    assert table.ids() == {"old"}
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

    assert Prober(Unreachable(), 4).probe_all(["a", "b"]) == [(ERROR, "EndpointConnectionError")] * 2


def test_prober_keeps_results_in_order_when_probing_concurrently() -> None:
    class Echo:
        exceptions = aws_client(
            "apigatewaymanagementapi", endpoint_url="https://abc123.execute-api.eu-west-1.amazonaws.com/live"
        ).exceptions

        def get_connection(self, **kwargs: Any) -> Dict[str, Any]:
            if int(kwargs["ConnectionId"]) % 3 == 0:
                raise self.exceptions.GoneException({"Error": {"Code": "GoneException"}}, "GetConnection")
            return {}

    ids = [str(n) for n in range(40)]

    outcomes = Prober(Echo(), 8).probe_all(ids)

    assert [status for status, _ in outcomes] == [GONE if n % 3 == 0 else ALIVE for n in range(40)]


# ---------------------------------------------------------------------------------------------------
# Agents going offline through the sweep
# ---------------------------------------------------------------------------------------------------


def offline_details(sink: EventsSink) -> List[Dict[str, Any]]:
    events = sink.received()
    assert all(event["detail-type"] == "Remediation Agent Offline" for event in events)
    assert all(event["source"] == "remediation.websocket" for event in events)
    return [event["detail"] for event in events]


def test_agent_whose_only_connection_expired_is_announced_offline(
    offline_events: EventsSink, agent_table: Table, logs: LogReader
) -> None:
    agent_table.put(expired_by_ttl("stale", client_type="agent", agent_id=AGENT))
    agent_table.put(live_item("other-agent", client_type="agent", agent_id="agent-0043"))

    report = run_sweep()

    [detail] = offline_details(offline_events)
    assert (detail["agentId"], detail["connectionId"], detail["reason"], detail["abnormal"]) == (
        AGENT,
        "stale",
        "expired",
        True,
    )
    assert detail["disconnectStatusCode"] is None
    assert report["agentsOffline"] == {"expired": 1, "gone": 0}
    assert report["eventsFailed"] == 0
    warning = logs.one("agent offline")
    assert (warning["level"], warning["agentId"], warning["reason"]) == ("WARNING", AGENT, "expired")
    assert stale_metrics(logs)["expired"] == {"StaleConnectionsRemoved": 1, "AgentsOffline": 1}


def test_agent_whose_only_connection_is_gone_is_announced_offline(
    offline_events: EventsSink, agent_table: Table, logs: LogReader, probe_endpoint: FakeConnections
) -> None:
    agent_table.put(live_item("vanished", age_seconds=1800, client_type="agent", agent_id=AGENT))
    probe_endpoint.gone.add("vanished")

    report = run_sweep()

    [detail] = offline_details(offline_events)
    assert (detail["agentId"], detail["reason"], detail["abnormal"]) == (AGENT, "gone", True)
    assert report["agentsOffline"] == {"expired": 0, "gone": 1}
    assert stale_metrics(logs)["gone"] == {"StaleConnectionsRemoved": 1, "AgentsOffline": 1}


def test_agent_with_two_stale_connections_gets_exactly_one_event(
    offline_events: EventsSink, agent_table: Table
) -> None:
    agent_table.put(expired_by_ttl("stale-1", client_type="agent", agent_id=AGENT))
    agent_table.put(expired_by_age("stale-2", client_type="agent", agent_id=AGENT))

    report = run_sweep()

    assert agent_table.ids() == set()
    assert [detail["agentId"] for detail in offline_details(offline_events)] == [AGENT]
    assert report["agentsOffline"] == {"expired": 1, "gone": 0}


def test_agent_with_two_gone_connections_on_different_pages_gets_exactly_one_event(
    offline_events: EventsSink, agent_table: Table, probe_endpoint: FakeConnections, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(4):
        agent_table.put(live_item(f"gone-{n}", age_seconds=1800, client_type="agent", agent_id=AGENT))
        probe_endpoint.gone.add(f"gone-{n}")
    store = handlers.runtime().store
    pages_of_one = SmallPages(store.client, store.table_name, page_size=1)
    monkeypatch.setattr(handlers.runtime(), "store", pages_of_one)

    report = run_sweep()

    assert report["removedGone"] == 4
    assert [detail["agentId"] for detail in offline_details(offline_events)] == [AGENT]
    assert report["agentsOffline"] == {"expired": 0, "gone": 1}


def test_agent_with_a_stale_and_a_live_connection_stays_online(
    offline_events: EventsSink, agent_table: Table, logs: LogReader
) -> None:
    agent_table.put(expired_by_ttl("stale", client_type="agent", agent_id=AGENT))
    agent_table.put(live_item("live", client_type="agent", agent_id=AGENT))

    report = run_sweep()

    assert agent_table.ids() == {"live"}
    assert offline_details(offline_events) == []
    assert report["agentsOffline"] == {"expired": 0, "gone": 0}
    assert logs.with_message("agent offline") == []


def test_index_failure_during_the_sweep_is_logged_and_the_sweep_completes(
    offline_events: EventsSink, agent_table: Table, logs: LogReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENT_INDEX_NAME", "no-such-index")
    agent_table.put(expired_by_ttl("stale", client_type="agent", agent_id=AGENT))

    report = run_sweep()

    assert report["removedExpired"] == 1
    assert report["complete"] is True
    assert offline_details(offline_events) == []
    line = logs.one("agent status check failed")
    assert (line["level"], line["agentId"]) == ("ERROR", AGENT)


# ---------------------------------------------------------------------------------------------------
# Budgets and segments (Sweeper driven directly)
# ---------------------------------------------------------------------------------------------------


class SmallPages(ConnectionStore):
    """A store whose scans return small pages, so budgets are checked between pages of a small table."""

    def __init__(self, client: Any, table_name: str, page_size: int) -> None:
        super().__init__(client, table_name, sleep=lambda _delay: None)
        self.page_size = page_size

    def scan_segment(
        self, segment: int, total_segments: int, page_size: Callable[[], int] = lambda: 1000
    ) -> Iterator[Tuple[List[Connection], bool]]:
        return super().scan_segment(segment, total_segments, lambda: min(self.page_size, page_size()))


def direct_sweeper(table: Table, page_size: int, **env: str) -> Tuple[Sweeper, io.StringIO]:
    settings = config.load({"CONNECTIONS_TABLE": table.name, **env})
    buffer = io.StringIO()
    sweeper = Sweeper(SmallPages(table.client, table.name, page_size), settings, Telemetry("NS", stream=buffer))
    return sweeper, buffer


def test_item_budget_stops_the_run_between_pages(table: Table) -> None:
    table.put_many(expired_by_ttl(f"expired-{n:02d}", client_type="dashboard") for n in range(40))
    sweeper, buffer = direct_sweeper(table, page_size=5, SWEEP_MAX_ITEMS="10")

    report = sweeper.run(now_ms() / 1000, lambda: 600_000).as_dict()

    assert (report["stoppedBy"], report["complete"]) == ("item budget", False)
    assert report["examined"] == 10
    assert report["removedExpired"] == 10
    assert len(table.ids()) == 30
    lines = parse_log_lines(buffer.getvalue())
    assert [line for line in lines if line["message"] == "active connections"] == []
    [finished] = [line for line in lines if line["message"] == "sweep finished"]
    assert finished["level"] == "WARNING"


def test_time_budget_stops_the_run_between_pages(table: Table) -> None:
    table.put_many(expired_by_ttl(f"expired-{n:02d}") for n in range(40))
    sweeper, buffer = direct_sweeper(table, page_size=5)
    clock = iter([60_000])  # first reading sets a 6 s reserve; afterwards only 5 s are left

    report = sweeper.run(now_ms() / 1000, lambda: next(clock, 5_000)).as_dict()

    assert (report["stoppedBy"], report["complete"]) == ("time budget", False)
    assert report["examined"] == 5
    assert len(table.ids()) == 35
    assert not [line for line in parse_log_lines(buffer.getvalue()) if line["message"] == "active connections"]


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
    lines = [line for line in parse_log_lines(buffer.getvalue()) if line["message"] == "active connections"]
    assert {line["ClientType"]: line["ActiveConnections"] for line in lines} == {"agent": 12, "dashboard": 0}


def test_successive_scheduled_runs_rotate_segments_and_eventually_cover_the_table(
    table: Table, monkeypatch: pytest.MonkeyPatch, batch_sleeps: List[float]
) -> None:
    # 48 items in 4 hash segments: a 30-item budget covers a run's own segment but never the table.
    monkeypatch.setenv("SWEEP_SCAN_SEGMENTS", "4")
    monkeypatch.setenv("SWEEP_MAX_ITEMS", "30")
    monkeypatch.setenv("SWEEP_RATE_SECONDS", "300")
    handlers.reset()
    handlers.runtime().store.sleep = batch_sleeps.append
    expired = set(table.put_many(expired_by_ttl(f"expired-{n:02d}") for n in range(40)))
    live = set(table.put_many(live_item(f"live-{n}") for n in range(8)))
    first_segments: List[int] = []
    scans: List[int] = []

    def record_segment(params: Dict[str, Any], **_kwargs: Any) -> None:
        scans.append(params["Segment"])
        assert params["TotalSegments"] == 4

    runtime_dynamodb().meta.events.register("before-parameter-build.dynamodb.Scan", record_segment)
    remaining: List[Set[str]] = []
    reports: List[Dict[str, Any]] = []
    for slot in ("2026-11-26T06:45:00Z", "2026-11-26T06:50:00Z", "2026-11-26T06:55:00Z", "2026-11-26T07:00:00Z"):
        scans.clear()
        report = run_sweep(scheduled_event(slot))
        first_segments.append(scans[0])
        remaining.append(table.ids() & expired)
        reports.append(report)

    assert (reports[0]["complete"], reports[0]["stoppedBy"]) == (False, "item budget")
    assert sorted(first_segments) == [0, 1, 2, 3]
    assert first_segments[1] == (first_segments[0] + 1) % 4
    assert remaining[0], "one run with a 30-item budget must not cover the whole table"
    assert remaining[-1] == set()
    assert table.ids() == live


def test_item_budget_is_never_overshot_even_with_full_pages(table: Table) -> None:
    """Scan pages shrink to the budget left: a 300-item budget reads 300 items, not a 1,000-item page."""
    table.put_many(live_item(f"c{n:04d}", client_type="agent") for n in range(1200))
    settings = config.load({"CONNECTIONS_TABLE": table.name, "SWEEP_MAX_ITEMS": "300"})
    store = ConnectionStore(table.client, table.name, sleep=lambda _delay: None)
    sweeper = Sweeper(store, settings, Telemetry("NS", stream=io.StringIO()))

    report = sweeper.run(time.time(), lambda: 60_000)

    assert (report.examined, report.stopped_by, report.complete) == (300, "item budget", False)
    assert len(table.ids()) == 1200
