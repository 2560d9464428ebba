"""Agent presence and verified identity end to end: examples/local applied with IAM identity on a moto
server; agents are the reference client (examples/agent-client) signing with their role session;
API Gateway's data plane is the local gateway with its 2-hour limit scaled to LIFETIME seconds;
every function runs under AWS's Lambda runtime emulator from the committed zip; the event source
mappings are polled as Lambda would. Each scenario is checked on the presence table, the events
queue (one event per transition, sequences increasing), the functions' log lines and their metrics.
The module ends with a no-change plan and a destroy that leaves nothing.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest
import websockets.exceptions
import websockets.sync.client
from botocore.credentials import Credentials

from scripts.agents import Agent, Midpoint
from scripts.observe import OFFLINE, ONLINE, invocation_logs, messages, metric, wait_until
from scripts.offline import REGION, client
from scripts.sigv4_presign import presign
from tests.e2e.test_lifecycle import ACCOUNT, resources_left
from tests.support.signed_stack import (
    LIFETIME,
    NAME,
    SignedStack,
    delete_role,
    role_with_policy,
    signed_stack,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SignedStack]:
    with signed_stack(tmp_path_factory.mktemp("presence")) as started:
        yield started


def disconnects(stack: SignedStack, agent: Agent) -> List[int]:
    ids = agent.connection_ids(stack.live.gateway.records)
    return [
        int(r.event["requestContext"]["disconnectStatusCode"])
        for r in list(stack.live.gateway.records)
        if r.route_key == "$disconnect" and r.connection_id in ids
    ]


def connect_logs(stack: SignedStack, agent: Agent) -> List[Dict[str, Any]]:
    return invocation_logs(stack.live, agent.connection_ids(stack.live.gateway.records))


def agent_lines(stack: SignedStack, agent: str) -> List[Dict[str, Any]]:
    return [line for line in invocation_logs(stack.live) if line.get("agentId") == agent]


def goes_offline(
    stack: SignedStack, name: str, act: Callable[[Agent], None], **config: Any
) -> Tuple[Agent, Dict[str, Any]]:
    """Bring `name` online, `act` on it, wait for its offline event; the agent and the event's detail."""
    agent = stack.agent(name, **config)
    stack.events.wait_for(name, ONLINE)
    act(agent)
    detail = stack.events.wait_for(name, OFFLINE, timeout=30)["detail"]
    assert stack.presence(name)["state"] == "offline"
    assert stack.presence(name)["reason"] == detail["reason"]
    assert [e["detail"]["sequence"] for e in stack.events.of(name)] == [1, 2]
    return agent, dict(detail)


def test_the_iam_variant_as_applied(stack: SignedStack) -> None:
    """examples/local with connect_identity = "iam": the route is AWS_IAM, the agent and Dashboard roles
    exist with exactly the module's agent policy, the $connect function knows them."""
    out, endpoint = stack.outputs, stack.endpoint
    api = client("apigatewayv2", endpoint)
    routes = {route["RouteKey"]: route for route in api.get_routes(ApiId=out["api_id"])["Items"]}
    assert routes["$connect"]["AuthorizationType"] == "AWS_IAM"
    assert out["connect_identity"] == {"source": "iam", "authorization_type": "AWS_IAM"}
    iam = client("iam", endpoint)
    for role_arn in (out["agent_role_arn"], out["dashboard_role_arn"]):
        role = role_arn.rsplit("/", 1)[1]
        [name] = iam.list_role_policies(RoleName=role)["PolicyNames"]
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        document = json.loads(document) if isinstance(document, str) else document
        assert document == json.loads(out["agent_policy_json"])
    [statement] = json.loads(out["agent_policy_json"])["Statement"]
    assert statement["Resource"] == [
        f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{out['api_id']}/live/$connect",
        f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{out['api_id']}/live/heartbeat",
    ]
    env = out["function_environment"]["connect"]
    assert env["CONNECT_IDENTITY_SOURCE"] == "iam"
    assert env["CONNECT_IAM_AGENT_ROLES"] == out["agent_role_arn"]
    assert env["CONNECT_IAM_DASHBOARD_ROLES"] == out["dashboard_role_arn"]


def test_a_signed_agent_comes_online_under_its_session_name(stack: SignedStack) -> None:
    agent = stack.agent("agent-07")
    event = stack.events.wait_for("agent-07", ONLINE)
    detail = event["detail"]
    assert (event["source"], detail["state"], detail["reason"], detail["sequence"]) == (
        stack.outputs["agent_events"]["source"],
        "online",
        "connected",
        1,
    )
    assert detail["eventId"] == "agent-07/1"
    [cid] = agent.connection_ids(stack.live.gateway.records)
    [item] = [i for i in stack.connections() if i["connectionId"] == cid]
    assert (item["clientType"], item["agentId"]) == ("agent", "agent-07")
    [connect] = [r for r in stack.live.gateway.records if r.route_key == "$connect" and r.connection_id == cid]
    assert connect.event["requestContext"]["identity"]["userArn"].endswith(
        ":assumed-role/" + (stack.outputs["agent_role_arn"].rsplit("/", 1)[1]) + "/agent-07"
    )
    item = stack.presence("agent-07")
    assert (item["state"], item["sequence"], item["connections"]) == ("online", 1, [cid])
    lines = connect_logs(stack, agent)
    assert messages(lines, "agent online")[0]["sequence"] == 1
    assert metric(lines, "AgentWentOnline") == 1


def test_rollover_renewed_before_the_limit_or_back_at_once_after_1001_publishes_nothing(stack: SignedStack) -> None:
    """LIFETIME plays API Gateway's 2 hours. The renewing agent opens its next connection before the
    limit and closes the old one with 1000: never zero connections, no grace window. The other never
    renews: the limit closes it with 1001, it is back at once, inside grace: counted, not announced."""
    renewing = stack.agent("agent-renews")
    plain = stack.agent("agent-limit", renew_after=None)
    for name in ("agent-renews", "agent-limit"):
        stack.events.wait_for(name, ONLINE)
    wait_until(lambda: len(plain.connection_ids(stack.live.gateway.records)) >= 2, LIFETIME + 10)
    wait_until(lambda: len(renewing.connection_ids(stack.live.gateway.records)) >= 2, 10)
    time.sleep(stack.settings.grace + 2)  # an offline would now be announced: it must not be

    assert set(disconnects(stack, renewing)) == {1000}
    assert renewing.lines("renewed")[0]["overlapMs"] > 0
    assert metric(connect_logs(stack, renewing), "ReconnectsWithinGrace") == 0  # no window was opened
    assert disconnects(stack, plain)[0] == 1001
    assert plain.lines("reconnecting at once after 1001")
    assert messages(connect_logs(stack, plain), "agent reconnected within grace")
    assert metric(connect_logs(stack, plain), "ReconnectsWithinGrace") == 1
    for name in ("agent-renews", "agent-limit"):
        assert [e["detail-type"] for e in stack.events.of(name)] == [ONLINE]
        assert (stack.presence(name)["state"], stack.presence(name)["sequence"]) == ("online", 1)
        assert metric(connect_logs(stack, renewing if name == "agent-renews" else plain), "AgentWentOnline") == 1
    # Its one 1001 is the point; left running, it would be closed every LIFETIME for the rest of the module.
    plain.stop()


def test_a_blip_shorter_than_grace_publishes_nothing_and_counts_a_reconnect(stack: SignedStack) -> None:
    """The network drops (TCP reset: the gateway sees 1006) and is back once API Gateway has handled the
    old connection's $disconnect, which opens the grace window; the client's retries (backoff at the
    midpoint of its jitter: 0.25 s, then 0.5 s) come back inside it: counted, not announced."""
    agent = stack.agent("agent-blip", rng=Midpoint())
    stack.events.wait_for("agent-blip", ONLINE)
    [old] = agent.connection_ids(stack.live.gateway.records)
    back = threading.Event()
    agent.cut(until=back)
    assert stack.live.gateway.wait_closed(old).event["requestContext"]["disconnectStatusCode"] == 1006
    back.set()
    wait_until(lambda: len(agent.connection_ids(stack.live.gateway.records)) == 2, 15)
    time.sleep(stack.settings.grace + 2)
    assert agent.lines("reconnect scheduled")[0]["delaySeconds"] == 0.25
    assert messages(connect_logs(stack, agent), "agent reconnected within grace")
    assert metric(connect_logs(stack, agent), "ReconnectsWithinGrace") == 1
    assert [e["detail-type"] for e in stack.events.of("agent-blip")] == [ONLINE]
    assert stack.presence("agent-blip")["connections"] == agent.connection_ids(stack.live.gateway.records)[-1:]


def test_a_silent_host_is_found_by_the_heartbeat_check_within_timeout_plus_seconds(stack: SignedStack) -> None:
    """README promise: offline within heartbeat.timeout_seconds + ~1 s of the last heartbeat (+ SQS delivery)."""
    name = "agent-silent"

    def silence(agent: Agent) -> None:
        agent.silence()

    agent, detail = goes_offline(stack, name, silence, silenceable=True, renew_after=None)
    assert (detail["reason"], detail["abnormal"]) == ("heartbeat_timeout", True)
    silent_for = (detail["detectedAt"] - detail["since"]) / 1000  # since = LastActiveAt
    assert stack.settings.timeout < silent_for <= stack.settings.timeout + 3
    # the checker closed it (DeleteConnection: 1000) and removed the item; the late $disconnect found nothing
    [cid] = agent.connection_ids(stack.live.gateway.records)
    assert cid not in {i["connectionId"] for i in stack.connections()}
    # the gateway waits out the close handshake a silent host never answers before its $disconnect
    closed = stack.live.gateway.wait_closed(cid, timeout=30)
    assert closed.event["requestContext"]["disconnectStatusCode"] == 1000
    lines = agent_lines(stack, name)
    assert metric(lines, "AgentWentOffline", Reason="heartbeat_timeout") == 1
    assert messages(lines, "agent offline")[0]["reason"] == "heartbeat_timeout"


def test_a_clean_close_goes_offline_after_grace_as_client_closed(stack: SignedStack) -> None:
    _, detail = goes_offline(stack, "agent-bye", lambda agent: agent.stop())
    assert (detail["reason"], detail["abnormal"], detail["disconnectStatusCode"]) == ("client_closed", False, 1000)
    assert detail["detectedAt"] - detail["since"] >= (stack.settings.grace - 1) * 1000  # not before grace
    assert metric(agent_lines(stack, "agent-bye"), "AgentWentOffline", Reason="client_closed") == 1


def test_a_crash_goes_offline_after_grace_as_connection_lost(stack: SignedStack) -> None:
    _, detail = goes_offline(stack, "agent-crash", lambda agent: agent.crash())
    assert (detail["reason"], detail["abnormal"], detail["disconnectStatusCode"]) == ("connection_lost", True, 1006)
    assert metric(agent_lines(stack, "agent-crash"), "AgentWentOffline", Reason="connection_lost") == 1


def test_a_lost_disconnect_is_found_gone_by_the_probe(stack: SignedStack) -> None:
    def lose_disconnect(agent: Agent) -> None:
        [cid] = agent.connection_ids(stack.live.gateway.records)
        stack.live.gateway.drop_disconnect.add(cid)  # injected: API Gateway delivers $disconnect best-effort
        agent.stop()

    _, detail = goes_offline(stack, "agent-lost", lose_disconnect)
    assert (detail["reason"], detail["abnormal"]) == ("gone", True)
    assert metric(agent_lines(stack, "agent-lost"), "AgentWentOffline", Reason="gone") == 1


def test_a_blip_longer_than_grace_is_one_offline_then_one_online(stack: SignedStack) -> None:
    """The network stays down past the grace window: one offline (connection_lost), then, once it is
    back and the client's backoff retries get through, one online; sequences 1, 2, 3; nothing counted
    as a reconnect within grace."""
    name = "agent-long-blip"
    agent = stack.agent(name, rng=Midpoint())
    stack.events.wait_for(name, ONLINE)
    [old] = agent.connection_ids(stack.live.gateway.records)
    back = threading.Event()
    agent.cut(until=back)
    assert stack.live.gateway.wait_closed(old).event["requestContext"]["disconnectStatusCode"] == 1006
    offline = stack.events.wait_for(name, OFFLINE, timeout=30)["detail"]
    back.set()
    online = stack.events.wait_for(name, ONLINE, timeout=30)["detail"]
    assert agent.lines("connect failed")  # the client was refused while the network was down
    assert (offline["reason"], offline["abnormal"], offline["disconnectStatusCode"]) == ("connection_lost", True, 1006)
    assert offline["detectedAt"] - offline["since"] >= (stack.settings.grace - 1) * 1000
    assert (online["reason"], online["previous"]["state"], online["previous"]["sequence"]) == (
        "connected",
        "offline",
        2,
    )
    assert [e["detail"]["sequence"] for e in stack.events.of(name)] == [1, 2, 3]
    assert [e["detail-type"] for e in stack.events.of(name)] == [ONLINE, OFFLINE, ONLINE]
    lines = connect_logs(stack, agent)
    assert metric(lines, "ReconnectsWithinGrace") == 0
    assert metric(lines, "AgentWentOnline") == 2
    item = stack.presence(name)
    assert (item["state"], item["sequence"]) == ("online", 3)
    agent.stop()


def test_a_blip_longer_than_grace_whose_disconnect_comes_late_is_one_offline_then_one_online(
    stack: SignedStack,
) -> None:
    """The gateway holds the lost connection's `$disconnect` until the agent is back (functions that scale
    apart, a throttled `$disconnect`): the client's signed `downMs` report on its reconnect tells `$connect`
    it was away longer than the grace: offline (connection_lost, since the loss), online; the late
    `$disconnect` then finds the connection gone from presence and announces nothing."""
    name = "agent-late-close"
    agent = stack.agent(name, rng=Midpoint())
    stack.events.wait_for(name, ONLINE)
    [old] = agent.connection_ids(stack.live.gateway.records)
    gateway = stack.live.gateway
    gateway.hold_disconnect.add(old)
    back = threading.Event()
    [checker] = stack.live.pollers.for_function(f"{NAME}-presence")
    # No probe while the agent is away: with the defaults (heartbeat timeout 75 s, grace 20 s) an agent back
    # within a minute is back before its connection's next probe; here probes run every few seconds.
    with checker.paused():
        lost = time.time() * 1000
        agent.cut(until=back)
        assert gateway.wait_closed(old).note == "held"
        time.sleep(stack.settings.grace + 1)
        assert [e["detail-type"] for e in stack.events.of(name)] == [ONLINE]  # nothing to decide on yet
        back.set()
        wait_until(lambda: len(stack.events.of(name)) >= 3, 30, step=0.1, what="offline and online again")
    late = gateway.release_disconnect(old)

    offline, online = (e["detail"] for e in stack.events.of(name)[1:3])
    assert (offline["reason"], offline["abnormal"], offline["connectionId"]) == ("connection_lost", True, old)
    assert lost - 1000 <= offline["since"] <= lost + 1000  # the loss, as the client measured it
    assert (online["reason"], online["sequence"], online["previous"]["sequence"]) == ("connected", 3, 2)
    [new] = [cid for cid in agent.connection_ids(gateway.records) if cid != old]
    registered = messages(invocation_logs(stack.live, [new]), "connection registered")
    assert registered[0]["downMs"] > stack.settings.grace * 1000
    outcome = [line for line in late.invocation.logs if line.get("connectionId") == old and "presence" in line]
    assert outcome[-1]["presence"] == "still_online"
    time.sleep(2)  # anything announced for the late close would be on the queue by now
    stack.events.collect(wait_seconds=1)
    assert [e["detail"]["sequence"] for e in stack.events.of(name)] == [1, 2, 3]
    assert (stack.presence(name)["state"], stack.presence(name)["sequence"]) == ("online", 3)
    agent.stop()


def test_disconnect_and_sweeper_racing_on_the_last_connection_make_one_offline(stack: SignedStack) -> None:
    """The agent's only connection closes; its `$disconnect` (held back by the gateway, then released)
    and a scheduled sweeper run (its @connections probe finds the connection gone) race to remove it.
    Whoever removes the connection item decides: the other finds nothing. One offline event."""
    name = "agent-race"
    agent = stack.agent(name)
    stack.events.wait_for(name, ONLINE)
    [cid] = agent.connection_ids(stack.live.gateway.records)
    gateway = stack.live.gateway
    gateway.hold_disconnect.add(cid)
    agent.stop()
    assert gateway.wait_closed(cid).note == "held"
    swept: List[Any] = []
    sweeper = threading.Thread(target=lambda: swept.append(stack.live.sweep()))
    sweeper.start()
    late = gateway.release_disconnect(cid)
    sweeper.join(60)
    [sweep] = swept
    assert sweep.error is None, sweep.error
    line = [log for log in late.invocation.logs if log.get("connectionId") == cid and "result" in log][-1]
    detail = stack.events.wait_for(name, OFFLINE, timeout=30)["detail"]
    if line["result"] == "deleted":  # `$disconnect` removed it: the grace window, then client_closed
        assert (line["presence"], detail["reason"]) == ("grace", "client_closed")
    else:  # the sweeper removed it first: gone, at once; `$disconnect` found nothing
        assert (line["result"], sweep.payload["removedGone"], detail["reason"]) == ("already_gone", 1, "gone")
    time.sleep(stack.settings.grace + 2)  # a second offline (the loser's, or the checker's probe) would be in
    assert [e["detail-type"] for e in stack.events.of(name)] == [ONLINE, OFFLINE]
    assert (stack.presence(name)["state"], stack.presence(name)["sequence"]) == ("offline", 2)
    assert metric(agent_lines(stack, name), "AgentWentOffline") == 1


def test_each_transition_is_announced_once_with_increasing_sequences(stack: SignedStack) -> None:
    for _ in range(2):
        agent = stack.agent("agent-cycles")
        stack.events.wait_for("agent-cycles", ONLINE)
        agent.stop()
        stack.events.wait_for("agent-cycles", OFFLINE)
    time.sleep(2)  # anything announced twice would be on the queue by now (the announcer's window: 1 s)
    stack.events.collect(wait_seconds=1)
    assert [e["detail"]["sequence"] for e in stack.events.of("agent-cycles")] == [1, 2, 3, 4]
    assert [e["detail-type"] for e in stack.events.of("agent-cycles")] == [ONLINE, OFFLINE] * 2
    # every agent of the module: one event per transition, none twice, none made up. Agents of earlier
    # tests still run (renewals, 1001s) and a transition may be in flight: wait until each agent's events
    # have caught up with its presence item, read afresh each time.
    for agent_id in stack.presence():

        def caught_up(agent_id: str = agent_id) -> bool:
            item = stack.presence(agent_id)
            sequences = [e["detail"]["sequence"] for e in stack.events.of(agent_id)]
            return sequences == list(range(1, item["sequence"] + 1))

        wait_until(caught_up, 10, what=f"the events of {agent_id} to match its presence item")
        for event in stack.events.of(agent_id):
            previous = event["detail"].get("previous")
            if event["detail"]["sequence"] > 1:
                assert previous["sequence"] == event["detail"]["sequence"] - 1
    events = stack.events.collect()
    assert len({e["detail"]["eventId"] for e in events}) == len(events)
    wait_until(
        lambda: metric(invocation_logs(stack.live), "EventsPublished") == len(stack.events.collect()),
        10,
        what="every published event on the queue",
    )


def test_the_reconciler_census_counts_what_the_table_holds(stack: SignedStack) -> None:
    [tick] = stack.live.tick(stack.outputs["presence_function_name"])
    assert tick.invocation.error is None
    table = stack.presence()
    [census] = messages(tick.invocation.logs, "presence census")
    online = [item for item in table.values() if item["state"] == "online"]
    assert metric([census], "AgentsOnline") == len(online)
    assert metric([census], "AgentConnectionsOpen") == sum(len(item.get("connections", [])) for item in online)


# --- identity: each refusal is 403 with nothing written ---------------------------------------------


REFUSALS = ["wrong-secret", "wrong-region", "expired", "tampered-query", "unknown-principal", "no-invoke-permission"]


@pytest.mark.parametrize("case", REFUSALS)
def test_a_refused_handshake_gets_403_and_writes_nothing(stack: SignedStack, case: str) -> None:
    """Other agents keep renewing meanwhile: what must not exist is anything of this session."""
    gateway, url, region = stack.live.gateway, stack.live.gateway.url, stack.live.gateway.region
    session, role = f"forged-{case}", f"stranger-{case}"  # the role is outside the stack's prefix
    if case in ("unknown-principal", "no-invoke-permission"):
        policy = stack.outputs["agent_policy_json"] if case == "unknown-principal" else None
        principal = stack.live.assume_role(role_with_policy(stack.endpoint, role, policy), session)
    else:
        principal = stack.live.assume_role(stack.outputs["agent_role_arn"], session)
    credentials = principal.credentials
    if case == "wrong-secret":
        credentials = Credentials(principal.access_key_id, "not-the-secret", principal.session_token)
    signing_region = "eu-west-1" if case == "wrong-region" else region
    signed = presign(url, credentials, signing_region, expires=1 if case == "expired" else 60)
    if case == "expired":
        time.sleep(2)
    if case == "tampered-query":
        parts = urllib.parse.urlsplit(signed)
        signed = parts._replace(query=parts.query + "&clientType=dashboard").geturl()

    seen = len(gateway.records)
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        websockets.sync.client.connect(signed, open_timeout=60, user_agent_header=session)
    assert refused.value.response.status_code == 403
    refusals = [r for r in list(gateway.records)[seen:] if r.status == 403]
    if case == "unknown-principal":  # the signature and IAM pass; the $connect function refuses
        [record] = refusals
        assert record.route_key == "$connect"
        assert metric(record.invocation.logs, "RefusedConnects") == 1
        assert messages(record.invocation.logs, "connection refused")
    else:  # the gateway refuses: no function invoked for that connection
        [record] = refusals
        assert record.route_key == "$connect AWS_IAM"
        assert [r for r in gateway.records if r.connection_id == record.connection_id] == [record]
    time.sleep(1)  # other agents keep the event sources busy (renewals): no drain; a write would be in by now
    assert [i for i in stack.connections() if i["connectionId"] == record.connection_id] == []
    assert [i for i in stack.connections() if i.get("agentId") == session] == []
    assert stack.presence(session) is None
    assert stack.events.of(session) == []
    if case in ("unknown-principal", "no-invoke-permission"):
        delete_role(stack.endpoint, role)


# --- the end of the module: the stack converges and goes away -----------------------------------------


def test_no_change_plan_then_destroy_leaves_nothing(stack: SignedStack) -> None:
    stack.stop_live()
    assert stack.terraform.plan_exit_code().returncode == 0, stack.terraform.transcript[-1]
    stack.terraform.destroy()
    assert resources_left(stack.endpoint, NAME) == []
