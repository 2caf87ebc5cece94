"""AdaptivePacer against a simulated rolling-window server (1 s window so tests stay short)."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from collection_pipeline.clients.errors import RateLimitedError
from collection_pipeline.clients.pacing import AdaptivePacer
from collection_pipeline.clients.policy import HttpPolicy, PolicySender
from collection_pipeline.clients.stats import RequestStats

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
