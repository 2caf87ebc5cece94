"""Schedule, recheck sensor and eager automation, evaluated the way the daemon evaluates them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster._core.definitions.schedule_definition import ScheduleExecutionData

from collection_pipeline import settings
from collection_pipeline.definitions import build_definitions
from collection_pipeline.defs import checks
from collection_pipeline.defs.partitions import daily_partitions, partition_key
from collection_pipeline.storage import Database
from collection_pipeline.testing.ports import refusing_port
from collection_pipeline_tests.support.dagster_runs import (
    bound_resources,
    live_source,
    run_range,
)

TICK_AT = datetime(2024, 3, 10, 2, 30, tzinfo=UTC)
"""The daily schedule's 02:30 UTC tick on 2024-03-10, which requests 2024-03-09."""


def schedule_tick(defs: dg.Definitions, resources: dict) -> ScheduleExecutionData:
    """Evaluate the daily schedule's tick at `TICK_AT` as the daemon would."""
    schedule = defs.get_schedule_def("daily_collection_schedule")
    with dg.build_schedule_context(
        scheduled_execution_time=TICK_AT,
        resources=resources,
        repository_def=defs.get_repository_def(),
    ) as context:
        return schedule.evaluate_tick(context)


def test_daily_schedule_requests_yesterdays_partition_of_all_three_assets(tmp_path):
    url = f"sqlite:///{tmp_path}/c.db"
    Database(url).upgrade()
    resources = bound_resources(live_source("http://unused"), url)
    defs = build_definitions(resources)
    schedule = defs.get_schedule_def("daily_collection_schedule")
    requests = schedule_tick(defs, resources).run_requests
    assert [r.partition_key for r in requests] == ["2024-03-09"]
    job = defs.resolve_job_def(schedule.job_name)
    assert job.asset_layer.executable_asset_keys == {
        dg.AssetKey("raw_beatport_tracks"),
        dg.AssetKey("processed_tracks"),
        dg.AssetKey("spotify_enrichments"),
    }


def _age_outcomes(database_url: str) -> None:
    """2024-02-01 gets a not_found past the TTL, 2024-02-02 an error, 2024-02-03 stays."""
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        track_of = {}
        for day in (date(2024, 2, 1), date(2024, 2, 2)):
            track_of[day] = conn.execute(
                sa.text(
                    "SELECT m.track_id FROM spotify_track_matches m JOIN tracks t "
                    "ON t.id = m.track_id WHERE t.publish_date = :day ORDER BY m.track_id LIMIT 1"
                ),
                {"day": day},
            ).scalar_one()
        conn.execute(
            sa.text(
                "UPDATE spotify_track_matches SET status = 'not_found', spotify_track_id = NULL,"
                " searched_at = :old WHERE track_id = :id"
            ),
            {"old": datetime.now(UTC) - timedelta(days=45), "id": track_of[date(2024, 2, 1)]},
        )
        conn.execute(
            sa.text(
                "UPDATE spotify_track_matches SET status = 'error', spotify_track_id = NULL"
                " WHERE track_id = :id"
            ),
            {"id": track_of[date(2024, 2, 2)]},
        )
    engine.dispose()


def test_recheck_sensor_requests_exactly_expired_not_found_and_error_partitions(
    tmp_path, emulator_url
):
    database_url = f"sqlite:///{tmp_path}/catalogue.db"
    resources = bound_resources(live_source(emulator_url(tracks_per_day=2)), database_url)
    defs = build_definitions(resources)
    sensor = defs.get_sensor_def("spotify_recheck_sensor")
    with dg.DagsterInstance.ephemeral() as instance:
        assert run_range(resources, instance, date(2024, 2, 1), date(2024, 2, 3)).success

        def tick(cursor: str | None = None) -> dg.SensorResult:
            with dg.build_sensor_context(instance, cursor=cursor, resources=resources) as context:
                return sensor(context)

        assert tick().run_requests == []

        _age_outcomes(database_url)
        first = tick()
        assert sorted(r.partition_key for r in first.run_requests) == ["2024-02-01", "2024-02-02"]
        assert set(json.loads(first.cursor)) == {"2024-02-01", "2024-02-02"}

        # The cursor holds the requests back until the cooldown ends...
        assert tick(first.cursor).run_requests == []
        # ...while a tick that failed (cursor never stored) loses nothing: the work list comes
        # from the catalogue, so the next tick asks for the same partitions again.
        assert sorted(r.partition_key for r in tick().run_requests) == [
            "2024-02-01",
            "2024-02-02",
        ]


def test_eager_condition_requests_downstream_after_upstream_materialization(tmp_path):
    defs = build_definitions(
        bound_resources(live_source("http://unused"), f"sqlite:///{tmp_path}/c.db")
    )
    now = datetime.now(UTC)
    latest = (now.date() - timedelta(days=1)).isoformat()
    with dg.DagsterInstance.ephemeral() as instance:
        before = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, evaluation_time=now
        )
        assert before.total_requested == 0

        instance.report_runless_asset_event(
            dg.AssetMaterialization("raw_beatport_tracks", partition=latest)
        )
        after = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=before.cursor, evaluation_time=now
        )
    # Eager chains: enrichment is requested with processing, in the same tick, for that day only.
    assert after.get_requested_partitions(dg.AssetKey("processed_tracks")) == {latest}
    assert after.get_requested_partitions(dg.AssetKey("spotify_enrichments")) == {latest}
    assert after.get_num_requested(dg.AssetKey("raw_beatport_tracks")) == 0


def test_automation_sensor_ships_running():
    from collection_pipeline.definitions import defs

    sensor = defs.get_sensor_def("collection_automation")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


@pytest.fixture
def closed_port_url() -> Iterator[str]:
    """A PostgreSQL URL nothing listens on: every connection is refused, like a server down.
    The port stays bound (not listening) for the test, so no other process can serve on it."""
    with refusing_port() as port:
        yield f"postgresql+psycopg2://collector:s3cret@127.0.0.1:{port}/catalogue"


def test_schedule_and_sensor_start_no_run_while_the_database_is_unreachable(closed_port_url):
    resources = bound_resources(live_source("http://unused"), closed_port_url)
    defs = build_definitions(resources)
    sensor = defs.get_sensor_def("spotify_recheck_sensor")

    scheduled = schedule_tick(defs, resources)
    with dg.build_sensor_context(cursor='{"2024-02-01": "x"}', resources=resources) as context:
        sensed = sensor(context)

    assert scheduled.run_requests == []
    assert sensed.run_requests == []
    assert sensed.cursor == '{"2024-02-01": "x"}'  # a skipped tick forgets nothing
    for reason in (scheduled.skip_message, sensed.skip_reason.skip_message):
        assert reason.startswith("no run started: catalogue database postgresql+psycopg2://")
        assert "unreachable: " in reason
        assert "Connection refused" in reason
        assert "s3cret" not in reason
        assert "\n" not in reason


def test_after_a_new_migration_the_schedule_requests_its_run_and_the_sensor_skips(database_url):
    """The code was upgraded, no run has migrated yet: neither tick errors, and neither
    migrates. The schedule's run will migrate; the sensor, which reads the catalogue, waits."""
    database = Database(database_url)
    database.upgrade()
    database.downgrade("-1")
    previous, head = database.current_revision(), Database.head_revision()
    assert previous is not None
    assert previous != head
    resources = bound_resources(live_source("http://unused"), database_url)
    defs = build_definitions(resources)
    sensor = defs.get_sensor_def("spotify_recheck_sensor")

    scheduled = schedule_tick(defs, resources)
    with dg.build_sensor_context(cursor='{"2024-02-01": "x"}', resources=resources) as context:
        sensed = sensor(context)

    assert [r.partition_key for r in scheduled.run_requests] == ["2024-03-09"]
    assert sensed.run_requests == []
    assert sensed.cursor == '{"2024-02-01": "x"}'
    assert sensed.skip_reason.skip_message == (
        f"no run started: the catalogue schema is behind (revision {previous}, latest {head}); "
        "the next run or `collection-pipeline migrate` brings it up"
    )
    try:
        assert database.current_revision() == previous, "a tick migrated the schema"
    finally:
        database.dispose()


@pytest.mark.parametrize(
    "now",
    [
        datetime(2024, 3, 10, 5, 59, tzinfo=UTC),
        datetime(2024, 3, 10, 6, 0, tzinfo=UTC),
        datetime(2024, 3, 10, 6, 1, tzinfo=UTC),
        datetime(2024, 3, 10, 23, 59, tzinfo=UTC),
    ],
)
def test_the_runs_freshness_evaluation_expects_the_day_dagsters_freshness_check_expects(now):
    """The step's own evaluation (`checks.freshness_due`) and the check's step built by
    `build_time_partition_freshness_checks` (what its sensor runs) expect the same partition at
    the same time, computed as that step computes it."""
    from dagster._core.definitions.partitions.context import partition_loading_context
    from dagster._utils.schedules import get_latest_completed_cron_tick, get_next_cron_tick

    cron = f"0 {settings.freshness_deadline_hour()} * * *"
    deadline = get_latest_completed_cron_tick(cron, now, "UTC")
    with partition_loading_context(deadline):
        window = daily_partitions.get_last_partition_window()
    expected = daily_partitions.get_partition_key_range_for_time_window(window).start

    due = checks.freshness_due(now, settings.freshness_deadline_hour())

    assert partition_key(due.day) == expected
    assert due.deadline == deadline
    # Dagster's next tick at exactly 06:00 is 06:00 itself; the next one after the deadline:
    assert due.next_deadline == get_next_cron_tick(cron, deadline + timedelta(seconds=1), "UTC")


def test_freshness_passes_when_the_due_day_is_materialized_and_says_until_when():
    due = checks.freshness_due(datetime(2024, 3, 10, 7, tzinfo=UTC), deadline_hour=6)
    fresh, overdue = checks.freshness(due, materialized=True), checks.freshness(due, False)
    assert (fresh.passed, overdue.passed) == (True, False)
    assert (
        fresh.metadata["dagster/fresh_until_timestamp"].value
        == datetime(2024, 3, 11, 6, tzinfo=UTC).timestamp()
    )  # what the freshness sensor reads before it evaluates the check again
    assert "2024-03-09" in (overdue.description or "")
    assert overdue.severity == dg.AssetCheckSeverity.WARN
