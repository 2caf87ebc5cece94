"""CollectionService.process_unprocessed_beatport_tracks on real storage (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from collection_pipeline import views
from collection_pipeline.defs import checks
from collection_pipeline.domain import DateWindow
from collection_pipeline.service import CollectionService
from collection_pipeline.storage import Database, RawRecordIn
from collection_pipeline.testing.defaults import NOT_FOUND_TTL
from collection_pipeline.testing.harness import (
    RUN_ID,
    beatport_track,
    migrated_database,
    window_report,
)

MARCH = DateWindow(date(2024, 3, 1), date(2024, 4, 1))
NOW = datetime(2024, 4, 1, tzinfo=UTC)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    with migrated_database(database_url) as database:
        yield database


def store_raw(
    db: Database, *payloads: dict[str, Any], external_ids: list[str] | None = None
) -> None:
    ids = external_ids or [str(payload["id"]) for payload in payloads]
    records = [
        RawRecordIn(external_id, payload, date.fromisoformat(payload["publish_date"]))
        for external_id, payload in zip(ids, payloads, strict=True)
    ]
    with db.unit_of_work() as uow:
        uow.raw.upsert_records("beatport", "track", records, "collect-run", now=NOW)
        uow.commit()


def rows(db: Database, sql: str) -> list[tuple[Any, ...]]:
    with db.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(sql))]


def service(db: Database, run_id: str = RUN_ID) -> CollectionService:
    return CollectionService(db.unit_of_work, run_id=run_id, not_found_ttl=NOT_FOUND_TTL)


def test_batches_normalize_every_record_with_lineage(db: Database) -> None:
    store_raw(db, *(beatport_track(100 + i) for i in range(5)))
    messages: list[str] = []

    result = service(db).process_unprocessed_beatport_tracks(
        MARCH, batch_size=2, progress=messages.append
    )

    assert (result.batches, result.processed, result.quarantined) == (3, 5, 0)
    assert len(messages) == 3
    assert "5 processed" in messages[-1]
    assert result.entities_written["tracks"] == 5
    lineage = rows(
        db,
        "SELECT t.beatport_id, e.external_id, t.run_id FROM tracks t "
        "JOIN external_data e ON e.id = t.source_record_id ORDER BY t.beatport_id",
    )
    assert lineage == [(100 + i, str(100 + i), RUN_ID) for i in range(5)]
    assert rows(db, "SELECT COUNT(*) FROM external_data WHERE processed_at IS NULL") == [(0,)]


def test_all_fields_and_credits_reach_the_catalogue(db: Database) -> None:
    store_raw(
        db,
        beatport_track(
            7,
            isrc="gb-aye-24-00007",
            artists=[(1, "Âme"), (2, "Dixon")],
            remixers=[(3, "Trikk")],
        ),
    )
    service(db).process_unprocessed_beatport_tracks(MARCH)
    (track,) = rows(
        db, "SELECT beatport_id, name, mix_name, isrc, bpm, camelot, publish_date FROM tracks"
    )
    assert (*track[:-1], str(track[-1])) == (
        7,
        "Glue",
        "Original Mix",
        "GBAYE2400007",
        124,
        "8A",
        "2024-03-01",
    )
    credits = rows(
        db,
        "SELECT a.beatport_id, a.name, ta.role, ta.position FROM track_artists ta "
        "JOIN artists a ON a.id = ta.artist_id ORDER BY ta.role, ta.position",
    )
    assert credits == [
        (1, "Âme", "artist", 1),
        (2, "Dixon", "artist", 2),
        (3, "Trikk", "remixer", 1),
    ]


def test_malformed_record_is_quarantined_without_failing_its_batch(db: Database) -> None:
    store_raw(
        db,
        beatport_track(1),
        beatport_track(2, bpm=-5),
        beatport_track(3),
        {**beatport_track(4), "genre": None},
    )

    result = service(db).process_unprocessed_beatport_tracks(MARCH, batch_size=10)

    assert (result.batches, result.processed, result.quarantined) == (1, 2, 2)
    assert result.quarantine_reasons == {"absurd_value:bpm": 1, "null_object:genre": 1}
    assert rows(db, "SELECT beatport_id FROM tracks ORDER BY beatport_id") == [(1,), (3,)]
    report = window_report(db, MARCH)
    assert (report.raw.total, report.raw.processed, report.raw.quarantined, report.raw.pending) == (
        4,
        2,
        2,
        0,
    )
    assert report.quarantine_reasons == {"absurd_value:bpm": 1, "null_object:genre": 1}


def test_a_second_run_has_nothing_to_do(db: Database) -> None:
    store_raw(db, beatport_track(1), beatport_track(2, bpm="fast"))
    service(db).process_unprocessed_beatport_tracks(MARCH)

    again = service(db, "second").process_unprocessed_beatport_tracks(MARCH)

    assert (again.batches, again.processed, again.quarantined) == (0, 0, 0)


def test_changed_record_is_processed_again(db: Database) -> None:
    store_raw(db, beatport_track(1, artists=[(1, "Bicep")]))
    service(db).process_unprocessed_beatport_tracks(MARCH)
    store_raw(db, beatport_track(1, artists=[(2, "Hammer")], name="Glue (Edit)"))

    result = service(db, "second").process_unprocessed_beatport_tracks(MARCH)

    assert result.processed == 1
    assert rows(db, "SELECT name, run_id FROM tracks") == [("Glue (Edit)", "second")]
    assert rows(
        db, "SELECT a.beatport_id FROM track_artists ta JOIN artists a ON a.id = ta.artist_id"
    ) == [(2,)]


def test_only_the_window_is_processed(db: Database) -> None:
    store_raw(db, beatport_track(1, "2024-02-29"), beatport_track(2, "2024-03-01"))

    result = service(db).process_unprocessed_beatport_tracks(
        DateWindow.single_day(date(2024, 3, 1))
    )

    assert result.processed == 1
    assert rows(db, "SELECT beatport_id FROM tracks") == [(2,)]


def test_namesakes_stay_separate_artists(db: Database) -> None:
    store_raw(
        db,
        beatport_track(1, artists=[(11, "Phoenix")]),
        beatport_track(2, artists=[(12, "Phoenix")]),
    )
    service(db).process_unprocessed_beatport_tracks(MARCH)
    assert rows(db, "SELECT beatport_id, name FROM artists ORDER BY beatport_id") == [
        (11, "Phoenix"),
        (12, "Phoenix"),
    ]


def test_invalid_batch_size_is_refused(db: Database) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        service(db).process_unprocessed_beatport_tracks(MARCH, batch_size=0)


def test_processing_records_the_isrc_finding_the_check_counts(db: Database) -> None:
    """A track Beatport sent without an ISRC (missing, null or blank) is fine: its day passes
    `isrc_validity`. An ISRC normalization rejected is recorded on the raw record and its day
    warns; a re-collected change clears the finding until the record is processed again."""
    day_without, day_rejected = date(2024, 3, 1), date(2024, 3, 2)
    sent_null, blank, missing = beatport_track(1), beatport_track(2, isrc="  "), beatport_track(3)
    sent_null["isrc"] = None
    del missing["isrc"]
    on_day_two = [
        beatport_track(4, "2024-03-02", isrc="GB-AYE-24-00004"),
        beatport_track(5, "2024-03-02", isrc="NOT-AN-ISRC"),
        beatport_track(6, "2024-03-02", isrc="NOT-AN-ISRC", bpm=-1),  # quarantined
    ]
    store_raw(db, sent_null, blank, missing, *on_day_two)

    service(db).process_unprocessed_beatport_tracks(MARCH)

    findings = rows(db, "SELECT external_id, isrc_rejected FROM external_data ORDER BY id")
    assert [(e, None if f is None else bool(f)) for e, f in findings] == [
        ("1", False),
        ("2", False),
        ("3", False),
        ("4", False),
        ("5", True),
        ("6", None),
    ]
    window = DateWindow(day_without, day_rejected + timedelta(days=1))
    days = db.unit_of_work(read_only=True).run(lambda uow: views.processed_days(uow, window))
    assert (days[day_without].tracks, days[day_without].invalid_isrcs) == (3, 0)
    passing = checks.isrc_validity(day_without, 3, days[day_without].invalid_isrcs)
    assert (passing.passed, passing.description) == (True, None)
    assert (days[day_rejected].tracks, days[day_rejected].invalid_isrcs) == (2, 1)
    warning = checks.isrc_validity(
        day_rejected, days[day_rejected].tracks, days[day_rejected].invalid_isrcs
    )
    assert (warning.passed, warning.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert warning.metadata["invalid_isrcs"].value == 1
    assert window_report(db, window).invalid_isrcs == 1

    store_raw(db, beatport_track(5, "2024-03-02", isrc="GBAYE2400005"))
    assert db.unit_of_work(read_only=True).run(lambda uow: views.invalid_isrcs(uow, window)) == {
        day_without: 0,
        day_rejected: 0,
    }
    assert rows(db, "SELECT isrc_rejected FROM external_data WHERE external_id = '5'") == [(None,)]
