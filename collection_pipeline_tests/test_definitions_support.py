"""Helpers shared by the Dagster-layer tests: resources bound to an emulator and a database,
and runs of the real definitions on an ephemeral instance."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

import dagster as dg
import sqlalchemy as sa

from collection_pipeline.definitions import build_definitions
from collection_pipeline.defs.resources import (
    ApiSourceResource,
    BeatportResource,
    DatabaseResource,
    SpotifyResource,
)

ALL_ASSETS = ("raw_beatport_tracks", "processed_tracks", "spotify_enrichments")
TEST_GENRES = [5, 11]


def live_source(base_url: str) -> ApiSourceResource:
    """Live mode pointed at a standalone emulator: the path real credentials take."""
    return ApiSourceResource(
        mode="live",
        beatport_api_url=f"{base_url}/v4",
        beatport_access_token="test-token",
        spotify_api_url=f"{base_url}/v1",
        spotify_token_url=f"{base_url}/api/token",
        spotify_client_id="test-id",
        spotify_client_secret="test-secret",
    )


def bound_resources(
    source: ApiSourceResource, database_url: str, genre_ids: Sequence[int] = TEST_GENRES
) -> dict[str, dg.ConfigurableResource]:
    return {
        "beatport": BeatportResource(source=source, genre_ids=list(genre_ids)),
        "spotify": SpotifyResource(source=source),
        "database": DatabaseResource(url=database_url),
    }


def run_range(
    resources: Mapping[str, dg.ConfigurableResource],
    instance: dg.DagsterInstance,
    start: date,
    end: date,
    assets: Iterable[str] = ALL_ASSETS,
) -> dg.ExecuteInProcessResult:
    """One run of `assets` over the inclusive day range, as a single-run backfill executes it."""
    job = build_definitions(resources).resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        instance=instance,
        asset_selection=[dg.AssetKey(key) for key in assets],
        tags={
            "dagster/asset_partition_range_start": start.isoformat(),
            "dagster/asset_partition_range_end": end.isoformat(),
        },
        raise_on_error=False,
    )


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
