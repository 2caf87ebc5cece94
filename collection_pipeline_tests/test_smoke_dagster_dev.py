"""End to end as a user clicks it, read back as the UI reads it: `dagster dev` (webserver +
daemon) on loopback, backfills launched through GraphQL like the UI's Materialize dialog, a
CLI range run on the same instance, and every partition's status, check results and
`dagster/row_count` read through the UI's own GraphQL.

Once with the shipped local dagster.yaml under `dagster dev` (SQLite instance, including the
failing-day case), and once as production runs it: webserver and daemon apart, with
deploy/postgres/dagster.yaml pointed at a fresh PostgreSQL database.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from collection_pipeline.defs.partitions import DAYS_TAG
from collection_pipeline.emulator import EmulatorConfig, serve_in_thread
from collection_pipeline.testing.dagster_dev import (
    DagsterDev,
    dagster_daemon,
    dagster_dev,
    dagster_webserver,
    day_keys,
)
from collection_pipeline_tests.support.postgres import POSTGRES_REQUIRED, admin_engine

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ["raw_beatport_tracks", "processed_tracks", "spotify_enrichments"]
CHECKS = {
    "raw_beatport_tracks": {"complete_against_api_count"},
    "processed_tracks": {"no_quarantined_or_stuck_records", "isrc_validity"},
    "spotify_enrichments": {"no_pending_lookups", "match_rate"},
}
BACKFILL = day_keys(date(2024, 1, 1), date(2024, 1, 3))
"""The all-good backfill (PostgreSQL instance)."""
FAILING_RUN = day_keys(date(2024, 1, 1), date(2024, 1, 5))
FAILING_DAY = date(2024, 1, 3)
"""A backfill with one failing day in the middle (SQLite instance): one backfill, not two, since
each costs the backfill daemon's 30 s ticks."""
CLI_RANGE = (date(2024, 1, 6), date(2024, 1, 7))
TIMEOUT_S = 300


@pytest.fixture
def postgres_instance_env() -> Iterator[dict[str, str]]:
    """DAGSTER_PG_* variables for deploy/postgres/dagster.yaml, on a database of its own."""
    admin = admin_engine()
    name = f"dagster_smoke_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        if POSTGRES_REQUIRED:
            pytest.fail(f"PostgreSQL unreachable: {exc.orig}")
        pytest.skip(f"PostgreSQL unreachable: {exc.orig}")
    url = admin.url
    yield {
        "DAGSTER_PG_HOST": url.host or "127.0.0.1",
        "DAGSTER_PG_PORT": str(url.port or 5432),
        "DAGSTER_PG_DB": name,
        "DAGSTER_PG_USERNAME": url.username or "postgres",
        "DAGSTER_PG_PASSWORD": url.password or "",
    }
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _live_env(home: Path, base_url: str) -> dict[str, str]:
    """Live mode against an emulator served by the test, so it can fail one genre-day."""
    return {
        "COLLECTION_SOURCE": "live",
        "BEATPORT_API_URL": f"{base_url}/v4",
        "BEATPORT_ACCESS_TOKEN": "smoke-token",
        "SPOTIFY_API_URL": f"{base_url}/v1",
        "SPOTIFY_TOKEN_URL": f"{base_url}/api/token",
        "SPOTIFY_CLIENT_ID": "smoke-id",
        "SPOTIFY_CLIENT_SECRET": "smoke-secret",
        "COLLECTION_DATABASE_URL": f"sqlite:///{home / 'catalogue.db'}",
        "COLLECTION_GENRE_IDS": "5,11",
        # what a retry decides is tested, not how long its real backoff waits
        "COLLECTION_RETRY_BACKOFF_S": "0.05",
    }


def _tracks_per_day(database_url: str) -> dict[str, int]:
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT publish_date, count(*) FROM tracks GROUP BY 1"))
        counts = {str(day): count for day, count in rows}
    engine.dispose()
    return counts


def _assert_days_passed(dev: DagsterDev, days: list[str], catalogue: dict[str, int]) -> None:
    """Each day materialized, every check Passed, each row count that day's catalogue rows."""
    for asset in ASSETS:
        materialized, checks = dev.partition_statuses(asset)
        assert {day: materialized.get(day) for day in days} == dict.fromkeys(days, "MATERIALIZED")
        assert set(checks) >= CHECKS[asset]
        for name in CHECKS[asset]:
            got = {day: checks[name].get(day) for day in days}
            assert got == dict.fromkeys(days, "SUCCEEDED"), (asset, name, got)
    processed = dev.latest_metadata("processed_tracks", days)
    assert {day: processed[day]["dagster/row_count"] for day in days} == {
        day: catalogue[day] for day in days
    }


def _cli_run(env: dict[str, str], start: date, end: date) -> None:
    command = [sys.executable, "-m", "collection_pipeline.cli", "run"]
    completed = subprocess.run(
        [*command, "--start", start.isoformat(), "--end", end.isoformat()],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-3000:]


@pytest.mark.slow
def test_ui_reads_per_day_results_after_a_backfill_with_a_failing_day_and_a_cli_run(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(ROOT / "dagster.yaml", home / "dagster.yaml")
    config = EmulatorConfig(tracks_per_day=3, failing_genre_day=(5, FAILING_DAY))
    with serve_in_thread(config) as base_url:
        env = _live_env(home, base_url)
        with dagster_dev(home, env) as dev:
            failing = dev.backfill(ASSETS, FAILING_RUN, TIMEOUT_S)
            [failed_run] = failing["runs"]
            tags = {t["key"]: t["value"] for t in failed_run["tags"]}
            assert tags[DAYS_TAG] == "2024-01-01..2024-01-05"
            assert failed_run["status"] == "FAILURE"
            assert failing["status"] == "COMPLETED_FAILED", "the backfills list reads Failed"
            assert failed_run["jobName"] == "__ASSET_JOB"  # launched from the asset graph
            bad = FAILING_DAY.isoformat()
            good = [day for day in FAILING_RUN if day != bad]
            _assert_days_passed(dev, good, _tracks_per_day(env["COLLECTION_DATABASE_URL"]))
            for asset in ASSETS:
                assert dev.partition_statuses(asset)[0][bad] == "FAILED", asset
            raw_checks = dev.partition_statuses("raw_beatport_tracks")[1]
            assert raw_checks["complete_against_api_count"][bad] == "FAILED"
            [reason] = dev.step_failures(failed_run["runId"])
            assert reason.startswith("1 of 5 days failed")
            assert f"{bad}: incomplete crawl" in reason
            # The run evaluated the freshness check itself (2024 leaves yesterday missing), so it
            # reads overdue, neither Skipped nor Execution failed.
            freshness = dev.latest_executions("spotify_enrichments")["freshness_check"]
            assert freshness["status"] == "FAILED", freshness
            assert freshness["evaluation"]["description"].startswith("Asset is overdue")

            _cli_run({**env, "DAGSTER_HOME": str(home)}, *CLI_RANGE)
            catalogue = _tracks_per_day(env["COLLECTION_DATABASE_URL"])
            _assert_days_passed(dev, [*good, *day_keys(*CLI_RANGE)], catalogue)


@pytest.mark.slow
@pytest.mark.postgres
def test_a_backfill_requested_while_the_daemon_is_down_runs_once_it_starts_on_postgres(
    tmp_path, postgres_instance_env
):
    """The production layout: webserver and daemon as separate processes on a PostgreSQL
    instance. A backfill requested from the UI while the daemon is down (a deploy, a restart)
    waits, and the daemon's first tick after it starts submits it."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(ROOT / "deploy/postgres/dagster.yaml", home / "dagster.yaml")
    with serve_in_thread(EmulatorConfig(tracks_per_day=3)) as base_url:
        env = {**_live_env(home, base_url), **postgres_instance_env}
        with dagster_webserver(home, env) as ui:
            backfill_id = ui.launch_backfill(ASSETS, BACKFILL)
            state = ui.backfill_state(backfill_id)
            assert (state["status"], state["runs"]) == ("REQUESTED", []), "nothing submits it"
            with dagster_daemon(home, env) as daemon_log:
                try:
                    backfill = ui.wait_for_backfill(backfill_id, TIMEOUT_S)
                except AssertionError as exc:
                    raise AssertionError(f"{exc}\n{daemon_log.read_text()[-4000:]}") from exc
            assert backfill["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), ui.tail()
            [run] = backfill["runs"]
            assert run["status"] == "SUCCESS"
            _assert_days_passed(ui, BACKFILL, _tracks_per_day(env["COLLECTION_DATABASE_URL"]))
