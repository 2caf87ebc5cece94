"""The three assets against a real emulator over loopback HTTP, on SQLite and PostgreSQL: one
partition and a 7-day range, each in a single `daily_collection` run, read back per partition
from the instance: each day carries its own figures and its own check results."""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg
import pytest

from collection_pipeline.defs.checks import CHECK_SPECS
from collection_pipeline.defs.partitions import DAYS_TAG
from collection_pipeline_tests.support.dagster_runs import (
    ALL_ASSETS,
    bound_resources,
    check_results,
    days,
    live_source,
    materialization_metadata,
    run_range,
    scalar,
)

TRACKS_PER_DAY = 3  # per genre; two genres -> 6 tracks per day
RUN_WIDE = {"requests", "rate_limited_429", "seconds", "records_per_second", "isrcs_per_second"}


@pytest.mark.parametrize("count", [1, 7], ids=["one-partition", "seven-day-range"])
def test_each_partition_of_a_range_run_carries_its_own_figures_and_checks(
    database_url, emulator_url, count
):
    base_url = emulator_url(tracks_per_day=TRACKS_PER_DAY)
    resources = bound_resources(live_source(base_url), database_url)
    start = date(2024, 3, 4)
    partitions = days(start, count)
    with dg.DagsterInstance.ephemeral() as instance:
        result = run_range(resources, instance, start, start + timedelta(days=count - 1))

        assert result.success
        [run] = instance.get_runs()
        assert run.job_name == "daily_collection"
        assert run.tags[DAYS_TAG] == f"{partitions[0]}..{partitions[-1]}"
        for asset in ALL_ASSETS:
            assert instance.get_materialized_partitions(dg.AssetKey(asset)) == set(partitions)
        for spec in CHECK_SPECS:
            statuses = check_results(instance, spec.asset_key.to_user_string(), spec.name)
            assert statuses == dict.fromkeys(partitions, "SUCCEEDED"), spec.name
        figures = {
            (asset, day): materialization_metadata(instance, asset, day)
            for asset in ALL_ASSETS
            for day in partitions
        }

    for day in partitions:
        raw = figures["raw_beatport_tracks", day]
        processed = figures["processed_tracks", day]
        enriched = figures["spotify_enrichments", day]
        tracks_of_day = scalar(
            database_url, "SELECT count(*) FROM tracks WHERE publish_date = :day", day=day
        )
        outcomes_of_day = scalar(
            database_url,
            "SELECT count(*) FROM spotify_track_matches m JOIN tracks t ON t.id = m.track_id "
            "WHERE t.publish_date = :day",
            day=day,
        )
        assert tracks_of_day == TRACKS_PER_DAY * 2
        assert raw["api_count"] == raw["received"] == raw["new"] == tracks_of_day
        assert raw["dagster/row_count"] == tracks_of_day
        assert processed["dagster/row_count"] == processed["processed"] == tracks_of_day
        assert enriched["dagster/row_count"] == outcomes_of_day
        assert enriched["found"] + enriched["not_found"] + enriched["error"] == outcomes_of_day
        found, looked_up = enriched["found"], enriched["found"] + enriched["not_found"]
        assert enriched["match_rate"] == pytest.approx(found / looked_up, abs=1e-3)
        # The preview shows this day's rows, and the enrichment its own columns.
        assert processed["preview"].count(day) == 5
        assert all(f"| {column}" in enriched["preview"] for column in ("status", "rule"))
        assert "spotify_track_id" in enriched["preview"]
        assert "score" in enriched["preview"]
        for metadata in (raw, processed, enriched):
            assert not RUN_WIDE & metadata.keys(), "run-wide figures belong to the run log"


def test_recollecting_unchanged_partition_keeps_the_data_version(database_url, emulator_url):
    resources = bound_resources(live_source(emulator_url(tracks_per_day=2)), database_url)
    day = date(2024, 5, 1)
    with dg.DagsterInstance.ephemeral() as instance:
        assert run_range(resources, instance, day, day, ["raw_beatport_tracks"]).success
        assert run_range(resources, instance, day, day, ["raw_beatport_tracks"]).success
        records = instance.fetch_materializations(
            dg.AssetKey("raw_beatport_tracks"), limit=2
        ).records
    latest, earlier = (r.asset_materialization for r in records)  # newest first
    assert latest.tags["dagster/data_version"] == earlier.tags["dagster/data_version"]
    assert (earlier.metadata["new"].value, latest.metadata["new"].value) == (4, 0)
    assert latest.metadata["unchanged"].value == 4
