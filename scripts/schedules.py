"""EventBridge scheduled rules, played locally: the Lambda targets of the rules Terraform applied.

`Schedules.load` reads the region's rules (ListRules on the default bus, where schedule rules live)
that have a ScheduleExpression, and their targets (ListTargetsByRule) that are Lambda functions.
`tick(rule)` delivers one scheduled event to every function target of the rule, now; `start(scale)`
runs a clock that ticks each `rate(...)` rule every period / scale seconds (scale 60: a
"rate(1 minute)" rule fires every second). The event is EventBridge's "Scheduled Event"
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-run-lambda-schedule.html); a target's
constant `Input` replaces it, as EventBridge does. Not played: cron() on the clock (tick works),
InputPath / InputTransformer (refused at load), retries of a failed asynchronous invocation.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from typing import Any, Dict, List, NamedTuple, Optional

from scripts.esm import Invoke
from scripts.offline import REGION, client

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT = {"minute": 60, "hour": 3600, "day": 86400}


class ScheduleError(RuntimeError):
    """A rule or target that cannot be played as configured."""


def rate_seconds(expression: str) -> Optional[int]:
    """rate(5 minutes) -> 300; None for cron(...) or anything else."""
    match = _RATE.match(expression.strip())
    if match is None:
        return None
    return int(match.group(1)) * _UNIT[match.group(2).rstrip("s")]


class Target(NamedTuple):
    target_id: str
    function_name: str
    input: Optional[str]  # constant JSON input, replaces the scheduled event


class Schedule(NamedTuple):
    name: str
    arn: str
    expression: str
    targets: List[Target]

    @property
    def period(self) -> Optional[int]:
        return rate_seconds(self.expression)


class Tick(NamedTuple):
    rule: str
    function_name: str
    event: Any
    invocation: Any


def scheduled_event(rule_arn: str) -> Dict[str, Any]:
    """The event EventBridge sends for a scheduled rule (account and region from the rule's ARN)."""
    _, _, _, region, account, _ = rule_arn.split(":", 5)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


class Schedules:
    def __init__(self, schedules: List[Schedule], invoke: Invoke) -> None:
        self.schedules = {schedule.name: schedule for schedule in schedules}
        self.invoke = invoke
        self.ticks: List[Tick] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    @classmethod
    def load(cls, endpoint: str, invoke: Invoke, region: str = REGION) -> Schedules:
        events = client("events", endpoint, region)
        schedules: List[Schedule] = []
        for rule in events.get_paginator("list_rules").paginate().build_full_result().get("Rules", []):
            if not rule.get("ScheduleExpression") or rule.get("State") == "DISABLED":
                continue
            targets: List[Target] = []
            for target in events.list_targets_by_rule(Rule=rule["Name"]).get("Targets", []):
                parts = target["Arn"].split(":")
                if len(parts) < 7 or parts[2] != "lambda" or parts[5] != "function":
                    continue  # only function targets are played
                if target.get("InputPath") or target.get("InputTransformer"):
                    raise ScheduleError(f"rule {rule['Name']}: InputPath / InputTransformer are not played")
                targets.append(Target(target["Id"], parts[6], target.get("Input")))
            if targets:
                schedules.append(Schedule(rule["Name"], rule["Arn"], rule["ScheduleExpression"], targets))
        return cls(schedules, invoke)

    def rule(self, name: str) -> Schedule:
        """A rule by its name, or by the only rule whose target function has that name."""
        if name in self.schedules:
            return self.schedules[name]
        found = [s for s in self.schedules.values() if any(t.function_name == name for t in s.targets)]
        if len(found) != 1:
            raise KeyError(f"no single scheduled rule named or targeting {name!r}: {sorted(self.schedules)}")
        return found[0]

    def tick(self, name: str) -> List[Tick]:
        """Fire a rule now: one invocation per function target, in target order."""
        schedule = self.rule(name)
        ticks: List[Tick] = []
        for target in schedule.targets:
            event = json.loads(target.input) if target.input is not None else scheduled_event(schedule.arn)
            ticks.append(Tick(schedule.name, target.function_name, event, self.invoke(target.function_name, event)))
        with self._lock:
            self.ticks += ticks
        return ticks

    def start(self, scale: float) -> Schedules:
        """Tick every rate() rule once per period / scale seconds (first tick after one period)."""
        periods = {name: s.period / scale for name, s in self.schedules.items() if s.period}
        due = {name: time.monotonic() + period for name, period in periods.items()}

        def run() -> None:
            while not self._stop.is_set():
                for name, at in sorted(due.items(), key=lambda item: item[1]):
                    if time.monotonic() >= at:
                        self.tick(name)
                        due[name] = at + periods[name]
                self._stop.wait(0.05)

        self._thread = threading.Thread(target=run, name="schedules", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
