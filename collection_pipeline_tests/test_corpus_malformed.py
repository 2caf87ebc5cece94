"""Real captures mutated into every malformed kind, through collect, process and enrich.

The Beatport and Spotify fakes serve `support.corpus`: real v4 tracks with missing ids, null and
non-object entries, bad publish dates, null artists, missing names, U+0000 and blank optional
fields, and real Spotify items that are null, malformed, paged or wrapped wrongly. Every bad
record must be quarantined with its reason, every good one processed and matched exactly as
the corpus expects, with no failed page, batch or step, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

from collection_pipeline.clients import BeatportAPIClient, HttpPolicy, SpotifyAPIClient
from collection_pipeline.domain import DateWindow
from collection_pipeline.service import CollectionService
from collection_pipeline.storage import Database
from collection_pipeline.storage.hashing import unescape_nul
from collection_pipeline.testing.defaults import (
    BEATPORT_CONCURRENCY,
    NOT_FOUND_TTL,
    SPOTIFY_CONCURRENCY,
)
from collection_pipeline.testing.harness import migrated_database, window_report
from collection_pipeline_tests.support.corpus import (
    DAYS,
    FIRST_DAY,
    Corpus,
    FakeBeatport,
    FakeSpotify,
    build_corpus,
)

WINDOW = DateWindow(FIRST_DAY, FIRST_DAY.fromordinal(FIRST_DAY.toordinal() + DAYS))
FAST = HttpPolicy(backoff_base=0.001, backoff_max=0.002, max_attempts=2)


@pytest.fixture
def corpus() -> Corpus:
    return build_corpus()


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    with migrated_database(database_url) as database:
        yield database


def service(db: Database, corpus: Corpus, spotify: FakeSpotify, run_id: str) -> CollectionService:
    beatport = BeatportAPIClient(
        "https://api.test/v4",
        "token",
        policy=FAST,
        transport=httpx.MockTransport(FakeBeatport(corpus)),
        max_concurrency=BEATPORT_CONCURRENCY,
    )
    client = SpotifyAPIClient(
        "https://api.test/v1",
        "https://accounts.test/api/token",
        "id",
        "secret",
        policy=FAST,
        transport=httpx.MockTransport(spotify),
        max_concurrency=SPOTIFY_CONCURRENCY,
    )
    return CollectionService(
        db.unit_of_work,
        run_id=run_id,
        beatport=beatport,
        spotify=client,
        not_found_ttl=NOT_FOUND_TTL,
    )


def test_the_corpus_covers_every_kind() -> None:
    corpus = build_corpus()
    assert set(corpus.quarantined) == {
        "missing_field:id",
        "null_object:record",
        "wrong_type:record",
        "invalid_date:publish_date",
        "missing_field:artists",
        "missing_field:name",
    }
    assert corpus.bad_envelope_isrcs
    assert corpus.skipped
    assert corpus.nul_ids
    assert any(len(items) > 10 for items in corpus.spotify.values())
    assert "not_found" in corpus.expected.values()
    assert None in corpus.expected.values()


def test_bad_records_are_quarantined_and_good_ones_matched(db: Database, corpus: Corpus) -> None:
    spotify = FakeSpotify(corpus)
    first = service(db, corpus, spotify, "run-1")
    collected = first.collect_beatport_tracks_raw(WINDOW, corpus.genre_ids)
    assert [day for day, result in collected.days.items() if result.incomplete] == []
    assert collected.records == collected.new == len(corpus.entries)

    processed = first.process_unprocessed_beatport_tracks(WINDOW, batch_size=7)
    assert processed.quarantine_reasons == dict(corpus.quarantined)
    assert processed.processed == len(corpus.expected)

    report = window_report(db, WINDOW)  # the range the CLI sums up
    assert (report.raw.pending, report.raw.quarantined) == (0, corpus.bad_records)
    assert report.quarantine_reasons == dict(corpus.quarantined)
    assert report.tracks == len(corpus.expected)

    enriched = first.enrich_tracks_with_spotify_data(WINDOW, batch_size=5)
    searched = set(spotify.searches)
    answered = searched - corpus.bad_envelope_isrcs  # the others failed their first search
    skipped = sum((corpus.skipped.get(isrc, Counter()) for isrc in answered), Counter())
    assert enriched.candidates_skipped == dict(skipped)
    assert enriched.isrcs_searched == len(searched)
    pages = sum(max(1, math.ceil(len(corpus.spotify[isrc]) / 10)) for isrc in answered)
    assert enriched.search_pages == pages > len(answered)
    bad_envelope_tracks = _tracks_of(db, corpus.bad_envelope_isrcs & searched)
    assert enriched.errors == len(bad_envelope_tracks) > 0
    assert _outcomes(db)["error"] == bad_envelope_tracks  # an error, never not_found

    again = service(db, corpus, spotify, "run-2").enrich_tracks_with_spotify_data(WINDOW)
    assert (again.total, again.errors) == (len(bad_envelope_tracks), 0)
    assert _chosen(db) == {bp: sp for bp, sp in corpus.expected.items() if sp is not None}
    _assert_nul_kept_losslessly(db, corpus)


def test_a_re_run_changes_nothing(db: Database, corpus: Corpus) -> None:
    spotify = FakeSpotify(corpus)
    run = service(db, corpus, spotify, "run-1")
    run.collect_beatport_tracks_raw(WINDOW, corpus.genre_ids)
    run.process_unprocessed_beatport_tracks(WINDOW)
    again = service(db, corpus, spotify, "run-2")
    collected = again.collect_beatport_tracks_raw(WINDOW, corpus.genre_ids)
    assert (collected.new, collected.changed) == (0, 0)
    assert collected.unchanged == len(corpus.entries)
    assert again.process_unprocessed_beatport_tracks(WINDOW).batches == 0


def _rows(db: Database, sql: str) -> list[tuple]:
    with db.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(sql))]


def _tracks_of(db: Database, isrcs: set[str]) -> set[int]:
    return {bp for bp, isrc in _rows(db, "SELECT beatport_id, isrc FROM tracks") if isrc in isrcs}


def _outcomes(db: Database) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {"found": set(), "not_found": set(), "error": set()}
    for beatport_id, status in _rows(
        db,
        "SELECT t.beatport_id, m.status FROM spotify_track_matches m "
        "JOIN tracks t ON t.id = m.track_id",
    ):
        found[status].add(beatport_id)
    return found


def _chosen(db: Database) -> dict[int, str]:
    """Beatport id -> Spotify id found, or "not_found", for every track looked up."""
    return {
        beatport_id: spotify_id if status == "found" else status
        for beatport_id, status, spotify_id in _rows(
            db,
            "SELECT t.beatport_id, m.status, m.spotify_track_id FROM spotify_track_matches m "
            "JOIN tracks t ON t.id = m.track_id",
        )
    }


def _assert_nul_kept_losslessly(db: Database, corpus: Corpus) -> None:
    names = dict(_rows(db, "SELECT beatport_id, name FROM tracks"))
    assert all("\x00" not in name for name in names.values())
    stored = {
        external_id: (payload, escaped)
        for external_id, payload, escaped in _rows(
            db, "SELECT external_id, payload, payload_escaped FROM external_data"
        )
    }
    originals = {
        entry["id"]: entry
        for _, _, entry in corpus.entries
        if isinstance(entry, dict) and "id" in entry
    }
    for beatport_id in corpus.nul_ids:
        payload, escaped = stored[str(beatport_id)]
        if isinstance(payload, str):  # SQLite's JSON read through a text query
            payload = json.loads(payload)
        assert escaped
        assert unescape_nul(payload) == originals[beatport_id]
    assert sum(bool(escaped) for _, escaped in stored.values()) == len(corpus.nul_ids)
