"""CollectionService.collect_beatport_tracks_raw with the real client against the emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from collection_pipeline import views
from collection_pipeline.clients import AuthenticationError
from collection_pipeline.clients.stats import RequestStats
from collection_pipeline.domain import DateWindow
from collection_pipeline.service import CollectionAbortedError, CollectionService, ServiceError
from collection_pipeline.storage import Database
from collection_pipeline.testing.defaults import NOT_FOUND_TTL
from collection_pipeline.testing.harness import (
    fetch_truth,
    migrated_database,
    read,
    real_service,
    window_report,
)

DAY = date(2024, 3, 1)
WINDOW = DateWindow(DAY, DAY + timedelta(days=3))
GENRES = (5, 11)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    with migrated_database(database_url) as database:
        yield database


def test_every_page_is_stored_once_and_counted(db: Database, emulator_url) -> None:
    url = emulator_url(tracks_per_day=40)
    truth = fetch_truth(url, WINDOW, GENRES)
    progress: list[str] = []

    with real_service(db, url, "first") as service:
        first = service.collect_beatport_tracks_raw(WINDOW, GENRES, progress=progress.append)

    assert first.records == first.new == first.expected == len(truth) == 240
    assert (first.changed, first.unchanged) == (0, 0)
    assert first.pages == len(progress) == 3  # 240 tracks, 100 per page
    assert first.requests.requests >= first.pages
    assert first.requests.by_status.get(200, 0) >= first.pages
    assert list(first.api_counts.values()) == [240]
    with db.engine.connect() as conn:
        stored = conn.execute(
            sa.text(
                "SELECT external_id, partition_date, payload FROM external_data "
                "WHERE provider = 'beatport' AND entity_type = 'track'"
            )
        ).all()
    assert sorted(int(row[0]) for row in stored) == sorted(t["beatport_id"] for t in truth)
    assert all(str(row[1]) == _publish_date(row[2]) for row in stored)

    with real_service(db, url, "second") as service:
        again = service.collect_beatport_tracks_raw(WINDOW, GENRES)

    assert (again.new, again.changed, again.unchanged) == (0, 0, 240)
    assert window_report(db, WINDOW).raw.total == 240


def test_changed_catalogue_is_counted_as_changed(db: Database, emulator_url) -> None:
    with real_service(db, emulator_url(catalogue_revision=0), "first") as service:
        service.collect_beatport_tracks_raw(WINDOW, GENRES)
        service.process_unprocessed_beatport_tracks(WINDOW)

    with real_service(db, emulator_url(catalogue_revision=1), "second") as service:
        result = service.collect_beatport_tracks_raw(WINDOW, GENRES)
    pending = window_report(db, WINDOW).raw.pending

    assert result.new + result.changed + result.unchanged == result.records
    assert result.changed > 0
    assert pending == result.changed + result.new


def test_fingerprints_follow_content(db: Database, emulator_url) -> None:
    url = emulator_url()
    fingerprints = (views.raw_fingerprint, views.processed_fingerprint)

    def versions() -> list[str]:
        return [read(db, lambda uow, f=f: f(uow, WINDOW)) for f in fingerprints]

    with real_service(db, url) as service:
        empty = versions()
        service.collect_beatport_tracks_raw(WINDOW, GENRES)
        collected = versions()
        service.collect_beatport_tracks_raw(WINDOW, GENRES)
        assert versions() == collected
        assert collected[0] != empty[0]
        assert collected[1] == empty[1], "collecting changed only the raw version"
        service.process_unprocessed_beatport_tracks(WINDOW)
        assert versions()[1] != empty[1]
    preview = read(db, lambda uow: views.track_preview(uow, WINDOW.start, limit=3))
    assert len(preview) == 3


def test_collect_without_a_beatport_client_is_refused(db: Database) -> None:
    with pytest.raises(RuntimeError, match="Beatport client"):
        CollectionService(
            db.unit_of_work, run_id="x", not_found_ttl=NOT_FOUND_TTL
        ).collect_beatport_tracks_raw(WINDOW, GENRES)


class _RevokedBeatport:
    """A Beatport client whose credentials are refused at the first page, as a revoked token is."""

    stats = RequestStats()

    def crawl(self, *args: object) -> Iterator[object]:
        raise AuthenticationError("BEATPORT_ACCESS_TOKEN was refused and could not be refreshed")
        yield  # a generator, as the real crawl is


def test_wrong_beatport_credentials_raise_the_services_own_final_error(db: Database) -> None:
    service = CollectionService(
        db.unit_of_work, run_id="x", beatport=_RevokedBeatport(), not_found_ttl=NOT_FOUND_TTL
    )
    with pytest.raises(CollectionAbortedError) as caught:
        service.collect_beatport_tracks_raw(WINDOW, GENRES)
    assert isinstance(caught.value, ServiceError)  # what the Dagster layer triages on
    assert not caught.value.retryable  # a human must fix credentials: no retry
    assert isinstance(caught.value.__cause__, AuthenticationError)  # the cause is kept
    assert str(WINDOW) in str(caught.value)
    assert "BEATPORT_ACCESS_TOKEN" in str(caught.value)


def _publish_date(payload: object) -> str:
    data = json.loads(payload) if isinstance(payload, str) else payload
    assert isinstance(data, dict)
    return str(data["publish_date"])
