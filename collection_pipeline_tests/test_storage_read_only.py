"""Reads never wait for the write lock: read-only units of work begin deferred on SQLite.

A writer holds its transaction open (on SQLite that is the database's one write lock) while
the reads the Dagster layer makes run beside it: a report (what asset metadata and checks
read), the sensor's recheck query, a preview and a fingerprint. A second writer still queues
behind the first and proceeds once it commits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from collection_pipeline import views
from collection_pipeline.domain import DateWindow
from collection_pipeline.service import CollectionService
from collection_pipeline.storage import Database, RawRecordIn, UnitOfWork
from collection_pipeline.testing.defaults import NOT_FOUND_TTL
from collection_pipeline.testing.harness import (
    beatport_track,
    migrated_database,
    read,
    recheck_days,
    window_report,
)

MARCH = DateWindow(date(2024, 3, 1), date(2024, 4, 1))
NOW = datetime(2024, 4, 1, tzinfo=UTC)
FAST_S = 0.5
""""Well under a second": how much longer a read may take while a writer holds the lock."""
HOLD_S = 10.0
"""Longest the holder keeps its transaction open if the test never releases it."""


def raw_records(*ids: int) -> list[RawRecordIn]:
    payloads = [beatport_track(n) for n in ids]
    return [RawRecordIn(str(p["id"]), p, date.fromisoformat(p["publish_date"])) for p in payloads]


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    with migrated_database(database_url) as database:
        database.unit_of_work().run(
            lambda uow: uow.raw.upsert_records(
                "beatport", "track", raw_records(1, 2, 3), "seed", now=NOW
            )
        )
        CollectionService(
            database.unit_of_work, run_id="seed", not_found_ttl=NOT_FOUND_TTL
        ).process_unprocessed_beatport_tracks(MARCH)
        yield database


class HeldWriter:
    """A thread that writes, then keeps its transaction open until `release()`."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._written = threading.Event()
        self._release = threading.Event()
        self._thread = threading.Thread(target=self._hold, daemon=True)
        self.error: BaseException | None = None

    def __enter__(self) -> HeldWriter:
        self._thread.start()
        assert self._written.wait(HOLD_S), "the holder never got its write lock"
        return self

    def release(self) -> None:
        self._release.set()

    def __exit__(self, *exc_info: object) -> None:
        self.release()
        self._thread.join(HOLD_S)
        if self.error is not None:
            raise self.error

    def _hold(self) -> None:
        try:
            with self._db.unit_of_work() as uow:
                uow.raw.upsert_records("beatport", "track", raw_records(50), "holder", now=NOW)
                self._written.set()
                self._release.wait(HOLD_S)
                uow.commit()
        except BaseException as exc:  # surfaced by __exit__
            self.error = exc
            self._written.set()


def timed(reader: Callable[[], object]) -> tuple[object, float]:
    started = time.monotonic()
    value = reader()
    return value, time.monotonic() - started


def test_reads_complete_while_a_writer_holds_its_transaction(db: Database) -> None:
    reads: dict[str, Callable[[], object]] = {
        "per-day figures (asset metadata, checks)": lambda: read(
            db, lambda uow: views.processed_days(uow, MARCH)
        ),
        "range report (CLI)": lambda: window_report(db, MARCH),
        "recheck query (sensor tick)": lambda: recheck_days(db),
        "fingerprint (data version)": lambda: read(
            db, lambda uow: views.raw_fingerprint(uow, MARCH)
        ),
        "schema check (resource setup)": db.upgrade,
    }
    for reader in reads.values():
        reader()  # warm: the timing alone must not carry first-use costs the second one skips
    alone = {name: timed(reader)[1] for name, reader in reads.items()}
    with HeldWriter(db):
        beside = {name: timed(reader)[1] for name, reader in reads.items()}
        report = window_report(db, MARCH)
    # What a read took beyond its own time without a writer is time spent waiting for the lock;
    # comparing with the read alone keeps the bound about waiting on a loaded machine too.
    waited = {name: round(beside[name] - alone[name], 3) for name in reads}
    slow = {name: seconds for name, seconds in waited.items() if seconds >= FAST_S}
    assert not slow, f"reads waited behind the writer: {slow} (alone: {alone})"
    # The reads saw the last committed state, not the holder's uncommitted record.
    assert report.raw.total == 3
    assert window_report(db, MARCH).raw.total == 4


def test_a_read_only_unit_of_work_is_read_only_on_postgresql(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("SQLite has no read-only transactions; its readers just never lock")
    with pytest.raises(sa.exc.InternalError, match="read-only transaction"):
        db.unit_of_work(read_only=True).run(
            lambda uow: uow.raw.upsert_records(
                "beatport", "track", raw_records(60), "reader", now=NOW
            )
        )
    # The pooled connection is a writer again for the next unit of work.
    db.unit_of_work().run(
        lambda uow: uow.raw.upsert_records("beatport", "track", raw_records(61), "writer", now=NOW)
    )


def test_a_second_writer_waits_for_the_first_then_proceeds(tmp_path) -> None:
    with migrated_database(f"sqlite:///{tmp_path / 'catalogue.db'}") as db:
        done = threading.Event()

        def second_writer(uow: UnitOfWork) -> None:
            uow.raw.upsert_records("beatport", "track", raw_records(70), "second", now=NOW)

        def write() -> None:
            db.unit_of_work().run(second_writer)
            done.set()

        with HeldWriter(db) as holder:
            thread = threading.Thread(target=write, daemon=True)
            thread.start()
            assert not done.wait(FAST_S), "the second writer did not wait for the write lock"
            holder.release()
            assert done.wait(HOLD_S), "the second writer never proceeded"
            thread.join(HOLD_S)
        total = db.unit_of_work(read_only=True).run(
            lambda uow: uow.raw.state_counts("beatport", "track", MARCH).total
        )
        assert total == 2
