"""The fleet benchmark's ground-truth checker (bench/fleet_truth.py): counts, never timings."""

from __future__ import annotations

import math
from typing import Tuple

from bench.fleet_truth import Event, Truth, check, percentile

GRACE = 4.0


def online(agent: str, sequence: int, at: float) -> Event:
    return Event(agent, "online", sequence, at, "connected", at + 0.1)


def offline(agent: str, sequence: int, since: float, arrived: float, reason: str = "connection_lost") -> Event:
    return Event(agent, "offline", sequence, since, reason, arrived)


def truth(*entries: Tuple[str, float, str]) -> Truth:
    found = Truth()
    for agent, at, kind in entries:
        (found.up if kind == "up" else found.down)(agent, at)
    return found


def test_a_long_gap_announced_once_then_back_is_clean() -> None:
    log = truth(("a", 0, "up"), ("a", 10, "down"), ("a", 30, "up"))
    events = [online("a", 1, 0), offline("a", 2, 10, 14.5), online("a", 3, 30)]
    verdict = check(log, events, GRACE, 0.25, 1.0)
    assert verdict[:6] == (0, 0, 0, 0, 0, 0)
    assert verdict.announced_gaps == verdict.expected_gaps == 1
    assert verdict.latencies == [4.5]
    assert verdict.reasons == {"connection_lost": 1}


def test_a_blip_shorter_than_grace_must_not_be_announced() -> None:
    log = truth(("a", 0, "up"), ("a", 10, "down"), ("a", 11, "up"))
    events = [online("a", 1, 0), offline("a", 2, 10, 14.0), online("a", 3, 11)]
    assert check(log, events, GRACE, 0.25, 1.0).false_offline == 1


def test_an_offline_while_never_down_is_false_and_a_death_never_announced_is_missed() -> None:
    log = truth(("a", 0, "up"), ("b", 0, "up"), ("b", 5, "down"))
    events = [online("a", 1, 0), offline("a", 2, 3, 4), online("b", 1, 0)]
    verdict = check(log, events, GRACE, 0.25, 1.0)
    assert (verdict.false_offline, verdict.missed_offline) == (1, 1)


def test_a_repeated_sequence_is_a_duplicate() -> None:
    log = truth(("a", 0, "up"), ("a", 10, "down"))
    events = [online("a", 1, 0), offline("a", 2, 10, 14), offline("a", 2, 10, 15)]
    verdict = check(log, events, GRACE, 0.25, 1.0)
    assert verdict.duplicate >= 1
    assert verdict.out_of_order == 0


def test_sequences_that_contradict_the_real_order_are_out_of_order() -> None:
    log = truth(("a", 0, "up"), ("a", 10, "down"), ("a", 30, "up"))
    # The online of the reconnect carries a lower sequence than the offline before it.
    events = [online("a", 1, 0), offline("a", 3, 10, 14), Event("a", "online", 2, 30, "connected", 30.2)]
    assert check(log, events, GRACE, 0.25, 1.0).out_of_order == 1
    # Sequences that grow while `since` goes back in time contradict the real order too.
    swapped = [online("a", 1, 0), offline("a", 2, 30, 31), Event("a", "online", 3, 10, "connected", 32)]
    assert check(log, swapped, GRACE, 0.25, 1.0).out_of_order == 1


def test_a_gap_near_grace_may_go_either_way() -> None:
    log = truth(("a", 0, "up"), ("a", 10, "down"), ("a", 14.5, "up"))
    quiet = check(log, [online("a", 1, 0)], GRACE, 0.25, 1.0)
    loud = check(log, [online("a", 1, 0), offline("a", 2, 10, 14.2), online("a", 3, 14.5)], GRACE, 0.25, 1.0)
    for verdict in (quiet, loud):
        assert (verdict.false_offline, verdict.missed_offline, verdict.ambiguous) == (0, 0, 1)


def test_gaps_and_percentiles() -> None:
    log = truth(("a", 0, "up"), ("a", 5, "down"), ("a", 6, "up"), ("a", 9, "down"))
    assert log.gaps("a") == [(5, 6), (9, math.inf)]
    assert percentile([3, 1, 2, 4], 0.5) == 2
    assert percentile([1, 2, 3, 4, 100], 0.99) == 100
    assert percentile([], 0.5) is None


def test_a_gap_whose_handshake_began_within_the_grace_and_completed_after_it_is_ambiguous() -> None:
    """Presence counts from connectedAt, stamped when the handshake began: a handshake begun 4.5 s after
    the drop (grace 4 s + late 1 s not yet passed) and completed at 7 s may go either way; one begun at
    5.5 s must be announced."""
    straddling, late = Truth(), Truth()
    for found, started in ((straddling, 14.5), (late, 15.5)):
        found.up("a", 0)
        found.down("a", 10)
        found.up("a", 17, started)
    quiet = [online("a", 1, 0)]
    verdict = check(straddling, quiet, GRACE, 0.25, 1.0)
    assert (verdict.ambiguous, verdict.missed_offline) == (1, 0)
    assert check(late, quiet, GRACE, 0.25, 1.0).missed_offline == 1
