"""Small SQL building blocks shared by the repositories (dialect-aware upserts, batching)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from datetime import date
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from collection_pipeline.domain import DateWindow
from collection_pipeline.storage.schema import tracks

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

IN_CHUNK = 5000
"""Bound parameters per IN list: far below SQLite's 32766 and PostgreSQL's 65535."""


def upsert(conn: sa.Connection, table: sa.Table) -> Any:
    """`INSERT` that supports `ON CONFLICT` on the connection's dialect."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"unsupported database dialect {conn.dialect.name!r}")


def last_wins(items: Iterable[T], key: Callable[[T], K]) -> tuple[list[T], int]:
    """De-duplicate by key (the last occurrence wins) and sort by key.

    One statement must never touch a row twice (PostgreSQL rejects that in ON CONFLICT DO
    UPDATE), and every writer locking rows in key order is what keeps concurrent writers
    from deadlocking. Returns the rows and how many duplicates were dropped.
    """
    by_key: dict[K, T] = {}
    total = 0
    for item in items:
        by_key[key(item)] = item
        total += 1
    ordered = [by_key[k] for k in sorted(by_key)]  # type: ignore[type-var]
    return ordered, total - len(ordered)


def chunks(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def in_window(column: sa.ColumnElement[date], window: DateWindow) -> sa.ColumnElement[bool]:
    """Half-open `[start, end)` date filter, the shape every window index serves."""
    return sa.and_(column >= window.start, column < window.end)


def window_sample(
    conn: sa.Connection,
    columns: Sequence[sa.ColumnElement[Any]],
    joined: sa.FromClause,
    window: DateWindow,
    limit: int,
) -> list[dict[str, Any]]:
    """The window's first `limit` rows of `joined` (which holds `tracks`) by Beatport track
    id, as dicts: the UI preview of the catalogue and of the outcomes."""
    query = (
        sa.select(*columns)
        .select_from(joined)
        .where(in_window(tracks.c.publish_date, window))
        .order_by(tracks.c.beatport_id)
        .limit(limit)
    )
    return [dict(row) for row in conn.execute(query).mappings()]
