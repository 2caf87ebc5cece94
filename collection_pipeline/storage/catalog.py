"""Normalized Beatport catalogue: bulk get-or-create by Beatport id, track-artist links."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from collection_pipeline.domain import DateWindow, NormalizedTrack
from collection_pipeline.storage.hashing import rows_hash
from collection_pipeline.storage.schema import (
    artists,
    genres,
    labels,
    releases,
    sub_genres,
    track_artists,
    tracks,
)
from collection_pipeline.storage.sql import (
    chunks,
    in_window,
    last_wins,
    upsert,
    window_sample,
)

Sourced = tuple[int, Any]
"""(raw record id, entity): every normalized row remembers the record it came from."""

TRACK_COLUMNS = (
    "name",
    "mix_name",
    "isrc",
    "bpm",
    "key_name",
    "camelot",
    "length_ms",
    "publish_date",
    "new_release_date",
    "catalog_number",
)


class CatalogRepository:
    """All SQL on the normalized tables. Works inside the caller's transaction."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def save_tracks(
        self, items: Sequence[tuple[int, NormalizedTrack]], run_id: str, *, now: datetime
    ) -> dict[str, int]:
        """Upsert a batch of tracks and everything they reference; replace their artist links.

        Tables are written parents first and every statement locks rows in Beatport-id order,
        so two writers sharing artists or labels wait for each other instead of deadlocking.
        A row is rewritten only when its content differs. Returns rows written per table.
        Written rows' `updated_at` is the caller's `now` (the service's one clock).
        """
        pairs, _ = last_wins(items, key=lambda pair: pair[1].beatport_id)
        written: dict[str, int] = {}
        save = self._entity_saver(run_id, now, written)

        genre_ids = save(genres, [(rid, t.genre) for rid, t in pairs if t.genre])
        sub_genre_ids = save(sub_genres, [(rid, t.sub_genre) for rid, t in pairs if t.sub_genre])
        label_ids = save(
            labels,
            [(rid, t.release.label) for rid, t in pairs if t.release and t.release.label],
        )
        release_ids = save(
            releases,
            [(rid, t.release) for rid, t in pairs if t.release],
            lambda release: (
                {"label_id": label_ids.get(release.label.beatport_id)}
                if release.label
                else {"label_id": None}
            ),
        )
        artist_ids = save(
            artists, [(rid, credit.artist) for rid, t in pairs for credit in t.credits]
        )
        track_ids = self._save_track_rows(
            pairs, run_id, now, written, genre_ids, sub_genre_ids, release_ids
        )
        written["track_artists"] = self._replace_links(pairs, run_id, track_ids, artist_ids)
        return written

    def _entity_saver(
        self, run_id: str, now: datetime, written: dict[str, int]
    ) -> Callable[..., dict[int, int]]:
        def save(
            table: sa.Table,
            sourced: list[Sourced],
            extra: Callable[[Any], dict[str, Any]] | None = None,
        ) -> dict[int, int]:
            rows, _ = last_wins(sourced, key=lambda pair: pair[1].beatport_id)
            values = [
                {
                    "beatport_id": entity.beatport_id,
                    "name": entity.name,
                    "slug": entity.slug,
                    **(extra(entity) if extra else {}),
                    "source_record_id": record_id,
                    "run_id": run_id,
                    "updated_at": now,
                }
                for record_id, entity in rows
            ]
            content = ["name", "slug", *(["label_id"] if extra else [])]
            ids, count = self._write_new_or_changed(table, values, content)
            written[table.name] = count
            return ids

        return save

    def _write_new_or_changed(
        self, table: sa.Table, values: list[dict[str, Any]], content: Sequence[str]
    ) -> tuple[dict[int, int], int]:
        """Get-or-create shared entities, writing only the rows that are new or changed.

        Genres, labels and artists recur in almost every batch. Reading them first through the
        unique index costs far less than an upsert, which locks (and so rewrites) every
        conflicting row even when it changes nothing. A concurrent writer that inserts the same
        row in between is absorbed by the upsert's ON CONFLICT.
        """
        stored: dict[int, tuple[Any, ...]] = {}
        columns = [table.c.beatport_id, table.c.id, *(table.c[name] for name in content)]
        for chunk in chunks([row["beatport_id"] for row in values]):
            query = sa.select(*columns).where(table.c.beatport_id.in_(chunk))
            stored.update((row[0], tuple(row[1:])) for row in self._conn.execute(query))
        ids = {beatport_id: row[0] for beatport_id, row in stored.items()}
        changed = [
            row
            for row in values
            if (known := stored.get(row["beatport_id"])) is None
            or known[1:] != tuple(row[name] for name in content)
        ]
        written_ids, count = self._upsert_by_beatport_id(table, changed, content)
        return ids | written_ids, count

    def _upsert_by_beatport_id(
        self, table: sa.Table, values: list[dict[str, Any]], content: Sequence[str]
    ) -> tuple[dict[int, int], int]:
        """Get-or-create rows by Beatport id; return {beatport_id: id} and rows written.

        The update runs only when a content column differs (no dead tuples for the shared
        genres and labels every batch repeats); RETURNING yields the ids of written rows and
        one indexed SELECT fetches the untouched ones.
        """
        if not values:
            return {}, 0
        stmt = upsert(self._conn, table)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.beatport_id],
            set_={name: stmt.excluded[name] for name in values[0] if name != "beatport_id"},
            where=sa.or_(*(table.c[c].is_distinct_from(stmt.excluded[c]) for c in content)),
        ).returning(table.c.beatport_id, table.c.id)
        ids = dict(self._conn.execute(stmt, values).all())
        written = len(ids)
        missing = [row["beatport_id"] for row in values if row["beatport_id"] not in ids]
        for chunk in chunks(missing):
            query = sa.select(table.c.beatport_id, table.c.id).where(table.c.beatport_id.in_(chunk))
            ids.update(self._conn.execute(query).all())
        return ids, written

    def _save_track_rows(
        self,
        pairs: list[tuple[int, NormalizedTrack]],
        run_id: str,
        now: datetime,
        written: dict[str, int],
        genre_ids: dict[int, int],
        sub_genre_ids: dict[int, int],
        release_ids: dict[int, int],
    ) -> dict[int, int]:
        values = [
            {
                "beatport_id": track.beatport_id,
                **{name: getattr(track, name) for name in TRACK_COLUMNS},
                "genre_id": genre_ids[track.genre.beatport_id] if track.genre else None,
                "sub_genre_id": sub_genre_ids[track.sub_genre.beatport_id]
                if track.sub_genre
                else None,
                "release_id": release_ids[track.release.beatport_id] if track.release else None,
                "source_record_id": record_id,
                "run_id": run_id,
                "updated_at": now,
            }
            for record_id, track in pairs
        ]
        content = [*TRACK_COLUMNS, "genre_id", "sub_genre_id", "release_id", "source_record_id"]
        ids, written["tracks"] = self._upsert_by_beatport_id(tracks, values, content)
        return ids

    def _replace_links(
        self,
        pairs: list[tuple[int, NormalizedTrack]],
        run_id: str,
        track_ids: dict[int, int],
        artist_ids: dict[int, int],
    ) -> int:
        """Delete the batch's links and insert the current ones: changed credits never append.

        The track upsert above has locked every track row of the batch (ON CONFLICT locks
        even rows it leaves unchanged), so a concurrent writer of the same track waits until
        this transaction commits, and its own DELETE then sees these links.
        """
        ids = sorted(track_ids[track.beatport_id] for _, track in pairs)
        for chunk in chunks(ids):
            self._conn.execute(sa.delete(track_artists).where(track_artists.c.track_id.in_(chunk)))
        links, _ = last_wins(
            (
                {
                    "track_id": track_ids[track.beatport_id],
                    "artist_id": artist_ids[credit.artist.beatport_id],
                    "role": str(credit.role),
                    "position": credit.position,
                    "source_record_id": record_id,
                    "run_id": run_id,
                }
                for record_id, track in pairs
                for credit in track.credits
            ),
            key=lambda link: (link["track_id"], link["role"], link["position"]),
        )
        if links:
            self._conn.execute(sa.insert(track_artists), links)
        return len(links)

    def track_count(self, window: DateWindow) -> int:
        return sum(self.track_counts_by_day(window).values())

    def track_counts_by_day(self, window: DateWindow) -> dict[date, int]:
        """Tracks per publish day of the window (days without tracks are absent)."""
        query = (
            sa.select(tracks.c.publish_date, sa.func.count())
            .where(in_window(tracks.c.publish_date, window))
            .group_by(tracks.c.publish_date)
        )
        return dict(self._conn.execute(query).all())

    def sample_tracks(self, window: DateWindow, limit: int) -> list[dict[str, Any]]:
        """A few tracks of the window with names resolved, for the UI preview."""
        columns = (
            tracks.c.id,
            tracks.c.beatport_id,
            tracks.c.name,
            tracks.c.mix_name,
            tracks.c.isrc,
            tracks.c.bpm,
            tracks.c.key_name,
            tracks.c.publish_date,
            genres.c.name.label("genre"),
            labels.c.name.label("label"),
        )
        joined = (
            tracks.outerjoin(genres, genres.c.id == tracks.c.genre_id)
            .outerjoin(releases, releases.c.id == tracks.c.release_id)
            .outerjoin(labels, labels.c.id == releases.c.label_id)
        )
        rows = window_sample(self._conn, columns, joined, window, limit)
        names = self.artist_names([row["id"] for row in rows])
        for row in rows:
            row["artists"] = ", ".join(names.get(row.pop("id"), ()))
        return rows

    def artist_names(self, track_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
        """Credited names per track: artists first, then remixers, each in credit order.

        Links and names are read in two indexed lookups rather than one join, which the
        planner would answer with a hash join over the whole artists table.
        """
        credits: dict[int, list[int]] = defaultdict(list)
        for chunk in chunks(sorted(track_ids)):
            query = (
                sa.select(track_artists.c.track_id, track_artists.c.artist_id)
                .where(track_artists.c.track_id.in_(chunk))
                .order_by(track_artists.c.track_id, track_artists.c.role, track_artists.c.position)
            )
            for track_id, artist_id in self._conn.execute(query):
                credits[track_id].append(artist_id)
        names = self._columns_by_id(artists, {a for ids in credits.values() for a in ids}, "name")
        return {
            track_id: tuple(names[artist_id][0] for artist_id in ids)
            for track_id, ids in credits.items()
        }

    def _columns_by_id(
        self, table: sa.Table, ids: set[int], *columns: str
    ) -> dict[int, tuple[Any, ...]]:
        """Selected columns of the rows with these ids (primary-key lookups, chunked)."""
        found: dict[int, tuple[Any, ...]] = {}
        for chunk in chunks(sorted(ids)):
            query = sa.select(table.c.id, *(table.c[c] for c in columns)).where(
                table.c.id.in_(chunk)
            )
            found.update((row[0], tuple(row[1:])) for row in self._conn.execute(query))
        return found

    def fingerprint(self, window: DateWindow) -> str:
        """Data version of the window's tracks, their references and links."""
        return rows_hash(self.state_rows(window))

    def state_rows(self, window: DateWindow | None = None) -> list[tuple[Any, ...]]:
        """Logical state of tracks (one window, or all): provider ids only, sorted.

        Tracks with their columns and the Beatport ids and names of what they reference,
        followed by their links; surrogate ids, times, runs and lineage ids are left out.
        References are resolved by primary-key lookups (see `artist_names`).
        """
        track_query = sa.select(
            tracks.c.id,
            tracks.c.beatport_id,
            *(tracks.c[name] for name in TRACK_COLUMNS),
            tracks.c.genre_id,
            tracks.c.sub_genre_id,
            tracks.c.release_id,
        )
        if window is not None:
            track_query = track_query.where(in_window(tracks.c.publish_date, window))
        found = list(self._conn.execute(track_query))
        refs = self._references(found)
        link_rows = self._link_rows({row[0]: row[1] for row in found})
        rows = [
            (
                "track",
                *row[1:-3],
                *refs[genres].get(row[-3], (None, None)),
                *refs[sub_genres].get(row[-2], (None, None)),
                *refs[releases].get(row[-1], (None,) * 4),
            )
            for row in found
        ]
        return sorted(rows + link_rows, key=lambda row: tuple(str(value) for value in row))

    def _references(self, found: list[Any]) -> dict[sa.Table, dict[int, tuple[Any, ...]]]:
        """(Beatport id, name[, label Beatport id, label name]) of what the tracks reference."""
        refs = {
            table: self._columns_by_id(
                table, {row[position] for row in found if row[position]}, "beatport_id", "name"
            )
            for table, position in ((genres, -3), (sub_genres, -2))
        }
        release_rows = self._columns_by_id(
            releases, {row[-1] for row in found if row[-1]}, "beatport_id", "name", "label_id"
        )
        label_rows = self._columns_by_id(
            labels, {row[2] for row in release_rows.values() if row[2]}, "beatport_id", "name"
        )
        refs[releases] = {
            release_id: (*row[:2], *label_rows.get(row[2], (None, None)))
            for release_id, row in release_rows.items()
        }
        return refs

    def _link_rows(self, beatport_ids: dict[int, int]) -> list[tuple[Any, ...]]:
        links: list[Any] = []
        for chunk in chunks(sorted(beatport_ids)):
            query = sa.select(
                track_artists.c.track_id,
                track_artists.c.role,
                track_artists.c.position,
                track_artists.c.artist_id,
            ).where(track_artists.c.track_id.in_(chunk))
            links += self._conn.execute(query).all()
        names = self._columns_by_id(artists, {row[3] for row in links}, "beatport_id", "name")
        return [
            ("link", beatport_ids[track_id], role, position, *names[artist_id])
            for track_id, role, position, artist_id in links
        ]
