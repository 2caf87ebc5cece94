"""A hash of the logical catalogue state, to compare a crashed-and-resumed run with a clean one.

Covers every raw record (payload hash, partition, processing state and reason), every
normalized row and link keyed by provider ids, and the Spotify outcomes (status, Spotify id,
rule, score, candidate count). Leaves out what legitimately differs between equivalent runs:
surrogate ids, timestamps, run ids, attempts, and the lineage of shared entities (which of
several records first wrote an artist depends on batch order).
"""

from __future__ import annotations

from collection_pipeline.storage.database import Database
from collection_pipeline.storage.hashing import rows_hash


def database_digest(db: Database) -> str:
    with db.unit_of_work(read_only=True) as uow:
        rows = [
            *(("raw", *row) for row in uow.raw.state_rows()),
            *(("entity", *row) for row in uow.catalog.entity_rows()),
            *(("catalog", *row) for row in uow.catalog.state_rows()),
            *(("spotify", *row) for row in uow.spotify.state_rows()),
        ]
    return rows_hash(rows)
