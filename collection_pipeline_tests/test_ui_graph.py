"""What the UI shows after range backfills launched from the `daily_collection` job's page and from
the asset graph, read through the UI's own GraphQL answered in process (no webserver; the
backfill daemon ticked by hand): each backfill is one run with its days in a visible tag, the
asset graph's cards read every per-day check passed, and each day's materialization carries the
Int and Float entries the Partitions-axis plots draw. With one failing day in a 5-day backfill,
that day alone reads failed, the four others passed, and the cards say so as the UI counts them
(`card_status`). The freshness check reads what the run left, never Skipped."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import pytest

from collection_pipeline import settings
from collection_pipeline.defs.automation import JOB_NAME
from collection_pipeline.defs.checks import CHECK_SPECS, ENRICHMENT, freshness_due
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
"""Evaluated at the end of every run that materializes spotify_enrichments (and by its sensor
between runs): after a run it reads Passed or Failed, never Skipped."""


def _due_day() -> date:
    """The day the freshness check expects now (yesterday, or the day before until the deadline
    hour): the clock here is Dagster's, which a test cannot inject into a run."""
    return freshness_due(datetime.now(UTC), settings.freshness_deadline_hour()).day


@pytest.fixture
def open_ui(tmp_path, emulator_url):
    """`open_ui(**emulator_config)`: the UI's GraphQL over a fresh instance and catalogue."""
    with ExitStack() as stack:

        def start(**config: object):
            base_url = emulator_url(tracks_per_day=2, **config)
            location = tmp_path / "location.py"
            database_url = f"sqlite:///{tmp_path / 'catalogue.db'}"
            location.write_text(LOCATION.format(base_url=base_url, database_url=database_url))
            instance = stack.enter_context(dg.instance_for_test(overrides=IN_PROCESS_RUNS))
            return stack.enter_context(
                in_process_ui(instance, str(location), working_directory=str(CHECKOUT))
            )

        yield start


def _only_run(ui, backfill_id: str) -> tuple[str, str, dict[str, str]]:
    [run] = ui.run_backfill(backfill_id)["runs"]
    return run["jobName"], run["status"], {tag["key"]: tag["value"] for tag in run["tags"]}


def test_backfills_run_as_one_run_with_visible_days_and_the_ui_reads_each_day(open_ui):
    ui = open_ui()
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
    # The days of 2024 leave yesterday's partition missing: overdue, a warning, said so.
    expected[ENRICHMENT.to_user_string()][FRESHNESS] = "WARN"
    assert cards == expected
    freshness = ui.latest_executions("spotify_enrichments")[FRESHNESS]
    assert freshness["status"] == "FAILED"
    assert freshness["evaluation"]["description"].startswith(
        f"Asset is overdue: partition {_due_day().isoformat()} was due by"
    )
    assert ui.card_lines(ALL_ASSETS) == {
        "raw_beatport_tracks": ("SUCCEEDED", "1 / 1 Passed"),
        "processed_tracks": ("SUCCEEDED", "2 / 2 Passed"),
        "spotify_enrichments": ("WARN", "2 / 3 Passed"),
    }

    for asset, labels in PLOTTED_PER_DAY.items():
        entries = ui.latest_entries(asset, DAYS)
        assert sorted(entries) == DAYS, asset  # one point per day on the Partitions axis
        for day, by_label in entries.items():
            plotted = {label for label, entry in by_label.items() if entry.kind in PLOTTED}
            assert plotted == labels, (asset, day)
            assert by_label["dagster/row_count"].value > 0, (asset, day)
    for by_label in ui.latest_entries("spotify_enrichments", DAYS).values():
        assert by_label["match_rate"].kind == "FloatMetadataEntry"


FAILING_RUN = day_keys(date(2024, 1, 1), date(2024, 1, 5))
FAILING_DAY = "2024-01-03"


def test_one_failing_day_reads_failed_alone_and_a_run_through_yesterday_reads_fresh(open_ui):
    """A 5-day backfill whose middle day fails its crawl: that day reads Failed for each asset
    and Failed / Execution failed for each check (the later checks were planned for it, never
    evaluated: the day went no further), the four others Passed. The freshness check, evaluated
    by the run itself, reads overdue, then Passed after a run of the day it expects."""
    days, bad = FAILING_RUN, FAILING_DAY
    ui = open_ui(failing_genre_day=(5, date.fromisoformat(bad)))

    [run] = ui.run_backfill(ui.launch_backfill(ALL_ASSETS, days))["runs"]

    assert run["status"] == "FAILURE"
    [reason] = ui.step_failures(run["runId"])
    assert reason.startswith("1 of 5 days failed")
    assert f"{bad}: incomplete crawl" in reason
    good = dict.fromkeys([day for day in days if day != bad], "SUCCEEDED")
    not_evaluated = {**good, bad: "EXECUTION_FAILED"}
    expected = {
        "raw_beatport_tracks": {"complete_against_api_count": {**good, bad: "FAILED"}},
        "processed_tracks": dict.fromkeys(
            ["no_quarantined_or_stuck_records", "isrc_validity"], not_evaluated
        ),
        "spotify_enrichments": dict.fromkeys(["no_pending_lookups", "match_rate"], not_evaluated),
    }
    for asset, checks in expected.items():
        materialized, by_check = ui.partition_statuses(asset)
        assert {day: materialized[day] for day in days} == {
            **dict.fromkeys(good, "MATERIALIZED"),
            bad: "FAILED",
        }, asset
        assert {name: by_check[name] for name in checks} == checks, asset
    freshness = ui.latest_executions("spotify_enrichments")[FRESHNESS]
    assert (freshness["status"], freshness["partition"]) == ("FAILED", None)

    # Each card counts a check Passed only if it passed on every day, and colours a failed one
    # by the severity of the check's latest evaluation (the last good day's, here).
    assert ui.graph_cards(ALL_ASSETS) == {
        "raw_beatport_tracks": {"complete_against_api_count": "ERROR"},
        "processed_tracks": {"no_quarantined_or_stuck_records": "WARN", "isrc_validity": "WARN"},
        "spotify_enrichments": {
            "no_pending_lookups": "WARN",
            "match_rate": "WARN",
            FRESHNESS: "WARN",
        },
    }
    assert ui.card_lines(ALL_ASSETS) == {
        "raw_beatport_tracks": ("ERROR", "0 / 1 Passed"),
        "processed_tracks": ("WARN", "0 / 2 Passed"),
        "spotify_enrichments": ("WARN", "0 / 3 Passed"),
    }

    [run] = ui.run_backfill(ui.launch_backfill(ALL_ASSETS, [_due_day().isoformat()]))["runs"]
    assert run["status"] == "SUCCESS"
    freshness = ui.latest_executions("spotify_enrichments")[FRESHNESS]
    assert freshness["status"] == "SUCCEEDED"
    assert ui.graph_cards(["spotify_enrichments"])["spotify_enrichments"][FRESHNESS] == "SUCCEEDED"
