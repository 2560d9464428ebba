"""What a live stack did, read back for `make demo` and the end-to-end tests: the agent events it
published (consumed from the stack's queue and kept), the JSON log lines of every function invocation
(the gateway's, the event source mappings', the schedules'), the CloudWatch metrics inside them (EMF),
and waiting for a condition with the time it took.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Tuple

from scripts.live_stack import Stack

ONLINE, OFFLINE = "Remediation Agent Online", "Remediation Agent Offline"


class Settings(NamedTuple):
    """The presence settings a stack was applied with, read back from the checker's environment."""

    grace: float  # seconds
    interval: float  # seconds between heartbeats
    timeout: float  # seconds of silence before the heartbeat check closes a connection

    @classmethod
    def of(cls, outputs: Dict[str, Any]) -> Settings:
        env = outputs["function_environment"]["presence"]
        return cls(
            float(env["PRESENCE_GRACE_SECONDS"]),
            float(env["HEARTBEAT_INTERVAL_SECONDS"]),
            float(env["HEARTBEAT_TIMEOUT_SECONDS"]),
        )


def wait_until(condition: Callable[[], Any], timeout: float = 30, step: float = 0.05, what: str = "") -> float:
    """Poll `condition` until it is truthy; the seconds it took. TimeoutError after `timeout`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"not within {timeout} s: {what or condition}")
        time.sleep(step)
    return time.monotonic() - started


class Events:
    """Every agent event the stack delivered to its queue, in arrival order (the queue is consumed)."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.events: List[Dict[str, Any]] = []
        self.arrived: List[float] = []  # epoch seconds each event was read
        self._lock = threading.Lock()

    def collect(self, wait_seconds: float = 0) -> List[Dict[str, Any]]:
        new = self.stack.drain_events(wait_seconds=wait_seconds)
        with self._lock:
            self.events += new
            self.arrived += [time.time()] * len(new)
            return list(self.events)

    def of(self, agent: str) -> List[Dict[str, Any]]:
        """The agent's events, in sequence order."""
        mine = [event for event in self.collect() if event["detail"]["agentId"] == agent]
        return sorted(mine, key=lambda event: int(event["detail"]["sequence"]))

    def arrival(self, event: Dict[str, Any]) -> float:
        with self._lock:
            return self.arrived[self.events.index(event)]

    def wait_for(self, agent: str, detail_type: str, timeout: float = 30) -> Dict[str, Any]:
        """Wait until the agent's newest event (by sequence) has `detail_type`; that event."""
        found: List[Dict[str, Any]] = []

        def newest() -> bool:
            mine = self.of(agent)
            if mine and mine[-1]["detail-type"] == detail_type:
                found[:] = [mine[-1]]
                return True
            return False

        wait_until(newest, timeout, step=0.1, what=f"{detail_type} for {agent}")
        return found[0]


def invocation_logs(stack: Stack, connection_ids: Optional[Iterable[str]] = None) -> List[Dict[str, Any]]:
    """JSON log lines of every invocation so far: the gateway's (of `connection_ids` only, if given),
    then every event source mapping's and schedule's (the checker, the announcer, the sweeper)."""
    wanted = None if connection_ids is None else set(connection_ids)
    lines: List[Dict[str, Any]] = []
    for record in list(stack.gateway.records):
        if record.invocation is not None and (wanted is None or record.connection_id in wanted):
            lines += record.invocation.logs
    if wanted is None:
        for delivery in stack.pollers.deliveries:
            if delivery.invocation is not None:
                lines += delivery.invocation.logs
        if stack.schedules is not None:
            for tick in list(stack.schedules.ticks):
                lines += tick.invocation.logs if tick.invocation is not None else []
    return lines


def metrics(lines: Iterable[Dict[str, Any]]) -> Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float]:
    """EMF metrics summed by (name, dimensions): ("AgentWentOffline", (("Reason", "gone"),)) -> 1.0."""
    totals: Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float] = {}
    for line in lines:
        for directive in line.get("_aws", {}).get("CloudWatchMetrics", []):
            for dimension_set in directive.get("Dimensions", []):
                dims = tuple(sorted((name, str(line.get(name))) for name in dimension_set))
                for metric in directive.get("Metrics", []):
                    value = line.get(metric["Name"])
                    values = value if isinstance(value, list) else [value]
                    key = (metric["Name"], dims)
                    totals[key] = totals.get(key, 0.0) + sum(float(v) for v in values if v is not None)
    return totals


def metric(lines: Iterable[Dict[str, Any]], name: str, **dimensions: str) -> float:
    """The sum of one metric over lines whose dimensions include `dimensions` (any others ignored)."""
    total = 0.0
    for (metric_name, dims), value in metrics(lines).items():
        if metric_name == name and set(dimensions.items()) <= set(dims):
            total += value
    return total


def messages(lines: Iterable[Dict[str, Any]], message: str) -> List[Dict[str, Any]]:
    return [line for line in lines if line.get("message") == message]
