"""Per-day figures of the catalogue: what checks, asset metadata and the CLI report.

A partition is one publish day, so every figure is read per day of a window, with one value for
every day (an empty day reads as zeros, never as a missing key). Each function reads through the
repositories of a unit of work the caller opened, so several figures read in one transaction
agree with each other:

```python
states, tracks = database.unit_of_work(read_only=True).run(
    lambda uow: (views.raw_states(uow, window), views.track_counts(uow, window))
)
```
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from collection_pipeline.domain import DateWindow, OutcomeCounts, RawStateCounts, WindowReport
from collection_pipeline.service import ENTITY_TRACK, PROVIDER_BEATPORT
from collection_pipeline.storage import UnitOfWork

PREVIEW_ROWS = 5

T = TypeVar("T")

Fingerprint = Callable[[UnitOfWork, DateWindow], str]
"""A data version of one asset's window: equal exactly when its content is equal."""

NO_RAW = RawStateCounts(total=0, processed=0, quarantined=0, pending=0)
NO_OUTCOMES = OutcomeCounts(tracks_with_isrc=0, found=0, not_found=0, error=0, pending=0)


def _every_day(window: DateWindow, found: dict[date, T], empty: Callable[[], T]) -> dict[date, T]:
    return {day: found.get(day, empty()) for day in window.days()}


def raw_states(uow: UnitOfWork, window: DateWindow) -> dict[date, RawStateCounts]:
    """Raw Beatport records per day: total, processed, quarantined and pending (stuck)."""
    found = uow.raw.state_counts_by_day(PROVIDER_BEATPORT, ENTITY_TRACK, window)
    return _every_day(window, found, lambda: NO_RAW)


def quarantine_reasons(uow: UnitOfWork, window: DateWindow) -> dict[date, dict[str, int]]:
    """Why records of each day were quarantined, with counts."""
    found = uow.raw.quarantine_reasons_by_day(PROVIDER_BEATPORT, ENTITY_TRACK, window)
    return _every_day(window, found, dict)


def track_counts(uow: UnitOfWork, window: DateWindow) -> dict[date, int]:
    """Catalogue tracks per publish day: the `dagster/row_count` of `processed_tracks`."""
    return _every_day(window, uow.catalog.track_counts_by_day(window), int)


def invalid_isrcs(uow: UnitOfWork, window: DateWindow) -> dict[date, int]:
    """Tracks per day whose raw ISRC normalization rejected (stored as NULL): the finding
    processing recorded on each raw record. A track Beatport sent without one is not counted."""
    found = uow.raw.rejected_isrcs_by_day(PROVIDER_BEATPORT, ENTITY_TRACK, window)
    return _every_day(window, found, int)


def outcomes(
    uow: UnitOfWork, window: DateWindow, not_found_ttl: timedelta, now: datetime
) -> dict[date, OutcomeCounts]:
    """Spotify outcomes per day: found / not_found / error, pending, and the match rate."""
    found = uow.spotify.outcome_counts_by_day(window, not_found_ttl, now)
    return _every_day(window, found, lambda: NO_OUTCOMES)


def track_preview(uow: UnitOfWork, day: date, limit: int = PREVIEW_ROWS) -> list[dict[str, Any]]:
    """A few catalogue tracks of one day, names resolved."""
    return uow.catalog.sample_tracks(DateWindow.single_day(day), limit)


def outcome_preview(uow: UnitOfWork, day: date, limit: int = PREVIEW_ROWS) -> list[dict[str, Any]]:
    """A few Spotify outcomes of one day: track, status, Spotify id, rule and score."""
    return uow.spotify.sample_outcomes(DateWindow.single_day(day), limit)


# ---------------------------------------------------------------- one asset's day, all at once


@dataclass(frozen=True)
class ProcessedDay:
    """Everything one day of `processed_tracks` reports and checks."""

    raw: RawStateCounts
    tracks: int
    quarantine_reasons: dict[str, int]
    invalid_isrcs: int
    preview: list[dict[str, Any]]


@dataclass(frozen=True)
class EnrichedDay:
    """Everything one day of `spotify_enrichments` reports and checks."""

    outcomes: OutcomeCounts
    preview: list[dict[str, Any]]


def processed_days(uow: UnitOfWork, window: DateWindow) -> dict[date, ProcessedDay]:
    """Each day's figures of `processed_tracks`, read in the caller's one transaction."""
    states, tracks = raw_states(uow, window), track_counts(uow, window)
    reasons, invalid = quarantine_reasons(uow, window), invalid_isrcs(uow, window)
    return {
        day: ProcessedDay(
            states[day], tracks[day], reasons[day], invalid[day], track_preview(uow, day)
        )
        for day in window.days()
    }


def enriched_days(
    uow: UnitOfWork, window: DateWindow, not_found_ttl: timedelta, now: datetime
) -> dict[date, EnrichedDay]:
    """Each day's figures of `spotify_enrichments`, read in the caller's one transaction."""
    counts = outcomes(uow, window, not_found_ttl, now)
    return {day: EnrichedDay(counts[day], outcome_preview(uow, day)) for day in window.days()}


# ---------------------------------------------------------------- a whole window


def window_report(
    uow: UnitOfWork, window: DateWindow, not_found_ttl: timedelta, now: datetime
) -> WindowReport:
    """The window's state as one set of figures: the CLI's closing summary of a range run."""
    return WindowReport(
        raw=uow.raw.state_counts(PROVIDER_BEATPORT, ENTITY_TRACK, window),
        outcomes=uow.spotify.outcome_counts(window, not_found_ttl, now),
        tracks=uow.catalog.track_count(window),
        invalid_isrcs=sum(invalid_isrcs(uow, window).values()),
        quarantine_reasons=uow.raw.quarantine_reasons(PROVIDER_BEATPORT, ENTITY_TRACK, window),
    )


def recheck_days(uow: UnitOfWork, not_found_ttl: timedelta, now: datetime) -> list[date]:
    """Publish days with `error` outcomes or `not_found` ones past their TTL: the recheck
    sensor's work list, read afresh each tick."""
    return uow.spotify.partitions_needing_recheck(not_found_ttl, now)


# ---------------------------------------------------------------- data versions, one per asset


def raw_fingerprint(uow: UnitOfWork, window: DateWindow) -> str:
    """`raw_beatport_tracks`: the raw Beatport records of the window."""
    return uow.raw.fingerprint(PROVIDER_BEATPORT, ENTITY_TRACK, window)


def processed_fingerprint(uow: UnitOfWork, window: DateWindow) -> str:
    """`processed_tracks`: the catalogue rows of the window's tracks."""
    return uow.catalog.fingerprint(window)


def enrichment_fingerprint(uow: UnitOfWork, window: DateWindow) -> str:
    """`spotify_enrichments`: the Spotify outcomes of the window's tracks."""
    return uow.spotify.fingerprint(window)
