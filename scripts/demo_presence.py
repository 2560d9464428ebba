"""`make demo`, the presence and identity story: agents that are the reference client
(examples/agent-client) sign `$connect` with their role session, come online, roll over, blip, go
silent, close, crash and lose a `$disconnect`, on examples/local's seconds-scale presence settings and
a local gateway whose limits are scaled down. Every figure printed is measured in this run.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from typing import Any, Callable, Dict, List, NamedTuple, Optional

from botocore.credentials import Credentials
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from scripts.agents import Agent, ClientConfig, Midpoint, start_agent
from scripts.live_stack import Stack
from scripts.observe import OFFLINE, ONLINE, Events, Settings, invocation_logs, messages, metric, wait_until
from scripts.offline import scan_table
from scripts.sigv4_presign import presign

Say = Callable[[str], None]
WITHIN_GRACE = "agent reconnected within grace"
# The liveness check of a connection is due 1 s after its heartbeat timeout, its SQS delay rounded up to
# whole seconds: one check period is 1 to 2 s; then SQS delivery and the checker's run (README: typically
# under a second).
CHECK_PERIOD = 2.0  # seconds
DELIVERY = 1.0  # seconds


class Limits(NamedTuple):
    """The local gateway's stand-ins for API Gateway's limits, and the client's renewal, scaled down."""

    lifetime: float  # seconds (API Gateway: 7,200 s)
    idle: float  # seconds (API Gateway: 600 s)
    renew_after: float  # seconds (the client contract: 6,900 s, 1 h 55 min)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def sec(seconds: float) -> str:
    return f"{seconds:.1f} s"


class Story:
    def __init__(self, stack: Stack, limits: Limits, say: Say, banner: Say) -> None:
        self.stack, self.limits, self.say, self.banner = stack, limits, say, banner
        self.out = stack.outputs
        self.settings = Settings.of(self.out)
        self.events = Events(stack)
        self.agents: Dict[str, Agent] = {}
        self.silenced = 0.0  # epoch seconds
        self.table_offline = 0.0

    # --- helpers --------------------------------------------------------------------------------------

    def start(
        self,
        name: str,
        role: str = "agent_role_arn",
        *,
        silenceable: bool = False,
        rng: Optional[random.Random] = None,
        **config: Any,
    ) -> Agent:
        """The reference client as `name`: the role assumed with `name` as session name (moto STS)."""
        principal = self.stack.assume_role(self.out[role], name)
        base = ClientConfig(
            heartbeat_interval=self.settings.interval,
            renew_after=self.limits.renew_after,
            renew_jitter=0,
            close_timeout=1,
        )
        agent = start_agent(
            self.stack.gateway.url,
            name,
            dataclasses.replace(base, **config),
            principal=principal,
            silenceable=silenceable,
            rng=rng,
        )
        self.agents[name] = agent
        return agent

    def ids(self, agent: Agent) -> List[str]:
        return agent.connection_ids(self.stack.gateway.records)

    def records(self, agent: Agent, route: str) -> List[Any]:
        ids = self.ids(agent)
        return [r for r in list(self.stack.gateway.records) if r.route_key == route and r.connection_id in ids]

    def close_codes(self, agent: Agent) -> List[int]:
        return [int(r.event["requestContext"]["disconnectStatusCode"]) for r in self.records(agent, "$disconnect")]

    def within_grace(self, agent: Agent) -> int:
        return len(messages(invocation_logs(self.stack, self.ids(agent)), WITHIN_GRACE))

    def later_events(self, name: str) -> int:
        return len(self.events.of(name)) - 1

    def connections(self) -> int:
        return len(scan_table(self.out["table_name"], self.stack.endpoint))

    def presence_table(self, title: str) -> None:
        table = self.stack.presence()
        self.say(f"\n  {title} ({len(table)} agent(s))")
        row = "    {:<10} {:<8} {:>8}  {:<17} {:>11}  {}"
        self.say(row.format("agentId", "state", "sequence", "reason", "connections", "since (epoch ms)"))
        for agent_id, item in sorted(table.items()):
            connections = len(item.get("connections") or [])
            line = row.format(agent_id, item["state"], item["sequence"], item["reason"], connections, item["since"])
            self.say(line + ("  grace window open" if item.get("pending") else ""))

    # --- 3. identity ----------------------------------------------------------------------------------

    def identity(self) -> None:
        self.banner("3. Verified identity: each client signs $connect with its role session (SigV4, execute-api)")
        say, out = self.say, self.out
        say("  credentials: moto STS AssumeRole (emulator), registered in the stand-in gateway's key store")
        dashboard = self.start("dashboard", role="dashboard_role_arn")
        [record] = self.records(dashboard, "$connect")
        role = out["dashboard_role_arn"].rsplit("/", 1)[1]
        say(f"  Dashboard  assumes {role} -> $connect {record.status}, registered as clientType 'dashboard'")
        agent = self.start("agent-07")
        [record] = self.records(agent, "$connect")
        [item] = [
            i for i in scan_table(out["table_name"], self.stack.endpoint) if i["connectionId"] == record.connection_id
        ]
        role = out["agent_role_arn"].rsplit("/", 1)[1]
        say(f"  agent-07   assumes {role} as session 'agent-07' -> $connect {record.status}")
        say(f"             requestContext.identity.userArn {record.event['requestContext']['identity']['userArn']}")
        say(
            f"             connection item: clientType {item['clientType']!r},"
            f" agentId {item['agentId']!r} (the session)"
        )
        online = self.events.wait_for("agent-07", ONLINE)
        detail = online["detail"]
        took = self.events.arrival(online) - agent.links[0].opened_at
        say(
            f"  online: event {online['detail-type']!r}: agentId {detail['agentId']}, sequence {detail['sequence']},"
            f" reason {detail['reason']!r}, eventId {detail['eventId']!r}; on the demo's queue {ms(took)} after"
            " the handshake"
        )
        self.forged()

    def forged(self) -> None:
        say, gateway = self.say, self.stack.gateway
        principal = self.stack.assume_role(self.out["agent_role_arn"], "agent-forged")
        wrong = Credentials(principal.access_key_id, "not-the-secret", principal.session_token)
        tampered = presign(gateway.url, principal.credentials, gateway.region) + "&clientType=dashboard"
        before = self.connections()
        for what, url in (
            ("agent-forged's key id with a wrong secret", presign(gateway.url, wrong, gateway.region)),
            ("a valid signature, the query changed after signing", tampered),
        ):
            seen = len(gateway.records)
            try:
                connect(url, open_timeout=30).close()
                status = 101
            except InvalidStatus as exc:
                status = exc.response.status_code
            new = list(gateway.records)[seen:]
            refusal = next((r.note for r in new if r.status == 403), "-")
            invoked = len([r for r in new if r.invocation is not None and r.route_key == "$connect"])
            say(f"  forged: {what} -> HTTP {status}")
            say(f"      the stand-in gateway's log: {refusal!r}; functions invoked: {invoked}")
        time.sleep(1)
        present = "agent-forged" in self.stack.presence()
        say(
            f"      nothing written: connections table {before} -> {self.connections()} item(s); presence item for"
            f" 'agent-forged': {'PRESENT' if present else 'none'}; its events: {len(self.events.of('agent-forged'))}"
        )

    # --- 4. the fleet -----------------------------------------------------------------------------------

    def fleet(self) -> None:
        self.banner("4. More agents come online (each one event, sequence 1); the presence table before")
        self.start("agent-12", renew_after=None)
        self.start("agent-31", rng=Midpoint())  # its backoff waits at the middle of each jitter range
        self.start("agent-44", silenceable=True, renew_after=None)
        for name in ("agent-55", "agent-66", "agent-88"):
            self.start(name)
        for name in self.agents:
            if name.startswith("agent-"):
                self.events.wait_for(name, ONLINE)
        self.presence_table("presence table before")

    # --- 5. what happens to them ----------------------------------------------------------------------

    def act(self) -> Dict[str, Dict[str, Any]]:
        """The blip first and alone, then the silence, the close, the crash, the lost $disconnect; wait until
        each is settled and the rollover of agent-07 (renewed) and agent-12 (closed by the limit) is over."""
        a = self.agents
        [old] = self.ids(a["agent-31"])
        back = threading.Event()
        a["agent-31"].cut(until=back)  # TCP reset; the network is back once API Gateway has noticed the drop
        self.stack.gateway.wait_closed(old)
        back.set()
        wait_until(lambda: len(self.ids(a["agent-31"])) >= 2, 30, what="agent-31 back")
        a["agent-44"].silence()
        self.silenced = time.time()
        a["agent-55"].stop()
        a["agent-66"].crash()
        [cid] = self.ids(a["agent-88"])
        self.stack.gateway.drop_disconnect.add(cid)  # injected: API Gateway delivers $disconnect best-effort
        a["agent-88"].stop()
        wait_until(lambda: self.stack.presence()["agent-44"]["state"] == "offline", 60, what="agent-44 offline")
        self.table_offline = time.time()
        offline = {n: self.events.wait_for(n, OFFLINE, 60) for n in ("agent-44", "agent-55", "agent-66", "agent-88")}
        limit = self.limits.lifetime + 15
        wait_until(lambda: len(self.ids(a["agent-12"])) >= 2, limit, what="agent-12 back after 1001")
        wait_until(lambda: a["agent-07"].lines("renewed"), limit, what="agent-07 renewed")
        time.sleep(self.settings.grace + 1.5)  # an offline of agent-07, -12 or -31 would be announced by now
        return offline

    def happenings(self) -> None:
        self.banner("5. What happens to them")
        offline = self.act()
        self.rollover()
        self.blip()
        self.silent(offline["agent-44"])
        self.endings(offline)

    def rollover(self) -> None:
        say, a07, a12 = self.say, self.agents["agent-07"], self.agents["agent-12"]
        say(f'  "2-hour" rollover: the stand-in gateway closes connections at {self.limits.lifetime:g} s, not 7,200 s')
        first, second = a07.links[0], a07.links[1]
        order = [(r.route_key, r.connection_id) for r in list(self.stack.gateway.records)]
        old, new = self.ids(a07)[:2]
        before = order.index(("$connect", new)) < order.index(("$disconnect", old))
        say(
            f"      agent-07: renewal opened connection 2 at {sec(second.opened_at - first.opened_at)} (scaled"
            f" 1 h 55 min); its $connect came {'before' if before else 'AFTER'} connection 1's $disconnect"
            f" ({self.close_codes(a07)[0]}); both open for {a07.lines('renewed')[0]['overlapMs']:.1f} ms"
        )
        first, second = a12.links[0], a12.links[1]
        say(
            f"      agent-12 (renewal off): closed by the gateway at {sec((first.closed_at or 0) - first.opened_at)}"
            f" with {first.close_code} {first.close_reason!r}; reconnected at once (no backoff wait),"
            f" {ms(second.opened_at - (first.closed_at or 0))} later; $connect: {self.within_grace(a12)} x"
            f" {WITHIN_GRACE!r}"
        )
        say(
            f"      events after sequence 1: agent-07 {self.later_events('agent-07')},"
            f" agent-12 {self.later_events('agent-12')}"
        )

    def blip(self) -> None:
        say, a31 = self.say, self.agents["agent-31"]
        first, second = a31.links[0], a31.links[1]
        waits = [f"{ms(line['delaySeconds'])}" for line in a31.lines("reconnect scheduled")]
        failed = len(a31.lines("connect failed"))
        say(
            f"  network blip, agent-31: TCP reset -> $disconnect {self.close_codes(a31)[0]} (the grace window"
            " opens); the network is back once the stand-in gateway has handled that $disconnect"
        )
        window = self.records(a31, "$disconnect")[0].event["requestContext"]["requestTimeEpoch"] / 1000
        say(
            f"      the client: {failed} attempt(s) refused while the network was down, waits {', '.join(waits)}"
            " (this agent's jitter is fixed at the middle of each range, 0-500 ms, 0-1,000 ms, ..., so that the"
            " story repeats)"
        )
        say(
            f"      back {ms(second.opened_at - (first.closed_at or 0))} after the cut,"
            f" {ms(second.opened_at - window)} after its $disconnect opened the grace window of"
            f" {self.settings.grace:g} s"
        )
        say(
            f"      $connect: {self.within_grace(a31)} x {WITHIN_GRACE!r}; events after sequence 1:"
            f" {self.later_events('agent-31')}"
        )

    def silent(self, event: Dict[str, Any]) -> None:
        say, detail = self.say, event["detail"]
        say("  silent host, agent-44: its relay drops every byte (stand-in for a host that lost power or network)")
        say(
            f"      heartbeat check: LastActiveAt older than {self.settings.timeout:g} s -> DeleteConnection ->"
            f" offline {detail['reason']!r}, sequence {detail['sequence']}"
        )
        detected = (detail["detectedAt"] - detail["since"]) / 1000
        bound = self.settings.timeout + CHECK_PERIOD + DELIVERY
        say(
            f"      measured: last heartbeat -> detected (detectedAt - since) {sec(detected)};"
            f" bound: heartbeat timeout {self.settings.timeout:g} s + one check period (up to {CHECK_PERIOD:g} s)"
            f" + SQS delivery and the checker's run (up to {DELIVERY:g} s) = {bound:g} s"
            f" -> {'within' if detected <= bound else 'OVER'} the bound"
        )
        say(
            f"      silenced -> presence table offline {sec(self.table_offline - self.silenced)};"
            f" silenced -> event on the demo's queue {sec(self.events.arrival(event) - self.silenced)}"
        )

    def endings(self, offline: Dict[str, Dict[str, Any]]) -> None:
        for name, what, since in (
            ("agent-55", "clean close (1000)", "its $disconnect"),
            ("agent-66", "crash: TCP reset, no reconnect", "its $disconnect"),
            (
                "agent-88",
                "closed; its $disconnect DROPPED by the stand-in gateway (injected fault, not observed"
                " behaviour); found by the checker's probe (GetConnection: 410 Gone)",
                "the last probe that found it alive",
            ),
        ):
            detail = offline[name]["detail"]
            self.say(f"      {name}: {what}")
            self.say(
                f"        -> offline {detail['reason']!r} (abnormal {detail['abnormal']}),"
                f" {sec((detail['detectedAt'] - detail['since']) / 1000)} after {since}"
            )

    # --- 6, 7. events, table, metrics -----------------------------------------------------------------

    def announced(self) -> None:
        self.banner("6. Agent events on the module's bus (routed to the demo's queue): one per transition")
        events = self.events.collect(wait_seconds=1)
        table = self.stack.presence()
        for agent_id in sorted(table):
            line = ", ".join(
                f"{e['detail']['sequence']}: {e['detail']['state']} ({e['detail']['reason']})"
                for e in self.events.of(agent_id)
            )
            self.say(f"  {agent_id:<10} {line}")
        transitions = sum(int(item["sequence"]) for item in table.values())
        unique = len({e["detail"]["eventId"] for e in events})
        self.say(f"  {len(events)} event(s) for {transitions} transition(s) in the table; {unique} distinct eventId(s)")

    def after(self) -> None:
        self.banner("7. The presence table after; metrics from the functions' log lines (EMF)")
        self.presence_table("presence table after")
        lines = invocation_logs(self.stack)
        self.say("")
        for name in ("AgentWentOnline", "ReconnectsWithinGrace", "EventsPublished"):
            self.say(f"  {name:<42} {metric(lines, name):g} (Count)")
        for reason in ("client_closed", "connection_lost", "heartbeat_timeout", "gone"):
            name = f"AgentWentOffline{{Reason={reason}}}"
            self.say(f"  {name:<42} {metric(lines, 'AgentWentOffline', Reason=reason):g} (Count)")

    def stop(self) -> None:
        for agent in self.agents.values():
            agent.stop()


def run(stack: Stack, limits: Limits, say: Say, banner: Say, then: Optional[Callable[[], None]] = None) -> Story:
    """The story; `then` runs while the surviving agents are still connected; then every agent stops."""
    story = Story(stack, limits, say, banner)
    try:
        story.identity()
        story.fleet()
        story.happenings()
        story.announced()
        story.after()
        if then is not None:
            then()
    finally:
        story.stop()
    return story
