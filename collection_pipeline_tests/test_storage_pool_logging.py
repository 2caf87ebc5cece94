"""An interrupt that lands while the pool closes a connection is not logged as an error with a
traceback (the CLI reports the interrupt); any other failure to close still is."""

from __future__ import annotations

import contextlib
import logging
import sqlite3

import pytest
import sqlalchemy as sa

from collection_pipeline.storage import quiet_interrupted_closes


class _ClosingFails:
    """A DB-API connection whose close raises `error` (what SIGINT does mid-close)."""

    def __init__(self, error: BaseException) -> None:
        self._connection = sqlite3.connect(":memory:")
        self._error = error

    def __getattr__(self, name: str) -> object:
        return getattr(self._connection, name)

    def close(self) -> None:
        self._connection.close()
        raise self._error


def _close_one(error: BaseException) -> None:
    pool = sa.pool.QueuePool(lambda: _ClosingFails(error), pool_size=1)
    pool._close_connection(pool._creator())  # what dispose and invalidation call


@pytest.mark.parametrize(
    ("error", "logged"), [(KeyboardInterrupt(), False), (sqlite3.OperationalError("gone"), True)]
)
def test_only_an_interrupted_close_goes_unlogged(error, logged, caplog) -> None:
    caplog.set_level(logging.ERROR, logger="sqlalchemy.pool")
    quiet_interrupted_closes()
    with contextlib.suppress(KeyboardInterrupt):  # the pool re-raises an interrupt
        _close_one(error)
    closes = [r for r in caplog.records if "Exception closing connection" in r.getMessage()]
    assert bool(closes) is logged


def test_without_the_filter_the_pool_logs_the_interrupt_with_its_traceback(caplog) -> None:
    logger = logging.getLogger("sqlalchemy.pool.impl.QueuePool")
    saved = list(logger.filters)
    logger.filters.clear()
    try:
        caplog.set_level(logging.ERROR, logger="sqlalchemy.pool")
        with pytest.raises(KeyboardInterrupt):
            _close_one(KeyboardInterrupt())
    finally:
        logger.filters[:] = saved
    [record] = [r for r in caplog.records if "Exception closing connection" in r.getMessage()]
    assert record.exc_info is not None
