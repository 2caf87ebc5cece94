"""Control endpoints (stats, reset, truth) and the truth's consistency with search results."""

from __future__ import annotations

import re
import unicodedata

import httpx
import pytest
from rapidfuzz import fuzz

from collection_pipeline_tests.support.emulator_http import beatport_client, spotify_headers

WINDOW = {"publish_date": "2024-05-01:2024-05-03", "genre_id": "5,11,12,90,6,1"}
SPLIT = re.compile(r"\s*(?:,|&|\bfeat\.|\bft\.|\bfeaturing\b)\s*")


def _norm(value: str) -> str:
    folded = unicodedata.normalize("NFKD", value.casefold())
    return " ".join("".join(c for c in folded if not unicodedata.combining(c)).split())


def _names(names: list[str]) -> set[str]:
    return {part for name in names for part in SPLIT.split(_norm(name)) if part}


def reference_choice(isrc: str, artists: list[str], items: list[dict | None], threshold: float):
    """An independent implementation of the matching rule, to check the emulator's truth."""
    wanted = _names(artists)
    acceptable = [
        item
        for item in items
        if item is not None
        and item["external_ids"].get("isrc") == isrc
        and any(
            fuzz.ratio(a, b) >= threshold
            for a in wanted
            for b in _names([x["name"] for x in item["artists"]])
        )
    ]
    if not acceptable:
        return None

    def key(item: dict) -> tuple[str, bool, str]:
        date = item["album"]["release_date"]
        padded = (date + "-01-01")[:10] if len(date) == 4 else (date + "-01")[:10]
        return padded, item["album"]["album_type"] == "compilation", item["id"]

    return min(acceptable, key=key)["id"]


@pytest.fixture
def client(emulator_url) -> httpx.Client:
    client = beatport_client(emulator_url(), timeout=10)
    client.spotify_headers = spotify_headers(client)  # type: ignore[attr-defined]
    return client


def test_stats_count_routes_and_statuses_and_reset_clears_them(client: httpx.Client) -> None:
    client.get("/v4/catalog/tracks/", params={"publish_date": "2024-05-01"})
    client.get("/v4/catalog/tracks/", params={"publish_date": "2024-05-01", "page": 999})
    client.get(
        "/v1/search",
        params={"q": "isrc:GBAAA2400001", "type": "track"},
        headers={"Authorization": "Basic eDp5"},
    )
    stats = client.get("/_emulator/stats").json()
    assert stats["requests"]["beatport.tracks"] == {"200": 1, "404": 1}
    assert stats["requests"]["beatport.token"] == {"200": 1}
    assert stats["requests"]["spotify.search"] == {"401": 1}
    assert client.post("/_emulator/reset").status_code == 200
    assert client.get("/_emulator/stats").json() == {"requests": {}}


def test_truth_lists_every_track_of_the_window(client: httpx.Client) -> None:
    truth = client.get("/_emulator/truth", params=WINDOW).json()["tracks"]
    listed = client.get("/v4/catalog/tracks/", params={**WINDOW, "per_page": 100}).json()
    assert listed["count"] == len(truth) == 3 * 6 * 20
    assert {row["beatport_id"] for row in truth} >= {t["id"] for t in listed["results"]}
    assert client.get("/_emulator/truth").status_code == 400


def test_truth_agrees_with_an_independent_matcher_over_search(client: httpx.Client) -> None:
    """The truth is what a correct matcher picks from real search responses, at any sane
    threshold: decoys are never close enough to be ambiguous."""
    tracks: list[dict] = []
    url: str | None = "/v4/catalog/tracks/"
    params: dict | None = {**WINDOW, "per_page": 100}
    while url:
        page = client.get(url, params=params).json()
        tracks.extend(page["results"])
        url, params = (("/" + page["next"].split("/", 1)[1]) if page["next"] else None), None
    truth = {
        row["beatport_id"]: row["spotify_track_id"]
        for row in client.get("/_emulator/truth", params=WINDOW).json()["tracks"]
    }
    naive_wrong = found = 0
    for track in tracks:
        if track["isrc"] is None:
            assert truth[track["id"]] is None
            continue
        items = client.get(
            "/v1/search",
            params={"q": f"isrc:{track['isrc']}", "type": "track", "limit": 10},
            headers=client.spotify_headers,  # type: ignore[attr-defined]
        ).json()["tracks"]["items"]
        artists = [a["name"] for a in track["artists"]]
        for threshold in (60, 80, 95):
            assert reference_choice(track["isrc"], artists, items, threshold) == truth[track["id"]]
        found += truth[track["id"]] is not None
        first = next((i for i in items if i is not None), None)
        naive_wrong += (first["id"] if first else None) != truth[track["id"]]
    assert found > len(tracks) * 0.6
    assert naive_wrong > len(tracks) * 0.1, "a naive items[0] matcher should visibly fail"


def test_catalogue_revision_changes_a_few_records(emulator_url) -> None:
    pages = []
    for revision in (0, 1):
        client = beatport_client(emulator_url(catalogue_revision=revision), timeout=10)
        results = []
        for page in (1, 2, 3):
            results += client.get(
                "/v4/catalog/tracks/", params={**WINDOW, "per_page": 100, "page": page}
            ).json()["results"]
        pages.append(results)
    before, after = pages
    assert [t["id"] for t in before] == [t["id"] for t in after]
    changed = [a for b, a in zip(before, after, strict=True) if a != b]
    assert 0 < len(changed) < len(before) * 0.1
    assert all(
        (a["isrc"], a["artists"]) == (b["isrc"], b["artists"])
        for b, a in zip(before, after, strict=True)
    )
