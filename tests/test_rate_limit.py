"""The shared create limit: a burst under the budget goes at once, never more than N per window."""
import threading
import time

import pytest

from app.rate_limit import LocalCreateLimiter, RedisCreateLimiter


def busiest(times, window):
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


@pytest.fixture
def two_consumers(redis_client):
    """Two limiters on one Redis key, as two consumer processes would have."""
    return [RedisCreateLimiter(redis_client, per_minute=10, window=1.0, key="test:window") for _ in range(2)]


def test_a_burst_under_the_budget_goes_out_at_once(two_consumers):
    stop = threading.Event()
    started = time.monotonic()
    for n in range(10):
        assert two_consumers[n % 2].acquire(stop)
    assert time.monotonic() - started < 0.2
    wait, _ = two_consumers[0].book()
    assert wait > 0.5, "the eleventh create must wait for the window to slide"


@pytest.mark.parametrize("kind", ["redis", "local"])
def test_no_window_ever_holds_more_than_the_limit(two_consumers, kind):
    limiters = two_consumers if kind == "redis" else [LocalCreateLimiter(per_minute=10, window=1.0)] * 2
    stop = threading.Event()
    granted = []
    lock = threading.Lock()

    def worker(limiter):
        for _ in range(8):
            assert limiter.acquire(stop)
            with lock:
                granted.append(time.monotonic())

    threads = [threading.Thread(target=worker, args=(limiters[n % 2],)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 32
    assert busiest(granted, 0.98) <= 10
    assert max(granted) - min(granted) >= 2.9, "32 creates at 10 a second cannot finish in under 3 windows"


def test_a_waiting_worker_stops_when_told_and_gives_its_booking_back(two_consumers, redis_client):
    stop = threading.Event()
    for _ in range(10):
        two_consumers[0].acquire(stop)
    stop.set()
    assert two_consumers[1].acquire(stop) is False
    assert redis_client.zcard("test:window") == 10


def test_bookings_hand_each_waiting_create_its_own_time(two_consumers):
    """Past the budget, the next creates are booked one window after the ones they replace."""
    booked = []
    for n in range(25):
        asked = time.monotonic()
        booked.append((asked, two_consumers[n % 2].book()[0]))
    waits = [wait for _, wait in booked]
    assert all(w == 0 for w in waits[:10])
    assert all(0.9 < w < 1.1 for w in waits[10:20]) and all(1.9 < w < 2.1 for w in waits[20:])
    send_times = [asked + wait for asked, wait in booked]
    assert all(b >= a - 0.005 for a, b in zip(send_times, send_times[1:])), "bookings never go back in time"
