"""When work happens without anyone clicking: a daily schedule, a Spotify recheck sensor and
eager propagation of upstream changes."""

import json
from datetime import UTC, datetime, timedelta

import dagster as dg

from collection_pipeline import views
from collection_pipeline.defs.checks import CHECK_SPECS, ENRICHMENT, PROCESSED, RAW
from collection_pipeline.defs.partitions import daily_partitions, partition_key
from collection_pipeline.defs.resources import DatabaseResource

JOB_NAME = "daily_collection"
"""The job every collection runs as: the schedule, `collection-pipeline run` and backfills
launched from this job's page; `partitions.range_tags` names the days of a run."""

_DAY_CHECKS = dg.AssetSelection.checks(*(spec.key for spec in CHECK_SPECS))
"""The per-day checks. Not the freshness check: the step evaluates it at the end of the run
(`DaysStep`), and a planned step of its own would only be skipped; its sensor runs it between
runs."""

daily_collection_job = dg.define_asset_job(
    JOB_NAME,
    selection=dg.AssetSelection.assets(RAW, PROCESSED, ENRICHMENT).without_checks() | _DAY_CHECKS,
    executor_def=dg.in_process_executor,
    description="Collect, process and enrich one or more publish days, checking each day.",
)
"""In-process: the whole run is one step, so a step subprocess would only add start-up time."""

spotify_recheck_job = dg.define_asset_job(
    "spotify_recheck",
    selection=dg.AssetSelection.assets(ENRICHMENT).without_checks()
    | dg.AssetSelection.checks(*(s.key for s in CHECK_SPECS if s.asset_key == ENRICHMENT)),
    executor_def=dg.in_process_executor,
    description="Search Spotify again for expired not-found and errored lookups.",
)


def _unreachable(database: DatabaseResource) -> dg.SkipReason | None:
    """A tick starts no run while the catalogue is unreachable: the run would only fail."""
    reason = database.unreachable_reason()
    return dg.SkipReason(f"no run started: {reason}") if reason else None


def _unreadable(database: DatabaseResource) -> dg.SkipReason | None:
    """A tick that reads the catalogue also skips while its schema is behind (after an
    upgrade of the code, before any run migrated it): the tables it reads may not exist yet."""
    skip = _unreachable(database)
    if skip is not None:
        return skip
    reason = database.schema_behind_reason()
    return dg.SkipReason(f"no run started: {reason}") if reason else None


@dg.schedule(
    name="daily_collection_schedule",
    job=daily_collection_job,
    cron_schedule="30 2 * * *",
    execution_timezone="UTC",
    description="Every day at 02:30 UTC, collect yesterday's publish day end to end.",
)
def daily_collection_schedule(
    context: dg.ScheduleEvaluationContext, database: DatabaseResource
) -> dg.RunRequest | dg.SkipReason:
    """A daily partition ends at midnight UTC, so each tick requests the day that just ended.
    The tick reads nothing from the catalogue: a schema behind is no reason to skip, the run
    migrates it."""
    skip = _unreachable(database)
    if skip is not None:
        return skip
    key = partition_key(context.scheduled_execution_time.date() - timedelta(days=1))
    if not daily_partitions.has_partition_key(key):
        return dg.SkipReason(f"{key} is not a partition (before the first publish day)")
    return dg.RunRequest(run_key=key, partition_key=key)


RECHECK_COOLDOWN = timedelta(hours=6)
"""How long after requesting a partition the sensor waits before requesting it again, so a
queued or running recheck is not requested twice."""


def _load_cursor(cursor: str | None) -> dict[str, str]:
    return json.loads(cursor) if cursor else {}


@dg.sensor(
    job=spotify_recheck_job,
    minimum_interval_seconds=300,
    description="Requests enrichment for publish days whose not-found outcomes passed their "
    "TTL or that hold error outcomes. The work list is read from the catalogue each tick, so "
    "a failed tick loses nothing; the cursor only remembers when each day was last requested.",
)
def spotify_recheck_sensor(
    context: dg.SensorEvaluationContext, database: DatabaseResource
) -> dg.SensorResult:
    skip = _unreadable(database)
    if skip is not None:
        return dg.SensorResult(cursor=context.cursor, skip_reason=skip)
    now = datetime.now(UTC)
    requested = _load_cursor(context.cursor)
    days = database.database.unit_of_work(read_only=True).run(
        lambda uow: views.recheck_days(uow, database.not_found_ttl, now)
    )
    run_requests = []
    for day in sorted(days):
        key = partition_key(day)
        last = requested.get(key)
        if last and now - datetime.fromisoformat(last) < RECHECK_COOLDOWN:
            continue
        if not daily_partitions.has_partition_key(key):
            continue
        requested[key] = now.isoformat()
        run_requests.append(
            dg.RunRequest(run_key=f"recheck:{key}:{requested[key]}", partition_key=key)
        )
    still_needed = {partition_key(day) for day in days}
    cursor = json.dumps({k: v for k, v in sorted(requested.items()) if k in still_needed})
    skip = None if run_requests else f"{len(days)} days need a recheck, none due now"
    return dg.SensorResult(run_requests=run_requests, cursor=cursor, skip_reason=skip)


automation_sensor = dg.AutomationConditionSensorDefinition(
    "collection_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Evaluates the assets' automation conditions: eager materialization of "
    "processed_tracks and spotify_enrichments once their upstream partition is updated.",
)
