"""Retry policy: exponential backoff with jitter, bounded in attempts and total time.

Only failures that may go away are retried: connection errors, 5xx (except 501/505),
408 and 429 (whose ``Retry-After`` is honoured). Auth failures and not-found never are:
retrying them only delays the error the user has to act on. Sleep, clock and randomness
are injected so tests run instantly and deterministically.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long a registry request is retried."""

    max_attempts: int = 5          # including the first try
    initial_delay: float = 0.5     # seconds before the first retry
    multiplier: float = 2.0
    max_delay: float = 10.0        # cap on one backoff wait
    max_retry_after: float = 60.0  # a server's Retry-After is honoured up to this (else: give up)
    max_total: float = 60.0        # give up when the next wait would pass this since the first try
    jitter: float = 0.5            # each wait is scaled by a random factor in [1 - jitter, 1]

    def backoff(self, retry_number: int, rng: random.Random) -> float:
        """Wait before retry number ``retry_number`` (1-based), jittered."""
        base = min(self.max_delay, self.initial_delay * self.multiplier ** (retry_number - 1))
        return base * (1.0 - self.jitter * rng.random())


NO_RETRY = RetryPolicy(max_attempts=1)


def parse_retry_after(value: str | None, now_epoch: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now_epoch)


class Retrier:
    """Decides whether and how long to wait before the next attempt of one operation."""

    def __init__(self, policy: RetryPolicy, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, wall_clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None):
        self.policy = policy
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._rng = rng or random.Random()
        self._start = clock()
        self.attempt = 1

    def wait_before_retry(self, retry_after: str | None = None) -> bool:
        """Sleep before the next attempt and return True, or return False if the budget is spent."""
        if self.attempt >= self.policy.max_attempts:
            return False
        delay = self.policy.backoff(self.attempt, self._rng)
        server_delay = parse_retry_after(retry_after, self._wall_clock())
        if server_delay is not None:
            if server_delay > self.policy.max_retry_after:
                return False  # the server asks for longer than we are willing to wait
            delay = max(delay, server_delay)
        if self._clock() - self._start + delay > self.policy.max_total:
            return False
        self._sleep(delay)
        self.attempt += 1
        return True
