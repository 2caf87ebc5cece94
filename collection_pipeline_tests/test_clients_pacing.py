"""AdaptivePacer against a simulated rolling-window server (1 s window so tests stay short)."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from collection_pipeline.clients.errors import RateLimitedError
from collection_pipeline.clients.pacing import AdaptivePacer
from collection_pipeline.clients.policy import HttpPolicy, PolicySender
from collection_pipeline.clients.stats import RequestStats
from collection_pipeline.domain import LearnedRate

WINDOW_S = 1.0


class WindowServer:
    """Admits `limit` requests per rolling window; refused requests count too (as on Spotify)."""

    def __init__(self, limit: int, latency_s: float) -> None:
        self.limit = limit
        self.latency_s = latency_s
        self.lock = threading.Lock()
        self.events: deque[float] = deque()
        self.log: list[tuple[float, int]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        time.sleep(self.latency_s)
        with self.lock:
            now = time.monotonic()
            while self.events and self.events[0] <= now - WINDOW_S:
                self.events.popleft()
            admitted = len(self.events) < self.limit
            self.events.append(now)
            status = 200 if admitted else 429
            self.log.append((now, status))
            if admitted:
                return httpx.Response(200, json={"ok": True})
            frees_at = self.events[len(self.events) - self.limit] + WINDOW_S
            return httpx.Response(429, headers={"Retry-After": f"{frees_at - now:.3f}"})


def drive(server: WindowServer, pacer: AdaptivePacer, seconds: float, workers: int) -> None:
    sender = PolicySender(
        httpx.Client(transport=httpx.MockTransport(server)),
        HttpPolicy(),
        RequestStats(),
        pacer=pacer,
    )
    deadline = time.monotonic() + seconds

    def worker() -> None:
        while time.monotonic() < deadline:
            sender.request_json("GET", "http://limited.test/x")

    with ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(worker) for _ in range(workers)]:
            future.result()


def test_pacer_finds_an_unknown_budget_and_keeps_429s_rare() -> None:
    server = WindowServer(limit=40, latency_s=0.01)
    pacer = AdaptivePacer(window_s=WINDOW_S, initial_rate=10, probe_interval_s=0.2)
    start = time.monotonic()
    drive(server, pacer, seconds=4.5, workers=8)
    steady = [(t, status) for t, status in server.log if t >= start + 1.5]
    span = max(t for t, _ in steady) - (start + 1.5)
    admitted_rate = sum(1 for _, status in steady if status == 200) / span
    share_429 = sum(1 for _, status in steady if status == 429) / len(steady)
    assert admitted_rate >= 0.85 * server.limit / WINDOW_S
    assert share_429 <= 0.05
    assert pacer.budget is not None
    assert 0.8 * server.limit <= pacer.budget <= 1.2 * server.limit


def test_without_a_limit_rate_and_concurrency_keep_rising() -> None:
    server = WindowServer(limit=10**9, latency_s=0.02)
    pacer = AdaptivePacer(initial_rate=10, max_in_flight=16)
    drive(server, pacer, seconds=3.0, workers=16)
    assert pacer.budget is None
    assert pacer.rate > 200
    late = [t for t, _ in server.log if t >= server.log[-1][0] - 0.5]
    assert len(late) / 0.5 > 150  # three times one worker's 50/s: concurrency rose too


def test_retry_after_pauses_every_worker() -> None:
    clock_log: list[float] = []
    pacer = AdaptivePacer(initial_rate=1000)
    first = pacer.acquire()
    pacer.on_response(first, 429, retry_after=0.3)
    paused_at = time.monotonic()

    def take() -> None:
        ticket = pacer.acquire()
        clock_log.append(time.monotonic() - paused_at)
        pacer.on_response(ticket, 200, None)

    with ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(take) for _ in range(4)]:
            future.result()
    assert min(clock_log) >= 0.28


def test_a_pause_beyond_the_cap_fails_fast_for_everyone() -> None:
    pacer = AdaptivePacer()
    ticket = pacer.acquire()
    pacer.on_response(ticket, 429, retry_after=3600)
    started = time.monotonic()
    with pytest.raises(RateLimitedError) as caught:
        pacer.acquire(max_wait=120)
    assert time.monotonic() - started < 0.1
    assert caught.value.beyond_cap
    assert math.isclose(caught.value.retry_after or 0, 3600, abs_tol=1)


def test_a_short_429_burst_unrelated_to_our_volume_does_not_cut_the_budget() -> None:
    now = [0.0]
    pacer = AdaptivePacer(window_s=30, initial_rate=100, clock=lambda: now[0])
    for _ in range(50):  # 50 requests over 5 s, far from any plausible window limit
        ticket = pacer.acquire()
        now[0] += 0.1
        pacer.on_response(ticket, 200, None)
    ticket = pacer.acquire()
    now[0] += 0.1
    pacer.on_response(ticket, 429, retry_after=1)  # a fault burst: Retry-After 1 s
    assert pacer.budget is None
    now[0] += 1.0
    ticket = pacer.acquire()
    now[0] += 0.1
    # Whereas a 429 telling us to wait until our oldest request leaves the window is a budget.
    pacer.on_response(ticket, 429, retry_after=25)
    assert pacer.budget == pytest.approx(51 * 0.97)


# ---------------------------------------------------------------- a remembered rate

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def admitted_and_refused(
    server: WindowServer, since: float, span: float = math.inf
) -> tuple[int, int]:
    statuses = [status for t, status in server.log if since <= t < since + span]
    return statuses.count(200), statuses.count(429)


def test_a_second_run_resumes_the_learned_budget_without_rediscovering_it() -> None:
    first_server = WindowServer(limit=40, latency_s=0.01)
    first = AdaptivePacer(window_s=WINDOW_S, initial_rate=10, probe_interval_s=0.2)
    first_started = time.monotonic()
    drive(first_server, first, seconds=3.0, workers=8)
    learned = first.learned(NOW)
    assert learned is not None
    assert 0.8 * first_server.limit <= learned.budget <= 1.05 * first_server.limit
    assert learned.window_s == WINDOW_S

    second_server = WindowServer(limit=40, latency_s=0.01)
    second = AdaptivePacer(window_s=WINDOW_S, initial_rate=10, probe_interval_s=0.2)
    assert second.resume(learned, NOW + timedelta(hours=1))
    started = time.monotonic()
    drive(second_server, second, seconds=3.0, workers=8)

    # From its very first window the second run sends at the limit, where the first run's
    # slow start was still climbing; and it keeps 429s rare.
    admitted_first_window, _ = admitted_and_refused(second_server, started, WINDOW_S)
    first_run_first_window, _ = admitted_and_refused(first_server, first_started, WINDOW_S)
    assert admitted_first_window >= 0.9 * second_server.limit > first_run_first_window
    _, second_refused = admitted_and_refused(second_server, started)
    assert second_refused / len(second_server.log) <= 0.03


def test_a_learned_budget_past_the_horizon_only_speeds_up_slow_start() -> None:
    learned = LearnedRate(budget=600, window_s=30, learned_at=NOW - timedelta(days=8))
    pacer = AdaptivePacer(window_s=30, initial_rate=5, horizon_s=7 * 24 * 3600)

    assert pacer.resume(learned, NOW)

    assert pacer.budget is None  # not enforced: the first 429 will measure it afresh
    assert pacer.rate == pytest.approx(0.5 * 600 / 30)


def test_a_learned_budget_within_the_horizon_is_enforced_from_the_first_request() -> None:
    learned = LearnedRate(budget=600, window_s=30, learned_at=NOW - timedelta(days=6))
    pacer = AdaptivePacer(window_s=30, initial_rate=5, catch_up=1.25)

    assert pacer.resume(learned, NOW)

    assert pacer.budget == 600
    assert pacer.rate == pytest.approx(600 * 1.25 / 30)
    assert pacer.learned(NOW) == learned  # nothing newer learned yet: saved as it was


def test_a_budget_in_another_window_length_is_rescaled() -> None:
    learned = LearnedRate(budget=600, window_s=30, learned_at=NOW)
    pacer = AdaptivePacer(window_s=1.0)
    assert pacer.resume(learned, NOW)
    assert pacer.budget == pytest.approx(20)


def test_resume_is_ignored_once_the_pacer_has_seen_the_server() -> None:
    pacer = AdaptivePacer()
    pacer.on_response(pacer.acquire(), 200, None)
    assert not pacer.resume(LearnedRate(budget=600, window_s=30, learned_at=NOW), NOW)
    assert pacer.budget is None
    assert pacer.learned(NOW) is None


def test_learned_is_the_budget_the_last_429_set_and_when() -> None:
    now = [0.0]
    pacer = AdaptivePacer(window_s=30, initial_rate=100, clock=lambda: now[0])
    for _ in range(50):
        ticket = pacer.acquire()
        now[0] += 0.1
        pacer.on_response(ticket, 200, None)
    ticket = pacer.acquire()
    now[0] += 0.1
    pacer.on_response(ticket, 429, retry_after=25)
    now[0] += 90.0  # the run goes on for a minute and a half without another 429

    learned = pacer.learned(NOW)

    assert learned == LearnedRate(50 * 0.97, 30, NOW - timedelta(seconds=90))
