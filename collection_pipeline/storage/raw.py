"""Raw provider records (`external_data`): idempotent upserts and the processing queue."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from collection_pipeline.domain import DateWindow, RawStateCounts
from collection_pipeline.storage.hashing import (
    canonical_json,
    content_hash,
    escape_nul,
    rows_hash,
    unescape_nul,
)
from collection_pipeline.storage.schema import external_data as ed
from collection_pipeline.storage.sql import chunks, in_window, last_wins, upsert
from collection_pipeline.storage.types import SerializedJSON


@dataclass(frozen=True)
class RawRecordIn:
    """A record as fetched from a provider, about to be stored."""

    external_id: str
    payload: Any
    """JSON as received: normally an object, but a `null` listing entry is kept as null."""
    partition_date: date | None


@dataclass(frozen=True)
class RawRecord:
    """A stored record waiting to be processed."""

    id: int
    external_id: str
    payload: Any
    partition_date: date | None
    content_hash: str


@dataclass(frozen=True)
class UpsertCounts:
    new: int
    changed: int
    unchanged: int
    duplicates_dropped: int
    inserted: Mapping[str, bool] = field(default_factory=dict, compare=False, repr=False)
    """The external ids really written, each True if new: what a caller that must re-count one
    record (a track that moved to another day mid-collect) needs to know of it."""


class RawRecordRepository:
    """All SQL on `external_data`. Works inside the caller's transaction (unit of work)."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def upsert_records(
        self,
        provider: str,
        entity_type: str,
        records: Sequence[RawRecordIn],
        run_id: str,
        *,
        now: datetime,
        processed: bool = False,
    ) -> UpsertCounts:
        """Insert new records, rewrite changed ones, leave unchanged ones untouched.

        Unchanged records are not written at all (not even `last_seen_at`): on PostgreSQL any
        UPDATE rewrites the whole JSONB tuple, so re-collecting a window would cost as much as
        collecting it and bloat the table, while nothing reads a "last seen" time.
        `last_seen_at` is therefore the last collection that wrote the record (new or changed).
        A changed record is re-queued: `processed_at`, the error and the ISRC finding are
        cleared.
        `processed=True` stores records that need no processing step (Spotify tracks).
        `now` stamps the written rows: the caller's clock, so a service run stamps with the one
        clock it also judges TTLs by (and a test can fix it).

        Counts are exact even against a concurrent writer: the upsert only writes rows whose
        hash differs and RETURNING reports what it really wrote (on PostgreSQL `xmax = 0`
        tells an insert from an update). SQLite reads the stored hashes first, which is exact
        there because writers hold the database lock, and skips sending unchanged rows;
        PostgreSQL skips that read, as measured it costs the new-row path ~13% and gains only
        on re-collection, which is bound by the API anyway.
        """
        rows, dropped = last_wins(records, key=lambda record: record.external_id)
        if not rows:
            return UpsertCounts(0, 0, 0, dropped)
        prepared = [(record, canonical_json(record.payload)) for record in rows]
        hashes = {record.external_id: content_hash(text) for record, text in prepared}
        escaped = {record.external_id: _storable(record.payload, text) for record, text in prepared}
        stored = (
            {}  # RETURNING (xmax = 0) below tells new from changed without a pre-read
            if self._conn.dialect.name == "postgresql"
            else self._stored_hashes(provider, entity_type, list(hashes))
        )
        values = [
            {
                "provider": provider,
                "entity_type": entity_type,
                "external_id": record.external_id,
                "payload": escaped[record.external_id] or text,
                "payload_escaped": escaped[record.external_id] is not None,
                "content_hash": hashes[record.external_id],
                "partition_date": record.partition_date,
                "first_seen_at": now,
                "last_seen_at": now,
                "run_id": run_id,
                "processed_at": now if processed else None,
                "processing_error": None,
                "processed_run_id": run_id if processed else None,
            }
            for record, text in prepared
            if stored.get(record.external_id) != hashes[record.external_id]
        ]
        written: dict[str, bool] = {}
        if values:
            for external_id, inserted in self._write(values):
                written[external_id] = external_id not in stored if inserted is None else inserted
        new = sum(written.values())
        changed = len(written) - new
        return UpsertCounts(new, changed, len(rows) - new - changed, dropped, written)

    def record_ids(
        self, provider: str, entity_type: str, external_ids: Sequence[str]
    ) -> dict[str, int]:
        """Row ids of the stored records among `external_ids` (absent ones are left out): what
        another table links to, such as a `found` Spotify outcome to its track's JSON."""
        return self._by_external_id(ed.c.id, provider, entity_type, external_ids)

    def _stored_hashes(self, provider: str, entity_type: str, ids: list[str]) -> dict[str, str]:
        return self._by_external_id(ed.c.content_hash, provider, entity_type, ids)

    def _by_external_id(
        self, column: sa.Column[Any], provider: str, entity_type: str, ids: Sequence[str]
    ) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for chunk in chunks(list(ids)):
            query = sa.select(ed.c.external_id, column).where(
                ed.c.provider == provider,
                ed.c.entity_type == entity_type,
                ed.c.external_id.in_(chunk),
            )
            found.update(self._conn.execute(query).all())
        return found

    def _write(self, values: list[dict[str, Any]]) -> Iterator[tuple[str, bool | None]]:
        """Upsert; yield (external_id, inserted?) for each row really written.

        PostgreSQL tells inserts from updates by `xmax = 0`; SQLite serializes writers, so
        there the pre-read of stored hashes is exact and `None` defers to it.
        """
        stmt = upsert(self._conn, ed)
        stmt = stmt.on_conflict_do_update(
            index_elements=[ed.c.provider, ed.c.entity_type, ed.c.external_id],
            set_={
                "payload": stmt.excluded.payload,
                "payload_escaped": stmt.excluded.payload_escaped,
                "content_hash": stmt.excluded.content_hash,
                "partition_date": stmt.excluded.partition_date,
                "last_seen_at": stmt.excluded.last_seen_at,
                "run_id": stmt.excluded.run_id,
                "processed_at": stmt.excluded.processed_at,
                "processing_error": sa.null(),  # a bound None would defeat insertmanyvalues
                "isrc_rejected": sa.null(),
                "processed_run_id": stmt.excluded.processed_run_id,
            },
            where=ed.c.content_hash != stmt.excluded.content_hash,
        )
        if self._conn.dialect.name == "postgresql":
            inserted = sa.literal_column("(xmax = 0)", sa.Boolean)
            stmt = stmt.returning(ed.c.external_id, inserted)
        else:
            stmt = stmt.returning(ed.c.external_id, sa.null())
        yield from self._conn.execute(stmt, values)

    def fetch_unprocessed(
        self, provider: str, entity_type: str, window: DateWindow, after_id: int, limit: int
    ) -> list[RawRecord]:
        """The next `limit` unprocessed records with id > after_id (keyset, by id).

        Payloads come back as they were received (U+0000 unescaped).
        """
        query = (
            sa.select(
                ed.c.id,
                ed.c.external_id,
                ed.c.payload,
                ed.c.partition_date,
                ed.c.content_hash,
                ed.c.payload_escaped,
            )
            .where(
                ed.c.provider == provider,
                ed.c.entity_type == entity_type,
                in_window(ed.c.partition_date, window),
                ed.c.processed_at.is_(None),
                ed.c.id > after_id,
            )
            .order_by(ed.c.id)
            .limit(limit)
        )
        return [
            RawRecord(
                id=row.id,
                external_id=row.external_id,
                payload=unescape_nul(row.payload) if row.payload_escaped else row.payload,
                partition_date=row.partition_date,
                content_hash=row.content_hash,
            )
            for row in self._conn.execute(query)
        ]

    def mark_processed(
        self,
        ids: Sequence[int],
        run_id: str,
        *,
        now: datetime,
        content_hashes: Mapping[int, str] | None = None,
        isrc_rejected: Collection[int] = (),
    ) -> None:
        """Take records out of the queue, stamping `processed_at` with the caller's `now`, with
        normalization's ISRC finding.

        `isrc_rejected` are the records whose ISRC normalization rejected; the others are
        recorded as not rejected. With `content_hashes` (the hashes the caller normalized), a
        record whose content was re-collected as something else in the meantime stays queued,
        so the newer content is processed too instead of being marked done unseen.
        """
        self._finish(sorted(set(ids)), run_id, None, now, content_hashes, set(isrc_rejected))

    def mark_quarantined(
        self,
        reasons: Mapping[int, str],
        run_id: str,
        *,
        now: datetime,
        content_hashes: Mapping[int, str] | None = None,
    ) -> None:
        """Take records out of the queue with a reason; a later content change re-queues them.

        `processed_at` is the caller's `now`, as in `mark_processed`.
        """
        by_reason: dict[str, list[int]] = defaultdict(list)
        for record_id, reason in sorted(reasons.items()):
            by_reason[reason].append(record_id)
        for reason in sorted(by_reason):
            self._finish(by_reason[reason], run_id, reason, now, content_hashes, None)

    def _finish(
        self,
        ids: list[int],
        run_id: str,
        error: str | None,
        now: datetime,
        content_hashes: Mapping[int, str] | None,
        isrc_rejected: set[int] | None,
    ) -> None:
        """Mark records done; `isrc_rejected` None (quarantine) records no ISRC finding."""
        for chunk in chunks(ids):
            current = self._lock_in_upsert_order(chunk)
            if content_hashes is not None:
                chunk = [i for i in chunk if current.get(i) == content_hashes.get(i)]
            if not chunk:
                continue
            finding: sa.ColumnElement[bool] | None = None
            if isrc_rejected is not None:
                rejected = [i for i in chunk if i in isrc_rejected]
                finding = ed.c.id.in_(rejected) if rejected else sa.false()
            self._conn.execute(
                sa.update(ed)
                .where(ed.c.id.in_(chunk))
                .values(
                    processed_at=now,
                    processing_error=error,
                    processed_run_id=run_id,
                    isrc_rejected=finding,
                )
            )

    def _lock_in_upsert_order(self, ids: Sequence[int]) -> dict[int, str]:
        """Lock rows in the order upserts lock them; return their current content hashes.

        Upserts lock by external id (sorted in Python: code-point order, which is what the
        "C" collation compares); an UPDATE by id would lock in id order, so a concurrent
        collect could deadlock. SQLite locks the whole database per writer, so a plain read
        is already stable there.
        """
        query = sa.select(ed.c.id, ed.c.content_hash).where(ed.c.id.in_(ids))
        if self._conn.dialect.name == "postgresql":
            query = query.order_by(
                ed.c.provider, ed.c.entity_type, ed.c.external_id.collate("C")
            ).with_for_update()
        return dict(self._conn.execute(query).all())

    def state_counts(self, provider: str, entity_type: str, window: DateWindow) -> RawStateCounts:
        done = sa.func.count(ed.c.processed_at)
        quarantined = sa.func.count(
            sa.case((ed.c.processed_at.is_not(None), ed.c.processing_error))
        )
        query = sa.select(sa.func.count(), done, quarantined).where(
            *self._in(provider, entity_type, window)
        )
        total, finished, bad = self._conn.execute(query).one()
        return RawStateCounts(
            total=total, processed=finished - bad, quarantined=bad, pending=total - finished
        )

    def state_counts_by_day(
        self, provider: str, entity_type: str, window: DateWindow
    ) -> dict[date, RawStateCounts]:
        """`state_counts` of every day of the window that holds records, in one grouped scan."""
        done = sa.func.count(ed.c.processed_at)
        quarantined = sa.func.count(
            sa.case((ed.c.processed_at.is_not(None), ed.c.processing_error))
        )
        query = (
            sa.select(ed.c.partition_date, sa.func.count(), done, quarantined)
            .where(*self._in(provider, entity_type, window))
            .group_by(ed.c.partition_date)
        )
        return {
            day: RawStateCounts(
                total=total, processed=finished - bad, quarantined=bad, pending=total - finished
            )
            for day, total, finished, bad in self._conn.execute(query)
        }

    def quarantine_reasons_by_day(
        self, provider: str, entity_type: str, window: DateWindow
    ) -> dict[date, dict[str, int]]:
        """Quarantine reasons and their counts, per day of the window that has any."""
        query = (
            sa.select(ed.c.partition_date, ed.c.processing_error, sa.func.count())
            .where(
                *self._in(provider, entity_type, window),
                ed.c.processed_at.is_not(None),
                ed.c.processing_error.is_not(None),
            )
            .group_by(ed.c.partition_date, ed.c.processing_error)
            .order_by(ed.c.partition_date, ed.c.processing_error)
        )
        reasons: dict[date, dict[str, int]] = {}
        for day, reason, count in self._conn.execute(query):
            reasons.setdefault(day, {})[reason] = count
        return reasons

    def quarantine_reasons(
        self, provider: str, entity_type: str, window: DateWindow
    ) -> dict[str, int]:
        query = (
            sa.select(ed.c.processing_error, sa.func.count())
            .where(
                *self._in(provider, entity_type, window),
                ed.c.processed_at.is_not(None),
                ed.c.processing_error.is_not(None),
            )
            .group_by(ed.c.processing_error)
        )
        return dict(sorted(self._conn.execute(query)))

    def rejected_isrcs_by_day(
        self, provider: str, entity_type: str, window: DateWindow
    ) -> dict[date, int]:
        """Processed records whose ISRC normalization rejected, per day of the window that has
        any: the finding `mark_processed` recorded, so no rule on ISRCs is re-derived here."""
        query = (
            sa.select(ed.c.partition_date, sa.func.count())
            .where(*self._in(provider, entity_type, window), ed.c.isrc_rejected.is_(True))
            .group_by(ed.c.partition_date)
        )
        return dict(self._conn.execute(query).all())

    def count_in_window(self, provider: str, entity_type: str, window: DateWindow) -> int:
        query = sa.select(sa.func.count()).where(*self._in(provider, entity_type, window))
        return self._conn.execute(query).scalar_one()

    def fingerprint(self, provider: str, entity_type: str, window: DateWindow) -> str:
        """Data version of the raw window: which records it holds and their content."""
        query = sa.select(ed.c.external_id, ed.c.content_hash).where(
            *self._in(provider, entity_type, window)
        )
        return rows_hash(sorted(self._conn.execute(query)))

    @staticmethod
    def _in(provider: str, entity_type: str, window: DateWindow) -> list[sa.ColumnElement[bool]]:
        return [
            ed.c.provider == provider,
            ed.c.entity_type == entity_type,
            in_window(ed.c.partition_date, window),
        ]


def _storable(payload: Any, text: str) -> SerializedJSON | None:
    """The escaped JSON to store instead of `text` when the payload holds U+0000, else None.

    The content hash stays that of the payload as received, so escaping never looks like a
    change. JSON writes U+0000 as `\\u0000`, so payloads without that text skip the walk.
    """
    if "\\u0000" not in text:
        return None
    escaped = escape_nul(payload)
    return None if escaped is None else canonical_json(escaped)
