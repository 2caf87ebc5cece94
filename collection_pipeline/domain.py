"""Types shared by the service, the repositories and the Dagster layer.

They carry no behaviour beyond simple derivations, so every layer can depend on them
without depending on each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum


@dataclass(frozen=True, order=True)
class DateWindow:
    """A half-open range of publish days, `[start, end)`, as Dagster partition windows are."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"empty date window {self.start}..{self.end}")

    @classmethod
    def single_day(cls, day: date) -> DateWindow:
        return cls(day, day + timedelta(days=1))

    @property
    def last_day(self) -> date:
        """The last day inside the window, for APIs whose ranges are inclusive."""
        return self.end - timedelta(days=1)

    def days(self) -> Iterator[date]:
        day = self.start
        while day < self.end:
            yield day
            day += timedelta(days=1)

    def __len__(self) -> int:
        return (self.end - self.start).days

    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.last_day.isoformat()}"


# ---------------------------------------------------------------- errors every layer may see


class DatabaseUnavailableError(RuntimeError):
    """The catalogue database stayed unreachable past the outage deadline.

    Raised by storage, passed through the service and the reads untouched (no step can do
    better than to fail on it), so it lives here, where the Dagster layer may catch it.

    The message is one line: which database (password redacted), for how long, and the last
    error. Committed batches are durable; the step can be re-run once the database is back.
    """

    retryable = True


# ---------------------------------------------------------------- normalized catalogue


class ArtistRole(StrEnum):
    ARTIST = "artist"
    REMIXER = "remixer"


@dataclass(frozen=True)
class NamedEntity:
    """A Beatport entity identified by its Beatport id (genre, sub-genre, label, artist)."""

    beatport_id: int
    name: str
    slug: str | None = None


@dataclass(frozen=True)
class Release:
    beatport_id: int
    name: str
    slug: str | None
    label: NamedEntity | None


@dataclass(frozen=True)
class ArtistCredit:
    artist: NamedEntity
    role: ArtistRole
    position: int


@dataclass(frozen=True)
class NormalizedTrack:
    """One Beatport track, reduced to the catalogue's columns."""

    beatport_id: int
    name: str
    mix_name: str | None
    isrc: str | None
    bpm: int | None
    key_name: str | None
    camelot: str | None
    length_ms: int | None
    publish_date: date | None
    new_release_date: date | None
    catalog_number: str | None
    genre: NamedEntity | None
    sub_genre: NamedEntity | None
    release: Release | None
    credits: tuple[ArtistCredit, ...]
    isrc_rejected: bool = False
    """Beatport sent an ISRC that normalization rejected, so `isrc` is None: not a column of
    the track but a finding its raw record keeps, for the `isrc_validity` check to count."""


# ---------------------------------------------------------------- Spotify outcomes


class MatchStatus(StrEnum):
    FOUND = "found"
    NOT_FOUND = "not_found"
    ERROR = "error"


@dataclass(frozen=True)
class PendingTrack:
    """A track that needs a Spotify search, as the outcomes' repository knows it: the matcher
    also needs its credited names, which the catalogue holds (see `TrackToMatch`)."""

    track_id: int
    isrc: str
    name: str


@dataclass(frozen=True)
class TrackToMatch:
    """What the matcher needs to know of an internal track."""

    track_id: int
    isrc: str
    name: str
    artist_names: tuple[str, ...]


@dataclass(frozen=True)
class PendingLookup:
    """One distinct ISRC that needs a Spotify search, with every track that shares it."""

    isrc: str
    tracks: tuple[TrackToMatch, ...]


@dataclass(frozen=True)
class MatchOutcome:
    track_id: int
    status: MatchStatus
    searched_at: datetime
    spotify_track_id: str | None = None
    rule: str | None = None
    score: float | None = None
    candidate_count: int = 0
    error: str | None = None


# ---------------------------------------------------------------- service results

Progress = Callable[[str], None]
"""Called after every page or batch with a one-line human summary of progress so far."""


def no_progress(_: str) -> None:
    """Default progress callback for callers that do not report progress."""


@dataclass
class RequestCounters:
    """HTTP activity of one service call, reported as asset metadata."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    by_status: dict[int, int] = field(default_factory=dict)


@dataclass
class DayCollect:
    """One publish day (one partition) of a collect.

    `api_count` is what the API counts for the day, derived from the crawl's verified queries
    (each complete against its `count` at the end of the crawl): for a complete day it equals the
    distinct tracks that arrived; None when a query covering the day stayed incomplete, and then
    `incomplete` holds the one-line reason (the query, its count and what arrived). `received`
    counts the records stored under the day, `new + changed + unchanged == received`.
    """

    api_count: int | None = None
    received: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    incomplete: str | None = None

    @property
    def complete(self) -> bool:
        return self.incomplete is None


@dataclass
class CollectResult:
    """A collect of a window: totals, and `days` with one DayCollect per day of the window.

    One query's failure marks only the days it covers incomplete; every other day is crawled,
    stored and judged on its own.
    """

    pages: int = 0
    records: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    duplicates_dropped: int = 0
    api_counts: dict[str, int] = field(default_factory=dict)
    """API `count` per crawled query (a label naming its genres, dates and filters)."""
    days: dict[date, DayCollect] = field(default_factory=dict)
    requests: RequestCounters = field(default_factory=RequestCounters)
    seconds: float = 0.0

    @property
    def expected(self) -> int:
        """Tracks the API says the window holds: the queries are disjoint, so counts add."""
        return sum(self.api_counts.values())

    @property
    def complete(self) -> bool:
        return all(day.complete for day in self.days.values())

    @property
    def incomplete_days(self) -> dict[date, str]:
        """Each incomplete day and its reason."""
        return {d: day.incomplete for d, day in sorted(self.days.items()) if day.incomplete}


@dataclass
class ProcessResult:
    batches: int = 0
    processed: int = 0
    quarantined: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    entities_written: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class EnrichResult:
    batches: int = 0
    total: int = 0
    """Tracks that needed a lookup when the call started."""
    processed: int = 0
    found: int = 0
    not_found: int = 0
    errors: int = 0
    isrcs_searched: int = 0
    search_pages: int = 0
    """Search pages read: above `isrcs_searched` when answers had more than one page."""
    candidates_skipped: dict[str, int] = field(default_factory=dict)
    """Malformed Spotify items left out of matching, by reason (`null_item`, `bad_album`, ...)."""
    requests: RequestCounters = field(default_factory=RequestCounters)
    seconds: float = 0.0


@dataclass(frozen=True)
class RawStateCounts:
    total: int
    processed: int
    quarantined: int
    pending: int


@dataclass(frozen=True)
class OutcomeCounts:
    tracks_with_isrc: int
    found: int
    not_found: int
    error: int
    pending: int

    @property
    def looked_up(self) -> int:
        """Tracks with a final answer from Spotify; errors and pending ones have none yet."""
        return self.found + self.not_found

    @property
    def match_rate(self) -> float | None:
        """Share of final answers that found the track; None when nothing was looked up.

        The one definition used by checks, metadata and the CLI: errors are not answers, and
        "no lookups" is not a rate of 0% nor of 100%.
        """
        return self.found / self.looked_up if self.looked_up else None


@dataclass(frozen=True)
class WindowReport:
    """State of one date window: what the CLI sums up after a range run."""

    raw: RawStateCounts
    outcomes: OutcomeCounts
    tracks: int
    invalid_isrcs: int
    quarantine_reasons: dict[str, int]


@dataclass(frozen=True)
class LearnedRate:
    """A request budget a rate-limited API allowed us, per rolling window, and when we last
    saw evidence of it (a 429 that set it, or a probe above it that went unpunished)."""

    budget: float
    window_s: float
    learned_at: datetime

    @property
    def rate(self) -> float:
        """Requests per second the budget allows."""
        return self.budget / self.window_s
