"""Enrichment starts from the Spotify rate the catalogue remembers and saves what it learned."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from collection_pipeline.clients import AdaptivePacer, HttpPolicy, SpotifyAPIClient
from collection_pipeline.domain import DateWindow, LearnedRate
from collection_pipeline.service import CollectionService
from collection_pipeline.storage import Database
from collection_pipeline.testing.defaults import NOT_FOUND_TTL, SPOTIFY_CONCURRENCY
from collection_pipeline.testing.harness import (
    FAST_POLICY_ARGS,
    migrated_database,
    real_service,
)

WINDOW = DateWindow(date(2024, 3, 1), date(2024, 3, 2))
GENRES = (5, 11)
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def catalogue(database_url: str, emulator_url) -> Iterator[tuple[Database, str]]:
    """Processed tracks waiting for their Spotify lookups."""
    base_url = emulator_url()
    with migrated_database(database_url) as db:
        with real_service(db, base_url, "prepare") as service:
            service.collect_beatport_tracks_raw(WINDOW, GENRES)
            service.process_unprocessed_beatport_tracks(WINDOW)
        yield db, base_url


def spotify_client(base_url: str, pacer: AdaptivePacer, client_id: str = "app") -> SpotifyAPIClient:
    return SpotifyAPIClient(
        f"{base_url}/v1",
        f"{base_url}/api/token",
        client_id,
        "secret",
        pacer=pacer,
        policy=HttpPolicy(**FAST_POLICY_ARGS),
        max_concurrency=SPOTIFY_CONCURRENCY,
    )


def enrich(db: Database, client: SpotifyAPIClient) -> None:
    service = CollectionService(
        db.unit_of_work,
        run_id="enrich",
        spotify=client,
        clock=lambda: NOW,
        not_found_ttl=NOT_FOUND_TTL,
    )
    result = service.enrich_tracks_with_spotify_data(WINDOW)
    assert result.processed == result.total > 0


def remembered(db: Database, key: str) -> LearnedRate | None:
    return db.unit_of_work(read_only=True).run(lambda uow: uow.pacer_rates.get(key))


def test_enrichment_resumes_the_remembered_rate(catalogue: tuple[Database, str]) -> None:
    db, base_url = catalogue
    stored = LearnedRate(budget=3000.0, window_s=30.0, learned_at=NOW - timedelta(hours=20))
    with spotify_client(base_url, AdaptivePacer()) as client:
        db.unit_of_work().run(lambda uow: uow.pacer_rates.save(client.rate_key, stored, now=NOW))
        enrich(db, client)
        assert client.pacer.budget is not None  # enforced from the start, never slow start
        assert client.pacer.budget >= stored.budget
    assert remembered(db, client.rate_key) == stored  # no 429: nothing newer to save


def test_enrichment_saves_the_rate_its_pacer_learned(catalogue: tuple[Database, str]) -> None:
    db, base_url = catalogue
    pacer = AdaptivePacer(window_s=1.0, initial_rate=1000)
    for _ in range(200):  # a 429 after 200 requests in one window: a budget of 194/s
        pacer.on_response(pacer.acquire(), 200, None)
    pacer.on_response(pacer.acquire(), 429, retry_after=None)
    learned = pacer.learned(NOW)
    assert learned is not None

    with spotify_client(base_url, pacer) as client:
        assert remembered(db, client.rate_key) is None
        enrich(db, client)
    saved = remembered(db, client.rate_key)
    assert saved is not None
    assert saved.budget == pytest.approx(200 * 0.97)
    assert saved.window_s == 1.0

    with spotify_client(base_url, AdaptivePacer(), client_id="another app") as other:
        assert other.rate_key != client.rate_key  # each app's allowed rate is its own
        assert "another app" not in other.rate_key
