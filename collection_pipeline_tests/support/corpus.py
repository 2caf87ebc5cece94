"""A corpus of real captures mutated into every kind of malformed record and answer.

Beatport tracks come from the vendored v4 captures (a 2021 discography of 48 tracks and the
2026 listing page); Spotify answers are built from the real `isrc:` search capture's items. Each
mutation is recorded with what a correct pipeline must do about it, so a test can run collect,
process and enrich against the two fake APIs and compare every row with `Corpus.expected`.
"""

from __future__ import annotations

import copy
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from collection_pipeline.normalization import normalize_isrc

REFERENCE = Path(__file__).resolve().parent.parent / "reference"
FIRST_DAY = date(2024, 3, 1)
DAYS = 3
BARE_PAGING_OBJECT = "spotify/credits_spot_mock_spotify_Butter_Sugar_Cream.json"


def load(name: str) -> Any:
    return json.loads((REFERENCE / name).read_text(encoding="utf-8"))


def captured_tracks() -> list[dict[str, Any]]:
    """The real Beatport tracks: the 2021 discography, then the 2026 listing page."""
    return [
        *load("beatport/karibou12_antonyd_discography_list.json")["results"],
        *load("beatport/list_tracks.json")["results"],
    ]


# Malformed records: (kind, mutation, the reason the pipeline must quarantine it with).
def _drop(key: str) -> Any:
    def mutate(track: dict[str, Any]) -> dict[str, Any]:
        del track[key]
        return track

    return mutate


def _set(key: str, value: Any) -> Any:
    def mutate(track: dict[str, Any]) -> dict[str, Any]:
        track[key] = value
        return track

    return mutate


MALFORMED: list[tuple[str, Any, str]] = [
    ("missing_id", _drop("id"), "missing_field:id"),
    ("null_entry", lambda track: None, "null_object:record"),
    ("string_entry", lambda track: str(track["id"]), "wrong_type:record"),
    ("list_entry", lambda track: [track["id"]], "wrong_type:record"),
    ("number_entry", lambda track: track["id"], "wrong_type:record"),
    ("bad_publish_date", _set("publish_date", "2024-02-30"), "invalid_date:publish_date"),
    ("bad_publish_date_format", _set("publish_date", "01/03/2024"), "invalid_date:publish_date"),
    ("null_artists", _set("artists", None), "missing_field:artists"),
    ("missing_name", _drop("name"), "missing_field:name"),
]


def _nul_in_name(track: dict[str, Any]) -> dict[str, Any]:
    track["name"] = track["name"][:2] + "\x00" + track["name"][2:]
    return track


def _nul_everywhere(track: dict[str, Any]) -> dict[str, Any]:
    track["artists"][0]["name"] += "\x00"
    track["mix_name"] = "\x00" + (track["mix_name"] or "")
    if track["release"].get("label"):
        track["release"]["label"]["name"] += "\x00"
    track["\x00odd key"] = "\x00"
    return track


def _blank_optionals(track: dict[str, Any]) -> dict[str, Any]:
    track.update(new_release_date="", catalog_number=" ", mix_name="", sub_genre="", key="")
    return track


def _blank_isrc(track: dict[str, Any]) -> dict[str, Any]:
    track["isrc"] = "   "
    return track


def _suffixed(track: dict[str, Any]) -> dict[str, Any]:
    track["artists"][0]["name"] += " (UK)"
    return track


QUIRKS: list[tuple[str, Any]] = [
    ("nul_in_name", _nul_in_name),
    ("nul_everywhere", _nul_everywhere),
    ("blank_optionals", _blank_optionals),
    ("blank_isrc", _blank_isrc),
    ("namesake_suffix", _suffixed),
]
"""Records that look odd but are sound: processed, and matched when they carry an ISRC."""


@dataclass
class Corpus:
    """The listing entries with their true (genre, day), and what must become of each."""

    entries: list[tuple[int, date, Any]] = field(default_factory=list)
    quarantined: Counter[str] = field(default_factory=Counter)
    """Reason -> raw records that must be quarantined with it."""
    expected: dict[int, str | None] = field(default_factory=dict)
    """Beatport id of every good record -> Spotify id it must match, "not_found", or None
    when it has no ISRC (no lookup)."""
    nul_ids: set[int] = field(default_factory=set)
    spotify: dict[str, list[Any]] = field(default_factory=dict)
    """ISRC -> every search item, in answer order."""
    bad_envelope_isrcs: set[str] = field(default_factory=set)
    skipped: dict[str, Counter[str]] = field(default_factory=dict)
    """ISRC -> malformed Spotify items its answer carries, by the reason they are skipped."""

    @property
    def genre_ids(self) -> list[int]:
        return sorted({genre for genre, _, _ in self.entries})

    @property
    def bad_records(self) -> int:
        return sum(self.quarantined.values())


def build_corpus() -> Corpus:
    corpus = Corpus()
    tracks = captured_tracks()
    genres = [track["genre"]["id"] for track in tracks]
    for index, track in enumerate(tracks):
        track["publish_date"] = (FIRST_DAY + timedelta(days=index % DAYS)).isoformat()
    bare_artists: dict[str, list[str]] = {}
    for track in tracks:
        isrc = normalize_isrc(track["isrc"])
        if isrc:
            names = bare_artists.setdefault(isrc, [])
            names += [a["name"] for a in track["artists"] if a["name"] not in names]
    mutated: dict[int, Any] = {}
    for offset, (_, mutate, reason) in enumerate(MALFORMED):
        mutated[offset] = mutate(tracks[offset])
        corpus.quarantined[reason] += 1
    quirk_ids = {}
    for offset, (kind, mutate) in enumerate(QUIRKS, start=len(MALFORMED)):
        quirk_ids[kind] = tracks[offset]["id"]
        mutated[offset] = mutate(tracks[offset])
    corpus.nul_ids = {quirk_ids["nul_in_name"], quirk_ids["nul_everywhere"]}
    for index, track in enumerate(tracks):
        day = FIRST_DAY + timedelta(days=index % DAYS)
        corpus.entries.append((genres[index], day, mutated.get(index, track)))
    _answers(corpus, tracks, bare_artists, set(range(len(MALFORMED))))
    return corpus


def _answers(
    corpus: Corpus,
    tracks: list[dict[str, Any]],
    bare_artists: dict[str, list[str]],
    malformed: set[int],
) -> None:
    """Spotify answers for every ISRC of a good record, and the outcome each track must get."""
    templates = load("spotify/credits_spot_mock_crazy_spotify.json")["tracks"]["items"]
    isrcs = sorted(bare_artists)
    for number, isrc in enumerate(isrcs):
        names = bare_artists[isrc]

        item = partial(_item, templates, isrc)
        original = item(1, f"orig{number:03d}", "2019-05", *names)
        items: list[Any] = [
            item(3, f"comp{number:03d}", "2020-01-01", *names),
            item(0, f"decoy{number:03d}", "2001-01-01", "Somebody Else Entirely"),
            original,
        ]
        expected: str | None = original["id"]
        if number % 5 == 1:  # more than one page: the right choice is on the second
            items = [item(4, f"late{number:03d}{n:02d}", "2023", *names) for n in range(11)]
            items.append(original)
        if number % 4 == 0:  # malformed items, each dated earlier than the right choice
            items += _malformed_items(item, number, names)
            corpus.skipped[isrc] = Counter(
                null_item=1, bad_album=1, bad_release_date=2, missing_external_ids=1,
                missing_artists=1,
            )  # fmt: skip
        if number % 7 == 3:
            corpus.bad_envelope_isrcs.add(isrc)
        if number == 2:
            items, expected = [], "not_found"
        corpus.spotify[isrc] = items
        for index, track in enumerate(tracks):
            if index not in malformed and normalize_isrc(track["isrc"]) == isrc:
                corpus.expected[track["id"]] = expected
    for index, track in enumerate(tracks):
        if index not in malformed and track["id"] not in corpus.expected:
            corpus.expected[track["id"]] = None


def _item(
    templates: list[dict[str, Any]],
    isrc: str,
    template: int,
    spotify_id: str,
    released: str,
    *artists: str,
) -> dict[str, Any]:
    """A real search item carrying `isrc`, credited to `artists`, released on `released`."""
    made = copy.deepcopy(templates[template])
    made["id"] = spotify_id
    made["external_ids"] = {"isrc": isrc}
    made["artists"] = [{**made["artists"][0], "name": name} for name in artists]
    made["album"]["release_date"] = released
    made["album"]["release_date_precision"] = {4: "year", 7: "month"}.get(len(released), "day")
    return made


def _malformed_items(item: Any, number: int, names: list[str]) -> list[Any]:
    early = "1990-01-01"
    album_text = item(0, f"m1{number:03d}", early, *names)
    album_text["album"] = "Crazy Gonna Crazy"
    date_number = item(0, f"m2{number:03d}", early, *names)
    date_number["album"]["release_date"] = 1990
    date_bad = item(0, f"m3{number:03d}", "1990-13-01", *names)
    no_ids = item(0, f"m4{number:03d}", early, *names)
    del no_ids["external_ids"]
    no_artists = item(0, f"m5{number:03d}", early, *names)
    del no_artists["artists"]
    return [None, album_text, date_number, date_bad, no_ids, no_artists]


# ---------------------------------------------------------------- fake APIs


class FakeBeatport:
    """Serves the corpus as Beatport's listing does: filtered by true genre and day, paged."""

    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        genres = {int(g) for g in params["genre_id"].split(",")}
        start, end = (date.fromisoformat(part) for part in params["publish_date"].split(":"))
        page, per_page = int(params.get("page", 1)), int(params.get("per_page", 10))
        matching = [
            entry
            for genre, day, entry in self.corpus.entries
            if genre in genres and start <= day <= end
        ]
        pages = max(1, math.ceil(len(matching) / per_page))
        return httpx.Response(
            200,
            json={
                "results": matching[(page - 1) * per_page : page * per_page],
                "next": None,
                "previous": None,
                "count": len(matching),
                "page": f"{page}/{pages}",
                "per_page": per_page,
            },
        )


class FakeSpotify:
    """Token and ISRC search over the corpus answers; bad-envelope ISRCs fail their first search."""

    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus
        self.searches: Counter[str] = Counter()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/api/token"):
            return httpx.Response(200, json={"access_token": "T", "expires_in": 3600})
        params = request.url.params
        isrc = params["q"].removeprefix("isrc:")
        self.searches[isrc] += 1
        if isrc in self.corpus.bad_envelope_isrcs and self.searches[isrc] == 1:
            return httpx.Response(200, json=load(BARE_PAGING_OBJECT))
        items = self.corpus.spotify.get(isrc, [])
        offset, limit = int(params.get("offset", 0)), int(params["limit"])
        return httpx.Response(
            200,
            json={
                "tracks": {
                    "href": f"https://api.spotify.com/v1/search?offset={offset}",
                    "items": items[offset : offset + limit],
                    "limit": limit,
                    "next": None if offset + limit >= len(items) else "https://api.spotify.com/x",
                    "offset": offset,
                    "previous": None,
                    "total": len(items),
                }
            },
        )
