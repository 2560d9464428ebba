"""The reference agent client (examples/agent-client) against the local gateway: its heartbeats reach
the MOCK route (no Lambda) and move LastActiveAt; renewal opens the next connection before the old one
closes and before the gateway's lifetime limit; without renewal the limit's 1001 brings it back at
once; a cut connection comes back after a backoff; a SigV4-presigned handshake passes AWS_IAM
`$connect` with the principal's identity and a wrong secret is refused with 403."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Callable, Iterator, List

import pytest
from botocore.credentials import Credentials

from scripts.agents import Agent, ClientConfig, start_agent
from scripts.offline import client
from scripts.ws_credentials import assume_role
from scripts.ws_gateway import Gateway, Record
from tests.support.dataplane import Answer, ScriptedFunction, running_gateway, websocket_api

FAST = ClientConfig(heartbeat_interval=0.2, renew_after=None, backoff_base=0.2, backoff_cap=1, close_timeout=1)


def eventually(condition: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("not within the time allowed")
        time.sleep(0.02)


def records(gateway: Gateway, route_key: str, ids: List[str]) -> List[Record]:
    return [r for r in list(gateway.records) if r.route_key == route_key and r.connection_id in ids]


def disconnect_code(record: Record) -> int:
    return int(record.event["requestContext"]["disconnectStatusCode"])


@pytest.fixture
def fn() -> ScriptedFunction:
    return ScriptedFunction(Answer({"statusCode": 200}, None))


@pytest.fixture
def api(endpoint: str, name: str) -> str:
    return websocket_api(endpoint, name, {"$connect": name, "$disconnect": name, "heartbeat": "MOCK"})


@pytest.fixture
def agents() -> Iterator[List[Agent]]:
    started: List[Agent] = []
    yield started
    for agent in started:
        agent.stop()


def test_heartbeats_reach_the_mock_route_and_move_last_active_at(
    endpoint: str, api: str, fn: ScriptedFunction, agents: List[Agent]
) -> None:
    with running_gateway(endpoint, api, fn, close_timeout=1) as gateway:
        agent = start_agent(gateway.url, "agent-hb", FAST, agent_id="agent-hb")
        agents.append(agent)
        [cid] = agent.connection_ids(gateway.records)
        eventually(lambda: len(records(gateway, "heartbeat", [cid])) >= 3)
        beats = records(gateway, "heartbeat", [cid])
        assert {(r.status, r.note, r.invocation) for r in beats} == {(200, "mock", None)}  # nothing invoked
        assert {r.event["body"] for r in beats} == {json.dumps({"action": "heartbeat"}, separators=(",", ":"))}
        assert gateway.stats[cid].invocations == {"$connect": 1}
        got = client("apigatewaymanagementapi", gateway.connections_api.endpoint).get_connection(ConnectionId=cid)
        assert isinstance(got["LastActiveAt"], datetime)
        assert got["LastActiveAt"] > got["ConnectedAt"]
        agent.stop()
        [closed] = records(gateway, "$disconnect", [cid]) or [gateway.wait_closed(cid)]
        assert disconnect_code(closed) == 1000


def test_renewal_overlaps_and_beats_the_lifetime_limit_which_without_it_closes_with_1001(
    endpoint: str, api: str, fn: ScriptedFunction, agents: List[Agent]
) -> None:
    """Gateway lifetime scaled to 2 s. One agent renews at 1.2 s (make-before-break: its next connection
    is accepted before the old one's $disconnect, which is a 1000, never the limit's 1001); the other
    never renews: the limit closes it with 1001 and it is back with no backoff wait."""
    with running_gateway(endpoint, api, fn, close_timeout=1, max_lifetime=2) as gateway:
        renewing = start_agent(
            gateway.url, "renewing", ClientConfig(**{**vars(FAST), "renew_after": 1.2, "renew_jitter": 0})
        )
        plain = start_agent(gateway.url, "plain", FAST)
        agents += [renewing, plain]
        eventually(lambda: len(renewing.connection_ids(gateway.records)) >= 3)
        eventually(lambda: len(plain.connection_ids(gateway.records)) >= 2)
        renewing.stop()
        plain.stop()

        ids = renewing.connection_ids(gateway.records)
        order = [(r.route_key, r.connection_id) for r in list(gateway.records) if r.connection_id in ids]
        for old, new in zip(ids, ids[1:]):
            assert order.index(("$connect", new)) < order.index(("$disconnect", old)), "make-before-break"
        assert {disconnect_code(r) for r in records(gateway, "$disconnect", ids)} == {1000}
        assert [line["overlapMs"] > 0 for line in renewing.lines("renewed")] == [True] * (len(ids) - 1)

        first = plain.connection_ids(gateway.records)[0]
        assert disconnect_code(records(gateway, "$disconnect", [first])[0]) == 1001
        assert plain.lines("reconnecting at once after 1001")
        assert plain.lines("reconnect scheduled") == []
        assert plain.links[1].purpose == "reconnect"


def test_a_cut_connection_comes_back_after_a_backoff(
    endpoint: str, api: str, fn: ScriptedFunction, agents: List[Agent]
) -> None:
    with running_gateway(endpoint, api, fn, close_timeout=1) as gateway:
        agent = start_agent(gateway.url, "agent-cut", FAST, agent_id="agent-cut")
        agents.append(agent)
        [first] = agent.connection_ids(gateway.records)
        agent.cut()
        assert disconnect_code(gateway.wait_closed(first)) == 1006
        eventually(lambda: len(agent.connection_ids(gateway.records)) == 2)
        [scheduled] = agent.lines("reconnect scheduled")
        assert 0 <= scheduled["delaySeconds"] <= FAST.backoff_base  # full jitter below the first ceiling
        assert agent.links[0].closed_by == "network"


def test_a_presigned_handshake_passes_aws_iam_and_a_wrong_secret_gets_403(
    endpoint: str, name: str, fn: ScriptedFunction, agents: List[Agent]
) -> None:
    api = websocket_api(
        endpoint, name, {"$connect": name, "$disconnect": name, "heartbeat": "MOCK"}, connect_authorization="AWS_IAM"
    )
    iam = client("iam", endpoint)
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    statement = {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": f"arn:aws:execute-api:*:*:{api}/*"}
    iam.put_role_policy(
        RoleName=name,
        PolicyName="connect",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statement}),
    )
    with running_gateway(endpoint, api, fn, close_timeout=1) as gateway:
        principal = assume_role(gateway.credentials, endpoint, role, "agent-07")
        signed = start_agent(gateway.url, "signed", FAST, principal=principal, silenceable=True)
        agents.append(signed)
        [cid] = signed.connection_ids(gateway.records)
        [connect] = records(gateway, "$connect", [cid])
        assert connect.event["requestContext"]["identity"]["userArn"] == principal.arn
        assert "X-Amz-Signature" not in json.dumps(signed.lines())  # the presigned query is never logged

        forged = Credentials(principal.access_key_id, "not-the-secret", principal.session_token)
        before = len(fn.events())
        wrong = start_agent(gateway.url, "forged", FAST, credentials=forged, wait=False)
        agents.append(wrong)
        eventually(lambda: len(wrong.lines("connect refused")) >= 2)
        assert {line["httpStatus"] for line in wrong.lines("connect refused")} == {403}
        assert wrong.links == []
        assert len(fn.events()) == before  # the gateway refused it: nothing invoked
        for agent in agents:  # before the gateway goes: a silenceable agent would reconnect through a relay
            agent.stop()
