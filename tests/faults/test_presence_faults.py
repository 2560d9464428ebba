"""Agent presence under injected failures: SendMessage, UpdateItem throttled or failing. Nothing is lost
(the next step, SQS's redelivery or the reconciler, finishes the transition) and no wrong event is
published; then a property test plays random schedules of connects, closes, lost messages and checks
that every agent's events are its transitions, each once, in sequence."""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, List, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from remediation_registry import handlers
from remediation_registry.checker import BatchIncomplete

from tests.support.faults import SendInterceptor, fail_first, throttle_first
from tests.support.logs import LogReader, emf_metrics
from tests.support.presence import PresenceStack, client_error, transitions
from tests.support.servers import FakeConnections

AGENT = "agent-9"


def events_of(stack: PresenceStack, agent_id: str = AGENT) -> List[Tuple[int, str, str]]:
    stack.announce()
    return transitions(stack.details(), agent_id)


@pytest.mark.usefixtures("no_retry_delay")
def test_connect_refuses_the_handshake_when_its_probe_cannot_be_scheduled(
    stack: PresenceStack, logs: LogReader
) -> None:
    stack.queue.fail_sends.append(client_error("SendMessage", "ThrottlingException"))

    response = stack.connect(AGENT, "C1")

    assert response == {"statusCode": 500, "body": "connection refused: agent presence not recorded, try again"}
    line = logs.one("agent presence not recorded")
    assert (line["level"], line["step"], line["result"], line["errorCode"]) == (
        "ERROR",
        "probe",
        "refused",
        "ThrottlingException",
    )
    assert emf_metrics(line)["PresenceErrors"] == (1, "Count", [])
    assert stack.presence.get(AGENT) is None  # no presence without its liveness probe
    assert stack.connections.ids() == {"C1"}  # as for any failed $connect: left to the sweeper
    assert events_of(stack) == []


@pytest.mark.usefixtures("no_retry_delay")
def test_connect_refuses_the_handshake_when_presence_cannot_be_written_and_the_probe_then_ends(
    stack: PresenceStack, connections_api: Tuple[str, FakeConnections], logs: LogReader
) -> None:
    interceptor = SendInterceptor(
        stack.runtime().dynamodb, fail_first("UpdateItem", 99, 500, "InternalServerError", "down")
    )

    assert stack.connect(AGENT, "C1")["statusCode"] == 500
    assert interceptor.attempts["UpdateItem"] == 3  # the SDK's bounded retries, then the refusal
    assert logs.one("agent presence not recorded")["step"] == "online"

    connections_api[1].gone.add("C1")  # the refused handshake never became a connection
    assert stack.deliver(kind="probe")["results"] == {"ended": 1}
    assert events_of(stack) == []


@pytest.mark.usefixtures("no_retry_delay")
def test_connect_throttled_for_a_moment_still_brings_the_agent_online(stack: PresenceStack) -> None:
    SendInterceptor(stack.runtime().dynamodb, throttle_first("UpdateItem", 2))

    assert stack.connect(AGENT, "C1")["statusCode"] == 200

    assert events_of(stack) == [(1, "online", "connected")]


@pytest.mark.usefixtures("no_retry_delay")
def test_a_disconnect_whose_presence_write_fails_still_succeeds_and_the_probe_finishes_the_job(
    stack: PresenceStack, connections_api: Tuple[str, FakeConnections], logs: LogReader
) -> None:
    stack.connect(AGENT, "C1")
    interceptor = SendInterceptor(stack.runtime().dynamodb, throttle_first("UpdateItem", 99))
    stack.runtime().presence = None  # the `$disconnect` function's own presence: the intercepted client
    rt = stack.runtime()

    response = handlers.disconnect(
        {"requestContext": {"connectionId": "C1", "eventType": "DISCONNECT", "disconnectStatusCode": 1006}}
    )

    assert response == {"statusCode": 200, "body": "disconnected"}
    line = logs.one("agent presence not recorded")
    assert (line["level"], line["errorCode"]) == ("ERROR", "ThrottlingException")
    assert logs.one("connection removed")["presence"] == "error"
    assert stack.connections.ids() == set()
    assert stack.presence.state(AGENT)["connections"] == {"C1"}  # presence still lists it...
    interceptor.decide = lambda operation, attempt: None
    rt.presence = None
    connections_api[1].gone.add("C1")
    assert stack.deliver(kind="probe")["results"] == {"gone_wait": 1}  # ... until its probe finds it gone
    stack.advance(20)
    assert stack.deliver(kind="probe")["results"] == {"grace": 1}  # and still listed a grace later
    stack.advance(1)
    assert stack.deliver(kind="grace")["results"] == {"offline": 1}  # and nobody reconnected within grace
    assert events_of(stack) == [(1, "online", "connected"), (2, "offline", "gone")]


@pytest.mark.usefixtures("no_retry_delay")
def test_a_next_probe_that_cannot_be_sent_fails_the_message_which_comes_back(stack: PresenceStack) -> None:
    stack.connect(AGENT, "C1")
    stack.queue.fail_sends.append(client_error("SendMessage", "InternalError", 500))

    assert isinstance(stack.deliver(kind="probe"), BatchIncomplete)
    assert [sent.body["kind"] for sent in stack.queue.sent] == ["probe"]  # none sent
    assert stack.deliver(kind="probe")["results"] == {"alive": 1}  # redelivered: the chain goes on
    assert [sent.body["kind"] for sent in stack.queue.sent] == ["probe", "probe"]
    assert events_of(stack) == [(1, "online", "connected")]


@pytest.mark.usefixtures("no_retry_delay")
def test_a_grace_transition_that_fails_is_retried_by_sqs_and_announced_once(stack: PresenceStack) -> None:
    stack.connect(AGENT, "C1")
    stack.disconnect("C1", 1006, "Connection lost")
    stack.advance(21)
    interceptor = SendInterceptor(stack.runtime().dynamodb, throttle_first("UpdateItem", 99))

    assert isinstance(stack.deliver(kind="grace"), BatchIncomplete)
    assert events_of(stack) == [(1, "online", "connected")]

    interceptor.decide = lambda operation, attempt: None
    assert stack.deliver(kind="grace")["results"] == {"offline": 1}
    assert events_of(stack) == [(1, "online", "connected"), (2, "offline", "connection_lost")]


# ---------------------------------------------------------------------------------------------------
# Random schedules: every transition announced once, in sequence, whatever the order of things
# ---------------------------------------------------------------------------------------------------

CONNECTIONS = ("C1", "C2", "C3")
steps = st.lists(
    st.one_of(
        st.tuples(st.just("connect"), st.sampled_from(CONNECTIONS)),
        st.tuples(st.just("close"), st.sampled_from(CONNECTIONS), st.sampled_from([1000, 1001, 1006])),
        st.tuples(st.just("vanish"), st.sampled_from(CONNECTIONS)),  # its $disconnect is lost
        st.tuples(st.just("time"), st.sampled_from([5, 21, 90])),  # seconds passing (the grace is 20 s)
        st.tuples(st.just("grace"), st.booleans()),  # deliver the grace messages (True: twice)
        st.tuples(st.just("probes"), st.booleans()),
        st.tuples(st.just("tick"), st.booleans()),
        st.tuples(st.just("announce"), st.booleans()),
    ),
    min_size=4,
    max_size=14,
)


def play(stack: PresenceStack, connections: FakeConnections, agent_id: str, schedule: List[Tuple[Any, ...]]) -> None:
    """Run a schedule for one agent; its connection ids are prefixed with the agent's (never reused)."""
    live: Dict[str, bool] = {}
    for kind, *arguments in schedule:
        cid = f"{agent_id}-{arguments[0]}" if kind in ("connect", "close", "vanish") else ""
        if kind == "connect" and cid not in live:
            live[cid] = True
            stack.connect(agent_id, cid)
        elif kind == "close" and live.get(cid):
            live[cid] = False
            connections.gone.add(cid)  # API Gateway forgets a closed connection
            stack.disconnect(cid, arguments[1], "closed")
        elif kind == "vanish" and live.get(cid):
            live[cid] = False
            connections.gone.add(cid)
        elif kind == "time":
            stack.advance(arguments[0])
        elif kind == "grace":
            records = stack.messages("grace")
            stack.deliver(records)
            if arguments[0]:
                stack.deliver(records)  # a duplicate delivery
        elif kind == "probes":
            stack.deliver(kind="probe")
        elif kind == "tick":
            stack.tick()
        elif kind == "announce":
            stack.announce()
    connections.gone.update(live)  # in the end every connection is lost (the probes will find out)


def assert_events_are_the_transitions(stack: PresenceStack, agent_id: str) -> None:
    found = events_of(stack, agent_id)
    assert [sequence for sequence, _, _ in found] == list(range(1, len(found) + 1)), found
    assert [state for _, state, _ in found] == ["online", "offline"] * (len(found) // 2) + ["online"] * (len(found) % 2)
    assert len({json.dumps(d, sort_keys=True) for d in stack.details()}) == len(stack.details())  # no duplicate
    state = stack.presence.state(agent_id)
    if found:
        assert (found[-1][0], found[-1][1]) == (state["sequence"], state["state"])


@pytest.mark.usefixtures("no_retry_delay")
def test_random_schedules_announce_every_transition_once_in_sequence(
    make_stack: Callable[..., PresenceStack], connections_api: Tuple[str, FakeConnections]
) -> None:
    stack = make_stack()
    examples: List[str] = []

    @settings(max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(steps)
    def property_holds(schedule: List[Tuple[Any, ...]]) -> None:
        agent_id = f"agent-random-{len(examples)}"  # one agent per example: the tables are shared
        examples.append(agent_id)
        play(stack, connections_api[1], agent_id, schedule)
        stack.advance(90)  # then everything settles: messages, ticks, the stream announced
        for _ in range(3):  # a probe that finds a connection gone opens a grace window: let it pass too
            stack.deliver(kind="grace")
            stack.deliver(kind="probe")
            stack.advance(21)
            stack.deliver(kind="grace")
            stack.tick()
        assert_events_are_the_transitions(stack, agent_id)
        assert stack.presence.state(agent_id).get("state") in (None, "offline")  # all its connections are gone

    property_holds()
    assert len(examples) >= 12
