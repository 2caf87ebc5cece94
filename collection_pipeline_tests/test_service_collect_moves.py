"""Collecting while the catalogue moves, past the count cap, and with one failing query.

Raw completeness is scored against `/_emulator/truth` after the crawl (late tracks included),
on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from collection_pipeline.domain import DateWindow
from collection_pipeline.storage import Database
from collection_pipeline.testing.harness import (
    DEFAULT_GENRES,
    fetch_truth,
    migrated_database,
    real_service,
)
from collection_pipeline_tests.support import scaled_cap

DAY = date(2024, 3, 1)
WINDOW = DateWindow(DAY, DAY + timedelta(days=4))


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    with migrated_database(database_url) as database:
        yield database


def stored_ids(db: Database) -> list[int]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT external_id FROM external_data WHERE provider = 'beatport'")
        ).all()
    return [int(row[0]) for row in rows]


def stored_per_day(db: Database) -> Counter[date]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT partition_date FROM external_data WHERE provider = 'beatport'")
        ).all()
    return Counter(date.fromisoformat(str(row[0])[:10]) for row in rows)


def stored_days(db: Database) -> dict[int, date]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT external_id, partition_date FROM external_data WHERE provider = 'beatport'"
            )
        ).all()
    return {int(row[0]): date.fromisoformat(str(row[1])[:10]) for row in rows}


def test_drift_loses_and_duplicates_nothing_and_a_rerun_changes_nothing(
    db: Database, emulator_url
) -> None:
    """Late tracks are published and tracks move between the window's days while it is paged:
    every track ends stored once, on the day the API lists it on at the end."""
    url = emulator_url(profile="drift")
    with real_service(db, url, "first") as service:
        first = service.collect_beatport_tracks_raw(WINDOW, DEFAULT_GENRES)
    truth = {
        row["beatport_id"]: date.fromisoformat(row["publish_date"])
        for row in fetch_truth(url, WINDOW, DEFAULT_GENRES)
    }
    truth_per_day = Counter(truth.values())

    assert len(truth) == 4 * 6 * (20 + 2)  # every late track was published during the crawl
    assert truth_per_day != dict.fromkeys(WINDOW.days(), 6 * 22)  # tracks moved between days
    ids = stored_ids(db)
    assert len(ids) == len(set(ids))
    assert stored_days(db) == truth  # each on its final day, moved records re-filed
    assert first.complete
    assert first.new == len(truth)
    assert first.records == len(truth)
    for day, tally in first.days.items():
        assert tally.api_count == tally.received == truth_per_day[day]
        assert tally.new == tally.received

    with real_service(db, url, "second") as service:
        again = service.collect_beatport_tracks_raw(WINDOW, DEFAULT_GENRES)
    assert (again.new, again.changed, again.unchanged) == (0, 0, len(truth))
    assert again.complete
    assert stored_days(db) == truth


def test_an_overcap_day_is_collected_whole(db: Database, emulator_url) -> None:
    """At a tenth of the cap (support/scaled_cap.py): the over-cap day is 1.25 caps."""
    url = emulator_url(profile="overcap", **scaled_cap.EMULATOR)
    window = DateWindow(DAY, DAY + timedelta(days=2))
    genres = (5, 6)
    with real_service(db, url, "first", **scaled_cap.CLIENT) as service:
        first = service.collect_beatport_tracks_raw(window, genres)
    truth = {row["beatport_id"] for row in fetch_truth(url, window, genres)}

    busy = scaled_cap.OVERCAP_TRACKS
    assert len(truth) == busy + 20 + 2 * 20
    ids = stored_ids(db)
    assert len(ids) == len(set(ids))
    assert set(ids) == truth
    assert first.complete
    assert first.days[DAY].api_count == first.days[DAY].received == busy + 20
    pages = len(truth) / scaled_cap.CLIENT["page_size"]  # what paging it uncapped would cost
    assert first.requests.requests < 2 * pages  # each split pays for itself

    with real_service(db, url, "second", **scaled_cap.CLIENT) as service:
        again = service.collect_beatport_tracks_raw(window, genres)
    assert (again.new, again.changed, again.unchanged) == (0, 0, len(truth))


def test_one_failing_query_marks_only_its_own_day_incomplete(db: Database, emulator_url) -> None:
    failing_day = DAY + timedelta(days=1)
    url = emulator_url(failing_genre_day=(6, failing_day))
    with real_service(db, url) as service:
        result = service.collect_beatport_tracks_raw(WINDOW, DEFAULT_GENRES)
    truth = fetch_truth(url, WINDOW, DEFAULT_GENRES)

    assert set(result.incomplete_days) == {failing_day}
    reason = result.days[failing_day].incomplete or ""
    assert "genre 6 2024-03-02:2024-03-02" in reason
    assert "503" in reason
    assert "0 distinct tracks arrived" in reason
    assert result.days[failing_day].api_count is None
    assert result.days[failing_day].received == 5 * 20  # the other genres of that day arrived
    for day, tally in result.days.items():
        if day != failing_day:
            assert tally.complete
            assert tally.api_count == tally.received == 6 * 20
    per_day = stored_per_day(db)
    assert per_day == dict.fromkeys(WINDOW.days(), 6 * 20) | {failing_day: 5 * 20}
    assert len(truth) == 4 * 6 * 20
