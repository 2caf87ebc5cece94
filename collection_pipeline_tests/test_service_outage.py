"""Database outages during a step are ridden out inside the step, on a real PostgreSQL server.

The outage is real: an admin connection forbids new connections to the test's own database
(`ALTER DATABASE ... ALLOW_CONNECTIONS false`) and terminates every backend it has, in the
middle of a unit of work of the step under test, so the transaction in flight dies and every
pooled connection goes stale. Only the passing of the outage's *time* is simulated: the units
of work wait on an injected clock, and the outage ends when that clock says it has lasted 20
or 60 s, so the matrix runs in seconds. One slow test rides out a real 10 s outage on the
wall clock; `python -m bench.bench_outage` plays the whole matrix on it. Every run ends
with the catalogue a clean run produces (`database_digest`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date

import pytest
import sqlalchemy as sa

from collection_pipeline.clients import BeatportAPIClient, HttpPolicy, SpotifyAPIClient
from collection_pipeline.domain import DatabaseUnavailableError, DateWindow
from collection_pipeline.emulator import EmulatorConfig, serve_in_thread
from collection_pipeline.service import CollectionService
from collection_pipeline.storage import Database
from collection_pipeline.testing.defaults import (
    BEATPORT_CONCURRENCY,
    NOT_FOUND_TTL,
    SPOTIFY_CONCURRENCY,
)
from collection_pipeline.testing.digest import database_digest
from collection_pipeline.testing.harness import FAST_POLICY_ARGS
from collection_pipeline.testing.outage import KillBurst, Outage, OutageDuringStep, WallClockOutage
from collection_pipeline_tests.support.postgres import POSTGRES_ADMIN_URL, reset_postgres_schema

pytestmark = pytest.mark.postgres

WINDOW = DateWindow(date(2024, 3, 1), date(2024, 3, 3))
GENRES = (5, 11)
BATCH = 10
PAGE_SIZE = 20
STEPS = ("collect", "process", "enrich")
BURST_S = 3.0
BURST_KILLS = 30
REAL_OUTAGE_S = 10.0


@contextmanager
def pipeline_service(db: Database, base_url: str, run_id: str) -> Iterator[CollectionService]:
    policy = HttpPolicy(**FAST_POLICY_ARGS)
    with (
        BeatportAPIClient(
            f"{base_url}/v4",
            "t",
            policy=policy,
            page_size=PAGE_SIZE,
            max_concurrency=BEATPORT_CONCURRENCY,
        ) as beatport,
        SpotifyAPIClient(
            f"{base_url}/v1",
            f"{base_url}/api/token",
            "i",
            "s",
            policy=policy,
            max_concurrency=SPOTIFY_CONCURRENCY,
        ) as sp,
    ):
        yield CollectionService(
            db.unit_of_work,
            run_id=run_id,
            beatport=beatport,
            spotify=sp,
            not_found_ttl=NOT_FOUND_TTL,
        )


def run_steps(
    service: CollectionService, before_step: Callable[[str], None] = lambda step: None
) -> None:
    before_step("collect")
    service.collect_beatport_tracks_raw(WINDOW, GENRES)
    before_step("process")
    service.process_unprocessed_beatport_tracks(WINDOW, batch_size=BATCH)
    before_step("enrich")
    service.enrich_tracks_with_spotify_data(WINDOW, batch_size=BATCH)


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    with serve_in_thread(EmulatorConfig()) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def clean_digest(emulator: str) -> Iterator[str]:
    """The catalogue of an uninterrupted run, in a PostgreSQL database of its own."""
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"collection_clean_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        pytest.skip(f"PostgreSQL unreachable: {exc.orig}")
    db = Database(sa.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(False))
    try:
        db.upgrade()
        with pipeline_service(db, emulator, "clean") as service:
            run_steps(service)
        yield database_digest(db)
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def outage_db(postgres_database_url: str) -> Iterator[tuple[Database, Outage]]:
    """The test's own (empty) database and the means to take it down."""
    reset_postgres_schema(postgres_database_url)
    outage = Outage(POSTGRES_ADMIN_URL, postgres_database_url)
    db = Database(postgres_database_url)
    try:
        db.upgrade()
        yield db, outage
    finally:
        db.dispose()
        outage.close()


@pytest.mark.parametrize("duration_s", [20, 60])
@pytest.mark.parametrize("step", STEPS)
def test_an_outage_during_a_step_is_ridden_out(
    outage_db: tuple[Database, Outage], emulator: str, clean_digest: str, step: str, duration_s
) -> None:
    db, outage = outage_db
    chaos = OutageDuringStep(db, outage)
    db.outage = chaos.policy()

    def before_step(name: str) -> None:
        if name == step:
            chaos.arm(at_write=2, duration_s=duration_s)

    with pipeline_service(db, emulator, f"outage-{step}") as service:
        run_steps(service, before_step)

    assert chaos.started_at is not None, f"the outage never started during {step}"
    assert chaos.ended_at is not None
    assert chaos.ended_at - chaos.started_at >= duration_s
    assert database_digest(db) == clean_digest


def test_past_the_deadline_the_step_fails_in_one_line_and_a_rerun_converges(
    outage_db: tuple[Database, Outage], emulator: str, clean_digest: str
) -> None:
    db, outage = outage_db
    chaos = OutageDuringStep(db, outage)
    db.outage = chaos.policy(deadline_s=120)

    def before_step(name: str) -> None:
        if name == "process":
            chaos.arm(at_write=2, duration_s=600)

    with (
        pipeline_service(db, emulator, "too-long") as service,
        pytest.raises(DatabaseUnavailableError) as raised,
    ):
        run_steps(service, before_step)

    message = str(raised.value)
    assert "\n" not in message
    assert f"catalogue database postgresql+psycopg2://postgres@127.0.0.1:5432/{outage.name}" in (
        message
    )
    assert "unreachable for 120 s" in message
    assert "not currently accepting connections" in message

    outage.end()
    with pipeline_service(db, emulator, "rerun") as service:
        run_steps(service)
    assert database_digest(db) == clean_digest


def test_a_restart_like_burst_of_terminated_connections(
    outage_db: tuple[Database, Outage],
    emulator: str,
    clean_digest: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every session killed again and again for 3 s from mid-collect (connections still
    accepted in between), as while a server restarts or a proxy fails over."""
    db, outage = outage_db
    with (
        KillBurst(outage, "collect", seconds=BURST_S, kills=BURST_KILLS) as burst,
        pipeline_service(db, emulator, "burst") as service,
    ):
        run_steps(service)
    burst.join()
    assert burst.kills == BURST_KILLS
    retried = [record for record in caplog.records if "unreachable" in record.getMessage()]
    assert retried, "no unit of work met a killed connection: the burst tested nothing"
    assert database_digest(db) == clean_digest


@pytest.mark.slow
def test_a_real_10_second_outage_during_processing(
    outage_db: tuple[Database, Outage], emulator: str, clean_digest: str
) -> None:
    """Wall clock, real sleeps and the real policy: what the injected clock stands in for
    elsewhere (`python -m bench.bench_outage` plays 20 and 60 s in every step this way)."""
    db, outage = outage_db
    started = time.monotonic()
    with (
        WallClockOutage(outage, "process", REAL_OUTAGE_S) as real,
        pipeline_service(db, emulator, "real-outage") as service,
    ):
        run_steps(service)
    seconds = time.monotonic() - started
    assert real.fired_at is not None
    assert real.ended_at is not None
    assert real.ended_at - real.fired_at >= REAL_OUTAGE_S
    assert REAL_OUTAGE_S <= seconds < REAL_OUTAGE_S + 30
    assert database_digest(db) == clean_digest
