from __future__ import annotations

import pytest

from atende.kit.breaker import BreakerState, CircuitBreaker


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _breaker(clock: FakeClock, *, threshold: int = 3, reset: float = 30.0) -> CircuitBreaker:
    return CircuitBreaker(
        "channel:test", failure_threshold=threshold, reset_seconds=reset, clock=clock
    )


def _open(breaker: CircuitBreaker, failures: int = 3) -> None:
    for _ in range(failures):
        assert breaker.allow()
        breaker.failure()
    assert breaker.state is BreakerState.open


def test_that_a_new_breaker_is_closed_and_allows_calls(clock: FakeClock) -> None:
    breaker = _breaker(clock)

    assert breaker.state is BreakerState.closed
    assert all(breaker.allow() for _ in range(10))
    assert breaker.retry_in() == 0.0


def test_that_it_stays_closed_below_the_threshold_and_opens_on_reaching_it(
    clock: FakeClock,
) -> None:
    breaker = _breaker(clock, threshold=3)

    breaker.failure()
    breaker.failure()
    assert breaker.state is BreakerState.closed
    assert breaker.allow()

    breaker.failure()
    assert breaker.state is BreakerState.open


def test_that_an_open_breaker_refuses_calls_until_the_reset_time(clock: FakeClock) -> None:
    breaker = _breaker(clock, reset=30.0)
    _open(breaker)

    assert not breaker.allow()
    clock.advance(29.9)
    assert not breaker.allow()
    assert breaker.state is BreakerState.open


def test_that_retry_in_counts_down_to_zero(clock: FakeClock) -> None:
    breaker = _breaker(clock, reset=30.0)
    _open(breaker)

    assert breaker.retry_in() == pytest.approx(30.0)
    clock.advance(10)
    assert breaker.retry_in() == pytest.approx(20.0)
    clock.advance(20)
    assert breaker.retry_in() == 0.0
    assert breaker.state is BreakerState.half_open


def test_that_half_open_lets_exactly_one_trial_through(clock: FakeClock) -> None:
    breaker = _breaker(clock, reset=30.0)
    _open(breaker)
    clock.advance(30)

    assert breaker.allow()
    assert not breaker.allow()
    assert not breaker.allow()
    assert breaker.state is BreakerState.half_open


def test_that_a_successful_trial_closes_the_breaker(clock: FakeClock) -> None:
    breaker = _breaker(clock, reset=30.0)
    _open(breaker)
    clock.advance(30)
    assert breaker.allow()

    breaker.success()

    assert breaker.state is BreakerState.closed
    assert all(breaker.allow() for _ in range(5))
    # Closed again from zero: it takes the full threshold to reopen.
    breaker.failure()
    breaker.failure()
    assert breaker.state is BreakerState.closed


def test_that_a_failed_trial_reopens_for_a_full_reset_period(clock: FakeClock) -> None:
    breaker = _breaker(clock, reset=30.0)
    _open(breaker)
    clock.advance(45)
    assert breaker.allow()

    breaker.failure()

    assert breaker.state is BreakerState.open
    assert not breaker.allow()
    assert breaker.retry_in() == pytest.approx(30.0)
    clock.advance(30)
    assert breaker.allow()


def test_that_a_success_resets_the_consecutive_failure_count(clock: FakeClock) -> None:
    breaker = _breaker(clock, threshold=3)

    for _ in range(5):
        breaker.failure()
        breaker.failure()
        breaker.success()

    assert breaker.state is BreakerState.closed
    assert breaker.allow()


def test_that_a_threshold_of_one_opens_on_the_first_failure(clock: FakeClock) -> None:
    breaker = _breaker(clock, threshold=1)

    breaker.failure()

    assert breaker.state is BreakerState.open
    assert not breaker.allow()


def test_that_an_abandoned_half_open_trial_does_not_block_the_breaker_forever(
    clock: FakeClock,
) -> None:
    breaker = _breaker(clock, reset=30.0)
    _open(breaker)
    clock.advance(30)
    assert breaker.allow()  # the trial goes out... and nobody reports how it went

    clock.advance(3600)

    assert breaker.allow()
