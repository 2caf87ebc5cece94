"""What the UI shows after range backfills launched from the `daily_collection` job's page and from
the asset graph, read through the UI's own GraphQL answered in process (no webserver; the
backfill daemon ticked by hand): each backfill is one run with its days in a visible tag, the
asset graph's cards read every per-day check passed, and each day's materialization carries the
Int and Float entries the Partitions-axis plots draw."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from collection_pipeline.defs.automation import JOB_NAME
from collection_pipeline.defs.checks import CHECK_SPECS, ENRICHMENT
from collection_pipeline.defs.partitions import DAYS_TAG
from collection_pipeline.testing.ui_graphql import (
    HIDDEN_JOB_PREFIX,
    PLOTTED,
    day_keys,
    in_process_ui,
)
from collection_pipeline_tests.support.dagster_runs import ALL_ASSETS

JOB_PAGE_DAYS = day_keys(date(2024, 2, 1), date(2024, 2, 3))
GRAPH_DAYS = day_keys(date(2024, 2, 4), date(2024, 2, 5))
DAYS = JOB_PAGE_DAYS + GRAPH_DAYS
IN_PROCESS_RUNS = {
    "run_coordinator": {
        "module": "dagster._core.run_coordinator",
        "class": "DefaultRunCoordinator",
    },
    "run_launcher": {
        "module": "dagster._core.launcher.sync_in_memory_run_launcher",
        "class": "SyncInMemoryRunLauncher",
    },
}
"""Runs the backfill submits start at once (no queue) and execute in this process, from the same
code location."""
CHECKOUT = Path(__file__).resolve().parent.parent
"""Where the location's step subprocesses find `collection_pipeline_tests` (not installed)."""
LOCATION = """
from collection_pipeline.definitions import build_definitions
from collection_pipeline_tests.support.dagster_runs import bound_resources, live_source

defs = build_definitions(bound_resources(live_source({base_url!r}), {database_url!r}))
"""
PLOTTED_PER_DAY = {
    "raw_beatport_tracks": {"dagster/row_count", "api_count", "received", "new", "changed",
                            "unchanged"},
    "processed_tracks": {"dagster/row_count", "processed", "quarantined", "stuck",
                         "invalid_isrcs"},
    "spotify_enrichments": {"dagster/row_count", "found", "not_found", "error", "pending",
                            "match_rate"},
}  # fmt: skip
FRESHNESS = "freshness_check"
"""Evaluated by its sensor against the clock, never by a run. A run launched with an asset
selection plans every check of those assets, so this one reads Skipped (a grey dot) until the
sensor evaluates it: the card reads `2 / 3 Passed` while yesterday's day is not checked."""


@pytest.fixture
def ui(tmp_path, emulator_url):
    base_url = emulator_url(tracks_per_day=2)
    location = tmp_path / "location.py"
    database_url = f"sqlite:///{tmp_path / 'catalogue.db'}"
    location.write_text(LOCATION.format(base_url=base_url, database_url=database_url))
    with (
        dg.instance_for_test(overrides=IN_PROCESS_RUNS) as instance,
        in_process_ui(instance, str(location), working_directory=str(CHECKOUT)) as ui,
    ):
        yield ui


def _only_run(ui, backfill_id: str) -> tuple[str, str, dict[str, str]]:
    [run] = ui.run_backfill(backfill_id)["runs"]
    return run["jobName"], run["status"], {tag["key"]: tag["value"] for tag in run["tags"]}


def test_backfills_run_as_one_run_with_visible_days_and_the_ui_reads_each_day(ui):
    # From the job's page a backfill is the daily_collection job's, one run (single-run policy).
    job, status, tags = _only_run(ui, ui.launch_backfill(ALL_ASSETS, JOB_PAGE_DAYS, job=JOB_NAME))
    assert (job, status) == (JOB_NAME, "SUCCESS")
    assert tags[DAYS_TAG] == f"{JOB_PAGE_DAYS[0]}..{JOB_PAGE_DAYS[-1]}"
    # From the asset graph the UI takes the first job every selected asset shares, which is
    # always Dagster's hidden asset job; the visible tag names the days all the same.
    assert all(ui.job_names(asset)[0] == HIDDEN_JOB_PREFIX for asset in ALL_ASSETS)
    job, status, tags = _only_run(ui, ui.launch_backfill(ALL_ASSETS, GRAPH_DAYS))
    assert (job, status) == (HIDDEN_JOB_PREFIX, "SUCCESS")
    assert tags[DAYS_TAG] == f"{GRAPH_DAYS[0]}..{GRAPH_DAYS[-1]}"
    assert not DAYS_TAG.startswith("dagster/"), "the runs list hides dagster/ tags"

    cards = ui.graph_cards(ALL_ASSETS)
    expected = {
        asset: {spec.name: "SUCCEEDED" for spec in CHECK_SPECS if spec.asset_key.path == [asset]}
        for asset in ALL_ASSETS
    }
    expected[ENRICHMENT.to_user_string()][FRESHNESS] = "SKIPPED"
    assert cards == expected

    for asset, labels in PLOTTED_PER_DAY.items():
        entries = ui.latest_entries(asset, DAYS)
        assert sorted(entries) == DAYS, asset  # one point per day on the Partitions axis
        for day, by_label in entries.items():
            plotted = {label for label, entry in by_label.items() if entry.kind in PLOTTED}
            assert plotted == labels, (asset, day)
            assert by_label["dagster/row_count"].value > 0, (asset, day)
    for by_label in ui.latest_entries("spotify_enrichments", DAYS).values():
        assert by_label["match_rate"].kind == "FloatMetadataEntry"
