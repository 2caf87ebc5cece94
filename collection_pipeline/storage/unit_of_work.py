"""One transaction per page or batch, with the repositories bound to it."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Protocol, TypeVar

import sqlalchemy as sa

from collection_pipeline.storage.catalog import CatalogRepository
from collection_pipeline.storage.outage import OutagePolicy
from collection_pipeline.storage.pacer_rates import PacerRateRepository
from collection_pipeline.storage.raw import RawRecordRepository
from collection_pipeline.storage.spotify import SpotifyRepository

T = TypeVar("T")

READ_ONLY = "collection_read_only"
"""Connection execution option that makes SQLite begin a deferred (reader) transaction."""


class UnitOfWork:
    """One transaction over `raw`, `catalog`, `spotify` and `pacer_rates`.

    Preferred: `db.unit_of_work().run(work)`, which runs `work(uow)` in a transaction, commits
    it (writers) and, when the database is unreachable, rolls back and runs it again until
    the outage policy's deadline; so `work` must do nothing but database work through `uow`.
    `db.unit_of_work(read_only=True)` is for reads: on SQLite it begins deferred, so readers
    run beside the writer (WAL) instead of queueing for the write lock, and on PostgreSQL the
    transaction is READ ONLY.

    Also usable as `with db.unit_of_work() as uow: ...; uow.commit()` (one attempt, no
    retry): leaving the block without `commit()` (or by an exception) rolls back, so a crash
    loses at most the batch in flight. After `commit()` the unit may be used again.
    """

    raw: RawRecordRepository
    catalog: CatalogRepository
    spotify: SpotifyRepository
    pacer_rates: PacerRateRepository

    def __init__(
        self,
        engine: sa.Engine,
        *,
        read_only: bool = False,
        outage: OutagePolicy | None = None,
    ) -> None:
        self._engine = engine
        self.read_only = read_only
        self._outage = outage or OutagePolicy()
        self._conn: sa.Connection | None = None

    def run(self, work: Callable[[UnitOfWork], T]) -> T:
        """`work(uow)` in one transaction (committed unless read-only), retried over outages."""

        def attempt() -> T:
            with self as uow:
                value = work(uow)
                if not self.read_only:
                    uow.commit()
                return value

        return self._outage.call(attempt, self._engine.url)

    def __enter__(self) -> UnitOfWork:
        conn = self._engine.connect()
        if self.read_only:
            options: dict[str, bool] = {READ_ONLY: True}
            if conn.dialect.name == "postgresql":
                options["postgresql_readonly"] = True
            conn.execution_options(**options)
        self._conn = conn
        self.raw = RawRecordRepository(conn)
        self.catalog = CatalogRepository(conn)
        self.spotify = SpotifyRepository(conn)
        self.pacer_rates = PacerRateRepository(conn)
        return self

    def commit(self) -> None:
        self._connection().commit()

    def rollback(self) -> None:
        self._connection().rollback()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self._connection(), None
        try:
            conn.rollback()
        except sa.exc.DBAPIError:
            if exc is None:
                raise
            # The connection died with the error being raised: that error is the news.
        finally:
            conn.close()

    def _connection(self) -> sa.Connection:
        if self._conn is None:
            raise RuntimeError("use the unit of work inside a `with` block")
        return self._conn


class UnitOfWorkFactory(Protocol):
    """What the service needs from the database: `Database.unit_of_work`."""

    def __call__(self, *, read_only: bool = False, retry: bool = True) -> UnitOfWork: ...
