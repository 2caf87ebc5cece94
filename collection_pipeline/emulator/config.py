"""Emulator configuration: one frozen value that fully determines an emulator's behaviour.

Profiles are presets for the fault knobs; every knob stays individually settable so tests can turn
one fault up to a rate where it is certain to be seen, or off entirely.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from collection_pipeline.emulator.codecs import MAX_TRACKS_PER_DAY

PROFILES = ("default", "devmode", "ratelimited", "flaky", "penalty", "drift", "overcap", "messy")
DEFAULT_RATE_LIMIT = 150  # Spotify requests per rolling 30 s window in the `ratelimited` profile
DRIFT_PER_BLOCK = 2  # late tracks per (publish day, genre) that `drift` publishes mid-crawl
MOVES_PER_BLOCK = 1  # tracks per (publish day, genre) that `drift` moves to another day mid-crawl
COUNT_CAP = 10_000
"""Beatport's: no listing reports a `count` above it, nor serves a result past it."""
OVERCAP_CAPS = 1.25
"""Size of the one over-cap genre-day in `overcap`, in count caps (12,500 tracks at the real
cap): the catalogue's shares of that day are tuned to this ratio, so a lower cap keeps its shape."""
OVERCAP_GENRE_ID = 6  # Techno (Peak Time / Driving): a default genre that has sub-genres
OVERCAP_DAY = date(2024, 3, 1)
MESSY_RECORD_RATE = 0.0015  # per kind of messy record and track in `messy` (see malformed.py)


@dataclass(frozen=True)
class FaultRates:
    """Probabilities (per request) and sizes of the injected faults; all zero = no faults."""

    server_error: float = 0.0  # 5xx on any API route
    slow: float = 0.0  # response held back `slow_delay_s`
    slow_delay_s: float = 2.0
    truncated: float = 0.0  # 200 with half a JSON body
    burst_429: float = 0.0  # starts a burst of Spotify 429s
    burst_length: int = 5
    burst_retry_after_s: int = 1
    page_shift: float = 0.0  # a Beatport page shifted by one (a repeat and a miss)
    beatport_401_after: int | None = None  # revoke one token after this many track requests
    max_consecutive: int = 3  # a request key never faults more than this many times in a row

    def any(self) -> bool:
        return any(
            (
                self.server_error,
                self.slow,
                self.truncated,
                self.burst_429,
                self.page_shift,
                self.beatport_401_after is not None,
            )
        )


FLAKY_FAULTS = FaultRates(
    server_error=0.05,
    slow=0.02,
    truncated=0.02,
    burst_429=0.01,
    page_shift=0.05,
    beatport_401_after=3,
)


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything an emulator instance does derives from these fields (and nothing else)."""

    profile: str = "default"
    seed: int = 42
    tracks_per_day: int = 20
    latency_ms: float = 0.0
    rate_limit: int | None = None
    spotify_token_lifetime_s: float = 3600
    beatport_token_lifetime_s: float = 36000
    catalogue_revision: int = 0
    credentials: Mapping[str, str] | None = None
    latency_jitter: float = 0.5  # each delay is latency * uniform(1 - jitter, 1 + jitter)
    route_latency_ms: Mapping[str, float] | None = None  # per-route override of latency_ms
    faults: FaultRates | None = None  # None = the profile's preset
    penalty_retry_after_s: int = 3600
    max_search_limit: int | None = None  # None = 10 in devmode, 50 otherwise
    drift_per_block: int | None = None  # None = DRIFT_PER_BLOCK in `drift`, 0 otherwise
    drift_per_request: int = 8  # late tracks published by one listing request for page >= 2
    moves_per_block: int | None = None  # None = MOVES_PER_BLOCK in `drift`, 0 otherwise
    moves_per_request: int = 2  # tracks moved by one listing request for page >= 2
    count_cap: int = COUNT_CAP
    """Only tests lower it, to cross the cap with a tenth of the tracks; a client crawling this
    emulator must be given the same cap, or it takes a capped count for a complete one."""
    overcap_tracks: int | None = None  # None = OVERCAP_CAPS caps in `overcap`, 0 (none) otherwise
    overcap_genre_id: int = OVERCAP_GENRE_ID
    overcap_day: date = OVERCAP_DAY
    failing_genre_day: tuple[int, date] | None = None  # listings covering it always answer 503
    messy_record_rate: float | None = None  # None = MESSY_RECORD_RATE in `messy`, 0 otherwise

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"unknown profile {self.profile!r}; choose one of {PROFILES}")
        if not 1 <= self.tracks_per_day <= MAX_TRACKS_PER_DAY:
            raise ValueError(f"tracks_per_day must be within 1..{MAX_TRACKS_PER_DAY}")
        if self.rate_limit is not None and self.rate_limit < 1:
            raise ValueError("rate_limit must be a positive number of requests per 30 s")
        if self.catalogue_revision < 0:
            raise ValueError("catalogue_revision must be >= 0")
        if self.count_cap < 1:
            raise ValueError("count_cap must be >= 1")
        if self.overcap_tracks is not None and self.overcap_tracks < 0:
            raise ValueError("overcap_tracks must be >= 0")
        if self.drift_per_block is not None and self.drift_per_block < 0:
            raise ValueError("drift_per_block must be >= 0")
        moves = self.moves_per_block
        if moves is not None and not 0 <= moves <= self.tracks_per_day:
            raise ValueError("moves_per_block must be within 0..tracks_per_day")
        if self.drift_per_request < 0 or self.moves_per_request < 0:
            raise ValueError("drift_per_request and moves_per_request must be >= 0")

    @property
    def effective_faults(self) -> FaultRates:
        if self.faults is not None:
            return self.faults
        return FLAKY_FAULTS if self.profile == "flaky" else FaultRates()

    @property
    def effective_rate_limit(self) -> int | None:
        if self.rate_limit is not None:
            return self.rate_limit
        return DEFAULT_RATE_LIMIT if self.profile == "ratelimited" else None

    @property
    def effective_drift_per_block(self) -> int:
        if self.drift_per_block is not None:
            return self.drift_per_block
        return DRIFT_PER_BLOCK if self.profile == "drift" else 0

    @property
    def effective_moves_per_block(self) -> int:
        if self.moves_per_block is not None:
            return self.moves_per_block
        return MOVES_PER_BLOCK if self.profile == "drift" else 0

    @property
    def effective_overcap_tracks(self) -> int:
        """Tracks of the over-cap genre-day; 0 when it is an ordinary genre-day."""
        if self.overcap_tracks is not None:
            return self.overcap_tracks
        return round(OVERCAP_CAPS * self.count_cap) if self.profile == "overcap" else 0

    @property
    def effective_messy_record_rate(self) -> float:
        if self.messy_record_rate is not None:
            return self.messy_record_rate
        return MESSY_RECORD_RATE if self.profile == "messy" else 0.0

    @property
    def messy(self) -> bool:
        return self.profile == "messy"

    @property
    def devmode(self) -> bool:
        return self.profile == "devmode"

    @property
    def search_limit_max(self) -> int:
        if self.max_search_limit is not None:
            return self.max_search_limit
        return 10 if self.devmode else 50
