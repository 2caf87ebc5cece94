"""Keeps an interrupted connection close out of the terminal.

When Ctrl-C lands while SQLAlchemy's pool is closing a connection, the pool logs "Exception
closing connection" as an error with the interrupt's traceback, then re-raises the interrupt.
The connection is gone either way, and the interrupt is reported by whoever stops the run (the
CLI says `interrupted` and how to resume), so that traceback only buries the one line that
matters. Failures to close for any other reason are still logged.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa


class _DropInterruptedCloses(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return error is None or isinstance(error, Exception)


_FILTER = _DropInterruptedCloses()
_POOLS = (sa.pool.QueuePool, sa.pool.NullPool, sa.pool.SingletonThreadPool, sa.pool.StaticPool)


def quiet_interrupted_closes() -> None:
    """Install the filter on the pools' loggers (filters are not inherited, so on each one)."""
    for pool in _POOLS:
        logging.getLogger(f"{pool.__module__}.{pool.__name__}").addFilter(_FILTER)
