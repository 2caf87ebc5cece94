"""Spotify outcomes: pending tracks per distinct ISRC, TTL for not_found, errors retried."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from collection_pipeline.domain import (
    DateWindow,
    MatchOutcome,
    MatchStatus,
    OutcomeCounts,
    PendingTrack,
)
from collection_pipeline.storage import Database, RawRecordIn
from collection_pipeline_tests.support.catalog import (
    DAY,
    WINDOW,
    make_track,
    new_database,
    query,
    store_tracks,
)

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
TTL = timedelta(days=30)


def track_ids(db: Database) -> dict[int, int]:
    return dict(query(db, "SELECT beatport_id, id FROM tracks"))


def save(db: Database, *outcomes: MatchOutcome) -> None:
    """Save outcomes linked to whatever Spotify JSON is stored for them, as the service does."""
    with db.unit_of_work() as uow:
        chosen = [o.spotify_track_id for o in outcomes if o.spotify_track_id]
        linked = uow.raw.record_ids("spotify", "track", chosen)
        uow.spotify.save_outcomes(list(outcomes), "run-1", spotify_record_ids=linked)
        uow.commit()


def save_spotify_json(db: Database, items: list[dict], run_id: str = "run-1") -> None:
    with db.unit_of_work() as uow:
        records = [RawRecordIn(item["id"], item, None) for item in items]
        uow.raw.upsert_records("spotify", "track", records, run_id, now=NOW, processed=True)
        uow.commit()


def pending_isrcs(db: Database, now: datetime = NOW) -> list[str]:
    with db.unit_of_work() as uow:
        pending = uow.spotify.pending_tracks(WINDOW, TTL, now, None, 100)
        return list(dict.fromkeys(track.isrc for track in pending))


def test_pending_tracks_come_by_distinct_isrc_with_every_track_sharing_them(
    database_url: str,
) -> None:
    db = new_database(database_url)
    store_tracks(
        db,
        [
            make_track(
                1, isrc="ZZAAA2400003", artists=((11, "B"), (12, "A")), remixers=((13, "R"),)
            ),
            make_track(2, isrc="GBAAA2400001"),
            make_track(3, isrc="ZZAAA2400003", artists=((14, "C"),)),
            make_track(4, isrc=None),
            make_track(5, isrc="USAAA2400002"),
            make_track(6, isrc="AAAAA2400000", publish_date=DAY + timedelta(days=1)),
        ],
    )
    ids = track_ids(db)
    with db.unit_of_work() as uow:
        first = uow.spotify.pending_tracks(WINDOW, TTL, NOW, None, 2)
        rest = uow.spotify.pending_tracks(WINDOW, TTL, NOW, first[-1].isrc, 2)
        assert uow.spotify.pending_count(WINDOW, TTL, NOW) == 4

    assert [p.isrc for p in first] == ["GBAAA2400001", "USAAA2400002"]
    assert rest == [
        PendingTrack(ids[1], "ZZAAA2400003", "Track 1"),
        PendingTrack(ids[3], "ZZAAA2400003", "Track 3"),
    ]
    db.dispose()


def test_outcomes_ttl_and_errors_decide_what_is_pending(database_url: str) -> None:
    db = new_database(database_url)
    store_tracks(db, [make_track(n, isrc=f"GBAAA24{n:05d}") for n in range(1, 6)])
    ids = track_ids(db)
    old, recent = NOW - TTL - timedelta(seconds=1), NOW - TTL + timedelta(hours=1)
    save_spotify_json(db, [{"id": "sp1", "name": "x"}])
    save(
        db,
        MatchOutcome(ids[1], MatchStatus.FOUND, old, "sp1", "earliest_release", 0.97, 3),
        MatchOutcome(ids[2], MatchStatus.NOT_FOUND, recent),
        MatchOutcome(ids[3], MatchStatus.NOT_FOUND, old),
        MatchOutcome(ids[4], MatchStatus.ERROR, NOW, error="HTTP 503"),
    )

    assert pending_isrcs(db) == ["GBAAA2400003", "GBAAA2400004", "GBAAA2400005"]
    assert pending_isrcs(db, NOW + timedelta(hours=2)) == [
        "GBAAA2400002",
        "GBAAA2400003",
        "GBAAA2400004",
        "GBAAA2400005",
    ]
    with db.unit_of_work() as uow:
        assert uow.spotify.outcome_counts(WINDOW, TTL, NOW) == OutcomeCounts(
            tracks_with_isrc=5, found=1, not_found=2, error=1, pending=3
        )
        assert uow.spotify.partitions_needing_recheck(TTL, NOW) == [DAY]
    save(
        db,
        MatchOutcome(ids[3], MatchStatus.FOUND, NOW, "sp3", "only_candidate", 1.0, 1),
        MatchOutcome(ids[4], MatchStatus.NOT_FOUND, NOW),
    )
    with db.unit_of_work() as uow:
        assert uow.spotify.partitions_needing_recheck(TTL, NOW) == []
    linked = query(
        db,
        "SELECT m.spotify_track_id, e.provider, e.external_id FROM spotify_track_matches m "
        "JOIN external_data e ON e.id = m.spotify_record_id",
    )
    assert linked == [("sp1", "spotify", "sp1")]
    db.dispose()


def test_save_outcomes_keeps_one_row_per_track_and_counts_attempts(database_url: str) -> None:
    db = new_database(database_url)
    store_tracks(db, [make_track(1, isrc="GBAAA2400001"), make_track(2, isrc="GBAAA2400002")])
    ids = track_ids(db)
    save(db, MatchOutcome(ids[1], MatchStatus.ERROR, NOW, error="timeout"))
    save(
        db,
        MatchOutcome(ids[1], MatchStatus.ERROR, NOW, error="first of two in one batch"),
        MatchOutcome(ids[1], MatchStatus.NOT_FOUND, NOW + timedelta(minutes=1)),
        MatchOutcome(ids[2], MatchStatus.FOUND, NOW, "sp2", "only_candidate", 1.0, 1),
    )
    rows = query(
        db,
        "SELECT t.beatport_id, m.status, m.attempts, m.error_reason, m.isrc, m.spotify_record_id "
        "FROM spotify_track_matches m JOIN tracks t ON t.id = m.track_id ORDER BY t.beatport_id",
    )
    assert rows == [
        (1, "not_found", 2, None, "GBAAA2400001", None),
        (2, "found", 1, None, "GBAAA2400002", None),
    ]
    db.dispose()


def test_a_changed_isrc_makes_the_track_pending_again(database_url: str) -> None:
    db = new_database(database_url)
    store_tracks(db, [make_track(1, isrc="GBAAA2400001")])
    save(db, MatchOutcome(track_ids(db)[1], MatchStatus.FOUND, NOW, "sp1", "rule", 1.0, 1))
    assert pending_isrcs(db) == []

    store_tracks(db, [make_track(1, isrc="GBAAA2400009")], "run-2")

    assert pending_isrcs(db) == ["GBAAA2400009"]
    db.dispose()


def test_spotify_json_is_stored_once_per_id_outside_the_queue(database_url: str) -> None:
    db = new_database(database_url)
    save_spotify_json(db, [{"id": "a", "n": 1}, {"id": "b"}, {"id": "a", "n": 2}], "r")
    save_spotify_json(db, [{"id": "a", "n": 2}], "r2")
    rows = query(
        db,
        "SELECT external_id, run_id, processed_at IS NOT NULL, partition_date FROM external_data "
        "WHERE provider = 'spotify' AND entity_type = 'track' ORDER BY external_id",
    )
    assert rows == [("a", "r", True, None), ("b", "r", True, None)]
    ids = dict(query(db, "SELECT external_id, id FROM external_data"))
    with db.unit_of_work() as uow:
        window = DateWindow(date(1900, 1, 1), date(2200, 1, 1))
        assert uow.raw.fetch_unprocessed("spotify", "track", window, 0, 10) == []
        assert uow.raw.record_ids("spotify", "track", ["b", "missing", "a"]) == ids
        assert uow.raw.record_ids("beatport", "track", ["a"]) == {}
    db.dispose()
