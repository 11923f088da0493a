"""The shared create limit: a burst goes at once, then a steady rate; never more than N in any window."""

import threading
import time

import pytest

from app.jobs.account_limits import ARRIVAL_MARGIN, LocalTokenBucket, RedisTokenBucket, book, bucket_shape
from tests.replicate_server import busiest_window


@pytest.mark.fast
@pytest.mark.parametrize("per_minute", [60, 600, 1200, 5])
def test_no_60_s_window_of_booked_times_exceeds_the_limit_even_with_late_arrivals(per_minute):
    """Simulated: 3 × the limit booked at once; each create may arrive up to the margin late."""
    interval, tolerance = bucket_shape(per_minute)
    tat, sends = 0.0, []
    for _ in range(per_minute * 3):
        send_at, tat = book(tat, 0.0, interval, tolerance)
        sends.append(send_at)
    assert busiest_window(sends, 60.0 + ARRIVAL_MARGIN) <= per_minute
    burst = sum(1 for s in sends if s == 0.0)
    assert burst == max(1, min(20, per_minute // 3)), "a burst goes out at once"
    steady = sum(1 for s in sends if 60 <= s < 120)
    assert steady >= (per_minute - burst) * 60 / 61 - 1, "once the queue is full the rate holds steady"
    if per_minute >= 600:
        assert steady >= 0.95 * per_minute


@pytest.fixture
def two_consumers(redis_client):
    """Two limiters on one Redis key, as two consumer processes would have: 60 a minute."""
    return [RedisTokenBucket(redis_client, per_minute=60, key="test:bucket") for _ in range(2)]


def test_a_burst_of_twenty_goes_out_at_once_then_creates_wait_their_turn(two_consumers):
    waits = [two_consumers[n % 2].book() for n in range(22)]
    assert all(w == 0 for w in waits[:20])
    interval = 61 / 40
    assert waits[20] == pytest.approx(interval, abs=0.05) and waits[21] == pytest.approx(2 * interval, abs=0.05)


def test_waiting_workers_sleep_until_their_own_time_and_stop_when_told(redis_client):
    limiter = RedisTokenBucket(redis_client, per_minute=600, key="test:bucket")  # burst 20, then ~9.5 a second
    stop = threading.Event()
    granted, lock = [], threading.Lock()

    def worker():
        for _ in range(10):
            assert limiter.acquire(stop)
            with lock:
                granted.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(3)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 30
    assert sorted(granted)[19] - started < 0.2, "the first twenty went at once"
    assert max(granted) - started == pytest.approx(10 * 61 / 580, abs=0.25), "the other ten at the steady rate"
    for _ in range(30):
        limiter.book()
    stop.set()
    assert limiter.acquire(stop) is False


@pytest.mark.fast
def test_the_local_limiter_books_the_same_way():
    limiter = LocalTokenBucket(per_minute=60)
    waits = [limiter.book() for _ in range(21)]
    assert waits[:20] == [0.0] * 20 and waits[20] == pytest.approx(61 / 40, abs=0.01)
