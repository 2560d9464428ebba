"""The fleet at 100,000 agents: arithmetic on the per-agent request counts the simulation measured, plus a
discrete-event model of the reconnect storm after a mass drop; and the money (prices: bench/costs.py).

- Steady state: requests per agent-hour measured in the simulation's baseline phase, times the fleet,
  except the checker's invocations: at 100,000 agents the queue holds far more due probes than one batch
  (~1,300 per second), so every batch is full (10 messages) and an invocation serves 10 probes.
- Incidents: the extra requests per affected agent each scenario cost in the simulation (its phase's
  requests minus the baseline rate), times the agents affected.
- Mass drop: `storm` plays every agent's reconnect attempts against API Gateway's new-connection limit
  (a token bucket of `rate` per second), each refused attempt retried after exponential backoff with
  full jitter (the agent client contract); an agent whose gap exceeds grace is announced offline then
  online. The same model at the simulation's scale is compared with the simulation's measured counts.
"""

from __future__ import annotations

import heapq
import math
import random
from typing import Any, Dict, List, Optional

from bench import costs

APIGW_PER_MILLION_MESSAGES = 1.00  # WebSocket messages, first 1 billion (aws-facts.md section 1)
APIGW_PER_MILLION_CONNECTION_MINUTES = 0.25
LAMBDA_MEMORY_MB = 128  # the presence functions' memory (assumed; the module's default for small functions)
LAMBDA_BILLED_MS = 20  # assumed billed duration per invocation (as in costs.live_10m_rows)
PRESENCE_ITEM_BYTES = 600  # a presence item with its `event` map, for Scan read units
HOURS_PER_MONTH = 720
WRITES = ("PutItem", "UpdateItem", "DeleteItem")


def storm(agents: int, rate: float, base: float, cap: float, grace: float, seed: int = 15) -> Dict[str, float]:
    """Every agent drops at t=0 and reconnects at once, then after backoff with full jitter while refused.

    Returns the time the last agent is back, the share of agents whose gap exceeds grace (announced
    offline, then online), and attempts per agent (the refused handshakes are billed nowhere but load
    the gateway).
    """
    rng = random.Random(seed)
    tokens, refilled = rate, 0.0
    attempts = [(0.0, agent, 0) for agent in range(agents)]
    heapq.heapify(attempts)
    back: List[float] = []
    tries = 0
    while attempts:
        at, agent, failures = heapq.heappop(attempts)
        tries += 1
        tokens = min(max(1.0, rate), tokens + (at - refilled) * rate)
        refilled = at
        if tokens >= 1:
            tokens -= 1
            back.append(at)
            continue
        failures += 1
        heapq.heappush(attempts, (at + rng.uniform(0, min(cap, base * 2**failures)), agent, failures))
    back.sort()
    return {
        "agents": agents,
        "all_back_s": back[-1],
        "p50_back_s": back[len(back) // 2],
        "offline_share": sum(1 for t in back if t > grace) / agents,
        "attempts_per_agent": tries / agents,
    }


def dollars(per_agent_hour: Dict[str, float], agents: int = 1000, hours: float = HOURS_PER_MONTH) -> Dict[str, float]:
    """Money for `agents` agents over `hours` at these per-agent-hour request counts, by service."""
    n = agents * hours / 1e6  # millions of agent-hours

    def get(key: str) -> float:
        return per_agent_hour.get(key, 0.0)

    invocations = get("lambda.Invoke")
    lam = invocations * n * costs.LAMBDA_PER_MILLION_REQUESTS
    lam += invocations * n * 1e6 * LAMBDA_BILLED_MS / 1000 * LAMBDA_MEMORY_MB / 1024 * costs.LAMBDA_PER_GB_SECOND
    wru = sum(get(f"dynamodb.{op}") for op in WRITES)
    rru = get("dynamodb.GetItem") + get("dynamodb.ScannedItems") * PRESENCE_ITEM_BYTES / 4096 * 0.5
    ddb = wru * n * costs.DDB_PER_MILLION_WRU + rru * n * costs.DDB_PER_MILLION_RRU
    sqs = sum(get(f"sqs.{op}") for op in ("SendMessage", "ReceiveMessage", "DeleteMessageBatch"))
    found = {
        "lambda": lam,
        "dynamodb": ddb,
        "sqs": sqs * n * costs.SQS_PER_MILLION_REQUESTS,
        "eventbridge": get("events.Entries") * n * costs.EVENTBRIDGE_PER_MILLION_EVENTS,
        "apigw_messages": get("apigateway.Messages") * n * APIGW_PER_MILLION_MESSAGES,
        "apigw_connection_minutes": 60 * n * APIGW_PER_MILLION_CONNECTION_MINUTES,
    }
    found["total"] = sum(found.values())
    return found


def full_batches(per_agent_hour: Dict[str, float]) -> Dict[str, float]:
    """The steady state at 100,000 agents: the checker's batches are full (10 messages each)."""
    scaled = dict(per_agent_hour)
    messages = per_agent_hour.get("sqs.SendMessage", 0.0)  # each probe message is received once
    receives = per_agent_hour.get("sqs.ReceiveMessage", 0.0)
    scaled["lambda.Invoke"] = per_agent_hour.get("lambda.Invoke", 0.0) - receives + messages / 10
    scaled["sqs.ReceiveMessage"] = messages / 10
    scaled["sqs.DeleteMessageBatch"] = messages / 10
    return scaled


def model(result: Dict[str, Any], agents: int = 100_000) -> Dict[str, Any]:
    """Scale the simulation's measurements to `agents`."""
    real = result["settings"]["real"]
    steady = full_batches(result["baseline"]["per_agent_hour"])
    per_second = {key: round(value * agents / 3600, 1) for key, value in steady.items()}
    sim_storm = storm(
        result["settings"]["agents"],
        result["settings"]["connect_rate_wall"] / result["settings"]["scale"],
        real["backoff_base"],
        real["backoff_cap"],
        real["grace"],
    )
    big = storm(agents, real["connect_rate_100k"], real["backoff_base"], real["backoff_cap"], real["grace"])
    drop = result["scenarios"].get("mass_drop", {})
    measured_share: Optional[float] = None
    if drop:
        measured_share = drop["announced_gaps"] / max(1, drop["agents"])
    extra = {key: max(0.0, value) for key, value in drop.get("extra_requests_per_agent", {}).items()}
    storm_requests = {key: round(value * agents) for key, value in extra.items() if value > 0}
    seconds = max(1.0, big["all_back_s"])
    events = extra.get("events.Entries", 0.0) * agents
    return {
        "agents": agents,
        "steady_per_agent_hour": {k: round(v, 3) for k, v in steady.items()},
        "steady_per_second": per_second,
        "steady_dollars_per_month": {k: round(v, 2) for k, v in dollars(steady, agents).items()},
        "storm_model_at_sim_scale": sim_storm,
        "storm_measured_offline_share": measured_share,
        "storm": big,
        "storm_requests": storm_requests,
        "storm_events": round(events),
        "storm_events_per_second": round(events / seconds, 1),
        "storm_writes_per_second": round(sum(extra.get(f"dynamodb.{op}", 0.0) for op in WRITES) * agents / seconds, 1),
        "storm_lambda_per_second": round(extra.get("lambda.Invoke", 0.0) * agents / seconds, 1),
        "detection_bound_silent_s": real["heartbeat_timeout"] + 1 + 0,
        "probe_period_s": round(3600 / max(1e-9, steady.get("execute-api.GetConnection", 0.0)), 1),
    }


def incident_dollars(extra: Dict[str, float], per_agent_per_day: float = 1.0, agents: int = 1000) -> float:
    """Money per month for `agents` agents if each has this incident `per_agent_per_day` times a day."""
    hourly = {key: max(0.0, value) * per_agent_per_day / 24 for key, value in extra.items()}
    found = dollars(hourly, agents)
    return found["total"] - found["apigw_connection_minutes"]


def money(value: float) -> str:
    return f"${value:,.2f}" if value >= 0.01 else f"${value:.4f}"


def rounded(value: Optional[float]) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:,.0f}"
