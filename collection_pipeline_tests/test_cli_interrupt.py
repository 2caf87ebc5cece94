"""Ctrl-C during `collection-pipeline run`, as a terminal sends it (SIGINT to the process group).

The command must end within 10 s saying `interrupted` and how to resume, leave no lock and no
STARTED run, never retry the interrupted step, and a re-run must end in the catalogue a clean
run produces. Runs the real CLI in a subprocess, in live mode against an emulator with latency
so that the step is mid-flight when the interrupt arrives, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa
from dagster._core.instance.ref import InstanceRef

from collection_pipeline.storage import Database
from collection_pipeline.testing.digest import database_digest
from collection_pipeline_tests.support.environment import live_cli_environment

pytestmark = pytest.mark.slow

DAYS = ("2024-01-01", "2024-01-20")
LATENCY_MS = {
    "raw_beatport_tracks": {"beatport.tracks": 700.0},  # pages slow: the crawl is mid-flight
    "spotify_enrichments": {},
}
"""Per-route emulator latency by interrupted step, over 60 ms everywhere."""
MID_FLIGHT = {
    "raw_beatport_tracks": ("beatport.tracks", 2),  # of 8 pages
    "spotify_enrichments": ("spotify.search", 150),  # of 749 searches
}
"""Route and requests served after which the step is surely running and far from done."""
INTERRUPT_BUDGET_S = 10.0


def _environment(base_url: str, home: Path, database_url: str) -> dict[str, str]:
    return live_cli_environment(
        base_url, home, COLLECTION_DATABASE_URL=database_url, COLLECTION_GENRE_IDS="5,11"
    )


def _start(env: dict[str, str]) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "collection_pipeline.cli", "run"]
    return subprocess.Popen(
        [*command, "--start", DAYS[0], "--end", DAYS[1]],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, like a terminal's foreground job
    )


def _run_to_end(env: dict[str, str]) -> str:
    process = _start(env)
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output[-3000:]
    return output


def _instance(home: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))


def _run_id(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    header = ""
    while not header.startswith("Run "):
        header = process.stdout.readline()
        assert header, "the CLI ended before starting a run"
    return header.split()[1]


def _wait_until_mid_step(base_url: str, step: str) -> None:
    """Return once the step's API has served a few requests (it is mid-flight, not done).

    Watches the emulator, not the instance, so the test does not compete with the run for
    the instance's storage.
    """
    route, enough = MID_FLIGHT[step]
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        served = httpx.get(f"{base_url}/_emulator/stats").json()["requests"].get(route, {})
        if sum(served.values()) >= enough:
            return
        time.sleep(0.05)
    raise AssertionError(f"{step} never got going")


def _no_lock_left(database_url: str) -> None:
    url = sa.make_url(database_url)
    if url.get_backend_name() == "sqlite":
        conn = sqlite3.connect(url.database, timeout=0.5)
        conn.execute("BEGIN IMMEDIATE")  # fails with "database is locked" if a writer remains
        conn.rollback()
        conn.close()
        return
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            open_transactions = conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"
                )
            ).scalar_one()
        assert open_transactions == 0
    finally:
        engine.dispose()


def _digest(database_url: str) -> str:
    database = Database(database_url)
    try:
        return database_digest(database)
    finally:
        database.dispose()


def _fresh(database_url: str, tmp_path: Path, name: str) -> str:
    """A second empty database beside `database_url` on the same engine."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / name}.db"
    url = sa.make_url(database_url)
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    database = f"{url.database}_{name}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    return url.set(database=database).render_as_string(hide_password=False)


@pytest.mark.parametrize(
    ("step", "engine"),
    [
        ("spotify_enrichments", "sqlite"),
        ("raw_beatport_tracks", "sqlite"),
        pytest.param("spotify_enrichments", "postgresql", marks=pytest.mark.postgres),
    ],
)
def test_ctrl_c_mid_step_stops_in_seconds_and_a_rerun_converges(
    step, engine, emulator_url, tmp_path, request
):
    base_url = emulator_url(latency_ms=60, route_latency_ms=LATENCY_MS[step])
    if engine == "sqlite":
        database_url = f"sqlite:///{tmp_path / 'catalogue.db'}"
    else:
        database_url = _fresh(request.getfixturevalue("postgres_database_url"), tmp_path, "int")
    home = tmp_path / "home"
    env = _environment(base_url, home, database_url)

    process = _start(env)
    run_id = _run_id(process)
    _wait_until_mid_step(base_url, step)
    interrupted_at = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    elapsed = time.monotonic() - interrupted_at

    print(f"{step} on {engine}: stopped {elapsed:.2f} s after SIGINT")
    assert elapsed < INTERRUPT_BUDGET_S, f"took {elapsed:.1f} s to stop"
    assert process.returncode == 130, output[-3000:]
    assert f"Failed       {step}: interrupted" in output, "stopped mid-step, not retried"
    assert f"Resume       collection-pipeline run --start {DAYS[0]} --end {DAYS[1]}" in output
    assert "Traceback" not in output
    with _instance(home) as instance:
        run = instance.get_run_by_id(run_id)
        assert run is not None
        assert run.status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)
        retries = instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY
        ).records
        assert not retries, "an interrupt is never retried"
    _no_lock_left(database_url)

    _run_to_end(env)
    clean_url = _fresh(database_url, tmp_path, "clean")
    _run_to_end(_environment(base_url, tmp_path / "clean_home", clean_url))
    assert _digest(database_url) == _digest(clean_url)


def test_a_second_ctrl_c_stops_at_once(emulator_url, tmp_path):
    base_url = emulator_url(latency_ms=60, route_latency_ms=LATENCY_MS["spotify_enrichments"])
    home = tmp_path / "home"
    env = _environment(base_url, home, f"sqlite:///{tmp_path / 'catalogue.db'}")
    process = _start(env)
    run_id = _run_id(process)
    _wait_until_mid_step(base_url, "spotify_enrichments")
    os.killpg(process.pid, signal.SIGINT)
    time.sleep(0.2)
    second_at = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    elapsed = time.monotonic() - second_at

    assert elapsed < 3.0, f"took {elapsed:.1f} s after the second Ctrl-C"
    assert process.returncode == 130
    assert "interrupted" in output  # killed at once, or the first Ctrl-C had already won
    with _instance(home) as instance:
        run = instance.get_run_by_id(run_id)
        assert run is not None
        assert run.status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)
    _no_lock_left(f"sqlite:///{tmp_path / 'catalogue.db'}")
