"""The three assets against a real emulator over loopback HTTP, on SQLite and PostgreSQL,
one partition and a 7-day range each in a single run; metadata read back from the instance."""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg
import pytest

from collection_pipeline_tests.test_definitions_support import (
    ALL_ASSETS,
    bound_resources,
    live_source,
    materialization_metadata,
    run_range,
    scalar,
)

TRACKS_PER_DAY = 3  # per genre; two genres -> 6 tracks per day


@pytest.mark.parametrize("days", [1, 7], ids=["one-partition", "seven-day-range"])
def test_assets_materialize_a_range_in_one_run(database_url, emulator_url, days):
    base_url = emulator_url(tracks_per_day=TRACKS_PER_DAY)
    resources = bound_resources(live_source(base_url), database_url)
    start = date(2024, 3, 4)
    end = start + timedelta(days=days - 1)
    with dg.DagsterInstance.ephemeral() as instance:
        result = run_range(resources, instance, start, end)

        assert result.success
        runs = instance.get_runs()
        assert len(runs) == 1, "a range must run as one run (single-run backfill policy)"
        partitions = [(start + timedelta(days=i)).isoformat() for i in range(days)]
        for asset in ALL_ASSETS:
            materialized = instance.get_materialized_partitions(dg.AssetKey(asset))
            assert materialized == set(partitions)

        raw = materialization_metadata(instance, "raw_beatport_tracks", partitions[-1])
        processed = materialization_metadata(instance, "processed_tracks", partitions[0])
        enriched = materialization_metadata(instance, "spotify_enrichments", partitions[0])

    expected_tracks = days * TRACKS_PER_DAY * 2
    assert raw["api_count"] == raw["records_received"] == raw["new"] == expected_tracks
    assert raw["dagster/row_count"] == expected_tracks
    assert raw["requests"] >= 1
    assert processed["processed"] + processed["quarantined"] == expected_tracks
    assert processed["dagster/row_count"] == processed["processed"]
    assert "|" in processed["preview"], "pandas markdown preview table"
    assert enriched["found"] + enriched["not_found"] + enriched["error"] == enriched["processed"]
    assert enriched["found"] > 0
    assert enriched["requests"] >= enriched["isrcs_searched"] > 0

    stored = scalar(
        database_url,
        "SELECT count(*) FROM tracks WHERE publish_date >= :start AND publish_date <= :end",
        start=start,
        end=end,
    )
    assert stored == processed["processed"]
    outcomes = scalar(database_url, "SELECT count(*) FROM spotify_track_matches")
    assert outcomes == enriched["processed"]

    checks = {
        (e.asset_key.to_user_string(), e.check_name): e.passed
        for e in result.get_asset_check_evaluations()
    }
    assert checks[("raw_beatport_tracks", "complete_against_api_count")]
    assert (
        checks[("processed_tracks", "no_quarantined_or_stuck_records")] or processed["quarantined"]
    )
    assert checks[("spotify_enrichments", "no_pending_lookups")]


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
