#!/usr/bin/env python3
"""`make bench`, fleet part: agent presence for a fleet of real WebSocket agents through the local gateway.

Time is compressed `scale` times (default 5: heartbeat 6 s, timeout 15 s, grace 4 s, reconciler every
12 s, idle timeout 120 s, 2-hour limit 1,440 s; every figure is given back in real-time-equivalent
seconds). The whole fleet connects, a quiet baseline phase measures the steady state, then each scenario
hits its own cohort of agents (disjoint: `agents / 10` each), one after the other, each measured over its
phase; the agents stopped, crashed or silenced come back; then every agent is dropped at once and
reconnects through API Gateway's new-connection limit (500/s for 100,000 agents, scaled to the fleet and
to time). bench/fleet_truth.py checks every published event against the simulator's ground truth;
bench/fleet_model.py scales the measured per-agent counts to 100,000 agents.

Usage: fleet.py [--agents N] [--scale S] [--phase SECONDS]   (alone; run.py --only fleet runs it too)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(ROOT / "function" / "src") not in sys.path:
    sys.path.insert(1, str(ROOT / "function" / "src"))

from bench.fleet_sim import (  # noqa: E402
    Agent,
    DelayQueue,
    EventsSink,
    Fleet,
    Functions,
    Requests,
    Settings,
    Sources,
    create_tables,
    emulator_client,
    fleet_gateway,
)
from bench.fleet_truth import Event, Truth, check, percentile  # noqa: E402

# Scenario: (key, label, cohort action, phase length in units of the default phase)
SCENARIOS = (
    ("clean_stop", "clean stop (close 1000, no reconnect)"),
    ("crash", "process crash (TCP cut: 1006, no reconnect)"),
    ("silent", "silent host death (nothing sent or read)"),
    ("blip_short", "blip shorter than grace (1006, back after 0.25-0.5 x grace)"),
    ("blip_long", "blip longer than grace (1006, back after 2-3 x grace)"),
    ("rollover", "forced 2-hour rollover (gateway closes 1001, agent reconnects at once)"),
    ("idle_close", "idle close (gateway closes 1001, agent reconnects at once)"),
    ("lost_disconnect", "lost `$disconnect` (1006, the event never delivered, no reconnect)"),
    ("lost_then_back", "lost `$disconnect`, agent back after 2-3 x grace (before any probe)"),
    ("late_disconnect", "late `$disconnect` (delivered after the agent is back 2-3 x grace later)"),
    ("mass_drop", "mass drop of every agent, reconnect storm at the connection limit"),
)
EARLY, LATE = 0.25, 1.0  # wall seconds around grace where either outcome is right (SQS delay vs reconnect)


def log(message: str) -> None:
    print(message, flush=True)


class Phase:
    def __init__(self, key: str, agents: List[Agent]) -> None:
        self.key = key
        self.agents = agents
        self.start = self.end = 0.0
        self.before: Dict[str, int] = {}
        self.after: Dict[str, int] = {}
        self.messages = 0  # client messages received by the gateway (heartbeats) during the phase
        self.connected: List[int] = []


def gateway_messages(gateway: Any) -> int:
    with gateway._lock:
        return sum(stats.received + stats.sent for stats in gateway.stats.values())


def action(key: str, gateway: Any, functions: Functions, settings: Settings) -> Callable[[Agent], Any]:
    grace = settings.sim("grace")

    async def run(agent: Agent) -> None:
        if key == "clean_stop":
            await agent.stop()
        elif key == "crash":
            agent.crash()
        elif key == "silent":
            agent.silence()
        elif key == "blip_short":
            await agent.blip(random.uniform(0.25, 0.5) * grace)
        elif key == "blip_long":
            await agent.blip(random.uniform(2, 3) * grace)
        elif key in ("rollover", "idle_close"):
            gateway.expire(functions.connection_of[agent.id])
        elif key == "lost_disconnect":
            gateway.drop_disconnect.add(functions.connection_of[agent.id])
            agent.crash()
        elif key == "lost_then_back":
            gateway.drop_disconnect.add(functions.connection_of[agent.id])
            await agent.blip(random.uniform(2, 3) * grace)
        elif key == "late_disconnect":
            held = functions.connection_of[agent.id]
            gateway.hold_disconnect.add(held)
            await agent.blip(random.uniform(2, 3) * grace)
            await asyncio.sleep(random.uniform(0.1, 0.5) * grace)  # after the reconnect's `$connect`
            await asyncio.to_thread(gateway.release_disconnect, held)
        elif key == "mass_drop":
            agent.crash(alive=True)
            await agent.connect()

    return run


def start(fleet: Fleet, run: Callable[[Agent], Any], members: List[Agent], spread: float) -> None:
    """On the agents' loop: each member's incident at a random moment within `spread` seconds."""

    async def later(agent: Agent, delay: float) -> None:
        await asyncio.sleep(delay)
        await run(agent)

    for agent in members:
        fleet.loop.create_task(later(agent, random.uniform(0, spread)))


def settle(sources: Sources, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    quiet = 0
    while time.monotonic() < deadline:
        quiet = quiet + 1 if sources.idle() else 0
        if quiet >= 5:
            return True
        time.sleep(0.1)
    return False


def simulate(agents: int, scale: int, phase_seconds: float) -> Dict[str, Any]:
    from tests.support.servers import moto_server

    settings = Settings(scale, agents)
    truth, requests = Truth(), Requests()
    cohort = max(1, agents // 10)
    started = time.monotonic()
    with moto_server() as endpoint:
        stream_arn = create_tables(endpoint)
        queue = DelayQueue(requests, settings.sim("visibility_timeout"))
        sink = EventsSink(requests)
        functions = Functions(endpoint, settings, requests, queue, sink)
        gateway = fleet_gateway(functions, settings)
        gateway.start()
        functions.set_probe_endpoint(gateway.connections_api.endpoint)
        sources = Sources(functions, endpoint, stream_arn, settings)
        sources.start()
        fleet = Fleet(gateway.url, settings, truth)
        phases: List[Phase] = []
        try:
            gateway.rate = gateway.tokens = max(settings.connect_rate, 25.0)
            log(f"fleet: connecting {agents} agents ({gateway.rate:.0f}/s) ...")
            fleet.at_once(lambda agent: agent.connect(), fleet.agents)
            gateway.rate = gateway.tokens = settings.connect_rate
            # The baseline starts once every agent's online event is out (the steady state only).
            deadline = time.monotonic() + 180
            while len(sink.events) < agents and time.monotonic() < deadline:
                time.sleep(0.2)
            settle(sources, 60)
            log(f"fleet: {fleet.connected()} connected after {time.monotonic() - started:.0f} s; baseline ...")
            keys = ["baseline"] + [key for key, _ in SCENARIOS]
            offset = 0
            for key in keys:
                if key == "mass_drop":
                    dead = [agent for agent in fleet.agents if not agent.alive]
                    log(f"fleet: reviving {len(dead)} agents before the mass drop ...")
                    revive_at = time.time()
                    gateway.rate = gateway.tokens = max(settings.connect_rate, 25.0)
                    try:
                        fleet.at_once(lambda agent: agent.revive(), dead, timeout=120)
                    except TimeoutError:  # stragglers keep retrying in the background
                        log(f"fleet: {sum(not a.connected for a in dead)} agents not back after 120 s")
                    gateway.rate = gateway.tokens = settings.connect_rate
                    settle(sources, 30)
                    time.sleep(settings.sim("heartbeat_interval"))
                if key in ("baseline", "mass_drop"):
                    members = [agent for agent in fleet.agents if agent.alive] if key == "mass_drop" else []
                else:
                    members, offset = fleet.agents[offset : offset + cohort], offset + cohort
                phase = Phase(key, members)
                phase.before, phase.messages = requests.snapshot(), -gateway_messages(gateway)
                phase.connected.append(fleet.connected())
                phase.start = time.time()
                # A silent host or a lost `$disconnect` is found by a probe: up to timeout + interval + 1 s
                # after the incident, which itself falls within the first 40 % of the phase.
                length = phase_seconds * (1.5 if key in ("silent", "lost_disconnect", "late_disconnect") else 1.0)
                if key != "baseline":
                    run = action(key, gateway, functions, settings)
                    if key == "mass_drop":
                        length = phase_seconds + agents / settings.connect_rate
                    # Started, not awaited: blips and reconnects go on during the phase. A cohort's incidents
                    # are independent, spread over the first 40 % of the phase; the mass drop hits all at once.
                    spread = 0.0 if key == "mass_drop" else 0.4 * phase_seconds
                    fleet.loop.call_soon_threadsafe(start, fleet, run, members, spread)
                time.sleep(length)
                # The storm's events may trail it (this one process plays every function): wait for them.
                settle(sources, 180 if key == "mass_drop" else 30)
                phase.end = time.time()
                phase.after = requests.snapshot()
                phase.messages += gateway_messages(gateway)
                phase.connected.append(fleet.connected())
                phases.append(phase)
                log(
                    f"fleet: {key}: {len(members)} agents, {phase.end - phase.start:.1f} s, "
                    f"{phase.connected[-1]} connected, {len(sink.events)} events so far"
                )
            settle(sources, 30)
        finally:
            fleet.close()
            sources.stop()
            gateway.stop()
        wall = time.monotonic() - started
        debug = os.environ.get("FLEET_DEBUG")
        if debug:
            Path(debug).write_text(
                json.dumps(
                    {
                        "truth": truth.log,
                        "events": [e._asdict() for e in sink.events],
                        "revive_at": revive_at,
                        "stream": sources.seen,
                        "items": presence_items(functions),
                    }
                )
            )
        result = summarize(settings, truth, sink.events, phases, functions, gateway, revive_at, wall)
        result["handshake_failures"] = dict(fleet.failures)
        result["checker_failures"] = dict(sources.failures)
        return result


def presence_items(functions: Functions) -> Dict[str, Dict[str, Any]]:
    """agentId -> (sequence, announced, state) of every presence item now (FLEET_DEBUG)."""
    client: Any = emulator_client("dynamodb", functions.env["AWS_ENDPOINT_URL"])  # botocore's own timeouts
    found: Dict[str, Dict[str, Any]] = {}
    for page in client.get_paginator("scan").paginate(TableName="fleet-presence"):
        for item in page["Items"]:
            found[item["agentId"]["S"]] = {
                name: next(iter(item[name].values())) for name in ("sequence", "announced", "state") if name in item
            }
    return found


def scope(truth: Truth, agents: Sequence[str], since: float, until: float) -> Truth:
    part = Truth()
    for agent in agents:
        part.log[agent] = [(at, kind) for at, kind in truth.log.get(agent, []) if since <= at < until]
    part.started = truth.started
    return part


def summarize(
    settings: Settings,
    truth: Truth,
    events: List[Event],
    phases: List[Phase],
    functions: Functions,
    gateway: Any,
    revive_at: float,
    wall: float,
) -> Dict[str, Any]:
    scale, grace = settings.scale, settings.sim("grace")
    last = phases[-1].end
    base = phases[0]
    base_hours = (base.end - base.start) * scale / 3600 * sum(base.connected) / 2
    base_delta = {k: base.after.get(k, 0) - base.before.get(k, 0) for k in base.after}
    per_agent_hour = {k: v / base_hours for k, v in base_delta.items() if v}
    per_agent_hour["apigateway.Messages"] = base.messages / base_hours
    scenarios: Dict[str, Any] = {}
    for phase in phases[1:]:
        names = [agent.id for agent in phase.agents]
        # The agents' shutdown after the last phase is not part of any scenario.
        since, until = (revive_at, last) if phase.key == "mass_drop" else (0.0, revive_at)
        mine = [e for e in events if e.agent in set(names) and since <= e.arrived < until]
        verdict = check(scope(truth, names, since, until), mine, grace, EARLY, LATE)
        hours = (phase.end - phase.start) * scale / 3600 * sum(phase.connected) / 2
        delta = {k: phase.after.get(k, 0) - phase.before.get(k, 0) for k in phase.after}
        extra = {k: (v - per_agent_hour.get(k, 0) * hours) / len(names) for k, v in delta.items() if v}
        extra["apigateway.Messages"] = (phase.messages - per_agent_hour["apigateway.Messages"] * hours) / len(names)
        latencies = [value * scale for value in verdict.latencies]
        scenarios[phase.key] = {
            "agents": len(names),
            "seconds_wall": round(phase.end - phase.start, 1),
            "false_offline": verdict.false_offline,
            "missed_offline": verdict.missed_offline,
            "missed_online": verdict.missed_online,
            "duplicate": verdict.duplicate,
            "out_of_order": verdict.out_of_order,
            "ambiguous": verdict.ambiguous,
            "announced_gaps": verdict.announced_gaps,
            "expected_gaps": verdict.expected_gaps,
            "reasons": verdict.reasons,
            "latency_p50_s": percentile(latencies, 0.5),
            "latency_p99_s": percentile(latencies, 0.99),
            "latency_max_s": max(latencies) if latencies else None,
            "extra_requests_per_agent": {k: round(v, 2) for k, v in sorted(extra.items())},
            "requests": {k: v for k, v in sorted(delta.items()) if v},
        }
    everyone = sorted(truth.log)
    whole = check(scope(truth, everyone, 0.0, last), [e for e in events if e.arrived < last], grace, EARLY, LATE)
    durations = {
        name: round(functions.seconds[name] / max(1, n) * 1000, 2) for name, n in functions.invocations.items()
    }
    return {
        "settings": {
            "scale": scale,
            "agents": settings.agents,
            "real": settings.real,
            "connect_rate_wall": settings.connect_rate,
        },
        "wall_seconds": round(wall, 1),
        "baseline": {
            "agent_hours_real": round(base_hours, 3),
            "per_agent_hour": {k: round(v, 3) for k, v in sorted(per_agent_hour.items())},
        },
        "scenarios": scenarios,
        "whole_run": {
            "events": len(events),
            "false_offline": whole.false_offline,
            "missed_offline": whole.missed_offline,
            "missed_online": whole.missed_online,
            "duplicate": whole.duplicate,
            "out_of_order": whole.out_of_order,
            "ambiguous": whole.ambiguous,
            "reasons": whole.reasons,
        },
        "invocations": dict(functions.invocations),
        "invocation_errors": dict(functions.errors),
        "ms_per_invocation": durations,
        "log_lines": functions.logs.lines,
        "log_bytes": functions.logs.bytes,
        "throttled_handshakes": gateway.throttled,
        "throttled_invocations": dict(functions.throttled),
        "concurrency": settings.concurrency,
    }


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--scale", type=int, default=5)
    parser.add_argument("--phase", type=float, default=22.0, help="wall seconds per scenario phase")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "fleet.json")
    args = parser.parse_args(argv)
    result = simulate(args.agents, args.scale, args.phase)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    log(json.dumps(result["whole_run"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
