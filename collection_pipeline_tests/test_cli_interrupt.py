"""Ctrl-C during `collection-pipeline run`, as a terminal sends it (SIGINT to the process group).

The command must end within 10 s saying `interrupted` and how to resume, leave no lock and no
STARTED run, never retry the interrupted step, and a re-run must end in the catalogue a clean
run produces. Runs the real CLI in a subprocess, in live mode against an emulator, on SQLite and
on PostgreSQL, with the interrupt landing in each of the three steps.

Only the interrupted run needs the step to be mid-flight: it talks to an emulator with latency
(the API steps) or to one with enough records for several processing batches (processing). The
re-runs and the clean references talk to an emulator of the same seed without latency; its
catalogue is the same (latency only delays answers), which every comparison below confirms. The
reference is the catalogue the service's three steps write for the same window and genres,
computed once per engine and scenario for the whole session: independent of the CLI and of
Dagster, so a re-run that converged only to what another CLI run also got wrong still fails.
"""

from __future__ import annotations

import fcntl
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa
from dagster._core.instance.ref import InstanceRef

from collection_pipeline.cli import ASSET_KEYS
from collection_pipeline.domain import DateWindow
from collection_pipeline.emulator import EmulatorConfig, serve_in_thread
from collection_pipeline.storage import Database
from collection_pipeline.testing.digest import database_digest
from collection_pipeline.testing.harness import migrated_database, real_service
from collection_pipeline_tests.support.environment import live_cli_environment

pytestmark = pytest.mark.slow

DAYS = ("2024-01-01", "2024-01-05")
GENRE_IDS = (5, 11)
INTERRUPT_BUDGET_S = 10.0
SECOND_INTERRUPT_BUDGET_S = 1.5
"""A second Ctrl-C kills the worker's process group, marks the run canceled and prints one
line: about 0.05 s unloaded (it was 0.4 to 0.7 s, and 3 s under load, while the CLI waited out
its poll interval and Python's teardown and Dagster's `tail` helpers outlived the worker), so
this bound holds a 30-fold margin for a loaded machine."""
FAST_PACER = {"COLLECTION_SPOTIFY_START_RATE": "1000"}
"""Re-runs and references search Spotify from a high start rate (no rate limit on the
emulator); the interrupted run keeps the default slow start, so enrichment is mid-flight."""


@dataclass(frozen=True)
class Scenario:
    """What one run covers: the emulator's tracks per genre and day, and the assets selected."""

    name: str
    tracks_per_day: int
    assets: tuple[str, ...] = ()
    """`--asset` options; empty: the whole job."""


WHOLE_JOB = Scenario("job", tracks_per_day=80)
"""Two genres over 5 days: 800 records, 8 Beatport pages, about 760 Spotify searches. Five days
rather than twenty: the same records and pages, a quarter of the per-day figures and checks."""
PROCESSING = Scenario(
    "processing", tracks_per_day=400, assets=("raw_beatport_tracks", "processed_tracks")
)
"""4,000 records, so processing commits four batches of 1,000: once the first is committed,
three remain (about 2 s unloaded, longer under load, as processing is CPU-bound). Enrichment is
left out: 3,800 searches would cost a minute, and its own interrupt is tested on WHOLE_JOB."""


@dataclass(frozen=True)
class Step:
    """How to catch one step mid-flight: the data, the emulator's latency, what to wait for."""

    scenario: Scenario
    route_latency_ms: dict[str, float] = field(default_factory=dict)
    served: tuple[str, int] | None = None
    """Route and requests served after which the step is surely running and far from done;
    None: wait for the first committed processing batch in the catalogue instead."""


STEPS = {
    # pages slow: two of eight pages served, the crawl is mid-flight
    "raw_beatport_tracks": Step(WHOLE_JOB, {"beatport.tracks": 700.0}, ("beatport.tracks", 2)),
    "processed_tracks": Step(PROCESSING),
    # the pacer's slow start: 40 of about 760 searches served
    "spotify_enrichments": Step(WHOLE_JOB, {}, ("spotify.search", 40)),
}
LATENCY_MS = 60.0
"""Every route's latency in an interrupted run of an API step."""


def _environment(base_url: str, home: Path, database_url: str, **extra: str) -> dict[str, str]:
    return live_cli_environment(
        base_url,
        home,
        COLLECTION_DATABASE_URL=database_url,
        COLLECTION_GENRE_IDS=",".join(map(str, GENRE_IDS)),
        **extra,
    )


def _start(env: dict[str, str], scenario: Scenario) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "collection_pipeline.cli", "run"]
    command += ["--start", DAYS[0], "--end", DAYS[1], *(f"--asset={a}" for a in scenario.assets)]
    return subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, like a terminal's foreground job
    )


def _run_to_end(env: dict[str, str], scenario: Scenario) -> str:
    process = _start(env, scenario)
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


def _wait_until(ready: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} never got going")


def _served(base_url: str, route: str) -> int:
    return sum(httpx.get(f"{base_url}/_emulator/stats").json()["requests"].get(route, {}).values())


def _records(database_url: str) -> tuple[int, int]:
    """(raw records, of which processed or quarantined) in the catalogue; (0, 0) before it has
    a schema. Reads the catalogue, not the instance: the test does not compete with the run
    for the instance's storage, and on SQLite a reader never waits for the writer."""
    url = sa.make_url(database_url)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").exists():
        return 0, 0  # connecting would create the file under the run's migration
    engine = sa.create_engine(url)
    query = sa.text("SELECT count(*), count(processed_at) FROM external_data")
    try:
        with engine.connect() as conn:
            total, processed = conn.execute(query).one()
        return total, processed
    except sa.exc.DBAPIError:
        return 0, 0
    finally:
        engine.dispose()


def _wait_until_mid_step(step: Step, base_url: str, database_url: str) -> None:
    """Return once the step is running and far from done.

    The API steps are judged by the emulator's statistics; processing, which calls no API, by
    its first committed batch in the catalogue.
    """
    if step.served is not None:
        route, enough = step.served
        _wait_until(lambda: _served(base_url, route) >= enough, route)
    else:
        _wait_until(lambda: _records(database_url)[1] > 0, "processing")


def _no_lock_left(database_url: str) -> None:
    url = sa.make_url(database_url)
    if url.get_backend_name() == "sqlite":
        conn = sqlite3.connect(url.database or "", timeout=0.5)
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


@pytest.fixture(scope="module")
def new_catalogue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., str]]:
    """`new_catalogue(None)`: a new SQLite catalogue; `new_catalogue(postgres_url)`: a new
    database on that server (dropped at the end of the module)."""
    created: list[sa.URL] = []

    def admin(url: sa.URL) -> sa.Engine:
        return sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")

    def new(postgres_url: str | None) -> str:
        if postgres_url is None:
            return f"sqlite:///{tmp_path_factory.mktemp('catalogue') / 'catalogue.db'}"
        base = sa.make_url(postgres_url)
        url = base.set(database=f"{base.database}_interrupt_{len(created)}")
        engine = admin(url)
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
        engine.dispose()
        created.append(url)
        return url.render_as_string(hide_password=False)

    yield new
    for url in created:
        engine = admin(url)
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture(scope="module")
def fast_emulator() -> Iterator[Callable[[int], str]]:
    """`fast_emulator(tracks_per_day)`: the base URL of an emulator without latency."""
    urls: dict[int, str] = {}
    with ExitStack() as stack:

        def url(tracks_per_day: int) -> str:
            if tracks_per_day not in urls:
                config = EmulatorConfig(tracks_per_day=tracks_per_day)
                urls[tracks_per_day] = stack.enter_context(serve_in_thread(config))
            return urls[tracks_per_day]

        yield url


@pytest.fixture(scope="module")
def clean_digest(
    new_catalogue: Callable[..., str],
    fast_emulator: Callable[[int], str],
    tmp_path_factory: pytest.TempPathFactory,
    worker_id: str,
) -> Callable[[str | None, Scenario], str]:
    """`clean_digest(postgres_url_or_none, scenario)`: the catalogue digest of the scenario's
    steps run once, uninterrupted, by the service on that engine, computed once per session.

    Under pytest-xdist the module's tests run on several workers; the first to need a digest
    computes it under a file lock in the session's shared temporary folder, the others read it.
    """
    basetemp = tmp_path_factory.getbasetemp()
    shared = basetemp if worker_id == "master" else basetemp.parent

    def digest(postgres_url: str | None, scenario: Scenario) -> str:
        name = f"clean-digest-{'sqlite' if postgres_url is None else 'postgresql'}-{scenario.name}"
        with open(shared / f"{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            known = shared / f"{name}.txt"
            if not known.exists():
                url = new_catalogue(postgres_url)
                known.write_text(
                    _clean_run_digest(url, fast_emulator(scenario.tracks_per_day), scenario)
                )
            return known.read_text()

    return digest


def _clean_run_digest(database_url: str, base_url: str, scenario: Scenario) -> str:
    """What the scenario's assets write for DAYS when nothing interrupts them."""
    window = DateWindow(
        date.fromisoformat(DAYS[0]), date.fromisoformat(DAYS[1]) + timedelta(days=1)
    )
    steps = set(scenario.assets or ASSET_KEYS)
    with migrated_database(database_url) as db, real_service(db, base_url) as service:
        service.collect_beatport_tracks_raw(window, GENRE_IDS)
        service.process_unprocessed_beatport_tracks(window)
        if "spotify_enrichments" in steps:
            service.enrich_tracks_with_spotify_data(window)
        return database_digest(db)


def _engines(*steps: str) -> list[object]:
    cases: list[object] = [(step, "sqlite") for step in steps]
    marks = pytest.mark.postgres
    return cases + [pytest.param(step, "postgresql", marks=marks) for step in steps]


@pytest.mark.parametrize(
    ("step_name", "engine"),
    _engines("raw_beatport_tracks", "processed_tracks", "spotify_enrichments"),
)
def test_ctrl_c_mid_step_stops_in_seconds_and_a_rerun_converges(
    step_name, engine, emulator_url, fast_emulator, new_catalogue, clean_digest, tmp_path, request
):
    step = STEPS[step_name]
    scenario = step.scenario
    postgres_url = request.getfixturevalue("postgres_database_url") if engine != "sqlite" else None
    database_url = new_catalogue(postgres_url)
    if step.served is None:
        base_url = fast_emulator(scenario.tracks_per_day)
    else:
        base_url = emulator_url(
            tracks_per_day=scenario.tracks_per_day,
            latency_ms=LATENCY_MS,
            route_latency_ms=step.route_latency_ms,
        )
    home = tmp_path / "home"

    process = _start(_environment(base_url, home, database_url), scenario)
    run_id = _run_id(process)
    _wait_until_mid_step(step, base_url, database_url)
    interrupted_at = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    elapsed = time.monotonic() - interrupted_at

    print(f"{step_name} on {engine}: stopped {elapsed:.2f} s after SIGINT")
    assert elapsed < INTERRUPT_BUDGET_S, f"took {elapsed:.1f} s to stop"
    assert process.returncode == 130, output[-3000:]
    assert f"Failed       {step_name}: interrupted" in output, "stopped mid-step, not retried"
    assert f"Resume       collection-pipeline run --start {DAYS[0]} --end {DAYS[1]}" in output
    assert "Traceback" not in output
    if step.served is None:
        records, processed = _records(database_url)
        assert 0 < processed < records, "the interrupt landed between processing batches"
    with _instance(home) as instance:
        run = instance.get_run_by_id(run_id)
        assert run is not None
        assert run.status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)
        retries = instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY
        ).records
        assert not retries, "an interrupt is never retried"
    _no_lock_left(database_url)

    rerun_env = _environment(
        fast_emulator(scenario.tracks_per_day), home, database_url, **FAST_PACER
    )
    _run_to_end(rerun_env, scenario)
    assert _digest(database_url) == clean_digest(postgres_url, scenario)


def test_a_second_ctrl_c_stops_at_once(emulator_url, new_catalogue, tmp_path):
    base_url = emulator_url(latency_ms=LATENCY_MS)
    home = tmp_path / "home"
    database_url = new_catalogue(None)
    process = _start(_environment(base_url, home, database_url), WHOLE_JOB)
    run_id = _run_id(process)
    _wait_until_mid_step(STEPS["spotify_enrichments"], base_url, database_url)
    os.killpg(process.pid, signal.SIGINT)
    time.sleep(0.2)
    second_at = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    elapsed = time.monotonic() - second_at

    print(f"second Ctrl-C: stopped {elapsed:.2f} s after it")
    assert elapsed < SECOND_INTERRUPT_BUDGET_S, f"took {elapsed:.1f} s after the second Ctrl-C"
    assert process.returncode == 130
    assert "interrupted" in output  # killed at once, or the first Ctrl-C had already won
    with _instance(home) as instance:
        run = instance.get_run_by_id(run_id)
        assert run is not None
        assert run.status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)
    _no_lock_left(database_url)
