"""Factories of the storage tests: tracks built directly as `NormalizedTrack`s (independent of
the normalization module), stored the way the service stores them, and read back with SQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from collection_pipeline.domain import (
    ArtistCredit,
    ArtistRole,
    DateWindow,
    NamedEntity,
    NormalizedTrack,
    Release,
)
from collection_pipeline.storage import Database, RawRecordIn

DAY = date(2024, 3, 1)
WINDOW = DateWindow.single_day(DAY)
NOW = datetime(2024, 3, 2, 12, 0, tzinfo=UTC)
"""The instant the storage tests stamp their writes with: repositories take it, never a clock."""


def make_track(
    beatport_id: int,
    *,
    isrc: str | None = None,
    artists: tuple[tuple[int, str], ...] = ((1, "Artist One"),),
    remixers: tuple[tuple[int, str], ...] = (),
    label: tuple[int, str] | None = (100, "Label"),
    release_id: int = 1000,
    genre: tuple[int, str] = (5, "Techno"),
    publish_date: date = DAY,
    name: str | None = None,
) -> NormalizedTrack:
    """A track whose references are given as (Beatport id, name) pairs."""
    credits = tuple(
        ArtistCredit(NamedEntity(bp_id, artist_name), role, position)
        for role, people in ((ArtistRole.ARTIST, artists), (ArtistRole.REMIXER, remixers))
        for position, (bp_id, artist_name) in enumerate(people, start=1)
    )
    return NormalizedTrack(
        beatport_id=beatport_id,
        name=name or f"Track {beatport_id}",
        mix_name="Original Mix",
        isrc=isrc,
        bpm=128,
        key_name="A Minor",
        camelot="8A",
        length_ms=300_000,
        publish_date=publish_date,
        new_release_date=publish_date,
        catalog_number=f"CAT{beatport_id}",
        genre=NamedEntity(genre[0], genre[1], genre[1].lower()),
        sub_genre=None,
        release=Release(
            release_id,
            f"Release {release_id}",
            None,
            NamedEntity(label[0], label[1]) if label else None,
        ),
        credits=credits,
    )


def raw_payload(track: NormalizedTrack) -> dict[str, Any]:
    """A stand-in raw record: content changes whenever the normalized track does."""
    return {"id": track.beatport_id, "track": repr(track)}


def store_tracks(db: Database, tracks: list[NormalizedTrack], run_id: str = "run-1") -> dict:
    """Collect and process tracks the way the service does, in one unit of work."""
    records = [
        RawRecordIn(str(t.beatport_id), raw_payload(t), t.publish_date or DAY) for t in tracks
    ]
    with db.unit_of_work() as uow:
        uow.raw.upsert_records("beatport", "track", records, run_id, now=NOW)
        raw_ids = {
            r.external_id: r.id
            for r in uow.raw.fetch_unprocessed(
                "beatport", "track", DateWindow(date(2000, 1, 1), date(2100, 1, 1)), 0, 100_000
            )
        }
        written = uow.catalog.save_tracks(
            [(raw_ids[str(t.beatport_id)], t) for t in tracks if str(t.beatport_id) in raw_ids],
            run_id,
            now=NOW,
        )
        uow.raw.mark_processed(list(raw_ids.values()), run_id, now=NOW)
        uow.commit()
    return written


def query(db: Database, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with db.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(sql), params)]


def new_database(url: str) -> Database:
    db = Database(url)
    db.upgrade()
    return db
