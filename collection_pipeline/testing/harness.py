"""Builders and a real-parts service harness for the service tests and the benchmarks.

Beatport payloads follow the real v4 capture in ../shared/reference key for key, so the
service is exercised with the shape it meets in production.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any, TypeVar

import httpx

from collection_pipeline import settings, views
from collection_pipeline.clients import (
    AdaptivePacer,
    BeatportAPIClient,
    HttpPolicy,
    SpotifyAPIClient,
)
from collection_pipeline.domain import (
    CollectResult,
    DateWindow,
    EnrichResult,
    ProcessResult,
    WindowReport,
)
from collection_pipeline.service import CollectionService, utc_now
from collection_pipeline.storage import Database, UnitOfWork
from collection_pipeline.testing.defaults import (
    BEATPORT_CONCURRENCY,
    GENRE_IDS,
    NOT_FOUND_TTL,
    SPOTIFY_CONCURRENCY,
)

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

DEFAULT_GENRES = GENRE_IDS
FAST_POLICY_ARGS: dict[str, float] = {"backoff_base": 0.05, "backoff_max": 0.5}
"""Keep retries quick against a local emulator; the attempts stay the client's defaults."""


@contextmanager
def real_service(
    db: Database,
    base_url: str,
    run_id: str = RUN_ID,
    *,
    spotify_policy: HttpPolicy | None = None,
    spotify_pacer: AdaptivePacer | None = None,
    clock: Callable[[], datetime] = utc_now,
    **beatport_scale: int,
) -> Iterator[CollectionService]:
    """A service from real parts: the database's units of work and clients on the emulator.

    `clock` is the service's one clock (a test fixes it to see what the service stamps).
    `beatport_scale` (`count_cap`, `page_size`) is for an emulator given a lower count cap: the
    Beatport client must be given the same one."""
    policy = HttpPolicy(**FAST_POLICY_ARGS)
    with (
        BeatportAPIClient(
            f"{base_url}/v4",
            "emulator-token",
            refresh_token="emulator-refresh",
            client_id="emulator-client",
            policy=policy,
            max_concurrency=BEATPORT_CONCURRENCY,
            credential_names=settings.CREDENTIAL_NAMES,  # as the resources build them
            **beatport_scale,
        ) as beatport,
        SpotifyAPIClient(
            f"{base_url}/v1",
            f"{base_url}/api/token",
            "emulator-id",
            "emulator-secret",
            policy=spotify_policy or policy,
            pacer=spotify_pacer,
            max_concurrency=SPOTIFY_CONCURRENCY,
            credential_names=settings.CREDENTIAL_NAMES,
        ) as spotify,
    ):
        yield CollectionService(
            db.unit_of_work,
            run_id=run_id,
            beatport=beatport,
            spotify=spotify,
            clock=clock,
            not_found_ttl=NOT_FOUND_TTL,
        )


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


# ---------------------------------------------------------------- reads


T = TypeVar("T")


def read(db: Database, work: Callable[[UnitOfWork], T]) -> T:
    """`work(uow)` in a read-only transaction of its own, as the Dagster layer reads."""
    return db.unit_of_work(read_only=True).run(work)


def window_report(db: Database, window: DateWindow, now: datetime | None = None) -> WindowReport:
    """`views.window_report` with the harness's not-found TTL, judged at `now` (default: now)."""
    at = now or utc_now()
    return read(db, lambda uow: views.window_report(uow, window, NOT_FOUND_TTL, at))


def recheck_days(db: Database, now: datetime | None = None) -> list[date]:
    """`views.recheck_days` with the harness's not-found TTL, judged at `now` (default: now)."""
    at = now or utc_now()
    return read(db, lambda uow: views.recheck_days(uow, NOT_FOUND_TTL, at))
