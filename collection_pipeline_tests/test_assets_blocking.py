"""One bad day fails alone: in a 5-day run whose third day cannot be crawled completely, the
other four days are collected, processed, enriched and checked Passed, while the bad day is
marked failed with its reason and goes no further."""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg

from collection_pipeline.defs.checks import CHECK_SPECS, COMPLETE
from collection_pipeline_tests.support.dagster_runs import (
    ALL_ASSETS,
    bound_resources,
    check_results,
    days,
    live_source,
    run_range,
    scalar,
)


def test_an_incomplete_day_fails_alone_and_the_others_are_enriched(tmp_path, emulator_url):
    start = date(2024, 6, 1)
    bad = start + timedelta(days=2)
    base_url = emulator_url(tracks_per_day=3, failing_genre_day=(5, bad))
    database_url = f"sqlite:///{tmp_path}/catalogue.db"
    resources = bound_resources(live_source(base_url), database_url)
    partitions = days(start, 5)
    good = [day for day in partitions if day != bad.isoformat()]

    with dg.DagsterInstance.ephemeral() as instance:
        result = run_range(resources, instance, start, start + timedelta(days=4))
        materialized = {
            key: instance.get_materialized_partitions(dg.AssetKey(key)) for key in ALL_ASSETS
        }
        statuses = {
            spec.name: check_results(instance, spec.asset_key.to_user_string(), spec.name)
            for spec in CHECK_SPECS
        }
        [failure] = [e for e in result.all_events if e.is_step_failure]

    assert not result.success
    assert materialized == {key: set(good) for key in ALL_ASSETS}
    for name, by_day in statuses.items():
        assert {day: by_day[day] for day in good} == dict.fromkeys(good, "SUCCEEDED"), name
    assert statuses[COMPLETE.name][bad.isoformat()] == "FAILED"
    reason = failure.step_failure_data.user_failure_data.description
    assert f"{bad}: incomplete crawl" in reason
    # The good days are in the catalogue and matched; the bad day was not processed.
    assert scalar(database_url, "SELECT count(*) FROM tracks WHERE publish_date = :d", d=bad) == 0
    enriched_days = scalar(
        database_url,
        "SELECT count(DISTINCT t.publish_date) FROM spotify_track_matches m "
        "JOIN tracks t ON t.id = m.track_id",
    )
    assert enriched_days == 4
