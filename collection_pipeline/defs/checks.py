"""Asset checks: one result per checked day, and a freshness check on the latest day.

The partitioned checks are evaluated inside the step that materializes their asset (no step of
their own, so a run pays for no extra process), once for each day the run covers: each
evaluation names its partition, so the UI records Passed or Failed per day. Findings that are
handled by design (quarantined records, ISRCs normalization rejected, Spotify errors awaiting the
recheck sensor, a low match rate) are WARN; a day that cannot be trusted (incomplete crawl,
stuck records, tracks left without a lookup) fails at ERROR, and the first two also stop that
day going further.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import dagster as dg

from collection_pipeline import settings
from collection_pipeline.defs import metadata as shown
from collection_pipeline.defs.partitions import daily_partitions, partition_key
from collection_pipeline.domain import DayCollect, OutcomeCounts, RawStateCounts

ERROR = dg.AssetCheckSeverity.ERROR
WARN = dg.AssetCheckSeverity.WARN

RAW = dg.AssetKey("raw_beatport_tracks")
PROCESSED = dg.AssetKey("processed_tracks")
ENRICHMENT = dg.AssetKey("spotify_enrichments")

COMPLETE = dg.AssetCheckSpec(
    "complete_against_api_count",
    asset=RAW,
    blocking=True,
    partitions_def=daily_partitions,
    description="Every track the Beatport API counts for the day was stored. An incomplete "
    "day is not processed or enriched and its partitions fail; the other days go on.",
)
NOT_STUCK = dg.AssetCheckSpec(
    "no_quarantined_or_stuck_records",
    asset=PROCESSED,
    blocking=True,
    partitions_def=daily_partitions,
    description="No raw record of the day is left unprocessed (stuck: the day fails and is "
    "not enriched) or quarantined (a warning listing the reasons).",
)
ISRC_VALID = dg.AssetCheckSpec(
    "isrc_validity",
    asset=PROCESSED,
    partitions_def=daily_partitions,
    description="No ISRC Beatport sent for the day was rejected by normalization. A rejected one "
    "is stored as NULL and the rest of the track kept, so the track gets no Spotify lookup: a "
    "warning with the count. Tracks Beatport sent without an ISRC pass.",
)
NO_PENDING = dg.AssetCheckSpec(
    "no_pending_lookups",
    asset=ENRICHMENT,
    partitions_def=daily_partitions,
    description="No track of the day with an ISRC is left without a Spotify outcome (error "
    "outcomes warn: the recheck sensor retries them).",
)
MATCH_RATE = dg.AssetCheckSpec(
    "match_rate",
    asset=ENRICHMENT,
    partitions_def=daily_partitions,
    description="The day's share of looked-up tracks found on Spotify (found over found + "
    "not_found) stays above COLLECTION_MATCH_RATE_FLOOR; a warning, catalogues differ. A day "
    "with nothing looked up has no rate and passes.",
)
CHECK_SPECS = [COMPLETE, NOT_STUCK, ISRC_VALID, NO_PENDING, MATCH_RATE]


def _evaluation(
    spec: dg.AssetCheckSpec,
    day: date,
    *,
    passed: bool,
    severity: dg.AssetCheckSeverity,
    metadata: dict[str, object],
    description: str | None = None,
) -> dg.AssetCheckEvaluation:
    return dg.AssetCheckEvaluation(
        asset_key=spec.asset_key,
        check_name=spec.name,
        passed=passed,
        severity=severity,
        metadata=metadata,
        description=description,
        blocking=spec.blocking,
        partition=partition_key(day),
    )


def _graded(
    spec: dg.AssetCheckSpec,
    day: date,
    untrusted: tuple[str, int],
    handled: tuple[str, int],
    context: dict[str, object],
    description: str | None = None,
) -> dg.AssetCheckEvaluation:
    """Passed when both named counts are zero; ERROR for what leaves the day untrusted (stuck
    records, lookups never made), WARN for what the design handles (quarantine, errors the
    recheck sensor retries). The metadata shows both counts beside `context`."""
    return _evaluation(
        spec,
        day,
        passed=untrusted[1] == 0 and handled[1] == 0,
        severity=ERROR if untrusted[1] else WARN,
        metadata={**context, **dict([untrusted, handled])},
        description=description,
    )


def completeness(
    day: date, collected: DayCollect, state: RawStateCounts
) -> dg.AssetCheckEvaluation:
    """The day is complete when every query covering it reached its API `count`."""
    return _evaluation(
        COMPLETE,
        day,
        passed=collected.complete,
        severity=ERROR,
        metadata={
            "api_count": shown.count(collected.api_count),
            "received": collected.received,
            "stored": state.total,
        },
        description=collected.incomplete,
    )


def not_stuck(day: date, state: RawStateCounts, reasons: dict[str, int]) -> dg.AssetCheckEvaluation:
    description = None
    if state.pending:
        description = f"{state.pending} raw records are still unprocessed after processing"
    elif state.quarantined:
        description = f"{state.quarantined} records quarantined: " + ", ".join(reasons)
    context: dict[str, object] = {"raw_total": state.total, "processed": state.processed}
    context["quarantine_reasons"] = dg.MetadataValue.json(reasons)
    stuck, quarantined = ("stuck", state.pending), ("quarantined", state.quarantined)
    return _graded(NOT_STUCK, day, stuck, quarantined, context, description)


def isrc_validity(day: date, tracks: int, rejected: int) -> dg.AssetCheckEvaluation:
    """`rejected`: tracks whose ISRC normalization rejected (the finding processing recorded on
    their raw records); a track sent without an ISRC is not one of them."""
    description = None
    if rejected:
        description = (
            f"{rejected} of {tracks} tracks came with an ISRC normalization rejected; stored "
            "without one, they are not looked up on Spotify"
        )
    return _evaluation(
        ISRC_VALID,
        day,
        passed=rejected == 0,
        severity=WARN,
        metadata={"tracks": tracks, "invalid_isrcs": rejected},
        description=description,
    )


def no_pending(day: date, outcomes: OutcomeCounts) -> dg.AssetCheckEvaluation:
    context: dict[str, object] = {"tracks_with_isrc": outcomes.tracks_with_isrc}
    return _graded(
        NO_PENDING, day, ("pending", outcomes.pending), ("error", outcomes.error), context
    )


def match_rate(day: date, outcomes: OutcomeCounts, floor: float) -> dg.AssetCheckEvaluation:
    rate = outcomes.match_rate
    return _evaluation(
        MATCH_RATE,
        day,
        passed=rate is None or rate >= floor,
        severity=WARN,
        metadata={
            "match_rate": shown.rate(rate),
            "floor": floor,
            "found": outcomes.found,
            "not_found": outcomes.not_found,
        },
        description="nothing was looked up on this day" if rate is None else None,
    )


# ---------------------------------------------------------------- freshness

# `FreshnessPolicy`, which supersedes these builders, judges when an asset last changed, not
# whether a given partition exists; "yesterday's day is in by the deadline" needs the latter.
warnings.filterwarnings(
    "ignore",
    message=r"Function `build_(time_partition_freshness_checks|sensor_for_freshness_checks)`",
)

FRESHNESS_SEVERITY = WARN
"""The severity `build_time_partition_freshness_checks` fails with by default (Dagster's)."""
_DEADLINE_CRON = f"0 {settings.freshness_deadline_hour()} * * *"

freshness_checks = dg.build_time_partition_freshness_checks(
    assets=[ENRICHMENT],
    deadline_cron=_DEADLINE_CRON,
    timezone="UTC",
    severity=FRESHNESS_SEVERITY,
)
"""Fails once the deadline hour (UTC) has passed and yesterday's partition of the last asset is
not materialized: the whole chain, not only the schedule, is late. Its own step runs only when
its sensor requests it; runs that materialize the asset evaluate it in their step instead
(`freshness`): a run from the asset graph plans this step too, but Dagster skips it, as the step
that materializes the asset yields no output it could wait for."""
[FRESHNESS_KEY] = freshness_checks[0].check_keys

freshness_sensor = dg.build_sensor_for_freshness_checks(
    freshness_checks=freshness_checks,
    name="freshness_checks_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING,
)


@dataclass(frozen=True)
class FreshnessDue:
    """Which day must be materialized at a given time: the day before the latest deadline."""

    day: date
    deadline: datetime
    """The latest deadline passed (today's at the deadline hour, or yesterday's before it)."""
    next_deadline: datetime
    """Until then the answer cannot change from passed to failed."""


def freshness_due(now: datetime, deadline_hour: int) -> FreshnessDue:
    """The day `build_time_partition_freshness_checks` expects at `now` for a daily partition
    in UTC and the cron `0 <deadline_hour> * * *`: before 06:00 on 2024-01-03 with the deadline
    at 6 that is 2024-01-01, from 06:00 on it is 2024-01-02."""
    today = datetime.combine(now.astimezone(UTC).date(), time(deadline_hour), UTC)
    deadline = today if now >= today else today - timedelta(days=1)
    return FreshnessDue(deadline.date() - timedelta(days=1), deadline, deadline + timedelta(days=1))


def freshness(due: FreshnessDue, materialized: bool) -> dg.AssetCheckEvaluation:
    """The freshness check as its own step would judge it, with the metadata Dagster's freshness
    sensor reads to decide when to evaluate it again (`dagster/fresh_until_timestamp` on a
    pass). A day before the first partition is never due."""
    key = partition_key(due.day)
    passed = materialized or due.day < daily_partitions.start.date()
    metadata: dict[str, object] = {
        "dagster/freshness_params": dg.MetadataValue.json(
            {"timezone": "UTC", "deadline_cron": _DEADLINE_CRON}
        ),
        "dagster/latest_cron_tick_timestamp": dg.MetadataValue.timestamp(due.deadline),
        "expected_partition": key,
    }
    if passed:
        metadata["dagster/fresh_until_timestamp"] = dg.MetadataValue.timestamp(due.next_deadline)
        description = f"Asset is currently fresh: partition {key} is materialized."
    else:
        due_by = f"{due.deadline:%Y-%m-%d %H:%M} UTC"
        description = f"Asset is overdue: partition {key} was due by {due_by}."
    return dg.AssetCheckEvaluation(
        asset_key=FRESHNESS_KEY.asset_key,
        check_name=FRESHNESS_KEY.name,
        passed=passed,
        severity=FRESHNESS_SEVERITY,
        metadata=metadata,
        description=description,
    )
