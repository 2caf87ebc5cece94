"""Builders shared by the service tests (no tests here).

Beatport payloads follow the real v4 capture in ../shared/reference key for key, so the
service is exercised with the shape it meets in production.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

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
