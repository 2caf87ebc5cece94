"""Adaptive pacing: find a server's unknown request budget from its 429s and stay just under it.

Spotify limits an app to a budget of requests per rolling 30 s window and does not say how big the
budget is. The pacer therefore:

1. starts in *slow start*: the send rate doubles every `doubling_s` while demand keeps it busy;
2. on the first 429 of an episode, *estimates the budget* as the number of requests the server
   saw in the window that ended when the rejected request was sent (requests that complete later
   but were sent before it count too). That is exactly what a rolling-window limiter holds when
   it refuses, so the estimate is close from the first episode on. A 429 that a window full of
   our own requests cannot explain (we sent nothing in the window, or Retry-After is far shorter
   than the time our oldest request needs to leave it: a fault burst, another process's traffic)
   pauses us but does not cut the budget;
3. then enforces the estimate (times `safety`) as a client-side rolling window, and a smoothed rate
   of `budget / window` (a little faster, `catch_up`, to recover capacity lost to pauses);
4. *probes* upward while no 429 arrives (multiplicative, with a step that grows the longer the
   server stays quiet), so a limit that rises, or an estimate spoiled by a stray 429, recovers;
5. honours `Retry-After` *globally*: every worker pauses, because on Spotify requests made during a
   penalty lengthen it. A pause longer than the caller's cap fails fast instead of waiting.

A pacer can *resume* from the budget a previous run learned (`resume`, `learned`): the allowed
rate of an account changes rarely, so rediscovering it every run only costs 429s and time. A
remembered budget younger than `horizon_s` is enforced from the first request and probed
upward gently (constant small steps) until this run's first 429, which re-estimates it at once
as above; an older one is not trusted: slow start begins from half its rate instead of from
`initial_rate`, and the first 429 sets the budget.

Refused requests are counted in the client-side window too: the emulator (like a strict server)
counts them against the budget. Concurrency is bounded (`rate x latency x 2`, within
`max_in_flight`) so the requests already on the wire when a 429 arrives, the overshoot, stay few.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from collection_pipeline import settings
from collection_pipeline.clients.errors import RateLimitedError
from collection_pipeline.domain import LearnedRate

STALE_START_SHARE = 0.5
"""Share of a remembered rate older than the horizon that slow start begins from."""


@dataclass(frozen=True)
class Ticket:
    """Permission to send one request; hand it back through `on_response` or `on_failure`."""

    sent_at: float


class AdaptivePacer:
    """Thread-safe pacer shared by every worker (and every lookup batch) of one client."""

    def __init__(
        self,
        *,
        window_s: float = 30.0,
        initial_rate: float = settings.SPOTIFY_START_RATE.default_value(),
        max_rate: float = 5000.0,
        max_in_flight: int = 64,
        doubling_s: float = 0.5,
        safety: float = 0.97,
        catch_up: float = 1.25,
        probe_interval_s: float = 5.0,
        probe_gain: float = 0.005,
        explain_slack_s: float = 3.0,
        horizon_s: float = settings.SPOTIFY_RATE_HORIZON_HOURS.default_value() * 3600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window_s = window_s
        self._max_rate = max_rate
        self._max_in_flight = max_in_flight
        self._doubling_s = doubling_s
        self._safety = safety
        self._catch_up = catch_up
        self._probe_interval_s = probe_interval_s
        self._probe_gain = probe_gain
        self._explain_slack_s = explain_slack_s
        self._horizon_s = horizon_s
        self._clock = clock
        self._cond = threading.Condition()
        self._rate = initial_rate
        self._budget: float | None = None
        self._next_slot = 0.0
        self._pause_until = 0.0
        self._in_flight = 0
        self._latency: float | None = None
        self._answered: deque[float] = deque()  # send times of answered requests, ~ordered
        self._episode_anchor: float | None = None  # send time of the 429 that set the budget
        self._episode_known_at = -math.inf  # when that 429 arrived: earlier sends share it
        self._last_probe = 0.0
        self._probe_step = 0
        self._last_bound = -math.inf  # when demand last had to wait for the rate or window
        self._gentle = False  # probing a resumed budget, no 429 yet this run: constant steps
        self._resumed: LearnedRate | None = None
        self._learned_at: float | None = None  # clock time of the last budget-setting 429
        self._episode_budget: float | None = None  # the budget that 429 set (before probes)

    # ------------------------------------------------------------------ public API

    @property
    def rate(self) -> float:
        """Current send rate (requests per second)."""
        return self._rate

    @property
    def budget(self) -> float | None:
        """Current estimate of the server's budget per window (None before the first 429)."""
        return self._budget

    def resume(self, learned: LearnedRate, now: datetime) -> bool:
        """Start from a budget a previous run learned; False when it was not used.

        Ignored once this pacer has sent a request (what it sees itself is newer). Within the
        horizon the budget is enforced at once; beyond it slow start begins from half its rate.
        """
        with self._cond:
            if self._answered or self._in_flight or self._budget is not None:
                return False
            budget = learned.budget * self.window_s / learned.window_s
            if (now - learned.learned_at).total_seconds() <= self._horizon_s:
                self._budget = max(1.0, budget)
                self._gentle = True
                self._last_probe = self._clock()
                self._set_rate_from_budget()
            else:
                stale_rate = STALE_START_SHARE * budget / self.window_s
                self._rate = min(self._max_rate, max(self._rate, stale_rate))
            self._resumed = learned
            return True

    def learned(self, now: datetime) -> LearnedRate | None:
        """What the next run should start from: the budget the last 429 of this run set, else
        the budget this pacer resumed from (unchanged: nothing newer was learned)."""
        with self._cond:
            if self._learned_at is None or self._episode_budget is None:
                return self._resumed
            age = timedelta(seconds=self._clock() - self._learned_at)
            return LearnedRate(self._episode_budget, self.window_s, now - age)

    def acquire(self, max_wait: float = math.inf) -> Ticket:
        """Block until a request may be sent.

        Raises RateLimitedError when a server-imposed pause would last longer than `max_wait`.
        """
        with self._cond:
            while True:
                outcome = self._try_acquire(max_wait)
                if isinstance(outcome, Ticket):
                    return outcome
                self._cond.wait(outcome)

    def try_acquire(self, max_wait: float = math.inf) -> Ticket | float | None:
        """A ticket when a request may be sent now, else how long `acquire` would wait before
        looking again (None: until an answer or a failure is fed back).

        The non-blocking half of `acquire`, for a caller that keeps its own time: a simulation
        on the injected clock steps through the pacing decisions without sleeping. Raises like
        `acquire`.
        """
        with self._cond:
            return self._try_acquire(max_wait)

    def on_response(self, ticket: Ticket, status: int, retry_after: float | None) -> None:
        """Feed back one HTTP answer; `retry_after` only matters for 429."""
        with self._cond:
            now = self._clock()
            self._in_flight -= 1
            elapsed = now - ticket.sent_at
            self._latency = (
                elapsed if self._latency is None else 0.8 * self._latency + 0.2 * elapsed
            )
            if status == 429:
                self._on_rate_limited(now, ticket, retry_after)
            else:
                self._on_accepted(now, ticket)
            self._cond.notify_all()

    def on_failure(self, ticket: Ticket) -> None:
        """The request got no answer (timeout, connection error): free its slot only."""
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()

    # ------------------------------------------------------------------ internals

    def _try_acquire(self, max_wait: float) -> Ticket | float | None:
        now = self._clock()
        remaining_pause = self._pause_until - now
        if remaining_pause > max_wait:
            raise RateLimitedError(
                f"rate limited by the server for another {remaining_pause:.0f} s "
                f"(beyond the {max_wait:.0f} s cap)",
                retry_after=remaining_pause,
                beyond_cap=True,
            )
        wait = self._wait_needed(now)
        return self._take(now) if wait == 0.0 else wait

    def _concurrency_limit(self) -> int:
        if self._latency is None:
            return min(self._max_in_flight, 4)
        return max(2, min(self._max_in_flight, math.ceil(self._rate * self._latency * 2) + 1))

    def _window_count(self, now: float) -> int:
        horizon = now - self.window_s
        while self._answered and self._answered[0] <= horizon:
            self._answered.popleft()
        return len(self._answered) + self._in_flight

    def _wait_needed(self, now: float) -> float | None:
        """0.0 when a request may go now, else seconds to wait (None: until notified)."""
        if now < self._pause_until:
            return self._pause_until - now
        if self._in_flight >= self._concurrency_limit():
            return None
        if self._budget is not None and self._window_count(now) >= self._budget:
            self._last_bound = now
            if not self._answered:
                return None
            return max(self._answered[0] + self.window_s - now, 0.001)
        if self._next_slot > now:
            self._last_bound = now
            return self._next_slot - now
        return 0.0

    def _take(self, now: float) -> Ticket:
        # Lateness of a woken thread up to 0.1 s is made up, so pacing does not drift slower.
        self._next_slot = max(self._next_slot, now - 0.1) + 1.0 / self._rate
        self._in_flight += 1
        return Ticket(sent_at=now)

    def _on_accepted(self, now: float, ticket: Ticket) -> None:
        self._answered.append(ticket.sent_at)
        self._count_late(ticket)
        demand_bound = now - self._last_bound < 1.0
        if self._budget is None:
            if demand_bound:
                growth = 2.0 ** (1.0 / max(self._rate * self._doubling_s, 1.0))
                self._rate = min(self._max_rate, self._rate * growth)
        elif demand_bound and now - self._last_probe >= self._probe_interval_s:
            self._probe_step = 1 if self._gentle else self._probe_step + 1
            self._last_probe = now
            self._budget *= 1.0 + self._probe_gain * self._probe_step
            self._set_rate_from_budget()

    def _on_rate_limited(self, now: float, ticket: Ticket, retry_after: float | None) -> None:
        if retry_after:
            self._pause_until = max(self._pause_until, now + retry_after)
        in_window = [
            sent
            for sent in self._answered
            if ticket.sent_at - self.window_s < sent < ticket.sent_at
        ]
        self._answered.append(ticket.sent_at)
        if ticket.sent_at < self._episode_known_at:
            # Sent before we learnt of the current episode: the same overshoot, so it only adds
            # to the estimate when it was already in the server's window at the anchor.
            self._count_late(ticket)
            return
        if not self._explained_by_our_window(now, in_window, retry_after):
            return  # honour the pause, keep the budget
        self._budget = max(1.0, len(in_window) * self._safety)
        self._episode_budget = self._budget
        self._learned_at = now
        self._gentle = False
        self._episode_anchor = ticket.sent_at
        self._episode_known_at = now
        self._probe_step = 0
        self._last_probe = now
        self._set_rate_from_budget()

    def _explained_by_our_window(
        self, now: float, in_window: list[float], retry_after: float | None
    ) -> bool:
        """Could a window full of our own requests have caused this 429?

        Not when we sent nothing in the window (someone else, e.g. a previous run, filled it), nor
        when the server frees a slot long before our oldest request leaves the window.
        """
        if not in_window:
            return False
        if retry_after is None:
            return True
        return retry_after + self._explain_slack_s >= min(in_window) + self.window_s - now

    def _count_late(self, ticket: Ticket) -> None:
        """A request sent before the episode's rejected one filled the server's window too."""
        anchor = self._episode_anchor
        if anchor is None or self._budget is None:
            return
        if anchor - self.window_s < ticket.sent_at < anchor:
            self._budget += self._safety
            self._episode_budget = self._budget
            self._set_rate_from_budget()
        elif ticket.sent_at >= anchor:
            self._episode_anchor = None

    def _set_rate_from_budget(self) -> None:
        assert self._budget is not None
        self._rate = min(self._max_rate, max(self._budget * self._catch_up / self.window_s, 0.01))
