"""The presence transitions themselves: exactly once under races, and invalid items (spec sections 2, 7).

Races are played deterministically: Interleaved runs another function's whole call just before one of
this call's requests, as two Lambda invocations could interleave them.
"""

from __future__ import annotations

from typing import Any, Dict, List

import pytest
from remediation_registry.presence import store as outcomes
from remediation_registry.presence.store import PresenceStore
from remediation_registry.presence.transitions import Contended, Transitions

from tests.support.events import now_ms
from tests.support.fakes import Interleaved
from tests.support.logs import LogReader, emf_metrics
from tests.support.presence import PRESENCE_TABLE, PresenceStack, PresenceTable

AGENT = "agent-7"
DETAIL = {"connectionId": "C1", "apiId": "abc123", "stage": "live"}


@pytest.fixture
def table(aws: None) -> PresenceTable:
    return PresenceTable()


def transitions_on(table: PresenceTable, client: Any = None) -> Transitions:
    return Transitions(client or table.client, PRESENCE_TABLE)


def online_with(table: PresenceTable, *connections: str) -> Transitions:
    store = transitions_on(table)
    for connection_id in connections:
        store.connected(AGENT, connection_id, now_ms(), DETAIL)
    return store


def close(store: PresenceStore, connection_id: str, grace_ms: int = 20_000) -> outcomes.Outcome:
    return store.closed(AGENT, connection_id, "connection_lost", now_ms(), {"connectionId": connection_id}, grace_ms)


# ---------------------------------------------------------------------------------------------------
# T1: online
# ---------------------------------------------------------------------------------------------------


def test_the_first_connection_is_the_online_transition_and_the_next_ones_join(table: PresenceTable) -> None:
    store = transitions_on(table)

    first = store.connected(AGENT, "C1", 1000, DETAIL)
    second = store.connected(AGENT, "C2", 2000, DETAIL)

    assert (first.kind, first.sequence, second.kind, second.reconnect) == ("online", 1, "joined", False)
    assert table.state(AGENT) == {
        "state": "online",
        "reason": "connected",
        "sequence": 1,
        "since": 1000,
        "updatedAt": table.state(AGENT)["updatedAt"],
        "connections": {"C1", "C2"},
        "pending": False,
    }


def test_a_concurrent_connect_bringing_the_agent_online_first_makes_this_one_join(table: PresenceTable) -> None:
    """b fails (offline), the other connect makes the transition, a fails (online), b again: joined."""
    other = transitions_on(table)

    def other_connects(operation: str, count: int, request: Dict[str, Any]) -> None:
        if operation == "update_item" and count == 2:
            other.connected(AGENT, "C-other", 1000, DETAIL)

    outcome = transitions_on(table, Interleaved(table.client, other_connects)).connected(AGENT, "C1", 1001, DETAIL)

    assert outcome.kind == "joined"
    assert (table.state(AGENT)["sequence"], table.state(AGENT)["connections"]) == (1, {"C-other", "C1"})


def test_three_lost_rounds_raise_contended(table: PresenceTable) -> None:
    def flip(operation: str, count: int, request: Dict[str, Any]) -> None:
        state = "online" if count % 2 == 0 else "offline"  # always the state the next write does not expect
        table.put({"agentId": {"S": AGENT}, "state": {"S": state}, "sequence": {"N": "4"}})

    with pytest.raises(Contended):
        transitions_on(table, Interleaved(table.client, flip)).connected(AGENT, "C1", 1000, DETAIL)


# ---------------------------------------------------------------------------------------------------
# T2: the last connection closes
# ---------------------------------------------------------------------------------------------------


def test_two_concurrent_closes_of_an_agents_two_connections_open_exactly_one_window(table: PresenceTable) -> None:
    """Both first writes fail (two members); both second writes remove their member; the one that empties
    the set opens the window."""
    online_with(table, "C1", "C2")
    results: List[outcomes.Outcome] = []

    def other_closes(operation: str, count: int, request: Dict[str, Any]) -> None:
        if operation == "update_item" and count == 2:  # after C1's first write failed, before its second
            results.append(close(PresenceStore(table.client, PRESENCE_TABLE), "C2"))

    results.append(close(PresenceStore(Interleaved(table.client, other_closes), PRESENCE_TABLE), "C1"))

    assert sorted(result.kind for result in results) == ["grace", "still_online"]
    state = table.state(AGENT)
    assert (state["state"], state["connections"], state["pending"], state["sequence"]) == ("online", set(), True, 1)


def test_two_concurrent_closes_with_grace_zero_make_exactly_one_offline_transition(table: PresenceTable) -> None:
    online_with(table, "C1", "C2")
    results: List[outcomes.Outcome] = []

    def other_closes(operation: str, count: int, request: Dict[str, Any]) -> None:
        if operation == "update_item" and count == 2:
            results.append(close(PresenceStore(table.client, PRESENCE_TABLE), "C2", grace_ms=0))

    results.append(close(PresenceStore(Interleaved(table.client, other_closes), PRESENCE_TABLE), "C1", grace_ms=0))

    assert sorted(result.kind for result in results) == ["offline", "still_online"]
    assert (table.state(AGENT)["state"], table.state(AGENT)["sequence"]) == ("offline", 2)


def test_closing_a_connection_presence_does_not_list_changes_nothing_more(table: PresenceTable) -> None:
    online_with(table, "C1")

    assert close(PresenceStore(table.client, PRESENCE_TABLE), "C-unknown").kind == "still_online"
    assert close(PresenceStore(table.client, PRESENCE_TABLE), "C1").kind == "grace"
    assert close(PresenceStore(table.client, PRESENCE_TABLE), "C1").kind == "pending"  # a duplicate $disconnect


def test_an_agent_presence_never_saw_is_left_alone(table: PresenceTable) -> None:
    assert close(PresenceStore(table.client, PRESENCE_TABLE), "C1").kind == "unknown"
    assert table.get(AGENT) is None


def test_a_connect_past_the_grace_racing_the_checker_makes_one_offline_then_goes_online(table: PresenceTable) -> None:
    """T1 finds the window over by API Gateway's stamps; the checker's T3 for that window runs between T1's
    failed join and T1's own T3: one offline transition (the checker's), then T1's online one."""
    store = online_with(table, "C1")
    window = close(store, "C1")
    closed = int(window.since or 0)

    def checker_ends_the_window(operation: str, count: int, request: Dict[str, Any]) -> None:
        if operation == "update_item" and count == 2:
            assert store.grace_expired(AGENT, str(window.token)).kind == "offline"

    racing = transitions_on(table, Interleaved(table.client, checker_ends_the_window))
    outcome = racing.connected(AGENT, "C2", closed + 20_001, DETAIL, grace_ms=20_000)

    assert (outcome.kind, outcome.sequence, outcome.expired.kind) == ("online", 3, "superseded")
    state = table.state(AGENT)
    assert (state["state"], state["sequence"], state["since"], state["connections"]) == (
        "online",
        3,
        closed + 20_001,
        {"C2"},
    )


def test_a_connect_at_the_end_of_the_grace_joins_and_one_after_it_does_not(table: PresenceTable) -> None:
    store = online_with(table, "C1")
    closed = int(close(store, "C1").since or 0)

    joined = store.connected(AGENT, "C2", closed + 20_000, DETAIL, grace_ms=20_000)
    close(store, "C2")
    reopened = table.client.get_item(TableName=PRESENCE_TABLE, Key={"agentId": {"S": AGENT}})["Item"]
    second = int(reopened["pending"]["M"]["since"]["N"])
    back = store.connected(AGENT, "C3", second + 20_001, DETAIL, grace_ms=20_000)

    assert (joined.kind, joined.reconnect, joined.expired) == ("joined", True, None)
    assert (back.kind, back.sequence, back.expired.kind, back.expired.sequence) == ("online", 3, "offline", 2)
    assert back.expired.since == second


def test_a_client_back_after_the_grace_with_its_disconnect_late_makes_one_offline_then_goes_online(
    table: PresenceTable,
) -> None:
    """T5: C1's `$disconnect` has not come (late or lost), so presence still lists C1 with no window; the
    agent's client reports on C2's `$connect` that it had no connection for 30 s (grace 20 s): offline
    since C1 was lost (connection_lost), then online; C1's `$disconnect`, when it comes, changes nothing."""
    store = transitions_on(table)
    store.connected(AGENT, "C1", 1_000, DETAIL)

    back = store.connected(AGENT, "C2", 100_000, DETAIL, grace_ms=20_000, down_ms=30_000)
    late = store.closed(AGENT, "C1", "connection_lost", 71_000, {"connectionId": "C1"}, 20_000)

    assert (back.kind, back.sequence, back.since) == ("online", 3, 100_000)
    lost = back.expired
    assert (lost.kind, lost.sequence, lost.reason, lost.since, lost.event) == (
        "offline",
        2,
        "connection_lost",
        70_000,
        {"connectionId": "C1"},
    )
    assert late.kind == "still_online"
    state = table.state(AGENT)
    assert (state["state"], state["sequence"], state["since"], state["connections"]) == ("online", 3, 100_000, {"C2"})


def test_the_offline_a_client_reports_is_recorded_with_the_lost_connection_and_the_report(
    table: PresenceTable,
) -> None:
    store = transitions_on(table)
    store.connected(AGENT, "C1", 1_000, DETAIL)
    seen: List[Dict[str, Any]] = []

    def offline_image(operation: str, count: int, request: Dict[str, Any]) -> None:
        if operation == "update_item" and count == 3:  # after the refused join and T5
            seen.append(table.client.get_item(TableName=PRESENCE_TABLE, Key={"agentId": {"S": AGENT}})["Item"])

    watched = transitions_on(table, Interleaved(table.client, offline_image))
    watched.connected(AGENT, "C2", 100_000, {**DETAIL, "connectionId": "C2"}, grace_ms=20_000, down_ms=30_000)

    [item] = seen
    assert (item["state"]["S"], item["reason"]["S"], item["since"]["N"]) == ("offline", "connection_lost", "70000")
    assert "connections" not in item
    assert "pending" not in item
    event = item["event"]["M"]
    assert (event["connectionId"]["S"], event["abnormal"]["BOOL"]) == ("C1", True)
    assert "downMs" in event["disconnectReason"]["S"]


@pytest.mark.parametrize(
    ("down_ms", "why"),
    [
        (20_000, "not longer than the grace: a blip"),
        (None, "no report (an older client)"),
        (150_000, "lost before the listed connection came: it is not the one the client lost"),
    ],
)
def test_a_report_that_does_not_prove_a_gap_joins_without_any_transition(
    table: PresenceTable, down_ms: Any, why: str
) -> None:
    store = transitions_on(table)
    store.connected(AGENT, "C1", 1_000, DETAIL)

    back = store.connected(AGENT, "C2", 100_000, DETAIL, grace_ms=20_000, down_ms=down_ms)

    assert (back.kind, back.expired) == ("joined", None), why
    state = table.state(AGENT)
    assert (state["sequence"], state["connections"]) == (1, {"C1", "C2"}), why


def test_an_open_window_is_decided_by_the_gateways_stamps_not_by_the_clients_report(table: PresenceTable) -> None:
    """C1's `$disconnect` came (window open, close stamped at 90 s): reconnecting 10 s after that stamp is
    within the grace, whatever the client says about its own outage."""
    store = transitions_on(table)
    store.connected(AGENT, "C1", 1_000, DETAIL)
    store.closed(AGENT, "C1", "connection_lost", 90_000, {"connectionId": "C1"}, 20_000)

    back = store.connected(AGENT, "C2", 100_000, DETAIL, grace_ms=20_000, down_ms=30_000)

    assert (back.kind, back.reconnect, back.expired) == ("joined", True, None)
    assert table.state(AGENT)["sequence"] == 1


@pytest.mark.parametrize(("down_ms", "expected"), [(30_000, ("online", 3, "offline")), (5_000, ("joined", None, None))])
def test_a_window_the_probe_opened_is_over_for_a_report_past_the_grace_and_joined_for_a_short_one(
    table: PresenceTable, down_ms: int, expected: Any
) -> None:
    """The checker found C1 gone a grace ago and opened a window from then (reason gone, no close stamp):
    a client away longer than the grace by its own report does not join it (T3, then online); a client
    back within the grace does."""
    store = transitions_on(table)
    store.connected(AGENT, "C1", 1_000, DETAIL)
    store.closed(AGENT, "C1", "gone", 60_000, {"connectionId": "C1"}, 20_000, start=95_000)  # lost: gone at 95 s

    back = store.connected(AGENT, "C2", 100_000, DETAIL, grace_ms=20_000, down_ms=down_ms)

    assert (back.kind, back.sequence, back.expired and back.expired.kind) == expected
    if back.expired is not None:
        assert (back.expired.reason, back.expired.since) == ("gone", 60_000)
    assert table.state(AGENT)["connections"] == {"C2"}


def test_a_report_racing_the_late_disconnect_makes_one_offline(table: PresenceTable) -> None:
    """C1's `$disconnect` lands between C2's refused join and its T5: T5's condition fails (the item
    changed), C2 sees the window the `$disconnect` opened, over by its stamp, and closes it (T3) instead:
    still one offline transition, then online."""
    store = transitions_on(table)
    store.connected(AGENT, "C1", 1_000, DETAIL)

    def disconnect_lands(operation: str, count: int, request: Dict[str, Any]) -> None:
        if operation == "update_item" and count == 2:
            store.closed(AGENT, "C1", "connection_lost", 71_000, {"connectionId": "C1"}, 20_000)

    racing = transitions_on(table, Interleaved(table.client, disconnect_lands))
    back = racing.connected(AGENT, "C2", 100_000, DETAIL, grace_ms=20_000, down_ms=30_000)

    assert (back.kind, back.sequence) == ("online", 3)
    assert (back.expired.kind, back.expired.since, back.expired.reason) == ("offline", 71_000, "connection_lost")
    state = table.state(AGENT)
    assert (state["state"], state["sequence"], state["connections"]) == ("online", 3, {"C2"})


# ---------------------------------------------------------------------------------------------------
# T3 and T4
# ---------------------------------------------------------------------------------------------------


def test_a_grace_message_for_another_window_is_superseded(table: PresenceTable) -> None:
    store = online_with(table, "C1")
    window = close(store, "C1")

    assert store.grace_expired(AGENT, "not-" + str(window.token)).kind == "superseded"
    done = store.grace_expired(AGENT, str(window.token))
    assert (done.kind, done.sequence, done.reason) == ("offline", 2, "connection_lost")
    assert store.grace_expired(AGENT, str(window.token)).kind == "superseded"


def test_a_dead_connection_that_is_no_longer_a_member_leaves_the_open_window_alone(table: PresenceTable) -> None:
    store = online_with(table, "C1")
    close(store, "C1")

    assert store.dead(AGENT, "C0", "expired", 1000, {}).kind == "pending"
    assert table.state(AGENT)["pending"]
    # ... unless the checker closed the connection itself (heartbeat timeout: its `$disconnect` opened it).
    assert store.dead(AGENT, "C1", "heartbeat_timeout", 1000, {}, preempt=True).kind == "offline"
    assert (table.state(AGENT)["reason"], table.state(AGENT)["pending"]) == ("heartbeat_timeout", False)


def test_a_dead_member_makes_the_agent_offline_once(table: PresenceTable) -> None:
    store = online_with(table, "C1", "C2")

    assert store.dead(AGENT, "C1", "gone", 1000, {}).kind == "still_online"
    assert store.dead(AGENT, "C2", "gone", 2000, {}).kind == "offline"
    assert store.dead(AGENT, "C2", "gone", 2000, {}).kind == "not_online"
    assert (table.state(AGENT)["sequence"], table.state(AGENT)["since"]) == (2, 2000)


# ---------------------------------------------------------------------------------------------------
# Invalid items (spec section 7): log, count, repair conditionally; sequence keeps growing
# ---------------------------------------------------------------------------------------------------


def invalid(**attributes: Dict[str, Any]) -> Dict[str, Any]:
    item: Dict[str, Any] = {"agentId": {"S": AGENT}, "state": {"S": "offline"}, "sequence": {"N": "7"}}
    item.update(attributes)
    return {name: value for name, value in item.items() if value}


@pytest.mark.parametrize(
    ("item", "attribute"),
    [
        (invalid(sequence={"S": "7"}), "sequence"),
        (invalid(state={"S": "zombie"}), "state"),
        (invalid(state={"N": "1"}), "state"),
        (invalid(connections={"L": [{"S": "C0"}]}), "connections"),
        (invalid(pending={"S": "soon"}, state={"S": "online"}), "pending"),
        (invalid(connections={"S": "C0"}, state={"S": "online"}), "connections"),
        (invalid(format={"N": "2"}), "format"),
    ],
    ids=[
        "sequence-text",
        "unknown-state",
        "state-number",
        "connections-list",
        "pending-text",
        "connections-text",
        "format-2",
    ],
)
def test_a_connect_repairs_an_invalid_item_online_with_a_larger_sequence(
    table: PresenceTable, item: Dict[str, Any], attribute: str
) -> None:
    table.put(item)
    before = now_ms()

    outcome = transitions_on(table).connected(AGENT, "C1", 1000, DETAIL)

    if attribute == "format":  # a valid item of another format is simply brought online (format 1)
        assert (outcome.kind, outcome.sequence) == ("online", 8)
        return
    assert (outcome.kind, outcome.invalid, outcome.state) == ("repaired", attribute, "online")
    state = table.state(AGENT)
    assert (state["state"], state["connections"], state["reason"]) == ("online", {"C1"}, "connected")
    assert state["sequence"] >= before  # max(previous + 1, now): it only grows


def test_a_disconnect_changes_nothing_on_an_invalid_item_and_the_reconciler_repairs_it(
    stack: PresenceStack, logs: LogReader
) -> None:
    """`$disconnect`'s package stays under 16 KiB: its type-guarded writes fail on an invalid item and change
    nothing; the reconciler (every minute) logs the item and repairs it."""
    stack.connect(AGENT, "C1")
    item = stack.presence.get(AGENT)
    assert item is not None
    stack.presence.put({**item, "connections": {"S": "C1"}})  # written by hand: a string, not a set
    stack.presence.records()

    stack.disconnect("C1", 1006, "Connection lost")

    assert logs.one("connection removed")["presence"] == "superseded"
    assert stack.presence.get(AGENT) == {**item, "connections": {"S": "C1"}}

    result = stack.tick()

    assert result["actions"] == {"repaired": 1}
    line = logs.one("presence item invalid")
    assert (line["level"], line["agentId"], line["attribute"], line["repairedTo"]) == (
        "ERROR",
        AGENT,
        "connections",
        "offline",
    )
    assert emf_metrics(line)["InvalidPresenceItems"] == (1, "Count", [])
    stack.announce()
    [repaired] = [detail for detail in stack.details() if detail["sequence"] > 1]
    assert (repaired["state"], repaired["reason"], repaired["abnormal"]) == ("offline", "reconciled", True)
    assert repaired["previous"] is None  # the invalid item's past is not made up


def test_a_sweep_repairs_an_item_in_an_unknown_state_offline(stack: PresenceStack, logs: LogReader) -> None:
    from remediation_registry import handlers

    stack.connect(AGENT, "C1", connected_at=now_ms() - 3 * 3600 * 1000)
    item = stack.presence.get(AGENT)
    assert item is not None
    stack.presence.put({**item, "state": {"S": "zombie"}})

    handlers.sweep({"detail-type": "Scheduled Event"})

    state = stack.presence.state(AGENT)
    assert (state["state"], state["reason"], state["connections"]) == ("offline", "reconciled", set())
    assert logs.one("presence item invalid")["attribute"] == "state"
    assert logs.one("agent offline")["reason"] == "reconciled"


def test_a_repair_never_overwrites_an_item_changed_since_it_was_read(table: PresenceTable, logs: LogReader) -> None:
    table.put(invalid(sequence={"S": "7"}))

    def someone_writes(operation: str, count: int, request: Dict[str, Any]) -> None:
        if operation == "put_item":
            table.put(invalid(sequence={"S": "8"}))

    outcome = transitions_on(table, Interleaved(table.client, someone_writes)).connected(AGENT, "C1", 1000, DETAIL)

    assert (outcome.kind, outcome.invalid) == ("superseded", "sequence")
    assert table.get(AGENT) == invalid(sequence={"S": "8"})


def test_a_repair_keeps_the_announcers_mark(table: PresenceTable) -> None:
    table.put(invalid(sequence={"S": "7"}, announced={"N": "6"}))

    transitions_on(table).connected(AGENT, "C1", 1000, DETAIL)

    assert table.state(AGENT)["announced"] == 6
