"""A small circuit breaker (closed → open → half-open → closed).

Hand-written rather than taken from a library on purpose: the maintained Python breakers are either
synchronous (pybreaker) or unmaintained (aiobreaker), and this one is a few lines of state that the
sender consults *before* a call and updates *after* it, which is all the outbox needs. A breaker's
state is per process for now; the Redis adapter will share it between processes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

from atende.kit.logging import get_logger

log = get_logger(__name__)


class BreakerState(StrEnum):
    closed = "closed"
    open = "open"
    half_open = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int,
        reset_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._threshold = failure_threshold
        self._reset = reset_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at = 0.0
        self._state = BreakerState.closed
        self._trial_running = False
        self._trial_started = 0.0
        #: How many times this breaker opened (for metrics and tests).
        self.opened_count = 0

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.open and self._clock() - self._opened_at >= self._reset:
            return BreakerState.half_open
        return self._state

    def retry_in(self) -> float:
        """Seconds until an open breaker lets a trial call through."""
        if self.state is not BreakerState.open:
            return 0.0
        return max(0.0, self._reset - (self._clock() - self._opened_at))

    def allow(self) -> bool:
        """May a call go out now? In half-open, exactly one trial call is let through."""
        state = self.state
        if state is BreakerState.closed:
            return True
        # A trial whose outcome never came back (its caller crashed) must not block forever.
        abandoned = self._trial_running and self._clock() - self._trial_started >= self._reset
        if state is BreakerState.half_open and (not self._trial_running or abandoned):
            self._trial_running = True
            self._trial_started = self._clock()
            self._set(BreakerState.half_open)
            return True
        return False

    def release(self) -> None:
        """The call allowed by :meth:`allow` did not happen after all: no outcome to record."""
        self._trial_running = False

    def success(self) -> None:
        self._failures = 0
        self._trial_running = False
        if self._state is not BreakerState.closed:
            self._set(BreakerState.closed)

    def failure(self) -> None:
        self._trial_running = False
        self._failures += 1
        if self._state is BreakerState.half_open or self._failures >= self._threshold:
            self._opened_at = self._clock()
            if self._state is not BreakerState.open:
                self.opened_count += 1
            self._set(BreakerState.open)

    def _set(self, state: BreakerState) -> None:
        if state is not self._state:
            log.warning("circuit breaker changed", breaker=self.name, state=state.value)
        self._state = state
