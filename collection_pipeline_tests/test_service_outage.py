"""Database outages during a step are ridden out inside the step, on a real PostgreSQL server.

The outage is real: an admin connection forbids new connections to the test's own database
(`ALTER DATABASE ... ALLOW_CONNECTIONS false`) and terminates every backend it has, in the
middle of a unit of work of the step under test, so the transaction in flight dies and every
pooled connection goes stale. Only the passing of the outage's *time* is simulated: the units
of work wait on an injected clock, and the outage ends when that clock says it has lasted 20
or 60 s, so the matrix runs in seconds. One slow test rides out a real 20 s outage on the
wall clock. Every run ends with the catalogue a clean run produces (`database_digest`).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from collection_pipeline.clients import BeatportAPIClient, HttpPolicy, SpotifyAPIClient
from collection_pipeline.domain import DateWindow
from collection_pipeline.emulator import EmulatorConfig, serve_in_thread
from collection_pipeline.service import CollectionService
from collection_pipeline.storage import (
    Database,
    DatabaseUnavailableError,
    OutagePolicy,
)
from collection_pipeline.testing.defaults import (
    BEATPORT_CONCURRENCY,
    NOT_FOUND_TTL,
    SPOTIFY_CONCURRENCY,
)
from collection_pipeline.testing.digest import database_digest
from collection_pipeline.testing.harness import FAST_POLICY_ARGS
from collection_pipeline_tests.support.postgres import POSTGRES_ADMIN_URL, reset_postgres_schema

pytestmark = pytest.mark.postgres

WINDOW = DateWindow(date(2024, 3, 1), date(2024, 3, 3))
GENRES = (5, 11)
BATCH = 10
PAGE_SIZE = 20
STEPS = ("collect", "process", "enrich")
BURST_S = 3.0
BURST_KILLS = 30


class Outage:
    """Refuses and kills connections to one database from an admin connection."""

    def __init__(self, url: str) -> None:
        self.name = sa.make_url(url).database
        self._admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        self.started: list[float] = []

    def begin(self) -> None:
        with self._admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false'))
        self.terminate_backends()

    def terminate_backends(self, *, wait: bool = True) -> None:
        """Kill every session on the database (and, with `wait`, wait until they are gone)."""
        query = (
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = :name AND pid <> pg_backend_pid()"
        )
        remaining = "SELECT count(*) FROM pg_stat_activity WHERE datname = :name"
        with self._admin.connect() as conn:
            conn.execute(sa.text(query), {"name": self.name})
            if not wait:
                return
            deadline = time.monotonic() + 5
            while conn.execute(sa.text(remaining), {"name": self.name}).scalar_one():
                assert time.monotonic() < deadline, "backends survived pg_terminate_backend"
                time.sleep(0.01)

    def end(self) -> None:
        with self._admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true'))

    def close(self) -> None:
        self.end()
        self._admin.dispose()


class OutageDuringStep:
    """Starts an outage at the n-th write statement once armed; ends it after `duration_s`
    of the injected clock, which moves only when a unit of work backs off."""

    def __init__(self, db: Database, outage: Outage) -> None:
        self._outage = outage
        self._lock = threading.Lock()
        self.now = 0.0
        self._armed_at: int | None = None
        self._writes = 0
        self._duration_s = 0.0
        self.started_at: float | None = None
        self.ended_at: float | None = None
        sa.event.listen(db.engine, "before_cursor_execute", self._before_execute)

    def policy(self, deadline_s: float = 120.0) -> OutagePolicy:
        return OutagePolicy(deadline_s=deadline_s, clock=self.clock, sleep=self.sleep)

    def arm(self, *, at_write: int, duration_s: float) -> None:
        self._armed_at, self._writes, self._duration_s = at_write, 0, duration_s

    def clock(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds
            over = self.started_at is not None and self.ended_at is None
            if over and self.now - self.started_at >= self._duration_s:
                self._outage.end()
                self.ended_at = self.now
        time.sleep(0.002)  # let the other thread (the read-ahead) interleave

    def _before_execute(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self._armed_at is None or not statement.lstrip().upper().startswith(("INSERT", "UP")):
            return
        self._writes += 1
        if self._writes == self._armed_at:
            self._armed_at = None
            with self._lock:
                self.started_at = self.now
            self._outage.begin()  # kills this very connection: the statement fails


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
    outage = Outage(postgres_database_url)
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
    kills = 0

    def burst() -> None:
        nonlocal kills
        for _ in range(BURST_KILLS):
            outage.terminate_backends(wait=False)
            kills += 1
            time.sleep(BURST_S / BURST_KILLS)

    killer = threading.Thread(target=burst, daemon=True)
    collected: list[int] = []

    def start_burst(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT") and not collected:
            collected.append(1)
            killer.start()

    sa.event.listen(db.engine, "before_cursor_execute", start_burst)
    with pipeline_service(db, emulator, "burst") as service:
        run_steps(service)
    killer.join(BURST_S + 10)
    assert kills == BURST_KILLS
    retried = [record for record in caplog.records if "unreachable" in record.getMessage()]
    assert retried, "no unit of work met a killed connection: the burst tested nothing"
    assert database_digest(db) == clean_digest


@pytest.mark.slow
def test_a_real_20_second_outage_during_processing(
    outage_db: tuple[Database, Outage], emulator: str, clean_digest: str
) -> None:
    """Wall clock and real sleeps: what the injected clock stands in for elsewhere."""
    db, outage = outage_db
    chaos = OutageDuringStep(db, outage)  # only its trigger: the policy here is the real one
    ended = threading.Timer(20, outage.end)

    def before_step(name: str) -> None:
        if name == "process":
            chaos.arm(at_write=2, duration_s=20)
            ended.start()

    started = time.monotonic()
    with pipeline_service(db, emulator, "real-outage") as service:
        run_steps(service, before_step)
    seconds = time.monotonic() - started
    ended.cancel()
    print(f"run with a real 20 s outage took {seconds:.1f} s")
    assert chaos.started_at is not None
    assert 20 <= seconds < 20 + 30
    assert database_digest(db) == clean_digest
