"""The fleet simulation's ground truth, and the check of the announced events against it (pure logic).

The simulator (bench/fleet_sim.py) logs, per agent and on one clock (wall seconds), the moments the agent
went down (its last connection closed, was cut, or its host fell silent) and came back up (a new
connection's handshake completed). `check` compares the agent events the announcer published with that
log, per agent:

- a gap (down, up) longer than grace + `late` must be announced by exactly one offline event (none:
  missed; more: duplicate); a gap shorter than grace - `early` must not be (false offline); a gap in
  between may go either way (the SQS delay and the reconnect race: counted as ambiguous). So may a gap
  whose handshake straddles grace + `late`: begun within it, completed after it (presence counts from
  the connection's `connectedAt`, stamped when the handshake began; the connection registers while
  `$connect` runs, somewhere in between). An agent that never comes back has an infinite gap. An
  offline event is attributed to the gap in which it arrived (from its down moment to the next one);
  one that arrived before the agent's first gap is false.
- every up after an announced gap (and the first connect) must be announced by one online event.
- duplicate: two events with the same sequence, or two online (offline) events for one up (gap).
- out of order: in the order events arrived, a sequence that does not grow, or one whose `since` (the
  moment the transition happened, from the functions' clock) contradicts the sequence order (an earlier
  transition with a higher sequence), or two consecutive sequences with the same state.
- detection latency: an offline event's arrival minus the gap's down moment.
"""

from __future__ import annotations

import math
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple


class Event(NamedTuple):
    """One published agent event, as the simulator's EventBridge stand-in received it."""

    agent: str
    state: str  # "online" | "offline"
    sequence: int
    since_s: float  # detail.since / 1000
    reason: str
    arrived: float  # wall seconds when PutEvents received it


class Verdict(NamedTuple):
    false_offline: int
    missed_offline: int
    missed_online: int
    duplicate: int
    out_of_order: int
    ambiguous: int  # gaps near the grace boundary (either outcome is right)
    announced_gaps: int  # gaps announced by an offline event
    expected_gaps: int  # gaps that had to be announced
    latencies: List[float]  # offline arrival - down, wall seconds, for each announced gap
    reasons: Dict[str, int]


class Truth:
    """Per agent: the ordered list of (moment, "down" | "up") the simulator observed."""

    def __init__(self) -> None:
        self.log: Dict[str, List[Tuple[float, str]]] = {}
        self.started: Dict[Tuple[str, float], float] = {}  # (agent, up moment) -> when that handshake began

    def up(self, agent: str, at: float, started: Optional[float] = None) -> None:
        self.log.setdefault(agent, []).append((at, "up"))
        if started is not None:
            self.started[(agent, at)] = started

    def down(self, agent: str, at: float) -> None:
        self.log.setdefault(agent, []).append((at, "down"))

    def gaps(self, agent: str) -> List[Tuple[float, float]]:
        """(down, up) of each period the agent had no live connection (up = inf if it never came back)."""
        found: List[Tuple[float, float]] = []
        down: Optional[float] = None
        for at, kind in sorted(self.log.get(agent, []), key=lambda entry: entry[0]):
            if kind == "down" and down is None:
                down = at
            elif kind == "up" and down is not None:
                found.append((down, at))
                down = None
        if down is not None:
            found.append((down, math.inf))
        return found


def check(truth: Truth, events: Sequence[Event], grace: float, early: float, late: float) -> Verdict:
    by_agent: Dict[str, List[Event]] = {}
    for event in events:
        by_agent.setdefault(event.agent, []).append(event)
    false_offline = missed_offline = missed_online = duplicate = out_of_order = ambiguous = 0
    announced = expected = 0
    latencies: List[float] = []
    reasons: Dict[str, int] = {}
    for agent in sorted(set(truth.log) | set(by_agent)):
        mine = sorted(by_agent.get(agent, []), key=lambda e: e.arrived)
        out_of_order += _order_faults(mine)
        seen = set()
        for event in mine:
            if event.sequence in seen:
                duplicate += 1
            seen.add(event.sequence)
        offline = [e for e in mine if e.state == "offline"]
        online = [e for e in mine if e.state == "online"]
        for event in offline:
            reasons[event.reason] = reasons.get(event.reason, 0) + 1
        gaps = truth.gaps(agent)
        starts = [down for down, _ in gaps] + [math.inf]
        first_down = starts[0]
        false_offline += sum(1 for e in offline if e.arrived < first_down)
        # The first connect is announced online once.
        first_ups = [e for e in online if e.arrived < first_down]
        if agent in truth.log and truth.log[agent] and sorted(truth.log[agent])[0][1] == "up":
            missed_online += 0 if first_ups else 1
            duplicate += max(0, len(first_ups) - 1)
        for index, (down, up) in enumerate(gaps):
            window = [e for e in offline if down <= e.arrived < starts[index + 1]]
            length = up - down
            begun = truth.started.get((agent, up), up) - down
            if begun > grace + late:
                expected += 1
                if not window:
                    missed_offline += 1
            elif length < grace - early:
                false_offline += len(window)
                window = window[:0]
            else:
                ambiguous += 1
            duplicate += max(0, len(window) - 1)
            if window:
                announced += 1
                latencies.append(window[0].arrived - down)
                if up != math.inf:
                    back = [e for e in online if up - late <= e.arrived < starts[index + 1] + late]
                    missed_online += 0 if back else 1
                    duplicate += max(0, len(back) - 1)
    return Verdict(
        false_offline,
        missed_offline,
        missed_online,
        duplicate,
        out_of_order,
        ambiguous,
        announced,
        expected,
        latencies,
        reasons,
    )


def _order_faults(events: Sequence[Event]) -> int:
    """Faults of order in one agent's events, taken in the order they arrived."""
    faults = 0
    for before, after in zip(events, events[1:]):
        if after.sequence <= before.sequence:
            faults += after.sequence < before.sequence  # equal: a duplicate, counted as such
            continue
        if after.since_s < before.since_s or (after.sequence == before.sequence + 1 and after.state == before.state):
            faults += 1
    return faults


def percentile(values: Sequence[float], share: float) -> Optional[float]:
    """Nearest-rank percentile (share in 0..1); None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]
