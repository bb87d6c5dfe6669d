import random

from mason.registry.retry import Retrier, RetryPolicy, parse_retry_after
from tests.support.fakehttp import FakeClock


def test_backoff_is_exponential_capped_and_jittered():
    policy = RetryPolicy(initial_delay=1, multiplier=2, max_delay=5, jitter=0.5)
    rng = random.Random(1)
    for n, base in [(1, 1), (2, 2), (3, 4), (4, 5), (8, 5)]:
        for _ in range(20):
            assert base * 0.5 <= policy.backoff(n, rng) <= base


def test_attempts_are_bounded():
    clock = FakeClock()
    r = Retrier(RetryPolicy(max_attempts=3, jitter=0), sleep=clock.sleep, clock=clock)
    assert r.wait_before_retry() and r.wait_before_retry()
    assert not r.wait_before_retry()
    assert clock.sleeps == [0.5, 1.0]


def test_total_time_is_bounded():
    clock = FakeClock()
    r = Retrier(RetryPolicy(max_attempts=100, initial_delay=4, multiplier=1, max_delay=4, max_total=10, jitter=0),
                sleep=clock.sleep, clock=clock)
    while r.wait_before_retry():
        pass
    assert clock.sleeps == [4, 4]


def test_retry_after_is_honoured_but_bounded():
    clock = FakeClock()
    r = Retrier(RetryPolicy(jitter=0, max_delay=10), sleep=clock.sleep, clock=clock, wall_clock=lambda: 0.0)
    assert r.wait_before_retry("7")
    assert clock.sleeps == [7.0]
    assert not r.wait_before_retry("3600")   # longer than we would ever wait: give up now


def test_retry_after_above_the_backoff_cap_is_honoured_up_to_its_own_cap():
    clock = FakeClock()
    r = Retrier(RetryPolicy(jitter=0, max_delay=10), sleep=clock.sleep, clock=clock, wall_clock=lambda: 0.0)
    assert r.wait_before_retry("25")          # 25 s > the 10 s backoff cap, < max_retry_after
    assert clock.sleeps == [25.0]
    assert not r.wait_before_retry("61")      # beyond max_retry_after (60 s)


def test_parse_retry_after_forms():
    assert parse_retry_after("12", 0) == 12
    assert parse_retry_after("Thu, 01 Jan 1970 00:00:30 GMT", 10) == 20
    assert parse_retry_after("soon", 0) is None
    assert parse_retry_after(None, 0) is None
