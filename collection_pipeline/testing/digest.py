"""A hash of the logical catalogue state, to compare a crashed-and-resumed run with a clean one.

Covers every raw record (payload hash, partition, processing state and reason, ISRC finding),
every normalized row and link keyed by provider ids, and the Spotify outcomes (status, Spotify
id, rule, score, candidate count). Leaves out what legitimately differs between equivalent runs:
surrogate ids, timestamps, run ids, attempts, and the lineage of shared entities (which of
several records first wrote an artist depends on batch order).

Only tests and benchmarks compare runs, so this lives with their harnesses: the raw-state
and entity queries below are theirs alone, and the repositories keep the reads the pipeline
makes (the catalogue's and the outcomes' state rows, which also feed the fingerprints).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from collection_pipeline.storage import Database
from collection_pipeline.storage.hashing import rows_hash
from collection_pipeline.storage.schema import (
    artists,
    external_data,
    genres,
    labels,
    releases,
    sub_genres,
)


def database_digest(db: Database) -> str:
    with db.engine.connect() as conn:
        rows = [
            *(("raw", *row) for row in raw_state_rows(conn)),
            *(("entity", *row) for row in entity_rows(conn)),
        ]
    with db.unit_of_work(read_only=True) as uow:
        rows += [
            *(("catalog", *row) for row in uow.catalog.state_rows()),
            *(("spotify", *row) for row in uow.spotify.state_rows()),
        ]
    return rows_hash(rows)


def raw_state_rows(conn: sa.Connection) -> list[tuple[Any, ...]]:
    """Every raw record's logical state (no ids, times or runs), sorted."""
    ed = external_data
    state = sa.case(
        (ed.c.processed_at.is_(None), "pending"),
        (ed.c.processing_error.is_not(None), "quarantined"),
        else_="processed",
    )
    query = sa.select(
        ed.c.provider,
        ed.c.entity_type,
        ed.c.external_id,
        ed.c.content_hash,
        ed.c.partition_date,
        state,
        ed.c.processing_error,
        ed.c.isrc_rejected,
    )
    return sorted((tuple(row) for row in conn.execute(query)), key=_sort_key)


def entity_rows(conn: sa.Connection) -> list[tuple[Any, ...]]:
    """Every genre, sub-genre, label, release and artist by Beatport id, sorted."""
    rows: list[tuple[Any, ...]] = []
    for table in (genres, sub_genres, labels, artists):
        query = sa.select(table.c.beatport_id, table.c.name, table.c.slug)
        rows += [(table.name, *row) for row in conn.execute(query)]
    query = sa.select(
        releases.c.beatport_id, releases.c.name, releases.c.slug, labels.c.beatport_id
    ).select_from(releases.outerjoin(labels, labels.c.id == releases.c.label_id))
    rows += [("releases", *row) for row in conn.execute(query)]
    return sorted(rows, key=_sort_key)


def _sort_key(row: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple("" if value is None else str(value) for value in row)
