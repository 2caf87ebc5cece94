"""Normalized catalogue: identity by Beatport id, lineage, link replacement."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from collection_pipeline.domain import DateWindow
from collection_pipeline.storage import Database
from collection_pipeline.testing.digest import database_digest
from collection_pipeline_tests.support.catalog import (
    DAY,
    NOW,
    WINDOW,
    make_track,
    new_database,
    query,
    store_tracks,
)


def links(db: Database, beatport_id: int) -> list[tuple[str, int, int]]:
    """(role, position, artist Beatport id) of one track, in credit order."""
    return query(
        db,
        "SELECT ta.role, ta.position, a.beatport_id FROM track_artists ta "
        "JOIN tracks t ON t.id = ta.track_id JOIN artists a ON a.id = ta.artist_id "
        "WHERE t.beatport_id = :bp ORDER BY ta.role, ta.position",
        bp=beatport_id,
    )


def test_null_or_repeated_isrc_never_duplicates_tracks(database_url: str) -> None:
    db = new_database(database_url)
    tracks = [
        make_track(1, isrc=None),
        make_track(2, isrc=None),
        make_track(3, isrc="GBAAA2400001"),
        make_track(4, isrc="GBAAA2400001"),
    ]
    store_tracks(db, tracks)
    store_tracks(db, [make_track(1, isrc=None, name="renamed"), make_track(3, isrc=None)], "run-2")
    rows = query(db, "SELECT beatport_id, isrc, name FROM tracks ORDER BY beatport_id")
    assert rows == [
        (1, None, "renamed"),
        (2, None, "Track 2"),
        (3, None, "Track 3"),
        (4, "GBAAA2400001", "Track 4"),
    ]
    db.dispose()


def test_namesake_artists_and_labels_stay_separate(database_url: str) -> None:
    db = new_database(database_url)
    store_tracks(
        db,
        [
            make_track(1, artists=((10, "Namesake"),), label=(100, "Records"), release_id=1),
            make_track(2, artists=((11, "Namesake"),), label=(101, "Records"), release_id=2),
        ],
    )
    assert query(db, "SELECT beatport_id, name FROM artists ORDER BY beatport_id") == [
        (10, "Namesake"),
        (11, "Namesake"),
    ]
    assert query(db, "SELECT beatport_id FROM labels ORDER BY beatport_id") == [(100,), (101,)]
    assert links(db, 1) == [("artist", 1, 10)]
    assert links(db, 2) == [("artist", 1, 11)]
    label_of_track_2 = query(
        db,
        "SELECT l.beatport_id FROM tracks t JOIN releases r ON r.id = t.release_id "
        "JOIN labels l ON l.id = r.label_id WHERE t.beatport_id = 2",
    )
    assert label_of_track_2 == [(101,)]
    db.dispose()


def test_changed_artists_replace_links_instead_of_appending(database_url: str) -> None:
    db = new_database(database_url)
    store_tracks(db, [make_track(1, artists=((10, "A"), (11, "B")), remixers=((12, "C"),))])
    assert links(db, 1) == [("artist", 1, 10), ("artist", 2, 11), ("remixer", 1, 12)]

    store_tracks(db, [make_track(1, artists=((11, "B"),), remixers=((13, "D"),))], "run-2")

    assert links(db, 1) == [("artist", 1, 11), ("remixer", 1, 13)]
    db.dispose()


def test_every_normalized_row_has_lineage(database_url: str) -> None:
    db = new_database(database_url)
    store_tracks(db, [make_track(1, remixers=((2, "R"),)), make_track(3)], "run-7")
    for table in ("tracks", "artists", "releases", "labels", "genres", "track_artists"):
        orphans = query(
            db,
            f"SELECT count(*) FROM {table} x LEFT JOIN external_data e "
            "ON e.id = x.source_record_id WHERE e.id IS NULL OR x.run_id <> 'run-7'",
        )
        assert orphans == [(0,)], table
    traced = query(
        db,
        "SELECT t.beatport_id, e.external_id FROM tracks t "
        "JOIN external_data e ON e.id = t.source_record_id ORDER BY t.beatport_id",
    )
    assert traced == [(1, "1"), (3, "3")]
    db.dispose()


def test_saving_the_same_tracks_again_writes_nothing(database_url: str) -> None:
    db = new_database(database_url)
    tracks = [make_track(n, isrc=f"GBAAA24{n:05d}", artists=((n % 3, "A"),)) for n in range(20)]
    store_tracks(db, tracks)
    digest = database_digest(db)
    raw_ids = dict(query(db, "SELECT external_id, id FROM external_data"))
    with db.unit_of_work() as uow:
        written = uow.catalog.save_tracks(
            [(raw_ids[str(t.beatport_id)], t) for t in tracks], "run-2", now=NOW
        )
        uow.commit()
    assert {table: count for table, count in written.items() if table != "track_artists"} == {
        "genres": 0,
        "sub_genres": 0,
        "labels": 0,
        "releases": 0,
        "artists": 0,
        "tracks": 0,
    }
    assert database_digest(db) == digest
    db.dispose()


def test_window_queries(database_url: str) -> None:
    db = new_database(database_url)
    store_tracks(
        db,
        [
            make_track(1, isrc="GBAAA2400001"),
            make_track(2),
            make_track(3, publish_date=date(2024, 3, 2)),
        ],
    )
    with db.unit_of_work() as uow:
        assert uow.catalog.track_count(WINDOW) == 2
        sample = uow.catalog.sample_tracks(WINDOW, limit=1)
        before = uow.catalog.fingerprint(WINDOW)
        other_day = uow.catalog.fingerprint(DateWindow.single_day(date(2024, 3, 2)))
    assert sample == [
        {
            "beatport_id": 1,
            "name": "Track 1",
            "mix_name": "Original Mix",
            "isrc": "GBAAA2400001",
            "bpm": 128,
            "key_name": "A Minor",
            "publish_date": DAY,
            "genre": "Techno",
            "label": "Label",
            "artists": "Artist One",
        }
    ]
    store_tracks(db, [make_track(3, publish_date=date(2024, 3, 2), artists=((9, "New"),))], "r2")
    with db.unit_of_work() as uow:
        assert uow.catalog.fingerprint(WINDOW) == before
        assert uow.catalog.fingerprint(DateWindow.single_day(date(2024, 3, 2))) != other_day
    db.dispose()


def test_bulk_writes_send_a_bounded_number_of_statements(database_url: str) -> None:
    """Rows are batched into multi-row statements, not sent one statement per row.

    (A bound literal in ON CONFLICT ... SET once made SQLAlchemy send the raw upsert row by row.)
    """
    from datetime import UTC, datetime

    from collection_pipeline.domain import MatchOutcome, MatchStatus

    db = new_database(database_url)
    executions: list[str] = []
    sa.event.listen(
        db.engine, "before_cursor_execute", lambda *args: executions.append(args[2].split()[0])
    )
    tracks = [
        make_track(n, isrc=f"GBAAA24{n:05d}", artists=((n, "A"), (n + 1, "B")), release_id=n)
        for n in range(60)
    ]
    store_tracks(db, tracks)
    assert len(executions) <= 25  # begin, raw upsert + reads, ~2 per table, links, marking
    executions.clear()
    ids = dict(query(db, "SELECT beatport_id, id FROM tracks"))
    executions.clear()
    now = datetime.now(UTC)
    with db.unit_of_work() as uow:
        uow.spotify.save_outcomes(
            [MatchOutcome(ids[n], MatchStatus.NOT_FOUND, now) for n in range(60)],
            "r",
            spotify_record_ids={},
        )
        uow.spotify.save_outcomes(
            [MatchOutcome(ids[n], MatchStatus.NOT_FOUND, now) for n in range(60)],
            "r",
            spotify_record_ids={},
        )
        uow.commit()
    assert executions.count("INSERT") == 2  # one per save_outcomes call
    db.dispose()
