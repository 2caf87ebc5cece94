"""The daily partitions every asset shares: one partition is one Beatport publish day (UTC)."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from datetime import date, timedelta

import dagster as dg

from collection_pipeline import settings
from collection_pipeline.domain import DateWindow

# Both features are what makes a backfill one run with per-partition checks; they are used
# deliberately, so their maturity warnings would only be noise in every run log.
warnings.filterwarnings("ignore", message=r"Parameter `backfill_policy` .* is currently in beta")
warnings.filterwarnings("ignore", message=r"Specifying a partitions_def on an AssetCheckSpec")

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=settings.start_date().isoformat(), timezone="UTC"
)

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
"""The tags that make one run cover a range of days (Dagster's own single-run backfill tags)."""
DAYS_TAG = "collection/days"
"""A visible run tag naming the publish days a run covers, `2024-01-01..2024-01-03`."""


def range_tags(start: date, end: date) -> dict[str, str]:
    """Run tags for one run over the inclusive day range: Dagster's range and the visible one."""
    return {
        RANGE_START_TAG: partition_key(start),
        RANGE_END_TAG: partition_key(end),
        DAYS_TAG: str(DateWindow(start, end + timedelta(days=1))),
    }


def window_of(time_window: dg.TimeWindow) -> DateWindow:
    """The publish days a Dagster time window covers (one day, or a whole backfill range)."""
    return DateWindow(time_window.start.date(), time_window.end.date())


def partition_key(day: date) -> str:
    return day.isoformat()


def contiguous_windows(days: Iterable[date]) -> Iterator[DateWindow]:
    """The fewest windows covering exactly these days, so work skips failed days but still
    runs as few, large batches as the good days allow."""
    ordered = sorted(set(days))
    start = previous = None
    for day in ordered:
        if start is None or previous is None:
            start = day
        elif day != previous + timedelta(days=1):
            yield DateWindow(start, previous + timedelta(days=1))
            start = day
        previous = day
    if start is not None and previous is not None:
        yield DateWindow(start, previous + timedelta(days=1))
