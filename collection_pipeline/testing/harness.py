"""Builders and a real-parts service harness for the service tests and the benchmarks.

Beatport payloads follow the real v4 capture in ../shared/reference key for key, so the
service is exercised with the shape it meets in production.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa

from collection_pipeline.clients import BeatportAPIClient, HttpPolicy, SpotifyAPIClient
from collection_pipeline.domain import CollectResult, DateWindow, EnrichResult, ProcessResult
from collection_pipeline.service import CollectionService
from collection_pipeline.storage import Database

RUN_ID = "run-test"


def beatport_track(
    track_id: int,
    publish_date: str = "2024-03-01",
    *,
    isrc: str | None = None,
    artists: Sequence[tuple[int, str]] = ((1001, "Bicep"),),
    remixers: Sequence[tuple[int, str]] = (),
    genre: tuple[int, str] = (5, "House"),
    release: tuple[int, str] = (7001, "Isles"),
    label: tuple[int, str] | None = (170735, "Ninja Tune"),
    bpm: Any = 124,
    name: str = "Glue",
) -> dict[str, Any]:
    """A Beatport v4 track object with the fields normalization reads."""

    def person(artist_id: int, artist_name: str) -> dict[str, Any]:
        return {
            "id": artist_id,
            "image": None,
            "name": artist_name,
            "slug": artist_name.lower().replace(" ", "-"),
            "url": f"https://api.beatport.com/v4/catalog/artists/{artist_id}/",
        }

    return {
        "artists": [person(*artist) for artist in artists],
        "bpm": bpm,
        "catalog_number": f"CAT{track_id}",
        "genre": {"id": genre[0], "name": genre[1], "slug": genre[1].lower(), "url": ""},
        "id": track_id,
        "isrc": isrc if isrc is not None else f"GBAYE24{track_id % 100000:05d}",
        "key": {
            "camelot_number": 8,
            "camelot_letter": "A",
            "id": 8,
            "name": "A Minor",
            "url": "",
        },
        "length": "5:12",
        "length_ms": 312000,
        "mix_name": "Original Mix",
        "name": name,
        "new_release_date": publish_date,
        "publish_date": publish_date,
        "release": {
            "id": release[0],
            "name": release[1],
            "image": None,
            "label": None
            if label is None
            else {"id": label[0], "name": label[1], "image": None, "slug": "label"},
            "slug": release[1].lower(),
        },
        "remixers": [person(*remixer) for remixer in remixers],
        "slug": name.lower(),
        "sub_genre": None,
        "url": f"https://api.beatport.com/v4/catalog/tracks/{track_id}/",
    }


@contextmanager
def migrated_database(url: str) -> Iterator[Database]:
    """A `Database` at the head revision, disposed afterwards."""
    db = Database(url)
    db.upgrade()
    try:
        yield db
    finally:
        db.dispose()


# ---------------------------------------------------------------- end-to-end runs

DEFAULT_GENRES = (5, 11, 12, 90, 6, 1)
FAST_POLICY_ARGS: dict[str, float] = {"backoff_base": 0.05, "backoff_max": 0.5}
"""Keep retries quick against a local emulator; the attempts stay the client's defaults."""


@contextmanager
def real_service(
    db: Database,
    base_url: str,
    run_id: str = RUN_ID,
    *,
    spotify_policy: HttpPolicy | None = None,
) -> Iterator[CollectionService]:
    """A service from real parts: the database's units of work and clients on the emulator."""
    policy = HttpPolicy(**FAST_POLICY_ARGS)
    with (
        BeatportAPIClient(
            f"{base_url}/v4",
            "emulator-token",
            refresh_token="emulator-refresh",
            client_id="emulator-client",
            policy=policy,
        ) as beatport,
        SpotifyAPIClient(
            f"{base_url}/v1",
            f"{base_url}/api/token",
            "emulator-id",
            "emulator-secret",
            policy=spotify_policy or policy,
        ) as spotify,
    ):
        yield CollectionService(db.unit_of_work, run_id=run_id, beatport=beatport, spotify=spotify)


def run_pipeline(
    db: Database,
    base_url: str,
    window: DateWindow,
    genre_ids: Sequence[int] = DEFAULT_GENRES,
    run_id: str = RUN_ID,
    *,
    batch_size: int = 50,
) -> tuple[CollectResult, ProcessResult, EnrichResult]:
    """Collect, process and enrich one window, as the three assets do in one run."""
    with real_service(db, base_url, run_id) as service:
        collected = service.collect_beatport_tracks_raw(window, genre_ids)
        processed = service.process_unprocessed_beatport_tracks(window, batch_size=batch_size)
        enriched = service.enrich_tracks_with_spotify_data(window, batch_size=batch_size)
    return collected, processed, enriched


def fetch_truth(
    base_url: str, window: DateWindow, genre_ids: Sequence[int]
) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{base_url}/_emulator/truth",
        params={
            "publish_date": f"{window.start.isoformat()}:{window.last_day.isoformat()}",
            "genre_id": ",".join(str(genre) for genre in genre_ids),
        },
        timeout=60,
    )
    response.raise_for_status()
    return response.json()["tracks"]


@dataclass(frozen=True)
class Accuracy:
    """Completeness and matching quality of a window against the emulator's ground truth."""

    truth_tracks: int
    raw_records: int
    missing_raw: int
    duplicate_rows: int
    found: int
    correct: int
    expected_matches: int

    @property
    def completeness(self) -> float:
        return (self.truth_tracks - self.missing_raw) / self.truth_tracks

    @property
    def precision(self) -> float:
        return self.correct / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.expected_matches if self.expected_matches else 1.0

    def summary(self) -> str:
        return (
            f"{self.truth_tracks} truth tracks, raw completeness {self.completeness:.2%} "
            f"({self.missing_raw} missing, {self.duplicate_rows} duplicate rows); "
            f"matches: {self.found} found, {self.correct} correct of {self.expected_matches} "
            f"expected -> precision {self.precision:.3%}, recall {self.recall:.3%}"
        )


def count_duplicate_rows(db: Database) -> int:
    """Rows that repeat a provider identity in any table (a correct catalogue has none)."""
    with db.engine.connect() as conn:
        return sum(
            conn.execute(
                sa.text(f"SELECT COUNT(*) - COUNT(DISTINCT {key}) FROM {table}")
            ).scalar_one()
            for table, key in (
                ("tracks", "beatport_id"),
                ("artists", "beatport_id"),
                ("releases", "beatport_id"),
                ("labels", "beatport_id"),
                ("genres", "beatport_id"),
                ("spotify_track_matches", "track_id"),
                ("external_data", "provider || ':' || entity_type || ':' || external_id"),
            )
        )


def score_against_truth(
    db: Database, base_url: str, window: DateWindow, genre_ids: Sequence[int] = DEFAULT_GENRES
) -> Accuracy:
    """Compare the database with `/_emulator/truth` (reads the stable user-facing tables)."""
    truth = {
        row["beatport_id"]: row["spotify_track_id"]
        for row in fetch_truth(base_url, window, genre_ids)
    }
    with db.engine.connect() as conn:
        raw_ids = [
            int(external_id)
            for (external_id,) in conn.execute(
                sa.text(
                    "SELECT external_id FROM external_data "
                    "WHERE provider = 'beatport' AND entity_type = 'track'"
                )
            )
        ]
        matches = dict(
            conn.execute(
                sa.text(
                    "SELECT t.beatport_id, m.spotify_track_id FROM spotify_track_matches m "
                    "JOIN tracks t ON t.id = m.track_id WHERE m.status = 'found'"
                )
            ).all()
        )
    duplicates = count_duplicate_rows(db)
    found = {bp: sp for bp, sp in matches.items() if bp in truth}
    return Accuracy(
        truth_tracks=len(truth),
        raw_records=len(raw_ids),
        missing_raw=len(set(truth) - set(raw_ids)),
        duplicate_rows=duplicates + len(raw_ids) - len(set(raw_ids)),
        found=len(found),
        correct=sum(1 for bp, sp in found.items() if truth[bp] == sp),
        expected_matches=sum(1 for sp in truth.values() if sp is not None),
    )
