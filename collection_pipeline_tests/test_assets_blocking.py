"""An incomplete Beatport crawl fails the blocking completeness check, which stops processing
and enrichment of that partition while the data that did arrive stays committed."""

from __future__ import annotations

from datetime import date

import dagster as dg

from collection_pipeline.emulator.config import FaultRates
from collection_pipeline_tests.test_definitions_support import (
    bound_resources,
    live_source,
    materialization_metadata,
    run_range,
    scalar,
)


def test_incomplete_raw_collection_blocks_enrichment(tmp_path, emulator_url):
    shifting = FaultRates(page_shift=1.0, max_consecutive=1_000)
    # One genre and one day cannot be split further, so re-crawls cannot route around shifts.
    base_url = emulator_url(tracks_per_day=250, faults=shifting)
    database_url = f"sqlite:///{tmp_path}/catalogue.db"
    resources = bound_resources(live_source(base_url), database_url, genre_ids=[5])
    day = date(2024, 6, 1)

    with dg.DagsterInstance.ephemeral() as instance:
        result = run_range(resources, instance, day, day)
        raw = materialization_metadata(instance, "raw_beatport_tracks", day.isoformat())
        downstream = {
            key: instance.get_materialized_partitions(dg.AssetKey(key))
            for key in ("processed_tracks", "spotify_enrichments")
        }

    assert not result.success
    [check] = [
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "complete_against_api_count"
    ]
    assert not check.passed
    assert check.metadata["missing"].value > 0
    assert raw["records_received"] < raw["api_count"]
    assert downstream == {"processed_tracks": set(), "spotify_enrichments": set()}
    assert scalar(database_url, "SELECT count(*) FROM external_data") == raw["records_received"]
    assert scalar(database_url, "SELECT count(*) FROM tracks") == 0
    assert scalar(database_url, "SELECT count(*) FROM spotify_track_matches") == 0
