"""The timing rules of the client contract, as pure functions of a random source (testable, no I/O).

- Heartbeats: one every `interval` seconds, each gap drawn uniformly within ±`jitter` (10 %) of it, so
  a fleet that connected at the same moment does not send in lockstep.
- Reconnects: exponential backoff with "full jitter" (AWS Architecture Blog, "Exponential Backoff And
  Jitter"): the n-th consecutive retry waits uniform(0, min(cap, base * 2**n)) seconds: base 0.5 s,
  cap 30 s. A connection that stayed up `reset_after` seconds resets the count.
- Renewal: API Gateway closes every connection at 2 hours. The client opens its next connection
  `renew_after` seconds (1 h 55 min) after the current one opened, minus up to `renew_jitter` seconds
  drawn uniformly (a fleet that connected together does not renew together), then closes the old one:
  make-before-break.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Optional

API_GATEWAY_MAX_LIFETIME = 7200.0  # seconds: API Gateway closes a WebSocket connection after 2 hours
API_GATEWAY_IDLE_TIMEOUT = 600.0  # seconds: ... and after 10 minutes without a message either way
DEFAULT_RENEW_AFTER = 6900.0  # 1 h 55 min: 5 minutes before the limit


def jittered(interval: float, jitter: float, rng: random.Random) -> float:
    """`interval` ± `jitter` (a fraction, 0.1 = 10 %), uniformly."""
    if interval <= 0:
        raise ValueError("interval must be > 0")
    if not 0 <= jitter < 1:
        raise ValueError("jitter must be in [0, 1)")
    return rng.uniform(interval * (1 - jitter), interval * (1 + jitter))


def backoff_ceiling(retry: int, base: float, cap: float) -> float:
    """The upper bound of the `retry`-th consecutive wait (0-based): min(cap, base * 2**retry)."""
    if retry < 0:
        raise ValueError("retry must be >= 0")
    # 2**retry overflows float only far beyond any cap; stop doubling once the cap is reached.
    return cap if retry >= 64 else min(cap, base * (2**retry))


@dataclass
class Backoff:
    """Full-jitter exponential backoff. `next_delay()` draws the next wait and counts the retry;
    `reset()` starts over (after a connection that stayed up)."""

    base: float = 0.5
    cap: float = 30.0
    rng: Optional[random.Random] = None
    retries: int = 0

    def __post_init__(self) -> None:
        if self.base <= 0 or self.cap < self.base:
            raise ValueError("backoff needs 0 < base <= cap")
        self._rng = self.rng or random.Random()  # noqa: S311 - jitter, not a secret

    def next_delay(self) -> float:
        delay = self._rng.uniform(0, backoff_ceiling(self.retries, self.base, self.cap))
        self.retries += 1
        return delay

    def reset(self) -> None:
        self.retries = 0


def renewal_delay(renew_after: float, renew_jitter: float, rng: random.Random) -> float:
    """Seconds from a connection's open to opening its successor: renew_after - uniform(0, renew_jitter),
    never below half of renew_after (a jitter larger than the window cannot make renewals hot)."""
    if renew_after <= 0:
        raise ValueError("renew_after must be > 0")
    if renew_jitter < 0:
        raise ValueError("renew_jitter must be >= 0")
    return max(renew_after / 2, renew_after - rng.uniform(0, renew_jitter))
