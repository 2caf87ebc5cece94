"""AdaptivePacer against a simulated rolling-window server, on a simulated clock.

Nothing here sleeps or reads the wall clock: `simulate` steps the workers through the pacer's
decisions (`try_acquire`) in simulated time, so the figures asserted (requests per simulated
second, the pause after a 429, the budget learned) are the pacer's and not the shared CPU's.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from datetime import UTC, datetime, timedelta

import pytest

from collection_pipeline.clients.errors import RateLimitedError
from collection_pipeline.clients.pacing import AdaptivePacer, Ticket
from collection_pipeline.clients.policy import parse_retry_after
from collection_pipeline.domain import LearnedRate

WINDOW_S = 1.0


class FakeClock:
    """Simulated seconds: `simulate` moves it from event to event; nothing waits for it."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class WindowServer:
    """Admits `limit` requests per rolling window; refused requests count too (as on Spotify)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.events: deque[float] = deque()
        self.log: list[tuple[float, int]] = []

    def answer(self, now: float) -> tuple[int, float | None]:
        """Status and parsed Retry-After of a request reaching the server at `now`."""
        while self.events and self.events[0] <= now - WINDOW_S:
            self.events.popleft()
        admitted = len(self.events) < self.limit
        self.events.append(now)
        self.log.append((now, 200 if admitted else 429))
        if admitted:
            return 200, None
        frees_at = self.events[len(self.events) - self.limit] + WINDOW_S
        return 429, parse_retry_after(f"{frees_at - now:.3f}")  # as the header carries it


def simulate(
    server: WindowServer,
    pacer: AdaptivePacer,
    clock: FakeClock,
    *,
    seconds: float,
    workers: int,
    latency_s: float,
) -> list[float]:
    """`workers` threads sending back to back through `pacer` for `seconds` of simulated time;
    the send times.

    Each worker does what PolicySender does with a pacer: acquire, send (the server sees the
    request `latency_s` later and answers at once), feed the answer back, and go again, after
    a 429 too (the pacer, not the sender, holds the pause). A worker told to wait looks again
    when its wait ends or when any answer arrives, which is when `acquire`'s condition wakes it.
    """
    deadline = clock.now + seconds
    order = itertools.count()
    events: list[tuple[float, int, int, Ticket | None, int]] = []  # at, order, worker, ticket, gen
    generation = [0] * workers  # a newer wake-up supersedes a pending one
    waiting: set[int] = set()
    sent: list[float] = []

    def wake(worker: int, at: float) -> None:
        generation[worker] += 1
        heapq.heappush(events, (at, next(order), worker, None, generation[worker]))

    for worker in range(workers):
        wake(worker, clock.now)
    while events:
        at, _, worker, ticket, gen = heapq.heappop(events)
        clock.now = at
        if ticket is not None:
            pacer.on_response(ticket, *server.answer(at))
            for woken in [worker, *sorted(waiting)]:
                wake(woken, at)
            waiting.clear()
            continue
        if gen != generation[worker] or at >= deadline:
            continue
        waiting.discard(worker)
        outcome = pacer.try_acquire()
        if isinstance(outcome, Ticket):
            sent.append(at)
            heapq.heappush(events, (at + latency_s, next(order), worker, outcome, 0))
            continue
        waiting.add(worker)
        if outcome is not None:
            wake(worker, max(at + outcome, math.nextafter(at, math.inf)))
    return sent


def test_pacer_finds_an_unknown_budget_and_keeps_429s_rare() -> None:
    server, clock = WindowServer(limit=40), FakeClock()
    pacer = AdaptivePacer(window_s=WINDOW_S, initial_rate=10, probe_interval_s=0.2, clock=clock)
    simulate(server, pacer, clock, seconds=4.5, workers=8, latency_s=0.01)
    steady = [(t, status) for t, status in server.log if t >= 1.5]
    span = max(t for t, _ in steady) - 1.5
    admitted_rate = sum(1 for _, status in steady if status == 200) / span
    share_429 = sum(1 for _, status in steady if status == 429) / len(steady)
    assert admitted_rate >= 0.85 * server.limit / WINDOW_S
    assert share_429 <= 0.05
    assert pacer.budget is not None
    assert 0.8 * server.limit <= pacer.budget <= 1.2 * server.limit


def test_without_a_limit_rate_and_concurrency_keep_rising() -> None:
    server, clock = WindowServer(limit=10**9), FakeClock()
    pacer = AdaptivePacer(initial_rate=10, max_in_flight=16, clock=clock)
    simulate(server, pacer, clock, seconds=3.0, workers=16, latency_s=0.02)
    assert pacer.budget is None
    assert pacer.rate > 200
    late = [t for t, _ in server.log if t >= server.log[-1][0] - 0.5]
    assert len(late) / 0.5 > 150  # three times one worker's 50/s: concurrency rose too


def test_retry_after_pauses_every_worker() -> None:
    clock = FakeClock()
    pacer = AdaptivePacer(initial_rate=1000, clock=clock)
    first = pacer.acquire()
    clock.now = 0.01
    pacer.on_response(first, 429, retry_after=0.3)

    sent = simulate(WindowServer(10**9), pacer, clock, seconds=1.0, workers=4, latency_s=0.01)

    assert len(sent) > 4  # every worker went on once the pause was over
    assert min(sent) >= 0.31  # and none sent before it


def test_a_pause_beyond_the_cap_fails_fast_for_everyone() -> None:
    clock = FakeClock()
    pacer = AdaptivePacer(clock=clock)
    ticket = pacer.acquire()
    pacer.on_response(ticket, 429, retry_after=3600)
    clock.now = 1.0
    for _ in range(3):  # every worker is refused at once, none is told to wait
        with pytest.raises(RateLimitedError) as caught:
            pacer.try_acquire(max_wait=120)
        assert caught.value.beyond_cap
        assert math.isclose(caught.value.retry_after or 0, 3599, abs_tol=1e-6)
    with pytest.raises(RateLimitedError):
        pacer.acquire(max_wait=120)  # the blocking call raises before it would wait
    assert pacer.try_acquire() == pytest.approx(3599)  # with no cap, it would wait it out


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
    first_server, first_clock = WindowServer(limit=40), FakeClock()
    first = AdaptivePacer(
        window_s=WINDOW_S, initial_rate=10, probe_interval_s=0.2, clock=first_clock
    )
    simulate(first_server, first, first_clock, seconds=3.0, workers=8, latency_s=0.01)
    learned = first.learned(NOW)
    assert learned is not None
    assert 0.8 * first_server.limit <= learned.budget <= 1.05 * first_server.limit
    assert learned.window_s == WINDOW_S

    second_server, second_clock = WindowServer(limit=40), FakeClock()
    second = AdaptivePacer(
        window_s=WINDOW_S, initial_rate=10, probe_interval_s=0.2, clock=second_clock
    )
    assert second.resume(learned, NOW + timedelta(hours=1))
    simulate(second_server, second, second_clock, seconds=3.0, workers=8, latency_s=0.01)

    # From its very first window the second run sends at the limit, where the first run's
    # slow start was still climbing; and it keeps 429s rare.
    admitted_first_window, _ = admitted_and_refused(second_server, 0.0, WINDOW_S)
    first_run_first_window, _ = admitted_and_refused(first_server, 0.0, WINDOW_S)
    assert admitted_first_window >= 0.9 * second_server.limit > first_run_first_window
    _, second_refused = admitted_and_refused(second_server, 0.0)
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
