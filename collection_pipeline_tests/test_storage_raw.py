"""Raw records: idempotent upserts, exact change detection, the processing queue."""

from __future__ import annotations

from datetime import date, timedelta

from collection_pipeline.domain import DateWindow, RawStateCounts
from collection_pipeline.storage import Database, RawRecordIn, UpsertCounts
from collection_pipeline_tests.support.catalog import NOW, new_database, query

DAY = date(2024, 3, 1)
WINDOW = DateWindow.single_day(DAY)


def record(bp_id: int, revision: int = 0, day: date = DAY) -> RawRecordIn:
    return RawRecordIn(
        str(bp_id), {"id": bp_id, "name": f"T{bp_id}", "rev": revision, "tags": ["a", "b"]}, day
    )


def upsert(db: Database, records: list[RawRecordIn], run_id: str = "run-1") -> UpsertCounts:
    with db.unit_of_work() as uow:
        counts = uow.raw.upsert_records("beatport", "track", records, run_id, now=NOW)
        uow.commit()
    return counts


def pending_ids(db: Database, window: DateWindow = WINDOW) -> list[str]:
    with db.unit_of_work() as uow:
        return [
            r.external_id for r in uow.raw.fetch_unprocessed("beatport", "track", window, 0, 1000)
        ]


def raw_ids(db: Database) -> dict[str, int]:
    return dict(query(db, "SELECT external_id, id FROM external_data"))


def test_writing_the_same_pages_twice_changes_nothing(database_url: str) -> None:
    db = new_database(database_url)
    pages = [[record(n) for n in range(0, 50)], [record(n) for n in range(50, 100)]]
    assert [upsert(db, page) for page in pages] == [UpsertCounts(50, 0, 0, 0)] * 2
    everything = "SELECT * FROM external_data ORDER BY id"
    before = query(db, everything)

    assert [upsert(db, page, "run-2") for page in pages] == [UpsertCounts(0, 0, 50, 0)] * 2
    assert query(db, everything) == before
    db.dispose()


def test_changed_content_requeues_exactly_the_changed_records(database_url: str) -> None:
    db = new_database(database_url)
    upsert(db, [record(n) for n in range(6)])
    ids = raw_ids(db)
    with db.unit_of_work() as uow:
        uow.raw.mark_processed([ids[str(n)] for n in range(5)], "p-1", now=NOW)
        uow.raw.mark_quarantined({ids["5"]: "missing:name"}, "p-1", now=NOW)
        uow.commit()
    assert pending_ids(db) == []

    # same content, keys in another order: canonical JSON makes it unchanged
    reordered = RawRecordIn("0", {"tags": ["a", "b"], "rev": 0, "name": "T0", "id": 0}, DAY)
    counts = upsert(db, [reordered, record(1, 1), record(2), record(5, 1), record(6)], "run-2")

    assert counts == UpsertCounts(new=1, changed=2, unchanged=2, duplicates_dropped=0)
    assert pending_ids(db) == ["1", "5", "6"]
    assert query(db, "SELECT processing_error FROM external_data WHERE external_id = '5'") == [
        (None,)
    ]
    with db.unit_of_work() as uow:
        assert uow.raw.state_counts("beatport", "track", WINDOW) == RawStateCounts(
            total=7, processed=4, quarantined=0, pending=3
        )
    db.dispose()


def test_duplicates_inside_one_batch_are_dropped_last_wins(database_url: str) -> None:
    db = new_database(database_url)
    counts = upsert(db, [record(1, 1), record(2), record(1, 2), record(1, 3)])
    assert counts == UpsertCounts(new=2, changed=0, unchanged=0, duplicates_dropped=2)
    with db.unit_of_work() as uow:
        first = uow.raw.fetch_unprocessed("beatport", "track", WINDOW, 0, 1)[0]
    assert (first.external_id, first.payload["rev"]) == ("1", 3)
    db.dispose()


def test_keyset_iteration_over_unprocessed_records_in_a_window(database_url: str) -> None:
    db = new_database(database_url)
    days = [DAY - timedelta(days=1), DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)]
    upsert(db, [record(n, day=days[n % 4]) for n in range(40)])
    window = DateWindow(DAY, DAY + timedelta(days=2))
    expected = sorted(
        (i for external_id, i in raw_ids(db).items() if int(external_id) % 4 in (1, 2))
    )

    seen: list[int] = []
    after_id = 0
    while True:
        with db.unit_of_work() as uow:
            page = uow.raw.fetch_unprocessed("beatport", "track", window, after_id, 7)
            # processing while iterating must neither skip nor repeat records
            uow.raw.mark_processed([r.id for r in page[:3]], "p-1", now=NOW)
            uow.commit()
        if not page:
            break
        assert all(window.start <= r.partition_date < window.end for r in page)
        seen += [r.id for r in page]
        after_id = page[-1].id

    assert seen == expected
    db.dispose()


def test_quarantine_reasons_and_window_counts(database_url: str) -> None:
    db = new_database(database_url)
    upsert(db, [record(n) for n in range(5)] + [record(9, day=DAY + timedelta(days=1))])
    ids = raw_ids(db)
    with db.unit_of_work() as uow:
        uow.raw.mark_quarantined(
            {ids["0"]: "bad:bpm", ids["1"]: "bad:bpm", ids["2"]: "x"}, "p", now=NOW
        )
        uow.raw.mark_processed([ids["3"]], "p", now=NOW)
        uow.commit()
    with db.unit_of_work() as uow:
        assert uow.raw.quarantine_reasons("beatport", "track", WINDOW) == {"bad:bpm": 2, "x": 1}
        assert uow.raw.count_in_window("beatport", "track", WINDOW) == 5
        assert uow.raw.state_counts("beatport", "track", WINDOW) == RawStateCounts(5, 1, 3, 1)
    assert query(db, "SELECT processed_run_id FROM external_data WHERE external_id = '3'") == [
        ("p",)
    ]
    db.dispose()


def test_fingerprint_follows_content_not_processing(database_url: str) -> None:
    db = new_database(database_url)
    upsert(db, [record(n) for n in range(3)])

    def fingerprint() -> str:
        with db.unit_of_work() as uow:
            return uow.raw.fingerprint("beatport", "track", WINDOW)

    first = fingerprint()
    with db.unit_of_work() as uow:
        uow.raw.mark_processed(list(raw_ids(db).values()), "p", now=NOW)
        uow.commit()
    assert fingerprint() == first
    upsert(db, [record(1, 1)])
    assert fingerprint() != first
    db.dispose()


def test_unit_of_work_rolls_back_unless_committed(database_url: str) -> None:
    db = new_database(database_url)
    with db.unit_of_work() as uow:
        uow.raw.upsert_records("beatport", "track", [record(1)], "run-1", now=NOW)
    try:
        with db.unit_of_work() as uow:
            uow.raw.upsert_records("beatport", "track", [record(2)], "run-1", now=NOW)
            raise RuntimeError("crash mid-batch")
    except RuntimeError:
        pass
    assert query(db, "SELECT count(*) FROM external_data") == [(0,)]
    db.dispose()


def test_a_record_recollected_while_being_processed_stays_queued(database_url: str) -> None:
    db = new_database(database_url)
    upsert(db, [record(1), record(2)])
    with db.unit_of_work() as uow:
        read = {
            r.id: r.content_hash
            for r in uow.raw.fetch_unprocessed("beatport", "track", WINDOW, 0, 10)
        }
    upsert(db, [record(2, revision=1)], "run-2")  # new content arrives mid-processing

    with db.unit_of_work() as uow:
        uow.raw.mark_processed(list(read), "p-1", content_hashes=read, now=NOW)
        uow.commit()
    assert pending_ids(db) == ["2"]  # the newer content of 2 still waits; 1 is done

    with db.unit_of_work() as uow:
        (fresh,) = uow.raw.fetch_unprocessed("beatport", "track", WINDOW, 0, 10)
        uow.raw.mark_quarantined(
            {fresh.id: "bad"}, "p-2", content_hashes={fresh.id: fresh.content_hash}, now=NOW
        )
        uow.commit()
    assert pending_ids(db) == []
    db.dispose()


def test_the_isrc_finding_is_kept_per_processed_record_and_counted_by_day(
    database_url: str,
) -> None:
    """Rejected when processing said so, not rejected for the rest of the processed batch, no
    finding for quarantined or re-queued records; counted by publish day."""
    db = new_database(database_url)
    second_day = DAY + timedelta(days=1)
    upsert(db, [record(1), record(2), record(3), record(4, day=second_day), record(5)])
    ids = raw_ids(db)
    with db.unit_of_work() as uow:
        done = [ids[key] for key in ("1", "2", "4", "5")]
        rejected = [ids["2"], ids["4"], ids["5"]]
        uow.raw.mark_processed(done, "run-1", now=NOW, isrc_rejected=rejected)
        uow.raw.mark_quarantined({ids["3"]: "absurd_value:bpm"}, "run-1", now=NOW)
        uow.commit()
    upsert(db, [record(5, revision=1)])  # re-collected as something else: re-queued

    findings = query(db, "SELECT external_id, isrc_rejected FROM external_data ORDER BY id")
    assert [(key, None if found is None else bool(found)) for key, found in findings] == [
        ("1", False),
        ("2", True),
        ("3", None),
        ("4", True),
        ("5", None),
    ]
    with db.unit_of_work() as uow:
        two_days = DateWindow(DAY, second_day + timedelta(days=1))
        assert uow.raw.rejected_isrcs_by_day("beatport", "track", two_days) == {
            DAY: 1,
            second_day: 1,
        }
        assert uow.raw.rejected_isrcs_by_day("spotify", "track", two_days) == {}
    db.dispose()
