"""Agent presence end to end, as its users see it: the presence table, the events published, log lines.

`$connect`, `$disconnect`, the checker (grace and probe messages, delivered when the test says their
delay has passed) and the announcer (the presence table's stream) run in process against moto; events
are what a rule on the agents' bus delivers.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable, Dict

import pytest
from remediation_registry import handlers

from tests.support.events import now_ms
from tests.support.fakes import Interleaved
from tests.support.logs import LogReader, emf_metrics
from tests.support.presence import PresenceStack, client_error, transitions
from tests.support.servers import FakeConnections

AGENT = "agent-12"
CONNECTED = "connected"


def only_events(stack: PresenceStack) -> list[tuple[int, str, str]]:
    """(sequence, state, reason) of the agent's events, after announcing what the stream holds."""
    stack.announce()
    return transitions(stack.details(), AGENT)


# ---------------------------------------------------------------------------------------------------
# Online, offline, and the event each transition publishes
# ---------------------------------------------------------------------------------------------------


def test_the_first_connection_brings_the_agent_online_and_starts_its_probe_chain(
    stack: PresenceStack, logs: LogReader
) -> None:
    connected = now_ms() - 5

    assert stack.connect(AGENT, "C1", connected_at=connected) == {"statusCode": 200, "body": "connected"}

    state = stack.presence.state(AGENT)
    assert (state["state"], state["sequence"], state["since"], state["reason"]) == ("online", 1, connected, CONNECTED)
    assert (state["connections"], state["pending"]) == ({"C1"}, False)
    [probe] = stack.queue.sent
    assert probe.delay == 300  # heartbeats off: the probe interval
    assert probe.body == {
        "v": 1,
        "kind": "probe",
        "agentId": AGENT,
        "connectionId": "C1",
        "connectedAt": connected,
        "lastSeenAt": probe.body["lastSeenAt"],
    }
    line = logs.one("agent online")
    assert (line["level"], line["agentId"], line["connectionId"], line["sequence"]) == ("INFO", AGENT, "C1", 1)
    assert emf_metrics(line)["AgentWentOnline"] == (1, "Count", [])
    assert logs.one("connection registered")["presence"] == "online"

    stack.announce()
    [event] = stack.published()
    assert (event["source"], event["detail-type"]) == ("remediation.websocket", "Remediation Agent Online")
    detected = event["detail"]["detectedAt"]
    assert connected <= detected <= now_ms()
    assert event["detail"] == {
        "agentId": AGENT,
        "state": "online",
        "reason": "connected",
        "since": connected,
        "sequence": 1,
        "eventId": "agent-12/1",
        "connections": 1,
        "connectionId": "C1",
        "disconnectStatusCode": None,
        "disconnectReason": None,
        "connectedAt": connected,
        "durationSeconds": None,
        "abnormal": False,
        "apiId": "abc123",
        "stage": "live",
        "detectedAt": detected,
        "previous": None,
    }


def test_the_last_connection_lost_makes_the_agent_offline_once_the_grace_has_passed(
    stack: PresenceStack, logs: LogReader
) -> None:
    connected = now_ms() - 1_080_030
    stack.connect(AGENT, "C1", connected_at=connected)
    closed = connected + 1_080_030

    stack.disconnect("C1", 1006, "Connection lost", connected_at=connected, request_time=closed)

    assert logs.one("connection removed")["presence"] == "grace"
    state = stack.presence.state(AGENT)
    assert (state["state"], state["pending"], state["connections"]) == ("online", True, set())
    grace = stack.queue.sent[-1]
    assert (grace.body["kind"], grace.delay, set(grace.body)) == (
        "grace",
        20,
        {"v", "kind", "agentId", "token", "deadline"},
    )
    assert only_events(stack) == [(1, "online", "connected")]  # nothing yet: the window is open

    stack.advance(20)
    stack.deliver(kind="grace")

    assert only_events(stack) == [(1, "online", "connected"), (2, "offline", "connection_lost")]
    offline = stack.published()[-1]
    assert offline["detail-type"] == "Remediation Agent Offline"
    detail = offline["detail"]
    assert detail["detectedAt"] >= closed + 20_000  # decided when the window closed, by the checker's clock
    assert detail == {
        "agentId": AGENT,
        "state": "offline",
        "reason": "connection_lost",
        "since": closed,
        "sequence": 2,
        "eventId": "agent-12/2",
        "connections": 0,
        "connectionId": "C1",
        "disconnectStatusCode": 1006,
        "disconnectReason": "Connection lost",
        "connectedAt": connected,
        "durationSeconds": 1080.03,
        "abnormal": True,
        "apiId": "abc123",
        "stage": "live",
        "detectedAt": detail["detectedAt"],
        "previous": {"state": "online", "since": connected, "sequence": 1},
    }
    line = logs.one("agent offline")
    assert (line["level"], line["reason"], line["sequence"], line["connectionId"]) == (
        "WARNING",
        "connection_lost",
        2,
        "C1",
    )
    assert line["disconnectStatusCode"] == 1006
    assert emf_metrics(line)["AgentWentOffline"] == (1, "Count", ["Reason"])
    assert stack.presence.state(AGENT)["announced"] == 2


@pytest.mark.parametrize(
    ("code", "reason", "abnormal"),
    [
        (1000, "client_closed", False),
        (1005, "client_closed", False),
        (1001, "going_away", False),
        (1006, "connection_lost", True),
        (1011, "connection_lost", True),
        (4000, "connection_lost", True),
    ],
)
def test_the_offline_reason_comes_from_the_close_code(
    stack: PresenceStack, code: int, reason: str, abnormal: bool
) -> None:
    stack.connect(AGENT, "C1")
    stack.disconnect("C1", code, "closed")
    stack.advance(21)
    stack.deliver(kind="grace")

    stack.announce()
    detail = stack.details()[-1]
    assert (detail["reason"], detail["abnormal"], detail["disconnectStatusCode"]) == (reason, abnormal, code)


def test_with_grace_zero_the_disconnect_itself_makes_the_agent_offline(
    make_stack: Callable[..., PresenceStack], logs: LogReader
) -> None:
    stack = make_stack(grace_seconds=0)
    stack.connect(AGENT, "C1")

    stack.disconnect("C1", 1001, "Going away")

    assert logs.one("connection removed")["presence"] == "offline"
    assert [sent.body["kind"] for sent in stack.queue.sent] == ["probe"]  # no grace message
    assert logs.one("agent offline")["reason"] == "going_away"
    assert only_events(stack) == [(1, "online", "connected"), (2, "offline", "going_away")]


# ---------------------------------------------------------------------------------------------------
# No flapping: reconnects and rollovers
# ---------------------------------------------------------------------------------------------------


def test_a_reconnect_inside_the_grace_window_publishes_nothing(stack: PresenceStack, logs: LogReader) -> None:
    stack.connect(AGENT, "C1")
    stack.disconnect("C1", 1006, "Connection lost")

    stack.connect(AGENT, "C2")

    line = logs.one("agent reconnected within grace")
    assert emf_metrics(line)["ReconnectsWithinGrace"] == (1, "Count", [])
    assert logs.with_message("connection registered")[-1]["presence"] == "joined"
    stack.advance(21)
    assert stack.deliver(kind="grace")["results"] == {"superseded": 1}
    state = stack.presence.state(AGENT)
    assert (state["state"], state["sequence"], state["connections"], state["pending"]) == ("online", 1, {"C2"}, False)
    assert only_events(stack) == [(1, "online", "connected")]


def test_a_reconnect_after_the_grace_window_is_a_new_online_transition(stack: PresenceStack) -> None:
    stack.connect(AGENT, "C1")
    stack.disconnect("C1", 1006, "Connection lost")
    stack.advance(21)
    stack.deliver(kind="grace")

    stack.connect(AGENT, "C2")

    assert only_events(stack) == [
        (1, "online", "connected"),
        (2, "offline", "connection_lost"),
        (3, "online", "connected"),
    ]
    assert stack.details()[-1]["previous"]["state"] == "offline"


def test_rollover_with_the_old_disconnect_before_the_new_connect(stack: PresenceStack) -> None:
    """Make-before-break failed: the old connection closed (1001) first; the new one came within grace."""
    stack.connect(AGENT, "old")
    stack.disconnect("old", 1001, "Going away")
    stack.connect(AGENT, "new")
    stack.advance(21)
    stack.deliver(kind="grace")

    assert only_events(stack) == [(1, "online", "connected")]
    assert stack.presence.state(AGENT)["connections"] == {"new"}


def test_rollover_with_the_old_disconnect_after_the_new_connect(stack: PresenceStack, logs: LogReader) -> None:
    stack.connect(AGENT, "old")
    stack.connect(AGENT, "new")

    stack.disconnect("old", 1001, "Going away")

    assert logs.one("connection removed")["presence"] == "still_online"
    assert [sent.body["kind"] for sent in stack.queue.sent] == ["probe", "probe"]  # no window, no grace message
    assert only_events(stack) == [(1, "online", "connected")]
    assert stack.presence.state(AGENT)["connections"] == {"new"}


# The grace is counted on API Gateway's stamps (the close's requestTimeEpoch, the next connection's
# connectedAt), not on when the functions ran: a `$disconnect` handled late (a throttled function, a backlog
# after a mass drop) neither stretches the window nor hides a gap longer than the grace.


def test_a_disconnect_handled_late_ends_its_window_grace_seconds_after_the_close(stack: PresenceStack) -> None:
    stack.connect(AGENT, "C1", connected_at=now_ms() - 60_000)
    closed = now_ms() - 30_000  # the close API Gateway stamped, 30 s before `$disconnect` ran

    stack.disconnect("C1", 1006, "Connection lost", request_time=closed)

    grace = stack.queue.sent[-1]
    assert (grace.body["kind"], grace.body["deadline"], grace.delay) == ("grace", closed + 20_000, 1)
    stack.advance(1)
    stack.deliver(kind="grace")
    assert only_events(stack) == [(1, "online", "connected"), (2, "offline", "connection_lost")]
    assert stack.details()[-1]["since"] == closed


def test_a_reconnect_stamped_past_the_grace_is_offline_then_online_even_if_the_window_is_still_open(
    stack: PresenceStack, logs: LogReader
) -> None:
    """The checker has not run the window's end yet when `$connect` runs: the agent was away 25 s by API
    Gateway's clock, so `$connect` makes the offline transition first (once), then the online one."""
    stack.connect(AGENT, "C1", connected_at=now_ms() - 60_000)
    closed = now_ms()
    stack.disconnect("C1", 1006, "Connection lost", request_time=closed)
    stack.advance(25)

    stack.connect(AGENT, "C2", connected_at=closed + 25_000)

    assert only_events(stack) == [
        (1, "online", "connected"),
        (2, "offline", "connection_lost"),
        (3, "online", "connected"),
    ]
    offline, online = stack.details()[-2:]
    assert (offline["since"], offline["connectionId"], online["since"]) == (closed, "C1", closed + 25_000)
    assert [line["sequence"] for line in logs.with_message("agent offline")] == [2]
    assert logs.with_message("agent reconnected within grace") == []
    assert stack.deliver(kind="grace")["results"] == {"superseded": 1}  # the window's own end: nothing more
    assert len(only_events(stack)) == 3


def test_a_reconnect_stamped_within_the_grace_joins_however_late_the_functions_ran(
    stack: PresenceStack, logs: LogReader
) -> None:
    stack.connect(AGENT, "C1", connected_at=now_ms() - 60_000)
    closed = now_ms() - 40_000
    stack.disconnect("C1", 1006, "Connection lost", request_time=closed)

    stack.connect(AGENT, "C2", connected_at=closed + 15_000)  # back 15 s after the close, handled 25 s later

    assert logs.one("agent reconnected within grace")["connectionId"] == "C2"
    stack.advance(1)
    assert stack.deliver(kind="grace")["results"] == {"superseded": 1}
    assert only_events(stack) == [(1, "online", "connected")]


def test_two_connections_closing_one_after_the_other_open_one_window(stack: PresenceStack) -> None:
    stack.connect(AGENT, "C1")
    stack.connect(AGENT, "C2")

    stack.disconnect("C1", 1006, "Connection lost")
    stack.disconnect("C2", 1000, "bye")
    stack.advance(21)
    stack.deliver(kind="grace")

    assert only_events(stack) == [(1, "online", "connected"), (2, "offline", "client_closed")]


# ---------------------------------------------------------------------------------------------------
# Liveness: lost $disconnects, silent hosts, expired connections
# ---------------------------------------------------------------------------------------------------


def test_a_lost_disconnect_is_found_by_the_probe(
    stack: PresenceStack, connections_api: tuple[str, FakeConnections], logs: LogReader
) -> None:
    stack.connect(AGENT, "C1")
    last_seen = stack.queue.sent[0].body["lastSeenAt"]
    connections_api[1].gone.add("C1")

    found = now_ms()
    assert stack.deliver(kind="probe")["results"] == {"gone_wait": 1}
    # Its `$disconnect` (the close's stamp and reason) may still be on its way: it gets the grace to arrive.
    again = stack.queue.sent[-1]
    assert (again.body["kind"], again.delay, again.body["lastSeenAt"]) == ("probe", 20, last_seen)
    assert found <= again.body["goneAt"] <= now_ms()
    assert stack.connections.ids() == {"C1"}
    assert emf_metrics(logs.one("presence messages processed"))["LivenessProbes"] == (1, "Count", [])

    stack.advance(20)
    assert stack.deliver(kind="probe")["results"] == {"grace": 1}  # none came: lost; a window from goneAt
    assert stack.connections.ids() == set()  # the registry forgets it too
    assert only_events(stack) == [(1, "online", "connected")]
    assert [sent.body["kind"] for sent in stack.queue.sent] == ["probe", "probe", "grace"]  # the chain ends
    assert stack.queue.sent[-1].delay == 1  # the window began when the probe found it gone: over already

    stack.advance(1)
    assert stack.deliver(kind="grace")["results"] == {"offline": 1}
    assert only_events(stack) == [(1, "online", "connected"), (2, "offline", "gone")]
    detail = stack.details()[-1]
    assert (detail["since"], detail["abnormal"], detail["connectionId"]) == (last_seen, True, "C1")


def test_a_disconnect_arriving_after_the_probe_found_its_connection_gone_is_announced_with_its_own_reason(
    stack: PresenceStack, connections_api: tuple[str, FakeConnections]
) -> None:
    """The probe runs between the close and its `$disconnect`: the `$disconnect`'s stamp and close code
    decide, not the probe's `gone`."""
    stack.connect(AGENT, "C1", connected_at=now_ms() - 60_000)
    connections_api[1].gone.add("C1")
    closed = now_ms() - 2_000
    assert stack.deliver(kind="probe")["results"] == {"gone_wait": 1}

    stack.disconnect("C1", 1000, "bye", request_time=closed)
    stack.advance(20)
    assert stack.deliver(kind="probe")["results"] == {"ended": 1}
    stack.deliver(kind="grace")

    assert only_events(stack) == [(1, "online", "connected"), (2, "offline", "client_closed")]
    assert stack.details()[-1]["since"] == closed


def test_a_probe_that_finds_the_connection_gone_before_its_disconnect_does_not_flap_a_reconnecting_agent(
    stack: PresenceStack, connections_api: tuple[str, FakeConnections], logs: LogReader
) -> None:
    """The probe runs between the close and its `$disconnect`; the agent reconnects within grace."""
    stack.connect(AGENT, "C1")
    connections_api[1].gone.add("C1")

    assert stack.deliver(kind="probe")["results"] == {"gone_wait": 1}
    stack.connect(AGENT, "C2")  # back within grace
    stack.disconnect("C1", 1006, "Connection lost")  # its `$disconnect`: the agent has C2
    stack.advance(21)
    assert stack.deliver(kind="probe")["results"] == {"ended": 1, "alive": 1}  # C1's chain ends, C2's goes on

    assert only_events(stack) == [(1, "online", "connected")]
    assert stack.presence.state(AGENT)["state"] == "online"
    assert stack.presence.state(AGENT)["connections"] == {"C2"}
    assert logs.with_message("agent reconnected within grace") == []  # C1 was still listed when C2 came


def test_a_window_the_probe_opened_runs_from_the_probe_not_from_when_the_connection_was_last_seen(
    stack: PresenceStack, connections_api: tuple[str, FakeConnections]
) -> None:
    """A gone connection has no close stamp: found gone 60 s after it was last seen alive (its probe ran
    late), its window runs from the probe; an agent reconnecting within it gets no offline."""
    stack.connect(AGENT, "C1")
    connections_api[1].gone.add("C1")
    stack.advance(60)
    assert stack.deliver(kind="probe")["results"] == {"gone_wait": 1}
    stack.advance(15)
    assert stack.deliver(kind="probe")["results"] == {"grace": 1}  # confirmed early (SQS): window open

    stack.connect(AGENT, "C2", connected_at=now_ms() + 77_000)  # 17 s after the probe found C1 gone

    stack.advance(6)
    assert stack.deliver(kind="grace")["results"] == {"superseded": 1}
    assert only_events(stack) == [(1, "online", "connected")]


def test_a_live_connection_gets_its_next_probe_before_this_one_is_acknowledged(
    stack: PresenceStack, connections_api: tuple[str, FakeConnections]
) -> None:
    stack.connect(AGENT, "C1")

    assert stack.deliver(kind="probe")["results"] == {"alive": 1}

    first, second = stack.queue.sent
    assert (second.body["kind"], second.body["connectionId"], second.delay) == ("probe", "C1", 300)
    assert second.body["lastSeenAt"] >= first.body["lastSeenAt"]
    assert connections_api[1].calls == {"C1": 1}
    [queued] = stack.messages()  # the delivered probe was deleted; only the next one is queued
    assert json.loads(queued["body"]) == second.body


def test_with_heartbeats_the_next_probe_is_due_just_after_the_heartbeat_timeout(
    make_stack: Callable[..., PresenceStack], connections_api: tuple[str, FakeConnections]
) -> None:
    stack = make_stack(heartbeat_timeout=75)
    stack.connect(AGENT, "C1")
    assert stack.queue.sent[0].delay == 76  # timeout + 1 s after the connect
    connections_api[1].last_active["C1"] = time.time() - 10

    stack.deliver(kind="probe")

    assert stack.queue.sent[-1].delay in (65, 66)  # LastActiveAt + 76 s, from now


def test_a_silent_connection_is_closed_and_its_agent_announced_at_once(
    make_stack: Callable[..., PresenceStack], connections_api: tuple[str, FakeConnections], logs: LogReader
) -> None:
    stack = make_stack(heartbeat_timeout=75)
    stack.connect(AGENT, "C1")
    last_active = time.time() - 100
    connections_api[1].last_active["C1"] = last_active

    assert stack.deliver(kind="probe")["results"] == {"heartbeat_timeout": 1}

    assert connections_api[1].deletes == {"C1": 1}  # DeleteConnection
    assert stack.connections.ids() == set()
    assert only_events(stack) == [(1, "online", "connected"), (2, "offline", "heartbeat_timeout")]
    detail = stack.details()[-1]
    assert (detail["since"], detail["abnormal"]) == (int(last_active * 1000), True)
    # API Gateway then sends the `$disconnect` of the closed connection: it finds nothing, changes nothing.
    stack.disconnect("C1", 1000, "Connection Closed Normally")
    assert "presence" not in logs.one("connection already gone")
    assert only_events(stack) == [(1, "online", "connected"), (2, "offline", "heartbeat_timeout")]


def test_a_silent_connection_whose_disconnect_overtakes_the_checker_is_still_a_heartbeat_timeout(
    make_stack: Callable[..., PresenceStack], connections_api: tuple[str, FakeConnections]
) -> None:
    stack = make_stack(heartbeat_timeout=75)
    stack.connect(AGENT, "C1")
    connections_api[1].last_active["C1"] = time.time() - 100
    rt = stack.runtime()

    def disconnect_arrives(operation: str, count: int, request: Dict[str, Any]) -> None:
        if operation == "delete_item" and count == 1:  # the checker is about to remove the item
            stack.disconnect("C1", 1000, "Connection Closed Normally")

    rt.dynamodb = Interleaved(rt.dynamodb, disconnect_arrives)
    rt.store.client = rt.dynamodb
    rt.presence = None

    stack.deliver(kind="probe")
    stack.advance(21)
    stack.deliver(kind="grace")  # the window the `$disconnect` opened: superseded

    assert only_events(stack) == [(1, "online", "connected"), (2, "offline", "heartbeat_timeout")]


# A `$disconnect` that comes after the agent's next `$connect` (late: the functions scale apart, a
# throttle), or never (lost), leaves no window for `$connect` to judge: the agent's client reports its
# outage (downMs on the URL) and `$connect` decides on that report (T5).


def test_a_reconnect_reported_past_the_grace_before_the_late_disconnect_is_offline_then_online(
    stack: PresenceStack, logs: LogReader
) -> None:
    connected = now_ms() - 120_000
    stack.connect(AGENT, "C1", connected_at=connected)
    back = now_ms()

    stack.connect(AGENT, "C2", connected_at=back, query={"downMs": "30000"})  # C1's `$disconnect` not yet in
    late = stack.disconnect("C1", 1006, "Connection lost", connected_at=connected, request_time=back - 29_000)

    assert late == {"statusCode": 200, "body": "disconnected"}
    assert only_events(stack) == [
        (1, "online", "connected"),
        (2, "offline", "connection_lost"),
        (3, "online", "connected"),
    ]
    offline, online = stack.details()[-2:]
    assert (offline["since"], offline["connectionId"], offline["abnormal"]) == (back - 30_000, "C1", True)
    assert (online["since"], online["connectionId"], online["previous"]["state"]) == (back, "C2", "offline")
    registered = [line for line in logs.with_message("connection registered") if line["connectionId"] == "C2"]
    assert (registered[0]["downMs"], registered[0]["presence"]) == (30_000, "online")
    assert [line["reason"] for line in logs.with_message("agent offline")] == ["connection_lost"]
    assert stack.messages("grace") == []  # the late `$disconnect` found C1 gone from presence: no window
    state = stack.presence.state(AGENT)
    assert (state["state"], state["sequence"], state["connections"]) == ("online", 3, {"C2"})


def test_a_lost_disconnect_then_a_reconnect_reported_past_the_grace_ends_the_old_probe_chain(
    stack: PresenceStack, connections_api: tuple[str, FakeConnections]
) -> None:
    stack.connect(AGENT, "C1", connected_at=now_ms() - 120_000)
    [old_probe] = stack.messages("probe")
    stack.queue.release([old_probe])
    connections_api[1].gone.add("C1")  # its `$disconnect` was lost

    stack.connect(AGENT, "C2", query={"downMs": "45000"})

    assert stack.deliver([old_probe])["results"] == {"ended": 1}
    assert stack.connections.get("C1") is None  # the registry item of the lost connection is gone too
    assert stack.connections.get("C2") is not None
    assert only_events(stack) == [
        (1, "online", "connected"),
        (2, "offline", "connection_lost"),
        (3, "online", "connected"),
    ]


def test_a_client_back_past_the_grace_ends_the_probes_gone_window_before_going_online(
    stack: PresenceStack, connections_api: tuple[str, FakeConnections]
) -> None:
    """The probe found C1 gone and, a grace later, opened a window from then (no close stamp); the checker
    has not ended it when the agent, away 45 s by its own report, reconnects: offline (gone), then online,
    each announced once; the window's grace message then finds nothing to do."""
    stack.connect(AGENT, "C1", connected_at=now_ms() - 120_000)
    connections_api[1].gone.add("C1")
    assert stack.deliver(kind="probe")["results"] == {"gone_wait": 1}
    stack.advance(20)
    assert stack.deliver(kind="probe")["results"] == {"grace": 1}

    stack.connect(AGENT, "C2", connected_at=now_ms() + 20_000, query={"downMs": "45000"})

    assert only_events(stack) == [(1, "online", "connected"), (2, "offline", "gone"), (3, "online", "connected")]
    assert stack.deliver(kind="grace")["results"] == {"superseded": 1}
    assert len(only_events(stack)) == 3


@pytest.mark.parametrize("value", ["-5", "12.5", "soon", "", "99999999999", "\u0661\u0662"])
def test_a_malformed_down_report_is_logged_and_ignored_and_the_agent_still_connects(
    stack: PresenceStack, logs: LogReader, value: str
) -> None:
    stack.connect(AGENT, "C1", connected_at=now_ms() - 120_000)

    answer = stack.connect(AGENT, "C2", query={"downMs": value})

    assert answer == {"statusCode": 200, "body": "connected"}
    line = logs.one("reconnect report ignored: downMs is not 1-10 digits")
    assert (line["level"], line["agentId"], line["value"]) == ("WARNING", AGENT, value[:32])
    assert emf_metrics(line)["IgnoredDownReports"] == (1, "Count", [])
    assert only_events(stack) == [(1, "online", "connected")]  # joined, as without a report
    assert stack.presence.state(AGENT)["connections"] == {"C1", "C2"}


def test_a_probe_past_the_two_hour_limit_expires_the_connection_without_calling_api_gateway(
    stack: PresenceStack, connections_api: tuple[str, FakeConnections]
) -> None:
    connected = now_ms() - 3 * 3600 * 1000
    stack.connect(AGENT, "C1", connected_at=connected)

    assert stack.deliver(kind="probe")["results"] == {"expired": 1}

    assert connections_api[1].calls == {}
    assert only_events(stack) == [(1, "online", "connected"), (2, "offline", "expired")]
    assert stack.details()[-1]["since"] == connected + 7_200_000


def test_the_handler_and_the_sweeper_removing_the_same_last_connection_give_one_event(stack: PresenceStack) -> None:
    stack.connect(AGENT, "C1", connected_at=now_ms() - 3 * 3600 * 1000)  # past its TTL: the sweeper's
    rt = stack.runtime()

    def disconnect_arrives(operation: str, count: int, request: Dict[str, Any]) -> None:
        if operation == "batch_write_item" and count == 1:  # the sweeper read the item, deletes it now
            stack.disconnect("C1", 1006, "Connection lost")

    rt.store.client = Interleaved(rt.dynamodb, disconnect_arrives)

    report = handlers.sweep({"source": "aws.events", "detail-type": "Scheduled Event"})

    assert report["agentsOffline"] == {"expired": 0, "gone": 0}  # the window the handler opened stands
    stack.advance(21)
    stack.deliver(kind="grace")
    assert only_events(stack) == [(1, "online", "connected"), (2, "offline", "connection_lost")]


def test_the_sweeper_first_then_the_late_disconnect_give_one_event(stack: PresenceStack, logs: LogReader) -> None:
    stack.connect(AGENT, "C1", connected_at=now_ms() - 3 * 3600 * 1000)

    handlers.sweep({"source": "aws.events", "detail-type": "Scheduled Event"})
    stack.disconnect("C1", 1006, "Connection lost")

    assert logs.one("connection already gone")["result"] == "already_gone"
    assert only_events(stack) == [(1, "online", "connected"), (2, "offline", "expired")]


# ---------------------------------------------------------------------------------------------------
# SQS: duplicates, order, lost messages, clocks
# ---------------------------------------------------------------------------------------------------


def test_a_grace_message_delivered_twice_makes_one_transition(stack: PresenceStack) -> None:
    stack.connect(AGENT, "C1")
    stack.disconnect("C1", 1006, "Connection lost")
    stack.advance(21)
    grace = stack.messages("grace")

    assert stack.deliver(grace)["results"] == {"offline": 1}
    assert stack.deliver(grace)["results"] == {"superseded": 1}

    assert only_events(stack) == [(1, "online", "connected"), (2, "offline", "connection_lost")]


def test_an_old_windows_grace_message_arriving_late_changes_nothing(stack: PresenceStack) -> None:
    stack.connect(AGENT, "C1")
    stack.disconnect("C1", 1006, "Connection lost")
    [old] = stack.messages("grace")
    stack.queue.release([old])
    stack.connect(AGENT, "C2")
    stack.disconnect("C2", 1000, "bye")
    stack.advance(21)
    old_first = sorted(stack.messages("grace"), key=lambda record: record["messageId"] != old["messageId"])

    assert stack.deliver(old_first)["results"] == {"superseded": 1, "offline": 1}

    assert only_events(stack) == [(1, "online", "connected"), (2, "offline", "client_closed")]


def test_a_probe_delivered_twice_announces_a_gone_connection_once(
    stack: PresenceStack, connections_api: tuple[str, FakeConnections]
) -> None:
    stack.connect(AGENT, "C1")
    connections_api[1].gone.add("C1")
    probe = stack.messages("probe")

    assert stack.deliver(probe)["results"] == {"gone_wait": 1}
    stack.advance(20)
    confirmation = stack.messages("probe")
    assert stack.deliver(confirmation)["results"] == {"grace": 1}
    assert stack.deliver(confirmation)["results"] == {"ended": 1}
    stack.advance(1)
    stack.deliver(kind="grace")

    assert only_events(stack) == [(1, "online", "connected"), (2, "offline", "gone")]


def test_a_lost_grace_message_is_resolved_by_the_reconciler(stack: PresenceStack, logs: LogReader) -> None:
    stack.connect(AGENT, "C1")
    stack.queue.fail_sends.append(client_error("SendMessage", "InternalError", 500))

    assert stack.disconnect("C1", 1006, "Connection lost") == {"statusCode": 200, "body": "disconnected"}

    line = logs.one("grace check not scheduled")
    assert (line["level"], line["errorCode"], line["agentId"]) == ("ERROR", "InternalError", AGENT)
    assert emf_metrics(line)["PresenceErrors"] == (1, "Count", [])
    assert stack.tick()["actions"] == {}  # the window is open, not yet overdue
    stack.advance(20 + 61)
    assert stack.tick()["actions"] == {"graceResolved": 1}
    assert only_events(stack) == [(1, "online", "connected"), (2, "offline", "connection_lost")]


def test_a_checker_whose_clock_is_behind_sends_an_early_grace_message_again(
    stack: PresenceStack, logs: LogReader
) -> None:
    """The grace decision relies on SQS's delay; only an arrival more than 1 s early is sent again."""
    stack.connect(AGENT, "C1")
    stack.disconnect("C1", 1006, "Connection lost")
    stack.advance(15)  # 5 s before the deadline by the checker's clock

    assert stack.deliver(kind="grace")["results"] == {"resent": 1}
    resent = stack.queue.sent[-1]
    assert (resent.body["kind"], resent.delay) == ("grace", 5)
    assert resent.body == stack.queue.sent[-2].body  # same window, same deadline

    stack.advance(4.5)  # within a second of the deadline: decided now
    assert stack.deliver(kind="grace")["results"] == {"offline": 1}
    assert only_events(stack) == [(1, "online", "connected"), (2, "offline", "connection_lost")]


def test_sequence_orders_events_whatever_the_functions_clocks_say(stack: PresenceStack) -> None:
    """since/detectedAt come from different clocks; sequence alone orders an agent's transitions."""
    stack.connect(AGENT, "C1", connected_at=now_ms() + 60_000)  # API Gateway's clock a minute ahead
    stack.disconnect("C1", 1006, "Connection lost", request_time=now_ms() - 60_000)  # ... then behind
    stack.advance(21)
    stack.deliver(kind="grace")
    stack.connect(AGENT, "C2")

    assert [seq for seq, _, _ in only_events(stack)] == [1, 2, 3]


# ---------------------------------------------------------------------------------------------------
# The reconciler's tick
# ---------------------------------------------------------------------------------------------------


def presence_item(agent_id: str, state: str, sequence: int, updated_ago_ms: int, **extra: Any) -> Dict[str, Any]:
    now = now_ms()
    item: Dict[str, Any] = {
        "agentId": {"S": agent_id},
        "state": {"S": state},
        "sequence": {"N": str(sequence)},
        "since": {"N": str(now - 3_600_000)},
        "reason": {"S": "connected" if state == "online" else "client_closed"},
        "updatedAt": {"N": str(now - updated_ago_ms)},
        "format": {"N": "1"},
    }
    item.update(extra)
    return item


def test_the_reconciler_makes_an_agent_left_online_without_connections_offline(
    stack: PresenceStack, logs: LogReader
) -> None:
    stack.presence.put(presence_item(AGENT, "online", 3, 120_000))  # a function failed between two writes
    stack.presence.put(presence_item("agent-fresh", "online", 1, 10_000))  # too recent to judge
    stack.presence.records()  # (written by the test, not transitions to announce)

    result = stack.tick()

    assert result["actions"] == {"reconciled": 1}
    assert stack.presence.state("agent-fresh")["state"] == "online"
    assert only_events(stack) == [(4, "offline", "reconciled")]
    detail = stack.details()[-1]
    assert (detail["abnormal"], detail["previous"]["sequence"]) == (True, 3)


def test_the_reconciler_expires_connections_older_than_the_two_hour_limit(stack: PresenceStack) -> None:
    connections = {"connections": {"SS": ["C-old"]}}
    stack.presence.put(presence_item(AGENT, "online", 5, 3 * 3600 * 1000, **connections))
    stack.presence.records()

    assert stack.tick()["actions"] == {"expired": 1}

    assert only_events(stack) == [(6, "offline", "expired")]


def test_the_census_counts_agents_connections_and_open_windows(stack: PresenceStack, logs: LogReader) -> None:
    stack.connect("agent-a", "A1")
    stack.connect("agent-a", "A2")
    stack.connect("agent-b", "B1")
    stack.disconnect("B1", 1006, "Connection lost")
    stack.presence.put(presence_item("agent-c", "offline", 2, 5000))

    result = stack.tick()

    assert (result["agents"], result["online"], result["connections"], result["pendingOffline"]) == (3, 2, 2, 1)
    line = logs.one("presence census")
    metrics = {name: value for name, (value, _, _) in emf_metrics(line).items()}
    assert metrics == {"AgentsOnline": 2, "AgentConnectionsOpen": 2, "AgentsPendingOffline": 1}


# ---------------------------------------------------------------------------------------------------
# What presence leaves alone
# ---------------------------------------------------------------------------------------------------


def test_a_dashboard_never_touches_presence(stack: PresenceStack, logs: LogReader) -> None:
    stack.runtime()
    from tests.support.events import FakeContext, connect_event

    assert (
        handlers.connect(connect_event("D1", authorizer={"clientType": "dashboard"}), FakeContext())["statusCode"]
        == 200
    )
    stack.disconnect("D1")

    assert stack.queue.sent == []
    assert "presence" not in logs.one("connection removed")
    assert stack.presence.records() == []


def test_a_disconnect_the_registry_never_saw_writes_no_presence(stack: PresenceStack, logs: LogReader) -> None:
    stack.disconnect("never-registered", 1006, "Connection lost")

    assert logs.one("connection already gone")["result"] == "already_gone"
    assert stack.presence.records() == []


def test_an_agent_connected_before_presence_was_enabled_stays_unknown(stack: PresenceStack, logs: LogReader) -> None:
    from tests.support.resources import live_item

    stack.connections.put(live_item("legacy", client_type="agent", agent_id=AGENT))

    stack.disconnect("legacy", 1006, "Connection lost")

    assert logs.one("connection removed")["presence"] == "unknown"
    assert stack.presence.get(AGENT) is None
    assert stack.queue.sent == []


@pytest.mark.usefixtures("no_retry_delay")
def test_a_lost_delete_answer_still_closes_the_connection_of_the_agent_the_authorizer_names(
    stack: PresenceStack, logs: LogReader
) -> None:
    """The retried DeleteItem finds nothing; the $connect authorizer's context (repeated by API Gateway in
    every event of the connection) still names the agent, so its grace window opens all the same."""
    from tests.support.events import FakeContext, disconnect_event
    from tests.support.faults import SendInterceptor, lose_first_delete_response

    stack.connect(AGENT, "C1")
    rt = stack.runtime()
    rt.presence = None
    SendInterceptor(rt.dynamodb, lambda operation, attempt: None, lose_first_delete_response)
    event = disconnect_event("C1", status_code=1006, reason="Connection lost")
    event["requestContext"]["authorizer"] = {"principalId": AGENT, "clientType": "agent", "agentId": AGENT}

    assert handlers.disconnect(event, FakeContext()) == {"statusCode": 200, "body": "disconnected"}

    line = logs.one("connection already gone")
    assert (line["deleteRetried"], line["presence"]) == (True, "grace")
    stack.advance(21)
    stack.deliver(kind="grace")
    assert only_events(stack) == [(1, "online", "connected"), (2, "offline", "connection_lost")]


def test_presence_off_creates_no_client_and_adds_nothing_to_the_lines(aws: None, logs: LogReader) -> None:
    from tests.support.events import FakeContext, connect_event, disconnect_event
    from tests.support.resources import Table

    Table()
    handlers.connect(connect_event("C1", authorizer={"clientType": "agent", "agentId": AGENT}), FakeContext())
    handlers.disconnect(disconnect_event("C1"), FakeContext())

    rt = handlers.runtime()
    assert (rt.presence, rt._clients, rt._probers) == (None, {}, {})
    assert "presence" not in logs.one("connection registered")
    assert "presence" not in logs.one("connection removed")
