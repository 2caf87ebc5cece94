"""Mutable per-server state: request statistics, issued tokens, the rate-limit window, faults.

Everything here is process-local and cleared by `/_emulator/reset` (tokens excepted: clients keep
them across a reset). The catalogue itself is stateless and lives in catalogue.py.
"""

from __future__ import annotations

import math
import time
from collections import Counter, deque
from collections.abc import Callable

from collection_pipeline.emulator.codecs import stable_hash, unit_interval
from collection_pipeline.emulator.config import FaultRates

Clock = Callable[[], float]
RATE_WINDOW_S = 30.0


class Stats:
    """Request counts per stable route name and status code."""

    def __init__(self) -> None:
        self.counts: dict[str, Counter[str]] = {}

    def record(self, route: str, status: int) -> None:
        counter = self.counts.get(route)
        if counter is None:
            counter = self.counts[route] = Counter()
        counter[str(status)] += 1

    def snapshot(self) -> dict[str, dict[str, dict[str, int]]]:
        return {
            "requests": {
                route: dict(sorted(counter.items()))
                for route, counter in sorted(self.counts.items())
            }
        }


class TokenStore:
    """Bearer tokens one service issued, with their expiry; revoked ones stay refused."""

    def __init__(self, seed: int, service: str, lifetime_s: float, clock: Clock) -> None:
        self.seed = seed
        self.service = service
        self.lifetime_s = lifetime_s
        self.clock = clock
        self.expiry: dict[str, float] = {}
        self.revoked: set[str] = set()
        self.issued_count = 0

    def issue(self) -> str:
        """A new token; the sequence depends only on the seed, so processes agree byte for byte."""
        self.issued_count += 1
        token = f"{self.service[:2]}{stable_hash(self.seed, self.service, self.issued_count):016x}"
        token += f"{stable_hash(self.seed, 'token-tail', self.service, self.issued_count):016x}"
        self.expiry[token] = self.clock() + self.lifetime_s
        return token

    def status(self, token: str) -> str:
        """ "ok", "expired", "revoked", or "foreign" for a token this store never issued."""
        if token in self.revoked:
            return "revoked"
        expiry = self.expiry.get(token)
        if expiry is None:
            return "foreign"
        return "ok" if self.clock() < expiry else "expired"


class RollingWindow:
    """Spotify's rolling 30 s budget. Refused requests count too, so hammering lengthens a ban."""

    def __init__(self, limit: int, clock: Clock) -> None:
        self.limit = limit
        self.clock = clock
        self.events: deque[float] = deque()

    def admit(self) -> int | None:
        """None when admitted, else the Retry-After in whole seconds (>= 1)."""
        now = self.clock()
        events = self.events
        while events and events[0] <= now - RATE_WINDOW_S:
            events.popleft()
        admitted = len(events) < self.limit
        events.append(now)
        if admitted:
            return None
        # the window frees a slot once all but limit-1 of the recorded events have aged out
        frees_at = events[len(events) - self.limit] + RATE_WINDOW_S
        return max(1, math.ceil(frees_at - now))

    def reset(self) -> None:
        self.events.clear()


class FaultPlan:
    """Seeded fault decisions keyed by request, so a retry of the same request eventually passes.

    The n-th attempt of a given request key rolls its own deterministic die, and a key never
    faults more than `max_consecutive` times in a row: faults delay data but never hide it.
    """

    def __init__(self, seed: int, rates: FaultRates) -> None:
        self.seed = seed
        self.rates = rates
        self.attempts: Counter[str] = Counter()
        self.streaks: Counter[str] = Counter()
        self.burst_left = 0
        self.burst_cooldown = False
        self.burst_rolls = 0
        self.beatport_track_requests = 0
        self.revoked_once = False

    def reset(self) -> None:
        self.attempts.clear()
        self.streaks.clear()
        self.burst_left = 0
        self.burst_cooldown = False
        self.burst_rolls = 0
        self.beatport_track_requests = 0
        self.revoked_once = False

    def decide(self, route: str, key: str, *, shiftable: bool) -> str | None:
        """One of "server_error", "truncated", "slow", "page_shift", or None for no fault."""
        rates = self.rates
        self.attempts[key] += 1
        if self.streaks[key] >= rates.max_consecutive:
            self.streaks[key] = 0
            return None
        roll = unit_interval(self.seed, "fault", route, key, self.attempts[key])
        fault = None
        for name, rate in (
            ("server_error", rates.server_error),
            ("truncated", rates.truncated),
            ("slow", rates.slow),
            ("page_shift", rates.page_shift if shiftable else 0.0),
        ):
            if roll < rate:
                fault = name
                break
            roll -= rate
        self.streaks[key] = self.streaks[key] + 1 if fault else 0
        return fault

    def burst_429(self) -> int | None:
        """Retry-After of an ongoing or new 429 burst on Spotify, else None."""
        if self.burst_left > 0:
            self.burst_left -= 1
            self.burst_cooldown = self.burst_left == 0
            return self.rates.burst_retry_after_s
        if self.burst_cooldown:  # the request right after a burst always passes
            self.burst_cooldown = False
            return None
        self.burst_rolls += 1
        if unit_interval(self.seed, "burst", self.burst_rolls) < self.rates.burst_429:
            self.burst_left = self.rates.burst_length - 1
            self.burst_cooldown = self.burst_left == 0
            return self.rates.burst_retry_after_s
        return None

    def beatport_revoke_now(self) -> bool:
        """True exactly once: the track request after which the crawl's token stops working."""
        if self.rates.beatport_401_after is None or self.revoked_once:
            return False
        self.beatport_track_requests += 1
        if self.beatport_track_requests > self.rates.beatport_401_after:
            self.revoked_once = True
            return True
        return False


def monotonic() -> float:
    return time.monotonic()
