"""One transaction per page or batch, with the repositories bound to it."""

from __future__ import annotations

from types import TracebackType

import sqlalchemy as sa

from collection_pipeline.storage.catalog import CatalogRepository
from collection_pipeline.storage.raw import RawRecordRepository
from collection_pipeline.storage.spotify import SpotifyRepository


class UnitOfWork:
    """`with db.unit_of_work() as uow: ...; uow.commit()`.

    Everything done through `raw`, `catalog` and `spotify` is one transaction; leaving the
    block without `commit()` (or by an exception) rolls it back, so a crash loses at most
    the batch in flight. After `commit()` the unit may be used again for a new transaction.
    """

    raw: RawRecordRepository
    catalog: CatalogRepository
    spotify: SpotifyRepository

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._conn: sa.Connection | None = None

    def __enter__(self) -> UnitOfWork:
        self._conn = self._engine.connect()
        self.raw = RawRecordRepository(self._conn)
        self.catalog = CatalogRepository(self._conn)
        self.spotify = SpotifyRepository(self._conn, self.raw, self.catalog)
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
        finally:
            conn.close()

    def _connection(self) -> sa.Connection:
        if self._conn is None:
            raise RuntimeError("use the unit of work inside a `with` block")
        return self._conn
