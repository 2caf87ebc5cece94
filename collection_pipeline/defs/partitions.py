"""The daily partitions every asset shares: one partition is one Beatport publish day (UTC)."""

from __future__ import annotations

import warnings
from datetime import date

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


def window_of(time_window: dg.TimeWindow) -> DateWindow:
    """The publish days a Dagster time window covers (one day, or a whole backfill range)."""
    return DateWindow(time_window.start.date(), time_window.end.date())


def partition_key(day: date) -> str:
    return day.isoformat()
