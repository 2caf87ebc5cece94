"""Resumability: a run killed with SIGKILL at a random moment, then re-run, ends exactly where
an uninterrupted run ends (same `database_digest`).

Each run is a separate process (`support/crash_run.py`), so the kill is a real one: no
`finally`, no rollback by Python, only what the database made durable survives.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from collection_pipeline.storage import Database
from collection_pipeline.testing.digest import database_digest

REPO_ROOT = Path(__file__).resolve().parent.parent
START = date(2024, 3, 1)
END = START + timedelta(days=1)
GENRES = "5,11,12"
TRIALS = 5
"""Kill points are stratified: one in each fifth of a clean run, so every stretch of the run
(crawl, processing, enrichment) is hit without the ten random trials this once took."""
KILL_ATTEMPTS = 4


def start_run(db_url: str, base_url: str, run_id: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "collection_pipeline_tests.support.crash_run",
            db_url,
            base_url,
            START.isoformat(),
            END.isoformat(),
            GENRES,
            run_id,
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if line != "ready":
        process.kill()
        _, stderr = process.communicate()
        pytest.fail(f"pipeline process did not start: {line!r} {stderr[-2000:]}")
    return process


def finish(process: subprocess.Popen[str]) -> None:
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-3000:]
    assert stdout.strip().endswith("done")


def digest(db_url: str) -> str:
    db = Database(db_url)
    try:
        return database_digest(db)
    finally:
        db.dispose()


def fresh_database(database_url: str, name: str) -> str:
    """An empty database for one attempt: a new SQLite file per name (a retried attempt must
    not start from the catalogue its predecessor finished), or PostgreSQL's schema reset."""
    url = sa.make_url(database_url)
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        return url.set(database=f"{url.database}.{name}").render_as_string(hide_password=False)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    return database_url


@pytest.mark.slow
def test_sigkill_at_random_points_then_rerun_converges(database_url: str, emulator_url) -> None:
    base_url = emulator_url()
    clean_url = fresh_database(database_url, "clean")
    clean = start_run(clean_url, base_url, "clean")
    started = time.monotonic()
    finish(clean)
    work_seconds = time.monotonic() - started
    expected = digest(clean_url)

    rng = random.Random(os.environ.get("CRASH_TEST_SEED", "crash"))
    killed_at: list[float] = []
    for trial in range(1, TRIALS + 1):
        fraction = (trial - 1 + rng.random()) / TRIALS
        url, delay = kill_while_working(database_url, base_url, trial, work_seconds * fraction)
        killed_at.append(delay)
        finish(start_run(url, base_url, f"rerun-{trial}"))
        assert digest(url) == expected, f"trial {trial} killed after {delay:.2f}s diverged"

    print(f"clean run {work_seconds:.2f}s; killed at {sorted(round(d, 2) for d in killed_at)}")


def kill_while_working(
    database_url: str, base_url: str, trial: int, delay: float
) -> tuple[str, float]:
    """SIGKILL a run `delay` seconds into its work; return its database and the delay used.

    The delay comes from the clean run's length. On a loaded machine a victim can run faster
    than the clean run did and finish before the signal; the trial then starts again on a fresh
    database with the delay shortened, so every trial is a real kill of a working run.
    """
    for attempt in range(KILL_ATTEMPTS):
        url = fresh_database(database_url, f"{trial}-{attempt}")
        victim = start_run(url, base_url, f"killed-{trial}-{attempt}")
        time.sleep(delay)
        landed = victim.poll() is None
        if landed:
            victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=60)
        if landed:
            return url, delay
        delay /= 2
    raise AssertionError(f"trial {trial}: the run finished before every kill")
