"""Helpers of the Dagster-layer tests: resources bound to an emulator and a database, runs of
the real `daily_collection` job, and what the instance recorded per partition."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

import dagster as dg
import sqlalchemy as sa

from collection_pipeline.definitions import build_definitions
from collection_pipeline.defs.automation import JOB_NAME
from collection_pipeline.defs.partitions import range_tags
from collection_pipeline.defs.resources import (
    ApiSourceResource,
    BeatportResource,
    DatabaseResource,
    SpotifyResource,
)
from collection_pipeline.testing.harness import FAST_POLICY_ARGS
from collection_pipeline_tests.support.environment import live_mode

ALL_ASSETS = ("raw_beatport_tracks", "processed_tracks", "spotify_enrichments")
TEST_GENRES = [5, 11]


SourceFields = Mapping[str, Mapping[str, str]]
"""Where the APIs are: field values per resource key (`source`, `beatport`, `spotify`)."""

EMULATOR_SOURCE: SourceFields = {}
"""The defaults: the embedded emulator, started by the `source` resource."""


def live_source(base_url: str) -> SourceFields:
    """Live mode pointed at a standalone emulator: the path real credentials take."""
    fields: dict[str, dict[str, str]] = defaultdict(dict)
    for _, key, field, value in live_mode(base_url):
        fields[key][field] = value
    return fields


def bound_resources(
    source: SourceFields, database_url: str, genre_ids: Sequence[int] = TEST_GENRES
) -> dict[str, dg.ConfigurableResource]:
    """The job's resources, retrying as fast as the service harness does (`FAST_POLICY_ARGS`):
    what a retry decides is tested, not how long its real backoff waits."""
    backoff = FAST_POLICY_ARGS["backoff_base"]
    return {
        "source": ApiSourceResource(**source.get("source", {})),
        "beatport": BeatportResource(
            **source.get("beatport", {}), genre_ids=list(genre_ids), retry_backoff_s=backoff
        ),
        "spotify": SpotifyResource(**source.get("spotify", {}), retry_backoff_s=backoff),
        "database": DatabaseResource(url=database_url),
    }


def run_range(
    resources: Mapping[str, dg.ConfigurableResource],
    instance: dg.DagsterInstance,
    start: date,
    end: date,
    assets: Iterable[str] = ALL_ASSETS,
) -> dg.ExecuteInProcessResult:
    """One run of `assets` over the inclusive day range, as the CLI and a backfill launch it."""
    job = build_definitions(resources).resolve_job_def(JOB_NAME)
    return job.execute_in_process(
        instance=instance,
        asset_selection=[dg.AssetKey(key) for key in assets],
        tags=range_tags(start, end),
        raise_on_error=False,
    )


def days(start: date, count: int) -> list[str]:
    """Partition keys of `count` days from `start`."""
    return [(start + timedelta(days=i)).isoformat() for i in range(count)]


def check_results(instance: dg.DagsterInstance, asset: str, check: str) -> dict[str, str]:
    """The latest execution status of a partitioned check, per partition it was planned for."""
    key = dg.AssetCheckKey(dg.AssetKey(asset), check)
    records = instance.event_log_storage.get_asset_check_execution_history(key, limit=1000)
    latest: dict[str, str] = {}
    for record in records:  # newest first
        if record.partition is not None:
            latest.setdefault(record.partition, record.status.value)
    return latest


def materialization_metadata(
    instance: dg.DagsterInstance, asset: str, partition: str
) -> dict[str, Any]:
    """The stored metadata of the latest materialization of one partition, as plain values."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition]), limit=1
    ).records
    assert records, f"no materialization of {asset} for {partition}"
    materialization = records[0].asset_materialization
    assert materialization is not None
    return {key: value.value for key, value in materialization.metadata.items()}


def scalar(database_url: str, sql: str, **params: object) -> Any:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar_one()
    finally:
        engine.dispose()
