"""The contract's timing rules: heartbeat jitter, full-jitter backoff bounds, the renewal schedule."""

from __future__ import annotations

import random

import pytest

from remediation_agent.policy import (
    API_GATEWAY_MAX_LIFETIME,
    DEFAULT_RENEW_AFTER,
    Backoff,
    backoff_ceiling,
    jittered,
    renewal_delay,
)

DRAWS = 5000


def test_heartbeat_gaps_stay_within_ten_percent_and_use_the_whole_band() -> None:
    rng = random.Random(7)
    gaps = [jittered(30, 0.10, rng) for _ in range(DRAWS)]
    assert all(27 <= gap <= 33 for gap in gaps)
    # uniform over the band, not a fixed offset: both ends are reached and the middle is the interval
    assert min(gaps) < 27.1
    assert max(gaps) > 32.9
    assert sum(gaps) / len(gaps) == pytest.approx(30, abs=0.1)


def test_zero_jitter_is_the_interval_itself() -> None:
    assert jittered(1.5, 0, random.Random(1)) == 1.5


@pytest.mark.parametrize(("interval", "jitter"), [(0, 0.1), (-1, 0.1), (30, -0.1), (30, 1.0)])
def test_nonsense_heartbeat_settings_are_refused(interval: float, jitter: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        jittered(interval, jitter, random.Random(1))


def test_backoff_ceiling_doubles_from_half_a_second_up_to_thirty() -> None:
    assert [backoff_ceiling(n, 0.5, 30) for n in range(9)] == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
    assert backoff_ceiling(10_000, 0.5, 30) == 30  # no overflow however long the outage


def test_each_backoff_delay_is_full_jitter_below_its_ceiling() -> None:
    for seed in range(50):
        backoff = Backoff(0.5, 30, random.Random(seed))
        for retry in range(12):
            delay = backoff.next_delay()
            assert 0 <= delay <= backoff_ceiling(retry, 0.5, 30)
        assert backoff.retries == 12


def test_full_jitter_spreads_a_fleet_over_the_whole_window() -> None:
    """Full jitter (uniform from 0) rather than equal jitter: some clients retry almost at once,
    others near the ceiling; the mean is half the ceiling."""
    delays = []
    for seed in range(DRAWS):
        backoff = Backoff(0.5, 30, random.Random(seed))
        for _ in range(6):
            backoff.next_delay()
        delays.append(backoff.next_delay())  # the 7th retry: ceiling 30 s
    assert min(delays) < 0.5
    assert max(delays) > 29.5
    assert sum(delays) / len(delays) == pytest.approx(15, abs=0.5)


def test_reset_starts_again_from_the_base() -> None:
    backoff = Backoff(0.5, 30, random.Random(3))
    for _ in range(8):
        backoff.next_delay()
    backoff.reset()
    assert backoff.retries == 0
    assert backoff.next_delay() <= 0.5
    assert backoff.retries == 1


@pytest.mark.parametrize(("base", "cap"), [(0, 30), (-1, 30), (1, 0.5)])
def test_nonsense_backoff_settings_are_refused(base: float, cap: float) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(base, cap)


def test_renewal_opens_the_next_connection_at_1h55_before_the_2h_limit() -> None:
    assert DEFAULT_RENEW_AFTER == 115 * 60
    assert renewal_delay(DEFAULT_RENEW_AFTER, 0, random.Random(1)) == 6900
    rng = random.Random(11)
    delays = [renewal_delay(DEFAULT_RENEW_AFTER, 60, rng) for _ in range(DRAWS)]
    # between 1 h 54 min and 1 h 55 min: at least 5 minutes before API Gateway closes it
    assert all(6840 <= delay <= 6900 for delay in delays)
    assert all(API_GATEWAY_MAX_LIFETIME - delay >= 300 for delay in delays)
    assert min(delays) < 6841
    assert max(delays) > 6899


def test_a_scaled_down_renewal_keeps_its_shape() -> None:
    """The demo's scale: a gateway lifetime of seconds, renewal a few seconds before it."""
    assert renewal_delay(9, 0, random.Random(1)) == 9
    assert all(8.5 <= renewal_delay(9, 0.5, random.Random(seed)) <= 9 for seed in range(100))


def test_a_jitter_wider_than_the_window_never_renews_hot() -> None:
    assert all(renewal_delay(10, 1000, random.Random(seed)) >= 5 for seed in range(100))


@pytest.mark.parametrize(("after", "jitter"), [(0, 0), (-5, 0), (10, -1)])
def test_nonsense_renewal_settings_are_refused(after: float, jitter: float) -> None:
    with pytest.raises(ValueError, match="renew"):
        renewal_delay(after, jitter, random.Random(1))
